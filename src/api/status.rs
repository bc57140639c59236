//! The server's status: `/api/v1/status/config`, `flags`,
//! `runtimeinfo`, `buildinfo` and `walreplay`.

use std::fmt::Write as _;

use super::params::Params;
use super::response::{json_str, ApiError};
use super::Answer;
use crate::app::App;
use common::rfc3339::format_millis;

fn obj_str(out: &mut String, first: &mut bool, key: &str, val: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    json_str(out, key);
    out.push(':');
    json_str(out, val);
}

/// `GET /api/v1/status/config`.
pub fn config(app: &App, _: &Params) -> Result<Answer, ApiError> {
    let mut s = String::from("{\"yaml\":");
    json_str(&mut s, &app.config.read().to_yaml());
    s.push('}');
    Ok(Answer::data(s))
}

/// `GET /api/v1/status/flags`.
pub fn flags(app: &App, _: &Params) -> Result<Answer, ApiError> {
    let mut sorted: Vec<&(String, String)> = app.flags.all.iter().collect();
    sorted.sort();
    let mut s = String::from("{");
    let mut first = true;
    for (k, v) in sorted {
        obj_str(&mut s, &mut first, k, v);
    }
    s.push('}');
    Ok(Answer::data(s))
}

/// `GET /api/v1/status/buildinfo`.
pub fn buildinfo(_: &App, _: &Params) -> Result<Answer, ApiError> {
    let mut s = String::from("{");
    let mut first = true;
    for (k, v) in [
        ("version", crate::buildinfo::VERSION),
        ("revision", crate::buildinfo::REVISION),
        ("branch", crate::buildinfo::BRANCH),
        ("buildUser", crate::buildinfo::BUILD_USER),
        ("buildDate", crate::buildinfo::BUILD_DATE),
        ("goVersion", crate::buildinfo::toolchain_version()),
    ] {
        obj_str(&mut s, &mut first, k, v);
    }
    s.push('}');
    Ok(Answer::data(s))
}

/// `GET /api/v1/status/runtimeinfo`.
pub fn runtimeinfo(app: &App, _: &Params) -> Result<Answer, ApiError> {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let threads = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut s = String::from("{");
    let mut first = true;
    obj_str(
        &mut s,
        &mut first,
        "startTime",
        &format_millis(app.started_ms),
    );
    obj_str(&mut s, &mut first, "CWD", &cwd);
    obj_str(&mut s, &mut first, "hostname", host.trim());
    obj_str(
        &mut s,
        &mut first,
        "serverTime",
        &format_millis(crate::app::now_ms()),
    );
    let _ = write!(s, ",\"reloadConfigSuccess\":{}", app.reload_ok());
    obj_str(
        &mut s,
        &mut first,
        "lastConfigTime",
        &format_millis(*app.config_loaded_ms.lock()),
    );
    let _ = write!(
        s,
        ",\"corruptionCount\":{},\"goroutineCount\":{threads},\"GOMAXPROCS\":{cpus},\"GOMEMLIMIT\":{}",
        app.db.open_report().problems.len(),
        i64::MAX
    );
    obj_str(&mut s, &mut first, "GOGC", "");
    obj_str(&mut s, &mut first, "GODEBUG", "");
    obj_str(
        &mut s,
        &mut first,
        "storageRetention",
        &app.retention_text(),
    );
    s.push('}');
    Ok(Answer::data(s))
}
/// `GET /api/v1/status/walreplay`: flint replays no write-ahead log; after
/// taking over a Prometheus data directory, the import's work (done, as
/// it is once the server answers this).
pub fn walreplay(app: &App, _: &Params) -> Result<Answer, ApiError> {
    Ok(Answer::data(match &app.takeover {
        Some(p) => crate::web::starting::walreplay_json(p),
        None => "{\"min\":0,\"max\":0,\"current\":0}".into(),
    }))
}
