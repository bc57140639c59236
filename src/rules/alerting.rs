//! The alerting rule state machine: inactive → pending → firing, `for`,
//! `keep_firing_for`, resolved retention, the `ALERTS` and
//! `ALERTS_FOR_STATE` series, and which alerts to (re)send.
//!
//! Times are nanoseconds since the epoch, as Prometheus keeps them.

use std::collections::HashMap;

use gotemplate::exec::{labels_map, Env};
use gotemplate::{AlertData, Sample, Template};
use tsdb::labels::{Label, Labels, METRIC_NAME};

use super::error::EvalError;
use super::file::RuleDef;
use crate::config::PromDuration;

/// How long a resolved alert is kept (and re-sent) after resolving.
pub const RESOLVED_RETENTION_NS: i64 = 15 * 60 * 1_000_000_000;

/// The state of an alert, or of a rule (its most severe alert).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    /// Not evaluated yet (rules only).
    Unknown,
    /// Neither pending nor firing.
    Inactive,
    /// Active for less than `for`.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// The name Prometheus uses (`inactive`, `pending`, `firing`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Unknown => "unknown",
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert instance of an alerting rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Its state.
    pub state: AlertState,
    /// Identifying labels (`alertname` included, `__name__` not).
    pub labels: Labels,
    /// Expanded annotations.
    pub annotations: Labels,
    /// The value at the last evaluation.
    pub value: f64,
    /// When the condition started to hold.
    pub active_at: i64,
    /// When it started firing.
    pub fired_at: Option<i64>,
    /// When it resolved.
    pub resolved_at: Option<i64>,
    /// When it was last handed to the notifier.
    pub last_sent_at: Option<i64>,
    /// `endsAt` for a still-firing alert.
    pub valid_until: Option<i64>,
    /// When `keep_firing_for` started to keep it firing.
    pub keep_firing_since: Option<i64>,
}

/// An alert as sent to Alertmanager (before external labels and relabeling).
#[derive(Clone, Debug, PartialEq)]
pub struct OutAlert {
    /// Labels.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// `startsAt`, milliseconds.
    pub starts_at_ms: i64,
    /// `endsAt`, milliseconds (0: unset).
    pub ends_at_ms: i64,
    /// `generatorURL`.
    pub generator_url: String,
}

/// What an alerting rule's templates and labels need besides the rule.
pub struct AlertEnv<'a> {
    /// External labels, for `$externalLabels`.
    pub external_labels: &'a Labels,
    /// `--web.external-url`.
    pub external_url: &'a str,
    /// The template `query` function.
    pub query: &'a dyn Fn(&str) -> Result<Vec<Sample>, String>,
}

/// The evaluation state of one alerting rule.
#[derive(Clone, Debug, Default)]
pub struct AlertingState {
    /// Active (pending, firing, or recently resolved) alerts by label set.
    pub active: HashMap<Labels, Alert>,
    /// Whether the `for` state has been restored (or needs no restoring);
    /// `ALERTS` series are written only once it has.
    pub restored: bool,
}

fn expand(t: &Template, data: &AlertData, env: &AlertEnv<'_>) -> String {
    let e = Env {
        query: env.query,
        external_url: env.external_url,
        parse_duration: &|s| {
            PromDuration::parse(s)
                .map(|d| d.0)
                .map_err(|e| e.to_string())
        },
    };
    match t.execute(data, &e) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: {e}>"),
    }
}

impl AlertingState {
    /// Applies one evaluation's result `vector` at `ts` and returns the
    /// `ALERTS`/`ALERTS_FOR_STATE` samples to write (timestamp `ts` minus
    /// `query_offset_ns`, in milliseconds).
    pub fn eval(
        &mut self,
        rule: &RuleDef,
        vector: Vec<(Labels, f64)>,
        ts: i64,
        query_offset_ns: i64,
        limit: usize,
        env: &AlertEnv<'_>,
    ) -> Result<Vec<(Labels, i64, f64)>, EvalError> {
        let ext = labels_map(env.external_labels);
        let mut current: HashMap<Labels, Alert> = HashMap::with_capacity(vector.len());
        for (metric, v) in vector {
            let data = AlertData {
                labels: labels_map(&metric),
                external_labels: ext.clone(),
                external_url: env.external_url.to_string(),
                value: v,
            };
            let mut ls: Vec<Label> = metric
                .iter()
                .filter(|l| l.name != METRIC_NAME)
                .cloned()
                .collect();
            for l in rule.labels.iter() {
                let val = match rule.label_templates.iter().find(|(k, _)| *k == l.name) {
                    Some((_, t)) if !t.is_plain() => expand(t, &data, env),
                    _ => l.value.to_string(),
                };
                ls.push(Label::new(l.name.clone(), val));
            }
            ls.push(Label::new("alertname", rule.name.clone()));
            let labels = Labels::new(ls);
            // annotations keep values that render empty, as Prometheus's
            // (a label set would drop them); the names come sorted
            let annotations = Labels::from_sorted(
                rule.annotations
                    .iter()
                    .map(|a| {
                        let val = match rule.annotation_templates.iter().find(|(k, _)| *k == a.name)
                        {
                            Some((_, t)) if !t.is_plain() => expand(t, &data, env),
                            _ => a.value.to_string(),
                        };
                        Label::new(a.name.clone(), val)
                    })
                    .collect(),
            );
            if current.contains_key(&labels) {
                return Err(EvalError::DuplicateAlert);
            }
            current.insert(
                labels.clone(),
                Alert {
                    state: AlertState::Pending,
                    labels,
                    annotations,
                    value: v,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: None,
                },
            );
        }
        let present: std::collections::HashSet<Labels> = current.keys().cloned().collect();
        for (k, a) in current {
            match self.active.get_mut(&k) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(k, a);
                }
            }
        }
        let hold = rule.hold.as_nanos() as i64;
        let keep = rule.keep_firing_for.as_nanos() as i64;
        let t_ms = (ts - query_offset_ns).div_euclid(1_000_000);
        let mut out = Vec::new();
        let mut num_active = 0usize;
        let mut remove = Vec::new();
        let mut keys: Vec<Labels> = self.active.keys().cloned().collect();
        keys.sort();
        for k in keys {
            let Some(a) = self.active.get_mut(&k) else {
                continue;
            };
            if !present.contains(&k) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    if ts - since < keep {
                        keep_firing = true;
                    }
                }
                if a.state == AlertState::Pending
                    || a.resolved_at
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_NS)
                {
                    remove.push(k.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            num_active += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            if self.restored {
                out.push((alerts_labels(rule, a, true), t_ms, 1.0));
                out.push((
                    alerts_labels(rule, a, false),
                    t_ms,
                    a.active_at.div_euclid(1_000_000_000) as f64,
                ));
            }
        }
        for k in remove {
            self.active.remove(&k);
        }
        if limit > 0 && num_active > limit {
            self.active.clear();
            return Err(EvalError::AlertLimit {
                limit,
                count: num_active,
            });
        }
        Ok(out)
    }

    /// The most severe state among the alerts (`Inactive` if none).
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
            .max(AlertState::Inactive)
    }

    /// Alerts that are not resolved, sorted by labels.
    pub fn active_alerts(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self
            .active
            .values()
            .filter(|a| a.resolved_at.is_none())
            .cloned()
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// Marks and returns the alerts due for (re)sending at `ts`, as
    /// Prometheus's `sendAlerts` does.
    pub fn to_send(
        &mut self,
        ts: i64,
        resend_delay_ns: i64,
        interval_ns: i64,
        generator_url: &str,
    ) -> Vec<OutAlert> {
        let mut out = Vec::new();
        let mut keys: Vec<Labels> = self.active.keys().cloned().collect();
        keys.sort();
        for k in keys {
            let Some(a) = self.active.get_mut(&k) else {
                continue;
            };
            if a.state == AlertState::Pending {
                continue;
            }
            let due = match (a.resolved_at, a.last_sent_at) {
                (Some(r), Some(s)) if r > s => true,
                (Some(_), None) => true,
                (_, Some(s)) => s + resend_delay_ns < ts,
                (None, None) => true,
            };
            if !due {
                continue;
            }
            a.last_sent_at = Some(ts);
            a.valid_until = Some(ts + 4 * interval_ns.max(resend_delay_ns));
            let ms = |ns: i64| ns.div_euclid(1_000_000);
            out.push(OutAlert {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at_ms: a.fired_at.map(ms).unwrap_or(0),
                ends_at_ms: ms(a.resolved_at.or(a.valid_until).unwrap_or(0)),
                generator_url: generator_url.to_string(),
            });
        }
        out
    }

    /// Restores `active_at` of the active alerts from the last
    /// `ALERTS_FOR_STATE` samples `(labels without __name__, t_ms, value)`
    /// seen before the restart, as Prometheus's `RestoreForState` does.
    pub fn restore(
        &mut self,
        hold_ns: i64,
        last: &HashMap<Labels, (i64, f64)>,
        now_ns: i64,
        grace_ns: i64,
    ) {
        for a in self.active.values_mut() {
            let Some(&(t_ms, v)) = last.get(&a.labels) else {
                continue;
            };
            if tsdb::is_stale_nan(v) {
                continue;
            }
            let down_at = t_ms.div_euclid(1000) * 1_000_000_000;
            let mut restored = (v as i64).saturating_mul(1_000_000_000);
            let remaining = hold_ns - (down_at - restored);
            if remaining <= 0 {
                // was firing: nothing to do
            } else if remaining < grace_ns {
                restored = now_ns + grace_ns - hold_ns;
            } else {
                restored += now_ns - down_at;
            }
            a.active_at = restored;
        }
        self.restored = true;
    }
}

/// `ALERTS{alertstate=...}` (`alerts` true) or `ALERTS_FOR_STATE` labels.
fn alerts_labels(rule: &RuleDef, a: &Alert, alerts: bool) -> Labels {
    let mut ls: Vec<Label> = rule.labels.iter().cloned().collect();
    ls.extend(a.labels.iter().cloned());
    if alerts {
        ls.push(Label::new(METRIC_NAME, "ALERTS"));
        ls.push(Label::new("alertstate", a.state.as_str()));
    } else {
        ls.push(Label::new(METRIC_NAME, "ALERTS_FOR_STATE"));
    }
    ls.push(Label::new("alertname", rule.name.clone()));
    Labels::new(ls)
}

/// `strutil.TableLinkForExpression`: `/graph?g0.expr=...&g0.tab=1`.
pub fn table_link(expr: &str) -> String {
    format!(
        "/graph?g0.expr={}&g0.tab=1",
        crate::gofmt::query_escape(expr)
    )
}
