//! The web UI: static files embedded in the binary at compile time, served
//! at `/` and the page paths; pages are rendered in the browser from the
//! HTTP API.

/// An embedded file: URL path, content type, bytes.
type Asset = (&'static str, &'static str, &'static [u8]);

/// Every embedded file, by URL path under `/`.
const ASSETS: &[Asset] = &[];

/// Page paths answered with the single-page app's `index.html`.
const PAGES: &[&str] = &[
    "/query",
    "/graph",
    "/alerts",
    "/rules",
    "/targets",
    "/service-discovery",
    "/status",
    "/tsdb-status",
    "/flags",
    "/config",
];

/// What the UI answers for `path`: a redirect target or a file.
pub enum UiResponse {
    /// Redirect (302) to this location.
    Redirect(&'static str),
    /// A file: content type and bytes.
    File(&'static str, &'static [u8]),
}

fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|(p, _, _)| *p == path)
}

/// The UI's answer for a GET of `path`, if it has one.
pub fn serve(path: &str) -> Option<UiResponse> {
    let index = asset("/index.html")?;
    if path == "/" {
        return Some(UiResponse::Redirect("/query"));
    }
    if PAGES.contains(&path) {
        return Some(UiResponse::File(index.1, index.2));
    }
    asset(path).map(|a| UiResponse::File(a.1, a.2))
}
