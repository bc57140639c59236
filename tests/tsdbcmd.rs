//! `flint tsdb …` side by side with Debian's `promtool tsdb` (2.42) on the
//! same data: blocks backfilled from one OpenMetrics file by both, then
//! `list`, `dump` and `analyze` of each compared; flint's data (blocks and
//! a live head, exported while the server runs) written as Prometheus
//! blocks by `export-prometheus`, read by `promtool` and served by
//! Prometheus 2.42 with the same answers as flint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bin, enc, free_port, http_get, MockTarget, Server};
use crate::peers::peers_or_skip;

mod rules;

/// Three days at 30 s of a counter (6 series) and a gauge (4 series, one
/// of which stops after 12 h and one starts after a day: churn), label
/// values with quotes and backslashes, ending at `end` (s).
fn backfill(end: i64) -> String {
    let start = end - 3 * 86_400;
    let mut s =
        String::from("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n");
    for code in ["200", "500"] {
        for path in ["/", "/api", "/a\\\\b"] {
            let mut v = 0i64;
            for t in (start..end).step_by(30) {
                v += (t / 30 * 7 + path.len() as i64) % 5;
                s.push_str(&format!(
                    "http_requests_total{{code=\"{code}\",path=\"{path}\"}} {v} {t}\n"
                ));
            }
        }
    }
    s.push_str("# TYPE temp gauge\n");
    for (i, host) in ["a", "b", "c", "d"].iter().enumerate() {
        let from = if *host == "d" { start + 86_400 } else { start };
        let to = if *host == "c" { start + 43_200 } else { end };
        for t in (from..to).step_by(30) {
            let v = ((t / 30 * (i as i64 + 3)) % 1000) as f64 / 8.0 - 20.5;
            s.push_str(&format!(
                "temp{{host=\"{host}\",note=\"say \\\"hi\\\"\"}} {v} {t}\n"
            ));
        }
    }
    s.push_str("# EOF\n");
    s
}

fn run(cmd: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cmd).args(args).output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_ok(cmd: &str, args: &[&str]) -> String {
    let (ok, out, err) = run(cmd, args);
    assert!(ok, "{cmd} {args:?}: {err}");
    out
}

/// The columns of a `tsdb list` table that do not depend on how the
/// blocks are encoded: times, duration, samples, series.
fn list_columns(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .map(|l| {
            // cells are two or more spaces apart; human-readable times
            // hold single spaces
            let f: Vec<&str> = l
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            assert_eq!(f.len(), 8, "{l}");
            format!("{} {} {} {} {}", f[1], f[2], f[3], f[4], f[6])
        })
        .collect()
}

/// `tsdb analyze` output with the block id left out, `Series:` (2.42's
/// word) as `Total Series:` (3.x's), and the lines of each list sorted:
/// entries with equal counts come in no fixed order from promtool.
fn analyze_normal(text: &str) -> Vec<Vec<String>> {
    text.replace("\nSeries: ", "\nTotal Series: ")
        .split("\n\n")
        .map(|sec| {
            let mut lines: Vec<String> = sec
                .lines()
                .filter(|l| !l.starts_with("Block ID: "))
                .map(str::to_string)
                .collect();
            if lines.len() > 1 && lines[0].ends_with(':') {
                lines[1..].sort();
            }
            lines
        })
        .collect()
}

fn flint_str() -> &'static str {
    bin()
}

#[test]
fn subcommands_match_promtool_on_the_same_data() {
    if !peers_or_skip(
        "tsdbcmd::subcommands_match_promtool_on_the_same_data",
        &["promtool"],
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let input = dir.join("in.om");
    std::fs::write(&input, backfill(1_700_006_400)).unwrap();
    let (prom, flint) = (dir.join("prom"), dir.join("flint"));
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let (input_s, prom_s, flint_s) = (p(&input), p(&prom), p(&flint));

    // backfill: the same blocks (time ranges, samples, series)
    let pt = run_ok(
        "promtool",
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            &input_s,
            &prom_s,
        ],
    );
    let ft = run_ok(
        flint_str(),
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            &input_s,
            &flint_s,
        ],
    );
    assert_eq!(pt.lines().next(), ft.lines().next(), "header");
    assert!(list_columns(&pt).len() >= 36, "{pt}");
    assert_eq!(list_columns(&pt), list_columns(&ft));
    // promtool opens a folder with a write-ahead log only
    std::fs::create_dir_all(prom.join("wal")).unwrap();

    // list, plain and human-readable
    for flags in [&[][..], &["-r"][..]] {
        let mut a = vec!["tsdb", "list"];
        a.extend_from_slice(flags);
        let mut pa = a.clone();
        pa.push(&prom_s);
        a.push(&flint_s);
        let (pl, fl) = (run_ok("promtool", &pa), run_ok(flint_str(), &a));
        assert_eq!(
            list_columns(&pl),
            list_columns(&fl),
            "{flags:?}\n{pl}\n{fl}"
        );
        if !flags.is_empty() {
            assert!(fl.contains(" +0000 UTC"), "{fl}");
        }
    }

    // dump: byte for byte, whole and selected
    let pd = run_ok("promtool", &["tsdb", "dump", &prom_s]);
    let fd = run_ok(flint_str(), &["tsdb", "dump", &flint_s]);
    assert_eq!(pd.lines().count(), 8 * 8640 + 1440 + 5760);
    assert!(pd == fd, "dumps differ");
    assert!(
        fd.contains(r#"{__name__="temp", host="a", note="say \"hi\""} -20.5 "#),
        "{}",
        &fd[..300]
    );
    let sel = [
        "--match=temp{host=~\"c|d\"}",
        "--min-time=1699950000000",
        "--max-time=1699990000000",
    ];
    let mut a = vec!["tsdb", "dump"];
    a.extend_from_slice(&sel);
    let mut pa = a.clone();
    pa.push(&prom_s);
    a.push(&flint_s);
    let (pd, fd) = (run_ok("promtool", &pa), run_ok(flint_str(), &a));
    assert!(pd.lines().count() > 100, "{pd}");
    assert!(pd == fd, "selected dumps differ:\n{pd}\n{fd}");

    // analyze: the last block, then an older one named by id
    let pa = run_ok("promtool", &["tsdb", "analyze", &prom_s]);
    let fa = run_ok(flint_str(), &["tsdb", "analyze", &flint_s]);
    assert_eq!(analyze_normal(&pa), analyze_normal(&fa), "{pa}\n{fa}");
    let pid = promtool_block_ids(&prom)[2].clone();
    let fid = flint_block_ids(&flint_s)[2].clone();
    let pa = run_ok("promtool", &["tsdb", "analyze", "--limit=5", &prom_s, &pid]);
    let fa = run_ok(
        flint_str(),
        &["tsdb", "analyze", "--limit=5", &flint_s, &fid],
    );
    assert!(fa.starts_with(&format!("Block ID: {fid}\n")), "{fa}");
    assert!(fa.contains("\nHighest cardinality labels:\n"), "{fa}");
    // with a limit, which of the tied entries are shown is up to each
    assert_eq!(analyze_normal(&pa)[0], analyze_normal(&fa)[0], "{pa}\n{fa}");

    // export: promtool reads flint's blocks as flint does
    let exp = dir.join("exp");
    let exp_s = p(&exp);
    let et = run_ok(
        flint_str(),
        &["tsdb", "export-prometheus", &exp_s, &flint_s],
    );
    assert_eq!(list_columns(&et), list_columns(&ft));
    std::fs::create_dir_all(exp.join("wal")).unwrap();
    let el = run_ok("promtool", &["tsdb", "list", &exp_s]);
    assert_eq!(list_columns(&el), list_columns(&ft));
    assert_eq!(promtool_block_ids(&exp), flint_block_ids(&flint_s));
    let ed = run_ok("promtool", &["tsdb", "dump", &exp_s]);
    let fd = run_ok(flint_str(), &["tsdb", "dump", &flint_s]);
    assert!(ed == fd, "the export's dump differs");
    let ea = run_ok("promtool", &["tsdb", "analyze", &exp_s]);
    let fa = run_ok(flint_str(), &["tsdb", "analyze", &flint_s]);
    assert_eq!(analyze_normal(&ea), analyze_normal(&fa));

    // bad input: a clear message, exit 1, nothing written
    let bad = dir.join("bad.om");
    std::fs::write(&bad, "temp{host=\"a\"} 1\n# EOF\n").unwrap();
    let (ok, _, err) = run(
        flint_str(),
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            &p(&bad),
            &p(&dir.join("bad")),
        ],
    );
    assert!(!ok);
    assert!(err.contains("expected timestamp for series"), "{err}");
    // overlapping what a flint folder holds is refused
    let (ok, _, err) = run(
        flint_str(),
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            &input_s,
            &flint_s,
        ],
    );
    assert!(!ok);
    assert!(err.contains("overlap block"), "{err}");
    assert_eq!(flint_block_ids(&flint_s).len(), list_columns(&ft).len());
    // a Prometheus folder is named as such
    let (ok, _, err) = run(flint_str(), &["tsdb", "list", &prom_s]);
    assert!(!ok);
    assert!(err.contains("holds a Prometheus TSDB"), "{err}");
}

fn promtool_block_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("meta.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

fn flint_block_ids(dir: &str) -> Vec<String> {
    promtool_block_ids(Path::new(dir))
}

/// Prometheus 2.42 serving a data folder.
struct Prom {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Prom {
    fn start(dir: &Path, data: &Path) -> Prom {
        Self::start_args(dir, data, &[])
    }

    fn start_args(dir: &Path, data: &Path, extra: &[&str]) -> Prom {
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.join("prometheus.log");
        std::fs::write(dir.join("prom.yml"), "global:\n  scrape_interval: 1h\n").unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prom.yml").display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--storage.tsdb.retention.time=100y")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn prometheus");
        let p = Prom { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http_get(&p.addr, "/-/ready") {
                return p;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "prometheus not ready: {}",
            std::fs::read_to_string(&p.log).unwrap_or_default()
        );
    }
}

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(addr: &str, path: &str) -> Value {
    let (code, body) = http_get(addr, path).unwrap();
    assert_eq!(code, 200, "{path}: {body}");
    let mut v: Value = serde_json::from_str(&body).unwrap();
    if let Some(r) = v["data"].get_mut("result").and_then(Value::as_array_mut) {
        r.sort_by_key(|x| x["metric"].to_string());
    }
    if let Some(r) = v["data"].as_array_mut() {
        r.sort_by_key(|x| x.to_string());
    }
    v["data"].take()
}

/// Equal JSON, sample values within a relative 1e-12 (sums and rates may
/// differ in the last bit with the order of additions).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::String(x), Value::String(y)) if x != y => {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) => (p - q).abs() <= 1e-12 * p.abs().max(q.abs()),
                _ => false,
            }
        }
        _ => a == b,
    }
}

#[test]
fn exported_data_is_served_by_prometheus_as_flint_serves_it() {
    if !peers_or_skip(
        "tsdbcmd::exported_data_is_served_by_prometheus",
        &["prometheus", "promtool"],
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = crate::common::now_secs() as i64;
    let back_end = now - 6 * 3600;
    let back_end = back_end - back_end % 30;
    let input = dir.join("in.om");
    std::fs::write(&input, backfill(back_end)).unwrap();
    let data = dir.join("data");
    run_ok(
        flint_str(),
        &[
            "tsdb",
            "create-blocks-from",
            "-q",
            "openmetrics",
            input.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
    );
    // a live target, so the head holds samples too
    let target = MockTarget::start("live_counter_total 1\nlive_gauge{x=\"1\"} 0.25\n");
    let cfg = format!(
        "global:\n  scrape_interval: 100ms\n  scrape_timeout: 90ms\nscrape_configs:\n  - job_name: live\n    static_configs:\n      - targets: ['{}']\n",
        target.addr
    );
    let server = Server::start(dir, &cfg, &[]);
    server.eventually(20, "live samples", || {
        server
            .value("count_over_time(live_counter_total[1m])")
            .unwrap_or(0.0)
            >= 50.0
    });
    // exported while the server runs: its files are only read
    let exported_at = crate::common::now_secs() as i64;
    let exp = dir.join("exp");
    let et = run_ok(
        flint_str(),
        &[
            "tsdb",
            "export-prometheus",
            exp.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
    );
    assert!(
        !std::fs::read_dir(&data).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("sandbox")),
        "sandbox left behind"
    );
    // the server has merged the backfilled blocks; the last one is the head
    let blocks = list_columns(&et);
    assert!(blocks.len() >= 2, "{et}");
    let samples: u64 = blocks
        .iter()
        .map(|b| b.split(' ').nth(3).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(samples > (8 * 8640 + 1440 + 5760) as u64, "{et}");
    let live_dump = run_ok(
        flint_str(),
        &[
            "tsdb",
            "dump",
            "--match=live_counter_total",
            data.to_str().unwrap(),
        ],
    );
    server.stop();

    // what flint answers, after the export
    let server = Server::start(dir, "global:\n  scrape_interval: 1h\n", &[]);
    let start = back_end - 3 * 86_400 + 7;
    let queries = [
        format!(
            "/api/v1/query_range?query={}&start={start}&end={back_end}&step=900",
            enc("temp")
        ),
        format!(
            "/api/v1/query_range?query={}&start={start}&end={back_end}&step=3600",
            enc("sum by (code) (rate(http_requests_total[5m]))")
        ),
        format!(
            "/api/v1/query?query={}&time={}",
            enc("count_over_time(temp[1d])"),
            back_end - 7
        ),
        format!(
            "/api/v1/series?match[]={}&start={start}&end={now}",
            enc("{__name__=~\".+\"}")
        ),
        format!("/api/v1/label/host/values?start={start}&end={now}"),
        format!(
            "/api/v1/query?query={}&time={}",
            enc("count_over_time(live_counter_total[1h])"),
            exported_at - 1
        ),
    ];
    let flint_answers: Vec<Value> = queries.iter().map(|q| get(&server.addr, q)).collect();
    server.stop();

    let prom = Prom::start(dir, &exp);
    for (q, want) in queries.iter().zip(&flint_answers) {
        let got = get(&prom.addr, q);
        assert!(same(&got, want), "{q}\nprometheus: {got}\nflint: {want}");
    }
    let n = flint_answers[5]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!(n >= 20.0, "{n}");
    drop(prom);
    // the live series, as promtool reads the export
    let ed = run_ok(
        "promtool",
        &[
            "tsdb",
            "dump",
            "--match=live_counter_total",
            exp.to_str().unwrap(),
        ],
    );
    assert!(ed.lines().count() >= 20);
    assert!(
        live_dump.starts_with(&ed) || ed == live_dump,
        "live series differ:\n{ed}\n{live_dump}"
    );
}

/// Native histograms remote-written to flint over 5.5 h (so that its head
/// has cut blocks holding some of them): an integer exponential counter
/// with a counter reset, a bucket that appears later and a stale marker
/// followed by a gap, a float gauge histogram, one with custom bounds, and
/// a float series. `export-prometheus` writes them as histogram chunks:
/// promtool 2.42 lists and analyzes the blocks, meta.json counts the
/// histogram samples, and Prometheus 2.42 with native histograms on
/// answers raw histograms, `histogram_count`, `histogram_sum` and `rate`
/// as flint does (2.42 predates custom bounds), and flint taking the
/// export over answers those queries and the custom-bound ones as before.
#[test]
fn exported_histograms_are_served_by_prometheus_as_flint_serves_them() {
    use flint::remote::proto::histogram::{Count, ResetHint, ZeroCount};
    use flint::remote::{BucketSpan, Histogram, Label, Sample, TimeSeries, WriteRequest};
    if !peers_or_skip(
        "tsdbcmd::exported_histograms_are_served_by_prometheus",
        &["prometheus", "promtool"],
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(
        dir,
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver"],
    );
    let n = 330i64;
    let now = crate::common::now_secs() as i64 * 1000;
    let base = now / 60_000 * 60_000 - (n + 2) * 60_000;
    // off whole seconds, so that no range boundary hits a sample
    let t = |i: i64| base + i * 60_000 + 123;
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
    let gap = 250..255;
    let latency = TimeSeries {
        labels: vec![
            Label::new("__name__", "exp_latency_seconds"),
            Label::new("path", "/a"),
        ],
        // gone at 250: a stale marker, back at 255
        samples: vec![Sample {
            value: f64::from_bits(0x7ff0_0000_0000_0002),
            timestamp: t(gap.start),
        }],
        histograms: (0..n)
            .filter(|i| !gap.contains(i))
            .map(|i| {
                // a counter reset at 150, a new bucket from 200
                let k = if i < 150 { i } else { i - 150 };
                let mut pos = vec![1 + k, 2 * k, k];
                let mut spans = vec![span(0, 3)];
                if i >= 200 {
                    pos.push(k / 2);
                    spans.push(span(2, 1));
                }
                let neg = [k];
                Histogram {
                    count: Some(Count::CountInt(
                        (pos.iter().sum::<i64>() + neg[0] + 1) as u64,
                    )),
                    sum: 0.37 * k as f64,
                    schema: 1,
                    zero_threshold: 2f64.powi(-128),
                    zero_count: Some(ZeroCount::ZeroCountInt(1)),
                    positive_spans: spans,
                    positive_deltas: deltas(&pos),
                    negative_spans: vec![span(-1, 1)],
                    negative_deltas: deltas(&neg),
                    timestamp: t(i),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    };
    let fill = TimeSeries {
        labels: vec![Label::new("__name__", "exp_queue_fill")],
        histograms: (0..n)
            .map(|i| Histogram {
                count: Some(Count::CountFloat(6.5)),
                sum: 2.0 + (i % 7) as f64,
                schema: 0,
                zero_threshold: 0.5,
                zero_count: Some(ZeroCount::ZeroCountFloat(0.5)),
                positive_spans: vec![span(0, 3)],
                positive_counts: vec![1.5, (i % 3) as f64, 4.5 - (i % 3) as f64],
                reset_hint: ResetHint::Gauge as i32,
                timestamp: t(i),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let nhcb = TimeSeries {
        labels: vec![Label::new("__name__", "exp_nhcb_seconds")],
        histograms: (0..n)
            .map(|i| {
                let counts = [i, 2 * i, i, 1];
                Histogram {
                    count: Some(Count::CountInt(counts.iter().sum::<i64>() as u64)),
                    sum: 0.25 * i as f64,
                    schema: -53,
                    positive_spans: vec![span(0, 4)],
                    positive_deltas: deltas(&counts),
                    custom_values: vec![0.1, 0.5, 1.0],
                    timestamp: t(i),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    };
    let floats = TimeSeries {
        labels: vec![Label::new("__name__", "exp_floats_total")],
        samples: (0..n)
            .map(|i| Sample {
                value: (i * 3) as f64,
                timestamp: t(i),
            })
            .collect(),
        ..Default::default()
    };
    let req = WriteRequest {
        timeseries: vec![latency, fill, nhcb, floats],
        ..Default::default()
    };
    let (code, body) = crate::peers::remote_write(&server.addr, &req);
    assert_eq!(code, 204, "{body}");
    let data = dir.join("data");
    server.eventually(60, "a block with histograms", || {
        std::fs::read_dir(&data)
            .unwrap()
            .flatten()
            .any(|e| e.path().join("histograms").exists())
    });
    let start = t(0) / 1000 + 7;
    let end = t(n - 1) / 1000 + 7;
    let range = |q: &str, step: i64| {
        format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
            enc(q)
        )
    };
    let instant =
        |q: &str, i: i64| format!("/api/v1/query?query={}&time={}", enc(q), t(i) / 1000 + 7);
    let queries = [
        range("exp_latency_seconds", 60),
        range("histogram_count(exp_latency_seconds)", 60),
        range("histogram_sum(exp_latency_seconds)", 60),
        range("rate(exp_latency_seconds[5m])", 300),
        // (from 10 minutes in: 2.42 extrapolates a histogram rate towards
        // the series' start otherwise than Prometheus 3 and flint)
        range("histogram_count(rate(exp_latency_seconds[10m]))", 120).replace(
            &format!("start={start}&"),
            &format!("start={}&", start + 600),
        ),
        range("exp_queue_fill", 60),
        range("histogram_sum(exp_queue_fill)", 180),
        range("rate(exp_floats_total[5m])", 300),
        instant("exp_latency_seconds", gap.start + 2),
        instant("exp_latency_seconds", gap.end),
        instant("histogram_count(exp_latency_seconds)", 150),
        format!(
            "/api/v1/series?match[]={}&start={start}&end={end}",
            enc("{__name__=~\"exp_.+\"}")
        ),
    ];
    let flint_answers: Vec<Value> = queries.iter().map(|q| get(&server.addr, q)).collect();
    // what Prometheus 2.42 cannot read, for flint reading the export
    let custom_queries = [
        range("exp_nhcb_seconds", 60),
        range("histogram_count(rate(exp_nhcb_seconds[5m]))", 300),
    ];
    let custom_answers: Vec<Value> = custom_queries
        .iter()
        .map(|q| get(&server.addr, q))
        .collect();
    let points: usize = flint_answers[0]["result"][0]["histograms"]
        .as_array()
        .map_or(0, Vec::len);
    // every sample but those of the gap and the lookback after the marker
    assert_eq!(
        points as i64,
        n - (gap.end - gap.start),
        "{}",
        flint_answers[0]
    );
    assert_eq!(flint_answers[8]["result"], Value::Array(Vec::new()));
    let dump = run_ok(
        flint_str(),
        &[
            "tsdb",
            "dump",
            "--match=exp_latency_seconds",
            data.to_str().unwrap(),
        ],
    );
    let om = run_ok(
        flint_str(),
        &[
            "tsdb",
            "dump-openmetrics",
            "--match={__name__=~\"exp_.+\"}",
            data.to_str().unwrap(),
        ],
    );
    let nhcb_dump = run_ok(
        flint_str(),
        &[
            "tsdb",
            "dump",
            "--match=exp_nhcb_seconds",
            data.to_str().unwrap(),
        ],
    );
    // exported while the server runs
    let exp = dir.join("exp");
    let et = run_ok(
        flint_str(),
        &[
            "tsdb",
            "export-prometheus",
            exp.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
    );
    server.stop();

    // dumps: histograms as promtool 3 prints them, the stale marker a
    // histogram one; dump-openmetrics leaves histograms out, as promtool
    let lines: Vec<&str> = dump.lines().collect();
    let missing: Vec<i64> = (0..n)
        .filter(|i| !gap.contains(i) && !dump.contains(&format!("}} {}\n", t(*i))))
        .collect();
    assert_eq!(missing, Vec::<i64>::new());
    assert_eq!(lines.len() as i64, n - (gap.end - gap.start) + 1, "{dump}");
    // (the bound 2^-1/2 in its last digit as flint computes it)
    assert!(
        lines[0].starts_with(
            "{__name__=\"exp_latency_seconds\", path=\"/a\"} {count:2, sum:0, [-2.938735877055719e-39,2.938735877055719e-39]:1, (0.70710678118654"
        ) && lines[0].ends_with(&format!(",1]:1}} {}", t(0))),
        "{}",
        lines[0]
    );
    assert!(
        dump.contains(&format!(" {{count:0, sum:NaN}} {}\n", t(gap.start))),
        "{dump}"
    );
    assert!(
        nhcb_dump.starts_with(&format!(
            "{{__name__=\"exp_nhcb_seconds\"}} {{count:1, sum:0, (1,+Inf]:1}} {}\n",
            t(0)
        )),
        "{nhcb_dump}"
    );
    assert!(
        nhcb_dump.contains(&format!(
            "{{count:13, sum:0.75, [-Inf,0.1]:3, (0.1,0.5]:6, (0.5,1]:3, (1,+Inf]:1}} {}\n",
            t(3)
        )),
        "{nhcb_dump}"
    );
    assert_eq!(om.lines().count() as i64, n + 1, "{om}");
    assert!(
        om.lines()
            .all(|l| l.starts_with("exp_floats_total{} ") || l == "# EOF"),
        "{om}"
    );

    // the export: every histogram sample (and the stale marker) counted
    // as Prometheus 3.6 counts them
    let want_hist = (n - (gap.end - gap.start) + 1) + 2 * n;
    let (mut hist, mut float, mut total) = (0, 0, 0);
    for id in promtool_block_ids(&exp) {
        let meta: Value = serde_json::from_str(
            &std::fs::read_to_string(exp.join(&id).join("meta.json")).unwrap(),
        )
        .unwrap();
        hist += meta["stats"]["numHistogramSamples"].as_i64().unwrap_or(0);
        float += meta["stats"]["numFloatSamples"].as_i64().unwrap_or(0);
        total += meta["stats"]["numSamples"].as_i64().unwrap();
        // promtool 2.42 reads every chunk of each block
        let a = run_ok(
            "promtool",
            &["tsdb", "analyze", "--extended", exp.to_str().unwrap(), &id],
        );
        assert!(a.contains("Compaction analysis"), "{a}");
    }
    assert_eq!((hist, float, total), (want_hist, n, want_hist + n), "{et}");
    let pl = run_ok("promtool", &["tsdb", "list", exp.to_str().unwrap()]);
    let listed: i64 = list_columns(&pl)
        .iter()
        .map(|b| b.split(' ').nth(3).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(listed, total, "{pl}");
    assert!(promtool_block_ids(&exp).len() >= 2, "{pl}");

    let prom = Prom::start_args(dir, &exp, &["--enable-feature=native-histograms"]);
    let mut compared = 0;
    for (q, want) in queries.iter().zip(&flint_answers) {
        let got = get(&prom.addr, q);
        assert!(same(&got, want), "{q}\nprometheus: {got}\nflint: {want}");
        compared += 1;
    }
    drop(prom);
    let blocks = promtool_block_ids(&exp).len();

    // and flint takes the export over with the same answers, custom
    // bounds included
    let back = dir.join("back");
    std::fs::create_dir_all(&back).unwrap();
    let (ok, _, err) = run(
        "cp",
        &[
            "-r",
            exp.to_str().unwrap(),
            back.join("data").to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let server = Server::start(
        &back,
        "global:\n  scrape_interval: 1h\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    for (q, want) in queries
        .iter()
        .zip(&flint_answers)
        .chain(custom_queries.iter().zip(&custom_answers))
    {
        let got = get(&server.addr, q);
        assert!(same(&got, want), "{q}\ntaken over: {got}\nflint: {want}");
        compared += 1;
    }
    server.stop();
    println!(
        "{compared} answers equal (Prometheus 2.42 and flint taking the export over); {hist} histogram samples and {float} float samples exported in {blocks} blocks, {points} raw histograms in a range query"
    );
}
