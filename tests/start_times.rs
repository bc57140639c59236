//! Start (created) times with `--enable-feature=created-timestamp-zero-ingestion`:
//! a zero sample at the time a counter, summary or histogram series
//! started, from OpenMetrics `_created` samples (an app instrumented with
//! the Python `prometheus_client`, scraped by a flint with the feature and
//! one without), from remote write 2.0 start timestamps and from OTLP
//! points' start times.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use prost::Message;

use crate::common::{enc, now_secs, parse_value, post_bytes, Server};
use crate::peers::peers_or_skip;

const FEATURE: &str = "--enable-feature=created-timestamp-zero-ingestion";

/// Counts orders and checkout times before it serves its metrics on a port
/// of the OS's choosing (printed), then waits.
const APP: &str = r#"
import sys, time
from prometheus_client import Counter, Histogram, start_http_server
orders = Counter("orders", "Orders placed", ["shop"])
checkout = Histogram("checkout_seconds", "Checkout time", buckets=[0.1, 0.5])
orders.labels("eu").inc(3)
checkout.observe(0.3)
server, _ = start_http_server(0, addr="127.0.0.1")
print(server.server_port, flush=True)
sys.stdin.read()
"#;

struct App(Child, u16);

impl App {
    fn start() -> Result<App, String> {
        let mut child = Command::new("python3")
            .args(["-c", APP])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let port = line.trim().parse().map_err(|_| {
            format!("the app did not start (the Python prometheus_client is needed): {line:?}")
        })?;
        Ok(App(child, port))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The raw samples of `sel` over the last `range`, as (seconds, value).
fn raw(server: &Server, sel: &str, range: &str) -> Vec<(f64, f64)> {
    let r = server.query(&format!("{sel}[{range}]"));
    assert_eq!(r.len(), 1, "{sel}: {r:?}");
    r[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), parse_value(&p[1])))
        .collect()
}

#[test]
fn scraped_created_samples_become_zero_samples() {
    if !peers_or_skip("start_times::scraped", &["python3"]) {
        return;
    }
    let app = match App::start() {
        Ok(a) => a,
        Err(why) => {
            if crate::common::must_run() {
                panic!("start_times::scraped: {why}");
            }
            println!("SKIP start_times::scraped: {why}");
            return;
        }
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        app.1
    );
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let with = Server::start(da.path(), &config, &[FEATURE]);
    let without = Server::start(db.path(), &config, &[]);
    for s in [&with, &without] {
        s.eventually(30, "three scrapes", || {
            s.value("count_over_time(up[1m])").is_some_and(|n| n >= 3.0)
        });
    }
    // the `_created` samples are start times, not series
    let created = without
        .value(r#"orders_created{shop="eu"}"#)
        .expect("orders_created without the feature");
    let hist_created = without.value("checkout_seconds_created").unwrap();
    assert_eq!(
        with.query(r#"{__name__=~".+_created"}"#),
        Vec::<serde_json::Value>::new()
    );
    // a zero at the start time, then the scraped values
    let counter = raw(&with, r#"orders_total{shop="eu"}"#, "10m");
    assert_eq!(counter[0].1, 0.0, "{counter:?}");
    assert!(
        (counter[0].0 - created).abs() < 0.002,
        "{counter:?} {created}"
    );
    assert!(counter[1..].iter().all(|s| s.1 == 3.0), "{counter:?}");
    for bucket in [
        r#"checkout_seconds_bucket{le="0.5"}"#,
        "checkout_seconds_count",
    ] {
        let h = raw(&with, bucket, "10m");
        assert_eq!(h[0].1, 0.0, "{bucket}: {h:?}");
        assert!((h[0].0 - hist_created).abs() < 0.002, "{h:?}");
        assert!(h[1..].iter().all(|s| s.1 == 1.0), "{bucket}: {h:?}");
    }
    // so the first increase is seen: 3 since the start
    assert_eq!(
        with.value(r#"max_over_time(orders_total{shop="eu"}[10m]) - min_over_time(orders_total{shop="eu"}[10m])"#),
        Some(3.0)
    );
    // without the feature: no zero, the `_created` series stored
    let plain = raw(&without, r#"orders_total{shop="eu"}"#, "10m");
    assert!(plain.iter().all(|s| s.1 == 3.0), "{plain:?}");
    assert!(with
        .log_text()
        .contains("Experimental start timestamp zero ingestion enabled"));
}

fn v2_request(symbols: &[&str], series: Vec<flint::remote::v2::TimeSeries>) -> Vec<u8> {
    let req = flint::remote::v2::Request {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeseries: series,
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap()
}

fn sample(t: i64, v: f64, st: i64) -> flint::remote::v2::Sample {
    flint::remote::v2::Sample {
        value: v,
        timestamp: t,
        start_timestamp: st,
    }
}

#[test]
fn remote_write_2_start_timestamps_become_zero_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver", FEATURE],
    );
    let now = now_secs() as i64 * 1000;
    let post = |series: Vec<flint::remote::v2::TimeSeries>| {
        let body = v2_request(&["", "__name__", "jobs_total", "hist"], series);
        post_bytes(
            &server.addr,
            "/api/v1/write",
            &[
                (
                    "Content-Type",
                    "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                ),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "2.0.0"),
            ],
            &body,
        )
    };
    let counter = |samples| flint::remote::v2::TimeSeries {
        labels_refs: vec![1, 2],
        samples,
        ..Default::default()
    };
    let (st, t1, t2) = (now - 120_000, now - 60_000, now - 50_000);
    // both samples started at `st`: one zero, before the first
    let (code, body) = post(vec![counter(vec![
        sample(t1, 5.0, st),
        sample(t2, 7.0, st),
    ])]);
    assert_eq!((code, body.as_str()), (204, ""));
    // a restart: a zero at its start; then a start already passed: none
    let (st3, t3, t4) = (now - 45_000, now - 40_000, now - 30_000);
    let (code, _) = post(vec![counter(vec![sample(t3, 2.0, st3)])]);
    assert_eq!(code, 204);
    let (code, _) = post(vec![counter(vec![sample(t4, 4.0, st)])]);
    assert_eq!(code, 204);
    let got = raw(&server, "jobs_total", "10m");
    let secs = |ms: i64| ms as f64 / 1000.0;
    assert_eq!(
        got,
        vec![
            (secs(st), 0.0),
            (secs(t1), 5.0),
            (secs(t2), 7.0),
            (secs(st3), 0.0),
            (secs(t3), 2.0),
            (secs(t4), 4.0)
        ]
    );
    // a histogram: an empty one of its schema at the start
    let h = flint::remote::Histogram {
        count: Some(flint::remote::proto::histogram::Count::CountInt(3)),
        sum: 1.5,
        schema: 1,
        zero_threshold: 0.001,
        zero_count: Some(flint::remote::proto::histogram::ZeroCount::ZeroCountInt(1)),
        positive_spans: vec![flint::remote::BucketSpan {
            offset: 0,
            length: 1,
        }],
        positive_deltas: vec![2],
        timestamp: t1,
        start_timestamp: st,
        ..Default::default()
    };
    let (code, body) = post(vec![flint::remote::v2::TimeSeries {
        labels_refs: vec![1, 3],
        histograms: vec![h],
        ..Default::default()
    }]);
    assert_eq!((code, body.as_str()), (204, ""));
    let (code, v) = server.api(&format!(
        "/api/v1/query?query={}&time={}",
        enc("hist[10m]"),
        secs(now)
    ));
    assert_eq!(code, 200, "{v}");
    let points = v["data"]["result"][0]["histograms"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(points.len(), 2, "{v}");
    assert_eq!(points[0][0].as_f64(), Some(secs(st)));
    assert_eq!(points[0][1]["count"], "0", "{v}");
    assert_eq!(points[1][1]["count"], "3", "{v}");
}

#[test]
fn otlp_start_times_become_zero_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-otlp-receiver", FEATURE],
    );
    let now_ns = now_secs() * 1_000_000_000;
    let (st, t) = (now_ns - 90_000_000_000, now_ns - 30_000_000_000);
    let body = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}},
 {{"key":"host.name","value":{{"stringValue":"h1"}}}}]}},
 "scopeMetrics":[{{"metrics":[{{"name":"jobs","sum":{{"aggregationTemporality":2,"isMonotonic":true,
 "dataPoints":[{{"startTimeUnixNano":"{st}","timeUnixNano":"{t}","asInt":"12"}}]}}}}]}}]}}]}}"#
    );
    let (code, answer) = post_bytes(
        &server.addr,
        "/api/v1/otlp/v1/metrics",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!((code, answer.as_str()), (200, ""));
    let got = raw(&server, "jobs_total", "10m");
    let secs = |ns: u64| (ns / 1_000_000) as f64 / 1000.0;
    assert_eq!(got, vec![(secs(st), 0.0), (secs(t), 12.0)]);
    // target_info has no start time: no zero
    assert!(raw(&server, "target_info", "10m")
        .iter()
        .all(|s| s.1 == 1.0));
}
