//! The info series of an `info()` call at a step: the selector-reading
//! side of [`crate::functions::info`], which merges their labels.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use tsdb::labels::Labels;

use super::selector::latest_any;
use super::Evaluator;
use crate::error::Error;
use crate::functions::info::{name_matchers, signature, IDENTIFYING};
use crate::parser::Expr;
use crate::value::Sample;

/// Where the loaded info series of an `info()` call are kept: the address of
/// its argument list, made odd so that it never equals a selector's key.
pub(crate) fn data_key(args: &[Expr]) -> usize {
    args.as_ptr() as usize | 1
}

impl Evaluator<'_> {
    /// The info series of the call `info(args)` at `ts` for the base
    /// vector `base`: among the loaded ones that share identifying labels
    /// with a base series that is not an info series itself, per info
    /// metric and identifying labels the one with the newest sample in the
    /// lookback window, that sample's value as value.
    pub(crate) fn info_series(
        &self,
        args: &[Expr],
        base: &[Sample],
        ts: i64,
    ) -> Result<Vec<Sample>, Error> {
        let names = name_matchers(args.get(1));
        let is_info = |l: &Labels| crate::functions::info::is_info(&names, l);
        // identifying values of the series to enrich: info series outside
        // them are not considered (as Prometheus selects them)
        let mut values: [HashSet<&str>; 2] = [HashSet::new(), HashSet::new()];
        for s in base.iter().filter(|s| !is_info(&s.metric)) {
            for (i, l) in IDENTIFYING.iter().enumerate() {
                if let Some(v) = s.metric.get(l).filter(|v| !v.is_empty()) {
                    values[i].insert(v);
                }
            }
        }
        if values.iter().all(|v| v.is_empty()) {
            return Ok(Vec::new());
        }
        let lookback = self.opts.lookback_delta_ms;
        // per join key the newest sample
        let mut chosen: HashMap<(&str, &str, &str), (&Labels, i64, f64)> = HashMap::new();
        for s in self.data.get(&data_key(args)).into_iter().flatten() {
            let in_values = IDENTIFYING.iter().enumerate().all(|(i, l)| {
                values[i].is_empty() || s.labels.get(l).is_some_and(|v| values[i].contains(v))
            });
            if !in_values {
                continue;
            }
            let Some((t, v, h)) = latest_any(s, ts, lookback) else {
                continue;
            };
            if h.is_some() {
                return Err(Error::exec("info sample should be float"));
            }
            let name = s.labels.metric_name().unwrap_or("");
            match chosen.entry(signature(name, &s.labels)) {
                Entry::Vacant(e) => {
                    e.insert((&s.labels, t, v));
                }
                Entry::Occupied(mut e) => {
                    let (prev, pt, _) = *e.get();
                    if pt == t {
                        return Err(Error::exec(format!(
                            "found duplicate series for info metric: existing {prev} @ {pt}, new {} @ {t}",
                            s.labels
                        )));
                    }
                    if t > pt {
                        e.insert((&s.labels, t, v));
                    }
                }
            }
        }
        Ok(chosen
            .into_values()
            .map(|(metric, _, v)| Sample {
                metric: metric.clone(),
                v,
                h: None,
                drop_name: false,
            })
            .collect())
    }
}
