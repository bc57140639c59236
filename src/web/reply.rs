//! Building answers: bodies gzipped when the client takes it, plain-text
//! and JSON error shapes, Go's `404 page not found` and the router's 405,
//! and the handler name a response is counted under.

use std::io::Write as _;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{header, Method, Request, Response, StatusCode};

use crate::api::response::ApiError;

/// An answer.
pub type Reply = Response<Body>;

/// An answer's body: whole, or parts handed on as they are made (a
/// streamed remote read answer), the first of them already there.
pub enum Body {
    /// The whole body.
    Whole(Full<Bytes>),
    /// Parts from a producer; an error ends the answer abruptly, so the
    /// client sees it is incomplete.
    Parts {
        /// A part received before the answer started.
        first: Option<Bytes>,
        /// The rest.
        rest: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    },
}

/// Why a body in parts stopped short.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(String);

impl From<Full<Bytes>> for Body {
    fn from(f: Full<Bytes>) -> Body {
        Body::Whole(f)
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, BodyError>>> {
        use std::task::Poll;
        match self.get_mut() {
            Body::Whole(f) => hyper::body::Body::poll_frame(std::pin::Pin::new(f), cx)
                .map_err(|never| match never {}),
            Body::Parts { first, rest } => {
                if let Some(b) = first.take() {
                    return Poll::Ready(Some(Ok(hyper::body::Frame::data(b))));
                }
                rest.poll_recv(cx)
                    .map(|p| p.map(|r| r.map(hyper::body::Frame::data).map_err(BodyError)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Whole(f) => hyper::body::Body::is_end_stream(f),
            Body::Parts { .. } => false,
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Whole(f) => hyper::body::Body::size_hint(f),
            Body::Parts { .. } => hyper::body::SizeHint::default(),
        }
    }
}

/// Whether the request's `Accept-Encoding` names gzip.
pub fn accepts_gzip<B>(req: &Request<B>) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|e| e.trim().split(';').next() == Some("gzip"))
        })
}

/// An answer with `body`, gzipped when `gzip` and worth it.
pub fn respond(status: u16, content_type: &str, body: String, gzip: bool) -> Reply {
    respond_bytes(status, content_type, body.into_bytes(), gzip)
}

/// [`respond`] for a body of bytes.
pub fn respond_bytes(status: u16, content_type: &str, body: Vec<u8>, gzip: bool) -> Reply {
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
    b.body(Body::from(Full::new(bytes)))
        .expect("static headers are valid")
}

/// A plain-text answer.
pub fn text(status: u16, body: &str) -> Reply {
    respond(status, "text/plain; charset=utf-8", body.to_string(), false)
}

/// An API error in the API's JSON shape (`status`, `errorType`, `error`).
pub fn api_error(e: &ApiError, gzip: bool) -> Reply {
    respond(e.kind.status(), "application/json", e.body(), gzip)
}

/// A redirect (`status` 301 or 302) to `to`, with `body`.
pub fn redirect(status: u16, to: &str, body: String) -> Reply {
    let mut r = respond(status, "text/html; charset=utf-8", body, false);
    if let Ok(v) = header::HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Go's `http.NotFound`, as Prometheus answers a path it does not serve.
pub fn not_found() -> Reply {
    let mut r = text(404, "404 page not found\n");
    r.headers_mut().insert(
        header::HeaderName::from_static("x-content-type-options"),
        header::HeaderValue::from_static("nosniff"),
    );
    r
}

/// Prometheus's router's answer to a method a path does not take: 405
/// with the methods it does (and OPTIONS, which every API path takes).
pub fn method_not_allowed(methods: &[Method]) -> Reply {
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

/// The handler name a response is counted under in self-metrics.
#[derive(Clone, Copy)]
pub struct HandlerName(pub &'static str);

/// `r`, counted under `name`.
pub fn tagged(mut r: Reply, name: &'static str) -> Reply {
    r.extensions_mut().insert(HandlerName(name));
    r
}
