//! Status, metadata and the endpoints whose subsystems answer "nothing
//! configured": `/api/v1/status/*`, `metadata`, `targets/metadata`,
//! `scrape_pools`, `rules`, `alerts`, `alertmanagers`, and the admin
//! endpoints.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::params::{time_param, Params, MAX_TIME_MS, MIN_TIME_MS};
use super::response::{json_str, write_labels, ApiError, ErrorType};
use super::series::match_params;
use super::Answer;
use crate::app::App;
use crate::rfc3339::format_millis;

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

/// `GET /api/v1/status/tsdb?limit=N`: Prometheus's fields, and
/// `bytesOnDiskByMetricName` (see [`tsdb::MetricBytes`]).
pub fn tsdb(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let limit = match p.get("limit") {
        None | Some("") => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        },
    };
    let card = app.db.cardinality(limit);
    let stats = app.db.stats();
    let (chunks, range) = app.db.time_range();
    let (min, max) = range.unwrap_or((i64::MAX, i64::MIN));
    let mut s = format!(
        "{{\"headStats\":{{\"numSeries\":{},\"numLabelPairs\":{},\"chunkCount\":{chunks},\"minTime\":{min},\"maxTime\":{max}}}",
        stats.series, card.label_pairs
    );
    for (key, list) in [
        ("seriesCountByMetricName", &card.series_by_metric),
        ("labelValueCountByLabelName", &card.values_by_label),
        ("memoryInBytesByLabelName", &card.bytes_by_label),
        ("seriesCountByLabelValuePair", &card.series_by_pair),
    ] {
        let _ = write!(s, ",\"{key}\":[");
        for (i, (name, v)) in list.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str("{\"name\":");
            json_str(&mut s, name);
            let _ = write!(s, ",\"value\":{v}}}");
        }
        s.push(']');
    }
    // flint's own: the bytes on disk of each metric's series (blocks,
    // head, native histograms), largest first; a block that cannot be
    // read leaves the list empty with a warning, Prometheus's fields stay
    let mut warnings = Vec::new();
    let bytes = app.db.bytes_by_metric(limit).unwrap_or_else(|e| {
        warnings.push(format!("bytes on disk by metric name: {e}"));
        Vec::new()
    });
    s.push_str(",\"bytesOnDiskByMetricName\":[");
    for (i, m) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"name\":");
        json_str(&mut s, &m.name);
        let _ = write!(
            s,
            ",\"value\":{},\"series\":{},\"blockBytes\":{},\"headBytes\":{},\"histogramBytes\":{}}}",
            m.total(),
            m.series,
            m.block_bytes,
            m.head_bytes,
            m.histogram_bytes
        );
    }
    s.push_str("]}");
    Ok(Answer {
        warnings,
        ..Answer::data(s)
    })
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

/// `GET /api/v1/scrape_pools`.
pub fn scrape_pools(app: &App, _: &Params) -> Result<Answer, ApiError> {
    let mut s = String::from("{\"scrapePools\":[");
    for (i, (job, _)) in app.scrape.pools().iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_str(&mut s, job);
    }
    s.push_str("]}");
    Ok(Answer::data(s))
}

/// `GET /api/v1/rules` (filters `type`, `rule_name[]`, `group_name[]`,
/// `file[]`, `exclude_alerts`).
pub fn rules(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let f = crate::rules::api::RulesFilter {
        typ: p.get("type").filter(|t| !t.is_empty()).map(str::to_string),
        rule_names: p.all("rule_name[]").to_vec(),
        group_names: p.all("group_name[]").to_vec(),
        files: p.all("file[]").to_vec(),
        exclude_alerts: p.get("exclude_alerts") == Some("true"),
    };
    crate::rules::api::rules_json(&app.rules.groups(), &f)
        .map(Answer::data)
        .map_err(ApiError::bad_data)
}

/// `GET /api/v1/alerts`.
pub fn alerts(app: &App, _: &Params) -> Result<Answer, ApiError> {
    Ok(Answer::data(crate::rules::api::alerts_json(
        &app.rules.groups(),
    )))
}

/// `GET /api/v1/alertmanagers`.
pub fn alertmanagers(app: &App, _: &Params) -> Result<Answer, ApiError> {
    Ok(Answer::data(crate::rules::api::alertmanagers_json(
        app.rules.notifier(),
    )))
}

fn parse_limit(p: &Params, name: &str) -> Result<Option<usize>, ApiError> {
    match p.get(name) {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n < 0 => Ok(None),
            Ok(n) => Ok(Some(n as usize)),
            Err(_) => Err(ApiError::bad_data(format!(
                "invalid parameter \"{name}\": {v:?} is not a number"
            ))),
        },
    }
}

/// `GET /api/v1/metadata?metric=&limit=&limit_per_metric=`.
pub fn metadata(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let limit = parse_limit(p, "limit")?;
    let per_metric = parse_limit(p, "limit_per_metric")?;
    let metric = p.get("metric").filter(|m| !m.is_empty());
    let mut all: BTreeMap<String, Vec<crate::scrape::Metadata>> = BTreeMap::new();
    for (_, targets) in app.scrape.pools() {
        for t in targets {
            for (name, md) in t.metadata.lock().iter() {
                if metric.is_some_and(|m| m != name) {
                    continue;
                }
                let list = all.entry(name.clone()).or_default();
                if !list.contains(md) {
                    list.push(md.clone());
                }
            }
        }
    }
    let mut s = String::from("{");
    for (i, (name, list)) in all.iter().enumerate() {
        if limit.is_some_and(|l| i >= l) {
            break;
        }
        if i > 0 {
            s.push(',');
        }
        json_str(&mut s, name);
        s.push_str(":[");
        for (j, md) in list.iter().enumerate() {
            if per_metric.is_some_and(|l| j >= l) {
                break;
            }
            if j > 0 {
                s.push(',');
            }
            s.push('{');
            write_metadata(&mut s, md);
            s.push('}');
        }
        s.push(']');
    }
    s.push('}');
    Ok(Answer::data(s))
}

fn write_metadata(s: &mut String, md: &crate::scrape::Metadata) {
    s.push_str("\"type\":");
    json_str(s, md.kind);
    s.push_str(",\"help\":");
    json_str(s, &md.help);
    s.push_str(",\"unit\":");
    json_str(s, &md.unit);
}

/// `GET /api/v1/targets/metadata?match_target=&metric=&limit=`.
pub fn targets_metadata(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let limit = parse_limit(p, "limit")?;
    let metric = p.get("metric").filter(|m| !m.is_empty());
    let matchers = match p.get("match_target").filter(|m| !m.is_empty()) {
        None => Vec::new(),
        Some(sel) => {
            let mut q = Params::default();
            q.add_urlencoded(
                format!(
                    "match[]={}",
                    url::form_urlencoded::byte_serialize(sel.as_bytes()).collect::<String>()
                )
                .as_bytes(),
            );
            match_params(&q)?.pop().unwrap_or_default()
        }
    };
    let mut s = String::from("[");
    let mut n = 0usize;
    'outer: for (_, targets) in app.scrape.pools() {
        for t in targets {
            if !tsdb::read::matches_all(&t.labels, &matchers) {
                continue;
            }
            for (name, md) in t.metadata.lock().iter() {
                if metric.is_some_and(|m| m != name) {
                    continue;
                }
                if limit.is_some_and(|l| n >= l) {
                    break 'outer;
                }
                if n > 0 {
                    s.push(',');
                }
                n += 1;
                s.push_str("{\"target\":");
                write_labels(&mut s, &t.labels);
                if metric.is_none() {
                    s.push_str(",\"metric\":");
                    json_str(&mut s, name);
                }
                s.push(',');
                write_metadata(&mut s, md);
                s.push('}');
            }
        }
    }
    s.push(']');
    Ok(Answer::data(s))
}

/// The admin endpoints need `--web.enable-admin-api`.
fn admin_enabled(app: &App) -> Result<(), ApiError> {
    if app.enable_admin_api {
        Ok(())
    } else {
        Err(ApiError {
            kind: ErrorType::Unavailable,
            msg: "admin APIs disabled".into(),
        })
    }
}

/// `POST/PUT /api/v1/admin/tsdb/snapshot?skip_head=`: hard-linked blocks
/// plus the head as a block, under `<data>/snapshots/<name>`.
pub fn snapshot(app: &App, p: &Params) -> Result<Answer, ApiError> {
    admin_enabled(app)?;
    let skip_head = match p.get("skip_head") {
        None | Some("") => false,
        Some(v) => v.parse::<bool>().map_err(|_| {
            ApiError::bad_data(format!(
                "unable to parse boolean 'skip_head' argument: {v:?}"
            ))
        })?,
    };
    let name = app.db.snapshot(skip_head).map_err(|e| ApiError {
        kind: ErrorType::Internal,
        msg: format!("create snapshot: {e}"),
    })?;
    let mut s = String::from("{\"name\":");
    json_str(&mut s, &name);
    s.push('}');
    Ok(Answer::data(s))
}

/// `POST/PUT /api/v1/admin/tsdb/delete_series?match[]=&start=&end=`:
/// the data is removed at once (blocks rewritten, head chunks re-encoded).
pub fn delete_series(app: &App, p: &Params) -> Result<Answer, ApiError> {
    admin_enabled(app)?;
    let sets = super::series::match_params(p)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = time_param(p, "start", MIN_TIME_MS)?;
    let end = time_param(p, "end", MAX_TIME_MS)?;
    for m in &sets {
        app.db.delete(m, start, end).map_err(|e| ApiError {
            kind: ErrorType::Internal,
            msg: format!("delete series: {e}"),
        })?;
    }
    Ok(Answer::no_content())
}

/// `POST/PUT /api/v1/admin/tsdb/clean_tombstones`: deletions are applied
/// at once, so there are no tombstones to clean.
pub fn clean_tombstones(app: &App, _: &Params) -> Result<Answer, ApiError> {
    admin_enabled(app)?;
    Ok(Answer::no_content())
}
