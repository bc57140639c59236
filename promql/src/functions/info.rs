//! `info(v [, {selector}])`: adds the data labels of info series (by
//! default `target_info`) to the series of `v` that share their `instance`
//! and `job`.
//!
//! The info series are loaded with the selector's matchers (data-label
//! matchers as written; `__name__` matchers, or `target_info` when there
//! are none, or `=~".+_info"` in front of only negative ones) and taken at
//! each step like an instant selector, without the base's offset or `@`.
//! Per info metric and identifying labels the newest sample wins. A base
//! series gets each info label it does not already have; one whose own name
//! matches the info selector passes unchanged; one without any matching
//! info series is kept as it is, unless a data-label matcher needs a
//! non-empty value, in which case it is dropped at that step.

use std::collections::{BTreeMap, HashMap, HashSet};

use tsdb::labels::{Labels, MatchOp, Matcher, METRIC_NAME};

use super::super::engine::selector::latest_any;
use crate::engine::Evaluator;
use crate::error::Error;
use crate::parser::Expr;
use crate::value::{Sample, StepValue};

/// The labels joining base and info series.
const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// Where the loaded info series of an `info()` call are kept: the address of
/// its argument list, made odd so that it never equals a selector's key.
pub(crate) fn data_key(args: &[Expr]) -> usize {
    args.as_ptr() as usize | 1
}

/// The selector's matchers with the effective `__name__` matchers.
fn name_matchers(selector: Option<&Expr>) -> Vec<Matcher> {
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
fn data_matchers(selector: Option<&Expr>) -> Vec<Matcher> {
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
fn signature<'a>(name: &'a str, base: &'a Labels) -> (&'a str, &'a str, &'a str) {
    let [instance, job] = IDENTIFYING.map(|l| base.get(l).unwrap_or(""));
    (name, instance, job)
}

pub(crate) fn info(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> Result<StepValue, Error> {
    let StepValue::Vector(base) = ev.eval(&args[0], ts)? else {
        return Err(Error::exec("info() expects an instant vector"));
    };
    let selector = args.get(1);
    let names = name_matchers(selector);
    let data = data_matchers(selector);
    let wanted: HashSet<&str> = data.iter().map(|m| m.name.as_str()).collect();
    let is_info = |l: &Labels| {
        let n = l.metric_name().unwrap_or("");
        names.iter().all(|m| m.matches(n))
    };
    // identifying values of the series to enrich: info series outside them
    // are not considered (as Prometheus selects them)
    let mut values: [HashSet<&str>; 2] = [HashSet::new(), HashSet::new()];
    for s in base.iter().filter(|s| !is_info(&s.metric)) {
        for (i, l) in IDENTIFYING.iter().enumerate() {
            if let Some(v) = s.metric.get(l).filter(|v| !v.is_empty()) {
                values[i].insert(v);
            }
        }
    }
    let loaded = ev.data.get(&data_key(args));
    let lookback = ev.opts.lookback_delta_ms;
    // every info metric name loaded, and per join key the newest sample
    let mut info_names: BTreeMap<&str, ()> = BTreeMap::new();
    let mut chosen: HashMap<(&str, &str, &str), (&Labels, i64)> = HashMap::new();
    let fetch = values.iter().any(|v| !v.is_empty());
    for s in loaded.into_iter().flatten().filter(|_| fetch) {
        let in_values = IDENTIFYING.iter().enumerate().all(|(i, l)| {
            values[i].is_empty() || s.labels.get(l).is_some_and(|v| values[i].contains(v))
        });
        if !in_values {
            continue;
        }
        let name = s.labels.metric_name().unwrap_or("");
        info_names.insert(name, ());
        let Some((t, _, h)) = latest_any(s, ts, lookback) else {
            continue;
        };
        if h.is_some() {
            return Err(Error::exec("info sample should be float"));
        }
        match chosen.entry(signature(name, &s.labels)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((&s.labels, t));
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (prev, pt) = *e.get();
                if pt == t {
                    return Err(Error::exec(format!(
                        "found duplicate series for info metric: existing {prev} @ {pt}, new {} @ {t}",
                        s.labels
                    )));
                }
                if t > pt {
                    e.insert((&s.labels, t));
                }
            }
        }
    }
    let needs_value = data.iter().any(|m| !m.matches(""));
    let mut out = Vec::with_capacity(base.len());
    for s in base {
        if is_info(&s.metric) {
            out.push(s);
            continue;
        }
        let mut add: BTreeMap<&str, &str> = BTreeMap::new();
        let mut matched = false;
        for name in info_names.keys() {
            let Some((info, _)) = chosen.get(&signature(name, &s.metric)) else {
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
