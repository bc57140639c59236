//! The HTTP API (`/api/v1/*`): the handlers of the JSON endpoints, which
//! take [`Params`] and give an [`Answer`], and the receivers that read a
//! request body (remote write, text import, remote read, OTLP). Routing
//! and the JSON reply are [`crate::web::router`]'s.

pub mod exemplars;
pub mod metadata;
pub(crate) mod otlp;
pub mod params;
pub mod query;
pub mod response;
pub mod rules;
pub mod series;
pub mod status;
pub mod storage;
pub mod targets;
pub mod write;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{header, Method, Request, Response};

use crate::app::App;
use crate::web::reply::{method_not_allowed, text, Body, Reply};
use params::Params;
use response::ApiError;

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

/// A JSON endpoint.
pub type Handler = fn(&App, &Params) -> Result<Answer, ApiError>;

/// A JSON endpoint with a variable path segment (a label name).
pub type SegmentHandler = fn(&App, &Params, &str) -> Result<Answer, ApiError>;

/// The `Content-Type`, `Content-Encoding` and body of a write request,
/// read within `--web.read-timeout` and `limit` bytes (`what` names the
/// limit in the 413 answer); or the answer to give instead.
pub(crate) async fn read_body(
    app: &App,
    req: Request<Incoming>,
    limit: usize,
    what: &str,
) -> Result<(Option<String>, Option<String>, Bytes), Reply> {
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

/// What a write request carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ingest {
    /// `POST /api/v1/write`: remote write 1.0 or 2.0.
    RemoteWrite,
    /// `POST /api/v1/import/prometheus`: the text format, maybe gzipped.
    Text,
}

/// The remote-write receiver and the text import, with
/// `--web.enable-remote-write-receiver`.
pub async fn ingest(app: &Arc<App>, req: Request<Incoming>, kind: Ingest) -> Reply {
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
        if kind == Ingest::RemoteWrite {
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

/// How many frames of a streamed remote read answer wait for the client
/// at most.
const READ_FRAMES_AHEAD: usize = 4;

/// A remote read slot, given back when the answer is made (a streamed
/// answer's producer holds it to its end).
struct ReadSlot(Arc<App>);

impl Drop for ReadSlot {
    fn drop(&mut self) {
        self.0.remote_read_slots.add_permits(1);
    }
}

/// `POST /api/v1/read`: remote read, at most
/// `--storage.remote.read-concurrent-limit` at once (others wait). A
/// streamed answer is sent frame by frame as it is made, a few frames
/// ahead of the client at most.
pub async fn remote_read(app: &Arc<App>, req: Request<Incoming>) -> Reply {
    let Ok(permit) = app.remote_read_slots.acquire().await else {
        return text(503, "shutting down\n");
    };
    permit.forget();
    let slot = ReadSlot(Arc::clone(app));
    let read = tokio::time::timeout(
        app.read_timeout,
        Limited::new(req.into_body(), app.remote_read_limits.max_request_bytes).collect(),
    );
    let body = match read.await {
        Err(_) => return text(408, "error reading request body: timed out\n"),
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => return text(400, &format!("error reading request body: {e}\n")),
    };
    let ext = tsdb::labels::Labels::from_pairs(
        &app.config
            .read()
            .global
            .external_labels
            .iter()
            .collect::<Vec<_>>(),
    );
    let app2 = Arc::clone(app);
    let answer = tokio::task::spawn_blocking(move || {
        crate::remote::read::server::handle(
            app2.queryable().as_ref(),
            &body,
            &ext,
            app2.remote_read_limits,
        )
    })
    .await;
    let a = match answer {
        Ok(crate::remote::read::server::Answer::Whole(a)) => a,
        Ok(crate::remote::read::server::Answer::Streamed(s)) => {
            return streamed_read(app, s, slot).await
        }
        Err(e) => return text(500, &format!("{e}\n")),
    };
    let mut r = Response::new(Body::from(Full::new(Bytes::from(a.body))));
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

/// Sends a streamed remote read answer as its frames are made: the
/// database's error before the first frame is a 500, one after it ends
/// the answer short.
async fn streamed_read(
    app: &Arc<App>,
    s: crate::remote::read::server::StreamedRead,
    slot: ReadSlot,
) -> Reply {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(READ_FRAMES_AHEAD);
    let db = app.queryable();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut sink = |f: Vec<u8>| tx.blocking_send(Ok(Bytes::from(f))).is_ok();
        if let Err(e) = s.frames(db.as_ref(), &mut sink) {
            tracing::error!(component = "web", err = %e, "Error streaming a remote read answer");
            let _ = tx.blocking_send(Err(e.to_string()));
        }
    });
    let first = match rx.recv().await {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => return text(500, &format!("{e}\n")),
        None => None,
    };
    let mut r = Response::new(Body::Parts { first, rest: rx });
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(crate::remote::read::server::STREAMED_CONTENT_TYPE),
    );
    r
}
