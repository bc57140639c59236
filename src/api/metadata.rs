//! Metric metadata from the scrapes: `/api/v1/metadata` and
//! `/api/v1/targets/metadata`.

use std::collections::BTreeMap;

use super::params::Params;
use super::response::{json_str, write_labels, ApiError};
use super::series::match_params;
use super::Answer;
use crate::app::App;

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
