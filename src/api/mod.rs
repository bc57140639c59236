//! The HTTP API and the router for every endpoint the server answers.

pub mod params;
pub mod query;
pub mod response;
pub mod targets;

use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{header, Method, Request, Response, StatusCode};

use crate::app::App;
use params::Params;
use response::{ApiError, ErrorType};

/// A successful API answer: the encoded `data` and any annotations.
pub struct Answer {
    /// JSON of the `data` field.
    pub data: String,
    /// `warnings`.
    pub warnings: Vec<String>,
    /// `infos`.
    pub infos: Vec<String>,
}

impl Answer {
    /// An answer without annotations.
    pub fn data(data: String) -> Self {
        Answer {
            data,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }
}

/// Largest form body accepted (POST queries).
const MAX_BODY: usize = 16 << 20;

type Handler = fn(&App, &Params) -> Result<Answer, ApiError>;

/// API routes: path, handler name for metrics, methods, handler, whether it
/// runs on the blocking pool (queries).
fn api_route(path: &str) -> Option<(&'static str, &'static [Method], Handler, bool)> {
    const GET_POST: &[Method] = &[Method::GET, Method::POST];
    const GET: &[Method] = &[Method::GET];
    Some(match path {
        "/api/v1/query" => ("/api/v1/query", GET_POST, query::instant as Handler, true),
        "/api/v1/query_range" => (
            "/api/v1/query_range",
            GET_POST,
            query::range as Handler,
            true,
        ),
        "/api/v1/targets" => ("/api/v1/targets", GET, targets::targets as Handler, false),
        _ => return None,
    })
}

fn accepts_gzip<B>(req: &Request<B>) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|e| e.trim().split(';').next() == Some("gzip"))
        })
}

fn respond(status: u16, content_type: &str, body: String, gzip: bool) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type);
    let bytes = if gzip && body.len() > 256 {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        match enc.write_all(body.as_bytes()).and_then(|_| enc.finish()) {
            Ok(z) => {
                b = b.header(header::CONTENT_ENCODING, "gzip");
                Bytes::from(z)
            }
            Err(_) => Bytes::from(body),
        }
    } else {
        Bytes::from(body)
    };
    b = b.header(header::VARY, "Accept-Encoding");
    b.body(Full::new(bytes)).expect("static headers are valid")
}

fn api_error(e: &ApiError, gzip: bool) -> Response<Full<Bytes>> {
    let mut r = respond(e.kind.status(), "application/json", e.body(), gzip);
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    r
}

/// Answers one HTTP request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let gzip = accepts_gzip(&req);
    let path = req.uri().path().to_string();
    let method = req.method().clone();

    if let Some((name, methods, handler, blocking)) = api_route(&path) {
        if method == Method::OPTIONS {
            let mut r = respond(204, "text/plain", String::new(), false);
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                header::HeaderValue::from_static("*"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                header::HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                header::HeaderValue::from_static("Accept, Authorization, Content-Type, Origin"),
            );
            return r;
        }
        if !methods.contains(&method) {
            app.count_request(name, 405);
            return respond(
                405,
                "text/plain; charset=utf-8",
                "Method Not Allowed\n".into(),
                false,
            );
        }
        let mut p = Params::default();
        if let Some(q) = req.uri().query() {
            p.add_urlencoded(q.as_bytes());
        }
        if method == Method::POST {
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(body) if is_form => p.add_urlencoded(&body.to_bytes()),
                Ok(_) => {}
                Err(e) => {
                    let err = ApiError::bad_data(format!("error reading request body: {e}"));
                    app.count_request(name, 400);
                    return api_error(&err, gzip);
                }
            }
        }
        let result = if blocking {
            let app2 = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || handler(&app2, &p)).await {
                Ok(r) => r,
                Err(e) => Err(ApiError {
                    kind: ErrorType::Internal,
                    msg: format!("query failed: {e}"),
                }),
            }
        } else {
            handler(&app, &p)
        };
        let resp = match result {
            Ok(a) => {
                let mut r = respond(
                    200,
                    "application/json",
                    response::success(&a.data, &a.warnings, &a.infos),
                    gzip,
                );
                r.headers_mut().insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    header::HeaderValue::from_static("*"),
                );
                r
            }
            Err(e) => api_error(&e, gzip),
        };
        app.count_request(name, resp.status().as_u16());
        return resp;
    }

    let resp = match (method.clone(), path.as_str()) {
        (Method::GET | Method::HEAD, "/-/healthy") => respond(
            200,
            "text/plain; charset=utf-8",
            crate::web::HEALTHY.into(),
            false,
        ),
        (Method::GET | Method::HEAD, "/-/ready") => {
            if app.is_ready() {
                respond(
                    200,
                    "text/plain; charset=utf-8",
                    crate::web::READY.into(),
                    false,
                )
            } else {
                respond(
                    503,
                    "text/plain; charset=utf-8",
                    crate::web::NOT_READY.into(),
                    false,
                )
            }
        }
        (Method::GET, "/metrics") => respond(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            crate::web::self_metrics(&app),
            gzip,
        ),
        (_, p) if p.starts_with("/api/") => {
            let e = ApiError {
                kind: ErrorType::NotFound,
                msg: format!("unknown API endpoint {p}"),
            };
            api_error(&e, gzip)
        }
        _ => respond(
            404,
            "text/plain; charset=utf-8",
            "404 page not found\n".into(),
            false,
        ),
    };
    let name = match path.as_str() {
        "/-/healthy" => "/-/healthy",
        "/-/ready" => "/-/ready",
        "/metrics" => "/metrics",
        _ => "other",
    };
    app.count_request(name, resp.status().as_u16());
    resp
}
