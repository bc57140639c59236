//! Why an OTLP request was refused: a body that could not be decoded (a
//! 400 answer) or metrics that could not be translated (a 500 answer, as
//! Prometheus answers). The messages are the answers' text.

use tsdb::histogram::MIN_SCHEMA;

use super::native::go_f;
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
    #[error(transparent)]
    Json(#[from] JsonError),
    /// A protobuf body that is not a request.
    #[error("proto: {0}")]
    Proto(prost::DecodeError),
}

/// Metrics that could not be translated: the problem of each, in order
/// (then nothing is to be stored).
#[derive(Debug, thiserror::Error)]
#[error("{}", join(.0))]
pub struct TranslateError(pub Vec<MetricError>);

fn join(errors: &[MetricError]) -> String {
    let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    msgs.join("\n")
}

/// Why a metric (or its resource's or scope's attributes) could not be
/// translated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// A metric without data.
    #[error(
        "could not get aggregation temporality for {0} as it has unsupported metric type Empty"
    )]
    NoData(String),
    /// A delta metric, with delta temporality not allowed.
    #[error("invalid temporality and type combination for metric {0:?}")]
    Temporality(String),
    /// A metric without points.
    #[error("empty data points. {0} is dropped")]
    NoPoints(String),
    /// A metric or attribute name with no Prometheus name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A histogram point Prometheus would not store.
    #[error(transparent)]
    Histogram(#[from] HistogramError),
}

/// A metric or attribute name that has no Prometheus name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A metric name with nothing left once normalized.
    #[error("normalization for metric {0:?} resulted in empty name")]
    EmptyMetric(String),
    /// A metric name that is only underscores once normalized.
    #[error("normalization for metric {metric:?} resulted in invalid name {name:?}")]
    InvalidMetric {
        /// The OTLP name.
        metric: String,
        /// What it became.
        name: String,
    },
    /// An empty attribute key.
    #[error("label name is empty")]
    EmptyLabel,
    /// An attribute key of underscores only, not escaped.
    #[error("label name {0:?} contains only underscores")]
    UnderscoresOnly(String),
    /// An attribute key that is only underscores once escaped.
    #[error("normalization for label name {label:?} resulted in invalid name {name:?}")]
    InvalidLabel {
        /// The attribute key.
        label: String,
        /// What it became.
        name: String,
    },
}

/// A histogram point that Prometheus's checks of a native histogram
/// refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramError {
    /// An exponential scale below the coarsest schema.
    #[error(
        "cannot convert exponential to native histogram. Scale must be >= {MIN_SCHEMA}, was {0}"
    )]
    Scale(i32),
    /// An exponential bucket whose native index does not fit.
    #[error("exponential histogram bucket index {0} is out of range")]
    BucketIndex(i64),
    /// A count below the buckets' total (with a NaN sum).
    #[error("{in_buckets} observations found in buckets, but the Count field is {count}: histogram's observation count should be at least the number of observations found in the buckets")]
    CountBelowBuckets {
        /// The buckets' total.
        in_buckets: u128,
        /// The point's count.
        count: u128,
    },
    /// A count other than the buckets' total.
    #[error("{in_buckets} observations found in buckets, but the Count field is {count}: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)")]
    CountNotBuckets {
        /// The buckets' total.
        in_buckets: u128,
        /// The point's count.
        count: u128,
    },
    /// A NaN explicit bound.
    #[error("custom buckets: histogram custom bounds must not be NaN")]
    NanBound,
    /// Explicit bounds out of order.
    #[error("custom buckets: previous bound is {} and current is {}: histogram custom bounds must be in strictly increasing order", go_f(*.prev), go_f(*.bound))]
    Unordered {
        /// The bound before.
        prev: f64,
        /// The bound not above it.
        bound: f64,
    },
    /// `+Inf` as the last explicit bound.
    #[error("custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite")]
    InfBound,
    /// Fewer bounds than the buckets need.
    #[error("custom buckets: only {bounds} custom bounds defined which is insufficient to cover total span length of {spanned}: histogram custom bounds are too few")]
    TooFewBounds {
        /// The number of bounds.
        bounds: usize,
        /// The buckets spanned.
        spanned: usize,
    },
}

/// An OTLP/JSON body that is not a request.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON.
    #[error("json: {0}")]
    Syntax(serde_json::Error),
    /// JSON, but not an object.
    #[error("json: expected an object")]
    NotObject,
    /// A field of another JSON type than its own.
    #[error("{field}: expected {expected}, got {got}")]
    Type {
        /// The field's name.
        field: String,
        /// What it should be (`an array`, `true or false`).
        expected: &'static str,
        /// What it is.
        got: serde_json::Value,
    },
    /// A numeric field whose text is not a number of its type.
    #[error("{field}: {text:?} is not a valid number")]
    Number {
        /// The field's name.
        field: String,
        /// The text.
        text: String,
    },
    /// A JSON number that is not a double.
    #[error("{field}: {n} is not a valid number")]
    Double {
        /// The field's name.
        field: String,
        /// The number.
        n: serde_json::Number,
    },
    /// An aggregation temporality of no known name.
    #[error("unknown aggregation temporality {0:?}")]
    Temporality(String),
    /// A `bytesValue` that is not base64.
    #[error("bytesValue: {0:?} is not base64")]
    Base64(String),
    /// A trace or span id that is not hex.
    #[error("{field}: {text:?} is not hex")]
    Hex {
        /// The field's name.
        field: String,
        /// The text.
        text: String,
    },
}
