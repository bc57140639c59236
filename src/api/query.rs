//! `/api/v1/query` and `/api/v1/query_range`.

use std::time::Duration;

use promql::{Engine, EngineOptions, QueryResult, Value};

use super::params::{duration_param, time_param, Params};
use super::response::{format_value, json_str, write_labels, write_point, ApiError, ErrorType};
use super::Answer;
use crate::app::App;

/// Points per series a range query may return, as in Prometheus.
const MAX_POINTS: i64 = 11_000;

fn engine(app: &App, p: &Params) -> Result<Engine, ApiError> {
    let mut opts = EngineOptions {
        lookback_delta_ms: app.flags.lookback_delta_ms,
        max_samples: app.flags.max_samples,
        timeout: app.flags.query_timeout,
    };
    if let Some(t) = duration_param(p, "timeout")? {
        opts.timeout = opts.timeout.min(Duration::from_millis(t.max(0) as u64));
    }
    if let Some(l) = duration_param(p, "lookback_delta")? {
        if l > 0 {
            opts.lookback_delta_ms = l;
        }
    }
    // a subquery without a step (`x[5m:]`) steps by the global
    // evaluation interval, as in Prometheus
    let step = app.config.read().global.evaluation_interval.as_millis();
    Ok(Engine::new(opts)
        .with_subquery_step(step)
        .with_buffers(std::sync::Arc::clone(&app.query_buffers)))
}

fn query_error(e: promql::Error) -> ApiError {
    use promql::ErrorKind;
    match e.kind() {
        ErrorKind::BadData => ApiError::bad_data(format!("invalid parameter \"query\": {e}")),
        ErrorKind::Execution => ApiError {
            kind: ErrorType::Execution,
            msg: e.to_string(),
        },
        ErrorKind::Timeout => ApiError {
            kind: ErrorType::Timeout,
            msg: e.to_string(),
        },
        ErrorKind::Canceled => ApiError {
            kind: ErrorType::Canceled,
            msg: e.to_string(),
        },
        _ => ApiError {
            kind: ErrorType::Internal,
            msg: e.to_string(),
        },
    }
}

/// `GET/POST /api/v1/query`.
pub fn instant(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let t = time_param(p, "time", crate::app::now_ms())?;
    let eng = engine(app, p)?;
    let q = p.get("query").unwrap_or("");
    let res = eng
        .instant_query(app.queryable().as_ref(), q, t)
        .map_err(query_error)?;
    app.observe_query(&res.stats);
    Ok(encode(res, stats_mode(p)))
}

/// `stats`: absent → none; any value → timings and totals; `all` → also
/// per-step sample counts.
fn stats_mode(p: &Params) -> Option<bool> {
    match p.get("stats") {
        None | Some("") => None,
        Some(v) => Some(v == "all"),
    }
}

fn write_stats(s: &mut String, st: &promql::QueryStats, per_step: bool) {
    use std::fmt::Write as _;
    let _ = write!(
        s,
        ",\"stats\":{{\"timings\":{{\"evalTotalTime\":{},\"resultSortTime\":{},\"queryPreparationTime\":{},\"innerEvalTime\":{},\"execQueueTime\":0,\"execTotalTime\":{}}},\"samples\":{{",
        st.eval_seconds, st.sort_seconds, st.preparation_seconds, st.inner_eval_seconds, st.eval_seconds
    );
    if per_step {
        s.push_str("\"totalQueryableSamplesPerStep\":[");
        for (i, (t, n)) in st.total_samples_per_step.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push('[');
            super::response::write_timestamp(s, *t);
            let _ = write!(s, ",{n}]");
        }
        s.push_str("],");
    }
    let _ = write!(
        s,
        "\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
        st.total_samples, st.peak_samples
    );
}

/// `GET/POST /api/v1/format_query`.
pub fn format_query(_: &App, p: &Params) -> Result<Answer, ApiError> {
    let q = p.get("query").unwrap_or("");
    let out = promql::format_query(q).map_err(query_error)?;
    let mut s = String::new();
    json_str(&mut s, &out);
    Ok(Answer::data(s))
}

/// `GET/POST /api/v1/parse_query`.
pub fn parse_query(_: &App, p: &Params) -> Result<Answer, ApiError> {
    let q = p.get("query").unwrap_or("");
    Ok(Answer::data(
        promql::parse_query_json(q).map_err(query_error)?,
    ))
}

/// `GET/POST /api/v1/query_range`.
pub fn range(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let start = required_time(p, "start")?;
    let end = required_time(p, "end")?;
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step = match duration_param(p, "step")? {
        Some(s) => s,
        None => {
            return Err(ApiError::bad_data(
                "invalid parameter \"step\": cannot parse \"\" to a valid duration",
            ))
        }
    };
    if step <= 0 {
        return Err(ApiError::bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let eng = engine(app, p)?;
    let q = p.get("query").unwrap_or("");
    let res = eng
        .range_query(app.queryable().as_ref(), q, start, end, step)
        .map_err(query_error)?;
    app.observe_query(&res.stats);
    Ok(encode(res, stats_mode(p)))
}

fn required_time(p: &Params, name: &str) -> Result<i64, ApiError> {
    match p.get(name) {
        None | Some("") => Err(ApiError::bad_data(format!(
            "invalid parameter \"{name}\": cannot parse \"\" to a valid timestamp"
        ))),
        Some(_) => time_param(p, name, 0),
    }
}

/// `[<time>, {"count": .., "sum": .., "buckets": [[<rule>, <lower>,
/// <upper>, <count>], ..]}]`, the populated buckets from the lowest, each
/// with how its bounds belong to it (0: upper only, 1: lower only, 2:
/// neither, 3: both), as Prometheus writes a histogram sample.
pub fn write_histogram_point(out: &mut String, t: i64, h: &tsdb::histogram::FloatHistogram) {
    let q = |out: &mut String, v: f64| {
        out.push('"');
        out.push_str(&format_value(v));
        out.push('"');
    };
    out.push('[');
    super::response::write_timestamp(out, t);
    out.push_str(",{\"count\":");
    q(out, h.count);
    out.push_str(",\"sum\":");
    q(out, h.sum);
    let mut first = true;
    for b in h.all_buckets() {
        if b.count == 0.0 {
            continue;
        }
        out.push_str(if first { ",\"buckets\":[" } else { "," });
        first = false;
        let rule = match (b.lower_inclusive, b.upper_inclusive) {
            (true, true) => 3,
            (true, false) => 1,
            (false, true) => 0,
            (false, false) => 2,
        };
        out.push('[');
        out.push(char::from(b'0' + rule));
        out.push(',');
        q(out, b.lower);
        out.push(',');
        q(out, b.upper);
        out.push(',');
        q(out, b.count);
        out.push(']');
    }
    if !first {
        out.push(']');
    }
    out.push_str("}]");
}

/// Encodes a query result as the API's `data` object.
pub fn encode(res: QueryResult, stats: Option<bool>) -> Answer {
    // room for about what it will take (a float point is about 25 bytes)
    let points: usize = match &res.value {
        Value::Matrix(series) => series.iter().map(|x| x.points.len() + 8).sum(),
        Value::Vector(samples) => samples.len() * 8,
        _ => 0,
    };
    let mut s = String::with_capacity(256 + points.min(1 << 24) * 25);
    match &res.value {
        Value::Scalar { t, v } => {
            s.push_str("{\"resultType\":\"scalar\",\"result\":");
            write_point(&mut s, *t, *v);
        }
        Value::String { t, v } => {
            s.push_str("{\"resultType\":\"string\",\"result\":[");
            super::response::write_timestamp(&mut s, *t);
            s.push(',');
            json_str(&mut s, v);
            s.push(']');
        }
        Value::Vector(samples) => {
            s.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, x) in samples.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str("{\"metric\":");
                write_labels(&mut s, &x.metric);
                match &x.h {
                    Some(h) => {
                        s.push_str(",\"histogram\":");
                        write_histogram_point(&mut s, x.t, h);
                    }
                    None => {
                        s.push_str(",\"value\":");
                        write_point(&mut s, x.t, x.v);
                    }
                }
                s.push('}');
            }
            s.push(']');
        }
        Value::Matrix(series) => {
            s.push_str("{\"resultType\":\"matrix\",\"result\":[");
            for (i, x) in series.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str("{\"metric\":");
                write_labels(&mut s, &x.metric);
                // as Prometheus: "values" for floats, "histograms" for
                // histograms, each only when there are some
                if !x.points.is_empty() || x.hpoints.is_empty() {
                    s.push_str(",\"values\":[");
                    for (j, (t, v)) in x.points.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        write_point(&mut s, *t, *v);
                    }
                    s.push(']');
                }
                if !x.hpoints.is_empty() {
                    s.push_str(",\"histograms\":[");
                    for (j, (t, h)) in x.hpoints.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        write_histogram_point(&mut s, *t, h);
                    }
                    s.push(']');
                }
                s.push('}');
            }
            s.push(']');
        }
    }
    if let Some(per_step) = stats {
        write_stats(&mut s, &res.stats, per_step);
    }
    s.push('}');
    Answer {
        data: s,
        warnings: res.warnings,
        infos: res.infos,
        no_content: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql::{MatrixSeries, VectorSample};
    use std::sync::Arc;
    use tsdb::histogram::FloatHistogram;
    use tsdb::labels::Labels;

    fn result(value: Value) -> QueryResult {
        QueryResult {
            value,
            warnings: Vec::new(),
            infos: Vec::new(),
            stats: Default::default(),
        }
    }

    #[test]
    fn histograms_are_written_as_prometheus_writes_them() {
        // 1 in the zero bucket, 2 in (1,2], 3 in [-2,-1), an empty (2,4]
        let h = Arc::new(FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            count: 6.0,
            sum: 0.5,
            positive: vec![(1, 2.0), (2, 0.0)],
            negative: vec![(1, 3.0)],
            ..Default::default()
        });
        let m = Labels::from_pairs(&[("__name__", "h")]);
        let v = encode(
            result(Value::Vector(vec![VectorSample {
                metric: m.clone(),
                t: 1500,
                v: 0.0,
                h: Some(h.clone()),
            }])),
            None,
        );
        assert_eq!(
            v.data,
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"h"},"histogram":[1.500,{"count":"6","sum":"0.5","buckets":[[1,"-2","-1","3"],[3,"-0.001","0.001","1"],[0,"1","2","2"]]}]}]}"#
        );
        let empty = Arc::new(FloatHistogram::default());
        let m2 = encode(
            result(Value::Matrix(vec![
                MatrixSeries {
                    metric: m.clone(),
                    points: vec![(1000, 1.0)],
                    hpoints: vec![(2000, empty)],
                },
                MatrixSeries {
                    metric: Labels::empty(),
                    points: Vec::new(),
                    hpoints: vec![(3000, h)],
                },
            ])),
            None,
        );
        assert!(
            m2.data
                .contains(r#""values":[[1,"1"]],"histograms":[[2,{"count":"0","sum":"0"}]]"#),
            "{}",
            m2.data
        );
        assert!(
            m2.data.contains(r#"{"metric":{},"histograms":[[3,{"#),
            "{}",
            m2.data
        );
    }
}
