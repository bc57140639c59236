//! `/api/v1/targets`, `/api/v1/targets/relabel_steps` and
//! `/api/v1/scrape_pools`.

use std::fmt::Write as _;

use super::params::Params;
use super::response::{json_str, write_labels, ApiError};
use super::Answer;
use crate::app::App;
use crate::config::PromDuration;
use tsdb::labels::{Label, Labels};

/// `GET /api/v1/targets?state=active|dropped|any`.
pub fn targets(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let state = p.get("state").unwrap_or("any").to_ascii_lowercase();
    let (show_active, show_dropped) = match state.as_str() {
        "" | "any" => (true, true),
        "active" => (true, false),
        "dropped" => (false, true),
        _ => (true, true),
    };
    let pools = app.scrape.pools();
    let mut s = String::from("{\"activeTargets\":[");
    let mut first = true;
    if show_active {
        for (_, targets) in &pools {
            for t in targets {
                if !first {
                    s.push(',');
                }
                first = false;
                let st = t.status.lock().clone();
                s.push_str("{\"discoveredLabels\":{");
                for (i, (k, v)) in t.discovered.lock().iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    json_str(&mut s, k);
                    s.push(':');
                    json_str(&mut s, v);
                }
                s.push_str("},\"labels\":");
                write_labels(&mut s, &t.labels);
                s.push_str(",\"scrapePool\":");
                json_str(&mut s, &t.pool);
                s.push_str(",\"scrapeUrl\":");
                json_str(&mut s, &t.url);
                s.push_str(",\"globalUrl\":");
                json_str(&mut s, &t.url);
                s.push_str(",\"lastError\":");
                json_str(&mut s, &st.last_error);
                s.push_str(",\"lastScrape\":");
                let last = if st.last_scrape_ns == 0 {
                    "0001-01-01T00:00:00Z".to_string()
                } else {
                    common::rfc3339::format_nanos(st.last_scrape_ns)
                };
                json_str(&mut s, &last);
                let _ = write!(
                    s,
                    ",\"lastScrapeDuration\":{}",
                    st.last_duration.as_secs_f64()
                );
                s.push_str(",\"health\":");
                json_str(&mut s, st.health.as_str());
                s.push_str(",\"scrapeInterval\":");
                json_str(&mut s, &PromDuration(t.interval).to_string());
                s.push_str(",\"scrapeTimeout\":");
                json_str(&mut s, &PromDuration(t.timeout).to_string());
                s.push('}');
            }
        }
    }
    s.push_str("],\"droppedTargets\":[");
    let dropped = app.scrape.dropped();
    if show_dropped {
        let mut first = true;
        for (job, list) in &dropped {
            for d in list {
                if !first {
                    s.push(',');
                }
                first = false;
                s.push_str("{\"discoveredLabels\":{");
                for (i, (k, v)) in d.discovered.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    json_str(&mut s, k);
                    s.push(':');
                    json_str(&mut s, v);
                }
                s.push_str("},\"scrapePool\":");
                json_str(&mut s, job);
                s.push('}');
            }
        }
    }
    s.push(']');
    if show_dropped {
        s.push_str(",\"droppedTargetCounts\":{");
        for (i, (job, list)) in dropped.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json_str(&mut s, job);
            let _ = write!(s, ":{}", list.len());
        }
        s.push('}');
    }
    s.push('}');
    Ok(Answer::data(s))
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

/// `GET /api/v1/targets/relabel_steps?scrapePool=&labels=`: the pool's
/// `relabel_configs` applied one by one to `labels` (a JSON object, the
/// labels before relabeling), with the labels after each rule and whether
/// the target is still kept; after a drop, the later steps output nothing.
pub fn relabel_steps(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let pool = p.get("scrapePool").unwrap_or("");
    if pool.is_empty() {
        return Err(ApiError::bad_data("no scrapePool parameter provided"));
    }
    let raw = p.get("labels").unwrap_or("");
    if raw.is_empty() {
        return Err(ApiError::bad_data("no labels parameter provided"));
    }
    let map: std::collections::BTreeMap<String, String> = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_data(format!("error parsing labels: {e}")))?;
    let rules = {
        let cfg = app.config.read();
        cfg.scrape_configs
            .iter()
            .find(|sc| sc.job_name == pool)
            .map(|sc| sc.relabel_configs.clone())
            .ok_or_else(|| {
                ApiError::bad_data(format!(
                    "error retrieving scrape config: scrape pool {pool:?} not found"
                ))
            })?
    };
    let mut current = Some(Labels::new(
        map.iter()
            .map(|(k, v)| Label::new(k.as_str(), v.as_str()))
            .collect(),
    ));
    let mut s = String::from("{\"steps\":[");
    for (i, rule) in rules.iter().enumerate() {
        if let Some(ls) = &current {
            current = relabel::relabel(ls, std::slice::from_ref(rule));
        }
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"rule\":");
        write_rule(&mut s, rule);
        s.push_str(",\"output\":");
        match &current {
            Some(ls) => write_labels(&mut s, ls),
            None => s.push_str("{}"),
        }
        let _ = write!(s, ",\"keep\":{}}}", current.is_some());
    }
    s.push_str("]}");
    Ok(Answer::data(s))
}

/// A relabel rule as Prometheus's API writes one (its `relabel.Config`
/// JSON: empty source labels, target label and zero modulus left out).
fn write_rule(s: &mut String, r: &relabel::RelabelConfig) {
    s.push('{');
    if !r.source_labels.is_empty() {
        s.push_str("\"source_labels\":[");
        for (i, l) in r.source_labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json_str(s, l);
        }
        s.push_str("],");
    }
    s.push_str("\"separator\":");
    json_str(s, &r.separator);
    s.push_str(",\"regex\":");
    json_str(s, r.regex.as_str());
    if r.modulus != 0 {
        let _ = write!(s, ",\"modulus\":{}", r.modulus);
    }
    if !r.target_label.is_empty() {
        s.push_str(",\"target_label\":");
        json_str(s, &r.target_label);
    }
    s.push_str(",\"replacement\":");
    json_str(s, &r.replacement);
    s.push_str(",\"action\":");
    json_str(s, r.action.as_str());
    s.push('}');
}
