//! Anchored and smoothed selectors over native histogram samples: the
//! boundary histograms picked or interpolated as for floats (see
//! [`super::extended`]), `rate`/`increase`/`delta` as their difference with
//! counter resets added back, and the smoothed instant selector.

use std::sync::Arc;

use tsdb::histogram::{CounterResetHint, FloatHistogram};

use super::Annotations;

/// A histogram sample.
type HPoint = (i64, Arc<FloatHistogram>);

/// Annotations of one series' evaluation, and its metric name.
pub(crate) struct Notes<'n> {
    pub name: &'n str,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl<'n> Notes<'n> {
    pub(crate) fn new(name: &'n str) -> Self {
        Notes {
            name,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    fn mix(&mut self) {
        self.warnings.push(format!(
            "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"{}\"",
            self.name
        ));
    }

    /// Hands the annotations over to the query's.
    pub(crate) fn flush(self, to: &mut Annotations) {
        for w in self.warnings {
            to.warn(w);
        }
        for i in self.infos {
            to.info(i);
        }
    }

    fn combine(&mut self, base: &mut FloatHistogram, other: &FloatHistogram, sub: bool) -> bool {
        let r = if sub {
            base.sub(other)
        } else {
            base.add(other)
        };
        match r {
            Err(_) => {
                self.mix();
                false
            }
            Ok(c) => {
                if c.bounds_reconciled {
                    let what = if sub { "subtraction" } else { "addition" };
                    self.infos.push(format!(
                        "PromQL info: mismatched custom buckets were reconciled during {what}"
                    ));
                }
                true
            }
        }
    }
}

/// The histogram at `t` on the line between two samples; for counters a
/// reset is a restart from nothing at the first sample.
fn interpolate(
    a: &HPoint,
    b: &HPoint,
    t: i64,
    counter: bool,
    notes: &mut Notes<'_>,
) -> Option<FloatHistogram> {
    if t == a.0 {
        return Some((*a.1).clone());
    }
    if t == b.0 {
        return Some((*b.1).clone());
    }
    let fraction = (t - a.0) as f64 / (b.0 - a.0) as f64;
    let mut r = (*b.1).clone();
    if counter && b.1.detect_reset(&a.1) {
        r.mul(fraction);
        return Some(r);
    }
    if !notes.combine(&mut r, &a.1, true) {
        return None;
    }
    r.mul(fraction);
    if !notes.combine(&mut r, &a.1, false) {
        return None;
    }
    Some(r)
}

/// `rate` (`per_second`), `increase` (`counter`) or `delta` of an
/// anchored or smoothed range `(start, end]` over histogram samples.
pub(crate) fn rate(
    h: &[HPoint],
    start: i64,
    end: i64,
    smoothed: bool,
    counter: bool,
    per_second: bool,
    notes: &mut Notes<'_>,
) -> Option<FloatHistogram> {
    let n = h.len();
    if n == 0 {
        return None;
    }
    let inner = &h[..n - 1];
    let first = inner.partition_point(|s| s.0 <= start).saturating_sub(1);
    let last = if smoothed {
        inner.partition_point(|s| s.0 < end)
    } else {
        n - 1
    };
    if h[last].0 <= start || (smoothed && h[first].0 > end) {
        return None;
    }
    let custom = h[first].1.uses_custom_buckets();
    for p in &h[first..=last] {
        if p.1.uses_custom_buckets() != custom {
            notes.mix();
            return None;
        }
        if counter && p.1.counter_reset_hint == CounterResetHint::Gauge {
            notes.warnings.push(format!(
                "PromQL warning: this native histogram metric is not a counter: \"{}\"",
                notes.name
            ));
        }
    }
    let left = if smoothed && h[first].0 < start {
        interpolate(&h[first], &h[first + 1], start, counter, notes)?
    } else {
        (*h[first].1).clone()
    };
    let right = if smoothed && last > 0 && h[last].0 > end {
        interpolate(&h[last - 1], &h[last], end, counter, notes)?
    } else {
        (*h[last].1).clone()
    };
    let gauge = |x: &FloatHistogram| x.counter_reset_hint == CounterResetHint::Gauge;
    if !counter && (!gauge(&left) || !gauge(&right)) {
        notes.warnings.push(format!(
            "PromQL warning: this native histogram metric is not a gauge: \"{}\"",
            notes.name
        ));
    }
    let mut result = right.clone();
    if !notes.combine(&mut result, &left, true) {
        return None;
    }
    if counter {
        // resets between the boundaries add back what was counted before
        let mut from = first + 1;
        let mut prev: &FloatHistogram = &left;
        if smoothed && h[first].0 < start && h[first + 1].1.detect_reset(&h[first].1) {
            prev = &h[first + 1].1;
            from += 1;
        }
        let mut correction: Option<FloatHistogram> = None;
        let mut add = |notes: &mut Notes<'_>, x: &FloatHistogram| -> bool {
            match &mut correction {
                None => {
                    correction = Some(x.clone());
                    true
                }
                Some(c) => notes.combine(c, x, false),
            }
        };
        if from <= last {
            for p in &h[from..last] {
                if p.1.detect_reset(prev) && !add(notes, prev) {
                    return None;
                }
                prev = &p.1;
            }
            if right.detect_reset(prev) && !add(notes, prev) {
                return None;
            }
        }
        if let Some(c) = correction {
            if !notes.combine(&mut result, &c, false) {
                return None;
            }
        }
    }
    if per_second {
        result.div((end - start) as f64 / 1000.0);
    }
    result.counter_reset_hint = CounterResetHint::Gauge;
    result.compact();
    Some(result)
}

/// The value of a smoothed instant selector at `t` from the histogram
/// samples in `(t - lookback, t + lookback]`: the sample at `t`, else
/// interpolated between its neighbours, else the last earlier one (its
/// counter reset hint cleared).
pub(crate) fn smoothed_value(
    h: &[HPoint],
    t: i64,
    notes: &mut Notes<'_>,
) -> Option<FloatHistogram> {
    let i = h.partition_point(|s| s.0 < t);
    match h.get(i) {
        Some(p) if p.0 == t => Some((*p.1).clone()),
        Some(next) if i > 0 => {
            let prev = &h[i - 1];
            if prev.1.uses_custom_buckets() != next.1.uses_custom_buckets() {
                notes.mix();
                return None;
            }
            let gauge = |x: &FloatHistogram| x.counter_reset_hint == CounterResetHint::Gauge;
            let counter = !gauge(&prev.1) || !gauge(&next.1);
            interpolate(prev, next, t, counter, notes)
        }
        None if i > 0 => {
            let mut x = (*h[i - 1].1).clone();
            x.counter_reset_hint = CounterResetHint::Unknown;
            Some(x)
        }
        _ => None,
    }
}
