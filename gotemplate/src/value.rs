//! The values a rule template computes with, modelled on the Go types that
//! Prometheus's templates see.

use std::collections::BTreeMap;
use std::sync::Arc;

use promql::gofmt::go_float;

use crate::error::ValueError;

/// One element of a `query` result (`*template.sample` in Prometheus).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The labels, metric name under `__name__`.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// The data an alert template is executed with (`.`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AlertData {
    /// The alert's labels (`.Labels`, `$labels`).
    pub labels: BTreeMap<String, String>,
    /// The external labels (`.ExternalLabels`, `$externalLabels`).
    pub external_labels: BTreeMap<String, String>,
    /// The external URL (`.ExternalURL`, `$externalURL`).
    pub external_url: String,
    /// The alert's value (`.Value`, `$value`).
    pub value: f64,
}

/// A template value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Go's untyped nil / an invalid value.
    Nil,
    /// A `string`.
    Str(String),
    /// An `int`.
    Int(i64),
    /// A `float64`.
    Float(f64),
    /// A `bool`.
    Bool(bool),
    /// A `map[string]string` (label sets).
    Map(Arc<BTreeMap<String, String>>),
    /// A `*sample`.
    Sample(Arc<Sample>),
    /// A `queryResult` (`[]*sample`).
    Samples(Arc<Vec<Sample>>),
    /// The alert template data.
    Data(Arc<AlertData>),
}

impl Value {
    /// The Go type name, for error messages and `%!v(T=...)`.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Map(_) => "map[string]string",
            Value::Sample(_) => "*template.sample",
            Value::Samples(_) => "template.queryResult",
            Value::Data(_) => "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }",
        }
    }

    /// Go's `%v` printing, as `{{ x }}` prints it.
    pub fn display(&self) -> String {
        match self {
            Value::Nil => "<no value>".into(),
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => go_float(*f),
            Value::Bool(b) => b.to_string(),
            Value::Map(m) => map_string(m),
            Value::Sample(s) => format!("&{{{} {}}}", map_string(&s.labels), go_float(s.value)),
            Value::Samples(v) => {
                let items: Vec<String> = v.iter().map(|_| "0xc000000000".to_string()).collect();
                format!("[{}]", items.join(" "))
            }
            Value::Data(d) => format!(
                "{{{} {} {} {}}}",
                map_string(&d.labels),
                map_string(&d.external_labels),
                d.external_url,
                go_float(d.value)
            ),
        }
    }

    /// Go template truth: the zero value of its type is false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Bool(b) => *b,
            Value::Map(m) => !m.is_empty(),
            Value::Samples(v) => !v.is_empty(),
            Value::Sample(_) | Value::Data(_) => true,
        }
    }

    /// Field or map-key access (`x.Name`).
    pub fn field(&self, name: &str) -> Result<Value, ValueError> {
        let map =
            |m: &BTreeMap<String, String>| Value::Str(m.get(name).cloned().unwrap_or_default());
        match self {
            Value::Map(m) => Ok(map(m)),
            Value::Data(d) => match name {
                "Labels" => Ok(Value::Map(Arc::new(d.labels.clone()))),
                "ExternalLabels" => Ok(Value::Map(Arc::new(d.external_labels.clone()))),
                "ExternalURL" => Ok(Value::Str(d.external_url.clone())),
                "Value" => Ok(Value::Float(d.value)),
                _ => Err(ValueError::NoField {
                    field: name.to_string(),
                    ty: self.go_type(),
                }),
            },
            Value::Sample(s) => match name {
                "Labels" => Ok(Value::Map(Arc::new(s.labels.clone()))),
                "Value" => Ok(Value::Float(s.value)),
                _ => Err(ValueError::NoField {
                    field: name.to_string(),
                    ty: "template.sample",
                }),
            },
            Value::Nil => Err(ValueError::NilField(name.to_string())),
            _ => Err(ValueError::NoField {
                field: name.to_string(),
                ty: self.go_type(),
            }),
        }
    }

    /// Conversion for functions taking a number or a numeric string
    /// (`convertToFloat` in Prometheus).
    pub fn to_float(&self) -> Result<f64, ValueError> {
        match self {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            Value::Str(s) => parse_go_float(s).ok_or_else(|| ValueError::NotNumber(s.clone())),
            v => Err(ValueError::NotFloat(v.go_type())),
        }
    }

    /// Conversion for functions taking a `string`.
    pub fn to_str(&self) -> Result<String, ValueError> {
        match self {
            Value::Str(s) => Ok(s.clone()),
            v => Err(ValueError::NotString(v.go_type())),
        }
    }
}

/// `strconv.ParseFloat(s, 64)` for the forms Go accepts (decimal,
/// exponents, `Inf`, `NaN`, underscores not allowed).
pub fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let neg = s.starts_with('-');
        return Some(match lower.as_str() {
            "nan" => f64::NAN,
            _ if neg => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        });
    }
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse().ok()
}

fn map_string(m: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", items.join(" "))
}
