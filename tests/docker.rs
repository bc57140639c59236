//! Docker and Docker Swarm discovery against the Engine API stand-in
//! (`tests/standin/docker.rs`, itself checked with the official Python
//! SDK): containers over a unix socket and TCP, swarm services, tasks and
//! nodes become targets with Prometheus's labels, follow changes within a
//! refresh interval, keep their targets while the daemon fails.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{discovered_targets as targets, wait_for};
use crate::common::{MockTarget, Server};
use crate::standin::docker::{container, network, DockerEngine, Fault};

/// A firing alert found no Alertmanager until discovery found one: it
/// is sent again after this, not after the default minute.
const RESEND: &str = "--rules.alert.resend-delay=1s";

fn meta_names(t: &Value) -> BTreeSet<String> {
    t["discoveredLabels"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("__meta_"))
        .cloned()
        .collect()
}

fn names(prefix: &str, list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|n| format!("{prefix}{n}")).collect()
}

fn port(t: &MockTarget) -> u16 {
    t.addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// The labels Prometheus documents for a container target (with one
/// container label and one network label; the public port ones only for
/// published ports).
fn docker_labels(published: bool) -> BTreeSet<String> {
    let mut l = names(
        "__meta_docker_",
        &[
            "container_id",
            "container_name",
            "container_image",
            "container_image_id",
            "container_network_mode",
            "container_label_prometheus_job",
            "network_id",
            "network_name",
            "network_ingress",
            "network_internal",
            "network_label_com_example_stage",
            "network_scope",
            "network_ip",
            "port_private",
        ],
    );
    if published {
        l.extend(names("__meta_docker_", &["port_public", "port_public_ip"]));
    }
    l
}

#[test]
fn containers_over_a_unix_socket_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let engine = DockerEngine::start(Some(&sock));
    let web = MockTarget::start("docker_demo 1\n");
    let web2 = MockTarget::start("docker_demo 2\n");
    engine.add_network(network(
        "5f3e2d1c0b9a",
        "shop",
        "local",
        false,
        false,
        json!({"com.example.stage": "prod"}),
    ));
    engine.add_network(network(
        "9a8b7c6d5e4f",
        "zz-backend",
        "local",
        true,
        false,
        json!({"com.example.stage": "prod"}),
    ));
    engine.add_container(container(
        "c0ffee01",
        "shop-web-1",
        "shop/web:2",
        json!({"prometheus-job": "web"}),
        &[
            ("shop", "5f3e2d1c0b9a", "127.0.0.1"),
            ("zz-backend", "9a8b7c6d5e4f", "172.21.0.2"),
        ],
        &[(port(&web), 0, "tcp"), (53, 0, "udp")],
    ));
    engine.add_container(container(
        "c0ffee02",
        "shop-proxy-1",
        "nginx:1.27",
        json!({"prometheus-job": "proxy"}),
        &[("shop", "5f3e2d1c0b9a", "172.20.0.3")],
        &[(80, 8080, "tcp")],
    ));
    let mut host = container(
        "c0ffee03",
        "node-exporter",
        "prom/node-exporter",
        json!({"prometheus-job": "node"}),
        &[("host", "0c1f2e3d4a5b", "")],
        &[],
    );
    host["HostConfig"]["NetworkMode"] = json!("host");
    engine.add_container(host);
    engine.add_container(container(
        "c0ffee04",
        "worker",
        "shop/worker:1",
        json!({"prometheus-job": "worker"}),
        &[("shop", "5f3e2d1c0b9a", "172.20.0.4")],
        &[],
    ));
    let am = crate::common::MockReceiver::start(crate::common::Answer::status(200));
    let (_, am_port) = am.addr.rsplit_once(':').unwrap();
    engine.add_container(container(
        "c0ffee05",
        "alertmanager",
        "prom/alertmanager",
        json!({"prometheus-job": "alertmanager"}),
        &[("shop", "5f3e2d1c0b9a", "127.0.0.1")],
        &[(am_port.parse().unwrap(), 0, "tcp")],
    ));
    let cfg = format!(
        "global:
  scrape_interval: 1s
alerting:
  alertmanagers:
    - docker_sd_configs:
        - host: tcp://{addr}
          refresh_interval: 1s
          filters: [{{name: label, values: [prometheus-job=alertmanager]}}]
scrape_configs:
  - job_name: unix
    docker_sd_configs:
      - host: unix://{sock}
        port: 9100
        host_networking_host: docker-host
        refresh_interval: 1s
  - job_name: tcp
    docker_sd_configs:
      - host: tcp://{addr}
        refresh_interval: 1s
        filters:
          - name: label
            values: [prometheus-job=web]
    relabel_configs:
      - source_labels: [__meta_docker_container_name]
        target_label: container
  - job_name: http
    docker_sd_configs:
      - host: http://{addr}
        match_first_network: false
        refresh_interval: 1s
        basic_auth: {{username: u, password: hunter2}}
",
        addr = engine.addr,
        sock = sock.display()
    );
    let s = Server::start(dir.path(), &cfg, &[RESEND]);
    wait_for("the containers over the socket", 10, || {
        targets(&s, "unix").len() == 5
    });
    let t = targets(&s, "unix");
    // match_first_network: "shop" sorts before "zz-backend"
    let w = &t[&web.addr];
    assert_eq!(meta_names(w), docker_labels(false));
    let d = &w["discoveredLabels"];
    assert_eq!(d["__meta_docker_container_name"], "/shop-web-1");
    assert_eq!(d["__meta_docker_container_id"], "c0ffee01");
    assert_eq!(d["__meta_docker_container_network_mode"], "shop");
    assert_eq!(d["__meta_docker_container_label_prometheus_job"], "web");
    assert_eq!(d["__meta_docker_network_name"], "shop");
    assert_eq!(d["__meta_docker_network_label_com_example_stage"], "prod");
    assert_eq!(d["__meta_docker_network_internal"], "false");
    assert_eq!(d["__meta_docker_network_scope"], "local");
    assert_eq!(d["__meta_docker_port_private"], port(&web).to_string());
    let p = &t["172.20.0.3:80"];
    assert_eq!(meta_names(p), docker_labels(true));
    assert_eq!(p["discoveredLabels"]["__meta_docker_port_public"], "8080");
    // no TCP port: the configured one; host networking: the host's name
    assert!(t.contains_key("172.20.0.4:9100"), "{:?}", t.keys());
    assert_eq!(
        t["docker-host"]["discoveredLabels"]["__meta_docker_network_ip"],
        ""
    );
    // every network of the container when asked
    wait_for("the http job", 10, || targets(&s, "http").len() == 6);
    assert!(targets(&s, "http").contains_key(&format!("172.21.0.2:{}", port(&web))));
    // the filter reaches the daemon and leaves one container
    wait_for("the tcp job", 10, || targets(&s, "tcp").len() == 1);
    s.eventually(10, "web scraped over tcp", || {
        s.value("docker_demo{job=\"tcp\",container=\"/shop-web-1\"}") == Some(1.0)
    });
    s.eventually(10, "the Alertmanager from Docker", || {
        let (_, v) = s.api("/api/v1/alertmanagers");
        v["data"]["activeAlertmanagers"]
            .as_array()
            .is_some_and(|a| {
                a.iter()
                    .any(|x| x["url"] == format!("http://{}/api/v2/alerts", am.addr).as_str())
            })
    });

    // a new container: a target within the refresh interval (1 s)
    engine.add_container(container(
        "c0ffee06",
        "shop-web-2",
        "shop/web:2",
        json!({"prometheus-job": "web"}),
        &[("shop", "5f3e2d1c0b9a", "127.0.0.1")],
        &[(port(&web2), 0, "tcp")],
    ));
    let took = wait_for("shop-web-2", 5, || {
        targets(&s, "tcp").contains_key(&web2.addr)
    });
    println!("docker: a new container appeared in {took:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    engine.remove_container("c0ffee01");
    let took = wait_for("shop-web-1 gone", 5, || {
        !targets(&s, "tcp").contains_key(&web.addr) && !targets(&s, "unix").contains_key(&web.addr)
    });
    println!("docker: a removed container went in {took:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");

    let reqs = engine.requests();
    // the API version agreed by /_ping, the filter as Docker's client
    // writes it; credentials only for the http:// host
    assert!(reqs.iter().any(|r| r.path == "/_ping"));
    let listed: Vec<_> = reqs
        .iter()
        .filter(|r| r.path == "/v1.47/containers/json")
        .collect();
    assert!(listed
        .iter()
        .any(|r| r.param("filters") == Some(r#"{"label":{"prometheus-job=web":true}}"#)));
    assert!(reqs.iter().any(|r| r.path == "/v1.47/networks"));
    let authorized: Vec<_> = reqs
        .iter()
        .filter(|r| r.header("authorization").is_some())
        .collect();
    assert!(!authorized.is_empty());
    assert!(authorized
        .iter()
        .all(|r| r.param("filters").is_none() && r.header("user-agent").is_some()));
    // about one listing a second per job (three jobs and the Alertmanagers)
    let before = engine.request_count();
    std::thread::sleep(Duration::from_secs(3));
    let made = engine.request_count() - before;
    assert!((12..=40).contains(&made), "{made} requests in 3 s");
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains("password: <secret>") && !yaml.contains("hunter2"),
        "{yaml}"
    );
}

#[test]
fn a_failing_daemon_keeps_the_targets() {
    let dir = tempfile::tempdir().unwrap();
    let engine = DockerEngine::start(None);
    engine.add_container(container(
        "a1",
        "app",
        "app:1",
        json!({}),
        &[("bridge", "7a2c9d1f0e55", "172.17.0.2")],
        &[(8080, 0, "tcp")],
    ));
    let cfg = format!(
        "scrape_configs:\n  - job_name: d\n    docker_sd_configs:\n      - host: tcp://{}\n        refresh_interval: 200ms\n  - job_name: not-a-swarm\n    dockerswarm_sd_configs:\n      - host: tcp://{}\n        role: tasks\n        refresh_interval: 200ms\n",
        engine.addr, engine.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("a1", 10, || targets(&s, "d").len() == 1);
    for (fault, cause) in [
        (Fault::ServerError, "status 500"),
        (Fault::Garbage, "undecodable"),
    ] {
        engine.set_fault(fault);
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(targets(&s, "d").len(), 1, "targets kept under {fault:?}");
        let log = s.log_text();
        let lines = log
            .lines()
            .filter(|l| l.contains("discovery=docker ") && l.contains(cause))
            .count();
        assert_eq!(lines, 1, "lines for {cause}:\n{log}");
        engine.set_fault(Fault::None);
    }
    engine.remove_container("a1");
    let took = wait_for("recovered", 5, || targets(&s, "d").is_empty());
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // a daemon outside a swarm: its message, once
    let log = s.log_text();
    let swarm: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("discovery=dockerswarm") && l.contains("status 503"))
        .collect();
    assert_eq!(swarm.len(), 1, "{log}");
    assert!(
        swarm[0].contains("error while listing swarm tasks")
            && swarm[0].contains("This node is not a swarm manager"),
        "{}",
        swarm[0]
    );
}

fn swarm_node(id: &str, hostname: &str, addr: &str, role: &str) -> Value {
    let mut n = json!({
        "ID": id, "Version": {"Index": 9}, "CreatedAt": "2024-10-01T10:00:00Z", "UpdatedAt": "2024-10-01T10:00:00Z",
        "Spec": {"Labels": {"zone": "eu-1a"}, "Role": role, "Availability": "active"},
        "Description": {"Hostname": hostname, "Platform": {"Architecture": "x86_64", "OS": "linux"},
                        "Resources": {"NanoCPUs": 2000000000, "MemoryBytes": 4000000000u64},
                        "Engine": {"EngineVersion": "27.3.1", "Plugins": []},
                        "TLSInfo": {}},
        "Status": {"State": "ready", "Addr": addr}
    });
    if role == "manager" {
        n["ManagerStatus"] =
            json!({"Leader": true, "Reachability": "reachable", "Addr": format!("{addr}:2377")});
    }
    n
}

fn swarm_service(id: &str, name: &str, published: Option<u32>, vip: &str) -> Value {
    let ports: Vec<Value> = published
        .map(|p| {
            vec![json!({"Name": "metrics", "Protocol": "tcp", "TargetPort": 9100, "PublishedPort": p, "PublishMode": "ingress"})]
        })
        .unwrap_or_default();
    json!({
        "ID": id, "Version": {"Index": 20}, "CreatedAt": "2024-10-01T10:00:00Z", "UpdatedAt": "2024-10-01T10:00:00Z",
        "Spec": {"Name": name, "Labels": {"com.example.team": "shop"},
                 "TaskTemplate": {"ContainerSpec": {"Image": format!("shop/{name}:1@sha256:ab"), "Hostname": format!("{name}-{{{{.Task.Slot}}}}"), "Isolation": "default"},
                                  "ForceUpdate": 0, "Runtime": "container"},
                 "Mode": {"Replicated": {"Replicas": 2}},
                 "EndpointSpec": {"Mode": "vip", "Ports": ports}},
        "Endpoint": {"Spec": {"Mode": "vip", "Ports": ports}, "Ports": ports,
                     "VirtualIPs": [{"NetworkID": "ingress0001", "Addr": vip}]},
        "UpdateStatus": {"State": "completed", "StartedAt": "2024-10-01T10:00:00Z", "Message": "update completed"}
    })
}

fn swarm_task(id: &str, service: &str, node: &str, slot: u32, addr: &str) -> Value {
    json!({
        "ID": id, "Version": {"Index": 30}, "CreatedAt": "2024-10-01T10:00:00Z", "UpdatedAt": "2024-10-01T10:00:00Z",
        "Labels": {}, "Spec": {"ContainerSpec": {"Image": "shop/web:1", "Labels": {"com.example.tier": "front"}},
                               "ForceUpdate": 0},
        "ServiceID": service, "Slot": slot, "NodeID": node,
        "Status": {"Timestamp": "2024-10-01T10:00:00Z", "State": "running", "Message": "started",
                   "ContainerStatus": {"ContainerID": format!("ctr-{id}"), "PID": 100, "ExitCode": 0},
                   "PortStatus": {}},
        "DesiredState": "running",
        "NetworksAttachments": [{"Network": {"ID": "ingress0001", "Spec": {"Name": "ingress"}}, "Addresses": [addr]}]
    })
}

#[test]
fn swarm_services_tasks_and_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = DockerEngine::start(None);
    engine.init_swarm();
    engine.add_network(network(
        "ingress0001",
        "ingress",
        "swarm",
        false,
        true,
        json!({"com.example.stage": "prod"}),
    ));
    engine.add_node(swarm_node("node-m", "manager-1", "192.168.10.1", "manager"));
    engine.add_node(swarm_node("node-w", "worker-1", "192.168.10.2", "worker"));
    engine.add_service(swarm_service("svc-web", "web", Some(30080), "10.0.0.5/24"));
    engine.add_service(swarm_service("svc-job", "batch", None, "10.0.0.9/24"));
    engine.add_task(swarm_task("task-1", "svc-web", "node-m", 1, "10.0.0.11/24"));
    engine.add_task(swarm_task("task-2", "svc-web", "node-w", 2, "10.0.0.12/24"));
    let cfg = ["services", "tasks", "nodes"]
        .iter()
        .map(|role| {
            format!(
                "  - job_name: {role}\n    dockerswarm_sd_configs:\n      - host: tcp://{}\n        role: {role}\n        port: 9323\n        refresh_interval: 500ms\n{}",
                engine.addr,
                if *role == "tasks" {
                    "        filters: [{name: desired-state, values: [running]}]\n"
                } else {
                    ""
                }
            )
        })
        .collect::<String>();
    let s = Server::start(dir.path(), &format!("scrape_configs:\n{cfg}"), &[]);
    wait_for("every role", 10, || {
        targets(&s, "services").len() == 2
            && targets(&s, "tasks").len() == 2
            && targets(&s, "nodes").len() == 2
    });
    let net = [
        "network_id",
        "network_name",
        "network_ingress",
        "network_internal",
        "network_label_com_example_stage",
        "network_scope",
    ];
    let svc = &targets(&s, "services")["10.0.0.5:30080"];
    let mut want = names(
        "__meta_dockerswarm_",
        &[
            "service_id",
            "service_name",
            "service_mode",
            "service_endpoint_port_name",
            "service_endpoint_port_publish_mode",
            "service_label_com_example_team",
            "service_task_container_hostname",
            "service_task_container_image",
            "service_updating_status",
        ],
    );
    want.extend(names("__meta_dockerswarm_", &net));
    assert_eq!(meta_names(svc), want);
    let d = &svc["discoveredLabels"];
    assert_eq!(d["__meta_dockerswarm_service_mode"], "replicated");
    assert_eq!(d["__meta_dockerswarm_network_ingress"], "true");
    assert_eq!(
        d["__meta_dockerswarm_service_endpoint_port_publish_mode"],
        "ingress"
    );
    // no published port: the configured one
    assert!(targets(&s, "services").contains_key("10.0.0.9:9323"));

    let task = &targets(&s, "tasks")["10.0.0.11:30080"];
    let mut want = names(
        "__meta_dockerswarm_",
        &[
            "container_label_com_example_tier",
            "task_id",
            "task_container_id",
            "task_desired_state",
            "task_slot",
            "task_state",
            "task_port_publish_mode",
            "service_id",
            "service_name",
            "service_mode",
            "service_label_com_example_team",
            "node_id",
            "node_hostname",
            "node_address",
            "node_availability",
            "node_label_zone",
            "node_platform_architecture",
            "node_platform_os",
            "node_role",
            "node_status",
        ],
    );
    want.extend(names("__meta_dockerswarm_", &net));
    assert_eq!(meta_names(task), want);
    let d = &task["discoveredLabels"];
    assert_eq!(d["__meta_dockerswarm_task_slot"], "1");
    assert_eq!(d["__meta_dockerswarm_node_hostname"], "manager-1");
    assert_eq!(d["__meta_dockerswarm_task_container_id"], "ctr-task-1");

    let node = &targets(&s, "nodes")["192.168.10.1:9323"];
    assert_eq!(
        meta_names(node),
        names(
            "__meta_dockerswarm_node_",
            &[
                "address",
                "availability",
                "engine_version",
                "hostname",
                "id",
                "label_zone",
                "manager_address",
                "manager_leader",
                "manager_reachability",
                "platform_architecture",
                "platform_os",
                "role",
                "status",
            ]
        )
    );
    assert_eq!(
        node["discoveredLabels"]["__meta_dockerswarm_node_manager_leader"],
        "true"
    );
    assert!(!meta_names(&targets(&s, "nodes")["192.168.10.2:9323"])
        .contains("__meta_dockerswarm_node_manager_leader"));

    // a task more, a task less, within the refresh interval
    engine.add_task(swarm_task("task-3", "svc-web", "node-w", 3, "10.0.0.13/24"));
    let took = wait_for("task-3", 5, || {
        targets(&s, "tasks").contains_key("10.0.0.13:30080")
    });
    println!("dockerswarm: a new task appeared in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    engine.remove_task("task-1");
    let took = wait_for("task-1 gone", 5, || {
        !targets(&s, "tasks").contains_key("10.0.0.11:30080")
    });
    println!("dockerswarm: a removed task went in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let reqs = engine.requests();
    assert!(reqs.iter().any(|r| r.path == "/v1.47/tasks"
        && r.param("filters") == Some(r#"{"desired-state":{"running":true}}"#)));
    // the tasks role reads the services and nodes unfiltered
    assert!(reqs
        .iter()
        .filter(|r| r.path == "/v1.47/nodes" || r.path == "/v1.47/services")
        .all(|r| r.param("filters").is_none()));
}

#[test]
fn the_stand_in_speaks_as_the_python_sdk_expects() {
    let have = std::process::Command::new("python3")
        .args(["-c", "import docker"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        if crate::common::must_run() {
            panic!("the Python docker SDK is not installed (scripts/test.sh installs it)");
        }
        println!("SKIP docker::the_stand_in_speaks_as_the_python_sdk_expects: python3 -m pip install docker");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let engine = DockerEngine::start(Some(&sock));
    engine.init_swarm();
    engine.add_container(container(
        "c1",
        "web-1",
        "web:1",
        json!({"prometheus-job": "web"}),
        &[("bridge", "7a2c9d1f0e55", "172.17.0.2")],
        &[(80, 0, "tcp")],
    ));
    engine.add_container(container(
        "c2",
        "db",
        "db:1",
        json!({}),
        &[("bridge", "7a2c9d1f0e55", "172.17.0.3")],
        &[],
    ));
    engine.add_node(swarm_node("n1", "manager-1", "192.168.10.1", "manager"));
    engine.add_service(swarm_service("s1", "web", Some(30080), "10.0.0.5/24"));
    engine.add_task(swarm_task("t1", "s1", "n1", 1, "10.0.0.11/24"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/standin/docker_check.py");
    for base in [
        format!("tcp://{}", engine.addr),
        format!("unix://{}", sock.display()),
    ] {
        let out = std::process::Command::new("python3")
            .args([script, &base])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{base}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ping"], true, "{v}");
        assert_eq!(v["api_version"], "1.47");
        assert_eq!(v["version"], "27.3.1");
        assert_eq!(v["containers"], json!(["db", "web-1"]));
        assert_eq!(v["labelled"], json!(["/web-1"]));
        assert_eq!(v["networks"], json!(["bridge", "host"]));
        assert_eq!(v["bad_filter"], json!([400, "invalid filter 'bogus'"]));
        assert_eq!(v["services"], json!(["web"]));
        assert_eq!(v["tasks"], json!(["t1"]));
        assert_eq!(v["nodes"], json!(["manager-1"]));
        assert_eq!(v["old"], 2);
        assert_eq!(v["too_new"][0], 400);
    }
    // the SDK's own requests carried the version it agreed on
    assert!(engine
        .requests()
        .iter()
        .any(|r| r.path == "/v1.47/containers/json"));
}
