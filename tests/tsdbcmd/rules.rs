//! `flint tsdb create-blocks-from rules` against a running flint: float
//! results as promtool writes them, native histogram results as native
//! histograms (promtool drops those).

use serde_json::Value;

use super::{backfill, flint_str, get, list_columns, run, run_ok, same};
use crate::common::Server;

/// A flint serving `backfill`'s three days ending 6 h ago, from blocks
/// written into `dir`'s data folder; with the data's end (s).
fn server_on_backfill(dir: &std::path::Path) -> (Server, i64) {
    let now = crate::common::now_secs() as i64;
    let back_end = now - 6 * 3600;
    let back_end = back_end - back_end % 30;
    let input = dir.join("in.om");
    std::fs::write(&input, backfill(back_end)).unwrap();
    let data = dir.join("data");
    let (i, d) = (input.to_str().unwrap(), data.to_str().unwrap());
    run_ok(
        flint_str(),
        &["tsdb", "create-blocks-from", "openmetrics", i, d],
    );
    let server = Server::start(dir, "global:\n  scrape_interval: 1h\n", &[]);
    (server, back_end)
}

/// `create-blocks-from rules` of `rules` against `server` over
/// `[start, end]` into `out`: whether it succeeded, its stdout and stderr.
fn import_rules(
    server: &Server,
    rules: &std::path::Path,
    (start, end): (i64, i64),
    out: &std::path::Path,
) -> (bool, String, String) {
    run(
        flint_str(),
        &[
            "tsdb",
            "create-blocks-from",
            "rules",
            &format!("--url=http://{}", server.addr),
            &format!("--start={start}"),
            &format!("--end={end}"),
            &format!("--output-dir={}", out.display()),
            rules.to_str().unwrap(),
        ],
    )
}

#[test]
fn recording_rules_are_backfilled_from_a_running_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server, back_end) = server_on_backfill(dir);
    let rules = dir.join("rules.yml");
    let expr = "sum by (code) (rate(http_requests_total[5m]))";
    std::fs::write(
        &rules,
        format!(
            "groups:\n  - name: g\n    interval: 5m\n    rules:\n      - record: code:http_requests:rate5m\n        expr: {expr}\n        labels:\n          source: backfill\n"
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let (start, end) = (back_end - 86_400, back_end - 3600);
    let (ok, printed, stderr) = import_rules(&server, &rules, (start, end), &out);
    assert!(ok, "{stderr}");
    assert_eq!(printed, "", "promtool prints nothing for rules");
    let (_, listed, _) = run(flint_str(), &["tsdb", "list", out.to_str().unwrap()]);
    let blocks = list_columns(&listed);
    // (what to look at should this fail again: it once found no blocks)
    assert!(
        blocks.len() >= 11,
        "{blocks:?}\nimporter: {stderr}\nserver at the range's middle: {:?}\nserver log:\n{}",
        get(
            &server.addr,
            &format!(
                "/api/v1/query?query={}&time={}",
                crate::common::enc(expr),
                (start + end) / 2
            )
        ),
        server.log_text()
    );
    let dump = run_ok(flint_str(), &["tsdb", "dump", out.to_str().unwrap()]);
    // every 5 min over 23 h, for each of the two codes
    let lines: Vec<&str> = dump.lines().collect();
    assert!(
        (2 * 275..=2 * 277).contains(&lines.len()),
        "{}",
        lines.len()
    );
    // each value is what the server answers at that time
    for l in lines.iter().step_by(37) {
        assert!(
            l.starts_with("{__name__=\"code:http_requests:rate5m\", code=\""),
            "{l}"
        );
        assert!(l.contains(", source=\"backfill\"} "), "{l}");
        let code = &l[l.find("code=\"").unwrap() + 6..][..3];
        let mut f = l.rsplit(' ');
        let t: i64 = f.next().unwrap().parse().unwrap();
        let v: f64 = f.next().unwrap().parse().unwrap();
        assert!(t >= start * 1000 && t <= end * 1000, "{t}");
        let want = server.value(&format!(
            "sum by (code) (rate(http_requests_total{{code=\"{code}\"}}[5m] @ {}.{:03}))",
            t / 1000,
            t % 1000
        ));
        assert_eq!(want, Some(v), "{l}");
    }
    // a bad expression names the rule file's problem, nothing is written
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n",
    )
    .unwrap();
    let (ok, _, err) = run(
        flint_str(),
        &[
            "tsdb",
            "create-blocks-from",
            "rules",
            &format!("--url=http://{}", server.addr),
            &format!("--start={start}"),
            &format!("--output-dir={}", dir.join("none").display()),
            rules.to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(err.contains("rule importer parse error"), "{err}");
    assert!(!dir.join("none").exists());
}

/// Imports a group of one rule, `sum(http_requests_total)` at `interval`,
/// over `range(boundary)` of the backfill data set, where `boundary` is a
/// 2 h block boundary a day before the data's end: the boundary, the
/// timestamps written and the dump.
fn import_around_a_boundary(
    interval: &str,
    range: fn(i64) -> (i64, i64),
) -> (i64, Vec<i64>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server, back_end) = server_on_backfill(dir);
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        format!("groups:\n  - name: g\n    interval: {interval}\n    rules:\n      - record: r\n        expr: sum(http_requests_total)\n"),
    )
    .unwrap();
    let boundary = (back_end - 86_400) / 7200 * 7200;
    let out = dir.join("out");
    let (ok, _, stderr) = import_rules(&server, &rules, range(boundary), &out);
    assert!(ok, "{stderr}");
    let dump = run_ok(flint_str(), &["tsdb", "dump", out.to_str().unwrap()]);
    let times: Vec<i64> = dump
        .lines()
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (boundary, times, dump)
}

/// A range starting a second before a 2 h block ends is imported whole
/// (promtool imports nothing then): from the next block on, and from the
/// block's last second when the group's offset puts an evaluation there
/// (one group in 300 at 5 min).
#[test]
fn a_range_starting_at_a_blocks_last_second_is_imported() {
    let (boundary, times, dump) =
        import_around_a_boundary("5m", |boundary| (boundary - 1, boundary + 3 * 3600));
    // every 5 min over the 3 h after the boundary
    assert!((35..=37).contains(&times.len()), "{dump}");
    assert!(times.iter().all(|&t| t >= (boundary - 1) * 1000), "{dump}");
    assert!(times.windows(2).all(|w| w[1] - w[0] == 300_000), "{dump}");
}

/// A group's evaluations are offset in its interval by its hash, to a
/// fraction of a second: the one falling within a block's last second is
/// imported (into that block), not lost between the block and the next.
#[test]
fn an_evaluation_in_a_blocks_last_second_is_imported() {
    // at 1 s, every block boundary has an evaluation in the second before
    let (_, times, dump) =
        import_around_a_boundary("1s", |boundary| (boundary - 10, boundary + 10));
    // one a second from start to end (21 when the offset is within half a
    // millisecond of a whole second), none missing at the boundary
    assert!((20..=21).contains(&times.len()), "{dump}");
    assert!(times.windows(2).all(|w| w[1] - w[0] == 1000), "{dump}");
}

/// Native histograms remote-written to flint for 5 h (two exponential
/// counters, one with a counter reset, and two with custom bounds, one
/// with a counter reset), and two recording rules over them: a rate
/// (gauge histograms) and a sum (counter histograms with custom bounds).
/// `create-blocks-from rules` writes their results as native histograms,
/// and a flint serving the blocks answers the raw recorded samples as the
/// first one answers the rules' expressions at those times.
#[test]
fn histogram_results_are_backfilled_as_histograms() {
    use flint::remote::proto::histogram::{Count, ZeroCount};
    use flint::remote::{BucketSpan, Histogram, Label, TimeSeries, WriteRequest};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(
        dir,
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver"],
    );
    let now = crate::common::now_secs() as i64;
    let n = 300i64;
    let base = (now - n * 60) / 60 * 60 * 1000;
    let span = |offset: i32, length: u32| BucketSpan { offset, length };
    let deltas = |counts: &[i64]| -> Vec<i64> {
        let mut prev = 0;
        counts
            .iter()
            .map(|c| {
                let d = c - prev;
                prev = *c;
                d
            })
            .collect()
    };
    let exp = |instance: &str, reset: Option<i64>| TimeSeries {
        labels: vec![
            Label::new("__name__", "hist_seconds"),
            Label::new("instance", instance),
            Label::new("job", "api"),
        ],
        histograms: (0..n)
            .map(|i| {
                let k = match reset {
                    Some(r) if i >= r => i - r,
                    _ => i,
                } + instance.len() as i64;
                // a bucket that appears after 100 minutes
                let mut pos = vec![k, 3 * k, k / 2];
                let mut spans = vec![span(-2, 3)];
                if i >= 100 {
                    pos.push(k / 4);
                    spans.push(span(3, 1));
                }
                Histogram {
                    count: Some(Count::CountInt(
                        (pos.iter().sum::<i64>() + 2 * k + 1) as u64,
                    )),
                    sum: 0.013 * (k * k) as f64,
                    schema: 2,
                    zero_threshold: 2f64.powi(-128),
                    zero_count: Some(ZeroCount::ZeroCountInt(1 + k as u64)),
                    positive_spans: spans,
                    positive_deltas: deltas(&pos),
                    negative_spans: vec![span(1, 1)],
                    negative_deltas: deltas(&[k]),
                    timestamp: base + i * 60_000,
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    };
    let nhcb = |instance: &str, reset: Option<i64>| TimeSeries {
        labels: vec![
            Label::new("__name__", "nhcb_seconds"),
            Label::new("instance", instance),
        ],
        histograms: (0..n)
            .map(|i| {
                let k = match reset {
                    Some(r) if i >= r => i - r,
                    _ => i,
                };
                // the bucket (0.25, 0.5] stays empty
                let counts = [k, 0, 2 * k, k / 3, 1];
                Histogram {
                    count: Some(Count::CountInt(counts.iter().sum::<i64>() as u64)),
                    sum: 0.25 * k as f64,
                    schema: -53,
                    positive_spans: vec![span(0, 5)],
                    positive_deltas: deltas(&counts),
                    custom_values: vec![0.1, 0.25, 0.5, 2.5],
                    timestamp: base + i * 60_000,
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    };
    let req = WriteRequest {
        timeseries: vec![
            exp("a", None),
            exp("bb", Some(150)),
            nhcb("a", None),
            nhcb("bb", Some(200)),
        ],
        ..Default::default()
    };
    let (code, body) = crate::peers::remote_write(&server.addr, &req);
    assert_eq!(code, 204, "{body}");
    let rules = dir.join("rules.yml");
    let rate = "sum by (job) (rate(hist_seconds[5m]))";
    let total = "sum without (instance) (nhcb_seconds)";
    std::fs::write(
        &rules,
        format!(
            "groups:\n  - name: h\n    interval: 1m\n    rules:\n      - record: job:hist_seconds:rate5m\n        expr: {rate}\n      - record: nhcb_seconds:sum\n        expr: {total}\n        labels:\n          source: backfill\n"
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let (start, end) = (base / 1000 + 600, now - 300);
    run_ok(
        flint_str(),
        &[
            "tsdb",
            "create-blocks-from",
            "rules",
            &format!("--url=http://{}", server.addr),
            &format!("--start={start}"),
            &format!("--end={end}"),
            &format!("--output-dir={}", out.display()),
            rules.to_str().unwrap(),
        ],
    );
    let blocks = list_columns(&run_ok(
        flint_str(),
        &["tsdb", "list", out.to_str().unwrap()],
    ));
    assert!(blocks.len() >= 2, "{blocks:?}");
    let dump = run_ok(flint_str(), &["tsdb", "dump", out.to_str().unwrap()]);
    let steps = (end - start) / 60;
    for name in ["job:hist_seconds:rate5m", "nhcb_seconds:sum"] {
        let lines = dump
            .lines()
            .filter(|l| l.starts_with(&format!("{{__name__=\"{name}\"")))
            .count() as i64;
        assert!((steps - 1..=steps + 1).contains(&lines), "{name}: {lines}");
    }
    assert!(
        dump.contains("{__name__=\"nhcb_seconds:sum\", source=\"backfill\"} {count:"),
        "{dump}"
    );

    // a flint serving the blocks: the recorded samples are the answers
    let second = dir.join("second");
    std::fs::create_dir_all(&second).unwrap();
    let (ok, _, err) = run(
        "cp",
        &[
            "-r",
            out.to_str().unwrap(),
            second.join("data").to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let back = Server::start(&second, "global:\n  scrape_interval: 1h\n", &[]);
    let mut compared = 0;
    for (name, expr, f) in [
        (
            "job:hist_seconds:rate5m",
            rate,
            "histogram_quantile(0.9, {})",
        ),
        ("nhcb_seconds:sum", total, "histogram_fraction(0, 0.5, {})"),
    ] {
        let raw = get(
            &back.addr,
            &format!(
                "/api/v1/query?query={}&time={end}",
                crate::common::enc(&format!("{name}[6h]"))
            ),
        );
        let recorded = &raw["result"][0]["histograms"];
        let points = recorded.as_array().expect("histograms").len();
        assert!((steps - 1..=steps + 1).contains(&(points as i64)), "{raw}");
        let (first, last) = (&recorded[0][0], &recorded[points - 1][0]);
        let want = get(
            &server.addr,
            &format!(
                "/api/v1/query_range?query={}&start={first}&end={last}&step=60",
                crate::common::enc(expr)
            ),
        );
        let want = &want["result"][0]["histograms"];
        assert!(
            same(recorded, want),
            "{name}\nrecorded: {recorded}\nanswered: {want}"
        );
        compared += points;
        // a function of a recorded histogram, as of the expression
        let at = &recorded[points / 2][0];
        let instant = |addr: &str, q: String| {
            get(
                addr,
                &format!("/api/v1/query?query={}&time={at}", crate::common::enc(&q)),
            )
        };
        let got = instant(&back.addr, f.replace("{}", name));
        let exp = instant(&server.addr, f.replace("{}", expr));
        let v = |x: &Value| {
            x["result"][0]["value"][1]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        let (g, e) = (v(&got), v(&exp));
        assert!((g - e).abs() <= 1e-9 * e.abs(), "{name}: {g} against {e}");
    }
    back.stop();
    server.stop();
    println!("{compared} recorded histograms equal to the answers they were made from");
}
