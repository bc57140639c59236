//! The scrape manager: one pool per job, one loop per target. Targets come
//! from target groups (static configs, file discovery); whenever the groups
//! or the configuration change, the running loops are made to match: loops
//! of unchanged targets keep running, removed ones stop (their series get
//! stale markers), new ones start.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tsdb::Db;

use super::client::JobClient;
use super::error::JobClientError;
use super::scrape_loop::{ScrapeLoop, StopMode};
use super::target::{DroppedTarget, Target};
use crate::config::{Config, GlobalConfig, ScrapeConfig};
use discovery::{Sink, Sources, TargetGroup};

/// The targets of one job.
pub struct ScrapePool {
    /// Job name.
    pub job: String,
    /// Its targets.
    pub targets: Vec<Arc<Target>>,
    /// Targets dropped by relabeling.
    pub dropped: Vec<DroppedTarget>,
    /// The loop keys of its targets.
    keys: Vec<String>,
}

struct Running {
    target: Arc<Target>,
    stop: watch::Sender<StopMode>,
}

#[derive(Default)]
struct State {
    config: Config,
    /// Per job, per discovery source: the latest groups.
    groups: HashMap<String, BTreeMap<String, Vec<TargetGroup>>>,
    running: HashMap<String, Running>,
    pools: Vec<ScrapePool>,
    clients: HashMap<String, Result<Arc<JobClient>, JobClientError>>,
    discovery: Vec<JoinHandle<()>>,
}

/// Counts of scrape pool changes, as Prometheus's
/// `prometheus_target_scrape_pool*_total` metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolCounters {
    /// Pools created (a job new to the configuration).
    pub pools_created: u64,
    /// Of those, the ones whose HTTP client could not be made.
    pub pools_failed: u64,
    /// Pools whose job's configuration changed on a reload.
    pub pool_reloads: u64,
    /// Of those, the ones whose HTTP client could not be made.
    pub pool_reloads_failed: u64,
}

/// Runs the scrape loops of the current configuration.
pub struct ScrapeManager {
    db: Arc<Db>,
    state: Mutex<State>,
    counters: Mutex<PoolCounters>,
    /// How late a scrape may start and still be stamped with its slot on
    /// the schedule (`None`: never).
    timestamp_tolerance: Option<Duration>,
    /// `--enable-feature=created-timestamp-zero-ingestion`.
    start_zero: bool,
}

/// What identifies a loop across changes: everything that shapes how and
/// what it scrapes (`job`: the [`job_key`] of its job).
fn loop_key(job: &str, t: &Target) -> String {
    format!(
        "{job}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{}",
        t.interval, t.timeout, t.url, t.labels
    )
}

/// The part of the loop keys of a job's targets that its configuration
/// gives: a SHA-256 digest of the job's configuration and the external
/// labels, made once for all its targets.
fn job_key(sc: &ScrapeConfig, global: &GlobalConfig) -> String {
    let text = format!(
        "{}\u{0}{}",
        serde_yaml::to_string(sc).unwrap_or_default(),
        serde_yaml::to_string(&global.external_labels).unwrap_or_default()
    );
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ScrapeManager {
    /// A manager appending to `db`.
    pub fn new(db: Arc<Db>) -> Self {
        ScrapeManager {
            db,
            state: Mutex::new(State::default()),
            counters: Mutex::default(),
            timestamp_tolerance: Some(Duration::from_millis(2)),
            start_zero: false,
        }
    }

    /// Stores a zero sample at the start (created) time of each counter,
    /// summary and histogram series a scrape gives one for, when the
    /// series holds nothing newer, and does not store OpenMetrics
    /// `_created` samples, as Prometheus's
    /// `created-timestamp-zero-ingestion` feature.
    pub fn with_start_zero(mut self, on: bool) -> Self {
        self.start_zero = on;
        self
    }

    /// Stamps a scrape that starts at most `tolerance` late (capped at 1%
    /// of the interval) with its slot on the schedule, as Prometheus's
    /// `--scrape.timestamp-tolerance` (2 ms by default); `None` stamps
    /// every scrape with its start time (`--no-scrape.adjust-timestamps`).
    pub fn with_timestamp_tolerance(mut self, tolerance: Option<Duration>) -> Self {
        self.timestamp_tolerance = tolerance;
        self
    }

    /// Makes the running loops match `cfg`. Relative discovery file paths
    /// are resolved against `base_dir` (the configuration file's folder).
    pub fn apply_config(self: &Arc<Self>, cfg: &Config, base_dir: &Path) {
        let mut st = self.state.lock();
        for h in st.discovery.drain(..) {
            h.abort();
        }
        let previous = std::mem::take(&mut st.config);
        st.config = cfg.clone();
        st.groups.clear();
        st.clients.clear();
        for sc in &cfg.scrape_configs {
            let client = JobClient::new(sc, &cfg.global, base_dir)
                .map(Arc::new)
                .map_err(|e| JobClientError::Build(Arc::new(e)));
            if let Err(e) = &client {
                tracing::error!(component = "scrape manager", scrape_pool = %sc.job_name, err = %e, "Error creating HTTP client");
            }
            {
                let before = previous
                    .scrape_configs
                    .iter()
                    .find(|p| p.job_name == sc.job_name);
                let changed = before.is_some_and(|p| {
                    p != sc || previous.global.external_labels != cfg.global.external_labels
                });
                let mut c = self.counters.lock();
                match (before, changed) {
                    (None, _) => {
                        c.pools_created += 1;
                        c.pools_failed += u64::from(client.is_err());
                    }
                    (Some(_), true) => {
                        c.pool_reloads += 1;
                        c.pool_reloads_failed += u64::from(client.is_err());
                    }
                    (Some(_), false) => {}
                }
            }
            st.clients.insert(sc.job_name.clone(), client);
            let mut sources = BTreeMap::new();
            sources.insert("static".to_string(), Target::static_groups(sc));
            let sd = Sources {
                file: &sc.file_sd_configs,
                http: &sc.http_sd_configs,
                dns: &sc.dns_sd_configs,
                kubernetes: &sc.kubernetes_sd_configs,
                consul: &sc.consul_sd_configs,
                docker: &sc.docker_sd_configs,
                dockerswarm: &sc.dockerswarm_sd_configs,
                azure: &sc.azure_sd_configs,
                ec2: &sc.ec2_sd_configs,
                gce: &sc.gce_sd_configs,
                eureka: &sc.eureka_sd_configs,
                hetzner: &sc.hetzner_sd_configs,
                openstack: &sc.openstack_sd_configs,
            };
            let mgr = Arc::downgrade(self);
            let job = sc.job_name.clone();
            let sink: Sink = Arc::new(move |prefix, new| match mgr.upgrade() {
                Some(m) => {
                    m.set_sources(&job, prefix, new);
                    true
                }
                None => false,
            });
            let (found, tasks) = sd.start(base_dir, &sink);
            sources.extend(found);
            st.discovery.extend(tasks);
            st.groups.insert(sc.job_name.clone(), sources);
        }
        self.sync(&mut st, None);
    }

    /// Replaces every source of a job whose name starts with `prefix`.
    fn set_sources(&self, job: &str, prefix: &str, new: Vec<(String, Vec<TargetGroup>)>) {
        let mut st = self.state.lock();
        let Some(sources) = st.groups.get_mut(job) else {
            return;
        };
        sources.retain(|k, _| !k.starts_with(prefix));
        for (k, g) in new {
            sources.insert(k, g);
        }
        self.sync(&mut st, Some(job));
    }

    /// Makes the loops match the groups: of every job, or of `only` (the
    /// others' loops and pools are kept as they are).
    fn sync(&self, st: &mut State, only: Option<&str>) {
        let mut next: HashMap<String, Running> = HashMap::with_capacity(st.running.len());
        let mut pools = Vec::new();
        let mut before = std::mem::take(&mut st.pools);
        let cfg = st.config.clone();
        for sc in &cfg.scrape_configs {
            let kept = only
                .filter(|j| *j != sc.job_name)
                .and_then(|_| before.iter().position(|p| p.job == sc.job_name));
            if let Some(i) = kept {
                let pool = before.swap_remove(i);
                for k in &pool.keys {
                    if let Some(r) = st.running.remove(k) {
                        next.insert(k.clone(), r);
                    }
                }
                pools.push(pool);
                continue;
            }
            let (active, mut dropped) = match st.groups.get(&sc.job_name) {
                Some(s) => Target::from_groups(sc, &cfg.global, s.values().flatten()),
                None => (Vec::new(), Vec::new()),
            };
            let limits = sc.limits(&cfg.global);
            if limits.keep_dropped > 0 {
                dropped.truncate(limits.keep_dropped as usize);
            }
            let over_limit =
                (limits.targets > 0 && active.len() as u64 > limits.targets).then(|| {
                    format!(
                        "target_limit exceeded (number of targets: {}, limit: {})",
                        active.len(),
                        limits.targets
                    )
                });
            let client = st
                .clients
                .get(&sc.job_name)
                .cloned()
                .unwrap_or(Err(JobClientError::Missing));
            let mut targets = Vec::new();
            let mut keys = Vec::new();
            let job = job_key(sc, &cfg.global);
            for t in active {
                let key = loop_key(&job, &t);
                if next.contains_key(&key) {
                    continue; // the same target listed twice is scraped once
                }
                let r = match st.running.remove(&key) {
                    Some(r) => {
                        // the same target: it keeps running, with the
                        // labels the latest discovery gave it
                        *r.target.discovered.lock() = t.discovered.into_inner();
                        r
                    }
                    None => {
                        let target = Arc::new(t);
                        let (tx, rx) = watch::channel(StopMode::Run);
                        let lp = ScrapeLoop::new(
                            Arc::clone(&target),
                            Arc::clone(&self.db),
                            client.clone(),
                            self.timestamp_tolerance,
                        )
                        .with_start_zero(self.start_zero);
                        tokio::spawn(lp.run(rx));
                        Running { target, stop: tx }
                    }
                };
                *r.target.forced_error.lock() = over_limit.clone();
                targets.push(Arc::clone(&r.target));
                keys.push(key.clone());
                next.insert(key, r);
            }
            pools.push(ScrapePool {
                job: sc.job_name.clone(),
                targets,
                dropped,
                keys,
            });
        }
        for (_, gone) in st.running.drain() {
            let _ = gone.stop.send(StopMode::StopWithStaleness);
        }
        st.running = next;
        st.pools = pools;
    }

    /// Counts of pool creations and reloads since start.
    pub fn counters(&self) -> PoolCounters {
        *self.counters.lock()
    }

    /// Stops every loop (at shutdown: no stale markers, as Prometheus).
    pub fn stop(&self) {
        let mut st = self.state.lock();
        for h in st.discovery.drain(..) {
            h.abort();
        }
        for (_, r) in st.running.drain() {
            let _ = r.stop.send(StopMode::Stop);
        }
    }

    /// The targets dropped by relabeling, by pool.
    pub fn dropped(&self) -> Vec<(String, Vec<DroppedTarget>)> {
        self.state
            .lock()
            .pools
            .iter()
            .map(|p| (p.job.clone(), p.dropped.clone()))
            .collect()
    }

    /// The active targets, grouped by pool, in configuration order.
    pub fn pools(&self) -> Vec<(String, Vec<Arc<Target>>)> {
        self.state
            .lock()
            .pools
            .iter()
            .map(|p| (p.job.clone(), p.targets.clone()))
            .collect()
    }
}
