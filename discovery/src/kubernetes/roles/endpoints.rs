//! The `endpoints` and `endpointslice` roles: a group per endpoints
//! object or endpoint slice, a target per address and port, with the
//! labels of the service it belongs to, of the pod and container port
//! each address points at, and a target for each container port of those
//! pods that no endpoint covers, as Prometheus makes them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::{
    containers, group, join_host_port, object_meta, s, sanitize, set, Kind, Labels, Objects, P,
};
use crate::kubernetes::config::AttachMetadata;
use crate::TargetGroup;

impl Objects {
    /// The service labels endpoints and endpointslices carry.
    fn service_labels(&self, l: &mut Labels, ns: &str, name: &str) {
        if let Some(svc) = self.get(Kind::Service, &format!("{ns}/{name}")) {
            set(l, format!("{P}namespace"), ns);
            object_meta(l, "service", svc, true);
        }
    }

    /// The container labels of the first container port of `pod` whose
    /// number is `port` (`protocol` given: the endpoint's; `None`: the
    /// container port's).
    fn container_port_labels(pod: &Value, port: u64, protocol: Option<&str>) -> Option<Labels> {
        for (c, init) in containers(pod) {
            for p in c["ports"].as_array().cloned().unwrap_or_default() {
                if p["containerPort"].as_u64() == Some(port) {
                    let mut t = Labels::new();
                    let protocol = protocol.unwrap_or(s(&p, &["protocol"]));
                    container_port(&mut t, (c, init), &p, port, protocol);
                    return Some(t);
                }
            }
        }
        None
    }

    /// Targets for the container ports of the pods seen that no endpoint
    /// port covered.
    fn uncovered_ports(
        &self,
        attach: &AttachMetadata,
        seen: &BTreeMap<String, HashSet<u64>>,
        targets: &mut Vec<Labels>,
    ) {
        for (key, ports) in seen {
            let Some(pod) = self.get(Kind::Pod, key) else {
                continue;
            };
            let ip = s(pod, &["status", "podIP"]);
            if ip.is_empty() {
                continue;
            }
            for (c, init) in containers(pod) {
                for p in c["ports"].as_array().cloned().unwrap_or_default() {
                    let num = p["containerPort"].as_u64().unwrap_or(0);
                    if ports.contains(&num) {
                        continue;
                    }
                    let mut t = self.pod_labels(attach, pod);
                    set(&mut t, "__address__", join_host_port(ip, num));
                    container_port(&mut t, (c, init), &p, num, s(&p, &["protocol"]));
                    targets.push(t);
                }
            }
        }
    }

    /// The pod and node labels of an address pointing at `target_ref`.
    #[allow(clippy::too_many_arguments)]
    fn target_ref_labels(
        &self,
        attach: &AttachMetadata,
        t: &mut Labels,
        target_ref: &Value,
        node_name: Option<&str>,
        port: Option<u64>,
        endpoint_protocol: Option<&str>,
        seen: &mut BTreeMap<String, HashSet<u64>>,
    ) {
        if attach.node {
            let node = match node_name {
                Some(n) => Some(n.to_string()),
                None if target_ref["kind"] == "Node" => Some(s(target_ref, &["name"]).to_string()),
                None => None,
            };
            if let Some(n) = node {
                self.node_meta(t, &n);
            }
        }
        if target_ref["kind"] != "Pod" {
            return;
        }
        let key = format!(
            "{}/{}",
            s(target_ref, &["namespace"]),
            s(target_ref, &["name"])
        );
        let Some(pod) = self.get(Kind::Pod, &key) else {
            return;
        };
        t.extend(self.pod_labels(attach, pod));
        let entry = seen.entry(key).or_default();
        if let Some(port) = port {
            if let Some(c) = Self::container_port_labels(pod, port, endpoint_protocol) {
                t.extend(c);
            }
            entry.insert(port);
        }
    }

    /// The endpoints role: a target per address and port.
    pub fn endpoints_groups(
        &self,
        main: &[Arc<Value>],
        attach: &AttachMetadata,
    ) -> Vec<(String, TargetGroup)> {
        let mut out = Vec::new();
        for ep in main {
            let (ns, name) = (
                s(ep, &["metadata", "namespace"]),
                s(ep, &["metadata", "name"]),
            );
            let mut g = Labels::new();
            set(&mut g, format!("{P}namespace"), ns);
            self.service_labels(&mut g, ns, name);
            object_meta(&mut g, "endpoints", ep, true);
            self.namespace_meta(&mut g, attach, ns);
            let mut targets = Vec::new();
            let mut seen: BTreeMap<String, HashSet<u64>> = BTreeMap::new();
            for subset in ep["subsets"].as_array().cloned().unwrap_or_default() {
                for port in subset["ports"].as_array().cloned().unwrap_or_default() {
                    let num = port["port"].as_u64().unwrap_or(0);
                    for (list, ready) in [("addresses", "true"), ("notReadyAddresses", "false")] {
                        for a in subset[list].as_array().cloned().unwrap_or_default() {
                            let mut t = Labels::new();
                            set(&mut t, "__address__", join_host_port(s(&a, &["ip"]), num));
                            set(
                                &mut t,
                                format!("{P}endpoint_port_name"),
                                s(&port, &["name"]),
                            );
                            set(
                                &mut t,
                                format!("{P}endpoint_port_protocol"),
                                s(&port, &["protocol"]),
                            );
                            set(&mut t, format!("{P}endpoint_ready"), ready);
                            let tr = &a["targetRef"];
                            target_ref(&mut t, "endpoint", tr);
                            let node = a["nodeName"].as_str();
                            if let Some(n) = node {
                                set(&mut t, format!("{P}endpoint_node_name"), n);
                            }
                            let host = s(&a, &["hostname"]);
                            if !host.is_empty() {
                                set(&mut t, format!("{P}endpoint_hostname"), host);
                            }
                            self.target_ref_labels(
                                attach,
                                &mut t,
                                tr,
                                node,
                                Some(num),
                                Some(s(&port, &["protocol"])),
                                &mut seen,
                            );
                            targets.push(t);
                        }
                    }
                }
            }
            self.uncovered_ports(attach, &seen, &mut targets);
            out.push(group(format!("endpoints/{ns}/{name}"), g, targets));
        }
        out
    }

    /// The endpointslice role: a target per endpoint address and port.
    pub fn endpointslices_groups(
        &self,
        main: &[Arc<Value>],
        attach: &AttachMetadata,
    ) -> Vec<(String, TargetGroup)> {
        let mut out = Vec::new();
        for sl in main {
            let (ns, name) = (
                s(sl, &["metadata", "namespace"]),
                s(sl, &["metadata", "name"]),
            );
            let source = format!("endpointslice/{ns}/{name}");
            let mut g = Labels::new();
            set(&mut g, format!("{P}namespace"), ns);
            let addr_type = s(sl, &["addressType"]);
            set(&mut g, format!("{P}endpointslice_address_type"), addr_type);
            object_meta(&mut g, "endpointslice", sl, true);
            let svc_name = s(sl, &["metadata", "labels", "kubernetes.io/service-name"]);
            let svc = self.get(Kind::Service, &format!("{ns}/{svc_name}"));
            if !svc_name.is_empty() {
                self.service_labels(&mut g, ns, svc_name);
            }
            self.namespace_meta(&mut g, attach, ns);
            // a dual-stack service's slices of its other family add nothing
            if let Some(svc) = svc {
                let policy = s(svc, &["spec", "ipFamilyPolicy"]);
                let first = svc["spec"]["ipFamilies"][0].as_str();
                if matches!(policy, "PreferDualStack" | "RequireDualStack")
                    && first.is_some_and(|f| f != addr_type)
                {
                    out.push(group(source, g, Vec::new()));
                    continue;
                }
            }
            let mut targets = Vec::new();
            let mut seen: BTreeMap<String, HashSet<u64>> = BTreeMap::new();
            let ports = sl["ports"].as_array().cloned().unwrap_or_default();
            for ep in sl["endpoints"].as_array().cloned().unwrap_or_default() {
                for port in &ports {
                    let num = port["port"].as_u64();
                    for addr in ep["addresses"].as_array().cloned().unwrap_or_default() {
                        let addr = addr.as_str().unwrap_or_default();
                        let mut t = Labels::new();
                        let a = match num {
                            Some(n) => join_host_port(addr, n),
                            None => addr.to_string(),
                        };
                        set(&mut t, "__address__", a);
                        let opt = |t: &mut Labels, key: &str, v: &Value| {
                            match v {
                                Value::String(x) => set(t, format!("{P}{key}"), x.as_str()),
                                Value::Number(x) => set(t, format!("{P}{key}"), x.to_string()),
                                Value::Bool(b) => set(t, format!("{P}{key}"), b.to_string()),
                                _ => {}
                            };
                        };
                        opt(&mut t, "endpointslice_port_name", &port["name"]);
                        opt(&mut t, "endpointslice_port_protocol", &port["protocol"]);
                        opt(&mut t, "endpointslice_port", &port["port"]);
                        opt(
                            &mut t,
                            "endpointslice_port_app_protocol",
                            &port["appProtocol"],
                        );
                        for c in ["ready", "serving", "terminating"] {
                            opt(
                                &mut t,
                                &format!("endpointslice_endpoint_conditions_{c}"),
                                &ep["conditions"][c],
                            );
                        }
                        opt(&mut t, "endpointslice_endpoint_hostname", &ep["hostname"]);
                        let tr = &ep["targetRef"];
                        target_ref(&mut t, "endpointslice", tr);
                        opt(&mut t, "endpointslice_endpoint_node_name", &ep["nodeName"]);
                        opt(&mut t, "endpointslice_endpoint_zone", &ep["zone"]);
                        if let Some(topo) = ep["deprecatedTopology"].as_object() {
                            for (k, v) in topo {
                                let k = sanitize(k);
                                set(
                                    &mut t,
                                    format!("{P}endpointslice_endpoint_topology_{k}"),
                                    v.as_str().unwrap_or_default(),
                                );
                                set(
                                    &mut t,
                                    format!("{P}endpointslice_endpoint_topology_present_{k}"),
                                    "true",
                                );
                            }
                        }
                        let node = ep["nodeName"].as_str();
                        self.target_ref_labels(attach, &mut t, tr, node, num, None, &mut seen);
                        targets.push(t);
                    }
                }
            }
            self.uncovered_ports(attach, &seen, &mut targets);
            out.push(group(source, g, targets));
        }
        out
    }
}

/// The kind and name of an address's `targetRef`, if it has one, as
/// `__meta_kubernetes_<role>_address_target_kind` and `…_name`.
fn target_ref(t: &mut Labels, role: &str, tr: &Value) {
    if tr.is_object() {
        set(
            t,
            format!("{P}{role}_address_target_kind"),
            s(tr, &["kind"]),
        );
        set(
            t,
            format!("{P}{role}_address_target_name"),
            s(tr, &["name"]),
        );
    }
}

/// The labels of container `c` (and whether it is an init container) and
/// its port `p`, numbered `number`.
fn container_port(
    t: &mut Labels,
    (c, init): (&Value, bool),
    p: &Value,
    number: u64,
    protocol: &str,
) {
    set(t, format!("{P}pod_container_name"), s(c, &["name"]));
    set(t, format!("{P}pod_container_image"), s(c, &["image"]));
    set(t, format!("{P}pod_container_port_name"), s(p, &["name"]));
    set(
        t,
        format!("{P}pod_container_port_number"),
        number.to_string(),
    );
    set(t, format!("{P}pod_container_port_protocol"), protocol);
    set(t, format!("{P}pod_container_init"), init.to_string());
}
