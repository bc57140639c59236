//! `dockerswarm_sd_configs`: targets from a swarm manager's services
//! (their virtual IPs and published TCP ports), tasks (their network
//! addresses and host-mode ports) or nodes, with Prometheus's
//! `__meta_dockerswarm_*` labels.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{check_host, cidr_ip, Engine, Filter};
use crate::refresh::{self, join_host_port, SdError};
use crate::{sanitize, DockerError, Sink, TargetGroup};
use common::config::http::HttpClientConfig;
use common::config::DockerConfigError;
use common::config::{CheckError, PromDuration};

const P: &str = "__meta_dockerswarm_";

/// What a swarm discovery lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwarmRole {
    /// Services.
    Services,
    /// Tasks (a service's containers).
    Tasks,
    /// Nodes.
    Nodes,
}

impl SwarmRole {
    /// Its name in configurations.
    pub fn name(self) -> &'static str {
        match self {
            SwarmRole::Services => "services",
            SwarmRole::Tasks => "tasks",
            SwarmRole::Nodes => "nodes",
        }
    }
}

/// One `dockerswarm_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct DockerSwarmSdConfig {
    /// The manager's daemon: `unix:///var/run/docker.sock`, `tcp://h:2375`,
    /// `http(s)://h:port`.
    #[serde(default)]
    pub host: String,
    /// `services`, `tasks` or `nodes`.
    #[serde(default)]
    pub role: String,
    /// The port of nodes, and of services and tasks without published
    /// ports (80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Filters of the list.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// How often to list (1m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// Authentication, TLS, proxy (`http://` and `https://` hosts).
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Keys that are none of the above (refused by `validate`).
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

fn default_port() -> u16 {
    80
}
fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}

impl DockerSwarmSdConfig {
    /// Prometheus's checks, in its order and with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "moby.plain",
            });
        }
        check_host(&self.host)?;
        self.role()?;
        self.http.validate()
    }

    /// The role.
    pub fn role(&self) -> Result<SwarmRole, DockerConfigError> {
        match self.role.as_str() {
            "services" => Ok(SwarmRole::Services),
            "tasks" => Ok(SwarmRole::Tasks),
            "nodes" => Ok(SwarmRole::Nodes),
            "" => Err(DockerConfigError::RoleMissing),
            r => Err(DockerConfigError::Role(r.to_string())),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Service {
    #[serde(default, rename = "ID")]
    id: String,
    #[serde(default)]
    spec: ServiceSpec,
    #[serde(default)]
    endpoint: ServiceEndpoint,
    #[serde(default)]
    update_status: Option<UpdateStatus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceSpec {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    mode: ServiceMode,
    #[serde(default)]
    task_template: TaskTemplate,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceMode {
    #[serde(default)]
    replicated: Option<serde_json::Value>,
    #[serde(default)]
    global: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskTemplate {
    #[serde(default)]
    container_spec: Option<ContainerSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerSpec {
    #[serde(default)]
    image: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceEndpoint {
    #[serde(default)]
    ports: Option<Vec<PortConfig>>,
    #[serde(default, rename = "VirtualIPs")]
    virtual_ips: Option<Vec<VirtualIp>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PortConfig {
    #[serde(default)]
    name: String,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    published_port: u32,
    #[serde(default)]
    publish_mode: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VirtualIp {
    #[serde(default, rename = "NetworkID")]
    network_id: String,
    #[serde(default)]
    addr: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateStatus {
    #[serde(default)]
    state: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Task {
    #[serde(default, rename = "ID")]
    id: String,
    #[serde(default, rename = "ServiceID")]
    service_id: String,
    #[serde(default, rename = "NodeID")]
    node_id: String,
    #[serde(default)]
    slot: i64,
    #[serde(default)]
    desired_state: String,
    #[serde(default)]
    status: TaskStatus,
    #[serde(default)]
    spec: TaskSpec,
    #[serde(default)]
    networks_attachments: Option<Vec<NetworkAttachment>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskStatus {
    #[serde(default)]
    state: String,
    #[serde(default)]
    container_status: Option<ContainerStatus>,
    #[serde(default)]
    port_status: PortStatus,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerStatus {
    #[serde(default, rename = "ContainerID")]
    container_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PortStatus {
    #[serde(default)]
    ports: Option<Vec<PortConfig>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskSpec {
    #[serde(default)]
    container_spec: Option<ContainerSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkAttachment {
    #[serde(default)]
    network: AttachedNetwork,
    #[serde(default)]
    addresses: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttachedNetwork {
    #[serde(default, rename = "ID")]
    id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    #[serde(default, rename = "ID")]
    id: String,
    #[serde(default)]
    spec: NodeSpec,
    #[serde(default)]
    description: NodeDescription,
    #[serde(default)]
    status: NodeStatus,
    #[serde(default)]
    manager_status: Option<ManagerStatus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeSpec {
    #[serde(default)]
    role: String,
    #[serde(default)]
    availability: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeDescription {
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    platform: Platform,
    #[serde(default)]
    engine: NodeEngine,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default, rename = "OS")]
    os: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeEngine {
    #[serde(default)]
    engine_version: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeStatus {
    #[serde(default)]
    state: String,
    #[serde(default)]
    addr: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManagerStatus {
    #[serde(default)]
    leader: bool,
    #[serde(default)]
    reachability: String,
    #[serde(default)]
    addr: String,
}

type Labels = BTreeMap<String, String>;

fn service_mode(s: &Service) -> &'static str {
    if s.spec.mode.global.is_some() {
        "global"
    } else if s.spec.mode.replicated.is_some() {
        "replicated"
    } else {
        ""
    }
}

/// The labels every target of a service has (for the tasks role too).
fn service_labels(s: &Service) -> Labels {
    let mut l = Labels::new();
    l.insert(format!("{P}service_id"), s.id.clone());
    l.insert(format!("{P}service_name"), s.spec.name.clone());
    l.insert(format!("{P}service_mode"), service_mode(s).to_string());
    for (k, v) in s.spec.labels.iter().flatten() {
        l.insert(format!("{P}service_label_{}", sanitize(k)), v.clone());
    }
    l
}

/// The labels of a node: all for the nodes role, fewer for tasks.
fn node_labels(n: &Node, full: bool) -> Labels {
    let mut l = Labels::new();
    l.insert(format!("{P}node_id"), n.id.clone());
    l.insert(format!("{P}node_role"), n.spec.role.clone());
    l.insert(format!("{P}node_availability"), n.spec.availability.clone());
    l.insert(format!("{P}node_hostname"), n.description.hostname.clone());
    l.insert(
        format!("{P}node_platform_architecture"),
        n.description.platform.architecture.clone(),
    );
    l.insert(
        format!("{P}node_platform_os"),
        n.description.platform.os.clone(),
    );
    l.insert(format!("{P}node_status"), n.status.state.clone());
    l.insert(format!("{P}node_address"), n.status.addr.clone());
    if full {
        l.insert(
            format!("{P}node_engine_version"),
            n.description.engine.engine_version.clone(),
        );
        if let Some(m) = &n.manager_status {
            l.insert(format!("{P}node_manager_leader"), m.leader.to_string());
            l.insert(
                format!("{P}node_manager_reachability"),
                m.reachability.clone(),
            );
            l.insert(format!("{P}node_manager_address"), m.addr.clone());
        }
    }
    for (k, v) in n.spec.labels.iter().flatten() {
        l.insert(format!("{P}node_label_{}", sanitize(k)), v.clone());
    }
    l
}

fn push(g: &mut TargetGroup, addr: String, labels: Labels) {
    g.targets.push(addr);
    g.target_labels.push(labels);
}

fn services_group(
    port: u16,
    services: &[Service],
    networks: &HashMap<String, Labels>,
) -> Result<TargetGroup, SdError> {
    let mut g = TargetGroup::default();
    for s in services {
        let mut common = service_labels(s);
        if let Some(c) = &s.spec.task_template.container_spec {
            common.insert(
                format!("{P}service_task_container_hostname"),
                c.hostname.clone(),
            );
            common.insert(format!("{P}service_task_container_image"), c.image.clone());
        }
        if let Some(u) = &s.update_status {
            common.insert(format!("{P}service_updating_status"), u.state.clone());
        }
        for vip in s.endpoint.virtual_ips.iter().flatten() {
            let ip = cidr_ip(&vip.addr)?;
            let net = networks.get(&vip.network_id);
            let mut added = false;
            for p in s.endpoint.ports.iter().flatten() {
                if p.protocol != "tcp" {
                    continue;
                }
                let mut l = common.clone();
                l.insert(format!("{P}service_endpoint_port_name"), p.name.clone());
                l.insert(
                    format!("{P}service_endpoint_port_publish_mode"),
                    p.publish_mode.clone(),
                );
                l.extend(
                    net.into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                push(&mut g, join_host_port(&ip, p.published_port), l);
                added = true;
            }
            if !added {
                let mut l = common.clone();
                l.extend(
                    net.into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                push(&mut g, join_host_port(&ip, port), l);
            }
        }
    }
    Ok(g)
}

fn tasks_group(
    port: u16,
    tasks: &[Task],
    services: &[Service],
    nodes: &[Node],
    networks: &HashMap<String, Labels>,
) -> Result<TargetGroup, SdError> {
    let service_labels: HashMap<&str, Labels> = services
        .iter()
        .map(|s| (s.id.as_str(), service_labels(s)))
        .collect();
    let service_ports: HashMap<&str, &[PortConfig]> = services
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.endpoint.ports.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let node_labels: HashMap<&str, Labels> = nodes
        .iter()
        .map(|n| (n.id.as_str(), node_labels(n, false)))
        .collect();
    let mut g = TargetGroup::default();
    for t in tasks {
        let mut common = Labels::new();
        common.insert(format!("{P}task_id"), t.id.clone());
        common.insert(format!("{P}task_desired_state"), t.desired_state.clone());
        common.insert(format!("{P}task_state"), t.status.state.clone());
        common.insert(format!("{P}task_slot"), t.slot.to_string());
        if let Some(c) = &t.status.container_status {
            common.insert(format!("{P}task_container_id"), c.container_id.clone());
        }
        if let Some(c) = &t.spec.container_spec {
            for (k, v) in c.labels.iter().flatten() {
                common.insert(format!("{P}container_label_{}", sanitize(k)), v.clone());
            }
        }
        common.extend(
            service_labels
                .get(t.service_id.as_str())
                .cloned()
                .unwrap_or_default(),
        );
        common.extend(
            node_labels
                .get(t.node_id.as_str())
                .cloned()
                .unwrap_or_default(),
        );
        // ports published in host mode: on the node's address
        for p in t.status.port_status.ports.iter().flatten() {
            if p.protocol != "tcp" {
                continue;
            }
            let mut l = common.clone();
            l.insert(format!("{P}task_port_publish_mode"), p.publish_mode.clone());
            let node_addr = l
                .get(&format!("{P}node_address"))
                .cloned()
                .unwrap_or_default();
            push(&mut g, join_host_port(&node_addr, p.published_port), l);
        }
        for a in t.networks_attachments.iter().flatten() {
            let net = networks.get(&a.network.id);
            for addr in a.addresses.iter().flatten() {
                let ip = cidr_ip(addr)?;
                let mut added = false;
                for p in service_ports
                    .get(t.service_id.as_str())
                    .copied()
                    .unwrap_or_default()
                {
                    if p.protocol != "tcp" {
                        continue;
                    }
                    let mut l = common.clone();
                    l.insert(format!("{P}task_port_publish_mode"), p.publish_mode.clone());
                    l.extend(
                        net.into_iter()
                            .flatten()
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                    push(&mut g, join_host_port(&ip, p.published_port), l);
                    added = true;
                }
                if !added {
                    let mut l = common.clone();
                    l.extend(
                        net.into_iter()
                            .flatten()
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                    push(&mut g, join_host_port(&ip, port), l);
                }
            }
        }
    }
    Ok(g)
}

fn nodes_group(port: u16, nodes: &[Node]) -> TargetGroup {
    let mut g = TargetGroup::default();
    for n in nodes {
        push(
            &mut g,
            join_host_port(&n.status.addr, port),
            node_labels(n, true),
        );
    }
    g
}

async fn refresh(
    engine: &Engine,
    cfg: &DockerSwarmSdConfig,
    role: SwarmRole,
) -> Result<Vec<TargetGroup>, SdError> {
    let f = &cfg.filters;
    let g = match role {
        SwarmRole::Services => {
            let services: Vec<Service> = engine
                .get("/services", f)
                .await
                .map_err(|e| e.context("error while listing swarm services"))?;
            let networks = engine
                .network_labels(P)
                .await
                .map_err(|e| e.context("error while computing swarm network labels"))?;
            services_group(cfg.port, &services, &networks)?
        }
        SwarmRole::Tasks => {
            let tasks: Vec<Task> = engine
                .get("/tasks", f)
                .await
                .map_err(|e| e.context("error while listing swarm tasks"))?;
            let services: Vec<Service> = engine
                .get("/services", &[])
                .await
                .map_err(|e| e.context("error while computing services labels and ports"))?;
            let nodes: Vec<Node> = engine
                .get("/nodes", &[])
                .await
                .map_err(|e| e.context("error while computing nodes labels and ports"))?;
            let networks = engine
                .network_labels(P)
                .await
                .map_err(|e| e.context("error while computing swarm network labels"))?;
            tasks_group(cfg.port, &tasks, &services, &nodes, &networks)?
        }
        SwarmRole::Nodes => {
            let nodes: Vec<Node> = engine
                .get("/nodes", f)
                .await
                .map_err(|e| e.context("error while listing swarm nodes"))?;
            nodes_group(cfg.port, &nodes)
        }
    };
    Ok(vec![g])
}

/// Runs entry `index` of a job (or Alertmanager set), handing its group
/// to `sink` under `dockerswarm/<index>/` every refresh interval.
pub async fn run(index: usize, cfg: DockerSwarmSdConfig, base: PathBuf, sink: Sink) {
    let made = cfg.role().map_err(DockerError::from).and_then(|role| {
        Engine::new(
            &cfg.host,
            &cfg.http,
            Path::new(&base),
            cfg.refresh_interval.0,
        )
        .map(|e| (role, e))
    });
    let (role, engine) = match made {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "dockerswarm", err = %e, "Cannot create Docker Swarm discovery");
            return;
        }
    };
    let key = format!("dockerswarm/{index}/");
    let cfg = &cfg;
    let engine = &engine;
    refresh::poll("dockerswarm", key, cfg.refresh_interval.0, sink, || {
        refresh(engine, cfg, role)
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(y: &str) -> DockerSwarmSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn checks_as_prometheus() {
        assert!(cfg("host: tcp://m:2375\nrole: tasks\n").validate().is_ok());
        for (y, want) in [
            ("role: tasks\n", "host missing"),
            (
                "host: tcp://m:2375\n",
                "role missing (one of: tasks, services, nodes)",
            ),
            (
                "host: tcp://m:2375\nrole: task\n",
                "invalid role task, expected tasks, services, or nodes",
            ),
            (
                "host: tcp://m:2375\nrole: nodes\nmatch_first_network: true\n",
                "field match_first_network not found in type moby.plain",
            ),
        ] {
            assert_eq!(cfg(y).validate().unwrap_err().to_string(), want, "{y}");
        }
    }

    #[test]
    fn services_tasks_and_nodes() {
        let services: Vec<Service> = serde_json::from_value(json!([
            {"ID": "s1", "Spec": {"Name": "web", "Labels": {"a.b": "c"}, "Mode": {"Replicated": {"Replicas": 2}},
                                   "TaskTemplate": {"ContainerSpec": {"Image": "nginx:1", "Hostname": "h"}}},
             "Endpoint": {"Ports": [{"Name": "http", "Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
                                    {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 53, "PublishMode": "ingress"}],
                          "VirtualIPs": [{"NetworkID": "ing", "Addr": "10.0.0.5/24"}]},
             "UpdateStatus": {"State": "completed"}},
            {"ID": "s2", "Spec": {"Name": "plugin", "Mode": {"Global": {}}, "TaskTemplate": {}},
             "Endpoint": {"VirtualIPs": [{"NetworkID": "ov", "Addr": "10.1.0.2/24"}]}}
        ]))
        .unwrap();
        let nets = HashMap::from([(
            "ing".to_string(),
            Labels::from([(format!("{P}network_ingress"), "true".to_string())]),
        )]);
        let g = services_group(80, &services, &nets).unwrap();
        assert_eq!(g.targets, vec!["10.0.0.5:8080", "10.1.0.2:80"]);
        let t: Vec<_> = g.each_target().collect();
        assert_eq!(t[0]["__meta_dockerswarm_service_mode"], "replicated");
        assert_eq!(t[0]["__meta_dockerswarm_service_label_a_b"], "c");
        assert_eq!(
            t[0]["__meta_dockerswarm_service_updating_status"],
            "completed"
        );
        assert_eq!(t[0]["__meta_dockerswarm_network_ingress"], "true");
        assert_eq!(t[1]["__meta_dockerswarm_service_mode"], "global");
        assert!(!t[1].contains_key("__meta_dockerswarm_service_task_container_image"));

        let nodes: Vec<Node> = serde_json::from_value(json!([
            {"ID": "n1", "Spec": {"Role": "manager", "Availability": "active", "Labels": {"zone": "a"}},
             "Description": {"Hostname": "m1", "Platform": {"Architecture": "x86_64", "OS": "linux"},
                             "Engine": {"EngineVersion": "27.0.1"}},
             "Status": {"State": "ready", "Addr": "192.168.1.10"},
             "ManagerStatus": {"Leader": true, "Reachability": "reachable", "Addr": "192.168.1.10:2377"}}
        ]))
        .unwrap();
        let g = nodes_group(9100, &nodes);
        assert_eq!(g.targets, vec!["192.168.1.10:9100"]);
        let t: Vec<_> = g.each_target().collect();
        assert_eq!(t[0]["__meta_dockerswarm_node_manager_leader"], "true");
        assert_eq!(t[0]["__meta_dockerswarm_node_engine_version"], "27.0.1");

        let tasks: Vec<Task> = serde_json::from_value(json!([
            {"ID": "t1", "ServiceID": "s1", "NodeID": "n1", "Slot": 1, "DesiredState": "running",
             "Status": {"State": "running", "ContainerStatus": {"ContainerID": "c1"},
                        "PortStatus": {"Ports": [{"Protocol": "tcp", "TargetPort": 9100, "PublishedPort": 19100, "PublishMode": "host"}]}},
             "Spec": {"ContainerSpec": {"Labels": {"x-y": "z"}}},
             "NetworksAttachments": [{"Network": {"ID": "ing"}, "Addresses": ["10.0.0.7/24"]}]}
        ]))
        .unwrap();
        let g = tasks_group(80, &tasks, &services, &nodes, &nets).unwrap();
        assert_eq!(g.targets, vec!["192.168.1.10:19100", "10.0.0.7:8080"]);
        let t: Vec<_> = g.each_target().collect();
        assert_eq!(t[0]["__meta_dockerswarm_task_port_publish_mode"], "host");
        assert!(!t[0].contains_key("__meta_dockerswarm_network_ingress"));
        assert_eq!(t[1]["__meta_dockerswarm_network_ingress"], "true");
        assert_eq!(t[1]["__meta_dockerswarm_container_label_x_y"], "z");
        assert_eq!(t[1]["__meta_dockerswarm_node_hostname"], "m1");
        assert!(!t[1].contains_key("__meta_dockerswarm_node_engine_version"));
        assert_eq!(t[1]["__meta_dockerswarm_task_container_id"], "c1");
    }
}
