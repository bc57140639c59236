//! Why a `remote_read` endpoint could not be used or read, and why a
//! remote read request's matchers are not valid.

use crate::remote::RemoteError;
use common::httpclient::HttpClientError;

/// Why a `remote_read` endpoint's client could not be made or its answer
/// could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint's HTTP client settings cannot be used, or a request
    /// could not be authorized.
    #[error(transparent)]
    Http(#[from] HttpClientError),
    /// The request could not be compressed.
    #[error(transparent)]
    Compress(#[from] snap::Error),
    /// The request failed, or its answer could not be read.
    #[error(transparent)]
    Send(#[from] reqwest::Error),
    /// The endpoint answered with an error status.
    #[error("remote server {url} returned http status {status}: {text}")]
    Status {
        /// The endpoint's URL, its secrets redacted.
        url: String,
        /// The status.
        status: reqwest::StatusCode,
        /// The start of the answer's body, trimmed.
        text: String,
    },
    /// The answer is neither protobuf nor streamed protobuf.
    #[error("unsupported content type {0:?}")]
    ContentType(String),
    /// The answer's body does not decompress.
    #[error(transparent)]
    Snappy(#[from] RemoteError),
    /// The answer or one of its frames is not a valid message.
    #[error(transparent)]
    Decode(#[from] prost::DecodeError),
    /// A frame's length is cut short.
    #[error("truncated frame length")]
    TruncatedFrameLength,
    /// A frame's length is longer than ten bytes.
    #[error("malformed frame length")]
    MalformedFrameLength,
    /// A frame is longer than `chunked_read_limit`.
    #[error("chunkedReader: message size exceeded the limit {0} bytes")]
    FrameTooLarge(u64),
    /// A frame is cut short.
    #[error("truncated frame")]
    TruncatedFrame,
    /// A frame's checksum does not match.
    #[error("chunkedReader: corrupted frame; checksum mismatch")]
    Checksum,
    /// A chunk is not XOR encoded.
    #[error("unsupported chunk encoding {0}")]
    ChunkEncoding(i32),
    /// An XOR chunk does not decode.
    #[error("malformed XOR chunk")]
    MalformedChunk,
}

/// Why a remote read request's matcher is not valid.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    /// The matcher's type is not one of the four known.
    #[error("invalid matcher type {0}")]
    Type(i32),
    /// The matcher's regular expression does not compile.
    #[error(transparent)]
    Regex(#[from] regex::Error),
}
