//! Turning Kubernetes objects into target groups, one group per object,
//! with the `__meta_kubernetes_*` labels Prometheus documents for each
//! role.

mod endpoints;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::config::AttachMetadata;
use crate::TargetGroup;

type Labels = BTreeMap<String, String>;

const P: &str = "__meta_kubernetes_";

pub use crate::sanitize;

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default()
}

fn set(l: &mut Labels, name: impl Into<String>, value: impl Into<String>) {
    l.insert(name.into(), value.into());
}

/// `host:port`, with IPv6 addresses in brackets.
pub fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `<kind>_name`, labels and annotations of an object's metadata.
fn object_meta(l: &mut Labels, kind: &str, o: &Value, with_name: bool) {
    let m = &o["metadata"];
    if with_name {
        set(l, format!("{P}{kind}_name"), s(m, &["name"]));
    }
    for (field, word) in [("labels", "label"), ("annotations", "annotation")] {
        if let Some(map) = m[field].as_object() {
            for (k, v) in map {
                let k = sanitize(k);
                set(
                    l,
                    format!("{P}{kind}_{word}_{k}"),
                    v.as_str().unwrap_or_default(),
                );
                set(l, format!("{P}{kind}_{word}present_{k}"), "true");
            }
        }
    }
}

/// The objects a role's groups are made from, by key (`ns/name`, or
/// `name` for cluster-wide kinds).
#[derive(Default)]
pub struct Objects {
    /// The role's own objects.
    pub main: Vec<Arc<Value>>,
    /// Nodes (with `attach_metadata.node`, or the node role).
    pub nodes: HashMap<String, Arc<Value>>,
    /// Namespaces (with `attach_metadata.namespace`).
    pub namespaces: HashMap<String, Arc<Value>>,
    /// Services (endpoints and endpointslice roles).
    pub services: HashMap<String, Arc<Value>>,
    /// Pods (endpoints and endpointslice roles).
    pub pods: HashMap<String, Arc<Value>>,
    /// ReplicaSets (`attach_metadata.deployment`).
    pub replicasets: HashMap<String, Arc<Value>>,
    /// Jobs (`attach_metadata.job`, `cronjob`).
    pub jobs: HashMap<String, Arc<Value>>,
    /// The lookups made in these maps since [`Objects::groups`] last
    /// took them.
    looked_up: RefCell<Vec<Lookup>>,
}

/// The maps of [`Objects`] other than the role's own objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Node,
    Namespace,
    Service,
    Pod,
    ReplicaSet,
    Job,
}

/// A lookup made while making a group: in which map, by which key, and
/// the object found (held, so that its address is not reused).
struct Lookup(Kind, String, Option<Arc<Value>>);

/// Groups made from each object of a role's own kind, kept to be reused
/// while that object and every object its groups were made with (or the
/// absence of one looked for) stay the same.
#[derive(Default)]
pub struct Made {
    /// By the key of the object they were made from.
    by_object: HashMap<String, MadeFrom>,
}

struct MadeFrom {
    /// Held, so that no other object takes its address.
    object: Arc<Value>,
    looked_up: Vec<Lookup>,
    groups: Vec<(String, TargetGroup)>,
}

fn group(source: String, labels: Labels, targets: Vec<Labels>) -> (String, TargetGroup) {
    let mut g = TargetGroup {
        labels,
        ..TargetGroup::default()
    };
    for t in targets {
        g.targets
            .push(t.get("__address__").cloned().unwrap_or_default());
        g.target_labels.push(t);
    }
    (source, g)
}

impl Objects {
    fn map(&self, kind: Kind) -> &HashMap<String, Arc<Value>> {
        match kind {
            Kind::Node => &self.nodes,
            Kind::Namespace => &self.namespaces,
            Kind::Service => &self.services,
            Kind::Pod => &self.pods,
            Kind::ReplicaSet => &self.replicasets,
            Kind::Job => &self.jobs,
        }
    }

    /// The object of `kind` with `key`, the lookup noted.
    fn get(&self, kind: Kind, key: &str) -> Option<&Arc<Value>> {
        let found = self.map(kind).get(key);
        self.looked_up
            .borrow_mut()
            .push(Lookup(kind, key.to_string(), found.cloned()));
        found
    }

    /// Whether a lookup would find the same object (or none) now.
    fn still(&self, l: &Lookup) -> bool {
        let now = self.map(l.0).get(&l.1);
        match (now, &l.2) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The groups of the objects in `main`, sorted by source, and whether
    /// they differ from those `made` held: the groups of an unchanged
    /// object (the same object, looking up the same objects) are taken
    /// from `made`, the others made with `make`; `made` then holds the
    /// groups of the objects in `main`.
    pub fn groups(
        &self,
        made: &mut Made,
        make: impl Fn(&Objects, &[Arc<Value>]) -> Vec<(String, TargetGroup)>,
    ) -> (Vec<(String, TargetGroup)>, bool) {
        let mut next = HashMap::with_capacity(self.main.len());
        let mut out = Vec::new();
        let mut changed = false;
        for o in &self.main {
            let key = super::informer::object_key(o);
            let before = made.by_object.remove(&key);
            let entry = match before {
                Some(m)
                    if Arc::ptr_eq(&m.object, o) && m.looked_up.iter().all(|l| self.still(l)) =>
                {
                    m
                }
                _ => {
                    self.looked_up.borrow_mut().clear();
                    let groups = make(self, std::slice::from_ref(o));
                    changed |= before.is_none_or(|b| b.groups != groups);
                    MadeFrom {
                        object: Arc::clone(o),
                        looked_up: std::mem::take(&mut *self.looked_up.borrow_mut()),
                        groups,
                    }
                }
            };
            out.extend(entry.groups.iter().cloned());
            next.insert(key, entry);
        }
        // objects gone
        changed |= !made.by_object.is_empty();
        made.by_object = next;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        (out, changed)
    }

    fn namespace_meta(&self, l: &mut Labels, attach: &AttachMetadata, ns: &str) {
        if !attach.namespace {
            return;
        }
        if let Some(n) = self.get(Kind::Namespace, ns) {
            object_meta(l, "namespace", n, false);
        }
    }

    fn node_meta(&self, l: &mut Labels, name: &str) {
        if let Some(n) = self.get(Kind::Node, name) {
            object_meta(l, "node", n, true);
        }
    }

    /// The labels of a pod every role that targets pods adds.
    fn pod_labels(&self, attach: &AttachMetadata, pod: &Value) -> Labels {
        let mut l = Labels::new();
        object_meta(&mut l, "pod", pod, true);
        set(&mut l, format!("{P}pod_ip"), s(pod, &["status", "podIP"]));
        let ready = pod["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .map(|c| s(c, &["status"]).to_lowercase())
            .unwrap_or_else(|| "unknown".into());
        set(&mut l, format!("{P}pod_ready"), ready);
        set(
            &mut l,
            format!("{P}pod_phase"),
            s(pod, &["status", "phase"]),
        );
        set(
            &mut l,
            format!("{P}pod_node_name"),
            s(pod, &["spec", "nodeName"]),
        );
        set(
            &mut l,
            format!("{P}pod_host_ip"),
            s(pod, &["status", "hostIP"]),
        );
        set(&mut l, format!("{P}pod_uid"), s(pod, &["metadata", "uid"]));
        let owner = pod["metadata"]["ownerReferences"]
            .as_array()
            .and_then(|o| o.iter().find(|r| r["controller"] == true));
        if let Some(o) = owner {
            let (kind, name) = (s(o, &["kind"]), s(o, &["name"]));
            if !kind.is_empty() {
                set(&mut l, format!("{P}pod_controller_kind"), kind);
            }
            if !name.is_empty() {
                set(&mut l, format!("{P}pod_controller_name"), name);
            }
            let ns = s(pod, &["metadata", "namespace"]);
            let controller_of = |kind: Kind, want: &str| {
                self.get(kind, &format!("{ns}/{name}")).and_then(|x| {
                    x["metadata"]["ownerReferences"]
                        .as_array()
                        .and_then(|o| {
                            o.iter()
                                .find(|r| r["controller"] == true && r["kind"] == want)
                        })
                        .map(|r| s(r, &["name"]).to_string())
                })
            };
            if attach.deployment && kind == "ReplicaSet" {
                if let Some(d) = controller_of(Kind::ReplicaSet, "Deployment") {
                    set(&mut l, format!("{P}pod_deployment_name"), d);
                }
            }
            if attach.job && kind == "Job" {
                set(&mut l, format!("{P}pod_job_name"), name);
            }
            if attach.cronjob && kind == "Job" {
                if let Some(c) = controller_of(Kind::Job, "CronJob") {
                    set(&mut l, format!("{P}pod_cronjob_name"), c);
                }
            }
        }
        l
    }

    /// The node role: one target, the kubelet.
    pub fn nodes_groups(&self, main: &[Arc<Value>]) -> Vec<(String, TargetGroup)> {
        let mut out = Vec::new();
        for node in main {
            let name = s(node, &["metadata", "name"]);
            let addresses = node["status"]["addresses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let first_of = |t: &str| {
                addresses
                    .iter()
                    .find(|a| a["type"] == t)
                    .map(|a| s(a, &["address"]).to_string())
            };
            let addr = [
                "InternalIP",
                "InternalDNS",
                "ExternalIP",
                "ExternalDNS",
                "LegacyHostIP",
                "Hostname",
            ]
            .iter()
            .find_map(|t| first_of(t));
            let Some(addr) = addr else {
                tracing::warn!(
                    component = "discovery manager",
                    discovery = "kubernetes",
                    node = name,
                    "No node address found"
                );
                continue;
            };
            let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
                .as_u64()
                .unwrap_or(0);
            let mut t = Labels::new();
            set(&mut t, "__address__", join_host_port(&addr, port));
            set(&mut t, "instance", name);
            let mut seen = HashSet::new();
            for a in &addresses {
                let typ = s(a, &["type"]);
                if seen.insert(typ.to_string()) {
                    set(
                        &mut t,
                        format!("{P}node_address_{}", sanitize(typ)),
                        s(a, &["address"]),
                    );
                }
            }
            let mut g = Labels::new();
            object_meta(&mut g, "node", node, true);
            set(
                &mut g,
                format!("{P}node_provider_id"),
                s(node, &["spec", "providerID"]),
            );
            if let Some(conds) = node["status"]["conditions"].as_array() {
                for c in conds {
                    set(
                        &mut g,
                        format!(
                            "{P}node_condition_{}",
                            sanitize(&s(c, &["type"]).to_lowercase())
                        ),
                        s(c, &["status"]).to_lowercase(),
                    );
                }
            }
            out.push(group(format!("node/{name}"), g, vec![t]));
        }
        out
    }

    /// The pod role: a target per container port (a port-less container:
    /// one, the pod's address).
    pub fn pods_groups(
        &self,
        main: &[Arc<Value>],
        attach: &AttachMetadata,
    ) -> Vec<(String, TargetGroup)> {
        let mut out = Vec::new();
        for pod in main {
            let (ns, name) = (
                s(pod, &["metadata", "namespace"]),
                s(pod, &["metadata", "name"]),
            );
            let source = format!("pod/{ns}/{name}");
            let ip = s(pod, &["status", "podIP"]);
            let node = s(pod, &["spec", "nodeName"]);
            if ip.is_empty() || (attach.node && self.get(Kind::Node, node).is_none()) {
                out.push(group(source, Labels::new(), Vec::new()));
                continue;
            }
            let mut g = self.pod_labels(attach, pod);
            set(&mut g, format!("{P}namespace"), ns);
            if attach.node {
                self.node_meta(&mut g, node);
            }
            self.namespace_meta(&mut g, attach, ns);
            let mut targets = Vec::new();
            for (c, init) in containers(pod) {
                let cname = s(c, &["name"]);
                let status_list = if init {
                    "initContainerStatuses"
                } else {
                    "containerStatuses"
                };
                let id = pod["status"][status_list]
                    .as_array()
                    .and_then(|l| l.iter().find(|x| x["name"] == cname))
                    .map(|x| s(x, &["containerID"]).to_string())
                    .unwrap_or_default();
                let base = |t: &mut Labels| {
                    set(t, format!("{P}pod_container_name"), cname);
                    set(t, format!("{P}pod_container_id"), id.clone());
                    set(t, format!("{P}pod_container_image"), s(c, &["image"]));
                    set(t, format!("{P}pod_container_init"), init.to_string());
                };
                let ports = c["ports"].as_array().cloned().unwrap_or_default();
                if ports.is_empty() {
                    let mut t = Labels::new();
                    set(&mut t, "__address__", ip);
                    base(&mut t);
                    targets.push(t);
                    continue;
                }
                for p in &ports {
                    let num = p["containerPort"].as_u64().unwrap_or(0);
                    let mut t = Labels::new();
                    set(&mut t, "__address__", join_host_port(ip, num));
                    base(&mut t);
                    set(
                        &mut t,
                        format!("{P}pod_container_port_name"),
                        s(p, &["name"]),
                    );
                    set(
                        &mut t,
                        format!("{P}pod_container_port_number"),
                        num.to_string(),
                    );
                    set(
                        &mut t,
                        format!("{P}pod_container_port_protocol"),
                        s(p, &["protocol"]),
                    );
                    targets.push(t);
                }
            }
            out.push(group(source, g, targets));
        }
        out
    }

    /// The service role: a target per port, by the service's DNS name.
    pub fn services_groups(
        &self,
        main: &[Arc<Value>],
        attach: &AttachMetadata,
    ) -> Vec<(String, TargetGroup)> {
        let mut out = Vec::new();
        for svc in main {
            let (ns, name) = (
                s(svc, &["metadata", "namespace"]),
                s(svc, &["metadata", "name"]),
            );
            let mut g = Labels::new();
            set(&mut g, format!("{P}namespace"), ns);
            object_meta(&mut g, "service", svc, true);
            self.namespace_meta(&mut g, attach, ns);
            let typ = s(svc, &["spec", "type"]);
            let mut targets = Vec::new();
            for p in svc["spec"]["ports"].as_array().cloned().unwrap_or_default() {
                let port = p["port"].as_u64().unwrap_or(0);
                let mut t = Labels::new();
                set(
                    &mut t,
                    "__address__",
                    join_host_port(&format!("{name}.{ns}.svc"), port),
                );
                set(&mut t, format!("{P}service_port_name"), s(&p, &["name"]));
                set(&mut t, format!("{P}service_port_number"), port.to_string());
                set(
                    &mut t,
                    format!("{P}service_port_protocol"),
                    s(&p, &["protocol"]),
                );
                set(&mut t, format!("{P}service_type"), typ);
                if typ == "ExternalName" {
                    set(
                        &mut t,
                        format!("{P}service_external_name"),
                        s(svc, &["spec", "externalName"]),
                    );
                } else {
                    set(
                        &mut t,
                        format!("{P}service_cluster_ip"),
                        s(svc, &["spec", "clusterIP"]),
                    );
                }
                if typ == "LoadBalancer" {
                    let ips: Vec<String> = svc["status"]["loadBalancer"]["ingress"]
                        .as_array()
                        .map(|l| {
                            l.iter()
                                .map(|i| s(i, &["ip"]).to_string())
                                .filter(|ip| !ip.is_empty())
                                .collect()
                        })
                        .unwrap_or_default();
                    let lb = if ips.is_empty() {
                        s(svc, &["spec", "loadBalancerIP"]).to_string()
                    } else {
                        ips.join(",")
                    };
                    set(&mut t, format!("{P}service_loadbalancer_ip"), lb);
                }
                targets.push(t);
            }
            out.push(group(format!("svc/{ns}/{name}"), g, targets));
        }
        out
    }

    /// The ingress role: a target per rule host and path.
    pub fn ingresses_groups(
        &self,
        main: &[Arc<Value>],
        attach: &AttachMetadata,
    ) -> Vec<(String, TargetGroup)> {
        let mut out = Vec::new();
        for ing in main {
            let (ns, name) = (
                s(ing, &["metadata", "namespace"]),
                s(ing, &["metadata", "name"]),
            );
            let mut g = Labels::new();
            set(&mut g, format!("{P}namespace"), ns);
            object_meta(&mut g, "ingress", ing, true);
            if let Some(class) = ing["spec"]["ingressClassName"].as_str() {
                set(&mut g, format!("{P}ingress_class_name"), class);
            }
            self.namespace_meta(&mut g, attach, ns);
            let tls_hosts: Vec<String> = ing["spec"]["tls"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .flat_map(|t| t["hosts"].as_array().cloned().unwrap_or_default())
                        .filter_map(|h| h.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let mut targets = Vec::new();
            for rule in ing["spec"]["rules"].as_array().cloned().unwrap_or_default() {
                let host = s(&rule, &["host"]);
                let scheme = if tls_hosts.iter().any(|p| host_matches(p, host)) {
                    "https"
                } else {
                    "http"
                };
                let paths: Vec<String> = match rule["http"]["paths"].as_array() {
                    Some(ps) => ps
                        .iter()
                        .map(|p| match s(p, &["path"]) {
                            "" => "/".to_string(),
                            x => x.to_string(),
                        })
                        .collect(),
                    None => vec!["/".to_string()],
                };
                for path in paths {
                    let mut t = Labels::new();
                    set(&mut t, "__address__", host);
                    set(&mut t, format!("{P}ingress_scheme"), scheme);
                    set(&mut t, format!("{P}ingress_host"), host);
                    set(&mut t, format!("{P}ingress_path"), path);
                    targets.push(t);
                }
            }
            out.push(group(format!("ingress/{ns}/{name}"), g, targets));
        }
        out
    }
}

/// Whether a TLS host pattern (`*.example.com` allowed) covers `host`.
fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let (p, h): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), host.split('.').collect());
    p.len() == h.len() && p[0] == "*" && p[1..] == h[1..]
}

/// A pod's containers, then its init containers (flagged).
fn containers(pod: &Value) -> Vec<(&Value, bool)> {
    let mut out: Vec<(&Value, bool)> = Vec::new();
    for (list, init) in [("containers", false), ("initContainers", true)] {
        if let Some(cs) = pod["spec"][list].as_array() {
            out.extend(cs.iter().map(|c| (c, init)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_hosts() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(join_host_port("2001:db8::1", 9100), "[2001:db8::1]:9100");
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
    }

    #[test]
    fn a_pod_with_ports_and_without() {
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "default", "uid": "u1",
                "labels": {"app.kubernetes.io/name": "web"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-rs", "controller": true}]},
            "spec": {"nodeName": "n1",
                "containers": [{"name": "app", "image": "img", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]},
                               {"name": "side", "image": "s"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.1.1",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "app", "containerID": "containerd://abc"}]}
        });
        let objs = Objects {
            main: vec![Arc::new(pod)],
            ..Objects::default()
        };
        let groups = objs.pods_groups(&objs.main, &AttachMetadata::default());
        let (source, g) = &groups[0];
        assert_eq!(source, "pod/default/web-1");
        assert_eq!(g.targets, vec!["10.0.0.5:8080", "10.0.0.5"]);
        assert_eq!(g.labels["__meta_kubernetes_pod_ready"], "true");
        assert_eq!(
            g.labels["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
            "web"
        );
        assert_eq!(
            g.labels["__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name"],
            "true"
        );
        assert_eq!(
            g.labels["__meta_kubernetes_pod_controller_kind"],
            "ReplicaSet"
        );
        assert_eq!(g.labels["__meta_kubernetes_namespace"], "default");
        let t0 = &g.target_labels[0];
        assert_eq!(t0["__meta_kubernetes_pod_container_port_name"], "http");
        assert_eq!(t0["__meta_kubernetes_pod_container_id"], "containerd://abc");
        assert_eq!(t0["__meta_kubernetes_pod_container_init"], "false");
        assert!(!g.target_labels[1].contains_key("__meta_kubernetes_pod_container_port_number"));
    }

    #[test]
    fn groups_are_made_again_only_for_what_changed() {
        let pod = |ready: &str| {
            Arc::new(json!({
                "metadata": {"name": "p", "namespace": "ns"},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
                "status": {"podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": ready}]}
            }))
        };
        let ep = |name: &str| {
            Arc::new(json!({
                "metadata": {"name": name, "namespace": "ns"},
                "subsets": [{"addresses": [{"ip": "10.0.0.1",
                        "targetRef": {"kind": "Pod", "namespace": "ns", "name": "p"}}],
                    "ports": [{"port": 80}]}]
            }))
        };
        let mut objs = Objects {
            main: vec![ep("a"), ep("b")],
            ..Objects::default()
        };
        objs.pods.insert("ns/p".into(), pod("True"));
        let attach = AttachMetadata::default();
        let made_for = std::cell::Cell::new(0);
        let make = |o: &Objects, main: &[Arc<Value>]| {
            made_for.set(made_for.get() + main.len());
            o.endpoints_groups(main, &attach)
        };
        let mut made = Made::default();
        let (first, changed) = objs.groups(&mut made, make);
        assert!(changed);
        assert_eq!(made_for.get(), 2);
        assert_eq!(first[0].0, "endpoints/ns/a");
        // nothing changed: nothing made again
        assert_eq!(objs.groups(&mut made, make), (first, false));
        assert_eq!(made_for.get(), 2);
        // the pod both point at changes: both made again
        objs.pods.insert("ns/p".into(), pod("False"));
        let (now, changed) = objs.groups(&mut made, make);
        assert!(changed);
        assert_eq!(made_for.get(), 4);
        assert_eq!(
            now[1].1.target_labels[0]["__meta_kubernetes_pod_ready"],
            "false"
        );
        // one endpoints object changes: it alone
        objs.main[0] = ep("a");
        let (_, changed) = objs.groups(&mut made, make);
        assert!(!changed, "made again the same");
        assert_eq!(made_for.get(), 5);
        // a service looked for and missing appears: its endpoints' groups
        objs.services.insert(
            "ns/b".into(),
            Arc::new(json!({"metadata": {"name": "b", "namespace": "ns", "labels": {"app": "x"}}})),
        );
        let (now, _) = objs.groups(&mut made, make);
        assert_eq!(made_for.get(), 6);
        assert_eq!(now[1].1.labels["__meta_kubernetes_service_label_app"], "x");
        // an object gone: its groups are no longer made
        objs.main.remove(0);
        let (now, changed) = objs.groups(&mut made, make);
        assert_eq!(now.len(), 1);
        assert!(changed);
        assert_eq!(made_for.get(), 6);
    }
}
