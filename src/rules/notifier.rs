//! Sending alerts to Alertmanager: the `alerting` configuration section, a
//! bounded queue, and a task that POSTs batches to every configured
//! Alertmanager's `/api/v2/alerts`.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tsdb::labels::{Label, Labels};

use super::alerting::OutAlert;
use crate::config::{CheckError, PromDuration};
use common::config::http::HttpClientConfig;
use common::httpclient::{HttpClient, HttpClientError};
use discovery::dns::DnsSdConfig;
use discovery::file::FileSdConfig;
use discovery::http::HttpSdConfig;
use discovery::{Sink, Sources, TargetGroup};
use relabel::{relabel, RelabelConfig};

/// The most alerts sent in one request.
pub const MAX_BATCH_SIZE: usize = 256;

/// The `alerting` section of the configuration file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// Relabeling applied to every alert before it is queued.
    #[serde(default)]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// The Alertmanagers to notify.
    #[serde(default)]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

/// One `static_configs` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels of the targets (available to `relabel_configs`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_scheme() -> String {
    "http".into()
}
fn default_prefix() -> String {
    "/".into()
}
fn default_timeout() -> PromDuration {
    PromDuration(Duration::from_secs(10))
}
fn default_api() -> String {
    "v2".into()
}

/// One entry of `alerting.alertmanagers`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct AlertmanagerConfig {
    /// `http` (default) or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Prefix of the API path (default `/`).
    #[serde(default = "default_prefix")]
    pub path_prefix: String,
    /// Per-request timeout (default 10s).
    #[serde(default = "default_timeout")]
    pub timeout: PromDuration,
    /// Only `v2` is supported, as in Prometheus 3.
    #[serde(default = "default_api")]
    pub api_version: String,
    /// Fixed Alertmanager addresses.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Relabeling of the Alertmanager targets.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Relabeling of alerts sent to these Alertmanagers only.
    #[serde(default)]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// Alertmanagers listed in files.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Alertmanagers fetched from HTTP endpoints.
    #[serde(default)]
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// Alertmanagers from DNS records.
    #[serde(default)]
    pub dns_sd_configs: Vec<DnsSdConfig>,
    /// Alertmanagers found through the Kubernetes API.
    #[serde(default)]
    pub kubernetes_sd_configs: Vec<discovery::kubernetes::KubernetesSdConfig>,
    /// Alertmanagers found in Consul's catalog.
    #[serde(default)]
    pub consul_sd_configs: Vec<discovery::consul::ConsulSdConfig>,
    /// Alertmanagers running in Docker containers.
    #[serde(default)]
    pub docker_sd_configs: Vec<discovery::docker::DockerSdConfig>,
    /// Alertmanagers running in a Docker swarm.
    #[serde(default)]
    pub dockerswarm_sd_configs: Vec<discovery::docker::DockerSwarmSdConfig>,
    /// Alertmanagers on Azure virtual machines.
    #[serde(default)]
    pub azure_sd_configs: Vec<discovery::azure::AzureSdConfig>,
    /// Alertmanagers on AWS EC2 instances.
    #[serde(default)]
    pub ec2_sd_configs: Vec<discovery::ec2::Ec2SdConfig>,
    /// Alertmanagers on Google Compute Engine instances.
    #[serde(default)]
    pub gce_sd_configs: Vec<discovery::gce::GceSdConfig>,
    /// Alertmanagers registered with Eureka.
    #[serde(default)]
    pub eureka_sd_configs: Vec<discovery::eureka::EurekaSdConfig>,
    /// Alertmanagers on Hetzner servers.
    #[serde(default)]
    pub hetzner_sd_configs: Vec<discovery::hetzner::HetznerSdConfig>,
    /// Alertmanagers on OpenStack.
    #[serde(default)]
    pub openstack_sd_configs: Vec<discovery::openstack::OpenStackSdConfig>,
    /// Authentication, TLS, proxy and redirect settings.
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Keys flint does not know or does not support yet: an error naming
    /// them.
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, serde_yaml::Value>,
}

impl AlertingConfig {
    /// Checks the section as Prometheus does when loading it.
    pub fn validate(&self) -> Result<(), CheckError> {
        for r in &self.alert_relabel_configs {
            r.validate()?;
        }
        for am in &self.alertmanagers {
            if am.api_version != "v2" {
                return Err(format!(
                    "expected Alertmanager api version to be one of [v2] but got {}",
                    am.api_version
                )
                .into());
            }
            if am.scheme != "http" && am.scheme != "https" {
                return Err(format!("unsupported scheme {:?} for Alertmanager", am.scheme).into());
            }
            let alerting = |err: CheckError| CheckError::in_section("alerting", err);
            if let Some(key) = am.unsupported.keys().next() {
                let key = key.clone();
                return Err(alerting(
                    if crate::config::KNOWN_UNSUPPORTED.contains(&key.as_str()) {
                        CheckError::KeyNotSupported { key }
                    } else {
                        CheckError::UnknownField {
                            key,
                            ty: "config.AlertmanagerConfig",
                        }
                    },
                ));
            }
            am.http.validate().map_err(alerting)?;
            for f in &am.file_sd_configs {
                f.validate()
                    .map_err(|e| alerting(CheckError::in_section("file_sd_configs", e)))?;
            }
            for h in &am.http_sd_configs {
                h.validate()
                    .map_err(|e| alerting(CheckError::in_section("http_sd_configs", e)))?;
            }
            for d in &am.dns_sd_configs {
                d.validate()
                    .map_err(|e| alerting(CheckError::in_section("dns_sd_configs", e)))?;
            }
            for k in &am.kubernetes_sd_configs {
                k.validate()
                    .map_err(|e| alerting(CheckError::in_section("kubernetes_sd_configs", e)))?;
            }
            for c in &am.consul_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("consul_sd_configs", e)))?;
            }
            for c in &am.docker_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("docker_sd_configs", e)))?;
            }
            for c in &am.dockerswarm_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("dockerswarm_sd_configs", e)))?;
            }
            for c in &am.azure_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("azure_sd_configs", e)))?;
            }
            for c in &am.ec2_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("ec2_sd_configs", e)))?;
            }
            for c in &am.gce_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("gce_sd_configs", e)))?;
            }
            for c in &am.eureka_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("eureka_sd_configs", e)))?;
            }
            for c in &am.hetzner_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("hetzner_sd_configs", e)))?;
            }
            for c in &am.openstack_sd_configs {
                c.validate()
                    .map_err(|e| alerting(CheckError::in_section("openstack_sd_configs", e)))?;
            }
            for r in am.relabel_configs.iter().chain(&am.alert_relabel_configs) {
                r.validate()?;
            }
        }
        Ok(())
    }
}

/// One resolved Alertmanager endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    /// Full URL of its alerts API.
    pub url: String,
}

/// One `alertmanagers` entry at run time: its client and the endpoints its
/// static and discovered groups resolve to.
struct AmSet {
    cfg: AlertmanagerConfig,
    client: Result<Arc<HttpClient>, Arc<HttpClientError>>,
    /// Target groups by discovery source (`static`, `file/0/…`, …).
    sources: Mutex<BTreeMap<String, Vec<TargetGroup>>>,
    /// Active and dropped endpoints of the current groups.
    endpoints: Mutex<(Vec<Endpoint>, Vec<Endpoint>)>,
}

impl AmSet {
    /// Replaces the sources starting with `prefix` and resolves again.
    fn set_sources(&self, prefix: &str, new: Vec<(String, Vec<TargetGroup>)>) {
        let mut src = self.sources.lock();
        src.retain(|k, _| !k.starts_with(prefix));
        src.extend(new);
        *self.endpoints.lock() = resolve(&self.cfg, src.values().flatten());
    }
}

/// Counters of the notifier (`prometheus_notifications_*`).
#[derive(Debug, Default)]
pub struct NotifierMetrics {
    /// `prometheus_notifications_dropped_total`.
    pub dropped: AtomicU64,
    /// `prometheus_notifications_sent_total` (all Alertmanagers).
    pub sent: AtomicU64,
    /// `prometheus_notifications_errors_total` (all Alertmanagers).
    pub errors: AtomicU64,
}

struct Inner {
    queue: Mutex<VecDeque<OutAlert>>,
    capacity: usize,
    external_labels: Mutex<Labels>,
    per_am: Mutex<BTreeMap<String, (u64, u64)>>,
    relabel: Mutex<Vec<RelabelConfig>>,
    sets: Mutex<Arc<Vec<Arc<AmSet>>>>,
    discovery: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    more: tokio::sync::Notify,
    stopped: AtomicBool,
    /// Most alerts in one request (`--alertmanager.notification-batch-size`).
    batch_size: std::sync::atomic::AtomicUsize,
    /// Send what is queued before the sending task ends
    /// (`--alertmanager.drain-notification-queue-on-shutdown`).
    drain: AtomicBool,
    /// Set, and `ended` notified, when the sending task has ended.
    done: AtomicBool,
    ended: tokio::sync::Notify,
    metrics: NotifierMetrics,
}

/// Queues alerts and sends them to the configured Alertmanagers.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

#[derive(Serialize)]
struct PostableAlert<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'a str, &'a str>,
    #[serde(rename = "endsAt", skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "startsAt")]
    starts_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
}

/// The JSON body Prometheus POSTs to `/api/v2/alerts`.
pub fn alerts_json(alerts: &[OutAlert]) -> String {
    let body: Vec<PostableAlert> = alerts
        .iter()
        .map(|a| PostableAlert {
            annotations: a
                .annotations
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect(),
            ends_at: (a.ends_at_ms != 0).then(|| common::rfc3339::format_millis(a.ends_at_ms)),
            starts_at: common::rfc3339::format_millis(a.starts_at_ms),
            generator_url: &a.generator_url,
            labels: a
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect(),
        })
        .collect();
    serde_json::to_string(&body).unwrap_or_else(|_| "[]".into())
}

/// `path.Join(prefix, "/api/v2/alerts")`.
fn alerts_path(prefix: &str) -> String {
    let p = format!("{}/api/v2/alerts", prefix.trim_end_matches('/'));
    if p.starts_with('/') {
        p
    } else {
        format!("/{p}")
    }
}

/// The endpoints of target groups, through the set's `relabel_configs`.
fn resolve<'a>(
    cfg: &AlertmanagerConfig,
    groups: impl Iterator<Item = &'a TargetGroup>,
) -> (Vec<Endpoint>, Vec<Endpoint>) {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    let path = alerts_path(&cfg.path_prefix);
    for sc in groups {
        for target in sc.each_target() {
            let mut ls: Vec<Label> = vec![
                Label::new("__scheme__", cfg.scheme.clone()),
                Label::new("__alerts_path__", path.clone()),
            ];
            // discovered labels win over the defaults (Labels::new keeps
            // the last of a name)
            ls.extend(target.iter().map(|(k, v)| Label::new(k.clone(), v.clone())));
            let ls = Labels::new(ls);
            let url = |l: &Labels| {
                format!(
                    "{}://{}{}",
                    l.get("__scheme__").unwrap_or("http"),
                    l.get("__address__").unwrap_or(""),
                    l.get("__alerts_path__").unwrap_or("")
                )
            };
            match relabel(&ls, &cfg.relabel_configs) {
                Some(l) if l.get("__address__").is_some() => active.push(Endpoint { url: url(&l) }),
                _ => dropped.push(Endpoint { url: url(&ls) }),
            }
        }
    }
    (active, dropped)
}

impl Notifier {
    /// A notifier with a queue of `capacity` alerts; `external_labels` are
    /// added to alerts that lack them.
    pub fn new(capacity: usize, external_labels: Labels) -> Notifier {
        Notifier {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                capacity: capacity.max(1),
                external_labels: Mutex::new(external_labels),
                per_am: Mutex::new(BTreeMap::new()),
                relabel: Mutex::new(Vec::new()),
                sets: Mutex::new(Arc::new(Vec::new())),
                discovery: Mutex::new(Vec::new()),
                more: tokio::sync::Notify::new(),
                stopped: AtomicBool::new(false),
                batch_size: std::sync::atomic::AtomicUsize::new(MAX_BATCH_SIZE),
                drain: AtomicBool::new(true),
                done: AtomicBool::new(false),
                ended: tokio::sync::Notify::new(),
                metrics: NotifierMetrics::default(),
            }),
        }
    }

    /// Applies a (validated) `alerting` section; relative file names are
    /// resolved against `base_dir`. Discovery tasks start on the current
    /// tokio runtime.
    pub fn apply(&self, cfg: &AlertingConfig, base_dir: &Path) {
        *self.inner.relabel.lock() = cfg.alert_relabel_configs.clone();
        let mut tasks = self.inner.discovery.lock();
        for t in tasks.drain(..) {
            t.abort();
        }
        let mut sets = Vec::new();
        for am in &cfg.alertmanagers {
            let client = HttpClient::new(&am.http, base_dir, false)
                .map(Arc::new)
                .map_err(Arc::new);
            if let Err(e) = &client {
                tracing::error!(component = "notifier", err = %e, "Error creating the Alertmanager HTTP client");
            }
            let set = Arc::new(AmSet {
                cfg: am.clone(),
                client,
                sources: Mutex::new(BTreeMap::new()),
                endpoints: Mutex::new((Vec::new(), Vec::new())),
            });
            let statics: Vec<TargetGroup> = am
                .static_configs
                .iter()
                .map(|s| TargetGroup {
                    targets: s.targets.clone(),
                    labels: s.labels.clone(),
                    ..TargetGroup::default()
                })
                .collect();
            let sd = Sources {
                file: &am.file_sd_configs,
                http: &am.http_sd_configs,
                dns: &am.dns_sd_configs,
                kubernetes: &am.kubernetes_sd_configs,
                consul: &am.consul_sd_configs,
                docker: &am.docker_sd_configs,
                dockerswarm: &am.dockerswarm_sd_configs,
                azure: &am.azure_sd_configs,
                ec2: &am.ec2_sd_configs,
                gce: &am.gce_sd_configs,
                eureka: &am.eureka_sd_configs,
                hetzner: &am.hetzner_sd_configs,
                openstack: &am.openstack_sd_configs,
            };
            let weak = Arc::downgrade(&set);
            let sink: Sink = Arc::new(move |prefix, new| match weak.upgrade() {
                Some(set) => {
                    set.set_sources(prefix, new);
                    true
                }
                None => false,
            });
            let (mut initial, started) = sd.start(base_dir, &sink);
            initial.push(("static".to_string(), statics));
            set.set_sources("", initial);
            tasks.extend(started);
            sets.push(set);
        }
        *self.inner.sets.lock() = Arc::new(sets);
    }

    /// Replaces the external labels (on configuration reload).
    pub fn set_external_labels(&self, ls: Labels) {
        *self.inner.external_labels.lock() = ls;
    }

    /// Alerts sent and alerts that failed to send, per Alertmanager URL.
    pub fn per_alertmanager(&self) -> BTreeMap<String, (u64, u64)> {
        self.inner.per_am.lock().clone()
    }

    /// Counters.
    pub fn metrics(&self) -> &NotifierMetrics {
        &self.inner.metrics
    }

    /// Alerts waiting to be sent.
    pub fn queue_len(&self) -> usize {
        self.inner.queue.lock().len()
    }

    /// The queue's capacity.
    pub fn queue_capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Active and dropped Alertmanager endpoints.
    pub fn alertmanagers(&self) -> (Vec<Endpoint>, Vec<Endpoint>) {
        let sets = self.inner.sets.lock().clone();
        let mut a = Vec::new();
        let mut d = Vec::new();
        for s in sets.iter() {
            let ep = s.endpoints.lock();
            a.extend(ep.0.iter().cloned());
            d.extend(ep.1.iter().cloned());
        }
        (a, d)
    }

    /// Adds external labels, applies `alert_relabel_configs` and queues the
    /// alerts, dropping the oldest when the queue is full.
    pub fn send(&self, alerts: Vec<OutAlert>) {
        let relabel_cfgs = self.inner.relabel.lock().clone();
        let ext = self.inner.external_labels.lock().clone();
        let mut out: Vec<OutAlert> = Vec::with_capacity(alerts.len());
        for mut a in alerts {
            let mut ls: Vec<Label> = a.labels.iter().cloned().collect();
            for e in ext.iter() {
                if a.labels.get(&e.name).is_none() {
                    ls.push(e.clone());
                }
            }
            let Some(ls) = relabel(&Labels::new(ls), &relabel_cfgs) else {
                continue;
            };
            a.labels = ls;
            out.push(a);
        }
        if out.is_empty() {
            return;
        }
        let cap = self.inner.capacity;
        let m = &self.inner.metrics;
        if out.len() > cap {
            let d = out.len() - cap;
            out.drain(..d);
            m.dropped.fetch_add(d as u64, Ordering::Relaxed);
            tracing::warn!(
                num_dropped = d,
                "Alert batch larger than queue capacity, dropping alerts"
            );
        }
        {
            let mut q = self.inner.queue.lock();
            let over = (q.len() + out.len()).saturating_sub(cap);
            if over > 0 {
                q.drain(..over);
                m.dropped.fetch_add(over as u64, Ordering::Relaxed);
                tracing::warn!(
                    num_dropped = over,
                    "Alert notification queue full, dropping alerts"
                );
            }
            q.extend(out);
        }
        self.inner.more.notify_one();
    }

    /// Sends at most `batch_size` alerts a request, and, when `drain`, what
    /// is queued before stopping.
    pub fn set_batching(&self, batch_size: usize, drain: bool) {
        self.inner
            .batch_size
            .store(batch_size.max(1), Ordering::Relaxed);
        self.inner.drain.store(drain, Ordering::Relaxed);
    }

    /// Waits until the sending task has ended after [`Notifier::stop`]
    /// (having sent what was queued, when draining).
    pub async fn wait_stopped(&self) {
        loop {
            let ended = self.inner.ended.notified();
            if self.inner.done.load(Ordering::Acquire) {
                return;
            }
            ended.await;
        }
    }

    /// Stops the sending task.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::Relaxed);
        for t in self.inner.discovery.lock().drain(..) {
            t.abort();
        }
        self.inner.more.notify_one();
    }

    /// Runs the sending loop until [`Notifier::stop`].
    pub async fn run(self) {
        loop {
            let stopping = self.inner.stopped.load(Ordering::Relaxed);
            if stopping && !self.inner.drain.load(Ordering::Relaxed) {
                break;
            }
            let batch: Vec<OutAlert> = {
                let mut q = self.inner.queue.lock();
                let n = q.len().min(self.inner.batch_size.load(Ordering::Relaxed));
                q.drain(..n).collect()
            };
            if batch.is_empty() {
                if stopping {
                    break;
                }
                self.inner.more.notified().await;
                continue;
            }
            self.send_all(&batch).await;
        }
        self.inner.done.store(true, Ordering::Release);
        self.inner.ended.notify_waiters();
    }

    async fn send_all(&self, batch: &[OutAlert]) {
        let sets = self.inner.sets.lock().clone();
        let m = &self.inner.metrics;
        for set in sets.iter() {
            let alerts: Vec<OutAlert> = if set.cfg.alert_relabel_configs.is_empty() {
                batch.to_vec()
            } else {
                batch
                    .iter()
                    .filter_map(|a| {
                        relabel(&a.labels, &set.cfg.alert_relabel_configs).map(|l| OutAlert {
                            labels: l,
                            ..a.clone()
                        })
                    })
                    .collect()
            };
            if alerts.is_empty() {
                continue;
            }
            let body = alerts_json(&alerts);
            let mut reqs = Vec::new();
            let active = set.endpoints.lock().0.clone();
            for ep in active {
                let client = set.client.as_ref().map(Arc::clone).map_err(Clone::clone);
                let timeout = set.cfg.timeout.0;
                let body = body.clone();
                reqs.push(async move {
                    let res = match client {
                        Ok(c) => {
                            let rb = c
                                .client()
                                .post(&ep.url)
                                .timeout(timeout)
                                .header("Content-Type", "application/json")
                                .body(body);
                            match c.authorize(rb).await {
                                Ok(rb) => rb.send().await.map_err(|e| e.to_string()),
                                Err(e) => Err(e.to_string()),
                            }
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    (ep.url, res)
                });
            }
            for (url, res) in futures_join(reqs).await {
                let ok = matches!(&res, Ok(r) if r.status().is_success());
                {
                    let mut per = self.inner.per_am.lock();
                    let e = per.entry(url.clone()).or_default();
                    if ok {
                        e.0 += alerts.len() as u64;
                    } else {
                        e.1 += alerts.len() as u64;
                    }
                }
                match res {
                    Ok(r) if r.status().is_success() => {
                        m.sent.fetch_add(alerts.len() as u64, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        m.errors.fetch_add(alerts.len() as u64, Ordering::Relaxed);
                        tracing::error!(alertmanager = %url, status = %r.status(), "Error sending alerts");
                    }
                    Err(e) => {
                        m.errors.fetch_add(alerts.len() as u64, Ordering::Relaxed);
                        tracing::error!(alertmanager = %url, err = %e, "Error sending alerts");
                    }
                }
            }
        }
    }
}

/// Awaits every future concurrently (spawned on the runtime).
async fn futures_join<F, T>(futs: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}
