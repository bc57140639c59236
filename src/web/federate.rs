//! `/federate`: the newest sample of every series matching `match[]`, in
//! the text format, for another server to scrape.

use tsdb::labels::{Label, Labels};
use tsdb::read::Queryable;

use crate::api::params::Params;
use crate::api::response::{ApiError, ErrorType};
use crate::api::series::match_params;
use crate::app::{now_ms, App};
use crate::expfmt::write_sample;

/// Renders the federation body.
pub fn render(app: &App, p: &Params) -> Result<String, ApiError> {
    let sets = match_params(p)?;
    let t = now_ms();
    let lookback = app.flags.lookback_delta_ms;
    let external: Vec<Label> = app
        .config
        .read()
        .global
        .external_labels
        .iter()
        .map(|(k, v)| Label::new(k.as_str(), v.as_str()))
        .collect();
    let q = app.db.querier(t - lookback + 1, t).map_err(|e| ApiError {
        kind: ErrorType::Internal,
        msg: e.to_string(),
    })?;
    let mut out: Vec<(Labels, i64, f64)> = Vec::new();
    for m in &sets {
        let series = q.select(m).map_err(|e| ApiError {
            kind: ErrorType::Internal,
            msg: e.to_string(),
        })?;
        for mut s in series {
            let mut last = None;
            while let Some(x) = s.samples.next() {
                last = Some(x);
            }
            let Some((ts, v)) = last else { continue };
            if tsdb::is_stale_nan(v) {
                continue;
            }
            let mut labels = s.labels.into_vec();
            for e in &external {
                if !labels.iter().any(|l| l.name == e.name) {
                    labels.push(e.clone());
                }
            }
            out.push((Labels::new(labels), ts, v));
        }
    }
    out.sort_by(|a, b| {
        a.0.metric_name()
            .cmp(&b.0.metric_name())
            .then_with(|| a.0.cmp(&b.0))
    });
    out.dedup_by(|a, b| a.0 == b.0);
    let mut body = String::new();
    let mut family: Option<&str> = None;
    for (labels, ts, v) in &out {
        let name = labels.metric_name().unwrap_or("");
        if family != Some(name) {
            body.push_str("# TYPE ");
            body.push_str(name);
            body.push_str(" untyped\n");
            family = Some(name);
        }
        write_sample(&mut body, labels, *v, Some(*ts));
    }
    Ok(body)
}
