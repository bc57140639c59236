//! The server's shared state: database, scrape manager, configuration.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tsdb::Db;

use crate::config::Config;
use crate::flags::RunFlags;
use crate::scrape::ScrapeManager;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Everything the HTTP handlers and background tasks share.
pub struct App {
    /// Run-time settings from the flags.
    pub flags: RunFlags,
    /// The database.
    pub db: Arc<Db>,
    /// The scrape manager.
    pub scrape: ScrapeManager,
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
    /// Sends true when the server should stop.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl App {
    /// Whether start-up has finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Counts one served request.
    pub fn count_request(&self, handler: &'static str, code: u16) {
        *self
            .http_requests
            .lock()
            .entry((handler, code))
            .or_default() += 1;
    }
}
