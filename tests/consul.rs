//! Consul discovery against the agent stand-in (`tests/standin/consul.rs`):
//! services and instances become targets with Prometheus's labels and
//! follow registrations within a second through blocking queries; tags,
//! node metadata, filters, datacenter, token, path prefix and basic
//! authentication reach the agent as Consul's client sends them; an
//! agent that fails keeps the last targets; Alertmanagers are found too.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{discovered_targets as targets, wait_for};
use crate::common::{http_get, MockTarget, Server};
use crate::standin::consul::{Consul, Fault, Instance, Setup};

/// A firing alert found no Alertmanager until discovery found one: it
/// is sent again after this, not after the default minute.
const RESEND: &str = "--rules.alert.resend-delay=1s";

fn port(t: &MockTarget) -> u16 {
    t.addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// The `__meta_consul_*` names Prometheus documents, with the keys of
/// the node's metadata, the service's metadata and the node's tagged
/// addresses that the instance has; and `__meta_consul_namespace`, which
/// Prometheus's code sets though its documentation does not name it.
fn documented(node_meta: &[&str], service_meta: &[&str], tagged: &[&str]) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = [
        "address",
        "dc",
        "health",
        "partition",
        "node",
        "service_address",
        "service_id",
        "service_port",
        "service",
        "tags",
        "namespace",
    ]
    .iter()
    .map(|n| format!("__meta_consul_{n}"))
    .collect();
    for k in node_meta {
        s.insert(format!("__meta_consul_metadata_{k}"));
    }
    for k in service_meta {
        s.insert(format!("__meta_consul_service_metadata_{k}"));
    }
    for k in tagged {
        s.insert(format!("__meta_consul_tagged_address_{k}"));
    }
    s
}

const TAGGED: &[&str] = &["lan", "lan_ipv4", "wan", "wan_ipv4"];

#[test]
fn services_come_and_go_within_a_second() {
    let consul = Consul::start();
    let a = MockTarget::start("consul_demo 1\n");
    let b = MockTarget::start("consul_demo 2\n");
    consul.register(
        Instance::new("web", "web-a", "node-1", "127.0.0.1", port(&a))
            .tags(&["prod", "http"])
            .meta("version", "1.2")
            .node_meta("rack-id", "r1")
            .check("web-a-http", "passing"),
    );
    consul.register(Instance::new("db", "db-0", "node-2", "127.0.0.2", 5432).tags(&["prod"]));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: all\n    consul_sd_configs:\n      - server: {addr}\n        refresh_interval: 200ms\n  - job_name: http\n    consul_sd_configs:\n      - server: {addr}\n        tags: [http]\n        refresh_interval: 200ms\n    relabel_configs:\n      - source_labels: [__meta_consul_service_id]\n        target_label: instance_id\n",
        addr = consul.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("both services", 10, || targets(&s, "all").len() == 2);
    let all = targets(&s, "all");
    let web = &all[&a.addr]["discoveredLabels"];
    let names: BTreeSet<String> = web
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("__meta_"))
        .cloned()
        .collect();
    assert_eq!(
        names,
        documented(&["rack_id", "consul_network_segment"], &["version"], TAGGED)
    );
    assert_eq!(web["__meta_consul_service"], "web");
    assert_eq!(web["__meta_consul_dc"], "dc1");
    assert_eq!(web["__meta_consul_node"], "node-1");
    assert_eq!(web["__meta_consul_address"], "127.0.0.1");
    assert_eq!(web["__meta_consul_service_address"], "");
    assert_eq!(web["__meta_consul_service_port"], port(&a).to_string());
    assert_eq!(web["__meta_consul_service_id"], "web-a");
    assert_eq!(web["__meta_consul_tags"], ",prod,http,");
    assert_eq!(web["__meta_consul_health"], "passing");
    assert_eq!(web["__meta_consul_metadata_rack_id"], "r1");
    assert_eq!(web["__meta_consul_service_metadata_version"], "1.2");
    assert_eq!(web["__meta_consul_tagged_address_lan"], "127.0.0.1");
    assert_eq!(
        all["127.0.0.2:5432"]["discoveredLabels"]["__meta_consul_tags"],
        ",prod,"
    );
    // only the tagged instances in the other job
    wait_for("the tagged job", 10, || targets(&s, "http").len() == 1);
    assert_eq!(
        targets(&s, "http")[&a.addr]["labels"]["instance_id"],
        "web-a"
    );
    s.eventually(10, "web-a scraped", || {
        s.value("consul_demo{job=\"http\"}") == Some(1.0)
    });

    // an instance registered: a target within a second, in both jobs
    consul.register(
        Instance::new("web", "web-b", "node-3", "10.9.9.9", 1)
            .address("127.0.0.1")
            .tags(&["http"]),
    );
    let took = wait_for("web-b", 5, || {
        targets(&s, "all").contains_key("127.0.0.1:1") && targets(&s, "http").len() == 2
    });
    println!("consul: web-b took {took:?}");
    assert!(took < Duration::from_secs(1), "web-b took {took:?}");
    let t = &targets(&s, "all")["127.0.0.1:1"]["discoveredLabels"];
    // the service's address wins over the node's
    assert_eq!(t["__meta_consul_address"], "10.9.9.9");
    assert_eq!(t["__meta_consul_service_address"], "127.0.0.1");
    // a new service: the catalog watch sees it, its instances follow
    consul.register(
        Instance::new("cache", "cache-0", "node-1", "127.0.0.1", port(&b)).tags(&["http"]),
    );
    let took = wait_for("the new service", 5, || {
        targets(&s, "all").contains_key(&b.addr) && targets(&s, "http").contains_key(&b.addr)
    });
    println!("consul: a new service took {took:?}");
    assert!(took < Duration::from_secs(1), "a new service took {took:?}");
    // a failing check changes the health label
    consul.set_check("web", "web-a", "web-a-http", "critical");
    let took = wait_for("critical", 5, || {
        targets(&s, "all")[&a.addr]["discoveredLabels"]["__meta_consul_health"] == "critical"
    });
    println!("consul: a check took {took:?}");
    assert!(took < Duration::from_secs(1), "a check took {took:?}");
    // deregistered: gone within a second, and so are the series
    consul.deregister("web", "web-a");
    let took = wait_for("web-a gone", 5, || {
        !targets(&s, "all").contains_key(&a.addr)
    });
    println!("consul: web-a went in {took:?}");
    assert!(took < Duration::from_secs(1), "web-a went in {took:?}");
    s.eventually(10, "web-a stale", || {
        s.query("consul_demo{job=\"http\",instance_id=\"web-a\"}")
            .is_empty()
    });
    consul.deregister("cache", "cache-0");
    let took = wait_for("the service gone", 5, || {
        !targets(&s, "all").contains_key(&b.addr)
    });
    println!("consul: a service went in {took:?}");
    assert!(took < Duration::from_secs(1), "a service went in {took:?}");

    // blocking queries as Consul's client asks them, and no busy loop:
    // idle, each watch holds one request open
    let reqs = consul.requests();
    let watch = reqs
        .iter()
        .rfind(|r| r.path == "/v1/health/service/web" && r.has_param("index"))
        .expect("a blocking query on web");
    assert_eq!(watch.param("wait"), Some("120000ms"));
    assert!(watch.has_param("stale"));
    assert!(reqs.iter().any(|r| r.path == "/v1/agent/self"));
    assert!(reqs
        .iter()
        .filter(|r| r.path == "/v1/health/service/web")
        .all(|r| r.param("dc").is_none()));
    let tagged: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/v1/health/service/") && !r.params("tag").is_empty())
        .collect();
    assert!(tagged.iter().all(|r| r.params("tag") == vec!["http"]));
    assert!(!tagged.is_empty());
    // (the watches woken by the last change ask again within the refresh
    // interval: let them)
    std::thread::sleep(Duration::from_secs(1));
    let before = consul.request_count();
    std::thread::sleep(Duration::from_secs(3));
    let idle: Vec<String> = consul.requests()[before..]
        .iter()
        .map(|r| format!("{}?{}", r.path, r.raw_query))
        .collect();
    assert!(
        idle.is_empty(),
        "{} requests in 3 s without changes: {idle:#?}",
        idle.len()
    );
}

#[test]
fn named_services_datacenter_token_and_filters_reach_consul() {
    let consul = Consul::start_with(Setup {
        datacenter: "eu-west".into(),
        token: Some("s3cr3t-token".into()),
        path_prefix: "/consul".into(),
        authorization: Some(format!(
            "Basic {}",
            crate::common::base64_encode(b"prom:hunter2")
        )),
        enterprise: true,
    });
    consul.register(
        Instance::new("api", "api-1", "n1", "10.0.0.1", 8080)
            .tags(&["v2"])
            .node_meta("env", "prod"),
    );
    consul.register(
        Instance::new("api", "api-2", "n2", "10.0.0.2", 8080)
            .tags(&["v1"])
            .node_meta("env", "prod"),
    );
    consul.register(
        Instance::new("api", "api-3", "n3", "10.0.0.3", 8080)
            .tags(&["v2"])
            .node_meta("env", "dev"),
    );
    consul.register(Instance::new("other", "o-1", "n1", "10.0.0.1", 9000));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: named
    consul_sd_configs:
      - server: {addr}
        path_prefix: /consul
        datacenter: eu-west
        namespace: team-a
        partition: part-1
        token: s3cr3t-token
        username: prom
        password: hunter2
        allow_stale: false
        tag_separator: '|'
        services: [api]
        node_meta: {{env: prod}}
        health_filter: '\"v2\" in Service.Tags'
        refresh_interval: 200ms
  - job_name: filtered
    consul_sd_configs:
      - server: http://{addr}/consul
        datacenter: eu-west
        token: s3cr3t-token
        basic_auth: {{username: prom, password: hunter2}}
        filter: 'ServiceName != \"other\"'
        refresh_interval: 200ms
",
        addr = consul.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("api-1 alone", 10, || {
        let t = targets(&s, "named");
        t.len() == 1 && t.contains_key("10.0.0.1:8080")
    });
    wait_for("the filtered job", 10, || {
        targets(&s, "filtered").len() == 3
    });
    let t = &targets(&s, "named")["10.0.0.1:8080"]["discoveredLabels"];
    assert_eq!(t["__meta_consul_dc"], "eu-west");
    assert_eq!(t["__meta_consul_tags"], "|v2|");
    assert_eq!(t["__meta_consul_namespace"], "default");
    assert_eq!(t["__meta_consul_partition"], "default");
    assert!(targets(&s, "filtered")
        .values()
        .all(|t| t["discoveredLabels"]["__meta_consul_service"] == "api"));
    let reqs = consul.requests();
    // the named job never lists the catalog, nor asks the agent its
    // datacenter; every request of it carries the options
    let named: Vec<_> = reqs
        .iter()
        .filter(|r| r.param("ns") == Some("team-a"))
        .collect();
    assert!(!named.is_empty());
    for r in &named {
        assert_eq!(r.path, "/consul/v1/health/service/api", "{r:?}");
        assert_eq!(r.param("dc"), Some("eu-west"));
        assert_eq!(r.param("partition"), Some("part-1"));
        assert_eq!(r.params("node-meta"), vec!["env:prod"]);
        assert_eq!(r.param("filter"), Some("\"v2\" in Service.Tags"));
        assert!(!r.has_param("stale"));
        assert_eq!(r.header("x-consul-token"), Some("s3cr3t-token"));
    }
    assert!(reqs.iter().any(|r| r.path == "/consul/v1/catalog/services"
        && r.param("filter") == Some("ServiceName != \"other\"")));
    assert!(reqs.iter().all(|r| r.path != "/consul/v1/agent/self"));
    // secrets are not shown
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(
        !yaml.contains("hunter2") && !yaml.contains("s3cr3t"),
        "{yaml}"
    );
    assert!(yaml.contains("token: <secret>"), "{yaml}");
    assert!(yaml.contains("password: <secret>"), "{yaml}");
}

#[test]
fn a_failing_agent_keeps_the_targets() {
    let consul = Consul::start();
    consul.register(Instance::new("web", "w1", "n1", "10.0.0.1", 80));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:\n  - job_name: c\n    consul_sd_configs:\n      - server: {}\n        refresh_interval: 100ms\n",
        consul.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("w1", 10, || targets(&s, "c").len() == 1);
    for (fault, cause) in [
        (Fault::NoLeader, "status 500"),
        (Fault::Garbage, "undecodable"),
    ] {
        consul.set_fault(fault);
        let before = consul.request_count();
        std::thread::sleep(Duration::from_secs(4));
        // two watches (catalog, web), each waiting 15 s after an error
        let made = consul.request_count() - before;
        assert!(made <= 4, "{made} requests in 4 s under {fault:?}");
        assert_eq!(targets(&s, "c").len(), 1, "targets kept under {fault:?}");
        let log = s.log_text();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("discovery=consul") && l.contains(cause))
            .collect();
        assert!(
            (1..=2).contains(&lines.len()),
            "{} lines for {cause}:\n{log}",
            lines.len()
        );
        consul.set_fault(Fault::None);
        std::thread::sleep(Duration::from_secs(16));
    }
    assert!(s.log_text().contains("Error refreshing service list"));
    assert!(s.log_text().contains("Error refreshing service"));
    // recovered: changes are followed again
    consul.register(Instance::new("web", "w2", "n2", "10.0.0.2", 80));
    wait_for("w2 after the faults", 20, || targets(&s, "c").len() == 2);
    let (_, metrics) = http_get(&s.addr, "/metrics").unwrap();
    let failures: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("prometheus_sd_consul_rpc_failures_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(failures >= 2.0, "{failures}");
}

#[test]
fn alertmanagers_found_in_consul() {
    let am = crate::common::MockReceiver::start(crate::common::Answer::status(200));
    let consul = Consul::start();
    let (host, p) = am.addr.rsplit_once(':').unwrap();
    consul.register(Instance::new(
        "alertmanager",
        "am-0",
        "n1",
        host,
        p.parse().unwrap(),
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Always\n        expr: vector(1)\n",
    )
    .unwrap();
    let cfg = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - consul_sd_configs:\n        - server: {}\n          services: [alertmanager]\n          refresh_interval: 200ms\n",
        consul.addr
    );
    let s = Server::start(dir.path(), &cfg, &[RESEND]);
    let want = format!("http://{}/api/v2/alerts", am.addr);
    s.eventually(30, "the Alertmanager from Consul", || {
        let (_, v) = s.api("/api/v1/alertmanagers");
        v["data"]["activeAlertmanagers"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["url"] == want.as_str()))
    });
    s.eventually(30, "an alert sent", || {
        am.requests().iter().any(|r| {
            r.path == "/api/v2/alerts" && String::from_utf8_lossy(&r.body).contains("Always")
        })
    });
    consul.deregister("alertmanager", "am-0");
    let took = wait_for("the Alertmanager gone", 5, || {
        let (_, v) = s.api("/api/v1/alertmanagers");
        v["data"]["activeAlertmanagers"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    });
    println!("consul: the Alertmanager went in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}
