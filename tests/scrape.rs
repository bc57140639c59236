//! Scrape configuration as a user writes it: relabeling, file discovery,
//! OpenMetrics targets.

use crate::common::{MockTarget, Server};

#[test]
fn file_discovery_adds_and_removes_targets() {
    let a = MockTarget::start("fsd_metric{from=\"a\"} 1\n");
    let b = MockTarget::start("fsd_metric{from=\"b\"} 2\n");
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("targets.json");
    std::fs::write(
        &sd,
        format!(
            r#"[{{"targets":["{}"],"labels":{{"env":"test"}}}}]"#,
            a.addr
        ),
    )
    .unwrap();
    // a relative path: resolved against the config file's folder
    let cfg = "scrape_configs:\n  - job_name: fsd\n    scrape_interval: 1s\n    file_sd_configs:\n      - files: ['*.json']\n    relabel_configs:\n      - source_labels: [__meta_filepath]\n        regex: '.*/(.*)'\n        target_label: sd_file\n";
    let s = Server::start(dir.path(), cfg, &[]);
    s.eventually(15, "target a scraped", || {
        s.value(r#"fsd_metric{from="a"}"#) == Some(1.0)
    });
    let r = s.query(r#"fsd_metric{from="a"}"#);
    assert_eq!(r[0]["metric"]["env"], "test");
    assert_eq!(r[0]["metric"]["sd_file"], "targets.json");
    // the file changes: b replaces a, and a's series go stale
    std::fs::write(&sd, format!(r#"[{{"targets":["{}"]}}]"#, b.addr)).unwrap();
    s.eventually(15, "target b scraped", || {
        s.value(r#"fsd_metric{from="b"}"#) == Some(2.0)
    });
    s.eventually(10, "target a stale", || {
        s.value(r#"fsd_metric{from="a"}"#).is_none()
    });
    // a broken file keeps the last good targets
    std::fs::write(&sd, "[{").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(s.value(r#"up{job="fsd"}"#), Some(1.0));
    assert!(s.log_text().contains("msg=\"Error reading file\""));
}

#[test]
fn openmetrics_targets_and_metric_relabeling() {
    let t = MockTarget::start(
        "# TYPE req counter\n# HELP req Requests.\nreq_total{code=\"200\"} 5\nreq_created{code=\"200\"} 1.7e9\nreq_total{code=\"500\"} 1\nreq_created{code=\"500\"} 1.7e9\n# TYPE req_seconds gauge\n# UNIT req_seconds seconds\nreq_seconds 0.5\n# EOF\n",
    );
    *t.content_type.lock().unwrap() =
        "application/openmetrics-text; version=1.0.0; charset=utf-8".into();
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:\n  - job_name: om\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{}']\n    metric_relabel_configs:\n      - source_labels: [code]\n        regex: '5..'\n        action: drop\n",
        t.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(15, "OpenMetrics scraped", || {
        s.value(r#"req_total{code="200"}"#) == Some(5.0)
    });
    assert_eq!(
        s.value(r#"req_total{code="500"}"#),
        None,
        "dropped by metric_relabel_configs"
    );
    assert_eq!(s.value(r#"scrape_samples_scraped{job="om"}"#), Some(5.0));
    assert_eq!(
        s.value(r#"scrape_samples_post_metric_relabeling{job="om"}"#),
        Some(3.0)
    );
    assert_eq!(
        s.value(r#"req_created{code="200"}"#),
        Some(1.7e9),
        "_created kept as a series"
    );
    let (_, v) = s.api("/api/v1/metadata?metric=req_seconds");
    assert_eq!(v["data"]["req_seconds"][0]["unit"], "seconds", "{v}");
    // a body breaking the OpenMetrics rules fails the scrape and stores nothing new
    t.set("# TYPE x counter\nx_total -1\n# EOF\n");
    s.eventually(10, "invalid body: up == 0", || {
        s.value(r#"up{job="om"}"#) == Some(0.0)
    });
    let (_, targets) = s.api("/api/v1/targets");
    let err = targets["data"]["activeTargets"][0]["lastError"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!err.is_empty());
    assert_eq!(s.value("x_total"), None);
}
