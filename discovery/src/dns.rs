//! `dns_sd_configs`: targets from DNS records (SRV, A, AAAA, MX, NS)
//! looked up through the system's resolver configuration (resolv.conf and
//! the hosts file) every `refresh_interval`.

use std::collections::BTreeMap;
use std::time::Duration;

use hickory_resolver::TokioAsyncResolver;
use serde::{Deserialize, Serialize};

use super::{DnsSdError, TargetGroup};
use common::config::{CheckError, PromDuration};

/// One `dns_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    /// Names to look up.
    pub names: Vec<String>,
    /// Record type: SRV (default), A, AAAA, MX or NS.
    #[serde(default = "default_type", rename = "type")]
    pub kind: String,
    /// Port for A, AAAA, MX and NS records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How often to look up (30s).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
}

fn default_type() -> String {
    "SRV".into()
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}

impl DnsSdConfig {
    /// Prometheus's checks.
    pub fn validate(&self) -> Result<(), CheckError> {
        if self.names.is_empty() {
            return Err("DNS-SD config must contain at least one SRV record name".into());
        }
        match self.kind.as_str() {
            "SRV" => Ok(()),
            "A" | "AAAA" | "MX" | "NS" if self.port.is_none() => {
                Err("a port is required in DNS-SD configs for all record types except SRV".into())
            }
            "A" | "AAAA" | "MX" | "NS" => Ok(()),
            other => Err(format!("invalid DNS-SD records type {other}").into()),
        }
    }
}

fn host_port(host: &str, port: u16) -> String {
    let h = host.trim_end_matches('.');
    if h.contains(':') {
        format!("[{h}]:{port}")
    } else {
        format!("{h}:{port}")
    }
}

/// Looks every name up once; one group per name.
pub async fn lookup(
    resolver: &TokioAsyncResolver,
    cfg: &DnsSdConfig,
) -> Result<Vec<TargetGroup>, DnsSdError> {
    let mut groups = Vec::new();
    for name in &cfg.names {
        let mut targets: Vec<(String, BTreeMap<String, String>)> = Vec::new();
        let meta = |extra: &[(&str, String)]| {
            let mut m = BTreeMap::new();
            m.insert("__meta_dns_name".to_string(), name.clone());
            for (k, v) in extra {
                m.insert(k.to_string(), v.clone());
            }
            m
        };
        let failed = |err| DnsSdError::Lookup {
            name: name.clone(),
            err,
        };
        let port = cfg.port.unwrap_or(0);
        match cfg.kind.as_str() {
            "SRV" => {
                let r = resolver.srv_lookup(name.as_str()).await.map_err(failed)?;
                for srv in r.iter() {
                    let t = srv.target().to_utf8();
                    targets.push((
                        host_port(&t, srv.port()),
                        meta(&[
                            ("__meta_dns_srv_record_target", t.clone()),
                            ("__meta_dns_srv_record_port", srv.port().to_string()),
                        ]),
                    ));
                }
            }
            "A" => {
                let r = resolver.ipv4_lookup(name.as_str()).await.map_err(failed)?;
                for a in r.iter() {
                    targets.push((host_port(&a.to_string(), port), meta(&[])));
                }
            }
            "AAAA" => {
                let r = resolver.ipv6_lookup(name.as_str()).await.map_err(failed)?;
                for a in r.iter() {
                    targets.push((host_port(&a.to_string(), port), meta(&[])));
                }
            }
            "MX" => {
                let r = resolver.mx_lookup(name.as_str()).await.map_err(failed)?;
                for mx in r.iter() {
                    let t = mx.exchange().to_utf8();
                    targets.push((
                        host_port(&t, port),
                        meta(&[("__meta_dns_mx_record_target", t.clone())]),
                    ));
                }
            }
            "NS" => {
                let r = resolver.ns_lookup(name.as_str()).await.map_err(failed)?;
                for ns in r.iter() {
                    let t = ns.to_utf8();
                    targets.push((
                        host_port(&t, port),
                        meta(&[("__meta_dns_ns_record_target", t.clone())]),
                    ));
                }
            }
            other => return Err(DnsSdError::RecordType(other.to_string())),
        }
        // a group per target, since meta labels differ per record
        for (addr, labels) in targets {
            groups.push(TargetGroup {
                targets: vec![addr],
                labels,
                ..TargetGroup::default()
            });
        }
    }
    Ok(groups)
}

/// A resolver from the system's configuration, falling back to defaults.
pub fn system_resolver() -> TokioAsyncResolver {
    TokioAsyncResolver::tokio_from_system_conf()
        .unwrap_or_else(|_| TokioAsyncResolver::tokio(Default::default(), Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        let c: DnsSdConfig = serde_yaml::from_str("names: [a]\ntype: A\n").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("port is required"));
        let c: DnsSdConfig = serde_yaml::from_str("names: [_x._tcp.example]\n").unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(host_port("::1", 9), "[::1]:9");
        assert_eq!(host_port("node.example.", 9), "node.example:9");
    }

    #[tokio::test]
    async fn a_records_from_the_hosts_file() {
        let c = DnsSdConfig {
            names: vec!["localhost".into()],
            kind: "A".into(),
            port: Some(9100),
            refresh_interval: default_refresh(),
        };
        let g = lookup(&system_resolver(), &c).await.unwrap();
        assert!(
            g.iter().any(|g| g.targets == vec!["127.0.0.1:9100"]),
            "{g:?}"
        );
        assert_eq!(g[0].labels["__meta_dns_name"], "localhost");
    }
}
