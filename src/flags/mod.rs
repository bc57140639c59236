//! Command-line flags: every flag of Prometheus 3's `prometheus` binary,
//! with its name, default and parsing rules ([`table`]), read as
//! Prometheus reads them ([`parse`]), and shown by `--help` in its layout
//! ([`help`]). Flags that mean nothing for flint's storage are accepted,
//! listed by the status API and named once in the start-up log.

pub mod help;
pub mod parse;
pub mod table;

use std::time::Duration;

use crate::config::{ByteSize, PromDuration};
use crate::logging::{LogFormat, LogLevel};
use parse::{ParseError, Parsed};
use table::{Effect, Origin, FLAGS};

/// The flags in force, typed.
#[derive(Clone, Debug)]
pub struct Flags {
    /// The command line as read.
    pub parsed: Parsed,
    /// `--agent`.
    pub agent: bool,
    /// `--config.file`.
    pub config_file: String,
    /// `--config.auto-reload`.
    pub auto_reload: bool,
    /// `--config.auto-reload-interval` (at least 1 s).
    pub auto_reload_interval: Duration,
    /// `--storage.tsdb.path`, or `--storage.agent.path` in agent mode.
    pub tsdb_path: String,
    /// `--storage.tsdb.retention.time` (or the 2.x `--storage.tsdb.retention`);
    /// zero when only a size limit is set.
    pub retention_time: PromDuration,
    /// `--storage.tsdb.retention.size` (0: none).
    pub retention_size: ByteSize,
    /// `--storage.tsdb.no-lockfile` (or `--storage.agent.no-lockfile`).
    pub no_lockfile: bool,
    /// `--storage.tsdb.takeover.delete-original`.
    pub takeover_delete_original: bool,
    /// `--web.listen-address`, each.
    pub listen_addresses: Vec<String>,
    /// `--web.read-timeout`.
    pub read_timeout: Duration,
    /// `--web.max-connections` (0: no limit).
    pub max_connections: usize,
    /// `--web.enable-lifecycle`.
    pub enable_lifecycle: bool,
    /// `--web.enable-admin-api`.
    pub enable_admin_api: bool,
    /// `--web.enable-remote-write-receiver`.
    pub enable_remote_write_receiver: bool,
    /// `--web.enable-otlp-receiver`.
    pub enable_otlp_receiver: bool,
    /// `--web.remote-write-receiver.accepted-protobuf-messages`.
    pub accepted_remote_write_messages: Vec<String>,
    /// `--web.page-title`.
    pub page_title: String,
    /// `--web.user-assets`.
    pub user_assets: Option<String>,
    /// `--enable-feature`, each name.
    pub enable_feature: Vec<String>,
    /// `--web.external-url`.
    pub external_url: Option<String>,
    /// `--web.route-prefix`.
    pub route_prefix: Option<String>,
    /// `--rules.alert.for-outage-tolerance`.
    pub for_outage_tolerance: PromDuration,
    /// `--rules.alert.for-grace-period`.
    pub for_grace_period: PromDuration,
    /// `--rules.alert.resend-delay`.
    pub resend_delay: PromDuration,
    /// `--alertmanager.notification-queue-capacity`.
    pub notification_queue_capacity: usize,
    /// `--alertmanager.notification-batch-size`.
    pub notification_batch_size: usize,
    /// `--alertmanager.drain-notification-queue-on-shutdown`.
    pub drain_notification_queue: bool,
    /// `--scrape.adjust-timestamps`.
    pub adjust_timestamps: bool,
    /// `--scrape.timestamp-tolerance`.
    pub timestamp_tolerance: Duration,
    /// `--web.config.file`.
    pub web_config_file: Option<String>,
    /// `--web.remote-write-max-bytes` (flint's own).
    pub remote_write_max_bytes: ByteSize,
    /// `--web.cors.origin`.
    pub cors_origin: String,
    /// `--query.lookback-delta`.
    pub lookback_delta: PromDuration,
    /// `--query.timeout`.
    pub query_timeout: PromDuration,
    /// `--query.max-samples`.
    pub max_samples: usize,
    /// `--query.max-concurrency`.
    pub max_concurrency: usize,
    /// `--storage.remote.flush-deadline`.
    pub remote_flush_deadline: Duration,
    /// `--storage.remote.read-sample-limit` (0: none).
    pub remote_read_sample_limit: usize,
    /// `--storage.remote.read-concurrent-limit` (0: none).
    pub remote_read_concurrent_limit: usize,
    /// `--storage.remote.read-max-bytes-in-frame`.
    pub remote_read_max_bytes_in_frame: usize,
    /// `--storage.agent.retention.min-time`.
    pub agent_retention_min: Duration,
    /// `--storage.agent.retention.max-time`.
    pub agent_retention_max: Duration,
    /// `--log.level`.
    pub log_level: LogLevel,
    /// `--log.format`.
    pub log_format: LogFormat,
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

/// What the command line asks for instead of running the server: text for
/// stdout and stderr and an exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Printed on stdout.
    pub stdout: String,
    /// Printed on stderr.
    pub stderr: String,
    /// The exit code.
    pub code: i32,
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
    "promql-delayed-name-removal",
    "promql-per-step-stats",
];

/// The feature that stores delta OTLP sums and histograms as they come.
pub const OTLP_NATIVE_DELTA: &str = "otlp-native-delta-ingestion";

/// The feature that stores a zero sample at each series' start (created)
/// time: scraped, received by remote write 2.0 and by OTLP.
pub const START_ZERO_INGESTION: &str = "created-timestamp-zero-ingestion";

/// The feature that adds up delta OTLP sums and histograms into cumulative
/// ones.
pub const OTLP_DELTA_TO_CUMULATIVE: &str = "otlp-deltatocumulative";

/// The feature that stores exemplars (`storage.exemplars`).
pub const EXEMPLAR_STORAGE: &str = "exemplar-storage";

/// Prometheus feature names flint does not implement.
const UNSUPPORTED_FEATURES: &[&str] = &[
    "native-histograms",
    "memory-snapshot-on-shutdown",
    "extra-scrape-metrics",
    "concurrent-rule-eval",
    "metadata-wal-records",
    "delayed-compaction",
    "old-ui",
    "type-and-unit-labels",
    "use-uncached-io",
    "auto-gomaxprocs",
    "auto-gomemlimit",
    "expand-external-labels",
    "search-api",
    "st-storage",
    "st-synthesis",
    "use-start-timestamps",
    "xor2-encoding",
    "histograms-st-encoding",
];

fn duration(p: &Parsed, name: &str) -> PromDuration {
    PromDuration::parse(&p.value(name)).unwrap_or_default()
}

fn int(p: &Parsed, name: &str) -> usize {
    parse::int(&p.value(name)).unwrap_or(0).max(0) as usize
}

fn optional(p: &Parsed, name: &str) -> Option<String> {
    Some(p.value(name)).filter(|v| !v.is_empty())
}

impl Flags {
    /// Reads the command line (`args[0]` is the program). When it asks for
    /// help, the version, or is refused, the answer is an [`Exit`] in
    /// Prometheus's shape: an unknown flag exits 1, a bad value 2 (with the
    /// help on stdout), a flag of the other mode 3.
    pub fn parse_args(args: &[String]) -> Result<Flags, Exit> {
        let app = args
            .first()
            .and_then(|a| std::path::Path::new(a).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "flint".into());
        let rest = args.get(1..).unwrap_or_default();
        let exit = |stdout: String, stderr: String, code: i32| Exit {
            stdout,
            stderr,
            code,
        };
        let p = match parse::parse(rest) {
            Ok(p) => p,
            Err(ParseError::Syntax(e)) => {
                return Err(exit(
                    String::new(),
                    format!("Error parsing command line arguments: {e}\n{app}: error: {e}\n"),
                    1,
                ))
            }
            Err(ParseError::Value(e)) => {
                // help and version win over a bad value, as in Prometheus
                let wants_help = rest.iter().any(|a| a == "--help" || a == "-h");
                if wants_help {
                    return Err(exit(help::help(&app, false), String::new(), 0));
                }
                if rest.iter().any(|a| a == "--version") {
                    return Err(exit(crate::buildinfo::version_text(), String::new(), 0));
                }
                return Err(exit(
                    help::help(&app, false),
                    format!("Error parsing command line arguments: {e}\n"),
                    2,
                ));
            }
        };
        if p.bool("help") {
            return Err(exit(help::help(&app, false), String::new(), 0));
        }
        if p.bool("help-long") || p.bool("help-man") {
            return Err(exit(help::help(&app, true), String::new(), 0));
        }
        if p.bool("version") {
            return Err(exit(crate::buildinfo::version_text(), String::new(), 0));
        }
        if p.bool("completion-bash") {
            return Err(exit(help::completion_words(), String::new(), 0));
        }
        for shell in ["bash", "zsh"] {
            if p.bool(&format!("completion-script-{shell}")) {
                return Err(exit(help::completion_script(&app, shell), String::new(), 0));
            }
        }
        if p.bool("write-documentation") {
            return Err(exit(help::markdown(&app), String::new(), 0));
        }
        let agent = p.bool("agent");
        let wrong = parse::wrong_mode(&p, agent);
        if !wrong.is_empty() {
            let list = wrong
                .iter()
                .map(|f| format!("{f:?}"))
                .collect::<Vec<_>>()
                .join(" ");
            let msg = if agent {
                format!("The following flag(s) can not be used in agent mode: [{list}]")
            } else {
                format!("The following flag(s) can only be used in agent mode: [{list}]")
            };
            return Err(exit(String::new(), msg, 3));
        }
        let ratio: f64 = p.value("auto-gomemlimit.ratio").parse().unwrap_or(0.0);
        if ratio <= 0.0 || ratio > 1.0 {
            return Err(exit(
                String::new(),
                "--auto-gomemlimit.ratio must be greater than 0 and less than or equal to 1."
                    .into(),
                1,
            ));
        }
        let features = p.values("enable-feature");
        if [OTLP_DELTA_TO_CUMULATIVE, OTLP_NATIVE_DELTA]
            .iter()
            .all(|f| features.iter().any(|g| g == f))
        {
            return Err(exit(
                String::new(),
                "Error parsing feature list: cannot enable otlp-deltatocumulative and otlp-native-delta-ingestion features at the same time\n".into(),
                1,
            ));
        }
        Ok(Flags::from_parsed(p))
    }

    fn from_parsed(p: Parsed) -> Flags {
        let agent = p.bool("agent");
        let size = ByteSize::parse(&p.value("storage.tsdb.retention.size")).unwrap_or(ByteSize(0));
        let retention_time = if p.is_set("storage.tsdb.retention.time") {
            duration(&p, "storage.tsdb.retention.time")
        } else if p.is_set("storage.tsdb.retention") {
            duration(&p, "storage.tsdb.retention")
        } else if size.0 > 0 {
            PromDuration::default()
        } else {
            PromDuration(Duration::from_secs(15 * 86_400))
        };
        let (tsdb_path, no_lockfile) = if agent {
            (
                p.value("storage.agent.path"),
                p.bool("storage.agent.no-lockfile"),
            )
        } else {
            (
                p.value("storage.tsdb.path"),
                p.bool("storage.tsdb.no-lockfile"),
            )
        };
        let log_level = match p.value("log.level").as_str() {
            "debug" => LogLevel::Debug,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => LogLevel::Info,
        };
        let log_format = match p.value("log.format").as_str() {
            "json" => LogFormat::Json,
            _ => LogFormat::Logfmt,
        };
        // `auto-reload-config` is the former feature name of the flag
        let auto_reload = p.bool("config.auto-reload")
            || p.values("enable-feature")
                .iter()
                .any(|f| f == "auto-reload-config");
        Flags {
            agent,
            config_file: p.value("config.file"),
            auto_reload,
            auto_reload_interval: duration(&p, "config.auto-reload-interval")
                .0
                .max(Duration::from_secs(1)),
            tsdb_path,
            retention_time,
            retention_size: size,
            no_lockfile,
            takeover_delete_original: !agent && p.bool("storage.tsdb.takeover.delete-original"),
            listen_addresses: p.values("web.listen-address"),
            read_timeout: duration(&p, "web.read-timeout").0,
            max_connections: int(&p, "web.max-connections"),
            enable_lifecycle: p.bool("web.enable-lifecycle"),
            enable_admin_api: p.bool("web.enable-admin-api"),
            enable_remote_write_receiver: p.bool("web.enable-remote-write-receiver"),
            enable_otlp_receiver: p.bool("web.enable-otlp-receiver"),
            accepted_remote_write_messages: p
                .values("web.remote-write-receiver.accepted-protobuf-messages"),
            page_title: p.value("web.page-title"),
            user_assets: optional(&p, "web.user-assets"),
            enable_feature: p.values("enable-feature"),
            external_url: optional(&p, "web.external-url"),
            route_prefix: optional(&p, "web.route-prefix"),
            for_outage_tolerance: duration(&p, "rules.alert.for-outage-tolerance"),
            for_grace_period: duration(&p, "rules.alert.for-grace-period"),
            resend_delay: duration(&p, "rules.alert.resend-delay"),
            notification_queue_capacity: int(&p, "alertmanager.notification-queue-capacity"),
            notification_batch_size: int(&p, "alertmanager.notification-batch-size").max(1),
            drain_notification_queue: p.bool("alertmanager.drain-notification-queue-on-shutdown"),
            adjust_timestamps: p.bool("scrape.adjust-timestamps"),
            timestamp_tolerance: parse::go_duration(&p.value("scrape.timestamp-tolerance"))
                .unwrap_or(Duration::from_millis(2)),
            web_config_file: optional(&p, "web.config.file"),
            remote_write_max_bytes: ByteSize::parse(&p.value("web.remote-write-max-bytes"))
                .unwrap_or(ByteSize(64 << 20)),
            cors_origin: p.value("web.cors.origin"),
            lookback_delta: duration(&p, "query.lookback-delta"),
            query_timeout: duration(&p, "query.timeout"),
            max_samples: int(&p, "query.max-samples"),
            max_concurrency: int(&p, "query.max-concurrency"),
            remote_flush_deadline: duration(&p, "storage.remote.flush-deadline").0,
            remote_read_sample_limit: int(&p, "storage.remote.read-sample-limit"),
            remote_read_concurrent_limit: int(&p, "storage.remote.read-concurrent-limit"),
            remote_read_max_bytes_in_frame: int(&p, "storage.remote.read-max-bytes-in-frame"),
            agent_retention_min: duration(&p, "storage.agent.retention.min-time").0,
            agent_retention_max: duration(&p, "storage.agent.retention.max-time").0,
            log_level,
            log_format,
            parsed: p,
        }
    }

    /// Logs what each `--enable-feature` name means here, as Prometheus
    /// logs the features it turns on and warns about unknown ones.
    pub fn log_features(&self) {
        for f in self.enable_feature.iter().map(String::as_str) {
            if f == OTLP_NATIVE_DELTA {
                tracing::info!(
                    option = f,
                    "Enabled native ingestion of delta OTLP metrics, storing the raw sample values without conversion"
                );
            } else if f == OTLP_DELTA_TO_CUMULATIVE {
                tracing::info!("Converting delta OTLP metrics to cumulative");
            } else if f == START_ZERO_INGESTION {
                tracing::info!(
                    "global.scrape_protocols" = "[PrometheusProto OpenMetricsText1.0.0 OpenMetricsText0.0.1 PrometheusText1.0.0 PrometheusText0.0.4]",
                    "Experimental start timestamp zero ingestion enabled. OpenMetrics 1.0 parsing will parse <metric>_created metrics as ST instead of normal sample. Changed default scrape_protocols to prefer PrometheusProto format."
                );
            } else if f == EXEMPLAR_STORAGE {
                tracing::info!("Experimental in-memory exemplar storage enabled");
            } else if ALWAYS_ON_FEATURES.contains(&f) {
                tracing::info!(option = f, "Feature is always enabled in flint");
            } else if f == "auto-reload-config" {
                tracing::warn!(
                    option = f,
                    "This option for --enable-feature is being phased out; use --config.auto-reload instead"
                );
            } else if UNSUPPORTED_FEATURES.contains(&f) {
                tracing::warn!(option = f, "Feature is not supported by flint, ignoring it");
            } else {
                tracing::warn!(option = f, "Unknown option for --enable-feature");
            }
        }
    }

    /// Logs, once, the flags given that change nothing in flint and why,
    /// and the Prometheus 2 flags given under their former names.
    pub fn log_ignored(&self) {
        for name in &self.parsed.order {
            let Some(s) = table::spec(name) else { continue };
            if let Effect::Ignored(why) = s.effect {
                tracing::info!(flag = %format!("--{name}"), reason = why, "Flag accepted, no effect in flint");
            }
            if s.origin == Origin::Prometheus2 && s.effect == Effect::Applies {
                tracing::warn!(flag = %format!("--{name}"), "This flag was removed in Prometheus 3; use --storage.tsdb.retention.time");
            }
        }
    }

    /// Whether `--enable-feature` names `name`.
    pub fn feature(&self, name: &str) -> bool {
        self.enable_feature.iter().any(|f| f == name)
    }

    /// The run-time settings.
    pub fn run_flags(&self) -> RunFlags {
        RunFlags {
            lookback_delta_ms: self.lookback_delta.as_millis(),
            query_timeout: self.query_timeout.0,
            max_samples: self.max_samples,
            enable_lifecycle: self.enable_lifecycle,
            all: self.status_flags(),
        }
    }

    /// Every flag with its value, as `/api/v1/status/flags` shows them:
    /// all of Prometheus's but the help and version ones, flint's own, and
    /// the former Prometheus 2 ones when given.
    pub fn status_flags(&self) -> Vec<(String, String)> {
        const NOT_SHOWN: &[&str] = &[
            "help",
            "help-long",
            "help-man",
            "completion-bash",
            "completion-script-bash",
            "completion-script-zsh",
            "version",
        ];
        let p = &self.parsed;
        FLAGS
            .iter()
            .filter(|s| !NOT_SHOWN.contains(&s.name))
            .filter(|s| s.origin != Origin::Prometheus2 || p.is_set(s.name))
            .map(|s| {
                let v = match s.name {
                    "storage.tsdb.retention.time" => self.retention_time.to_string(),
                    "storage.tsdb.retention.size" => format!("{}B", self.retention_size.0),
                    "web.external-url" => self.external_url(),
                    "web.route-prefix" => self.route_prefix(),
                    "scrape.adjust-timestamps" => {
                        self.scrape_timestamp_tolerance().is_some().to_string()
                    }
                    "web.remote-write-max-bytes" => format!("{}B", self.remote_write_max_bytes.0),
                    "agent" | "write-documentation" => p.bool(s.name).to_string(),
                    _ if s.kind == table::Kind::Bool => p.bool(s.name).to_string(),
                    _ => p.values(s.name).join(","),
                };
                (s.name.to_string(), v)
            })
            .collect()
    }

    /// The first listen address (the one external URLs are built from).
    pub fn listen_address(&self) -> &str {
        self.listen_addresses
            .first()
            .map(String::as_str)
            .unwrap_or("0.0.0.0:9090")
    }

    /// How late a scrape may start and still be stamped with its slot on
    /// the schedule; `None` when timestamps are not adjusted.
    pub fn scrape_timestamp_tolerance(&self) -> Option<Duration> {
        self.adjust_timestamps.then_some(self.timestamp_tolerance)
    }

    /// The external URL without a trailing slash: `--web.external-url`, or
    /// `http://<hostname>:<port>` from the listen address.
    pub fn external_url(&self) -> String {
        if let Some(u) = &self.external_url {
            return u.trim_end_matches('/').to_string();
        }
        let port = self.listen_address().rsplit(':').next().unwrap_or("9090");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        format!("http://{host}:{port}")
    }

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

    fn flags(a: &[&str]) -> Result<Flags, Exit> {
        let mut all = vec!["flint".to_string()];
        all.extend(a.iter().map(|s| s.to_string()));
        Flags::parse_args(&all)
    }

    #[test]
    fn defaults_and_errors() {
        let f = flags(&[]).unwrap();
        assert_eq!(f.config_file, "prometheus.yml");
        assert_eq!(f.tsdb_path, "data/");
        assert_eq!(f.listen_addresses, ["0.0.0.0:9090"]);
        assert_eq!(f.retention_time.to_string(), "15d");
        assert_eq!(f.lookback_delta.as_millis(), 300_000);
        assert_eq!(f.max_samples, 50_000_000);
        assert_eq!(f.max_concurrency, 20);
        assert_eq!(f.remote_read_sample_limit, 50_000_000);
        let f = flags(&[
            "--config.file=x.yml",
            "--log.level",
            "debug",
            "--web.enable-lifecycle",
        ])
        .unwrap();
        assert_eq!(f.config_file, "x.yml");
        assert_eq!(f.log_level, LogLevel::Debug);
        assert!(f.enable_lifecycle);

        let e = flags(&["--bogus"]).unwrap_err();
        assert_eq!(e.code, 1);
        assert_eq!(
            e.stderr,
            "Error parsing command line arguments: unknown long flag '--bogus'\nflint: error: unknown long flag '--bogus'\n"
        );
        let e = flags(&["--query.timeout=abc"]).unwrap_err();
        assert_eq!(e.code, 2);
        assert_eq!(
            e.stderr,
            "Error parsing command line arguments: not a valid duration string: \"abc\"\n"
        );
        assert!(e.stdout.starts_with("usage: flint"));
        assert_eq!(
            flags(&["--query.timeout=abc", "--help"]).unwrap_err().code,
            0
        );
        assert_eq!(flags(&["--log.level=verbose"]).unwrap_err().code, 2);
        let e = flags(&["--agent", "--storage.tsdb.path=x"]).unwrap_err();
        assert_eq!(
            (e.code, e.stderr.as_str()),
            (
                3,
                "The following flag(s) can not be used in agent mode: [\"--storage.tsdb.path\"]"
            )
        );
        assert_eq!(flags(&["--storage.agent.path=x"]).unwrap_err().code, 3);
        assert_eq!(flags(&["--auto-gomemlimit.ratio=1.5"]).unwrap_err().code, 1);
    }

    #[test]
    fn retention_from_either_flag() {
        let t = |a: &[&str]| flags(a).unwrap().retention_time.to_string();
        assert_eq!(t(&[]), "15d");
        assert_eq!(t(&["--storage.tsdb.retention.time=30d"]), "30d");
        assert_eq!(t(&["--storage.tsdb.retention=7d"]), "1w");
        // a size alone means no time limit, as in Prometheus
        assert_eq!(t(&["--storage.tsdb.retention.size=1GB"]), "0s");
    }

    #[test]
    fn scrape_timestamp_adjustment() {
        let ms = Duration::from_millis;
        let tol = |a: &[&str]| flags(a).unwrap().scrape_timestamp_tolerance();
        assert_eq!(tol(&[]), Some(ms(2)));
        assert_eq!(tol(&["--scrape.timestamp-tolerance=5ms"]), Some(ms(5)));
        assert_eq!(tol(&["--scrape.adjust-timestamps"]), Some(ms(2)));
        assert_eq!(tol(&["--scrape.adjust-timestamps=true"]), Some(ms(2)));
        assert_eq!(tol(&["--scrape.adjust-timestamps=false"]), None);
        assert_eq!(tol(&["--no-scrape.adjust-timestamps"]), None);
        let all = flags(&[]).unwrap().status_flags();
        let get = |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("scrape.adjust-timestamps"), Some("true"));
        assert_eq!(get("scrape.timestamp-tolerance"), Some("2ms"));
        assert_eq!(get("storage.tsdb.wal-compression"), Some("true"));
        assert_eq!(get("web.listen-address"), Some("0.0.0.0:9090"));
        assert_eq!(get("help"), None);
        assert_eq!(get("storage.tsdb.retention"), None);
    }
}
