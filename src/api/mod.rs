//! The HTTP API and the router for every endpoint the server answers.

mod exemplars;
pub mod metadata;
mod otlp;
pub mod params;
pub mod query;
pub mod response;
pub mod rules;
pub mod series;
pub mod status;
pub mod storage;
pub mod targets;
pub mod write;

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
    /// Answer 204 with no body (admin actions), ignoring the rest.
    pub no_content: bool,
}

impl Answer {
    /// 204 No Content.
    pub fn no_content() -> Self {
        Answer {
            no_content: true,
            ..Answer::data(String::new())
        }
    }

    /// An answer without annotations.
    pub fn data(data: String) -> Self {
        Answer {
            data,
            warnings: Vec::new(),
            infos: Vec::new(),
            no_content: false,
        }
    }
}

/// Largest form body accepted (POST queries).
const MAX_BODY: usize = 16 << 20;

type Handler = fn(&App, &Params) -> Result<Answer, ApiError>;

const GET_POST: &[Method] = &[Method::GET, Method::POST];
const GET: &[Method] = &[Method::GET];
const POST_PUT: &[Method] = &[Method::POST, Method::PUT];

/// One API route: its name (for metrics), methods, handler, and whether it
/// runs on the blocking pool (queries and storage reads).
struct Route {
    name: &'static str,
    methods: &'static [Method],
    handler: Handler,
    blocking: bool,
}

/// The endpoints that answer 422 in agent mode.
const AGENT_UNAVAILABLE: &[&str] = &[
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/query_exemplars",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/label/:name/values",
    "/api/v1/rules",
    "/api/v1/alerts",
    "/api/v1/alertmanagers",
    "/api/v1/status/tsdb",
    "/api/v1/admin/tsdb/delete_series",
    "/api/v1/admin/tsdb/clean_tombstones",
    "/api/v1/admin/tsdb/snapshot",
];

fn api_route(path: &str) -> Option<Route> {
    let r = |name, methods, handler: Handler, blocking| Route {
        name,
        methods,
        handler,
        blocking,
    };
    Some(match path {
        "/api/v1/query" => r("/api/v1/query", GET_POST, query::instant, true),
        "/api/v1/query_range" => r("/api/v1/query_range", GET_POST, query::range, true),
        "/api/v1/format_query" => r("/api/v1/format_query", GET_POST, query::format_query, true),
        "/api/v1/parse_query" => r("/api/v1/parse_query", GET_POST, query::parse_query, true),
        "/api/v1/query_exemplars" => r(
            "/api/v1/query_exemplars",
            GET_POST,
            exemplars::query_exemplars,
            true,
        ),
        "/api/v1/series" => r("/api/v1/series", GET_POST, series::series, true),
        "/api/v1/labels" => r("/api/v1/labels", GET_POST, series::labels, true),
        "/api/v1/targets" => r("/api/v1/targets", GET, targets::targets, false),
        "/api/v1/targets/relabel_steps" => r(
            "/api/v1/targets/relabel_steps",
            GET,
            targets::relabel_steps,
            false,
        ),
        "/api/v1/targets/metadata" => r(
            "/api/v1/targets/metadata",
            GET,
            metadata::targets_metadata,
            false,
        ),
        "/api/v1/metadata" => r("/api/v1/metadata", GET, metadata::metadata, false),
        "/api/v1/scrape_pools" => r("/api/v1/scrape_pools", GET, targets::scrape_pools, false),
        "/api/v1/rules" => r("/api/v1/rules", GET, rules::rules, false),
        "/api/v1/alerts" => r("/api/v1/alerts", GET, rules::alerts, false),
        "/api/v1/alertmanagers" => r("/api/v1/alertmanagers", GET, rules::alertmanagers, false),
        "/api/v1/status/config" => r("/api/v1/status/config", GET, status::config, false),
        "/api/v1/status/flags" => r("/api/v1/status/flags", GET, status::flags, false),
        "/api/v1/status/runtimeinfo" => r(
            "/api/v1/status/runtimeinfo",
            GET,
            status::runtimeinfo,
            false,
        ),
        "/api/v1/status/buildinfo" => r("/api/v1/status/buildinfo", GET, status::buildinfo, false),
        "/api/v1/status/tsdb" => r("/api/v1/status/tsdb", GET, storage::tsdb, true),
        "/api/v1/status/walreplay" => r("/api/v1/status/walreplay", GET, status::walreplay, false),
        "/api/v1/admin/tsdb/delete_series" => r(
            "/api/v1/admin/tsdb/delete_series",
            POST_PUT,
            storage::delete_series,
            true,
        ),
        "/api/v1/admin/tsdb/clean_tombstones" => r(
            "/api/v1/admin/tsdb/clean_tombstones",
            POST_PUT,
            storage::clean_tombstones,
            true,
        ),
        "/api/v1/admin/tsdb/snapshot" => r(
            "/api/v1/admin/tsdb/snapshot",
            POST_PUT,
            storage::snapshot,
            true,
        ),
        _ => return None,
    })
}

/// `/api/v1/label/<name>/values`: the name from the path.
fn label_values_name(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/label/")?
        .strip_suffix("/values")
        .filter(|n| !n.contains('/'))
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
    respond_bytes(status, content_type, body.into_bytes(), gzip)
}

fn respond_bytes(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    gzip: bool,
) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type);
    let bytes = if gzip && body.len() > 256 {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        match enc.write_all(&body).and_then(|_| enc.finish()) {
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
        let is_proto = crate::textparse::protobuf::is_protobuf(
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

fn api_error(e: &ApiError, gzip: bool) -> Response<Full<Bytes>> {
    respond(e.kind.status(), "application/json", e.body(), gzip)
}

/// Adds CORS headers as Prometheus does: only for requests with an
/// `Origin`, `*` for the default `.*`, else the origin when it matches.
fn set_cors(app: &App, origin: Option<&header::HeaderValue>, r: &mut Response<Full<Bytes>>) {
    let Some(origin) = origin.and_then(|o| o.to_str().ok()) else {
        return;
    };
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::HeaderValue::from_static("Accept, Authorization, Content-Type, Origin"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static("Date"),
    );
    if app.cors_origin.as_str() == "^(?:.*)$" {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static("*"),
        );
    } else if app.cors_origin.is_match(origin) {
        if let Ok(v) = header::HeaderValue::from_str(origin) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
    }
}

async fn read_params(
    req: Request<Incoming>,
    timeout: std::time::Duration,
) -> Result<Params, ApiError> {
    let mut p = Params::default();
    if let Some(q) = req.uri().query() {
        p.add_urlencoded(q.as_bytes());
    }
    if req.method() == Method::POST {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let read = tokio::time::timeout(timeout, Limited::new(req.into_body(), MAX_BODY).collect());
        match read.await {
            Ok(Ok(body)) if is_form => p.add_urlencoded(&body.to_bytes()),
            Ok(Ok(_)) => {}
            Err(_) => {
                return Err(ApiError::bad_data(
                    "error reading request body: timed out (--web.read-timeout)",
                ))
            }
            Ok(Err(e)) => {
                return Err(ApiError::bad_data(format!(
                    "error reading request body: {e}"
                )))
            }
        }
    }
    Ok(p)
}

/// Go's `http.NotFound`, as Prometheus answers a path it does not serve.
fn not_found() -> Response<Full<Bytes>> {
    let mut r = text(404, "404 page not found\n");
    r.headers_mut().insert(
        header::HeaderName::from_static("x-content-type-options"),
        header::HeaderValue::from_static("nosniff"),
    );
    r
}

/// Prometheus's router's answer to a method a path does not take: 405
/// with the methods it does (and OPTIONS, which every API path takes).
fn method_not_allowed(methods: &[Method]) -> Response<Full<Bytes>> {
    let mut r = text(405, "Method Not Allowed\n");
    let mut allow: Vec<&str> = methods.iter().map(Method::as_str).collect();
    allow.push("OPTIONS");
    allow.sort_unstable();
    allow.dedup();
    if let Ok(v) = header::HeaderValue::from_str(&allow.join(", ")) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r.headers_mut().insert(
        header::HeaderName::from_static("x-content-type-options"),
        header::HeaderValue::from_static("nosniff"),
    );
    r
}

fn text(status: u16, body: &str) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", body.to_string(), false)
}

/// Answers one HTTP request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = std::time::Instant::now();
    let origin = req.headers().get(header::ORIGIN).cloned();
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut resp = if app.basic_auth.enabled() && !app.basic_auth.allows(auth.as_deref()) {
        let mut r = text(401, "Unauthorized\n");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic"),
        );
        r
    } else {
        route(&app, req).await
    };
    set_cors(&app, origin.as_ref(), &mut resp);
    let name = resp
        .extensions()
        .get::<HandlerName>()
        .map_or("other", |h| h.0);
    app.count_request(name, resp.status().as_u16(), started.elapsed());
    for (k, v) in &app.extra_headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            header::HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

async fn route(app: &Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let gzip = accepts_gzip(&req);
    // everything is served under --web.route-prefix
    let full = req.uri().path().to_string();
    let prefix = app.route_prefix.as_str();
    let path = if prefix.is_empty() {
        full
    } else if full == prefix || full.starts_with(&format!("{prefix}/")) {
        full[prefix.len()..].to_string()
    } else if full == "/" {
        let mut r = respond(302, "text/html; charset=utf-8", String::new(), false);
        if let Ok(v) = header::HeaderValue::from_str(&format!("{prefix}/")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return tagged(r, "other");
    } else {
        return tagged(not_found(), "other");
    };
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let method = req.method().clone();

    if path == "/api/v1/otlp/v1/metrics" {
        return tagged(otlp::handle(app, req).await, "/api/v1/otlp/v1/metrics");
    }
    if path == "/api/v1" {
        // Go's ServeMux sends a subtree's root without its slash there
        let to = format!("{prefix}/api/v1/");
        let mut r = respond(
            301,
            "text/html; charset=utf-8",
            format!("<a href=\"{to}\">Moved Permanently</a>.\n\n"),
            false,
        );
        if let Ok(v) = header::HeaderValue::from_str(&to) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return tagged(r, "other");
    }
    if path == "/api/v1/read" {
        return tagged(remote_read(app, req).await, "/api/v1/read");
    }
    if path == "/api/v1/write" || path == "/api/v1/import/prometheus" {
        let name = if path == "/api/v1/write" {
            "/api/v1/write"
        } else {
            "/api/v1/import/prometheus"
        };
        return tagged(ingest(app, req, name).await, name);
    }

    let label_name = label_values_name(&path).map(str::to_string);
    let route = match &label_name {
        Some(_) => Some(Route {
            name: "/api/v1/label/:name/values",
            methods: GET,
            handler: |_, _| unreachable_handler(),
            blocking: true,
        }),
        None => api_route(&path),
    };
    if let Some(route) = route {
        if method == Method::OPTIONS {
            return respond(200, "text/plain", String::new(), false);
        }
        if !route.methods.contains(&method) {
            return tagged(method_not_allowed(route.methods), route.name);
        }
        let p = match read_params(req, app.read_timeout).await {
            Ok(p) => p,
            Err(e) => return tagged(api_error(&e, gzip), route.name),
        };
        // agent mode keeps no queryable storage, as Prometheus's agent
        if app.agent && AGENT_UNAVAILABLE.contains(&route.name) {
            let e = ApiError {
                kind: ErrorType::Execution,
                msg: "unavailable with Prometheus Agent".into(),
            };
            let mut r = api_error(&e, gzip);
            *r.status_mut() = hyper::StatusCode::UNPROCESSABLE_ENTITY;
            return tagged(r, route.name);
        }
        let app2 = Arc::clone(app);
        let handler = route.handler;
        let call = move || match &label_name {
            Some(name) => series::label_values(&app2, &p, name),
            None => handler(&app2, &p),
        };
        // queries wait for one of the --query.max-concurrency slots, at
        // most as long as a query may run
        let _slot = if matches!(route.name, "/api/v1/query" | "/api/v1/query_range") {
            let waited = std::time::Instant::now();
            match tokio::time::timeout(app.flags.query_timeout, app.query_slots.acquire()).await {
                Ok(Ok(permit)) => {
                    app.observe_queue(waited.elapsed());
                    Some(permit)
                }
                _ => {
                    let e = ApiError {
                        kind: ErrorType::Timeout,
                        msg: "query timed out in query queue".into(),
                    };
                    return tagged(api_error(&e, gzip), route.name);
                }
            }
        } else {
            None
        };
        let result = if route.blocking {
            match tokio::task::spawn_blocking(call).await {
                Ok(r) => r,
                Err(e) => Err(ApiError {
                    kind: ErrorType::Internal,
                    msg: format!("request failed: {e}"),
                }),
            }
        } else {
            call()
        };
        let resp = match result {
            Ok(a) if a.no_content => respond(204, "text/plain", String::new(), false),
            Ok(a) => respond(
                200,
                "application/json",
                response::success(&a.data, &a.warnings, &a.infos),
                gzip,
            ),
            Err(e) => api_error(&e, gzip),
        };
        return tagged(resp, route.name);
    }

    let (name, resp) = match (method.clone(), path.as_str()) {
        (Method::GET | Method::HEAD, "/-/healthy") => {
            ("/-/healthy", text(200, crate::web::HEALTHY))
        }
        (Method::GET | Method::HEAD, "/-/ready") => (
            "/-/ready",
            if app.is_ready() {
                text(200, crate::web::READY)
            } else {
                text(503, crate::web::NOT_READY)
            },
        ),
        (_, "/-/reload") => ("/-/reload", lifecycle_reload(app, &method).await),
        (_, "/-/quit") => ("/-/quit", lifecycle_quit(app, &method)),
        (Method::GET, "/metrics") => (
            "/metrics",
            respond(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                crate::web::self_metrics(app),
                gzip,
            ),
        ),
        (Method::GET | Method::POST, "/federate") => {
            let proto = prefers_protobuf(&req);
            let r = match read_params(req, app.read_timeout).await {
                Ok(p) => {
                    let app2 = Arc::clone(app);
                    match tokio::task::spawn_blocking(move || {
                        if proto {
                            crate::web::federate::render_proto(&app2, &p)
                        } else {
                            crate::web::federate::render(&app2, &p).map(String::into_bytes)
                        }
                    })
                    .await
                    {
                        Ok(Ok(body)) if proto => {
                            respond_bytes(200, crate::textparse::protobuf::CONTENT_TYPE, body, gzip)
                        }
                        Ok(Ok(body)) => respond_bytes(
                            200,
                            "text/plain; version=0.0.4; charset=utf-8",
                            body,
                            gzip,
                        ),
                        Ok(Err(e)) => text(e.kind.status(), &format!("{}\n", e.msg)),
                        Err(e) => text(500, &format!("{e}\n")),
                    }
                }
                Err(e) => text(400, &format!("{}\n", e.msg)),
            };
            ("/federate", r)
        }
        (Method::GET | Method::HEAD, p) if crate::web::ui::serve(p).is_some() => {
            let r = match crate::web::ui::serve(p) {
                Some(crate::web::ui::UiResponse::Redirect(to)) => {
                    let to = if app.agent { "/agent" } else { to };
                    let to = match req.uri().query() {
                        Some(q) => format!("{}{to}?{q}", app.route_prefix),
                        None => format!("{}{to}", app.route_prefix),
                    };
                    let mut r = respond(302, "text/html; charset=utf-8", String::new(), false);
                    if let Ok(v) = header::HeaderValue::from_str(&to) {
                        r.headers_mut().insert(header::LOCATION, v);
                    }
                    r
                }
                Some(crate::web::ui::UiResponse::File(ct, bytes)) => {
                    let body = if ct.starts_with("text/html") {
                        Bytes::from(crate::web::ui::index_page(
                            bytes,
                            &app.route_prefix,
                            app.page_title.as_deref(),
                        ))
                    } else {
                        Bytes::from_static(bytes)
                    };
                    let mut r = Response::new(Full::new(body));
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(ct));
                    r
                }
                None => not_found(),
            };
            ("ui", r)
        }
        (Method::GET | Method::HEAD, p) if p.starts_with("/user/") && app.user_assets.is_some() => {
            let dir = app.user_assets.as_deref().expect("checked");
            (
                "/user",
                crate::web::ui::user_asset(dir, &p["/user/".len()..]),
            )
        }
        // as Prometheus 3's API router: a plain-text 404 for paths it
        // does not know, under /api/v1/ or elsewhere
        _ => ("other", not_found()),
    };
    tagged(resp, name)
}

/// The handler name a response is counted under in self-metrics.
#[derive(Clone, Copy)]
struct HandlerName(&'static str);

fn tagged(mut r: Response<Full<Bytes>>, name: &'static str) -> Response<Full<Bytes>> {
    r.extensions_mut().insert(HandlerName(name));
    r
}

/// The `Content-Type`, `Content-Encoding` and body of a write request,
/// read within `--web.read-timeout` and `limit` bytes (`what` names the
/// limit in the 413 answer); or the answer to give instead.
pub(crate) async fn read_body(
    app: &App,
    req: Request<Incoming>,
    limit: usize,
    what: &str,
) -> Result<(Option<String>, Option<String>, Bytes), Response<Full<Bytes>>> {
    let header_str = |h: header::HeaderName| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header_str(header::CONTENT_TYPE);
    let encoding = header_str(header::CONTENT_ENCODING);
    // a body announced larger than the limit is refused before it is read
    let announced = header_str(header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(text(
            413,
            &format!("request body larger than {what} ({limit} bytes)\n"),
        ));
    }
    let read = tokio::time::timeout(
        app.read_timeout,
        Limited::new(req.into_body(), limit).collect(),
    );
    match read.await {
        Err(_) => Err(text(408, "error reading request body: timed out\n")),
        Ok(Ok(b)) => Ok((content_type, encoding, b.to_bytes())),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(text(
                413,
                &format!("request body larger than {what} ({limit} bytes)\n"),
            ))
        }
        Ok(Err(e)) => Err(text(400, &format!("error reading request body: {e}\n"))),
    }
}

async fn ingest(
    app: &Arc<App>,
    req: Request<Incoming>,
    name: &'static str,
) -> Response<Full<Bytes>> {
    if !app.enable_remote_write {
        return text(
            404,
            "remote write receiver needs to be enabled with --web.enable-remote-write-receiver\n",
        );
    }
    if req.method() != Method::POST {
        return method_not_allowed(&[Method::POST]);
    }
    let (content_type, encoding, body) = match read_body(
        app,
        req,
        app.remote_write_max_bytes,
        "--web.remote-write-max-bytes",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let app2 = Arc::clone(app);
    let reply = tokio::task::spawn_blocking(move || {
        if name == "/api/v1/write" {
            write::remote_write(&app2, content_type.as_deref(), encoding.as_deref(), &body)
        } else {
            let body = match encoding.as_deref() {
                Some("gzip") => {
                    let mut out = Vec::new();
                    let mut d = flate2::read::GzDecoder::new(&body[..]);
                    if let Err(e) = std::io::Read::read_to_end(&mut d, &mut out) {
                        return (400, format!("gzip: {e}\n")).into();
                    }
                    Bytes::from(out)
                }
                _ => body,
            };
            write::import_text(&app2, &body)
        }
    })
    .await
    .unwrap_or_else(|e| (500, format!("{e}\n")).into());
    let mut r = text(reply.status, &reply.body);
    for (k, v) in reply.headers {
        if let Ok(v) = header::HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// `POST /api/v1/read`: remote read, at most
/// `--storage.remote.read-concurrent-limit` at once (others wait).
async fn remote_read(app: &Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return method_not_allowed(&[Method::POST]);
    }
    let Ok(_slot) = app.remote_read_slots.acquire().await else {
        return text(503, "shutting down\n");
    };
    let read = tokio::time::timeout(
        app.read_timeout,
        Limited::new(req.into_body(), app.remote_read_limits.max_request_bytes).collect(),
    );
    let body = match read.await {
        Err(_) => return text(408, "error reading request body: timed out\n"),
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => return text(400, &format!("error reading request body: {e}\n")),
    };
    let app2 = Arc::clone(app);
    let answer = tokio::task::spawn_blocking(move || {
        let ext = tsdb::labels::Labels::from_pairs(
            &app2
                .config
                .read()
                .global
                .external_labels
                .iter()
                .collect::<Vec<_>>(),
        );
        crate::remote::read::server::handle(
            app2.queryable().as_ref(),
            &body,
            &ext,
            app2.remote_read_limits,
        )
    })
    .await;
    let a = match answer {
        Ok(a) => a,
        Err(e) => return text(500, &format!("{e}\n")),
    };
    let mut r = Response::new(Full::new(Bytes::from(a.body)));
    *r.status_mut() = hyper::StatusCode::from_u16(a.status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(a.content_type),
    );
    if a.snappy {
        r.headers_mut().insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("snappy"),
        );
    }
    r
}

fn unreachable_handler() -> Result<Answer, ApiError> {
    Err(ApiError {
        kind: ErrorType::Internal,
        msg: "label values handler called without a name".into(),
    })
}

async fn lifecycle_reload(app: &Arc<App>, method: &Method) -> Response<Full<Bytes>> {
    if *method != Method::POST && *method != Method::PUT {
        return text(405, "Only POST or PUT requests allowed\n");
    }
    if !app.flags.enable_lifecycle {
        return text(403, "Lifecycle API is not enabled.\n");
    }
    let app2 = Arc::clone(app);
    match tokio::task::spawn_blocking(move || app2.reload()).await {
        Ok(Ok(())) => text(200, ""),
        Ok(Err(e)) => text(500, &format!("failed to reload config: {e}\n")),
        Err(e) => text(500, &format!("failed to reload config: {e}\n")),
    }
}

fn lifecycle_quit(app: &Arc<App>, method: &Method) -> Response<Full<Bytes>> {
    if *method != Method::POST && *method != Method::PUT {
        return text(405, "Only POST or PUT requests allowed\n");
    }
    if !app.flags.enable_lifecycle {
        return text(403, "Lifecycle API is not enabled.\n");
    }
    let _ = app.shutdown.send(true);
    text(200, "Requesting termination... Goodbye!\n")
}
