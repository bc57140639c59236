//! OpenTelemetry names as Prometheus 3 translates them: metric names by
//! translation strategy (character escaping, unit and `_total`/`_ratio`
//! suffixes), label names (escaping, `key_` prefixes), and attribute
//! values as label values.

use std::collections::BTreeMap;

use super::error::NameError;
use super::proto::{any_value, AnyValue};

/// `otlp.translation_strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Escape to the legacy character set, add unit and type suffixes
    /// (the default).
    UnderscoreEscapingWithSuffixes,
    /// Escape, no suffixes.
    UnderscoreEscapingWithoutSuffixes,
    /// Keep UTF-8 names, add suffixes.
    NoUtf8EscapingWithSuffixes,
    /// Names as they come.
    NoTranslation,
}

impl Strategy {
    /// The strategy a configuration value names.
    pub fn parse(s: &str) -> Option<Strategy> {
        Some(match s {
            "UnderscoreEscapingWithSuffixes" => Strategy::UnderscoreEscapingWithSuffixes,
            "UnderscoreEscapingWithoutSuffixes" => Strategy::UnderscoreEscapingWithoutSuffixes,
            "NoUTF8EscapingWithSuffixes" => Strategy::NoUtf8EscapingWithSuffixes,
            "NoTranslation" | "" => Strategy::NoTranslation,
            _ => return None,
        })
    }

    /// Names are escaped to `[a-zA-Z0-9_:]`.
    pub fn escapes(self) -> bool {
        matches!(
            self,
            Strategy::UnderscoreEscapingWithSuffixes | Strategy::UnderscoreEscapingWithoutSuffixes
        )
    }
}

/// What a metric is, as far as its name is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A gauge.
    Gauge,
    /// A monotonic sum.
    Counter,
    /// Any other kind (non-monotonic sum, histogram, summary).
    Other,
}

/// The unit's main part, in words (`s` → `seconds`); unknown units as
/// they are.
fn main_unit(u: &str) -> &str {
    match u {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The unit after `/`, in words (`s` → `second`).
fn per_unit(u: &str) -> &str {
    match u {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// The unit as (main, per) words, `per` with its `per_` prefix; parts in
/// braces (annotations such as `{request}`) are dropped.
fn unit_parts(unit: &str) -> (String, String) {
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m, Some(p)),
        None => (unit, None),
    };
    let keep = |p: &str| {
        let p = p.trim();
        (!p.is_empty() && !p.contains(['{', '}'])).then(|| p.to_string())
    };
    let main = keep(main)
        .map(|m| main_unit(&m).to_string())
        .unwrap_or_default();
    let per = per
        .and_then(keep)
        .map(|p| format!("per_{}", per_unit(&p)))
        .unwrap_or_default();
    (main, per)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// A unit part in name characters: others as `_`, runs of `_` as one,
/// one leading `_` dropped.
fn clean_unit(u: &str) -> String {
    let mut s = String::with_capacity(u.len());
    for c in u.chars() {
        let c = if is_name_char(c) { c } else { '_' };
        if c == '_' && s.ends_with('_') {
            continue;
        }
        s.push(c);
    }
    match s.strip_prefix('_') {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

/// The metric family name of OTLP metric `name` with `unit`.
pub fn metric_name(
    strategy: Strategy,
    name: &str,
    unit: &str,
    kind: Kind,
) -> Result<String, NameError> {
    match strategy {
        Strategy::NoTranslation => Ok(name.to_string()),
        Strategy::UnderscoreEscapingWithSuffixes => escaped_with_suffixes(name, unit, kind),
        Strategy::UnderscoreEscapingWithoutSuffixes => {
            let fields: Vec<&str> = name
                .split(|c: char| !(is_name_char(c) || c == '_'))
                .filter(|f| !f.is_empty())
                .collect();
            check_name(name, leading_digit(fields.join("_")))
        }
        Strategy::NoUtf8EscapingWithSuffixes => Ok(utf8_with_suffixes(name, unit, kind)),
    }
}

fn leading_digit(s: String) -> String {
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{s}")
    } else {
        s
    }
}

fn check_name(name: &str, s: String) -> Result<String, NameError> {
    if s.is_empty() {
        return Err(NameError::EmptyMetric(name.to_string()));
    }
    if s != name && s.chars().all(|c| c == '_') {
        return Err(NameError::InvalidMetric {
            metric: name.to_string(),
            name: s,
        });
    }
    Ok(s)
}

fn escaped_with_suffixes(name: &str, unit: &str, kind: Kind) -> Result<String, NameError> {
    let mut tokens: Vec<String> = name
        .split(|c: char| !is_name_char(c))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let (main, per) = unit_parts(unit);
    let mut main = clean_unit(&main);
    let mut per = clean_unit(&per);
    if !main.is_empty() && tokens.contains(&main) {
        main.clear();
    }
    if per == "per_" {
        per.clear();
    } else {
        if per.ends_with('_') {
            per.pop();
        }
        if tokens.contains(&per) {
            per.clear();
        }
    }
    if !per.is_empty() && main.ends_with('_') {
        main.pop();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
    if kind == Kind::Counter {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if unit == "1" && kind == Kind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    check_name(name, leading_digit(tokens.join("_")))
}

/// Removes `suffix` and the byte before it when `s` ends with it and is
/// longer than both.
fn trim_suffix(s: &mut String, suffix: &str) {
    if s.ends_with(suffix) && s.len() > suffix.len() + 1 {
        let mut cut = s.len() - suffix.len() - 1;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

fn utf8_with_suffixes(name: &str, unit: &str, kind: Kind) -> String {
    let (main, per) = unit_parts(unit);
    let mut s = name.to_string();
    let mut tail = Vec::new();
    let ratio = kind == Kind::Gauge && unit == "1";
    if ratio {
        trim_suffix(&mut s, "ratio");
    }
    if kind == Kind::Counter {
        trim_suffix(&mut s, "total");
    }
    if !per.is_empty() {
        trim_suffix(&mut s, &per);
    }
    if !main.is_empty() && !s.ends_with(&main) {
        s.push('_');
        s.push_str(&main);
    }
    if !per.is_empty() {
        tail.push(per);
    }
    if kind == Kind::Counter {
        tail.push("total".to_string());
    }
    if ratio {
        tail.push("ratio".to_string());
    }
    for t in tail {
        s.push('_');
        s.push_str(&t);
    }
    s
}

/// How label names are escaped (`otlp.label_name_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelRules {
    /// Names are escaped (the escaping strategies).
    pub escape: bool,
    /// `label_name_underscore_sanitization`: `_x` becomes `key_x`.
    pub underscore_sanitization: bool,
    /// `label_name_preserve_multiple_underscores`.
    pub preserve_multiple_underscores: bool,
}

/// The label name of attribute `name`.
pub fn label_name(rules: LabelRules, name: &str) -> Result<String, NameError> {
    if name.is_empty() {
        return Err(NameError::EmptyLabel);
    }
    if !rules.escape {
        if name.chars().all(|c| c == '_') {
            return Err(NameError::UnderscoresOnly(name.to_string()));
        }
        return Ok(name.to_string());
    }
    let valid = |c: char| c.is_ascii_alphanumeric();
    let mut s = if rules.preserve_multiple_underscores {
        name.chars()
            .map(|c| if valid(c) { c } else { '_' })
            .collect()
    } else {
        let collapse = |part: &str| {
            let mut o = String::new();
            for c in part.chars() {
                if valid(c) {
                    o.push(c);
                } else if !o.ends_with('_') {
                    o.push('_');
                }
            }
            o
        };
        let reserved = name.chars().count() >= 4 && name.starts_with("__") && name.ends_with("__");
        if reserved {
            format!("__{}__", collapse(&name[2..name.len() - 2]))
        } else {
            collapse(name)
        }
    };
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("key_{s}");
    } else if rules.underscore_sanitization && s.starts_with('_') && !s.starts_with("__") {
        s = format!("key{s}");
    }
    if s.chars().all(|c| c == '_') {
        return Err(NameError::InvalidLabel {
            label: name.to_string(),
            name: s,
        });
    }
    Ok(s)
}

/// An attribute value as a label value: strings as they are, numbers as
/// JavaScript prints them, bytes in base64, arrays and maps as JSON.
pub fn value_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => js_number(*d),
        Some(any_value::Value::BytesValue(b)) => common::base64::encode(b),
        Some(other) => json_of(other).to_string(),
    }
}

fn json_of(v: &any_value::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        any_value::Value::StringValue(s) => J::String(s.clone()),
        any_value::Value::BoolValue(b) => J::Bool(*b),
        any_value::Value::IntValue(i) => J::from(*i),
        any_value::Value::DoubleValue(d) => serde_json::Number::from_f64(*d)
            .map(J::Number)
            .unwrap_or_else(|| J::String(js_number(*d))),
        any_value::Value::BytesValue(b) => J::String(common::base64::encode(b)),
        any_value::Value::ArrayValue(a) => J::Array(
            a.values
                .iter()
                .map(|x| x.value.as_ref().map(json_of).unwrap_or(J::Null))
                .collect(),
        ),
        any_value::Value::KvlistValue(kv) => {
            let m: BTreeMap<String, J> = kv
                .values
                .iter()
                .map(|e| {
                    (
                        e.key.clone(),
                        e.value
                            .as_ref()
                            .and_then(|x| x.value.as_ref())
                            .map(json_of)
                            .unwrap_or(J::Null),
                    )
                })
                .collect();
            J::Object(m.into_iter().collect())
        }
    }
}

/// A number as JavaScript's `Number.prototype.toString` writes it.
fn js_number(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = d.abs();
    if a == 0.0 || (1e-6..1e21).contains(&a) {
        return format!("{d}");
    }
    let e = format!("{d:e}");
    match e.split_once('e') {
        Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
        _ => e,
    }
}

/// A bucket bound or quantile as Prometheus writes it in `le` and
/// `quantile`: the shortest decimal, never with an exponent.
pub fn bound(v: f64) -> String {
    crate::gofmt::format_f(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_by_strategy() {
        use Kind::*;
        use Strategy::*;
        let cases: &[(&str, &str, Kind, &str, &str, &str)] = &[
            (
                "http.server.request.duration",
                "s",
                Other,
                "http_server_request_duration_seconds",
                "http_server_request_duration",
                "http.server.request.duration_seconds",
            ),
            (
                "process.cpu.time",
                "s",
                Counter,
                "process_cpu_time_seconds_total",
                "process_cpu_time",
                "process.cpu.time_seconds_total",
            ),
            (
                "system.memory.usage",
                "By",
                Other,
                "system_memory_usage_bytes",
                "system_memory_usage",
                "system.memory.usage_bytes",
            ),
            (
                "http.server.active_requests",
                "{request}",
                Other,
                "http_server_active_requests",
                "http_server_active_requests",
                "http.server.active_requests",
            ),
            (
                "requests",
                "1",
                Counter,
                "requests_total",
                "requests",
                "requests_total",
            ),
            (
                "cpu.utilization",
                "1",
                Gauge,
                "cpu_utilization_ratio",
                "cpu_utilization",
                "cpu.utilization_ratio",
            ),
            (
                "cpu.utilization",
                "1",
                Other,
                "cpu_utilization",
                "cpu_utilization",
                "cpu.utilization",
            ),
            (
                "network.io",
                "By/s",
                Gauge,
                "network_io_bytes_per_second",
                "network_io",
                "network.io_bytes_per_second",
            ),
            (
                "packets",
                "{packet}/s",
                Counter,
                "packets_per_second_total",
                "packets",
                "packets_per_second_total",
            ),
            (
                "seconds.spent",
                "s",
                Counter,
                "seconds_spent_total",
                "seconds_spent",
                "seconds.spent_seconds_total",
            ),
            (
                "total.requests.total",
                "",
                Counter,
                "requests_total",
                "total_requests_total",
                "total.requests_total",
            ),
            (
                "2xx.count",
                "",
                Counter,
                "_2xx_count_total",
                "_2xx_count",
                "2xx.count_total",
            ),
            (
                "métric.name",
                "ms",
                Gauge,
                "m_tric_name_milliseconds",
                "m_tric_name",
                "métric.name_milliseconds",
            ),
            (
                "foo__bar..baz",
                "",
                Gauge,
                "foo_bar_baz",
                "foo__bar_baz",
                "foo__bar..baz",
            ),
            ("_foo_", "", Gauge, "foo", "_foo_", "_foo_"),
            (
                "latency",
                "ms/min",
                Gauge,
                "latency_milliseconds_per_min",
                "latency",
                "latency_milliseconds_per_min",
            ),
            (
                "foo",
                "custom unit",
                Gauge,
                "foo_custom_unit",
                "foo",
                "foo_custom unit",
            ),
            (
                "foo",
                "m/s",
                Gauge,
                "foo_meters_per_second",
                "foo",
                "foo_meters_per_second",
            ),
            (
                "abtotal",
                "",
                Counter,
                "abtotal_total",
                "abtotal",
                "a_total",
            ),
        ];
        for (name, unit, kind, uews, ueos, nuews) in cases {
            assert_eq!(
                metric_name(UnderscoreEscapingWithSuffixes, name, unit, *kind).unwrap(),
                *uews,
                "{name} {unit}"
            );
            assert_eq!(
                metric_name(UnderscoreEscapingWithoutSuffixes, name, unit, *kind).unwrap(),
                *ueos,
                "{name} {unit}"
            );
            assert_eq!(
                metric_name(NoUtf8EscapingWithSuffixes, name, unit, *kind).unwrap(),
                *nuews,
                "{name} {unit}"
            );
            assert_eq!(
                metric_name(NoTranslation, name, unit, *kind).unwrap(),
                *name
            );
        }
        assert!(
            metric_name(UnderscoreEscapingWithoutSuffixes, "@_#_$_%", "", Gauge)
                .unwrap_err()
                .to_string()
                .contains("resulted in invalid name \"_____\"")
        );
        assert_eq!(
            metric_name(UnderscoreEscapingWithoutSuffixes, "___", "", Gauge).unwrap(),
            "___"
        );
        assert!(
            metric_name(UnderscoreEscapingWithSuffixes, "...", "", Gauge)
                .unwrap_err()
                .to_string()
                .contains("empty name")
        );
    }

    #[test]
    fn label_names_by_rules() {
        let r = |escape, sanitize, preserve| LabelRules {
            escape,
            underscore_sanitization: sanitize,
            preserve_multiple_underscores: preserve,
        };
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            (
                "http.method",
                Some("http_method"),
                Some("http_method"),
                Some("http_method"),
                Some("http.method"),
            ),
            (
                "123abc",
                Some("key_123abc"),
                Some("key_123abc"),
                Some("key_123abc"),
                Some("123abc"),
            ),
            (
                "_foo",
                Some("key_foo"),
                Some("key_foo"),
                Some("_foo"),
                Some("_foo"),
            ),
            (
                "__foo",
                Some("__foo"),
                Some("key_foo"),
                Some("__foo"),
                Some("__foo"),
            ),
            (
                "__a__b__",
                Some("__a__b__"),
                Some("__a_b__"),
                Some("__a__b__"),
                Some("__a__b__"),
            ),
            (
                "a._b",
                Some("a__b"),
                Some("a_b"),
                Some("a__b"),
                Some("a._b"),
            ),
            (
                "..foo",
                Some("__foo"),
                Some("key_foo"),
                Some("__foo"),
                Some("..foo"),
            ),
            (".", Some("key_"), Some("key_"), None, Some(".")),
            ("..", None, Some("key_"), None, Some("..")),
            ("ключ", None, Some("key_"), None, Some("ключ")),
            (
                "k8s:pod",
                Some("k8s_pod"),
                Some("k8s_pod"),
                Some("k8s_pod"),
                Some("k8s:pod"),
            ),
        ];
        for (name, dflt, collapse, no_sanitize, utf8) in cases {
            assert_eq!(
                label_name(r(true, true, true), name).ok().as_deref(),
                *dflt,
                "{name}"
            );
            assert_eq!(
                label_name(r(true, true, false), name).ok().as_deref(),
                *collapse,
                "{name}"
            );
            assert_eq!(
                label_name(r(true, false, true), name).ok().as_deref(),
                *no_sanitize,
                "{name}"
            );
            assert_eq!(
                label_name(r(false, true, true), name).ok().as_deref(),
                *utf8,
                "{name}"
            );
        }
        assert_eq!(
            label_name(r(true, true, true), "").unwrap_err().to_string(),
            "label name is empty"
        );
    }

    #[test]
    fn values_and_bounds() {
        assert_eq!(js_number(0.5), "0.5");
        assert_eq!(js_number(100.0), "100");
        assert_eq!(js_number(1e-7), "1e-7");
        assert_eq!(js_number(1e21), "1e+21");
        assert_eq!(js_number(f64::INFINITY), "Infinity");
        assert_eq!(common::base64::encode(b"hello"), "aGVsbG8=");
        assert_eq!(common::base64::encode(b"hi!"), "aGkh");
        assert_eq!(bound(1.0), "1");
        assert_eq!(bound(0.005), "0.005");
        assert_eq!(bound(1e-9), "0.000000001");
        assert_eq!(bound(2.5e21), "2500000000000000000000");
        assert_eq!(bound(f64::INFINITY), "+Inf");
        let arr = AnyValue {
            value: Some(any_value::Value::KvlistValue(
                super::super::proto::KeyValueList {
                    values: vec![
                        super::super::proto::KeyValue {
                            key: "b".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::IntValue(1)),
                            }),
                        },
                        super::super::proto::KeyValue {
                            key: "a".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("<x>".into())),
                            }),
                        },
                    ],
                },
            )),
        };
        assert_eq!(value_string(Some(&arr)), r#"{"a":"<x>","b":1}"#);
    }
}
