//! Receiving samples: `POST /api/v1/write` (Prometheus remote write 1.0,
//! snappy-compressed protobuf) and `POST /api/v1/import/prometheus` (text
//! exposition lines with optional millisecond timestamps). Both only with
//! `--web.enable-remote-write-receiver`.
//!
//! Answers follow Prometheus's receiver: 204 when stored; 400 with the
//! error as plain text for a malformed body or for samples the database
//! refuses (out of order, duplicate timestamp, out of bounds, more than
//! 10 minutes in the future). Unlike Prometheus, which rolls the whole
//! request back on the first refused sample, the accepted samples of such
//! a request are kept; and a request with an invalid series (no metric
//! name, an empty or repeated label name) is refused whole with 400, where
//! Prometheus skips the series and answers 204; so is a request with a
//! label set over 512 KiB, which the series log does not take.

use tracing::warn;

use crate::app::App;
use crate::textparse::{Entry, PromParser};

/// The outcome: HTTP status and plain-text body.
pub type Reply = (u16, String);

fn store(app: &App, series: Vec<(tsdb::labels::Labels, Vec<(i64, f64)>)>) -> Reply {
    let mut appender = app.db.appender();
    for (labels, samples) in &series {
        let r = match appender.series(labels) {
            Ok((r, _)) => r,
            // sending it again will not help
            Err(e @ tsdb::Error::InvalidLabels(_)) => return (400, format!("{e}\n")),
            Err(e) => return (500, format!("{e}\n")),
        };
        for (t, v) in samples {
            if let Err(e) = appender.append(r, *t, *v) {
                return (500, format!("{e}\n"));
            }
        }
    }
    match appender.commit() {
        Ok(st) if st.out_of_order > 0 => (400, format!("{}\n", tsdb::Error::OutOfOrder)),
        Ok(st) if st.duplicate_timestamp > 0 => (400, format!("{}\n", tsdb::Error::Duplicate)),
        Ok(st) if st.out_of_bounds > 0 => (400, format!("{}\n", tsdb::Error::OutOfBounds)),
        Ok(st) if st.too_far_in_future > 0 => (400, format!("{}\n", tsdb::Error::TooFarInFuture)),
        Ok(_) => (204, String::new()),
        Err(e) => (500, format!("{e}\n")),
    }
}

/// `POST /api/v1/write`.
pub fn remote_write(
    app: &App,
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: &[u8],
) -> Reply {
    if let Some(ct) = content_type {
        let base = ct.split(';').next().unwrap_or("").trim();
        if base != "application/x-protobuf" {
            return (415, format!("unsupported content type {ct:?}\n"));
        }
        if let Some(proto) = ct
            .split(';')
            .skip(1)
            .find_map(|p| p.trim().strip_prefix("proto="))
        {
            if proto != "prometheus.WriteRequest" {
                return (
                    415,
                    format!("unsupported remote write protobuf message {proto:?}\n"),
                );
            }
        }
    }
    if let Some(enc) = encoding {
        if enc != "snappy" {
            return (
                415,
                format!("unsupported compression {enc:?}, only snappy is accepted\n"),
            );
        }
    }
    let req = match crate::remote::decode_write_request(body, app.remote_write_max_bytes) {
        Ok(r) => r,
        Err(e) => return (e.http_status(), format!("{e}\n")),
    };
    // any invalid series refuses the whole request: bad input gets a clear
    // error (Prometheus skips such series and answers 204)
    match crate::remote::to_series(&req) {
        Ok(series) => store(app, series),
        Err(e) => {
            warn!(component = "web", err = %e, "Refusing remote write with invalid series");
            (e.http_status(), format!("{e}\n"))
        }
    }
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
            Err(e) => return (400, format!("{e}\n")),
        }
    }
    store(app, series)
}
