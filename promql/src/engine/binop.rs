//! Binary operators: scalar/scalar, vector/scalar and vector/vector with
//! label matching.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tsdb::histogram::{CounterResetHint, FloatHistogram};

use tsdb::labels::{Labels, METRIC_NAME};

use super::Evaluator;
use crate::error::Error;
use crate::parser::{BinaryOp, Cardinality, Expr, FillValues, VectorMatching};
use crate::value::{Sample, StepValue};

/// Applies an arithmetic or comparison operator. For comparisons the
/// result is `(lhs, keep)`; for arithmetic `keep` is always true.
pub(crate) fn apply(op: BinaryOp, l: f64, r: f64) -> (f64, bool) {
    use BinaryOp::*;
    match op {
        Add => (l + r, true),
        Sub => (l - r, true),
        Mul => (l * r, true),
        Div => (l / r, true),
        Mod => (l % r, true),
        Pow => (l.powf(r), true),
        Atan2 => (l.atan2(r), true),
        Eql => (l, l == r),
        Neq => (l, l != r),
        Gtr => (l, l > r),
        Lss => (l, l < r),
        Gte => (l, l >= r),
        Lte => (l, l <= r),
        TrimUpper | TrimLower | And | Or | Unless => (f64::NAN, false),
    }
}

/// Annotations collected while applying an operator element by element.
#[derive(Default)]
struct Notes {
    warnings: Vec<String>,
    infos: Vec<String>,
}

/// The result of an operator on two elements: value, histogram, keep.
type Elem = (f64, Option<Arc<FloatHistogram>>, bool);

/// Applies `op` to two elements, either of which may be a histogram, as
/// Prometheus does: histograms add, subtract and compare for equality
/// with histograms, and multiply or divide by floats; any other pairing
/// drops the element with an info annotation.
fn apply_elem(
    op: BinaryOp,
    l: (f64, Option<&Arc<FloatHistogram>>),
    r: (f64, Option<&Arc<FloatHistogram>>),
    name: &str,
    notes: &mut Notes,
) -> Option<Elem> {
    use BinaryOp::*;
    let incompatible = |notes: &mut Notes, a: &str, b: &str| {
        let o = op.as_str();
        notes.infos.push(format!(
            "PromQL info: incompatible sample types encountered for binary operator \"{o}\": {a} {o} {b}"
        ));
        None
    };
    let scaled = |h: &FloatHistogram, f: &dyn Fn(&mut FloatHistogram)| {
        let mut h = h.clone();
        f(&mut h);
        h.compact();
        Some(Arc::new(h))
    };
    Some(match (l.1, r.1) {
        (None, None) if op.is_trim() => return incompatible(notes, "float", "float"),
        (None, None) => {
            let (v, keep) = apply(op, l.0, r.0);
            (v, None, keep)
        }
        (None, Some(h)) => match op {
            Mul => (0.0, scaled(h, &|h| h.mul(l.0)), true),
            _ => return incompatible(notes, "float", "histogram"),
        },
        (Some(h), None) => match op {
            Mul => (0.0, scaled(h, &|h| h.mul(r.0)), true),
            Div => (0.0, scaled(h, &|h| h.div(r.0)), true),
            TrimUpper => (0.0, scaled(h, &|h| h.trim(r.0, true)), true),
            TrimLower => (0.0, scaled(h, &|h| h.trim(r.0, false)), true),
            _ => return incompatible(notes, "histogram", "float"),
        },
        (Some(a), Some(b)) => match op {
            Add | Sub => {
                let mut res = (**a).clone();
                let combined = if op == Add { res.add(b) } else { res.sub(b) };
                let what = if op == Add { "addition" } else { "subtraction" };
                match combined {
                    Err(_) => {
                        notes.warnings.push(format!(
                            "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"{name}\""
                        ));
                        return None;
                    }
                    Ok(c) => {
                        if c.counter_reset_collision {
                            notes.warnings.push(format!(
                                "PromQL warning: conflicting counter resets during histogram {what}"
                            ));
                        }
                        if c.bounds_reconciled {
                            notes.infos.push(format!(
                                "PromQL info: mismatched custom buckets were reconciled during {what}"
                            ));
                        }
                        if op == Sub {
                            res.counter_reset_hint = CounterResetHint::Gauge;
                        }
                        res.compact();
                        (0.0, Some(Arc::new(res)), true)
                    }
                }
            }
            Eql | Neq => {
                let mut x = (**a).clone();
                let mut y = (**b).clone();
                x.compact();
                y.compact();
                let same = histograms_equal(&x, &y);
                (0.0, Some(a.clone()), same == (op == Eql))
            }
            _ => return incompatible(notes, "histogram", "histogram"),
        },
    })
}

/// Whether two compacted histograms hold the same data (bit for bit).
fn histograms_equal(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let bits = |x: &[(i32, f64)], y: &[(i32, f64)]| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(p, q)| p.0 == q.0 && p.1.to_bits() == q.1.to_bits())
    };
    a.schema == b.schema
        && a.count.to_bits() == b.count.to_bits()
        && a.sum.to_bits() == b.sum.to_bits()
        && (!a.uses_custom_buckets() || a.custom_values == b.custom_values)
        && (a.uses_custom_buckets()
            || a.zero_threshold == b.zero_threshold
                && a.zero_count.to_bits() == b.zero_count.to_bits())
        && bits(&a.positive, &b.positive)
        && bits(&a.negative, &b.negative)
}

fn drops_name(op: BinaryOp, return_bool: bool) -> bool {
    !(op.is_comparison() || op.is_trim()) || return_bool
}

/// The match-group key of a series.
fn signature(m: &Labels, matching: &VectorMatching) -> Labels {
    let names: Vec<&str> = matching.labels.iter().map(String::as_str).collect();
    if matching.on {
        m.keep_only(&names)
    } else {
        let mut names = names;
        names.push(METRIC_NAME);
        m.without(&names)
    }
}

impl Evaluator<'_> {
    pub(crate) fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        return_bool: bool,
        matching: Option<&VectorMatching>,
        ts: i64,
    ) -> Result<StepValue, Error> {
        let l = self.eval(lhs, ts)?;
        let r = self.eval(rhs, ts)?;
        match (l, r) {
            (StepValue::Scalar(a), StepValue::Scalar(b)) => {
                let (v, keep) = apply(op, a, b);
                let v = if op.is_comparison() {
                    if keep {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    v
                };
                Ok(StepValue::Scalar(v))
            }
            (StepValue::Vector(v), StepValue::Scalar(s)) => {
                let mut notes = Notes::default();
                let out = vector_scalar(op, v, s, false, return_bool, &mut notes);
                self.take_notes(notes);
                Ok(StepValue::Vector(out))
            }
            (StepValue::Scalar(s), StepValue::Vector(v)) => {
                let mut notes = Notes::default();
                let out = vector_scalar(op, v, s, true, return_bool, &mut notes);
                self.take_notes(notes);
                Ok(StepValue::Vector(out))
            }
            (StepValue::Vector(a), StepValue::Vector(b)) => {
                let default = VectorMatching {
                    card: if op.is_set() {
                        Cardinality::ManyToMany
                    } else {
                        Cardinality::OneToOne
                    },
                    on: false,
                    labels: Vec::new(),
                    include: Vec::new(),
                    fill: FillValues::default(),
                };
                let m = matching.unwrap_or(&default);
                let out = match op {
                    BinaryOp::And => set_and(a, b, m, true),
                    BinaryOp::Unless => set_and(a, b, m, false),
                    BinaryOp::Or => set_or(a, b, m),
                    _ => {
                        let mut notes = Notes::default();
                        let out = vector_vector(op, a, b, m, return_bool, &mut notes)?;
                        self.take_notes(notes);
                        out
                    }
                };
                Ok(StepValue::Vector(out))
            }
            _ => Err(Error::exec(
                "binary expression must contain only scalar and instant vector types",
            )),
        }
    }
}

impl Evaluator<'_> {
    fn take_notes(&mut self, notes: Notes) {
        for w in notes.warnings {
            self.warn(w);
        }
        for i in notes.infos {
            self.info(i);
        }
    }
}

fn vector_scalar(
    op: BinaryOp,
    v: Vec<Sample>,
    s: f64,
    scalar_left: bool,
    return_bool: bool,
    notes: &mut Notes,
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(v.len());
    for mut e in v {
        let elem = (e.v, e.h.as_ref());
        let (l, r) = if scalar_left {
            ((s, None), elem)
        } else {
            (elem, (s, None))
        };
        let name = e.metric.get(METRIC_NAME).unwrap_or("").to_string();
        let Some((mut val, mut h, mut keep)) = apply_elem(op, l, r, &name, notes) else {
            continue;
        };
        if op.is_comparison() && scalar_left {
            val = e.v;
        }
        if return_bool {
            val = if keep { 1.0 } else { 0.0 };
            h = None;
            keep = true;
        }
        if keep {
            e.v = val;
            e.h = h;
            e.drop_name |= drops_name(op, return_bool);
            out.push(e);
        }
    }
    out
}

fn set_and(a: Vec<Sample>, b: Vec<Sample>, m: &VectorMatching, keep_matching: bool) -> Vec<Sample> {
    let right: HashSet<Labels> = b.iter().map(|s| signature(&s.metric, m)).collect();
    a.into_iter()
        .filter(|s| right.contains(&signature(&s.metric, m)) == keep_matching)
        .collect()
}

fn set_or(a: Vec<Sample>, b: Vec<Sample>, m: &VectorMatching) -> Vec<Sample> {
    let left: HashSet<Labels> = a.iter().map(|s| signature(&s.metric, m)).collect();
    let mut out = a;
    out.extend(
        b.into_iter()
            .filter(|s| !left.contains(&signature(&s.metric, m))),
    );
    out
}

/// Vector/vector arithmetic and comparisons with label matching. With fill
/// modifiers, a match group missing on one side is computed against the
/// fill value: a stand-in sample carrying the present side's match-group
/// labels only. As in Prometheus, `group_right` swaps the operands
/// internally but not the fill values, so there `fill_right` stands in for
/// the missing left ("one") side and `fill_left` for the right one.
fn vector_vector(
    op: BinaryOp,
    a: Vec<Sample>,
    b: Vec<Sample>,
    m: &VectorMatching,
    return_bool: bool,
    notes: &mut Notes,
) -> Result<Vec<Sample>, Error> {
    if a.is_empty() && b.is_empty() || (a.is_empty() || b.is_empty()) && !m.fill.any() {
        return Ok(Vec::new());
    }
    let swapped = m.card == Cardinality::OneToMany;
    let (many, one) = if swapped { (b, a) } else { (a, b) };
    // the "one" side must have unique signatures
    let mut one_by_sig: HashMap<Labels, &Sample> = HashMap::new();
    for s in &one {
        let sig = signature(&s.metric, m);
        if let Some(prev) = one_by_sig.get(&sig) {
            let side = if swapped { "left" } else { "right" };
            let mut pair = [prev.metric.to_string(), s.metric.to_string()];
            pair.sort();
            return Err(Error::exec(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                pair[0], pair[1]
            )));
        }
        one_by_sig.insert(sig, s);
    }
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    let mut pair = |matched: &mut HashMap<Labels, HashSet<Labels>>,
                    s: &Sample,
                    o: &Sample,
                    sig: Labels|
     -> Result<(), Error> {
        let (le, re) = if swapped {
            ((o.v, o.h.as_ref()), (s.v, s.h.as_ref()))
        } else {
            ((s.v, s.h.as_ref()), (o.v, o.h.as_ref()))
        };
        let name = s.metric.get(METRIC_NAME).unwrap_or("").to_string();
        let Some((mut val, mut h, mut keep)) = apply_elem(op, le, re, &name, notes) else {
            return Ok(());
        };
        if return_bool {
            val = if keep { 1.0 } else { 0.0 };
            h = None;
            keep = true;
        }
        let seen = matched.entry(sig).or_default();
        if m.card == Cardinality::OneToOne {
            // checked before filtering so the error does not depend on values
            if !seen.is_empty() {
                return Err(Error::exec(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
            seen.insert(Labels::empty());
        }
        if !keep {
            return Ok(());
        }
        let metric = result_metric(&s.metric, &o.metric, m);
        let drop = drops_name(op, return_bool);
        if m.card != Cardinality::OneToOne && !seen.insert(metric.clone()) {
            return Err(Error::exec(
                "multiple matches for labels: grouping labels must ensure unique matches",
            ));
        }
        out.push(Sample {
            metric,
            v: val,
            h,
            drop_name: s.drop_name || drop,
        });
        Ok(())
    };
    let stand_in = |present: &Sample, v: f64| Sample {
        metric: signature(&present.metric, m),
        v,
        h: None,
        drop_name: false,
    };
    for s in &many {
        let sig = signature(&s.metric, m);
        match (one_by_sig.get(&sig), m.fill.rhs) {
            (Some(o), _) => pair(&mut matched, s, o, sig)?,
            (None, Some(v)) => pair(&mut matched, s, &stand_in(s, v), sig)?,
            (None, None) => {}
        }
    }
    if let Some(v) = m.fill.lhs {
        for o in &one {
            let sig = signature(&o.metric, m);
            if !matched.contains_key(&sig) {
                pair(&mut matched, &stand_in(o, v), o, sig)?;
            }
        }
    }
    Ok(out)
}

fn result_metric(many: &Labels, one: &Labels, m: &VectorMatching) -> Labels {
    let names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
    let mut out = if m.card == Cardinality::OneToOne {
        if m.on {
            many.keep_only(&names)
        } else {
            many.without(&names)
        }
    } else {
        many.clone()
    };
    for l in &m.include {
        out = out.with(l, one.get(l).unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_comparison() {
        assert_eq!(apply(BinaryOp::Mod, -7.0, 3.0).0, -1.0);
        assert_eq!(apply(BinaryOp::Pow, 2.0, 10.0).0, 1024.0);
        assert_eq!(apply(BinaryOp::Gtr, 2.0, 1.0), (2.0, true));
        assert!(!apply(BinaryOp::Eql, f64::NAN, f64::NAN).1);
    }
}
