//! `hetzner_sd_configs`: servers of the Hetzner Cloud API (role `hcloud`:
//! `/v1/servers`, page by page, with `label_selector`, and `/v1/networks`
//! for the private addresses' network names) or of the Robot API (role
//! `robot`: `/server`), every `refresh_interval`, with Prometheus's
//! `__meta_hetzner_*` labels. Credentials come from the HTTP client
//! options: a bearer token for the Cloud API, basic authentication for
//! Robot.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::refresh::{self, join_host_port, SdError};
use super::{sanitize, Sink, TargetGroup};
use common::config::http::HttpClientConfig;
use common::config::{CheckError, PromDuration};
use common::httpclient::HttpClient;

/// The Hetzner Cloud API.
const HCLOUD_ENDPOINT: &str = "https://api.hetzner.cloud/v1";
/// The Robot web service.
const ROBOT_ENDPOINT: &str = "https://robot-ws.your-server.de";
/// Servers per page asked of the Cloud API.
const PER_PAGE: u32 = 50;

const P: &str = "__meta_hetzner_";

/// One `hetzner_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct HetznerSdConfig {
    /// `hcloud` or `robot`.
    #[serde(default)]
    pub role: String,
    /// The port scraped (80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// How often to list (1m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// A label selector of the Cloud API's server list.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label_selector: String,
    /// Authentication (the token, or Robot's user and password), TLS, proxy.
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

impl HetznerSdConfig {
    /// Prometheus's checks, in its order and with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "hetzner.plain",
            });
        }
        match self.role.as_str() {
            "hcloud" | "robot" => {}
            "" => return Err("role missing (one of: robot, hcloud)".into()),
            r => return Err(format!("unknown role {r:?}").into()),
        }
        self.http.validate()
    }
}

/// The Cloud API's error (`{"error": {"code", "message"}}`) or the start
/// of the body.
fn api_error(code: u16, body: &[u8]) -> SdError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let msg = v
        .as_ref()
        .and_then(|v| {
            let e = &v["error"];
            Some(format!(
                "{} ({})",
                e["message"].as_str()?,
                e["code"].as_str()?
            ))
        })
        .unwrap_or_else(|| refresh::body_excerpt(body));
    SdError::Status { code, body: msg }
}

async fn get(client: &HttpClient, url: &str, timeout: Duration) -> Result<Vec<u8>, SdError> {
    let req = client.client().get(url).timeout(timeout);
    let resp = client
        .authorize(req)
        .await?
        .send()
        .await
        .map_err(|e| SdError::transport(&e))?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| SdError::transport(&e))?;
    if status / 100 != 2 {
        return Err(api_error(status, &body));
    }
    Ok(body.to_vec())
}

/// Every item of a paged Cloud API collection (`key` in each page),
/// following `meta.pagination.next_page`.
async fn all_pages(
    client: &HttpClient,
    path: &str,
    key: &str,
    selector: &str,
    timeout: Duration,
) -> Result<Vec<Value>, SdError> {
    let mut items = Vec::new();
    let mut page: u64 = 1;
    // a bound against a server that always has a next page
    for _ in 0..10_000 {
        let mut url = url::Url::parse(&format!("{HCLOUD_ENDPOINT}{path}"))
            .map_err(|e| SdError::Decode(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("page", &page.to_string())
            .append_pair("per_page", &PER_PAGE.to_string());
        if !selector.is_empty() {
            url.query_pairs_mut()
                .append_pair("label_selector", selector);
        }
        let body = get(client, url.as_str(), timeout).await?;
        let v: Value = refresh::decode(&body)?;
        match &v[key] {
            Value::Array(a) => items.extend(a.iter().cloned()),
            Value::Null => {}
            _ => return Err(SdError::Decode(format!("{key} is not a list"))),
        }
        match v["meta"]["pagination"]["next_page"].as_u64() {
            Some(n) if n > page => page = n,
            _ => return Ok(items),
        }
    }
    Ok(items)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An address as Go prints a parsed `net.IP` (`<nil>` for none).
fn go_ip(v: &Value) -> String {
    v.as_str()
        .and_then(|s| s.parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "<nil>".into())
}

/// An IPv6 network as Go prints a parsed `net.IPNet` (`<nil>` for none).
fn go_network(v: &Value) -> String {
    let Some((ip, bits)) = v.as_str().and_then(|s| s.split_once('/')) else {
        return "<nil>".into();
    };
    match (ip.parse::<std::net::Ipv6Addr>(), bits.parse::<u8>()) {
        (Ok(ip), Ok(b)) if b <= 128 => {
            let mask = if b == 0 { 0 } else { u128::MAX << (128 - b) };
            format!("{}/{b}", std::net::Ipv6Addr::from(u128::from(ip) & mask))
        }
        _ => "<nil>".into(),
    }
}

/// The group of the Cloud API's servers.
fn hcloud_group(port: u16, servers: &[Value], networks: &[Value]) -> TargetGroup {
    let names: HashMap<i64, String> = networks
        .iter()
        .filter_map(|n| Some((n["id"].as_i64()?, s(&n["name"]))))
        .collect();
    let mut g = TargetGroup::default();
    for sv in servers {
        let mut l = BTreeMap::new();
        let ipv4 = go_ip(&sv["public_net"]["ipv4"]["ip"]);
        let location = if sv["location"].is_object() {
            &sv["location"]
        } else {
            &sv["datacenter"]["location"]
        };
        let t = &sv["server_type"];
        let mut put = |k: &str, v: String| {
            l.insert(format!("{P}{k}"), v);
        };
        put("role", "hcloud".into());
        put("server_id", s(&sv["id"]));
        put("server_name", s(&sv["name"]));
        put("server_status", s(&sv["status"]));
        put("public_ipv4", ipv4.clone());
        put(
            "public_ipv6_network",
            go_network(&sv["public_net"]["ipv6"]["ip"]),
        );
        for k in ["location", "datacenter_location"] {
            put(&format!("hcloud_{k}"), s(&location["name"]));
            put(
                &format!("hcloud_{k}_network_zone"),
                s(&location["network_zone"]),
            );
        }
        put("hcloud_server_type", s(&t["name"]));
        put(
            "hcloud_cpu_cores",
            t["cores"].as_i64().unwrap_or(0).to_string(),
        );
        put("hcloud_cpu_type", s(&t["cpu_type"]));
        put(
            "hcloud_memory_size_gb",
            (t["memory"].as_f64().unwrap_or(0.0) as i64).to_string(),
        );
        put(
            "hcloud_disk_size_gb",
            t["disk"].as_i64().unwrap_or(0).to_string(),
        );
        let image = &sv["image"];
        if image.is_object() {
            put("hcloud_image_name", s(&image["name"]));
            put("hcloud_image_description", s(&image["description"]));
            put("hcloud_image_os_version", s(&image["os_version"]));
            put("hcloud_image_os_flavor", s(&image["os_flavor"]));
        }
        for pn in sv["private_net"].as_array().into_iter().flatten() {
            if let Some(name) = pn["network"].as_i64().and_then(|id| names.get(&id)) {
                put(
                    &format!("hcloud_private_ipv4_{}", sanitize(name)),
                    go_ip(&pn["ip"]),
                );
            }
        }
        for (k, v) in sv["labels"].as_object().into_iter().flatten() {
            put(
                &format!("hcloud_labelpresent_{}", sanitize(k)),
                "true".into(),
            );
            put(&format!("hcloud_label_{}", sanitize(k)), s(v));
        }
        g.targets.push(join_host_port(&ipv4, port));
        g.target_labels.push(l);
    }
    g
}

/// The group of Robot's servers.
fn robot_group(port: u16, servers: &[Value]) -> TargetGroup {
    let mut g = TargetGroup::default();
    for entry in servers {
        let sv = &entry["server"];
        let ip = s(&sv["server_ip"]);
        let dc = s(&sv["dc"]).to_lowercase();
        let mut l = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            l.insert(format!("{P}{k}"), v);
        };
        put("role", "robot".into());
        put(
            "server_id",
            sv["server_number"].as_i64().unwrap_or(0).to_string(),
        );
        put("server_name", s(&sv["server_name"]));
        put("datacenter", dc.clone());
        put("public_ipv4", ip.clone());
        put("server_status", s(&sv["status"]));
        put("robot_datacenter", dc);
        put("robot_product", s(&sv["product"]));
        put(
            "robot_cancelled",
            sv["cancelled"].as_bool().unwrap_or(false).to_string(),
        );
        // the first subnet that is not IPv4
        for sub in sv["subnet"].as_array().into_iter().flatten() {
            let sip = s(&sub["ip"]);
            if sip.parse::<std::net::Ipv4Addr>().is_err() {
                put("public_ipv6_network", format!("{sip}/{}", s(&sub["mask"])));
                break;
            }
        }
        g.targets.push(join_host_port(&ip, port));
        g.target_labels.push(l);
    }
    g
}

async fn refresh(client: &HttpClient, cfg: &HetznerSdConfig) -> Result<Vec<TargetGroup>, SdError> {
    let timeout = cfg.refresh_interval.0.max(Duration::from_secs(1));
    let g = if cfg.role == "robot" {
        let body = get(client, &format!("{ROBOT_ENDPOINT}/server"), timeout).await?;
        let servers: Vec<Value> = refresh::decode(&body)?;
        robot_group(cfg.port, &servers)
    } else {
        let servers =
            all_pages(client, "/servers", "servers", &cfg.label_selector, timeout).await?;
        let networks = all_pages(client, "/networks", "networks", "", timeout).await?;
        hcloud_group(cfg.port, &servers, &networks)
    };
    Ok(vec![g])
}

/// Runs entry `index` of a job (or Alertmanager set), handing its group
/// to `sink` under `hetzner/<index>/` every refresh interval.
pub async fn run(index: usize, cfg: HetznerSdConfig, base: PathBuf, sink: Sink) {
    let client = match HttpClient::new(&cfg.http, &base, true) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "hetzner", err = %e, "Cannot create Hetzner discovery");
            return;
        }
    };
    let key = format!("hetzner/{index}/");
    let (cfg, client) = (&cfg, &client);
    refresh::poll("hetzner", key, cfg.refresh_interval.0, sink, || {
        refresh(client, cfg)
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(y: &str) -> HetznerSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn checks_as_prometheus() {
        let c = cfg("role: hcloud\n");
        assert_eq!(c.port, 80);
        assert_eq!(c.refresh_interval.0, Duration::from_secs(60));
        assert!(c.validate().is_ok());
        for (y, want) in [
            ("port: 9100\n", "role missing (one of: robot, hcloud)"),
            ("role: cloud\n", "unknown role \"cloud\""),
            (
                "role: robot\nserver: x\n",
                "field server not found in type hetzner.plain",
            ),
        ] {
            assert_eq!(cfg(y).validate().unwrap_err().to_string(), want, "{y}");
        }
    }

    #[test]
    fn go_prints_addresses_so() {
        assert_eq!(go_ip(&json!("1.2.3.4")), "1.2.3.4");
        assert_eq!(go_ip(&Value::Null), "<nil>");
        assert_eq!(go_network(&json!("2001:db8:0:1::/64")), "2001:db8:0:1::/64");
        assert_eq!(go_network(&json!("2001:db8::1/64")), "2001:db8::/64");
        assert_eq!(go_network(&Value::Null), "<nil>");
    }

    #[test]
    fn robot_servers() {
        let g = robot_group(
            9100,
            &[
                json!({"server": {"server_ip": "1.2.3.4", "server_number": 321, "server_name": "s1",
                "product": "EX 44", "dc": "FSN1-DC14", "status": "ready", "cancelled": false,
                "subnet": [{"ip": "1.2.3.0", "mask": "29"}, {"ip": "2a01:4f8::", "mask": "64"}]}}),
            ],
        );
        assert_eq!(g.targets, vec!["1.2.3.4:9100"]);
        let t: Vec<_> = g.each_target().collect();
        assert_eq!(t[0]["__meta_hetzner_datacenter"], "fsn1-dc14");
        assert_eq!(t[0]["__meta_hetzner_public_ipv6_network"], "2a01:4f8::/64");
        assert_eq!(t[0]["__meta_hetzner_robot_cancelled"], "false");
    }
}
