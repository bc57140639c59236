//! Anchored and smoothed selectors (`rate(x[5m] anchored)`,
//! `increase(x[5m] smoothed)`, `x smoothed`): which samples they select,
//! and which functions may take them.
//!
//! Both take their samples from a window widened by the lookback delta:
//! `(start - lookback, end]` for anchored ranges, `(start - lookback,
//! end + lookback]` for smoothed ones. `rate`, `increase` and `delta` get
//! all of them and work out the range's boundary values
//! ([`crate::functions::extended`]); `changes` and `resets` get the last
//! sample at or before the range start (the anchor) and those after it. A
//! bare range selector yields the boundary values at the range's start and
//! end with the samples strictly inside; a smoothed instant selector the
//! value at the evaluation time, interpolated between the samples around
//! it.

use super::selector::{extension, hwindow, window};
use super::Evaluator;
use crate::error::Error;
use crate::functions::{self, extended, extended_hist, RangeFn, Window};
use crate::parser::{Expr, VectorSelector};
use crate::value::{Sample, Series, StepValue};

/// The functions `anchored` may be used with, sorted.
const ANCHORED_FUNCS: &[&str] = &["changes", "delta", "increase", "rate", "resets"];
/// The functions `smoothed` may be used with, sorted.
const SMOOTHED_FUNCS: &[&str] = &["delta", "increase", "rate"];

/// Keeps of a series' samples those from the anchor on: the last one at or
/// before `start` (float or histogram), and all after it; `false` when
/// none lies after `start`.
fn from_anchor(s: &mut Series, start: i64) -> bool {
    let after = s.points.last().is_some_and(|p| p.0 > start)
        || s.hpoints.last().is_some_and(|h| h.0 > start);
    if !after {
        return false;
    }
    let anchor = s
        .points
        .iter()
        .map(|p| p.0)
        .chain(s.hpoints.iter().map(|h| h.0))
        .filter(|t| *t <= start)
        .max()
        .unwrap_or(i64::MIN);
    let k = s.points.partition_point(|p| p.0 < anchor);
    s.points.drain(..k);
    let k = s.hpoints.partition_point(|h| h.0 < anchor);
    s.hpoints.drain(..k);
    true
}

/// The points of a bare anchored or smoothed range selector: the left
/// value at `start`, the samples strictly inside, the right value at `end`.
fn range_points(f: &[(i64, f64)], start: i64, end: i64, smoothed: bool) -> Vec<(i64, f64)> {
    let Some(b) = extended::bounds(f, start, end, smoothed, false) else {
        return Vec::new();
    };
    let mut out = vec![(start, b.left)];
    out.extend_from_slice(b.inner(f, start, end));
    out.push((end, b.right));
    out
}

impl Evaluator<'_> {
    /// A bare anchored or smoothed range selector `vs[range_ms]` at `ts`.
    pub(super) fn select_extended_range(
        &self,
        vs: &VectorSelector,
        range_ms: i64,
        ts: i64,
    ) -> Result<StepValue, Error> {
        let (start, end, mut series) = self.select_extended(vs, range_ms, ts)?;
        for s in &mut series {
            s.points = range_points(&s.points, start, end, vs.smoothed);
        }
        series.retain(|s| !s.points.is_empty());
        Ok(StepValue::Matrix(series))
    }

    /// Range function `name` over an anchored or smoothed range selector;
    /// only the functions Prometheus allows with each modifier.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn extended_call(
        &mut self,
        name: &str,
        how: (RangeFn, bool),
        vs: &VectorSelector,
        range_ms: i64,
        exprs: &[Expr],
        ts: i64,
        params: &[f64],
    ) -> Result<StepValue, Error> {
        let (word, allowed) = if vs.smoothed {
            ("smoothed", SMOOTHED_FUNCS)
        } else {
            ("anchored", ANCHORED_FUNCS)
        };
        if !allowed.contains(&name) {
            return Err(Error::exec(format!(
                "{word} modifier can only be used with: {} - not with {name}",
                allowed.join(", ")
            )));
        }
        let (start, end, mut series) = self.select_extended(vs, range_ms, ts)?;
        if !functions::takes_boundaries(name) {
            series.retain_mut(|s| from_anchor(s, start));
        }
        let window = Window { start, end, ts };
        let mut ctx = self.fn_ctx(exprs, ts);
        functions::extended_vector(&mut ctx, name, how, series, &window, vs.smoothed, params)
    }

    /// A smoothed instant selector at `ts`: per series the value at the
    /// evaluation time, interpolated between the samples around it.
    pub(super) fn select_smoothed(&mut self, vs: &VectorSelector, ts: i64) -> Vec<Sample> {
        let t = self.effective_time(vs.at, vs.offset_ms, ts);
        let lb = self.opts.lookback_delta_ms;
        let Some(series) = self.loaded(vs) else {
            return Vec::new();
        };
        let (lo, hi) = (t.saturating_sub(lb), t.saturating_add(lb));
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for s in series {
            let near = window(&s.samples, lo, hi);
            let hnear = hwindow(&s.hists, lo, hi);
            let name = s.labels.get(tsdb::labels::METRIC_NAME).unwrap_or("");
            let mut n = extended_hist::Notes::new(name);
            let sample = match (near.is_empty(), hnear.is_empty()) {
                (_, true) => extended::smoothed_value(&near, t).map(|v| (v, None)),
                (true, false) => extended_hist::smoothed_value(&hnear, t, &mut n)
                    .map(|h| (0.0, Some(std::sync::Arc::new(h)))),
                (false, false) => {
                    n.warnings.push(format!(
                        "PromQL warning: encountered a mix of histograms and floats for metric name \"{name}\""
                    ));
                    None
                }
            };
            notes.push((n.warnings, n.infos));
            if let Some((v, h)) = sample {
                out.push(Sample {
                    metric: s.labels.clone(),
                    v,
                    h,
                    drop_name: false,
                });
            }
        }
        for (w, i) in notes {
            w.into_iter().for_each(|w| self.warn(w));
            i.into_iter().for_each(|i| self.info(i));
        }
        self.count_queried(out.len());
        out
    }

    /// The samples of an anchored or smoothed `vs[range]` at `ts`: per
    /// series those of the window widened by the lookback delta, with the
    /// range's start and end.
    fn select_extended(
        &self,
        vs: &VectorSelector,
        range_ms: i64,
        ts: i64,
    ) -> Result<(i64, i64, Vec<Series>), Error> {
        let end = self.effective_time(vs.at, vs.offset_ms, ts);
        let start = end.saturating_sub(range_ms);
        let (before, after) = extension(vs, self.opts.lookback_delta_ms);
        let out =
            self.series_between(vs, start.saturating_sub(before), end.saturating_add(after))?;
        Ok((start, end, out))
    }
}
