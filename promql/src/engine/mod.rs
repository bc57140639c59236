//! The query engine: options, limits, and the instant/range entry points.

mod acc;
mod aggregate;
mod binop;
mod call;
mod eval;
mod extended_select;
mod info;
mod range;
pub(crate) mod selector;

pub(crate) use aggregate::{format_value, kahan_add, quantile, valid_label_name, MeanAcc, VarAcc};

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tsdb::histogram::FloatHistogram;
use tsdb::labels::Labels;
use tsdb::read::Queryable;

use crate::error::Error;
use crate::functions::{Annotations, Regexes};
use crate::parser::{self, Expr, ValueType};
use crate::value::{
    MatrixSeries, QueryResult, QueryStats, Sample, Series, StepValue, Value, VectorSample,
};
pub use range::ColumnBuffers;
use selector::LoadedSeries;

/// Default step of subqueries written without one (`[5m:]`), in
/// milliseconds (see [`Engine::with_subquery_step`]).
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Limits and defaults of query evaluation.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (ms).
    pub lookback_delta_ms: i64,
    /// The most samples a query may hold in memory.
    pub max_samples: usize,
    /// How long a query may run.
    pub timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
        }
    }
}

/// Evaluates PromQL queries against a [`Queryable`].
#[derive(Clone, Debug)]
pub struct Engine {
    opts: EngineOptions,
    /// Step of subqueries written without one (`[5m:]`), in ms.
    subquery_step_ms: i64,
    /// Whether subtrees are computed over the whole range at once (see
    /// [`range`]); off, every node is evaluated step by step.
    whole_range: bool,
    /// The column buffers its queries write into and leave behind.
    buffers: Arc<ColumnBuffers>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(EngineOptions::default())
    }
}

/// State of one query's evaluation.
pub(crate) struct Evaluator<'o> {
    pub opts: &'o EngineOptions,
    /// Step of subqueries written without one (ms).
    pub subquery_step_ms: i64,
    /// Start and end of the query range (equal for instant queries).
    pub start: i64,
    pub end: i64,
    /// The step of a range query (0 for instant queries).
    pub step: i64,
    deadline: Instant,
    pub data: HashMap<usize, Vec<LoadedSeries<'o>>>,
    /// Whole-range results of subtrees of a range query (see [`range`]).
    pre: HashMap<usize, range::RangeVec>,
    /// Selectors whose samples the whole-range evaluation decoded and
    /// dropped: the step-wise evaluation takes their results only.
    pub(crate) consumed: std::collections::HashSet<usize>,
    samples: usize,
    /// The query's warnings and infos.
    pub notes: Annotations,
    /// Regular expressions compiled for function arguments.
    regexes: Regexes,
    /// Samples read by selectors over the whole query.
    queried: Cell<u64>,
    /// Samples read by selectors during the current outer step.
    step_queried: Cell<u64>,
    /// Samples read per outer step.
    per_step: Vec<(i64, u64)>,
    /// The estimate of the most samples held at once.
    peak: u64,
    /// Whether any selector loaded native histogram samples (the
    /// whole-range evaluation handles floats only).
    pub has_histograms: bool,
    /// Whether the whole-range evaluation is used.
    whole_range: bool,
    /// The engine's column buffers.
    buffers: Arc<ColumnBuffers>,
}

impl<'o> Evaluator<'o> {
    /// The state of one query of `engine` from `start` to `end` by `step`
    /// (0 for an instant query), with the engine's settings.
    fn new(engine: &'o Engine, start: i64, end: i64, step: i64) -> Self {
        let (opts, now) = (&engine.opts, Instant::now());
        Evaluator {
            opts,
            subquery_step_ms: engine.subquery_step_ms,
            start,
            end,
            step,
            deadline: now
                .checked_add(opts.timeout)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
            data: HashMap::new(),
            pre: HashMap::new(),
            whole_range: engine.whole_range,
            buffers: Arc::clone(&engine.buffers),
            consumed: Default::default(),
            samples: 0,
            notes: Annotations::default(),
            regexes: Regexes::default(),
            queried: Cell::new(0),
            step_queried: Cell::new(0),
            per_step: Vec::new(),
            peak: 0,
            has_histograms: false,
        }
    }

    /// Counts `n` samples read by a selector (for [`QueryStats`]).
    pub(crate) fn count_queried(&self, n: usize) {
        let n = n as u64;
        self.queried.set(self.queried.get().saturating_add(n));
        self.step_queried
            .set(self.step_queried.get().saturating_add(n));
    }

    /// Closes the statistics of the outer step at `ts`, with `held` output
    /// points accumulated before it.
    fn end_step(&mut self, ts: i64, held: u64) {
        let n = self.step_queried.replace(0);
        self.per_step.push((ts, n));
        self.peak = self.peak.max(n.saturating_add(held));
    }

    fn stats(&self, t0: Instant, prepared: Instant, evaluated: Instant) -> QueryStats {
        let end = Instant::now();
        QueryStats {
            total_samples: self.queried.get(),
            peak_samples: self.peak,
            total_samples_per_step: self.per_step.clone(),
            eval_seconds: (end - t0).as_secs_f64(),
            preparation_seconds: (prepared - t0).as_secs_f64(),
            inner_eval_seconds: (evaluated - prepared).as_secs_f64(),
            sort_seconds: (end - evaluated).as_secs_f64(),
        }
    }

    /// Fails once the query's time is up.
    pub(crate) fn check_deadline(&self) -> Result<(), Error> {
        if Instant::now() > self.deadline {
            return Err(Error::Timeout);
        }
        Ok(())
    }

    /// Counts `n` more samples held for the rest of the query.
    pub(crate) fn account(&mut self, n: usize) -> Result<(), Error> {
        self.samples = self.samples.saturating_add(n);
        self.check_samples(0)
    }

    /// Fails if `extra` more samples, held briefly, would exceed the limit.
    pub(crate) fn check_samples(&self, extra: usize) -> Result<(), Error> {
        if self.samples.saturating_add(extra) > self.opts.max_samples {
            return Err(Error::TooManySamples {
                limit: self.opts.max_samples,
            });
        }
        Ok(())
    }

    pub(crate) fn warn(&mut self, msg: String) {
        self.notes.warn(msg);
    }

    pub(crate) fn info(&mut self, msg: String) {
        self.notes.info(msg);
    }
}

/// Applies delayed `__name__` removal. As in Prometheus, the `__type__`
/// and `__unit__` labels describe the metric name and go with it.
pub(crate) fn finish_labels(metric: Labels, drop_name: bool) -> Labels {
    if drop_name {
        metric.without(&["__name__", "__type__", "__unit__"])
    } else {
        metric
    }
}

/// A finished element of an instant vector: labels, value, histogram.
type Finished = (Labels, f64, Option<Arc<FloatHistogram>>);

fn finish_vector(v: Vec<Sample>) -> Result<Vec<Finished>, Error> {
    let out: Vec<Finished> = v
        .into_iter()
        .map(|s| (finish_labels(s.metric, s.drop_name), s.v, s.h))
        .collect();
    check_duplicates(out.iter().map(|(l, _, _)| l))?;
    Ok(out)
}

fn finish_matrix(m: Vec<Series>) -> Result<Vec<MatrixSeries>, Error> {
    let out: Vec<MatrixSeries> = m
        .into_iter()
        .map(|s| MatrixSeries {
            metric: finish_labels(s.metric, s.drop_name),
            points: s.points,
            hpoints: s.hpoints,
        })
        .collect();
    check_duplicates(out.iter().map(|s| &s.metric))?;
    Ok(out)
}

/// Fails if two label sets are equal.
pub(crate) fn check_duplicates<'a>(labels: impl Iterator<Item = &'a Labels>) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for l in labels {
        if !seen.insert(l) {
            return Err(Error::exec(
                "vector cannot contain metrics with the same labelset",
            ));
        }
    }
    Ok(())
}

impl Engine {
    /// An engine with the given options.
    pub fn new(opts: EngineOptions) -> Engine {
        Engine {
            opts,
            subquery_step_ms: DEFAULT_SUBQUERY_STEP_MS,
            whole_range: true,
            buffers: Arc::default(),
        }
    }

    /// The engine writing its queries' columns into `buffers`, shared with
    /// the other engines given them, so that a query reuses the memory an
    /// earlier one left.
    pub fn with_buffers(mut self, buffers: Arc<ColumnBuffers>) -> Engine {
        self.buffers = buffers;
        self
    }

    /// The engine evaluating every node step by step, without computing
    /// subtrees over the whole range at once. The answers are the same,
    /// bit for bit; tests compare the two paths with it.
    #[doc(hidden)]
    pub fn step_by_step(mut self) -> Engine {
        self.whole_range = false;
        self
    }

    /// The engine with another step for subqueries written without one
    /// (`foo[5m:]`); Prometheus uses its global evaluation interval. The
    /// default is one minute; values below 1 ms are taken as 1 ms.
    pub fn with_subquery_step(mut self, step_ms: i64) -> Engine {
        self.subquery_step_ms = step_ms.max(1);
        self
    }

    /// The step of subqueries written without one, in milliseconds.
    pub fn subquery_step_ms(&self) -> i64 {
        self.subquery_step_ms
    }

    /// Evaluates `query` at time `t_ms`.
    pub fn instant_query(
        &self,
        store: &dyn Queryable,
        query: &str,
        t_ms: i64,
    ) -> Result<QueryResult, Error> {
        with_big_stack(|| self.instant(store, query, t_ms))
    }

    /// Evaluates `query` at every `step_ms` from `start_ms` to `end_ms`
    /// (inclusive), returning a matrix.
    pub fn range_query(
        &self,
        store: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, Error> {
        with_big_stack(|| self.range(store, query, start_ms, end_ms, step_ms))
    }

    fn instant(&self, store: &dyn Queryable, query: &str, t_ms: i64) -> Result<QueryResult, Error> {
        let t0 = Instant::now();
        let mut expr = parser::parse(query)?;
        expr.resolve_durations(0, 0)
            .map_err(|e| Error::BadRequest { msg: e.to_string() })?;
        // the series the evaluator loads borrow the querier: it outlives
        // the evaluator
        let querier;
        let mut ev = Evaluator::new(self, t_ms, t_ms, 0);
        if let Some((mint, maxt)) = ev.load_range(&expr) {
            querier = store.querier(mint, maxt)?;
            ev.load(&*querier, &expr)?;
        }
        let prepared = Instant::now();
        ev.precompute(&expr, &[t_ms])?;
        ev.materialize()?;
        let out = ev.eval(&expr, t_ms)?;
        ev.end_step(t_ms, 0);
        let evaluated = Instant::now();
        let value = match out {
            StepValue::Scalar(v) => Value::Scalar { t: t_ms, v },
            StepValue::String(v) => Value::String { t: t_ms, v },
            StepValue::Vector(v) => Value::Vector(
                finish_vector(v)?
                    .into_iter()
                    .map(|(metric, v, h)| VectorSample {
                        metric,
                        t: t_ms,
                        v,
                        h,
                    })
                    .collect(),
            ),
            StepValue::Matrix(m) => {
                let mut m = finish_matrix(m)?;
                m.sort_by(|a, b| a.metric.cmp(&b.metric));
                Value::Matrix(m)
            }
        };
        let stats = ev.stats(t0, prepared, evaluated);
        Ok(QueryResult {
            value,
            warnings: ev.notes.warnings,
            infos: ev.notes.infos,
            stats,
        })
    }

    fn range(
        &self,
        store: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, Error> {
        let t0 = Instant::now();
        let mut expr = parser::parse(query)?;
        if step_ms <= 0 {
            return Err(Error::BadRequest {
                msg: "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            });
        }
        if end_ms < start_ms {
            return Err(Error::BadRequest {
                msg: "end timestamp must not be before start time".into(),
            });
        }
        expr.resolve_durations(step_ms, end_ms - start_ms)
            .map_err(|e| Error::BadRequest { msg: e.to_string() })?;
        let vt = expr.value_type();
        if vt != ValueType::Scalar && vt != ValueType::Vector {
            return Err(Error::BadRequest {
                msg: format!(
                    "invalid expression type \"{vt}\" for range query, must be Scalar or instant Vector"
                ),
            });
        }
        let querier;
        let mut ev = Evaluator::new(self, start_ms, end_ms, step_ms);
        if contains_sort(&expr) {
            ev.warn("PromQL warning: sort is ineffective for range queries since results are always ordered by labels".into());
        }
        if let Some((mint, maxt)) = ev.load_range(&expr) {
            querier = store.querier(mint, maxt)?;
            ev.load(&*querier, &expr)?;
        }
        let prepared = Instant::now();
        let times = ev.step_times();
        ev.precompute(&expr, &times)?;
        ev.materialize()?;
        let mut series = match ev.finish_pre_root(&expr, &times)? {
            Some(series) => series,
            None => range_steps(&mut ev, &expr, start_ms, end_ms, step_ms)?,
        };
        let evaluated = Instant::now();
        series.sort_by(|a, b| a.metric.cmp(&b.metric));
        let stats = ev.stats(t0, prepared, evaluated);
        Ok(QueryResult {
            value: Value::Matrix(series),
            warnings: ev.notes.warnings,
            infos: ev.notes.infos,
            stats,
        })
    }
}

/// Stack for evaluating one query: evaluation recurses along the syntax
/// tree, which the parser bounds but which can still be thousands deep.
const QUERY_STACK_BYTES: usize = 64 << 20;

/// Runs `f` on a scoped thread with a large stack.
pub(crate) fn with_big_stack<T: Send>(
    f: impl FnOnce() -> Result<T, Error> + Send,
) -> Result<T, Error> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("promql-eval".into())
            .stack_size(QUERY_STACK_BYTES)
            .spawn_scoped(s, f)
            .map_err(|e| Error::Internal {
                msg: format!("cannot start query thread: {e}"),
            })?;
        handle.join().unwrap_or_else(|_| {
            Err(Error::Internal {
                msg: "query evaluation panicked".into(),
            })
        })
    })
}

/// Whether the expression calls a sorting function anywhere.
fn contains_sort(e: &Expr) -> bool {
    match e {
        Expr::Call { func, args } => func.starts_with("sort") || args.iter().any(contains_sort),
        Expr::Aggregate { expr, param, .. } => {
            contains_sort(expr) || param.as_deref().is_some_and(contains_sort)
        }
        Expr::Binary { lhs, rhs, .. } => contains_sort(lhs) || contains_sort(rhs),
        Expr::Unary { expr, .. } | Expr::Paren(expr) => contains_sort(expr),
        Expr::Subquery { expr, .. } => contains_sort(expr),
        _ => false,
    }
}

fn range_steps(
    ev: &mut Evaluator<'_>,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Vec<MatrixSeries>, Error> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<MatrixSeries> = Vec::new();
    let mut held = 0u64;
    let mut ts = start;
    while ts <= end {
        ev.check_deadline()?;
        let step_out: Vec<Finished> = match ev.eval(expr, ts)? {
            StepValue::Scalar(v) => vec![(Labels::empty(), v, None)],
            StepValue::Vector(v) => finish_vector(v)?,
            _ => {
                return Err(Error::exec(
                    "range query expression must be a scalar or an instant vector",
                ))
            }
        };
        ev.account(step_out.len())?;
        ev.end_step(ts, held);
        held = held.saturating_add(step_out.len() as u64);
        for (metric, v, h) in step_out {
            let i = match index.get(&metric) {
                Some(&i) => i,
                None => {
                    index.insert(metric.clone(), out.len());
                    out.push(MatrixSeries {
                        metric,
                        points: Vec::new(),
                        hpoints: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            match h {
                Some(h) => out[i].hpoints.push((ts, h)),
                None => out[i].points.push((ts, v)),
            }
        }
        ts = match ts.checked_add(step) {
            Some(t) => t,
            None => break,
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use tsdb::read::MemQueryable;

    fn store() -> MemQueryable {
        let mut m = MemQueryable::new();
        for (inst, mul) in [("a", 1.0), ("b", 2.0)] {
            let l = Labels::from_pairs(&[("__name__", "up"), ("instance", inst)]);
            for i in 0..=20 {
                m.add(&l, i * 60_000, i as f64 * mul);
            }
        }
        m
    }

    #[test]
    fn instant_results_by_type() {
        let e = Engine::default();
        let s = store();
        let r = e.instant_query(&s, "up", 120_000).unwrap();
        let Value::Vector(v) = r.value else {
            panic!("vector expected")
        };
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|x| x.t == 120_000));
        assert_eq!(v[1].v, 4.0);
        let r = e.instant_query(&s, "1 + 2", 5).unwrap();
        assert_eq!(r.value, Value::Scalar { t: 5, v: 3.0 });
        let r = e.instant_query(&s, "\"x\"", 5).unwrap();
        assert_eq!(
            r.value,
            Value::String {
                t: 5,
                v: "x".into()
            }
        );
        let r = e
            .instant_query(&s, "up{instance=\"a\"}[2m]", 120_000)
            .unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("matrix expected")
        };
        assert_eq!(m[0].points, vec![(60_000, 1.0), (120_000, 2.0)]);
    }

    #[test]
    fn range_query_matrix() {
        let e = Engine::default();
        let s = store();
        let r = e.range_query(&s, "sum(up)", 0, 180_000, 60_000).unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("matrix expected")
        };
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].points,
            vec![(0, 0.0), (60_000, 3.0), (120_000, 6.0), (180_000, 9.0)]
        );
        let r = e.range_query(&s, "time()", 0, 60_000, 30_000).unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("matrix expected")
        };
        assert_eq!(m[0].metric, Labels::empty());
        assert_eq!(m[0].points.len(), 3);
        let err = e.range_query(&s, "up[1m]", 0, 60_000, 1000).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadData);
        assert_eq!(
            err.to_string(),
            "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
        );
        assert_eq!(
            e.range_query(&s, "up", 0, 60_000, 0).unwrap_err().kind(),
            ErrorKind::BadData
        );
        assert!(e.range_query(&s, "up", 60_000, 0, 1000).is_err());
    }

    #[test]
    fn long_operator_chains_evaluate() {
        let e = Engine::default();
        let q = vec!["up"; 2000].join(" + ");
        let r = e.instant_query(&store(), &q, 60_000).unwrap();
        let Value::Vector(v) = r.value else {
            panic!("vector expected")
        };
        assert_eq!(v[0].v, 2000.0);
    }

    #[test]
    fn limits() {
        let s = store();
        let e = Engine::new(EngineOptions {
            max_samples: 10,
            ..Default::default()
        });
        let err = e.instant_query(&s, "up", 1_200_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "query processing would load too many samples into memory in query execution"
        );
        assert_eq!(err.kind(), ErrorKind::Execution);
        let e = Engine::new(EngineOptions {
            max_samples: 1000,
            ..Default::default()
        });
        assert!(e.instant_query(&s, "up", 1_200_000).is_ok());
        // output points of a range query count too
        let e = Engine::new(EngineOptions {
            max_samples: 60,
            ..Default::default()
        });
        let err = e.range_query(&s, "up", 0, 1_200_000, 1000).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Execution);

        let e = Engine::new(EngineOptions {
            timeout: Duration::ZERO,
            ..Default::default()
        });
        let err = e.range_query(&s, "up", 0, 1_200_000, 1000).unwrap_err();
        assert_eq!(err.to_string(), "query timed out in query execution");
        assert_eq!(err.kind(), ErrorKind::Timeout);
    }

    #[test]
    fn execution_errors() {
        let e = Engine::default();
        let mut s = store();
        let l = Labels::from_pairs(&[("__name__", "other"), ("instance", "a"), ("x", "1")]);
        let l2 = Labels::from_pairs(&[("__name__", "other"), ("instance", "a"), ("x", "2")]);
        s.add(&l, 0, 1.0);
        s.add(&l2, 0, 1.0);
        let err = e
            .instant_query(&s, "up + on(instance) other", 0)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Execution);
        assert!(
            err.to_string()
                .starts_with("found duplicate series for the match group {instance=\"a\"} on the right hand-side of the operation"),
            "{err}"
        );
        s.add(
            &Labels::from_pairs(&[("__name__", "down"), ("instance", "a")]),
            0,
            1.0,
        );
        let q = "abs({__name__=~\"up|down\", instance=\"a\"})";
        let err = e.instant_query(&s, q, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector cannot contain metrics with the same labelset"
        );
        assert!(
            e.instant_query(&s, "abs(other)", 0).is_ok(),
            "labels differ by x"
        );
    }
}

#[cfg(test)]
mod stats_tests;
