//! Log output in Prometheus 3's shape: logfmt
//! (`time=… level=INFO source=file.rs:123 msg="…" key=value`) or JSON, on
//! stderr. Libraries emit `tracing` events; only `main` installs this.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// `--log.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// key=value pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// `--log.level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, including failed scrapes.
    Debug,
    /// Normal operation.
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
}

impl LogLevel {
    fn max(self) -> Level {
        match self {
            LogLevel::Debug => Level::DEBUG,
            LogLevel::Info => Level::INFO,
            LogLevel::Warn => Level::WARN,
            LogLevel::Error => Level::ERROR,
        }
    }
}

/// The layer that writes our log lines.
pub struct PromLogLayer {
    format: LogFormat,
    max: Level,
}

impl PromLogLayer {
    /// A layer writing `format` for events at `level` and above.
    pub fn new(format: LogFormat, level: LogLevel) -> Self {
        PromLogLayer {
            format,
            max: level.max(),
        }
    }
}

#[derive(Default)]
struct Fields {
    msg: String,
    kv: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = value.to_string();
        } else {
            self.kv.push((field.name(), value.to_string()));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let s = format!("{value:?}");
        if field.name() == "message" {
            self.msg = s;
        } else {
            self.kv.push((field.name(), s));
        }
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::TRACE => "DEBUG",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// Appends a logfmt value, quoted when it needs to be.
fn logfmt_value(out: &mut String, v: &str) {
    let needs = v.is_empty()
        || v.chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if !needs {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Formats one line (without the newline).
pub fn format_line(
    format: LogFormat,
    time_ms: i64,
    level: &Level,
    source: &str,
    msg: &str,
    kv: &[(&str, String)],
) -> String {
    let time = common::rfc3339::format_millis(time_ms);
    let mut out = String::with_capacity(128);
    match format {
        LogFormat::Logfmt => {
            let _ = write!(
                out,
                "time={time} level={} source={source} msg=",
                level_name(level)
            );
            logfmt_value(&mut out, msg);
            for (k, v) in kv {
                out.push(' ');
                out.push_str(k);
                out.push('=');
                logfmt_value(&mut out, v);
            }
        }
        LogFormat::Json => {
            let mut m = serde_json::Map::new();
            m.insert("time".into(), time.into());
            m.insert("level".into(), level_name(level).into());
            m.insert("source".into(), source.into());
            m.insert("msg".into(), msg.into());
            for (k, v) in kv {
                m.insert((*k).into(), v.clone().into());
            }
            out = serde_json::Value::Object(m).to_string();
        }
    }
    out
}

impl<S: Subscriber> Layer<S> for PromLogLayer {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        *meta.level() <= self.max
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > self.max {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let file = meta.file().unwrap_or("?");
        let file = file.rsplit('/').next().unwrap_or(file);
        let source = format!("{file}:{}", meta.line().unwrap_or(0));
        let now = tsdb::time::now_ms();
        let mut line = format_line(self.format, now, meta.level(), &source, &f.msg, &f.kv);
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_shape() {
        let kv = vec![
            ("component", "scrape manager".to_string()),
            ("scrape_pool", "sample".to_string()),
            (
                "err",
                "Get \"http://x/metrics\": connect: connection refused".to_string(),
            ),
        ];
        let line = format_line(
            LogFormat::Logfmt,
            0,
            &Level::DEBUG,
            "scrape_loop.rs:10",
            "Scrape failed",
            &kv,
        );
        assert_eq!(
            line,
            "time=1970-01-01T00:00:00.000Z level=DEBUG source=scrape_loop.rs:10 msg=\"Scrape failed\" \
             component=\"scrape manager\" scrape_pool=sample err=\"Get \\\"http://x/metrics\\\": connect: connection refused\""
        );
        let j = format_line(LogFormat::Json, 0, &Level::INFO, "a.rs:1", "hi", &[]);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["msg"], "hi");
    }
}
