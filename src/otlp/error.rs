//! Why an OTLP request was refused: a body that could not be decoded (a
//! 400 answer) or metrics that could not be translated (a 500 answer, as
//! Prometheus answers). The messages are the answers' text.

use super::MAX_BODY;

/// A request body that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A content type other than protobuf or JSON.
    #[error(
        "unsupported content type: {0}, supported: [application/json, application/x-protobuf]"
    )]
    ContentType(String),
    /// An encoding other than gzip or none.
    #[error("unsupported compression: {0}. Only \"gzip\" or no compression supported")]
    Compression(String),
    /// A gzip body that does not inflate.
    #[error("gzip: {0}")]
    Gzip(std::io::Error),
    /// A body over [`MAX_BODY`].
    #[error("request body larger than {MAX_BODY} bytes once decompressed")]
    TooLarge,
    /// A JSON body that is not a request.
    #[error("{0}")]
    Json(String),
    /// A protobuf body that is not a request.
    #[error("proto: {0}")]
    Proto(prost::DecodeError),
}

/// Metrics that could not be translated: the message of each, in order
/// (then nothing is to be stored).
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct TranslateError(pub Vec<String>);
