//! `/federate`: the newest sample of every series matching `match[]`, for
//! another server to scrape: in the text format, float samples only (as
//! Prometheus), or, when the scraper asks for the protobuf format first
//! (as Prometheus does with native histograms on), as `MetricFamily`
//! messages holding native histograms too.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{header, Request};
use prost::Message;
use tsdb::histogram::FloatHistogram;
use tsdb::labels::{Label, Labels};
use tsdb::read::{Queryable, SampleIterator as _};

use super::reply::{respond_bytes, text, Reply};
use crate::api::params::{self, Params};
use crate::api::response::{ApiError, ErrorType};
use crate::api::series::match_params;
use crate::app::{now_ms, App};
use crate::expfmt::write_sample;
use textparse::protobuf::model;

/// A series' newest sample.
enum Newest {
    Float(f64),
    Histogram(Arc<FloatHistogram>),
}

/// The newest sample of each matching series (stale ones left out), with
/// the external labels the series lacks, sorted by name then labels.
fn newest(app: &App, p: &Params) -> Result<Vec<(Labels, i64, Newest)>, ApiError> {
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
    let internal = |e: tsdb::read::ReadError| ApiError {
        kind: ErrorType::Internal,
        msg: e.to_string(),
    };
    let q = app.db.querier(t - lookback + 1, t).map_err(internal)?;
    let mut out: Vec<(Labels, i64, Newest)> = Vec::new();
    for m in &sets {
        for mut s in q.select(m).map_err(internal)? {
            let mut last = None;
            while let Some(x) = s.samples.next() {
                last = Some(x);
            }
            let hist = s.histograms.last().cloned();
            let (ts, v) = match (last, hist) {
                (Some((ft, _)), Some((ht, h))) if ht > ft => (ht, Newest::Histogram(h)),
                (None, Some((ht, h))) => (ht, Newest::Histogram(h)),
                (Some((ft, v)), _) => (ft, Newest::Float(v)),
                (None, None) => continue,
            };
            if matches!(v, Newest::Float(f) if tsdb::is_stale_nan(f)) {
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
    Ok(out)
}

/// `GET`/`POST /federate`: the text format, or the protobuf one when the
/// scraper ranks it first.
pub async fn serve(app: &Arc<App>, req: Request<Incoming>, gzip: bool) -> Reply {
    let proto = prefers_protobuf(&req);
    let p = match params::read(req, app.read_timeout).await {
        Ok(p) => p,
        Err(e) => return text(400, &format!("{}\n", e.msg)),
    };
    let app2 = Arc::clone(app);
    match tokio::task::spawn_blocking(move || {
        if proto {
            render_proto(&app2, &p)
        } else {
            render(&app2, &p).map(String::into_bytes)
        }
    })
    .await
    {
        Ok(Ok(body)) if proto => respond_bytes(200, textparse::protobuf::CONTENT_TYPE, body, gzip),
        Ok(Ok(body)) => respond_bytes(200, "text/plain; version=0.0.4; charset=utf-8", body, gzip),
        Ok(Err(e)) => text(e.kind.status(), &format!("{}\n", e.msg)),
        Err(e) => text(500, &format!("{e}\n")),
    }
}

/// Whether a request's `Accept` ranks the protobuf exposition format above
/// every other type it names (a scraper with native histograms on).
fn prefers_protobuf<B>(req: &Request<B>) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut best: Option<(f64, bool)> = None;
    for part in accept.split(',') {
        let q = part
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f64>().ok())
            .unwrap_or(1.0);
        let is_proto = textparse::protobuf::is_protobuf(
            &part
                .split(';')
                .filter(|p| !p.trim().starts_with("q="))
                .collect::<Vec<_>>()
                .join(";"),
        );
        if q > 0.0 && best.is_none_or(|b| q > b.0) {
            best = Some((q, is_proto));
        }
    }
    best.is_some_and(|b| b.1)
}

/// Renders the federation body in the text format.
pub fn render(app: &App, p: &Params) -> Result<String, ApiError> {
    let mut body = String::new();
    let mut family: Option<String> = None;
    for (labels, ts, v) in newest(app, p)? {
        let Newest::Float(v) = v else { continue };
        let name = labels.metric_name().unwrap_or("");
        if family.as_deref() != Some(name) {
            body.push_str("# TYPE ");
            body.push_str(name);
            body.push_str(" untyped\n");
            family = Some(name.to_string());
        }
        write_sample(&mut body, &labels, v, Some(ts));
    }
    Ok(body)
}

/// Renders the federation body as delimited `MetricFamily` messages:
/// float samples as untyped metrics, native histograms as histograms (a
/// gauge histogram's family as one), a family per name and kind.
pub fn render_proto(app: &App, p: &Params) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    let mut family: Option<model::MetricFamily> = None;
    for (labels, ts, v) in newest(app, p)? {
        let name = labels.metric_name().unwrap_or("").to_string();
        let kind = match &v {
            Newest::Float(_) => model::MetricType::Untyped,
            Newest::Histogram(h)
                if h.counter_reset_hint == tsdb::histogram::CounterResetHint::Gauge =>
            {
                model::MetricType::GaugeHistogram
            }
            Newest::Histogram(_) => model::MetricType::Histogram,
        };
        if family
            .as_ref()
            .is_some_and(|f| f.name != name || f.r#type != kind as i32)
        {
            if let Some(f) = family.take() {
                f.encode_length_delimited(&mut out).expect("a Vec grows");
            }
        }
        let f = family.get_or_insert_with(|| model::MetricFamily {
            name: name.clone(),
            r#type: kind as i32,
            ..Default::default()
        });
        let mut m = model::Metric {
            label: labels
                .iter()
                .filter(|l| l.name != "__name__")
                .map(|l| model::LabelPair {
                    name: l.name.to_string(),
                    value: l.value.to_string(),
                })
                .collect(),
            timestamp_ms: ts,
            ..Default::default()
        };
        match v {
            Newest::Float(v) => m.untyped = Some(model::Untyped { value: v }),
            Newest::Histogram(h) => m.histogram = Some(histogram_message(&h)),
        }
        f.metric.push(m);
    }
    if let Some(f) = family {
        f.encode_length_delimited(&mut out).expect("a Vec grows");
    }
    Ok(out)
}

/// A native histogram as the protobuf format carries it: integer counts
/// as bucket deltas when every count is an integer, else float counts;
/// custom bounds as classic buckets (cumulative counts by upper bound).
fn histogram_message(h: &FloatHistogram) -> model::Histogram {
    let mut m = model::Histogram {
        sample_sum: h.sum,
        ..Default::default()
    };
    let integer = h.has_integer_counts();
    if integer {
        m.sample_count = h.count as u64;
    } else {
        m.sample_count_float = h.count;
    }
    if h.uses_custom_buckets() {
        let mut cum = 0.0;
        for (i, c) in &h.positive {
            cum += c;
            let upper = h
                .custom_values
                .get(*i as usize)
                .copied()
                .unwrap_or(f64::INFINITY);
            m.bucket.push(if integer {
                model::Bucket {
                    cumulative_count: cum as u64,
                    upper_bound: upper,
                    ..Default::default()
                }
            } else {
                model::Bucket {
                    cumulative_count_float: cum,
                    upper_bound: upper,
                    ..Default::default()
                }
            });
        }
        return m;
    }
    m.schema = h.schema;
    m.zero_threshold = h.zero_threshold;
    if integer {
        m.zero_count = h.zero_count as u64;
    } else {
        m.zero_count_float = h.zero_count;
    }
    let spans = |buckets: &[(i32, f64)]| -> Vec<model::BucketSpan> {
        let mut out: Vec<model::BucketSpan> = tsdb::histogram::spans_of(buckets)
            .into_iter()
            .map(|(offset, length)| model::BucketSpan { offset, length })
            .collect();
        // a histogram without buckets keeps a span, so that it reads as
        // a native one
        if out.is_empty() {
            out.push(model::BucketSpan {
                offset: 0,
                length: 0,
            });
        }
        out
    };
    let deltas = tsdb::histogram::deltas_of;
    m.positive_span = spans(&h.positive);
    if !h.negative.is_empty() {
        m.negative_span = spans(&h.negative);
    }
    if integer {
        m.positive_delta = deltas(&h.positive);
        m.negative_delta = deltas(&h.negative);
    } else {
        m.positive_count = h.positive.iter().map(|b| b.1).collect();
        m.negative_count = h.negative.iter().map(|b| b.1).collect();
    }
    m
}
