//! One rule group: its rules' runtime state and one evaluation at a
//! timestamp (rules in order, each rule's output committed before the next
//! rule runs, stale markers for series that disappeared).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gotemplate::Sample;
use parking_lot::Mutex;
use tsdb::histogram::FloatHistogram;
use tsdb::labels::{Label, Labels, Matcher, METRIC_NAME};
use tsdb::read::{Queryable, SampleIterator as _};

use super::alerting::{table_link, AlertEnv, AlertingState};
use super::error::EvalError;
use super::file::{GroupDef, RuleDef};
use super::manager::EvalCtx;

/// A sample of a rule's result: labels, float value, and the histogram
/// when it is a histogram sample (its float value then 0).
pub type RuleSample = (Labels, f64, Option<Arc<FloatHistogram>>);

/// Health of a rule after its last evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    #[default]
    Unknown,
    /// The last evaluation succeeded.
    Good,
    /// The last evaluation failed.
    Bad,
}

impl Health {
    /// `ok`, `err` or `unknown`, as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Good => "ok",
            Health::Bad => "err",
        }
    }
}

/// What the API shows of a rule's last evaluation.
#[derive(Clone, Debug, Default)]
pub struct RuleStatus {
    /// Health.
    pub health: Health,
    /// The last error, if the last evaluation failed.
    pub last_error: Option<String>,
    /// How long the last evaluation took.
    pub eval_duration: Duration,
    /// Wall-clock start of the last evaluation (ns since the epoch).
    pub last_eval_ns: Option<i64>,
}

/// A rule with its runtime state.
pub struct Rule {
    /// The rule as loaded.
    pub def: RuleDef,
    /// Status of the last evaluation.
    pub status: Mutex<RuleStatus>,
    /// Alert state (alerting rules).
    pub alerting: Mutex<AlertingState>,
    /// Series written by the last evaluation.
    prev: Mutex<HashSet<Labels>>,
}

/// Evaluation counters of a group (`prometheus_rule_*`).
#[derive(Debug, Default)]
pub struct GroupMetrics {
    /// `prometheus_rule_group_iterations_total`.
    pub iterations: AtomicU64,
    /// `prometheus_rule_group_iterations_missed_total`.
    pub missed: AtomicU64,
    /// `prometheus_rule_evaluations_total`.
    pub evaluations: AtomicU64,
    /// `prometheus_rule_evaluation_failures_total`.
    pub failures: AtomicU64,
    /// `prometheus_rule_group_last_evaluation_samples`.
    pub last_samples: AtomicU64,
}

/// What the API shows of a group's last evaluation.
#[derive(Clone, Debug, Default)]
pub struct GroupStatus {
    /// How long the last evaluation took.
    pub eval_duration: Duration,
    /// Wall-clock start of the last evaluation (ns).
    pub last_eval_ns: Option<i64>,
    /// Evaluation timestamp of the last evaluation (ns).
    pub last_eval_ts: Option<i64>,
}

/// A rule group with its runtime state.
pub struct Group {
    /// The group as loaded.
    pub def: GroupDef,
    /// Its interval (its own or the global evaluation interval).
    pub interval: Duration,
    /// Its rules.
    pub rules: Vec<Rule>,
    /// Status of the last evaluation.
    pub status: Mutex<GroupStatus>,
    /// Counters.
    pub metrics: GroupMetrics,
    /// Series of removed rules still to be marked stale.
    stale: Mutex<Vec<Labels>>,
}

/// Wall-clock now, ns since the epoch.
pub fn now_ns() -> i64 {
    tsdb::time::now_ns() as i64
}

/// A rule's output sample: labels, time, value, or the histogram.
type OutputSample = (Labels, i64, f64, Option<Arc<FloatHistogram>>);

/// XXH64 with seed 0.
pub fn xxh64(b: &[u8]) -> u64 {
    const P1: u64 = 11400714785074694791;
    const P2: u64 = 14029467366897019727;
    const P3: u64 = 1609587929392839161;
    const P4: u64 = 9650029242287828579;
    const P5: u64 = 2870177450012600261;
    let r64 = |s: &[u8]| u64::from_le_bytes(s[..8].try_into().unwrap_or([0; 8]));
    let r32 = |s: &[u8]| u32::from_le_bytes(s[..4].try_into().unwrap_or([0; 4])) as u64;
    let round = |acc: u64, lane: u64| {
        acc.wrapping_add(lane.wrapping_mul(P2))
            .rotate_left(31)
            .wrapping_mul(P1)
    };
    let mut i = 0;
    let mut h: u64;
    if b.len() >= 32 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        while i + 32 <= b.len() {
            for (j, vj) in v.iter_mut().enumerate() {
                *vj = round(*vj, r64(&b[i + 8 * j..]));
            }
            i += 32;
        }
        h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for vj in v {
            h = (h ^ round(0, vj)).wrapping_mul(P1).wrapping_add(P4);
        }
    } else {
        h = P5;
    }
    h = h.wrapping_add(b.len() as u64);
    while i + 8 <= b.len() {
        h ^= round(0, r64(&b[i..]));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        i += 8;
    }
    if i + 4 <= b.len() {
        h ^= r32(&b[i..]).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        i += 4;
    }
    while i < b.len() {
        h ^= (b[i] as u64).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
        i += 1;
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

fn put_uvarint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

impl Group {
    /// A group ready to run at `interval`.
    pub fn new(def: GroupDef, interval: Duration, restored: bool) -> Group {
        let rules = def
            .rules
            .iter()
            .map(|r| Rule {
                def: r.clone(),
                status: Mutex::new(RuleStatus::default()),
                alerting: Mutex::new(AlertingState {
                    active: HashMap::new(),
                    restored,
                }),
                prev: Mutex::new(HashSet::new()),
            })
            .collect();
        Group {
            def,
            interval,
            rules,
            status: Mutex::new(GroupStatus::default()),
            metrics: GroupMetrics::default(),
            stale: Mutex::new(Vec::new()),
        }
    }

    /// The group's key: `file;name`.
    pub fn key(&self) -> String {
        format!("{};{}", self.def.file, self.def.name)
    }

    /// Prometheus 3's hash of the group (the label set `{file, name}`).
    pub fn hash(&self) -> u64 {
        let mut b = Vec::new();
        for (n, v) in [("file", &self.def.file), ("name", &self.def.name)] {
            put_uvarint(&mut b, n.len() as u64);
            b.extend_from_slice(n.as_bytes());
            put_uvarint(&mut b, v.len() as u64);
            b.extend_from_slice(v.as_bytes());
        }
        xxh64(&b)
    }

    /// The last evaluation slot at or before `start_ns`: slots are
    /// `interval` apart, offset by the group's hash modulo the interval.
    pub fn eval_timestamp(&self, start_ns: i64) -> i64 {
        let iv = (self.interval.as_nanos() as i64).max(1);
        let offset = (self.hash() % iv as u64) as i64;
        let adj = start_ns - offset;
        adj - adj.rem_euclid(iv) + offset
    }

    /// Copies alert state and last-written series from `old`, matching
    /// rules by name and labels; series of unmatched old rules are marked
    /// stale at the next evaluation.
    pub fn copy_state(&self, old: &Group) {
        *self.status.lock() = old.status.lock().clone();
        let mut used = vec![false; old.rules.len()];
        for r in &self.rules {
            let found = old.rules.iter().enumerate().find(|(i, o)| {
                !used[*i] && o.def.name == r.def.name && o.def.labels == r.def.labels
            });
            if let Some((i, o)) = found {
                used[i] = true;
                *r.prev.lock() = o.prev.lock().clone();
                let mut a = r.alerting.lock();
                let oa = o.alerting.lock();
                for (k, v) in &oa.active {
                    a.active.insert(k.clone(), v.clone());
                }
                *r.status.lock() = o.status.lock().clone();
            }
        }
        let mut stale = self.stale.lock();
        stale.extend(old.stale.lock().iter().cloned());
        for (i, o) in old.rules.iter().enumerate() {
            if !used[i] {
                stale.extend(o.prev.lock().iter().cloned());
            }
        }
    }

    /// Every series the group's rules wrote last (for stale markers when the
    /// group is removed).
    pub fn all_series(&self) -> Vec<Labels> {
        let mut v: Vec<Labels> = self.stale.lock().clone();
        for r in &self.rules {
            v.extend(r.prev.lock().iter().cloned());
        }
        v
    }

    /// The query offset in force.
    pub fn query_offset(&self) -> Duration {
        self.def.query_offset.unwrap_or_default()
    }

    /// Evaluates every rule at `ts` (ns) in order, writing results.
    pub fn eval(&self, ctx: &EvalCtx, ts: i64) {
        let start = Instant::now();
        let wall = now_ns();
        self.metrics.iterations.fetch_add(1, Ordering::Relaxed);
        let offset_ns = self.query_offset().as_nanos() as i64;
        let t_ms = (ts - offset_ns).div_euclid(1_000_000);
        let mut samples = 0u64;
        for r in &self.rules {
            let rstart = Instant::now();
            let rwall = now_ns();
            self.metrics.evaluations.fetch_add(1, Ordering::Relaxed);
            let res = self.eval_rule(ctx, r, ts, t_ms, offset_ns);
            let mut st = r.status.lock();
            st.eval_duration = rstart.elapsed();
            st.last_eval_ns = Some(rwall);
            match res {
                Ok(n) => {
                    samples += n as u64;
                    st.health = super::group::Health::Good;
                    st.last_error = None;
                }
                Err(e) => {
                    self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(group = %self.def.name, file = %self.def.file, rule = %r.def.name, err = %e, "Evaluating rule failed");
                    st.health = Health::Bad;
                    st.last_error = Some(e.to_string());
                }
            }
        }
        self.metrics.last_samples.store(samples, Ordering::Relaxed);
        let stale: Vec<Labels> = std::mem::take(&mut *self.stale.lock());
        if !stale.is_empty() {
            let mut app = ctx.db.appender();
            let nan = f64::from_bits(tsdb::STALE_NAN_BITS);
            for s in &stale {
                let _ = app.append_labels(s, t_ms, nan);
            }
            if let Err(e) = app.commit() {
                tracing::warn!(err = %e, "Stale sample appending for previous configuration failed");
            }
        }
        let mut gs = self.status.lock();
        gs.eval_duration = start.elapsed();
        gs.last_eval_ns = Some(wall);
        gs.last_eval_ts = Some(ts);
    }

    /// A rule's query at `t_ms`: float samples, and histogram samples
    /// (their `f64` 0) with their histogram.
    fn query(ctx: &EvalCtx, expr: &str, t_ms: i64) -> Result<Vec<RuleSample>, EvalError> {
        let step = ctx
            .subquery_step_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        // the database, with the `remote_read` endpoints when there are
        // any (as Prometheus's rules read through its fan-out storage)
        let remote = ctx.remote_read.read().clone();
        let read: &dyn Queryable = match &remote {
            Some(r) => r.as_ref(),
            None => ctx.db.as_ref(),
        };
        let res = ctx
            .engine
            .clone()
            .with_subquery_step(step)
            .instant_query(read, expr, t_ms)?;
        match res.value {
            promql::Value::Vector(v) => Ok(v.into_iter().map(|s| (s.metric, s.v, s.h)).collect()),
            promql::Value::Scalar { v, .. } => Ok(vec![(Labels::empty(), v, None)]),
            _ => Err(EvalError::NotVectorOrScalar),
        }
    }

    /// Evaluates one rule and commits its output; returns the number of
    /// samples written.
    fn eval_rule(
        &self,
        ctx: &EvalCtx,
        r: &Rule,
        ts: i64,
        t_ms: i64,
        offset_ns: i64,
    ) -> Result<usize, EvalError> {
        let vector = Self::query(ctx, &r.def.expr, t_ms)?;
        let out: Vec<(Labels, i64, f64, Option<Arc<FloatHistogram>>)> = if r.def.alerting {
            // alerts and templates see float samples
            let floats = |v: Vec<RuleSample>| -> Vec<(Labels, f64)> {
                v.into_iter()
                    .filter(|s| s.2.is_none())
                    .map(|(l, v, _)| (l, v))
                    .collect()
            };
            let tq = |q: &str| -> Result<Vec<Sample>, String> {
                Ok(floats(
                    Self::query(ctx, q, ts.div_euclid(1_000_000)).map_err(|e| e.to_string())?,
                )
                .into_iter()
                .map(|(l, v)| Sample {
                    labels: gotemplate::exec::labels_map(&l),
                    value: v,
                })
                .collect())
            };
            let ext = ctx.external_labels.read().clone();
            let env = AlertEnv {
                external_labels: &ext,
                external_url: &ctx.opts.external_url,
                query: &tq,
            };
            let mut st = r.alerting.lock();
            let out = st.eval(&r.def, floats(vector), ts, offset_ns, self.def.limit, &env)?;
            let url = format!("{}{}", ctx.opts.external_url, table_link(&r.def.expr));
            let to_send = st.to_send(
                ts,
                ctx.opts.resend_delay.as_nanos() as i64,
                self.interval.as_nanos() as i64,
                &url,
            );
            drop(st);
            if !to_send.is_empty() {
                ctx.notifier.send(to_send);
            }
            out.into_iter().map(|(l, t, v)| (l, t, v, None)).collect()
        } else {
            record(&r.def, vector, t_ms, self.def.limit)?
        };
        let n = out.len();
        let mut app = ctx.db.appender();
        let mut now_series = HashSet::with_capacity(n);
        for (ls, t, v, h) in out {
            match h {
                Some(h) => app.append_histogram(&ls, t, Arc::unwrap_or_clone(h)),
                None => {
                    app.append_labels(&ls, t, v)?;
                }
            }
            now_series.insert(ls);
        }
        let mut prev = r.prev.lock();
        let nan = f64::from_bits(tsdb::STALE_NAN_BITS);
        for gone in prev.difference(&now_series) {
            let _ = app.append_labels(gone, t_ms, nan);
        }
        app.commit()?;
        *prev = now_series;
        Ok(n)
    }

    /// Restores the `for` state of alerting rules from `ALERTS_FOR_STATE`
    /// (`--rules.alert.for-outage-tolerance`, `--rules.alert.for-grace-period`).
    pub fn restore_for_state(&self, ctx: &EvalCtx, now: i64) {
        let maxt = now.div_euclid(1_000_000);
        let mint = maxt - ctx.opts.outage_tolerance.as_millis() as i64;
        let grace = ctx.opts.for_grace_period.as_nanos() as i64;
        for r in self.rules.iter().filter(|r| r.def.alerting) {
            let hold = r.def.hold.as_nanos() as i64;
            let mut st = r.alerting.lock();
            if hold < grace {
                st.restored = true;
                continue;
            }
            let mut last: HashMap<Labels, (i64, f64)> = HashMap::new();
            let matchers = [
                Matcher::equal(METRIC_NAME, "ALERTS_FOR_STATE"),
                Matcher::equal("alertname", r.def.name.clone()),
            ];
            if let Ok(q) = ctx.db.querier(mint, maxt) {
                if let Ok(series) = q.select(&matchers) {
                    for mut s in series {
                        let mut lastv = None;
                        while let Some(x) = s.samples.next() {
                            lastv = Some(x);
                        }
                        if let Some(x) = lastv {
                            last.insert(s.labels.without_metric_name(), x);
                        }
                    }
                }
            }
            st.restore(hold, &last, now, grace);
        }
    }
}

/// A recording rule's output: `__name__` and the rule's labels set.
pub fn record(
    rule: &RuleDef,
    vector: Vec<RuleSample>,
    t_ms: i64,
    limit: usize,
) -> Result<Vec<OutputSample>, EvalError> {
    let mut out = Vec::with_capacity(vector.len());
    let mut seen = HashSet::with_capacity(vector.len());
    for (m, v, h) in vector {
        let mut ls: Vec<Label> = m.iter().cloned().collect();
        ls.push(Label::new(METRIC_NAME, rule.name.clone()));
        ls.extend(rule.labels.iter().cloned());
        let ls = Labels::new(ls);
        if !seen.insert(ls.clone()) {
            return Err(EvalError::DuplicateRecorded);
        }
        out.push((ls, t_ms, v, h));
    }
    if limit > 0 && out.len() > limit {
        return Err(EvalError::SeriesLimit {
            limit,
            count: out.len(),
        });
    }
    Ok(out)
}
