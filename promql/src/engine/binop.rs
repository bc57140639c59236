//! Binary operators: scalar/scalar, vector/scalar and vector/vector with
//! label matching.

use std::collections::{HashMap, HashSet};

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
        And | Or | Unless => (f64::NAN, false),
    }
}

fn drops_name(op: BinaryOp, return_bool: bool) -> bool {
    !op.is_comparison() || return_bool
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
            (StepValue::Vector(v), StepValue::Scalar(s)) => Ok(StepValue::Vector(vector_scalar(
                op,
                v,
                s,
                false,
                return_bool,
            ))),
            (StepValue::Scalar(s), StepValue::Vector(v)) => Ok(StepValue::Vector(vector_scalar(
                op,
                v,
                s,
                true,
                return_bool,
            ))),
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
                    _ => vector_vector(op, a, b, m, return_bool)?,
                };
                Ok(StepValue::Vector(out))
            }
            _ => Err(Error::exec(
                "binary expression must contain only scalar and instant vector types",
            )),
        }
    }
}

fn vector_scalar(
    op: BinaryOp,
    v: Vec<Sample>,
    s: f64,
    scalar_left: bool,
    return_bool: bool,
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(v.len());
    for mut e in v {
        let (l, r) = if scalar_left { (s, e.v) } else { (e.v, s) };
        let (mut val, mut keep) = apply(op, l, r);
        if op.is_comparison() && scalar_left {
            val = e.v;
        }
        if return_bool {
            val = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if keep {
            e.v = val;
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
        let (lv, rv) = if swapped { (o.v, s.v) } else { (s.v, o.v) };
        let (mut val, mut keep) = apply(op, lv, rv);
        if return_bool {
            val = if keep { 1.0 } else { 0.0 };
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
            drop_name: s.drop_name || drop,
        });
        Ok(())
    };
    let stand_in = |present: &Sample, v: f64| Sample {
        metric: signature(&present.metric, m),
        v,
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
