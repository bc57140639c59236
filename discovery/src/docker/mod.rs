//! Discovery from the Docker Engine API: `docker_sd_configs` (containers,
//! [`containers`]) and `dockerswarm_sd_configs` (swarm services, tasks and
//! nodes, [`swarm`]).
//!
//! Both talk to the daemon at `host`: `unix:///path/to/docker.sock`
//! (through [`common::httpclient::unix`]), `tcp://host:port` (plain HTTP),
//! or `http://`/`https://` URLs, which alone use the configured HTTP
//! client settings (authentication, TLS, proxy), as in Prometheus. The API
//! version is agreed once as Docker's client does: `/_ping` tells the
//! daemon's (`Api-Version`), the lower of it and ours is used in every
//! path (`/v1.47/containers/json`).

pub mod containers;
pub mod swarm;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::refresh::{self, SdError};
use super::{sanitize, DockerError};
use common::config::http::HttpClientConfig;
use common::config::DockerConfigError;
use common::httpclient::HttpClient;

pub use containers::DockerSdConfig;
pub use swarm::DockerSwarmSdConfig;

/// The newest API version asked for.
const MAX_API_VERSION: (u32, u32) = (1, 52);
/// What Docker's client assumes of a daemon that does not say.
const FALLBACK_API_VERSION: &str = "1.24";

/// One `filters` entry: a filter name and its values.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The filter (`label`, `name`, `status`, …).
    #[serde(default)]
    pub name: String,
    /// Its values (any of them matches).
    #[serde(default)]
    pub values: Vec<String>,
}

/// The `filters` query parameter as Docker's client writes it:
/// `{"label":{"a=b":true}}`.
fn filters_param(filters: &[Filter]) -> Option<String> {
    let mut m: BTreeMap<&str, BTreeMap<&str, bool>> = BTreeMap::new();
    for f in filters {
        for v in &f.values {
            m.entry(f.name.as_str())
                .or_default()
                .insert(v.as_str(), true);
        }
    }
    (!m.is_empty()).then(|| serde_json::to_string(&m).unwrap_or_default())
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// How requests reach the daemon.
enum Transport {
    /// HTTP(S) at a base URL.
    Http {
        client: Box<HttpClient>,
        base: String,
    },
    /// HTTP over a unix socket.
    Unix(PathBuf),
}

/// A client of one Docker daemon.
pub struct Engine {
    transport: Transport,
    timeout: Duration,
    /// The API version agreed on, once known.
    version: tokio::sync::Mutex<Option<String>>,
}

/// Checks `host` as Docker's client parses it; returns the protocol and
/// the rest.
fn split_host(host: &str) -> Result<(&str, &str), DockerError> {
    let (proto, addr) = host
        .split_once("://")
        .ok_or_else(|| DockerError::Host(host.to_string()))?;
    match proto {
        "unix" | "tcp" | "http" | "https" => Ok((proto, addr)),
        "npipe" => Err(DockerError::ProtocolHere {
            proto: proto.to_string(),
            host: host.to_string(),
        }),
        _ => Err(DockerError::Protocol(proto.to_string())),
    }
}

impl Engine {
    /// A client of the daemon at `host`, each request limited to
    /// `timeout`; `http` applies to `http://` and `https://` hosts only.
    pub fn new(
        host: &str,
        http: &HttpClientConfig,
        base_dir: &Path,
        timeout: Duration,
    ) -> Result<Engine, DockerError> {
        let (proto, addr) = split_host(host)?;
        let transport = match proto {
            "unix" => {
                if addr.is_empty() {
                    return Err(DockerError::Host(host.to_string()));
                }
                Transport::Unix(PathBuf::from(addr))
            }
            "tcp" => Transport::Http {
                client: Box::new(HttpClient::new(
                    &HttpClientConfig::default(),
                    base_dir,
                    false,
                )?),
                base: format!("http://{}", addr.trim_end_matches('/')),
            },
            _ => Transport::Http {
                client: Box::new(HttpClient::new(http, base_dir, false)?),
                base: host.trim_end_matches('/').to_string(),
            },
        };
        Ok(Engine {
            transport,
            timeout,
            version: tokio::sync::Mutex::new(None),
        })
    }

    /// GETs `path_and_query`: status, lower-cased headers, body.
    async fn raw_get(
        &self,
        path_and_query: &str,
    ) -> Result<(u16, Vec<(String, String)>, Vec<u8>), SdError> {
        match &self.transport {
            Transport::Unix(socket) => {
                let r = common::httpclient::unix::get(
                    socket,
                    path_and_query,
                    &[("User-Agent", concat!("flint/", env!("CARGO_PKG_VERSION")))],
                    self.timeout,
                )
                .await
                .map_err(|e| SdError::Transport(e.to_string()))?;
                Ok((r.status, r.headers, r.body))
            }
            Transport::Http { client, base } => {
                let req = client
                    .client()
                    .get(format!("{base}{path_and_query}"))
                    .timeout(self.timeout);
                let resp = client
                    .authorize(req)
                    .await?
                    .send()
                    .await
                    .map_err(|e| SdError::transport(&e))?;
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_ascii_lowercase(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = resp.bytes().await.map_err(|e| SdError::transport(&e))?;
                Ok((status, headers, body.to_vec()))
            }
        }
    }

    /// The API version to use: asked of the daemon once (`/_ping`).
    async fn api_version(&self) -> Result<String, SdError> {
        let mut v = self.version.lock().await;
        if let Some(v) = &*v {
            return Ok(v.clone());
        }
        let (_, headers, _) = self.raw_get("/_ping").await?;
        let daemon = headers
            .iter()
            .find(|(k, _)| k == "api-version")
            .map(|(_, v)| v.as_str());
        let agreed = match daemon.and_then(parse_version) {
            Some(d) if d < MAX_API_VERSION => format!("{}.{}", d.0, d.1),
            Some(_) => format!("{}.{}", MAX_API_VERSION.0, MAX_API_VERSION.1),
            None => FALLBACK_API_VERSION.to_string(),
        };
        *v = Some(agreed.clone());
        Ok(agreed)
    }

    /// GETs `/v<version><path>` with `filters`, decoding the JSON answer;
    /// an answer other than 200 is an error with the daemon's message.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        filters: &[Filter],
    ) -> Result<T, SdError> {
        let version = self.api_version().await?;
        let mut url = format!("/v{version}{path}");
        if let Some(f) = filters_param(filters) {
            url.push_str("?filters=");
            url.extend(url::form_urlencoded::byte_serialize(f.as_bytes()));
        }
        let (status, _, body) = self.raw_get(&url).await?;
        if status != 200 {
            // the daemon explains itself in {"message": "..."}
            let msg = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| refresh::body_excerpt(&body));
            return Err(SdError::Status {
                code: status,
                body: format!("Error response from daemon: {msg}"),
            });
        }
        refresh::decode(&body)
    }

    /// The labels of every network by ID, under `prefix`
    /// (`__meta_docker_`, `__meta_dockerswarm_`).
    pub async fn network_labels(
        &self,
        prefix: &str,
    ) -> Result<HashMap<String, BTreeMap<String, String>>, SdError> {
        let networks: Vec<Network> = self.get("/networks", &[]).await?;
        Ok(networks
            .into_iter()
            .map(|n| {
                let mut l = BTreeMap::new();
                l.insert(format!("{prefix}network_id"), n.id.clone());
                l.insert(format!("{prefix}network_name"), n.name);
                l.insert(format!("{prefix}network_scope"), n.scope);
                l.insert(format!("{prefix}network_internal"), n.internal.to_string());
                l.insert(format!("{prefix}network_ingress"), n.ingress.to_string());
                for (k, v) in n.labels.unwrap_or_default() {
                    l.insert(format!("{prefix}network_label_{}", sanitize(&k)), v);
                }
                (n.id, l)
            })
            .collect())
    }
}

/// A network as `/networks` lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Network {
    #[serde(default, alias = "ID", rename = "Id")]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    ingress: bool,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The address part of `a.b.c.d/nn` (or an IPv6 CIDR), checked.
fn cidr_ip(s: &str) -> Result<String, SdError> {
    let (ip, bits) = s.split_once('/').ok_or_else(|| {
        SdError::Decode(format!("error while parsing address {s}: no prefix length"))
    })?;
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|e| SdError::Decode(format!("error while parsing address {s}: {e}")))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match bits.parse::<u8>() {
        Ok(b) if b <= max => Ok(ip.to_string()),
        _ => Err(SdError::Decode(format!(
            "error while parsing address {s}: invalid prefix length"
        ))),
    }
}

/// A Docker `host` as Prometheus checks it when loading (Go's `url.Parse`
/// takes nearly anything; an empty host is the error).
fn check_host(host: &str) -> Result<(), DockerConfigError> {
    if host.is_empty() {
        return Err(DockerConfigError::HostMissing);
    }
    if host.chars().any(|c| c.is_control() || c == ' ') {
        return Err(DockerConfigError::HostCharacter(host.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_as_docker_writes_them() {
        assert_eq!(filters_param(&[]), None);
        let f = vec![
            Filter {
                name: "label".into(),
                values: vec!["prometheus-job=node".into(), "b".into()],
            },
            Filter {
                name: "status".into(),
                values: vec!["running".into()],
            },
        ];
        assert_eq!(
            filters_param(&f).unwrap(),
            r#"{"label":{"b":true,"prometheus-job=node":true},"status":{"running":true}}"#
        );
    }

    #[test]
    fn hosts_as_docker_parses_them() {
        assert!(split_host("unix:///var/run/docker.sock").is_ok());
        assert!(split_host("tcp://10.0.0.1:2375").is_ok());
        assert!(split_host("https://d:2376").is_ok());
        assert_eq!(
            split_host("10.0.0.1:2375").unwrap_err().to_string(),
            "unable to parse docker host `10.0.0.1:2375`"
        );
        assert_eq!(
            split_host("ssh://u@h").unwrap_err().to_string(),
            "protocol not available: ssh"
        );
        assert!(matches!(
            check_host(""),
            Err(DockerConfigError::HostMissing)
        ));
        assert_eq!(check_host("").unwrap_err().to_string(), "host missing");
    }

    #[test]
    fn addresses_of_cidrs() {
        assert_eq!(cidr_ip("10.0.0.2/24").unwrap(), "10.0.0.2");
        assert_eq!(cidr_ip("fd00::2/64").unwrap(), "fd00::2");
        assert!(cidr_ip("10.0.0.2").is_err());
        assert!(cidr_ip("10.0.0.2/33").is_err());
    }
}
