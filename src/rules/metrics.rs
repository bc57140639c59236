//! `prometheus_rule_*` and `prometheus_notifications_*` self-metrics in the
//! text exposition format, for the server's `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::manager::Manager;

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, typ: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {typ}");
}

impl Manager {
    /// The rule and notification self-metrics, one family after another.
    pub fn metrics_text(&self) -> String {
        let groups = self.groups();
        let mut out = String::new();
        type Get = fn(&super::group::Group) -> f64;
        let families: [(&str, &str, &str, Get); 9] = [
            ("prometheus_rule_evaluations_total", "counter", "The total number of rule evaluations.", |g| {
                g.metrics.evaluations.load(Ordering::Relaxed) as f64
            }),
            ("prometheus_rule_evaluation_failures_total", "counter", "The total number of rule evaluation failures.", |g| {
                g.metrics.failures.load(Ordering::Relaxed) as f64
            }),
            ("prometheus_rule_group_iterations_total", "counter", "The total number of scheduled rule group evaluations, whether executed or missed.", |g| {
                g.metrics.iterations.load(Ordering::Relaxed) as f64
            }),
            ("prometheus_rule_group_iterations_missed_total", "counter", "The total number of rule group evaluations missed due to slow rule group evaluation.", |g| {
                g.metrics.missed.load(Ordering::Relaxed) as f64
            }),
            ("prometheus_rule_group_interval_seconds", "gauge", "The interval of a rule group.", |g| {
                g.interval.as_secs_f64()
            }),
            ("prometheus_rule_group_last_duration_seconds", "gauge", "The duration of the last rule group evaluation.", |g| {
                g.status.lock().eval_duration.as_secs_f64()
            }),
            ("prometheus_rule_group_last_evaluation_timestamp_seconds", "gauge", "The timestamp of the last rule group evaluation in seconds.", |g| {
                g.status.lock().last_eval_ns.map(|n| n as f64 / 1e9).unwrap_or(0.0)
            }),
            ("prometheus_rule_group_last_evaluation_samples", "gauge", "The number of samples returned during the last rule group evaluation.", |g| {
                g.metrics.last_samples.load(Ordering::Relaxed) as f64
            }),
            ("prometheus_rule_group_rules", "gauge", "The number of rules.", |g| {
                g.rules.len() as f64
            }),
        ];
        for (name, typ, help, get) in families {
            head(&mut out, name, typ, help);
            for g in &groups {
                let _ = writeln!(out, "{name}{{rule_group=\"{}\"}} {}", esc(&g.key()), get(g));
            }
        }
        let n = self.notifier();
        let m = n.metrics();
        head(
            &mut out,
            "prometheus_notifications_dropped_total",
            "counter",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
        );
        let _ = writeln!(
            out,
            "prometheus_notifications_dropped_total {}",
            m.dropped.load(Ordering::Relaxed)
        );
        head(
            &mut out,
            "prometheus_notifications_queue_capacity",
            "gauge",
            "The capacity of the alert notifications queue.",
        );
        let _ = writeln!(
            out,
            "prometheus_notifications_queue_capacity {}",
            n.queue_capacity()
        );
        head(
            &mut out,
            "prometheus_notifications_queue_length",
            "gauge",
            "The number of alert notifications in the queue.",
        );
        let _ = writeln!(
            out,
            "prometheus_notifications_queue_length {}",
            n.queue_len()
        );
        let (active, _) = n.alertmanagers();
        head(
            &mut out,
            "prometheus_notifications_alertmanagers_discovered",
            "gauge",
            "The number of alertmanagers discovered and active.",
        );
        let _ = writeln!(
            out,
            "prometheus_notifications_alertmanagers_discovered {}",
            active.len()
        );
        let per = n.per_alertmanager();
        head(
            &mut out,
            "prometheus_notifications_sent_total",
            "counter",
            "Total number of alerts sent.",
        );
        for (url, (sent, _)) in &per {
            let _ = writeln!(
                out,
                "prometheus_notifications_sent_total{{alertmanager=\"{}\"}} {sent}",
                esc(url)
            );
        }
        head(
            &mut out,
            "prometheus_notifications_errors_total",
            "counter",
            "Total number of sent alerts affected by errors.",
        );
        for (url, (_, errs)) in &per {
            let _ = writeln!(
                out,
                "prometheus_notifications_errors_total{{alertmanager=\"{}\"}} {errs}",
                esc(url)
            );
        }
        out
    }
}
