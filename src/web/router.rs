//! Every endpoint the server answers, in one table ([`ROUTES`]), and the
//! dispatcher every request goes through: basic auth, the route prefix,
//! the route's methods, agent mode, the blocking pool and query slots for
//! API handlers, CORS, extra headers and the request metrics.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{header, Method, Request};

use super::reply::{
    accepts_gzip, api_error, method_not_allowed, not_found, redirect, respond, tagged, text,
    HandlerName, Reply,
};
use crate::api::response::{self, ApiError, ErrorType};
use crate::api::{self, exemplars, metadata, params, query, rules, series, status, storage};
use crate::api::{targets, Answer};
use crate::app::App;

/// The paths a route answers, after the route prefix.
#[derive(Clone, Copy)]
pub enum Path {
    /// Exactly this path.
    Exact(&'static str),
    /// Every path under this prefix.
    Prefix(&'static str),
    /// The first string, one path segment, the second string: the segment
    /// is the handler's argument (`/api/v1/label/<name>/values`).
    Segment(&'static str, &'static str),
    /// The paths the function accepts.
    Matching(fn(&str) -> bool),
}

impl Path {
    /// Whether `path` is one of these; with the variable segment, if any.
    fn matches<'a>(&self, path: &'a str) -> Option<&'a str> {
        match *self {
            Path::Exact(p) => (path == p).then_some(""),
            Path::Prefix(p) => path.starts_with(p).then_some(""),
            Path::Segment(before, after) => path
                .strip_prefix(before)?
                .strip_suffix(after)
                .filter(|s| !s.contains('/')),
            Path::Matching(f) => f(path).then_some(""),
        }
    }
}

/// How a route answers a method it does not list.
#[derive(Clone, Copy)]
pub enum Others {
    /// As Prometheus's API router: OPTIONS 200 (for CORS preflights),
    /// anything else 405 with `Allow`.
    Api,
    /// 405 with `Allow`, OPTIONS included.
    NotAllowed,
    /// As a path that is not served: 404.
    NotFound,
    /// The handler answers every method itself.
    Handler,
}

/// What answers a route.
#[derive(Clone, Copy)]
pub enum Handler {
    /// An API endpoint: parameters in, the `data` of a JSON answer out.
    Api(api::Handler),
    /// An API query, run once a `--query.max-concurrency` slot is free.
    Query(api::Handler),
    /// An API endpoint taking the path's variable segment.
    ApiSegment(api::SegmentHandler),
    /// A subtree's root asked for without its slash: 301 to the slash.
    AddSlash,
    /// The OTLP receiver.
    Otlp,
    /// Remote read.
    RemoteRead,
    /// The remote-write receiver.
    RemoteWrite,
    /// Text-format import.
    Import,
    /// `/-/healthy`.
    Healthy,
    /// `/-/ready`.
    Ready,
    /// `/-/reload`.
    Reload,
    /// `/-/quit`.
    Quit,
    /// The server's own metrics.
    Metrics,
    /// Federation.
    Federate,
    /// The web UI's pages and assets.
    Ui,
    /// `--web.user-assets`.
    UserAssets,
}

/// One row of [`ROUTES`].
#[derive(Clone, Copy)]
pub struct Route {
    /// The paths it answers.
    pub path: Path,
    /// The methods it takes.
    pub methods: &'static [Method],
    /// What other methods get.
    pub others: Others,
    /// What answers.
    pub handler: Handler,
    /// Whether the work runs on the blocking pool (queries, storage reads
    /// and writes): the dispatcher moves API handlers there, the others
    /// move their work there themselves once they have read the request.
    pub blocking: bool,
    /// Whether it is served in agent mode (API routes; otherwise 422, as
    /// Prometheus's agent, which keeps no queryable storage).
    pub in_agent: bool,
    /// The handler label of the request metrics.
    pub name: &'static str,
}

const GET: &[Method] = &[Method::GET];
const GET_HEAD: &[Method] = &[Method::GET, Method::HEAD];
const GET_POST: &[Method] = &[Method::GET, Method::POST];
const POST: &[Method] = &[Method::POST];
const POST_PUT: &[Method] = &[Method::POST, Method::PUT];

/// An API route at `path`, named after it.
const fn api(path: &'static str, methods: &'static [Method], handler: Handler) -> Route {
    Route {
        path: Path::Exact(path),
        methods,
        others: Others::Api,
        handler,
        blocking: false,
        in_agent: true,
        name: path,
    }
}

/// Any other route.
const fn other(
    path: Path,
    methods: &'static [Method],
    others: Others,
    handler: Handler,
    name: &'static str,
) -> Route {
    Route {
        path,
        methods,
        others,
        handler,
        blocking: false,
        in_agent: true,
        name,
    }
}

impl Route {
    /// On the blocking pool.
    const fn blocking(self) -> Route {
        Route {
            blocking: true,
            ..self
        }
    }

    /// 422 in agent mode.
    const fn not_in_agent(self) -> Route {
        Route {
            in_agent: false,
            ..self
        }
    }
}

/// Every endpoint, first match wins. A path no row matches is 404.
#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    // the JSON API
    api("/api/v1/query",                       GET_POST, Handler::Query(query::instant)).blocking().not_in_agent(),
    api("/api/v1/query_range",                 GET_POST, Handler::Query(query::range)).blocking().not_in_agent(),
    api("/api/v1/format_query",                GET_POST, Handler::Api(query::format_query)).blocking(),
    api("/api/v1/parse_query",                 GET_POST, Handler::Api(query::parse_query)).blocking(),
    api("/api/v1/query_exemplars",             GET_POST, Handler::Api(exemplars::query_exemplars)).blocking().not_in_agent(),
    api("/api/v1/series",                      GET_POST, Handler::Api(series::series)).blocking().not_in_agent(),
    api("/api/v1/labels",                      GET_POST, Handler::Api(series::labels)).blocking().not_in_agent(),
    Route { path: Path::Segment("/api/v1/label/", "/values"), name: "/api/v1/label/:name/values",
        ..api("", GET, Handler::ApiSegment(series::label_values)).blocking().not_in_agent() },
    api("/api/v1/targets",                     GET,      Handler::Api(targets::targets)),
    api("/api/v1/targets/relabel_steps",       GET,      Handler::Api(targets::relabel_steps)),
    api("/api/v1/targets/metadata",            GET,      Handler::Api(metadata::targets_metadata)),
    api("/api/v1/metadata",                    GET,      Handler::Api(metadata::metadata)),
    api("/api/v1/scrape_pools",                GET,      Handler::Api(targets::scrape_pools)),
    api("/api/v1/rules",                       GET,      Handler::Api(rules::rules)).not_in_agent(),
    api("/api/v1/alerts",                      GET,      Handler::Api(rules::alerts)).not_in_agent(),
    api("/api/v1/alertmanagers",               GET,      Handler::Api(rules::alertmanagers)).not_in_agent(),
    api("/api/v1/status/config",               GET,      Handler::Api(status::config)),
    api("/api/v1/status/flags",                GET,      Handler::Api(status::flags)),
    api("/api/v1/status/runtimeinfo",          GET,      Handler::Api(status::runtimeinfo)),
    api("/api/v1/status/buildinfo",            GET,      Handler::Api(status::buildinfo)),
    api("/api/v1/status/walreplay",            GET,      Handler::Api(status::walreplay)),
    api("/api/v1/status/tsdb",                 GET,      Handler::Api(storage::tsdb)).blocking().not_in_agent(),
    api("/api/v1/admin/tsdb/delete_series",    POST_PUT, Handler::Api(storage::delete_series)).blocking().not_in_agent(),
    api("/api/v1/admin/tsdb/clean_tombstones", POST_PUT, Handler::Api(storage::clean_tombstones)).blocking().not_in_agent(),
    api("/api/v1/admin/tsdb/snapshot",         POST_PUT, Handler::Api(storage::snapshot)).blocking().not_in_agent(),
    // Go's ServeMux sends a subtree's root without its slash there
    other(Path::Exact("/api/v1"),                   &[],      Others::Handler,    Handler::AddSlash,    "other"),
    // the receivers answer 404 when off, whatever the method
    other(Path::Exact("/api/v1/otlp/v1/metrics"),   POST,     Others::Handler,    Handler::Otlp,        "/api/v1/otlp/v1/metrics").blocking(),
    other(Path::Exact("/api/v1/write"),             POST,     Others::Handler,    Handler::RemoteWrite, "/api/v1/write").blocking(),
    other(Path::Exact("/api/v1/import/prometheus"), POST,     Others::Handler,    Handler::Import,      "/api/v1/import/prometheus").blocking(),
    other(Path::Exact("/api/v1/read"),              POST,     Others::NotAllowed, Handler::RemoteRead,  "/api/v1/read").blocking(),
    // /-/*: reload and quit answer other methods themselves, as Prometheus
    other(Path::Exact("/-/healthy"),                GET_HEAD, Others::NotFound,   Handler::Healthy,     "/-/healthy"),
    other(Path::Exact("/-/ready"),                  GET_HEAD, Others::NotFound,   Handler::Ready,       "/-/ready"),
    other(Path::Exact("/-/reload"),                 POST_PUT, Others::Handler,    Handler::Reload,      "/-/reload").blocking(),
    other(Path::Exact("/-/quit"),                   POST_PUT, Others::Handler,    Handler::Quit,        "/-/quit"),
    // the server's metrics, federation, user assets and the web UI
    other(Path::Exact("/metrics"),                  GET,      Others::NotFound,   Handler::Metrics,     "/metrics"),
    other(Path::Exact("/federate"),                 GET_POST, Others::NotFound,   Handler::Federate,    "/federate").blocking(),
    other(Path::Prefix("/user/"),                   GET_HEAD, Others::NotFound,   Handler::UserAssets,  "/user"),
    other(Path::Matching(super::ui::serves),        GET_HEAD, Others::NotFound,   Handler::Ui,          "ui"),
];

/// The route for `path`, and its variable segment.
pub fn find(path: &str) -> Option<(&'static Route, &str)> {
    ROUTES
        .iter()
        .find_map(|r| r.path.matches(path).map(|seg| (r, seg)))
}

/// Answers one HTTP request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Reply {
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
        dispatch(&app, req).await
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

/// Adds CORS headers as Prometheus does: only for requests with an
/// `Origin`, `*` for the default `.*`, else the origin when it matches.
fn set_cors(app: &App, origin: Option<&header::HeaderValue>, r: &mut Reply) {
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

/// The request's path under `--web.route-prefix` (`/` for the prefix
/// itself), or `None` outside it.
fn under_prefix<'a>(prefix: &str, full: &'a str) -> Option<&'a str> {
    let path = if prefix.is_empty() {
        full
    } else if full == prefix || full.starts_with(&format!("{prefix}/")) {
        &full[prefix.len()..]
    } else {
        return None;
    };
    Some(if path.is_empty() { "/" } else { path })
}

/// Finds the route and answers with it; the response carries the name it
/// is counted under.
async fn dispatch(app: &Arc<App>, req: Request<Incoming>) -> Reply {
    let full = req.uri().path();
    let Some(path) = under_prefix(&app.route_prefix, full) else {
        // the root leads to the prefix, the rest outside it is not served
        let r = if full == "/" {
            redirect(302, &format!("{}/", app.route_prefix), String::new())
        } else {
            not_found()
        };
        return tagged(r, "other");
    };
    let path = path.to_string();
    let Some((route, segment)) = find(&path) else {
        // as Prometheus 3's API router: a plain-text 404 for paths it
        // does not know, under /api/v1/ or elsewhere
        return tagged(not_found(), "other");
    };
    if !route.methods.contains(req.method()) {
        match route.others {
            Others::Api if req.method() == Method::OPTIONS => {
                return tagged(respond(200, "text/plain", String::new(), false), "other");
            }
            Others::Api | Others::NotAllowed => {
                return tagged(method_not_allowed(route.methods), route.name);
            }
            Others::NotFound => return tagged(not_found(), "other"),
            Others::Handler => {}
        }
    }
    let segment = segment.to_string();
    let r = serve(app, route, req, &path, segment).await;
    if r.extensions().get::<HandlerName>().is_some() {
        r
    } else {
        tagged(r, route.name)
    }
}

/// Runs the route's handler.
async fn serve(
    app: &Arc<App>,
    route: &Route,
    req: Request<Incoming>,
    path: &str,
    segment: String,
) -> Reply {
    let gzip = accepts_gzip(&req);
    match route.handler {
        Handler::Api(_) | Handler::Query(_) | Handler::ApiSegment(_) => {
            serve_api(app, route, req, segment, gzip).await
        }
        Handler::AddSlash => {
            let to = format!("{}{path}/", app.route_prefix);
            let body = format!("<a href=\"{to}\">Moved Permanently</a>.\n\n");
            redirect(301, &to, body)
        }
        Handler::Otlp => api::otlp::handle(app, req).await,
        Handler::RemoteRead => api::remote_read(app, req).await,
        Handler::RemoteWrite => api::ingest(app, req, api::Ingest::RemoteWrite).await,
        Handler::Import => api::ingest(app, req, api::Ingest::Text).await,
        Handler::Healthy => super::lifecycle::healthy(),
        Handler::Ready => super::lifecycle::ready(app),
        Handler::Reload => super::lifecycle::reload(app, req.method()).await,
        Handler::Quit => super::lifecycle::quit(app, req.method()),
        Handler::Metrics => respond(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            super::self_metrics(app),
            gzip,
        ),
        Handler::Federate => super::federate::serve(app, req, gzip).await,
        Handler::Ui => super::ui::answer(app, path, req.uri().query()),
        Handler::UserAssets => match app.user_assets.as_deref() {
            Some(dir) => {
                super::ui::user_asset(dir, &path["/user/".len()..]).map(super::reply::Body::from)
            }
            None => tagged(not_found(), "other"),
        },
    }
}

/// An API route: its parameters, agent mode, a query slot, the handler
/// (on the blocking pool if the route says so), and the JSON answer.
async fn serve_api(
    app: &Arc<App>,
    route: &Route,
    req: Request<Incoming>,
    segment: String,
    gzip: bool,
) -> Reply {
    let p = match params::read(req, app.read_timeout).await {
        Ok(p) => p,
        Err(e) => return api_error(&e, gzip),
    };
    if app.agent && !route.in_agent {
        let e = ApiError {
            kind: ErrorType::Execution,
            msg: "unavailable with Prometheus Agent".into(),
        };
        let mut r = api_error(&e, gzip);
        *r.status_mut() = hyper::StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    let app2 = Arc::clone(app);
    let handler = route.handler;
    let call = move || match handler {
        Handler::Api(h) | Handler::Query(h) => h(&app2, &p),
        Handler::ApiSegment(h) => h(&app2, &p, &segment),
        _ => Err(ApiError {
            kind: ErrorType::Internal,
            msg: "not an API handler".into(),
        }),
    };
    // queries wait for one of the --query.max-concurrency slots, at most
    // as long as a query may run
    let _slot = if matches!(handler, Handler::Query(_)) {
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
                return api_error(&e, gzip);
            }
        }
    } else {
        None
    };
    let result: Result<Answer, ApiError> = if route.blocking {
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
    match result {
        Ok(a) if a.no_content => respond(204, "text/plain", String::new(), false),
        Ok(a) => respond(
            200,
            "application/json",
            response::success(&a.data, &a.warnings, &a.infos),
            gzip,
        ),
        Err(e) => api_error(&e, gzip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_routes() {
        let name = |p: &str| find(p).map(|(r, _)| r.name);
        assert_eq!(name("/api/v1/query"), Some("/api/v1/query"));
        assert_eq!(name("/api/v1/query/"), None);
        assert_eq!(name("/api/v1/nope"), None);
        assert_eq!(name("/api/v1"), Some("other"));
        assert_eq!(name("/-/ready"), Some("/-/ready"));
        assert_eq!(name("/user/a/b.css"), Some("/user"));
        assert_eq!(name("/query"), Some("ui"));
        assert_eq!(name("/"), Some("ui"));
        assert_eq!(name("/nope"), None);
        let label = find("/api/v1/label/job/values").unwrap();
        assert_eq!(label.0.name, "/api/v1/label/:name/values");
        assert_eq!(label.1, "job");
        assert!(find("/api/v1/label/a/b/values").is_none());
    }

    #[test]
    fn every_route_is_reachable_once() {
        for (i, r) in ROUTES.iter().enumerate() {
            if let Path::Exact(p) = r.path {
                let (found, _) = find(p).unwrap();
                assert!(std::ptr::eq(found, &ROUTES[i]), "{p} is shadowed");
                assert_eq!(
                    ROUTES
                        .iter()
                        .filter(|o| o.path.matches(p).is_some())
                        .count(),
                    1,
                    "{p}"
                );
            }
        }
    }
}
