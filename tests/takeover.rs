//! Swapping flint in on a Prometheus data directory, with Debian's
//! `prometheus` 2.42 and `promtool`: three days backfilled by
//! `promtool tsdb create-blocks-from openmetrics`, a live target scraped,
//! series deleted through the admin API (block tombstones and a log
//! tombstone), a clean stop (head chunks written), a restart, then
//! `kill -9`. flint started on that folder answers a battery of instant,
//! range, series and label queries exactly as Prometheus answered them
//! just before the kill; a truncated log segment and a compaction left
//! half-done lose nothing else.

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
    let len = std::fs::metadata(&last_seg).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&last_seg)
        .unwrap();
    f.set_len(len - len / 3 - 5).unwrap();
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
