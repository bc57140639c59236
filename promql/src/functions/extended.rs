//! The values of anchored and smoothed range selectors (`rate(x[5m]
//! anchored)`, `increase(x[5m] smoothed)`, `x smoothed`) from the samples
//! the engine selects for them (`engine/extended_select.rs`): those of a
//! window widened by the lookback delta.
//!
//! The left boundary value is the last sample at or before the range start
//! (anchored), or the value interpolated at the start between the samples
//! around it (smoothed); the right one is the last sample (anchored) or the
//! value interpolated at the end. `rate`, `increase` and `delta` are then
//! the difference of the boundary values, with counter resets in between
//! added back and no extrapolation.

/// The value at `t` on the line between two samples; for counters a drop
/// is a restart from 0 at the first sample.
fn interpolate(p1: (i64, f64), p2: (i64, f64), t: i64, counter: bool) -> f64 {
    let (t1, mut y1) = p1;
    let (t2, y2) = p2;
    if counter && y2 < y1 {
        y1 = 0.0;
    }
    y1 + (y2 - y1) * (t - t1) as f64 / (t2 - t1) as f64
}

/// The boundary samples and values of an anchored or smoothed range over
/// the widened window's samples `f` (in time order, no stale markers).
pub(crate) struct Bounds {
    /// Index of the left boundary sample.
    pub first: usize,
    /// Index of the right boundary sample.
    pub last: usize,
    /// The value at the range start.
    pub left: f64,
    /// The value at the range end.
    pub right: f64,
}

impl Bounds {
    /// The samples strictly between the boundary values: the boundary
    /// samples are left out when they lie at or beyond the range's ends.
    pub(crate) fn inner<'f>(&self, f: &'f [(i64, f64)], start: i64, end: i64) -> &'f [(i64, f64)] {
        let from = self.first + usize::from(f[self.first].0 <= start);
        let to = self.last + usize::from(f[self.last].0 < end);
        f.get(from..to).unwrap_or(&[])
    }
}

/// `None` when no sample lies inside the range (or, smoothed, all lie
/// after it).
pub(crate) fn bounds(
    f: &[(i64, f64)],
    start: i64,
    end: i64,
    smoothed: bool,
    counter: bool,
) -> Option<Bounds> {
    let n = f.len();
    if n == 0 {
        return None;
    }
    let inner = &f[..n - 1];
    let first = inner.partition_point(|s| s.0 <= start).saturating_sub(1);
    let last = if smoothed {
        let i = inner.partition_point(|s| s.0 < end);
        if i < inner.len() {
            i
        } else {
            n - 1
        }
    } else {
        n - 1
    };
    if f[last].0 <= start || (smoothed && f[first].0 > end) {
        return None;
    }
    let left = if smoothed && f[first].0 < start {
        interpolate(f[first], f[first + 1], start, counter)
    } else {
        f[first].1
    };
    let right = if smoothed && last > 0 && f[last].0 > end {
        interpolate(f[last - 1], f[last], end, counter)
    } else {
        f[last].1
    };
    Some(Bounds {
        first,
        last,
        left,
        right,
    })
}

/// `rate` (`per_second`), `increase` (`counter`) or `delta` of an
/// anchored or smoothed range `(start, end]`.
pub(crate) fn rate(
    f: &[(i64, f64)],
    start: i64,
    end: i64,
    smoothed: bool,
    counter: bool,
    per_second: bool,
) -> Option<f64> {
    let b = bounds(f, start, end, smoothed, counter)?;
    let mut result = b.right - b.left;
    if counter {
        let mut prev = b.left;
        let mut correction = 0.0;
        for &(_, v) in b.inner(f, start, end) {
            if v < prev {
                correction += prev;
            }
            prev = v;
        }
        if b.right < prev {
            correction += prev;
        }
        result += correction;
    }
    if per_second {
        result /= (end - start) as f64 / 1000.0;
    }
    Some(result)
}

/// The value of a smoothed instant selector at `t` from the samples in
/// `(t - lookback, t + lookback]`: the sample at `t`, else interpolated
/// between its neighbours (no counter handling), else the last earlier one.
pub(crate) fn smoothed_value(f: &[(i64, f64)], t: i64) -> Option<f64> {
    let i = f.partition_point(|s| s.0 < t);
    match f.get(i) {
        Some(&(st, v)) if st == t => Some(v),
        Some(&next) if i > 0 => Some(interpolate(f[i - 1], next, t, false)),
        None if i > 0 => Some(f[i - 1].1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;

    #[test]
    fn smoothed_increase_across_resets() {
        // 9, 8, 5, 4 at 0, 1m, 2m, 3m; increase over (15s, 2m15s]
        let f = [(0, 9.0), (M, 8.0), (2 * M, 5.0), (3 * M, 4.0)];
        let v = rate(&f, 15_000, 2 * M + 15_000, true, true, false).unwrap();
        assert!((v - 12.0).abs() < 1e-9, "{v}");
    }

    #[test]
    fn smoothed_rate_interpolates_a_reset_from_zero() {
        let f = [(0, 100.0), (15_000, 10.0)];
        let v = rate(&f, 2_000, 12_000, true, true, true).unwrap();
        assert!((v - 2.0 / 3.0).abs() < 1e-9, "{v}");
    }

    #[test]
    fn anchored_increase_starts_at_the_anchor() {
        let f = [
            (0, 1.0),
            (15_000, 2.0),
            (30_000, 3.0),
            (75_000, 9.0),
            (90_000, 10.0),
            (105_000, 11.0),
            (120_000, 12.0),
        ];
        assert_eq!(rate(&f, 65_000, 125_000, false, true, false), Some(9.0));
        // nothing inside the range: no value
        assert_eq!(rate(&f[..3], 65_000, 125_000, false, true, false), None);
    }

    #[test]
    fn smoothed_instant_values() {
        let f = [(0, 1.0), (10_000, 3.0)];
        assert_eq!(smoothed_value(&f, 10_000), Some(3.0));
        assert_eq!(smoothed_value(&f, 5_000), Some(2.0));
        assert_eq!(smoothed_value(&f, 20_000), Some(3.0));
        assert_eq!(smoothed_value(&f[1..], 5_000), None);
    }
}
