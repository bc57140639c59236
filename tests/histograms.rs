//! Native histograms scraped in the protobuf format, side by side with
//! Prometheus 2.42 (`--enable-feature=native-histograms`): a target serves
//! an exponential native histogram, a gauge histogram, a classic histogram,
//! a summary, a counter and a gauge as `MetricFamily` messages; flint
//! (`scrape_native_histograms: true`) and Prometheus scrape it, and the
//! histograms read back the same from both, bucket for bucket, as do the
//! float series. A recording rule stores `sum` of the histograms as a
//! histogram; the histograms come back after flint restarts; a histogram
//! that leaves the exposition gets a stale marker; a classic histogram is
//! stored as one with custom bounds with `convert_classic_histograms_to_nhcb`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use textparse::protobuf::model::*;

use crate::common::{enc, http_get, Server};
use crate::peers::{peers_or_skip, Prometheus};

/// A target serving whatever bytes it holds, with the protobuf type.
pub(crate) struct ProtoTarget {
    pub(crate) addr: String,
    body: Arc<Mutex<Vec<u8>>>,
    accept: Arc<Mutex<Vec<String>>>,
}

impl ProtoTarget {
    pub(crate) fn start(body: Vec<u8>) -> ProtoTarget {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let body = Arc::new(Mutex::new(body));
        let accept = Arc::new(Mutex::new(Vec::new()));
        let (b, a) = (Arc::clone(&body), Arc::clone(&accept));
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let mut buf = [0u8; 4096];
                let mut req = Vec::new();
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(l) = text
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("accept:"))
                {
                    a.lock().unwrap().push(l[7..].trim().to_string());
                }
                let bytes = b.lock().unwrap().clone();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    textparse::protobuf::CONTENT_TYPE,
                    bytes.len()
                );
                let _ = c.write_all(head.as_bytes());
                let _ = c.write_all(&bytes);
            }
        });
        ProtoTarget { addr, body, accept }
    }

    pub(crate) fn set(&self, body: Vec<u8>) {
        *self.body.lock().unwrap() = body;
    }
}

fn lp(n: &str, v: &str) -> LabelPair {
    LabelPair {
        name: n.into(),
        value: v.into(),
    }
}

fn span(offset: i32, length: u32) -> BucketSpan {
    BucketSpan { offset, length }
}

/// Integer bucket counts as the deltas the format carries.
fn deltas(counts: &[i64]) -> Vec<i64> {
    let mut prev = 0;
    counts
        .iter()
        .map(|c| {
            let d = c - prev;
            prev = *c;
            d
        })
        .collect()
}

/// The exposition at round `k` (counts grow with `k`); with `rpc` false
/// the exponential histogram is left out.
pub(crate) fn exposition(k: i64, rpc: bool) -> Vec<u8> {
    let mut families = Vec::new();
    if rpc {
        let metric = ["get", "put"]
            .iter()
            .enumerate()
            .map(|(i, method)| {
                let i = i as i64;
                let pos = [3 * k + 1, 2 * k, k + i, 5];
                let neg = [k];
                let zero = 2 + i;
                Metric {
                    label: vec![lp("method", method)],
                    histogram: Some(Histogram {
                        sample_count: (pos.iter().sum::<i64>() + neg[0] + zero) as u64,
                        sample_sum: 0.37 * k as f64 + 10.0 * i as f64,
                        schema: 3,
                        zero_threshold: 1e-3,
                        zero_count: zero as u64,
                        positive_span: vec![span(-2, 2), span(3, 2)],
                        positive_delta: deltas(&pos),
                        negative_span: vec![span(1, 1)],
                        negative_delta: deltas(&neg),
                        // one exemplar a round with a timestamp, one
                        // without (which Prometheus drops)
                        exemplars: vec![
                            Exemplar {
                                label: vec![lp("trace_id", &format!("{method}-{k}"))],
                                value: 0.8 + 0.01 * k as f64,
                                timestamp: Some(Timestamp {
                                    seconds: 1_800_000_000 + k,
                                    nanos: 0,
                                }),
                            },
                            Exemplar {
                                label: vec![lp("trace_id", "untimed")],
                                value: 0.5,
                                timestamp: None,
                            },
                        ],
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            })
            .collect();
        families.push(MetricFamily {
            name: "rpc_duration_seconds".into(),
            help: "RPC latency.".into(),
            r#type: MetricType::Histogram as i32,
            metric,
            unit: String::new(),
        });
    }
    families.push(MetricFamily {
        name: "queue_fill".into(),
        help: "Queue fill levels.".into(),
        r#type: MetricType::GaugeHistogram as i32,
        metric: vec![Metric {
            histogram: Some(Histogram {
                sample_count_float: 6.5,
                sample_sum: 2.0 + k as f64,
                schema: 0,
                zero_threshold: 0.5,
                zero_count_float: 0.5,
                positive_span: vec![span(0, 3)],
                positive_count: vec![1.5, (k % 3) as f64, 4.5 - (k % 3) as f64],
                ..Default::default()
            }),
            ..Default::default()
        }],
        unit: String::new(),
    });
    let classic = |le: f64, c: i64| Bucket {
        cumulative_count: c as u64,
        upper_bound: le,
        ..Default::default()
    };
    families.push(MetricFamily {
        name: "http_request_duration_seconds".into(),
        help: "Request latency.".into(),
        r#type: MetricType::Histogram as i32,
        metric: vec![Metric {
            label: vec![lp("handler", "/items")],
            histogram: Some(Histogram {
                sample_count: (10 + 3 * k) as u64,
                sample_sum: 1.25 * k as f64,
                bucket: vec![
                    classic(0.1, 2 + k),
                    classic(0.5, 6 + 2 * k),
                    classic(1.0, 9 + 3 * k),
                ],
                ..Default::default()
            }),
            ..Default::default()
        }],
        unit: String::new(),
    });
    families.push(MetricFamily {
        name: "job_seconds".into(),
        help: "Job time.".into(),
        r#type: MetricType::Summary as i32,
        metric: vec![Metric {
            summary: Some(Summary {
                sample_count: k as u64,
                sample_sum: 0.5 * k as f64,
                quantile: vec![
                    Quantile {
                        quantile: 0.5,
                        value: 0.25,
                    },
                    Quantile {
                        quantile: 0.99,
                        value: 0.75,
                    },
                ],
                start_timestamp: None,
            }),
            ..Default::default()
        }],
        unit: String::new(),
    });
    families.push(MetricFamily {
        name: "orders_total".into(),
        help: "Orders.".into(),
        r#type: MetricType::Counter as i32,
        metric: vec![Metric {
            label: vec![lp("shop", "eu")],
            counter: Some(Counter {
                value: 100.0 + k as f64,
                ..Default::default()
            }),
            ..Default::default()
        }],
        unit: String::new(),
    });
    families.push(MetricFamily {
        name: "temperature_celsius".into(),
        help: "Temperature.".into(),
        r#type: MetricType::Gauge as i32,
        metric: vec![Metric {
            gauge: Some(Gauge {
                value: 21.5 - k as f64,
            }),
            ..Default::default()
        }],
        unit: String::new(),
    });
    let mut out = Vec::new();
    for f in families {
        f.encode_length_delimited(&mut out).unwrap();
    }
    out
}

fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let (code, body) = http_get(addr, path).expect("http get");
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// An instant query's result at `t` with each series' timestamp dropped,
/// sorted by labels, so two servers' answers compare whole.
fn result(addr: &str, q: &str, t: f64) -> Vec<serde_json::Value> {
    let v = get_json(addr, &format!("/api/v1/query?query={}&time={t}", enc(q)));
    let mut r = v["data"]["result"].as_array().cloned().unwrap_or_default();
    for s in &mut r {
        for key in ["value", "histogram"] {
            if let Some(p) = s.get_mut(key) {
                p[0] = serde_json::Value::from(0);
            }
        }
    }
    r.sort_by_key(|s| s["metric"].to_string());
    r
}

/// Whether two answers agree, numbers in strings to 1e-12 relative:
/// bucket bounds of exponential schemas may differ in the last bit
/// (Prometheus takes them from a table rounded its own way).
pub(crate) fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (String(x), String(y)) if x != y => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(x), Ok(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => false,
        },
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Object(x), Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn wait(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn count_now(addr: &str, q: &str) -> Option<f64> {
    let v = get_json(addr, &format!("/api/v1/query?query={}", enc(q)));
    let r = v["data"]["result"].as_array()?.first()?.clone();
    r["value"][1].as_str()?.parse().ok()
}

#[test]
fn protobuf_native_histograms_as_prometheus_scrapes_them() {
    if !peers_or_skip(
        "protobuf_native_histograms_as_prometheus_scrapes_them",
        &["prometheus"],
    ) {
        return;
    }
    let target = ProtoTarget::start(exposition(1, true));
    let job = |extra: &str| {
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: app\n{extra}    static_configs:\n      - targets: ['{}']\n",
            target.addr
        )
    };
    let prom = Prometheus::start_args(&job(""), &["--enable-feature=native-histograms"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: h\n    interval: 1s\n    rules:\n      - record: method:rpc_duration_seconds:sum\n        expr: sum(rpc_duration_seconds)\n",
    )
    .unwrap();
    let cfg = job("    scrape_native_histograms: true\n")
        + &format!(
            "rule_files: ['{}']\n",
            dir.path().join("rules.yml").display()
        );
    let flint = Server::start(dir.path(), &cfg, &[]);

    for k in 1..=3 {
        target.set(exposition(k, true));
        // both servers have scraped this round (the counter says which)
        let want = 100.0 + k as f64;
        wait(&format!("round {k} scraped"), 30, || {
            count_now(&prom.addr, "orders_total") == Some(want)
                && count_now(&flint.addr, "orders_total") == Some(want)
        });
    }
    // flint offered protobuf first, as Prometheus 3 does with native
    // histograms on
    let accept = target.accept.lock().unwrap().clone();
    assert!(
        accept.iter().any(|a| a.starts_with(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0."
        )),
        "{accept:?}"
    );
    // a moment after both took round 3 (the body stays as it is)
    std::thread::sleep(Duration::from_millis(1100));
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
        / 1000.0;
    let queries = [
        "rpc_duration_seconds",
        "queue_fill",
        "histogram_count(rpc_duration_seconds)",
        "histogram_sum(rpc_duration_seconds)",
        "histogram_fraction(0, 1, rpc_duration_seconds)",
        "sum(rpc_duration_seconds)",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_count",
        "http_request_duration_seconds_sum",
        "job_seconds",
        "job_seconds_count",
        "job_seconds_sum",
        "orders_total",
        "temperature_celsius",
    ];
    for q in queries {
        let a = result(&flint.addr, q, t);
        let b = result(&prom.addr, q, t);
        assert!(!a.is_empty(), "{q}: flint has nothing");
        assert!(
            same(
                &serde_json::Value::from(a.clone()),
                &serde_json::Value::from(b.clone())
            ),
            "{q}: flint against Prometheus 2.42:\n{a:?}\n{b:?}"
        );
    }
    // quantiles interpolate exponentially within exponential buckets, as
    // Prometheus 3 does (2.42 interpolated linearly): round 3 of `get` has
    // 29 observations, 24 up to 2^(3/8), 5 in (2^(3/8), 2^(4/8)], so the
    // 0.9 quantile is 2^(3/8) * 2^(0.42/8)
    let q = result(
        &flint.addr,
        "histogram_quantile(0.9, rpc_duration_seconds)",
        t,
    );
    let get: f64 = q[0]["value"][1].as_str().unwrap().parse().unwrap();
    let want = 2f64.powf(3.0 / 8.0) * 2f64.powf((26.1 - 24.0) / 5.0 / 8.0);
    assert!((get - want).abs() < 1e-12, "{get} against {want}");
    // the histogram JSON as Prometheus writes it
    // round 3 of `get`: buckets 10, 6, 3, 5, one negative of 3, zero 2
    let h = &result(&flint.addr, "rpc_duration_seconds{method=\"get\"}", t)[0];
    assert_eq!(h["histogram"][1]["count"], "29", "{h}");
    // metadata from the protobuf families
    let md = flint.api("/api/v1/metadata?metric=rpc_duration_seconds").1;
    assert_eq!(md["data"]["rpc_duration_seconds"][0]["type"], "histogram");
    assert_eq!(
        md["data"]["rpc_duration_seconds"][0]["help"],
        "RPC latency."
    );
    // the recording rule stored the sum as a histogram: it equals
    // Prometheus's sum at the rule's last evaluation
    let sum = result(&prom.addr, "sum(rpc_duration_seconds)", t);
    assert_eq!(sum[0]["histogram"][1]["count"], "60");
    flint.eventually(20, "the rule's histogram", || {
        let rule = result(&flint.addr, "method:rpc_duration_seconds:sum", t + 2.0);
        rule.first()
            .is_some_and(|r| same(&r["histogram"][1], &sum[0]["histogram"][1]))
    });

    // the histogram leaves the exposition: a stale marker ends it
    target.set(exposition(4, false));
    wait("round 4 scraped", 30, || {
        count_now(&flint.addr, "orders_total") == Some(104.0)
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        flint.query("rpc_duration_seconds"),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(flint.query("queue_fill").len(), 1);

    // after a restart the histograms are there as they were
    let before = result(&flint.addr, "rpc_duration_seconds", t);
    flint.stop();
    let flint = Server::start(dir.path(), &cfg, &[]);
    assert_eq!(result(&flint.addr, "rpc_duration_seconds", t), before);
    let samples = result(&flint.addr, "count_over_time(rpc_duration_seconds[5m])", t);
    assert_eq!(samples.len(), 2);
}

#[test]
fn classic_histograms_converted_to_custom_buckets_when_asked() {
    let target = ProtoTarget::start(exposition(2, true));
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n    convert_classic_histograms_to_nhcb: true\n    static_configs:\n      - targets: ['{}']\n",
        target.addr
    );
    let dir = tempfile::tempdir().unwrap();
    let flint = Server::start(dir.path(), &cfg, &[]);
    flint.eventually(20, "a scrape", || {
        !flint.query("http_request_duration_seconds").is_empty()
    });
    // one series with custom bounds instead of _bucket/_sum/_count
    assert!(flint
        .query("http_request_duration_seconds_bucket")
        .is_empty());
    assert!(flint
        .query("http_request_duration_seconds_count")
        .is_empty());
    let h = &flint.query("http_request_duration_seconds")[0];
    assert_eq!(h["metric"]["handler"], "/items");
    let hist = &h["histogram"][1];
    assert_eq!(hist["count"], "16");
    assert_eq!(hist["sum"], "2.5");
    // buckets (0, 0.1], (0.1, 0.5], (0.5, 1], (1, +Inf): 4, 6, 5, 1
    let buckets: Vec<(String, String, String)> = hist["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b[1].as_str().unwrap().to_string(),
                b[2].as_str().unwrap().to_string(),
                b[3].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("-Inf", "0.1", "4"),
        ("0.1", "0.5", "6"),
        ("0.5", "1", "5"),
        ("1", "+Inf", "1"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(buckets, want);
    // without scrape_native_histograms the native histogram is read as a
    // classic one without buckets, and so converted too: its count only
    assert!(flint.query("rpc_duration_seconds_count").is_empty());
    let counts: Vec<f64> = flint
        .query("histogram_count(rpc_duration_seconds)")
        .iter()
        .map(|s| crate::common::parse_value(&s["value"][1]))
        .collect();
    assert_eq!(counts, vec![22.0, 24.0]);
    assert_eq!(
        flint
            .value("histogram_quantile(0.5, http_request_duration_seconds)")
            .map(|v| (v * 1e6).round() / 1e6),
        Some(0.366667)
    );
}

#[test]
fn text_classic_histograms_converted_to_custom_buckets() {
    // as prometheus-fastapi-instrumentator exposes its request latencies
    let body = "# HELP http_request_duration_seconds Latency with only few buckets by handler.\n\
# TYPE http_request_duration_seconds histogram\n\
http_request_duration_seconds_bucket{handler=\"/items\",le=\"0.1\",method=\"GET\"} 4.0\n\
http_request_duration_seconds_bucket{handler=\"/items\",le=\"0.5\",method=\"GET\"} 10.0\n\
http_request_duration_seconds_bucket{handler=\"/items\",le=\"1.0\",method=\"GET\"} 15.0\n\
http_request_duration_seconds_bucket{handler=\"/items\",le=\"+Inf\",method=\"GET\"} 16.0\n\
http_request_duration_seconds_count{handler=\"/items\",method=\"GET\"} 16.0\n\
http_request_duration_seconds_sum{handler=\"/items\",method=\"GET\"} 2.5\n\
http_request_duration_seconds_bucket{handler=\"/\",le=\"0.1\",method=\"GET\"} 1.0\n\
http_request_duration_seconds_bucket{handler=\"/\",le=\"0.5\",method=\"GET\"} 1.0\n\
http_request_duration_seconds_bucket{handler=\"/\",le=\"1.0\",method=\"GET\"} 1.0\n\
http_request_duration_seconds_bucket{handler=\"/\",le=\"+Inf\",method=\"GET\"} 1.0\n\
http_request_duration_seconds_count{handler=\"/\",method=\"GET\"} 1.0\n\
http_request_duration_seconds_sum{handler=\"/\",method=\"GET\"} 0.01\n\
# HELP http_requests_total Total requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{handler=\"/items\"} 17.0\n";
    let target = crate::common::MockTarget::start(body);
    for keep_classic in [false, true] {
        let cfg = format!(
            "global:\n  scrape_interval: 1s\n  convert_classic_histograms_to_nhcb: true\nscrape_configs:\n  - job_name: app\n    always_scrape_classic_histograms: {keep_classic}\n    static_configs:\n      - targets: ['{}']\n",
            target.addr
        );
        let dir = tempfile::tempdir().unwrap();
        let flint = Server::start(dir.path(), &cfg, &[]);
        flint.eventually(20, "a scrape", || {
            !flint.query("http_requests_total").is_empty()
        });
        let hs = flint.query("http_request_duration_seconds");
        assert_eq!(hs.len(), 2, "{hs:?}");
        let items = hs
            .iter()
            .find(|h| h["metric"]["handler"] == "/items")
            .unwrap();
        assert_eq!(items["metric"]["method"], "GET");
        assert_eq!(items["histogram"][1]["count"], "16");
        assert_eq!(items["histogram"][1]["sum"], "2.5");
        assert_eq!(
            flint
                .value("histogram_quantile(0.5, http_request_duration_seconds{handler=\"/items\"})")
                .map(|v| (v * 1e6).round() / 1e6),
            Some(0.366667)
        );
        // the classic series only when asked to keep them
        let classic = flint.query("http_request_duration_seconds_bucket");
        assert_eq!(classic.len(), if keep_classic { 8 } else { 0 });
        assert_eq!(
            flint.query("http_request_duration_seconds_count").len(),
            if keep_classic { 2 } else { 0 }
        );
        // scrape_samples_scraped counts a histogram as one sample
        let scraped = flint.value("scrape_samples_scraped").unwrap();
        assert_eq!(scraped, if keep_classic { 15.0 } else { 3.0 });
    }
}

#[test]
fn remote_write_sends_native_histograms() {
    if !peers_or_skip("remote_write_sends_native_histograms", &["prometheus"]) {
        return;
    }
    let target = ProtoTarget::start(exposition(1, true));
    let prom = Prometheus::start_args(
        "global:\n  scrape_interval: 15s\n",
        &["--enable-feature=native-histograms"],
    );
    let dir_b = tempfile::tempdir().unwrap();
    let b = Server::start(
        dir_b.path(),
        "global:\n  scrape_interval: 15s\n",
        &["--web.enable-remote-write-receiver"],
    );
    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  external_labels:\n    site: a\nscrape_configs:\n  - job_name: app\n    scrape_native_histograms: true\n    static_configs:\n      - targets: ['{}']\nremote_write:\n  - url: http://{}/api/v1/write\n    send_native_histograms: true\n    queue_config:\n      batch_send_deadline: 1s\n  - url: http://{}/api/v1/write\n    protobuf_message: io.prometheus.write.v2.Request\n    send_native_histograms: true\n    queue_config:\n      batch_send_deadline: 1s\n  - url: http://{}/api/v1/write\n    name: without\n    write_relabel_configs:\n      - target_label: q\n        replacement: without\n    queue_config:\n      batch_send_deadline: 1s\n",
        target.addr, prom.addr, b.addr, b.addr
    );
    let dir_a = tempfile::tempdir().unwrap();
    let a = Server::start(dir_a.path(), &cfg, &[]);
    for k in 1..=3 {
        target.set(exposition(k, true));
        let want = 100.0 + k as f64;
        wait(&format!("round {k} forwarded"), 30, || {
            count_now(&a.addr, "orders_total") == Some(want)
                && count_now(&prom.addr, "orders_total") == Some(want)
                && count_now(&b.addr, "count(orders_total)") == Some(2.0)
                && count_now(&b.addr, "max(orders_total)") == Some(want)
        });
    }
    // what each receiver holds equals what flint scraped, histogram by
    // histogram: 1.0 to Prometheus 2.42, 2.0 to a second flint
    let range = |addr: &str, q: &str| -> Vec<serde_json::Value> {
        let end = crate::common::now_secs() + 1;
        let v = get_json(
            addr,
            &format!(
                "/api/v1/query_range?query={}&start={}&end={end}&step=1",
                enc(q),
                end - 120
            ),
        );
        let mut r = v["data"]["result"].as_array().cloned().unwrap_or_default();
        r.sort_by_key(|s| s["metric"].to_string());
        r
    };
    let raw = |addr: &str, q: &str| -> Vec<(String, Vec<serde_json::Value>)> {
        let v = get_json(addr, &format!("/api/v1/query?query={}[5m]", enc(q)));
        let mut r: Vec<(String, Vec<serde_json::Value>)> = v["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                (
                    s["metric"]["method"].to_string(),
                    s["histograms"].as_array().cloned().unwrap_or_default(),
                )
            })
            .collect();
        r.sort_by(|x, y| x.0.cmp(&y.0));
        r
    };
    // the newest histograms are the same everywhere, and the two receivers
    // hold the same series of histograms (the queues started together at
    // the journal's end, so both lack only what came before)
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = crate::common::now_secs() as f64;
        let src = result(&a.addr, "rpc_duration_seconds", t);
        let mut p = result(&prom.addr, "rpc_duration_seconds", t);
        let mut f = result(&b.addr, "rpc_duration_seconds{site=\"a\",q=\"\"}", t);
        for s in p.iter_mut().chain(f.iter_mut()) {
            // the external label the queues add
            assert_eq!(
                s["metric"].as_object_mut().unwrap().remove("site"),
                Some("a".into())
            );
        }
        let (hp, hf) = (
            raw(&prom.addr, "rpc_duration_seconds"),
            raw(&b.addr, "rpc_duration_seconds{site=\"a\",q=\"\"}"),
        );
        if !src.is_empty()
            && same(&serde_json::json!(src), &serde_json::json!(p))
            && same(&serde_json::json!(src), &serde_json::json!(f))
            && !hp.is_empty()
            && same(&serde_json::json!(hp), &serde_json::json!(hf))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the receivers differ from the source:\n{src:?}\n{p:?}\n{f:?}\n{hp:?}\n{hf:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let t = crate::common::now_secs() as f64;
    let mut p = result(&prom.addr, "queue_fill", t);
    p[0]["metric"].as_object_mut().unwrap().remove("site");
    assert!(same(
        &serde_json::json!(result(&a.addr, "queue_fill", t)),
        &serde_json::json!(p)
    ));
    // the receivers' queries agree with the source's
    let q = "histogram_count(rate(rpc_duration_seconds[10s]))";
    assert!(!range(&a.addr, q).is_empty());
    // the queue without send_native_histograms sent none
    let m = http_get(&a.addr, "/metrics").unwrap().1;
    let line = |name: &str, remote: &str| -> f64 {
        m.lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("remote_name=\"{remote}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0)
    };
    assert_eq!(
        line("prometheus_remote_storage_histograms_total", "without"),
        0.0,
        "{m}"
    );
    assert!(
        m.lines().any(
            |l| l.starts_with("prometheus_remote_storage_histograms_total")
                && !l.contains("without")
                && !l.ends_with(" 0")
        ),
        "{m}"
    );
}

#[test]
fn agent_mode_forwards_native_histograms() {
    let target = ProtoTarget::start(exposition(2, true));
    let dir_b = tempfile::tempdir().unwrap();
    let b = Server::start(
        dir_b.path(),
        "global:\n  scrape_interval: 15s\n",
        &["--web.enable-remote-write-receiver"],
    );
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n    scrape_native_histograms: true\n    static_configs:\n      - targets: ['{}']\nremote_write:\n  - url: http://{}/api/v1/write\n    send_native_histograms: true\n    queue_config:\n      batch_send_deadline: 1s\n",
        target.addr, b.addr
    );
    let dir_a = tempfile::tempdir().unwrap();
    let _agent = Server::start_agent(dir_a.path(), &cfg, &[]);
    b.eventually(30, "histograms forwarded by the agent", || {
        b.query("rpc_duration_seconds").len() == 2
    });
    // round 2 of `put`: buckets 7, 4, 3, 5, one negative of 2, zero 3
    let put = b.query("rpc_duration_seconds{method=\"put\"}");
    assert_eq!(put[0]["histogram"][1]["count"], "24");
    assert_eq!(b.query("queue_fill").len(), 1);
}

#[test]
fn federation_carries_native_histograms_to_prometheus() {
    if !peers_or_skip(
        "federation_carries_native_histograms_to_prometheus",
        &["prometheus"],
    ) {
        return;
    }
    let target = ProtoTarget::start(exposition(2, true));
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n    scrape_native_histograms: true\n    static_configs:\n      - targets: ['{}']\n",
        target.addr
    );
    let dir = tempfile::tempdir().unwrap();
    let flint = Server::start(dir.path(), &cfg, &[]);
    flint.eventually(20, "the histograms", || {
        flint.query("rpc_duration_seconds").len() == 2
    });
    // the text format has the float samples only, as Prometheus's
    let (code, text) = http_get(
        &flint.addr,
        &format!("/federate?match[]={}", enc("{job=\"app\"}")),
    )
    .unwrap();
    assert_eq!(code, 200);
    assert!(text.contains("orders_total{"), "{text}");
    assert!(!text.contains("rpc_duration_seconds"), "{text}");
    // Prometheus with native histograms asks for protobuf and gets them
    let prom = Prometheus::start_args(
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n    params:\n      'match[]': ['{{job=\"app\"}}']\n    static_configs:\n      - targets: ['{}']\n",
            flint.addr
        ),
        &["--enable-feature=native-histograms"],
    );
    wait("the federated histograms", 30, || {
        count_now(&prom.addr, "count(rpc_duration_seconds)") == Some(2.0)
            && count_now(&prom.addr, "count(queue_fill)") == Some(1.0)
    });
    // a moment later, so both hold the samples at `t`
    std::thread::sleep(Duration::from_millis(1100));
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
        / 1000.0;
    for q in [
        "rpc_duration_seconds",
        "queue_fill",
        "orders_total",
        "http_request_duration_seconds_bucket",
    ] {
        let a = result(&flint.addr, q, t);
        let b = result(&prom.addr, q, t);
        assert!(!a.is_empty(), "{q}");
        assert!(
            same(&serde_json::json!(a), &serde_json::json!(b)),
            "{q}: flint against what Prometheus federated:\n{a:?}\n{b:?}"
        );
    }
}

#[test]
fn exemplars_of_native_histograms_are_stored() {
    let target = ProtoTarget::start(exposition(1, true));
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n    scrape_native_histograms: true\n    static_configs:\n      - targets: ['{}']\n",
        target.addr
    );
    let dir = tempfile::tempdir().unwrap();
    let flint = Server::start(dir.path(), &cfg, &["--enable-feature=exemplar-storage"]);
    let q = |start: i64| {
        flint.api(&format!(
            "/api/v1/query_exemplars?query={}&start={start}&end=1900000000",
            enc("rpc_duration_seconds{method=\"get\"}")
        ))
    };
    flint.eventually(20, "the exemplar of round 1", || {
        q(1_799_999_000).1["data"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    target.set(exposition(2, true));
    flint.eventually(20, "the exemplar of round 2", || {
        q(1_799_999_000).1["data"][0]["exemplars"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    let (_, v) = q(1_799_999_000);
    let ex = v["data"][0]["exemplars"].as_array().unwrap();
    let traces: Vec<&str> = ex
        .iter()
        .map(|e| e["labels"]["trace_id"].as_str().unwrap())
        .collect();
    // the exemplar without a timestamp is dropped, the same one scraped
    // again is stored once
    assert_eq!(traces, vec!["get-1", "get-2"]);
    let value: f64 = ex[1]["value"].as_str().unwrap().parse().unwrap();
    assert_eq!(value, 0.8 + 0.01 * 2.0);
    assert_eq!(ex[1]["timestamp"], 1_800_000_002.0);
    assert_eq!(
        v["data"][0]["seriesLabels"]["__name__"],
        "rpc_duration_seconds"
    );
    // the histograms are there as before
    assert_eq!(flint.query("rpc_duration_seconds").len(), 2);
}

/// Native histograms 14 h old and newer (by remote write, one a minute)
/// go into blocks as the head moves on, those blocks are merged into
/// larger ones, and every sample stays queryable, also after a restart.
#[test]
fn native_histograms_survive_head_compaction_and_block_merging() {
    use flint::remote::proto::histogram::{Count, ZeroCount};
    use flint::remote::{BucketSpan, Histogram, Label, Sample, TimeSeries, WriteRequest};
    let tmp = tempfile::tempdir().unwrap();
    let config = "global:\n  scrape_interval: 1h\n";
    let flags = ["--web.enable-remote-write-receiver"];
    let server = Server::start(tmp.path(), config, &flags);
    let now = crate::common::now_secs() as i64 * 1000;
    let n = 14 * 60i64;
    let series = |path: &str, k0: i64| TimeSeries {
        labels: vec![
            Label::new("__name__", "compacted_seconds"),
            Label::new("path", path),
        ],
        histograms: (0..n)
            .map(|i| Histogram {
                count: Some(Count::CountInt((k0 + 3 * i) as u64)),
                sum: 0.5 * i as f64,
                schema: 0,
                zero_count: Some(ZeroCount::ZeroCountInt(0)),
                positive_spans: vec![BucketSpan {
                    offset: 0,
                    length: 2,
                }],
                positive_deltas: vec![k0 + i, i],
                timestamp: now - (n - i) * 60_000,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let floats = TimeSeries {
        labels: vec![Label::new("__name__", "compacted_floats")],
        samples: (0..n)
            .map(|i| Sample {
                value: i as f64,
                timestamp: now - (n - i) * 60_000,
            })
            .collect(),
        ..Default::default()
    };
    let req = WriteRequest {
        timeseries: vec![series("/a", 0), series("/b", 5), floats],
        ..Default::default()
    };
    let (code, body) = crate::peers::remote_write(&server.addr, &req);
    assert_eq!(code, 204, "{body}");
    // blocks with histograms, one of them merged
    let data = tmp.path().join("data");
    let merged_with_histograms = || {
        std::fs::read_dir(&data).unwrap().flatten().any(|e| {
            let meta = std::fs::read_to_string(e.path().join("meta.json")).unwrap_or_default();
            e.path().join("histograms").exists() && !meta.contains("\"level\": 1")
        })
    };
    wait("a merged block with histograms", 60, merged_with_histograms);
    let ranges: Vec<String> = std::fs::read_dir(data.join("histograms"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('p'))
        .collect();
    assert!(ranges.len() <= 2, "only the head's ranges left: {ranges:?}");
    let check = |addr: &str| {
        let q = "count_over_time(compacted_seconds[15h])";
        let v = get_json(addr, &format!("/api/v1/query?query={}", enc(q)));
        let r = v["data"]["result"].as_array().unwrap();
        assert_eq!(r.len(), 2, "{v}");
        for s in r {
            assert_eq!(s["value"][1], serde_json::Value::from(n.to_string()), "{v}");
        }
        // the oldest sample of /b, in the oldest block
        let t = (now - n * 60_000) as f64 / 1000.0;
        let q = "histogram_count(compacted_seconds{path=\"/b\"})";
        let v = get_json(addr, &format!("/api/v1/query?query={}&time={t}", enc(q)));
        assert_eq!(v["data"]["result"][0]["value"][1], "5", "{v}");
        let v = get_json(addr, "/api/v1/label/path/values");
        assert_eq!(v["data"], serde_json::json!(["/a", "/b"]), "{v}");
        let q = "count_over_time(compacted_floats[15h])";
        assert_eq!(count_now(addr, q), Some(n as f64));
    };
    check(&server.addr);
    server.stop();
    let server = Server::start(tmp.path(), config, &flags);
    check(&server.addr);
    server.stop();
    // `tsdb list` counts them with the floats, as Prometheus's meta does;
    // `tsdb analyze --extended` lists their chunks
    let out = std::process::Command::new(crate::common::bin())
        .args(["tsdb", "list", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(!rows.is_empty(), "{list}");
    let mut in_blocks = 0;
    for r in &rows {
        let meta = std::fs::read_to_string(data.join(r[0]).join("meta.json")).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
        let floats = meta["stats"]["numSamples"].as_u64().unwrap();
        let hists = meta["stats"]["numHistogramSamples"].as_u64().unwrap_or(0);
        assert!(hists > 0, "{meta}");
        assert_eq!(r[4], (floats + hists).to_string(), "{list}");
        assert_eq!(r[6], "3", "one float and two histogram series: {list}");
        in_blocks += hists;
    }
    assert!(in_blocks > n as u64, "{list}");
    let out = std::process::Command::new(crate::common::bin())
        .args([
            "tsdb",
            "analyze",
            "--extended",
            data.to_str().unwrap(),
            rows[0][0],
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("Total Series: 3\n"), "{text}");
    assert!(
        text.contains("samples per histogram chunk (min/avg/max): "),
        "{text}"
    );
    assert!(
        text.contains("buckets per histogram chunk (min/avg/max): 2/2/2"),
        "{text}"
    );
}
