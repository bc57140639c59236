//! The scrape manager: one pool per job, one loop per target.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use tsdb::Db;

use super::scrape_loop::ScrapeLoop;
use super::target::Target;
use crate::config::Config;

/// The targets of one job.
pub struct ScrapePool {
    /// Job name.
    pub job: String,
    /// Its targets.
    pub targets: Vec<Arc<Target>>,
}

/// Runs the scrape loops of the current configuration.
pub struct ScrapeManager {
    db: Arc<Db>,
    client: reqwest::Client,
    pools: Mutex<Vec<ScrapePool>>,
    stop: Mutex<Option<watch::Sender<bool>>>,
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
            stop: Mutex::new(None),
        })
    }

    /// Replaces the running pools with those of `cfg`. Loops of the old
    /// configuration stop (their series get stale markers).
    pub fn apply_config(&self, cfg: &Config) {
        let (tx, rx) = watch::channel(false);
        if let Some(old) = self.stop.lock().replace(tx) {
            let _ = old.send(true);
        }
        let mut pools = Vec::new();
        for sc in &cfg.scrape_configs {
            let targets: Vec<Arc<Target>> = Target::from_config(sc, &cfg.global)
                .into_iter()
                .map(Arc::new)
                .collect();
            for t in &targets {
                let lp = ScrapeLoop::new(Arc::clone(t), Arc::clone(&self.db), self.client.clone());
                tokio::spawn(lp.run(rx.clone()));
            }
            pools.push(ScrapePool {
                job: sc.job_name.clone(),
                targets,
            });
        }
        *self.pools.lock() = pools;
    }

    /// Stops every loop.
    pub fn stop(&self) {
        if let Some(tx) = self.stop.lock().take() {
            let _ = tx.send(true);
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
