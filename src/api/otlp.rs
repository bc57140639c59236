//! `POST /api/v1/otlp/v1/metrics`: OpenTelemetry metrics, with
//! `--web.enable-otlp-receiver` (see [`crate::otlp`]). Answers as
//! Prometheus 3 does: 200 when stored, 400 with the reason for a body
//! that cannot be decoded (or samples the database refuses), 500 with the
//! reasons for metrics that cannot be translated (nothing of the request
//! is stored then); 404 when the receiver is off.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{header, Method, Request, Response, StatusCode};

use crate::app::App;
use crate::otlp;

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
pub async fn handle(app: &Arc<App>, req: Request<Incoming>) -> crate::web::reply::Reply {
    use crate::web::reply::Body;
    if !app.enable_otlp {
        return text(
            404,
            "otlp write receiver needs to be enabled with --web.enable-otlp-receiver",
        )
        .map(Body::from);
    }
    if req.method() != Method::POST {
        return text(405, "Method Not Allowed").map(Body::from);
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
    .map(Body::from)
}

fn receive(
    app: &App,
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let mut req = match otlp::decode(content_type, encoding, body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(component = "web", err = %e, "Error decoding OTLP write request");
            return text(400, &e.to_string());
        }
    };
    if let Some(d) = &app.otlp_delta_to_cumulative {
        let dropped = d.convert(&mut req);
        if dropped > 0 {
            tracing::debug!(
                component = "web",
                points = dropped,
                "Delta OTLP points out of order dropped"
            );
        }
    }
    let cfg = app.config.read().otlp.clone().unwrap_or_default();
    let mut settings = cfg.settings(app.otlp_native_delta, app.flags.lookback_delta_ms);
    settings.start_zero = app.start_zero;
    let tr = match otlp::translate(&req, &settings) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(component = "web", err = %e, "Error translating OTLP metrics");
            return text(500, &e.to_string());
        }
    };
    if !tr.collisions.is_empty() {
        tracing::debug!(component = "web", labels = ?tr.collisions, "OTLP attributes collide as labels after name sanitization, values are concatenated with ';'");
    }
    if !tr.warnings.is_empty() {
        tracing::warn!(component = "web", warnings = ?tr.warnings, "Warnings translating OTLP metrics to Prometheus write request");
    }
    let starts = crate::api::write::StartTimes {
        floats: tr.float_starts,
        histograms: tr.histogram_starts,
    };
    let stored = crate::api::write::store_series_starting(
        app,
        tr.series,
        tr.histograms,
        tr.exemplars,
        &starts,
    );
    match stored.status {
        204 => reply(200, None, Vec::new()),
        status => text(status, stored.body.trim_end()),
    }
}
