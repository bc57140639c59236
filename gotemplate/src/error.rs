//! Why a template could not be parsed or expanded, worded as Go's
//! `text/template` and Prometheus word it. The parser's messages (Go's)
//! are carried as text: they are only ever shown; an expansion's errors
//! keep what they are about (the field, the function, the value).

use promql::gofmt::go_float;

use crate::gofmt::quote_ascii;

/// A template that does not parse, or whose expansion failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a template.
    #[error("template: {name}:1: {msg}")]
    Parse {
        /// The template's name.
        name: String,
        /// What is wrong, as Go says it.
        msg: String,
    },
    /// Expanding the template failed.
    #[error("error executing template {name}: template: {name}: executing \"{name}\" {err}")]
    Exec {
        /// The template's name.
        name: String,
        /// What failed.
        err: ExecError,
    },
}

/// Why an expansion failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    /// A field or key of a value that has none by that name: `at <.f>: ...`.
    #[error("at <.{field}>: {err}")]
    Field {
        /// The field's name.
        field: String,
        /// Why.
        err: ValueError,
    },
    /// A function that failed: `at <f>: error calling f: ...`.
    #[error("at <{func}>: error calling {func}: {err}")]
    Call {
        /// The function's name.
        func: String,
        /// Why.
        err: Box<ExecError>,
    },
    /// A function given another number of arguments than it takes.
    #[error("wrong number of args for {func}: want {want} got {got}")]
    ArgCount {
        /// The function's name.
        func: String,
        /// How many it takes.
        want: usize,
        /// How many it was given.
        got: usize,
    },
    /// A value of the wrong type.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// Go's other messages, each built where it is checked, and the
    /// messages of the server's `query` and `parseDuration`.
    #[error("{0}")]
    Other(String),
}

impl From<String> for ExecError {
    fn from(msg: String) -> ExecError {
        ExecError::Other(msg)
    }
}

impl From<&str> for ExecError {
    fn from(msg: &str) -> ExecError {
        ExecError::Other(msg.to_string())
    }
}

/// A value that is not what a field access or a function needs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// A field its type does not have.
    #[error("can't evaluate field {field} in type {ty}")]
    NoField {
        /// The field's name.
        field: String,
        /// Go's name of the value's type.
        ty: &'static str,
    },
    /// A field of nothing.
    #[error("nil pointer evaluating interface {{}}.{0}")]
    NilField(String),
    /// A string that is not a number.
    #[error("strconv.ParseFloat: parsing {}: invalid syntax", quote_ascii(.0))]
    NotNumber(String),
    /// A value that is neither a number nor a string.
    #[error("can't convert {0} to float")]
    NotFloat(&'static str),
    /// A value that is not a string.
    #[error("wrong type for value; expected string; got {0}")]
    NotString(&'static str),
    /// Seconds too many for a nanosecond timestamp (`humanizeTimestamp`).
    #[error(
        "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
        go_float(*.0)
    )]
    TimestampOverflow(f64),
}
