//! OTLP histogram points as native histograms, as Prometheus 3 stores
//! them: exponential histograms on the exponential schema of their scale
//! (finer scales merged down to schema 8), and, with
//! `convert_histograms_to_nhcb`, explicit-bucket histograms with custom
//! bounds. The histograms are checked as Prometheus checks a native
//! histogram before storing it, with its messages.

use tsdb::histogram::{
    CounterResetHint, FloatHistogram, CUSTOM_BUCKETS_SCHEMA, MAX_SCHEMA, MIN_SCHEMA,
};

use super::error::HistogramError;
use super::proto::{
    ExponentialBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, FLAG_NO_RECORDED_VALUE,
};

/// The zero bucket's threshold: OTLP's `zero_threshold` is not used (as
/// in Prometheus), every zero bucket spans `[-1e-128, 1e-128]`.
pub const ZERO_THRESHOLD: f64 = 1e-128;

/// What a histogram point becomes.
#[derive(Clone, Debug, PartialEq)]
pub enum Point {
    /// A histogram sample.
    Histogram(FloatHistogram),
    /// A stale marker: the point has no recorded value.
    Stale,
}

/// A translated point and the warning it gave, if any.
pub type Converted = (Point, Option<String>);

fn hint(delta: bool) -> CounterResetHint {
    // a producer's reset detection is not known to match Prometheus's:
    // the hint is left unknown; delta points (stored as they come) are
    // marked as gauges so that their chunks are not cut at every point
    if delta {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::Unknown
    }
}

/// OTLP buckets as native buckets `down` schemas coarser than the point's
/// scale: OTLP bucket `k` holds `(base^k, base^(k+1)]`, which is native
/// bucket `k + 1`; `2^down` neighbours merge into native bucket
/// `(k >> down) + 1`. Empty buckets are left out. Also returns the sum of
/// the counts.
fn exponential_buckets(
    b: Option<&ExponentialBuckets>,
    down: u32,
) -> Result<(Vec<(i32, f64)>, u128), HistogramError> {
    let Some(b) = b else {
        return Ok((Vec::new(), 0));
    };
    let mut out: Vec<(i32, f64)> = Vec::new();
    let mut total = 0u128;
    for (i, &c) in b.bucket_counts.iter().enumerate() {
        total += u128::from(c);
        if c == 0 {
            continue;
        }
        let k = i64::from(b.offset) + i as i64;
        let idx = i32::try_from((k >> down) + 1).map_err(|_| HistogramError::BucketIndex(k))?;
        match out.last_mut() {
            Some(last) if last.0 == idx => last.1 += c as f64,
            _ => out.push((idx, c as f64)),
        }
    }
    Ok((out, total))
}

/// Prometheus's check of the count against the buckets: equal, or at
/// least the buckets' total when the sum is NaN.
fn check_count(in_buckets: u128, count: u64, sum: f64) -> Result<(), HistogramError> {
    let count = u128::from(count);
    if sum.is_nan() {
        if in_buckets > count {
            return Err(HistogramError::CountBelowBuckets { in_buckets, count });
        }
    } else if in_buckets != count {
        return Err(HistogramError::CountNotBuckets { in_buckets, count });
    }
    Ok(())
}

/// A float as Go's `%f` writes it.
pub(super) fn go_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v:.6}")
    }
}

fn zero_count_warning(what: &str, count: u64, sum: f64) -> Option<String> {
    (count == 0 && sum != 0.0).then(|| {
        format!(
            "{what} data point has zero count, but non-zero sum: {}",
            go_f(sum)
        )
    })
}

/// An exponential histogram point as a native histogram. A scale below
/// -4 is refused with Prometheus's message; one above 8 is merged down
/// to schema 8. A point without a recorded value is a stale marker.
pub fn exponential(
    p: &ExponentialHistogramDataPoint,
    delta: bool,
) -> Result<Converted, HistogramError> {
    if p.scale < MIN_SCHEMA {
        return Err(HistogramError::Scale(p.scale));
    }
    let down = (p.scale - MAX_SCHEMA).max(0) as u32;
    let (positive, pos_total) = exponential_buckets(p.positive.as_ref(), down)?;
    let (negative, neg_total) = exponential_buckets(p.negative.as_ref(), down)?;
    if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok((Point::Stale, None));
    }
    // an absent sum is stored as 0
    let sum = p.sum.unwrap_or(0.0);
    check_count(
        pos_total + neg_total + u128::from(p.zero_count),
        p.count,
        sum,
    )?;
    let h = FloatHistogram {
        schema: p.scale.min(MAX_SCHEMA),
        counter_reset_hint: hint(delta),
        zero_threshold: ZERO_THRESHOLD,
        zero_count: p.zero_count as f64,
        count: p.count as f64,
        sum,
        positive,
        negative,
        custom_values: Vec::new(),
    };
    let warning = zero_count_warning("exponential histogram", p.count, sum);
    Ok((Point::Histogram(h), warning))
}

/// An explicit-bucket histogram point as a native histogram with custom
/// bounds (the explicit bounds; OTLP's last bucket, up to `+Inf`, is the
/// implicit last one of custom bounds too). A point without a recorded
/// value is a stale marker.
pub fn custom_buckets(p: &HistogramDataPoint, delta: bool) -> Result<Converted, HistogramError> {
    let bounds = &p.explicit_bounds;
    let mut prev = f64::NEG_INFINITY;
    for (i, &b) in bounds.iter().enumerate() {
        if b.is_nan() {
            return Err(HistogramError::NanBound);
        }
        if i > 0 && b <= prev {
            return Err(HistogramError::Unordered { prev, bound: b });
        }
        prev = b;
    }
    if prev == f64::INFINITY {
        return Err(HistogramError::InfBound);
    }
    // the buckets from the first one that is not empty to the last one
    let first = p.bucket_counts.iter().position(|&c| c != 0);
    let spanned = first.map_or(0, |_| p.bucket_counts.len());
    if bounds.len() + 1 < spanned {
        return Err(HistogramError::TooFewBounds {
            bounds: bounds.len(),
            spanned,
        });
    }
    if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok((Point::Stale, None));
    }
    let sum = p.sum.unwrap_or(0.0);
    let total: u128 = p.bucket_counts.iter().map(|&c| u128::from(c)).sum();
    check_count(total, p.count, sum)?;
    let positive = p
        .bucket_counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c != 0)
        .map(|(i, &c)| (i as i32, c as f64))
        .collect();
    let h = FloatHistogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        counter_reset_hint: hint(delta),
        zero_threshold: 0.0,
        zero_count: 0.0,
        count: p.count as f64,
        sum,
        positive,
        negative: Vec::new(),
        custom_values: bounds.clone(),
    };
    let warning = zero_count_warning("histogram", p.count, sum);
    Ok((Point::Histogram(h), warning))
}
