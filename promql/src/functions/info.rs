//! `info(v [, {selector}])`: adds the data labels of info series (by
//! default `target_info`) to the series of `v` that share their `instance`
//! and `job`.
//!
//! The info series are loaded with the selector's matchers (data-label
//! matchers as written; `__name__` matchers, or `target_info` when there
//! are none, or `=~".+_info"` in front of only negative ones) and taken at
//! each step like an instant selector, without the base's offset or `@`:
//! the engine does that (`engine/info.rs`) and hands over, per info metric
//! and identifying labels, the newest sample. A base series gets each info
//! label it does not already have; one whose own name matches the info
//! selector passes unchanged; one without any matching info series is kept
//! as it is, unless a data-label matcher needs a non-empty value, in which
//! case it is dropped at that step.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use tsdb::labels::{Labels, MatchOp, Matcher, METRIC_NAME};

use super::{take_vector, FnCtx};
use crate::error::Error;
use crate::parser::Expr;
use crate::value::{Sample, StepValue};

/// The labels joining base and info series.
pub(crate) const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The selector's matchers with the effective `__name__` matchers.
pub(crate) fn name_matchers(selector: Option<&Expr>) -> Vec<Matcher> {
    let written: Vec<Matcher> = match selector {
        Some(Expr::VectorSelector(vs)) => vs
            .matchers
            .iter()
            .filter(|m| m.name == METRIC_NAME)
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    if written.is_empty() {
        return vec![Matcher::equal(METRIC_NAME, "target_info")];
    }
    let positive = written
        .iter()
        .any(|m| matches!(m.op, MatchOp::Equal | MatchOp::RegexMatch));
    if positive {
        return written;
    }
    // compiled once: info() asks for it at every step
    static INFO_NAMES: std::sync::OnceLock<Matcher> = std::sync::OnceLock::new();
    let any_info = INFO_NAMES.get_or_init(|| {
        Matcher::new(MatchOp::RegexMatch, METRIC_NAME, ".+_info")
            .expect("a valid regular expression")
    });
    let mut out = vec![any_info.clone()];
    out.extend(written);
    out
}

/// The data-label matchers of the selector (all but `__name__`).
pub(crate) fn data_matchers(selector: Option<&Expr>) -> Vec<Matcher> {
    match selector {
        Some(Expr::VectorSelector(vs)) => vs
            .matchers
            .iter()
            .filter(|m| m.name != METRIC_NAME)
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// The matchers that select the info series.
pub(crate) fn info_matchers(selector: Option<&Expr>) -> Vec<Matcher> {
    let mut out = data_matchers(selector);
    out.extend(name_matchers(selector));
    out
}

/// An info series' join key for a base series: the info metric's name and
/// the base's identifying labels (an absent label counts as empty).
pub(crate) fn signature<'a>(name: &'a str, base: &'a Labels) -> (&'a str, &'a str, &'a str) {
    let [instance, job] = IDENTIFYING.map(|l| base.get(l).unwrap_or(""));
    (name, instance, job)
}

/// Whether a series is an info series of the selector: its name matches
/// the `__name__` matchers `names`.
pub(crate) fn is_info(names: &[Matcher], l: &Labels) -> bool {
    let n = l.metric_name().unwrap_or("");
    names.iter().all(|m| m.matches(n))
}

/// `info(v, infos)`: `infos` holds, per info metric and identifying
/// labels, the newest sample of the info series at the step.
pub(super) fn info(ctx: &mut FnCtx<'_>, mut args: Vec<StepValue>) -> Result<StepValue, Error> {
    let base = match args.first() {
        Some(StepValue::Vector(_)) => take_vector(&mut args, 0)?,
        _ => return Err(Error::exec("info() expects an instant vector")),
    };
    let infos = take_vector(&mut args, 1)?;
    let selector = ctx.exprs.get(1);
    let names = name_matchers(selector);
    let data = data_matchers(selector);
    let wanted: HashSet<&str> = data.iter().map(|m| m.name.as_str()).collect();
    // every info metric name, and the info series of each join key
    let mut info_names: BTreeSet<&str> = BTreeSet::new();
    let mut chosen: HashMap<(&str, &str, &str), &Labels> = HashMap::new();
    for s in &infos {
        let name = s.metric.metric_name().unwrap_or("");
        info_names.insert(name);
        chosen.insert(signature(name, &s.metric), &s.metric);
    }
    let needs_value = data.iter().any(|m| !m.matches(""));
    let mut out = Vec::with_capacity(base.len());
    for s in base {
        if is_info(&names, &s.metric) {
            out.push(s);
            continue;
        }
        let mut add: BTreeMap<&str, &str> = BTreeMap::new();
        let mut matched = false;
        for name in &info_names {
            let Some(info) = chosen.get(&signature(name, &s.metric)) else {
                continue;
            };
            matched = true;
            for l in info.iter() {
                if l.name == METRIC_NAME
                    || (!wanted.is_empty() && !wanted.contains(l.name.as_str()))
                {
                    continue;
                }
                if let Some(v) = add.get(l.name.as_str()) {
                    if *v != l.value && !v.is_empty() {
                        return Err(Error::exec(format!("conflicting label: {}", l.name)));
                    }
                }
                if s.metric.has(&l.name) {
                    continue;
                }
                add.insert(&l.name, &l.value);
            }
        }
        if !matched {
            if !needs_value {
                out.push(s);
            }
            continue;
        }
        let mut metric = s.metric.clone();
        for (k, v) in add {
            metric = metric.with(k, v);
        }
        out.push(Sample {
            metric,
            v: s.v,
            h: s.h,
            drop_name: s.drop_name,
        });
    }
    Ok(StepValue::Vector(out))
}
