//! `openstack_sd_configs`: Nova hypervisors (role `hypervisor`), the
//! network interfaces of Nova instances with their floating IPs from
//! Neutron (role `instance`), or Octavia load balancers with a
//! `PROMETHEUS` listener (role `loadbalancer`), every `refresh_interval`,
//! with Prometheus's `__meta_openstack_*` labels.
//!
//! Each refresh first gets a token from Keystone's Identity API v3
//! (`POST /v3/auth/tokens`, by password or application credential, scoped
//! to the project as gophercloud scopes it), as Prometheus does, and takes
//! the compute, network and load-balancer endpoints of the `region` and
//! `availability` from the token's catalog; lists are followed through
//! their `next` links.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::refresh::{self, join_host_port, SdError};
use super::{sanitize, OpenStackAuthError, SdClientError, Sink, TargetGroup};
use common::config::http::{HttpClientConfig, Secret, TlsConfig};
use common::config::{CheckError, PromDuration};
use common::httpclient::HttpClient;

const P: &str = "__meta_openstack_";

/// One `openstack_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct OpenStackSdConfig {
    /// Keystone's URL (`https://keystone:5000/v3`); empty: from the
    /// `OS_*` environment variables.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identity_endpoint: String,
    /// User name (with `domain_name` or `domain_id`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// User ID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userid: String,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Project name (scope).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project_name: String,
    /// Project ID (scope).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project_id: String,
    /// Domain name (of the user and the project).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain_name: String,
    /// Domain ID (of the user and the project).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain_id: String,
    /// Application credential name (with the user).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub application_credential_name: String,
    /// Application credential ID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub application_credential_id: String,
    /// Application credential secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_credential_secret: Option<Secret>,
    /// `hypervisor`, `instance` or `loadbalancer`.
    #[serde(default)]
    pub role: String,
    /// The region whose endpoints are used.
    #[serde(default)]
    pub region: String,
    /// How often to list (1m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// The port scraped (80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Instances of every project (role `instance`; usually needs admin).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_tenants: bool,
    /// TLS settings of every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// The endpoints' interface: `public` (default), `internal` or `admin`.
    #[serde(default = "default_availability")]
    pub availability: String,
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
fn default_availability() -> String {
    "public".into()
}

impl OpenStackSdConfig {
    /// Prometheus's checks, in its order and with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "openstack.plain",
            });
        }
        match self.role.as_str() {
            "" | "hypervisor" | "instance" | "loadbalancer" => {}
            r => return Err(format!("unknown OpenStack SD role {r:?}").into()),
        }
        match self.availability.as_str() {
            "public" | "internal" | "admin" => {}
            a => {
                return Err(format!(
                    "unknown availability {a}, must be one of admin, internal or public"
                )
                .into())
            }
        }
        if self.role.is_empty() {
            return Err("role missing (one of: instance, hypervisor, loadbalancer)".into());
        }
        if self.region.is_empty() {
            return Err("openstack SD configuration requires a region".into());
        }
        if let Some(t) = &self.tls_config {
            HttpClientConfig {
                tls_config: Some(t.clone()),
                ..HttpClientConfig::default()
            }
            .validate()?;
        }
        Ok(())
    }
}

/// What a token is asked with (gophercloud's `AuthOptions`).
#[derive(Clone, Debug, Default, PartialEq)]
struct AuthOptions {
    endpoint: String,
    username: String,
    userid: String,
    password: String,
    project_name: String,
    project_id: String,
    domain_name: String,
    domain_id: String,
    app_cred_name: String,
    app_cred_id: String,
    app_cred_secret: String,
}

fn secret(s: &Option<Secret>) -> String {
    s.as_ref().map(|s| s.0.clone()).unwrap_or_default()
}

impl AuthOptions {
    fn from_config(c: &OpenStackSdConfig) -> AuthOptions {
        AuthOptions {
            endpoint: c.identity_endpoint.clone(),
            username: c.username.clone(),
            userid: c.userid.clone(),
            password: secret(&c.password),
            project_name: c.project_name.clone(),
            project_id: c.project_id.clone(),
            domain_name: c.domain_name.clone(),
            domain_id: c.domain_id.clone(),
            app_cred_name: c.application_credential_name.clone(),
            app_cred_id: c.application_credential_id.clone(),
            app_cred_secret: secret(&c.application_credential_secret),
        }
    }

    /// The options in the `OS_*` environment variables, checked as
    /// gophercloud checks them.
    fn from_env(env: impl Fn(&str) -> String) -> Result<AuthOptions, OpenStackAuthError> {
        let either = |a: &str, b: &str| {
            let v = env(a);
            if v.is_empty() {
                env(b)
            } else {
                v
            }
        };
        let o = AuthOptions {
            endpoint: env("OS_AUTH_URL"),
            username: env("OS_USERNAME"),
            userid: env("OS_USERID"),
            password: env("OS_PASSWORD"),
            project_name: either("OS_PROJECT_NAME", "OS_TENANT_NAME"),
            project_id: either("OS_PROJECT_ID", "OS_TENANT_ID"),
            domain_name: env("OS_DOMAIN_NAME"),
            domain_id: env("OS_DOMAIN_ID"),
            app_cred_name: env("OS_APPLICATION_CREDENTIAL_NAME"),
            app_cred_id: env("OS_APPLICATION_CREDENTIAL_ID"),
            app_cred_secret: env("OS_APPLICATION_CREDENTIAL_SECRET"),
        };
        if o.endpoint.is_empty() {
            return Err(OpenStackAuthError::MissingVariable("OS_AUTH_URL"));
        }
        if o.userid.is_empty() && o.username.is_empty() && o.app_cred_id.is_empty() {
            return Err(OpenStackAuthError::MissingUser);
        }
        if o.password.is_empty() && o.app_cred_id.is_empty() && o.app_cred_name.is_empty() {
            return Err(OpenStackAuthError::MissingVariable("OS_PASSWORD"));
        }
        if (!o.app_cred_id.is_empty() || !o.app_cred_name.is_empty())
            && o.app_cred_secret.is_empty()
        {
            return Err(OpenStackAuthError::MissingVariable(
                "OS_APPLICATION_CREDENTIAL_SECRET",
            ));
        }
        Ok(o)
    }

    /// The user part of a password or named application credential.
    fn user(&self) -> Result<Value, OpenStackAuthError> {
        if !self.userid.is_empty() {
            return Ok(json!({"id": self.userid}));
        }
        if self.username.is_empty() {
            return Err(OpenStackAuthError::UserOrId);
        }
        let domain = match (self.domain_id.is_empty(), self.domain_name.is_empty()) {
            (false, true) => json!({"id": self.domain_id}),
            (true, false) => json!({"name": self.domain_name}),
            _ => return Err(OpenStackAuthError::UserDomain),
        };
        Ok(json!({"name": self.username, "domain": domain}))
    }

    /// The body of `POST /v3/auth/tokens`.
    fn token_request(&self) -> Result<Value, OpenStackAuthError> {
        if !self.app_cred_id.is_empty() || !self.app_cred_name.is_empty() {
            let cred = if !self.app_cred_id.is_empty() {
                json!({"id": self.app_cred_id, "secret": self.app_cred_secret})
            } else {
                json!({"name": self.app_cred_name, "user": self.user()?, "secret": self.app_cred_secret})
            };
            return Ok(json!({"auth": {"identity": {
                "methods": ["application_credential"],
                "application_credential": cred
            }}}));
        }
        let mut user = self.user()?;
        user["password"] = json!(self.password);
        let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": user}}});
        let scope = if !self.project_id.is_empty() {
            Some(json!({"project": {"id": self.project_id}}))
        } else if !self.project_name.is_empty() {
            let domain = match (self.domain_id.is_empty(), self.domain_name.is_empty()) {
                (false, _) => json!({"id": self.domain_id}),
                (true, false) => json!({"name": self.domain_name}),
                (true, true) => return Err(OpenStackAuthError::ScopeDomain),
            };
            Some(json!({"project": {"name": self.project_name, "domain": domain}}))
        } else {
            None
        };
        if let Some(s) = scope {
            auth["scope"] = s;
        }
        Ok(json!({ "auth": auth }))
    }
}

/// A token and the endpoints of its catalog.
struct Session {
    token: String,
    catalog: Vec<Value>,
}

impl Session {
    /// The URL (with a trailing slash) of the service of `kind` in
    /// `region` with `availability`, as gophercloud picks it.
    fn endpoint(&self, kind: &str, region: &str, availability: &str) -> Result<String, SdError> {
        for entry in &self.catalog {
            if entry["type"] != kind {
                continue;
            }
            for e in entry["endpoints"].as_array().into_iter().flatten() {
                if e["interface"] != availability {
                    continue;
                }
                if !region.is_empty() && e["region"] != region && e["region_id"] != region {
                    continue;
                }
                if let Some(u) = e["url"].as_str() {
                    let mut u = u.to_string();
                    if !u.ends_with('/') {
                        u.push('/');
                    }
                    return Ok(u);
                }
            }
        }
        Err(SdError::Decode(
            "No suitable endpoint could be found in the service catalog.".into(),
        ))
    }
}

/// An unexpected answer in gophercloud's words.
fn unexpected(method: &str, url: &str, want: &[u16], code: u16, body: &[u8]) -> SdError {
    let want: Vec<String> = want.iter().map(u16::to_string).collect();
    SdError::Status {
        code,
        body: format!(
            "Expected HTTP response code [{}] when accessing [{method} {url}], but got {code} instead: {}",
            want.join(" "),
            refresh::body_excerpt(body)
        ),
    }
}

struct Client {
    http: HttpClient,
    auth: AuthOptions,
    cfg: OpenStackSdConfig,
    timeout: Duration,
}

impl Client {
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, reqwest::header::HeaderMap, bytes::Bytes), SdError> {
        let resp = req
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| SdError::transport(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| SdError::transport(&e))?;
        Ok((status, headers, body))
    }

    /// Keystone's v3 URL (with a trailing slash): the endpoint when it
    /// names v3, else the v3 entry of its version list.
    async fn identity_v3(&self) -> Result<String, SdError> {
        let mut base = self.auth.endpoint.clone();
        if !base.ends_with('/') {
            base.push('/');
        }
        if base.ends_with("/v3/") {
            return Ok(base);
        }
        if base.ends_with("/v2.0/") {
            return Err(SdError::Decode(
                "Identity API v2.0 is not supported; use a v3 identity_endpoint".into(),
            ));
        }
        let (code, _, body) = self.send(self.http.client().get(&base)).await?;
        // Keystone answers its version list with 300 Multiple Choices
        if code != 200 && code != 300 {
            return Err(unexpected("GET", &base, &[200, 300], code, &body));
        }
        let v: Value = refresh::decode(&body)?;
        let versions = v["versions"]["values"]
            .as_array()
            .or_else(|| v["versions"].as_array())
            .cloned()
            .unwrap_or_default();
        for ver in versions {
            let id = ver["id"].as_str().unwrap_or("");
            if id.starts_with("v3") && ver["status"] != "deprecated" {
                for l in ver["links"].as_array().into_iter().flatten() {
                    if l["rel"] == "self" {
                        if let Some(h) = l["href"].as_str() {
                            let mut h = h.to_string();
                            if !h.ends_with('/') {
                                h.push('/');
                            }
                            return Ok(h);
                        }
                    }
                }
            }
        }
        Err(SdError::Decode(
            "Unable to find a version of the Identity API that is supported".into(),
        ))
    }

    /// A new token (each refresh asks for one, as Prometheus does).
    async fn authenticate(&self) -> Result<Session, SdError> {
        let body = self
            .auth
            .token_request()
            .map_err(|e| SdError::Auth(e.to_string()))?;
        let url = format!("{}auth/tokens", self.identity_v3().await?);
        let (code, headers, resp) = self
            .send(
                self.http
                    .client()
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(body.to_string()),
            )
            .await?;
        if code != 201 && code != 202 {
            return Err(unexpected("POST", &url, &[201, 202], code, &resp));
        }
        let token = headers
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| SdError::Decode("no X-Subject-Token in Keystone's answer".into()))?
            .to_string();
        let v: Value = refresh::decode(&resp)?;
        Ok(Session {
            token,
            catalog: v["token"]["catalog"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// Every item under `key` of a list at `url`, following the
    /// `<key>_links` `next` links.
    async fn list(&self, s: &Session, url: &str, key: &str) -> Result<Vec<Value>, SdError> {
        let mut items = Vec::new();
        let mut next = Some(url.to_string());
        let mut seen = HashSet::new();
        while let Some(u) = next.take() {
            if !seen.insert(u.clone()) {
                break;
            }
            let req = self
                .http
                .client()
                .get(&u)
                .header("X-Auth-Token", &s.token)
                .header("Accept", "application/json");
            let (code, _, body) = self.send(req).await?;
            if code != 200 {
                return Err(unexpected("GET", &u, &[200], code, &body));
            }
            let v: Value = refresh::decode(&body)?;
            match &v[key] {
                Value::Array(a) => items.extend(a.iter().cloned()),
                Value::Null => {}
                _ => return Err(SdError::Decode(format!("{key} is not a list"))),
            }
            next = v[format!("{key}_links")]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["rel"] == "next")
                .and_then(|l| l["href"].as_str())
                .map(str::to_string);
        }
        Ok(items)
    }

    fn endpoint(&self, s: &Session, kind: &str, what: &str) -> Result<String, SdError> {
        s.endpoint(kind, &self.cfg.region, &self.cfg.availability)
            .map_err(|e| e.context(&format!("could not create OpenStack {what} session")))
    }

    async fn refresh(&self) -> Result<Vec<TargetGroup>, SdError> {
        let s = self
            .authenticate()
            .await
            .map_err(|e| e.context("could not authenticate to OpenStack"))?;
        let g = match self.cfg.role.as_str() {
            "hypervisor" => {
                let compute = self.endpoint(&s, "compute", "compute")?;
                let list = self
                    .list(
                        &s,
                        &format!("{compute}os-hypervisors/detail"),
                        "hypervisors",
                    )
                    .await?;
                hypervisor_group(self.cfg.port, &list)
            }
            "instance" => {
                let compute = self.endpoint(&s, "compute", "compute")?;
                let network = self.endpoint(&s, "network", "network")?;
                let ports = self
                    .list(&s, &format!("{network}v2.0/ports"), "ports")
                    .await
                    .map_err(|e| e.context("failed to list all ports"))?;
                let fips = self
                    .list(&s, &format!("{network}v2.0/floatingips"), "floatingips")
                    .await?;
                let mut url = format!("{compute}servers/detail");
                if self.cfg.all_tenants {
                    url.push_str("?all_tenants=true");
                }
                let servers = self.list(&s, &url, "servers").await?;
                instance_group(self.cfg.port, &servers, &ports, &fips)
            }
            _ => {
                let lb = self.endpoint(&s, "load-balancer", "load balancer")?;
                let network = self.endpoint(&s, "network", "network")?;
                let lbs = self
                    .list(&s, &format!("{lb}v2/lbaas/loadbalancers"), "loadbalancers")
                    .await
                    .map_err(|e| e.context("failed to list load balancers"))?;
                let listeners = self
                    .list(&s, &format!("{lb}v2/lbaas/listeners"), "listeners")
                    .await
                    .map_err(|e| e.context("failed to list all listeners"))?;
                let fips = self
                    .list(&s, &format!("{network}v2.0/floatingips"), "floatingips")
                    .await
                    .map_err(|e| e.context("failed to list floating IPs"))?;
                loadbalancer_group(&lbs, &listeners, &fips)
            }
        };
        Ok(vec![g])
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn hypervisor_group(port: u16, list: &[Value]) -> TargetGroup {
    let mut g = TargetGroup::default();
    for h in list {
        let ip = s(&h["host_ip"]);
        let mut l = BTreeMap::new();
        l.insert(format!("{P}hypervisor_id"), s(&h["id"]));
        l.insert(
            format!("{P}hypervisor_hostname"),
            s(&h["hypervisor_hostname"]),
        );
        l.insert(format!("{P}hypervisor_host_ip"), ip.clone());
        l.insert(format!("{P}hypervisor_status"), s(&h["status"]));
        l.insert(format!("{P}hypervisor_state"), s(&h["state"]));
        l.insert(format!("{P}hypervisor_type"), s(&h["hypervisor_type"]));
        g.targets.push(join_host_port(&ip, port));
        g.target_labels.push(l);
    }
    g
}

fn instance_group(port: u16, servers: &[Value], ports: &[Value], fips: &[Value]) -> TargetGroup {
    let device_of: HashMap<String, String> = ports
        .iter()
        .map(|p| (s(&p["id"]), s(&p["device_id"])))
        .collect();
    // floating IPs by (instance, fixed address), and the set of them
    let mut floating: HashMap<(String, String), String> = HashMap::new();
    let mut is_floating: HashSet<String> = HashSet::new();
    for f in fips {
        let (port_id, fixed) = (s(&f["port_id"]), s(&f["fixed_ip_address"]));
        if port_id.is_empty() || fixed.is_empty() {
            continue;
        }
        let Some(device) = device_of.get(&port_id) else {
            tracing::warn!(component = "discovery manager", discovery = "openstack", PortID = %port_id, "Floating IP PortID not found in portList");
            continue;
        };
        let ip = s(&f["floating_ip_address"]);
        floating.insert((device.clone(), fixed), ip.clone());
        is_floating.insert(ip);
    }
    let mut g = TargetGroup::default();
    for sv in servers {
        let id = s(&sv["id"]);
        let Some(addresses) = sv["addresses"].as_object().filter(|a| !a.is_empty()) else {
            tracing::info!(component = "discovery manager", discovery = "openstack", instance = %id, "Got no IP address");
            continue;
        };
        let mut common = BTreeMap::new();
        common.insert(format!("{P}instance_id"), id.clone());
        common.insert(format!("{P}instance_status"), s(&sv["status"]));
        common.insert(format!("{P}instance_name"), s(&sv["name"]));
        common.insert(format!("{P}project_id"), s(&sv["tenant_id"]));
        common.insert(format!("{P}user_id"), s(&sv["user_id"]));
        let flavor = &sv["flavor"];
        match (flavor["original_name"].as_str(), flavor["id"].as_str()) {
            (Some(name), _) => common.insert(format!("{P}instance_flavor"), name.to_string()),
            (None, Some(fid)) => common.insert(format!("{P}instance_flavor"), fid.to_string()),
            (None, None) => {
                tracing::warn!(
                    component = "discovery manager",
                    discovery = "openstack",
                    "Invalid type for both flavor original_name and flavor id, expected string"
                );
                continue;
            }
        };
        if let Some(image) = sv["image"]["id"].as_str() {
            common.insert(format!("{P}instance_image"), image.to_string());
        }
        for (k, v) in sv["metadata"].as_object().into_iter().flatten() {
            common.insert(format!("{P}tag_{}", sanitize(k)), s(v));
        }
        for (pool, list) in addresses {
            for a in list.as_array().into_iter().flatten() {
                let Some(addr) = a["addr"].as_str() else {
                    continue;
                };
                if is_floating.contains(addr) {
                    continue;
                }
                let mut l = common.clone();
                l.insert(format!("{P}address_pool"), pool.clone());
                l.insert(format!("{P}private_ip"), addr.to_string());
                if let Some(f) = floating.get(&(id.clone(), addr.to_string())) {
                    l.insert(format!("{P}public_ip"), f.clone());
                }
                g.targets.push(join_host_port(addr, port));
                g.target_labels.push(l);
            }
        }
    }
    g
}

fn loadbalancer_group(lbs: &[Value], listeners: &[Value], fips: &[Value]) -> TargetGroup {
    let mut by_lb: HashMap<String, Vec<&Value>> = HashMap::new();
    for l in listeners {
        for lb in l["loadbalancers"].as_array().into_iter().flatten() {
            by_lb.entry(s(&lb["id"])).or_default().push(l);
        }
    }
    let fip: HashMap<String, String> = fips
        .iter()
        .filter(|f| !s(&f["port_id"]).is_empty())
        .map(|f| (s(&f["port_id"]), s(&f["floating_ip_address"])))
        .collect();
    let mut g = TargetGroup::default();
    for lb in lbs {
        let id = s(&lb["id"]);
        let Some(port) = by_lb
            .get(&id)
            .into_iter()
            .flatten()
            .find(|l| l["protocol"] == "PROMETHEUS")
            .map(|l| l["protocol_port"].as_i64().unwrap_or(0))
        else {
            continue;
        };
        let vip = s(&lb["vip_address"]);
        let mut l = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            l.insert(format!("{P}{k}"), v);
        };
        put("loadbalancer_id", id.clone());
        put("loadbalancer_name", s(&lb["name"]));
        put("loadbalancer_operating_status", s(&lb["operating_status"]));
        put(
            "loadbalancer_provisioning_status",
            s(&lb["provisioning_status"]),
        );
        put(
            "loadbalancer_availability_zone",
            s(&lb["availability_zone"]),
        );
        put("loadbalancer_vip", vip.clone());
        put("loadbalancer_provider", s(&lb["provider"]));
        put("project_id", s(&lb["project_id"]));
        let tags: Vec<String> = lb["tags"].as_array().into_iter().flatten().map(s).collect();
        if !tags.is_empty() {
            put("loadbalancer_tags", tags.join(","));
        }
        if let Some(f) = fip.get(&s(&lb["vip_port_id"])) {
            put("loadbalancer_floating_ip", f.clone());
        }
        g.targets.push(join_host_port(&vip, port));
        g.target_labels.push(l);
    }
    g
}

/// Runs entry `index` of a job (or Alertmanager set), handing its group
/// to `sink` under `openstack/<index>/` every refresh interval.
pub async fn run(index: usize, cfg: OpenStackSdConfig, base: PathBuf, sink: Sink) {
    let auth = if cfg.identity_endpoint.is_empty() {
        AuthOptions::from_env(|k| std::env::var(k).unwrap_or_default())
    } else {
        Ok(AuthOptions::from_config(&cfg))
    };
    let http = HttpClientConfig {
        tls_config: cfg.tls_config.clone(),
        ..HttpClientConfig::default()
    };
    let made = auth.map_err(SdClientError::from).and_then(|auth| {
        Ok(Client {
            http: HttpClient::new(&http, &base, true)?,
            auth,
            timeout: cfg.refresh_interval.0.max(Duration::from_secs(1)),
            cfg: cfg.clone(),
        })
    });
    let client = match made {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "openstack", err = %e, "Cannot create OpenStack discovery");
            return;
        }
    };
    let key = format!("openstack/{index}/");
    let client = &client;
    refresh::poll("openstack", key, cfg.refresh_interval.0, sink, || {
        client.refresh()
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(y: &str) -> OpenStackSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn checks_as_prometheus() {
        let c = cfg("role: instance\nregion: RegionOne\n");
        assert_eq!(c.port, 80);
        assert_eq!(c.availability, "public");
        assert_eq!(c.refresh_interval.0, Duration::from_secs(60));
        assert!(c.validate().is_ok());
        for (y, want) in [
            ("role: vm\nregion: r\n", "unknown OpenStack SD role \"vm\""),
            (
                "role: instance\nregion: r\navailability: private\n",
                "unknown availability private, must be one of admin, internal or public",
            ),
            (
                "region: r\n",
                "role missing (one of: instance, hypervisor, loadbalancer)",
            ),
            (
                "role: hypervisor\n",
                "openstack SD configuration requires a region",
            ),
        ] {
            assert_eq!(cfg(y).validate().unwrap_err().to_string(), want, "{y}");
        }
        assert_eq!(
            cfg("role: instance\nregion: r\nbasic_auth: {}\n")
                .validate()
                .unwrap_err()
                .to_string(),
            "field basic_auth not found in type openstack.plain"
        );
    }

    #[test]
    fn token_requests_as_gophercloud_builds_them() {
        let o = AuthOptions {
            username: "prom".into(),
            password: "pw".into(),
            domain_name: "Default".into(),
            project_name: "ops".into(),
            ..AuthOptions::default()
        };
        assert_eq!(
            o.token_request().unwrap(),
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user":
                {"name": "prom", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"name": "ops", "domain": {"name": "Default"}}}}})
        );
        let o = AuthOptions {
            userid: "u1".into(),
            password: "pw".into(),
            project_id: "p1".into(),
            ..AuthOptions::default()
        };
        assert_eq!(
            o.token_request().unwrap()["auth"]["scope"],
            json!({"project": {"id": "p1"}})
        );
        let o = AuthOptions {
            app_cred_id: "ac".into(),
            app_cred_secret: "s".into(),
            project_id: "ignored".into(),
            ..AuthOptions::default()
        };
        assert_eq!(
            o.token_request().unwrap(),
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": "ac", "secret": "s"}}}})
        );
        let o = AuthOptions {
            username: "prom".into(),
            password: "pw".into(),
            ..AuthOptions::default()
        };
        assert_eq!(o.token_request(), Err(OpenStackAuthError::UserDomain));
        assert!(o
            .token_request()
            .unwrap_err()
            .to_string()
            .contains("DomainID or DomainName"));
    }

    #[test]
    fn options_from_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            }
        };
        assert_eq!(
            AuthOptions::from_env(env(&[])).unwrap_err().to_string(),
            "Missing environment variable [OS_AUTH_URL]"
        );
        let o = AuthOptions::from_env(env(&[
            ("OS_AUTH_URL", "http://k:5000/v3"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p"),
            ("OS_TENANT_NAME", "t"),
            ("OS_DOMAIN_NAME", "d"),
        ]))
        .unwrap();
        assert_eq!(o.project_name, "t");
    }

    #[test]
    fn catalog_endpoints_by_region_and_interface() {
        let s = Session {
            token: "t".into(),
            catalog: vec![json!({"type": "compute", "name": "nova", "endpoints": [
                {"interface": "internal", "region": "RegionOne", "url": "http://nova-int/v2.1"},
                {"interface": "public", "region": "RegionTwo", "region_id": "RegionTwo", "url": "http://nova2/v2.1"},
                {"interface": "public", "region_id": "RegionOne", "url": "http://nova/v2.1"}]})],
        };
        assert_eq!(
            s.endpoint("compute", "RegionOne", "public").unwrap(),
            "http://nova/v2.1/"
        );
        assert_eq!(
            s.endpoint("compute", "RegionOne", "internal").unwrap(),
            "http://nova-int/v2.1/"
        );
        assert!(s.endpoint("network", "RegionOne", "public").is_err());
    }

    #[test]
    fn instances_with_floating_ips() {
        let servers = vec![
            json!({
                "id": "vm-1", "name": "web-1", "status": "ACTIVE", "tenant_id": "p1", "user_id": "u1",
                "flavor": {"id": "m1.small"}, "image": {"id": "img-1"}, "metadata": {"prometheus.io/scrape": "true"},
                "addresses": {"private": [{"version": 4, "addr": "10.0.0.5"}, {"version": 4, "addr": "172.24.4.10"}]}
            }),
            json!({"id": "vm-2", "addresses": {}, "flavor": {"id": "x"}}),
        ];
        let ports = vec![json!({"id": "port-1", "device_id": "vm-1"})];
        let fips = vec![
            json!({"port_id": "port-1", "fixed_ip_address": "10.0.0.5", "floating_ip_address": "172.24.4.10"}),
        ];
        let g = instance_group(9100, &servers, &ports, &fips);
        assert_eq!(g.targets, vec!["10.0.0.5:9100"]);
        let t: Vec<_> = g.each_target().collect();
        assert_eq!(t[0]["__meta_openstack_public_ip"], "172.24.4.10");
        assert_eq!(t[0]["__meta_openstack_instance_flavor"], "m1.small");
        assert_eq!(t[0]["__meta_openstack_tag_prometheus_io_scrape"], "true");
    }
}
