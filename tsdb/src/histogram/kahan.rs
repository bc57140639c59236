//! Compensated (Kahan-Babuska) summation of histograms: [`KahanSum`]
//! keeps a compensation term beside every count of a running sum, so that
//! large values cancelling each other do not swallow small ones. Adding
//! follows the same rules as [`FloatHistogram::add`] (zero buckets
//! widened, resolutions reduced, custom bounds reconciled), applied to the
//! sum and its compensation together.

use super::{
    bounds_match, exponential_bound, intersect_bounds, map_custom, reduce, Combined,
    FloatHistogram, Incompatible,
};

/// Adds `v` to a compensated sum `(sum, c)` (Kahan-Babuska), as the
/// histograms' counts here and PromQL's float sums add.
#[inline]
pub fn kahan_add(v: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + v;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= v.abs() {
        c + ((sum - t) + v)
    } else {
        c + ((v - t) + sum)
    };
    (t, c)
}

/// A running sum of histograms with a compensation term for every count
/// (Kahan summation), so that large values cancelling each other do not
/// swallow small ones.
#[derive(Clone, Debug)]
pub struct KahanSum {
    sum: FloatHistogram,
    /// The compensation: same schema, bounds and zero threshold as `sum`;
    /// its buckets are a subset of `sum`'s.
    c: FloatHistogram,
}

impl KahanSum {
    /// A sum holding `h`.
    pub fn new(h: &FloatHistogram) -> KahanSum {
        KahanSum {
            sum: h.clone(),
            c: FloatHistogram {
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                custom_values: h.custom_values.clone(),
                ..Default::default()
            },
        }
    }

    /// The sum as it stands (without the compensation).
    pub fn raw(&self) -> &FloatHistogram {
        &self.sum
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &FloatHistogram) -> Result<Combined, Incompatible> {
        let sum = &mut self.sum;
        let c = &mut self.c;
        if sum.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(Incompatible::Schema);
        }
        let mut res = Combined {
            counter_reset_collision: sum.adjust_counter_reset(other),
            bounds_reconciled: false,
        };
        if !sum.uses_custom_buckets() {
            // widen the zero bucket of the sum as far as `other` needs
            let mut other_zc = other.zero_count;
            let mut other_t = other.zero_threshold;
            while other_t != sum.zero_threshold {
                if sum.zero_threshold > other_t {
                    (other_zc, other_t) = other.zero_count_for_threshold(sum.zero_threshold);
                }
                if other_t > sum.zero_threshold {
                    let (_, t) = sum.zero_count_for_threshold(other_t);
                    let schema = sum.schema;
                    let inside = |i: i32| exponential_bound(i - 1, schema) < t;
                    let (mut zc, mut czc) = (sum.zero_count, c.zero_count);
                    for side in 0..2 {
                        let (b, cb) = if side == 0 {
                            (&sum.positive, &c.positive)
                        } else {
                            (&sum.negative, &c.negative)
                        };
                        for &(i, v) in b.iter().filter(|(i, _)| inside(*i)) {
                            (zc, czc) = kahan_add(v, zc, czc);
                            if let Some(&(_, cv)) = cb.iter().find(|(ci, _)| *ci == i) {
                                (zc, czc) = kahan_add(cv, zc, czc);
                            }
                        }
                    }
                    sum.zero_count = zc;
                    c.zero_count = czc;
                    sum.zero_threshold = t;
                    c.zero_threshold = t;
                    sum.positive.retain(|(i, _)| !inside(*i));
                    sum.negative.retain(|(i, _)| !inside(*i));
                    c.positive.retain(|(i, _)| !inside(*i));
                    c.negative.retain(|(i, _)| !inside(*i));
                }
            }
            (sum.zero_count, c.zero_count) = kahan_add(other_zc, sum.zero_count, c.zero_count);
        }
        (sum.count, c.count) = kahan_add(other.count, sum.count, c.count);
        (sum.sum, c.sum) = kahan_add(other.sum, sum.sum, c.sum);
        if sum.uses_custom_buckets() {
            let mut op = std::borrow::Cow::Borrowed(&other.positive[..]);
            if !bounds_match(&sum.custom_values, &other.custom_values) {
                res.bounds_reconciled = true;
                let common = intersect_bounds(&sum.custom_values, &other.custom_values);
                sum.positive = map_custom(&sum.positive, &sum.custom_values, &common);
                c.positive = map_custom(&c.positive, &sum.custom_values, &common);
                op = map_custom(&other.positive, &other.custom_values, &common).into();
                sum.custom_values = common.clone();
                c.custom_values = common;
            }
            kahan_merge(&mut sum.positive, &mut c.positive, &op);
            return Ok(res);
        }
        let (mut op, mut on) = (
            std::borrow::Cow::Borrowed(&other.positive[..]),
            std::borrow::Cow::Borrowed(&other.negative[..]),
        );
        if other.schema < sum.schema {
            let from = sum.schema;
            sum.reduce_resolution(other.schema);
            c.positive = reduce(&c.positive, from, other.schema);
            c.negative = reduce(&c.negative, from, other.schema);
            c.schema = other.schema;
        } else if other.schema > sum.schema {
            op = reduce(&other.positive, other.schema, sum.schema).into();
            on = reduce(&other.negative, other.schema, sum.schema).into();
        }
        let zt = sum.zero_threshold;
        let schema = sum.schema;
        let outside = |&&(i, _): &&(i32, f64)| exponential_bound(i, schema) > zt;
        let op: Vec<(i32, f64)> = op.iter().filter(outside).copied().collect();
        let on: Vec<(i32, f64)> = on.iter().filter(outside).copied().collect();
        kahan_merge(&mut sum.positive, &mut c.positive, &op);
        kahan_merge(&mut sum.negative, &mut c.negative, &on);
        Ok(res)
    }

    /// Multiplies the sum and its compensation by `f`.
    pub fn mul(&mut self, f: f64) {
        self.sum.mul(f);
        self.c.mul(f);
    }

    /// Divides the sum and its compensation by `d`.
    pub fn div(&mut self, d: f64) {
        self.sum.div(d);
        self.c.div(d);
    }

    /// The compensated sum, without empty buckets.
    pub fn value(&self) -> FloatHistogram {
        let mut h = self.sum.clone();
        h.zero_count += self.c.zero_count;
        h.count += self.c.count;
        h.sum += self.c.sum;
        for (b, cb) in [
            (&mut h.positive, &self.c.positive),
            (&mut h.negative, &self.c.negative),
        ] {
            for &(i, cv) in cb {
                if let Ok(k) = b.binary_search_by_key(&i, |x| x.0) {
                    b[k].1 += cv;
                }
            }
        }
        h.compact();
        h
    }
}

/// Adds `other` into `sum` bucket by bucket, compensation kept in `c`.
fn kahan_merge(sum: &mut Vec<(i32, f64)>, c: &mut Vec<(i32, f64)>, other: &[(i32, f64)]) {
    for &(i, v) in other {
        match sum.binary_search_by_key(&i, |x| x.0) {
            Ok(k) => {
                let cv = match c.binary_search_by_key(&i, |x| x.0) {
                    Ok(ck) => c[ck].1,
                    Err(_) => 0.0,
                };
                let (s2, c2) = kahan_add(v, sum[k].1, cv);
                sum[k].1 = s2;
                match c.binary_search_by_key(&i, |x| x.0) {
                    Ok(ck) => c[ck].1 = c2,
                    Err(ck) => c.insert(ck, (i, c2)),
                }
            }
            Err(k) => sum.insert(k, (i, v)),
        }
    }
}
