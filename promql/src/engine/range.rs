//! Whole-range evaluation of common subtrees of a range query.
//!
//! The evaluator works one step at a time ([`super::eval`]). For the
//! subtrees that dominate real queries — selectors, `rate`-like functions
//! of one matrix selector, element-wise functions and the plain
//! aggregations — this module computes every step of the query at once,
//! series by series, walking each series' samples with moving cursors
//! instead of searching and copying a window per step. The results are
//! kept per node; when the step-wise evaluator reaches such a node it
//! takes the step's vector from here instead of evaluating it.
//!
//! Every value is computed with exactly the same floating-point operations
//! in the same order as the step-wise path (the same window functions on
//! the same sample slices, aggregations over members in the same order),
//! so answers are identical. The per-step side effects of the step-wise
//! path (samples counted for the statistics, the limit on samples held)
//! are recorded per step and replayed when the step is taken.

mod columns;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tsdb::labels::{Labels, METRIC_NAME};
use tsdb::parallel::on_threads;

use super::acc::{Acc, CountAcc, GroupAcc, MinMaxAcc, SumAcc, VarianceAcc};
use super::aggregate::{kahan_add, MeanAcc};
use super::selector::{key, LoadedSeries};
use super::{finish_labels, Evaluator};
use crate::error::Error;
use crate::functions::rate::counter_extrapolated;
use crate::functions::{Impl, Window, IMPLS};
use crate::parser::{AggregateOp, Expr, ValueType, VectorSelector};
use crate::value::{is_stale, MatrixSeries, Sample, StepValue};
pub use columns::ColumnBuffers;
use columns::{in_parallel, Part};

/// An instant vector at every step of the query, column by column.
pub(crate) struct RangeVec {
    /// Labels of each column (series).
    labels: Vec<Labels>,
    /// `vals[col * steps + step]`.
    vals: Vec<f64>,
    /// Whether the column has a value at the step, same layout.
    present: Vec<bool>,
    /// Whether `__name__` is to be dropped at the end (same for all).
    drop_name: bool,
    /// The order of the columns at each step, when it is not the column
    /// order (aggregation outputs: groups in order of first appearance).
    order: Option<Vec<Vec<u32>>>,
    /// Samples the step-wise path would count at each step.
    queried: Vec<u64>,
    /// The most samples a range selector of the subtree holds at each step
    /// (0: no check).
    held: Vec<usize>,
    /// Samples decoded from storage to compute it, to be counted against
    /// the query's limit.
    decoded: usize,
    /// Where its columns go when it is dropped.
    buffers: Arc<ColumnBuffers>,
}

impl Drop for RangeVec {
    fn drop(&mut self) {
        self.buffers.give(
            std::mem::take(&mut self.vals),
            std::mem::take(&mut self.present),
        );
    }
}

impl RangeVec {
    fn empty(steps: usize, buffers: &Arc<ColumnBuffers>) -> RangeVec {
        RangeVec {
            labels: Vec::new(),
            vals: Vec::new(),
            present: Vec::new(),
            drop_name: false,
            order: None,
            queried: vec![0; steps],
            held: vec![0; steps],
            decoded: 0,
            buffers: Arc::clone(buffers),
        }
    }

    fn steps(&self) -> usize {
        self.queried.len()
    }

    /// The vector at step `i`, as the step-wise path would return it.
    fn vector_at(&self, i: usize) -> Vec<Sample> {
        let n = self.steps();
        let sample = |c: usize| Sample {
            metric: self.labels[c].clone(),
            v: self.vals[c * n + i],
            h: None,
            drop_name: self.drop_name,
        };
        match &self.order {
            Some(order) => order[i].iter().map(|&c| sample(c as usize)).collect(),
            None => (0..self.labels.len())
                .filter(|&c| self.present[c * n + i])
                .map(sample)
                .collect(),
        }
    }

    /// Calls `f(col)` for the columns present at step `i`, in order.
    #[inline]
    fn for_each_at(&self, i: usize, mut f: impl FnMut(usize)) {
        let n = self.steps();
        match &self.order {
            Some(order) => order[i].iter().for_each(|&c| f(c as usize)),
            None => {
                for c in 0..self.labels.len() {
                    if self.present[c * n + i] {
                        f(c)
                    }
                }
            }
        }
    }
}

/// What the step-wise evaluation reads of a precomputed subtree.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Only its result: the samples of its selectors may be decoded into
    /// a buffer and dropped.
    Result,
    /// Also its selectors' samples (it is an argument of a function
    /// evaluated step by step): they are kept once decoded.
    Samples,
}

/// How a function of one range selector is computed.
struct RangeHow {
    f: crate::functions::RangeFn,
    keep_name: bool,
    /// `rate` (`Some(true)`) or `increase` (`Some(false)`): resets are
    /// found once per series instead of once per window.
    counter: Option<bool>,
    /// A sum or mean of each window's values, computed for several
    /// windows at once.
    summed: Option<Summed>,
}

/// The window functions that add up their values.
#[derive(Clone, Copy)]
enum Summed {
    /// `sum_over_time`.
    Sum,
    /// `avg_over_time`.
    Mean,
}

/// Windows whose sums are computed side by side.
const LANES: usize = 8;

/// The Kahan sums of up to `LANES` windows (ranges of `vals`, none
/// empty), each with its compensation. A window's additions form a
/// chain, each waiting for the one before; the chains of the windows are
/// interleaved so the processor works on them together (several in one
/// instruction where it can), and each window still adds its values in
/// its own order from its own start. While every lane is inside its
/// window, a step is [`kahan_add`] without its infinity case, with both
/// of its branches computed and one chosen, so the lanes run without
/// jumps; a window whose sum ends infinite or NaN, where that case may
/// have mattered, is not done here (`None`).
fn kahan_lanes(vals: &[f64], group: &[(usize, usize)]) -> [Option<(f64, f64)>; LANES] {
    let (mut lo, mut len) = ([0usize; LANES], [0usize; LANES]);
    for (k, &(a, b)) in group.iter().enumerate() {
        (lo[k], len[k]) = (a, b - a);
    }
    // lanes without a window repeat the first one and are not read
    for k in group.len()..LANES {
        (lo[k], len[k]) = (lo[0], len[0]);
    }
    let shortest = len.iter().copied().min().unwrap_or(0);
    let lane: [&[f64]; LANES] = std::array::from_fn(|k| &vals[lo[k]..lo[k] + shortest]);
    let (mut sum, mut c) = ([0.0f64; LANES], [0.0f64; LANES]);
    // `j` indexes the slices inside `lane`, one value of each
    #[allow(clippy::needless_range_loop)]
    for j in 0..shortest {
        let v: [f64; LANES] = std::array::from_fn(|k| lane[k][j]);
        for k in 0..LANES {
            let t = sum[k] + v[k];
            let big = (sum[k] - t) + v[k];
            let small = (v[k] - t) + sum[k];
            c[k] += if sum[k].abs() >= v[k].abs() {
                big
            } else {
                small
            };
            sum[k] = t;
        }
    }
    std::array::from_fn(|k| {
        // the rest of a longer window, one value at a time
        for &v in &vals[lo[k] + shortest..lo[k] + len[k]] {
            (sum[k], c[k]) = kahan_add(v, sum[k], c[k]);
        }
        sum[k].is_finite().then_some((sum[k], c[k]))
    })
}

/// The sum (`Summed::Sum`) or mean of each of `windows` (ranges of
/// `vals`, none empty), appended to `out`: bit for bit what the window
/// function gives each window alone.
fn window_sums(vals: &[f64], windows: &[(usize, usize)], summed: Summed, out: &mut Vec<f64>) {
    for group in windows.chunks(LANES) {
        let sums = kahan_lanes(vals, group);
        for (&(lo, hi), done) in group.iter().zip(sums) {
            let vals = &vals[lo..hi];
            out.push(match (summed, done) {
                (Summed::Sum, Some((sum, c))) => sum + c,
                (Summed::Mean, Some((sum, c))) => {
                    let n = vals.len() as f64;
                    sum / n + c / n
                }
                (Summed::Sum, None) => {
                    let (sum, c) = vals
                        .iter()
                        .fold((0.0, 0.0), |(s, c), &v| kahan_add(v, s, c));
                    sum + c
                }
                (Summed::Mean, None) => {
                    let mut acc = MeanAcc::default();
                    for &v in vals {
                        acc.add(v);
                    }
                    acc.result()
                }
            });
        }
    }
}

/// Functions of one range vector whose scalar arguments need no checks.
fn range_fn(name: &str) -> Option<(crate::functions::RangeFn, bool)> {
    if matches!(name, "quantile_over_time" | "double_exponential_smoothing") {
        return None;
    }
    match IMPLS.iter().find(|(n, _)| *n == name)?.1 {
        Impl::Range { f, keep_name } => Some((f, keep_name)),
        _ => None,
    }
}

impl Evaluator<'_> {
    /// The evaluation times of the range query.
    pub(crate) fn step_times(&self) -> Vec<i64> {
        let mut out = Vec::new();
        let mut ts = self.start;
        while ts <= self.end {
            out.push(ts);
            ts = match ts.checked_add(self.step) {
                Some(t) => t,
                None => break,
            };
        }
        out
    }

    /// Computes the whole-range results of the largest supported subtrees
    /// of `e` that are evaluated at the query's steps.
    pub(crate) fn precompute(&mut self, e: &Expr, times: &[i64]) -> Result<(), Error> {
        self.precompute_in(e, times, Use::Result)
    }

    fn precompute_in(&mut self, e: &Expr, times: &[i64], used: Use) -> Result<(), Error> {
        if self.has_histograms || !self.whole_range {
            return Ok(());
        }
        if let Some(rv) = self.native(e, times, used)? {
            self.pre.insert(e as *const Expr as usize, rv);
            return Ok(());
        }
        match e {
            Expr::Paren(x) | Expr::Unary { expr: x, .. } => self.precompute_in(x, times, used),
            Expr::Call { func, args } => {
                // `timestamp` reads the samples of a selector argument
                // itself; other functions evaluate their arguments
                let used = if func == "timestamp" {
                    Use::Samples
                } else {
                    Use::Result
                };
                for a in args {
                    self.precompute_in(a, times, used)?;
                }
                Ok(())
            }
            Expr::Aggregate { expr, param, .. } => {
                self.precompute_in(expr, times, used)?;
                if let Some(p) = param {
                    self.precompute_in(p, times, used)?;
                }
                Ok(())
            }
            Expr::Binary { lhs, rhs, .. } => {
                self.precompute_in(lhs, times, used)?;
                self.precompute_in(rhs, times, used)
            }
            // subqueries evaluate their inner expression at other times
            _ => Ok(()),
        }
    }

    /// The step-wise value of a precomputed node at `ts`, replaying the
    /// side effects of its evaluation.
    pub(crate) fn take_pre(&self, e: &Expr, ts: i64) -> Result<Option<StepValue>, Error> {
        let Some(rv) = self.pre.get(&(e as *const Expr as usize)) else {
            return Ok(None);
        };
        let Some(i) = self.step_index(ts, rv.steps()) else {
            return Ok(None);
        };
        if rv.held[i] > 0 {
            self.check_samples(rv.held[i])?;
        }
        self.count_queried(rv.queried[i] as usize);
        Ok(Some(StepValue::Vector(rv.vector_at(i))))
    }

    fn step_index(&self, ts: i64, steps: usize) -> Option<usize> {
        if self.step <= 0 {
            // an instant query
            return (ts == self.start && steps == 1).then_some(0);
        }
        if ts < self.start {
            return None;
        }
        let d = ts - self.start;
        if d % self.step != 0 {
            return None;
        }
        let i = usize::try_from(d / self.step).ok()?;
        (i < steps).then_some(i)
    }

    /// The whole result of a range query whose root was precomputed, with
    /// the per-step accounting of the step-wise loop; `None` when the
    /// root was not precomputed or its output needs the step-wise checks
    /// (label sets that coincide once `__name__` is dropped).
    pub(crate) fn finish_pre_root(
        &mut self,
        e: &Expr,
        times: &[i64],
    ) -> Result<Option<Vec<MatrixSeries>>, Error> {
        let Some(rv) = self.pre.get(&(e as *const Expr as usize)) else {
            return Ok(None);
        };
        let metrics: Vec<Labels> = rv
            .labels
            .iter()
            .map(|l| finish_labels(l.clone(), rv.drop_name))
            .collect();
        {
            let mut seen = std::collections::HashSet::with_capacity(metrics.len());
            if !metrics.iter().all(|m| seen.insert(m)) {
                return Ok(None);
            }
        }
        let rv = self
            .pre
            .remove(&(e as *const Expr as usize))
            .expect("present");
        let n = rv.steps();
        let mut counts = vec![0usize; n];
        for c in 0..rv.labels.len() {
            for (i, k) in counts.iter_mut().enumerate() {
                *k += rv.present[c * n + i] as usize;
            }
        }
        let mut held_out = 0u64;
        for (i, &ts) in times.iter().enumerate() {
            self.check_deadline()?;
            if rv.held[i] > 0 {
                self.check_samples(rv.held[i])?;
            }
            self.count_queried(rv.queried[i] as usize);
            self.account(counts[i])?;
            self.end_step(ts, held_out);
            held_out = held_out.saturating_add(counts[i] as u64);
        }
        let mut out = Vec::new();
        for (c, metric) in metrics.into_iter().enumerate() {
            let points: Vec<(i64, f64)> = (0..n)
                .filter(|&i| rv.present[c * n + i])
                .map(|i| (times[i], rv.vals[c * n + i]))
                .collect();
            if !points.is_empty() {
                out.push(MatrixSeries {
                    metric,
                    points,
                    hpoints: Vec::new(),
                });
            }
        }
        Ok(Some(out))
    }

    /// The whole-range value of `e`, if it is a supported subtree.
    fn native(&mut self, e: &Expr, times: &[i64], used: Use) -> Result<Option<RangeVec>, Error> {
        match e {
            Expr::Paren(x) => self.native(x, times, used),
            Expr::VectorSelector(vs) if vs.at.is_none() && !vs.smoothed => {
                Ok(Some(self.native_instant(vs, times, used)?))
            }
            Expr::Call { func, args } => {
                if let Some((f, keep_name)) = range_fn(func) {
                    let mut params = Vec::new();
                    let mut matrix = None;
                    for a in args {
                        match a.unwrap_parens() {
                            Expr::NumberLiteral(v) => params.push(*v),
                            Expr::MatrixSelector {
                                selector, range_ms, ..
                            } if selector.at.is_none()
                                && !selector.anchored
                                && !selector.smoothed
                                && matrix.is_none() =>
                            {
                                matrix = Some((selector, *range_ms))
                            }
                            _ => return Ok(None),
                        }
                    }
                    let Some((vs, range_ms)) = matrix else {
                        return Ok(None);
                    };
                    let counter = match func.as_str() {
                        "rate" => Some(true),
                        "increase" => Some(false),
                        _ => None,
                    };
                    let summed = match func.as_str() {
                        "sum_over_time" => Some(Summed::Sum),
                        "avg_over_time" => Some(Summed::Mean),
                        _ => None,
                    };
                    let how = RangeHow {
                        f,
                        keep_name,
                        counter,
                        summed,
                    };
                    return Ok(Some(
                        self.native_range_fn(vs, range_ms, &how, &params, times, used)?,
                    ));
                }
                let Some((_, Impl::Element(f))) = IMPLS.iter().find(|(n, _)| n == func) else {
                    return Ok(None);
                };
                let [arg] = args.as_slice() else {
                    return Ok(None);
                };
                if arg.value_type() != ValueType::Vector {
                    return Ok(None);
                }
                let Some(mut rv) = self.native(arg, times, used)? else {
                    return Ok(None);
                };
                for v in rv.vals.iter_mut() {
                    *v = f(*v);
                }
                rv.drop_name = true;
                Ok(Some(rv))
            }
            Expr::Aggregate {
                op,
                expr,
                param: None,
                grouping,
                without,
            } => {
                let op = *op;
                if !matches!(
                    op,
                    AggregateOp::Sum
                        | AggregateOp::Avg
                        | AggregateOp::Min
                        | AggregateOp::Max
                        | AggregateOp::Count
                        | AggregateOp::Group
                        | AggregateOp::Stddev
                        | AggregateOp::Stdvar
                ) {
                    return Ok(None);
                }
                let Some(input) = self.native(expr, times, used)? else {
                    return Ok(None);
                };
                self.check_deadline()?;
                let g = (&input, grouping.as_slice(), *without);
                Ok(Some(match op {
                    AggregateOp::Sum => aggregate::<SumAcc>(g),
                    AggregateOp::Avg => aggregate::<MeanAcc>(g),
                    AggregateOp::Min => aggregate::<MinMaxAcc<false>>(g),
                    AggregateOp::Max => aggregate::<MinMaxAcc<true>>(g),
                    AggregateOp::Count => aggregate::<CountAcc>(g),
                    AggregateOp::Group => aggregate::<GroupAcc>(g),
                    AggregateOp::Stddev => aggregate::<VarianceAcc<true>>(g),
                    _ => aggregate::<VarianceAcc<false>>(g),
                }))
            }
            _ => Ok(None),
        }
    }

    /// An instant selector at every step.
    fn native_instant(
        &mut self,
        vs: &VectorSelector,
        times: &[i64],
        used: Use,
    ) -> Result<RangeVec, Error> {
        let Some(series) = self.data.get_mut(&key(vs)) else {
            return Ok(RangeVec::empty(times.len(), &self.buffers));
        };
        let (lookback, offset_ms, deadline) =
            (self.opts.lookback_delta_ms, vs.offset_ms, self.deadline);
        let rv = in_parallel(&self.buffers, series, times.len(), |part, out| {
            instant_part(part, out, times, offset_ms, lookback, deadline, used)
        })?;
        if used == Use::Result {
            self.consumed.insert(key(vs));
        }
        self.account(rv.decoded)?;
        Ok(rv)
    }

    /// A function of one range selector at every step.
    fn native_range_fn(
        &mut self,
        vs: &VectorSelector,
        range_ms: i64,
        how: &RangeHow,
        params: &[f64],
        times: &[i64],
        used: Use,
    ) -> Result<RangeVec, Error> {
        let Some(series) = self.data.get_mut(&key(vs)) else {
            let mut rv = RangeVec::empty(times.len(), &self.buffers);
            rv.drop_name = !how.keep_name;
            return Ok(rv);
        };
        let (offset_ms, deadline) = (vs.offset_ms, self.deadline);
        let mut rv = in_parallel(&self.buffers, series, times.len(), |part, out| {
            range_fn_part(
                part,
                out,
                times,
                (offset_ms, range_ms),
                how,
                params,
                (deadline, used),
            )
        })?;
        rv.drop_name = !how.keep_name;
        if used == Use::Result {
            self.consumed.insert(key(vs));
        }
        self.account(rv.decoded)?;
        Ok(rv)
    }
}

fn check(deadline: Instant) -> Result<(), Error> {
    if Instant::now() > deadline {
        return Err(Error::Timeout);
    }
    Ok(())
}

/// An instant selector at every step, for some of its series: the latest
/// sample within the lookback window, unless it is a stale marker.
fn instant_part(
    series: &mut [LoadedSeries],
    rv: &mut Part<'_>,
    times: &[i64],
    offset_ms: i64,
    lookback: i64,
    deadline: Instant,
    used: Use,
) -> Result<(), Error> {
    let mut buf = Vec::new();
    for (k, s) in series.iter_mut().enumerate() {
        if k % 1024 == 1023 {
            check(deadline)?;
        }
        let samples = s.samples_in(&mut buf, &mut rv.decoded, used == Use::Samples);
        let mut idx = 0usize;
        let mut any = false;
        for (i, &ts) in times.iter().enumerate() {
            let t = ts.saturating_sub(offset_ms);
            // samples[..idx] are the ones at or before t
            while idx < samples.len() && samples[idx].0 <= t {
                idx += 1;
            }
            let hit = idx
                .checked_sub(1)
                .map(|j| samples[j])
                .filter(|s| s.0 > t.saturating_sub(lookback) && !is_stale(s.1));
            if hit.is_some() {
                rv.queried[i] += 1;
                any = true;
            }
            rv.push(hit.map(|(_, v)| v));
        }
        rv.end_column(&s.labels, any);
    }
    Ok(())
}

/// A function of one range selector at every step, for some of its
/// series.
fn range_fn_part(
    series: &mut [LoadedSeries],
    rv: &mut Part<'_>,
    times: &[i64],
    (offset_ms, range_ms): (i64, i64),
    how: &RangeHow,
    params: &[f64],
    (deadline, used): (Instant, Use),
) -> Result<(), Error> {
    let mut buf = Vec::new();
    for (k, s) in series.iter_mut().enumerate() {
        if k % 1024 == 1023 {
            check(deadline)?;
        }
        let all = s.samples_in(&mut buf, &mut rv.decoded, used == Use::Samples);
        // the windows never hold stale markers
        let samples: Cow<'_, [(i64, f64)]> = if all.iter().any(|p| is_stale(p.1)) {
            Cow::Owned(all.iter().copied().filter(|p| !is_stale(p.1)).collect())
        } else {
            Cow::Borrowed(all)
        };
        if let Some(summed) = how.summed {
            summed_column(rv, &samples, times, offset_ms, range_ms, summed);
            let any = rv.any_in_open_column();
            rv.end_column(&s.labels, any);
            continue;
        }
        // for rate and increase: where the counter resets
        let resets: Vec<usize> = match how.counter {
            Some(_) => (1..samples.len())
                .filter(|&j| samples[j].1 < samples[j - 1].1)
                .collect(),
            None => Vec::new(),
        };
        let mut r = 0usize;
        let mut cursor = WindowCursor::default();
        let mut any = false;
        for (i, &ts) in times.iter().enumerate() {
            let end = ts.saturating_sub(offset_ms);
            let start = end.saturating_sub(range_ms);
            let (lo, hi) = cursor.advance(&samples, start, end);
            let mut value = None;
            if lo < hi {
                let points = &samples[lo..hi];
                rv.held[i] += points.len();
                rv.queried[i] += points.len() as u64;
                let w = Window { start, end, ts };
                value = match how.counter {
                    Some(per_second) => {
                        while r < resets.len() && resets[r] <= lo {
                            r += 1;
                        }
                        let inside = &resets[r..];
                        let samples = &samples;
                        counter_extrapolated(points, &w, per_second, || {
                            inside
                                .iter()
                                .take_while(move |&&j| j < hi)
                                .map(move |&j| samples[j - 1].1)
                        })
                    }
                    None => (how.f)(points, &w, params),
                };
            }
            any |= value.is_some();
            rv.push(value);
        }
        rv.end_column(&s.labels, any);
    }
    Ok(())
}

/// The window `(start, end]` of each step in turn, over one series'
/// samples: its bounds only move forward.
#[derive(Default)]
struct WindowCursor {
    lo: usize,
    hi: usize,
}

impl WindowCursor {
    /// The range of `samples` in `(start, end]`, for windows given in time
    /// order.
    #[inline]
    fn advance(&mut self, samples: &[(i64, f64)], start: i64, end: i64) -> (usize, usize) {
        while self.lo < samples.len() && samples[self.lo].0 <= start {
            self.lo += 1;
        }
        self.hi = self.hi.max(self.lo);
        while self.hi < samples.len() && samples[self.hi].0 <= end {
            self.hi += 1;
        }
        (self.lo, self.hi)
    }
}

/// The open column of a summing window function: each step's window
/// found as the step-wise path finds it, the sums computed side by side.
fn summed_column(
    rv: &mut Part<'_>,
    samples: &[(i64, f64)],
    times: &[i64],
    offset_ms: i64,
    range_ms: i64,
    summed: Summed,
) {
    let mut windows = Vec::with_capacity(times.len());
    let mut cursor = WindowCursor::default();
    for (i, &ts) in times.iter().enumerate() {
        let end = ts.saturating_sub(offset_ms);
        let (lo, hi) = cursor.advance(samples, end.saturating_sub(range_ms), end);
        if lo < hi {
            rv.held[i] += hi - lo;
            rv.queried[i] += (hi - lo) as u64;
        }
        windows.push((lo, hi));
    }
    let full: Vec<(usize, usize)> = windows.iter().copied().filter(|w| w.0 < w.1).collect();
    let vals: Vec<f64> = samples.iter().map(|p| p.1).collect();
    let mut sums = Vec::with_capacity(full.len());
    window_sums(&vals, &full, summed, &mut sums);
    let mut sums = sums.into_iter();
    for (lo, hi) in windows {
        rv.push(if lo < hi { sums.next() } else { None });
    }
}

/// The groups with members at each step in order of their first member
/// (`first`, by group and step), or `None` when that is the groups' own
/// order at every step.
fn steps_order(first: &[u32], members: &[u32], groups: usize, n: usize) -> Option<Vec<Vec<u32>>> {
    let at = |i: usize| (0..groups).filter(move |&g| members[g * n + i] > 0);
    let natural = (0..n).all(|i| {
        let mut last = None;
        at(i).all(|g| {
            let f = first[g * n + i];
            let increasing = last.is_none_or(|l| f > l);
            last = Some(f);
            increasing
        })
    });
    if natural {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let mut o: Vec<u32> = at(i).map(|g| g as u32).collect();
                o.sort_by_key(|&g| first[g as usize * n + i]);
                o
            })
            .collect(),
    )
}

/// Fewest values (columns times steps) worth aggregating on more than one
/// thread.
const PARALLEL_MIN_VALUES: usize = 200_000;

/// The aggregation states of each group at a range of steps
/// (`[g * steps + i]`), with the number of members and the first member
/// (column) of each.
struct Rows<A> {
    accs: Vec<A>,
    members: Vec<u32>,
    first: Vec<u32>,
}

/// Adds the present values of `input`'s columns to their groups' states,
/// the columns in order, at every step: when there are many values, on a
/// thread per core, each taking a range of steps (each state still takes
/// its values in the same order).
fn accumulate<A: Acc>(input: &RangeVec, group_of: &[u32], groups: usize) -> Rows<A> {
    let n = input.steps();
    // the parts' states are copied together after: worth it when the
    // groups are few beside the columns
    let threads = if group_of.len() * n >= PARALLEL_MIN_VALUES && groups * 8 <= group_of.len() {
        std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(8)
            .min(n)
    } else {
        1
    };
    if threads <= 1 {
        return accumulate_steps(input, group_of, groups, 0..n);
    }
    let per = n.div_ceil(threads);
    let ranges: Vec<std::ops::Range<usize>> =
        (0..n).step_by(per).map(|a| a..(a + per).min(n)).collect();
    let parts: Vec<Rows<A>> = on_threads(ranges.clone(), |r| {
        accumulate_steps::<A>(input, group_of, groups, r)
    });
    let mut rows = Rows {
        accs: vec![A::default(); groups * n],
        members: vec![0; groups * n],
        first: vec![u32::MAX; groups * n],
    };
    for (r, part) in ranges.iter().zip(parts) {
        let w = r.len();
        for g in 0..groups {
            let (to, from) = (g * n + r.start..g * n + r.end, g * w..(g + 1) * w);
            rows.accs[to.clone()].copy_from_slice(&part.accs[from.clone()]);
            rows.members[to.clone()].copy_from_slice(&part.members[from.clone()]);
            rows.first[to].copy_from_slice(&part.first[from]);
        }
    }
    rows
}

/// [`accumulate`] at the steps `steps` only: series in order, a row of
/// steps at a time, noting where each group first has a member at each
/// step (to order the groups after).
fn accumulate_steps<A: Acc>(
    input: &RangeVec,
    group_of: &[u32],
    groups: usize,
    steps: std::ops::Range<usize>,
) -> Rows<A> {
    let (n, w) = (input.steps(), steps.len());
    let mut rows = Rows {
        accs: vec![A::default(); groups * w],
        members: vec![0; groups * w],
        first: vec![u32::MAX; groups * w],
    };
    for (c, &g) in group_of.iter().enumerate() {
        let (g, c32) = (g as usize * w, c as u32);
        let row = g..g + w;
        let accs = &mut rows.accs[row.clone()];
        let members = &mut rows.members[row.clone()];
        let first = &mut rows.first[row];
        let cols = c * n + steps.start..c * n + steps.end;
        let (present, vals) = (&input.present[cols.clone()], &input.vals[cols]);
        for i in 0..w {
            if present[i] {
                members[i] += 1;
                first[i] = first[i].min(c32);
                accs[i].add(vals[i]);
            }
        }
    }
    rows
}

/// Aggregates `input` by the grouping labels at every step: members in
/// the order the step-wise path sees them, groups in order of first
/// appearance at each step.
fn aggregate<A: Acc>((input, grouping, without): (&RangeVec, &[String], bool)) -> RangeVec {
    let n = input.steps();
    let names: Vec<&str> = grouping.iter().map(String::as_str).collect();
    let mut without_names = names.clone();
    without_names.push(METRIC_NAME);
    let mut index: HashMap<Labels, u32> = HashMap::new();
    let mut keys: Vec<Labels> = Vec::new();
    let group_of: Vec<u32> = input
        .labels
        .iter()
        .map(|l| {
            let key = if without {
                l.without(&without_names)
            } else {
                l.keep_only(&names)
            };
            match index.get(&key) {
                Some(&g) => g,
                None => {
                    let g = keys.len() as u32;
                    index.insert(key.clone(), g);
                    keys.push(key);
                    g
                }
            }
        })
        .collect();
    let groups = keys.len();
    let (accs, members, order) = match &input.order {
        None => {
            let Rows {
                accs,
                members,
                first,
            } = accumulate::<A>(input, &group_of, groups);
            let order = steps_order(&first, &members, groups, n);
            (accs, members, order)
        }
        Some(_) => {
            let mut accs: Vec<A> = vec![A::default(); groups * n];
            let mut members: Vec<u32> = vec![0; groups * n];
            let mut order: Vec<Vec<u32>> = vec![Vec::new(); n];
            for (i, at) in order.iter_mut().enumerate() {
                input.for_each_at(i, |c| {
                    let (g, v) = (group_of[c] as usize, input.vals[c * n + i]);
                    let j = g * n + i;
                    if members[j] == 0 {
                        at.push(g as u32);
                    }
                    members[j] += 1;
                    accs[j].add(v);
                });
            }
            let natural = order.iter().all(|o| o.windows(2).all(|w| w[0] < w[1]));
            (accs, members, (!natural).then_some(order))
        }
    };
    let mut vals = Vec::with_capacity(groups * n);
    let mut present = Vec::with_capacity(groups * n);
    for j in 0..groups * n {
        present.push(members[j] > 0);
        vals.push(if members[j] > 0 {
            accs[j].result(members[j])
        } else {
            0.0
        });
    }
    RangeVec {
        labels: keys,
        vals,
        present,
        drop_name: input.drop_name,
        order,
        queried: input.queried.clone(),
        held: input.held.clone(),
        decoded: 0,
        buffers: Arc::clone(&input.buffers),
    }
}

#[cfg(test)]
#[path = "range_tests.rs"]
mod tests;
