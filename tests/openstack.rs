//! OpenStack discovery against the cloud stand-in
//! (`tests/standin/openstack.rs`): a Keystone v3 token by password or
//! application credential, then Nova's instances (with Neutron's floating
//! IPs) or hypervisors, or Octavia's load balancers, from the endpoints of
//! the region and interface asked for, with Prometheus's labels; changes
//! within the refresh interval; failures keep the targets.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::Server;
use crate::common::{discovered_targets as targets, wait_for};
use crate::standin::openstack::{
    floating_ip, hypervisor, port, server, Fault, OpenStack, ADMIN, APP_CRED, DOMAIN,
    OTHER_PROJECT, PROJECT, USER,
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

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter()
        .map(|n| format!("__meta_openstack_{n}"))
        .collect()
}

#[test]
fn instances_with_floating_ips_by_password() {
    let cloud = OpenStack::start(2);
    for i in 1..=5 {
        cloud.add_server(server(
            &format!("vm-{i}"),
            &format!("web-{i}"),
            PROJECT.0,
            &[("private", &format!("10.0.0.{i}"))],
            (i % 2 == 0).then_some("m1.small"),
            json!({"prometheus.io/port": "9100", "team": "ops"}),
        ));
        cloud.add_port(port(
            &format!("port-{i}"),
            &format!("vm-{i}"),
            PROJECT.0,
            &format!("10.0.0.{i}"),
        ));
    }
    // vm-1 has a floating IP (listed among its addresses too, as Nova does)
    cloud.add_floating_ip(floating_ip(
        "fip-1",
        "port-1",
        PROJECT.0,
        "10.0.0.1",
        "172.24.4.11",
    ));
    cloud.remove_server("vm-1");
    cloud.add_server(server(
        "vm-1",
        "web-1",
        PROJECT.0,
        &[("private", "10.0.0.1"), ("private", "172.24.4.11")],
        None,
        json!({"prometheus.io/port": "9100", "team": "ops"}),
    ));
    // another project's server is not seen
    cloud.add_server(server(
        "vm-x",
        "other",
        OTHER_PROJECT.0,
        &[("private", "10.9.9.9")],
        None,
        json!({}),
    ));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: instances
    openstack_sd_configs:
      - role: instance
        region: RegionOne
        identity_endpoint: {identity}
        username: {user}
        password: {password}
        domain_name: {DOMAIN}
        project_name: {project}
        port: 9100
        refresh_interval: 500ms
",
        identity = cloud.identity_url(),
        user = USER.1,
        password = USER.2,
        project = PROJECT.1,
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("five instances", 10, || targets(&s, "instances").len() == 5);
    let t = targets(&s, "instances");
    let vm1 = &t["10.0.0.1:9100"];
    assert_eq!(
        meta_names(vm1),
        names(&[
            "address_pool",
            "instance_flavor",
            "instance_id",
            "instance_image",
            "instance_name",
            "instance_status",
            "private_ip",
            "project_id",
            "public_ip",
            "tag_prometheus_io_port",
            "tag_team",
            "user_id",
        ])
    );
    let d = &vm1["discoveredLabels"];
    assert_eq!(d["__meta_openstack_public_ip"], "172.24.4.11");
    assert_eq!(d["__meta_openstack_address_pool"], "private");
    assert_eq!(d["__meta_openstack_instance_flavor"], "d2");
    assert_eq!(d["__meta_openstack_instance_image"], "img-ubuntu");
    assert_eq!(d["__meta_openstack_project_id"], PROJECT.0);
    assert_eq!(d["__meta_openstack_instance_status"], "ACTIVE");
    // the floating address is not a target of its own
    assert!(!t.contains_key("172.24.4.11:9100"));
    assert_eq!(
        t["10.0.0.2:9100"]["discoveredLabels"]["__meta_openstack_instance_flavor"],
        "m1.small"
    );
    assert!(!meta_names(&t["10.0.0.2:9100"]).contains("__meta_openstack_public_ip"));

    let reqs = cloud.requests();
    // the token as gophercloud asks it: user by name in its domain,
    // scoped to the project by name in the same domain
    let auth = reqs
        .iter()
        .find(|r| r.path == "/identity/v3/auth/tokens")
        .unwrap();
    let body: Value = serde_json::from_slice(&auth.body).unwrap();
    assert_eq!(
        body,
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user":
            {"name": USER.1, "domain": {"name": DOMAIN}, "password": USER.2}}},
            "scope": {"project": {"name": PROJECT.1, "domain": {"name": DOMAIN}}}}})
    );
    // the version list asked first; RegionOne's public endpoints; Nova's
    // pages followed (5 servers of this project in pages of 2)
    assert!(reqs
        .iter()
        .any(|r| r.path == "/identity/" && r.method == "GET"));
    assert!(reqs
        .iter()
        .filter(|r| !r.path.starts_with("/identity"))
        .all(|r| !r.path.starts_with("/internal") && !r.path.starts_with("/region-two")));
    let pages: BTreeSet<Option<String>> = reqs
        .iter()
        .filter(|r| r.path == "/compute/v2.1/servers/detail")
        .map(|r| r.param("marker").map(str::to_string))
        .collect();
    assert_eq!(
        pages,
        [None, Some("vm-3".to_string()), Some("vm-5".to_string())]
            .into_iter()
            .collect(),
        "{pages:?}"
    );
    assert!(reqs.iter().any(|r| r.path == "/network/v2.0/ports"));
    assert!(reqs.iter().any(|r| r.path == "/network/v2.0/floatingips"));

    // changes within the refresh interval
    cloud.add_server(server(
        "vm-6",
        "web-6",
        PROJECT.0,
        &[("private", "10.0.0.6")],
        None,
        json!({}),
    ));
    let took = wait_for("vm-6", 5, || {
        targets(&s, "instances").contains_key("10.0.0.6:9100")
    });
    println!("openstack: a new instance appeared in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    cloud.remove_server("vm-3");
    let took = wait_for("vm-3 gone", 5, || {
        !targets(&s, "instances").contains_key("10.0.0.3:9100")
    });
    println!("openstack: a removed instance went in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // a token per refresh, as Prometheus does
    let before = cloud.tokens_issued();
    std::thread::sleep(Duration::from_secs(2));
    let made = cloud.tokens_issued() - before;
    assert!((3..=5).contains(&made), "{made} tokens in 2 s");

    // Nova failing, then Keystone: the targets stay, one line per cause
    for (fault, cause) in [
        (Fault::NovaError, "got 500 instead"),
        (Fault::KeystoneDown, "could not authenticate to OpenStack"),
    ] {
        cloud.set_fault(fault);
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(targets(&s, "instances").len(), 5, "under {fault:?}");
        let log = s.log_text();
        let lines = log
            .lines()
            .filter(|l| l.contains("discovery=openstack") && l.contains(cause))
            .count();
        assert_eq!(lines, 1, "{cause}:\n{log}");
    }
    cloud.set_fault(Fault::None);
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains("password: <secret>") && !yaml.contains(USER.2),
        "{yaml}"
    );
}

#[test]
fn hypervisors_for_admins_on_the_internal_interface() {
    let cloud = OpenStack::start(50);
    cloud.add_hypervisor(hypervisor(1, "compute-1.example", "192.168.20.11"));
    cloud.add_hypervisor(hypervisor(2, "compute-2.example", "192.168.20.12"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: hypervisors
    openstack_sd_configs:
      - role: hypervisor
        region: RegionOne
        availability: internal
        identity_endpoint: {identity}/v3
        userid: {admin}
        password: {password}
        project_id: {project}
        port: 9100
        refresh_interval: 500ms
  - job_name: not-admin
    openstack_sd_configs:
      - role: instance
        all_tenants: true
        region: RegionOne
        identity_endpoint: {identity}/v3/
        userid: {user}
        password: {user_password}
        project_id: {project}
        refresh_interval: 500ms
",
        identity = cloud.identity_url(),
        admin = ADMIN.0,
        password = ADMIN.2,
        user = USER.0,
        user_password = USER.2,
        project = PROJECT.0,
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("two hypervisors", 10, || {
        targets(&s, "hypervisors").len() == 2
    });
    let h = &targets(&s, "hypervisors")["192.168.20.11:9100"];
    assert_eq!(
        meta_names(h),
        names(&[
            "hypervisor_host_ip",
            "hypervisor_hostname",
            "hypervisor_id",
            "hypervisor_state",
            "hypervisor_status",
            "hypervisor_type",
        ])
    );
    let d = &h["discoveredLabels"];
    assert_eq!(d["__meta_openstack_hypervisor_id"], "1");
    assert_eq!(
        d["__meta_openstack_hypervisor_hostname"],
        "compute-1.example"
    );
    assert_eq!(d["__meta_openstack_hypervisor_type"], "QEMU");
    assert_eq!(d["__meta_openstack_hypervisor_state"], "up");
    let reqs = cloud.requests();
    // a versioned identity endpoint is used as it is; the internal
    // interface's URLs
    assert!(reqs.iter().all(|r| r.path != "/identity/"));
    assert!(reqs
        .iter()
        .any(|r| r.path == "/internal/compute/v2.1/os-hypervisors/detail"));
    // all_tenants without the right: Nova's 403, logged once
    s.eventually(10, "the 403 logged", || {
        s.log_text().contains("get_all_tenants to be performed")
    });
    assert!(targets(&s, "not-admin").is_empty());
    assert!(reqs.iter().chain(cloud.requests().iter()).any(|r| r.path
        == "/compute/v2.1/servers/detail"
        && r.param("all_tenants") == Some("true")));
}

#[test]
fn load_balancers_by_application_credential() {
    let cloud = OpenStack::start(50);
    cloud.add_loadbalancer(
        json!({"id": "lb-1", "name": "web-lb", "project_id": PROJECT.0, "vip_address": "10.0.1.10",
               "vip_port_id": "port-vip-1", "provider": "amphora", "operating_status": "ONLINE",
               "provisioning_status": "ACTIVE", "availability_zone": "az1", "tags": ["web", "prod"],
               "listeners": [{"id": "l-1"}, {"id": "l-2"}], "admin_state_up": true}),
        &[
            json!({"id": "l-1", "protocol": "HTTP", "protocol_port": 80, "project_id": PROJECT.0, "loadbalancers": [{"id": "lb-1"}]}),
            json!({"id": "l-2", "protocol": "PROMETHEUS", "protocol_port": 9102, "project_id": PROJECT.0, "loadbalancers": [{"id": "lb-1"}]}),
        ],
    );
    cloud.add_loadbalancer(
        json!({"id": "lb-2", "name": "no-metrics", "project_id": PROJECT.0, "vip_address": "10.0.1.20",
               "vip_port_id": "port-vip-2", "provider": "amphora", "operating_status": "ONLINE",
               "provisioning_status": "ACTIVE", "availability_zone": "", "tags": [], "listeners": []}),
        &[json!({"id": "l-3", "protocol": "TCP", "protocol_port": 5432, "project_id": PROJECT.0, "loadbalancers": [{"id": "lb-2"}]})],
    );
    cloud.add_floating_ip(floating_ip(
        "fip-lb",
        "port-vip-1",
        PROJECT.0,
        "10.0.1.10",
        "172.24.4.50",
    ));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: lbs
    openstack_sd_configs:
      - role: loadbalancer
        region: RegionOne
        identity_endpoint: {identity}
        application_credential_id: {id}
        application_credential_secret: {secret}
        refresh_interval: 500ms
",
        identity = cloud.identity_url(),
        id = APP_CRED.0,
        secret = APP_CRED.2,
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    wait_for("the load balancer", 10, || targets(&s, "lbs").len() == 1);
    let lb = &targets(&s, "lbs")["10.0.1.10:9102"];
    assert_eq!(
        meta_names(lb),
        names(&[
            "loadbalancer_availability_zone",
            "loadbalancer_floating_ip",
            "loadbalancer_id",
            "loadbalancer_name",
            "loadbalancer_operating_status",
            "loadbalancer_provider",
            "loadbalancer_provisioning_status",
            "loadbalancer_tags",
            "loadbalancer_vip",
            "project_id",
        ])
    );
    let d = &lb["discoveredLabels"];
    assert_eq!(d["__meta_openstack_loadbalancer_tags"], "web,prod");
    assert_eq!(
        d["__meta_openstack_loadbalancer_floating_ip"],
        "172.24.4.50"
    );
    let auth = cloud
        .requests()
        .into_iter()
        .find(|r| r.path == "/identity/v3/auth/tokens")
        .unwrap();
    let body: Value = serde_json::from_slice(&auth.body).unwrap();
    assert_eq!(
        body,
        json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": APP_CRED.0, "secret": APP_CRED.2}}}})
    );
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains("application_credential_secret: <secret>") && !yaml.contains(APP_CRED.2),
        "{yaml}"
    );
}

#[test]
fn wrong_credentials_are_logged_once() {
    let cloud = OpenStack::start(50);
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:\n  - job_name: x\n    openstack_sd_configs:\n      - role: instance\n        region: RegionOne\n        identity_endpoint: {}\n        username: {}\n        domain_id: default\n        password: wrong\n        project_id: {}\n        refresh_interval: 200ms\n",
        cloud.identity_url(),
        USER.1,
        PROJECT.0
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(10, "the 401 logged", || {
        s.log_text().contains("got 401 instead")
    });
    std::thread::sleep(Duration::from_secs(2));
    let log = s.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("discovery=openstack"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("could not authenticate to OpenStack: ")
            && lines[0].contains("when accessing [POST http://"),
        "{}",
        lines[0]
    );
    assert!(cloud.tokens_issued() == 0);
}
