//! Why a template could not be parsed or expanded, worded as Go's
//! `text/template` and Prometheus word it. Parse errors and an expansion's
//! errors keep what they are about (the token, the field, the function,
//! the value).

use promql::gofmt::go_float;

use crate::gofmt::quote_ascii;

/// A template that does not parse, or whose expansion failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a template.
    #[error("template: {name}:1: {err}")]
    Parse {
        /// The template's name.
        name: String,
        /// What is wrong, as Go says it.
        err: ParseError,
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

/// Why a template's text does not parse, as Go's `text/template` says it
/// (tokens are described as Go describes them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// `{{/*` without `*/`.
    #[error("unclosed comment")]
    UnclosedComment,
    /// A comment not followed by the closing delimiter.
    #[error("comment ends before closing delimiter")]
    CommentEnd,
    /// An action without `}}`.
    #[error("unclosed action")]
    UnclosedAction,
    /// A raw string without its closing back quote.
    #[error("unterminated raw quoted string")]
    UnterminatedRaw,
    /// A character that starts no token.
    #[error("unexpected {0:?} in command")]
    UnexpectedChar(char),
    /// A numeric escape that is not a character.
    #[error("invalid syntax in quoted string")]
    QuotedSyntax,
    /// A backslash escape Go does not know.
    #[error("invalid syntax: unknown escape \\{0}")]
    UnknownEscape(char),
    /// A quoted string without its closing quote.
    #[error("unterminated quoted string")]
    UnterminatedQuoted,
    /// `{{break}}` or `{{continue}}` outside a `range`.
    #[error("{{{{{0}}}}} outside {{{{range}}}}")]
    OutsideRange(String),
    /// `define`, `template` or `block`.
    #[error("unsupported template construct {{{{{0}}}}} (flint supports the subset of Go templates rule files use)")]
    Unsupported(String),
    /// A token where a text or an action should start.
    #[error("unexpected {0}")]
    Unexpected(String),
    /// A token where an action should end.
    #[error("unexpected {token} in {context}")]
    UnexpectedIn {
        /// The token, as Go describes it.
        token: String,
        /// What was being read.
        context: String,
    },
    /// The end of the text where an action should end.
    #[error("unclosed action in {0}")]
    UnclosedActionIn(String),
    /// The end of the text inside `if`, `range` or `with`.
    #[error("unexpected EOF in {0}")]
    Eof(String),
    /// A second `{{else}}`.
    #[error("expected end; found {{{{else}}}}")]
    SecondElse,
    /// `{{else` followed by something other than a keyword.
    #[error("unexpected token after else")]
    AfterElse,
    /// `{{else` followed by a keyword other than `if` or `with`.
    #[error("unexpected {0:?} after else")]
    KeywordAfterElse(String),
    /// More than two variables declared.
    #[error("too many declarations in command")]
    TooManyDeclarations,
    /// A pipeline without a command.
    #[error("missing value for {0}")]
    MissingValue(String),
    /// A variable not declared.
    #[error("undefined variable \"{0}\"")]
    UndefinedVariable(String),
    /// `(` without `)`.
    #[error("unclosed left paren")]
    UnclosedParen,
    /// `nil` as a command.
    #[error("nil is not a command")]
    NilCommand,
    /// A function not defined.
    #[error("function {} not defined", quote_ascii(.0))]
    UndefinedFunction(String),
    /// A number that does not parse.
    #[error("bad number syntax: {0:?}")]
    Number(String),
    /// `{{end}}` outside any block.
    #[error("unexpected {{{{end}}}}")]
    End,
    /// `{{else}}` outside any block.
    #[error("unexpected {{{{else}}}}")]
    Else,
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
