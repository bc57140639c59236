//! An informer: a copy of one collection of the API server (pods of a
//! namespace, all nodes, …) kept current by listing it and then watching
//! it from the list's resource version, as client-go's reflector does:
//! a watch that ends is started again from the last version seen; a
//! version too old (410 Gone) or an undecodable stream lists again; errors
//! back off from 0.8 s to 30 s, logged once a minute per cause, with the
//! copy kept as it was. Discoveries asking for the same collection of the
//! same server with the same selectors share one informer.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::watch;

use super::client::{ApiClient, ApiError, Event, EventReader};

/// Counters of `prometheus_sd_kubernetes_events_total`, by role name and
/// event, and of `prometheus_sd_kubernetes_failures_total`.
pub struct Counters {
    /// (role, event) → count.
    pub events: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Failed lists and watches.
    pub failures: AtomicU64,
}

/// The process's counters.
pub static COUNTERS: Counters = Counters {
    events: Mutex::new(BTreeMap::new()),
    failures: AtomicU64::new(0),
};

fn count(kind: &'static str, event: &'static str) {
    *COUNTERS.events.lock().entry((kind, event)).or_default() += 1;
}

/// The key of an object in a store: `namespace/name` (or `name`).
pub fn object_key(o: &Value) -> String {
    let m = &o["metadata"];
    match m["namespace"].as_str() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{}", m["name"].as_str().unwrap_or_default()),
        _ => m["name"].as_str().unwrap_or_default().to_string(),
    }
}

/// One watched collection.
pub struct Informer {
    /// Objects by key.
    store: RwLock<HashMap<String, Arc<Value>>>,
    synced: AtomicBool,
    changes: watch::Sender<u64>,
}

impl Informer {
    /// A copy of the objects.
    pub fn objects(&self) -> Vec<Arc<Value>> {
        self.store.read().values().cloned().collect()
    }

    /// The object with this key.
    pub fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.store.read().get(key).cloned()
    }

    /// Whether the first list has been read.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// A receiver that changes whenever the objects do.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|g| *g += 1);
    }
}

/// What an informer watches.
#[derive(Clone)]
pub struct Watched {
    /// The collection's path (`/api/v1/namespaces/ns/pods`).
    pub path: String,
    /// Label selector.
    pub label: String,
    /// Field selector.
    pub field: String,
    /// The kind, for metrics (`pod`, `service`, …).
    pub kind: &'static str,
}

type Registry = Mutex<HashMap<String, Weak<Informer>>>;

fn registry() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The informer of `w` on `client`'s server: a running one when another
/// discovery has it, else a new one (started on the current runtime).
/// It stops once no one holds it.
pub fn shared(client: &Arc<ApiClient>, w: Watched) -> Arc<Informer> {
    let key = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        client.identity, w.path, w.label, w.field
    );
    let mut reg = registry().lock();
    reg.retain(|_, v| v.strong_count() > 0);
    if let Some(i) = reg.get(&key).and_then(Weak::upgrade) {
        return i;
    }
    let (tx, _) = watch::channel(0);
    let inf = Arc::new(Informer {
        store: RwLock::new(HashMap::new()),
        synced: AtomicBool::new(false),
        changes: tx,
    });
    reg.insert(key, Arc::downgrade(&inf));
    tokio::spawn(run(Arc::clone(client), w, Arc::downgrade(&inf)));
    inf
}

/// How long a watch asks the server to keep streaming.
fn watch_timeout() -> Duration {
    // 5 to 10 minutes, spread so that watches do not end together
    let jitter = (tsdb::time::now_ms() as u64 % 300) + 300;
    Duration::from_secs(jitter)
}

struct Backoff {
    next: Duration,
    last_failure: Option<Instant>,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            next: Duration::from_millis(800),
            last_failure: None,
        }
    }

    async fn wait(&mut self) {
        if self
            .last_failure
            .is_some_and(|t| t.elapsed() > Duration::from_secs(120))
        {
            self.next = Duration::from_millis(800);
        }
        self.last_failure = Some(Instant::now());
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(Duration::from_secs(30));
    }
}

/// Logs an error once a minute per informer and cause.
struct Logger {
    last: HashMap<String, Instant>,
}

impl Logger {
    fn error(&mut self, w: &Watched, what: &str, e: &ApiError) {
        COUNTERS.failures.fetch_add(1, Ordering::Relaxed);
        let cause = match e {
            ApiError::Status(code, _) => format!("status {code}"),
            ApiError::Gone => "gone".into(),
            ApiError::Transport(_) => "transport".into(),
            ApiError::Decode(_) => "decode".into(),
        };
        let key = format!("{what}\u{0}{cause}");
        if self
            .last
            .get(&key)
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
        {
            return;
        }
        self.last.insert(key, Instant::now());
        tracing::error!(component = "discovery manager", discovery = "kubernetes", path = %w.path, err = %e, "Failed to {what}; keeping the last known objects");
    }
}

async fn run(client: Arc<ApiClient>, w: Watched, me: Weak<Informer>) {
    let mut backoff = Backoff::new();
    let mut log = Logger {
        last: HashMap::new(),
    };
    'list: loop {
        let Some(inf) = me.upgrade() else { return };
        drop(inf);
        let (items, mut rv) = match client.list(&w.path, &w.label, &w.field).await {
            Ok(x) => x,
            Err(e) => {
                log.error(&w, "list", &e);
                backoff.wait().await;
                continue;
            }
        };
        {
            let Some(inf) = me.upgrade() else { return };
            let new: HashMap<String, Arc<Value>> = items
                .into_iter()
                .map(|o| (object_key(&o), Arc::new(o)))
                .collect();
            let mut store = inf.store.write();
            for k in store.keys() {
                if !new.contains_key(k) {
                    count(w.kind, "delete");
                }
            }
            for (k, o) in &new {
                match store.get(k) {
                    None => count(w.kind, "add"),
                    Some(old) if old != o => count(w.kind, "update"),
                    Some(_) => {}
                }
            }
            *store = new;
            drop(store);
            inf.synced.store(true, Ordering::Release);
            inf.changed();
        }
        loop {
            let started = Instant::now();
            let resp = match client
                .watch(&w.path, &w.label, &w.field, &rv, watch_timeout())
                .await
            {
                Ok(r) => r,
                Err(ApiError::Gone) => continue 'list,
                Err(e @ ApiError::Transport(_)) => {
                    log.error(&w, "watch", &e);
                    backoff.wait().await;
                    continue;
                }
                Err(e) => {
                    log.error(&w, "watch", &e);
                    backoff.wait().await;
                    continue 'list;
                }
            };
            let mut events = EventReader::new(resp);
            let mut seen = 0usize;
            loop {
                let ev = match events.next().await {
                    Ok(Some(ev)) => ev,
                    Ok(None) => break,
                    Err(ApiError::Gone) => continue 'list,
                    Err(e) => {
                        log.error(&w, "watch", &e);
                        backoff.wait().await;
                        continue 'list;
                    }
                };
                seen += 1;
                let Some(inf) = me.upgrade() else { return };
                let version = |o: &Value| {
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                };
                match ev {
                    Event::Added(o) | Event::Modified(o) => {
                        rv = version(&o);
                        let key = object_key(&o);
                        let old = inf.store.write().insert(key, Arc::new(o));
                        count(w.kind, if old.is_some() { "update" } else { "add" });
                        inf.changed();
                    }
                    Event::Deleted(o) => {
                        rv = version(&o);
                        inf.store.write().remove(&object_key(&o));
                        count(w.kind, "delete");
                        inf.changed();
                    }
                    Event::Bookmark(v) => rv = v,
                }
            }
            // a watch that ends at once without an event is a problem of
            // its own: list again after a pause
            if seen == 0 && started.elapsed() < Duration::from_secs(1) {
                backoff.wait().await;
                continue 'list;
            }
        }
    }
}
