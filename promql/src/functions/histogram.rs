//! `histogram_quantile` over classic histograms (`le` bucket series), and
//! the bucket grouping shared with [`super::histogram_more`].

use std::collections::HashMap;

use tsdb::labels::{Labels, METRIC_NAME};

use super::{Annotations, FnCtx};
use crate::engine::format_value;
use crate::error::Error;
use crate::value::{Sample, StepValue};

use super::native;

const BUCKET_LABEL: &str = "le";

/// Relative difference below which two bucket counts are considered equal
/// (floating-point noise from e.g. `rate`).
const SMALL_DELTA: f64 = 1e-12;

/// One cumulative bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bucket {
    pub upper: f64,
    pub count: f64,
}

fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    let norm = (a.abs() + b.abs()).min(f64::MAX);
    if a == 0.0 || b == 0.0 || norm < f64::MIN_POSITIVE {
        return diff < eps * f64::MIN_POSITIVE;
    }
    diff / norm < eps
}

/// The `q` quantile of cumulative `buckets`; the flag says whether the
/// counts had to be made monotonic.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [Bucket]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return (f64::NAN, false),
    }
    // merge buckets with the same bound
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    let mut forced = false;
    let mut prev = merged[0].count;
    for b in merged.iter_mut().skip(1) {
        let cur = b.count;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, SMALL_DELTA) {
            b.count = prev;
            continue;
        }
        if cur < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    let n = merged.len();
    if n < 2 {
        return (f64::NAN, forced);
    }
    let observations = merged[n - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = merged[..n - 1].partition_point(|b| b.count < rank);
    if b == n - 1 {
        return (merged[n - 2].upper, forced);
    }
    if b == 0 && merged[0].upper <= 0.0 {
        return (merged[0].upper, forced);
    }
    let end = merged[b].upper;
    let mut count = merged[b].count;
    let mut start = 0.0;
    if b > 0 {
        start = merged[b - 1].upper;
        count -= merged[b - 1].count;
        rank -= merged[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

fn parse_le(s: &str) -> Option<f64> {
    match s.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

/// Groups bucket series by their labels without `le`, warning about
/// series whose `le` is missing or malformed.
pub(super) fn group_buckets(ann: &mut Annotations, v: Vec<Sample>) -> Vec<(Labels, Vec<Bucket>)> {
    let mut groups: Vec<(Labels, Vec<Bucket>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in v {
        let Some(upper) = s.metric.get(BUCKET_LABEL).and_then(parse_le) else {
            let name = s.metric.get(METRIC_NAME).unwrap_or("");
            let le = s.metric.get(BUCKET_LABEL).unwrap_or("");
            ann.warn(format!(
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"{le}\" for metric name \"{name}\""
            ));
            continue;
        };
        let key = s.metric.without(&[BUCKET_LABEL]);
        let b = Bucket { upper, count: s.v };
        match index.get(&key) {
            Some(&i) => groups[i].1.push(b),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![b]));
            }
        }
    }
    groups
}

/// Splits native histogram samples from the float ones (the classic
/// buckets); a native histogram with the same labels as a classic
/// bucket group is left out with both, as a mix.
pub(super) fn split_natives(ann: &mut Annotations, v: Vec<Sample>) -> (Vec<Sample>, Vec<Sample>) {
    let (natives, floats): (Vec<Sample>, Vec<Sample>) = v.into_iter().partition(|s| s.h.is_some());
    if natives.is_empty() || floats.is_empty() {
        return (natives, floats);
    }
    let classic: std::collections::HashSet<Labels> = floats
        .iter()
        .map(|s| s.metric.without(&[BUCKET_LABEL]))
        .collect();
    let mut mixed = std::collections::HashSet::new();
    let natives: Vec<Sample> = natives
        .into_iter()
        .filter(|s| {
            if classic.contains(&s.metric) {
                mixed.insert(s.metric.clone());
                false
            } else {
                true
            }
        })
        .collect();
    let mut floats_out = Vec::with_capacity(floats.len());
    for s in floats {
        let key = s.metric.without(&[BUCKET_LABEL]);
        if mixed.contains(&key) {
            continue;
        }
        floats_out.push(s);
    }
    let mut mixed: Vec<Labels> = mixed.into_iter().collect();
    mixed.sort();
    for m in mixed {
        let name = m.get(METRIC_NAME).unwrap_or("");
        ann.warn(format!(
            "PromQL warning: vector contains a mix of classic and native histograms for metric name \"{name}\""
        ));
    }
    (natives, floats_out)
}

/// Reports NaN observations met by a quantile or fraction.
pub(super) fn nan_notes(ann: &mut Annotations, func: &str, name: &str, notes: &native::Notes) {
    if notes.nan_result {
        ann.info(format!(
            "PromQL info: input to {func} has NaN observations, result is NaN for metric name \"{name}\""
        ));
    }
    if notes.nan_skew {
        let what = if func == "histogram_fraction" {
            "which are excluded from all fractions"
        } else {
            "result is skewed higher"
        };
        ann.info(format!(
            "PromQL info: input to {func} has NaN observations, {what} for metric name \"{name}\""
        ));
    }
}

/// Warns about a quantile outside `[0, 1]`.
pub(super) fn check_quantile(ann: &mut Annotations, q: f64) {
    if !(0.0..=1.0).contains(&q) {
        ann.warn(format!(
            "PromQL warning: quantile value should be between 0 and 1, got {}",
            format_value(q)
        ));
    }
}

/// Reports buckets that had to be made monotonic.
pub(super) fn monotonicity_info(ann: &mut Annotations, metric: &Labels) {
    let name = metric.get(METRIC_NAME).unwrap_or("");
    ann.info(format!(
        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"{name}\""
    ));
}

pub(super) fn histogram_quantile(
    ctx: &mut FnCtx<'_>,
    mut args: Vec<StepValue>,
) -> Result<StepValue, Error> {
    if args.len() < 2 {
        return Err(Error::exec("histogram_quantile needs two arguments"));
    }
    let q = super::scalar(&args, 0)?;
    let v = super::take_vector(&mut args, 1)?;
    let ann = &mut *ctx.notes;
    check_quantile(ann, q);
    let (natives, v) = split_natives(ann, v);
    let mut out = Vec::with_capacity(natives.len());
    for s in natives {
        let mut notes = native::Notes::default();
        let Some(h) = s.h.as_deref() else { continue };
        let r = native::quantile(q, h, &mut notes);
        nan_notes(ann, "histogram_quantile", native::name_of(&s), &notes);
        out.push(Sample {
            metric: s.metric,
            v: r,
            h: None,
            drop_name: true,
        });
    }
    let groups = group_buckets(ann, v);
    for (metric, mut buckets) in groups {
        let (v, forced) = bucket_quantile(q, &mut buckets);
        if forced {
            monotonicity_info(ann, &metric);
        }
        out.push(Sample {
            metric,
            v,
            h: None,
            drop_name: true,
        });
    }
    Ok(StepValue::Vector(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    #[test]
    fn quantiles() {
        let inf = f64::INFINITY;
        let mut h = b(&[(0.1, 10.0), (0.5, 20.0), (inf, 20.0)]);
        assert_eq!(bucket_quantile(0.5, &mut h).0, 0.1);
        assert!((bucket_quantile(0.75, &mut h).0 - 0.3).abs() < 1e-12);
        // rank lands in the +Inf bucket: the highest finite bound
        let mut h = b(&[(1.0, 1.0), (inf, 10.0)]);
        assert_eq!(bucket_quantile(0.9, &mut h).0, 1.0);
        // no +Inf bucket
        assert!(bucket_quantile(0.5, &mut b(&[(1.0, 1.0)])).0.is_nan());
        // empty histogram
        assert!(bucket_quantile(0.5, &mut b(&[(1.0, 0.0), (inf, 0.0)]))
            .0
            .is_nan());
        // out-of-range q
        assert_eq!(bucket_quantile(2.0, &mut h).0, inf);
        assert_eq!(bucket_quantile(-1.0, &mut h).0, -inf);
        // non-monotonic input is fixed and reported
        let mut h = b(&[(1.0, 5.0), (2.0, 3.0), (inf, 10.0)]);
        let (v, forced) = bucket_quantile(0.5, &mut h);
        assert!(forced);
        assert_eq!(v, 1.0);
        // first bucket with a non-positive bound
        let mut h = b(&[(-1.0, 5.0), (inf, 10.0)]);
        assert_eq!(bucket_quantile(0.1, &mut h).0, -1.0);
    }
}
