//! The `*_over_time` family and other functions of one series' window:
//! `changes`, `resets`, `deriv`, `predict_linear`.

use super::Window;
use crate::engine::{kahan_add, quantile as quantile_of, MeanAcc, VarAcc};

fn values(p: &[(i64, f64)]) -> Vec<f64> {
    p.iter().map(|s| s.1).collect()
}

pub(super) fn avg(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    // the same as mean(&values(p)), without the copy
    let mut acc = MeanAcc::default();
    for x in p {
        acc.add(x.1);
    }
    Some(acc.result())
}

pub(super) fn sum(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    let (s, c) = p.iter().fold((0.0, 0.0), |(s, c), x| kahan_add(x.1, s, c));
    Some(s + c)
}

pub(super) fn count(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    Some(p.len() as f64)
}

pub(super) fn min(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    let first = p.first()?.1;
    Some(
        p.iter()
            .fold(first, |m, x| if x.1 < m || m.is_nan() { x.1 } else { m }),
    )
}

pub(super) fn max(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    let first = p.first()?.1;
    Some(
        p.iter()
            .fold(first, |m, x| if x.1 > m || m.is_nan() { x.1 } else { m }),
    )
}

pub(super) fn last(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    p.last().map(|s| s.1)
}

pub(super) fn first(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    p.first().map(|s| s.1)
}

fn secs(t: i64) -> f64 {
    t as f64 / 1000.0
}

pub(super) fn ts_of_first(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    p.first().map(|s| secs(s.0))
}

pub(super) fn ts_of_last(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    p.last().map(|s| secs(s.0))
}

/// Timestamp of the sample preferred by `better(candidate, current)`.
fn ts_of_extreme(p: &[(i64, f64)], better: fn(f64, f64) -> bool) -> Option<f64> {
    let mut best = *p.first()?;
    for &s in &p[1..] {
        if better(s.1, best.1) || best.1.is_nan() {
            best = s;
        }
    }
    Some(secs(best.0))
}

pub(super) fn ts_of_max(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    ts_of_extreme(p, |a, b| a >= b)
}

pub(super) fn ts_of_min(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    ts_of_extreme(p, |a, b| a <= b)
}

pub(super) fn present(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    (!p.is_empty()).then_some(1.0)
}

fn variance_of(p: &[(i64, f64)]) -> f64 {
    // the same as variance(&values(p)), without the copy
    let mut acc = VarAcc::default();
    for x in p {
        acc.add(x.1);
    }
    acc.result()
}

pub(super) fn stdvar(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    Some(variance_of(p))
}

pub(super) fn stddev(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    Some(variance_of(p).sqrt())
}

pub(super) fn quantile(p: &[(i64, f64)], _: &Window, params: &[f64]) -> Option<f64> {
    let q = params.first().copied().unwrap_or(f64::NAN);
    Some(quantile_of(q, &mut values(p)))
}

pub(super) fn mad(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    let mut v = values(p);
    if v.iter().any(|x| x.is_nan()) {
        return Some(f64::NAN);
    }
    let median = quantile_of(0.5, &mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
    Some(quantile_of(0.5, &mut dev))
}

pub(super) fn changes(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    let n = p
        .windows(2)
        .filter(|w| w[0].1 != w[1].1 && !(w[0].1.is_nan() && w[1].1.is_nan()))
        .count();
    Some(n as f64)
}

pub(super) fn resets(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    Some(p.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64)
}

/// Least-squares fit of value over time (seconds since `origin_ms`):
/// `(slope, intercept)`.
fn linear_regression(p: &[(i64, f64)], origin_ms: i64) -> (f64, f64) {
    let init = p[0].1;
    let const_y = p.iter().all(|s| s.1 == init);
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let n = p.len() as f64;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for &(t, v) in p {
        let x = (t - origin_ms) as f64 / 1000.0;
        (sx, cx) = kahan_add(x, sx, cx);
        (sy, cy) = kahan_add(v, sy, cy);
        (sxy, cxy) = kahan_add(x * v, sxy, cxy);
        (sx2, cx2) = kahan_add(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

pub(super) fn deriv(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    Some(linear_regression(p, p[0].0).0)
}

pub(super) fn predict_linear(p: &[(i64, f64)], w: &Window, params: &[f64]) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let secs = params.first().copied().unwrap_or(f64::NAN);
    let (slope, intercept) = linear_regression(p, w.ts);
    Some(slope * secs + intercept)
}

/// `double_exponential_smoothing(v[range], sf, tf)` (Holt's linear
/// method; `holt_winters` before Prometheus 3): the last smoothed value.
/// The factors were validated by the caller.
pub(super) fn double_exponential_smoothing(
    p: &[(i64, f64)],
    _: &Window,
    params: &[f64],
) -> Option<f64> {
    let (&sf, &tf) = (params.first()?, params.get(1)?);
    if p.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, p[0].1);
    let mut b = p[1].1 - p[0].1;
    for (i, x) in p.iter().enumerate().skip(1) {
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let next = sf * x.1 + (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = next;
    }
    Some(s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_functions() {
        let w = Window {
            start: 0,
            end: 40,
            ts: 40,
        };
        let p = vec![(10, 1.0), (20, 5.0), (30, 2.0), (40, 2.0)];
        assert_eq!(sum(&p, &w, &[]), Some(10.0));
        assert_eq!(avg(&p, &w, &[]), Some(2.5));
        assert_eq!(max(&p, &w, &[]), Some(5.0));
        assert_eq!(min(&p, &w, &[]), Some(1.0));
        assert_eq!(changes(&p, &w, &[]), Some(2.0));
        assert_eq!(resets(&p, &w, &[]), Some(1.0));
        assert_eq!(last(&p, &w, &[]), Some(2.0));
        assert_eq!(quantile(&p, &w, &[0.5]), Some(2.0));
        let line = vec![(0, 1.0), (1000, 3.0), (2000, 5.0)];
        assert_eq!(deriv(&line, &w, &[]), Some(2.0));
        let w2 = Window {
            start: 0,
            end: 2000,
            ts: 2000,
        };
        assert_eq!(predict_linear(&line, &w2, &[10.0]), Some(25.0));
        assert_eq!(max(&[(0, f64::NAN), (1, 3.0)], &w, &[]), Some(3.0));
        // a straight line is followed exactly
        let line = vec![(0, 0.0), (10, 10.0), (20, 20.0), (30, 30.0)];
        assert_eq!(
            double_exponential_smoothing(&line, &w, &[0.5, 0.5]),
            Some(30.0)
        );
        assert_eq!(
            double_exponential_smoothing(&line[..1], &w, &[0.5, 0.5]),
            None
        );
    }
}
