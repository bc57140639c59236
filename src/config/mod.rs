//! `prometheus.yml`: types with Prometheus's defaults, loading and checks.
//!
//! Unknown keys are errors. Keys that Prometheus knows but flint does not
//! implement yet are errors too, naming the key, so that nothing in a
//! user's config is silently ignored.

mod located;
pub mod remote;
mod scrape;

pub use common::config::{
    http, ByteSizeError, CheckError, ConfigError, DurationError, PromDuration, ProtocolError,
    TlsVersionError,
};
pub use scrape::{protocol_header, ByteSize, Limits, ScrapeConfig, StaticConfig, PROTOBUF_FIRST};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for every job.
    #[serde(default)]
    pub global: GlobalConfig,
    /// Scrape jobs.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Rule files (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<String>,
    /// Files (globs) holding more `scrape_configs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    /// Alertmanagers to notify and alert relabeling.
    #[serde(default, skip_serializing)]
    pub alerting: Option<crate::rules::AlertingConfig>,
    /// Where to send samples by remote write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<remote::RemoteWriteConfig>,
    /// Where to read samples by remote read, merged into queries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_read: Vec<remote::RemoteReadConfig>,
    /// How OTLP metrics are translated (`/api/v1/otlp/v1/metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp: Option<OtlpConfig>,
    /// Storage settings: `tsdb.retention` (time, size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageConfig>,
    /// Tracing settings; not supported yet.
    #[serde(default, skip_serializing)]
    pub tracing: Option<serde_yaml::Value>,
    /// Go runtime settings; not supported (an error if present).
    #[serde(default, skip_serializing)]
    pub runtime: Option<serde_yaml::Value>,
}

/// The `global` section.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    pub scrape_interval: PromDuration,
    /// Default scrape timeout (10s, or the scrape interval when that is
    /// shorter and no timeout is given).
    #[serde(deserialize_with = "some_duration")]
    pub scrape_timeout: Option<PromDuration>,
    /// Default rule evaluation interval (1m).
    pub evaluation_interval: PromDuration,
    /// Labels added to series and alerts leaving this server.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
    /// Default formats offered to targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<String>>,
    /// Default `sample_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    /// Default `label_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_limit: Option<u64>,
    /// Default `label_name_length_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_name_length_limit: Option<u64>,
    /// Default `label_value_length_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_value_length_limit: Option<u64>,
    /// Default `body_size_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<ByteSize>,
    /// Default `target_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
    /// Default `keep_dropped_targets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_dropped_targets: Option<u64>,
    /// Default `scrape_native_histograms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_native_histograms: Option<bool>,
    /// Default `always_scrape_classic_histograms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    /// Default `convert_classic_histograms_to_nhcb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// Query log file: not supported (an error if set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_log_file: Option<String>,
    /// Scrape failure log file: not supported (an error if set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_failure_log_file: Option<String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration(Duration::from_secs(60)),
            scrape_timeout: None,
            evaluation_interval: PromDuration(Duration::from_secs(60)),
            external_labels: BTreeMap::new(),
            scrape_protocols: None,
            sample_limit: None,
            label_limit: None,
            label_name_length_limit: None,
            label_value_length_limit: None,
            body_size_limit: None,
            target_limit: None,
            keep_dropped_targets: None,
            scrape_native_histograms: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            query_log_file: None,
            scrape_failure_log_file: None,
        }
    }
}

fn some_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PromDuration>, D::Error> {
    PromDuration::deserialize(d).map(Some)
}

const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

impl GlobalConfig {
    /// The global scrape timeout in force.
    pub fn timeout(&self) -> Duration {
        match self.scrape_timeout {
            Some(t) => t.0,
            None => DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval.0),
        }
    }
}

/// The `otlp` section.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// Resource attributes copied onto every series of the resource.
    pub promote_resource_attributes: Vec<String>,
    /// Promote every resource attribute but the ignored ones.
    pub promote_all_resource_attributes: bool,
    /// With `promote_all_resource_attributes`, the ones not promoted.
    pub ignore_resource_attributes: Vec<String>,
    /// How metric and label names are translated.
    pub translation_strategy: String,
    /// `service.name`, `service.namespace`, `service.instance.id` kept on
    /// `target_info`.
    pub keep_identifying_resource_attributes: bool,
    /// Explicit-bucket histograms as native histograms with custom
    /// buckets instead of classic `_bucket`/`_sum`/`_count` series.
    pub convert_histograms_to_nhcb: bool,
    /// `otel_scope_*` labels.
    pub promote_scope_metadata: bool,
    /// `_x` label names become `key_x`.
    pub label_name_underscore_sanitization: bool,
    /// Runs of `_` in label names are kept.
    pub label_name_preserve_multiple_underscores: bool,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            promote_resource_attributes: Vec::new(),
            promote_all_resource_attributes: false,
            ignore_resource_attributes: Vec::new(),
            translation_strategy: "UnderscoreEscapingWithSuffixes".into(),
            keep_identifying_resource_attributes: false,
            convert_histograms_to_nhcb: false,
            promote_scope_metadata: false,
            label_name_underscore_sanitization: true,
            label_name_preserve_multiple_underscores: true,
        }
    }
}

impl OtlpConfig {
    /// Prometheus's checks, with its messages.
    fn validate(&self) -> Result<(), CheckError> {
        if self.promote_all_resource_attributes && !self.promote_resource_attributes.is_empty() {
            return Err("'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously".into());
        }
        if !self.ignore_resource_attributes.is_empty() && !self.promote_all_resource_attributes {
            return Err("'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true".into());
        }
        for (what, list) in [
            ("promoted", &self.promote_resource_attributes),
            ("ignored", &self.ignore_resource_attributes),
        ] {
            let mut problems = Vec::new();
            let mut seen = std::collections::BTreeSet::new();
            for a in list {
                let a = a.trim();
                if a.is_empty() {
                    problems.push(format!("empty {what} OTel resource attribute"));
                } else if !seen.insert(a) {
                    problems.push(format!("duplicated {what} OTel resource attribute {a:?}"));
                }
            }
            if !problems.is_empty() {
                let key = if what == "promoted" {
                    "promote_resource_attributes"
                } else {
                    "ignore_resource_attributes"
                };
                return Err(format!("invalid '{key}': {}", problems.join("\n")).into());
            }
        }
        if crate::otlp::names::Strategy::parse(&self.translation_strategy).is_none() {
            return Err(format!(
                "unsupported OTLP translation strategy {:?}",
                self.translation_strategy
            )
            .into());
        }
        Ok(())
    }

    /// The translation settings, with the flags that bear on them.
    pub fn settings(&self, allow_delta: bool, lookback_ms: i64) -> crate::otlp::Settings {
        crate::otlp::Settings {
            strategy: crate::otlp::names::Strategy::parse(&self.translation_strategy)
                .unwrap_or(crate::otlp::names::Strategy::UnderscoreEscapingWithSuffixes),
            promote: self
                .promote_resource_attributes
                .iter()
                .map(|a| a.trim().to_string())
                .collect(),
            promote_all: self.promote_all_resource_attributes,
            ignore: self
                .ignore_resource_attributes
                .iter()
                .map(|a| a.trim().to_string())
                .collect(),
            keep_identifying: self.keep_identifying_resource_attributes,
            promote_scope: self.promote_scope_metadata,
            underscore_sanitization: self.label_name_underscore_sanitization,
            preserve_multiple_underscores: self.label_name_preserve_multiple_underscores,
            allow_delta,
            convert_nhcb: self.convert_histograms_to_nhcb,
            lookback_ms,
            start_zero: false,
        }
    }
}

/// The `storage` section.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct StorageConfig {
    /// `tsdb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsdb: Option<TsdbConfig>,
    /// `exemplars`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsConfig>,
    /// Keys flint does not support yet.
    #[serde(flatten, skip_serializing)]
    pub unsupported: BTreeMap<String, serde_yaml::Value>,
}

/// `storage.tsdb`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct TsdbConfig {
    /// How long and how much to keep; overrides the retention flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionConfig>,
    /// Keys flint does not support yet (`out_of_order_time_window`, …).
    #[serde(flatten, skip_serializing)]
    pub unsupported: BTreeMap<String, serde_yaml::Value>,
}

/// `storage.exemplars`: how many exemplars are held, with the
/// `exemplar-storage` feature on.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// The most exemplars held, of all series together (0 or less: none).
    #[serde(default = "default_max_exemplars")]
    pub max_exemplars: i64,
}

fn default_max_exemplars() -> i64 {
    DEFAULT_MAX_EXEMPLARS
}

/// Prometheus's default `storage.exemplars.max_exemplars`.
pub const DEFAULT_MAX_EXEMPLARS: i64 = 100_000;

/// `storage.tsdb.retention`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// How long to keep samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<PromDuration>,
    /// Most bytes the blocks may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ByteSize>,
    /// Most of the storage volume's capacity the blocks may take, in
    /// percent; when set (above 0) it replaces `size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
}

impl Config {
    fn retention_config(&self) -> Option<&RetentionConfig> {
        self.storage
            .as_ref()
            .and_then(|s| s.tsdb.as_ref())
            .and_then(|t| t.retention.as_ref())
    }

    /// The retention the configuration sets (`storage.tsdb.retention`),
    /// over `flags` (time ms, bytes) where it says nothing.
    pub fn retention(&self, flags: (i64, u64)) -> (i64, u64) {
        match self.retention_config() {
            None => flags,
            Some(r) => (
                r.time.map_or(flags.0, |t| t.as_millis()),
                r.size.map_or(flags.1, |s| s.0),
            ),
        }
    }

    /// `storage.exemplars.max_exemplars` (100000 when not set; 0 for a
    /// negative value).
    pub fn max_exemplars(&self) -> usize {
        self.storage
            .as_ref()
            .and_then(|s| s.exemplars.as_ref())
            .map_or(DEFAULT_MAX_EXEMPLARS, |e| e.max_exemplars)
            .max(0) as usize
    }

    /// `storage.tsdb.retention.percentage`, 0 when not set.
    pub fn retention_percentage(&self) -> f64 {
        self.retention_config()
            .and_then(|r| r.percentage)
            .unwrap_or(0.0)
    }
}

/// A file named by `scrape_config_files`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeConfigFile {
    #[serde(default)]
    scrape_configs: Vec<ScrapeConfig>,
}

/// Loads and checks a configuration file, with the jobs of its
/// `scrape_config_files` (paths relative to its folder).
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Open {
        path: path.to_path_buf(),
        err,
    })?;
    let mut cfg = load_str(&text, &path.display().to_string())?;
    if !cfg.scrape_config_files.is_empty() {
        let base = path.parent().unwrap_or(Path::new("."));
        for f in discovery::file::matched_files(&cfg.scrape_config_files.clone(), base) {
            let t = std::fs::read_to_string(&f).map_err(|err| ConfigError::Open {
                path: f.clone(),
                err,
            })?;
            let more: ScrapeConfigFile =
                serde_yaml::from_str(&t).map_err(|e| ConfigError::Yaml {
                    file: f.display().to_string(),
                    msg: located::yaml_error(&t, &e),
                })?;
            cfg.scrape_configs.extend(more.scrape_configs);
        }
        cfg.check("").map_err(|err| ConfigError::Check {
            file: path.display().to_string(),
            line: None,
            err,
        })?;
    }
    Ok(cfg)
}

/// Replaces `$var` and `${var}` with environment variables (empty when
/// unset) and `$$` with `$`, as Prometheus 3 does in external labels.
pub fn expand_env(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = String::with_capacity(v.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let c = v[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => match v[i + 2..].find('}') {
                Some(end) => {
                    out.push_str(&std::env::var(&v[i + 2..i + 2 + end]).unwrap_or_default());
                    i += 3 + end;
                }
                None => {
                    out.push('$');
                    i += 1;
                }
            },
            _ => {
                let n = v[i + 1..]
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                if n == 0 {
                    out.push('$');
                    i += 1;
                } else {
                    out.push_str(&std::env::var(&v[i + 1..i + 1 + n]).unwrap_or_default());
                    i += 1 + n;
                }
            }
        }
    }
    out
}

/// Parses and checks configuration text; `name` names the file in errors.
pub fn load_str(text: &str, name: &str) -> Result<Config, ConfigError> {
    let cfg: Config = if text.trim().is_empty() {
        Config::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| ConfigError::Yaml {
            file: name.to_string(),
            msg: located::yaml_error(text, &e),
        })?
    };
    let mut cfg = cfg;
    for v in cfg.global.external_labels.values_mut() {
        *v = expand_env(v);
    }
    cfg.check(text).map_err(|err| ConfigError::Check {
        file: name.to_string(),
        line: located::line_of_unknown_key(text, &err),
        err,
    })?;
    Ok(cfg)
}

impl Config {
    /// Agent mode's limits, with Prometheus's messages: no alerting, rule
    /// files or remote read.
    pub fn check_agent(&self) -> Result<(), ConfigError> {
        for (field, present) in [
            (
                "alerting",
                self.alerting.as_ref().is_some_and(|a| {
                    !a.alertmanagers.is_empty() || !a.alert_relabel_configs.is_empty()
                }),
            ),
            ("rule_files", !self.rule_files.is_empty()),
            ("remote_read", !self.remote_read.is_empty()),
        ] {
            if present {
                return Err(ConfigError::NotInAgentMode { field });
            }
        }
        Ok(())
    }

    fn check(&self, text: &str) -> Result<(), CheckError> {
        remote::validate_all(&self.remote_write, &self.remote_read)?;
        if let Some(st) = &self.storage {
            let inner = st.tsdb.as_ref().map(|t| &t.unsupported);
            if let Some(k) = st.unsupported.keys().next() {
                return Err(CheckError::NotSupported {
                    key: format!("storage.{k}"),
                });
            }
            if let Some(k) = inner.and_then(|u| u.keys().next()) {
                return Err(CheckError::NotSupported {
                    key: format!("storage.tsdb.{k}"),
                });
            }
            let p = self.retention_percentage();
            if !(0.0..=100.0).contains(&p) {
                return Err(format!(
                    "'storage.tsdb.retention.percentage' must be in the range [0, 100], got {p}"
                )
                .into());
            }
        }
        if let Some(o) = &self.otlp {
            o.validate()?;
        }
        for (key, v) in [("tracing", &self.tracing), ("runtime", &self.runtime)] {
            if v.is_some() {
                return Err(CheckError::NotSupported { key: key.into() });
            }
        }
        if let Some(a) = &self.alerting {
            a.validate()?;
        }
        let g = &self.global;
        if g.scrape_interval.0.is_zero() {
            return Err("global scrape interval must be greater than zero".into());
        }
        if g.timeout() > g.scrape_interval.0 {
            return Err("global scrape timeout greater than scrape interval".into());
        }
        if g.query_log_file.is_some() || g.scrape_failure_log_file.is_some() {
            return Err("query_log_file and scrape_failure_log_file are not supported yet by this version of flint".into());
        }
        for p in g.scrape_protocols.iter().flatten() {
            protocol_header(p)?;
        }
        for name in g.external_labels.keys() {
            check_label_name(name).map_err(|e| CheckError::in_section("external_labels", e))?;
        }
        let mut seen = std::collections::HashSet::new();
        for sc in &self.scrape_configs {
            if sc.job_name.is_empty() {
                return Err("job_name is empty".into());
            }
            if !seen.insert(sc.job_name.as_str()) {
                return Err(format!(
                    "found multiple scrape configs with job name {:?}",
                    sc.job_name
                )
                .into());
            }
            let (interval, timeout) = (sc.interval(g), sc.timeout(g));
            if interval.is_zero() {
                return Err(format!("scrape interval must be greater than zero for scrape config with job name {:?}", sc.job_name).into());
            }
            if timeout > interval {
                return Err(format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                    sc.job_name
                )
                .into());
            }
            if sc.scheme != "http" && sc.scheme != "https" {
                return Err(format!(
                    "unknown scheme {:?} for scrape config with job name {:?}",
                    sc.scheme, sc.job_name
                )
                .into());
            }
            if !sc.metrics_path.starts_with('/') {
                return Err(format!(
                    "metrics_path {:?} must start with / for job {:?}",
                    sc.metrics_path, sc.job_name
                )
                .into());
            }
            if let Some(key) = sc.unsupported.keys().next() {
                let known = KNOWN_UNSUPPORTED.contains(&key.as_str());
                let (line, key, job) = (line_of_key(text, key), key.clone(), sc.job_name.clone());
                return Err(if known {
                    CheckError::ScrapeConfigUnsupported { line, key, job }
                } else {
                    CheckError::ScrapeConfigField { line, key, job }
                });
            }
            let in_job = |err: CheckError| CheckError::Job {
                job: sc.job_name.clone(),
                err: Box::new(err),
            };
            sc.http.validate().map_err(in_job)?;
            for p in sc.protocols(g) {
                protocol_header(&p).map_err(|e| in_job(e.into()))?;
            }
            if let Some(p) = &sc.fallback_scrape_protocol {
                protocol_header(p).map_err(|e| {
                    in_job(CheckError::in_section("fallback_scrape_protocol", e.into()))
                })?;
            }
            for h in &sc.http_sd_configs {
                h.validate()
                    .map_err(|e| CheckError::in_job_section("http_sd_configs", &sc.job_name, e))?;
            }
            for d in &sc.dns_sd_configs {
                d.validate()
                    .map_err(|e| CheckError::in_job_section("dns_sd_configs", &sc.job_name, e))?;
            }
            for f in &sc.file_sd_configs {
                f.validate()
                    .map_err(|e| CheckError::in_job_section("file_sd_configs", &sc.job_name, e))?;
            }
            for k in &sc.kubernetes_sd_configs {
                k.validate().map_err(|e| {
                    CheckError::in_job_section("kubernetes_sd_configs", &sc.job_name, e)
                })?;
            }
            for c in &sc.consul_sd_configs {
                c.validate().map_err(|e| {
                    CheckError::in_job_section("consul_sd_configs", &sc.job_name, e)
                })?;
            }
            for c in &sc.docker_sd_configs {
                c.validate().map_err(|e| {
                    CheckError::in_job_section("docker_sd_configs", &sc.job_name, e)
                })?;
            }
            for c in &sc.dockerswarm_sd_configs {
                c.validate().map_err(|e| {
                    CheckError::in_job_section("dockerswarm_sd_configs", &sc.job_name, e)
                })?;
            }
            for c in &sc.azure_sd_configs {
                c.validate()
                    .map_err(|e| CheckError::in_job_section("azure_sd_configs", &sc.job_name, e))?;
            }
            for c in &sc.ec2_sd_configs {
                c.validate()
                    .map_err(|e| CheckError::in_job_section("ec2_sd_configs", &sc.job_name, e))?;
            }
            for c in &sc.gce_sd_configs {
                c.validate()
                    .map_err(|e| CheckError::in_job_section("gce_sd_configs", &sc.job_name, e))?;
            }
            for c in &sc.eureka_sd_configs {
                c.validate().map_err(|e| {
                    CheckError::in_job_section("eureka_sd_configs", &sc.job_name, e)
                })?;
            }
            for c in &sc.hetzner_sd_configs {
                c.validate().map_err(|e| {
                    CheckError::in_job_section("hetzner_sd_configs", &sc.job_name, e)
                })?;
            }
            for c in &sc.openstack_sd_configs {
                c.validate().map_err(|e| {
                    CheckError::in_job_section("openstack_sd_configs", &sc.job_name, e)
                })?;
            }
            for (what, rules) in [
                ("relabel_configs", &sc.relabel_configs),
                ("metric_relabel_configs", &sc.metric_relabel_configs),
            ] {
                for r in rules {
                    r.validate()
                        .map_err(|e| CheckError::in_job_section(what, &sc.job_name, e.into()))?;
                }
            }
            for st in &sc.static_configs {
                for t in &st.targets {
                    check_target(t).map_err(|e| CheckError::Target {
                        job: sc.job_name.clone(),
                        err: Box::new(e),
                    })?;
                }
                for name in st.labels.keys() {
                    check_label_name(name)
                        .map_err(|e| CheckError::in_section("static_configs labels", e))?;
                }
            }
        }
        Ok(())
    }

    /// The configuration as YAML, with defaults filled in, for the status API.
    pub fn to_yaml(&self) -> String {
        let mut c = self.clone();
        c.global.scrape_timeout = Some(PromDuration(self.global.timeout()));
        for sc in &mut c.scrape_configs {
            sc.scrape_interval = Some(PromDuration(sc.interval(&self.global)));
            sc.scrape_timeout = Some(PromDuration(sc.timeout(&self.global)));
        }
        for rw in &mut c.remote_write {
            rw.http = rw.http_client();
        }
        serde_yaml::to_string(&c).unwrap_or_default()
    }
}

/// The 1-based line where `key:` first appears as a mapping key.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ").trim_start();
            t.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// Keys of Prometheus's scrape config that flint does not implement yet.
pub(crate) const KNOWN_UNSUPPORTED: &[&str] = &[
    "nomad_sd_configs",
    "digitalocean_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "serverset_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
    "scaleway_sd_configs",
    "puppetdb_sd_configs",
    "ionos_sd_configs",
    "ovhcloud_sd_configs",
    "lightsail_sd_configs",
    "kuma_sd_configs",
    "scrape_classic_histograms",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
];

fn check_label_name(name: &str) -> Result<(), CheckError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(CheckError::LabelName {
            name: name.to_string(),
        })
    }
}

fn check_target(t: &str) -> Result<(), CheckError> {
    if t.contains('/') {
        return Err(format!("{t:?} is not a valid hostname").into());
    }
    let Some((host, port)) = t.rsplit_once(':') else {
        return Ok(()); // port defaults by scheme
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("address {t}: invalid port").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: sample
    scrape_interval: 5s
    static_configs:
      - targets: ['localhost:8000']
"#;

    #[test]
    fn seed_config_defaults() {
        let c = load_str(SEED, "prometheus.yml").unwrap();
        let sc = &c.scrape_configs[0];
        assert_eq!(sc.interval(&c.global), Duration::from_secs(5));
        assert_eq!(
            sc.timeout(&c.global),
            Duration::from_secs(5),
            "timeout capped at the interval"
        );
        assert_eq!(sc.metrics_path, "/metrics");
        assert!(sc.honor_timestamps && !sc.honor_labels);
        assert!(c.to_yaml().contains("scrape_timeout: 5s"));
    }

    #[test]
    fn scrape_config_files_and_env_in_external_labels() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("jobs")).unwrap();
        std::fs::write(
            d.path().join("jobs/a.yml"),
            "scrape_configs:\n  - job_name: from-file\n    static_configs: [{targets: ['h:1']}]\n",
        )
        .unwrap();
        std::env::set_var("FLINT_TEST_REGION", "eu-1");
        let main = d.path().join("prometheus.yml");
        std::fs::write(&main, "global:\n  external_labels: {region: '${FLINT_TEST_REGION}', cost: '$$5', none: '$FLINT_UNSET_VAR'}\nscrape_config_files: ['jobs/*.yml']\nscrape_configs:\n  - job_name: main\n").unwrap();
        let c = load_file(&main).unwrap();
        let jobs: Vec<&str> = c
            .scrape_configs
            .iter()
            .map(|s| s.job_name.as_str())
            .collect();
        assert_eq!(jobs, vec!["main", "from-file"]);
        assert_eq!(c.global.external_labels["region"], "eu-1");
        assert_eq!(c.global.external_labels["cost"], "$5");
        assert_eq!(c.global.external_labels["none"], "");
        // a job named twice across files is refused
        std::fs::write(
            d.path().join("jobs/b.yml"),
            "scrape_configs:\n  - job_name: main\n",
        )
        .unwrap();
        let e = load_file(&main).unwrap_err().to_string();
        assert!(
            e.contains("multiple scrape configs with job name \"main\""),
            "{e}"
        );
    }

    #[test]
    fn global_timeout_follows_a_short_interval() {
        let c = load_str("global:\n  scrape_interval: 1s\n", "f.yml").unwrap();
        assert_eq!(c.global.timeout(), Duration::from_secs(1));
        let c = load_str("global:\n  scrape_interval: 1m\n", "f.yml").unwrap();
        assert_eq!(c.global.timeout(), Duration::from_secs(10));
        assert!(load_str(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 2s\n",
            "f.yml"
        )
        .is_err());
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            ("global:\n  scrape_interval: 5x\n", "not a valid duration string"),
            ("scrape_configs:\n  - job_name: a\n    bogus: 1\n", "field bogus not found"),
            ("scrape_configs:\n  - job_name: a\n  - job_name: a\n", "multiple scrape configs with job name \"a\""),
            (
                "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
                "scrape timeout greater than scrape interval",
            ),
            ("global: [\n", "parsing YAML file f.yml"),
            ("remote_write:\n  - url: ''\n", "url for remote_write is empty"),
            ("remote_write:\n  - url: http://x/\n    google_iam: {}\n    bearer_token: t\n", "Currently configured: [authorization google_iam]"),
            ("remote_write:\n  - url: http://x/\n    google_iam: {key_file: k}\n", "field key_file not found in type"),
            ("remote_write:\n  - url: http://x/\n    oauth2: {token_url: 'http://t/'}\n", "oauth2 client_id must be configured"),
            ("scrape_configs:\n  - job_name: k\n    oauth2: {client_id: a, token_url: 'http://t/', client_secret: s, client_secret_file: f}\n", "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured using grant-type=client_credentials"),
            ("scrape_configs:\n  - job_name: k\n    oauth2: {client_id: a, token_url: 'http://t/', secret: s}\n", "field secret not found in type config.OAuth2"),
            ("scrape_configs:\n  - job_name: k\n    basic_auth: {username: u}\n    oauth2: {client_id: a, token_url: 'http://t/'}\n", "at most one of basic_auth, oauth2 & authorization must be configured"),
            ("scrape_configs:\n  - job_name: k\n    no_proxy: localhost\n", "if no_proxy is configured, proxy_url must also be configured"),
            ("scrape_configs:\n  - job_name: k\n    nomad_sd_configs: [{server: 'http://n:4646'}]\n", "nomad_sd_configs (job \"k\") is not supported yet"),
            ("scrape_configs:\n  - job_name: k\n    gce_sd_configs: [{project: p}]\n", "gce_sd_configs of job \"k\": GCE SD configuration requires a zone"),
            ("scrape_configs:\n  - job_name: k\n    dockerswarm_sd_configs: [{host: 'tcp://d:2375'}]\n", "dockerswarm_sd_configs of job \"k\": role missing (one of: tasks, services, nodes)"),
            ("scrape_configs:\n  - job_name: k\n    docker_sd_configs: [{port: 80}]\n", "docker_sd_configs of job \"k\": host missing"),
            ("scrape_configs:\n  - job_name: k\n    azure_sd_configs: [{subscription_id: s, authentication_method: Basic}]\n", "azure_sd_configs of job \"k\": unknown authentication_type \"Basic\""),
            ("scrape_configs:\n  - job_name: k\n    ec2_sd_configs: [{region: r, filters: [{name: n}]}]\n", "ec2_sd_configs of job \"k\": EC2 SD configuration filter values cannot be empty"),
            ("scrape_configs:\n  - job_name: k\n    eureka_sd_configs: [{server: 'eureka:8761'}]\n", "eureka_sd_configs of job \"k\": eureka_sd: invalid eureka server URL"),
            ("scrape_configs:\n  - job_name: k\n    hetzner_sd_configs: [{role: cloud}]\n", "hetzner_sd_configs of job \"k\": unknown role \"cloud\""),
            ("scrape_configs:\n  - job_name: k\n    openstack_sd_configs: [{role: instance}]\n", "openstack_sd_configs of job \"k\": openstack SD configuration requires a region"),
            ("scrape_configs:\n  - job_name: k\n    consul_sd_configs: [{server: ''}]\n", "consul_sd_configs of job \"k\": consul SD configuration requires a server address"),
            ("scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs: [{role: pod, bearer_token: x}]\n", "please provide the 'api_server' URL explicitly"),
            ("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['h:99999']\n", "invalid port"),
        ];
        for (text, want) in cases {
            let err = load_str(text, "f.yml").unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(err.starts_with("parsing YAML file f.yml"), "{err}");
        }
        let err = load_str("scrape_configs:\n  - job_name: a\n    bogus: 1\n", "f.yml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
    }
}
