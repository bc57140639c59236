//! The storage: `/api/v1/status/tsdb` and the admin endpoints
//! (`/api/v1/admin/tsdb/*`).

use std::fmt::Write as _;

use super::params::{time_param, Params, MAX_TIME_MS, MIN_TIME_MS};
use super::response::{json_str, ApiError, ErrorType};
use super::Answer;
use crate::app::App;

/// `GET /api/v1/status/tsdb?limit=N`: Prometheus's fields, and
/// `bytesOnDiskByMetricName` (see [`tsdb::MetricBytes`]).
pub fn tsdb(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let limit = match p.get("limit") {
        None | Some("") => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        },
    };
    let card = app.db.cardinality(limit);
    let stats = app.db.stats();
    let (chunks, range) = app.db.time_range();
    let (min, max) = range.unwrap_or((i64::MAX, i64::MIN));
    let mut s = format!(
        "{{\"headStats\":{{\"numSeries\":{},\"numLabelPairs\":{},\"chunkCount\":{chunks},\"minTime\":{min},\"maxTime\":{max}}}",
        stats.series, card.label_pairs
    );
    for (key, list) in [
        ("seriesCountByMetricName", &card.series_by_metric),
        ("labelValueCountByLabelName", &card.values_by_label),
        ("memoryInBytesByLabelName", &card.bytes_by_label),
        ("seriesCountByLabelValuePair", &card.series_by_pair),
    ] {
        let _ = write!(s, ",\"{key}\":[");
        for (i, (name, v)) in list.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str("{\"name\":");
            json_str(&mut s, name);
            let _ = write!(s, ",\"value\":{v}}}");
        }
        s.push(']');
    }
    // flint's own: the bytes on disk of each metric's series (blocks,
    // head, native histograms), largest first; a block that cannot be
    // read leaves the list empty with a warning, Prometheus's fields stay
    let mut warnings = Vec::new();
    let bytes = app.db.bytes_by_metric(limit).unwrap_or_else(|e| {
        warnings.push(format!("bytes on disk by metric name: {e}"));
        Vec::new()
    });
    s.push_str(",\"bytesOnDiskByMetricName\":[");
    for (i, m) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"name\":");
        json_str(&mut s, &m.name);
        let _ = write!(
            s,
            ",\"value\":{},\"series\":{},\"blockBytes\":{},\"headBytes\":{},\"histogramBytes\":{}}}",
            m.total(),
            m.series,
            m.block_bytes,
            m.head_bytes,
            m.histogram_bytes
        );
    }
    s.push_str("]}");
    Ok(Answer {
        warnings,
        ..Answer::data(s)
    })
}
/// The admin endpoints need `--web.enable-admin-api`.
fn admin_enabled(app: &App) -> Result<(), ApiError> {
    if app.enable_admin_api {
        Ok(())
    } else {
        Err(ApiError {
            kind: ErrorType::Unavailable,
            msg: "admin APIs disabled".into(),
        })
    }
}

/// `POST/PUT /api/v1/admin/tsdb/snapshot?skip_head=`: hard-linked blocks
/// plus the head as a block, under `<data>/snapshots/<name>`.
pub fn snapshot(app: &App, p: &Params) -> Result<Answer, ApiError> {
    admin_enabled(app)?;
    let skip_head = match p.get("skip_head") {
        None | Some("") => false,
        Some(v) => v.parse::<bool>().map_err(|_| {
            ApiError::bad_data(format!(
                "unable to parse boolean 'skip_head' argument: {v:?}"
            ))
        })?,
    };
    let name = app.db.snapshot(skip_head).map_err(|e| ApiError {
        kind: ErrorType::Internal,
        msg: format!("create snapshot: {e}"),
    })?;
    let mut s = String::from("{\"name\":");
    json_str(&mut s, &name);
    s.push('}');
    Ok(Answer::data(s))
}

/// `POST/PUT /api/v1/admin/tsdb/delete_series?match[]=&start=&end=`:
/// the data is removed at once (blocks rewritten, head chunks re-encoded).
pub fn delete_series(app: &App, p: &Params) -> Result<Answer, ApiError> {
    admin_enabled(app)?;
    let sets = super::series::match_params(p)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = time_param(p, "start", MIN_TIME_MS)?;
    let end = time_param(p, "end", MAX_TIME_MS)?;
    for m in &sets {
        app.db.delete(m, start, end).map_err(|e| ApiError {
            kind: ErrorType::Internal,
            msg: format!("delete series: {e}"),
        })?;
    }
    Ok(Answer::no_content())
}

/// `POST/PUT /api/v1/admin/tsdb/clean_tombstones`: deletions are applied
/// at once, so there are no tombstones to clean.
pub fn clean_tombstones(app: &App, _: &Params) -> Result<Answer, ApiError> {
    admin_enabled(app)?;
    Ok(Answer::no_content())
}
