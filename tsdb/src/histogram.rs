//! Native histograms as queries see them: float bucket counts on an
//! exponential schema (-4 to 8) or on custom bounds (schema -53).
//!
//! Buckets are kept sparse, as `(index, count)` pairs in index order, on
//! each side of the zero bucket. Bucket `i` of an exponential schema `s`
//! holds observations in `(2^((i-1)·2^-s), 2^(i·2^-s)]` (mirrored for the
//! negative side); bucket `i` of a custom-bound histogram holds
//! `(bounds[i-1], bounds[i]]`, the last one up to `+Inf`. The arithmetic
//! (adding histograms of different resolutions and zero buckets, counter
//! reset detection, reconciling differing custom bounds) follows the rules
//! of Prometheus's float histograms, so PromQL answers the same.

mod error;
mod kahan;
mod spans;
mod trim;

pub use error::{ClassicError, SpansError};
pub use kahan::{kahan_add, KahanSum};
pub use spans::{buckets_from_spans, counts_from_deltas, deltas_of, spans_of};

/// The schema of histograms with custom bucket bounds.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// The coarsest exponential schema.
pub const MIN_SCHEMA: i32 = -4;
/// The finest exponential schema.
pub const MAX_SCHEMA: i32 = 8;

/// What the producer of a histogram said about counter resets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CounterResetHint {
    /// Nothing is known: detect it from the previous histogram.
    #[default]
    Unknown,
    /// A counter reset happened right before this histogram.
    CounterReset,
    /// No counter reset happened since the previous histogram.
    NotCounterReset,
    /// A gauge histogram: counts go up and down.
    Gauge,
}

/// One bucket with its bounds, as iterators hand them out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Whether `lower` itself belongs to the bucket (only the zero bucket
    /// and negative buckets).
    pub lower_inclusive: bool,
    /// Whether `upper` itself belongs to the bucket.
    pub upper_inclusive: bool,
    /// Observations in the bucket.
    pub count: f64,
    /// The bucket's index (0 for the zero bucket).
    pub index: i32,
}

/// Why two histograms cannot be combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incompatible {
    /// One has exponential buckets, the other custom ones.
    Schema,
}

/// What adding or subtracting histograms ran into, besides the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Combined {
    /// One said "counter reset", the other "no counter reset".
    pub counter_reset_collision: bool,
    /// Custom bounds differed and were reduced to the common ones.
    pub bounds_reconciled: bool,
}

/// A native histogram with float counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatHistogram {
    /// -4 to 8 for exponential buckets, [`CUSTOM_BUCKETS_SCHEMA`] for
    /// custom bounds.
    pub schema: i32,
    /// The counter reset hint.
    pub counter_reset_hint: CounterResetHint,
    /// Observations with an absolute value at most this go to the zero
    /// bucket (exponential schemas only).
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// All observations.
    pub count: f64,
    /// The sum of all observations.
    pub sum: f64,
    /// Positive buckets (all buckets for custom bounds), `(index, count)`
    /// in index order.
    pub positive: Vec<(i32, f64)>,
    /// Negative buckets, `(index, count)` in index order (bucket `i` holds
    /// `[-upper(i), -upper(i-1))`).
    pub negative: Vec<(i32, f64)>,
    /// The upper bounds of the custom buckets but the last (`+Inf`),
    /// ascending.
    pub custom_values: Vec<f64>,
}

/// The upper bound of bucket `idx` of exponential schema `schema`.
pub fn exponential_bound(idx: i32, schema: i32) -> f64 {
    // the bucket whose bound would be just past f64::MAX counts up to it;
    // the one after it holds the infinities
    let exp2 = |e: i64| -> f64 {
        if e >= 1024 {
            f64::INFINITY
        } else if e < -1074 {
            0.0
        } else {
            2f64.powi(e as i32)
        }
    };
    if schema <= 0 {
        let e = (idx as i64) << (-schema);
        if e == 1024 {
            return f64::MAX;
        }
        return exp2(e);
    }
    let per = 1i64 << schema;
    let i = idx as i64;
    let whole = i.div_euclid(per);
    let frac = i.rem_euclid(per);
    if frac == 0 {
        if whole == 1024 {
            return f64::MAX;
        }
        return exp2(whole);
    }
    let f = 2f64.powf(frac as f64 / per as f64);
    if whole >= 1024 {
        return f64::INFINITY;
    }
    // split the power so that very small bounds stay representable
    f * exp2(whole.max(-1074))
}

/// The bucket index in schema `to` (coarser) of bucket `idx` of schema
/// `from`.
fn target_index(idx: i32, from: i32, to: i32) -> i32 {
    ((idx - 1) >> (from - to)) + 1
}

/// Adds (or subtracts) `b` into `a`, both sparse and in index order,
/// leaving out buckets of `b` that `skip` refuses.
fn merge(a: &[(i32, f64)], b: &[(i32, f64)], negate: bool) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    let sign = if negate { -1.0 } else { 1.0 };
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(ia, ca)), Some(&(ib, cb))) if ia == ib => {
                out.push((ia, ca + sign * cb));
                i += 1;
                j += 1;
            }
            (Some(&(ia, ca)), Some(&(ib, _))) if ia < ib => {
                out.push((ia, ca));
                i += 1;
            }
            (Some(_), Some(&(ib, cb))) | (None, Some(&(ib, cb))) => {
                out.push((ib, sign * cb));
                j += 1;
            }
            (Some(&(ia, ca)), None) => {
                out.push((ia, ca));
                i += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// `buckets` of schema `from` merged into the coarser schema `to`.
fn reduce(buckets: &[(i32, f64)], from: i32, to: i32) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(buckets.len());
    for &(i, c) in buckets {
        let t = target_index(i, from, to);
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += c,
            _ => out.push((t, c)),
        }
    }
    out
}

/// The common bounds of two ascending custom bound lists.
fn intersect_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if a[i] < b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Custom buckets on `bounds` moved onto `to`, a subset of `bounds`.
fn map_custom(buckets: &[(i32, f64)], bounds: &[f64], to: &[f64]) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::new();
    for &(i, c) in buckets {
        let upper = bounds.get(i as usize).copied().unwrap_or(f64::INFINITY);
        let t = to.partition_point(|b| *b < upper) as i32;
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += c,
            _ => out.push((t, c)),
        }
    }
    out
}

fn bounds_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

impl FloatHistogram {
    /// Whether the histogram has custom bucket bounds.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// The upper bound of positive bucket `idx`.
    pub fn bound(&self, idx: i32) -> f64 {
        if self.uses_custom_buckets() {
            if idx < 0 {
                return f64::NEG_INFINITY;
            }
            return self
                .custom_values
                .get(idx as usize)
                .copied()
                .unwrap_or(f64::INFINITY);
        }
        exponential_bound(idx, self.schema)
    }

    /// The positive buckets with their bounds, ascending.
    pub fn positive_buckets(&self) -> impl Iterator<Item = Bucket> + '_ {
        let custom = self.uses_custom_buckets();
        self.positive.iter().map(move |&(i, c)| Bucket {
            lower: self.bound(i - 1),
            upper: self.bound(i),
            // the first custom bucket takes -Inf itself
            lower_inclusive: custom && i == 0,
            upper_inclusive: true,
            count: c,
            index: i,
        })
    }

    /// The negative buckets with their bounds, nearest to zero first.
    pub fn negative_buckets(&self) -> impl Iterator<Item = Bucket> + '_ {
        self.negative.iter().map(move |&(i, c)| Bucket {
            lower: -self.bound(i),
            upper: -self.bound(i - 1),
            lower_inclusive: true,
            upper_inclusive: false,
            count: c,
            index: i,
        })
    }

    /// The zero bucket.
    pub fn zero_bucket(&self) -> Bucket {
        Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: self.zero_count,
            index: 0,
        }
    }

    /// Every bucket from the lowest to the highest: the negative ones, the
    /// zero bucket when it holds observations, the positive ones. Bounds
    /// that reach into the zero bucket are cut at its threshold.
    pub fn all_buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::with_capacity(self.positive.len() + self.negative.len() + 1);
        let zt = self.zero_threshold;
        let clip = |mut b: Bucket| {
            if b.upper < 0.0 && b.upper > -zt {
                b.upper = -zt;
            }
            if b.lower > 0.0 && b.lower < zt {
                b.lower = zt;
            }
            b
        };
        let neg: Vec<Bucket> = self.negative_buckets().collect();
        out.extend(neg.into_iter().rev().map(clip));
        if self.zero_count > 0.0 {
            out.push(self.zero_bucket());
        }
        out.extend(self.positive_buckets().map(clip));
        out
    }

    /// Drops empty buckets.
    pub fn compact(&mut self) {
        self.positive.retain(|b| b.1 != 0.0);
        self.negative.retain(|b| b.1 != 0.0);
    }

    /// Multiplies every count and the sum by `f`; a negative factor makes
    /// it a gauge.
    pub fn mul(&mut self, f: f64) {
        self.zero_count *= f;
        self.count *= f;
        self.sum *= f;
        for b in self.positive.iter_mut().chain(self.negative.iter_mut()) {
            b.1 *= f;
        }
        if f < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
    }

    /// Divides every count and the sum by `d`; dividing by 0 leaves no
    /// buckets, a negative divisor makes it a gauge.
    pub fn div(&mut self, d: f64) {
        self.zero_count /= d;
        self.count /= d;
        self.sum /= d;
        if d == 0.0 {
            self.positive.clear();
            self.negative.clear();
            return;
        }
        for b in self.positive.iter_mut().chain(self.negative.iter_mut()) {
            b.1 /= d;
        }
        if d < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
    }

    /// Whether every count (total, zero bucket, buckets) is a whole number
    /// a float holds exactly (at most 2^53, not negative): the histogram
    /// can travel as an integer one (bucket deltas).
    pub fn has_integer_counts(&self) -> bool {
        let int = |v: f64| v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0;
        int(self.count)
            && int(self.zero_count)
            && self.positive.iter().chain(&self.negative).all(|b| int(b.1))
    }

    /// Merges buckets into the coarser exponential schema `to`.
    pub fn reduce_resolution(&mut self, to: i32) {
        if self.uses_custom_buckets() || to >= self.schema {
            return;
        }
        self.positive = reduce(&self.positive, self.schema, to);
        self.negative = reduce(&self.negative, self.schema, to);
        self.schema = to;
    }

    /// The zero count this histogram would have with a zero threshold of
    /// at least `larger`, and the threshold it would take: moved up to
    /// the upper bound of a populated bucket that `larger` falls in.
    fn zero_count_for_threshold(&self, larger: f64) -> (f64, f64) {
        let mut threshold = larger;
        if threshold == self.zero_threshold {
            return (self.zero_count, threshold);
        }
        'outer: loop {
            let mut zc = self.zero_count;
            for b in self.positive_buckets() {
                if b.lower >= threshold {
                    break;
                }
                zc += b.count;
                if b.upper > threshold {
                    if b.count != 0.0 {
                        threshold = b.upper;
                    }
                    break;
                }
            }
            for b in self.negative_buckets() {
                if b.upper <= -threshold {
                    break;
                }
                zc += b.count;
                if b.lower < -threshold {
                    if b.count != 0.0 {
                        threshold = -b.lower;
                        continue 'outer;
                    }
                    break;
                }
            }
            return (zc, threshold);
        }
    }

    /// Removes the buckets that lie inside the zero bucket (their counts
    /// are already part of the zero count).
    fn trim_into_zero_bucket(&mut self) {
        let zt = self.zero_threshold;
        let schema = self.schema;
        let lower = |i: i32| exponential_bound(i - 1, schema);
        self.positive.retain(|&(i, _)| lower(i) >= zt);
        self.negative.retain(|&(i, _)| -lower(i) <= -zt);
    }

    /// Widens the zero bucket of `self` to hold that of `other`; returns
    /// the zero count `other` would have with the common threshold.
    fn reconcile_zero_buckets(&mut self, other: &FloatHistogram) -> f64 {
        let mut other_count = other.zero_count;
        let mut other_threshold = other.zero_threshold;
        while other_threshold != self.zero_threshold {
            if self.zero_threshold > other_threshold {
                (other_count, other_threshold) =
                    other.zero_count_for_threshold(self.zero_threshold);
            }
            if other_threshold > self.zero_threshold {
                let (zc, t) = self.zero_count_for_threshold(other_threshold);
                self.zero_count = zc;
                self.zero_threshold = t;
                self.trim_into_zero_bucket();
            }
        }
        other_count
    }

    /// Sets the hint of a sum or difference of `self` and `other`; true
    /// when one said "reset" and the other "no reset".
    fn adjust_counter_reset(&mut self, other: &FloatHistogram) -> bool {
        use CounterResetHint::*;
        let (a, b) = (self.counter_reset_hint, other.counter_reset_hint);
        if a == b || a == Gauge || a == Unknown && b != Gauge {
            return false;
        }
        if b == Gauge || b == Unknown {
            self.counter_reset_hint = b;
            return false;
        }
        self.counter_reset_hint = Unknown;
        true
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &FloatHistogram) -> Result<Combined, Incompatible> {
        self.combine(other, false)
    }

    /// Subtracts `other` from `self` (the hint is handled as for adding;
    /// PromQL's `-` makes the result a gauge itself).
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<Combined, Incompatible> {
        self.combine(other, true)
    }

    fn combine(&mut self, other: &FloatHistogram, negate: bool) -> Result<Combined, Incompatible> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(Incompatible::Schema);
        }
        let mut res = Combined {
            counter_reset_collision: self.adjust_counter_reset(other),
            bounds_reconciled: false,
        };
        let sign = if negate { -1.0 } else { 1.0 };
        if !self.uses_custom_buckets() {
            let ozc = self.reconcile_zero_buckets(other);
            self.zero_count += sign * ozc;
        }
        self.count += sign * other.count;
        self.sum += sign * other.sum;
        if self.uses_custom_buckets() {
            if bounds_match(&self.custom_values, &other.custom_values) {
                self.positive = merge(&self.positive, &other.positive, negate);
            } else {
                res.bounds_reconciled = true;
                let common = intersect_bounds(&self.custom_values, &other.custom_values);
                let a = map_custom(&self.positive, &self.custom_values, &common);
                let b = map_custom(&other.positive, &other.custom_values, &common);
                self.positive = merge(&a, &b, negate);
                self.custom_values = common;
            }
            return Ok(res);
        }
        let (mut op, mut on) = (
            std::borrow::Cow::Borrowed(&other.positive[..]),
            std::borrow::Cow::Borrowed(&other.negative[..]),
        );
        if other.schema < self.schema {
            self.reduce_resolution(other.schema);
        } else if other.schema > self.schema {
            op = reduce(&other.positive, other.schema, self.schema).into();
            on = reduce(&other.negative, other.schema, self.schema).into();
        }
        // buckets of `other` inside the common zero bucket are counted in
        // its zero count already
        let zt = self.zero_threshold;
        let schema = self.schema;
        let outside = |&&(i, _): &&(i32, f64)| exponential_bound(i, schema) > zt;
        let op: Vec<(i32, f64)> = op.iter().filter(outside).copied().collect();
        let on: Vec<(i32, f64)> = on.iter().filter(outside).copied().collect();
        self.positive = merge(&self.positive, &op, negate);
        self.negative = merge(&self.negative, &on, negate);
        Ok(res)
    }

    /// Whether `self` follows a counter reset, given the histogram before
    /// it.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            _ => {}
        }
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() {
            if !previous.uses_custom_buckets() {
                return true;
            }
            if !bounds_match(&self.custom_values, &previous.custom_values) {
                let common = intersect_bounds(&self.custom_values, &previous.custom_values);
                let a = map_custom(&self.positive, &self.custom_values, &common);
                let b = map_custom(&previous.positive, &previous.custom_values, &common);
                return buckets_decreased(&a, &b);
            }
        }
        if self.schema > previous.schema {
            return true;
        }
        if self.zero_threshold < previous.zero_threshold {
            return true;
        }
        let (prev_zc, t) = previous.zero_count_for_threshold(self.zero_threshold);
        if t != self.zero_threshold {
            return true;
        }
        if self.zero_count < prev_zc {
            return true;
        }
        if self.uses_custom_buckets() {
            return buckets_decreased(&self.positive, &previous.positive);
        }
        // the previous histogram's buckets at this schema, outside the
        // zero bucket
        let schema = self.schema;
        let zt = self.zero_threshold;
        let outside = |b: &Vec<(i32, f64)>| -> Vec<(i32, f64)> {
            b.iter()
                .filter(|(i, _)| exponential_bound(*i, schema) > zt)
                .copied()
                .collect()
        };
        let cur_p = outside(&self.positive);
        let cur_n = outside(&self.negative);
        let prev_p = outside(&reduce(&previous.positive, previous.schema, schema));
        let prev_n = outside(&reduce(&previous.negative, previous.schema, schema));
        buckets_decreased(&cur_p, &prev_p) || buckets_decreased(&cur_n, &prev_n)
    }

    /// Whether the histogram has an infinite count, sum or bucket.
    pub fn has_overflow(&self) -> bool {
        self.count.is_infinite()
            || self.sum.is_infinite()
            || self.zero_count.is_infinite()
            || self
                .positive
                .iter()
                .chain(self.negative.iter())
                .any(|b| b.1.is_infinite())
    }
}

/// Collects one classic histogram at one time (its `le` buckets, count
/// and sum) and turns it into a histogram with custom bounds: the bounds
/// are the finite `le` values, the counts the differences between
/// neighbouring cumulative buckets.
#[derive(Clone, Debug, Default)]
pub struct ClassicHistogram {
    /// `(le, cumulative count)` in `le` order.
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
    err: Option<ClassicError>,
}

impl ClassicHistogram {
    /// Sets the cumulative count of the bucket with upper bound `le`.
    pub fn set_bucket(&mut self, le: f64, count: f64) {
        if self.err.is_some() {
            return;
        }
        if count < 0.0 {
            self.err = Some(ClassicError::NegativeBucket { le, count });
            return;
        }
        let i = self.buckets.partition_point(|b| b.0 < le);
        if self.buckets.get(i).is_some_and(|b| b.0 == le) {
            self.buckets[i].1 = count;
        } else {
            self.buckets.insert(i, (le, count));
        }
        let ok = (i == 0 || self.buckets[i - 1].1 <= count)
            && self.buckets.get(i + 1).is_none_or(|b| count <= b.1);
        if !ok {
            self.err = Some(ClassicError::NotCumulative { le, count });
        }
    }

    /// Sets the count of observations.
    pub fn set_count(&mut self, count: f64) {
        if count < 0.0 && self.err.is_none() {
            self.err = Some(ClassicError::NegativeCount(count));
        }
        self.count = Some(count);
    }

    /// Sets the sum of observations.
    pub fn set_sum(&mut self, sum: f64) {
        self.sum = sum;
    }

    /// The histogram with custom bounds, or why there is none.
    pub fn convert(&self) -> Result<FloatHistogram, ClassicError> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        let mut buckets = self.buckets.clone();
        let count = match (self.count, buckets.last()) {
            (Some(c), _) => c,
            (None, Some(b)) => b.1,
            (None, None) => 0.0,
        };
        if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
            buckets.push((f64::INFINITY, count));
        }
        let last = buckets[buckets.len() - 1].1;
        if count != last {
            return Err(ClassicError::CountMismatch { count, inf: last });
        }
        let mut h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count,
            sum: self.sum,
            ..Default::default()
        };
        let mut prev = 0.0;
        for (i, &(le, c)) in buckets.iter().enumerate() {
            h.positive.push((i as i32, c - prev));
            prev = c;
            if le != f64::INFINITY {
                h.custom_values.push(le);
            }
        }
        h.compact();
        Ok(h)
    }
}

/// Samples a histogram chunk holds at most; the next one starts a chunk.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// Whether `h`, appended after `prev` in the same series, starts a new
/// chunk: a counter reset, a change between counter and gauge, or a
/// bucket layout (schema, zero threshold, custom bounds) a chunk cannot
/// hold together.
pub fn starts_new_chunk(prev: &FloatHistogram, h: &FloatHistogram) -> bool {
    let gauge = |x: &FloatHistogram| x.counter_reset_hint == CounterResetHint::Gauge;
    if gauge(prev) != gauge(h)
        || prev.schema != h.schema
        || prev.zero_threshold != h.zero_threshold
        || !bounds_match(&prev.custom_values, &h.custom_values)
    {
        return true;
    }
    if gauge(h) {
        return false;
    }
    if h.counter_reset_hint == CounterResetHint::CounterReset {
        return true;
    }
    let mut probe = h.clone();
    probe.counter_reset_hint = CounterResetHint::Unknown;
    probe.detect_reset(prev)
}

/// The counter reset hint a stored histogram reads back with, as
/// Prometheus's chunks give it: gauge in a gauge chunk; for counters
/// "unknown" for the first of a chunk (the chunk before may be gone), "no
/// reset" for the others.
pub fn read_back_hint(h: &FloatHistogram, first_in_chunk: bool) -> CounterResetHint {
    if h.counter_reset_hint == CounterResetHint::Gauge {
        CounterResetHint::Gauge
    } else if first_in_chunk {
        CounterResetHint::Unknown
    } else {
        CounterResetHint::NotCounterReset
    }
}

/// Whether a bucket of `prev` holds more than the same bucket of `cur`
/// (a missing bucket holding 0).
fn buckets_decreased(cur: &[(i32, f64)], prev: &[(i32, f64)]) -> bool {
    let mut j = 0;
    for &(i, pc) in prev {
        while j < cur.len() && cur[j].0 < i {
            j += 1;
        }
        let cc = match cur.get(j) {
            Some(&(ci, cc)) if ci == i => cc,
            _ => 0.0,
        };
        if cc < pc {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(schema: i32, pos: &[(i32, f64)]) -> FloatHistogram {
        let count = pos.iter().map(|b| b.1).sum();
        FloatHistogram {
            schema,
            count,
            positive: pos.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn bounds() {
        assert_eq!(exponential_bound(0, 0), 1.0);
        assert_eq!(exponential_bound(1, 0), 2.0);
        assert_eq!(exponential_bound(-1, 0), 0.5);
        assert_eq!(exponential_bound(1, -2), 16.0);
        assert!((exponential_bound(1, 1) - 2f64.sqrt()).abs() < 1e-15);
        assert!((exponential_bound(-3, 2) - 2f64.powf(-0.75)).abs() < 1e-15);
        assert_eq!(exponential_bound(1024, 0), f64::MAX);
        assert_eq!(exponential_bound(1025, 0), f64::INFINITY);
    }

    #[test]
    fn add_reduces_to_the_coarser_schema() {
        let mut a = h(1, &[(1, 1.0), (2, 2.0)]);
        let b = h(0, &[(1, 4.0)]);
        a.add(&b).unwrap();
        // schema 1 buckets 1 and 2 are both in schema 0 bucket 1
        assert_eq!(a.schema, 0);
        assert_eq!(a.positive, vec![(1, 7.0)]);
        assert_eq!(a.count, 7.0);
    }

    #[test]
    fn zero_buckets_are_widened() {
        let mut a = h(0, &[(0, 1.0), (2, 1.0)]);
        a.zero_threshold = 0.001;
        let mut b = h(0, &[(3, 1.0)]);
        b.zero_threshold = 1.0;
        b.zero_count = 2.0;
        a.add(&b).unwrap();
        // a's bucket (0.5, 1] moves into the zero bucket of threshold 1
        assert_eq!(a.zero_threshold, 1.0);
        assert_eq!(a.zero_count, 3.0);
        assert_eq!(a.positive, vec![(2, 1.0), (3, 1.0)]);
    }

    #[test]
    fn custom_bounds_are_reconciled() {
        let mut a = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![1.0, 2.0, 5.0],
            positive: vec![(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0)],
            ..Default::default()
        };
        let b = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![2.0, 10.0],
            positive: vec![(0, 1.0), (1, 1.0), (2, 1.0)],
            ..Default::default()
        };
        let r = a.add(&b).unwrap();
        assert!(r.bounds_reconciled);
        assert_eq!(a.custom_values, vec![2.0]);
        assert_eq!(a.positive, vec![(0, 4.0), (1, 9.0)]);
        let mut e = h(0, &[]);
        assert_eq!(e.add(&b), Err(Incompatible::Schema));
    }

    #[test]
    fn resets() {
        let prev = h(0, &[(1, 2.0), (2, 2.0)]);
        assert!(!h(0, &[(1, 2.0), (2, 3.0)]).detect_reset(&prev));
        assert!(h(0, &[(1, 1.0), (2, 5.0)]).detect_reset(&prev));
        assert!(h(0, &[(2, 5.0)]).detect_reset(&prev));
        assert!(h(1, &[(2, 2.0), (4, 3.0)]).detect_reset(&prev));
        // a coarser schema holds the same buckets merged
        let fine = h(1, &[(1, 1.0), (2, 1.0)]);
        assert!(!h(0, &[(1, 2.0)]).detect_reset(&fine));
    }

    #[test]
    fn kahan_sum_keeps_small_values() {
        let mut a = h(0, &[(1, 1.0)]);
        a.sum = 1e100;
        let mut b = h(0, &[(1, 1.0)]);
        b.sum = 1.0;
        let mut c = h(0, &[(2, 1.0)]);
        c.sum = -1e100;
        let mut k = KahanSum::new(&a);
        k.add(&b).unwrap();
        k.add(&c).unwrap();
        let v = k.value();
        assert_eq!(v.sum, 1.0);
        assert_eq!(v.positive, vec![(1, 2.0), (2, 1.0)]);
        let mut plain = a.clone();
        plain.add(&b).unwrap();
        plain.add(&c).unwrap();
        assert_eq!(plain.sum, 0.0);
    }

    #[test]
    fn all_buckets_in_order() {
        let mut x = h(0, &[(1, 1.0)]);
        x.negative = vec![(0, 2.0), (1, 3.0)];
        x.zero_count = 1.0;
        x.zero_threshold = 0.1;
        let b = x.all_buckets();
        let bounds: Vec<(f64, f64)> = b.iter().map(|b| (b.lower, b.upper)).collect();
        assert_eq!(
            bounds,
            vec![(-2.0, -1.0), (-1.0, -0.5), (-0.1, 0.1), (1.0, 2.0)]
        );
    }
}
