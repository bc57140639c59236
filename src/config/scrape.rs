//! The `scrape_configs` section: one job's settings ([`ScrapeConfig`],
//! with its statically listed targets and service discovery blocks), the
//! scrape protocols and the media types they ask for, and the limits in
//! force for a job (sample, label and body size limits, the latter in
//! Prometheus's byte size units), job settings taking precedence over
//! global ones.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use relabel::RelabelConfig;

use super::{http, GlobalConfig, PromDuration};
use common::config::{ByteSizeError, ProtocolError};

/// One `scrape_configs` entry. Keys not listed here are collected in
/// `unsupported` and refused by the checks with a message naming them.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ScrapeConfig {
    /// The job name, also the `job` label.
    pub job_name: String,
    /// How often to scrape (default: global).
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// Per-scrape timeout (default: global, capped at the interval).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// HTTP path of the metrics (default `/metrics`).
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// URL query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Whether labels exposed by the target win over target labels.
    #[serde(default)]
    pub honor_labels: bool,
    /// Whether timestamps exposed by the target are used.
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// Statically listed targets.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Authentication, TLS, proxy and redirect settings.
    #[serde(flatten)]
    pub http: http::HttpClientConfig,
    /// Whether to ask for gzip (true).
    #[serde(default = "default_true")]
    pub enable_compression: bool,
    /// Whether series with explicit timestamps get stale markers when they
    /// disappear (false).
    #[serde(default)]
    pub track_timestamps_staleness: bool,
    /// Most samples a scrape may hold after metric relabeling (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    /// Most labels a series may have (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_limit: Option<u64>,
    /// Longest label name (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_name_length_limit: Option<u64>,
    /// Longest label value (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_value_length_limit: Option<u64>,
    /// Largest uncompressed body (0: no limit), e.g. `10MB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<ByteSize>,
    /// Most targets after relabeling (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
    /// Most dropped targets kept for the API (0: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_dropped_targets: Option<u64>,
    /// Formats offered, in order of preference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<String>>,
    /// Format assumed when a target sends no or an unknown Content-Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<String>,
    /// Whether native histograms are stored (default: global, false);
    /// also puts `PrometheusProto` first in the default protocols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_native_histograms: Option<bool>,
    /// Whether a native histogram's classic buckets are stored too
    /// (default: global, false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    /// Whether classic histograms are stored as histograms with custom
    /// bounds (default: global, false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// Most buckets of a native histogram: more are merged by lowering
    /// the resolution, or fail the scrape (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_histogram_bucket_limit: Option<u64>,
    /// Smallest growth factor between neighbouring native buckets:
    /// finer histograms are merged down to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_histogram_min_bucket_factor: Option<f64>,
    /// Target groups fetched from HTTP endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<discovery::http::HttpSdConfig>,
    /// Targets from DNS records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_sd_configs: Vec<discovery::dns::DnsSdConfig>,
    /// Target groups read from files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<discovery::file::FileSdConfig>,
    /// Targets found through the Kubernetes API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<discovery::kubernetes::KubernetesSdConfig>,
    /// Targets from Consul's catalog.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consul_sd_configs: Vec<discovery::consul::ConsulSdConfig>,
    /// Targets from a Docker daemon's containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker_sd_configs: Vec<discovery::docker::DockerSdConfig>,
    /// Targets from a Docker swarm's services, tasks or nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dockerswarm_sd_configs: Vec<discovery::docker::DockerSwarmSdConfig>,
    /// Targets from Azure virtual machines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub azure_sd_configs: Vec<discovery::azure::AzureSdConfig>,
    /// Targets from AWS EC2 instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ec2_sd_configs: Vec<discovery::ec2::Ec2SdConfig>,
    /// Targets from Google Compute Engine instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gce_sd_configs: Vec<discovery::gce::GceSdConfig>,
    /// Targets from a Eureka server's applications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eureka_sd_configs: Vec<discovery::eureka::EurekaSdConfig>,
    /// Targets from Hetzner Cloud or Robot servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hetzner_sd_configs: Vec<discovery::hetzner::HetznerSdConfig>,
    /// Targets from OpenStack hypervisors, instances or load balancers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openstack_sd_configs: Vec<discovery::openstack::OpenStackSdConfig>,
    /// Discovery mechanisms Prometheus has that flint does not support yet:
    /// present in a config, they are an error naming them.
    #[serde(flatten, skip_serializing)]
    pub unsupported: BTreeMap<String, serde_yaml::Value>,
    /// Rules applied to each target's labels before scraping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rules applied to each scraped series before storing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

/// A group of statically listed targets with common labels.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels for every target of the group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn default_metrics_path() -> String {
    "/metrics".to_string()
}
fn default_scheme() -> String {
    "http".to_string()
}
fn default_true() -> bool {
    true
}

/// The scrape protocols Prometheus 3 names, with the media type each
/// offers in `Accept`.
pub fn protocol_header(p: &str) -> Result<&'static str, ProtocolError> {
    Ok(match p {
        "OpenMetricsText1.0.0" => "application/openmetrics-text;version=1.0.0",
        "OpenMetricsText0.0.1" => "application/openmetrics-text;version=0.0.1",
        "PrometheusText0.0.4" => "text/plain;version=0.0.4",
        "PrometheusText1.0.0" => "text/plain;version=1.0.0",
        "PrometheusProto" => textparse::protobuf::CONTENT_TYPE,
        _ => return Err(ProtocolError(p.to_string())),
    })
}

/// Default protocols: Prometheus 3's; with native histograms scraped,
/// `PrometheusProto` first.
/// Whether the default scrape protocols rank the protobuf format first
/// for every job, as with `--enable-feature=created-timestamp-zero-ingestion`
/// (otherwise only for jobs that scrape native histograms).
pub static PROTOBUF_FIRST: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

const DEFAULT_PROTOCOLS: [&str; 5] = [
    "PrometheusProto",
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// A byte size in Prometheus's units (`512`, `10KB`, `64MB`, `1GB`; powers
/// of 1024), printed back the same way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `s`.
    pub fn parse(s: &str) -> Result<ByteSize, ByteSizeError> {
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let (n, unit) = t.split_at(digits);
        let n: u64 = n
            .parse()
            .map_err(|_| ByteSizeError::Invalid(s.to_string()))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "KiB" | "K" => 1 << 10,
            "MB" | "MiB" | "M" => 1 << 20,
            "GB" | "GiB" | "G" => 1 << 30,
            "TB" | "TiB" | "T" => 1 << 40,
            "PB" | "PiB" | "P" => 1 << 50,
            "EB" | "EiB" | "E" => 1 << 60,
            _ => return Err(ByteSizeError::Invalid(s.to_string())),
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| ByteSizeError::OutOfRange(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml::Value::deserialize(d)?;
        let s = match v {
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::String(s) => s,
            _ => return Err(serde::de::Error::custom("invalid byte size")),
        };
        ByteSize::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let units = [
            ("EB", 60),
            ("PB", 50),
            ("TB", 40),
            ("GB", 30),
            ("MB", 20),
            ("KB", 10),
        ];
        for (u, shift) in units {
            if self.0 >= 1 << shift && self.0.is_multiple_of(1 << shift) {
                return s.collect_str(&format_args!("{}{u}", self.0 >> shift));
            }
        }
        s.collect_str(&format_args!("{}B", self.0))
    }
}

/// The limits in force for a job (0 = none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// `sample_limit`.
    pub samples: u64,
    /// `label_limit`.
    pub labels: u64,
    /// `label_name_length_limit`.
    pub label_name_length: u64,
    /// `label_value_length_limit`.
    pub label_value_length: u64,
    /// `body_size_limit` in bytes.
    pub body_size: u64,
    /// `target_limit`.
    pub targets: u64,
    /// `keep_dropped_targets`.
    pub keep_dropped: u64,
}

impl ScrapeConfig {
    /// The limits in force, job settings over global ones.
    pub fn limits(&self, g: &GlobalConfig) -> Limits {
        let pick = |a: Option<u64>, b: Option<u64>| a.or(b).unwrap_or(0);
        Limits {
            samples: pick(self.sample_limit, g.sample_limit),
            labels: pick(self.label_limit, g.label_limit),
            label_name_length: pick(self.label_name_length_limit, g.label_name_length_limit),
            label_value_length: pick(self.label_value_length_limit, g.label_value_length_limit),
            body_size: pick(
                self.body_size_limit.map(|b| b.0),
                g.body_size_limit.map(|b| b.0),
            ),
            targets: pick(self.target_limit, g.target_limit),
            keep_dropped: pick(self.keep_dropped_targets, g.keep_dropped_targets),
        }
    }

    /// The scrape protocols in force, job over global over the default.
    pub fn protocols(&self, g: &GlobalConfig) -> Vec<String> {
        let skip = usize::from(
            !self.native_histograms(g)
                && !PROTOBUF_FIRST.load(std::sync::atomic::Ordering::Relaxed),
        );
        self.scrape_protocols
            .clone()
            .or_else(|| g.scrape_protocols.clone())
            .unwrap_or_else(|| {
                DEFAULT_PROTOCOLS[skip..]
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            })
    }

    /// Whether native histograms are stored (job over global).
    pub fn native_histograms(&self, g: &GlobalConfig) -> bool {
        self.scrape_native_histograms
            .or(g.scrape_native_histograms)
            .unwrap_or(false)
    }

    /// How histograms of this job's scrapes are read.
    pub fn histogram_options(&self, g: &GlobalConfig) -> textparse::protobuf::HistogramOptions {
        textparse::protobuf::HistogramOptions {
            native: self.native_histograms(g),
            always_classic: self
                .always_scrape_classic_histograms
                .or(g.always_scrape_classic_histograms)
                .unwrap_or(false),
            convert_to_nhcb: self
                .convert_classic_histograms_to_nhcb
                .or(g.convert_classic_histograms_to_nhcb)
                .unwrap_or(false),
        }
    }

    /// The highest schema native histograms are stored at:
    /// `native_histogram_min_bucket_factor` as Prometheus reads it (8 for
    /// none or a factor up to 1).
    pub fn max_histogram_schema(&self) -> i32 {
        let f = self
            .native_histogram_min_bucket_factor
            .filter(|f| *f > 1.0)
            .unwrap_or(1.00271);
        (-f.log2().log2()).floor().clamp(-4.0, 8.0) as i32
    }

    /// The `Accept` header for this job, weighted as Prometheus weighs it.
    pub fn accept_header(&self, g: &GlobalConfig) -> String {
        let protos = self.protocols(g);
        let mut weight = 6usize;
        let mut parts = Vec::new();
        for p in &protos {
            if let Ok(h) = protocol_header(p) {
                parts.push(format!("{h};q=0.{weight}"));
                weight = weight.saturating_sub(1).max(1);
            }
        }
        parts.push(format!("*/*;q=0.{weight}"));
        parts.join(",")
    }

    /// The effective scrape interval.
    pub fn interval(&self, global: &GlobalConfig) -> Duration {
        self.scrape_interval.unwrap_or(global.scrape_interval).0
    }

    /// The effective scrape timeout.
    pub fn timeout(&self, global: &GlobalConfig) -> Duration {
        match self.scrape_timeout {
            Some(t) => t.0,
            None => global.timeout().min(self.interval(global)),
        }
    }
}
