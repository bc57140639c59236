//! `azure_sd_configs`: the virtual machines of an Azure subscription (or of
//! one resource group), standalone and in scale sets, every
//! `refresh_interval`, with Prometheus's `__meta_azure_*` labels. Lists
//! come from Azure Resource Manager page by page (`nextLink`); each
//! machine's primary network interface gives its private address (the
//! target, with `port`) and public one. Interfaces are kept for ten
//! refresh intervals and a random part of three more, as Prometheus keeps
//! them. Tokens come from [`credentials`].
//!
//! Resource Manager and Entra ID are asked at their real names (Prometheus
//! has no setting for other endpoints). The entry's HTTP client options
//! apply to Resource Manager; its proxy and TLS settings to Entra ID as
//! well (Prometheus asks Entra ID through Go's default transport), so that
//! one proxy can stand between flint and Azure. Managed identity
//! endpoints are asked directly, never through a proxy.

pub mod certificate;
pub mod credentials;
mod error;

pub use error::{AnswerError, AzureError};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::refresh::{self, join_host_port, SdError};
use super::{sanitize, Sink, TargetGroup};
use common::config::http::{HttpClientConfig, Secret};
use common::config::{CheckError, PromDuration};
use common::httpclient::HttpClient;
use credentials::{Cloud, Credential, Env, TokenSource};

const P: &str = "__meta_azure_";
/// The Compute API version asked.
const COMPUTE_API_VERSION: &str = "2024-03-01";
/// The Network API version asked for interfaces.
const NETWORK_API_VERSION: &str = "2023-09-01";
/// The only Network API version that serves scale set machines'
/// interfaces.
const SCALE_SET_NIC_API_VERSION: &str = "2018-10-01";
/// At most this many interfaces are asked for at once.
const NIC_CONCURRENCY: usize = 16;
/// At most this many interfaces are kept.
const NIC_CACHE_CAPACITY: usize = 5000;

/// Failed refreshes (`prometheus_sd_azure_failures_total`).
pub static FAILURES: AtomicU64 = AtomicU64::new(0);
/// Interfaces found kept (`prometheus_sd_azure_cache_hit_total`).
pub static CACHE_HITS: AtomicU64 = AtomicU64::new(0);

/// One `azure_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct AzureSdConfig {
    /// The cloud (`AzurePublicCloud`, `AzureChinaCloud`,
    /// `AzureUSGovernmentCloud`).
    #[serde(default = "default_environment")]
    pub environment: String,
    /// `OAuth`, `ManagedIdentity`, `WorkloadIdentity` or `SDK`.
    #[serde(default = "default_method")]
    pub authentication_method: String,
    /// The subscription whose machines are listed.
    #[serde(default)]
    pub subscription_id: String,
    /// The tenant (`OAuth`; for `SDK`, over the environment's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant_id: String,
    /// The application's client ID (`OAuth`), or a user-assigned managed
    /// identity's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// The application's secret (`OAuth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Limits discovery to one resource group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_group: String,
    /// How often to list (5m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// The port scraped (80).
    #[serde(default = "default_port")]
    pub port: u16,
    /// TLS, proxy, headers.
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Keys that are none of the above (refused by `validate`).
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

fn default_environment() -> String {
    "AzurePublicCloud".into()
}
fn default_method() -> String {
    "OAuth".into()
}
fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}
fn default_port() -> u16 {
    80
}

fn required(value: &str, name: &str) -> Result<(), CheckError> {
    if value.is_empty() {
        return Err(format!("azure SD configuration requires a {name}").into());
    }
    Ok(())
}

impl AzureSdConfig {
    /// Prometheus's checks, in its order and with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "azure.plain",
            });
        }
        required(&self.subscription_id, "subscription_id")?;
        let m = self.authentication_method.as_str();
        if m == "OAuth" {
            required(&self.tenant_id, "tenant_id")?;
            required(&self.client_id, "client_id")?;
            required(
                self.client_secret.as_ref().map_or("", |s| s.0.as_str()),
                "client_secret",
            )?;
        }
        if !matches!(m, "OAuth" | "ManagedIdentity" | "SDK" | "WorkloadIdentity") {
            return Err(format!(
                "unknown authentication_type {m:?}. Supported types are \"OAuth\", \"ManagedIdentity\", \"SDK\" or \"WorkloadIdentity\""
            ).into());
        }
        self.http.validate()
    }
}

/// The parts of a resource ID discovery needs.
#[derive(Debug, PartialEq, Eq)]
struct ResourceId {
    resource_group: String,
    name: String,
}

/// Parses `/subscriptions/<id>/resourceGroups/<rg>/providers/<ns>/<type>/<name>[/<type>/<name>…]`.
fn parse_resource_id(id: &str) -> Result<ResourceId, AnswerError> {
    let invalid = |why: &'static str| AnswerError::ResourceId {
        id: id.to_string(),
        why,
    };
    let rest = id
        .strip_prefix('/')
        .ok_or_else(|| invalid("the resource ID does not start with '/'"))?;
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(invalid("the resource ID has too few or empty parts"));
    }
    if !parts[0].eq_ignore_ascii_case("subscriptions") {
        return Err(invalid("the resource ID does not name a subscription"));
    }
    let resource_group = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| parts.get(i + 1))
        .map(|s| s.to_string())
        .unwrap_or_default();
    Ok(ResourceId {
        resource_group,
        name: parts[parts.len() - 1].to_string(),
    })
}

/// A virtual machine, standalone or of a scale set.
#[derive(Clone, Debug, Default, PartialEq)]
struct Machine {
    id: String,
    name: String,
    computer_name: String,
    location: String,
    os_type: String,
    size: String,
    /// The scale set's name (empty for a standalone machine).
    scale_set: String,
    /// The machine's instance ID in its scale set.
    instance_id: String,
    tags: BTreeMap<String, String>,
    nics: Vec<String>,
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Machine {
    /// A machine of Resource Manager's answer (a `virtualMachines` or a
    /// scale set's `virtualMachines` item).
    fn from_json(v: &Value, scale_set: &str) -> Machine {
        let p = &v["properties"];
        Machine {
            id: s(&v["id"]),
            name: s(&v["name"]),
            computer_name: s(&p["osProfile"]["computerName"]),
            location: s(&v["location"]),
            os_type: s(&p["storageProfile"]["osDisk"]["osType"]),
            size: s(&p["hardwareProfile"]["vmSize"]),
            scale_set: scale_set.to_string(),
            instance_id: if scale_set.is_empty() {
                String::new()
            } else {
                s(&v["instanceId"])
            },
            tags: v["tags"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect(),
            nics: p["networkProfile"]["networkInterfaces"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["id"].as_str().map(str::to_string))
                .collect(),
        }
    }
}

/// What a machine's interfaces say of it.
#[derive(Debug, PartialEq)]
enum Addresses {
    /// The primary interface's first IP configuration.
    Found {
        private: String,
        public: Option<String>,
    },
    /// No primary interface, or one that says the machine is deallocated
    /// (no `primary` field): not a target.
    Skip,
}

/// The addresses of a machine from its interfaces, in order, as Prometheus
/// reads them: the first interface without `primary` means a deallocated
/// machine; on the primary one the first IP configuration must have a
/// private address.
fn addresses(machine: &str, nics: &[Arc<Value>]) -> Result<Addresses, AnswerError> {
    for nic in nics {
        let p = &nic["properties"];
        if !p.is_object() {
            continue;
        }
        let Some(primary) = p["primary"].as_bool() else {
            tracing::debug!(
                component = "discovery manager",
                discovery = "azure",
                machine,
                "Skipping deallocated virtual machine"
            );
            return Ok(Addresses::Skip);
        };
        if !primary {
            continue;
        }
        if let Some(ip) = p["ipConfigurations"].as_array().and_then(|a| a.first()) {
            let ipp = &ip["properties"];
            let public = ipp["publicIPAddress"]["properties"]["ipAddress"]
                .as_str()
                .map(str::to_string);
            return match ipp["privateIPAddress"].as_str() {
                Some(private) => Ok(Addresses::Found {
                    private: private.to_string(),
                    public,
                }),
                None => Err(AnswerError::NoPrivateIp(machine.to_string())),
            };
        }
    }
    Ok(Addresses::Skip)
}

/// The labels and address of a machine with its addresses.
fn target_labels(
    cfg: &AzureSdConfig,
    m: &Machine,
    resource_group: &str,
    private: &str,
    public: Option<&str>,
) -> (String, BTreeMap<String, String>) {
    let mut l = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        // an empty value is no label, as in Prometheus's label sets
        if !v.is_empty() {
            l.insert(format!("{P}{k}"), v.to_string());
        }
    };
    put("subscription_id", &cfg.subscription_id);
    put("tenant_id", &cfg.tenant_id);
    put("machine_id", &m.id);
    put("machine_name", &m.name);
    put("machine_computer_name", &m.computer_name);
    put("machine_os_type", &m.os_type);
    put("machine_location", &m.location);
    put("machine_resource_group", resource_group);
    put("machine_size", &m.size);
    put("machine_scale_set", &m.scale_set);
    for (k, v) in &m.tags {
        put(&format!("machine_tag_{}", sanitize(k)), v);
    }
    put("machine_private_ip", private);
    if let Some(p) = public {
        put("machine_public_ip", p);
    }
    (join_host_port(private, cfg.port), l)
}

/// Resource Manager's error (`{"error": {"code", "message"}}`) or the start
/// of the body.
fn arm_error(code: u16, body: &[u8]) -> SdError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let msg = v
        .as_ref()
        .and_then(|v| {
            let e = &v["error"];
            Some(format!(
                "{}: {}",
                e["code"].as_str()?,
                e["message"].as_str().unwrap_or("")
            ))
        })
        .unwrap_or_else(|| refresh::body_excerpt(body));
    SdError::Status { code, body: msg }
}

/// An interface kept, and until when.
struct KeptNic {
    nic: Arc<Value>,
    until: Instant,
}

/// One entry's discovery: its client, tokens and kept interfaces.
struct Discovery {
    cfg: AzureSdConfig,
    client: HttpClient,
    tokens: TokenSource,
    base: String,
    nics: parking_lot::Mutex<HashMap<String, KeptNic>>,
}

/// A number in `0..n` that differs from call to call.
fn jitter(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    if n == 0 {
        return 0;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish() % n
}

impl Discovery {
    fn timeout(&self) -> Duration {
        self.cfg
            .refresh_interval
            .0
            .clamp(Duration::from_secs(5), Duration::from_secs(120))
    }

    /// A Resource Manager GET with the entry's headers and a token.
    async fn get(&self, url: &str) -> Result<Value, SdError> {
        let token = self
            .tokens
            .token()
            .await
            .map_err(|e| SdError::Auth(e.to_string()))?;
        let req = self
            .client
            .client()
            .get(url)
            .timeout(self.timeout())
            .header(reqwest::header::ACCEPT, "application/json");
        let mut req = self
            .client
            .authorize(req)
            .await?
            .build()
            .map_err(|e| SdError::transport(&e))?;
        let bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| SdError::Auth(e.to_string()))?;
        req.headers_mut()
            .insert(reqwest::header::AUTHORIZATION, bearer);
        let resp = self
            .client
            .client()
            .execute(req)
            .await
            .map_err(|e| SdError::transport(&e))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| SdError::transport(&e))?;
        if status == 401 {
            self.tokens.forget().await;
        }
        if status != 200 {
            return Err(arm_error(status, &body));
        }
        refresh::decode(&body)
    }

    /// Every item of a list, following `nextLink` from page to page.
    async fn list(&self, path: &str) -> Result<Vec<Value>, SdError> {
        let mut url = format!(
            "{}/subscriptions/{}{path}?api-version={COMPUTE_API_VERSION}",
            self.base,
            enc(&self.cfg.subscription_id)
        );
        let mut items = Vec::new();
        // a bound against a server that always has a next page
        for _ in 0..100_000 {
            let v = self.get(&url).await?;
            match &v["value"] {
                Value::Array(a) => items.extend(a.iter().cloned()),
                Value::Null => {}
                _ => return Err(SdError::Decode("value is not a list".into())),
            }
            match v["nextLink"].as_str() {
                Some(next) if !next.is_empty() => url = next.to_string(),
                _ => break,
            }
        }
        Ok(items)
    }

    fn scope(&self) -> String {
        if self.cfg.resource_group.is_empty() {
            String::new()
        } else {
            format!("/resourceGroups/{}", enc(&self.cfg.resource_group))
        }
    }

    async fn machines(&self) -> Result<Vec<Machine>, SdError> {
        let scope = self.scope();
        let mut machines: Vec<Machine> = self
            .list(&format!(
                "{scope}/providers/Microsoft.Compute/virtualMachines"
            ))
            .await
            .map_err(|e| {
                e.context("could not list virtual machines")
                    .context("could not get virtual machines")
            })?
            .iter()
            .map(|v| Machine::from_json(v, ""))
            .collect();
        let sets = self
            .list(&format!(
                "{scope}/providers/Microsoft.Compute/virtualMachineScaleSets"
            ))
            .await
            .map_err(|e| {
                e.context("could not list virtual machine scale sets")
                    .context("could not get virtual machine scale sets")
            })?;
        for set in &sets {
            let name = s(&set["name"]);
            let rid = parse_resource_id(&s(&set["id"])).map_err(|e| {
                SdError::Decode(e.to_string())
                    .context("could not parse scale set ID")
                    .context("could not get virtual machine scale set vms")
            })?;
            let vms = self
                .list(&format!(
                    "/resourceGroups/{}/providers/Microsoft.Compute/virtualMachineScaleSets/{}/virtualMachines",
                    enc(&rid.resource_group),
                    enc(&name)
                ))
                .await
                .map_err(|e| {
                    e.context("could not list virtual machine scale set vms")
                        .context("could not get virtual machine scale set vms")
                })?;
            machines.extend(vms.iter().map(|v| Machine::from_json(v, &name)));
        }
        Ok(machines)
    }

    /// An interface, kept or asked for; `None` when Resource Manager does
    /// not know it.
    async fn nic(&self, m: &Machine, id: &str) -> Result<Option<Arc<Value>>, SdError> {
        {
            let mut kept = self.nics.lock();
            match kept.get(id) {
                Some(k) if Instant::now() < k.until => {
                    CACHE_HITS.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some(Arc::clone(&k.nic)));
                }
                Some(_) => {
                    kept.remove(id);
                }
                None => {}
            }
        }
        let rid = parse_resource_id(id).map_err(|e| {
            SdError::Decode(e.to_string()).context("could not parse network interface ID")
        })?;
        let expand = "&$expand=IPConfigurations%2FPublicIPAddress";
        let url = if m.scale_set.is_empty() {
            format!(
                "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/networkInterfaces/{}?api-version={NETWORK_API_VERSION}{expand}",
                self.base,
                enc(&self.cfg.subscription_id),
                enc(&rid.resource_group),
                enc(&rid.name)
            )
        } else {
            format!(
                "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachineScaleSets/{}/virtualMachines/{}/networkInterfaces/{}?api-version={SCALE_SET_NIC_API_VERSION}{expand}",
                self.base,
                enc(&self.cfg.subscription_id),
                enc(&rid.resource_group),
                enc(&m.scale_set),
                enc(&m.instance_id),
                enc(&rid.name)
            )
        };
        match self.get(&url).await {
            Ok(v) => {
                let nic = Arc::new(v);
                self.keep(id, &nic);
                Ok(Some(nic))
            }
            Err(SdError::Status { code: 404, body }) => {
                tracing::warn!(component = "discovery manager", discovery = "azure", name = id, err = %body, "Network interface does not exist");
                Ok(None)
            }
            Err(e) => Err(e.context(&format!("failed to retrieve Interface {id} with error"))),
        }
    }

    fn keep(&self, id: &str, nic: &Arc<Value>) {
        let every = self.cfg.refresh_interval.0;
        let until =
            Instant::now() + every * 10 + Duration::from_secs(jitter((every * 3).as_secs()));
        let mut kept = self.nics.lock();
        if kept.len() >= NIC_CACHE_CAPACITY {
            let now = Instant::now();
            kept.retain(|_, k| now < k.until);
            if kept.len() >= NIC_CACHE_CAPACITY {
                // the one that expires first goes
                if let Some(first) = kept
                    .iter()
                    .min_by_key(|(_, k)| k.until)
                    .map(|(id, _)| id.clone())
                {
                    kept.remove(&first);
                }
            }
        }
        kept.insert(
            id.to_string(),
            KeptNic {
                nic: Arc::clone(nic),
                until,
            },
        );
    }

    /// A machine's target, if it is one.
    async fn target(
        &self,
        m: &Machine,
    ) -> Result<Option<(String, BTreeMap<String, String>)>, SdError> {
        let rid = parse_resource_id(&m.id).map_err(|e| SdError::Decode(e.to_string()))?;
        let mut nics = Vec::new();
        for id in &m.nics {
            match self.nic(m, id).await? {
                Some(n) => nics.push(n),
                // without its interface a machine is no target
                None => return Ok(None),
            }
        }
        match addresses(&m.name, &nics).map_err(|e| SdError::Decode(e.to_string()))? {
            Addresses::Skip => Ok(None),
            Addresses::Found { private, public } => Ok(Some(target_labels(
                &self.cfg,
                m,
                &rid.resource_group,
                &private,
                public.as_deref(),
            ))),
        }
    }

    async fn refresh(self: &Arc<Self>) -> Result<Vec<TargetGroup>, SdError> {
        let machines = self.machines().await?;
        tracing::debug!(
            component = "discovery manager",
            discovery = "azure",
            count = machines.len(),
            "Found virtual machines during Azure discovery."
        );
        let sem = Arc::new(tokio::sync::Semaphore::new(NIC_CONCURRENCY));
        let mut set = tokio::task::JoinSet::new();
        for (i, m) in machines.into_iter().enumerate() {
            let (d, sem) = (Arc::clone(self), Arc::clone(&sem));
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, d.target(&m).await)
            });
        }
        let mut found = Vec::new();
        while let Some(r) = set.join_next().await {
            let (i, t) = r.map_err(|e| SdError::Decode(e.to_string()))?;
            match t {
                Ok(Some(t)) => found.push((i, t)),
                Ok(None) => {}
                Err(e) => {
                    set.abort_all();
                    return Err(e.context("unable to complete Azure service discovery"));
                }
            }
        }
        found.sort_by_key(|(i, _)| *i);
        let mut g = TargetGroup::default();
        for (_, (addr, labels)) in found {
            g.targets.push(addr);
            g.target_labels.push(labels);
        }
        Ok(vec![g])
    }
}

/// A path segment, percent-encoded.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The discovery of an entry, or why it cannot run.
fn discovery(
    cfg: &AzureSdConfig,
    base: &std::path::Path,
    env: &Env,
) -> Result<Discovery, AzureError> {
    let cloud = Cloud::from_name(&cfg.environment)?;
    let client = HttpClient::new(&cfg.http, base, true)?;
    let credential = Credential::new(
        &cfg.authentication_method,
        &cfg.tenant_id,
        &cfg.client_id,
        cfg.client_secret.as_ref().map_or("", |s| s.0.as_str()),
        env,
    )?;
    let tokens = TokenSource::new(credential, cloud, client.client().clone())?;
    Ok(Discovery {
        cfg: cfg.clone(),
        client,
        tokens,
        base: cloud.resource_manager.to_string(),
        nics: parking_lot::Mutex::new(HashMap::new()),
    })
}

/// Runs entry `index` of a job (or Alertmanager set), handing its group
/// to `sink` under `azure/<index>/` every refresh interval.
pub async fn run(index: usize, cfg: AzureSdConfig, base: PathBuf, sink: Sink) {
    let key = format!("azure/{index}/");
    let d = discovery(&cfg, &base, &credentials::process_env())
        .map(Arc::new)
        .map_err(Arc::new);
    refresh::poll("azure", key, cfg.refresh_interval.0, sink, || {
        let d = d.clone();
        async move {
            let r = match d {
                Ok(d) => d.refresh().await,
                Err(e) => Err(SdError::Auth(format!("could not create Azure client: {e}"))),
            };
            if r.is_err() {
                FAILURES.fetch_add(1, Ordering::Relaxed);
            }
            r
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(y: &str) -> AzureSdConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn defaults_and_checks_as_prometheus() {
        let c = cfg("subscription_id: s\ntenant_id: t\nclient_id: c\nclient_secret: x\n");
        assert_eq!(c.port, 80);
        assert_eq!(c.refresh_interval.0, Duration::from_secs(300));
        assert_eq!(c.environment, "AzurePublicCloud");
        assert_eq!(c.authentication_method, "OAuth");
        assert!(c.validate().is_ok());
        assert!(
            cfg("subscription_id: s\nauthentication_method: ManagedIdentity\n")
                .validate()
                .is_ok()
        );
        assert!(cfg("subscription_id: s\nauthentication_method: SDK\n")
            .validate()
            .is_ok());
        for (y, want) in [
            ("port: 9100\n", "azure SD configuration requires a subscription_id"),
            ("subscription_id: s\n", "azure SD configuration requires a tenant_id"),
            (
                "subscription_id: s\ntenant_id: t\n",
                "azure SD configuration requires a client_id",
            ),
            (
                "subscription_id: s\ntenant_id: t\nclient_id: c\n",
                "azure SD configuration requires a client_secret",
            ),
            (
                "subscription_id: s\nauthentication_method: Password\n",
                "unknown authentication_type \"Password\". Supported types are \"OAuth\", \"ManagedIdentity\", \"SDK\" or \"WorkloadIdentity\"",
            ),
            (
                "subscription_id: s\nresource_groups: [a]\n",
                "field resource_groups not found in type azure.plain",
            ),
        ] {
            assert_eq!(cfg(y).validate().unwrap_err().to_string(), want, "{y}");
        }
        let y = serde_yaml::to_string(&cfg(
            "subscription_id: s\ntenant_id: t\nclient_id: c\nclient_secret: hush\n",
        ))
        .unwrap();
        assert!(!y.contains("hush"), "{y}");
    }

    #[test]
    fn resource_ids() {
        assert_eq!(
            parse_resource_id("/subscriptions/s/resourceGroups/rg-1/providers/Microsoft.Compute/virtualMachines/vm1").unwrap(),
            ResourceId { resource_group: "rg-1".into(), name: "vm1".into() }
        );
        assert_eq!(
            parse_resource_id("/subscriptions/s/resourcegroups/RG/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/3/networkInterfaces/nic0").unwrap(),
            ResourceId { resource_group: "RG".into(), name: "nic0".into() }
        );
        assert!(matches!(
            parse_resource_id("vm1"),
            Err(AnswerError::ResourceId { id, .. }) if id == "vm1"
        ));
        assert!(parse_resource_id("vm1")
            .unwrap_err()
            .to_string()
            .starts_with("invalid ID 'vm1': "));
        assert!(parse_resource_id("/foo/bar").is_err());
    }

    fn machine_json() -> Value {
        json!({
            "id": "/subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1",
            "name": "vm1",
            "type": "Microsoft.Compute/virtualMachines",
            "location": "westeurope",
            "tags": {"env": "prod", "app.name": "web"},
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_B2s"},
                "storageProfile": {"osDisk": {"osType": "Linux"}},
                "osProfile": {"computerName": "vm1-host"},
                "networkProfile": {"networkInterfaces": [{"id": "/subscriptions/s/resourceGroups/RG/providers/Microsoft.Network/networkInterfaces/nic1"}]}
            }
        })
    }

    #[test]
    fn machines_and_their_labels() {
        let m = Machine::from_json(&machine_json(), "");
        assert_eq!(m.size, "Standard_B2s");
        assert_eq!(m.nics.len(), 1);
        let c =
            cfg("subscription_id: s\ntenant_id: t\nclient_id: c\nclient_secret: x\nport: 9100\n");
        let (addr, l) = target_labels(&c, &m, "RG", "10.0.0.4", Some("20.1.2.3"));
        assert_eq!(addr, "10.0.0.4:9100");
        let want: BTreeMap<String, String> = [
            ("subscription_id", "s"),
            ("tenant_id", "t"),
            ("machine_id", m.id.as_str()),
            ("machine_name", "vm1"),
            ("machine_computer_name", "vm1-host"),
            ("machine_os_type", "Linux"),
            ("machine_location", "westeurope"),
            ("machine_resource_group", "RG"),
            ("machine_size", "Standard_B2s"),
            ("machine_tag_env", "prod"),
            ("machine_tag_app_name", "web"),
            ("machine_private_ip", "10.0.0.4"),
            ("machine_public_ip", "20.1.2.3"),
        ]
        .iter()
        .map(|(k, v)| (format!("{P}{k}"), v.to_string()))
        .collect();
        assert_eq!(l, want);

        let mut ss = machine_json();
        ss["instanceId"] = json!("3");
        let m = Machine::from_json(&ss, "ss");
        assert_eq!((m.scale_set.as_str(), m.instance_id.as_str()), ("ss", "3"));
        let (_, l) = target_labels(&c, &m, "RG", "::1", None);
        assert_eq!(l[&format!("{P}machine_scale_set")], "ss");
        assert!(!l.contains_key(&format!("{P}machine_public_ip")));
    }

    fn nic(primary: Option<bool>, private: Option<&str>, public: Option<&str>) -> Arc<Value> {
        let mut ip = json!({"properties": {}});
        if let Some(p) = private {
            ip["properties"]["privateIPAddress"] = json!(p);
        }
        if let Some(p) = public {
            ip["properties"]["publicIPAddress"] = json!({"properties": {"ipAddress": p}});
        }
        let mut props = json!({"ipConfigurations": [ip]});
        if let Some(p) = primary {
            props["primary"] = json!(p);
        }
        Arc::new(json!({ "properties": props }))
    }

    #[test]
    fn addresses_of_the_primary_interface() {
        assert_eq!(
            addresses(
                "m",
                &[
                    nic(Some(false), Some("10.0.0.9"), None),
                    nic(Some(true), Some("10.0.0.4"), Some("1.2.3.4"))
                ]
            )
            .unwrap(),
            Addresses::Found {
                private: "10.0.0.4".into(),
                public: Some("1.2.3.4".into())
            }
        );
        // deallocated: no primary field
        assert_eq!(
            addresses("m", &[nic(None, Some("10.0.0.4"), None)]).unwrap(),
            Addresses::Skip
        );
        assert_eq!(
            addresses("m", &[nic(Some(false), Some("10.0.0.4"), None)]).unwrap(),
            Addresses::Skip
        );
        assert_eq!(addresses("m", &[]).unwrap(), Addresses::Skip);
        assert_eq!(
            addresses("m", &[nic(Some(true), None, Some("1.2.3.4"))])
                .unwrap_err()
                .to_string(),
            "unable to find a private IP for VM m"
        );
    }

    #[test]
    fn arm_errors_in_its_words() {
        let e = arm_error(
            403,
            br#"{"error":{"code":"AuthorizationFailed","message":"no access"}}"#,
        );
        assert_eq!(
            e.to_string(),
            "server returned HTTP status 403: AuthorizationFailed: no access"
        );
        assert_eq!(enc("a b/c"), "a%20b%2Fc");
        assert!(jitter(10) < 10);
        assert_eq!(jitter(0), 0);
    }
}
