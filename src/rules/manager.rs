//! The rules manager: loads rule files, runs each group on its own tokio
//! task at Prometheus's aligned evaluation times, and swaps groups on
//! reload, keeping alert state of rules that stay.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tsdb::labels::Labels;

use super::error::ApplyError;
use super::file::{expand_rule_files, parse_file, GroupDef};
use super::group::{now_ns, Group};
use super::notifier::{AlertingConfig, Notifier};

/// Settings of the rules manager (from flags and the global config).
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// `--query.lookback-delta` in milliseconds.
    pub lookback_delta_ms: i64,
    /// `--query.timeout`.
    pub query_timeout: Duration,
    /// `--query.max-samples`.
    pub max_samples: usize,
    /// `global.external_labels`.
    pub external_labels: Labels,
    /// `--web.external-url` (no trailing slash).
    pub external_url: String,
    /// `--rules.alert.resend-delay` (default 1m).
    pub resend_delay: Duration,
    /// `--rules.alert.for-outage-tolerance` (default 1h).
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period` (default 10m).
    pub for_grace_period: Duration,
    /// `--alertmanager.notification-queue-capacity` (default 10000).
    pub queue_capacity: usize,
    /// The query engines' column buffers, shared with the API's.
    pub query_buffers: Arc<promql::ColumnBuffers>,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            query_timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            external_labels: Labels::empty(),
            external_url: String::new(),
            resend_delay: Duration::from_secs(60),
            outage_tolerance: Duration::from_secs(3600),
            for_grace_period: Duration::from_secs(600),
            queue_capacity: 10_000,
            query_buffers: Arc::default(),
        }
    }
}

/// What a group evaluation needs.
pub struct EvalCtx {
    /// The database read and written.
    pub db: Arc<tsdb::Db>,
    /// What rules read when `remote_read` endpoints are configured: the
    /// database with them, as queries read (a rule's `for` state is
    /// restored from the database alone, as in Prometheus).
    pub remote_read: parking_lot::RwLock<Option<Arc<dyn tsdb::read::Queryable>>>,
    /// The query engine.
    pub engine: promql::Engine,
    /// Step of subqueries written without one: the global evaluation
    /// interval in force (ms).
    pub subquery_step_ms: std::sync::atomic::AtomicI64,
    /// Options.
    pub opts: ManagerOptions,
    /// Where alerts go.
    pub notifier: Notifier,
    /// External labels in force (replaceable on reload).
    pub external_labels: parking_lot::RwLock<Labels>,
}

struct Running {
    group: Arc<Group>,
    stop: watch::Sender<bool>,
}

/// Runs rule groups and the notifier.
pub struct Manager {
    ctx: Arc<EvalCtx>,
    groups: Mutex<Vec<Running>>,
    restored: AtomicBool,
    notifier_started: AtomicBool,
}

/// Sleeps until wall-clock `target_ns`; false if stopped first.
async fn sleep_until(target_ns: i64, stop: &mut watch::Receiver<bool>) -> bool {
    loop {
        if *stop.borrow() {
            return false;
        }
        let now = now_ns();
        if now >= target_ns {
            return true;
        }
        let d = Duration::from_nanos((target_ns - now) as u64);
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            r = stop.changed() => if r.is_err() || *stop.borrow() { return false },
        }
    }
}

async fn eval_at(group: &Arc<Group>, ctx: &Arc<EvalCtx>, ts: i64) {
    let (g, c) = (group.clone(), ctx.clone());
    let _ = tokio::task::spawn_blocking(move || g.eval(&c, ts)).await;
}

async fn run_group(
    group: Arc<Group>,
    ctx: Arc<EvalCtx>,
    mut stop: watch::Receiver<bool>,
    mut restore: bool,
) {
    let iv = (group.interval.as_nanos() as i64).max(1_000_000);
    let mut ts = group.eval_timestamp(now_ns()) + iv;
    if !sleep_until(ts, &mut stop).await {
        return;
    }
    eval_at(&group, &ctx, ts).await;
    loop {
        if !sleep_until(ts + iv, &mut stop).await {
            return;
        }
        let missed = (now_ns() - ts) / iv - 1;
        if missed > 0 {
            let m = &group.metrics;
            m.missed.fetch_add(missed as u64, Ordering::Relaxed);
            m.iterations.fetch_add(missed as u64, Ordering::Relaxed);
        }
        ts += (missed.max(0) + 1) * iv;
        eval_at(&group, &ctx, ts).await;
        if restore {
            restore = false;
            let (g, c) = (group.clone(), ctx.clone());
            let _ = tokio::task::spawn_blocking(move || g.restore_for_state(&c, now_ns())).await;
        }
    }
}

impl Manager {
    /// A manager writing to and reading from `db`.
    pub fn new(db: Arc<tsdb::Db>, opts: ManagerOptions) -> Manager {
        let engine = promql::Engine::new(promql::EngineOptions {
            lookback_delta_ms: opts.lookback_delta_ms,
            max_samples: opts.max_samples,
            timeout: opts.query_timeout,
        })
        .with_buffers(Arc::clone(&opts.query_buffers));
        let notifier = Notifier::new(opts.queue_capacity, opts.external_labels.clone());
        Manager {
            ctx: Arc::new(EvalCtx {
                db,
                remote_read: parking_lot::RwLock::new(None),
                subquery_step_ms: std::sync::atomic::AtomicI64::new(engine.subquery_step_ms()),
                engine,
                external_labels: parking_lot::RwLock::new(opts.external_labels.clone()),
                opts,
                notifier,
            }),
            groups: Mutex::new(Vec::new()),
            restored: AtomicBool::new(false),
            notifier_started: AtomicBool::new(false),
        }
    }

    /// What rule expressions read from now on, when not the database
    /// alone: the database merged with `remote_read` endpoints.
    pub fn set_remote_read(&self, q: Option<Arc<dyn tsdb::read::Queryable>>) {
        *self.ctx.remote_read.write() = q;
    }

    /// Replaces the external labels (`global.external_labels` changed on
    /// reload): used by templates and added to alerts sent from now on.
    pub fn set_external_labels(&self, ls: Labels) {
        self.ctx.notifier.set_external_labels(ls.clone());
        *self.ctx.external_labels.write() = ls;
    }

    /// The notifier (for its counters and the Alertmanagers API).
    pub fn notifier(&self) -> &Notifier {
        &self.ctx.notifier
    }

    /// The running groups, sorted by file then name.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        let mut v: Vec<Arc<Group>> = self.groups.lock().iter().map(|r| r.group.clone()).collect();
        v.sort_by(|a, b| (&a.def.file, &a.def.name).cmp(&(&b.def.file, &b.def.name)));
        v
    }

    /// Loads every file the `rule_files` globs name (relative to
    /// `base_dir`) and, if all are valid, replaces the running groups:
    /// unchanged groups keep running, changed ones restart with their
    /// alert state, removed ones stop and their series are marked stale.
    /// On any error nothing changes and the errors are returned, one per
    /// line. Must be called within a tokio runtime.
    pub fn apply(
        &self,
        rule_files: &[String],
        base_dir: &Path,
        global_eval_interval: Duration,
        alerting: &AlertingConfig,
    ) -> Result<(), ApplyError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| ApplyError::NoRuntime)?;
        alerting.validate()?;
        self.ctx
            .subquery_step_ms
            .store(global_eval_interval.as_millis() as i64, Ordering::Relaxed);
        let mut defs: Vec<GroupDef> = Vec::new();
        let mut errs: Vec<String> = Vec::new();
        for f in expand_rule_files(rule_files, base_dir) {
            match parse_file(&f) {
                Ok(g) => defs.extend(g),
                Err(e) => errs.extend(e),
            }
        }
        if !errs.is_empty() {
            return Err(ApplyError::Files(errs));
        }
        self.ctx.notifier.apply(alerting, base_dir);
        if !self.notifier_started.swap(true, Ordering::SeqCst) {
            rt.spawn(self.ctx.notifier.clone().run());
        }
        let first = !self.restored.swap(true, Ordering::SeqCst);
        let mut groups = self.groups.lock();
        let mut old: HashMap<String, Running> =
            groups.drain(..).map(|r| (r.group.key(), r)).collect();
        let mut next = Vec::with_capacity(defs.len());
        for def in defs {
            let interval = def.interval.unwrap_or(global_eval_interval);
            let key = format!("{};{}", def.file, def.name);
            if let Some(o) = old.remove(&key) {
                if o.group.def == def && o.group.interval == interval {
                    next.push(o);
                    continue;
                }
                let g = Arc::new(Group::new(def, interval, true));
                g.copy_state(&o.group);
                let _ = o.stop.send(true);
                next.push(self.start(&rt, g, false));
                continue;
            }
            let g = Arc::new(Group::new(def, interval, !first));
            next.push(self.start(&rt, g, first));
        }
        // Removed groups: stop and mark their series stale.
        for (_, o) in old {
            let _ = o.stop.send(true);
            let series = o.group.all_series();
            if series.is_empty() {
                continue;
            }
            let db = self.ctx.db.clone();
            rt.spawn_blocking(move || {
                let t = tsdb::time::now_ms();
                let mut app = db.appender();
                let nan = f64::from_bits(tsdb::STALE_NAN_BITS);
                for s in &series {
                    let _ = app.append_labels(s, t, nan);
                }
                let _ = app.commit();
            });
        }
        *groups = next;
        Ok(())
    }

    fn start(&self, rt: &tokio::runtime::Handle, g: Arc<Group>, restore: bool) -> Running {
        let (tx, rx) = watch::channel(false);
        rt.spawn(run_group(g.clone(), self.ctx.clone(), rx, restore));
        Running { group: g, stop: tx }
    }

    /// Stops every group and the notifier (tasks end at their next wake-up;
    /// a running evaluation completes).
    pub fn stop(&self) {
        for r in self.groups.lock().drain(..) {
            let _ = r.stop.send(true);
        }
        self.ctx.notifier.stop();
    }

    /// Waits, at most `limit`, for the notifier to end after [`Manager::stop`]
    /// (having sent the queued alerts, when it drains its queue).
    pub async fn wait_stopped(&self, limit: Duration) {
        if self.notifier_started.load(Ordering::SeqCst) {
            let _ = tokio::time::timeout(limit, self.ctx.notifier.wait_stopped()).await;
        }
    }

    /// Evaluates one group now at `ts_ns`, synchronously (for tests and
    /// tools such as rule unit tests).
    pub fn eval_group_at(&self, group: &Group, ts_ns: i64) {
        group.eval(&self.ctx, ts_ns);
    }
}
