//! The web UI: static files embedded in the binary at compile time, served
//! at `/` and the page paths; pages are rendered in the browser from the
//! HTTP API.

/// An embedded file: URL path, content type, bytes.
type Asset = (&'static str, &'static str, &'static [u8]);

const JS: &str = "text/javascript; charset=utf-8";

/// Every embedded file, by URL path under `/` (sources in `web/ui/`).
const ASSETS: &[Asset] = &[
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../web/ui/index.html"),
    ),
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/ui/app.css"),
    ),
    ("/assets/app.js", JS, include_bytes!("../../web/ui/app.js")),
    ("/assets/api.js", JS, include_bytes!("../../web/ui/api.js")),
    (
        "/assets/chart.js",
        JS,
        include_bytes!("../../web/ui/chart.js"),
    ),
    (
        "/assets/heatmap.js",
        JS,
        include_bytes!("../../web/ui/heatmap.js"),
    ),
    (
        "/assets/editor.js",
        JS,
        include_bytes!("../../web/ui/editor.js"),
    ),
    (
        "/assets/functions.js",
        JS,
        include_bytes!("../../web/ui/functions.js"),
    ),
    (
        "/assets/explain.js",
        JS,
        include_bytes!("../../web/ui/explain.js"),
    ),
    (
        "/assets/explore.js",
        JS,
        include_bytes!("../../web/ui/explore.js"),
    ),
    (
        "/assets/promql.js",
        JS,
        include_bytes!("../../web/ui/promql.js"),
    ),
    (
        "/assets/query.js",
        JS,
        include_bytes!("../../web/ui/query.js"),
    ),
    (
        "/assets/targets.js",
        JS,
        include_bytes!("../../web/ui/targets.js"),
    ),
    (
        "/assets/alerts.js",
        JS,
        include_bytes!("../../web/ui/alerts.js"),
    ),
    (
        "/assets/status.js",
        JS,
        include_bytes!("../../web/ui/status.js"),
    ),
];

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
    "/agent",
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

/// The page with absolute links and sources moved under `prefix` and the
/// prefix announced to the scripts (`<meta name="route-prefix">`), and,
/// when given, `title` as its title (`--web.page-title`, announced as
/// `<meta name="page-title">`).
pub fn index_page(html: &[u8], prefix: &str, title: Option<&str>) -> Vec<u8> {
    let mut text = String::from_utf8_lossy(html).into_owned();
    if !prefix.is_empty() {
        text = text
            .replace("href=\"/", &format!("href=\"{prefix}/"))
            .replace("src=\"/", &format!("src=\"{prefix}/"))
            .replacen(
                "<head>",
                &format!("<head>\n<meta name=\"route-prefix\" content=\"{prefix}\">"),
                1,
            );
    }
    if let Some(t) = title {
        let t = html_escape(t);
        text = text
            .replacen("<title>flint</title>", &format!("<title>{t}</title>"), 1)
            .replacen(
                "<head>",
                &format!("<head>\n<meta name=\"page-title\" content=\"{t}\">"),
                1,
            );
    }
    text.into_bytes()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A file of `--web.user-assets` under `/user/<rel>`: its bytes with a
/// content type from its extension, or 404 for a missing file or a path
/// leaving the folder.
pub fn user_asset(
    dir: &std::path::Path,
    rel: &str,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let not_found = || {
        let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
            b"404 page not found\n",
        )));
        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
        r
    };
    let rel = std::path::Path::new(rel);
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return not_found();
    }
    let path = dir.join(rel);
    let Ok(bytes) = std::fs::read(&path) else {
        return not_found();
    };
    let ct = match path.extension().and_then(|e| e.to_str()) {
        Some("html") | Some("htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") | Some("mjs") => JS,
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(bytes)));
    if let Ok(v) = hyper::header::HeaderValue::from_str(ct) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// Whether the UI answers `path`.
pub fn serves(path: &str) -> bool {
    serve(path).is_some()
}

/// The UI's answer to a GET of `path` (with the query string `query`): a
/// redirect under the route prefix (to the agent page in agent mode), a
/// page with the prefix and page title filled in, or an asset.
pub fn answer(app: &crate::app::App, path: &str, query: Option<&str>) -> super::reply::Reply {
    match serve(path) {
        Some(UiResponse::Redirect(to)) => {
            let to = if app.agent { "/agent" } else { to };
            let to = match query {
                Some(q) => format!("{}{to}?{q}", app.route_prefix),
                None => format!("{}{to}", app.route_prefix),
            };
            super::reply::redirect(302, &to, String::new())
        }
        Some(UiResponse::File(ct, bytes)) => {
            let body = if ct.starts_with("text/html") {
                bytes::Bytes::from(index_page(
                    bytes,
                    &app.route_prefix,
                    app.page_title.as_deref(),
                ))
            } else {
                bytes::Bytes::from_static(bytes)
            };
            let mut r =
                hyper::Response::new(super::reply::Body::from(http_body_util::Full::new(body)));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(ct),
            );
            r
        }
        None => super::reply::not_found(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(path: &str) -> &'static str {
        let a = asset(path).unwrap_or_else(|| panic!("{path} is not embedded"));
        std::str::from_utf8(a.2).unwrap()
    }

    /// Quoted strings in `src` that follow `marker` (e.g. `from '` or `src="`).
    fn refs_after<'a>(src: &'a str, marker: &str) -> Vec<&'a str> {
        let mut out = Vec::new();
        let mut rest = src;
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            let q = marker.as_bytes()[marker.len() - 1] as char;
            if let Some(end) = rest.find(q) {
                out.push(&rest[..end]);
            }
        }
        out
    }

    #[test]
    fn root_redirects_and_pages_serve_index() {
        assert!(matches!(serve("/"), Some(UiResponse::Redirect("/query"))));
        let index = asset("/index.html").unwrap();
        for p in PAGES {
            match serve(p) {
                Some(UiResponse::File(ct, body)) => {
                    assert_eq!(ct, index.1, "{p}");
                    assert_eq!(body.as_ptr(), index.2.as_ptr(), "{p}");
                }
                _ => panic!("{p} does not serve index.html"),
            }
        }
        assert!(serve("/nope").is_none());
        assert!(serve("/assets/nope.js").is_none());
        assert!(matches!(
            serve("/assets/app.js"),
            Some(UiResponse::File(JS, _))
        ));
    }

    #[test]
    fn every_referenced_asset_is_embedded() {
        let index = text("/index.html");
        let mut refs: Vec<String> = Vec::new();
        for m in ["src=\"", "href=\""] {
            for r in refs_after(index, m) {
                if r.starts_with("/assets/") {
                    refs.push(r.to_string());
                }
            }
        }
        assert!(refs.contains(&"/assets/app.js".to_string()));
        assert!(refs.contains(&"/assets/app.css".to_string()));
        for (path, ct, _) in ASSETS.iter().filter(|a| a.1 == JS) {
            let src = text(path);
            for m in ["from '", "from \"", "import('", "import(\""] {
                for r in refs_after(src, m) {
                    let r = r
                        .strip_prefix("./")
                        .unwrap_or_else(|| panic!("{path}: import {r}"));
                    refs.push(format!("/assets/{r}"));
                }
            }
            assert_eq!(*ct, JS);
        }
        for r in &refs {
            assert!(asset(r).is_some(), "{r} is referenced but not embedded");
        }
        // And nothing is embedded for nothing.
        for (path, _, _) in ASSETS {
            assert!(
                *path == "/index.html" || refs.iter().any(|r| r == path),
                "{path} is embedded but not referenced"
            );
        }
    }

    /// The comma-separated fields of `row` (`"a", "b,c", 1`), unquoted.
    fn js_fields(row: &str) -> Vec<String> {
        let mut fields = vec![String::new()];
        let mut quote = None;
        for c in row.chars() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, ',') => fields.push(String::new()),
                (None, c) if c.is_whitespace() => {}
                (_, c) => fields.last_mut().expect("one field").push(c),
            }
        }
        fields
    }

    /// The `[...]` rows of the array that follows `marker` in `src`.
    fn js_rows(src: &str, marker: &str) -> Vec<Vec<String>> {
        let start = src.find(marker).unwrap_or_else(|| panic!("no {marker}")) + marker.len();
        let mut rows = Vec::new();
        let mut rest = &src[start..];
        loop {
            rest = rest.trim_start();
            let Some(r) = rest.strip_prefix('[') else {
                break;
            };
            let end = r.find(']').expect("a row ends");
            rows.push(js_fields(&r[..end]));
            rest = r[end + 1..].trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
        assert!(!rows.is_empty(), "no rows after {marker}");
        rows
    }

    /// The UI's autocompletion knows exactly the parser's functions, with
    /// the parser's signatures.
    #[test]
    fn functions_js_matches_the_parser() {
        use promql::parser::ValueType;
        let code = |t: &ValueType| match t {
            ValueType::Vector => "V",
            ValueType::Matrix => "M",
            ValueType::Scalar => "S",
            ValueType::String => "Str",
        };
        let parser: Vec<Vec<String>> = promql::parser::functions::FUNCTIONS
            .iter()
            .map(|f| {
                let args: Vec<&str> = f.args.iter().map(code).collect();
                vec![
                    f.name.to_string(),
                    args.join(","),
                    f.variadic.to_string(),
                    code(&f.ret).to_string(),
                ]
            })
            .collect();
        let js = js_rows(text("/assets/functions.js"), "const ROWS = [");
        let name = |r: &Vec<String>| r[0].clone();
        let missing: Vec<String> = parser
            .iter()
            .filter(|r| !js.contains(r))
            .map(name)
            .collect();
        let extra: Vec<String> = js
            .iter()
            .filter(|r| !parser.contains(r))
            .map(name)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "functions.js lacks or differs on {missing:?}; has {extra:?} the parser lacks or differs on"
        );
        assert_eq!(js.len(), parser.len(), "functions.js repeats a row");
    }

    /// And exactly the parser's aggregation operators, with a parameter
    /// for those that take one.
    #[test]
    fn aggregations_js_matches_the_parser() {
        use promql::parser::AggregateOp::{self, *};
        let all = [
            Sum,
            Avg,
            Min,
            Max,
            Count,
            Group,
            Stddev,
            Stdvar,
            Topk,
            Bottomk,
            Quantile,
            CountValues,
            Limitk,
            LimitRatio,
        ];
        // no wildcard: an operator added to the parser stops this
        // compiling until it is listed above
        for op in all {
            match op {
                Sum | Avg | Min | Max | Count | Group | Stddev | Stdvar | Topk | Bottomk
                | Quantile | CountValues | Limitk | LimitRatio => {}
            }
        }
        let param = |op: AggregateOp| match op {
            CountValues => "Str",
            _ if op.has_param() => "S",
            _ => "",
        };
        let mut parser: Vec<(String, &str)> = all
            .iter()
            .map(|&op| (op.as_str().to_string(), param(op)))
            .collect();
        let src = text("/assets/functions.js");
        let mut js: Vec<(String, &str)> = js_rows(src, "export const AGGREGATIONS = new Map([")
            .into_iter()
            .map(|r| {
                assert_eq!(r.len(), 2, "{r:?}");
                let p = ["", "S", "Str"]
                    .into_iter()
                    .find(|p| *p == r[1])
                    .unwrap_or_else(|| panic!("{r:?}: unknown parameter type"));
                (r[0].clone(), p)
            })
            .collect();
        parser.sort();
        js.sort();
        assert_eq!(js, parser);
    }

    #[test]
    fn ui_stays_small() {
        let total: usize = ASSETS.iter().map(|a| a.2.len()).sum();
        assert!(total < 190 * 1024, "web UI is {total} bytes");
    }
}
