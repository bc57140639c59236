//! `gce_sd_configs`: the instances of a Google Compute Engine project's
//! zone (the Compute API's `instances.list`, page by page with
//! `nextPageToken`, narrowed by `filter`), every `refresh_interval`, with
//! Prometheus's `__meta_gce_*` labels; the target is the first network
//! interface's private address with `port`.
//!
//! The API is asked at its real address,
//! `https://compute.googleapis.com/compute/v1/` (Prometheus has no setting
//! for another), with the tokens of Google's application default
//! credentials ([`credentials`]), through the environment's proxy and
//! trusting `SSL_CERT_FILE`'s CAs as Go's default HTTP client does: an
//! entry has no HTTP client settings of its own.

pub mod credentials;
mod error;

pub(crate) use error::go_io;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::refresh::{self, SdError};
use super::{sanitize, Sink, TargetGroup};
use common::config::{CheckError, PromDuration};
use credentials::Credentials;

const P: &str = "__meta_gce_";
/// The Compute API's address.
pub const BASE_URL: &str = "https://compute.googleapis.com/compute/v1/";

/// One `gce_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct GceSdConfig {
    /// The project.
    #[serde(default)]
    pub project: String,
    /// The zone whose instances are listed.
    #[serde(default)]
    pub zone: String,
    /// A filter of the list, in the API's syntax.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter: String,
    /// How often to list (1m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// The port scraped (80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// What joins the tags in `__meta_gce_tags` (`,`).
    #[serde(default = "default_separator")]
    pub tag_separator: String,
    /// Keys that are none of the above (refused by `validate`).
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}
fn default_port() -> u16 {
    80
}
fn default_separator() -> String {
    ",".into()
}

impl GceSdConfig {
    /// Prometheus's checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "gce.plain",
            });
        }
        if self.project.is_empty() {
            return Err("GCE SD configuration requires a project".into());
        }
        if self.zone.is_empty() {
            return Err("GCE SD configuration requires a zone".into());
        }
        Ok(())
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An instance's address and labels, as Prometheus makes them (none for an
/// instance without network interfaces).
fn instance_labels(
    project: &str,
    port: u16,
    separator: &str,
    inst: &Value,
) -> Option<(String, BTreeMap<String, String>)> {
    let nics = inst["networkInterfaces"]
        .as_array()
        .filter(|n| !n.is_empty())?;
    let mut l = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        // an empty value is no label, as in Prometheus's label sets
        if !v.is_empty() {
            l.insert(format!("{P}{k}"), v);
        }
    };
    put("project", project.to_string());
    put("zone", text(&inst["zone"]));
    // the ID is a uint64 the API sends as a string; none reads as 0
    let id = match &inst["id"] {
        Value::String(s) => s.parse::<u64>().unwrap_or(0),
        v => v.as_u64().unwrap_or(0),
    };
    put("instance_id", id.to_string());
    put("instance_name", text(&inst["name"]));
    put("instance_status", text(&inst["status"]));
    put("machine_type", text(&inst["machineType"]));
    let primary = &nics[0];
    put("network", text(&primary["network"]));
    put("subnetwork", text(&primary["subnetwork"]));
    let private = text(&primary["networkIP"]);
    put("private_ip", private.clone());
    for nic in nics {
        put(
            &format!("interface_ipv4_{}", sanitize(&text(&nic["name"]))),
            text(&nic["networkIP"]),
        );
    }
    let tags: Vec<String> = inst["tags"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !tags.is_empty() {
        put(
            "tags",
            format!("{separator}{}{separator}", tags.join(separator)),
        );
    }
    for item in inst["metadata"]["items"].as_array().into_iter().flatten() {
        let value = &item["value"];
        if value.is_null() {
            continue;
        }
        put(
            &format!("metadata_{}", sanitize(&text(&item["key"]))),
            text(value),
        );
    }
    for (k, v) in inst["labels"].as_object().into_iter().flatten() {
        put(&format!("label_{}", sanitize(k)), text(v));
    }
    if let Some(ac) = primary["accessConfigs"].as_array().and_then(|a| a.first()) {
        if ac["type"] == "ONE_TO_ONE_NAT" {
            put("public_ip", text(&ac["natIP"]));
        }
    }
    Some((format!("{private}:{port}"), l))
}

/// An error answer of a Google API, as Google's Go client words it.
fn api_error(code: u16, body: &[u8]) -> SdError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = v["error"]["message"].as_str().unwrap_or("");
    let message = if message.is_empty() {
        format!(
            "googleapi: got HTTP response code {code} with body: {}",
            String::from_utf8_lossy(body)
        )
    } else {
        format!("googleapi: Error {code}: {message}")
    };
    SdError::Api { code, message }
}

/// One entry's discovery.
struct Gce {
    cfg: GceSdConfig,
    creds: Credentials,
    base: String,
}

/// The URL of a page of an entry's instance list.
fn list_url(base: &str, cfg: &GceSdConfig, page_token: Option<&str>) -> Result<url::Url, SdError> {
    let mut u = url::Url::parse(base).map_err(|e| SdError::Decode(e.to_string()))?;
    u.path_segments_mut()
        .map_err(|_| SdError::Decode(format!("{base} cannot be a base")))?
        .pop_if_empty()
        .extend(["projects", &cfg.project, "zones", &cfg.zone, "instances"]);
    // the parameters in the order Go encodes them (by name)
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("alt", "json");
        if !cfg.filter.is_empty() {
            q.append_pair("filter", &cfg.filter);
        }
        if let Some(t) = page_token {
            q.append_pair("pageToken", t);
        }
        q.append_pair("prettyPrint", "false");
    }
    Ok(u)
}

impl Gce {
    async fn page(&self, page_token: Option<&str>) -> Result<Value, SdError> {
        let url = list_url(&self.base, &self.cfg, page_token)?;
        let auth = self
            .creds
            .authorization()
            .await
            .map_err(|e| SdError::Auth(format!("Get {:?}: {e}", url.as_str())))?;
        let timeout = self
            .cfg
            .refresh_interval
            .0
            .clamp(Duration::from_secs(10), Duration::from_secs(120));
        let resp = self
            .creds
            .api_client()
            .get(url.as_str())
            .header(reqwest::header::AUTHORIZATION, auth)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| {
                SdError::Transport(format!(
                    "Get {:?}: {}",
                    url.as_str(),
                    common::httpclient::error_chain(&e)
                ))
            })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| SdError::transport(&e))?;
        if !(200..300).contains(&status) {
            if status == 401 {
                // a token the API refuses is not used again
                self.creds.forget().await;
            }
            return Err(api_error(status, &body));
        }
        refresh::decode(&body)
    }

    async fn refresh(&self) -> Result<Vec<TargetGroup>, SdError> {
        let mut g = TargetGroup::default();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .page(token.as_deref())
                .await
                .map_err(|e| e.context("error retrieving refresh targets from gce"))?;
            for inst in page["items"].as_array().into_iter().flatten() {
                if let Some((addr, l)) = instance_labels(
                    &self.cfg.project,
                    self.cfg.port,
                    &self.cfg.tag_separator,
                    inst,
                ) {
                    g.targets.push(addr);
                    g.target_labels.push(l);
                }
            }
            token = page["nextPageToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(vec![g])
    }
}

/// Runs entry `index` of a job (or Alertmanager set), handing its group
/// to `sink` under `gce/<index>/` every refresh interval. Credentials are
/// looked for once; none found is logged and the entry finds nothing.
pub async fn run(index: usize, cfg: GceSdConfig, _base: PathBuf, sink: Sink) {
    let creds = match Credentials::find(&credentials::process_env(), credentials::SCOPE).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "gce", err = %format!("error setting up communication with GCE service: {e}"), "Cannot create service discovery");
            return;
        }
    };
    tracing::debug!(component = "discovery manager", discovery = "gce", credentials = %creds.kind.describe(), "Using Google credentials");
    let interval = cfg.refresh_interval.0;
    let gce = Gce {
        cfg,
        creds,
        base: BASE_URL.to_string(),
    };
    let gce = &gce;
    refresh::poll("gce", format!("gce/{index}/"), interval, sink, || {
        gce.refresh()
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(y: &str) -> GceSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn checks_as_prometheus() {
        let c = cfg("project: p\nzone: europe-west1-b\n");
        assert_eq!(c.port, 80);
        assert_eq!(c.tag_separator, ",");
        assert_eq!(c.refresh_interval.0, Duration::from_secs(60));
        assert!(c.validate().is_ok());
        assert_eq!(
            cfg("zone: z\n").validate().unwrap_err().to_string(),
            "GCE SD configuration requires a project"
        );
        assert_eq!(
            cfg("project: p\n").validate().unwrap_err().to_string(),
            "GCE SD configuration requires a zone"
        );
        assert_eq!(
            cfg("project: p\nzone: z\nregion: r\n")
                .validate()
                .unwrap_err()
                .to_string(),
            "field region not found in type gce.plain"
        );
        let out = serde_yaml::to_string(&cfg("project: p\nzone: z\n")).unwrap();
        assert!(out.contains("tag_separator: ','"), "{out}");
        assert!(!out.contains("filter"), "{out}");
    }

    #[test]
    fn instances_as_prometheus_labels_them() {
        let zone = "https://www.googleapis.com/compute/v1/projects/p/zones/europe-west1-b";
        let inst = json!({
            "id": "8012345678901234567",
            "name": "web-1",
            "status": "RUNNING",
            "zone": zone,
            "machineType": format!("{zone}/machineTypes/e2-small"),
            "tags": {"items": ["http-server", "prod"], "fingerprint": "x"},
            "labels": {"env": "prod", "team-name": "core"},
            "metadata": {"items": [
                {"key": "startup-script", "value": "echo hi"},
                {"key": "empty"},
                {"key": "blank", "value": ""}
            ]},
            "networkInterfaces": [
                {"name": "nic0", "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/default",
                 "subnetwork": "https://www.googleapis.com/compute/v1/projects/p/regions/europe-west1/subnetworks/default",
                 "networkIP": "10.132.0.2",
                 "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "name": "External NAT", "natIP": "34.76.1.2"}]},
                {"name": "nic1", "network": "n2", "networkIP": "10.10.0.3"}
            ]
        });
        let (addr, l) = instance_labels("p", 9100, ";", &inst).unwrap();
        assert_eq!(addr, "10.132.0.2:9100");
        let want: BTreeMap<String, String> = [
            ("project", "p"),
            ("zone", zone),
            ("instance_id", "8012345678901234567"),
            ("instance_name", "web-1"),
            ("instance_status", "RUNNING"),
            (
                "machine_type",
                &format!("{zone}/machineTypes/e2-small"),
            ),
            (
                "network",
                "https://www.googleapis.com/compute/v1/projects/p/global/networks/default",
            ),
            (
                "subnetwork",
                "https://www.googleapis.com/compute/v1/projects/p/regions/europe-west1/subnetworks/default",
            ),
            ("private_ip", "10.132.0.2"),
            ("interface_ipv4_nic0", "10.132.0.2"),
            ("interface_ipv4_nic1", "10.10.0.3"),
            ("tags", ";http-server;prod;"),
            ("metadata_startup_script", "echo hi"),
            ("label_env", "prod"),
            ("label_team_name", "core"),
            ("public_ip", "34.76.1.2"),
        ]
        .into_iter()
        .map(|(k, v)| (format!("__meta_gce_{k}"), v.to_string()))
        .collect();
        assert_eq!(l, want);

        // no interface: no target; a NAT that is not one-to-one: no public IP
        assert!(
            instance_labels("p", 80, ",", &json!({"name": "x", "networkInterfaces": []})).is_none()
        );
        let (addr, l) = instance_labels(
            "p",
            80,
            ",",
            &json!({"name": "y", "networkInterfaces": [
                {"name": "nic0", "networkIP": "10.0.0.9", "accessConfigs": [{"type": "DIRECT_IPV6"}]}]}),
        )
        .unwrap();
        assert_eq!(addr, "10.0.0.9:80");
        assert!(!l.contains_key("__meta_gce_public_ip"));
        assert!(!l.contains_key("__meta_gce_tags"));
        assert_eq!(l["__meta_gce_instance_id"], "0");
    }

    #[test]
    fn list_urls_as_the_go_client_makes_them() {
        let c = cfg("project: my-proj\nzone: us-central1-a\nfilter: 'labels.env = prod'\n");
        assert_eq!(
            list_url(BASE_URL, &c, None).unwrap().as_str(),
            "https://compute.googleapis.com/compute/v1/projects/my-proj/zones/us-central1-a/instances?alt=json&filter=labels.env+%3D+prod&prettyPrint=false"
        );
        assert_eq!(
            list_url(BASE_URL, &c, Some("tok 2")).unwrap().as_str(),
            "https://compute.googleapis.com/compute/v1/projects/my-proj/zones/us-central1-a/instances?alt=json&filter=labels.env+%3D+prod&pageToken=tok+2&prettyPrint=false"
        );
    }

    #[test]
    fn errors_in_the_go_client_words() {
        let e = api_error(
            403,
            br#"{"error": {"code": 403, "message": "Required 'compute.instances.list' permission for 'projects/p'", "errors": [{"message": "Required 'compute.instances.list' permission for 'projects/p'", "domain": "global", "reason": "forbidden"}]}}"#,
        );
        assert_eq!(
            e.to_string(),
            "googleapi: Error 403: Required 'compute.instances.list' permission for 'projects/p'"
        );
        assert_eq!(e.cause(), "status 403");
        assert_eq!(
            api_error(502, b"bad gateway").to_string(),
            "googleapi: got HTTP response code 502 with body: bad gateway"
        );
    }
}
