//! Eureka discovery against the server stand-in (`tests/standin/eureka.rs`):
//! registered instances become targets with Prometheus's labels (and the
//! instance ID as `instance`), follow registrations within the refresh
//! interval, and stay while the server fails; Alertmanagers are found too.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{discovered_targets as targets, wait_for};
use crate::common::{MockTarget, Server};
use crate::standin::eureka::{Eureka, Fault, Instance};

/// A firing alert found no Alertmanager until discovery found one: it
/// is sent again after this, not after the default minute.
const RESEND: &str = "--rules.alert.resend-delay=1s";

fn port(t: &MockTarget) -> u16 {
    t.addr.rsplit(':').next().unwrap().parse().unwrap()
}

const AUTH: Option<(&str, &str)> = Some(("eureka", "s3cret"));

#[test]
fn registered_instances_are_targets() {
    let eureka = Eureka::start(AUTH);
    let a = MockTarget::start("eureka_demo 1\n");
    let b = MockTarget::start("eureka_demo 2\n");
    let am = crate::common::MockReceiver::start(crate::common::Answer::status(200));
    let (_, am_port) = am.addr.rsplit_once(':').unwrap();
    eureka.register(
        &Instance::new("orders", "127.0.0.1", port(&a)).meta("management.port", "8081"),
        AUTH,
    );
    eureka.register(
        &Instance::new("alertmanager", "127.0.0.1", am_port.parse().unwrap()),
        AUTH,
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:
  scrape_interval: 1s
alerting:
  alertmanagers:
    - eureka_sd_configs:
        - server: {url}
          refresh_interval: 500ms
          basic_auth: {{username: eureka, password: s3cret}}
      relabel_configs:
        - source_labels: [__meta_eureka_app_name]
          regex: ALERTMANAGER
          action: keep
scrape_configs:
  - job_name: apps
    eureka_sd_configs:
      - server: {url}
        refresh_interval: 500ms
        basic_auth: {{username: eureka, password: s3cret}}
    relabel_configs:
      - source_labels: [__meta_eureka_app_name]
        regex: ORDERS
        action: keep
",
        url = eureka.url()
    );
    let s = Server::start(dir.path(), &cfg, &[RESEND]);
    wait_for("orders", 10, || targets(&s, "apps").len() == 1);
    let t = &targets(&s, "apps")[&a.addr];
    let names: BTreeSet<String> = t["discoveredLabels"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("__meta_"))
        .cloned()
        .collect();
    let want: BTreeSet<String> = [
        "app_name",
        "app_instance_id",
        "app_instance_hostname",
        "app_instance_homepage_url",
        "app_instance_statuspage_url",
        "app_instance_healthcheck_url",
        "app_instance_ip_addr",
        "app_instance_vip_address",
        "app_instance_secure_vip_address",
        "app_instance_status",
        "app_instance_port",
        "app_instance_port_enabled",
        "app_instance_secure_port",
        "app_instance_secure_port_enabled",
        "app_instance_country_id",
        "app_instance_metadata_management_port",
        "app_instance_datacenterinfo_name",
    ]
    .iter()
    .map(|n| format!("__meta_eureka_{n}"))
    .collect();
    assert_eq!(names, want);
    let d = &t["discoveredLabels"];
    let id = format!("127.0.0.1:orders:{}", port(&a));
    assert_eq!(d["__meta_eureka_app_instance_id"], id.as_str());
    assert_eq!(d["__meta_eureka_app_instance_status"], "UP");
    assert_eq!(d["__meta_eureka_app_instance_port_enabled"], "true");
    assert_eq!(d["__meta_eureka_app_instance_secure_port_enabled"], "false");
    assert_eq!(
        d["__meta_eureka_app_instance_metadata_management_port"],
        "8081"
    );
    assert_eq!(d["__meta_eureka_app_instance_datacenterinfo_name"], "MyOwn");
    assert_eq!(d["__meta_eureka_app_instance_vip_address"], "orders");
    // the instance ID is the target's instance label, as in Prometheus
    assert_eq!(t["labels"]["instance"], id.as_str());
    s.eventually(10, "orders scraped", || {
        s.value(&format!("eureka_demo{{instance=\"{id}\"}}")) == Some(1.0)
    });
    s.eventually(10, "the Alertmanager from Eureka", || {
        let (_, v) = s.api("/api/v1/alertmanagers");
        v["data"]["activeAlertmanagers"]
            .as_array()
            .is_some_and(|x| {
                x.iter()
                    .any(|m| m["url"] == format!("http://{}/api/v2/alerts", am.addr).as_str())
            })
    });

    // a second instance, then the first one goes
    let second = Instance::new("orders", "127.0.0.1", port(&b));
    eureka.register(&second, AUTH);
    let took = wait_for("the second instance", 5, || {
        targets(&s, "apps").contains_key(&b.addr)
    });
    println!("eureka: a registered instance appeared in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    eureka.deregister("orders", &id);
    let took = wait_for("the first gone", 5, || {
        !targets(&s, "apps").contains_key(&a.addr)
    });
    println!("eureka: a deregistered instance went in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // failures keep the targets, one log line per cause
    for (fault, cause) in [
        (Fault::Unavailable, "status 503"),
        (Fault::Garbage, "undecodable"),
    ] {
        eureka.set_fault(fault);
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(targets(&s, "apps").len(), 1, "under {fault:?}");
        let log = s.log_text();
        let lines = log
            .lines()
            .filter(|l| l.contains("discovery=eureka") && l.contains(cause))
            .count();
        // the scrape job and the Alertmanagers: one line each
        assert_eq!(lines, 2, "{cause}:\n{log}");
    }
    eureka.set_fault(Fault::None);
    // every request authenticated; no Accept asking for JSON
    let reqs = eureka.requests();
    assert!(reqs
        .iter()
        .filter(|r| r.method == "GET")
        .all(|r| r.path == "/eureka/apps"
            && r.header("authorization").is_some()
            && r.header("accept") != Some("application/json")));
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains("eureka_sd_configs") && !yaml.contains("s3cret"),
        "{yaml}"
    );
}
