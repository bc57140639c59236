//! Hetzner discovery against stand-ins of the Cloud and Robot APIs at
//! their real HTTPS names (`tests/standin/hetzner.rs`), reached through
//! `proxy_url` and trusted through `tls_config.ca_file`: servers page by
//! page with a label selector, Prometheus's labels, changes within the
//! refresh interval, failures that keep the targets.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::Server;
use crate::common::{discovered_targets as targets, wait_for};
use crate::standin::hetzner::{
    network, robot_server, server, Fault, Hetzner, ROBOT_PASSWORD, ROBOT_USER, TOKEN,
};

fn meta_names(t: &Value) -> BTreeSet<String> {
    t["discoveredLabels"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("__meta_"))
        .cloned()
        .collect()
}

#[test]
fn cloud_and_robot_servers() {
    let h = Hetzner::start();
    h.add_network(network(4711, "backend-net"));
    h.add_network(network(4712, "other"));
    // 60 servers to find, over two pages of 50, and 5 the selector leaves
    for i in 1..=65 {
        let env = if i <= 60 { "prod" } else { "dev" };
        h.add_server(server(
            i,
            &format!("web-{i}"),
            Some(&format!("203.0.113.{i}")),
            json!({"env": env, "app.kubernetes.io/name": "web"}),
            &[(4711, &format!("10.0.0.{i}"))],
        ));
    }
    h.add_server(server(100, "no-ipv4", None, json!({"env": "prod"}), &[]));
    h.add_robot_server(robot_server(
        321,
        "dedicated-1",
        "198.51.100.7",
        "FSN1-DC14",
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &h.ca_pem).unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: hcloud
    hetzner_sd_configs:
      - role: hcloud
        port: 9100
        label_selector: env=prod
        refresh_interval: 500ms
        authorization: {{credentials: {TOKEN}}}
        proxy_url: http://{proxy}
        tls_config: {{ca_file: ca.pem}}
  - job_name: robot
    hetzner_sd_configs:
      - role: robot
        port: 9100
        refresh_interval: 500ms
        basic_auth: {{username: '{ROBOT_USER}', password: {ROBOT_PASSWORD}}}
        proxy_url: http://{proxy}
        tls_config: {{ca_file: ca.pem}}
",
        proxy = h.proxy
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("61 cloud servers", 10, || targets(&s, "hcloud").len() == 61);
    let t = &targets(&s, "hcloud")["203.0.113.7:9100"];
    let want: BTreeSet<String> = [
        "role",
        "server_id",
        "server_name",
        "server_status",
        "public_ipv4",
        "public_ipv6_network",
        "hcloud_image_name",
        "hcloud_image_description",
        "hcloud_image_os_flavor",
        "hcloud_image_os_version",
        "hcloud_location",
        "hcloud_location_network_zone",
        "hcloud_datacenter_location",
        "hcloud_datacenter_location_network_zone",
        "hcloud_server_type",
        "hcloud_cpu_cores",
        "hcloud_cpu_type",
        "hcloud_memory_size_gb",
        "hcloud_disk_size_gb",
        "hcloud_private_ipv4_backend_net",
        "hcloud_label_env",
        "hcloud_labelpresent_env",
        "hcloud_label_app_kubernetes_io_name",
        "hcloud_labelpresent_app_kubernetes_io_name",
    ]
    .iter()
    .map(|n| format!("__meta_hetzner_{n}"))
    .collect();
    assert_eq!(meta_names(t), want);
    let d = &t["discoveredLabels"];
    assert_eq!(d["__meta_hetzner_role"], "hcloud");
    assert_eq!(d["__meta_hetzner_server_id"], "7");
    assert_eq!(
        d["__meta_hetzner_public_ipv6_network"],
        "2a01:4f8:c012:7::/64"
    );
    assert_eq!(
        d["__meta_hetzner_hcloud_private_ipv4_backend_net"],
        "10.0.0.7"
    );
    assert_eq!(d["__meta_hetzner_hcloud_location"], "fsn1");
    assert_eq!(
        d["__meta_hetzner_hcloud_location_network_zone"],
        "eu-central"
    );
    assert_eq!(d["__meta_hetzner_hcloud_memory_size_gb"], "4");
    assert_eq!(d["__meta_hetzner_hcloud_cpu_type"], "shared");
    assert_eq!(d["__meta_hetzner_hcloud_image_os_flavor"], "ubuntu");
    assert_eq!(d["__meta_hetzner_hcloud_labelpresent_env"], "true");
    // a server without a public IPv4 address: as Go prints a missing one
    assert!(targets(&s, "hcloud").contains_key("<nil>:9100"));

    wait_for("the robot server", 10, || targets(&s, "robot").len() == 1);
    let r = &targets(&s, "robot")["198.51.100.7:9100"];
    let want: BTreeSet<String> = [
        "role",
        "server_id",
        "server_name",
        "server_status",
        "public_ipv4",
        "public_ipv6_network",
        "datacenter",
        "robot_datacenter",
        "robot_product",
        "robot_cancelled",
    ]
    .iter()
    .map(|n| format!("__meta_hetzner_{n}"))
    .collect();
    assert_eq!(meta_names(r), want);
    let d = &r["discoveredLabels"];
    assert_eq!(d["__meta_hetzner_robot_datacenter"], "fsn1-dc14");
    assert_eq!(
        d["__meta_hetzner_public_ipv6_network"],
        "2a01:4f8:111:4221::/64"
    );
    assert_eq!(d["__meta_hetzner_server_id"], "321");

    // the real names through the proxy, pages of 50, the selector sent
    let connects: BTreeSet<String> = h.connects().into_iter().collect();
    assert!(connects.contains("api.hetzner.cloud:443"), "{connects:?}");
    assert!(
        connects.contains("robot-ws.your-server.de:443"),
        "{connects:?}"
    );
    let reqs = h.requests();
    let server_pages: BTreeSet<(String, String)> = reqs
        .iter()
        .filter(|r| r.path == "/v1/servers")
        .map(|r| {
            assert_eq!(r.param("label_selector"), Some("env=prod"));
            (
                r.param("page").unwrap().to_string(),
                r.param("per_page").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        server_pages,
        [
            ("1".to_string(), "50".to_string()),
            ("2".to_string(), "50".to_string())
        ]
        .into_iter()
        .collect()
    );
    assert!(reqs.iter().any(|r| r.path == "/v1/networks"));

    // a server more, one less, within the refresh interval
    h.add_server(server(
        200,
        "new",
        Some("203.0.113.200"),
        json!({"env": "prod"}),
        &[],
    ));
    let took = wait_for("the new server", 5, || {
        targets(&s, "hcloud").contains_key("203.0.113.200:9100")
    });
    println!("hetzner: a new server appeared in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    h.remove_server(7);
    let took = wait_for("server 7 gone", 5, || {
        !targets(&s, "hcloud").contains_key("203.0.113.7:9100")
    });
    println!("hetzner: a removed server went in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // failures keep the targets, one line per cause, with the API's words
    for (fault, cause) in [
        (Fault::RateLimited, "rate_limit_exceeded"),
        (Fault::ServerError, "status 500"),
    ] {
        h.set_fault(fault);
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(targets(&s, "hcloud").len(), 61, "under {fault:?}");
        assert_eq!(targets(&s, "robot").len(), 1, "under {fault:?}");
        let log = s.log_text();
        let lines = log
            .lines()
            .filter(|l| l.contains("discovery=hetzner") && l.contains(cause))
            .count();
        let want = if fault == Fault::RateLimited { 1 } else { 2 };
        assert_eq!(lines, want, "{cause}:\n{log}");
    }
    h.set_fault(Fault::None);
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(
        !yaml.contains(TOKEN) && !yaml.contains(ROBOT_PASSWORD),
        "{yaml}"
    );
}

#[test]
fn a_wrong_token_is_logged_and_finds_nothing() {
    let h = Hetzner::start();
    h.add_server(server(1, "a", Some("203.0.113.1"), json!({}), &[]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &h.ca_pem).unwrap();
    let cfg = format!(
        "scrape_configs:\n  - job_name: hcloud\n    hetzner_sd_configs:\n      - role: hcloud\n        refresh_interval: 200ms\n        bearer_token: wrong\n        proxy_url: http://{}\n        tls_config: {{ca_file: ca.pem}}\n",
        h.proxy
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(10, "the error logged", || {
        s.log_text()
            .contains("unable to authenticate (unauthorized)")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(targets(&s, "hcloud").is_empty());
    let lines = s
        .log_text()
        .lines()
        .filter(|l| l.contains("discovery=hetzner"))
        .count();
    assert_eq!(lines, 1, "{}", s.log_text());
}
