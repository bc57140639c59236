//! `/api/v1/query_exemplars`: the stored exemplars of the series an
//! expression selects.

use std::fmt::Write;

use super::params::{time_param, Params, MAX_TIME_MS, MIN_TIME_MS};
use super::response::{format_value, write_labels, write_timestamp, ApiError};
use super::Answer;
use crate::app::App;

/// `GET/POST /api/v1/query_exemplars?query=&start=&end=`: for each
/// selector of the expression, the exemplars in the range of the series
/// it matches (`[{"seriesLabels": …, "exemplars": [{"labels": …, "value":
/// "…", "timestamp": …}]}]`, sorted by series); 204 when the expression
/// selects nothing, as Prometheus answers.
pub fn query_exemplars(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let start = time_param(p, "start", MIN_TIME_MS)?;
    let end = time_param(p, "end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    let expr = promql::parse(p.get("query").unwrap_or(""))
        .map_err(|e| ApiError::bad_data(e.to_string()))?;
    let sets: Vec<_> = expr
        .selectors()
        .into_iter()
        .map(|vs| vs.matchers.clone())
        .collect();
    if sets.is_empty() {
        return Ok(Answer::no_content());
    }
    let found = app.db.exemplars(start, end, &sets);
    let mut out = String::with_capacity(64 + found.len() * 256);
    out.push('[');
    for (i, s) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        write_labels(&mut out, &s.series);
        out.push_str(",\"exemplars\":[");
        for (j, e) in s.exemplars.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            write_labels(&mut out, &e.labels);
            let _ = write!(
                out,
                ",\"value\":\"{}\",\"timestamp\":",
                format_value(e.value)
            );
            write_timestamp(&mut out, e.ts);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    Ok(Answer::data(out))
}
