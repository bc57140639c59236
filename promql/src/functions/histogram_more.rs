//! `histogram_fraction` and `histogram_quantiles` over classic histograms
//! (`le` bucket series).

use super::histogram::{bucket_quantile, check_quantile, group_buckets, monotonicity_info, Bucket};
use super::FnCtx;
use crate::error::Error;
use crate::value::{Sample, StepValue};

/// The fraction of the observations of cumulative `buckets` that lie
/// between `lower` and `upper`, interpolating linearly inside finite
/// buckets. The first bucket starts at 0 when its bound is positive, else
/// at -Inf; inside a bucket of infinite width a value counts as its
/// finite bound (so such a bucket contributes nothing partially).
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [Bucket]) -> f64 {
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    let count = merged[merged.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let mut rank = 0.0;
    let (mut lower_rank, mut upper_rank) = (None, None);
    for (i, b) in merged.iter().enumerate() {
        let lo = match i {
            0 if b.upper > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => merged[i - 1].upper,
        };
        let hi = b.upper;
        let rank_at = |v: f64| {
            if lo == f64::NEG_INFINITY {
                b.count
            } else if hi == f64::INFINITY {
                rank
            } else {
                rank + (b.count - rank) * (v - lo) / (hi - lo)
            }
        };
        if lower_rank.is_none() && lo >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lo >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_none() && lo < lower && hi > lower {
            lower_rank = Some(rank_at(lower));
        }
        if upper_rank.is_none() && lo < upper && hi > upper {
            upper_rank = Some(rank_at(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = b.count;
    }
    let lower_rank = lower_rank.filter(|r| *r <= count).unwrap_or(count);
    let upper_rank = upper_rank.filter(|r| *r <= count).unwrap_or(count);
    (upper_rank - lower_rank) / count
}

/// `histogram_fraction(lower scalar, upper scalar, buckets vector)`.
pub(super) fn histogram_fraction(
    ctx: &mut FnCtx<'_>,
    mut args: Vec<StepValue>,
) -> Result<StepValue, Error> {
    if args.len() != 3 {
        return Err(Error::exec("histogram_fraction needs three arguments"));
    }
    let lower = super::scalar(&args, 0)?;
    let upper = super::scalar(&args, 1)?;
    let v = super::take_vector(&mut args, 2)?;
    let ann = &mut *ctx.notes;
    let (natives, v) = super::histogram::split_natives(ann, v);
    let mut out = Vec::with_capacity(natives.len());
    for s in natives {
        let mut notes = super::native::Notes::default();
        let Some(h) = s.h.as_deref() else { continue };
        let r = super::native::fraction(lower, upper, h, &mut notes);
        super::histogram::nan_notes(
            ann,
            "histogram_fraction",
            super::native::name_of(&s),
            &notes,
        );
        out.push(Sample {
            metric: s.metric,
            v: r,
            h: None,
            drop_name: true,
        });
    }
    out.extend(
        group_buckets(ann, v)
            .into_iter()
            .map(|(metric, mut buckets)| Sample {
                v: bucket_fraction(lower, upper, &mut buckets),
                metric,
                h: None,
                drop_name: true,
            }),
    );
    Ok(StepValue::Vector(out))
}

/// Warns about each quantile argument of `histogram_quantiles` outside
/// `[0, 1]` once it is evaluated.
pub(super) fn check_quantiles(
    ctx: &mut FnCtx<'_>,
    i: usize,
    args: &[Option<StepValue>],
) -> Result<Option<StepValue>, Error> {
    if i >= 2 {
        if let Some(StepValue::Scalar(q)) = super::evaluated(args, i) {
            check_quantile(ctx.notes, *q);
        }
    }
    Ok(None)
}

/// `histogram_quantiles(buckets vector, label string, q scalar...)`: one
/// output series per group and quantile, the quantile in `label` (each
/// quantile checked by [`check_quantiles`]).
pub(super) fn histogram_quantiles(
    ctx: &mut FnCtx<'_>,
    mut args: Vec<StepValue>,
) -> Result<StepValue, Error> {
    if args.len() < 2 {
        return Err(Error::exec(
            "histogram_quantiles needs a vector and a label",
        ));
    }
    let v = super::take_vector(&mut args, 0)?;
    let label = super::string(&args, 1)?.to_string();
    let quantiles = (2..args.len())
        .map(|i| super::scalar(&args, i))
        .collect::<Result<Vec<f64>, Error>>()?;
    let ann = &mut *ctx.notes;
    let (natives, v) = super::histogram::split_natives(ann, v);
    let mut out = Vec::new();
    for s in natives {
        let Some(h) = s.h.as_deref() else { continue };
        for &q in &quantiles {
            let mut notes = super::native::Notes::default();
            let r = super::native::quantile(q, h, &mut notes);
            super::histogram::nan_notes(
                ann,
                "histogram_quantile",
                super::native::name_of(&s),
                &notes,
            );
            out.push(Sample {
                metric: s.metric.with(&label, &format_quantile(q)),
                v: r,
                h: None,
                drop_name: true,
            });
        }
    }
    for (metric, buckets) in group_buckets(ann, v) {
        let mut forced_any = false;
        for &q in &quantiles {
            let (v, forced) = bucket_quantile(q, &mut buckets.clone());
            forced_any |= forced;
            out.push(Sample {
                metric: metric.with(&label, &format_quantile(q)),
                v,
                h: None,
                drop_name: true,
            });
        }
        if forced_any {
            monotonicity_info(ann, &metric);
        }
    }
    Ok(StepValue::Vector(out))
}

/// A quantile as a label value, as Prometheus formats floats in
/// OpenMetrics: `0.0`, `0.25`, `1.0`, `NaN`, `+Inf`, `1e-05`.
fn format_quantile(q: f64) -> String {
    if q.is_nan() {
        return "NaN".into();
    }
    if q.is_infinite() {
        return if q > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let exp = if q == 0.0 {
        0
    } else {
        q.abs().log10().floor() as i32
    };
    if (-4..21).contains(&exp) {
        let s = format!("{q}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        crate::gofmt::format_e(q)
    }
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
    fn fractions() {
        let inf = f64::INFINITY;
        let pos = || b(&[(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (inf, 100.0)]);
        let neg = || b(&[(-3.0, 10.0), (-2.0, 12.0), (-1.0, 15.0), (inf, 100.0)]);
        let f = |lo, hi, mut h: Vec<Bucket>| bucket_fraction(lo, hi, &mut h);
        assert!((f(0.0, 1.5, pos()) - 0.02).abs() < 1e-12);
        assert!((f(-4.0, -2.0, neg()) - 0.02).abs() < 1e-12);
        assert!((f(-inf, -1.5, neg()) - 0.135).abs() < 1e-12);
        assert_eq!(f(-inf, inf, pos()), 1.0);
        assert_eq!(f(4.0, 5.0, pos()), 0.0);
        assert!((f(2.0, 5.0, pos()) - 0.03).abs() < 1e-12);
        assert!((f(400.0, inf, pos()) - 0.94).abs() < 1e-12);
        assert_eq!(f(3.0, 2.0, pos()), 0.0);
        assert_eq!(f(0.0, 1.0, b(&[(inf, 100.0)])), 0.0);
        assert!(f(f64::NAN, 1.0, pos()).is_nan());
        assert!(f(0.0, 1.0, b(&[(1.0, 0.0), (inf, 0.0)])).is_nan());
        assert!(f(0.0, 1.0, b(&[(1.0, 3.0)])).is_nan());
    }

    #[test]
    fn quantile_labels() {
        assert_eq!(format_quantile(0.0), "0.0");
        assert_eq!(format_quantile(1.0), "1.0");
        assert_eq!(format_quantile(0.25), "0.25");
        assert_eq!(format_quantile(-0.1), "-0.1");
        assert_eq!(format_quantile(1.01), "1.01");
        assert_eq!(format_quantile(0.00001), "1e-05");
        assert_eq!(format_quantile(f64::NAN), "NaN");
    }
}
