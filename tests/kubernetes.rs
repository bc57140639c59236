//! Kubernetes discovery against the API stand-in (`tests/kube/`): pods,
//! services, endpoints, endpoint slices, nodes and ingresses become targets
//! with Prometheus's labels, follow changes within a second, survive a
//! 410, bad answers and cut watches; the prometheus-operator's generated
//! configurations load and run.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{discovered_targets as targets, wait_for};
use crate::common::{http_get, MockTarget, Server};
use crate::kube::{core, pod, Fault, KubeApi};

fn sd(role: &str, api: &KubeApi, extra: &str) -> String {
    format!(
        "    kubernetes_sd_configs:\n      - role: {role}\n        api_server: {}\n{extra}",
        api.url()
    )
}

/// The label names Prometheus documents for a pod target with one
/// container port (kubernetes_sd_config, role pod), which every such
/// target must carry.
const POD_LABELS: &[&str] = &[
    "__meta_kubernetes_namespace",
    "__meta_kubernetes_pod_name",
    "__meta_kubernetes_pod_ip",
    "__meta_kubernetes_pod_label_app",
    "__meta_kubernetes_pod_labelpresent_app",
    "__meta_kubernetes_pod_container_name",
    "__meta_kubernetes_pod_container_id",
    "__meta_kubernetes_pod_container_image",
    "__meta_kubernetes_pod_container_port_name",
    "__meta_kubernetes_pod_container_port_number",
    "__meta_kubernetes_pod_container_port_protocol",
    "__meta_kubernetes_pod_container_init",
    "__meta_kubernetes_pod_ready",
    "__meta_kubernetes_pod_phase",
    "__meta_kubernetes_pod_node_name",
    "__meta_kubernetes_pod_host_ip",
    "__meta_kubernetes_pod_uid",
    "__meta_kubernetes_pod_controller_kind",
    "__meta_kubernetes_pod_controller_name",
];

#[test]
fn pods_are_scraped_and_go_within_a_second() {
    let api = KubeApi::start();
    let a = MockTarget::start("demo_up 1\n");
    let b = MockTarget::start("demo_up 2\n");
    let port = |t: &MockTarget| t.addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    api.put(
        &core("shop", "pods"),
        pod("web-a", "127.0.0.1", port(&a), "n1", json!({"app": "web"})),
    );
    api.put(
        &core("shop", "pods"),
        pod("db-0", "127.0.0.1", 1, "n1", json!({"app": "db"})),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pods\n{}    relabel_configs:\n      - source_labels: [__meta_kubernetes_pod_label_app]\n        regex: web\n        action: keep\n      - source_labels: [__meta_kubernetes_pod_name]\n        target_label: pod\n",
        sd("pod", &api, "        namespaces:\n          names: [shop]\n")
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("the web pod", 10, || targets(&s, "pods").len() == 1);
    let t = targets(&s, "pods");
    let web = &t[&a.addr];
    for name in POD_LABELS {
        assert!(
            web["discoveredLabels"].get(*name).is_some(),
            "{name} missing: {}",
            web["discoveredLabels"]
        );
    }
    let d = &web["discoveredLabels"];
    assert_eq!(d["__meta_kubernetes_namespace"], "shop");
    assert_eq!(
        d["__meta_kubernetes_pod_container_port_number"],
        port(&a).to_string()
    );
    assert_eq!(d["__meta_kubernetes_pod_ready"], "true");
    assert_eq!(d["__meta_kubernetes_pod_phase"], "Running");
    assert_eq!(d["__meta_kubernetes_pod_controller_kind"], "ReplicaSet");
    assert_eq!(web["labels"]["pod"], "web-a");
    // only the namespace asked for is listed and watched
    assert!(api
        .requests()
        .iter()
        .all(|r| r.starts_with("/api/v1/namespaces/shop/pods")));
    s.eventually(10, "web-a scraped", || {
        s.value("demo_up{pod=\"web-a\"}") == Some(1.0)
    });
    // a new pod appears, a deleted one goes, each within a second
    api.put(
        &core("shop", "pods"),
        pod("web-b", "127.0.0.1", port(&b), "n1", json!({"app": "web"})),
    );
    let took = wait_for("web-b", 5, || targets(&s, "pods").contains_key(&b.addr));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    api.delete(&core("shop", "pods"), "web-a");
    let took = wait_for("web-a gone", 5, || {
        !targets(&s, "pods").contains_key(&a.addr)
    });
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // and its series go stale at once
    s.eventually(10, "web-a stale", || {
        s.query("demo_up{pod=\"web-a\"}").is_empty()
    });
    s.eventually(10, "web-b scraped", || {
        s.value("demo_up{pod=\"web-b\"}") == Some(2.0)
    });
    let (_, metrics) = http_get(&s.addr, "/metrics").unwrap();
    assert!(
        metrics.contains("prometheus_sd_kubernetes_events_total{event=\"delete\",role=\"pod\"} 1"),
        "{metrics}"
    );
}

fn labels_of(s: &Server, job: &str, addr: &str) -> Value {
    targets(s, job)
        .get(addr)
        .unwrap_or_else(|| panic!("{addr} not a target of {job}: {:?}", targets(s, job).keys()))
        ["discoveredLabels"]
        .clone()
}

#[test]
fn every_role_with_its_labels() {
    let api = KubeApi::start();
    let ns = "default";
    for (path, object) in crate::kube::cluster(ns) {
        api.put(&path, object);
    }
    let mut cfg = String::from("global:\n  scrape_interval: 1h\nscrape_configs:\n");
    for role in [
        "node",
        "pod",
        "service",
        "endpoints",
        "endpointslice",
        "ingress",
    ] {
        cfg.push_str(&format!(
            "  - job_name: {role}\n{}",
            sd(
                role,
                &api,
                "        attach_metadata: {node: true, namespace: true, deployment: true}\n"
            )
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("every role", 10, || {
        [
            "node",
            "pod",
            "service",
            "endpoints",
            "endpointslice",
            "ingress",
        ]
        .iter()
        .all(|r| !targets(&s, r).is_empty())
    });
    let n = labels_of(&s, "node", "10.1.0.1:10250");
    assert_eq!(n["instance"], "n1");
    assert_eq!(n["__meta_kubernetes_node_address_InternalIP"], "10.1.0.1");
    assert_eq!(n["__meta_kubernetes_node_address_Hostname"], "n1");
    assert_eq!(n["__meta_kubernetes_node_label_zone"], "a");
    assert_eq!(n["__meta_kubernetes_node_provider_id"], "aws:///a/i-1");
    assert_eq!(n["__meta_kubernetes_node_condition_ready"], "true");

    let p = labels_of(&s, "pod", "10.0.0.5:8080");
    assert_eq!(p["__meta_kubernetes_pod_deployment_name"], "web");
    assert_eq!(p["__meta_kubernetes_pod_controller_name"], "web-0-rs");
    assert_eq!(p["__meta_kubernetes_node_label_zone"], "a");
    assert_eq!(p["__meta_kubernetes_namespace_label_team"], "shop");

    let sv = labels_of(&s, "service", "web.default.svc:9100");
    assert_eq!(sv["__meta_kubernetes_service_port_name"], "metrics");
    assert_eq!(sv["__meta_kubernetes_service_cluster_ip"], "10.96.0.10");
    assert_eq!(sv["__meta_kubernetes_service_type"], "ClusterIP");
    assert_eq!(sv["__meta_kubernetes_namespace_label_team"], "shop");
    assert_eq!(targets(&s, "service").len(), 2);

    let ep = labels_of(&s, "endpoints", "10.0.0.5:8080");
    assert_eq!(ep["__meta_kubernetes_endpoint_ready"], "true");
    assert_eq!(ep["__meta_kubernetes_endpoint_port_name"], "metrics");
    assert_eq!(ep["__meta_kubernetes_endpoint_address_target_kind"], "Pod");
    assert_eq!(ep["__meta_kubernetes_endpoint_node_name"], "n1");
    assert_eq!(ep["__meta_kubernetes_service_name"], "web");
    assert_eq!(ep["__meta_kubernetes_pod_name"], "web-0");
    assert_eq!(ep["__meta_kubernetes_pod_container_port_name"], "metrics");
    assert_eq!(ep["__meta_kubernetes_node_label_zone"], "a");
    assert_eq!(
        labels_of(&s, "endpoints", "10.0.0.6:8080")["__meta_kubernetes_endpoint_ready"],
        "false"
    );

    let es = labels_of(&s, "endpointslice", "10.0.0.5:8080");
    assert_eq!(es["__meta_kubernetes_endpointslice_address_type"], "IPv4");
    assert_eq!(es["__meta_kubernetes_endpointslice_port"], "8080");
    assert_eq!(
        es["__meta_kubernetes_endpointslice_port_app_protocol"],
        "http"
    );
    assert_eq!(
        es["__meta_kubernetes_endpointslice_endpoint_conditions_ready"],
        "true"
    );
    assert_eq!(es["__meta_kubernetes_endpointslice_endpoint_zone"], "z1");
    assert_eq!(es["__meta_kubernetes_service_name"], "web");
    assert_eq!(es["__meta_kubernetes_pod_name"], "web-0");

    let ing = targets(&s, "ingress");
    let paths: Vec<(String, String, String)> = ing
        .values()
        .map(|t| {
            let d = &t["discoveredLabels"];
            (
                d["__meta_kubernetes_ingress_host"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                d["__meta_kubernetes_ingress_path"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                d["__meta_kubernetes_ingress_scheme"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    // targets with the same address are one target: the host is the address
    assert!(
        paths.contains(&("plain.test".into(), "/".into(), "http".into())),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.0 == "www.example.com" && p.2 == "https"),
        "{paths:?}"
    );
}

#[test]
fn a_410_lists_again_and_bad_answers_keep_the_targets() {
    let api = KubeApi::start();
    api.put(
        &core("a", "pods"),
        pod("p1", "10.0.0.1", 80, "n", json!({})),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!("scrape_configs:\n  - job_name: k\n{}", sd("pod", &api, ""));
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("p1", 10, || targets(&s, "k").len() == 1);
    // the server forgets its history and cuts the watches: flint lists again
    api.compact();
    api.set_fault(Fault::ShortWatches);
    api.put(
        &core("a", "pods"),
        pod("p2", "10.0.0.2", 80, "n", json!({})),
    );
    wait_for("p2 after the 410", 10, || targets(&s, "k").len() == 2);
    // failures: one log line per cause, the targets stay, no busy loop
    for (fault, cause) in [
        (Fault::Unauthorized, "401"),
        (Fault::Forbidden, "403"),
        (Fault::Garbage, "undecodable"),
    ] {
        api.set_fault(fault);
        let before = api.requests().len();
        std::thread::sleep(Duration::from_secs(4));
        let made = api.requests().len() - before;
        assert!(made < 20, "{made} requests in 4 s under {fault:?}");
        assert_eq!(targets(&s, "k").len(), 2, "targets kept under {fault:?}");
        let log = s.log_text();
        let lines = log
            .lines()
            .filter(|l| l.contains("discovery=kubernetes") && l.contains(cause))
            .count();
        assert!(
            (1..=2).contains(&lines),
            "{lines} lines for {cause}:\n{log}"
        );
    }
    api.set_fault(Fault::None);
    api.delete(&core("a", "pods"), "p1");
    wait_for("recovered", 40, || targets(&s, "k").len() == 1);
    let (_, metrics) = http_get(&s.addr, "/metrics").unwrap();
    let failures: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("prometheus_sd_kubernetes_failures_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(failures > 0.0);
}

#[test]
fn credentials_from_a_kubeconfig_or_a_token_file_that_rotates() {
    let api = KubeApi::start();
    api.put(
        &core("a", "pods"),
        pod("p1", "10.0.0.1", 80, "n", json!({})),
    );
    let dir = tempfile::tempdir().unwrap();
    // kubectl's file: the current context picks the cluster and the user
    std::fs::write(
        dir.path().join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: other\n  cluster: {{server: 'http://127.0.0.1:1'}}\n- name: stand-in\n  cluster: {{server: '{}'}}\ncontexts:\n- name: test\n  context: {{cluster: stand-in, user: reader}}\nusers:\n- name: reader\n  user: {{token: from-kubeconfig}}\n",
            api.url()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("token"), "first\n").unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1h\nscrape_configs:\n  - job_name: kc\n    kubernetes_sd_configs:\n      - role: pod\n        kubeconfig_file: kubeconfig\n  - job_name: tok\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: {}\n        authorization:\n          credentials_file: token\n",
        api.url()
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("both jobs' targets", 10, || {
        targets(&s, "kc").len() == 1 && targets(&s, "tok").len() == 1
    });
    let seen = api.authorizations();
    assert!(
        seen.contains(&"Bearer from-kubeconfig".to_string()),
        "{seen:?}"
    );
    assert!(seen.contains(&"Bearer first".to_string()), "{seen:?}");
    assert!(seen.iter().all(|a| !a.is_empty()), "{seen:?}");
    // the token file is rewritten (a projected token rotating): the next
    // requests carry the new one
    std::fs::write(dir.path().join("token"), "second\n").unwrap();
    api.cut_watches();
    wait_for("the rotated token", 10, || {
        api.authorizations().contains(&"Bearer second".to_string())
    });
}

#[test]
fn many_pods_and_a_storm_of_cut_watches_lose_nothing() {
    let api = KubeApi::start();
    // 2,000 pods across 100 endpoints objects
    for e in 0..100 {
        let mut addrs = Vec::new();
        for p in 0..20 {
            let name = format!("p-{e}-{p}");
            let ip = format!("10.{}.{}.{}", e / 250, e % 250, p + 1);
            api.put(
                &core("big", "pods"),
                pod(&name, &ip, 8080, "n", json!({"app": "x"})),
            );
            addrs.push(
                json!({"ip": ip, "targetRef": {"kind": "Pod", "namespace": "big", "name": name}}),
            );
        }
        api.put(&core("big", "endpoints"), json!({
            "metadata": {"name": format!("svc-{e}")},
            "subsets": [{"addresses": addrs, "ports": [{"name": "m", "port": 8080, "protocol": "TCP"}]}]
        }));
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1h\nscrape_configs:\n  - job_name: big\n{}",
        sd("endpoints", &api, "")
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("2,000 targets", 30, || targets(&s, "big").len() == 2000);
    api.set_fault(Fault::ShortWatches);
    for i in 0..20 {
        // changes keep coming while watches are cut every second
        api.delete(&core("big", "endpoints"), &format!("svc-{i}"));
        std::thread::sleep(Duration::from_millis(150));
    }
    wait_for("1,600 targets", 30, || targets(&s, "big").len() == 1600);
    api.set_fault(Fault::None);
}

/// The operator's files with the config-reloader's substitutions.
fn operator_file(name: &str, api: Option<&KubeApi>) -> String {
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/operator/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("$(POD_NAME)", "prometheus-k8s-0")
    .replace("$(SHARD)", "0");
    match api {
        // outside a cluster the API server is named, under each discovery
        // (not under its selectors, whose items also have a role)
        Some(a) => {
            let mut out = String::new();
            let mut prev = "";
            for line in text.lines() {
                out.push_str(line);
                out.push('\n');
                let item = line.trim_start();
                let indent = line.len() - item.len();
                if matches!(item, "- role: endpoints" | "- role: pod")
                    && prev.trim() == "kubernetes_sd_configs:"
                {
                    out.push_str(&format!(
                        "{}api_server: {}\n",
                        " ".repeat(indent + 2),
                        a.url()
                    ));
                }
                prev = line;
            }
            out
        }
        None => text,
    }
}

/// Kills a child process when dropped (a failed assertion included), so
/// that it cannot outlive the test holding its output open.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_operator_configs_and_command_line() {
    // the files as generated load unchanged
    for f in [
        "servicemonitor.yml",
        "podmonitor.yml",
        "probe.yml",
        "alerting.yml",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(f);
        std::fs::write(&path, operator_file(f, None)).unwrap();
        let out = std::process::Command::new(crate::common::bin())
            .args(["check", "config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{f}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // the ServiceMonitor's job against the stand-in, with the operator's
    // command line (paths moved into a temporary folder)
    let api = KubeApi::start();
    let target = MockTarget::start("web_requests_total 7\n");
    let port: u16 = target.addr.rsplit(':').next().unwrap().parse().unwrap();
    api.put(&core("default", "services"), json!({
        "metadata": {"name": "web", "labels": {"foo": "bar", "alpha": "beta"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "web", "port": port}]}
    }));
    api.put(
        &core("default", "pods"),
        pod("web-0", "127.0.0.1", port, "n1", json!({"app": "web"})),
    );
    api.put(&core("default", "endpoints"), json!({
        "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1", "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-0"}}],
            "ports": [{"name": "web", "port": port, "protocol": "TCP"}]}]
    }));
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("config_out");
    std::fs::create_dir_all(&conf).unwrap();
    let cfg = conf.join("prometheus.env.yaml");
    std::fs::write(
        &cfg,
        operator_file("servicemonitor.yml", Some(&api))
            .replace("scrape_interval: 30s", "scrape_interval: 1s"),
    )
    .unwrap();
    let web = dir.path().join("web_config");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(web.join("web-config.yaml"), "").unwrap();
    let mut child = std::process::Command::new(crate::common::bin())
        .arg(format!("--config.file={}", cfg.display()))
        .arg("--web.enable-lifecycle")
        .arg("--web.route-prefix=/")
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prometheus").display()
        ))
        .arg(format!(
            "--web.config.file={}",
            web.join("web-config.yaml").display()
        ))
        .arg("--web.listen-address=127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _child = KillOnDrop(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(a) = line.split("address=").nth(1) {
                let _ = tx.send(a.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let query = |q: &str| -> Vec<Value> {
        let (_, body) = http_get(
            &addr,
            &format!("/api/v1/query?query={}", crate::common::enc(q)),
        )
        .unwrap();
        serde_json::from_str::<Value>(&body).unwrap()["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    wait_for("the ServiceMonitor's target scraped", 20, || {
        query("web_requests_total").len() == 1
    });
    let r = &query("web_requests_total")[0]["metric"];
    assert_eq!(r["job"], "web");
    assert_eq!(r["namespace"], "default");
    assert_eq!(r["service"], "web");
    assert_eq!(r["pod"], "web-0");
    assert_eq!(r["endpoint"], "web");
    // the config-reloader: the file changes, POST /-/reload answers 200
    assert_eq!(http_get(&addr, "/-/ready").unwrap().0, 200);
    std::fs::write(&cfg, operator_file("podmonitor.yml", Some(&api))).unwrap();
    let (code, _) = crate::common::http_request(&addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 200);
    let (_, flags) = http_get(&addr, "/api/v1/status/config").unwrap();
    assert!(flags.contains("podMonitor/default/"), "{flags}");
}

#[test]
fn the_stand_in_speaks_as_the_official_client_expects() {
    let have = std::process::Command::new("python3")
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        if crate::common::must_run() {
            panic!("the Python kubernetes client is not installed (scripts/test.sh installs it)");
        }
        println!("SKIP kubernetes::the_stand_in_speaks_as_the_official_client_expects: python3 -m pip install kubernetes");
        return;
    }
    let api = KubeApi::start();
    api.put(
        &core("ns", "pods"),
        pod("a", "10.0.0.1", 80, "n", json!({"app": "x"})),
    );
    api.put(
        &core("ns", "pods"),
        pod("b", "10.0.0.2", 81, "n", json!({"app": "y"})),
    );
    let script = format!("{}/tests/kube/client_check.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = std::process::Command::new("python3")
        .args([&script, &api.url(), "ns", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the client's watch", 20, || {
        if child.try_wait().unwrap().is_some() {
            let out = child.stdout.take().map(std::io::read_to_string);
            let err = child.stderr.take().map(std::io::read_to_string);
            panic!("the client ended before watching: {out:?} {err:?}");
        }
        api.watches_open() == 1
    });
    api.put(
        &core("ns", "pods"),
        pod("c", "10.0.0.3", 82, "n", json!({})),
    );
    api.put(
        &core("ns", "pods"),
        pod("a", "10.0.0.1", 8080, "n", json!({"app": "x"})),
    );
    api.delete(&core("ns", "pods"), "b");
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["list"], json!(["a", "b"]));
    assert_eq!(lines[0]["ready"], json!(["True", "True"]));
    assert_eq!(lines[0]["ports"], json!([80, 81]));
    let events: Vec<(String, String)> = lines[1..]
        .iter()
        .filter(|l| l["event"] != "BOOKMARK")
        .map(|l| {
            (
                l["event"].as_str().unwrap().into(),
                l["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("ADDED".to_string(), "c".to_string()),
            ("MODIFIED".into(), "a".into()),
            ("DELETED".into(), "b".into())
        ]
    );
    // every kind of object the tests serve is one the client accepts
    let api = KubeApi::start();
    for (path, object) in crate::kube::cluster("ns") {
        api.put(&path, object);
    }
    let out = std::process::Command::new("python3")
        .args([&script, &api.url(), "ns", "kinds"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kinds: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            json!({"nodes": ["n1"]}),
            json!({"namespaces": ["ns"]}),
            json!({"pods": ["web-0"]}),
            json!({"services": ["web"]}),
            json!({"endpoints": ["web"]}),
            json!({"endpointslices": ["web-abc"]}),
            json!({"ingresses": ["site"]}),
            json!({"replicasets": ["web-0-rs"]}),
        ]
    );
}

/// The scale benchmark's cluster, as the test wants it: pod `i` is in
/// endpoints object `ep[i]`, with its readiness, or gone.
struct Cluster {
    pods: Vec<Option<(String, String, usize, bool)>>,
    port: u16,
}

impl Cluster {
    fn pod(&self, i: usize) -> Value {
        let (name, ip, _, ready) = self.pods[i].as_ref().unwrap();
        let mut p = pod(name, ip, self.port, "n", json!({"app": "x"}));
        let r = if *ready { "True" } else { "False" };
        p["status"]["conditions"][0]["status"] = json!(r);
        p["status"]["containerStatuses"][0]["ready"] = json!(*ready);
        p
    }

    fn endpoints(&self, e: usize) -> Value {
        let (mut ready, mut not) = (Vec::new(), Vec::new());
        for (name, ip, _, r) in self.pods.iter().flatten().filter(|p| p.2 == e) {
            let a = json!({"ip": ip, "nodeName": "n", "targetRef": {"kind": "Pod", "namespace": "big", "name": name}});
            if *r {
                ready.push(a)
            } else {
                not.push(a)
            }
        }
        json!({
            "metadata": {"name": format!("svc-{e}"), "labels": {"app": "x"}},
            "subsets": [{"addresses": ready, "notReadyAddresses": not,
                "ports": [{"name": "metrics", "port": self.port, "protocol": "TCP"}]}]
        })
    }

    /// The targets each job must have: address → readiness.
    fn expected(&self) -> BTreeMap<String, String> {
        self.pods
            .iter()
            .flatten()
            .map(|(_, ip, _, r)| (format!("{ip}:{}", self.port), r.to_string()))
            .collect()
    }
}

/// CPU seconds (user and system) of a process.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime, fields 14 and 15, in clock ticks (100 a second)
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

/// `(VmRSS, VmHWM)` of a process, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `prometheus_target_scrape_pool_targets` of each job.
fn pool_sizes(addr: &str) -> BTreeMap<String, u64> {
    let Ok((_, text)) = http_get(addr, "/metrics") else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("prometheus_target_scrape_pool_targets{scrape_job=\""))
        .filter_map(|l| {
            let (job, rest) = l.split_once('"')?;
            Some((job.to_string(), rest.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// Each job's active targets: address → the readiness label of its role.
fn ready_by_target(addr: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let (code, body) = http_get(addr, "/api/v1/targets?state=active").unwrap();
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for t in v["data"]["activeTargets"].as_array().unwrap() {
        let d = &t["discoveredLabels"];
        let ready = d["__meta_kubernetes_endpoint_ready"]
            .as_str()
            .or(d["__meta_kubernetes_pod_ready"].as_str())
            .unwrap_or("?");
        out.entry(t["scrapePool"].as_str().unwrap().to_string())
            .or_default()
            .insert(
                d["__address__"].as_str().unwrap().to_string(),
                ready.to_string(),
            );
    }
    out
}

/// Waits up to `secs` for both jobs' targets to be exactly `want`; on
/// failure, says how they differ.
fn same_targets(addr: &str, want: &BTreeMap<String, String>, secs: u64) -> Result<(), String> {
    let start = std::time::Instant::now();
    loop {
        let got = ready_by_target(addr);
        let mut diff = String::new();
        for job in ["endpoints", "pods"] {
            let have = got.get(job).cloned().unwrap_or_default();
            if &have != want {
                let missing = want.keys().filter(|k| !have.contains_key(*k)).count();
                let extra = have.keys().filter(|k| !want.contains_key(*k)).count();
                let wrong = want
                    .iter()
                    .filter(|(k, v)| have.get(*k).is_some_and(|h| h != *v))
                    .count();
                diff.push_str(&format!(
                    "{job}: {missing} missing, {extra} not expected, {wrong} with the wrong readiness; "
                ));
            }
        }
        if diff.is_empty() {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(secs) {
            return Err(diff);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The server measured: the flint built with the tests, or another binary
/// taking Prometheus's flags (Prometheus, another build of flint).
struct Measured {
    addr: String,
    pid: u32,
    _flint: Option<crate::common::Server>,
    _other: Option<KillOnDrop>,
}

fn start_measured(which: &str, dir: &std::path::Path, cfg: &str) -> Measured {
    if which == "flint" {
        let s = crate::common::Server::start(dir, cfg, &[]);
        return Measured {
            addr: s.addr.clone(),
            pid: s.child.id(),
            _flint: Some(s),
            _other: None,
        };
    }
    std::fs::write(dir.join("prometheus.yml"), cfg).unwrap();
    let addr = format!("127.0.0.1:{}", crate::common::free_port());
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = std::process::Command::new(which)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut guard = KillOnDrop(child);
    wait_for("the server ready", 60, || {
        if let Ok(Some(status)) = guard.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("{which} ended ({status}):\n{log}");
        }
        http_get(&addr, "/-/ready").is_ok_and(|(c, _)| c == 200)
    });
    Measured {
        addr,
        pid,
        _flint: None,
        _other: Some(guard),
    }
}

/// A small deterministic sequence for picking pods.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Kubernetes discovery at scale: 10,000 pods behind 500 endpoints
/// objects, found by a job of role `endpoints` (relabelled as the
/// prometheus-operator's ServiceMonitor configurations are) and one of
/// role `pod`. Measures the server's CPU seconds and RSS for the first
/// list (until every target is in the scrape pools), a minute of churn
/// (1% of the pods changing readiness every second, with their endpoints)
/// and 30 s of a storm of cut watches (every watch cut every second, while
/// pods change and are replaced), and checks after each that both jobs
/// hold exactly the targets the cluster has, with their readiness.
///
/// The targets point at a port nothing listens on, with a 1 h scrape
/// interval: the few scrapes due during the run are refused at once.
///
/// `cargo test --release --test integration -- --ignored kubernetes_sd_scale --nocapture`;
/// `K8S_BENCH_SERVERS` names the servers measured, separated by commas:
/// `flint` (this build, the default) or the path of a binary taking
/// Prometheus's flags (a Prometheus built with Kubernetes discovery, which
/// Debian's package is not, or another build of flint).
#[test]
#[ignore]
fn kubernetes_sd_scale() {
    let servers = std::env::var("K8S_BENCH_SERVERS").unwrap_or_else(|_| "flint".into());
    for which in servers.split(',').filter(|s| !s.is_empty()) {
        scale_run(which);
    }
}

fn scale_run(which: &str) {
    const ENDPOINTS: usize = 500;
    const PER: usize = 20;
    let api = KubeApi::start();
    let mut c = Cluster {
        pods: Vec::new(),
        port: crate::common::free_port(),
    };
    for e in 0..ENDPOINTS {
        for p in 0..PER {
            let ip = format!("127.{}.{}.{}", 1 + e / 250, e % 250, p + 1);
            c.pods.push(Some((format!("p-{e}-{p}"), ip, e, true)));
        }
    }
    for i in 0..c.pods.len() {
        api.put(&core("big", "pods"), c.pod(i));
    }
    for e in 0..ENDPOINTS {
        api.put(&core("big", "services"), json!({
            "metadata": {"name": format!("svc-{e}"), "labels": {"app": "x"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "metrics", "port": c.port}]}
        }));
        api.put(&core("big", "endpoints"), c.endpoints(e));
    }
    // the endpoints job relabelled as the operator's ServiceMonitor jobs are
    let cfg = format!(
        r#"global:
  scrape_interval: 1h
  scrape_timeout: 10s
scrape_configs:
  - job_name: endpoints
    kubernetes_sd_configs:
      - role: endpoints
        api_server: {url}
        namespaces:
          names: [big]
    relabel_configs:
      - {{source_labels: [__meta_kubernetes_service_label_app, __meta_kubernetes_service_labelpresent_app], regex: '(x);true', action: keep}}
      - {{source_labels: [__meta_kubernetes_endpoint_port_name], regex: metrics, action: keep}}
      - {{source_labels: [__meta_kubernetes_endpoint_address_target_kind, __meta_kubernetes_endpoint_address_target_name], separator: ';', regex: 'Node;(.*)', replacement: '$1', target_label: node}}
      - {{source_labels: [__meta_kubernetes_endpoint_address_target_kind, __meta_kubernetes_endpoint_address_target_name], separator: ';', regex: 'Pod;(.*)', replacement: '$1', target_label: pod}}
      - {{source_labels: [__meta_kubernetes_namespace], target_label: namespace}}
      - {{source_labels: [__meta_kubernetes_service_name], target_label: service}}
      - {{source_labels: [__meta_kubernetes_pod_name], target_label: pod}}
      - {{source_labels: [__meta_kubernetes_pod_container_name], target_label: container}}
      - {{source_labels: [__meta_kubernetes_service_name], target_label: job, replacement: '$1'}}
      - {{target_label: endpoint, replacement: metrics}}
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        api_server: {url}
        namespaces:
          names: [big]
    relabel_configs:
      - {{source_labels: [__meta_kubernetes_pod_label_app], regex: x, action: keep}}
      - {{source_labels: [__meta_kubernetes_pod_name], target_label: pod}}
"#,
        url = api.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let name = which;
    let started = std::time::Instant::now();
    let s = start_measured(which, dir.path(), &cfg);
    let n = c.pods.len() as u64;
    wait_for("every target in the pools", 120, || {
        let p = pool_sizes(&s.addr);
        p.get("endpoints") == Some(&n) && p.get("pods") == Some(&n)
    });
    let took = started.elapsed();
    let cpu_list = cpu_seconds(s.pid);
    let (rss_list, _) = rss_mib(s.pid);
    println!(
        "{name} pid {}: first list: every target after {:.1} s, {cpu_list:.2} CPU s since start, RSS {rss_list:.1} MiB",
        s.pid,
        took.as_secs_f64()
    );
    same_targets(&s.addr, &c.expected(), 30).unwrap();

    // churn: 1% of the pods change readiness every second, and so do the
    // endpoints objects they are in
    let mut rng = Lcg(7);
    let mut step = |api: &KubeApi, c: &mut Cluster, replace: usize| {
        let mut touched = std::collections::BTreeSet::new();
        for _ in 0..c.pods.len() / 100 {
            let i = rng.below(c.pods.len());
            let Some(p) = c.pods[i].as_mut() else {
                continue;
            };
            p.3 = !p.3;
            touched.insert(p.2);
            api.put(&core("big", "pods"), c.pod(i));
        }
        // pods replaced: one goes, a new one takes its place
        for _ in 0..replace {
            let i = rng.below(c.pods.len());
            let Some((old, _, e, _)) = c.pods[i].take() else {
                continue;
            };
            api.delete(&core("big", "pods"), &old);
            let j = c.pods.len();
            let ip = format!("127.{}.{}.{}", 10 + j / 62500, j / 250 % 250, j % 250 + 1);
            c.pods.push(Some((format!("q-{j}"), ip, e, true)));
            api.put(&core("big", "pods"), c.pod(j));
            touched.insert(e);
        }
        for e in touched {
            api.put(&core("big", "endpoints"), c.endpoints(e));
        }
    };
    let settle = Duration::from_secs(10);
    let cpu0 = cpu_seconds(s.pid);
    for _ in 0..60 {
        let t = std::time::Instant::now();
        step(&api, &mut c, 0);
        std::thread::sleep(Duration::from_secs(1).saturating_sub(t.elapsed()));
    }
    std::thread::sleep(settle);
    let cpu_churn = cpu_seconds(s.pid) - cpu0;
    let (rss_churn, _) = rss_mib(s.pid);
    println!(
        "{name}: churn (100 pods a second for 60 s, then 10 s): {cpu_churn:.2} CPU s, RSS {rss_churn:.1} MiB"
    );
    same_targets(&s.addr, &c.expected(), 30).unwrap();

    // a storm: every watch cut every second, and watches ending after a
    // second, while pods change and 10 a second are replaced
    let cpu0 = cpu_seconds(s.pid);
    api.set_fault(Fault::ShortWatches);
    for _ in 0..30 {
        let t = std::time::Instant::now();
        api.cut_watches();
        step(&api, &mut c, 10);
        std::thread::sleep(Duration::from_secs(1).saturating_sub(t.elapsed()));
    }
    api.set_fault(Fault::None);
    std::thread::sleep(settle);
    let cpu_storm = cpu_seconds(s.pid) - cpu0;
    let (rss_storm, hwm) = rss_mib(s.pid);
    println!(
        "{name}: storm (every watch cut every second for 30 s, then 10 s): {cpu_storm:.2} CPU s, RSS {rss_storm:.1} MiB, peak RSS {hwm:.1} MiB"
    );
    let result = same_targets(&s.addr, &c.expected(), 60);
    println!(
        "{name}: after the storm: {}",
        match &result {
            Ok(()) => "every target there, with its readiness".to_string(),
            Err(e) => e.clone(),
        }
    );
    result.unwrap();
}
