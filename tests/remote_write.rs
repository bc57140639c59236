//! Remote write sending, against Debian's VictoriaMetrics and against a
//! receiver that answers as the test tells it: nothing acknowledged is
//! lost across a receiver outage, `kill -9` and restarts; answers are
//! handled as Prometheus handles them; 2.0 is spoken, and 1.0 when the
//! receiver does not take 2.0.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;

use crate::common::{enc, http_get, Answer, MockReceiver, MockTarget, Server};
use crate::peers::{peers_or_skip, series_key, VictoriaMetrics};

/// A scrape target whose counters grow every 200 ms, until dropped.
struct Farm {
    target: MockTarget,
    stop: Arc<AtomicBool>,
}

fn farm_body(tick: u64, series: u64) -> String {
    let mut b = String::from("# TYPE farm_requests_total counter\n");
    for i in 0..series {
        b.push_str(&format!(
            "farm_requests_total{{i=\"{i}\"}} {}\n",
            tick * (i + 1)
        ));
    }
    b.push_str(&format!("farm_temperature {}.5\n", tick % 7));
    b
}

impl Farm {
    fn start(series: u64) -> Farm {
        let target = MockTarget::start(&farm_body(0, series));
        let stop = Arc::new(AtomicBool::new(false));
        let (body, s) = (Arc::clone(&target.body), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut tick = 0;
            while !s.load(Ordering::Relaxed) {
                tick += 1;
                *body.lock().unwrap() = farm_body(tick, series);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Farm { target, stop }
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A configuration scraping `target` every second and sending to `url`,
/// with `extra` added to the remote write entry and `queue` to its
/// `queue_config`.
fn config_with(target: &str, url: &str, extra: &str, queue: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  external_labels:\n    replica: a\nscrape_configs:\n  - job_name: farm\n    static_configs:\n      - targets: ['{target}']\nremote_write:\n  - url: {url}\n    name: peer\n    queue_config:\n      batch_send_deadline: 500ms\n      max_samples_per_send: 500\n      max_shards: 4\n      min_backoff: 50ms\n      max_backoff: 500ms\n{queue}{extra}"
    )
}

fn config(target: &str, url: &str, extra: &str) -> String {
    config_with(target, url, extra, "")
}

/// The value of one sample of a queue metric on `/metrics`.
fn queue_metric(s: &Server, name: &str) -> f64 {
    let (_, body) = http_get(&s.addr, "/metrics").unwrap();
    body.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every raw sample flint holds for `selector`, by label set.
fn flint_samples(s: &Server, selector: &str) -> BTreeMap<String, Vec<(i64, f64)>> {
    let (code, v) = s.api(&format!(
        "/api/v1/query?query={}",
        enc(&format!("{selector}[1h]"))
    ));
    assert_eq!(code, 200, "{v}");
    let mut out = BTreeMap::new();
    for r in v["data"]["result"].as_array().unwrap() {
        let key = series_key(&r["metric"]);
        let list: Vec<(i64, f64)> = r["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                    p[1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        out.insert(key, list);
    }
    out
}

/// Waits until the queue has sent everything flint holds.
fn drained(s: &Server) {
    s.eventually(60, "the queue to catch up", || {
        let pending = queue_metric(s, "prometheus_remote_storage_samples_pending");
        let sent = queue_metric(
            s,
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
        );
        let newest = queue_metric(s, "prometheus_remote_storage_highest_timestamp_in_seconds");
        pending == 0.0 && sent > 0.0 && sent >= newest - 1.0
    });
}

#[test]
fn nothing_is_lost_across_an_outage_kills_and_a_restart() {
    if !peers_or_skip("remote_write::nothing_is_lost", &["victoria-metrics"]) {
        return;
    }
    let outage: u64 = std::env::var("FLINT_RW_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut vm = VictoriaMetrics::start();
    let farm = Farm::start(200);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/api/v1/write", vm.addr);
    let cfg = config(&farm.target.addr, &url, "");
    let mut s = Server::start(dir.path(), &cfg, &[]);
    std::thread::sleep(Duration::from_secs(4));
    // the receiver goes away; flint keeps scraping, and is killed meanwhile
    vm.stop();
    std::thread::sleep(Duration::from_secs(outage / 2));
    let _ = s.child.kill();
    let _ = s.child.wait();
    drop(s);
    s = Server::start(dir.path(), &cfg, &[]);
    std::thread::sleep(Duration::from_secs(outage - outage / 2));
    vm.restart();
    // killed again while it sends the backlog
    std::thread::sleep(Duration::from_millis(1500));
    let _ = s.child.kill();
    let _ = s.child.wait();
    drop(s);
    s = Server::start(dir.path(), &cfg, &[]);
    std::thread::sleep(Duration::from_secs(3));
    // and a clean restart
    assert_eq!(s.stop(), Some(0));
    let s = Server::start(dir.path(), &cfg, &[]);
    std::thread::sleep(Duration::from_secs(3));
    drop(farm);
    std::thread::sleep(Duration::from_secs(2));
    drained(&s);

    // what flint holds must all reach VictoriaMetrics; the newest scrapes
    // (the farm's `up` keeps coming) may still be on their way: look
    // again for a while before calling anything missing
    let ours = flint_samples(&s, "{job=\"farm\"}");
    let compare = || {
        let theirs = vm.export("{job=\"farm\"}");
        let mut total = 0;
        let mut duplicates = 0;
        let mut missing_report = None;
        for (key, samples) in &ours {
            let with_replica = {
                let mut parts: Vec<&str> = key.split(',').collect();
                parts.push("replica=a");
                parts.sort();
                parts.join(",")
            };
            let Some(got) = theirs.get(&with_replica) else {
                missing_report = Some(format!("{with_replica} not in VictoriaMetrics"));
                continue;
            };
            let mut dedup = got.clone();
            dedup.dedup();
            duplicates += got.len() - dedup.len();
            // every sample flint holds is there, with its value
            let theirs_set: std::collections::HashSet<(i64, u64)> =
                dedup.iter().map(|(t, v)| (*t, v.to_bits())).collect();
            let missing: Vec<i64> = samples
                .iter()
                .filter(|(t, v)| !theirs_set.contains(&(*t, v.to_bits())))
                .map(|s| s.0)
                .collect();
            if !missing.is_empty() {
                missing_report = Some(format!(
                    "{key}: {} of {} samples missing in VictoriaMetrics, at {:?}; flint has {:?}..{:?}, VictoriaMetrics {:?}..{:?}",
                    missing.len(),
                    samples.len(),
                    missing,
                    samples.first(),
                    samples.last(),
                    dedup.first(),
                    dedup.last()
                ));
            }
            total += samples.len();
        }
        (missing_report, total, duplicates)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (total, duplicates) = loop {
        match compare() {
            (None, total, duplicates) => break (total, duplicates),
            (Some(report), ..) if std::time::Instant::now() > deadline => panic!("{report}"),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    assert!(ours.len() >= 200, "{} series", ours.len());
    assert!(total > 200 * 20, "{total} samples");
    // only batches in flight at a kill may be sent twice: at most the
    // 4 shards × 500 samples of each of the two kills
    assert!(duplicates <= 2 * 4 * 500, "{duplicates} duplicates");
    println!(
        "remote write: {total} samples in {} series all in VictoriaMetrics, {duplicates} sent twice",
        ours.len()
    );
}

fn decode_v1(r: &crate::common::Received) -> flint::remote::WriteRequest {
    flint::remote::decode_write_request(&r.body, 64 << 20).unwrap()
}

#[test]
fn receiver_answers_are_handled_as_prometheus_handles_them() {
    let farm = Farm::start(5);
    let rx = MockReceiver::start(Answer::status(500));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/receive", rx.addr);
    let s = Server::start(dir.path(), &config(&farm.target.addr, &url, ""), &[]);
    // 5xx: tried again, nothing dropped
    s.eventually(20, "retries", || {
        queue_metric(&s, "prometheus_remote_storage_samples_retried_total") > 0.0
    });
    assert_eq!(
        queue_metric(&s, "prometheus_remote_storage_samples_failed_total"),
        0.0
    );
    rx.set(Answer::status(204));
    s.eventually(20, "samples sent once the receiver is back", || {
        let got = rx.requests();
        got.iter()
            .any(|r| r.headers.iter().any(|(k, _)| k == "retry-attempt"))
            && queue_metric(&s, "prometheus_remote_storage_samples_pending") == 0.0
    });
    let first = rx.requests()[0].clone();
    assert_eq!(first.header("content-encoding"), Some("snappy"));
    assert_eq!(first.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(
        first.header("x-prometheus-remote-write-version"),
        Some("0.1.0")
    );
    let req = decode_v1(&first);
    let ts = &req.timeseries[0];
    assert!(ts
        .labels
        .iter()
        .any(|l| l.name == "replica" && l.value == "a"));
    // 400: dropped and counted, logged once with the receiver's message
    rx.set(Answer {
        body: "out of bounds".into(),
        ..Answer::status(400)
    });
    s.eventually(20, "failed samples", || {
        queue_metric(&s, "prometheus_remote_storage_samples_failed_total") > 0.0
    });
    std::thread::sleep(Duration::from_secs(2));
    let log = s.log_text();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("non-recoverable error"))
        .collect();
    assert_eq!(refused.len(), 1, "{log}");
    assert!(
        refused[0].contains("400") && refused[0].contains("out of bounds"),
        "{}",
        refused[0]
    );
    // 429 without retry_on_http_429: dropped too
    let failed = queue_metric(&s, "prometheus_remote_storage_samples_failed_total");
    rx.set(Answer::status(429));
    s.eventually(20, "429 dropped", || {
        queue_metric(&s, "prometheus_remote_storage_samples_failed_total") > failed
    });
    // a receiver that hangs: the request times out and is tried again,
    // and what waits stays bounded by the queue's capacity
    rx.set(Answer {
        delay: Duration::from_secs(3600),
        ..Answer::status(204)
    });
    drop(s);
    let dir2 = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir2.path(),
        &config(&farm.target.addr, &url, "    remote_timeout: 1s\n"),
        &[],
    );
    s.eventually(20, "timeouts retried", || {
        queue_metric(&s, "prometheus_remote_storage_samples_retried_total") > 0.0
    });
    assert!(queue_metric(&s, "prometheus_remote_storage_samples_pending") <= 4.0 * 10_000.0);
    let log = s.log_text();
    assert!(log.contains("Failed to send batch, retrying"), "{log}");
}

#[test]
fn retry_on_429_honours_retry_after() {
    let farm = Farm::start(3);
    let rx = MockReceiver::start(Answer {
        headers: vec![("Retry-After".into(), "2".into())],
        ..Answer::status(429)
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/receive", rx.addr);
    let s = Server::start(
        dir.path(),
        &config_with(
            &farm.target.addr,
            &url,
            "",
            "      retry_on_http_429: true\n",
        ),
        &[],
    );
    s.eventually(20, "a first request", || !rx.requests().is_empty());
    std::thread::sleep(Duration::from_millis(2500));
    // with a 50 ms backoff there would be dozens; Retry-After: 2 allows two
    let n = rx.requests().len();
    assert!((1..=3).contains(&n), "{n} requests in 2.5 s");
    assert_eq!(
        queue_metric(&s, "prometheus_remote_storage_samples_failed_total"),
        0.0
    );
    rx.set(Answer::status(204));
    s.eventually(20, "sent", || {
        queue_metric(&s, "prometheus_remote_storage_samples_pending") == 0.0
            && rx.requests().len() > n
    });
}

#[test]
fn relabeling_and_external_labels_shape_what_is_sent() {
    let farm = Farm::start(3);
    let rx = MockReceiver::start(Answer::status(204));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/receive", rx.addr);
    let extra = "    write_relabel_configs:\n      - source_labels: [i]\n        regex: '1'\n        action: drop\n      - target_label: sent_by\n        replacement: flint\n    headers:\n      X-Scope-OrgID: tenant-1\n";
    let cfg = config(&farm.target.addr, &url, extra)
        .replace("    replica: a\n", "    replica: a\n    job: overridden\n");
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(20, "requests", || rx.requests().len() >= 2);
    let mut seen = std::collections::BTreeSet::new();
    for r in rx.requests() {
        assert_eq!(r.header("x-scope-orgid"), Some("tenant-1"));
        for ts in decode_v1(&r).timeseries {
            let get = |n: &str| {
                ts.labels
                    .iter()
                    .find(|l| l.name == n)
                    .map(|l| l.value.clone())
            };
            assert_eq!(get("sent_by").as_deref(), Some("flint"));
            assert_eq!(get("replica").as_deref(), Some("a"));
            // the series' own job wins over the external label
            assert_eq!(get("job").as_deref(), Some("farm"));
            assert_ne!(get("i").as_deref(), Some("1"), "dropped by relabeling");
            seen.insert(get("__name__").unwrap());
        }
    }
    assert!(
        seen.contains("farm_requests_total") && seen.contains("up"),
        "{seen:?}"
    );
    s.eventually(10, "relabel drops counted", || {
        let (_, body) = http_get(&s.addr, "/metrics").unwrap();
        body.lines().any(|l| {
            l.starts_with(
                "prometheus_remote_storage_samples_dropped_total{reason=\"dropped_series\"",
            ) && !l.ends_with(" 0")
        })
    });
}

#[test]
fn remote_write_2_0_both_ways_and_falling_back_to_1_0() {
    let farm = Farm::start(3);
    // flint receiving 2.0 from flint
    let rdir = tempfile::tempdir().unwrap();
    let receiver = Server::start(rdir.path(), "", &["--web.enable-remote-write-receiver"]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/api/v1/write", receiver.addr);
    let s = Server::start(
        dir.path(),
        &config(
            &farm.target.addr,
            &url,
            "    protobuf_message: io.prometheus.write.v2.Request\n",
        ),
        &[],
    );
    receiver.eventually(20, "series through 2.0", || {
        receiver
            .value("count(farm_requests_total{replica=\"a\"})")
            .is_some_and(|v| v == 3.0)
    });
    drop(s);
    // a receiver that answers 415 to 2.0: the sender goes on in 1.0
    let rx = MockReceiver::start(Answer::status(415));
    let url = format!("http://{}/receive", rx.addr);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &config(
            &farm.target.addr,
            &url,
            "    protobuf_message: io.prometheus.write.v2.Request\n",
        ),
        &[],
    );
    s.eventually(20, "a 2.0 request", || !rx.requests().is_empty());
    let first = rx.requests()[0].clone();
    assert_eq!(
        first.header("content-type"),
        Some("application/x-protobuf;proto=io.prometheus.write.v2.Request")
    );
    assert_eq!(
        first.header("x-prometheus-remote-write-version"),
        Some("2.0.0")
    );
    let v2 = flint::remote::v2::Request::decode(
        snap::raw::Decoder::new()
            .decompress_vec(&first.body)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(v2.symbols[0], "");
    assert!(!v2.timeseries.is_empty());
    rx.set(Answer::status(204));
    s.eventually(20, "1.0 requests after the 415", || {
        rx.requests()
            .iter()
            .any(|r| r.header("x-prometheus-remote-write-version") == Some("0.1.0"))
    });
    assert!(s.log_text().contains("does not take remote write 2.0"));
    // VictoriaMetrics takes only 1.0 and answers 2.0 with a bare 204
    if !peers_or_skip("remote_write::v2_fallback_vm", &["victoria-metrics"]) {
        return;
    }
    let vm = VictoriaMetrics::start();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &config(
            &farm.target.addr,
            &format!("http://{}/api/v1/write", vm.addr),
            "    protobuf_message: io.prometheus.write.v2.Request\n",
        ),
        &[],
    );
    s.eventually(30, "samples in VictoriaMetrics", || {
        vm.export("{job=\"farm\",__name__=\"farm_requests_total\"}")
            .len()
            == 3
    });
}

#[test]
fn a_reload_keeps_an_unchanged_queue_and_its_position() {
    let farm = Farm::start(2);
    let rx = MockReceiver::start(Answer::status(204));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/receive", rx.addr);
    let cfg = config(&farm.target.addr, &url, "");
    let s = Server::start(dir.path(), &cfg, &["--web.enable-lifecycle"]);
    s.eventually(20, "requests", || !rx.requests().is_empty());
    let (code, _) = crate::common::http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 200);
    let starts = |s: &Server| {
        s.log_text()
            .lines()
            .filter(|l| l.contains("Starting remote write queue"))
            .count()
    };
    assert_eq!(starts(&s), 1, "an unchanged queue is kept");
    // a changed entry: the old queue stops, a new one takes over its name
    std::fs::write(
        dir.path().join("prometheus.yml"),
        cfg.replace("max_shards: 4", "max_shards: 3"),
    )
    .unwrap();
    let (code, _) = crate::common::http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 200);
    // (the log is read from the server's standard error as it comes)
    s.eventually(10, "the new queue's start logged", || starts(&s) == 2);
    let before = rx.requests().len();
    s.eventually(20, "the new queue sends", || {
        rx.requests().len() > before + 1
    });
    // a bad entry fails the reload and keeps the running queue
    std::fs::write(
        dir.path().join("prometheus.yml"),
        cfg.replace("max_shards: 4", "max_shards: 0"),
    )
    .unwrap();
    let (code, body) = crate::common::http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("max_shards must be positive"), "{body}");
    let before = rx.requests().len();
    s.eventually(20, "still sending", || rx.requests().len() > before);
}

#[test]
fn agent_mode_scrapes_and_forwards_only() {
    let farm = Farm::start(3);
    let rx = MockReceiver::start(Answer::status(204));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/receive", rx.addr);
    let s = Server::start_agent(dir.path(), &config(&farm.target.addr, &url, ""), &[]);
    assert!(s.log_text().contains("mode=agent"));
    s.eventually(20, "samples sent", || {
        rx.requests().iter().any(|r| {
            decode_v1(r)
                .timeseries
                .iter()
                .any(|t| t.labels.iter().any(|l| l.value == "farm_requests_total"))
        })
    });
    // nothing to query, in Prometheus's words
    let (code, body) = s.api("/api/v1/query?query=up");
    assert_eq!(code, 422);
    assert_eq!(body["errorType"], "execution");
    assert_eq!(body["error"], "unavailable with Prometheus Agent");
    assert_eq!(s.api("/api/v1/labels").0, 422);
    let (code, t) = s.api("/api/v1/targets");
    assert_eq!(code, 200);
    assert_eq!(t["data"]["activeTargets"][0]["health"], "up");
    // the UI starts at the agent page
    let (code, _) = http_get(&s.addr, "/").unwrap();
    assert_eq!(code, 302);
    // no chunk is written: samples live in the journal until sent
    let chunks: u64 = std::fs::read_dir(s.data.join("chunks_head"))
        .map(|d| d.flatten().map(|e| e.metadata().unwrap().len()).sum())
        .unwrap_or(0);
    assert_eq!(chunks, 0);
    assert!(s.data.join("journal").exists());
    drop(s);
    // an agent takes no rules or alerting, and no server-only flag
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join("rules.yml"), "groups: []\n").unwrap();
    std::fs::write(
        bad.path().join("prometheus.yml"),
        "rule_files: [rules.yml]\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::common::bin())
        .arg(format!(
            "--config.file={}",
            bad.path().join("prometheus.yml").display()
        ))
        .arg("--agent")
        .arg(format!(
            "--storage.agent.path={}",
            bad.path().join("d").display()
        ))
        .arg("--web.listen-address=127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("field rule_files is not allowed in agent mode"));
}
