//! `/api/v1/rules`, `/api/v1/alerts` and `/api/v1/alertmanagers`: the
//! rule manager's groups, alerts and Alertmanagers in Prometheus's shapes
//! and key order.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use gotemplate::format::api_value;
use serde::{Serialize, Serializer};
use tsdb::labels::Labels;

use super::params::Params;
use super::response::ApiError;
use super::Answer;
use crate::app::App;
use crate::gofmt::rfc3339_nano;
use crate::rules::alerting::{Alert, AlertState};
use crate::rules::group::{Group, RuleStatus};
use crate::rules::notifier::Notifier;

/// `GET /api/v1/rules` (filters `type`, `rule_name[]`, `group_name[]`,
/// `file[]`, `exclude_alerts`).
pub fn rules(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let f = RulesFilter {
        typ: p.get("type").filter(|t| !t.is_empty()).map(str::to_string),
        rule_names: p.all("rule_name[]").to_vec(),
        group_names: p.all("group_name[]").to_vec(),
        files: p.all("file[]").to_vec(),
        exclude_alerts: p.get("exclude_alerts") == Some("true"),
    };
    rules_json(&app.rules.groups(), &f)
        .map(Answer::data)
        .map_err(|e| ApiError::bad_data(e.to_string()))
}

/// `GET /api/v1/alerts`.
pub fn alerts(app: &App, _: &Params) -> Result<Answer, ApiError> {
    Ok(Answer::data(alerts_json(&app.rules.groups())))
}

/// `GET /api/v1/alertmanagers`.
pub fn alertmanagers(app: &App, _: &Params) -> Result<Answer, ApiError> {
    Ok(Answer::data(alertmanagers_json(app.rules.notifier())))
}

/// Go's zero `time.Time` in JSON.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A float that prints as Go's `encoding/json` does (`60`, not `60.0`).
struct GoF(f64);

impl Serialize for GoF {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

fn lmap(l: &Labels) -> BTreeMap<&str, &str> {
    l.iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

#[derive(Serialize)]
struct ApiAlert<'a> {
    labels: BTreeMap<&'a str, &'a str>,
    annotations: BTreeMap<&'a str, &'a str>,
    state: &'static str,
    #[serde(rename = "activeAt")]
    active_at: String,
    #[serde(rename = "keepFiringSince", skip_serializing_if = "Option::is_none")]
    keep_firing_since: Option<String>,
    value: String,
}

fn api_alert(a: &Alert) -> ApiAlert<'_> {
    ApiAlert {
        labels: lmap(&a.labels),
        annotations: lmap(&a.annotations),
        state: a.state.as_str(),
        active_at: rfc3339_nano(a.active_at),
        keep_firing_since: a.keep_firing_since.map(rfc3339_nano),
        value: api_value(a.value),
    }
}

#[derive(Serialize)]
struct AlertingRuleJson<'a> {
    state: &'static str,
    name: &'a str,
    query: &'a str,
    duration: GoF,
    #[serde(rename = "keepFiringFor")]
    keep_firing_for: GoF,
    labels: BTreeMap<&'a str, &'a str>,
    annotations: BTreeMap<&'a str, &'a str>,
    alerts: Vec<ApiAlert<'a>>,
    health: &'static str,
    #[serde(rename = "lastError", skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(rename = "evaluationTime")]
    evaluation_time: GoF,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
    #[serde(rename = "type")]
    typ: &'static str,
}

#[derive(Serialize)]
struct RecordingRuleJson<'a> {
    name: &'a str,
    query: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    health: &'static str,
    #[serde(rename = "lastError", skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(rename = "evaluationTime")]
    evaluation_time: GoF,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
    #[serde(rename = "type")]
    typ: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum RuleJson<'a> {
    Alerting(AlertingRuleJson<'a>),
    Recording(RecordingRuleJson<'a>),
}

#[derive(Serialize)]
struct GroupJson<'a> {
    name: &'a str,
    file: &'a str,
    rules: Vec<RuleJson<'a>>,
    interval: GoF,
    limit: usize,
    #[serde(rename = "evaluationTime")]
    evaluation_time: GoF,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
}

/// The query parameters of `/api/v1/rules`.
#[derive(Clone, Debug, Default)]
pub struct RulesFilter {
    /// `type`: `alert`, `record` or empty.
    pub typ: Option<String>,
    /// `rule_name[]`.
    pub rule_names: Vec<String>,
    /// `group_name[]`.
    pub group_names: Vec<String>,
    /// `file[]`.
    pub files: Vec<String>,
    /// `exclude_alerts=true`.
    pub exclude_alerts: bool,
}

fn time_or_zero(ns: Option<i64>) -> String {
    ns.map(rfc3339_nano)
        .unwrap_or_else(|| ZERO_TIME.to_string())
}

/// Why `/api/v1/rules` has no `data` to answer (answered as `bad_data`).
#[derive(Debug, thiserror::Error)]
pub enum RulesJsonError {
    /// A `type` filter other than `alert` or `record` (lowercased).
    #[error("invalid parameter \"type\": not supported value {0:?}")]
    Type(String),
    /// The answer could not be written as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The `data` of `/api/v1/rules`; `Err` for an unsupported `type`.
pub fn rules_json(groups: &[Arc<Group>], f: &RulesFilter) -> Result<String, RulesJsonError> {
    let typ = f.typ.as_deref().unwrap_or("").to_ascii_lowercase();
    if !typ.is_empty() && typ != "alert" && typ != "record" {
        return Err(RulesJsonError::Type(typ));
    }
    let (want_alert, want_record) = (typ != "record", typ != "alert");
    let set = |v: &[String]| v.iter().cloned().collect::<HashSet<String>>();
    let (rn, gn, fs) = (set(&f.rule_names), set(&f.group_names), set(&f.files));
    // Snapshot the state first so the JSON can borrow it.
    struct Snap {
        alerts: Vec<Alert>,
        state: AlertState,
        status: RuleStatus,
    }
    let snaps: Vec<Vec<Snap>> = groups
        .iter()
        .map(|g| {
            g.rules
                .iter()
                .map(|r| {
                    let status = r.status.lock().clone();
                    let a = r.alerting.lock();
                    let state = if status.last_eval_ns.is_none() {
                        AlertState::Unknown
                    } else {
                        a.state()
                    };
                    Snap {
                        alerts: if f.exclude_alerts {
                            Vec::new()
                        } else {
                            a.active_alerts()
                        },
                        state,
                        status,
                    }
                })
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    for (g, snap) in groups.iter().zip(&snaps) {
        if !gn.is_empty() && !gn.contains(&g.def.name) {
            continue;
        }
        if !fs.is_empty() && !fs.contains(&g.def.file) {
            continue;
        }
        let mut rules = Vec::new();
        for (r, s) in g.rules.iter().zip(snap) {
            if !rn.is_empty() && !rn.contains(&r.def.name) {
                continue;
            }
            let eval_time = GoF(s.status.eval_duration.as_secs_f64());
            let last = time_or_zero(s.status.last_eval_ns);
            if r.def.alerting {
                if !want_alert {
                    continue;
                }
                rules.push(RuleJson::Alerting(AlertingRuleJson {
                    state: s.state.as_str(),
                    name: &r.def.name,
                    query: &r.def.expr,
                    duration: GoF(r.def.hold.as_secs_f64()),
                    keep_firing_for: GoF(r.def.keep_firing_for.as_secs_f64()),
                    labels: lmap(&r.def.labels),
                    annotations: lmap(&r.def.annotations),
                    alerts: s.alerts.iter().map(api_alert).collect(),
                    health: s.status.health.as_str(),
                    last_error: s.status.last_error.clone(),
                    evaluation_time: eval_time,
                    last_evaluation: last,
                    typ: "alerting",
                }));
            } else {
                if !want_record {
                    continue;
                }
                rules.push(RuleJson::Recording(RecordingRuleJson {
                    name: &r.def.name,
                    query: &r.def.expr,
                    labels: lmap(&r.def.labels),
                    health: s.status.health.as_str(),
                    last_error: s.status.last_error.clone(),
                    evaluation_time: eval_time,
                    last_evaluation: last,
                    typ: "recording",
                }));
            }
        }
        if rules.is_empty() {
            continue;
        }
        let st = g.status.lock().clone();
        out.push(GroupJson {
            name: &g.def.name,
            file: &g.def.file,
            rules,
            interval: GoF(g.interval.as_secs_f64()),
            limit: g.def.limit,
            evaluation_time: GoF(st.eval_duration.as_secs_f64()),
            last_evaluation: time_or_zero(st.last_eval_ns),
        });
    }
    #[derive(Serialize)]
    struct Data<'a> {
        groups: Vec<GroupJson<'a>>,
    }
    Ok(serde_json::to_string(&Data { groups: out })?)
}

/// The `data` of `/api/v1/alerts`: active alerts of every alerting rule,
/// rules ordered by state (firing first) then name within each group.
pub fn alerts_json(groups: &[Arc<Group>]) -> String {
    let mut all: Vec<Alert> = Vec::new();
    for g in groups {
        let mut rules: Vec<(AlertState, &str, Vec<Alert>)> = g
            .rules
            .iter()
            .filter(|r| r.def.alerting)
            .map(|r| {
                let a = r.alerting.lock();
                (a.state(), r.def.name.as_str(), a.active_alerts())
            })
            .collect();
        rules.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        for (_, _, a) in rules {
            all.extend(a);
        }
    }
    #[derive(Serialize)]
    struct Data<'a> {
        alerts: Vec<ApiAlert<'a>>,
    }
    serde_json::to_string(&Data {
        alerts: all.iter().map(api_alert).collect(),
    })
    .unwrap_or_else(|_| "{\"alerts\":[]}".into())
}

/// The `data` of `/api/v1/alertmanagers`.
pub fn alertmanagers_json(n: &Notifier) -> String {
    #[derive(Serialize)]
    struct Am {
        url: String,
    }
    #[derive(Serialize)]
    struct Data {
        #[serde(rename = "activeAlertmanagers")]
        active: Vec<Am>,
        #[serde(rename = "droppedAlertmanagers")]
        dropped: Vec<Am>,
    }
    let (a, d) = n.alertmanagers();
    serde_json::to_string(&Data {
        active: a.into_iter().map(|e| Am { url: e.url }).collect(),
        dropped: d.into_iter().map(|e| Am { url: e.url }).collect(),
    })
    .unwrap_or_default()
}
