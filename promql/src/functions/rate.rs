//! `rate`, `increase`, `delta` (extrapolated over the window) and `irate`,
//! `idelta` (last two samples).

use super::Window;

/// The change over the window, extrapolated towards its edges the way
/// Prometheus does; per second when `per_second`.
fn extrapolated(points: &[(i64, f64)], w: &Window, counter: bool, per_second: bool) -> Option<f64> {
    extrapolated_with(points, w, counter, per_second, || {
        points
            .windows(2)
            .filter(|pair| pair[1].1 < pair[0].1)
            .map(|pair| pair[0].1)
    })
}

/// `rate` (per second) or `increase` of a counter, given the values
/// before each reset in `points` (the first of each pair of consecutive
/// samples where the value drops), in order. Same result as scanning
/// `points` for them.
pub(crate) fn counter_extrapolated<I: Iterator<Item = f64>>(
    points: &[(i64, f64)],
    w: &Window,
    per_second: bool,
    resets: impl FnOnce() -> I,
) -> Option<f64> {
    extrapolated_with(points, w, true, per_second, resets)
}

fn extrapolated_with<I: Iterator<Item = f64>>(
    points: &[(i64, f64)],
    w: &Window,
    counter: bool,
    per_second: bool,
    resets: impl FnOnce() -> I,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        for before in resets() {
            result += before;
        }
    }
    let mut to_start = (first_t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    if sampled <= 0.0 {
        return None;
    }
    let avg_gap = sampled / (points.len() - 1) as f64;
    let threshold = avg_gap * 1.1;
    if to_start >= threshold {
        to_start = avg_gap / 2.0;
    }
    if counter {
        let mut to_zero = to_start;
        if result > 0.0 && first_v >= 0.0 {
            to_zero = sampled * (first_v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_gap / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= w.range_secs();
    }
    Some(result * factor)
}

pub(super) fn rate(p: &[(i64, f64)], w: &Window, _: &[f64]) -> Option<f64> {
    extrapolated(p, w, true, true)
}

pub(super) fn increase(p: &[(i64, f64)], w: &Window, _: &[f64]) -> Option<f64> {
    extrapolated(p, w, true, false)
}

pub(super) fn delta(p: &[(i64, f64)], w: &Window, _: &[f64]) -> Option<f64> {
    extrapolated(p, w, false, false)
}

fn instant(points: &[(i64, f64)], per_second: bool) -> Option<f64> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let (pt, pv) = points[n - 2];
    let (lt, lv) = points[n - 1];
    let dt = lt - pt;
    if dt == 0 {
        return None;
    }
    let result = if per_second && lv < pv { lv } else { lv - pv };
    Some(if per_second {
        result / (dt as f64 / 1000.0)
    } else {
        result
    })
}

pub(super) fn irate(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    instant(p, true)
}

pub(super) fn idelta(p: &[(i64, f64)], _: &Window, _: &[f64]) -> Option<f64> {
    instant(p, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, end: i64) -> Window {
        Window {
            start,
            end,
            ts: end,
        }
    }

    #[test]
    fn rate_of_a_steady_counter() {
        // 10 per 10s, samples at 10s..60s, window (0, 60s]
        let p: Vec<(i64, f64)> = (1..=6).map(|i| (i * 10_000, i as f64 * 10.0)).collect();
        let r = rate(&p, &w(0, 60_000), &[]).unwrap();
        assert!((r - 1.0).abs() < 1e-9, "{r}");
        // the counter would hit zero exactly at 0s: extrapolate to the start
        let inc = increase(&p, &w(0, 60_000), &[]).unwrap();
        assert!((inc - 60.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn counter_resets_and_short_windows() {
        let p = vec![(0, 5.0), (10_000, 10.0), (20_000, 2.0)];
        // raw increase 2 - 5 + 10 (reset) = 7 over 20s sampled, extended by
        // 10s to the window start (−10s, 20s]
        let inc = increase(&p, &w(-10_000, 20_000), &[]).unwrap();
        assert!((inc - 10.5).abs() < 1e-9, "{inc}");
        assert_eq!(rate(&p[..1], &w(0, 60_000), &[]), None);
        assert_eq!(irate(&p, &w(0, 20_000), &[]), Some(0.2));
        assert_eq!(idelta(&p, &w(0, 20_000), &[]), Some(-8.0));
        let d = delta(&p, &w(-10_000, 20_000), &[]).unwrap();
        assert!((d - -4.5).abs() < 1e-9, "{d}");
    }
}
