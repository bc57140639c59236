//! `POST /api/v1/read`: answers remote read requests (Prometheus, Thanos
//! sidecar, vmctl) from the database, as Prometheus does.
//!
//! - The answer type is the first of the request's accepted types flint
//!   has (`SAMPLES` when none is listed): `SAMPLES` is one snappy
//!   `ReadResponse`; `STREAMED_XOR_CHUNKS` is a sequence of frames (uvarint
//!   length, big-endian CRC32C of the message, a `ChunkedReadResponse`),
//!   one series per frame or several frames per series, series in label
//!   order, each frame at most about `--storage.remote.read-max-bytes-in-frame`.
//! - External labels are added to the series answered (a stored label of
//!   the same name wins), and an `=` matcher on an external label's value
//!   matches the series stored without it.
//! - `--storage.remote.read-sample-limit` caps a `SAMPLES` answer's samples
//!   per query (400 `exceeded sample limit (N)`).
//! - The request's `Content-Type` is not checked (vmctl sends the streamed
//!   answer's type).

use prost::Message as _;
use tsdb::labels::{Label as TsdbLabel, Labels, MatchOp, Matcher};
use tsdb::read::Queryable;

use super::proto::{
    Chunk, ChunkedReadResponse, ChunkedSeries, LabelMatcher, MatchType, QueryResult, ReadRequest,
    ReadResponse, ResponseType, CHUNK_XOR,
};
use crate::remote::{Label, Sample, TimeSeries};

/// The `Content-Type` of a streamed answer.
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// An answer: status, content type, `Content-Encoding` (snappy or none),
/// body.
#[derive(Debug)]
pub struct ReadAnswer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Whether the body is snappy (`Content-Encoding: snappy`).
    pub snappy: bool,
    /// The body.
    pub body: Vec<u8>,
}

fn error(status: u16, msg: impl Into<String>) -> ReadAnswer {
    let mut body = msg.into().into_bytes();
    body.push(b'\n');
    ReadAnswer {
        status,
        content_type: "text/plain; charset=utf-8",
        snappy: false,
        body,
    }
}

/// Limits of the remote read handler.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// Most samples per query in a `SAMPLES` answer (0: none).
    pub sample_limit: usize,
    /// Target size of a streamed frame.
    pub max_bytes_in_frame: usize,
    /// Largest decompressed request.
    pub max_request_bytes: usize,
}

fn matchers(list: &[LabelMatcher], ext: &Labels) -> Result<Vec<Matcher>, String> {
    list.iter()
        .map(|m| {
            let op = match MatchType::try_from(m.r#type) {
                Ok(MatchType::Eq) => MatchOp::Equal,
                Ok(MatchType::Neq) => MatchOp::NotEqual,
                Ok(MatchType::Re) => MatchOp::RegexMatch,
                Ok(MatchType::Nre) => MatchOp::RegexNoMatch,
                Err(_) => return Err(format!("invalid matcher type {}", m.r#type)),
            };
            // the database stores series without the external labels
            let value = if op == MatchOp::Equal && ext.get(&m.name) == Some(m.value.as_str()) {
                String::new()
            } else {
                m.value.clone()
            };
            Matcher::new(op, m.name.clone(), value).map_err(|e| e.to_string())
        })
        .collect()
}

/// The series' labels with the external labels it lacks.
fn with_external(labels: &Labels, ext: &Labels) -> Vec<Label> {
    let mut all: Vec<TsdbLabel> = labels.iter().cloned().collect();
    for l in ext.iter() {
        if labels.get(&l.name).is_none() {
            all.push(l.clone());
        }
    }
    Labels::new(all)
        .iter()
        .map(|l| Label::new(l.name.as_str(), l.value.as_str()))
        .collect()
}

/// Answers one remote read request body.
pub fn handle(db: &dyn Queryable, body: &[u8], ext: &Labels, limits: ReadLimits) -> ReadAnswer {
    let raw = match crate::remote::decode_snappy(body, limits.max_request_bytes) {
        Ok(r) => r,
        Err(e) => return error(400, e.to_string()),
    };
    let req = match ReadRequest::decode(raw.as_slice()) {
        Ok(r) => r,
        Err(e) => return error(400, e.to_string()),
    };
    let kind = if req.accepted_response_types.is_empty() {
        Some(ResponseType::Samples)
    } else {
        req.accepted_response_types
            .iter()
            .find_map(|t| ResponseType::try_from(*t).ok())
    };
    let Some(kind) = kind else {
        return error(
            400,
            format!(
                "server does not support any of the requested response types: {:?}",
                req.accepted_response_types
            ),
        );
    };
    match kind {
        ResponseType::Samples => samples(db, &req, ext, limits),
        ResponseType::StreamedXorChunks => streamed(db, &req, ext, limits),
    }
}

fn samples(db: &dyn Queryable, req: &ReadRequest, ext: &Labels, limits: ReadLimits) -> ReadAnswer {
    let mut resp = ReadResponse::default();
    for q in &req.queries {
        let ms = match matchers(&q.matchers, ext) {
            Ok(m) => m,
            Err(e) => return error(400, e),
        };
        let querier = match db.querier(q.start_timestamp_ms, q.end_timestamp_ms) {
            Ok(q) => q,
            Err(e) => return error(500, e.to_string()),
        };
        let series = match querier.select(&ms) {
            Ok(s) => s,
            Err(e) => return error(500, e.to_string()),
        };
        let mut result = QueryResult::default();
        let mut count = 0usize;
        for mut s in series {
            let samples: Vec<Sample> = s
                .samples
                .collect_between(q.start_timestamp_ms, q.end_timestamp_ms)
                .into_iter()
                .map(|(t, v)| Sample {
                    value: v,
                    timestamp: t,
                })
                .collect();
            if samples.is_empty() {
                continue;
            }
            count += samples.len();
            if limits.sample_limit > 0 && count > limits.sample_limit {
                return error(
                    400,
                    format!("exceeded sample limit ({})", limits.sample_limit),
                );
            }
            result.timeseries.push(TimeSeries {
                labels: with_external(&s.labels, ext),
                samples,
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
        }
        resp.results.push(result);
    }
    match snap::raw::Encoder::new().compress_vec(&resp.encode_to_vec()) {
        Ok(body) => ReadAnswer {
            status: 200,
            content_type: "application/x-protobuf",
            snappy: true,
            body,
        },
        Err(e) => error(500, e.to_string()),
    }
}

/// Appends one frame: uvarint length, big-endian CRC32C, message.
fn frame(out: &mut Vec<u8>, msg: &ChunkedReadResponse) {
    let bytes = msg.encode_to_vec();
    let mut n = bytes.len() as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(&crc32c::crc32c(&bytes).to_be_bytes());
    out.extend_from_slice(&bytes);
}

fn streamed(db: &dyn Queryable, req: &ReadRequest, ext: &Labels, limits: ReadLimits) -> ReadAnswer {
    use tsdb::chunkenc::prom::{encode_xor, SAMPLES_PER_CHUNK};
    let mut out = Vec::new();
    for (qi, q) in req.queries.iter().enumerate() {
        let ms = match matchers(&q.matchers, ext) {
            Ok(m) => m,
            Err(e) => return error(400, e),
        };
        let querier = match db.querier(q.start_timestamp_ms, q.end_timestamp_ms) {
            Ok(q) => q,
            Err(e) => return error(500, e.to_string()),
        };
        let series = match querier.select(&ms) {
            Ok(s) => s,
            Err(e) => return error(500, e.to_string()),
        };
        for mut s in series {
            let samples = s
                .samples
                .collect_between(q.start_timestamp_ms, q.end_timestamp_ms);
            if samples.is_empty() {
                continue;
            }
            let labels = with_external(&s.labels, ext);
            let label_bytes: usize = labels
                .iter()
                .map(|l| l.name.len() + l.value.len() + 4)
                .sum();
            let mut current = ChunkedSeries {
                labels: labels.clone(),
                chunks: Vec::new(),
            };
            let mut budget = limits.max_bytes_in_frame as isize - label_bytes as isize;
            for part in samples.chunks(SAMPLES_PER_CHUNK) {
                let data = encode_xor(part);
                budget -= data.len() as isize + 24;
                current.chunks.push(Chunk {
                    min_time_ms: part[0].0,
                    max_time_ms: part[part.len() - 1].0,
                    r#type: CHUNK_XOR,
                    data,
                });
                if budget <= 0 {
                    frame(
                        &mut out,
                        &ChunkedReadResponse {
                            chunked_series: vec![std::mem::replace(
                                &mut current,
                                ChunkedSeries {
                                    labels: labels.clone(),
                                    chunks: Vec::new(),
                                },
                            )],
                            query_index: qi as i64,
                        },
                    );
                    budget = limits.max_bytes_in_frame as isize - label_bytes as isize;
                }
            }
            if !current.chunks.is_empty() {
                frame(
                    &mut out,
                    &ChunkedReadResponse {
                        chunked_series: vec![current],
                        query_index: qi as i64,
                    },
                );
            }
        }
    }
    ReadAnswer {
        status: 200,
        content_type: STREAMED_CONTENT_TYPE,
        snappy: false,
        body: out,
    }
}
