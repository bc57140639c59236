//! The syntax tree as JSON, in the shape of Prometheus's
//! `/api/v1/parse_query` (`translateAST` in `web/api/v1/translate_ast.go`).
//!
//! Every node is an object with a `type`:
//!
//! | `type` | other keys |
//! | --- | --- |
//! | `aggregation` | `op`, `expr`, `param` (node or `null`), `grouping` (strings), `without` |
//! | `binaryExpr` | `op`, `lhs`, `rhs`, `bool`, `matching` (`null` unless both sides are vectors: `card`, `on`, `labels`, `include`, `fillValues` `{lhs, rhs}`) |
//! | `call` | `func` (`name`, `argTypes`, `variadic`, `returnType`), `args` |
//! | `matrixSelector` | `name`, `matchers`, `range`, `offset`, `timestamp`, `startOrEnd`, `anchored`, `smoothed` |
//! | `subquery` | `expr`, `range`, `step` (0 when not given), `offset`, `timestamp`, `startOrEnd` |
//! | `numberLiteral` | `val` (a string: `"1"`, `"+Inf"`, `"NaN"`) |
//! | `stringLiteral` | `val` |
//! | `parenExpr` | `expr` |
//! | `unaryExpr` | `op`, `expr` |
//! | `vectorSelector` | `name`, `matchers`, `offset`, `timestamp`, `startOrEnd`, `anchored`, `smoothed` |
//!
//! Durations are milliseconds; `timestamp` is the `@` time in milliseconds
//! or `null`; `startOrEnd` is `"start"`, `"end"` or `null`; matchers are
//! `{"type": "=", "name": ..., "value": ...}` with the metric-name matcher
//! last, as Prometheus orders them. Keys are sorted and `<`, `>`, `&`
//! escaped (`\u003e`), as Go's JSON encoder writes them. A fill value
//! that is not finite is written as `null` (Go's encoder cannot write it);
//! the newer subquery `alignEvalTime` key is not written.

use std::fmt::Write as _;

use tsdb::labels::{MatchOp, Matcher, METRIC_NAME};

use super::ast::*;
use super::functions;
use super::printer::format_number;

/// A JSON value with keys kept in insertion order until written.
enum J {
    Null,
    Bool(bool),
    Int(i64),
    /// A finite float (others are written as `null`).
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

fn s(v: impl Into<String>) -> J {
    J::Str(v.into())
}

fn strs(v: &[String]) -> J {
    J::Arr(v.iter().map(|x| s(x.as_str())).collect())
}

impl J {
    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => {
                let _ = write!(out, "{i}");
            }
            J::Float(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            J::Float(_) => out.push_str("null"),
            J::Str(v) => write_json_string(out, v),
            J::Arr(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                let mut sorted: Vec<&(&str, J)> = fields.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes a JSON string as Go's `encoding/json` does (HTML characters
/// escaped too).
pub fn write_json_string(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn value_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::Vector => "vector",
        ValueType::Matrix => "matrix",
        ValueType::String => "string",
    }
}

fn matchers(vs: &VectorSelector) -> J {
    let mut ms: Vec<&Matcher> = vs.matchers.iter().collect();
    // Prometheus appends the matcher of a name written before the braces.
    if let Some(name) = &vs.name {
        if let Some(i) = ms
            .iter()
            .position(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal && &m.value == name)
        {
            let m = ms.remove(i);
            ms.push(m);
        }
    }
    J::Arr(
        ms.into_iter()
            .map(|m| {
                J::Obj(vec![
                    ("type", s(m.op.to_string())),
                    ("name", s(m.name.as_str())),
                    ("value", s(m.value.as_str())),
                ])
            })
            .collect(),
    )
}

fn at_fields(at: Option<AtModifier>) -> [(&'static str, J); 2] {
    let ts = match at {
        Some(AtModifier::Timestamp(ms)) => J::Int(ms),
        _ => J::Null,
    };
    let se = match at {
        Some(AtModifier::Start) => s("start"),
        Some(AtModifier::End) => s("end"),
        _ => J::Null,
    };
    [("timestamp", ts), ("startOrEnd", se)]
}

fn selector_fields(vs: &VectorSelector, ty: &'static str) -> Vec<(&'static str, J)> {
    let mut f = vec![
        ("type", s(ty)),
        ("name", s(vs.name.clone().unwrap_or_default())),
        ("offset", J::Int(vs.offset_ms)),
        ("matchers", matchers(vs)),
        ("anchored", J::Bool(vs.anchored)),
        ("smoothed", J::Bool(vs.smoothed)),
    ];
    f.extend(at_fields(vs.at));
    f
}

fn translate(e: &Expr) -> J {
    match e {
        Expr::Aggregate {
            op,
            expr,
            param,
            grouping,
            without,
        } => J::Obj(vec![
            ("type", s("aggregation")),
            ("op", s(op.as_str())),
            ("expr", translate(expr)),
            ("param", param.as_deref().map(translate).unwrap_or(J::Null)),
            ("grouping", strs(grouping)),
            ("without", J::Bool(*without)),
        ]),
        Expr::Binary {
            op,
            lhs,
            rhs,
            return_bool,
            matching,
        } => {
            let matching = match matching {
                Some(m) => J::Obj(vec![
                    (
                        "card",
                        s(match m.card {
                            Cardinality::OneToOne => "one-to-one",
                            Cardinality::ManyToOne => "many-to-one",
                            Cardinality::OneToMany => "one-to-many",
                            Cardinality::ManyToMany => "many-to-many",
                        }),
                    ),
                    ("labels", strs(&m.labels)),
                    ("on", J::Bool(m.on)),
                    ("include", strs(&m.include)),
                    (
                        "fillValues",
                        J::Obj(vec![
                            ("lhs", m.fill.lhs.map_or(J::Null, J::Float)),
                            ("rhs", m.fill.rhs.map_or(J::Null, J::Float)),
                        ]),
                    ),
                ]),
                None => J::Null,
            };
            J::Obj(vec![
                ("type", s("binaryExpr")),
                ("op", s(op.as_str())),
                ("lhs", translate(lhs)),
                ("rhs", translate(rhs)),
                ("matching", matching),
                ("bool", J::Bool(*return_bool)),
            ])
        }
        Expr::Call { func, args } => {
            let sig = functions::lookup(func);
            let func_obj = J::Obj(vec![
                ("name", s(func.as_str())),
                (
                    "argTypes",
                    J::Arr(
                        sig.map(|f| f.args)
                            .unwrap_or(&[])
                            .iter()
                            .map(|t| s(value_type_name(*t)))
                            .collect(),
                    ),
                ),
                ("variadic", J::Int(sig.map_or(0, |f| i64::from(f.variadic)))),
                (
                    "returnType",
                    s(value_type_name(sig.map_or(ValueType::Vector, |f| f.ret))),
                ),
            ]);
            J::Obj(vec![
                ("type", s("call")),
                ("func", func_obj),
                ("args", J::Arr(args.iter().map(translate).collect())),
            ])
        }
        Expr::MatrixSelector {
            selector, range_ms, ..
        } => {
            let mut f = selector_fields(selector, "matrixSelector");
            f.push(("range", J::Int(*range_ms)));
            J::Obj(f)
        }
        Expr::Subquery {
            expr,
            range_ms,
            step_ms,
            offset_ms,
            at,
            ..
        } => {
            let mut f = vec![
                ("type", s("subquery")),
                ("expr", translate(expr)),
                ("range", J::Int(*range_ms)),
                ("offset", J::Int(*offset_ms)),
                ("step", J::Int(step_ms.unwrap_or(0))),
            ];
            f.extend(at_fields(*at));
            J::Obj(f)
        }
        Expr::NumberLiteral(v) => J::Obj(vec![
            ("type", s("numberLiteral")),
            ("val", s(format_number(*v))),
        ]),
        Expr::Paren(inner) => J::Obj(vec![("type", s("parenExpr")), ("expr", translate(inner))]),
        Expr::StringLiteral(v) => {
            J::Obj(vec![("type", s("stringLiteral")), ("val", s(v.as_str()))])
        }
        Expr::Unary { op, expr } => J::Obj(vec![
            ("type", s("unaryExpr")),
            ("op", s(op.to_string())),
            ("expr", translate(expr)),
        ]),
        Expr::VectorSelector(vs) => J::Obj(selector_fields(vs, "vectorSelector")),
    }
}

impl Expr {
    /// The expression as the JSON syntax tree of Prometheus's
    /// `/api/v1/parse_query` (the `data` member); see the [module
    /// documentation](self) for its shape.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        translate(self).write(&mut out);
        out
    }
}

#[cfg(test)]
mod tests;
