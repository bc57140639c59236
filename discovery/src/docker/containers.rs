//! `docker_sd_configs`: a target for each TCP port of each network of each
//! container (`/containers/json`, with `filters`), labelled with the
//! container's and the network's `__meta_docker_*` labels as Prometheus
//! labels them; a container without TCP ports is a target on `port`, and
//! one in host networking mode is `host_networking_host`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{check_host, Engine, Filter};
use crate::refresh::{self, join_host_port, SdError};
use crate::{sanitize, Sink, TargetGroup};
use common::config::http::HttpClientConfig;
use common::config::{CheckError, PromDuration};

const P: &str = "__meta_docker_";

/// One `docker_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct DockerSdConfig {
    /// The daemon: `unix:///var/run/docker.sock`, `tcp://h:2375`,
    /// `http(s)://h:port`.
    #[serde(default)]
    pub host: String,
    /// The port of containers without TCP ports (80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Filters of the container list.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// The address of containers in host networking mode (`localhost`).
    #[serde(default = "default_host_networking_host")]
    pub host_networking_host: String,
    /// How often to list (1m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// Only the first network (by name) of a container on several (true).
    #[serde(default = "yes")]
    pub match_first_network: bool,
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
fn default_host_networking_host() -> String {
    "localhost".into()
}
fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}
fn yes() -> bool {
    true
}

impl DockerSdConfig {
    /// Prometheus's checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "moby.plain",
            });
        }
        check_host(&self.host)?;
        self.http.validate()
    }
}

/// A container as `/containers/json` lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Container {
    #[serde(default, alias = "ID", rename = "Id")]
    id: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    image: String,
    #[serde(default, rename = "ImageID")]
    image_id: String,
    #[serde(default)]
    ports: Option<Vec<Port>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    host_config: HostConfig,
    #[serde(default)]
    network_settings: Option<NetworkSettings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    #[serde(default)]
    network_mode: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkSettings {
    #[serde(default)]
    networks: Option<BTreeMap<String, Option<Endpoint>>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Endpoint {
    #[serde(default, rename = "NetworkID")]
    network_id: String,
    #[serde(default, rename = "IPAddress")]
    ip_address: String,
    #[serde(default, rename = "GlobalIPv6Address")]
    global_ipv6_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Port {
    #[serde(default, rename = "IP")]
    ip: String,
    #[serde(default)]
    private_port: u16,
    #[serde(default)]
    public_port: u16,
    #[serde(default, rename = "Type")]
    kind: String,
}

/// An address Docker gives as text, if it is one (`""` is none).
fn valid_ip(s: &str) -> Option<String> {
    s.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

impl Endpoint {
    fn ip(&self) -> String {
        valid_ip(&self.ip_address)
            .or_else(|| valid_ip(&self.global_ipv6_address))
            .unwrap_or_default()
    }
}

fn networks_of(c: &Container) -> BTreeMap<String, Option<Endpoint>> {
    c.network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
}

/// The group of every container, as Prometheus builds it.
fn group(
    cfg: &DockerSdConfig,
    containers: &[Container],
    network_labels: &HashMap<String, BTreeMap<String, String>>,
) -> TargetGroup {
    let by_id: HashMap<&str, &Container> = containers.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut g = TargetGroup::default();
    for c in containers {
        let Some(name) = c.names.as_ref().and_then(|n| n.first()) else {
            continue;
        };
        let mut common = BTreeMap::new();
        common.insert(format!("{P}container_id"), c.id.clone());
        common.insert(format!("{P}container_name"), name.clone());
        common.insert(
            format!("{P}container_network_mode"),
            c.host_config.network_mode.clone(),
        );
        if !c.image.is_empty() {
            common.insert(format!("{P}container_image"), c.image.clone());
        }
        if !c.image_id.is_empty() {
            common.insert(format!("{P}container_image_id"), c.image_id.clone());
        }
        for (k, v) in c.labels.iter().flatten() {
            common.insert(format!("{P}container_label_{}", sanitize(k)), v.clone());
        }
        let mut networks = networks_of(c);
        if networks.is_empty() {
            // a container sharing another's network stack
            // (`container:<id>`): that one's networks
            let mut mode = c.host_config.network_mode.as_str();
            while let Some(other) = mode.strip_prefix("container:") {
                let Some(o) = by_id.get(other) else { break };
                networks = networks_of(o);
                mode = o.host_config.network_mode.as_str();
                if !networks.is_empty() {
                    break;
                }
            }
        }
        if cfg.match_first_network && networks.len() > 1 {
            // BTreeMap: in name order
            if let Some((k, v)) = networks.iter().find(|(_, v)| v.is_some()) {
                networks = BTreeMap::from([(k.clone(), v.clone())]);
            }
        }
        for n in networks.values().flatten() {
            let ip = n.ip();
            let net = network_labels.get(&n.network_id);
            let mut added = false;
            for p in c.ports.iter().flatten() {
                if p.kind != "tcp" {
                    continue;
                }
                let mut l = common.clone();
                l.insert(format!("{P}network_ip"), ip.clone());
                l.insert(format!("{P}port_private"), p.private_port.to_string());
                if p.public_port > 0 {
                    l.insert(format!("{P}port_public"), p.public_port.to_string());
                    l.insert(
                        format!("{P}port_public_ip"),
                        valid_ip(&p.ip).unwrap_or_default(),
                    );
                }
                l.extend(
                    net.into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                g.targets.push(join_host_port(&ip, p.private_port));
                g.target_labels.push(l);
                added = true;
            }
            if !added {
                let mut l = common.clone();
                l.insert(format!("{P}network_ip"), ip.clone());
                l.extend(
                    net.into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                // no ports in host networking mode: the host's address
                let addr = if c.host_config.network_mode != "host" {
                    join_host_port(&ip, cfg.port)
                } else {
                    cfg.host_networking_host.clone()
                };
                g.targets.push(addr);
                g.target_labels.push(l);
            }
        }
    }
    g
}

async fn refresh(engine: &Engine, cfg: &DockerSdConfig) -> Result<Vec<TargetGroup>, SdError> {
    let containers: Vec<Container> = engine
        .get("/containers/json", &cfg.filters)
        .await
        .map_err(|e| e.context("error while listing containers"))?;
    let networks = engine
        .network_labels(P)
        .await
        .map_err(|e| e.context("error while computing network labels"))?;
    Ok(vec![group(cfg, &containers, &networks)])
}

/// Runs entry `index` of a job (or Alertmanager set), handing its group
/// to `sink` under `docker/<index>/` every refresh interval.
pub async fn run(index: usize, cfg: DockerSdConfig, base: PathBuf, sink: Sink) {
    let engine = match Engine::new(
        &cfg.host,
        &cfg.http,
        Path::new(&base),
        cfg.refresh_interval.0,
    ) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "docker", err = %e, "Cannot create Docker discovery");
            return;
        }
    };
    let key = format!("docker/{index}/");
    let cfg = &cfg;
    let engine = &engine;
    refresh::poll("docker", key, cfg.refresh_interval.0, sink, || {
        refresh(engine, cfg)
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(y: &str) -> DockerSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn defaults_and_checks() {
        let c = cfg("host: unix:///var/run/docker.sock\n");
        assert_eq!(c.port, 80);
        assert_eq!(c.host_networking_host, "localhost");
        assert!(c.match_first_network);
        assert_eq!(c.refresh_interval.0, Duration::from_secs(60));
        assert!(c.validate().is_ok());
        assert_eq!(
            cfg("port: 9\n").validate().unwrap_err().to_string(),
            "host missing"
        );
        assert_eq!(
            cfg("host: tcp://d:2375\nrole: x\n")
                .validate()
                .unwrap_err()
                .to_string(),
            "field role not found in type moby.plain"
        );
    }

    #[test]
    fn containers_become_targets_as_in_prometheus() {
        let containers: Vec<Container> = serde_json::from_value(serde_json::json!([
            {"Id": "a1", "Names": ["/web"], "Image": "nginx", "ImageID": "sha256:1",
             "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                       {"PrivatePort": 53, "Type": "udp"}],
             "Labels": {"com.example.team": "a"},
             "HostConfig": {"NetworkMode": "bridge"},
             "NetworkSettings": {"Networks": {"bridge": {"NetworkID": "n1", "IPAddress": "172.17.0.2"},
                                              "alpha": {"NetworkID": "n2", "IPAddress": "10.1.0.2"}}}},
            {"Id": "b2", "Names": ["/sidecar"], "Ports": [],
             "HostConfig": {"NetworkMode": "container:a1"},
             "NetworkSettings": {"Networks": {}}},
            {"Id": "c3", "Names": ["/host"], "HostConfig": {"NetworkMode": "host"},
             "NetworkSettings": {"Networks": {"host": {"NetworkID": "n3", "IPAddress": ""}}}},
            {"Id": "d4", "Names": [], "HostConfig": {"NetworkMode": "bridge"}}
        ]))
        .unwrap();
        let mut nets = HashMap::new();
        nets.insert(
            "n2".to_string(),
            BTreeMap::from([(format!("{P}network_name"), "alpha".to_string())]),
        );
        let g = group(&cfg("host: tcp://d:1\n"), &containers, &nets);
        // match_first_network: "alpha" sorts before "bridge"
        assert_eq!(g.targets, vec!["10.1.0.2:80", "10.1.0.2:80", "localhost"]);
        let t: Vec<_> = g.each_target().collect();
        assert_eq!(t[0]["__meta_docker_port_public"], "8080");
        assert_eq!(t[0]["__meta_docker_port_public_ip"], "0.0.0.0");
        assert_eq!(t[0]["__meta_docker_network_name"], "alpha");
        assert_eq!(t[0]["__meta_docker_container_label_com_example_team"], "a");
        assert_eq!(t[1]["__meta_docker_container_name"], "/sidecar");
        assert!(!t[1].contains_key("__meta_docker_port_private"));
        assert_eq!(t[2]["__meta_docker_network_ip"], "");
        let all = group(
            &cfg("host: tcp://d:1\nmatch_first_network: false\nport: 9\n"),
            &containers,
            &nets,
        );
        assert_eq!(all.targets.len(), 5);
        assert!(all.targets.contains(&"172.17.0.2:80".to_string()));
    }
}
