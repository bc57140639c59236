//! Service discovery: sources of target groups. A group is a list of
//! addresses with common labels; the server's scrape manager and
//! notifier turn groups into targets through their jobs' relabeling.
//!
//! Each discovery's configuration (the `*_sd_configs` entries of
//! `prometheus.yml`, with Prometheus's checks and messages) lives beside
//! it; what they share with the rest of the server (the HTTP client and
//! its settings, durations, the configuration's errors) comes from the
//! `common` crate.
#![deny(missing_docs)]

pub mod azure;
pub mod consul;
pub mod dns;
pub mod docker;
pub mod ec2;
mod error;
pub mod eureka;
pub mod file;
pub mod gce;
pub mod hetzner;
pub mod http;
pub mod kubernetes;
pub mod openstack;
pub mod refresh;

pub use error::{
    DnsSdError, DockerError, FileSdError, HttpSdError, KubeClientError, OpenStackAuthError,
    SdClientError,
};

use std::collections::BTreeMap;

/// A group of targets with shared labels, as discovery hands them over.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels for each target (including `__meta_*` ones from discovery).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Labels of each target of its own, by position in `targets` (empty
    /// when targets have none): they win over the group's.
    #[serde(skip)]
    pub target_labels: Vec<BTreeMap<String, String>>,
}

impl TargetGroup {
    /// The targets with their labels: each target's own (its address as
    /// `__address__`) over the group's.
    pub fn each_target(&self) -> impl Iterator<Item = BTreeMap<String, String>> + '_ {
        self.targets.iter().enumerate().map(|(i, addr)| {
            let mut l = self.labels.clone();
            l.insert("__address__".to_string(), addr.clone());
            if let Some(own) = self.target_labels.get(i) {
                for (k, v) in own {
                    l.insert(k.clone(), v.clone());
                }
            }
            l
        })
    }
}

/// A label name from a key: every character other than `[a-zA-Z0-9_]`
/// becomes `_`.
pub fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// Where discovery results go: `(prefix, sources)` replaces every source
/// whose key starts with `prefix` by `sources` (key, groups). Returns false
/// once the consumer is gone, which ends the task.
pub type Sink = Arc<dyn Fn(&str, Vec<(String, Vec<TargetGroup>)>) -> bool + Send + Sync>;

/// The discovery mechanisms of one scrape job or Alertmanager set.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// `azure_sd_configs`.
    pub azure: &'a [azure::AzureSdConfig],
    /// `file_sd_configs`.
    pub file: &'a [file::FileSdConfig],
    /// `http_sd_configs`.
    pub http: &'a [http::HttpSdConfig],
    /// `dns_sd_configs`.
    pub dns: &'a [dns::DnsSdConfig],
    /// `kubernetes_sd_configs`.
    pub kubernetes: &'a [kubernetes::KubernetesSdConfig],
    /// `consul_sd_configs`.
    pub consul: &'a [consul::ConsulSdConfig],
    /// `docker_sd_configs`.
    pub docker: &'a [docker::DockerSdConfig],
    /// `dockerswarm_sd_configs`.
    pub dockerswarm: &'a [docker::DockerSwarmSdConfig],
    /// `ec2_sd_configs`.
    pub ec2: &'a [ec2::Ec2SdConfig],
    /// `gce_sd_configs`.
    pub gce: &'a [gce::GceSdConfig],
    /// `eureka_sd_configs`.
    pub eureka: &'a [eureka::EurekaSdConfig],
    /// `hetzner_sd_configs`.
    pub hetzner: &'a [hetzner::HetznerSdConfig],
    /// `openstack_sd_configs`.
    pub openstack: &'a [openstack::OpenStackSdConfig],
}

/// How often file discovery looks for changed files.
const FILE_CHECK_EVERY: Duration = Duration::from_secs(1);

fn file_key(sd_index: usize, path: &Path) -> String {
    format!("file/{sd_index}/{}", path.display())
}

/// A discovery source's name and the target groups it found.
type SourceGroups = (String, Vec<TargetGroup>);

fn file_sources(
    sd_index: usize,
    files: BTreeMap<PathBuf, Vec<TargetGroup>>,
) -> Vec<(String, Vec<TargetGroup>)> {
    files
        .into_iter()
        .map(|(p, g)| (file_key(sd_index, &p), g))
        .collect()
}

impl Sources<'_> {
    /// Reads the file sources now, so that targets exist as soon as a
    /// configuration is applied (read errors are logged), and starts one
    /// task per mechanism feeding `sink`; the file watchers go on from what
    /// was read. Relative file names are resolved against `base`.
    pub fn start(&self, base: &Path, sink: &Sink) -> (Vec<SourceGroups>, Vec<JoinHandle<()>>) {
        let mut sources = Vec::new();
        let mut tasks = Vec::new();
        for (i, f) in self.file.iter().enumerate() {
            // the fingerprint before the read: a change in between is seen
            // at the first check
            let fp = file::fingerprint(&f.files, base);
            let (files, errors) = file::read_all(&f.files, base, &BTreeMap::new());
            for e in errors {
                tracing::error!(component = "discovery manager", discovery = "file", err = %e, "Error reading file");
            }
            sources.extend(file_sources(i, files.clone()));
            tasks.push(tokio::spawn(watch_files(
                i,
                f.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
                (fp, files),
            )));
        }
        for (i, h) in self.http.iter().enumerate() {
            tasks.push(tokio::spawn(poll_http(
                i,
                h.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, d) in self.dns.iter().enumerate() {
            tasks.push(tokio::spawn(poll_dns(i, d.clone(), Arc::clone(sink))));
        }
        for (i, k) in self.kubernetes.iter().enumerate() {
            tasks.push(tokio::spawn(kubernetes::run(
                i,
                k.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.consul.iter().enumerate() {
            tasks.push(tokio::spawn(consul::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.docker.iter().enumerate() {
            tasks.push(tokio::spawn(docker::containers::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.dockerswarm.iter().enumerate() {
            tasks.push(tokio::spawn(docker::swarm::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.azure.iter().enumerate() {
            tasks.push(tokio::spawn(azure::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.ec2.iter().enumerate() {
            tasks.push(tokio::spawn(ec2::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.gce.iter().enumerate() {
            tasks.push(tokio::spawn(gce::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.eureka.iter().enumerate() {
            tasks.push(tokio::spawn(eureka::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.hetzner.iter().enumerate() {
            tasks.push(tokio::spawn(hetzner::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        for (i, c) in self.openstack.iter().enumerate() {
            tasks.push(tokio::spawn(openstack::run(
                i,
                c.clone(),
                base.to_path_buf(),
                Arc::clone(sink),
            )));
        }
        (sources, tasks)
    }
}

/// Re-reads a file-discovery config's files when they change (checked
/// every second) or every refresh interval, starting from the fingerprint
/// and groups of the first read.
async fn watch_files(
    sd_index: usize,
    cfg: file::FileSdConfig,
    base: PathBuf,
    sink: Sink,
    (mut last_fp, mut current): (file::Fingerprint, BTreeMap<PathBuf, Vec<TargetGroup>>),
) {
    let mut last_read = Instant::now();
    loop {
        tokio::time::sleep(FILE_CHECK_EVERY).await;
        let fp = file::fingerprint(&cfg.files, &base);
        if fp == last_fp && last_read.elapsed() < cfg.refresh_interval.0 {
            continue;
        }
        last_fp = fp;
        last_read = Instant::now();
        let (files, errors) = file::read_all(&cfg.files, &base, &current);
        for e in errors {
            tracing::error!(component = "discovery manager", discovery = "file", err = %e, "Error reading file");
        }
        if files == current {
            continue;
        }
        current = files.clone();
        if !sink(&format!("file/{sd_index}/"), file_sources(sd_index, files)) {
            return;
        }
    }
}

/// Fetches an HTTP discovery endpoint at once and then every refresh
/// interval; on error the last good groups stay.
async fn poll_http(i: usize, cfg: http::HttpSdConfig, base: PathBuf, sink: Sink) {
    let client = match common::httpclient::HttpClient::new(&cfg.http, &base, true) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(component = "discovery manager", discovery = "http", err = %e, "Error creating HTTP client");
            return;
        }
    };
    let timeout = cfg
        .refresh_interval
        .0
        .clamp(Duration::from_secs(1), Duration::from_secs(30));
    let key = format!("http/{i}/");
    loop {
        match http::fetch(&client, &cfg, timeout).await {
            Ok(groups) => {
                if !sink(&key, vec![(key.clone(), groups)]) {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(component = "discovery manager", discovery = "http", url = %cfg.url, err = %e, "Unable to refresh target groups")
            }
        }
        tokio::time::sleep(cfg.refresh_interval.0.max(Duration::from_millis(100))).await;
    }
}

/// Looks DNS names up at once and then every refresh interval.
async fn poll_dns(i: usize, cfg: dns::DnsSdConfig, sink: Sink) {
    let resolver = dns::system_resolver();
    let key = format!("dns/{i}/");
    loop {
        match dns::lookup(&resolver, &cfg).await {
            Ok(groups) => {
                if !sink(&key, vec![(key.clone(), groups)]) {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(component = "discovery manager", discovery = "dns", err = %e, "Error refreshing DNS targets")
            }
        }
        tokio::time::sleep(cfg.refresh_interval.0.max(Duration::from_millis(100))).await;
    }
}
