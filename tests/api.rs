//! The HTTP API beyond queries: series and label lookups, metadata,
//! status pages, federation, lifecycle, CORS.

use crate::common::{enc, http_get, http_request, post_bytes, MockTarget, Server};

const BODY: &str = "# HELP req_total Requests served.\n# TYPE req_total counter\nreq_total{path=\"/a\"} 3\nreq_total{path=\"/b\"} 4\n# HELP temp_celsius Temperature.\n# TYPE temp_celsius gauge\ntemp_celsius 21.5\n";

fn cfg(addr: &str, extra: &str) -> String {
    format!(
        "global:\n  external_labels:\n    dc: eu1\nscrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{addr}']\n{extra}"
    )
}

fn started(target: &MockTarget, extra_cfg: &str, flags: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &cfg(&target.addr, extra_cfg), flags);
    s.eventually(15, "temp_celsius scraped", || {
        s.value("temp_celsius") == Some(21.5)
    });
    (dir, s)
}

#[test]
fn series_labels_and_values() {
    let target = MockTarget::start(BODY);
    let (_d, s) = started(&target, "", &[]);
    let (code, v) = s.api(&format!("/api/v1/series?match[]={}", enc("req_total")));
    assert_eq!(code, 200, "{v}");
    let list = v["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["path"], "/a");
    assert_eq!(list[0]["job"], "app");
    assert_eq!(list[0]["__name__"], "req_total");

    let (_, v) = s.api("/api/v1/labels");
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for want in ["__name__", "instance", "job", "path"] {
        assert!(names.contains(&want), "{names:?}");
    }
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted: {names:?}");

    let (_, v) = s.api("/api/v1/label/__name__/values");
    let values: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        values.contains(&"req_total") && values.contains(&"up") && values.contains(&"temp_celsius")
    );

    let (_, v) = s.api(&format!(
        "/api/v1/label/path/values?match[]={}",
        enc(r#"req_total{path="/b"}"#)
    ));
    assert_eq!(v["data"], serde_json::json!(["/b"]));

    let (_, v) = s.api("/api/v1/label/__name__/values?limit=1");
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["warnings"][0], "results truncated due to limit");

    // POST form, as Grafana sends it
    let (code, body) = http_request(
        &s.addr,
        "POST",
        "/api/v1/series",
        Some(&format!("match[]={}", enc("temp_celsius"))),
    )
    .unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("\"__name__\":\"temp_celsius\""), "{body}");

    // errors
    let (code, v) = s.api("/api/v1/series");
    assert_eq!(
        (code, v["error"].as_str().unwrap()),
        (400, "no match[] parameter provided")
    );
    let (code, v) = s.api(&format!("/api/v1/series?match[]={}", enc("sum(")));
    assert_eq!(code, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid parameter \"match[]\""),
        "{v}"
    );
    // a range with no data
    let (_, v) = s.api(&format!(
        "/api/v1/series?match[]={}&start=1&end=2",
        enc("req_total")
    ));
    assert_eq!(v["data"], serde_json::json!([]));
}

#[test]
fn metadata_status_and_federation() {
    let target = MockTarget::start(BODY);
    let (_d, s) = started(&target, "", &[]);

    let (_, v) = s.api("/api/v1/metadata");
    assert_eq!(
        v["data"]["req_total"],
        serde_json::json!([{"type":"counter","help":"Requests served.","unit":""}])
    );
    assert_eq!(v["data"]["temp_celsius"][0]["type"], "gauge");
    let (_, v) = s.api(&format!(
        "/api/v1/targets/metadata?match_target={}&metric=req_total",
        enc(r#"{job="app"}"#)
    ));
    assert_eq!(v["data"][0]["target"]["job"], "app");
    assert_eq!(v["data"][0]["type"], "counter");
    assert!(v["data"][0].get("metric").is_none());

    let (_, v) = s.api("/api/v1/status/buildinfo");
    assert!(v["data"]["version"].is_string());
    let (_, v) = s.api("/api/v1/status/flags");
    assert_eq!(v["data"]["query.lookback-delta"], "5m");
    let (_, v) = s.api("/api/v1/status/config");
    assert!(v["data"]["yaml"]
        .as_str()
        .unwrap()
        .contains("job_name: app"));
    let (_, v) = s.api("/api/v1/status/runtimeinfo");
    assert_eq!(v["data"]["reloadConfigSuccess"], true);
    assert_eq!(v["data"]["storageRetention"], "15d");
    let (_, v) = s.api("/api/v1/status/tsdb");
    assert!(
        v["data"]["headStats"]["numSeries"].as_u64().unwrap() >= 8,
        "{v}"
    );
    let top = &v["data"]["seriesCountByMetricName"];
    assert_eq!(
        top[0],
        serde_json::json!({"name": "req_total", "value": 2}),
        "{v}"
    );
    let (_, v) = s.api("/api/v1/scrape_pools");
    assert_eq!(v["data"], serde_json::json!({"scrapePools": ["app"]}));
    for (path, want) in [
        ("/api/v1/rules", serde_json::json!({"groups": []})),
        ("/api/v1/alerts", serde_json::json!({"alerts": []})),
        (
            "/api/v1/status/walreplay",
            serde_json::json!({"min": 0, "max": 0, "current": 0}),
        ),
    ] {
        assert_eq!(s.api(path).1["data"], want, "{path}");
    }
    let (_, v) = s.api(&format!(
        "/api/v1/query_exemplars?query={}",
        enc("req_total")
    ));
    assert_eq!(v["data"], serde_json::json!([]));

    let (code, body) = http_get(
        &s.addr,
        &format!("/federate?match[]={}", enc(r#"{job="app"}"#)),
    )
    .unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("# TYPE req_total untyped\n"), "{body}");
    let line = body
        .lines()
        .find(|l| l.starts_with("temp_celsius{"))
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        line.contains("dc=\"eu1\"") && line.contains("job=\"app\""),
        "{line}"
    );
    assert!(line.split(' ').nth(1) == Some("21.5"), "{line}");
    assert!(
        line.split(' ').nth(2).unwrap().parse::<i64>().is_ok(),
        "{line}"
    );
    assert!(
        !body.contains("req_total{") || !body.contains("temp_celsius 21.5"),
        "labels present"
    );
}

#[test]
fn lifecycle_reload_and_admin_gating() {
    let target = MockTarget::start(BODY);
    // without the flags: refused as Prometheus refuses
    {
        let (_d, s) = started(&target, "", &[]);
        assert_eq!(
            http_request(&s.addr, "POST", "/-/reload", None).unwrap().0,
            403
        );
        assert_eq!(
            http_request(&s.addr, "POST", "/-/quit", None).unwrap().0,
            403
        );
        let (code, v) = {
            let (c, b) =
                http_request(&s.addr, "POST", "/api/v1/admin/tsdb/snapshot", None).unwrap();
            (c, serde_json::from_str::<serde_json::Value>(&b).unwrap())
        };
        assert_eq!(
            (code, v["errorType"].as_str().unwrap()),
            (503, "unavailable")
        );
        assert_eq!(v["error"], "admin APIs disabled");
    }
    let (dir, s) = started(
        &target,
        "",
        &["--web.enable-lifecycle", "--web.enable-admin-api"],
    );
    // snapshots with the admin API enabled
    let (code, body) = http_request(&s.addr, "POST", "/api/v1/admin/tsdb/snapshot", None).unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let name = v["data"]["name"].as_str().unwrap();
    assert!(s.data.join("snapshots").join(name).is_dir(), "{body}");
    // deleting series: 204, and the data is gone
    assert!(s.value("temp_celsius").is_some());
    let (code, body) = http_request(
        &s.addr,
        "POST",
        &format!(
            "/api/v1/admin/tsdb/delete_series?match[]={}",
            enc("temp_celsius")
        ),
        None,
    )
    .unwrap();
    assert_eq!(code, 204, "{body}");
    let (_, v) = s.api(&format!(
        "/api/v1/query?query={}",
        enc("count_over_time(temp_celsius[1h])")
    ));
    let left = v["data"]["result"]
        .as_array()
        .unwrap()
        .first()
        .map(|r| r["value"][1].as_str().unwrap().parse::<f64>().unwrap());
    assert!(
        left.unwrap_or(0.0) <= 2.0,
        "only samples scraped after the deletion remain: {v}"
    );
    assert_eq!(
        http_request(&s.addr, "POST", "/api/v1/admin/tsdb/clean_tombstones", None)
            .unwrap()
            .0,
        204
    );
    let cfg_path = dir.path().join("prometheus.yml");
    // a bad config is refused and the old one keeps running
    std::fs::write(
        &cfg_path,
        "scrape_configs:\n  - job_name: app\n    scrape_interval: 5x\n",
    )
    .unwrap();
    let (code, body) = http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("not a valid duration string"), "{body}");
    assert_eq!(
        s.api("/api/v1/status/runtimeinfo").1["data"]["reloadConfigSuccess"],
        false
    );
    assert_eq!(
        s.api("/api/v1/scrape_pools").1["data"]["scrapePools"][0],
        "app"
    );
    // a good one adds a job; the unchanged job keeps its target state
    let second = MockTarget::start("other_metric 7\n");
    let extra = format!("  - job_name: second\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{}']\n", second.addr);
    std::fs::write(&cfg_path, cfg(&target.addr, &extra)).unwrap();
    let (code, body) = http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 200, "{body}");
    s.eventually(15, "the new job is scraped", || {
        s.value("other_metric") == Some(7.0)
    });
    let (_, t) = s.api("/api/v1/targets");
    let app_t = t["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scrapePool"] == "app")
        .cloned()
        .unwrap();
    assert_eq!(
        app_t["health"], "up",
        "the kept target was not restarted: {app_t}"
    );
    // removing the job marks its series stale at once
    std::fs::write(&cfg_path, cfg(&target.addr, "")).unwrap();
    assert_eq!(
        http_request(&s.addr, "POST", "/-/reload", None).unwrap().0,
        200
    );
    s.eventually(10, "the removed job's series go stale", || {
        s.value("other_metric").is_none()
    });
    assert!(s.log_text().contains("msg=\"Error reloading config\""));
    // /-/quit stops the server cleanly
    assert_eq!(
        http_request(&s.addr, "POST", "/-/quit", None).unwrap().0,
        200
    );
    let mut s = s;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Ok(Some(st)) = s.child.try_wait() {
            assert_eq!(st.code(), Some(0));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not exit after /-/quit"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn cors_headers_follow_the_origin() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &[]);
    let get = |origin: Option<&str>| -> String {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
        let o = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        write!(
            c,
            "GET /api/v1/query?query=1 HTTP/1.1\r\nHost: x\r\n{o}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut r = String::new();
        c.read_to_string(&mut r).unwrap();
        r.to_ascii_lowercase()
    };
    assert!(get(Some("http://grafana:3000")).contains("access-control-allow-origin: *"));
    assert!(!get(None).contains("access-control-allow-origin"));
}

fn write_request(name: &str, samples: &[(i64, f64)]) -> Vec<u8> {
    use flint::remote::{encode_write_request, Label, Sample, TimeSeries, WriteRequest};
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", name), Label::new("job", "rw")],
            samples: samples
                .iter()
                .map(|&(t, v)| Sample {
                    value: v,
                    timestamp: t,
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    encode_write_request(&req)
}

#[test]
fn remote_write_and_text_import() {
    let rw_headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    // refused without the flag
    {
        let dir = tempfile::tempdir().unwrap();
        let s = Server::start(dir.path(), "", &[]);
        let (code, body) = post_bytes(
            &s.addr,
            "/api/v1/write",
            &rw_headers,
            &write_request("m", &[(1000, 1.0)]),
        );
        assert_eq!(code, 404, "{body}");
        assert!(body.contains("--web.enable-remote-write-receiver"));
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &["--web.enable-remote-write-receiver"]);
    // months in the past, into an empty store
    let base = 1_700_000_000_000i64;
    let samples: Vec<(i64, f64)> = (0..100).map(|i| (base + i * 15_000, i as f64)).collect();
    let (code, body) = post_bytes(
        &s.addr,
        "/api/v1/write",
        &rw_headers,
        &write_request("rw_metric", &samples),
    );
    assert_eq!(code, 204, "{body}");
    let (_, v) = s.api(&format!(
        "/api/v1/query?query={}&time={}",
        enc("rw_metric"),
        (base + 99 * 15_000) / 1000
    ));
    assert_eq!(v["data"]["result"][0]["value"][1], "99", "{v}");
    assert_eq!(v["data"]["result"][0]["metric"]["job"], "rw");
    // an older sample is refused as Prometheus refuses it
    let (code, body) = post_bytes(
        &s.addr,
        "/api/v1/write",
        &rw_headers,
        &write_request("rw_metric", &[(base, 5.0)]),
    );
    assert_eq!((code, body.trim()), (400, "out of order sample"));
    // an invalid series refuses the whole request
    {
        use flint::remote::{encode_write_request, Label, Sample, TimeSeries, WriteRequest};
        let post_series = |labels: Vec<Label>| {
            let req = WriteRequest {
                timeseries: vec![TimeSeries {
                    labels,
                    samples: vec![Sample {
                        value: 1.0,
                        timestamp: base,
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            post_bytes(
                &s.addr,
                "/api/v1/write",
                &rw_headers,
                &encode_write_request(&req),
            )
        };
        let (code, body) = post_series(vec![
            Label::new("__name__", "dup"),
            Label::new("a", "1"),
            Label::new("a", "2"),
        ]);
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("duplicated label"), "{body}");
        // a label set the series log cannot take: refused, not retried
        let (code, body) = post_series(vec![
            Label::new("__name__", "huge"),
            Label::new("v", "x".repeat(600 << 10)),
        ]);
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("label set of"), "{body}");
    }
    // a sample far in the future is refused, and does not block the present
    let future = crate::common::now_secs() as i64 * 1000 + 365 * 86_400_000;
    let (code, body) = post_bytes(
        &s.addr,
        "/api/v1/write",
        &rw_headers,
        &write_request("future_metric", &[(future, 1.0)]),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("too far in the future"), "{body}");
    let now = crate::common::now_secs() as i64 * 1000;
    let (code, body) = post_bytes(
        &s.addr,
        "/api/v1/write",
        &rw_headers,
        &write_request("future_metric", &[(now, 2.0)]),
    );
    assert_eq!(code, 204, "{body}");
    // garbage is a 400, the wrong content type a 415
    let (code, _) = post_bytes(&s.addr, "/api/v1/write", &rw_headers, b"not snappy at all");
    assert_eq!(code, 400);
    let (code, _) = post_bytes(
        &s.addr,
        "/api/v1/write",
        &[("Content-Type", "text/plain")],
        b"x",
    );
    assert_eq!(code, 415);
    // the data survived the bad requests
    let (_, v) = s.api(&format!(
        "/api/v1/query?query={}&time={}",
        enc("count_over_time(rw_metric[1h])"),
        (base + 99 * 15_000) / 1000
    ));
    assert_eq!(v["data"]["result"][0]["value"][1], "100", "{v}");

    // text import, with and without timestamps
    let body = format!("imported{{a=\"1\"}} 3 {}\nimported{{a=\"2\"}} 4\n", base);
    let (code, resp) = post_bytes(&s.addr, "/api/v1/import/prometheus", &[], body.as_bytes());
    assert_eq!(code, 204, "{resp}");
    assert_eq!(s.value(r#"imported{a="2"}"#), Some(4.0));
    let (_, v) = s.api(&format!(
        "/api/v1/query?query={}&time={}",
        enc(r#"imported{a="1"}"#),
        base / 1000
    ));
    assert_eq!(v["data"]["result"][0]["value"][1], "3");
    let (code, resp) = post_bytes(&s.addr, "/api/v1/import/prometheus", &[], b"bad line {\n");
    assert_eq!(code, 400);
    assert!(resp.starts_with("line 1"), "{resp}");
}

#[test]
fn remote_write_size_limit_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        "",
        &[
            "--web.enable-remote-write-receiver",
            "--web.remote-write-max-bytes=2KB",
        ],
    );
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
    ];
    let small = write_request("small", &[(1_700_000_000_000, 1.0)]);
    assert_eq!(
        post_bytes(&s.addr, "/api/v1/write", &headers, &small).0,
        204
    );
    let samples: Vec<(i64, f64)> = (0..2000)
        .map(|i| (1_700_000_000_000 + i * 1000, (i as f64).sin()))
        .collect();
    let big = write_request("big", &samples);
    let (code, body) = post_bytes(&s.addr, "/api/v1/write", &headers, &big);
    assert_eq!(code, 413, "{body}");
}

/// `bytesOnDiskByMetricName` (flint's own field of `/api/v1/status/tsdb`):
/// a backfilled block's metric by its chunk records, the scraped metrics
/// by their head chunks, largest first, each series once, cut at `limit`.
#[test]
fn bytes_on_disk_by_metric_name() {
    let target = MockTarget::start(BODY);
    let dir = tempfile::tempdir().unwrap();
    let data = backfilled(dir.path());
    let chunk_files: u64 = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path().join("chunks"))
        .filter(|p| p.exists())
        .map(|p| std::fs::metadata(p).unwrap().len() - 8)
        .sum();
    assert!(chunk_files > 0);

    let s = Server::start(dir.path(), &cfg(&target.addr, ""), &[]);
    s.eventually(15, "temp_celsius scraped", || {
        s.value("temp_celsius") == Some(21.5)
    });
    let (code, v) = s.api("/api/v1/status/tsdb?limit=100");
    assert_eq!(code, 200, "{v}");
    let list = v["data"]["bytesOnDiskByMetricName"].as_array().unwrap();
    let find = |name: &str| {
        list.iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {v}"))
    };
    let num = |m: &serde_json::Value, k: &str| m[k].as_u64().unwrap_or_else(|| panic!("{k}: {m}"));
    for m in list {
        assert_eq!(
            num(m, "value"),
            num(m, "blockBytes") + num(m, "headBytes") + num(m, "histogramBytes"),
            "{m}"
        );
    }
    let totals: Vec<u64> = list.iter().map(|m| num(m, "value")).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
    let b = find("backfilled");
    assert_eq!(list[0], *b, "the largest first: {v}");
    assert_eq!((num(b, "series"), num(b, "headBytes")), (3, 0), "{b}");
    let block_sum: u64 = list.iter().map(|m| num(m, "blockBytes")).sum();
    assert_eq!(block_sum, chunk_files, "{v}");
    let r = find("req_total");
    assert_eq!((num(r, "series"), num(r, "blockBytes")), (2, 0), "{r}");
    assert!(num(r, "headBytes") > 0, "{r}");
    // Prometheus's fields keep their shape
    assert_eq!(
        v["data"]["seriesCountByMetricName"][0],
        serde_json::json!({"name": "req_total", "value": 2}),
        "{v}"
    );
    let (_, v) = s.api("/api/v1/status/tsdb?limit=1");
    let list = v["data"]["bytesOnDiskByMetricName"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["name"], "backfilled");
}

/// A data folder `dir/data` holding one block, backfilled with
/// `create-blocks-from openmetrics`: 3 series of `backfilled`, 6 h ago.
fn backfilled(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("data");
    // 6 h ago, 50 min of samples every 5 s: one block
    let start = crate::common::now_secs() - 6 * 3600;
    let mut om = String::from("# TYPE backfilled gauge\n");
    for i in 0..3u64 {
        for k in 0..600u64 {
            let v = (k * 7919 + i * 104_729) % 10_007;
            om.push_str(&format!(
                "backfilled{{i=\"{i}\"}} {v}.25 {}\n",
                start + k * 5
            ));
        }
    }
    om.push_str("# EOF\n");
    let input = dir.join("in.om");
    std::fs::write(&input, om).unwrap();
    crate::common::run_tool_ok(
        crate::common::bin(),
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            input.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
    );
    data
}

/// A block whose index cannot be read leaves `bytesOnDiskByMetricName`
/// empty with a warning; Prometheus's fields are answered as ever.
#[test]
fn bytes_on_disk_of_a_damaged_block_warn() {
    let target = MockTarget::start(BODY);
    let dir = tempfile::tempdir().unwrap();
    let data = backfilled(dir.path());
    // a byte of the first series record, found through the index's TOC
    // (5 sections of offset u64, length u64, CRC u32, then its own CRC)
    let block = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("index").exists())
        .unwrap();
    let index = block.join("index");
    let mut bytes = std::fs::read(&index).unwrap();
    let toc = bytes.len() - (5 * 20 + 4);
    let series = u64::from_le_bytes(bytes[toc + 20..toc + 28].try_into().unwrap()) as usize;
    bytes[series + 3] ^= 0xff;
    std::fs::write(&index, bytes).unwrap();

    let s = Server::start(dir.path(), &cfg(&target.addr, ""), &[]);
    s.eventually(15, "temp_celsius scraped", || {
        s.value("temp_celsius") == Some(21.5)
    });
    let (code, v) = s.api("/api/v1/status/tsdb");
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["data"]["bytesOnDiskByMetricName"],
        serde_json::json!([]),
        "{v}"
    );
    let warning = v["warnings"][0].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(warning.starts_with("bytes on disk by metric name: "), "{v}");
    assert!(
        v["data"]["headStats"]["numSeries"].as_u64().unwrap() >= 3,
        "{v}"
    );
}
