//! Native histograms of recording rule results, as `query_range` answers
//! them, made into histograms again for `create-blocks-from rules`.
//!
//! The API writes a histogram as its count, its sum and its non-empty
//! buckets, each with its bounds (`[boundaries, lower, upper, count]`):
//! the schema, the zero threshold, the custom bounds and the counter reset
//! hint are not in it. They are found again per series:
//!
//! - custom bounds when a bucket has an infinite bound or the buckets are
//!   not those of one exponential schema; the bounds are then every
//!   finite bound the series' buckets show (a bound of buckets that are
//!   empty everywhere stays unknown, which no query sees);
//! - otherwise the exponential schema whose buckets they are (the
//!   coarsest one a bucket's bounds give: a bucket whose lower bound was
//!   raised to the zero threshold gives none or a finer one), each
//!   bucket's index from its upper bound (lower for negative buckets);
//! - the zero threshold from the zero bucket, or where a histogram has
//!   none (an empty zero bucket is not written), the series' threshold
//!   before (or the first one it shows, else 0);
//! - the hint from the rule's expression ([`gauge_result`]): gauge where
//!   its histograms come from `rate`, `irate`, `increase`, `delta`,
//!   `idelta` or a subtraction of histograms, as Prometheus's engine marks
//!   them, else unknown (a counter: a drop of a count starts a new chunk
//!   and reads back as a counter reset).
//!
//! Read back through the API, each histogram is the one the server
//! answered.

use super::error::BadHistogram;
use tsdb::histogram::{
    exponential_bound, CounterResetHint, FloatHistogram, CUSTOM_BUCKETS_SCHEMA, MAX_SCHEMA,
    MIN_SCHEMA,
};

/// One bucket as the API writes it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct JsonBucket {
    /// 0: `(lower, upper]`, 1: `[lower, upper)`, 2: open, 3: closed.
    pub boundaries: u64,
    pub lower: f64,
    pub upper: f64,
    pub count: f64,
}

/// A histogram as the API writes it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct JsonHistogram {
    pub count: f64,
    pub sum: f64,
    pub buckets: Vec<JsonBucket>,
}

/// A float as the API writes it (a string, Go's `NaN`, `+Inf`, `-Inf`).
pub(super) fn parse_float(v: &serde_json::Value) -> Option<f64> {
    match v.as_str()? {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        s => s.parse().ok(),
    }
}

/// The histogram object of a `histograms` point.
pub(super) fn parse(v: &serde_json::Value) -> Result<JsonHistogram, BadHistogram> {
    let bad = || BadHistogram(v.clone());
    let mut buckets = Vec::new();
    for b in v["buckets"].as_array().into_iter().flatten() {
        buckets.push(JsonBucket {
            boundaries: b[0].as_u64().ok_or_else(bad)?,
            lower: parse_float(&b[1]).ok_or_else(bad)?,
            upper: parse_float(&b[2]).ok_or_else(bad)?,
            count: parse_float(&b[3]).ok_or_else(bad)?,
        });
    }
    Ok(JsonHistogram {
        count: parse_float(&v["count"]).ok_or_else(bad)?,
        sum: parse_float(&v["sum"]).ok_or_else(bad)?,
        buckets,
    })
}

/// Whether the histograms `expr` gives are gauges in Prometheus's engine:
/// those of `rate`, `irate`, `increase`, `delta` and `idelta`, and of a
/// subtraction, through aggregations, other functions and operations.
pub(super) fn gauge_result(expr: &str) -> bool {
    use promql::parser::{BinaryOp, Expr};
    fn walk(e: &Expr) -> bool {
        match e {
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector { .. } => false,
            Expr::Call { func, args } => {
                matches!(
                    func.as_str(),
                    "rate" | "irate" | "increase" | "delta" | "idelta"
                ) || args.iter().any(walk)
            }
            Expr::Subquery { expr, .. } | Expr::Unary { expr, .. } | Expr::Paren(expr) => {
                walk(expr)
            }
            Expr::Aggregate { expr, .. } => walk(expr),
            Expr::Binary { op, lhs, rhs, .. } => *op == BinaryOp::Sub || walk(lhs) || walk(rhs),
        }
    }
    promql::parse(expr).is_ok_and(|e| walk(&e))
}

fn is_zero_bucket(b: &JsonBucket) -> bool {
    b.boundaries == 3 && b.lower.is_finite() && b.lower == -b.upper
}

/// The exponential schema a bucket's bounds give, if any.
fn schema_of(b: &JsonBucket) -> Option<i32> {
    let (near, far) = if b.upper > 0.0 {
        (b.lower, b.upper)
    } else {
        (-b.upper, -b.lower)
    };
    if near <= 0.0 || far <= near || !far.is_finite() {
        return None;
    }
    let s = -(far / near).log2().log2();
    let r = s.round();
    ((s - r).abs() < 1e-9 && (MIN_SCHEMA as f64..=MAX_SCHEMA as f64).contains(&r))
        .then_some(r as i32)
}

/// The index of the exponential bucket of `schema` whose outer bound is
/// `bound` (> 0), if it is one.
fn index_of(bound: f64, schema: i32) -> Option<i32> {
    let i = (bound.log2() * 2f64.powi(schema)).round();
    if !(i32::MIN as f64..=i32::MAX as f64).contains(&i) {
        return None;
    }
    let i = i as i32;
    let b = exponential_bound(i, schema);
    ((b - bound).abs() <= bound * 1e-12).then_some(i)
}

/// Whether `b` is a bucket of exponential schema `schema`: its outer
/// bound one of the schema's, its inner one the bound before, or one of
/// the zero `thresholds` the series shows, past that bound (the API
/// raises a bucket's inner bound to the zero threshold).
fn on_schema(b: &JsonBucket, schema: i32, thresholds: &[f64]) -> bool {
    let (inner, outer) = if b.upper > 0.0 {
        (b.lower, b.upper)
    } else {
        (-b.upper, -b.lower)
    };
    let Some(i) = index_of(outer, schema) else {
        return false;
    };
    let bound = exponential_bound(i - 1, schema);
    (inner - bound).abs() <= bound * 1e-12
        || (inner > bound && inner < outer && thresholds.contains(&inner))
}

/// Adds `count` to bucket `idx` of `side` (kept in index order).
fn add(side: &mut Vec<(i32, f64)>, idx: i32, count: f64) {
    match side.binary_search_by_key(&idx, |b| b.0) {
        Ok(k) => side[k].1 += count,
        Err(k) => side.insert(k, (idx, count)),
    }
}

/// One series' histograms (in time order) made into flint histograms with
/// counter reset hint `hint` (see the module's documentation).
pub(super) fn rebuild(
    samples: &[(i64, JsonHistogram)],
    hint: CounterResetHint,
) -> Vec<(i64, FloatHistogram)> {
    let all = || samples.iter().flat_map(|s| s.1.buckets.iter());
    let inner = || all().filter(|b| !is_zero_bucket(b));
    let infinite = all().any(|b| b.lower.is_infinite() || b.upper.is_infinite());
    let schema = inner().filter_map(schema_of).min();
    let thresholds: Vec<f64> = all()
        .filter(|b| is_zero_bucket(b))
        .map(|b| b.upper)
        .collect();
    let exponential = !infinite
        && match schema {
            None => inner().next().is_none(),
            Some(s) => inner().all(|b| on_schema(b, s, &thresholds)),
        };
    if exponential {
        let schema = schema.unwrap_or(0);
        let mut threshold = all().find(|b| is_zero_bucket(b)).map_or(0.0, |b| b.upper);
        let mut out = Vec::with_capacity(samples.len());
        for (t, j) in samples {
            let mut h = FloatHistogram {
                schema,
                counter_reset_hint: hint,
                count: j.count,
                sum: j.sum,
                ..FloatHistogram::default()
            };
            for b in &j.buckets {
                if is_zero_bucket(b) {
                    threshold = b.upper;
                    h.zero_count += b.count;
                } else if b.upper > 0.0 {
                    add(
                        &mut h.positive,
                        index_of(b.upper, schema).unwrap_or(0),
                        b.count,
                    );
                } else {
                    add(
                        &mut h.negative,
                        index_of(-b.lower, schema).unwrap_or(0),
                        b.count,
                    );
                }
            }
            h.zero_threshold = threshold;
            out.push((*t, h));
        }
        return out;
    }
    let bounds_of = |buckets: &mut dyn Iterator<Item = &JsonBucket>| {
        let mut v: Vec<f64> = buckets
            .flat_map(|b| [b.lower, b.upper])
            .filter(|x| x.is_finite())
            .map(|x| x + 0.0)
            .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let series_bounds = bounds_of(&mut all());
    samples
        .iter()
        .map(|(t, j)| {
            let on = |bounds: &[f64]| -> Option<Vec<(i32, f64)>> {
                let mut pos = Vec::new();
                for b in &j.buckets {
                    let idx = if b.upper == f64::INFINITY {
                        bounds.len()
                    } else {
                        bounds.iter().position(|&x| x == b.upper)?
                    };
                    let lower = if idx == 0 {
                        f64::NEG_INFINITY
                    } else {
                        bounds[idx - 1]
                    };
                    if lower != b.lower {
                        return None;
                    }
                    add(&mut pos, idx as i32, b.count);
                }
                Some(pos)
            };
            // a histogram whose buckets do not fit the series' bounds
            // (the bounds changed) keeps its own
            let (bounds, positive) = match on(&series_bounds) {
                Some(p) => (series_bounds.clone(), p),
                None => {
                    let own = bounds_of(&mut j.buckets.iter());
                    let p = on(&own).unwrap_or_default();
                    (own, p)
                }
            };
            let h = FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                counter_reset_hint: hint,
                count: j.count,
                sum: j.sum,
                positive,
                custom_values: bounds,
                ..FloatHistogram::default()
            };
            (*t, h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the query API writes for `h`: its non-empty buckets with
    /// their bounds, as flint's (and Prometheus's) JSON has them.
    fn json(h: &FloatHistogram) -> JsonHistogram {
        let buckets = h
            .all_buckets()
            .into_iter()
            .filter(|b| b.count != 0.0)
            .map(|b| JsonBucket {
                boundaries: match (b.lower_inclusive, b.upper_inclusive) {
                    (false, true) => 0,
                    (true, false) => 1,
                    (false, false) => 2,
                    (true, true) => 3,
                },
                lower: b.lower,
                upper: b.upper,
                count: b.count,
            })
            .collect();
        JsonHistogram {
            count: h.count,
            sum: h.sum,
            buckets,
        }
    }

    fn round_trip(hs: &[FloatHistogram], hint: CounterResetHint) -> Vec<FloatHistogram> {
        let samples: Vec<(i64, JsonHistogram)> = hs
            .iter()
            .enumerate()
            .map(|(i, h)| (i as i64, json(h)))
            .collect();
        rebuild(&samples, hint).into_iter().map(|x| x.1).collect()
    }

    #[test]
    fn exponential_histograms_come_back() {
        for schema in MIN_SCHEMA..=MAX_SCHEMA {
            let a = FloatHistogram {
                schema,
                zero_threshold: 2f64.powi(-128),
                zero_count: 1.5,
                count: 12.0,
                sum: 3.25,
                positive: vec![(-3, 1.0), (0, 2.5), (1, 0.5), (7, 4.0)],
                negative: vec![(-1, 1.0), (2, 1.5)],
                ..FloatHistogram::default()
            };
            // no zero bucket shown: the threshold of the one before
            let mut b = a.clone();
            b.zero_count = 0.0;
            b.positive = vec![(2, 3.0)];
            b.negative.clear();
            let got = round_trip(&[a.clone(), b.clone()], CounterResetHint::Gauge);
            let mut want = vec![a, b];
            for w in &mut want {
                w.counter_reset_hint = CounterResetHint::Gauge;
            }
            assert_eq!(got, want, "schema {schema}");
        }
    }

    #[test]
    fn a_bucket_cut_at_the_zero_threshold_does_not_change_the_schema() {
        // the zero threshold 0.6 inside bucket -1 of schema 1, (0.5,
        // 0.707]: it shows as (0.6, 0.707]
        let h = FloatHistogram {
            schema: 1,
            zero_threshold: 0.6,
            zero_count: 2.0,
            count: 5.0,
            sum: 2.0,
            positive: vec![(-1, 1.0), (0, 1.0), (3, 1.0)],
            ..FloatHistogram::default()
        };
        let j = json(&h);
        assert!(j.buckets.iter().any(|b| b.lower == 0.6 && b.upper < 0.71));
        assert_eq!(
            round_trip(std::slice::from_ref(&h), CounterResetHint::Unknown),
            vec![h]
        );
    }

    #[test]
    fn custom_bounds_come_back_as_the_series_shows_them() {
        let bounds = vec![0.1, 0.5, 1.0, 2.0];
        let a = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count: 6.0,
            sum: 1.5,
            positive: vec![(0, 1.0), (1, 2.0), (4, 3.0)],
            custom_values: bounds.clone(),
            ..FloatHistogram::default()
        };
        // (1, 2] is only non-empty here, which shows the bound 1.0
        let b = FloatHistogram {
            count: 4.0,
            positive: vec![(2, 1.0), (3, 3.0)],
            ..a.clone()
        };
        let got = round_trip(&[a.clone(), b.clone()], CounterResetHint::Unknown);
        assert_eq!(got, vec![a, b]);
        // a bucket (1, 2] that looks exponential is a custom one where the
        // series shows a bound that is not
        let c = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            positive: vec![(2, 3.0)],
            count: 3.0,
            custom_values: vec![0.3, 1.0, 2.0],
            ..FloatHistogram::default()
        };
        let d = FloatHistogram {
            positive: vec![(1, 1.0)],
            count: 1.0,
            ..c.clone()
        };
        let got = round_trip(&[c, d], CounterResetHint::Unknown);
        assert_eq!(got[0].custom_values, vec![0.3, 1.0, 2.0]);
        assert_eq!(got[0].positive, vec![(2, 3.0)]);
        assert_eq!(got[1].positive, vec![(1, 1.0)]);
    }

    #[test]
    fn histograms_of_rates_are_gauges() {
        assert!(gauge_result("sum(rate(h[1m]))"));
        assert!(gauge_result("histogram_sum(h) * 0 + increase(h[5m])"));
        assert!(gauge_result("h - h offset 1h"));
        assert!(!gauge_result("sum by (job) (h)"));
        assert!(!gauge_result("h * 2"));
        assert!(!gauge_result("not valid ("));
    }

    #[test]
    fn api_floats_parse() {
        let j = serde_json::json!({"count": "NaN", "sum": "+Inf",
            "buckets": [[3, "-Inf", "-0.5", "1e-05"]]});
        let h = parse(&j).unwrap();
        assert!(h.count.is_nan());
        assert_eq!(h.sum, f64::INFINITY);
        assert_eq!(h.buckets[0].lower, f64::NEG_INFINITY);
        assert_eq!(h.buckets[0].count, 1e-5);
        assert!(parse(&serde_json::json!({"count": 1})).is_err());
    }
}
