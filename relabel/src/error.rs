//! Why a relabeling rule is refused, in Prometheus's words.

use crate::Action;

/// A rule that fails the checks Prometheus makes when it loads a
/// configuration ([`crate::RelabelConfig::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    /// A `source_labels` entry that is not a label name.
    #[error("{0:?} is not a valid label name")]
    SourceLabel(String),
    /// `hashmod` with `modulus` 0.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// An action that writes `target_label`, without one.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    NoTarget(Action),
    /// A `target_label` that is not a label name.
    #[error("{target:?} is invalid 'target_label' for {action} action")]
    Target {
        /// The `target_label`.
        target: String,
        /// The action.
        action: Action,
    },
    /// A `replacement` for an action that takes none.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementSet(Action),
    /// A `labelmap` `replacement` that is not a label name.
    #[error("{replacement:?} is invalid 'replacement' for {action} action")]
    Replacement {
        /// The `replacement`.
        replacement: String,
        /// The action.
        action: Action,
    },
    /// `keepequal` or `dropequal` with fields besides `source_labels` and
    /// `target_label`.
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    EqualFields(Action),
    /// `labeldrop` or `labelkeep` with fields besides `regex`.
    #[error("{0} action requires only 'regex', and no other fields")]
    LabelFields(Action),
}

/// An `action` that is not one Prometheus knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown relabel action {0:?}")]
pub struct UnknownAction(pub String);

/// A `regex` that does not compile, worded as Go's `regexp` words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error parsing regexp: {reason}: `{anchored}`")]
pub struct RegexpError {
    /// Why, in Go's words where they differ.
    pub reason: String,
    /// The anchored pattern, `^(?s:regex)$`.
    pub anchored: String,
}
