//! The scrape manager: one pool per job, one loop per target. Targets come
//! from target groups (static configs, file discovery); whenever the groups
//! or the configuration change, the running loops are made to match: loops
//! of unchanged targets keep running, removed ones stop (their series get
//! stale markers), new ones start.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tsdb::Db;

use super::client::JobClient;
use super::scrape_loop::{ScrapeLoop, StopMode};
use super::target::{DroppedTarget, Target};
use crate::config::{Config, GlobalConfig, ScrapeConfig};
use crate::discovery::{file, TargetGroup};

/// The targets of one job.
pub struct ScrapePool {
    /// Job name.
    pub job: String,
    /// Its targets.
    pub targets: Vec<Arc<Target>>,
    /// Targets dropped by relabeling.
    pub dropped: Vec<DroppedTarget>,
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
    clients: HashMap<String, Result<Arc<JobClient>, String>>,
    discovery: Vec<JoinHandle<()>>,
}

/// Runs the scrape loops of the current configuration.
pub struct ScrapeManager {
    db: Arc<Db>,
    state: Mutex<State>,
}

/// What identifies a loop across changes: everything that shapes how and
/// what it scrapes.
fn loop_key(sc: &ScrapeConfig, global: &GlobalConfig, t: &Target) -> String {
    format!(
        "{}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{}\u{0}{}",
        serde_yaml::to_string(sc).unwrap_or_default(),
        t.interval,
        t.timeout,
        t.url,
        t.labels,
        serde_yaml::to_string(&global.external_labels).unwrap_or_default()
    )
}

/// How often file discovery looks for changed files.
const FILE_CHECK_EVERY: Duration = Duration::from_secs(1);

impl ScrapeManager {
    /// A manager appending to `db`.
    pub fn new(db: Arc<Db>) -> Self {
        ScrapeManager {
            db,
            state: Mutex::new(State::default()),
        }
    }

    /// Makes the running loops match `cfg`. Relative discovery file paths
    /// are resolved against `base_dir` (the configuration file's folder).
    pub fn apply_config(self: &Arc<Self>, cfg: &Config, base_dir: &Path) {
        let mut st = self.state.lock();
        for h in st.discovery.drain(..) {
            h.abort();
        }
        st.config = cfg.clone();
        st.groups.clear();
        st.clients.clear();
        for sc in &cfg.scrape_configs {
            let client = JobClient::new(sc, &cfg.global, base_dir).map(Arc::new);
            if let Err(e) = &client {
                tracing::error!(component = "scrape manager", scrape_pool = %sc.job_name, err = %e, "Error creating HTTP client");
            }
            st.clients.insert(sc.job_name.clone(), client);
            let mut sources = BTreeMap::new();
            sources.insert("static".to_string(), Target::static_groups(sc));
            for (i, fsd) in sc.file_sd_configs.iter().enumerate() {
                let (files, errors) = file::read_all(&fsd.files, base_dir, &BTreeMap::new());
                for e in errors {
                    tracing::error!(component = "discovery manager", discovery = "file", err = %e, "Error reading file");
                }
                for (path, groups) in files {
                    sources.insert(file_source(i, &path), groups);
                }
                st.discovery.push(tokio::spawn(watch_files(
                    Arc::downgrade(self),
                    sc.job_name.clone(),
                    i,
                    fsd.clone(),
                    base_dir.to_path_buf(),
                )));
            }
            for (i, h) in sc.http_sd_configs.iter().enumerate() {
                st.discovery.push(tokio::spawn(poll_http(
                    Arc::downgrade(self),
                    sc.job_name.clone(),
                    i,
                    h.clone(),
                    base_dir.to_path_buf(),
                )));
            }
            for (i, d) in sc.dns_sd_configs.iter().enumerate() {
                st.discovery.push(tokio::spawn(poll_dns(
                    Arc::downgrade(self),
                    sc.job_name.clone(),
                    i,
                    d.clone(),
                )));
            }
            st.groups.insert(sc.job_name.clone(), sources);
        }
        self.sync(&mut st);
    }

    /// Replaces the groups of one file-discovery config of a job.
    fn set_file_groups(
        &self,
        job: &str,
        sd_index: usize,
        files: BTreeMap<PathBuf, Vec<TargetGroup>>,
    ) {
        let sources = files
            .into_iter()
            .map(|(p, g)| (file_source(sd_index, &p), g))
            .collect();
        self.set_sources(job, &format!("file/{sd_index}/"), sources);
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
        self.sync(&mut st);
    }

    fn sync(&self, st: &mut State) {
        let mut next: HashMap<String, Running> = HashMap::new();
        let mut pools = Vec::new();
        let cfg = st.config.clone();
        for sc in &cfg.scrape_configs {
            let groups: Vec<TargetGroup> = st
                .groups
                .get(&sc.job_name)
                .map(|s| s.values().flatten().cloned().collect())
                .unwrap_or_default();
            let (active, mut dropped) = Target::from_groups(sc, &cfg.global, &groups);
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
                .unwrap_or_else(|| Err("no HTTP client for the job".to_string()));
            let mut targets = Vec::new();
            for t in active {
                let key = loop_key(sc, &cfg.global, &t);
                if next.contains_key(&key) {
                    continue; // the same target listed twice is scraped once
                }
                let r = match st.running.remove(&key) {
                    Some(r) => r,
                    None => {
                        let target = Arc::new(t);
                        let (tx, rx) = watch::channel(StopMode::Run);
                        let lp = ScrapeLoop::new(
                            Arc::clone(&target),
                            Arc::clone(&self.db),
                            client.clone(),
                        );
                        tokio::spawn(lp.run(rx));
                        Running { target, stop: tx }
                    }
                };
                *r.target.forced_error.lock() = over_limit.clone();
                targets.push(Arc::clone(&r.target));
                next.insert(key, r);
            }
            pools.push(ScrapePool {
                job: sc.job_name.clone(),
                targets,
                dropped,
            });
        }
        for (_, gone) in st.running.drain() {
            let _ = gone.stop.send(StopMode::StopWithStaleness);
        }
        st.running = next;
        st.pools = pools;
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

/// Fetches an HTTP discovery endpoint at once and then every refresh
/// interval; on error the last good groups stay.
async fn poll_http(
    mgr: std::sync::Weak<ScrapeManager>,
    job: String,
    i: usize,
    cfg: crate::discovery::http::HttpSdConfig,
    base: PathBuf,
) {
    let client = match http_sd_client(&cfg, &base) {
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
    loop {
        match crate::discovery::http::fetch(&client, &cfg, timeout).await {
            Ok(groups) => {
                let Some(m) = mgr.upgrade() else { return };
                m.set_sources(
                    &job,
                    &format!("http/{i}/"),
                    vec![(format!("http/{i}/"), groups)],
                );
            }
            Err(e) => {
                tracing::error!(component = "discovery manager", discovery = "http", url = %cfg.url, err = %e, "Unable to refresh target groups")
            }
        }
        tokio::time::sleep(cfg.refresh_interval.0.max(Duration::from_millis(100))).await;
    }
}

fn http_sd_client(
    cfg: &crate::discovery::http::HttpSdConfig,
    base: &Path,
) -> Result<reqwest::Client, String> {
    // the scrape client builder handles TLS and auth; reuse it with a
    // config carrying only the HTTP settings
    let sc: ScrapeConfig = serde_yaml::from_str("job_name: http_sd").map_err(|e| e.to_string())?;
    let sc = ScrapeConfig {
        http: cfg.http.clone(),
        ..sc
    };
    JobClient::new(&sc, &GlobalConfig::default(), base).map(|c| c.client().clone())
}

/// Looks DNS names up at once and then every refresh interval.
async fn poll_dns(
    mgr: std::sync::Weak<ScrapeManager>,
    job: String,
    i: usize,
    cfg: crate::discovery::dns::DnsSdConfig,
) {
    let resolver = crate::discovery::dns::system_resolver();
    loop {
        match crate::discovery::dns::lookup(&resolver, &cfg).await {
            Ok(groups) => {
                let Some(m) = mgr.upgrade() else { return };
                m.set_sources(
                    &job,
                    &format!("dns/{i}/"),
                    vec![(format!("dns/{i}/"), groups)],
                );
            }
            Err(e) => {
                tracing::error!(component = "discovery manager", discovery = "dns", err = %e, "Error refreshing DNS targets")
            }
        }
        tokio::time::sleep(cfg.refresh_interval.0.max(Duration::from_millis(100))).await;
    }
}

fn file_source(sd_index: usize, path: &Path) -> String {
    format!("file/{sd_index}/{}", path.display())
}

/// Re-reads a file-discovery config's files when they change (checked
/// every second) or every refresh interval.
async fn watch_files(
    mgr: std::sync::Weak<ScrapeManager>,
    job: String,
    sd_index: usize,
    cfg: file::FileSdConfig,
    base: PathBuf,
) {
    let mut last_fp = file::fingerprint(&cfg.files, &base);
    let mut last_read = Instant::now();
    let mut current: BTreeMap<PathBuf, Vec<TargetGroup>> =
        file::read_all(&cfg.files, &base, &BTreeMap::new()).0;
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
        let Some(m) = mgr.upgrade() else { return };
        m.set_file_groups(&job, sd_index, files);
    }
}
