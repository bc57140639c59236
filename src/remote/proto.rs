//! The Prometheus remote-write 1.0 protobuf messages, written by hand as
//! `prost` structs.
//!
//! Field numbers and types follow `prompb/remote.proto` and
//! `prompb/types.proto` of prometheus/prometheus (package `prometheus`), so
//! the wire format is the one every remote-write 1.0 sender produces. Only
//! the messages a write request can carry are defined; the remote-read
//! messages are not.
//!
//! proto3 scalars are not encoded when they hold their default value, so a
//! sample value of `-0.0` (which compares equal to `0.0`) is not sent and
//! decodes as `+0.0`, exactly as with Prometheus's own (gogo) encoder. NaN
//! values, including the staleness marker, are sent and survive bit-exact.

/// A remote-write 1.0 request: the body of `POST /api/v1/write` once
/// snappy-decompressed (`prometheus.WriteRequest`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series, each with its samples (field 1).
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Per-metric-family metadata (field 3; field 2 is reserved, Cortex used
    /// it for the request's source).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// One series: its labels and samples (`prometheus.TimeSeries`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The series' labels, `__name__` included (field 1). Senders should
    /// sort them by name; the receiver sorts them anyway.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples, oldest first (field 2).
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars (field 3).
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native-histogram samples (field 4).
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// One label (`prometheus.Label`).
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Label {
    /// The label name (field 1).
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value (field 2).
    #[prost(string, tag = "2")]
    pub value: String,
}

impl Label {
    /// A label from anything string-like.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// One float sample (`prometheus.Sample`).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (field 1, `double`).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch (field 2, `int64`).
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// An exemplar attached to a series (`prometheus.Exemplar`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// The exemplar's own labels, e.g. a trace id; may be empty (field 1).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The exemplar value (field 2).
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch; 0 means "no timestamp" (field 3).
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// A native histogram sample (`prometheus.Histogram`). Decoded so bodies
/// carrying histograms parse and store them.
///
/// An integer histogram sets `count`/`zero_count` to the `*Int` variants and
/// uses the `*_deltas` bucket fields; a float histogram uses the `*Float`
/// variants and the `*_counts` fields.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Count of observations (fields 1 `count_int` / 2 `count_float`).
    #[prost(oneof = "histogram::Count", tags = "1, 2")]
    pub count: Option<histogram::Count>,
    /// Sum of observations (field 3).
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Bucket schema, currently -4..=8 for exponential buckets, -53 for
    /// custom buckets (field 4, `sint32`).
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Width of the zero bucket (field 5).
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// Count in the zero bucket (fields 6 `zero_count_int` / 7
    /// `zero_count_float`).
    #[prost(oneof = "histogram::ZeroCount", tags = "6, 7")]
    pub zero_count: Option<histogram::ZeroCount>,
    /// Spans of negative buckets (field 8).
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Negative bucket counts as deltas, integer histograms (field 9,
    /// `sint64`).
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Negative bucket counts, absolute, float histograms (field 10).
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    /// Spans of positive buckets (field 11).
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Positive bucket counts as deltas, integer histograms (field 12,
    /// `sint64`).
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Positive bucket counts, absolute, float histograms (field 13).
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// Counter-reset hint, a [`histogram::ResetHint`] (field 14).
    #[prost(enumeration = "histogram::ResetHint", tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the Unix epoch (field 15).
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// Upper bounds of custom buckets (schema -53); not part of the
    /// remote-write 1.0 specification (field 16).
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
    /// The start (created) time, ms, 0 when unknown; remote write 2.0
    /// only (field 17).
    #[prost(int64, tag = "17")]
    pub start_timestamp: i64,
}

/// The `oneof`s and the enum nested in [`Histogram`].
pub mod histogram {
    /// The observation count of a [`Histogram`](super::Histogram).
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Count {
        /// Integer count (field 1, `uint64`).
        #[prost(uint64, tag = "1")]
        CountInt(u64),
        /// Float count (field 2, `double`).
        #[prost(double, tag = "2")]
        CountFloat(f64),
    }

    /// The zero-bucket count of a [`Histogram`](super::Histogram).
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum ZeroCount {
        /// Integer count (field 6, `uint64`).
        #[prost(uint64, tag = "6")]
        ZeroCountInt(u64),
        /// Float count (field 7, `double`).
        #[prost(double, tag = "7")]
        ZeroCountFloat(f64),
    }

    /// Whether a histogram sample follows a counter reset
    /// (`prometheus.Histogram.ResetHint`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResetHint {
        /// Unknown; the receiver has to detect resets itself.
        Unknown = 0,
        /// There was a counter reset.
        Yes = 1,
        /// There was no counter reset.
        No = 2,
        /// A gauge histogram: counter resets do not apply.
        Gauge = 3,
    }
}

/// A run of consecutive buckets (`prometheus.BucketSpan`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct BucketSpan {
    /// Gap to the previous span, or the index of the first bucket for the
    /// first span (field 1, `sint32`).
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Number of consecutive buckets (field 2, `uint32`).
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// Metadata of one metric family (`prometheus.MetricMetadata`).
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct MetricMetadata {
    /// The metric type, a [`MetricType`] (field 1).
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    /// The metric family name (field 2).
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// The HELP text (field 4).
    #[prost(string, tag = "4")]
    pub help: String,
    /// The unit (field 5).
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Metric types as sent in [`MetricMetadata`]
/// (`prometheus.MetricMetadata.MetricType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// Unknown or untyped.
    Unknown = 0,
    /// Counter.
    Counter = 1,
    /// Gauge.
    Gauge = 2,
    /// Classic histogram.
    Histogram = 3,
    /// Gauge histogram.
    Gaugehistogram = 4,
    /// Summary.
    Summary = 5,
    /// Info.
    Info = 6,
    /// State set.
    Stateset = 7,
}
