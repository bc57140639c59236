//! `eureka_sd_configs`: every instance of every application registered
//! with a Eureka server (`GET <server>/apps`, XML), every
//! `refresh_interval`, with Prometheus's `__meta_eureka_*` labels; the
//! target's `instance` label is the Eureka instance ID, as in Prometheus.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::refresh::{self, join_host_port, SdError};
use super::{sanitize, Sink, TargetGroup};
use common::config::http::HttpClientConfig;
use common::config::{CheckError, PromDuration};
use common::httpclient::HttpClient;

const P: &str = "__meta_eureka_app_instance_";

/// One `eureka_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct EurekaSdConfig {
    /// The server's URL (`http://eureka:8761/eureka`).
    #[serde(default)]
    pub server: String,
    /// How often to list (30s).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// Authentication, TLS, proxy.
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Keys that are none of the above (refused by `validate`).
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}

impl EurekaSdConfig {
    /// Prometheus's checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "eureka.plain",
            });
        }
        if self.server.is_empty() {
            return Err("eureka_sd: empty or null eureka server".into());
        }
        match url::Url::parse(&self.server) {
            Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => {}
            _ => return Err("eureka_sd: invalid eureka server URL".into()),
        }
        self.http.validate()
    }
}

/// The text of the first child element named `name`.
fn child_text<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    n.children()
        .find(|c| c.has_tag_name(name))
        .map(|c| c.text().unwrap_or(""))
}

/// An element's content as written (Go's `innerxml`): the bytes between
/// its tags.
fn inner_xml<'a>(doc: &'a str, n: roxmltree::Node) -> &'a str {
    match (n.first_child(), n.last_child()) {
        (Some(f), Some(l)) => &doc[f.range().start..l.range().end],
        _ => "",
    }
}

/// `<port enabled="true">8080</port>`: the port and whether it is enabled.
fn port(n: roxmltree::Node, name: &str) -> Result<Option<(i64, bool)>, SdError> {
    let Some(p) = n.children().find(|c| c.has_tag_name(name)) else {
        return Ok(None);
    };
    let text = p.text().unwrap_or("").trim();
    let number = if text.is_empty() {
        0
    } else {
        text.parse().map_err(|_| {
            SdError::Decode(format!(
                "strconv.ParseInt: parsing {text:?}: invalid syntax"
            ))
        })?
    };
    Ok(Some((number, p.attribute("enabled") == Some("true"))))
}

/// The group of every instance of every application in an `/apps`
/// answer.
fn group(doc: &str) -> Result<TargetGroup, SdError> {
    let xml = roxmltree::Document::parse(doc).map_err(|e| SdError::Decode(e.to_string()))?;
    let root = xml.root_element();
    let mut g = TargetGroup::default();
    for app in root.children().filter(|c| c.has_tag_name("application")) {
        let app_name = child_text(app, "name").unwrap_or("");
        for inst in app.children().filter(|c| c.has_tag_name("instance")) {
            let text = |name: &str| child_text(inst, name).unwrap_or("").to_string();
            let host = text("hostName");
            let port_ = port(inst, "port")?;
            let secure = port(inst, "securePort")?;
            let addr = join_host_port(&host, port_.map(|p| p.0).unwrap_or(80));
            let id = text("instanceId");
            let country: i64 = child_text(inst, "countryId")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| {
                        SdError::Decode(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))
                    })
                })
                .transpose()?
                .unwrap_or(0);
            let mut l = BTreeMap::new();
            l.insert("instance".to_string(), id.clone());
            l.insert("__meta_eureka_app_name".to_string(), app_name.to_string());
            for (label, field) in [
                ("hostname", "hostName"),
                ("homepage_url", "homePageUrl"),
                ("statuspage_url", "statusPageUrl"),
                ("healthcheck_url", "healthCheckUrl"),
                ("ip_addr", "ipAddr"),
                ("vip_address", "vipAddress"),
                ("secure_vip_address", "secureVipAddress"),
                ("status", "status"),
            ] {
                l.insert(format!("{P}{label}"), text(field));
            }
            l.insert(format!("{P}country_id"), country.to_string());
            l.insert(format!("{P}id"), id);
            if let Some((p, on)) = port_ {
                l.insert(format!("{P}port"), p.to_string());
                l.insert(format!("{P}port_enabled"), on.to_string());
            }
            if let Some((p, on)) = secure {
                l.insert(format!("{P}secure_port"), p.to_string());
                l.insert(format!("{P}secure_port_enabled"), on.to_string());
            }
            if let Some(dc) = inst.children().find(|c| c.has_tag_name("dataCenterInfo")) {
                l.insert(
                    format!("{P}datacenterinfo_name"),
                    child_text(dc, "name").unwrap_or("").to_string(),
                );
                if let Some(md) = dc.children().find(|c| c.has_tag_name("metadata")) {
                    for m in md.children().filter(|c| c.is_element()) {
                        l.insert(
                            format!(
                                "{P}datacenterinfo_metadata_{}",
                                sanitize(m.tag_name().name())
                            ),
                            inner_xml(doc, m).to_string(),
                        );
                    }
                }
            }
            if let Some(md) = inst.children().find(|c| c.has_tag_name("metadata")) {
                for m in md.children().filter(|c| c.is_element()) {
                    l.insert(
                        format!("{P}metadata_{}", sanitize(m.tag_name().name())),
                        inner_xml(doc, m).to_string(),
                    );
                }
            }
            g.targets.push(addr);
            g.target_labels.push(l);
        }
    }
    Ok(g)
}

async fn refresh(client: &HttpClient, cfg: &EurekaSdConfig) -> Result<Vec<TargetGroup>, SdError> {
    let url = format!("{}/apps", cfg.server);
    let req = client
        .client()
        .get(&url)
        .timeout(cfg.refresh_interval.0.max(Duration::from_secs(1)));
    let resp = client
        .authorize(req)
        .await?
        .send()
        .await
        .map_err(|e| SdError::transport(&e))?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| SdError::transport(&e))?;
    if status / 100 != 2 {
        return Err(SdError::Status {
            code: status,
            body: refresh::body_excerpt(&body),
        });
    }
    let text = std::str::from_utf8(&body).map_err(|e| SdError::Decode(format!("{url:?}: {e}")))?;
    group(text).map(|g| vec![g]).map_err(|e| match e {
        SdError::Decode(m) => SdError::Decode(format!("{url:?}: {m}")),
        other => other,
    })
}

/// Runs entry `index` of a job (or Alertmanager set), handing its group
/// to `sink` under `eureka/<index>/` every refresh interval.
pub async fn run(index: usize, cfg: EurekaSdConfig, base: PathBuf, sink: Sink) {
    let client = match HttpClient::new(&cfg.http, &base, true) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "eureka", err = %e, "Cannot create Eureka discovery");
            return;
        }
    };
    let key = format!("eureka/{index}/");
    let (cfg, client) = (&cfg, &client);
    refresh::poll("eureka", key, cfg.refresh_interval.0, sink, || {
        refresh(client, cfg)
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(y: &str) -> EurekaSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn checks_as_prometheus() {
        let c = cfg("server: http://eureka:8761/eureka\n");
        assert_eq!(c.refresh_interval.0, Duration::from_secs(30));
        assert!(c.validate().is_ok());
        for (y, want) in [
            (
                "refresh_interval: 1m\n",
                "eureka_sd: empty or null eureka server",
            ),
            (
                "server: eureka:8761\n",
                "eureka_sd: invalid eureka server URL",
            ),
            ("server: /eureka\n", "eureka_sd: invalid eureka server URL"),
            (
                "server: http://e\nrole: x\n",
                "field role not found in type eureka.plain",
            ),
        ] {
            assert_eq!(cfg(y).validate().unwrap_err().to_string(), want, "{y}");
        }
    }

    #[test]
    fn instances_become_targets() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<applications>
  <versions__delta>1</versions__delta>
  <apps__hashcode>UP_2_</apps__hashcode>
  <application>
    <name>ORDERS</name>
    <instance>
      <instanceId>orders-1:orders:8080</instanceId>
      <hostName>10.0.0.7</hostName>
      <app>ORDERS</app>
      <ipAddr>10.0.0.7</ipAddr>
      <status>UP</status>
      <port enabled="true">8080</port>
      <securePort enabled="false">443</securePort>
      <countryId>1</countryId>
      <dataCenterInfo class="com.netflix.appinfo.AmazonInfo">
        <name>Amazon</name>
        <metadata><availability-zone>eu-west-1a</availability-zone></metadata>
      </dataCenterInfo>
      <metadata>
        <management.port>8081</management.port>
        <note>a &amp; b</note>
      </metadata>
      <homePageUrl>http://10.0.0.7:8080/</homePageUrl>
      <vipAddress>orders</vipAddress>
    </instance>
    <instance>
      <instanceId>orders-2</instanceId>
      <hostName>fd00::8</hostName>
    </instance>
  </application>
</applications>"#;
        let g = group(doc).unwrap();
        assert_eq!(g.targets, vec!["10.0.0.7:8080", "[fd00::8]:80"]);
        let t: Vec<_> = g.each_target().collect();
        assert_eq!(t[0]["instance"], "orders-1:orders:8080");
        assert_eq!(t[0]["__meta_eureka_app_name"], "ORDERS");
        assert_eq!(t[0]["__meta_eureka_app_instance_port_enabled"], "true");
        assert_eq!(t[0]["__meta_eureka_app_instance_secure_port"], "443");
        assert_eq!(
            t[0]["__meta_eureka_app_instance_secure_port_enabled"],
            "false"
        );
        assert_eq!(
            t[0]["__meta_eureka_app_instance_datacenterinfo_metadata_availability_zone"],
            "eu-west-1a"
        );
        assert_eq!(
            t[0]["__meta_eureka_app_instance_metadata_management_port"],
            "8081"
        );
        assert_eq!(
            t[0]["__meta_eureka_app_instance_metadata_note"],
            "a &amp; b"
        );
        assert_eq!(t[1]["__meta_eureka_app_instance_country_id"], "0");
        assert!(!t[1].contains_key("__meta_eureka_app_instance_port"));
        assert!(group("<applications><application>").is_err());
    }
}
