//! Remote write sending: one queue per `remote_write` entry, each reading
//! the database's append journal from a position of its own kept on disk,
//! so that a receiver away for any time within the journal (and, beyond
//! it, within retention), a `kill -9` or a restart loses nothing.
//!
//! A reload keeps a queue whose entry (and the external labels) did not
//! change, and its position; a changed entry's queue sends what it holds
//! (up to `--storage.remote.flush-deadline`) and a new one takes over
//! under the same name and position.

mod error;
mod metrics;
mod queue;
mod send;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tsdb::labels::Labels;
use tsdb::Db;

pub use error::{ApplyError, SenderError};
pub use metrics::QueueMetrics;
pub use queue::{MetadataMap, Queue, Stop};
pub use send::{Attempt, Sender};

use crate::config::Config;
use crate::remote::wire::FamilyMetadata;
use crate::web::Exposition;

struct Running {
    /// The entry and external labels it was made from.
    key: String,
    queue: Arc<Queue>,
    stop: watch::Sender<Stop>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The remote write queues of the configuration in force.
pub struct RemoteWrite {
    db: Arc<Db>,
    flush_deadline: Duration,
    metadata: MetadataMap,
    running: Mutex<BTreeMap<String, Running>>,
    /// Queues being replaced: they end before their successor starts.
    ending: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

fn stop_and_wait(
    r: Running,
    deadline: Duration,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let _ = r.stop.send(Stop::Flush);
    let tasks = r.tasks;
    async move {
        let mut aborts = Vec::new();
        for t in tasks {
            aborts.push(t.abort_handle());
            let _ = tokio::time::timeout(deadline, t).await;
        }
        for a in aborts {
            a.abort();
        }
    }
}

impl RemoteWrite {
    /// No queues yet; `flush_deadline` bounds how long a stopping queue
    /// sends what it holds.
    pub fn new(db: Arc<Db>, flush_deadline: Duration) -> RemoteWrite {
        RemoteWrite {
            db,
            flush_deadline,
            metadata: Arc::new(parking_lot::RwLock::new(Arc::new(HashMap::new()))),
            running: Mutex::new(BTreeMap::new()),
            ending: Mutex::new(HashMap::new()),
        }
    }

    /// Makes the running queues those of `cfg` (relative files against
    /// `base_dir`). Must run inside the tokio runtime. An entry whose
    /// client cannot be made is an error, and nothing changes.
    pub fn apply(&self, cfg: &Config, base_dir: &Path) -> Result<(), ApplyError> {
        let ext = Labels::from_pairs(&cfg.global.external_labels.iter().collect::<Vec<_>>());
        let mut next: Vec<(String, Queue)> = Vec::new();
        for rw in &cfg.remote_write {
            let key = format!("{}\u{0}{:?}", rw.hash(), ext);
            let q = Queue::new(
                rw,
                ext.clone(),
                Arc::clone(&self.db),
                base_dir,
                Arc::clone(&self.metadata),
                self.flush_deadline,
            )
            .map_err(|err| ApplyError::Queue {
                url: rw.redacted_url(),
                err,
            })?;
            next.push((key, q));
        }
        let names: Vec<String> = next.iter().map(|(_, q)| q.name.clone()).collect();
        // stop the queues that go or change before their readers change
        let mut running = self.running.lock();
        let mut keep: BTreeMap<String, Running> = BTreeMap::new();
        let mut waits: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        for (name, r) in std::mem::take(&mut *running) {
            let same = next.iter().any(|(k, q)| q.name == name && *k == r.key);
            if same {
                keep.insert(name, r);
            } else {
                tracing::info!(component = "remote", remote_name = %name, "Stopping remote write queue");
                waits.insert(name, tokio::spawn(stop_and_wait(r, self.flush_deadline)));
            }
        }
        self.db
            .journal_set_readers(&names)
            .map_err(ApplyError::Journal)?;
        for (key, q) in next {
            if keep.contains_key(&q.name) {
                continue;
            }
            let q = Arc::new(q);
            let (stop, stop_rx) = watch::channel(Stop::Run);
            let before = waits
                .remove(&q.name)
                .or_else(|| self.ending.lock().remove(&q.name));
            let (a, b) = (Arc::clone(&q), Arc::clone(&q));
            let (rx1, rx2) = (stop_rx.clone(), stop_rx);
            tracing::info!(component = "remote", remote_name = %q.name, url = %q.cfg.redacted_url(), protobuf_message = %q.cfg.protobuf_message, "Starting remote write queue");
            let run = tokio::spawn(async move {
                if let Some(prev) = before {
                    let _ = prev.await;
                }
                a.run(rx1).await;
            });
            let meta = tokio::spawn(b.run_metadata(rx2));
            keep.insert(
                q.name.clone(),
                Running {
                    key,
                    queue: q,
                    stop,
                    tasks: vec![run, meta],
                },
            );
        }
        *running = keep;
        self.ending.lock().extend(waits);
        Ok(())
    }

    /// Replaces the metric metadata sent with the samples.
    pub fn set_metadata(&self, map: HashMap<String, FamilyMetadata>) {
        *self.metadata.write() = Arc::new(map);
    }

    /// Lets every queue send what it holds, for at most the flush
    /// deadline, then stops them. What is not sent stays in the journal.
    pub async fn stop(&self) {
        let all: Vec<Running> = std::mem::take(&mut *self.running.lock())
            .into_values()
            .collect();
        let mut waits = Vec::new();
        for r in all {
            waits.push(tokio::spawn(stop_and_wait(r, self.flush_deadline)));
        }
        for w in waits {
            let _ = w.await;
        }
    }

    /// The running queues.
    pub fn queues(&self) -> Vec<Arc<Queue>> {
        self.running
            .lock()
            .values()
            .map(|r| Arc::clone(&r.queue))
            .collect()
    }

    /// Appends the `prometheus_remote_storage_*` metrics.
    pub fn render_metrics(&self, e: &mut Exposition) {
        let queues = self.queues();
        let st = self.db.stats();
        e.single(
            "prometheus_remote_storage_highest_timestamp_in_seconds",
            "gauge",
            "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch. Initialized to 0 when no data has been received yet.",
            self.db
                .time_range()
                .1
                .map_or(0.0, |r| (r.1 / 1000) as f64),
        )
        .single(
            "prometheus_remote_storage_samples_in_total",
            "counter",
            "Samples in to remote storage, compare to samples out for queue managers.",
            st.samples_appended as f64,
        )
        .single(
            "flint_remote_storage_journal_bytes",
            "gauge",
            "Bytes of the append journal the remote write queues read from.",
            self.db.journal_bytes() as f64,
        )
        .single(
            "flint_remote_storage_journal_write_failures_total",
            "counter",
            "Commits whose samples could not be written to the append journal (they are stored, but not sent).",
            self.db.journal_failures() as f64,
        );
        let list: Vec<_> = queues
            .iter()
            .map(|q| {
                let qc = &q.cfg.queue_config;
                (
                    metrics::QueueInfo {
                        name: q.name.clone(),
                        url: q.cfg.redacted_url(),
                        min_shards: qc.min_shards,
                        max_shards: qc.max_shards,
                        capacity: qc.capacity,
                        max_samples_per_send: qc.max_samples_per_send,
                    },
                    Arc::clone(&q.metrics),
                )
            })
            .collect();
        metrics::render(e, &list);
    }
}
