//! `POST /api/v1/otlp/v1/metrics`: OpenTelemetry metrics, with
//! `--web.enable-otlp-receiver` (see [`crate::otlp`]). Answers as
//! Prometheus 3 does: 200 when stored, 400 with the reason for a body
//! that cannot be decoded (or samples the database refuses), 500 with the
//! reasons for metrics that cannot be translated (nothing of the request
//! is stored then); 404 when the receiver is off. When points had to be
//! left out (exponential histograms), the 200 carries an
//! `ExportMetricsServiceResponse` whose `partial_success` says how many
//! and why.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{header, Method, Request, Response, StatusCode};
use prost::Message as _;

use crate::app::App;
use crate::otlp::{self, proto};

/// Metrics already named in a warning, so each is logged once.
static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn first_time(what: &str) -> bool {
    let mut w = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    w.get_or_insert_with(HashSet::new).insert(what.to_string())
}

fn reply(status: u16, content_type: Option<&str>, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    if status >= 400 {
        b = b.header("X-Content-Type-Options", "nosniff");
    }
    b.body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}

fn text(status: u16, msg: &str) -> Response<Full<Bytes>> {
    let mut body = msg.to_string();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    reply(status, Some("text/plain; charset=utf-8"), body.into_bytes())
}

/// Answers one request to the receiver.
pub async fn handle(app: &Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if !app.enable_otlp {
        return text(
            404,
            "otlp write receiver needs to be enabled with --web.enable-otlp-receiver",
        );
    }
    if req.method() != Method::POST {
        return text(405, "Method Not Allowed");
    }
    let (content_type, encoding, body) =
        match super::read_body(app, req, otlp::MAX_BODY, "the OTLP receiver's limit").await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let app2 = Arc::clone(app);
    tokio::task::spawn_blocking(move || {
        receive(&app2, content_type.as_deref(), encoding.as_deref(), &body)
    })
    .await
    .unwrap_or_else(|e| text(500, &e.to_string()))
}

fn receive(
    app: &App,
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let req = match otlp::decode(content_type, encoding, body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(component = "web", err = %e, "Error decoding OTLP write request");
            return text(400, &e);
        }
    };
    let cfg = app.config.read().otlp.clone().unwrap_or_default();
    if cfg.convert_histograms_to_nhcb && first_time("\0convert_histograms_to_nhcb") {
        tracing::warn!(component = "web", "otlp.convert_histograms_to_nhcb: native histograms are not stored yet, OTLP histograms are kept as classic buckets");
    }
    let settings = cfg.settings(app.otlp_native_delta, app.flags.lookback_delta_ms);
    let tr = match otlp::translate(&req, &settings) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(component = "web", err = %e, "Error translating OTLP metrics");
            return text(500, &e);
        }
    };
    if !tr.collisions.is_empty() {
        tracing::debug!(component = "web", labels = ?tr.collisions, "OTLP attributes collide as labels after name sanitization, values are concatenated with ';'");
    }
    for m in &tr.dropped_metrics {
        if first_time(m) {
            tracing::warn!(component = "web", metric = %m, "OTLP exponential histogram points dropped: native histograms are not stored yet");
        }
    }
    let stored = crate::api::write::store_series(app, tr.series, tr.exemplars);
    match stored.status {
        204 => {}
        status => return text(status, stored.body.trim_end()),
    }
    if tr.dropped_points == 0 {
        return reply(200, None, Vec::new());
    }
    let msg = format!(
        "{} exponential histogram points dropped ({}): native histograms are not stored yet",
        tr.dropped_points,
        tr.dropped_metrics.join(", ")
    );
    if content_type == Some("application/json") {
        let body = serde_json::json!({
            "partialSuccess": {
                "rejectedDataPoints": tr.dropped_points.to_string(),
                "errorMessage": msg,
            }
        });
        reply(200, Some("application/json"), body.to_string().into_bytes())
    } else {
        let resp = proto::ExportMetricsServiceResponse {
            partial_success: Some(proto::ExportMetricsPartialSuccess {
                rejected_data_points: tr.dropped_points,
                error_message: msg,
            }),
        };
        reply(200, Some("application/x-protobuf"), resp.encode_to_vec())
    }
}
