//! Errors of parsing and evaluating queries.

use tsdb::read::ReadError;

/// The class of an error, as the Prometheus HTTP API reports it in
/// `errorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The query is malformed (`bad_data`).
    BadData,
    /// The query failed while running (`execution`).
    Execution,
    /// The query ran out of time (`timeout`).
    Timeout,
    /// The query was cancelled (`canceled`).
    Canceled,
    /// A bug or storage failure (`internal`).
    Internal,
}

impl ErrorKind {
    /// The `errorType` string of the Prometheus HTTP API.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadData => "bad_data",
            ErrorKind::Execution => "execution",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Canceled => "canceled",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error of parsing or evaluating a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The query text is not valid PromQL (syntax or type error).
    #[error("{}: parse error: {msg}", position(*line, *col))]
    Parse {
        /// 1-based line of the offending token; 0 when the query is
        /// empty ("unknown position", as Prometheus says).
        line: usize,
        /// 1-based column (in characters) of the offending token.
        col: usize,
        /// What is wrong.
        msg: String,
    },
    /// The query parameters are invalid (e.g. a range query with a
    /// non-positive step).
    #[error("{msg}")]
    BadRequest {
        /// What is wrong.
        msg: String,
    },
    /// The query would hold more samples in memory than allowed.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples {
        /// The configured limit.
        limit: usize,
    },
    /// The query took longer than allowed.
    #[error("query timed out in query execution")]
    Timeout,
    /// Evaluation failed (e.g. duplicate output series).
    #[error("{msg}")]
    Execution {
        /// What went wrong.
        msg: String,
    },
    /// A bug in the engine (e.g. a panic caught while evaluating).
    #[error("internal error: {msg}")]
    Internal {
        /// What went wrong.
        msg: String,
    },
    /// Storage reported an error.
    #[error("{0}")]
    Storage(#[from] ReadError),
}

/// `line:col`, or Prometheus's words for no position.
fn position(line: usize, col: usize) -> String {
    if line == 0 {
        "unknown position".to_string()
    } else {
        format!("{line}:{col}")
    }
}

impl Error {
    /// The API error class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Parse { .. } | Error::BadRequest { .. } => ErrorKind::BadData,
            Error::TooManySamples { .. } | Error::Execution { .. } => ErrorKind::Execution,
            Error::Timeout => ErrorKind::Timeout,
            Error::Internal { .. } => ErrorKind::Internal,
            Error::Storage(ReadError::Canceled) => ErrorKind::Canceled,
            Error::Storage(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn exec(msg: impl Into<String>) -> Error {
        Error::Execution { msg: msg.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_kinds() {
        let e = Error::Parse {
            line: 1,
            col: 8,
            msg: "unexpected <op:+>".into(),
        };
        assert_eq!(e.to_string(), "1:8: parse error: unexpected <op:+>");
        assert_eq!(e.kind(), ErrorKind::BadData);
        let e = Error::TooManySamples { limit: 3 };
        assert_eq!(
            e.to_string(),
            "query processing would load too many samples into memory in query execution"
        );
        assert_eq!(e.kind().as_str(), "execution");
        assert_eq!(
            Error::Timeout.to_string(),
            "query timed out in query execution"
        );
        assert_eq!(Error::Timeout.kind(), ErrorKind::Timeout);
        assert_eq!(
            Error::Storage(ReadError::Canceled).kind(),
            ErrorKind::Canceled
        );
    }
}
