//! Why a rule unit test's input could not be read: its series notation
//! ([`SeriesError`]), its values notation ([`ValuesError`]), or the input
//! series as a whole ([`InputError`]).

use tsdb::labels::Labels;

/// A `values` term that cannot be expanded.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {token:?}: {problem}")]
pub struct ValuesError {
    /// The term.
    pub token: String,
    /// What is wrong with it.
    pub problem: ValueProblem,
}

/// What is wrong with a `values` term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    /// `{{...}}`.
    #[error("native histograms are not supported")]
    Histogram,
    /// Neither a value nor an expanding term.
    #[error("expected a number, '_', 'stale' or an expanding term like 1+2x3")]
    NotATerm,
    /// The count after `x` is not a whole number.
    #[error("the repetition count after 'x' must be a whole number")]
    Count,
    /// The count after `x` is over ten million.
    #[error("repetition count too large")]
    CountTooLarge,
    /// `stalexN`.
    #[error("'stale' cannot be repeated")]
    StaleRepeated,
    /// What comes before `x` is not a start and a step.
    #[error("expected START+STEPxN, START-STEPxN or VALUExN")]
    Expanding,
}

/// A series description that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// Something other than what was expected.
    #[error("{expected}, found {found:?} at position {pos} in {src:?}")]
    Unexpected {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: char,
        /// Its byte position.
        pos: usize,
        /// The description.
        src: String,
    },
    /// The end, where something else was expected.
    #[error("{expected}, found end of input in {src:?}")]
    End {
        /// What was expected.
        expected: &'static str,
        /// The description.
        src: String,
    },
    /// A quoted string without its closing quote.
    #[error("unterminated string in {0:?}")]
    Unterminated(String),
    /// A backslash escape Go does not know.
    #[error("unknown escape sequence \\{escape} in {src:?}")]
    UnknownEscape {
        /// The character after the backslash.
        escape: char,
        /// The description.
        src: String,
    },
    /// A numeric escape that is not a character.
    #[error("invalid escape sequence in {0:?}")]
    InvalidEscape(String),
    /// A label given twice.
    #[error("duplicate label name {name:?} in {src:?}")]
    Duplicate {
        /// The label.
        name: String,
        /// The description.
        src: String,
    },
}

/// A test's `input_series` that cannot be loaded; `what` names the entry
/// (`input_series[N] "series"`).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The series description cannot be read.
    #[error("{what}: {err}")]
    Series {
        /// The entry.
        what: String,
        /// Why.
        err: SeriesError,
    },
    /// The series description is empty.
    #[error("{0}: the series has no labels")]
    NoLabels(String),
    /// The values cannot be expanded.
    #[error("{what}: {err}")]
    Values {
        /// The entry.
        what: String,
        /// Why.
        err: ValuesError,
    },
    /// Two entries of the same series with different values at a time.
    #[error("{what}: two different values for {labels} at {at}")]
    Clash {
        /// The entry.
        what: String,
        /// The series.
        labels: Labels,
        /// The time, as a Go duration.
        at: String,
    },
}
