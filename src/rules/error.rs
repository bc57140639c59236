//! Why rules could not be applied, checked or evaluated.

use crate::config::CheckError;

/// Why [`super::Manager::apply`] left the running rules as they were.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Called outside a tokio runtime.
    #[error("the rules manager needs a tokio runtime")]
    NoRuntime,
    /// The `alerting` section is not valid.
    #[error(transparent)]
    Alerting(#[from] CheckError),
    /// Rule files that cannot be read or are not valid: one message per
    /// problem, each prefixed with its file.
    #[error("{}", .0.join("\n"))]
    Files(Vec<String>),
}

/// Why a rule's evaluation failed (the rule's `lastError`).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The rule's query failed.
    #[error(transparent)]
    Query(#[from] promql::Error),
    /// The rule's query gave a range vector or a string.
    #[error("rule result is not a vector or scalar")]
    NotVectorOrScalar,
    /// Two samples of a recording rule's output have the same labels.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateRecorded,
    /// Two alerts of an alerting rule have the same labels.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlert,
    /// A recording rule made more series than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} series")]
    SeriesLimit {
        /// The group's `limit`.
        limit: usize,
        /// The series made.
        count: usize,
    },
    /// An alerting rule has more active alerts than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} alerts")]
    AlertLimit {
        /// The group's `limit`.
        limit: usize,
        /// The active alerts.
        count: usize,
    },
    /// The output could not be written.
    #[error(transparent)]
    Storage(#[from] tsdb::Error),
}

/// A YAML value given where a string is expected.
#[derive(Debug, thiserror::Error)]
#[error("expected a string")]
pub struct NotAString;
