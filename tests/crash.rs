//! Durability: the real binary ingesting by remote write is killed with
//! SIGKILL at several moments, restarted on the same folder, and every
//! acknowledged sample reads back exactly.

use std::collections::BTreeMap;

use flint::remote::{encode_write_request, Label, Sample, TimeSeries, WriteRequest};

use crate::common::{enc, Server};

fn post(addr: &str, body: &[u8]) -> Option<u16> {
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
    ];
    std::panic::catch_unwind(|| crate::common::post_bytes(addr, "/api/v1/write", &headers, body).0)
        .ok()
}

/// Sends batches until `stop`, recording what was acknowledged.
fn write_until(
    addr: &str,
    next_t: &mut i64,
    acked: &mut BTreeMap<String, Vec<(i64, f64)>>,
    stop: std::time::Instant,
) {
    while std::time::Instant::now() < stop {
        let mut req = WriteRequest::default();
        let mut batch: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
        for s in 0..5 {
            let name = format!("s{s}");
            let samples: Vec<(i64, f64)> = (0..20)
                .map(|k| {
                    (
                        *next_t + k * 10,
                        ((*next_t + k) as f64 * 0.37).sin() * 1e6 + s as f64,
                    )
                })
                .collect();
            req.timeseries.push(TimeSeries {
                labels: vec![
                    Label::new("__name__", "crash_metric"),
                    Label::new("s", &name),
                ],
                samples: samples
                    .iter()
                    .map(|&(t, v)| Sample {
                        value: v,
                        timestamp: t,
                    })
                    .collect(),
                ..Default::default()
            });
            batch.push((name, samples));
        }
        *next_t += 200;
        match post(addr, &encode_write_request(&req)) {
            Some(204) => {
                for (name, samples) in batch {
                    acked.entry(name).or_default().extend(samples);
                }
            }
            _ => return, // the server went away
        }
    }
}

#[test]
fn sigkill_loses_no_acknowledged_sample() {
    let dir = tempfile::tempdir().unwrap();
    let start_t = 1_700_000_000_000i64;
    let mut next_t = start_t;
    let mut acked: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    let flags = ["--web.enable-remote-write-receiver"];
    for round in 0..4 {
        let mut s = Server::start(dir.path(), "", &flags);
        let ms = [700u64, 1100, 400, 900][round];
        let killer = {
            let pid = s.child.id();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            })
        };
        write_until(
            &s.addr,
            &mut next_t,
            &mut acked,
            std::time::Instant::now() + std::time::Duration::from_secs(3),
        );
        killer.join().unwrap();
        let _ = s.child.wait();
    }
    let total: usize = acked.values().map(Vec::len).sum();
    assert!(
        total > 1000,
        "too little was written to mean anything: {total}"
    );
    let s = Server::start(dir.path(), "", &flags);
    let end = next_t;
    // a window that starts before the first sample (ranges are left-open)
    let window = end - start_t + 1;
    for (name, want) in &acked {
        let q = format!("crash_metric{{s=\"{name}\"}}[{window}ms]");
        let (code, v) = s.api(&format!(
            "/api/v1/query?query={}&time={}",
            enc(&q),
            end as f64 / 1000.0
        ));
        assert_eq!(code, 200, "{v}");
        let got: Vec<(i64, f64)> = v["data"]["result"][0]["values"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                            p[1].as_str().unwrap().parse::<f64>().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let got: BTreeMap<i64, f64> = got.into_iter().collect();
        for (t, val) in want {
            let g = got.get(t).copied();
            assert!(
                g.is_some(),
                "{name}: acknowledged sample at {t} lost ({} acked, {} read)",
                want.len(),
                got.len()
            );
            // the API prints floats in their shortest exact form
            assert_eq!(g.unwrap().to_bits(), val.to_bits(), "{name} at {t}");
        }
    }
}

#[test]
fn damaged_files_are_logged_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--web.enable-remote-write-receiver"];
    let mut next_t = 1_700_000_000_000i64;
    let mut acked = BTreeMap::new();
    {
        let s = Server::start(dir.path(), "", &flags);
        write_until(
            &s.addr,
            &mut next_t,
            &mut acked,
            std::time::Instant::now() + std::time::Duration::from_millis(500),
        );
        assert_eq!(s.stop(), Some(0));
    }
    let data = dir.path().join("data");
    // flipped bytes in the newest closed-chunk segment: starts, logs the
    // file, serves what is intact
    let newest = |sub: &str| {
        let mut files: Vec<_> = std::fs::read_dir(data.join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        files.pop().expect("a file")
    };
    let segment = newest("chunks_closed");
    let mut bytes = std::fs::read(&segment).unwrap();
    for b in &mut bytes[40..80] {
        *b ^= 0xff;
    }
    std::fs::write(&segment, &bytes).unwrap();
    {
        let s = Server::start(dir.path(), "", &flags);
        let log = s.log_text();
        assert!(
            log.contains("Skipped corrupt data") && log.contains(&*segment.to_string_lossy()),
            "{log}"
        );
        let (_, v) = s.api(&format!(
            "/api/v1/query?query=crash_metric&time={}",
            next_t as f64 / 1000.0
        ));
        assert!(!v["data"]["result"].as_array().unwrap().is_empty(), "{v}");
        assert_eq!(s.stop(), Some(0));
    }
    // an emptied series log: refuses to start, names the file, deletes nothing
    std::fs::write(data.join("series"), b"").unwrap();
    let before: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let out = crate::common::run_to_exit(&dir.path().join("prometheus.yml"), &data);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("series") && err.contains("damaged"), "{err}");
    let after: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before.len(), after.len());
}
