//! `/-/healthy`, `/-/ready`, and, with `--web.enable-lifecycle`,
//! `/-/reload` and `/-/quit`.

use std::sync::Arc;

use hyper::Method;

use super::reply::{text, Reply};
use crate::app::App;

/// Body of `/-/healthy`.
pub const HEALTHY: &str = "Prometheus Server is Healthy.\n";
/// Body of `/-/ready` once ready.
pub const READY: &str = "Prometheus Server is Ready.\n";
/// Body of `/-/ready` before that.
pub const NOT_READY: &str = "Service Unavailable";

/// `GET /-/healthy`.
pub fn healthy() -> Reply {
    text(200, HEALTHY)
}

/// `GET /-/ready`: 503 until the server is ready.
pub fn ready(app: &App) -> Reply {
    if app.is_ready() {
        text(200, READY)
    } else {
        text(503, NOT_READY)
    }
}

/// Prometheus's answer to a lifecycle request it does not act on: a method
/// other than POST or PUT, or the lifecycle API off.
fn refused(app: &App, method: &Method) -> Option<Reply> {
    if *method != Method::POST && *method != Method::PUT {
        return Some(text(405, "Only POST or PUT requests allowed\n"));
    }
    if !app.flags.enable_lifecycle {
        return Some(text(403, "Lifecycle API is not enabled.\n"));
    }
    None
}

/// `POST /-/reload`: reloads the configuration.
pub async fn reload(app: &Arc<App>, method: &Method) -> Reply {
    if let Some(r) = refused(app, method) {
        return r;
    }
    let app2 = Arc::clone(app);
    match tokio::task::spawn_blocking(move || app2.reload()).await {
        Ok(Ok(())) => text(200, ""),
        Ok(Err(e)) => text(500, &format!("failed to reload config: {e}\n")),
        Err(e) => text(500, &format!("failed to reload config: {e}\n")),
    }
}

/// `POST /-/quit`: asks the server to shut down.
pub fn quit(app: &App, method: &Method) -> Reply {
    if let Some(r) = refused(app, method) {
        return r;
    }
    let _ = app.shutdown.send(true);
    text(200, "Requesting termination... Goodbye!\n")
}
