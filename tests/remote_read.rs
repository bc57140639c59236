//! Remote read both ways: Debian's Prometheus 2.42 reads flint's data
//! through `remote_read` (it asks for streamed XOR chunks) and answers as
//! flint does; flint reads Prometheus's data through its own `remote_read`;
//! the `SAMPLES` answer, the sample limit and external labels.

use prost::Message as _;

use crate::common::{enc, http_get, post_bytes, Server};
use crate::peers::{peers_or_skip, Dataset, Prometheus};
use flint::remote::read::proto::{
    ChunkedReadResponse, LabelMatcher, Query, ReadRequest, ReadResponse, ResponseType,
};

/// The result of an instant query at `t` as (labels, value) pairs, sorted,
/// without the labels named in `drop`.
fn answer_without(addr: &str, q: &str, t: i64, drop: &[&str]) -> Vec<(String, String)> {
    let (code, body) = http_get(addr, &format!("/api/v1/query?time={t}&query={}", enc(q))).unwrap();
    assert_eq!(code, 200, "{q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut out: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut m = r["metric"].clone();
            for d in drop {
                m.as_object_mut().unwrap().remove(*d);
            }
            (
                crate::peers::series_key(&m),
                r["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn answer(addr: &str, q: &str, t: i64) -> Vec<(String, String)> {
    answer_without(addr, q, t, &[])
}

const QUERIES: &[&str] = &[
    "http_requests_total",
    "temperature_celsius{room=\"hall\"}",
    "count_over_time(http_requests_total[10m])",
    "sum by (job) (request_duration_seconds_bucket)",
    "max_over_time(weird_values[30m])",
];

#[test]
fn prometheus_reads_flint_back() {
    if !peers_or_skip("remote_read::prometheus_reads_flint_back", &["prometheus"]) {
        return;
    }
    let data = Dataset::new();
    let dir = tempfile::tempdir().unwrap();
    let flint = Server::start(
        dir.path(),
        "global:\n  external_labels:\n    site: ams\n",
        &["--web.enable-remote-write-receiver"],
    );
    data.write_to(&flint.addr);
    let prom = Prometheus::start_with(&format!(
        "remote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
        flint.addr
    ));
    let t = data.base_s() + 100 * 60;
    for q in QUERIES {
        let ours = answer(&flint.addr, q, t);
        assert!(!ours.is_empty(), "{q}");
        // Prometheus sees the external labels flint adds to what it answers
        let theirs = answer_without(&prom.addr, q, t, &["site"]);
        assert_eq!(ours, theirs, "{q}");
    }
    let raw = answer(&prom.addr, "temperature_celsius", t);
    assert!(raw.iter().all(|(k, _)| k.contains("site=ams")), "{raw:?}");
}

fn read_request(
    types: &[ResponseType],
    matchers: Vec<LabelMatcher>,
    mint: i64,
    maxt: i64,
) -> Vec<u8> {
    let req = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: mint,
            end_timestamp_ms: maxt,
            matchers,
            hints: None,
        }],
        accepted_response_types: types.iter().map(|t| *t as i32).collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap()
}

fn eq(name: &str, value: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: 0,
        name: name.into(),
        value: value.into(),
    }
}

#[test]
fn samples_and_streamed_answers_and_their_limits() {
    let data = Dataset::new();
    let dir = tempfile::tempdir().unwrap();
    let flint = Server::start(
        dir.path(),
        "global:\n  external_labels:\n    site: ams\n",
        &[
            "--web.enable-remote-write-receiver",
            "--storage.remote.read-sample-limit=2000",
        ],
    );
    data.write_to(&flint.addr);
    let (mint, maxt) = (data.base_ms, data.base_ms + 3 * 3_600_000);
    // SAMPLES (no type asked): every sample of the matching series, with the
    // external labels; an `=` matcher on an external label matches
    let body = read_request(
        &[],
        vec![eq("__name__", "temperature_celsius"), eq("site", "ams")],
        mint,
        maxt,
    );
    let (code, resp) = crate::common::post_raw(
        &flint.addr,
        "/api/v1/read",
        &[("Content-Encoding", "snappy")],
        &body,
    );
    assert_eq!(code, 200);
    let rr = ReadResponse::decode(
        snap::raw::Decoder::new()
            .decompress_vec(&resp)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    let series = &rr.results[0].timeseries;
    assert_eq!(series.len(), 3);
    let want: Vec<_> = data
        .series
        .iter()
        .filter(|(l, _)| l.iter().any(|x| x.value == "temperature_celsius"))
        .collect();
    for (got, (_, samples)) in series.iter().zip(&want) {
        assert!(got
            .labels
            .iter()
            .any(|l| l.name == "site" && l.value == "ams"));
        assert_eq!(got.samples.len(), samples.len());
        assert_eq!(got.samples[5].timestamp, samples[5].timestamp);
        assert_eq!(got.samples[5].value, samples[5].value);
    }
    // over the sample limit: 400 with Prometheus's message
    let body = read_request(&[ResponseType::Samples], vec![eq("job", "api")], mint, maxt);
    let (code, text) = post_bytes(
        &flint.addr,
        "/api/v1/read",
        &[("Content-Encoding", "snappy")],
        &body,
    );
    assert_eq!(code, 400);
    assert!(text.contains("exceeded sample limit (2000)"), "{text}");
    // streamed: not limited, frames with good checksums, XOR chunks that
    // decode to the samples; sent as they are made (chunked, no length
    // known up front)
    let body = read_request(
        &[ResponseType::StreamedXorChunks],
        vec![eq("job", "api")],
        mint,
        maxt,
    );
    let (code, head, resp) = crate::common::post_full(
        &flint.addr,
        "/api/v1/read",
        &[("Content-Encoding", "snappy")],
        &body,
    );
    assert_eq!(code, 200);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    let mut b = resp.as_slice();
    let mut total = 0;
    let mut series = 0;
    while !b.is_empty() {
        let mut len = 0usize;
        let mut i = 0;
        loop {
            len |= ((b[i] & 0x7f) as usize) << (7 * i);
            i += 1;
            if b[i - 1] < 0x80 {
                break;
            }
        }
        let crc = u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
        let msg = &b[i + 4..i + 4 + len];
        assert_eq!(crc32c::crc32c(msg), crc);
        let m = ChunkedReadResponse::decode(msg).unwrap();
        for cs in m.chunked_series {
            series += 1;
            for c in cs.chunks {
                assert_eq!(c.r#type, 1);
                let s = tsdb::chunkenc::prom::decode_xor(&c.data).unwrap();
                assert_eq!(s.first().unwrap().0, c.min_time_ms);
                assert_eq!(s.last().unwrap().0, c.max_time_ms);
                total += s.len();
            }
        }
        b = &b[i + 4 + len..];
    }
    let want: usize = data
        .series
        .iter()
        .filter(|(l, _)| l.iter().any(|x| x.name == "job" && x.value == "api"))
        .map(|(_, s)| s.len())
        .sum();
    assert_eq!(total, want);
    assert_eq!(series, 14);
}

#[test]
fn flint_reads_prometheus_through_remote_read() {
    if !peers_or_skip("remote_read::flint_reads_prometheus", &["prometheus"]) {
        return;
    }
    let data = Dataset::new();
    let prom = Prometheus::start_with("global:\n  external_labels:\n    dc: west\n");
    data.write_to(&prom.addr);
    let dir = tempfile::tempdir().unwrap();
    let flint = Server::start(
        dir.path(),
        &format!(
            "global:\n  external_labels:\n    dc: west\nremote_read:\n  - url: http://{}/api/v1/read\n    name: old-prom\n",
            prom.addr
        ),
        &[],
    );
    let t = data.base_s() + 100 * 60;
    for q in QUERIES {
        let theirs = answer(&prom.addr, q, t);
        let ours = answer(&flint.addr, q, t);
        assert!(!ours.is_empty(), "{q}");
        assert_eq!(ours, theirs, "{q}");
    }
}

#[test]
fn vmctl_copies_flint_by_remote_read() {
    // Debian's vmctl is VictoriaMetrics 1.79's, whose modes are opentsdb,
    // influx, prometheus (snapshots), vm-native and verify-block: its
    // remote-read mode came with 1.85
    let help = std::process::Command::new("vmctl").arg("--help").output();
    let has_mode = help
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("remote-read"))
        .unwrap_or(false);
    if !has_mode {
        println!(
            "SKIP remote_read::vmctl_copies_flint_by_remote_read: {}",
            match help {
                Ok(_) => "this vmctl has no remote-read mode (VictoriaMetrics added it in 1.85; Debian ships 1.79)".to_string(),
                Err(e) => format!("vmctl is not installed ({e})"),
            }
        );
        return;
    }
    let data = Dataset::new();
    let dir = tempfile::tempdir().unwrap();
    let flint = Server::start(dir.path(), "", &["--web.enable-remote-write-receiver"]);
    data.write_to(&flint.addr);
    let vm = crate::peers::VictoriaMetrics::start();
    crate::common::run_tool_ok(
        "vmctl",
        &[
            "remote-read",
            &format!("--remote-read-src-addr=http://{}", flint.addr),
            &format!(
                "--remote-read-filter-time-start={}",
                common::rfc3339::format_millis(data.base_ms).replace(".000", "")
            ),
            "--remote-read-step-interval=hour",
            &format!("--vm-addr=http://{}", vm.addr),
            "-s",
        ],
    );
    let ours: usize = data.series.iter().map(|(_, s)| s.len()).sum();
    let theirs: usize = vm.export("{__name__=~\".+\"}").values().map(Vec::len).sum();
    assert_eq!(theirs, ours);
}

/// Recording and alerting rules read the `remote_read` endpoints too, as
/// Prometheus's rules read through its fan-out storage: a series only
/// Prometheus holds is recorded by flint's rule and fires its alert.
#[test]
fn rules_read_the_remote_read_endpoints() {
    if !peers_or_skip(
        "remote_read::rules_read_the_remote_read_endpoints",
        &["prometheus"],
    ) {
        return;
    }
    use flint::remote::{Label, Sample, TimeSeries, WriteRequest};
    let prom = Prometheus::start_with("");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: remote\n    interval: 1s\n    rules:\n      - record: from_remote:doubled\n        expr: only_in_prometheus * 2\n      - alert: RemoteHigh\n        expr: only_in_prometheus > 40\n",
    )
    .unwrap();
    let flint = Server::start(
        dir.path(),
        &format!(
            "rule_files: [rules.yml]\nremote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
            prom.addr
        ),
        &[],
    );
    // a sample every second in Prometheus only, as long as the test waits
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (addr, stop) = (prom.addr.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let req = WriteRequest {
                    timeseries: vec![TimeSeries {
                        labels: vec![
                            Label::new("__name__", "only_in_prometheus"),
                            Label::new("job", "far"),
                        ],
                        samples: vec![Sample {
                            value: 42.0,
                            timestamp: crate::common::now_secs() as i64 * 1000,
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                let _ = crate::peers::remote_write(&addr, &req);
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        })
    };
    flint.eventually(30, "the rule's result from the remote series", || {
        flint.value("from_remote:doubled{job=\"far\"}") == Some(84.0)
    });
    flint.eventually(30, "the alert on the remote series", || {
        let (_, v) = flint.api("/api/v1/alerts");
        v["data"]["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["labels"]["alertname"] == "RemoteHigh"))
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
}
