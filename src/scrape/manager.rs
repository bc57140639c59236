//! The scrape manager: one pool per job, one loop per target. Applying a
//! new configuration keeps the loops of unchanged targets running, stops
//! removed ones (their series get stale markers) and starts new ones.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use tsdb::Db;

use super::scrape_loop::{ScrapeLoop, StopMode};
use super::target::Target;
use crate::config::{Config, GlobalConfig, ScrapeConfig};

/// The targets of one job.
pub struct ScrapePool {
    /// Job name.
    pub job: String,
    /// Its targets.
    pub targets: Vec<Arc<Target>>,
}

struct Running {
    target: Arc<Target>,
    stop: watch::Sender<StopMode>,
}

/// Runs the scrape loops of the current configuration.
pub struct ScrapeManager {
    db: Arc<Db>,
    client: reqwest::Client,
    pools: Mutex<Vec<ScrapePool>>,
    running: Mutex<HashMap<String, Running>>,
}

/// What identifies a loop across reloads: everything that shapes how and
/// what it scrapes.
fn loop_key(sc: &ScrapeConfig, global: &GlobalConfig, t: &Target) -> String {
    format!(
        "{}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{}\u{0}{}",
        serde_yaml::to_string(sc).unwrap_or_default(),
        sc.interval(global),
        sc.timeout(global),
        t.url,
        t.labels,
        serde_yaml::to_string(&global.external_labels).unwrap_or_default()
    )
}

impl ScrapeManager {
    /// A manager appending to `db`.
    pub fn new(db: Arc<Db>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("flint/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(1)
            .build()?;
        Ok(ScrapeManager {
            db,
            client,
            pools: Mutex::new(Vec::new()),
            running: Mutex::new(HashMap::new()),
        })
    }

    /// Makes the running loops match `cfg`.
    pub fn apply_config(&self, cfg: &Config) {
        let mut running = self.running.lock();
        let mut next: HashMap<String, Running> = HashMap::new();
        let mut pools = Vec::new();
        for sc in &cfg.scrape_configs {
            let mut targets = Vec::new();
            for t in Target::from_config(sc, &cfg.global) {
                let key = loop_key(sc, &cfg.global, &t);
                if next.contains_key(&key) {
                    continue; // the same target listed twice is scraped once
                }
                let r = match running.remove(&key) {
                    Some(r) => r,
                    None => {
                        let target = Arc::new(t);
                        let (tx, rx) = watch::channel(StopMode::Run);
                        let lp = ScrapeLoop::new(
                            Arc::clone(&target),
                            Arc::clone(&self.db),
                            self.client.clone(),
                        );
                        tokio::spawn(lp.run(rx));
                        Running { target, stop: tx }
                    }
                };
                targets.push(Arc::clone(&r.target));
                next.insert(key, r);
            }
            pools.push(ScrapePool {
                job: sc.job_name.clone(),
                targets,
            });
        }
        for (_, gone) in running.drain() {
            let _ = gone.stop.send(StopMode::StopWithStaleness);
        }
        *running = next;
        *self.pools.lock() = pools;
    }

    /// Stops every loop (at shutdown: no stale markers, as Prometheus).
    pub fn stop(&self) {
        for (_, r) in self.running.lock().drain() {
            let _ = r.stop.send(StopMode::Stop);
        }
    }

    /// The active targets, grouped by pool, in configuration order.
    pub fn pools(&self) -> Vec<(String, Vec<Arc<Target>>)> {
        self.pools
            .lock()
            .iter()
            .map(|p| (p.job.clone(), p.targets.clone()))
            .collect()
    }
}
