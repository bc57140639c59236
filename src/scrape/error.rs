//! Why a scrape failed: its target's body could not be fetched
//! ([`FetchError`]) or its samples could not be stored ([`StoreError`]).
//! The messages are the targets page's and the logs'.

use std::sync::Arc;

use crate::httpclient::HttpClientError;

/// Why a job has no HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JobClientError {
    /// The job's HTTP client settings cannot be used.
    #[error("{0}")]
    Build(Arc<HttpClientError>),
    /// A job the manager made no client for.
    #[error("no HTTP client for the job")]
    Missing,
}

/// Why a target's body was not fetched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The manager's verdict on the target (its pool's `target_limit`).
    #[error("{0}")]
    Forced(String),
    /// The job has no client.
    #[error(transparent)]
    NoClient(#[from] JobClientError),
    /// The request's credentials could not be read or obtained.
    #[error(transparent)]
    Authorize(#[from] HttpClientError),
    /// No answer, worded as Go's HTTP client words it.
    #[error("{0}")]
    Transport(String),
    /// An answer other than 200.
    #[error("server returned HTTP status {} {}", .0.as_u16(), .0.canonical_reason().unwrap_or(""))]
    Status(reqwest::StatusCode),
    /// A body over the `body_size_limit`.
    #[error("body size limit exceeded")]
    BodyLimit,
}

/// Why a scrape's samples were not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The head forgot a series the loop's cache holds (its data all went
    /// into blocks): the scrape is stored again with the series resolved
    /// anew.
    #[error("{}", tsdb::Error::UnknownSeries(0))]
    UnknownSeries,
    /// Anything else, as the targets page shows it.
    #[error("{0}")]
    Other(String),
}

impl From<String> for StoreError {
    fn from(e: String) -> Self {
        StoreError::Other(e)
    }
}

impl From<&str> for StoreError {
    fn from(e: &str) -> Self {
        StoreError::Other(e.to_string())
    }
}

impl From<tsdb::Error> for StoreError {
    fn from(e: tsdb::Error) -> Self {
        match e {
            tsdb::Error::UnknownSeries(_) => StoreError::UnknownSeries,
            e => StoreError::Other(e.to_string()),
        }
    }
}
