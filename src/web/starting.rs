//! What the server answers while it is not yet started (taking over a
//! Prometheus data directory): `/-/healthy` as usual, `/-/ready` and every
//! other endpoint "Service Unavailable" (503), as Prometheus answers during
//! its write-ahead log replay; `/api/v1/status/walreplay` with the
//! progress; and, for a browser, a page that says how far it is and
//! reloads itself until the server is up.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};

use tsdb::takeover::Progress;

fn answer(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

/// `{"min":0,"max":…,"current":…}`: the work done of the work in all.
pub fn walreplay_json(p: &Progress) -> String {
    let total = p.total.load(Ordering::Relaxed);
    let done = p.done.load(Ordering::Relaxed).min(total);
    format!("{{\"min\":0,\"max\":{total},\"current\":{done}}}")
}

/// Answers one request during start-up; `prefix` is the route prefix
/// (`""` or `/something`).
pub fn handle<B>(req: &Request<B>, prefix: &str, p: &Progress) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let path = path.strip_prefix(prefix).unwrap_or(path);
    match path {
        "/-/healthy" => answer(
            200,
            "text/plain; charset=utf-8",
            super::lifecycle::HEALTHY.into(),
        ),
        "/api/v1/status/walreplay" => answer(
            200,
            "application/json",
            format!("{{\"status\":\"success\",\"data\":{}}}", walreplay_json(p)),
        ),
        _ if path == "/"
            || !path.starts_with("/api/") && !path.starts_with("/-/") && wants_html(req) =>
        {
            let total = p.total.load(Ordering::Relaxed).max(1);
            let done = p.done.load(Ordering::Relaxed).min(total);
            let pct = done as f64 * 100.0 / total as f64;
            answer(
                503,
                "text/html; charset=utf-8",
                format!(
                    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"2\"><title>Starting up…</title>\
                     <style>body{{font-family:sans-serif;margin:4em auto;max-width:36em}}progress{{width:100%}}</style></head>\
                     <body><h2>Starting up…</h2><p>Importing the Prometheus data directory: {pct:.1}% \
                     ({} series, {} samples so far).</p><progress max=\"{total}\" value=\"{done}\"></progress>\
                     <p>This page reloads until the server is ready.</p></body></html>",
                    p.series.load(Ordering::Relaxed),
                    p.samples.load(Ordering::Relaxed),
                ),
            )
        }
        _ => answer(
            503,
            "text/plain; charset=utf-8",
            super::lifecycle::NOT_READY.into(),
        ),
    }
}

fn wants_html<B>(req: &Request<B>) -> bool {
    req.headers()
        .get("Accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, accept: &str) -> Response<Full<Bytes>> {
        let p = Progress::default();
        p.total.store(200, Ordering::Relaxed);
        p.done.store(50, Ordering::Relaxed);
        let req = Request::get(path)
            .header("Accept", accept)
            .body(())
            .unwrap();
        handle(&req, "/prom", &p)
    }

    #[test]
    fn answers_as_prometheus_while_it_replays() {
        assert_eq!(get("/prom/-/healthy", "*/*").status(), 200);
        assert_eq!(get("/prom/-/ready", "*/*").status(), 503);
        assert_eq!(get("/prom/api/v1/query", "*/*").status(), 503);
        let r = get("/prom/api/v1/status/walreplay", "*/*");
        assert_eq!(r.status(), 200);
        let page = get("/prom/query", "text/html,*/*");
        assert_eq!(page.status(), 503);
        assert_eq!(page.headers()["Content-Type"], "text/html; charset=utf-8");
        assert_eq!(
            walreplay_json(&{
                let p = Progress::default();
                p.total.store(10, Ordering::Relaxed);
                p.done.store(4, Ordering::Relaxed);
                p
            }),
            "{\"min\":0,\"max\":10,\"current\":4}"
        );
    }
}
