//! Label manipulation (`label_replace`, `label_join`), `absent*` and the
//! sorting functions.

use std::cmp::Ordering;

use regex::Regex;
use tsdb::labels::{Labels, MatchOp, METRIC_NAME};

use crate::engine::{check_duplicates, finish_labels, valid_label_name, Evaluator};
use crate::error::Error;
use crate::parser::{Expr, VectorSelector};
use crate::value::{Sample, StepValue};

type R = Result<StepValue, Error>;

fn arg(args: &[Expr], i: usize) -> Result<&Expr, Error> {
    args.get(i)
        .ok_or_else(|| Error::exec("missing function argument"))
}

/// Labels for `absent(sel)`: the selector's equality matchers, except the
/// metric name and labels matched more than once.
fn absent_labels(vs: &VectorSelector) -> Labels {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut dup: Vec<&str> = Vec::new();
    for m in &vs.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if pairs.iter().any(|(n, _)| *n == m.name) || dup.contains(&m.name.as_str()) {
            dup.push(&m.name);
            continue;
        }
        if m.op == MatchOp::Equal {
            pairs.push((&m.name, &m.value));
        }
    }
    pairs.retain(|(n, _)| !dup.contains(n));
    Labels::from_pairs(&pairs)
}

fn one(metric: Labels) -> StepValue {
    StepValue::Vector(vec![Sample {
        metric,
        v: 1.0,
        h: None,
        drop_name: false,
    }])
}

pub(super) fn absent(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let a = arg(args, 0)?;
    if !ev.eval_vector(a, ts)?.is_empty() {
        return Ok(StepValue::Vector(Vec::new()));
    }
    Ok(one(match a.unwrap_parens() {
        Expr::VectorSelector(vs) => absent_labels(vs),
        _ => Labels::empty(),
    }))
}

pub(super) fn absent_over_time(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let a = arg(args, 0)?;
    let StepValue::Matrix(m) = ev.eval(a, ts)? else {
        return Err(Error::exec("expected a range vector"));
    };
    if !m.is_empty() {
        return Ok(StepValue::Vector(Vec::new()));
    }
    Ok(one(match a.unwrap_parens() {
        Expr::MatrixSelector { selector, .. } => absent_labels(selector),
        _ => Labels::empty(),
    }))
}

/// Rejects output whose label sets (after name removal) collide.
fn unique(v: &[Sample]) -> Result<(), Error> {
    let finished: Vec<Labels> = v
        .iter()
        .map(|s| finish_labels(s.metric.clone(), s.drop_name))
        .collect();
    check_duplicates(finished.iter())
}

pub(super) fn label_replace(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let dst = ev.eval_string(arg(args, 1)?, ts)?;
    let repl = ev.eval_string(arg(args, 2)?, ts)?;
    let src = ev.eval_string(arg(args, 3)?, ts)?;
    let re_src = ev.eval_string(arg(args, 4)?, ts)?;
    let re = Regex::new(&format!("^(?s:{re_src})$")).map_err(|e| {
        Error::exec(format!(
            "invalid regular expression in label_replace(): {re_src}: {e}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return Err(Error::exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut v = ev.eval_vector(&args[0], ts)?;
    for s in &mut v {
        let value = s.metric.get(&src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            s.metric = s.metric.with(&dst, &res);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
    }
    unique(&v)?;
    Ok(StepValue::Vector(v))
}

pub(super) fn label_join(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let dst = ev.eval_string(arg(args, 1)?, ts)?;
    let sep = ev.eval_string(arg(args, 2)?, ts)?;
    let mut srcs = Vec::new();
    for a in args.iter().skip(3) {
        let s = ev.eval_string(a, ts)?;
        if !valid_label_name(&s) {
            return Err(Error::exec(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
        srcs.push(s);
    }
    if !valid_label_name(&dst) {
        return Err(Error::exec(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut v = ev.eval_vector(arg(args, 0)?, ts)?;
    for s in &mut v {
        let joined: Vec<&str> = srcs.iter().map(|n| s.metric.get(n).unwrap_or("")).collect();
        let joined = joined.join(&sep);
        s.metric = s.metric.with(&dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
    }
    unique(&v)?;
    Ok(StepValue::Vector(v))
}

/// Orders by value, NaN last in both directions.
fn by_value(a: f64, b: f64, desc: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

fn sort_values(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64, desc: bool) -> R {
    let mut v = ev.eval_vector(arg(args, 0)?, ts)?;
    v.retain(|s| s.h.is_none());
    v.sort_by(|a, b| by_value(a.v, b.v, desc));
    Ok(StepValue::Vector(v))
}

pub(super) fn sort(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    sort_values(ev, args, ts, false)
}

pub(super) fn sort_desc(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    sort_values(ev, args, ts, true)
}

fn sort_labels(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64, desc: bool) -> R {
    let mut names = Vec::new();
    for a in args.iter().skip(1) {
        names.push(ev.eval_string(a, ts)?);
    }
    let mut v = ev.eval_vector(arg(args, 0)?, ts)?;
    v.sort_by(|a, b| {
        let mut o = Ordering::Equal;
        for n in &names {
            o = natural_cmp(a.metric.get(n).unwrap_or(""), b.metric.get(n).unwrap_or(""));
            if o != Ordering::Equal {
                break;
            }
        }
        let o = o.then_with(|| a.metric.cmp(&b.metric));
        if desc {
            o.reverse()
        } else {
            o
        }
    });
    Ok(StepValue::Vector(v))
}

/// Compares strings with embedded numbers by numeric value ("a2" < "a10").
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = dx.iter().skip_while(|c| **c == b'0').count();
                let ty = dy.iter().skip_while(|c| **c == b'0').count();
                let o = tx.cmp(&ty).then_with(|| dx[nx - tx..].cmp(&dy[ny - ty..]));
                if o != Ordering::Equal {
                    return o;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

pub(super) fn sort_by_label(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    sort_labels(ev, args, ts, false)
}

pub(super) fn sort_by_label_desc(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    sort_labels(ev, args, ts, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("b", "a10"), Ordering::Greater);
        assert_eq!(natural_cmp("x01", "x1"), Ordering::Equal);
        assert_eq!(by_value(f64::NAN, 1.0, true), Ordering::Greater);
    }
}
