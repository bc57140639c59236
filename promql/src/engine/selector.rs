//! Selecting samples: which time ranges each selector needs, loading them
//! from storage once per query, and the lookback / range-window rules.

use std::borrow::Cow;
use std::collections::HashMap;

use std::time::Instant;
use tsdb::labels::{Labels, Matcher};
use tsdb::parallel::on_threads;

use tsdb::read::{HistogramSample, Querier, Sample, SampleIterator as _, Samples};

use super::Evaluator;
use crate::error::Error;
use crate::functions::info::info_matchers;
use crate::functions::{Impl, IMPLS};
use crate::parser::{AtModifier, Expr, VectorSelector};
use crate::value::is_stale;

/// One series' samples as loaded for a selector.
pub(crate) struct LoadedSeries<'q> {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
    /// Native histogram samples, in time order.
    pub hists: Vec<HistogramSample>,
    /// The float samples, while not decoded yet (`samples` is empty then).
    pub pending: Option<Pending<'q>>,
}

/// A series' float samples still in storage: the whole-range evaluation
/// decodes them one series at a time into a buffer it reuses, and
/// [`Evaluator::materialize`] decodes the rest before the step-wise
/// evaluation reads them. So a query over many series never holds all
/// their samples at once when it need not.
pub(crate) struct Pending<'q> {
    it: Samples<'q>,
    /// The time range the selector needs.
    mint: i64,
    maxt: i64,
}

impl LoadedSeries<'_> {
    /// At most this many float samples (an estimate when still pending).
    fn size_estimate(&self) -> usize {
        match &self.pending {
            Some(p) => p.it.max_len().unwrap_or(120),
            None => self.samples.len(),
        }
    }

    /// Its float samples, the number decoded added to `decoded`: when
    /// pending, decoded and kept, or with `!keep` decoded into `buf`
    /// (reused from series to series) and gone from the series after.
    pub fn samples_in<'s>(
        &'s mut self,
        buf: &'s mut Vec<Sample>,
        decoded: &mut usize,
        keep: bool,
    ) -> &'s [Sample] {
        match self.pending.take() {
            Some(mut p) if !keep => {
                buf.clear();
                p.it.collect_into(p.mint, p.maxt, buf);
                *decoded += buf.len();
                buf
            }
            Some(p) => {
                self.pending = Some(p);
                *decoded += self.decode();
                &self.samples
            }
            None => &self.samples,
        }
    }

    /// Decodes pending samples into `samples`; returns how many.
    fn decode(&mut self) -> usize {
        if let Some(mut p) = self.pending.take() {
            self.samples = p.it.collect_between(p.mint, p.maxt);
        }
        self.samples.len()
    }
}

/// Fewest samples (estimated) worth decoding on more than one thread.
const PARALLEL_MIN_SAMPLES: usize = 100_000;

/// `f` over contiguous parts of `series`, on several threads when they
/// hold many samples, with the parts' results in order.
pub(crate) fn in_parts<R: Send>(
    series: &mut [LoadedSeries],
    f: impl Fn(&mut [LoadedSeries]) -> R + Sync,
) -> Vec<R> {
    let per = part_len(series);
    on_threads(series.chunks_mut(per).collect(), f)
}

/// How many series each part of `series` takes in [`in_parts`] (the last
/// may take fewer): all of them when one thread is enough.
pub(crate) fn part_len(series: &[LoadedSeries]) -> usize {
    series.len().div_ceil(threads_for(series)).max(1)
}

/// How many threads to give `series`: more than one only when they hold
/// many samples.
fn threads_for(series: &[LoadedSeries]) -> usize {
    let most = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
        .min(series.len());
    // the samples are counted only as far as it takes to use every thread
    let enough = PARALLEL_MIN_SAMPLES * most.saturating_sub(1);
    let mut total = 0usize;
    for s in series {
        if total >= enough {
            break;
        }
        total += s.size_estimate();
    }
    most.min(total / PARALLEL_MIN_SAMPLES + 1).max(1)
}

/// Identifies a selector node of the (immutable) tree during one query.
pub(crate) fn key(vs: &VectorSelector) -> usize {
    vs as *const VectorSelector as usize
}

/// A selector with the time range `[mint, maxt]` it needs.
struct Need<'e> {
    /// Where the loaded series are kept ([`key`] of the selector).
    key: usize,
    matchers: Cow<'e, [Matcher]>,
    mint: i64,
    maxt: i64,
    /// Only the count and sum of histograms are needed (see
    /// [`stats_only`]).
    stats: bool,
    /// The series' labels are never read (see [`labels_unread`]).
    unlabelled: bool,
}

impl<'e> Need<'e> {
    fn of(vs: &'e VectorSelector, mint: i64, maxt: i64) -> Need<'e> {
        Need {
            key: key(vs),
            matchers: Cow::Borrowed(&vs.matchers),
            mint,
            maxt,
            stats: false,
            unlabelled: false,
        }
    }
}

impl<'o> Evaluator<'o> {
    /// The time at which a node with `at` and `offset` is evaluated when the
    /// query evaluates it at `ts`.
    pub(crate) fn effective_time(&self, at: Option<AtModifier>, offset_ms: i64, ts: i64) -> i64 {
        let base = match at {
            Some(AtModifier::Timestamp(t)) => t,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            None => ts,
        };
        base.saturating_sub(offset_ms)
    }

    fn effective_range(
        &self,
        at: Option<AtModifier>,
        off: i64,
        tmin: i64,
        tmax: i64,
    ) -> (i64, i64) {
        match at {
            Some(_) => {
                let t = self.effective_time(at, off, tmin);
                (t, t)
            }
            None => (tmin.saturating_sub(off), tmax.saturating_sub(off)),
        }
    }

    fn collect<'e>(&self, e: &'e Expr, tmin: i64, tmax: i64, out: &mut Vec<Need<'e>>) {
        match e {
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
            Expr::VectorSelector(vs) => {
                let (a, b) = self.effective_range(vs.at, vs.offset_ms, tmin, tmax);
                let lb = self.opts.lookback_delta_ms;
                // a smoothed value may interpolate towards a later sample
                let b = if vs.smoothed { b.saturating_add(lb) } else { b };
                out.push(Need::of(vs, a.saturating_sub(lb), b));
            }
            Expr::MatrixSelector {
                selector, range_ms, ..
            } => {
                let (a, b) = self.effective_range(selector.at, selector.offset_ms, tmin, tmax);
                // anchored and smoothed ranges look back (and smoothed ones
                // ahead) one lookback delta for their boundary samples
                let (lb, la) = extension(selector, self.opts.lookback_delta_ms);
                let a = a.saturating_sub(*range_ms).saturating_sub(lb);
                out.push(Need::of(selector, a, b.saturating_add(la)));
            }
            Expr::Subquery {
                expr,
                range_ms,
                offset_ms,
                at,
                ..
            } => {
                let (a, b) = self.effective_range(*at, *offset_ms, tmin, tmax);
                self.collect(expr, a.saturating_sub(*range_ms), b, out);
            }
            Expr::Call { func, args } if func == "info" => {
                self.collect(&args[0], tmin, tmax, out);
                // the info series: as an instant selector at the step time,
                // over the time range of the first selector of the base
                let (s, e) = match first_selector(&args[0]) {
                    Some(vs) => self.effective_range(vs.at, vs.offset_ms, tmin, tmax),
                    None => (tmin, tmax),
                };
                out.push(Need {
                    key: super::info::data_key(args),
                    matchers: Cow::Owned(info_matchers(args.get(1))),
                    mint: s.saturating_sub(self.opts.lookback_delta_ms) + 1,
                    maxt: e,
                    stats: false,
                    unlabelled: false,
                });
            }
            Expr::Call { args, .. } => {
                for a in args {
                    self.collect(a, tmin, tmax, out);
                }
            }
            Expr::Aggregate { expr, param, .. } => {
                self.collect(expr, tmin, tmax, out);
                if let Some(p) = param {
                    self.collect(p, tmin, tmax, out);
                }
            }
            Expr::Binary { lhs, rhs, .. } => {
                self.collect(lhs, tmin, tmax, out);
                self.collect(rhs, tmin, tmax, out);
            }
            Expr::Unary { expr, .. } | Expr::Paren(expr) => self.collect(expr, tmin, tmax, out),
        }
    }

    /// The needs of every selector in `expr` for evaluation times
    /// `[self.start, self.end]`, and the time range they span together
    /// (`None`: no selector).
    fn needs<'e>(&self, expr: &'e Expr) -> (Vec<Need<'e>>, Option<(i64, i64)>) {
        let mut needs = Vec::new();
        self.collect(expr, self.start, self.end, &mut needs);
        let mint = needs.iter().map(|n| n.mint).min();
        let maxt = needs.iter().map(|n| n.maxt).max();
        let range = mint.zip(maxt);
        (needs, range)
    }

    /// The time range to open a querier over for [`Evaluator::load`]
    /// (`None`: nothing to load).
    pub(crate) fn load_range(&self, expr: &Expr) -> Option<(i64, i64)> {
        self.needs(expr).1
    }

    /// Selects the series of every selector in `expr` from `querier`
    /// (opened over [`Evaluator::load_range`]), their float samples left
    /// pending.
    pub(crate) fn load(&mut self, querier: &'o dyn Querier, expr: &Expr) -> Result<(), Error> {
        let (mut needs, _) = self.needs(expr);
        let mut stats = std::collections::HashSet::new();
        stats_only(expr, false, false, &mut stats);
        let mut unlabelled = std::collections::HashSet::new();
        labels_unread(expr, &mut unlabelled);
        for n in &mut needs {
            n.stats = stats.contains(&n.key);
            n.unlabelled = unlabelled.contains(&n.key);
        }
        let mut data: HashMap<usize, Vec<LoadedSeries<'o>>> = HashMap::new();
        for need in needs {
            let selected = if need.unlabelled {
                querier.select_lazy_unlabelled(&need.matchers)?
            } else {
                querier.select_lazy(&need.matchers)?
            };
            let mut out = Vec::with_capacity(selected.len());
            for (i, s) in selected.into_iter().enumerate() {
                if i % 1024 == 1023 {
                    self.check_deadline()?;
                }
                let mut hists: Vec<HistogramSample> = s
                    .histograms
                    .into_iter()
                    .filter(|(t, _)| *t >= need.mint && *t <= need.maxt)
                    .collect();
                if need.stats {
                    hists = counts_and_sums(hists);
                }
                self.account(hists.len())?;
                self.has_histograms |= !hists.is_empty();
                if s.samples.max_len() == Some(0) && hists.is_empty() {
                    continue;
                }
                out.push(LoadedSeries {
                    labels: s.labels,
                    samples: Vec::new(),
                    hists,
                    pending: Some(Pending {
                        it: s.samples,
                        mint: need.mint,
                        maxt: need.maxt,
                    }),
                });
            }
            data.insert(need.key, out);
        }
        self.data = data;
        Ok(())
    }

    /// Decodes the samples still pending (those the whole-range evaluation
    /// did not take), in parallel when there are many, and drops the
    /// series without samples in their selector's range.
    pub(crate) fn materialize(&mut self) -> Result<(), Error> {
        let deadline = self.deadline;
        let mut decoded = 0usize;
        for series in self.data.values_mut() {
            if series.iter().all(|s| s.pending.is_none()) {
                series.retain(|s| !s.samples.is_empty() || !s.hists.is_empty());
                continue;
            }
            let work = |part: &mut [LoadedSeries]| -> Result<usize, Error> {
                let mut n = 0usize;
                for (k, s) in part.iter_mut().enumerate() {
                    if k % 1024 == 1023 && Instant::now() > deadline {
                        return Err(Error::Timeout);
                    }
                    n += s.decode();
                }
                Ok(n)
            };
            for n in in_parts(series, work) {
                decoded += n?;
            }
            series.retain(|s| !s.samples.is_empty() || !s.hists.is_empty());
        }
        self.account(decoded)
    }
}

/// Collects the keys of the selectors of which only the count and sum of
/// histograms are needed: those inside `histogram_count`, `_sum` or
/// `_avg` with no subquery, trim operator or function that needs the
/// buckets on the way (as Prometheus decides when it may decode
/// histograms without their buckets).
fn stats_only(e: &Expr, stat: bool, blocked: bool, out: &mut std::collections::HashSet<usize>) {
    match e {
        Expr::VectorSelector(vs) | Expr::MatrixSelector { selector: vs, .. } => {
            if stat && !blocked {
                out.insert(key(vs));
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        Expr::Subquery { expr, .. } => stats_only(expr, stat, true, out),
        Expr::Unary { expr, .. } | Expr::Paren(expr) => stats_only(expr, stat, blocked, out),
        Expr::Call { func, args } => {
            let stat = stat
                || matches!(
                    func.as_str(),
                    "histogram_count" | "histogram_sum" | "histogram_avg"
                );
            let blocked = blocked
                || matches!(
                    func.as_str(),
                    "histogram_quantile" | "histogram_quantiles" | "histogram_fraction"
                );
            for a in args {
                stats_only(a, stat, blocked, out);
            }
        }
        Expr::Aggregate { expr, param, .. } => {
            stats_only(expr, stat, blocked, out);
            if let Some(p) = param {
                stats_only(p, stat, blocked, out);
            }
        }
        Expr::Binary { op, lhs, rhs, .. } => {
            let blocked = blocked || op.is_trim();
            stats_only(lhs, stat, blocked, out);
            stats_only(rhs, stat, blocked, out);
        }
    }
}

/// Whether `func` is a function of one range vector's samples alone
/// ([`Impl::Range`]: it reads no label and makes no series of its own).
fn samples_only(func: &str) -> bool {
    IMPLS
        .iter()
        .any(|(n, i)| *n == func && matches!(i, Impl::Range { .. }))
}

/// Collects the keys of the selectors whose series' labels are never
/// read: instant selectors, and range selectors under a function of
/// their samples alone ([`samples_only`]), aggregated straight into one group by an operator
/// that looks at values only (`sum`, `count`, `avg`, `min`, `max`,
/// `group`, `stddev`, `stdvar` without `by` labels or `without`). Their
/// series need not be told apart: each is one series already, and label
/// sets that a dropped name makes equal are aggregated all the same
/// (their name dropped late, as Prometheus 3 does). Smoothed and anchored
/// selectors are left out (their warnings name the metric).
fn labels_unread(e: &Expr, out: &mut std::collections::HashSet<usize>) {
    use crate::parser::AggregateOp::*;
    match e {
        Expr::Aggregate {
            op: Sum | Count | Avg | Min | Max | Group | Stddev | Stdvar,
            expr,
            grouping,
            without: false,
            ..
        } if grouping.is_empty() => {
            let mut inner: &Expr = expr;
            while let Expr::Paren(e) = inner {
                inner = e;
            }
            match inner {
                Expr::VectorSelector(vs) if !vs.smoothed => {
                    out.insert(key(vs));
                }
                Expr::Call { func, args } if samples_only(func) => {
                    for a in args {
                        match a {
                            Expr::MatrixSelector { selector: vs, .. }
                                if !vs.smoothed && !vs.anchored =>
                            {
                                out.insert(key(vs));
                            }
                            other => labels_unread(other, out),
                        }
                    }
                }
                other => labels_unread(other, out),
            }
        }
        Expr::VectorSelector(_)
        | Expr::MatrixSelector { .. }
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_) => {}
        Expr::Subquery { expr, .. } | Expr::Unary { expr, .. } | Expr::Paren(expr) => {
            labels_unread(expr, out)
        }
        Expr::Call { args, .. } => args.iter().for_each(|a| labels_unread(a, out)),
        Expr::Aggregate { expr, param, .. } => {
            labels_unread(expr, out);
            if let Some(p) = param {
                labels_unread(p, out);
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            labels_unread(lhs, out);
            labels_unread(rhs, out);
        }
    }
}

/// Histograms reduced to their count and sum, as Prometheus decodes them
/// when no buckets are needed; a histogram whose counter reset hint is
/// unknown gets "reset" or "no reset" from the one before it.
fn counts_and_sums(hists: Vec<HistogramSample>) -> Vec<HistogramSample> {
    use tsdb::histogram::{CounterResetHint, FloatHistogram};
    let mut out = Vec::with_capacity(hists.len());
    let mut last: Option<std::sync::Arc<FloatHistogram>> = None;
    for (t, h) in hists {
        let mut hint = h.counter_reset_hint;
        if hint == CounterResetHint::Unknown {
            if let Some(l) = &last {
                hint = if h.detect_reset(l) {
                    CounterResetHint::CounterReset
                } else {
                    CounterResetHint::NotCounterReset
                };
            }
        }
        let reduced = FloatHistogram {
            schema: h.schema,
            counter_reset_hint: hint,
            count: h.count,
            sum: h.sum,
            ..Default::default()
        };
        last = Some(h);
        out.push((t, std::sync::Arc::new(reduced)));
    }
    out
}

/// How far an anchored or smoothed range reaches before its start and
/// after its end.
pub(crate) fn extension(vs: &VectorSelector, lookback: i64) -> (i64, i64) {
    match (vs.anchored, vs.smoothed) {
        (_, true) => (lookback, lookback),
        (true, false) => (lookback, 0),
        _ => (0, 0),
    }
}

/// The first vector selector of `e`, depth first.
fn first_selector(e: &Expr) -> Option<&VectorSelector> {
    match e {
        Expr::VectorSelector(vs) | Expr::MatrixSelector { selector: vs, .. } => Some(vs),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => None,
        Expr::Subquery { expr, .. } | Expr::Unary { expr, .. } | Expr::Paren(expr) => {
            first_selector(expr)
        }
        Expr::Call { args, .. } => args.iter().find_map(first_selector),
        Expr::Aggregate { expr, param, .. } => {
            first_selector(expr).or_else(|| param.as_deref().and_then(first_selector))
        }
        Expr::Binary { lhs, rhs, .. } => first_selector(lhs).or_else(|| first_selector(rhs)),
    }
}

/// The latest sample, float or histogram, at or before `t` and after
/// `t - lookback`, unless it is a stale marker.
pub(crate) fn latest_any(s: &LoadedSeries, t: i64, lookback: i64) -> Option<AnySample> {
    let fi = s.samples.partition_point(|s| s.0 <= t);
    let hi = s.hists.partition_point(|s| s.0 <= t);
    let f = fi.checked_sub(1).map(|i| s.samples[i]);
    let h = hi.checked_sub(1).map(|i| &s.hists[i]);
    let pick = match (f, h) {
        (Some(f), Some(h)) if h.0 > f.0 => (h.0, 0.0, Some(h.1.clone())),
        (Some(f), _) => (f.0, f.1, None),
        (None, Some(h)) => (h.0, 0.0, Some(h.1.clone())),
        (None, None) => return None,
    };
    if pick.0 <= t.saturating_sub(lookback) || (pick.2.is_none() && is_stale(pick.1)) {
        return None;
    }
    Some(pick)
}

/// A sample that may be a histogram: time, float value, histogram.
pub(crate) type AnySample = (
    i64,
    f64,
    Option<std::sync::Arc<tsdb::histogram::FloatHistogram>>,
);

/// The histogram samples in `(start, end]`.
pub(crate) fn hwindow(hists: &[HistogramSample], start: i64, end: i64) -> Vec<HistogramSample> {
    let lo = hists.partition_point(|s| s.0 <= start);
    let hi = hists.partition_point(|s| s.0 <= end);
    if lo >= hi {
        return Vec::new();
    }
    hists[lo..hi].to_vec()
}

/// The samples in `(start, end]`, without stale markers.
pub(crate) fn window(samples: &[(i64, f64)], start: i64, end: i64) -> Vec<(i64, f64)> {
    let lo = samples.partition_point(|s| s.0 <= start);
    let hi = samples.partition_point(|s| s.0 <= end);
    if lo >= hi {
        return Vec::new();
    }
    samples[lo..hi]
        .iter()
        .copied()
        .filter(|s| !is_stale(s.1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::STALE_NAN_BITS;

    #[test]
    fn lookback_and_staleness() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let s = LoadedSeries {
            labels: Labels::default(),
            samples: vec![(10, 1.0), (20, 2.0), (30, stale), (40, 4.0)],
            hists: Vec::new(),
            pending: None,
        };
        let latest = |s: &LoadedSeries, t, lookback| latest_any(s, t, lookback).map(|a| (a.0, a.1));
        assert_eq!(latest(&s, 5, 100), None);
        assert_eq!(latest(&s, 10, 100), Some((10, 1.0)));
        assert_eq!(latest(&s, 25, 100), Some((20, 2.0)));
        assert_eq!(
            latest(&s, 25, 5),
            None,
            "sample at exactly t-lookback is out"
        );
        assert_eq!(latest(&s, 26, 7), Some((20, 2.0)));
        assert_eq!(latest(&s, 35, 100), None, "stale marker hides the series");
        assert_eq!(latest(&s, 45, 100), Some((40, 4.0)));
    }

    #[test]
    fn left_open_windows() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let s = vec![(10, 1.0), (20, 2.0), (30, stale), (40, 4.0)];
        assert_eq!(window(&s, 10, 40), vec![(20, 2.0), (40, 4.0)]);
        assert_eq!(window(&s, 9, 20), vec![(10, 1.0), (20, 2.0)]);
        assert_eq!(window(&s, 40, 50), vec![]);
    }
}

#[cfg(test)]
#[path = "unlabelled_tests.rs"]
mod unlabelled_tests;
