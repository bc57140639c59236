//! Label manipulation (`label_replace`, `label_join`), `absent*` and the
//! sorting functions.

use std::cmp::Ordering;

use regex::Regex;
use tsdb::labels::{Labels, MatchOp, METRIC_NAME};

use super::{evaluated, string, take_vector, FnCtx};
use crate::engine::{check_duplicates, finish_labels, valid_label_name};
use crate::error::Error;
use crate::parser::{Expr, VectorSelector};
use crate::value::{Sample, StepValue};

type R = Result<StepValue, Error>;

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

/// The argument expression of `absent*` (read for its matchers).
fn absent_arg<'e>(ctx: &FnCtx<'e>) -> Result<&'e Expr, Error> {
    ctx.exprs
        .first()
        .ok_or_else(|| Error::exec("missing function argument"))
}

pub(super) fn absent(ctx: &mut FnCtx<'_>, mut args: Vec<StepValue>) -> R {
    let a = absent_arg(ctx)?;
    if !take_vector(&mut args, 0)?.is_empty() {
        return Ok(StepValue::Vector(Vec::new()));
    }
    Ok(one(match a.unwrap_parens() {
        Expr::VectorSelector(vs) => absent_labels(vs),
        _ => Labels::empty(),
    }))
}

pub(super) fn absent_over_time(ctx: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    let a = absent_arg(ctx)?;
    let Some(StepValue::Matrix(m)) = args.first() else {
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

/// A string argument of those evaluated so far.
fn evaluated_string(args: &[Option<StepValue>], i: usize) -> Result<&str, Error> {
    match evaluated(args, i) {
        Some(StepValue::String(s)) => Ok(s),
        Some(_) => Err(Error::exec("expected a string expression")),
        None => Err(Error::exec("missing function argument")),
    }
}

/// The regular expression of `label_replace`, anchored at both ends.
fn replace_regex(ctx: &mut FnCtx<'_>, re_src: &str) -> Result<Regex, Error> {
    ctx.regexes.get(&format!("^(?s:{re_src})$")).map_err(|e| {
        Error::exec(format!(
            "invalid regular expression in label_replace(): {re_src}: {e}"
        ))
    })
}

/// Checks the regular expression and destination label of `label_replace`
/// once its string arguments are evaluated, before its vector is.
pub(super) fn label_replace_check(
    ctx: &mut FnCtx<'_>,
    i: usize,
    args: &[Option<StepValue>],
) -> Result<Option<StepValue>, Error> {
    if i != 4 {
        return Ok(None);
    }
    replace_regex(ctx, evaluated_string(args, 4)?)?;
    let dst = evaluated_string(args, 1)?;
    if !valid_label_name(dst) {
        return Err(Error::exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    Ok(None)
}

pub(super) fn label_replace(ctx: &mut FnCtx<'_>, mut args: Vec<StepValue>) -> R {
    let re = replace_regex(ctx, string(&args, 4)?)?;
    let dst = string(&args, 1)?.to_string();
    let repl = string(&args, 2)?.to_string();
    let src = string(&args, 3)?.to_string();
    let mut v = take_vector(&mut args, 0)?;
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

/// Checks the source and destination labels of `label_join` once its
/// string arguments are evaluated, before its vector is.
pub(super) fn label_join_check(
    ctx: &mut FnCtx<'_>,
    i: usize,
    args: &[Option<StepValue>],
) -> Result<Option<StepValue>, Error> {
    // the string arguments come after the vector: the last one ends them
    if i + 1 != ctx.exprs.len() || i == 0 {
        return Ok(None);
    }
    for j in 3..args.len() {
        let s = evaluated_string(args, j)?;
        if !valid_label_name(s) {
            return Err(Error::exec(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
    }
    let dst = evaluated_string(args, 1)?;
    if !valid_label_name(dst) {
        return Err(Error::exec(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    Ok(None)
}

pub(super) fn label_join(_: &mut FnCtx<'_>, mut args: Vec<StepValue>) -> R {
    let dst = string(&args, 1)?.to_string();
    let sep = string(&args, 2)?.to_string();
    let srcs = (3..args.len())
        .map(|i| string(&args, i).map(str::to_string))
        .collect::<Result<Vec<String>, Error>>()?;
    let mut v = take_vector(&mut args, 0)?;
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

fn sort_values(mut args: Vec<StepValue>, desc: bool) -> R {
    let mut v = take_vector(&mut args, 0)?;
    v.retain(|s| s.h.is_none());
    v.sort_by(|a, b| by_value(a.v, b.v, desc));
    Ok(StepValue::Vector(v))
}

pub(super) fn sort(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    sort_values(args, false)
}

pub(super) fn sort_desc(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    sort_values(args, true)
}

fn sort_labels(mut args: Vec<StepValue>, desc: bool) -> R {
    let names = (1..args.len())
        .map(|i| string(&args, i).map(str::to_string))
        .collect::<Result<Vec<String>, Error>>()?;
    let mut v = take_vector(&mut args, 0)?;
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

pub(super) fn sort_by_label(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    sort_labels(args, false)
}

pub(super) fn sort_by_label_desc(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    sort_labels(args, true)
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
