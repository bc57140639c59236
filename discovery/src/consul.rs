//! `consul_sd_configs`: service instances from Consul's catalog, with
//! Prometheus's `__meta_consul_*` labels.
//!
//! As in Prometheus, the catalog's service list (`/v1/catalog/services`)
//! is watched when no `services` are named, or when `tags` or `filter` are
//! set; each service of interest is then watched through the health API
//! (`/v1/health/service/<name>`), which gives its instances and their
//! checks. Every watch is a blocking query: it asks with the index of the
//! last answer (`?index=`, from `X-Consul-Index`) and Consul answers when
//! something changed or after `wait` (2 minutes). A watch asks at most
//! once per `refresh_interval`; after an error it waits 15 s. Without a
//! configured `datacenter`, the agent's (`/v1/agent/self`) is used for the
//! `__meta_consul_dc` label.
//!
//! The watches of one entry send their groups to one task, which hands
//! the entry's groups to discovery's sink under `consul/<i>/`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::refresh::{self, AbortOnDrop, ErrorLog, SdError};
use super::{sanitize, SdClientError, Sink, TargetGroup};
use common::config::http::{BasicAuth, HttpClientConfig, Secret};
use common::config::{CheckError, PromDuration};
use common::httpclient::HttpClient;

/// How long a blocking query may wait for a change.
const WATCH_TIMEOUT: Duration = Duration::from_secs(120);
/// The wait before asking again after an error.
const RETRY_INTERVAL: Duration = Duration::from_secs(15);

/// Failed requests to Consul (`prometheus_sd_consul_rpc_failures_total`).
pub static RPC_FAILURES: AtomicU64 = AtomicU64::new(0);

/// One `consul_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ConsulSdConfig {
    /// The agent's address, `host:port` (`http://`/`https://` prefixes
    /// taken as the Consul client takes them).
    #[serde(default = "default_server")]
    pub server: String,
    /// A prefix of every path (Consul behind a reverse proxy).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    /// ACL token, sent as `X-Consul-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Datacenter to ask (default: the agent's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Namespace (Consul Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Admin partition (Consul Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// What joins the tags in `__meta_consul_tags` (`,`).
    #[serde(default = "default_separator")]
    pub tag_separator: String,
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Basic authentication user (older form of `basic_auth`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Basic authentication password (older form of `basic_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Whether any server may answer, not only the leader (true).
    #[serde(default = "yes")]
    pub allow_stale: bool,
    /// Shortest time between two requests of one watch (30s).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// Services to discover (none: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Tags every instance must have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Node metadata every instance's node must have.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_meta: BTreeMap<String, String>,
    /// Filter expression of the catalog's service list.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter: String,
    /// Filter expression of the health API's instances.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub health_filter: String,
    /// Authentication, TLS, proxy.
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Keys that are none of the above (refused by `validate`).
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

fn default_server() -> String {
    "localhost:8500".into()
}
fn default_separator() -> String {
    ",".into()
}
fn default_scheme() -> String {
    "http".into()
}
fn yes() -> bool {
    true
}
fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}

impl ConsulSdConfig {
    /// Prometheus's checks, in its order and with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "consul.plain",
            });
        }
        if self.server.trim().is_empty() {
            return Err("consul SD configuration requires a server address".into());
        }
        if (!self.username.is_empty() || self.password.as_ref().is_some_and(|p| !p.0.is_empty()))
            && self.http.basic_auth.is_some()
        {
            return Err("at most one of consul SD configuration username and password and basic auth can be configured".into());
        }
        if self.token.as_ref().is_some_and(|t| !t.0.is_empty())
            && (self.http.authorization.is_some() || self.http.oauth2.is_some())
        {
            return Err(
                "at most one of consul SD token, authorization, or oauth2 can be configured".into(),
            );
        }
        self.http.validate()?;
        self.base()?;
        Ok(())
    }

    /// The HTTP client settings, with `username`/`password` as basic
    /// authentication.
    fn client_config(&self) -> HttpClientConfig {
        let mut http = self.http.clone();
        if !self.username.is_empty() || self.password.as_ref().is_some_and(|p| !p.0.is_empty()) {
            http.basic_auth = Some(BasicAuth {
                username: self.username.clone(),
                password: self.password.clone(),
                ..BasicAuth::default()
            });
        }
        http
    }

    /// The URL every path is appended to: scheme, address and path prefix,
    /// with a `http://` or `https://` prefix of `server` taken as the
    /// Consul client takes it (https wins over `scheme`, a path after the
    /// address is the path prefix).
    fn base(&self) -> Result<String, CheckError> {
        let mut scheme = self.scheme.as_str();
        let mut address = self.server.trim();
        let mut prefix = self.path_prefix.clone();
        if let Some((proto, rest)) = address.split_once("://") {
            match proto {
                "http" => {}
                "https" => scheme = "https",
                other => return Err(format!("Unknown protocol scheme: {other}").into()),
            }
            address = rest;
            if let Some((host, path)) = address.split_once('/') {
                address = host;
                prefix = format!("/{path}");
            }
        }
        let base = format!("{scheme}://{address}{}", prefix.trim_end_matches('/'));
        url::Url::parse(&base).map_err(|err| CheckError::Url {
            what: "consul server",
            url: base.clone(),
            err,
        })?;
        Ok(base)
    }

    /// Whether the catalog's service list is watched (else only the named
    /// services are).
    fn watches_catalog(&self) -> bool {
        self.services.is_empty() || !self.tags.is_empty() || !self.filter.is_empty()
    }

    /// Whether a service of the catalog is to be watched.
    fn should_watch(&self, name: &str, tags: &[String]) -> bool {
        (self.services.is_empty() || self.services.iter().any(|s| s == name))
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

/// A client of one Consul agent with an entry's query options.
struct Client {
    http: HttpClient,
    base: String,
    cfg: ConsulSdConfig,
}

/// One instance as the health API lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceEntry {
    #[serde(default)]
    node: Option<Node>,
    #[serde(default)]
    service: Option<AgentService>,
    #[serde(default)]
    checks: Option<Vec<Check>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    #[serde(default)]
    node: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    tagged_addresses: Option<BTreeMap<String, String>>,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentService {
    #[serde(default, rename = "ID")]
    id: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    address: String,
    #[serde(default)]
    port: i64,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    partition: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Check {
    #[serde(default, rename = "CheckID")]
    check_id: String,
    #[serde(default)]
    status: String,
}

/// The status of a set of checks as Consul's client sums it up:
/// maintenance over critical over warning over passing (none: passing;
/// an unknown status: empty).
fn aggregated_status(checks: &[Check]) -> &'static str {
    let (mut warning, mut critical, mut maintenance) = (false, false, false);
    for c in checks {
        if c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:") {
            maintenance = true;
            continue;
        }
        match c.status.as_str() {
            "passing" => {}
            "warning" => warning = true,
            "critical" => critical = true,
            _ => return "",
        }
    }
    if maintenance {
        "maintenance"
    } else if critical {
        "critical"
    } else if warning {
        "warning"
    } else {
        "passing"
    }
}

impl Client {
    fn new(cfg: &ConsulSdConfig, base_dir: &Path) -> Result<Client, SdClientError> {
        Ok(Client {
            http: HttpClient::new(&cfg.client_config(), base_dir, true)?,
            base: cfg.base()?,
            cfg: cfg.clone(),
        })
    }

    /// A GET of `path` (already escaped) with the entry's datacenter,
    /// namespace, partition and token, and `params`; returns the body and
    /// `X-Consul-Index` (0 when absent).
    async fn get(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<(bytes::Bytes, u64), SdError> {
        let c = &self.cfg;
        let mut q: Vec<(&str, String)> = Vec::new();
        for (k, v) in [
            ("dc", &c.datacenter),
            ("ns", &c.namespace),
            ("partition", &c.partition),
        ] {
            if !v.is_empty() {
                q.push((k, v.clone()));
            }
        }
        q.extend(params.iter().cloned());
        let mut req = self
            .http
            .client()
            .get(format!("{}{path}", self.base))
            .query(&q)
            .timeout(WATCH_TIMEOUT + Duration::from_secs(15));
        if let Some(t) = c.token.as_ref().filter(|t| !t.0.is_empty()) {
            req = req.header("X-Consul-Token", t.0.as_str());
        }
        let (headers, body) = refresh::get_ok(&self.http, req).await?;
        let index = headers
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((body, index))
    }

    /// The options of a blocking query from `index`.
    fn blocking(&self, index: u64, filter: &str) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if self.cfg.allow_stale {
            p.push(("stale", String::new()));
        }
        if index != 0 {
            p.push(("index", index.to_string()));
        }
        p.push(("wait", format!("{}ms", WATCH_TIMEOUT.as_millis())));
        if !filter.is_empty() {
            p.push(("filter", filter.to_string()));
        }
        for (k, v) in &self.cfg.node_meta {
            p.push(("node-meta", format!("{k}:{v}")));
        }
        p
    }

    /// The agent's datacenter.
    async fn datacenter(&self) -> Result<String, SdError> {
        let (body, _) = self.get("/v1/agent/self", &[]).await?;
        let v: serde_json::Value = refresh::decode(&body)?;
        match &v["Config"]["Datacenter"] {
            serde_json::Value::String(dc) => Ok(dc.clone()),
            other => Err(SdError::Decode(format!(
                "invalid value '{other}' for Config.Datacenter"
            ))),
        }
    }

    /// The catalog's services and their tags, from `index`.
    async fn services(&self, index: u64) -> Result<(BTreeMap<String, Vec<String>>, u64), SdError> {
        let params = self.blocking(index, &self.cfg.filter);
        let (body, index) = self.get("/v1/catalog/services", &params).await?;
        let m: BTreeMap<String, Option<Vec<String>>> = refresh::decode(&body)?;
        Ok((
            m.into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
            index,
        ))
    }

    /// The instances of a service with the configured tags, from `index`.
    async fn health(&self, name: &str, index: u64) -> Result<(Vec<ServiceEntry>, u64), SdError> {
        let mut params = self.blocking(index, &self.cfg.health_filter);
        for t in &self.cfg.tags {
            params.push(("tag", t.clone()));
        }
        let path = format!(
            "/v1/health/service/{}",
            url::form_urlencoded::byte_serialize(name.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        );
        let (body, index) = self.get(&path, &params).await?;
        let entries: Option<Vec<ServiceEntry>> = refresh::decode(&body)?;
        Ok((entries.unwrap_or_default(), index))
    }
}

/// The group of a service's instances.
fn service_group(
    cfg: &ConsulSdConfig,
    name: &str,
    datacenter: &str,
    entries: &[ServiceEntry],
) -> TargetGroup {
    let mut g = TargetGroup::default();
    g.labels
        .insert("__meta_consul_service".into(), name.to_string());
    g.labels
        .insert("__meta_consul_dc".into(), datacenter.to_string());
    let sep = &cfg.tag_separator;
    let empty_node = Node::default();
    let empty_service = AgentService::default();
    for e in entries {
        let node = e.node.as_ref().unwrap_or(&empty_node);
        let svc = e.service.as_ref().unwrap_or(&empty_service);
        let host = if svc.address.is_empty() {
            &node.address
        } else {
            &svc.address
        };
        let addr = refresh::join_host_port(host, svc.port);
        let tags = svc.tags.as_deref().unwrap_or_default();
        let mut l = BTreeMap::new();
        let mut put = |k: String, v: &str| {
            l.insert(k, v.to_string());
        };
        put("__meta_consul_address".into(), &node.address);
        put("__meta_consul_node".into(), &node.node);
        put("__meta_consul_namespace".into(), &svc.namespace);
        put("__meta_consul_partition".into(), &svc.partition);
        // the separator around the list too, so that a regex need not
        // care where a tag stands
        put(
            "__meta_consul_tags".into(),
            &format!("{sep}{}{sep}", tags.join(sep)),
        );
        put("__meta_consul_service_address".into(), &svc.address);
        put("__meta_consul_service_port".into(), &svc.port.to_string());
        put("__meta_consul_service_id".into(), &svc.id);
        put(
            "__meta_consul_health".into(),
            aggregated_status(e.checks.as_deref().unwrap_or_default()),
        );
        for (k, v) in node.meta.iter().flatten() {
            put(format!("__meta_consul_metadata_{}", sanitize(k)), v);
        }
        for (k, v) in svc.meta.iter().flatten() {
            put(format!("__meta_consul_service_metadata_{}", sanitize(k)), v);
        }
        for (k, v) in node.tagged_addresses.iter().flatten() {
            put(format!("__meta_consul_tagged_address_{}", sanitize(k)), v);
        }
        g.targets.push(addr);
        g.target_labels.push(l);
    }
    g
}

/// What the watches tell the task that hands groups over.
enum Update {
    /// A watch of `name` starts as number `id` (its groups carry it).
    Start { name: String, id: u64 },
    /// The service left the catalog: its targets go.
    Stop { name: String },
    /// The instances of `name` as watch `id` last saw them.
    Group {
        name: String,
        id: u64,
        group: TargetGroup,
    },
    /// The catalog was read (with no service of interest, there are no
    /// groups to send, but the empty set is news too).
    Catalog,
}

/// Sleeps until `interval` after `started`.
async fn pace(started: Instant, interval: Duration) {
    tokio::time::sleep_until((started + interval.max(Duration::from_millis(10))).into()).await;
}

/// Watches one service's instances, sending each new set.
async fn watch_service(
    client: Arc<Client>,
    datacenter: String,
    name: String,
    id: u64,
    tx: mpsc::UnboundedSender<Update>,
) {
    let mut index = 0;
    let mut log = ErrorLog::default();
    loop {
        let started = Instant::now();
        match client.health(&name, index).await {
            Ok((entries, new_index)) => {
                // the same index: the wait ended with nothing new
                if new_index != index || new_index == 0 {
                    index = new_index;
                    let group = service_group(&client.cfg, &name, &datacenter, &entries);
                    if tx
                        .send(Update::Group {
                            name: name.clone(),
                            id,
                            group,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Err(e) => {
                RPC_FAILURES.fetch_add(1, Ordering::Relaxed);
                if log.should_log(&e.cause()) {
                    tracing::error!(component = "discovery manager", discovery = "consul", service = %name, tags = %client.cfg.tags.join(","), err = %e, "Error refreshing service");
                }
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
        }
        pace(started, client.cfg.refresh_interval.0).await;
    }
}

/// Watches the catalog's service list, starting a watch for each service
/// of interest and stopping those of services that left.
async fn watch_catalog(client: Arc<Client>, datacenter: String, tx: mpsc::UnboundedSender<Update>) {
    let mut index = 0;
    let mut log = ErrorLog::default();
    let mut watched: HashMap<String, AbortOnDrop> = HashMap::new();
    let mut next_id = 0u64;
    loop {
        let started = Instant::now();
        match client.services(index).await {
            Ok((services, new_index)) => {
                if new_index != index || new_index == 0 {
                    index = new_index;
                    for (name, tags) in &services {
                        if watched.contains_key(name) || !client.cfg.should_watch(name, tags) {
                            continue;
                        }
                        next_id += 1;
                        if tx
                            .send(Update::Start {
                                name: name.clone(),
                                id: next_id,
                            })
                            .is_err()
                        {
                            return;
                        }
                        let task = tokio::spawn(watch_service(
                            Arc::clone(&client),
                            datacenter.clone(),
                            name.clone(),
                            next_id,
                            tx.clone(),
                        ));
                        watched.insert(name.clone(), AbortOnDrop(task));
                    }
                    let gone: Vec<String> = watched
                        .keys()
                        .filter(|n| !services.contains_key(*n))
                        .cloned()
                        .collect();
                    for name in gone {
                        watched.remove(&name);
                        if tx.send(Update::Stop { name }).is_err() {
                            return;
                        }
                    }
                    if tx.send(Update::Catalog).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                RPC_FAILURES.fetch_add(1, Ordering::Relaxed);
                if log.should_log(&e.cause()) {
                    tracing::error!(component = "discovery manager", discovery = "consul", err = %e, "Error refreshing service list");
                }
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
        }
        pace(started, client.cfg.refresh_interval.0).await;
    }
}

/// Runs entry `index` of a job (or Alertmanager set), handing its groups
/// to `sink` under `consul/<index>/`, until the sink is gone.
pub async fn run(index: usize, cfg: ConsulSdConfig, base: PathBuf, sink: Sink) {
    let client = match Client::new(&cfg, &base) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "consul", err = %e, "Cannot create Consul discovery");
            return;
        }
    };
    let datacenter = if cfg.datacenter.is_empty() {
        let mut log = ErrorLog::default();
        loop {
            match client.datacenter().await {
                Ok(dc) => break dc,
                Err(e) => {
                    RPC_FAILURES.fetch_add(1, Ordering::Relaxed);
                    if log.should_log(&e.cause()) {
                        tracing::error!(component = "discovery manager", discovery = "consul", err = %e, "Error retrieving datacenter name");
                    }
                    tokio::time::sleep(RETRY_INTERVAL).await;
                }
            }
        }
    } else {
        cfg.datacenter.clone()
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut current: HashMap<String, u64> = HashMap::new();
    let _watches: Vec<AbortOnDrop> = if cfg.watches_catalog() {
        vec![AbortOnDrop(tokio::spawn(watch_catalog(
            Arc::clone(&client),
            datacenter,
            tx,
        )))]
    } else {
        let mut v = Vec::new();
        for (id, name) in cfg.services.iter().enumerate() {
            let id = id as u64 + 1;
            current.insert(name.clone(), id);
            v.push(AbortOnDrop(tokio::spawn(watch_service(
                Arc::clone(&client),
                datacenter.clone(),
                name.clone(),
                id,
                tx.clone(),
            ))));
        }
        v
    };
    let prefix = format!("consul/{index}/");
    let mut groups: BTreeMap<String, TargetGroup> = BTreeMap::new();
    let mut last: Option<BTreeMap<String, TargetGroup>> = None;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(u) = next {
            match u {
                Update::Start { name, id } => {
                    current.insert(name, id);
                }
                Update::Stop { name } => {
                    current.remove(&name);
                    groups.remove(&name);
                }
                Update::Group { name, id, group } => {
                    if current.get(&name) == Some(&id) {
                        groups.insert(name, group);
                    }
                }
                Update::Catalog => {}
            }
            next = rx.try_recv().ok();
        }
        if last.as_ref() == Some(&groups) {
            continue;
        }
        let keyed = groups
            .iter()
            .map(|(name, g)| (format!("{prefix}{name}"), vec![g.clone()]))
            .collect();
        if !sink(&prefix, keyed) {
            return;
        }
        last = Some(groups.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(y: &str) -> ConsulSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn defaults_and_checks_as_prometheus() {
        let c = cfg("{}");
        assert_eq!(c.server, "localhost:8500");
        assert_eq!(c.scheme, "http");
        assert_eq!(c.tag_separator, ",");
        assert!(c.allow_stale);
        assert_eq!(c.refresh_interval.0, Duration::from_secs(30));
        assert!(c.validate().is_ok());
        assert_eq!(c.base().unwrap(), "http://localhost:8500");
        for (y, want) in [
            ("server: ' '\n", "consul SD configuration requires a server address"),
            (
                "username: u\nbasic_auth: {username: a}\n",
                "at most one of consul SD configuration username and password and basic auth can be configured",
            ),
            (
                "token: t\nauthorization: {credentials: c}\n",
                "at most one of consul SD token, authorization, or oauth2 can be configured",
            ),
            ("bogus: 1\n", "field bogus not found in type consul.plain"),
            ("server: 'ftp://h:1'\n", "Unknown protocol scheme: ftp"),
            (
                "bearer_token: a\nbearer_token_file: b\n",
                "at most one of bearer_token & bearer_token_file",
            ),
        ] {
            let e = cfg(y).validate().unwrap_err().to_string();
            assert!(e.contains(want), "{y}: {e}");
        }
    }

    #[test]
    fn server_prefixes_as_the_consul_client() {
        let c = cfg("server: https://c.example:8501/consul\nscheme: http\npath_prefix: /x\n");
        assert_eq!(c.base().unwrap(), "https://c.example:8501/consul");
        let c = cfg("server: http://c:8500\nscheme: https\npath_prefix: /gw/\n");
        assert_eq!(c.base().unwrap(), "https://c:8500/gw");
    }

    #[test]
    fn username_becomes_basic_auth_and_secrets_are_hidden() {
        let c = cfg("username: u\npassword: hunter2\ntoken: tok\n");
        let h = c.client_config();
        assert_eq!(h.basic_auth.unwrap().username, "u");
        let out = serde_yaml::to_string(&c).unwrap();
        assert!(!out.contains("hunter2") && !out.contains("tok\n"), "{out}");
        assert!(out.contains("password: <secret>"), "{out}");
    }

    #[test]
    fn which_services_are_watched() {
        let c = cfg("services: [a]\n");
        assert!(!c.watches_catalog());
        let c = cfg("services: [a]\ntags: [x]\n");
        assert!(c.watches_catalog());
        assert!(c.should_watch("a", &["x".into(), "y".into()]));
        assert!(!c.should_watch("a", &["y".into()]));
        assert!(!c.should_watch("b", &["x".into()]));
        assert!(cfg("{}").watches_catalog());
    }

    #[test]
    fn health_is_summed_up_as_consul_does() {
        let c = |id: &str, s: &str| Check {
            check_id: id.into(),
            status: s.into(),
        };
        assert_eq!(aggregated_status(&[]), "passing");
        assert_eq!(
            aggregated_status(&[c("a", "passing"), c("b", "warning")]),
            "warning"
        );
        assert_eq!(
            aggregated_status(&[c("a", "critical"), c("b", "warning")]),
            "critical"
        );
        assert_eq!(
            aggregated_status(&[c("_service_maintenance:web", "critical"), c("b", "passing")]),
            "maintenance"
        );
        assert_eq!(aggregated_status(&[c("a", "bogus")]), "");
    }

    #[test]
    fn instances_become_targets() {
        let entries: Vec<ServiceEntry> = serde_json::from_str(
            r#"[{"Node":{"Node":"n1","Address":"10.0.0.1","TaggedAddresses":{"lan":"10.0.0.1","wan_ipv4":"1.2.3.4"},"Meta":{"rack-id":"r1"}},
                 "Service":{"ID":"web-1","Service":"web","Tags":["a","b"],"Address":"","Port":8080,"Meta":{"version":"2"}},
                 "Checks":[{"CheckID":"serfHealth","Status":"passing"}]},
                {"Node":{"Node":"n2","Address":"10.0.0.2"},
                 "Service":{"ID":"web-2","Service":"web","Tags":null,"Address":"fd00::2","Port":9090,"Meta":null},
                 "Checks":null}]"#,
        )
        .unwrap();
        let g = service_group(&cfg("{}"), "web", "dc1", &entries);
        assert_eq!(g.targets, vec!["10.0.0.1:8080", "[fd00::2]:9090"]);
        let t: Vec<_> = g.each_target().collect();
        assert_eq!(t[0]["__meta_consul_tags"], ",a,b,");
        assert_eq!(t[0]["__meta_consul_metadata_rack_id"], "r1");
        assert_eq!(t[0]["__meta_consul_service_metadata_version"], "2");
        assert_eq!(t[0]["__meta_consul_tagged_address_wan_ipv4"], "1.2.3.4");
        assert_eq!(t[0]["__meta_consul_health"], "passing");
        assert_eq!(t[0]["__meta_consul_dc"], "dc1");
        assert_eq!(t[1]["__meta_consul_tags"], ",,");
        assert_eq!(t[1]["__meta_consul_service_address"], "fd00::2");
        assert_eq!(t[1]["__meta_consul_address"], "10.0.0.2");
    }
}
