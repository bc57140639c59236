//! Trimming a histogram at a value (PromQL's `</` and `>/`): the buckets
//! wholly on the removed side are emptied, a bucket the value cuts keeps
//! its interpolated share, and count and sum are recomputed from what is
//! kept, each observation taken at the middle of the kept part of its
//! bucket.

use super::{Bucket, FloatHistogram};

impl FloatHistogram {
    /// Removes the observations above `rhs` (`upper`, PromQL's `</`) or
    /// below it (`>/`). A bucket that `rhs` cuts keeps the share of its
    /// count on the kept side (interpolated as `histogram_fraction` does);
    /// when anything is removed, count and sum are recomputed from the
    /// kept buckets, each observation taken at the middle of the kept part
    /// of its bucket.
    pub fn trim(&mut self, rhs: f64, upper: bool) {
        let custom = self.uses_custom_buckets();
        let (mut count, mut sum) = (0.0, 0.0);
        let mut trimmed = false;
        let (mut has_pos, mut has_neg) = (false, false);
        for positive in [true, false] {
            let buckets: Vec<Bucket> = if positive {
                self.positive_buckets().collect()
            } else {
                self.negative_buckets().collect()
            };
            let mut kept = Vec::with_capacity(buckets.len());
            for b in buckets {
                if b.count == 0.0 {
                    kept.push(0.0);
                    continue;
                }
                if positive {
                    has_pos = true;
                } else {
                    has_neg = true;
                }
                let whole = if upper {
                    b.upper <= rhs
                } else {
                    b.lower >= rhs
                };
                let cut = if upper { b.lower < rhs } else { b.upper > rhs };
                if whole {
                    count += b.count;
                    sum += midpoint(b.lower, b.upper, positive, custom) * b.count;
                    kept.push(b.count);
                } else if cut {
                    let (keep, mid) = bucket_trim(&b, rhs, upper, positive, custom);
                    count += keep;
                    sum += mid * keep;
                    trimmed |= keep != b.count;
                    kept.push(keep);
                } else {
                    trimmed = true;
                    kept.push(0.0);
                }
            }
            let side = if positive {
                &mut self.positive
            } else {
                &mut self.negative
            };
            for (b, k) in side.iter_mut().zip(kept) {
                b.1 = k;
            }
        }
        if self.zero_count > 0.0 {
            let (keep, mid) = zero_bucket_trim(&self.zero_bucket(), rhs, has_neg, has_pos, upper);
            if self.zero_count != keep {
                self.zero_count = keep;
                trimmed = true;
            }
            sum += mid * keep;
            count += keep;
        }
        if trimmed {
            self.count = count;
            self.sum = sum;
            self.compact();
        }
    }
}

impl Bucket {
    /// The share of the bucket below `v`: linear, or for exponential
    /// buckets on the logarithmic scale.
    pub fn fraction_below(&self, v: f64, linear: bool) -> f64 {
        if linear {
            return (v - self.lower) / (self.upper - self.lower);
        }
        let ll = self.lower.abs().log2();
        let lu = self.upper.abs().log2();
        let lv = v.abs().log2();
        if v > 0.0 {
            (lv - ll) / (lu - ll)
        } else {
            1.0 - (lv - lu) / (ll - lu)
        }
    }
}

/// The value that stands for the observations in `[lower, upper]`.
fn midpoint(lower: f64, upper: f64, positive: bool, linear: bool) -> f64 {
    if lower.is_infinite() {
        if upper.is_infinite() {
            return 0.0;
        }
        return if upper > 0.0 { upper / 2.0 } else { upper };
    }
    if upper.is_infinite() {
        return lower;
    }
    if linear {
        return (lower + upper) / 2.0;
    }
    let g = (lower * upper).abs().sqrt();
    if positive {
        g
    } else {
        -g
    }
}

/// What is kept of a bucket that `rhs` cuts, and the middle of it.
fn bucket_trim(b: &Bucket, rhs: f64, upper: bool, positive: bool, linear: bool) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return infinite_bucket_trim(b, rhs, upper);
    }
    let under = if rhs <= b.lower {
        0.0
    } else if rhs >= b.upper {
        b.count
    } else {
        b.count * b.fraction_below(rhs, linear)
    };
    if upper {
        (under, midpoint(b.lower, rhs, positive, linear))
    } else {
        (b.count - under, midpoint(rhs, b.upper, positive, linear))
    }
}

/// [`bucket_trim`] for a bucket reaching to an infinity.
fn infinite_bucket_trim(b: &Bucket, rhs: f64, upper: bool) -> (f64, f64) {
    let finite = |x: f64| if x.is_infinite() { 0.0 } else { x };
    if b.lower == f64::NEG_INFINITY {
        if upper {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper.is_finite() {
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, finite(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper.is_finite() {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, finite(b.upper));
    }
    if upper {
        return (0.0, finite(b.lower));
    }
    if rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, finite(b.lower))
}

/// What is kept of the zero bucket, and the middle of it.
fn zero_bucket_trim(z: &Bucket, rhs: f64, has_neg: bool, has_pos: bool, upper: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (z.lower, z.upper);
    if has_neg && !has_pos {
        hi = 0.0;
    }
    if has_pos && !has_neg {
        lo = 0.0;
    }
    if upper {
        if rhs <= lo {
            return (0.0, 0.0);
        }
        if rhs >= hi {
            return (z.count, (lo + hi) / 2.0);
        }
        (z.count * (rhs - lo) / (hi - lo), (lo + rhs) / 2.0)
    } else {
        if rhs <= lo {
            return (z.count, (lo + hi) / 2.0);
        }
        if rhs >= hi {
            return (0.0, 0.0);
        }
        (z.count * (hi - rhs) / (hi - lo), (rhs + hi) / 2.0)
    }
}
