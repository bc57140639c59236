//! Functions of native histogram samples: `histogram_count`, `_sum`,
//! `_avg`, `_stddev`, `_stdvar`, and the native side of
//! `histogram_quantile` and `histogram_fraction`.

use std::sync::Arc;

use tsdb::histogram::FloatHistogram;
use tsdb::labels::METRIC_NAME;

use super::{Annotations, FnCtx};
use crate::error::Error;
use crate::value::{Sample, StepValue};

/// Applies `f` to every histogram sample of the single vector argument;
/// float samples are left out, the metric name dropped.
fn per_histogram(
    mut args: Vec<StepValue>,
    f: fn(&FloatHistogram) -> f64,
) -> Result<StepValue, Error> {
    if args.is_empty() {
        return Err(Error::exec("missing argument"));
    }
    let v = super::take_vector(&mut args, 0)?;
    let out = v
        .into_iter()
        .filter_map(|s| {
            let h = s.h.as_deref()?;
            Some(Sample {
                v: f(h),
                metric: s.metric,
                h: None,
                drop_name: true,
            })
        })
        .collect();
    Ok(StepValue::Vector(out))
}

type R = Result<StepValue, Error>;

pub(super) fn histogram_count(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    per_histogram(args, |h| h.count)
}

pub(super) fn histogram_sum(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    per_histogram(args, |h| h.sum)
}

pub(super) fn histogram_avg(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    per_histogram(args, |h| h.sum / h.count)
}

pub(super) fn histogram_stdvar(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    per_histogram(args, variance)
}

pub(super) fn histogram_stddev(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    per_histogram(args, |h| variance(h).sqrt())
}

/// The variance of the observations, each taken at its bucket's middle:
/// the arithmetic middle for custom bounds, 0 in the zero bucket, the
/// geometric middle of exponential buckets.
fn variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for b in h.all_buckets() {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let m = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 {
                -m
            } else {
                m
            }
        };
        let d = val - mean;
        (sum, c) = crate::engine::kahan_add(b.count * d * d, sum, c);
    }
    (sum + c) / h.count
}

/// What a quantile or fraction of a histogram ran into.
#[derive(Default)]
pub(super) struct Notes {
    /// NaN observations made the result NaN.
    pub nan_result: bool,
    /// NaN observations skewed the result.
    pub nan_skew: bool,
}

/// The `q` quantile of the observations in `h`: the bucket that holds it,
/// interpolated within (exponentially in exponential buckets).
pub(super) fn quantile(q: f64, h: &FloatHistogram, notes: &mut Notes) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let forward = h.sum.is_nan() || q < 0.5;
    let mut buckets = h.all_buckets();
    if !forward {
        buckets.reverse();
    }
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut idx = buckets.len();
    let mut bucket = None;
    for (i, b) in buckets.iter().enumerate() {
        bucket = Some(*b);
        idx = i + 1;
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        if count >= rank {
            break;
        }
    }
    // no bucket at all (only NaN observations): an empty one at 0
    let mut b = bucket.unwrap_or(tsdb::histogram::Bucket {
        lower: 0.0,
        upper: 0.0,
        lower_inclusive: false,
        upper_inclusive: false,
        count: 0.0,
        index: 0,
    });
    if !h.uses_custom_buckets() && b.lower < 0.0 && b.upper > 0.0 {
        if h.negative.is_empty() && !h.positive.is_empty() {
            b.lower = 0.0;
        } else if h.positive.is_empty() && !h.negative.is_empty() {
            b.upper = 0.0;
        }
    } else if h.uses_custom_buckets() {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return b.upper;
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return b.lower;
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            notes.nan_result = true;
            return f64::NAN;
        }
        return b.upper;
    }
    if forward {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    if h.sum.is_nan() {
        let rest: f64 = buckets[idx..].iter().map(|b| b.count).sum();
        if count + rest < h.count {
            notes.nan_skew = true;
        }
    }
    let fraction = rank / b.count;
    if h.uses_custom_buckets() || (b.lower <= 0.0 && b.upper >= 0.0) {
        return b.lower + (b.upper - b.lower) * fraction;
    }
    let ll = b.lower.abs().log2();
    let lu = b.upper.abs().log2();
    if b.lower > 0.0 {
        (ll + (lu - ll) * fraction).exp2()
    } else {
        -((lu + (ll - lu) * (1.0 - fraction)).exp2())
    }
}

/// The share of observations in `h` between `lower` and `upper`,
/// interpolated within the buckets the bounds fall in.
pub(super) fn fraction(lower: f64, upper: f64, h: &FloatHistogram, notes: &mut Notes) -> f64 {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let buckets = h.all_buckets();
    let (mut count, mut rank) = (0.0, 0.0);
    let (mut lower_rank, mut upper_rank) = (0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut seen = buckets.len();
    for (i, bucket) in buckets.iter().enumerate() {
        let mut b = *bucket;
        count += b.count;
        seen = i + 1;
        let mut zero_bucket = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero_bucket = true;
            if h.negative.is_empty() && !h.positive.is_empty() {
                b.lower = 0.0;
            } else if h.positive.is_empty() && !h.negative.is_empty() {
                b.upper = 0.0;
            }
        }
        let linear = h.uses_custom_buckets() || zero_bucket;
        let below = |v: f64| -> f64 {
            if linear {
                if b.lower == f64::NEG_INFINITY {
                    return b.count;
                }
                return rank + b.count * (v - b.lower) / (b.upper - b.lower);
            }
            let ll = b.lower.abs().log2();
            let lu = b.upper.abs().log2();
            let lv = v.abs().log2();
            let f = if v > 0.0 {
                (lv - ll) / (lu - ll)
            } else {
                1.0 - (lv - lu) / (ll - lu)
            };
            rank + b.count * f
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = below(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = below(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    if h.sum.is_nan() {
        count += buckets[seen..].iter().map(|b| b.count).sum::<f64>();
        if count < h.count {
            notes.nan_skew = true;
        }
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / h.count
}

/// The metric name of a sample for annotations.
pub(super) fn name_of(s: &Sample) -> &str {
    s.metric.get(METRIC_NAME).unwrap_or("")
}

/// What a range function made of a series with histogram samples.
pub(super) enum RangeOut {
    /// The function works on floats only: apply it to the float samples.
    Floats,
    /// The result (none: no output element).
    Done(Option<(f64, Option<Arc<FloatHistogram>>)>),
}

/// A range function over a series that has histogram samples.
pub(super) fn range_call(
    ann: &mut Annotations,
    func: &str,
    name: &str,
    points: &[(i64, f64)],
    hpoints: &[(i64, Arc<FloatHistogram>)],
    w: &super::Window,
) -> RangeOut {
    let mixed = |ann: &mut Annotations| {
        ann.warn(format!(
            "PromQL warning: encountered a mix of histograms and floats for metric name \"{name}\""
        ));
        RangeOut::Done(None)
    };
    let n = points.len() + hpoints.len();
    match func {
        "count_over_time" => RangeOut::Done(Some((n as f64, None))),
        "present_over_time" => RangeOut::Done(Some((1.0, None))),
        "last_over_time" | "first_over_time" => {
            let last = func == "last_over_time";
            let f = if last { points.last() } else { points.first() };
            let h = if last {
                hpoints.last()
            } else {
                hpoints.first()
            };
            let pick_h = match (f, h) {
                (Some(f), Some(h)) => (h.0 > f.0) == last,
                (None, Some(_)) => true,
                _ => false,
            };
            match (pick_h, f, h) {
                (true, _, Some(h)) => RangeOut::Done(Some((0.0, Some(h.1.clone())))),
                (false, Some(f), _) => RangeOut::Done(Some((f.1, None))),
                _ => RangeOut::Done(None),
            }
        }
        "changes" | "resets" => {
            // floats and histograms in time order; a change of type counts
            let mut all: Vec<(i64, f64, Option<&Arc<FloatHistogram>>)> = points
                .iter()
                .map(|p| (p.0, p.1, None))
                .chain(hpoints.iter().map(|h| (h.0, 0.0, Some(&h.1))))
                .collect();
            all.sort_by_key(|p| p.0);
            let mut n = 0usize;
            for pair in all.windows(2) {
                let hit = match (pair[0].2, pair[1].2) {
                    (None, None) => {
                        let (a, b) = (pair[0].1, pair[1].1);
                        if func == "resets" {
                            b < a
                        } else {
                            a != b && !(a.is_nan() && b.is_nan())
                        }
                    }
                    (Some(a), Some(b)) => {
                        if func == "resets" {
                            b.detect_reset(a)
                        } else {
                            !same_histogram(a, b)
                        }
                    }
                    _ => true,
                };
                n += usize::from(hit);
            }
            RangeOut::Done(Some((n as f64, None)))
        }
        "ts_of_last_over_time" | "ts_of_first_over_time" => {
            let last = func == "ts_of_last_over_time";
            let ts = points
                .iter()
                .map(|p| p.0)
                .chain(hpoints.iter().map(|h| h.0));
            let t = if last { ts.max() } else { ts.min() };
            RangeOut::Done(t.map(|t| (t as f64 / 1000.0, None)))
        }
        "irate" | "idelta" => {
            // the last two samples of the window, floats and histograms
            let mut all: Vec<(i64, Option<&Arc<FloatHistogram>>)> = points
                .iter()
                .map(|p| (p.0, None))
                .chain(hpoints.iter().map(|h| (h.0, Some(&h.1))))
                .collect();
            all.sort_by_key(|p| p.0);
            if all.len() < 2 {
                return RangeOut::Done(None);
            }
            match (all[all.len() - 2], all[all.len() - 1]) {
                ((_, None), (_, None)) => RangeOut::Floats,
                ((t0, Some(a)), (t1, Some(b))) => {
                    use tsdb::histogram::CounterResetHint::Gauge;
                    let gauges = [a, b]
                        .iter()
                        .filter(|h| h.counter_reset_hint == Gauge)
                        .count();
                    if func == "irate" && gauges > 0 {
                        ann.warn(format!(
                            "PromQL warning: this native histogram metric is not a counter: \"{name}\""
                        ));
                    } else if func == "idelta" && gauges < 2 {
                        ann.warn(format!(
                            "PromQL warning: this native histogram metric is not a gauge: \"{name}\""
                        ));
                    }
                    let mut r = (**b).clone();
                    if func == "irate" && b.detect_reset(a) {
                        // the counter started again: its value is the increase
                    } else {
                        match r.sub(a) {
                            Err(_) => {
                                ann.warn(format!(
                                    "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"{name}\""
                                ));
                                return RangeOut::Done(None);
                            }
                            Ok(c) if c.bounds_reconciled => ann.info(
                                "PromQL info: mismatched custom buckets were reconciled during subtraction"
                                    .into(),
                            ),
                            Ok(_) => {}
                        }
                    }
                    if func == "irate" {
                        r.div((t1 - t0) as f64 / 1000.0);
                    }
                    r.counter_reset_hint = tsdb::histogram::CounterResetHint::Gauge;
                    r.compact();
                    RangeOut::Done(Some((0.0, Some(Arc::new(r)))))
                }
                _ => mixed(ann),
            }
        }
        "rate" | "increase" | "delta" => {
            if !points.is_empty() {
                return mixed(ann);
            }
            RangeOut::Done(rate(ann, func, name, hpoints, w).map(|h| (0.0, Some(Arc::new(h)))))
        }
        "sum_over_time" | "avg_over_time" => {
            if !points.is_empty() {
                return mixed(ann);
            }
            let mut notes = SumNotes::default();
            let r = sum_histograms(
                hpoints.iter().map(|(_, h)| &**h),
                func == "avg_over_time",
                &mut notes,
            );
            sum_notes(ann, &notes);
            match r {
                Some(h) => RangeOut::Done(Some((0.0, Some(Arc::new(h))))),
                None => {
                    ann.warn(format!(
                        "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"{name}\""
                    ));
                    RangeOut::Done(None)
                }
            }
        }
        _ => {
            if points.is_empty() {
                RangeOut::Done(None)
            } else {
                ann.info(format!(
                    "PromQL info: ignored histograms in a range containing both floats and histograms for metric name \"{name}\""
                ));
                RangeOut::Floats
            }
        }
    }
}

/// `rate`, `increase` or `delta` of histogram samples: the last minus the
/// first, counter resets added back (not for `delta`), extrapolated to the
/// window's edges as for floats.
fn rate(
    ann: &mut Annotations,
    func: &str,
    name: &str,
    hpoints: &[(i64, Arc<FloatHistogram>)],
    w: &super::Window,
) -> Option<FloatHistogram> {
    use tsdb::histogram::CounterResetHint::Gauge;
    let is_counter = func != "delta";
    if hpoints.len() < 2 {
        return None;
    }
    let not_counter =
        || format!("PromQL warning: this native histogram metric is not a counter: \"{name}\"");
    let mix = || {
        format!(
        "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"{name}\""
    )
    };
    let first = &hpoints[0].1;
    let last = &hpoints[hpoints.len() - 1].1;
    if is_counter && (first.counter_reset_hint == Gauge || last.counter_reset_hint == Gauge) {
        ann.warn(not_counter());
    }
    let mut prev: FloatHistogram = (**first).clone();
    let mut custom = prev.uses_custom_buckets();
    if is_counter {
        let second = &hpoints[1].1;
        if second.detect_reset(&prev) {
            prev = FloatHistogram {
                schema: second.schema,
                custom_values: second.custom_values.clone(),
                ..Default::default()
            };
            custom = second.uses_custom_buckets();
        }
    }
    if last.uses_custom_buckets() != custom {
        ann.warn(mix());
        return None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    for (_, cur) in &hpoints[1..hpoints.len() - 1] {
        if !is_counter {
            continue;
        }
        if cur.counter_reset_hint == Gauge {
            ann.warn(not_counter());
        }
        min_schema = min_schema.min(cur.schema);
        if cur.uses_custom_buckets() != custom {
            ann.warn(mix());
            return None;
        }
    }
    let mut h = (**last).clone();
    h.reduce_resolution(min_schema);
    match h.sub(&prev) {
        Err(_) => {
            ann.warn(mix());
            return None;
        }
        Ok(c) if c.bounds_reconciled => ann.info(
            "PromQL info: mismatched custom buckets were reconciled during subtraction".into(),
        ),
        Ok(_) => {}
    }
    if is_counter {
        let mut prev_ref: FloatHistogram = prev;
        for (_, cur) in &hpoints[1..] {
            if cur.detect_reset(&prev_ref) {
                match h.add(&prev_ref) {
                    Err(_) => {
                        ann.warn(mix());
                        return None;
                    }
                    Ok(c) if c.bounds_reconciled => ann.info(
                        "PromQL info: mismatched custom buckets were reconciled during addition"
                            .into(),
                    ),
                    Ok(_) => {}
                }
            }
            prev_ref = (**cur).clone();
        }
    } else if first.counter_reset_hint != Gauge || last.counter_reset_hint != Gauge {
        ann.warn(format!(
            "PromQL warning: this native histogram metric is not a gauge: \"{name}\""
        ));
    }
    // extrapolation, as for floats
    let first_t = hpoints[0].0;
    let last_t = hpoints[hpoints.len() - 1].0;
    let mut to_start = (first_t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / (hpoints.len() - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter {
        let mut to_zero = to_start;
        if h.count > 0.0 && first.count >= 0.0 {
            to_zero = sampled * (first.count / h.count);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = 1.0;
    if sampled != 0.0 {
        factor = (sampled + to_start + to_end) / sampled;
    }
    if func == "rate" {
        factor /= w.range_secs();
    }
    h.counter_reset_hint = Gauge;
    h.mul(factor);
    h.counter_reset_hint = Gauge;
    h.compact();
    Some(h)
}

/// What summing histograms ran into.
#[derive(Default)]
pub(crate) struct SumNotes {
    /// Some said "counter reset", others "no counter reset".
    pub collision: bool,
    /// Differing custom bounds were reduced to the common ones.
    pub reconciled: bool,
}

/// The sum, or with `mean` the mean, of histograms, compensated for
/// rounding; a mean switches to being updated incrementally once the sum
/// would overflow. `None` when exponential and custom buckets meet.
pub(crate) fn sum_histograms<'h>(
    hs: impl IntoIterator<Item = &'h FloatHistogram>,
    mean: bool,
    notes: &mut SumNotes,
) -> Option<FloatHistogram> {
    use tsdb::histogram::{CounterResetHint, KahanSum};
    let mut it = hs.into_iter();
    let first = it.next()?;
    let (mut reset, mut not_reset) = (false, false);
    let mut track = |h: &FloatHistogram| match h.counter_reset_hint {
        CounterResetHint::CounterReset => reset = true,
        CounterResetHint::NotCounterReset => not_reset = true,
        _ => {}
    };
    track(first);
    let mut sum = KahanSum::new(first);
    let mut avg: Option<KahanSum> = None;
    let mut count = 1.0f64;
    for h in it {
        track(h);
        count += 1.0;
        if avg.is_none() {
            let mut next = sum.clone();
            let r = next.add(h).ok()?;
            notes.reconciled |= r.bounds_reconciled;
            if !mean || !next.raw().has_overflow() {
                sum = next;
                continue;
            }
            let mut m = sum.clone();
            m.div(count - 1.0);
            avg = Some(m);
        }
        let m = avg.as_mut()?;
        m.mul((count - 1.0) / count);
        let mut part = h.clone();
        part.div(count);
        let r = m.add(&part).ok()?;
        notes.reconciled |= r.bounds_reconciled;
    }
    notes.collision |= reset && not_reset;
    Some(match avg {
        Some(m) => m.value(),
        None => {
            if mean {
                sum.div(count);
            }
            sum.value()
        }
    })
}

/// Reports what summing histograms ran into.
pub(crate) fn sum_notes(ann: &mut Annotations, notes: &SumNotes) {
    if notes.collision {
        ann.warn("PromQL warning: conflicting counter resets during histogram aggregation".into());
    }
    if notes.reconciled {
        ann.info(
            "PromQL info: mismatched custom buckets were reconciled during aggregation".into(),
        );
    }
}

/// Whether two histograms hold the same data, whatever their hints.
fn same_histogram(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let (mut x, mut y) = (a.clone(), b.clone());
    x.compact();
    y.compact();
    x.counter_reset_hint = y.counter_reset_hint;
    x == y
}
