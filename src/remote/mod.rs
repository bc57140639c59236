//! Prometheus remote-write 1.0: the protobuf messages and the body codec.
//!
//! A 1.0 body is a snappy *block* (`Content-Encoding: snappy`, not the
//! framed format) around a protobuf `prometheus.WriteRequest`
//! (`Content-Type: application/x-protobuf`). [`decode_write_request`] turns
//! a body into a [`WriteRequest`], [`to_series`] (strict) or
//! [`to_series_skipping_invalid`] (Prometheus's behaviour) into label sets
//! with samples, and [`encode_write_request`] does the reverse for senders
//! and tests.
//!
//! # How Prometheus's receiver answers (`storage/remote/write_handler.go`, 3.x)
//!
//! Request framing:
//! - No `Content-Type` means 1.0. A type other than `application/x-protobuf`
//!   (parameters allowed; `proto=prometheus.WriteRequest` is 1.0) or a
//!   `proto=` this server does not accept: **415**, the reason as body.
//! - No `Content-Encoding` means snappy; any other encoding: **415**.
//! - Unreadable body, corrupt snappy, or bad protobuf: **400**, the error
//!   text as body ([`RemoteError::http_status`]). Prometheus has no size
//!   limit of its own; ours answers 413, which a Prometheus sender treats
//!   like 400 (it retries only on 5xx, and on 429 when `retry_on_http_429`).
//!
//! Series labels (1.0 path): labels are sorted on receipt, so senders need
//! not sort them. A series without `__name__`, with an empty metric name,
//! an empty label name (names and values may otherwise be any UTF-8), or a
//! repeated label name is *skipped*: a warning is logged,
//! `prometheus_api_remote_write_invalid_labels_samples_total` is
//! incremented, and the rest of the request is still stored and answered
//! **204**. (The 2.0 path answers 400 for these, with the messages
//! [`RemoteError::InvalidLabels`] and [`RemoteError::DuplicateLabel`] use.)
//!
//! Samples the TSDB refuses (1.0 path): the first append error aborts the
//! request and the whole request is rolled back, nothing of it is stored.
//! - Out-of-order (`out of order sample`), too old (`out of bounds`; with an
//!   out-of-order window, `too old sample`), more than 10 minutes in the
//!   future (`out of bounds: timestamp is too far in the future`), or a
//!   different value at an existing timestamp (`duplicate sample for
//!   timestamp <t>; overrides not allowed: existing <v>, new value <v>`,
//!   older releases just `duplicate sample for timestamp`): **400** with the
//!   error text plus a newline as a `text/plain` body, so the sender drops
//!   the batch instead of retrying.
//! - The same value again at an existing timestamp is not an error.
//! - Any other storage error: **500** (the sender retries).
//! - Success: **204 No Content**, empty body.
//!
//! Exemplar errors never fail a 1.0 request. Metadata is ignored by the 1.0
//! receiver.

mod codec;
pub mod proto;
pub mod read;
pub mod v2;
pub mod wire;
pub mod write;

/// A label set as Prometheus's `labels.String()` writes it.
pub fn codec_notation(labels: &tsdb::labels::Labels) -> String {
    codec::prom_notation(labels)
}
#[cfg(test)]
mod tests;

pub use codec::{
    convert_series, decode_snappy, decode_write_request, encode_write_request, exemplar_v1,
    histogram_from_proto, to_series, to_series_skipping_invalid, HistogramError, RemoteError,
    Series, Skipped,
};
pub use proto::{
    BucketSpan, Exemplar, Histogram, Label, MetricMetadata, MetricType, Sample, TimeSeries,
    WriteRequest,
};
