//! Receiving samples: `POST /api/v1/write` (Prometheus remote write 1.0
//! and 2.0, snappy-compressed protobuf) and `POST /api/v1/import/prometheus`
//! (text exposition lines with optional millisecond timestamps). Both only
//! with `--web.enable-remote-write-receiver`.
//!
//! The message is chosen by `Content-Type` as the 2.0 specification says:
//! `application/x-protobuf` (or with `proto=prometheus.WriteRequest`) is
//! 1.0, `proto=io.prometheus.write.v2.Request` 2.0; another type, another
//! `proto`, one not in `--web.remote-write-receiver.accepted-protobuf-messages`,
//! or an encoding other than snappy: 415.
//!
//! Answers follow Prometheus's receiver: 204 when stored; 400 with the
//! error as plain text for a malformed body or for samples the database
//! refuses (out of order, duplicate timestamp, out of bounds, more than
//! 10 minutes in the future). A 2.0 answer, success or not, says what was
//! written in `X-Prometheus-Remote-Write-Samples-Written`,
//! `-Histograms-Written` and `-Exemplars-Written` (native histograms of
//! 1.0 and 2.0 go to the histogram store; exemplars only with the
//! exemplar storage on); a 2.0 series that is invalid is reported and the
//! others stored, as Prometheus does. Unlike Prometheus, which rolls a 1.0
//! request back on the first refused sample, the accepted samples of such
//! a request are kept; and a 1.0 request with an invalid series (no metric
//! name, an empty or repeated label name) is refused whole with 400, where
//! Prometheus skips the series and answers 204; so is a request with a
//! label set over 512 KiB, which the series log does not take.

use tracing::warn;

use crate::app::App;
use textparse::{Entry, PromParser};

/// The outcome: HTTP status, plain-text body, extra headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Plain-text body.
    pub body: String,
    /// Headers to add.
    pub headers: Vec<(&'static str, String)>,
}

impl From<(u16, String)> for Reply {
    fn from((status, body): (u16, String)) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }
}

fn store(app: &App, series: Vec<(tsdb::labels::Labels, Vec<(i64, f64)>)>) -> Reply {
    store_counting(app, series, Vec::new(), Vec::new(), &StartTimes::default()).0
}

/// Native histogram samples of a request: labels, time, histogram.
pub type HistogramSamples = Vec<(tsdb::labels::Labels, i64, tsdb::histogram::FloatHistogram)>;

/// Stores the series, native histogram samples (each series' in time
/// order) and exemplars for the series as the remote write receiver
/// does: 204, or 400 for samples the database refuses (the accepted ones
/// kept), 500 for a storage failure.
pub fn store_series(
    app: &App,
    series: Vec<(tsdb::labels::Labels, Vec<(i64, f64)>)>,
    histograms: HistogramSamples,
    exemplars: Vec<(tsdb::labels::Labels, tsdb::Exemplar)>,
) -> Reply {
    store_counting(app, series, exemplars, histograms, &StartTimes::default()).0
}

/// [`store_series`], with a zero sample stored at each sample's start
/// (created) time in `starts` (see
/// [`tsdb::Appender::append_start_zero`]).
pub fn store_series_starting(
    app: &App,
    series: Vec<(tsdb::labels::Labels, Vec<(i64, f64)>)>,
    histograms: HistogramSamples,
    exemplars: Vec<(tsdb::labels::Labels, tsdb::Exemplar)>,
    starts: &StartTimes,
) -> Reply {
    store_counting(app, series, exemplars, histograms, starts).0
}

/// Start (created) times of samples to store, when
/// `--enable-feature=created-timestamp-zero-ingestion` is on.
#[derive(Default)]
pub struct StartTimes {
    /// By the series' place in the list and the sample's time (ms).
    pub floats: std::collections::HashMap<(usize, i64), i64>,
    /// By a histogram series' labels and the sample's time (ms).
    pub histograms: std::collections::HashMap<(tsdb::labels::Labels, i64), i64>,
}

/// What was written: samples, histograms, exemplars.
#[derive(Clone, Copy, Default)]
struct Written {
    samples: u64,
    histograms: u64,
    exemplars: u64,
}

/// Stores the series, and exemplars for them or for series already
/// stored (by labels; others are left out); the reply and what was
/// written.
fn store_counting(
    app: &App,
    series: Vec<(tsdb::labels::Labels, Vec<(i64, f64)>)>,
    exemplars: Vec<(tsdb::labels::Labels, tsdb::Exemplar)>,
    histograms: HistogramSamples,
    starts: &StartTimes,
) -> (Reply, Written) {
    let (status, body, written) = store_inner(app, series, exemplars, histograms, starts);
    ((status, body).into(), written)
}

fn store_inner(
    app: &App,
    series: Vec<(tsdb::labels::Labels, Vec<(i64, f64)>)>,
    exemplars: Vec<(tsdb::labels::Labels, tsdb::Exemplar)>,
    histograms: HistogramSamples,
    starts: &StartTimes,
) -> (u16, String, Written) {
    let none = Written::default();
    let mut appender = app.db.appender();
    for (i, (labels, samples)) in series.iter().enumerate() {
        let r = match appender.series(labels) {
            Ok((r, _)) => r,
            // sending it again will not help
            Err(e @ tsdb::Error::InvalidLabels(_)) => return (400, format!("{e}\n"), none),
            Err(e) => return (500, format!("{e}\n"), none),
        };
        let mut prev: Option<i64> = None;
        for (t, v) in samples {
            // a zero at the start time, unless it is not before this
            // sample or not after the one before (best effort, as
            // Prometheus: the series may already go on from before it)
            if let Some(&st) = starts.floats.get(&(i, *t)) {
                if st != 0 && st < *t && prev.is_none_or(|p| st > p) {
                    appender.append_start_zero_ref(r, st);
                }
            }
            prev = Some(*t);
            if let Err(e) = appender.append(r, *t, *v) {
                return (500, format!("{e}\n"), none);
            }
        }
    }
    // exemplars belong to a series of the head: a histogram series with
    // exemplars gets one (it holds no float samples)
    if !exemplars.is_empty() && !histograms.is_empty() {
        let hist_series: std::collections::HashSet<&tsdb::labels::Labels> =
            histograms.iter().map(|h| &h.0).collect();
        for (labels, _) in &exemplars {
            if hist_series.contains(labels) {
                let _ = appender.series(labels);
            }
        }
    }
    let mut prev: Option<(tsdb::labels::Labels, i64)> = None;
    for (labels, t, h) in histograms {
        if !starts.histograms.is_empty() {
            if let Some(&st) = starts.histograms.get(&(labels.clone(), t)) {
                let after_prev = prev.as_ref().is_none_or(|(l, p)| *l != labels || st > *p);
                if st != 0 && st < t && after_prev {
                    appender.append_histogram_start_zero(&labels, st, &h);
                }
            }
            prev = Some((labels.clone(), t));
        }
        appender.append_histogram(&labels, t, h);
    }
    for (labels, e) in exemplars {
        appender.append_exemplar_labels(&labels, e);
    }
    match appender.commit() {
        Ok(st) => {
            let written = Written {
                samples: st.appended + st.duplicates_ignored,
                histograms: st.histograms_appended,
                exemplars: st.exemplars_appended,
            };
            let refused = if st.out_of_order > 0 || st.histograms_out_of_order > 0 {
                Some(tsdb::Error::OutOfOrder)
            } else if st.duplicate_timestamp > 0 {
                Some(tsdb::Error::Duplicate)
            } else if st.out_of_bounds > 0 {
                Some(tsdb::Error::OutOfBounds)
            } else if st.too_far_in_future > 0 {
                Some(tsdb::Error::TooFarInFuture)
            } else {
                None
            };
            match refused {
                Some(e) => (400, format!("{e}\n"), written),
                None => (204, String::new(), written),
            }
        }
        Err(e) => (500, format!("{e}\n"), none),
    }
}

/// A remote write `Content-Type` that names no message this server knows
/// (answered with 415).
#[derive(Debug, thiserror::Error)]
enum ContentTypeError {
    /// Not `application/x-protobuf`.
    #[error("unsupported content type {0:?}")]
    Unsupported(String),
    /// A parameter without `=`.
    #[error("malformed content type parameter {0:?}")]
    Parameter(String),
    /// A `proto` parameter naming no known message.
    #[error("unknown remote write protobuf message {0:?}")]
    Message(String),
}

/// The remote write message a `Content-Type` names, or the 415 answer.
fn message_of(content_type: Option<&str>) -> Result<&'static str, ContentTypeError> {
    use crate::config::remote::{PROTO_V1, PROTO_V2};
    let Some(ct) = content_type.filter(|c| !c.trim().is_empty()) else {
        return Ok(PROTO_V1);
    };
    let mut parts = ct.split(';');
    let base = parts.next().unwrap_or("").trim();
    if base != "application/x-protobuf" {
        return Err(ContentTypeError::Unsupported(ct.to_string()));
    }
    let mut proto = PROTO_V1;
    for p in parts {
        let Some((k, v)) = p.trim().split_once('=') else {
            return Err(ContentTypeError::Parameter(p.to_string()));
        };
        if k.trim() == "proto" {
            proto = match v.trim() {
                PROTO_V1 => PROTO_V1,
                PROTO_V2 => PROTO_V2,
                other => return Err(ContentTypeError::Message(other.to_string())),
            };
        }
    }
    Ok(proto)
}

/// `POST /api/v1/write`.
pub fn remote_write(
    app: &App,
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: &[u8],
) -> Reply {
    let message = match message_of(content_type) {
        Ok(m) => m,
        Err(e) => return (415, format!("{e}\n")).into(),
    };
    if !app.accepted_remote_write.iter().any(|m| m == message) {
        return (
            415,
            format!(
                "{message} protobuf message is not accepted by this server; only accepts {}\n",
                app.accepted_remote_write.join(", ")
            ),
        )
            .into();
    }
    if let Some(enc) = encoding.filter(|e| !e.is_empty()) {
        if enc != "snappy" {
            return (
                415,
                format!("unsupported compression {enc:?}, only snappy is accepted\n"),
            )
                .into();
        }
    }
    if message == crate::config::remote::PROTO_V2 {
        return remote_write_v2(app, body);
    }
    let req = match crate::remote::decode_write_request(body, app.remote_write_max_bytes) {
        Ok(r) => r,
        Err(e) => return (e.http_status(), format!("{e}\n")).into(),
    };
    // any invalid series refuses the whole request: bad input gets a clear
    // error (Prometheus skips such series and answers 204)
    match crate::remote::to_series(&req) {
        Ok(series) => {
            // Prometheus sends exemplars in series of their own
            let exemplars = req
                .timeseries
                .iter()
                .filter(|ts| !ts.exemplars.is_empty())
                .filter_map(|ts| crate::remote::convert_series(ts).ok().map(|s| (s.0, ts)))
                .flat_map(|(labels, ts)| {
                    ts.exemplars
                        .iter()
                        .map(move |e| (labels.clone(), crate::remote::exemplar_v1(e)))
                })
                .collect();
            let mut histograms = Vec::new();
            for ts in req.timeseries.iter().filter(|ts| !ts.histograms.is_empty()) {
                let Ok((labels, _)) = crate::remote::convert_series(ts) else {
                    continue;
                };
                for h in &ts.histograms {
                    match crate::remote::histogram_from_proto(h) {
                        Ok(fh) => histograms.push((labels.clone(), h.timestamp, fh)),
                        Err(e) => {
                            let msg = format!("{}: {e}", crate::remote::codec_notation(&labels));
                            warn!(component = "web", err = %msg, "Refusing remote write with an invalid histogram");
                            return (400, format!("{msg}\n")).into();
                        }
                    }
                }
            }
            store_counting(app, series, exemplars, histograms, &StartTimes::default()).0
        }
        Err(e) => {
            warn!(component = "web", err = %e, "Refusing remote write with invalid series");
            (e.http_status(), format!("{e}\n")).into()
        }
    }
}

/// A 2.0 request: every valid series stored, the invalid ones reported;
/// the written counts in the answer's headers either way.
fn remote_write_v2(app: &App, body: &[u8]) -> Reply {
    use prost::Message as _;
    let written = |n: Written, r: Reply| -> Reply {
        let mut r = r;
        r.headers = vec![
            (
                "X-Prometheus-Remote-Write-Samples-Written",
                n.samples.to_string(),
            ),
            (
                "X-Prometheus-Remote-Write-Histograms-Written",
                n.histograms.to_string(),
            ),
            (
                "X-Prometheus-Remote-Write-Exemplars-Written",
                n.exemplars.to_string(),
            ),
        ];
        r
    };
    let nothing = Written::default();
    let raw = match crate::remote::decode_snappy(body, app.remote_write_max_bytes) {
        Ok(r) => r,
        Err(e) => return written(nothing, (e.http_status(), format!("{e}\n")).into()),
    };
    let req = match crate::remote::v2::Request::decode(raw.as_slice()) {
        Ok(r) => r,
        Err(e) => return written(nothing, (400, format!("{e}\n")).into()),
    };
    let mut errors: Vec<String> = Vec::new();
    let mut series = Vec::with_capacity(req.timeseries.len());
    let mut exemplars = Vec::new();
    let mut histograms = Vec::new();
    let mut starts = StartTimes::default();
    for ts in &req.timeseries {
        let labels = match crate::remote::v2::series_labels(&req.symbols, &ts.labels_refs) {
            Ok(l) => l,
            Err(e) => {
                errors.push(e.0);
                continue;
            }
        };
        for h in &ts.histograms {
            match crate::remote::histogram_from_proto(h) {
                Ok(fh) => {
                    // the sample's start time, or the series' of senders
                    // before Prometheus 3.9
                    let st = match h.start_timestamp {
                        0 => ts.created_timestamp,
                        st => st,
                    };
                    if app.start_zero && st != 0 && h.timestamp != 0 {
                        starts.histograms.insert((labels.clone(), h.timestamp), st);
                    }
                    histograms.push((labels.clone(), h.timestamp, fh))
                }
                Err(e) => errors.push(format!("{}: {e}", crate::remote::codec_notation(&labels))),
            }
        }
        if ts.samples.is_empty() && ts.histograms.is_empty() {
            errors.push(format!(
                "{}: a series must have samples",
                crate::remote::codec_notation(&labels)
            ));
            continue;
        }
        for e in &ts.exemplars {
            match crate::remote::v2::exemplar(&req.symbols, e) {
                Ok(e) => exemplars.push((labels.clone(), e)),
                Err(e) => errors.push(e.0),
            }
        }
        let samples: Vec<(i64, f64)> = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
        if app.start_zero {
            for s in &ts.samples {
                let st = match s.start_timestamp {
                    0 => ts.created_timestamp,
                    st => st,
                };
                if st != 0 && s.timestamp != 0 {
                    starts.floats.insert((series.len(), s.timestamp), st);
                }
            }
        }
        series.push((labels, samples));
    }
    let (mut reply, n) = store_counting(app, series, exemplars, histograms, &starts);
    if !errors.is_empty() && reply.status < 300 {
        warn!(component = "web", errors = errors.len(), first = %errors[0], "Remote write 2.0 request with invalid series");
        reply = (400, format!("{}\n", errors.join("\n"))).into();
    }
    written(n, reply)
}

/// `POST /api/v1/import/prometheus`: text format lines; a sample without a
/// timestamp gets the time of the request.
pub fn import_text(app: &App, body: &[u8]) -> Reply {
    let now = crate::app::now_ms();
    let mut p = PromParser::new(body);
    let mut labels = Vec::new();
    let mut series: Vec<(tsdb::labels::Labels, Vec<(i64, f64)>)> = Vec::new();
    loop {
        match p.next() {
            Ok(None) => break,
            Ok(Some(Entry::Series)) => {
                let (_, ts, v) = p.series();
                p.labels(&mut labels);
                let ls = tsdb::labels::Labels::from_pairs(&labels);
                series.push((ls, vec![(ts.unwrap_or(now), v)]));
            }
            Ok(Some(_)) => {}
            Err(e) => return (400, format!("{e}\n")).into(),
        }
    }
    store(app, series)
}
