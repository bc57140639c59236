//! Aggregation operators (`sum`, `topk`, `quantile`, ...).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use tsdb::histogram::FloatHistogram;

use tsdb::labels::{Labels, METRIC_NAME};

use super::acc::{reduce, CountAcc, GroupAcc, MinMaxAcc, SumAcc, VarianceAcc};
use super::Evaluator;
use crate::error::Error;
use crate::parser::{AggregateOp, Expr};
use crate::value::{Sample, StepValue};

/// Adds `v` to a Kahan-compensated sum `(sum, c)`.
pub(crate) use tsdb::histogram::kahan_add;

/// The mean, one value at a time, robust against overflow of the plain
/// sum.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MeanAcc {
    n: usize,
    sum: f64,
    c: f64,
    incremental: bool,
    m: f64,
    mc: f64,
}

impl MeanAcc {
    /// Adds the next value.
    #[inline]
    pub(crate) fn add(&mut self, v: f64) {
        self.n += 1;
        let n = self.n as f64;
        if !self.incremental {
            let (s2, c2) = kahan_add(v, self.sum, self.c);
            if !s2.is_infinite() || v.is_infinite() {
                self.sum = s2;
                self.c = c2;
                return;
            }
            self.incremental = true;
            self.m = self.sum / (n - 1.0);
            self.mc = self.c / (n - 1.0);
        }
        if self.m.is_infinite() {
            if v.is_infinite() && (self.m > 0.0) == (v > 0.0) {
                return;
            }
            if !v.is_infinite() && !v.is_nan() {
                return;
            }
        }
        let cur = self.m + self.mc;
        let (a, b) = kahan_add(v / n - cur / n, self.m, self.mc);
        self.m = a;
        self.mc = b;
    }

    /// The mean of the values added (NaN for none).
    pub(crate) fn result(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        if self.incremental {
            self.m + self.mc
        } else {
            let n = self.n as f64;
            self.sum / n + self.c / n
        }
    }
}

/// Population variance, one value at a time (Welford).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct VarAcc {
    n: f64,
    mean: f64,
    m2: f64,
}

impl VarAcc {
    /// Adds the next value.
    #[inline]
    pub(crate) fn add(&mut self, v: f64) {
        self.n += 1.0;
        let d = v - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (v - self.mean);
    }

    /// The population variance of the values added (NaN for none).
    pub(crate) fn result(&self) -> f64 {
        if self.n == 0.0 {
            f64::NAN
        } else {
            self.m2 / self.n
        }
    }
}

/// The `q`-quantile of `values` by linear interpolation between ranks.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lo = rank.floor().max(0.0);
    let hi = (lo + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    values[lo as usize] * (1.0 - w) + values[hi as usize] * w
}

/// Formats a float as Prometheus prints sample values in labels.
pub(crate) use crate::gofmt::format_f as format_value;

/// A histogram as Prometheus prints it (Go's `FloatHistogram.String`):
/// count, sum and the populated buckets from the lowest,
/// `{count:20, sum:10, [-2,-1):2, [-0.001,0.001]:2, (1,2]:2}`.
pub(crate) fn histogram_string(h: &FloatHistogram) -> String {
    use std::fmt::Write as _;
    let g = crate::gofmt::go_float;
    let v = |x: f64| -> String {
        if x.is_finite() && x != 0.0 {
            crate::gofmt::format_g(x, -4..21)
        } else {
            g(x)
        }
    };
    let mut out = format!("{{count:{}, sum:{}", g(h.count), g(h.sum));
    let neg: Vec<tsdb::histogram::Bucket> =
        h.negative_buckets().filter(|b| b.count != 0.0).collect();
    let zero = (h.zero_count != 0.0).then(|| h.zero_bucket());
    let pos = h.positive_buckets().filter(|b| b.count != 0.0);
    for b in neg.into_iter().rev().chain(zero).chain(pos) {
        let _ = write!(
            out,
            ", {}{},{}{}:{}",
            if b.lower_inclusive { '[' } else { '(' },
            g(b.lower),
            g(b.upper),
            if b.upper_inclusive { ']' } else { ')' },
            v(b.count)
        );
    }
    out.push('}');
    out
}

/// Whether `s` is a valid label name.
pub(crate) fn valid_label_name(s: &str) -> bool {
    !s.is_empty() && std::str::from_utf8(s.as_bytes()).is_ok() && !s.contains('\u{FFFD}')
}

struct Group {
    key: Labels,
    members: Vec<Sample>,
}

/// `topk`/`bottomk` order: NaN always sorts last.
fn rank_order(a: f64, b: f64, top: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if top {
                o.reverse()
            } else {
                o
            }
        }
    }
}

impl Evaluator<'_> {
    /// The sum (or mean) of the histograms of `members`, with Prometheus's
    /// annotations; `None` when their schemas cannot be combined.
    fn sum_histograms(&mut self, members: &[Sample], mean: bool) -> Option<FloatHistogram> {
        let mut notes = crate::functions::SumNotes::default();
        let r = crate::functions::sum_histograms(
            members.iter().filter_map(|s| s.h.as_deref()),
            mean,
            &mut notes,
        );
        crate::functions::sum_notes(&mut self.notes, &notes);
        if r.is_none() {
            let name = members
                .iter()
                .find_map(|s| s.metric.get(METRIC_NAME))
                .unwrap_or("");
            self.warn(format!(
                "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"{name}\""
            ));
        }
        r
    }

    pub(crate) fn aggregate(
        &mut self,
        op: AggregateOp,
        expr: &Expr,
        param: Option<&Expr>,
        grouping: &[String],
        without: bool,
        ts: i64,
    ) -> Result<StepValue, Error> {
        let pval = match (param, op) {
            (Some(p), AggregateOp::CountValues) => Err(self.eval_string(p, ts)?),
            (Some(p), _) => Ok(self.eval_scalar(p, ts)?),
            (None, _) => Ok(f64::NAN),
        };
        let input = self.eval_vector(expr, ts)?;
        let names: Vec<&str> = grouping.iter().map(String::as_str).collect();
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        for s in input {
            let key = if without {
                let mut n = names.clone();
                n.push(METRIC_NAME);
                s.metric.without(&n)
            } else {
                s.metric.keep_only(&names)
            };
            match index.get(&key) {
                Some(&i) => groups[i].members.push(s),
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push(Group {
                        key,
                        members: vec![s],
                    });
                }
            }
        }
        let mut out = Vec::new();
        match op {
            AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk => {
                let k = pval.clone().unwrap_or(f64::NAN);
                if k.is_nan() {
                    return Err(Error::exec("Parameter value is NaN"));
                }
                if k < 1.0 {
                    return Ok(StepValue::Vector(Vec::new()));
                }
                let k = if k >= usize::MAX as f64 {
                    usize::MAX
                } else {
                    k as usize
                };
                for mut g in groups {
                    if op != AggregateOp::Limitk {
                        if g.members.iter().any(|s| s.h.is_some()) {
                            g.members.retain(|s| s.h.is_none());
                            self.info(format!(
                                "PromQL info: ignored histogram in {} aggregation",
                                op.as_str()
                            ));
                        }
                        let top = op == AggregateOp::Topk;
                        g.members.sort_by(|a, b| rank_order(a.v, b.v, top));
                    }
                    g.members.truncate(k);
                    out.extend(g.members);
                }
            }
            AggregateOp::LimitRatio => {
                let r = pval.clone().unwrap_or(f64::NAN);
                if r.is_nan() {
                    return Err(Error::exec("Ratio value is NaN"));
                }
                let r = if !(-1.0..=1.0).contains(&r) {
                    self.warn(format!(
                        "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {}",
                        format_value(r),
                        r.clamp(-1.0, 1.0)
                    ));
                    r.clamp(-1.0, 1.0)
                } else {
                    r
                };
                for g in groups {
                    for s in g.members {
                        let f = (stable_hash(&s.metric) as f64) / (u64::MAX as f64);
                        let keep = if r >= 0.0 { f < r } else { f >= 1.0 + r };
                        if keep {
                            out.push(s);
                        }
                    }
                }
            }
            AggregateOp::CountValues => {
                let label = pval.clone().err().unwrap_or_default();
                if !valid_label_name(&label) {
                    return Err(Error::exec(format!("invalid label name {label:?}")));
                }
                let mut counts: Vec<(Labels, f64)> = Vec::new();
                let mut idx: HashMap<Labels, usize> = HashMap::new();
                for g in groups {
                    for s in g.members {
                        let v = match &s.h {
                            Some(h) => histogram_string(h),
                            None => format_value(s.v),
                        };
                        let l = g.key.with(&label, &v);
                        match idx.get(&l) {
                            Some(&i) => counts[i].1 += 1.0,
                            None => {
                                idx.insert(l.clone(), counts.len());
                                counts.push((l, 1.0));
                            }
                        }
                    }
                }
                out.extend(counts.into_iter().map(|(metric, v)| Sample {
                    metric,
                    v,
                    h: None,
                    drop_name: false,
                }));
            }
            _ => {
                for mut g in groups {
                    let drop_name = g.members.iter().any(|s| s.drop_name);
                    let hists = g.members.iter().filter(|s| s.h.is_some()).count();
                    if hists > 0 {
                        match op {
                            AggregateOp::Sum | AggregateOp::Avg => {
                                if hists < g.members.len() {
                                    self.warn(
                                        "PromQL warning: encountered a mix of histograms and floats for aggregation"
                                            .into(),
                                    );
                                    continue;
                                }
                                if let Some(h) =
                                    self.sum_histograms(&g.members, op == AggregateOp::Avg)
                                {
                                    out.push(Sample {
                                        metric: g.key,
                                        v: 0.0,
                                        h: Some(Arc::new(h)),
                                        drop_name,
                                    });
                                }
                                continue;
                            }
                            AggregateOp::Count | AggregateOp::Group => {}
                            _ => {
                                g.members.retain(|s| s.h.is_none());
                                self.info(format!(
                                    "PromQL info: ignored histogram in {} aggregation",
                                    op.as_str()
                                ));
                                if g.members.is_empty() {
                                    continue;
                                }
                            }
                        }
                    }
                    let mut vals: Vec<f64> = g.members.iter().map(|s| s.v).collect();
                    let v = match op {
                        AggregateOp::Sum => reduce::<SumAcc>(&vals),
                        AggregateOp::Avg => reduce::<MeanAcc>(&vals),
                        AggregateOp::Min => reduce::<MinMaxAcc<false>>(&vals),
                        AggregateOp::Max => reduce::<MinMaxAcc<true>>(&vals),
                        AggregateOp::Count => reduce::<CountAcc>(&vals),
                        AggregateOp::Group => reduce::<GroupAcc>(&vals),
                        AggregateOp::Stdvar => reduce::<VarianceAcc<false>>(&vals),
                        AggregateOp::Stddev => reduce::<VarianceAcc<true>>(&vals),
                        AggregateOp::Quantile => {
                            let q = pval.clone().unwrap_or(f64::NAN);
                            quantile(q, &mut vals)
                        }
                        _ => f64::NAN,
                    };
                    out.push(Sample {
                        metric: g.key,
                        v,
                        h: None,
                        drop_name,
                    });
                }
                if op == AggregateOp::Quantile {
                    let q = pval.clone().unwrap_or(f64::NAN);
                    if !(0.0..=1.0).contains(&q) {
                        self.warn(format!(
                            "PromQL warning: quantile value should be between 0 and 1, got {}",
                            format_value(q)
                        ));
                    }
                }
            }
        }
        Ok(StepValue::Vector(out))
    }
}

/// A hash of a label set that is the same in every process, so that
/// `limit_ratio` picks the same series across restarts.
fn stable_hash(l: &tsdb::labels::Labels) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    l.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(reduce::<MeanAcc>(&[1.0, 2.0, 3.0]), 2.0);
        assert_eq!(reduce::<MeanAcc>(&[f64::MAX, f64::MAX]), f64::MAX);
        assert_eq!(reduce::<VarianceAcc<false>>(&[1.0, 3.0]), 1.0);
        assert_eq!(quantile(0.5, &mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(quantile(0.25, &mut [1.0, 2.0]), 1.25);
        assert_eq!(quantile(-1.0, &mut [1.0]), f64::NEG_INFINITY);
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        let (s, c) = [1e100, 1.0, -1e100]
            .iter()
            .fold((0.0, 0.0), |(s, c), &v| kahan_add(v, s, c));
        assert_eq!(s + c, 1.0);
    }
}
