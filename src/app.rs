//! The server's shared state: database, scrape manager, configuration.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tsdb::Db;

use crate::config::Config;
use crate::flags::RunFlags;
use crate::scrape::ScrapeManager;

pub use tsdb::time::now_ms;

/// Why the configuration file could not be reloaded; the running
/// configuration stays in force.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file could not be read or is not valid.
    #[error("error loading config from {file:?}: {err}")]
    Load {
        /// `--config.file`.
        file: String,
        /// Why.
        err: Box<crate::config::ConfigError>,
    },
    /// The rule files could not be loaded.
    #[error("error loading rules, previous rule set restored: {0}")]
    Rules(crate::rules::ApplyError),
    /// The `remote_write` section could not be applied.
    #[error("one or more errors occurred while applying the new configuration (--config.file={file:?}): {err}")]
    RemoteWrite {
        /// `--config.file`.
        file: String,
        /// Why.
        err: Box<crate::remote::write::ApplyError>,
    },
    /// The `remote_read` section could not be applied.
    #[error("one or more errors occurred while applying the new configuration (--config.file={file:?}): {err}")]
    RemoteRead {
        /// `--config.file`.
        file: String,
        /// Why.
        err: Box<RemoteReadError>,
    },
}

/// A `remote_read` endpoint whose client could not be made.
#[derive(Debug, thiserror::Error)]
#[error("remote_read {url}: {err}")]
pub struct RemoteReadError {
    /// The endpoint's URL, its secrets redacted.
    pub url: String,
    /// Why.
    pub err: crate::remote::read::error::ClientError,
}

/// Everything the HTTP handlers and background tasks share.
pub struct App {
    /// Run-time settings from the flags.
    pub flags: RunFlags,
    /// Agent mode (`--agent`): scrape and send only.
    pub agent: bool,
    /// The database.
    pub db: Arc<Db>,
    /// The scrape manager.
    pub scrape: Arc<ScrapeManager>,
    /// Recording and alerting rules.
    pub rules: crate::rules::Manager,
    /// The column buffers every query engine writes into, the rules' too.
    pub query_buffers: Arc<promql::ColumnBuffers>,
    /// Remote write queues.
    pub remote_write: crate::remote::write::RemoteWrite,
    /// The database with the `remote_read` endpoints, when there are any.
    pub remote_read: RwLock<Option<Arc<crate::remote::read::client::Fanout>>>,
    /// One permit per remote read request served at once.
    pub remote_read_slots: tokio::sync::Semaphore,
    /// Limits of remote read answers.
    pub remote_read_limits: crate::remote::read::server::ReadLimits,
    /// The configuration in force.
    pub config: RwLock<Config>,
    /// Path of the configuration file.
    pub config_file: String,
    /// Whether start-up has finished.
    pub ready: AtomicBool,
    /// Start time, Unix ms.
    pub started_ms: i64,
    /// Last successful configuration load, Unix ms.
    pub config_loaded_ms: Mutex<i64>,
    /// HTTP requests served, by (handler, code).
    pub http_requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// HTTP request durations, by handler.
    pub http_durations: Mutex<BTreeMap<&'static str, crate::web::Histogram>>,
    /// Query time by slice (`inner_eval`, `prepare_time`, `result_sort`,
    /// `queue_time`): (sum of seconds, count).
    pub query_durations: Mutex<BTreeMap<&'static str, (f64, u64)>>,
    /// Sends true when the server should stop.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Whether the last configuration (re)load succeeded.
    pub reload_success: AtomicBool,
    /// The retention flags: (time ms, bytes); a configuration's
    /// `storage.tsdb.retention` overrides them.
    pub flag_retention: (i64, u64),
    /// The take-over of a Prometheus data directory done at this start.
    pub takeover: Option<Arc<tsdb::takeover::Progress>>,
    /// `storage.tsdb.retention.percentage` as last applied (0: none).
    pub retention_percentage: Mutex<f64>,
    /// `--web.enable-admin-api`.
    pub enable_admin_api: bool,
    /// `--web.enable-remote-write-receiver`.
    pub enable_remote_write: bool,
    /// `--web.enable-otlp-receiver`.
    pub enable_otlp: bool,
    /// `--enable-feature=otlp-native-delta-ingestion`.
    pub otlp_native_delta: bool,
    /// `--enable-feature=exemplar-storage`.
    pub exemplar_storage: bool,
    /// `--enable-feature=otlp-deltatocumulative`: the running totals of
    /// delta OTLP streams.
    pub otlp_delta_to_cumulative: Option<crate::otlp::delta::DeltaToCumulative>,
    /// `--enable-feature=created-timestamp-zero-ingestion`: a zero sample
    /// at each series' start time given by remote write 2.0 or OTLP.
    pub start_zero: bool,
    /// `--web.cors.origin`, anchored.
    pub cors_origin: regex::Regex,
    /// Serializes reloads.
    pub reload_lock: Mutex<()>,
    /// Basic authentication from `--web.config.file`.
    pub basic_auth: crate::web::webconfig::BasicAuth,
    /// Response headers from `--web.config.file`.
    pub extra_headers: Vec<(String, String)>,
    /// `--web.route-prefix`: every endpoint is served under it ('' = root).
    pub route_prefix: String,
    /// `--web.remote-write-max-bytes`.
    pub remote_write_max_bytes: usize,
    /// `--web.remote-write-receiver.accepted-protobuf-messages`.
    pub accepted_remote_write: Vec<String>,
    /// `--web.page-title`, when given.
    pub page_title: Option<String>,
    /// `--web.user-assets`, served under `/user/`.
    pub user_assets: Option<std::path::PathBuf>,
    /// One permit per query evaluated at once (`--query.max-concurrency`).
    pub query_slots: tokio::sync::Semaphore,
    /// How long reading a request's body may take (`--web.read-timeout`).
    pub read_timeout: std::time::Duration,
}

impl App {
    /// Whether start-up has finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The folder of the configuration file (base of relative paths in it).
    pub fn config_dir(&self) -> std::path::PathBuf {
        std::path::Path::new(&self.config_file)
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf()
    }

    /// Loads the rule files of `cfg` and the alerting settings; on error
    /// the previous rules keep running.
    pub fn apply_rules(&self, cfg: &crate::config::Config) -> Result<(), crate::rules::ApplyError> {
        let ext = tsdb::labels::Labels::from_pairs(
            &cfg.global.external_labels.iter().collect::<Vec<_>>(),
        );
        self.rules.set_external_labels(ext);
        let alerting = cfg.alerting.clone().unwrap_or_default();
        self.rules.apply(
            &cfg.rule_files,
            &self.config_dir(),
            cfg.global.evaluation_interval.0,
            &alerting,
        )
    }

    /// Whether the last configuration (re)load succeeded.
    pub fn reload_ok(&self) -> bool {
        self.reload_success.load(Ordering::Relaxed)
    }

    /// Reloads the configuration file and applies it. On error the running
    /// configuration stays in force.
    pub fn reload(&self) -> Result<(), ReloadError> {
        let _guard = self.reload_lock.lock();
        let start = std::time::Instant::now();
        tracing::info!(filename = %self.config_file, "Loading configuration file");
        let loaded =
            crate::config::load_file(std::path::Path::new(&self.config_file)).and_then(|c| {
                if self.agent {
                    c.check_agent()?;
                }
                Ok(c)
            });
        match loaded {
            Ok(cfg) => {
                if let Err(e) = self.apply_rules(&cfg) {
                    self.reload_success.store(false, Ordering::Relaxed);
                    tracing::error!(filename = %self.config_file, err = %e, "Error reloading config");
                    return Err(ReloadError::Rules(e));
                }
                if let Err(err) = self.remote_write.apply(&cfg, &self.config_dir()) {
                    self.reload_success.store(false, Ordering::Relaxed);
                    tracing::error!(filename = %self.config_file, err = %err, "Error reloading config");
                    return Err(ReloadError::RemoteWrite {
                        file: self.config_file.clone(),
                        err: Box::new(err),
                    });
                }
                if let Err(err) = self.apply_remote_read(&cfg) {
                    self.reload_success.store(false, Ordering::Relaxed);
                    tracing::error!(filename = %self.config_file, err = %err, "Error reloading config");
                    return Err(ReloadError::RemoteRead {
                        file: self.config_file.clone(),
                        err: Box::new(err),
                    });
                }
                self.scrape.apply_config(&cfg, &self.config_dir());
                self.apply_retention(&cfg);
                self.apply_exemplars(&cfg);
                *self.config.write() = cfg;
                *self.config_loaded_ms.lock() = now_ms();
                self.reload_success.store(true, Ordering::Relaxed);
                tracing::info!(
                    filename = %self.config_file,
                    totalDuration = ?start.elapsed(),
                    "Completed loading of configuration file"
                );
                Ok(())
            }
            Err(err) => {
                self.reload_success.store(false, Ordering::Relaxed);
                tracing::error!(filename = %self.config_file, err = %err, "Error reloading config");
                Err(ReloadError::Load {
                    file: self.config_file.clone(),
                    err: Box::new(err),
                })
            }
        }
    }

    /// A checksum of the configuration file and of the rule and scrape
    /// config files it names (their names and bytes), for
    /// `--config.auto-reload`. A file that cannot be read counts as empty.
    pub fn config_checksum(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let main = std::path::Path::new(&self.config_file);
        std::fs::read(main).unwrap_or_default().hash(&mut h);
        let (rules, scrape) = {
            let c = self.config.read();
            (c.rule_files.clone(), c.scrape_config_files.clone())
        };
        let dir = self.config_dir();
        let mut files = crate::rules::file::expand_rule_files(&rules, &dir);
        files.extend(discovery::file::matched_files(&scrape, &dir));
        for f in files {
            f.hash(&mut h);
            std::fs::read(&f).unwrap_or_default().hash(&mut h);
        }
        h.finish()
    }

    /// Applies `storage.exemplars.max_exemplars`, with the
    /// `exemplar-storage` feature on.
    pub fn apply_exemplars(&self, cfg: &Config) {
        if !self.exemplar_storage {
            return;
        }
        let max = cfg.max_exemplars();
        if max as u64 != self.db.exemplar_stats().max {
            if let Err(e) = self.db.set_max_exemplars(max) {
                tracing::error!(component = "tsdb", err = %e, "Resizing the exemplar storage failed");
            }
        }
    }

    /// Applies `storage.tsdb.retention` (or the flags') to the database;
    /// a percentage is of the data directory's volume as it is now.
    pub fn apply_retention(&self, cfg: &Config) {
        let (ms, mut bytes) = cfg.retention(self.flag_retention);
        let pct = cfg.retention_percentage();
        if pct > 0.0 {
            if cfg.retention(self.flag_retention).1 != self.flag_retention.1 {
                tracing::warn!(component = "tsdb", "storage.tsdb.retention.size is ignored, because storage.tsdb.retention.percentage is specified");
            }
            match tsdb::volume_capacity(self.db.dir()) {
                Some(total) => bytes = (total as f64 * pct / 100.0) as u64,
                None => tracing::warn!(component = "tsdb", percentage = pct, "Cannot tell the capacity of the storage volume; retention by percentage not applied"),
            }
        }
        *self.retention_percentage.lock() = pct;
        if (ms, bytes) != self.db.retention() {
            tracing::info!(component = "tsdb", retention = %crate::config::PromDuration(std::time::Duration::from_millis(ms.max(0) as u64)), bytes, "TSDB retention updated");
        }
        self.db.set_retention(ms, bytes);
    }

    /// The retention percentage configured (0 when none).
    pub fn retention_percentage(&self) -> f64 {
        *self.retention_percentage.lock()
    }

    /// The retention in force, as the runtime information shows it.
    pub fn retention_text(&self) -> String {
        let (ms, bytes) = self.db.retention();
        let mut parts = Vec::new();
        if ms > 0 {
            parts.push(
                crate::config::PromDuration(std::time::Duration::from_millis(ms as u64))
                    .to_string(),
            );
        }
        let pct = self.retention_percentage();
        if pct > 0.0 {
            parts.push(format!("{pct}%"));
        } else if bytes > 0 {
            parts.push(base2_bytes(bytes));
        }
        parts.join(" or ")
    }

    /// Makes the `remote_read` endpoints of `cfg` part of queries.
    pub fn apply_remote_read(&self, cfg: &Config) -> Result<(), RemoteReadError> {
        let fanout = if cfg.remote_read.is_empty() {
            None
        } else {
            let mut readers = Vec::new();
            for r in &cfg.remote_read {
                readers.push(Arc::new(
                    crate::remote::read::client::RemoteReader::new(r, &self.config_dir()).map_err(
                        |err| RemoteReadError {
                            url: crate::config::remote::redact(&r.url),
                            err,
                        },
                    )?,
                ));
            }
            let ext = tsdb::labels::Labels::from_pairs(
                &cfg.global.external_labels.iter().collect::<Vec<_>>(),
            );
            Some(Arc::new(crate::remote::read::client::Fanout::new(
                Arc::clone(&self.db),
                readers,
                ext,
            )))
        };
        self.rules
            .set_remote_read(fanout.clone().map(|f| f as Arc<dyn tsdb::read::Queryable>));
        *self.remote_read.write() = fanout;
        Ok(())
    }

    /// What queries read: the database, with the `remote_read` endpoints
    /// when configured.
    pub fn queryable(&self) -> Arc<dyn tsdb::read::Queryable> {
        match &*self.remote_read.read() {
            Some(f) => Arc::clone(f) as Arc<dyn tsdb::read::Queryable>,
            None => Arc::clone(&self.db) as Arc<dyn tsdb::read::Queryable>,
        }
    }

    /// Metric metadata of every scraped family, for remote write.
    pub fn family_metadata(
        &self,
    ) -> std::collections::HashMap<String, crate::remote::wire::FamilyMetadata> {
        let mut out = std::collections::HashMap::new();
        for (_, targets) in self.scrape.pools() {
            for t in targets {
                for (name, md) in t.metadata.lock().iter() {
                    out.entry(name.clone()).or_insert_with(|| {
                        crate::remote::wire::FamilyMetadata {
                            kind: md.kind.to_string(),
                            help: md.help.clone(),
                            unit: md.unit.clone(),
                        }
                    });
                }
            }
        }
        out
    }

    /// Records the time slices of one query.
    pub fn observe_query(&self, st: &promql::QueryStats) {
        let mut m = self.query_durations.lock();
        for (slice, secs) in [
            ("inner_eval", st.inner_eval_seconds),
            ("prepare_time", st.preparation_seconds),
            ("result_sort", st.sort_seconds),
        ] {
            let e = m.entry(slice).or_default();
            e.0 += secs;
            e.1 += 1;
        }
    }

    /// Records how long a query waited for a `--query.max-concurrency` slot.
    pub fn observe_queue(&self, waited: std::time::Duration) {
        let mut m = self.query_durations.lock();
        let e = m.entry("queue_time").or_default();
        e.0 += waited.as_secs_f64();
        e.1 += 1;
    }

    /// Counts one served request.
    pub fn count_request(&self, handler: &'static str, code: u16, took: std::time::Duration) {
        *self
            .http_requests
            .lock()
            .entry((handler, code))
            .or_default() += 1;
        self.http_durations
            .lock()
            .entry(handler)
            .or_insert_with(|| crate::web::Histogram::new(&crate::web::HTTP_DURATION_BUCKETS))
            .observe(took.as_secs_f64());
    }
}

/// Bytes as Prometheus writes a size: each power of 1,024 that is in it,
/// largest first (`1GiB`, `1KiB512B`).
pub fn base2_bytes(mut n: u64) -> String {
    if n == 0 {
        return "0B".into();
    }
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut parts = Vec::new();
    for unit in UNITS {
        if !n.is_multiple_of(1024) {
            parts.push(format!("{}{unit}", n % 1024));
        }
        n /= 1024;
        if n == 0 {
            break;
        }
    }
    parts.reverse();
    parts.concat()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_written_as_prometheus_writes_them() {
        assert_eq!(super::base2_bytes(0), "0B");
        assert_eq!(super::base2_bytes(512), "512B");
        assert_eq!(super::base2_bytes(1536), "1KiB512B");
        assert_eq!(super::base2_bytes(1 << 30), "1GiB");
        assert_eq!(super::base2_bytes((5 << 40) + (3 << 20)), "5TiB3MiB");
    }
}
