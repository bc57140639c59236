//! `/api/v1/targets`.

use std::fmt::Write as _;

use super::params::Params;
use super::response::{json_str, write_labels, ApiError};
use super::Answer;
use crate::app::App;
use crate::config::PromDuration;

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
                    crate::rfc3339::format_nanos(st.last_scrape_ns)
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
