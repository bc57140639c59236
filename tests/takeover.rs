//! Swapping flint in on a Prometheus data directory, with Debian's
//! `prometheus` 2.42 and `promtool`: three days backfilled by
//! `promtool tsdb create-blocks-from openmetrics`, a live target scraped,
//! series deleted through the admin API (block tombstones and a log
//! tombstone), a clean stop (head chunks written), a restart, then
//! `kill -9`. flint started on that folder answers a battery of instant,
//! range, series and label queries exactly as Prometheus answered them
//! just before the kill; a truncated log segment and a compaction left
//! half-done lose nothing else. Native histograms (integer and float,
//! with a stale marker) that Prometheus scraped into a block, its head
//! chunks and its log read back as Prometheus answered them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{enc, free_port, http_get, http_request, MockTarget, Server};
use crate::peers::peers_or_skip;

/// A Prometheus process on a given data folder.
struct Prom {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Prom {
    fn start(dir: &Path) -> Prom {
        Prom::start_with(dir, &[])
    }

    /// Starts Prometheus with these flags besides the usual ones.
    fn start_with(dir: &Path, extra: &[&str]) -> Prom {
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.join(format!("prometheus-{}.log", free_port()));
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-admin-api")
            .arg("--storage.tsdb.retention.time=100y")
            .args(extra)
            .current_dir(dir)
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

    fn get(&self, path: &str) -> Value {
        let (code, body) = http_get(&self.addr, path).unwrap();
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three days of two metrics, four series each, every 30 s, ending at
/// `end` (s): a gauge with three decimals and a counter.
fn backfill(end: i64) -> String {
    let mut s = String::from("# HELP back_gauge A gauge.\n# TYPE back_gauge gauge\n");
    let start = end - 3 * 86_400;
    let mut counter = String::from("# HELP back_counter A counter.\n# TYPE back_counter counter\n");
    for t in (start..end).step_by(30) {
        for i in 0..4 {
            let kind = ["a", "b"][i % 2];
            let v = ((t / 30 * (i as i64 + 3)) % 1000) as f64 / 8.0 + 0.125;
            s.push_str(&format!(
                "back_gauge{{i=\"{i}\",kind=\"{kind}\"}} {v} {t}\n"
            ));
            let c = (t - start) / 30 * (i as i64 + 1) + (t / 30 % 7);
            counter.push_str(&format!(
                "back_counter_total{{i=\"{i}\",kind=\"{kind}\"}} {c} {t}\n"
            ));
        }
    }
    s.push_str(&counter);
    s.push_str("# EOF\n");
    s
}

/// A result with its series in a fixed order.
fn normal(v: Value) -> Value {
    let mut d = v["data"].clone();
    if let Some(r) = d.get_mut("result").and_then(Value::as_array_mut) {
        r.sort_by_key(|x| x["metric"].to_string());
    }
    if let Some(r) = d.as_array_mut() {
        r.sort_by_key(|x| x.to_string());
    }
    d
}

#[test]
fn flint_answers_as_prometheus_did_on_its_own_folder() {
    if !peers_or_skip(
        "takeover::flint_answers_as_prometheus_did",
        &["prometheus", "promtool"],
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = crate::common::now_secs() as i64;
    let back_end = now - 3 * 3600;
    let back_end = back_end - back_end % 30;
    std::fs::write(dir.join("backfill.om"), backfill(back_end)).unwrap();
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(dir.join("backfill.om"))
        .arg(dir.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // a live target whose counter moves at every scrape
    let target = MockTarget::start("");
    let n = Arc::new(AtomicU64::new(0));
    {
        let (n, body) = (Arc::clone(&n), Arc::clone(&target.body));
        std::thread::spawn(move || loop {
            let v = n.fetch_add(1, Ordering::Relaxed);
            *body.lock().unwrap() = format!(
                "live_counter_total {v}\nlive_other{{x=\"1\"}} {}\nlive_other{{x=\"2\"}} 0.5\n",
                v % 13
            );
            std::thread::sleep(Duration::from_millis(97));
        });
    }
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n  - job_name: live\n    static_configs:\n      - targets: ['{}']\n",
            target.addr
        ),
    )
    .unwrap();
    // first run: enough scrapes for full head chunks (120 samples), two
    // deletions, a clean stop that writes the head chunks
    let p = Prom::start(dir);
    std::thread::sleep(Duration::from_secs(40));
    let del = |p: &Prom, m: &str, a: i64, b: i64| {
        let (code, body) = http_request(
            &p.addr,
            "POST",
            &format!(
                "/api/v1/admin/tsdb/delete_series?match[]={}&start={a}&end={b}",
                enc(m)
            ),
            None,
        )
        .unwrap();
        assert_eq!(code, 204, "{body}");
    };
    del(
        &p,
        "back_gauge{i=\"3\"}",
        back_end - 2 * 86_400,
        back_end - 86_400,
    );
    del(&p, "live_other{x=\"2\"}", now - 3600, now + 3600);
    p.stop();
    let head_chunks = std::fs::read_dir(dir.join("data/chunks_head"))
        .unwrap()
        .flatten()
        .any(|e| {
            std::fs::read(e.path())
                .unwrap()
                .iter()
                .skip(8)
                .any(|&b| b != 0)
        });
    assert!(head_chunks, "head chunks written at the stop");
    // second run: more scrapes, the battery, kill -9
    let p = Prom::start(dir);
    std::thread::sleep(Duration::from_secs(15));
    let last = p.get("/api/v1/query?query=timestamp(up)");
    let t_live = last["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap()
        - 2.0
        // off the 250 ms grid of the scrapes, so that no range starts on a
        // sample (Prometheus 2's ranges include their start, 3's do not)
        + 0.123;
    let t_back = (back_end - 5 * 3600) as f64 + 0.5;
    let mut queries: Vec<String> = Vec::new();
    for q in [
        "up",
        "live_counter_total",
        "live_other",
        "rate(live_counter_total[5s])",
        "count_over_time({__name__=~\"live.*\"}[1h])",
        "sum_over_time(live_other[1h])",
    ] {
        queries.push(format!("/api/v1/query?query={}&time={t_live:.3}", enc(q)));
    }
    for q in [
        "back_gauge",
        "sum by (kind) (back_gauge)",
        "rate(back_counter_total[5m])",
        "max_over_time(back_gauge[1h])",
        "count_over_time(back_gauge[3d])",
        "quantile_over_time(0.9, back_gauge[6h])",
        "increase(back_counter_total[1d])",
    ] {
        queries.push(format!("/api/v1/query?query={}&time={t_back:.3}", enc(q)));
    }
    for (q, start, end, step) in [
        ("back_gauge{i=\"3\"}", t_back - 86_400.0 * 2.5, t_back, "1h"),
        (
            "rate(back_counter_total[10m])",
            t_back - 86_400.0 * 2.0,
            t_back,
            "30m",
        ),
        ("live_counter_total", t_live - 40.0, t_live, "1s"),
        ("live_other", t_live - 60.0, t_live, "2s"),
    ] {
        queries.push(format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step}",
            enc(q)
        ));
    }
    queries.push(format!(
        "/api/v1/series?match[]={}",
        enc("{__name__=~\"back.*|live.*|up\"}")
    ));
    queries.push("/api/v1/labels".into());
    queries.push("/api/v1/label/kind/values".into());
    queries.push("/api/v1/label/__name__/values".into());
    let want: BTreeMap<String, Value> = queries
        .iter()
        .map(|q| (q.clone(), normal(p.get(q))))
        .collect();
    p.kill();
    assert!(std::fs::read_dir(dir.join("data/wal")).unwrap().count() > 0);

    // copies for the damaged variants, before flint changes anything
    let torn = tempfile::tempdir().unwrap();
    copy_dir(&dir.join("data"), &torn.path().join("data"));
    let half = tempfile::tempdir().unwrap();
    copy_dir(&dir.join("data"), &half.path().join("data"));

    // flint on the same folder and command line
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 1h\n",
    )
    .unwrap();
    let start = Instant::now();
    let s = Server::start(
        dir,
        "global:\n  scrape_interval: 1h\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    println!("take-over and start: {:?}", start.elapsed());
    for q in &queries {
        let (code, body) = http_get(&s.addr, q).unwrap();
        assert_eq!(code, 200, "{q}: {body}");
        let got = normal(serde_json::from_str(&body).unwrap());
        assert_eq!(got, want[q], "{q}");
    }
    let log = s.log_text();
    assert!(
        log.contains("Took over the Prometheus data directory"),
        "{log}"
    );
    assert!(dir.join("data/prometheus-original/wal").is_dir());
    let (_, replay) = s.api("/api/v1/status/walreplay");
    assert_eq!(replay["data"]["current"], replay["data"]["max"]);
    // a restart does not import again
    drop(s);
    let s = Server::start(
        dir,
        "global:\n  scrape_interval: 1h\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    assert!(!s.log_text().contains("Took over"));
    let q = &queries[queries.len() - 8];
    let (_, body) = http_get(&s.addr, q).unwrap();
    assert_eq!(normal(serde_json::from_str(&body).unwrap()), want[q]);
    drop(s);

    // a torn log: its last segment cut in the middle of a record
    let wal = torn.path().join("data/wal");
    let (_, last_seg) = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().parse::<u64>().ok()?;
            Some((n, e.path()))
        })
        .max()
        .unwrap();
    // cut in the middle of the segment's last record fragment (a cut at
    // an arbitrary length can land in a page's zero padding, which leaves
    // a shorter but whole log)
    let bytes = std::fs::read(&last_seg).unwrap();
    let cut = last_fragment_middle(&bytes).expect("a record in the last segment");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&last_seg)
        .unwrap();
    f.set_len(cut as u64).unwrap();
    let s = Server::start(
        torn.path(),
        "global:\n  scrape_interval: 1h\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    // the blocks' history is whole
    for q in queries
        .iter()
        .filter(|q| q.contains(&format!("{t_back:.3}")) || q.contains("back_gauge%7Bi"))
    {
        let (_, body) = http_get(&s.addr, q).unwrap();
        assert_eq!(normal(serde_json::from_str(&body).unwrap()), want[q], "{q}");
    }
    let log = s.log_text();
    let seg_name = last_seg.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        log.lines()
            .any(|l| l.contains("Unreadable part") && l.contains(&seg_name)),
        "the torn segment is named: {log}"
    );
    drop(s);

    // a compaction Prometheus left half-done: a block folder being made
    let data = half.path().join("data");
    let block = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .find(|e| e.path().join("meta.json").exists())
        .unwrap()
        .path();
    copy_dir(
        &block,
        &data.join(format!("{}.tmp-for-creation", "01HZZZZZZZZZZZZZZZZZZZZZZZ")),
    );
    let s = Server::start(
        half.path(),
        "global:\n  scrape_interval: 1h\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    for q in queries
        .iter()
        .filter(|q| q.contains(&format!("{t_back:.3}")))
    {
        let (_, body) = http_get(&s.addr, q).unwrap();
        assert_eq!(normal(serde_json::from_str(&body).unwrap()), want[q], "{q}");
    }
    assert!(half
        .path()
        .join("data/prometheus-original/01HZZZZZZZZZZZZZZZZZZZZZZZ.tmp-for-creation")
        .is_dir());
}

/// A query's data with each series in a fixed order.
fn sorted_data(v: &Value) -> Value {
    normal(v.clone())
}

#[test]
fn native_histograms_taken_over_as_prometheus_answered() {
    use crate::histograms::{exposition, same, ProtoTarget};
    if !peers_or_skip("takeover::native_histograms", &["prometheus"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // counts grow every 200 ms; the exponential histogram leaves the
    // exposition for a while when asked (a stale marker)
    let target = Arc::new(ProtoTarget::start(exposition(0, true)));
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let (target, gone) = (Arc::clone(&target), Arc::clone(&gone));
        std::thread::spawn(move || {
            for k in 1.. {
                target.set(exposition(k, !gone.load(Ordering::Relaxed)));
                std::thread::sleep(Duration::from_millis(200));
            }
        });
    }
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{}']\n",
            target.addr
        ),
    )
    .unwrap();
    // blocks of one minute: the first is cut after 90 s of samples
    let p = Prom::start_with(
        dir,
        &[
            "--enable-feature=native-histograms",
            "--storage.tsdb.min-block-duration=1m",
            "--storage.tsdb.max-block-duration=1m",
        ],
    );
    let data = dir.join("data");
    let block = |data: &Path| {
        std::fs::read_dir(data)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("meta.json").exists())
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    while block(&data).is_none() {
        assert!(Instant::now() < deadline, "no block cut by Prometheus");
        std::thread::sleep(Duration::from_millis(500));
    }
    let meta: Value =
        serde_json::from_slice(&std::fs::read(block(&data).unwrap().join("meta.json")).unwrap())
            .unwrap();
    // the histogram goes away for 3 s and comes back
    std::thread::sleep(Duration::from_secs(3));
    gone.store(true, Ordering::Relaxed);
    let gone_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
        / 1000.0;
    std::thread::sleep(Duration::from_secs(3));
    gone.store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(5));
    let last = p.get("/api/v1/query?query=timestamp(up)");
    let t_live = last["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap()
        - 1.0;
    let (b_min, b_max) = (
        meta["minTime"].as_i64().unwrap() as f64 / 1000.0,
        meta["maxTime"].as_i64().unwrap() as f64 / 1000.0,
    );
    // off the 250 ms grid of the scrapes (which starts at the block's
    // first sample), so that no range starts on a sample (Prometheus 2's
    // ranges include their start, 3's do not)
    let off_grid = |t: f64| b_min + ((t - b_min) / 0.25).floor() * 0.25 + 0.123;
    // the histograms Prometheus answers at `t` (a scrape that timed out
    // on a loaded machine makes its series stale until the next one)
    let histograms_at = |t: f64| {
        let q = format!(
            "/api/v1/query?query={}&time={t:.3}",
            enc("histogram_count(rpc_duration_seconds)")
        );
        p.get(&q)["data"]["result"].as_array().map_or(0, Vec::len)
    };
    // the latest time on the grid at or before `t` where both histograms
    // were scraped
    let scraped_before = |t: f64| {
        let mut t = off_grid(t);
        for _ in 0..40 {
            if histograms_at(t) == 2 {
                break;
            }
            t -= 0.25;
        }
        t
    };
    // inside the block, late enough for a minute of rate
    let t_block = scraped_before(b_max - 1.5);
    // the stale marker comes within half a second, the histogram back
    // after 3 s
    let t_gone = off_grid(gone_at + 2.0);
    let t_live = scraped_before(t_live);
    let range_start = off_grid(b_min + 0.5);
    let mut queries: Vec<String> = Vec::new();
    for t in [t_block, t_gone, t_live] {
        for q in [
            "rpc_duration_seconds",
            "queue_fill",
            "histogram_count(rpc_duration_seconds)",
            "histogram_sum(rpc_duration_seconds)",
            "histogram_count(queue_fill)",
            "histogram_fraction(0, 4, queue_fill)",
            "rate(rpc_duration_seconds[1m])",
            "histogram_count(rate(rpc_duration_seconds[1m]))",
            "sum(rate(rpc_duration_seconds[30s]))",
            "http_request_duration_seconds_bucket",
            "orders_total",
        ] {
            queries.push(format!("/api/v1/query?query={}&time={t:.3}", enc(q)));
        }
    }
    for q in [
        "rpc_duration_seconds",
        "queue_fill",
        "histogram_count(rpc_duration_seconds)",
        "histogram_count(rate(rpc_duration_seconds[10s]))",
    ] {
        queries.push(format!(
            "/api/v1/query_range?query={}&start={range_start:.3}&end={t_live:.3}&step=1s",
            enc(q),
        ));
    }
    let want: BTreeMap<String, Value> = queries
        .iter()
        .map(|q| (q.clone(), sorted_data(&p.get(q))))
        .collect();
    // a clean stop writes out the head chunks it holds (after `kill -9`
    // those not flushed yet would be lost; the log has their samples)
    p.stop();
    // what Prometheus answered has histograms in the block's range, none
    // while the histogram was gone, some after
    let count_at = |t: f64| {
        let q = format!(
            "/api/v1/query?query={}&time={t:.3}",
            enc("histogram_count(rpc_duration_seconds)")
        );
        want[&q]["result"].as_array().unwrap().len()
    };
    assert_eq!(
        (count_at(t_block), count_at(t_gone), count_at(t_live)),
        (2, 0, 2)
    );
    let raw = format!(
        "/api/v1/query_range?query={}&start={range_start:.3}&end={t_live:.3}&step=1s",
        enc("rpc_duration_seconds"),
    );
    let points: usize = want[&raw]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["histograms"].as_array().map_or(0, |h| h.len()))
        .sum();
    assert!(points > 150, "{points} histogram points");

    // Prometheus left histogram chunks of both encodings in its block and
    // its head chunk files
    let in_block = chunk_encodings(&block(&data).unwrap().join("chunks/000001"), false);
    let mut in_head = Vec::new();
    for e in std::fs::read_dir(data.join("chunks_head"))
        .unwrap()
        .flatten()
    {
        in_head.extend(chunk_encodings(&e.path(), true));
    }
    for (what, encs) in [("block", &in_block), ("head chunks", &in_head)] {
        for enc in [2u8, 3] {
            assert!(encs.contains(&enc), "{what}: encodings {encs:?}");
        }
    }

    let start = Instant::now();
    let s = Server::start(
        dir,
        "global:\n  scrape_interval: 1h\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    println!("take-over and start: {:?}", start.elapsed());
    let (mut compared, mut quantiles) = (0, 0);
    for q in &queries {
        let (code, body) = http_get(&s.addr, q).unwrap();
        assert_eq!(code, 200, "{q}: {body}");
        let got = sorted_data(&serde_json::from_str(&body).unwrap());
        assert!(
            same(&got, &want[q]),
            "{q}:\nflint:      {got}\nprometheus: {}",
            want[q]
        );
        compared += 1;
    }
    // histogram_quantile of the rate: Prometheus 2.42 interpolates
    // linearly within a bucket, flint exponentially as Prometheus 3 does;
    // what flint answers is the exponential interpolation within
    // Prometheus's own rate buckets
    for t in [t_block, t_live] {
        let rate = format!(
            "/api/v1/query?query={}&time={t:.3}",
            enc("rate(rpc_duration_seconds[1m])")
        );
        let q = format!(
            "/api/v1/query?query={}&time={t:.3}",
            enc("histogram_quantile(0.9, rate(rpc_duration_seconds[1m]))")
        );
        let (code, got) = s.api(&q);
        assert_eq!(code, 200, "{q}: {got}");
        let got = sorted_data(&got);
        let series = want[&rate]["result"].as_array().unwrap();
        assert_eq!(got["result"].as_array().unwrap().len(), series.len());
        for (w, g) in series.iter().zip(got["result"].as_array().unwrap()) {
            assert_eq!(w["metric"], g["metric"]);
            let h = &w["histogram"][1];
            let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
            let rank = 0.9 * num(&h["count"]);
            let mut below = 0.0;
            let mut want_q = f64::NAN;
            for b in h["buckets"].as_array().unwrap() {
                let (lo, hi, c) = (num(&b[1]), num(&b[2]), num(&b[3]));
                if below + c >= rank {
                    assert!(lo > 0.0, "the 0.9 quantile is in a positive bucket: {h}");
                    want_q = lo * (hi / lo).powf((rank - below) / c);
                    break;
                }
                below += c;
            }
            let got_q = num(&g["value"][1]);
            assert!(
                (got_q - want_q).abs() <= 1e-9 * want_q.abs(),
                "{q}: {got_q} against {want_q}"
            );
            quantiles += 1;
        }
    }
    let state: Value =
        serde_json::from_slice(&std::fs::read(data.join("takeover.json")).unwrap()).unwrap();
    let summary = &state["summary"];
    println!(
        "{compared} queries equal, {quantiles} quantiles as interpolated; imported {} float samples and {} histogram samples; summary {summary}",
        summary["samples"], summary["histograms"]
    );
    assert!(summary["histograms"].as_u64().unwrap() > 400, "{summary}");
    assert_eq!(summary["skipped_histograms"], 0, "{summary}");
    assert_eq!(summary["skipped_other_encodings"], 0, "{summary}");
    assert_eq!(summary["damage"], Value::Array(Vec::new()), "{summary}");
    // what the head chunks still held of the block's range was passed
    // over, as Prometheus passes it over
    assert_eq!(summary["refused"], 0, "{summary}");
    assert!(data
        .join("prometheus-original")
        .join(meta["ulid"].as_str().unwrap())
        .is_dir());
}

/// Writes `tsdb/testdata/prometheus-2.42-histograms/` (into the folder
/// `FLINT_HISTOGRAM_FIXTURE` names): Prometheus 2.42 with native histograms
/// on and one-minute blocks scrapes the protobuf target of
/// `tests/histograms.rs` every second (round `k` moving every 200 ms)
/// until it has cut a block, the exponential histogram leaves the
/// exposition for 3 s (stale markers) and comes back for 5 s, then
/// Prometheus is killed (`kill -9`): a block, head chunks and the log all
/// hold histograms. Run with `--ignored`.
#[test]
#[ignore]
fn write_histogram_fixture() {
    use crate::histograms::{exposition, ProtoTarget};
    let out = PathBuf::from(std::env::var("FLINT_HISTOGRAM_FIXTURE").expect("output folder"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let target = Arc::new(ProtoTarget::start(exposition(0, true)));
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let (target, gone) = (Arc::clone(&target), Arc::clone(&gone));
        std::thread::spawn(move || {
            for k in 1.. {
                target.set(exposition(k, !gone.load(Ordering::Relaxed)));
                std::thread::sleep(Duration::from_millis(200));
            }
        });
    }
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{}']\n",
            target.addr
        ),
    )
    .unwrap();
    let p = Prom::start_with(
        dir,
        &[
            "--enable-feature=native-histograms",
            "--storage.tsdb.min-block-duration=1m",
            "--storage.tsdb.max-block-duration=1m",
        ],
    );
    let data = dir.join("data");
    let deadline = Instant::now() + Duration::from_secs(240);
    while !std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .any(|e| e.path().join("meta.json").exists())
    {
        assert!(Instant::now() < deadline, "no block cut by Prometheus");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    gone.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(3));
    gone.store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(5));
    p.kill();
    let _ = std::fs::remove_file(data.join("lock"));
    let _ = std::fs::remove_file(data.join("queries.active"));
    copy_dir(&data, &out);
}

/// The encodings of the chunks in a Prometheus chunk file: a block's
/// segment (each chunk: length, encoding, data, checksum) or a head chunk
/// file (each chunk: series, mint, maxt, encoding, length, data,
/// checksum), after the 8-byte header.
fn chunk_encodings(path: &Path, head: bool) -> Vec<u8> {
    let b = std::fs::read(path).unwrap();
    let mut pos = 8;
    let mut out = Vec::new();
    let uvarint = |pos: &mut usize| {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let x = b[*pos];
            *pos += 1;
            v |= ((x & 0x7f) as usize) << shift;
            if x < 0x80 {
                return v;
            }
            shift += 7;
        }
    };
    while pos + 30 < b.len() && b[pos..pos + 25].iter().any(|&x| x != 0) {
        if head {
            pos += 24;
            out.push(b[pos]);
            pos += 1;
            let n = uvarint(&mut pos);
            pos += n + 4;
        } else {
            let n = uvarint(&mut pos);
            out.push(b[pos]);
            pos += 1 + n + 4;
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The byte in the middle of the last record fragment of a Prometheus
/// write-ahead log segment: 32 KiB pages of fragments (a type byte, a
/// big-endian length of two bytes, a CRC of four, the data), the end of a
/// page padded with zeros when no fragment fits.
fn last_fragment_middle(b: &[u8]) -> Option<usize> {
    const PAGE: usize = 32 * 1024;
    const HEADER: usize = 7;
    let (mut pos, mut last) = (0, None);
    while pos + HEADER <= b.len() {
        let page_end = (pos / PAGE + 1) * PAGE;
        if page_end - pos < HEADER || b[pos] & 0x07 == 0 {
            pos = page_end;
            continue;
        }
        let len = u16::from_be_bytes([b[pos + 1], b[pos + 2]]) as usize;
        if pos + HEADER + len > b.len() {
            break;
        }
        last = Some(pos + HEADER + len / 2);
        pos += HEADER + len;
    }
    last
}
