//! The storage engine's error type.

use std::path::{Path, PathBuf};

/// An error from the storage engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on a file or folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file's contents failed a check.
    #[error("{path}: corruption at offset {offset}: {detail}")]
    Corruption {
        /// The file.
        path: PathBuf,
        /// Byte offset of the bad record.
        offset: u64,
        /// What was wrong.
        detail: String,
    },
    /// A file in a format (or a version or encoding of one) this version
    /// does not read.
    #[error("{path}: {detail}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What was not understood.
        detail: String,
    },
    /// Another process holds the data directory.
    #[error("{path}: data directory is locked by another process")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A sample is older than the series' newest sample.
    #[error("out of order sample")]
    OutOfOrder,
    /// A sample is older than what the head accepts (already in a block).
    #[error("out of bounds")]
    OutOfBounds,
    /// A sample is further in the future than the head accepts.
    #[error("out of bounds: timestamp is too far in the future")]
    TooFarInFuture,
    /// A sample has the same timestamp as the newest one but another value.
    #[error("duplicate sample for timestamp")]
    Duplicate,
    /// The series reference is not known.
    #[error("unknown series reference {0}")]
    UnknownSeries(u64),
    /// A label set that cannot be stored.
    #[error("invalid label set: {0}")]
    InvalidLabels(String),
}

impl Error {
    pub(crate) fn corrupt(path: &Path, offset: u64, detail: impl Into<String>) -> Error {
        Error::Corruption {
            path: path.to_path_buf(),
            offset,
            detail: detail.into(),
        }
    }

    pub(crate) fn unsupported(path: &Path, detail: impl Into<String>) -> Error {
        Error::Unsupported {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
