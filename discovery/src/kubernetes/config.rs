//! `kubernetes_sd_configs` entries, checked as Prometheus 3 checks them,
//! with its messages.

use serde::{Deserialize, Serialize};

use common::config::http::HttpClientConfig;
use common::config::CheckError;

/// The kinds of object a discovery turns into targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Nodes (their kubelets).
    Node,
    /// Pods (their containers' ports).
    Pod,
    /// Services (their ports, by DNS name).
    Service,
    /// Endpoints objects (the addresses behind services).
    Endpoints,
    /// EndpointSlices (discovery.k8s.io/v1).
    EndpointSlice,
    /// Ingresses (their hosts and paths).
    Ingress,
}

impl Role {
    /// The name used in configurations and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Pod => "pod",
            Role::Service => "service",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
            Role::Ingress => "ingress",
        }
    }

    /// Every role, in the order Prometheus lists them.
    pub const ALL: [Role; 6] = [
        Role::Pod,
        Role::Service,
        Role::Endpoints,
        Role::EndpointSlice,
        Role::Node,
        Role::Ingress,
    ];

    /// The roles whose selectors this role's discovery takes, in the order
    /// Prometheus names them.
    fn selector_roles(self) -> &'static [Role] {
        match self {
            Role::Pod => &[Role::Pod, Role::Node],
            Role::Service => &[Role::Service],
            Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice],
            Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints],
            Role::Node => &[Role::Node],
            Role::Ingress => &[Role::Ingress],
        }
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown Kubernetes SD role {s:?}")))
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// `namespaces`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Namespaces {
    /// Also the namespace flint itself runs in (in a cluster).
    #[serde(default)]
    pub own_namespace: bool,
    /// Namespaces to watch (none: every namespace).
    #[serde(default)]
    pub names: Vec<String>,
}

/// One `selectors` entry: label and field selectors for one kind.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// The kind it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// A label selector (`app=web,tier!=db`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// A field selector (`spec.nodeName=n1`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// `attach_metadata`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadata {
    /// Node labels and annotations on pod, endpoints and endpointslice targets.
    #[serde(default)]
    pub node: bool,
    /// Namespace labels and annotations.
    #[serde(default)]
    pub namespace: bool,
    /// The Deployment owning a pod's ReplicaSet.
    #[serde(default)]
    pub deployment: bool,
    /// The Job owning a pod.
    #[serde(default)]
    pub job: bool,
    /// The CronJob owning a pod's Job.
    #[serde(default)]
    pub cronjob: bool,
}

/// One `kubernetes_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct KubernetesSdConfig {
    /// What to discover.
    pub role: Option<Role>,
    /// The API server (default: the cluster flint runs in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<String>,
    /// A kubeconfig file to take the server and credentials from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_file: Option<String>,
    /// Namespaces to watch.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// Label and field selectors per kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<Selector>,
    /// Metadata of related objects to add.
    #[serde(default)]
    pub attach_metadata: AttachMetadata,
    /// Authentication, TLS, proxy (with `api_server`).
    #[serde(flatten)]
    pub http: HttpClientConfig,
}

impl KubernetesSdConfig {
    /// The role (checked present by [`KubernetesSdConfig::validate`]).
    pub fn role(&self) -> Role {
        self.role.unwrap_or(Role::Pod)
    }

    /// The selector for objects of `kind`, if one is configured.
    pub fn selector(&self, kind: Role) -> Option<&Selector> {
        self.selectors.iter().find(|s| s.role == Some(kind))
    }

    /// Prometheus's checks, in its order and with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        let Some(role) = self.role else {
            return Err(
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"
                    .into(),
            );
        };
        self.http.validate()?;
        let custom_http = self.http != HttpClientConfig::default();
        if self.api_server.is_some() && self.kubeconfig_file.is_some() {
            return Err("cannot use 'kubeconfig_file' and 'api_server' simultaneously".into());
        }
        if self.kubeconfig_file.is_some() && custom_http {
            return Err(
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'"
                    .into(),
            );
        }
        if self.api_server.is_none() && custom_http {
            return Err("to use custom HTTP client configuration please provide the 'api_server' URL explicitly".into());
        }
        if self.api_server.is_some() && self.namespaces.own_namespace {
            return Err(
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        if self.kubeconfig_file.is_some() && self.namespaces.own_namespace {
            return Err(
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        if let Some(u) = &self.api_server {
            url::Url::parse(u).map_err(|err| CheckError::Url {
                what: "api_server",
                url: u.clone(),
                err,
            })?;
        }
        let mut seen = Vec::new();
        for s in &self.selectors {
            if let Some(r) = s.role {
                if seen.contains(&r) {
                    return Err(format!("duplicated selector role: {}", r.name()).into());
                }
                seen.push(r);
            }
            let allowed = role.selector_roles();
            if !s.role.is_some_and(|r| allowed.contains(&r)) {
                let names: Vec<&str> = allowed.iter().map(|r| r.name()).collect();
                return Err(format!(
                    "{} role supports only {} selectors",
                    role.name(),
                    names.join(", ")
                )
                .into());
            }
            super::selector::parse_label_selector(&s.label)?;
            super::selector::parse_field_selector(&s.field)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(y: &str) -> KubernetesSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn checks_in_prometheus_words() {
        assert!(cfg("role: pod\n").validate().is_ok());
        assert!(
            cfg("role: endpoints\napi_server: https://k8s:6443\nbearer_token: t\n")
                .validate()
                .is_ok()
        );
        let e = serde_yaml::from_str::<KubernetesSdConfig>("role: pods\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown Kubernetes SD role \"pods\""),
            "{e}"
        );
        for (y, want) in [
            (
                "namespaces: {names: [a]}\n",
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
            ),
            (
                "role: pod\napi_server: https://a\nkubeconfig_file: k\n",
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            ),
            (
                "role: pod\nkubeconfig_file: k\nbearer_token: t\n",
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            ),
            (
                "role: pod\nbearer_token: t\n",
                "please provide the 'api_server' URL explicitly",
            ),
            (
                "role: pod\napi_server: https://a\nnamespaces: {own_namespace: true}\n",
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
            ),
            (
                "role: pod\nselectors: [{role: service, label: a=b}]\n",
                "pod role supports only pod, node selectors",
            ),
            (
                "role: endpoints\nselectors: [{role: node}]\n",
                "endpoints role supports only pod, service, endpoints selectors",
            ),
            (
                "role: pod\nselectors: [{role: pod}, {role: pod}]\n",
                "duplicated selector role: pod",
            ),
            (
                "role: pod\nselectors: [{role: pod, label: 'a b'}]\n",
                "invalid label selector",
            ),
        ] {
            let e = cfg(y).validate().unwrap_err().to_string();
            assert!(e.contains(want), "{y}: {e}");
        }
    }
}
