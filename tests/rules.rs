//! Recording and alerting rules, notifications, and `flint check rules`.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use crate::common::{bin, MockTarget, Server};

/// An HTTP server that answers 200 and keeps the bodies POSTed to it.
fn alertmanager() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&got);
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut buf = Vec::new();
            let mut tmp = [0u8; 8192];
            loop {
                let n = c.read(&mut tmp).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&tmp[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        g.lock().unwrap().push(format!(
                            "{}\n{}",
                            head.lines().next().unwrap_or(""),
                            body
                        ));
                        break;
                    }
                }
            }
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (addr, got)
}

const RULES: &str = r#"groups:
  - name: demo
    interval: 1s
    rules:
      - record: job:queue_depth:sum
        expr: sum by (job) (queue_depth)
      - alert: QueueTooDeep
        expr: job:queue_depth:sum > 10
        for: 1s
        labels:
          severity: page
        annotations:
          summary: "Queue of {{ $labels.job }} is {{ $value }}"
"#;

#[test]
fn rules_record_alert_and_notify() {
    let target = MockTarget::start("queue_depth{q=\"a\"} 7\nqueue_depth{q=\"b\"} 8\n");
    let (am, posts) = alertmanager();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let cfg = format!(
        "global:\n  evaluation_interval: 1s\n  external_labels: {{dc: eu1}}\nrule_files: ['rules.yml']\nalerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{am}']}}]\nscrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    static_configs: [{{targets: ['{}']}}]\n",
        target.addr
    );
    let s = Server::start(dir.path(), &cfg, &["--rules.alert.resend-delay=1s"]);
    s.eventually(20, "the recording rule writes its series", || {
        s.value(r#"job:queue_depth:sum{job="app"}"#) == Some(15.0)
    });
    s.eventually(20, "the alert fires", || {
        let (_, v) = s.api("/api/v1/alerts");
        v["data"]["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["state"] == "firing"))
    });
    let (_, v) = s.api("/api/v1/alerts");
    let a = &v["data"]["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "QueueTooDeep");
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["annotations"]["summary"], "Queue of app is 15");
    s.eventually(10, "ALERTS series written", || {
        s.value(r#"ALERTS{alertname="QueueTooDeep",alertstate="firing"}"#) == Some(1.0)
    });
    let (_, v) = s.api("/api/v1/rules?type=record");
    assert_eq!(
        v["data"]["groups"][0]["rules"].as_array().unwrap().len(),
        1,
        "{v}"
    );
    assert_eq!(v["data"]["groups"][0]["rules"][0]["health"], "ok");
    s.eventually(15, "Alertmanager receives the alert", || {
        posts
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.starts_with("POST /api/v2/alerts") && p.contains("QueueTooDeep"))
    });
    let body = posts
        .lock()
        .unwrap()
        .iter()
        .find(|p| p.contains("QueueTooDeep"))
        .cloned()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(body.split_once('\n').unwrap().1).unwrap();
    assert_eq!(
        json[0]["labels"]["dc"], "eu1",
        "external labels are added: {json}"
    );
    assert!(json[0]["generatorURL"]
        .as_str()
        .unwrap()
        .contains("/graph?g0.expr="));
    assert!(json[0]["startsAt"].is_string());
    // the condition clears: the alert resolves and is sent with endsAt
    target.set("queue_depth{q=\"a\"} 1\n");
    s.eventually(20, "the alert resolves", || {
        let (_, v) = s.api("/api/v1/alerts");
        v["data"]["alerts"].as_array().is_some_and(|a| a.is_empty())
    });
    s.eventually(20, "ALERTS goes stale", || {
        s.value(r#"ALERTS{alertname="QueueTooDeep"}"#).is_none()
    });
}

#[test]
fn check_rules_and_bad_rule_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, RULES).unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .args(["check", "rules"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("SUCCESS: 2 rules found"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = std::process::Command::new(bin())
        .args(["check", "rules"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("group \"g\"") && err.contains("could not parse expression"),
        "{err}"
    );
    // a server refuses to start on a bad rule file, naming it
    let cfg = "rule_files: ['bad.yml']\n";
    std::fs::write(dir.path().join("prometheus.yml"), cfg).unwrap();
    let out =
        crate::common::run_to_exit(&dir.path().join("prometheus.yml"), &dir.path().join("data"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yml"));
}

#[test]
fn test_rules_runs_promtool_style_unit_tests() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/rules/testdata/unittest");
    let ok = std::process::Command::new(bin())
        .args(["test", "rules", &format!("{dir}/pass.yml")])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("  SUCCESS"));
    let bad = std::process::Command::new(bin())
        .args(["test", "rules", &format!("{dir}/fail.yml")])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(
        out.contains("  FAILED:") && out.contains("alertname: HighErrors"),
        "{out}"
    );
}
