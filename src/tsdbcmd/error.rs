//! Why a `flint tsdb` command line was refused, or a rule import failed,
//! in promtool's words.

use crate::flags::parse::ValueError;
use crate::gofmt::quote_ascii;

/// A subcommand's flags or arguments that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum ArgsError {
    /// A long flag the subcommand does not take.
    #[error("unknown long flag '--{0}'")]
    UnknownLong(String),
    /// A short flag the subcommand does not take.
    #[error("unknown short flag '-{0}'")]
    UnknownShort(char),
    /// A flag that takes a value, last and without one.
    #[error("expected argument for flag '--{0}'")]
    MissingValue(String),
    /// An integer flag's value that is not an integer.
    #[error("strconv.ParseInt: parsing {}: invalid syntax", quote_ascii(.0))]
    Int(String),
}

/// A `histograms` point's histogram that is not the query API's shape.
#[derive(Debug, thiserror::Error)]
#[error("histogram {0} is not what the query API writes")]
pub(super) struct BadHistogram(pub(super) serde_json::Value);

/// Why `create-blocks-from rules` failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum ImportError {
    /// A flag that takes a value, last and without one.
    #[error("flint: error: expected argument for flag '--{0}'")]
    MissingValue(String),
    /// `--eval-interval` is not a duration.
    #[error("flint: error: {0}")]
    EvalInterval(ValueError),
    /// `--http.config.file`.
    #[error("flint: error: --http.config.file is not supported yet")]
    HttpConfig,
    /// A long flag the command does not take.
    #[error("flint: error: unknown long flag '--{0}'")]
    UnknownFlag(String),
    /// No `--start`.
    #[error("flint: error: required flag --start not provided")]
    NoStart,
    /// No rule files.
    #[error("flint: error: required argument 'rule-files' not provided")]
    NoRuleFiles,
    /// `--end` is not a time.
    #[error("error parsing end time: cannot parse {0:?} to a valid timestamp")]
    End(String),
    /// `--start` is not a time.
    #[error("error parsing start time: cannot parse {0:?} to a valid timestamp")]
    Start(String),
    /// `--start` is not before `--end`.
    #[error("start time is not before end time")]
    Range,
    /// A rule file that cannot be read or is not valid.
    #[error("rule importer parse error: {}", .0.join("; "))]
    Parse(Vec<String>),
    /// The runtime could not be made.
    #[error(transparent)]
    Runtime(std::io::Error),
    /// Rules that could not be imported (each printed as it failed).
    #[error("error importing rules")]
    Rules,
    /// The blocks could not be written.
    #[error("{0}")]
    Write(String),
}

/// Why one rule could not be imported.
#[derive(Debug, thiserror::Error)]
pub(super) enum RuleImportError {
    /// The query could not be sent or its answer read.
    #[error("query range: {0}")]
    Request(reqwest::Error),
    /// The answer is not JSON.
    #[error("query range: {status}: {err}")]
    Json {
        /// The answer's status.
        status: reqwest::StatusCode,
        /// Why.
        err: serde_json::Error,
    },
    /// The server answered with an error.
    #[error("query range: {kind}: {message}")]
    Query {
        /// `errorType` (`error` when absent).
        kind: String,
        /// `error`.
        message: String,
    },
    /// The answer is not a matrix.
    #[error("rule result is wrong type {0}")]
    ResultType(String),
    /// A histogram of the answer that cannot be read.
    #[error("query range: {0}")]
    Histogram(BadHistogram),
}
