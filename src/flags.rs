//! Command-line flags, with Prometheus's names and defaults.

use std::time::Duration;

use clap::Parser;

use crate::config::PromDuration;
use crate::logging::{LogFormat, LogLevel};

fn duration(s: &str) -> Result<PromDuration, String> {
    PromDuration::parse(s)
}

fn byte_size(s: &str) -> Result<crate::config::ByteSize, String> {
    crate::config::ByteSize::parse(s)
}

/// The flags `flint` accepts.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "flint",
    about = "The flint time-series server, a drop-in for Prometheus.",
    disable_version_flag = true
)]
pub struct Flags {
    /// Configuration file path.
    #[arg(
        long = "config.file",
        default_value = "prometheus.yml",
        value_name = "FILE"
    )]
    pub config_file: String,
    /// Base path for metrics storage.
    #[arg(
        long = "storage.tsdb.path",
        default_value = "data/",
        value_name = "PATH"
    )]
    pub tsdb_path: String,
    /// How long to retain samples in storage.
    #[arg(long = "storage.tsdb.retention.time", default_value = "15d", value_parser = duration, value_name = "DURATION")]
    pub retention_time: PromDuration,
    /// Maximum number of bytes that can be stored for blocks (e.g. 512MB, 10GB; 0 disables).
    #[arg(long = "storage.tsdb.retention.size", default_value = "0", value_parser = byte_size, value_name = "BYTES")]
    pub retention_size: crate::config::ByteSize,
    /// Do not create lockfile in data directory.
    #[arg(long = "storage.tsdb.no-lockfile")]
    pub no_lockfile: bool,
    /// Address to listen on for UI, API, and telemetry.
    #[arg(
        long = "web.listen-address",
        default_value = "0.0.0.0:9090",
        value_name = "ADDRESS"
    )]
    pub listen_address: String,
    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// Comma separated feature names to enable (the PromQL ones are always
    /// on in flint; others are reported as not supported).
    #[arg(long = "enable-feature", value_delimiter = ',', value_name = "FEATURE")]
    pub enable_feature: Vec<String>,
    /// The URL under which flint is externally reachable (for links in
    /// alerts).
    #[arg(long = "web.external-url", value_name = "URL")]
    pub external_url: Option<String>,
    /// Prefix for the internal routes of web endpoints (default: the path of
    /// --web.external-url).
    #[arg(long = "web.route-prefix", value_name = "PATH")]
    pub route_prefix: Option<String>,
    /// Max time to tolerate outage for restoring "for" state of alert.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h", value_parser = duration, value_name = "DURATION")]
    pub for_outage_tolerance: PromDuration,
    /// Minimum duration between alert and restored "for" state.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m", value_parser = duration, value_name = "DURATION")]
    pub for_grace_period: PromDuration,
    /// Minimum amount of time to wait before resending an alert to Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m", value_parser = duration, value_name = "DURATION")]
    pub resend_delay: PromDuration,
    /// The capacity of the queue for pending Alertmanager notifications.
    #[arg(
        long = "alertmanager.notification-queue-capacity",
        default_value_t = 10000,
        value_name = "INT"
    )]
    pub notification_queue_capacity: usize,
    /// Adjust scrape timestamps by up to --scrape.timestamp-tolerance to
    /// align them to the intended schedule (on by default; turned off by
    /// --no-scrape.adjust-timestamps or --scrape.adjust-timestamps=false).
    #[arg(
        long = "scrape.adjust-timestamps",
        action = clap::ArgAction::Set,
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        hide = true
    )]
    pub adjust_timestamps: bool,
    /// Turns --scrape.adjust-timestamps off.
    #[arg(long = "no-scrape.adjust-timestamps", hide = true)]
    pub no_adjust_timestamps: bool,
    /// How late a scrape may start and still be stamped with its slot on
    /// the schedule (at most 1% of the scrape interval is used).
    #[arg(long = "scrape.timestamp-tolerance", default_value = "2ms", value_parser = duration, value_name = "DURATION", hide = true)]
    pub timestamp_tolerance: PromDuration,
    /// Path to a configuration file that can enable TLS or authentication.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<String>,
    /// Largest remote-write or import request accepted, decompressed (e.g.
    /// 64MB); a larger one is refused with 413.
    #[arg(long = "web.remote-write-max-bytes", default_value = "64MB", value_parser = byte_size, value_name = "BYTES")]
    pub remote_write_max_bytes: crate::config::ByteSize,
    /// Regex for CORS origin. It is fully anchored.
    #[arg(long = "web.cors.origin", default_value = ".*", value_name = "REGEX")]
    pub cors_origin: String,
    /// Enable API endpoint accepting remote write requests.
    #[arg(long = "web.enable-remote-write-receiver")]
    pub enable_remote_write_receiver: bool,
    /// The maximum lookback duration for retrieving metrics during expression evaluations.
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = duration, value_name = "DURATION")]
    pub lookback_delta: PromDuration,
    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = duration, value_name = "DURATION")]
    pub query_timeout: PromDuration,
    /// Maximum number of samples a single query can load into memory.
    #[arg(
        long = "query.max-samples",
        default_value_t = 50_000_000,
        value_name = "INT"
    )]
    pub max_samples: usize,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(
        long = "log.level",
        default_value = "info",
        value_enum,
        value_name = "LEVEL"
    )]
    pub log_level: LogLevel,
    /// Output format of log messages: logfmt, json.
    #[arg(
        long = "log.format",
        default_value = "logfmt",
        value_enum,
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
    /// Show application version.
    #[arg(long = "version")]
    pub version: bool,
}

/// Settings the server reads at run time, derived from [`Flags`].
#[derive(Clone, Debug)]
pub struct RunFlags {
    /// Lookback delta in ms.
    pub lookback_delta_ms: i64,
    /// Query timeout.
    pub query_timeout: Duration,
    /// Query sample limit.
    pub max_samples: usize,
    /// `/-/reload` and `/-/quit` allowed.
    pub enable_lifecycle: bool,
    /// Every flag as the status API shows it.
    pub all: Vec<(String, String)>,
}

/// Prometheus's `--enable-feature` names of PromQL extensions flint
/// always has.
pub const ALWAYS_ON_FEATURES: &[&str] = &[
    "promql-experimental-functions",
    "promql-duration-expr",
    "promql-extended-range-selectors",
    "promql-binop-fill-modifiers",
    "promql-at-modifier",
    "promql-negative-offset",
];

/// Prometheus feature names flint does not implement.
const UNSUPPORTED_FEATURES: &[&str] = &[
    "native-histograms",
    "exemplar-storage",
    "memory-snapshot-on-shutdown",
    "extra-scrape-metrics",
    "created-timestamp-zero-ingestion",
    "concurrent-rule-eval",
    "otlp-deltatocumulative",
    "metadata-wal-records",
    "delayed-compaction",
    "old-ui",
    "type-and-unit-labels",
    "use-uncached-io",
    "auto-gomaxprocs",
    "auto-gomemlimit",
    "auto-reload-config",
    "expand-external-labels",
    "agent",
];

impl Flags {
    /// Logs what each `--enable-feature` name means here, as Prometheus
    /// logs the features it turns on and warns about unknown ones.
    pub fn log_features(&self) {
        for f in self
            .enable_feature
            .iter()
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
        {
            if ALWAYS_ON_FEATURES.contains(&f) {
                tracing::info!(option = f, "Feature is always enabled in flint");
            } else if UNSUPPORTED_FEATURES.contains(&f) {
                tracing::warn!(option = f, "Feature is not supported by flint, ignoring it");
            } else {
                tracing::warn!(option = f, "Unknown option for --enable-feature");
            }
        }
    }

    /// Parses the process arguments. On a bad flag, the message is one line
    /// in Prometheus's shape (`flint: error: …`) and the exit code 1.
    pub fn parse_args<I, T>(args: I) -> Result<Flags, (String, i32)>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        match Flags::try_parse_from(args) {
            Ok(f) => Ok(f),
            Err(e) => match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Err((e.to_string(), 0))
                }
                _ => {
                    let text = e.to_string();
                    let first = text
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim_start_matches("error: ")
                        .to_string();
                    Err((format!("flint: error: {first}, try --help"), 1))
                }
            },
        }
    }

    /// The run-time settings.
    pub fn run_flags(&self) -> RunFlags {
        let all = vec![
            ("config.file".into(), self.config_file.clone()),
            ("storage.tsdb.path".into(), self.tsdb_path.clone()),
            (
                "storage.tsdb.retention.time".into(),
                self.retention_time.to_string(),
            ),
            ("web.listen-address".into(), self.listen_address.clone()),
            (
                "web.enable-lifecycle".into(),
                self.enable_lifecycle.to_string(),
            ),
            ("enable-feature".into(), self.enable_feature.join(",")),
            (
                "web.enable-admin-api".into(),
                self.enable_admin_api.to_string(),
            ),
            (
                "web.enable-remote-write-receiver".into(),
                self.enable_remote_write_receiver.to_string(),
            ),
            (
                "query.lookback-delta".into(),
                self.lookback_delta.to_string(),
            ),
            ("query.timeout".into(), self.query_timeout.to_string()),
            ("query.max-samples".into(), self.max_samples.to_string()),
            (
                "log.level".into(),
                format!("{:?}", self.log_level).to_lowercase(),
            ),
            (
                "log.format".into(),
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            (
                "storage.tsdb.retention.size".into(),
                format!("{}B", self.retention_size.0),
            ),
            (
                "storage.tsdb.no-lockfile".into(),
                self.no_lockfile.to_string(),
            ),
            ("web.cors.origin".into(), self.cors_origin.clone()),
            (
                "web.config.file".into(),
                self.web_config_file.clone().unwrap_or_default(),
            ),
            ("web.external-url".into(), self.external_url()),
            ("web.route-prefix".into(), self.route_prefix()),
            (
                "web.remote-write-max-bytes".into(),
                format!("{}B", self.remote_write_max_bytes.0),
            ),
            (
                "rules.alert.for-outage-tolerance".into(),
                self.for_outage_tolerance.to_string(),
            ),
            (
                "rules.alert.for-grace-period".into(),
                self.for_grace_period.to_string(),
            ),
            (
                "rules.alert.resend-delay".into(),
                self.resend_delay.to_string(),
            ),
            (
                "alertmanager.notification-queue-capacity".into(),
                self.notification_queue_capacity.to_string(),
            ),
            (
                "scrape.adjust-timestamps".into(),
                self.scrape_timestamp_tolerance().is_some().to_string(),
            ),
            (
                "scrape.timestamp-tolerance".into(),
                self.timestamp_tolerance.to_string(),
            ),
        ];
        RunFlags {
            lookback_delta_ms: self.lookback_delta.as_millis(),
            query_timeout: self.query_timeout.0,
            max_samples: self.max_samples,
            enable_lifecycle: self.enable_lifecycle,
            all,
        }
    }
}

impl Flags {
    /// How late a scrape may start and still be stamped with its slot on
    /// the schedule; `None` when timestamps are not adjusted.
    pub fn scrape_timestamp_tolerance(&self) -> Option<Duration> {
        (self.adjust_timestamps && !self.no_adjust_timestamps).then_some(self.timestamp_tolerance.0)
    }

    /// The external URL without a trailing slash: `--web.external-url`, or
    /// `http://<hostname>:<port>` from the listen address.
    pub fn external_url(&self) -> String {
        if let Some(u) = &self.external_url {
            return u.trim_end_matches('/').to_string();
        }
        let port = self.listen_address.rsplit(':').next().unwrap_or("9090");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        format!("http://{host}:{port}")
    }
}

impl Flags {
    /// The route prefix: `--web.route-prefix`, else the path of
    /// `--web.external-url`; no trailing slash, empty at the root.
    pub fn route_prefix(&self) -> String {
        let p = match (&self.route_prefix, &self.external_url) {
            (Some(p), _) => p.clone(),
            (None, Some(u)) => url::Url::parse(u)
                .map(|u| u.path().to_string())
                .unwrap_or_default(),
            (None, None) => String::new(),
        };
        let p = p.trim_end_matches('/');
        if p.is_empty() {
            String::new()
        } else if p.starts_with('/') {
            p.to_string()
        } else {
            format!("/{p}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let f = Flags::parse_args(["flint"]).unwrap();
        assert_eq!(f.config_file, "prometheus.yml");
        assert_eq!(f.tsdb_path, "data/");
        assert_eq!(f.listen_address, "0.0.0.0:9090");
        assert_eq!(f.retention_time.to_string(), "15d");
        assert_eq!(f.lookback_delta.as_millis(), 300_000);
        assert_eq!(f.max_samples, 50_000_000);
        let f = Flags::parse_args([
            "flint",
            "--config.file=x.yml",
            "--log.level",
            "debug",
            "--web.enable-lifecycle",
        ])
        .unwrap();
        assert_eq!(f.config_file, "x.yml");
        assert_eq!(f.log_level, LogLevel::Debug);
        assert!(f.enable_lifecycle);
        let (msg, code) = Flags::parse_args(["flint", "--bogus"]).unwrap_err();
        assert_eq!(code, 1);
        assert!(
            msg.starts_with("flint: error: ") && !msg.contains('\n'),
            "{msg}"
        );
        let (msg, code) = Flags::parse_args(["flint", "--query.timeout=abc"]).unwrap_err();
        assert_eq!(code, 1);
        assert!(msg.contains("not a valid duration string"), "{msg}");
        let (_, code) = Flags::parse_args(["flint", "--log.level=verbose"]).unwrap_err();
        assert_eq!(code, 1);
    }

    #[test]
    fn scrape_timestamp_adjustment() {
        let ms = Duration::from_millis;
        let tol = |args: &[&str]| {
            let mut all = vec!["flint"];
            all.extend_from_slice(args);
            Flags::parse_args(all).unwrap().scrape_timestamp_tolerance()
        };
        assert_eq!(tol(&[]), Some(ms(2)));
        assert_eq!(tol(&["--scrape.timestamp-tolerance=5ms"]), Some(ms(5)));
        assert_eq!(tol(&["--scrape.adjust-timestamps"]), Some(ms(2)));
        assert_eq!(tol(&["--scrape.adjust-timestamps=true"]), Some(ms(2)));
        assert_eq!(tol(&["--scrape.adjust-timestamps=false"]), None);
        assert_eq!(tol(&["--no-scrape.adjust-timestamps"]), None);
        let all = Flags::parse_args(["flint"]).unwrap().run_flags().all;
        let get = |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("scrape.adjust-timestamps"), Some("true"));
        assert_eq!(get("scrape.timestamp-tolerance"), Some("2ms"));
    }
}
