//! The remote read messages (package `prometheus`, `remote.proto` and
//! `types.proto`), as `prost` structs with Prometheus's field numbers.

use crate::remote::{Label, TimeSeries};

/// A remote read request: queries and the answer types the client takes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    /// The queries (field 1).
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Answer types, in the client's order of preference (field 2).
    #[prost(enumeration = "ResponseType", repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// Answer types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResponseType {
    /// One `ReadResponse` of raw samples, snappy-compressed.
    Samples = 0,
    /// Framed `ChunkedReadResponse`s of XOR chunks.
    StreamedXorChunks = 1,
}

/// One query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    /// Start, ms (field 1).
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// End, ms (field 2).
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Label matchers (field 3).
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Hints (field 4).
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// A label matcher.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelMatcher {
    /// `EQ`, `NEQ`, `RE`, `NRE` (field 1).
    #[prost(enumeration = "MatchType", tag = "1")]
    pub r#type: i32,
    /// Label name (field 2).
    #[prost(string, tag = "2")]
    pub name: String,
    /// Value or regex (field 3).
    #[prost(string, tag = "3")]
    pub value: String,
}

/// Matcher types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MatchType {
    /// `=`
    Eq = 0,
    /// `!=`
    Neq = 1,
    /// `=~`
    Re = 2,
    /// `!~`
    Nre = 3,
}

/// Query hints (read, not used).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadHints {
    /// Step, ms (field 1).
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// The function around the selector (field 2).
    #[prost(string, tag = "2")]
    pub func: String,
    /// Start, ms (field 3).
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// End, ms (field 4).
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
    /// Grouping labels (field 5).
    #[prost(string, repeated, tag = "5")]
    pub grouping: Vec<String>,
    /// Grouping by, not without (field 6).
    #[prost(bool, tag = "6")]
    pub by: bool,
    /// Range, ms (field 7).
    #[prost(int64, tag = "7")]
    pub range_ms: i64,
}

/// The `SAMPLES` answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    /// One result per query, in order (field 1).
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// One query's series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryResult {
    /// The series (field 1).
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One frame of the `STREAMED_XOR_CHUNKS` answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedReadResponse {
    /// Series, or parts of one (field 1).
    #[prost(message, repeated, tag = "1")]
    pub chunked_series: Vec<ChunkedSeries>,
    /// The query they answer (field 2).
    #[prost(int64, tag = "2")]
    pub query_index: i64,
}

/// A series and some of its chunks.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedSeries {
    /// Labels, sorted (field 1).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Chunks, oldest first (field 2).
    #[prost(message, repeated, tag = "2")]
    pub chunks: Vec<Chunk>,
}

/// One chunk.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    /// First timestamp, ms (field 1).
    #[prost(int64, tag = "1")]
    pub min_time_ms: i64,
    /// Last timestamp, ms (field 2).
    #[prost(int64, tag = "2")]
    pub max_time_ms: i64,
    /// Encoding: 1 is XOR (field 3).
    #[prost(int32, tag = "3")]
    pub r#type: i32,
    /// The chunk's bytes, Prometheus's format (field 4).
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
}

/// The XOR chunk encoding's number.
pub const CHUNK_XOR: i32 = 1;
