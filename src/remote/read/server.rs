//! `POST /api/v1/read`: answers remote read requests (Prometheus, Thanos
//! sidecar, vmctl) from the database, as Prometheus does.
//!
//! - The answer type is the first of the request's accepted types flint
//!   has (`SAMPLES` when none is listed): `SAMPLES` is one snappy
//!   `ReadResponse`; `STREAMED_XOR_CHUNKS` is a sequence of frames (uvarint
//!   length, big-endian CRC32C of the message, a `ChunkedReadResponse`),
//!   one series per frame or several frames per series, series in label
//!   order, each frame at most about `--storage.remote.read-max-bytes-in-frame`,
//!   made and handed on one at a time as the series are read
//!   ([`StreamedRead::frames`]), so the answer is never held whole.
//! - External labels are added to the series answered (a stored label of
//!   the same name wins), and an `=` matcher on an external label's value
//!   matches the series stored without it.
//! - `--storage.remote.read-sample-limit` caps a `SAMPLES` answer's samples
//!   per query (400 `exceeded sample limit (N)`).
//! - The request's `Content-Type` is not checked (vmctl sends the streamed
//!   answer's type).

use prost::Message as _;
use tsdb::labels::{Label as TsdbLabel, Labels, MatchOp, Matcher};
use tsdb::read::{Queryable, ReadError, SampleIterator as _};

use super::error::MatcherError;
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

fn matchers(list: &[LabelMatcher], ext: &Labels) -> Result<Vec<Matcher>, MatcherError> {
    list.iter()
        .map(|m| {
            let op = match MatchType::try_from(m.r#type) {
                Ok(MatchType::Eq) => MatchOp::Equal,
                Ok(MatchType::Neq) => MatchOp::NotEqual,
                Ok(MatchType::Re) => MatchOp::RegexMatch,
                Ok(MatchType::Nre) => MatchOp::RegexNoMatch,
                Err(_) => return Err(MatcherError::Type(m.r#type)),
            };
            // the database stores series without the external labels
            let value = if op == MatchOp::Equal && ext.get(&m.name) == Some(m.value.as_str()) {
                String::new()
            } else {
                m.value.clone()
            };
            Ok(Matcher::new(op, m.name.clone(), value)?)
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

/// What to answer: a whole answer, or a streamed one to make frame by
/// frame.
pub enum Answer {
    /// The answer, whole (`SAMPLES`, or an error).
    Whole(ReadAnswer),
    /// A checked `STREAMED_XOR_CHUNKS` request.
    Streamed(StreamedRead),
}

/// A `STREAMED_XOR_CHUNKS` request whose matchers were checked.
pub struct StreamedRead {
    req: ReadRequest,
    /// Each query's matchers.
    matchers: Vec<Vec<Matcher>>,
    ext: Labels,
    limits: ReadLimits,
}

/// Answers one remote read request body.
pub fn handle(db: &dyn Queryable, body: &[u8], ext: &Labels, limits: ReadLimits) -> Answer {
    let raw = match crate::remote::decode_snappy(body, limits.max_request_bytes) {
        Ok(r) => r,
        Err(e) => return Answer::Whole(error(400, e.to_string())),
    };
    let req = match ReadRequest::decode(raw.as_slice()) {
        Ok(r) => r,
        Err(e) => return Answer::Whole(error(400, e.to_string())),
    };
    let kind = if req.accepted_response_types.is_empty() {
        Some(ResponseType::Samples)
    } else {
        req.accepted_response_types
            .iter()
            .find_map(|t| ResponseType::try_from(*t).ok())
    };
    let Some(kind) = kind else {
        return Answer::Whole(error(
            400,
            format!(
                "server does not support any of the requested response types: {:?}",
                req.accepted_response_types
            ),
        ));
    };
    match kind {
        ResponseType::Samples => Answer::Whole(samples(db, &req, ext, limits)),
        ResponseType::StreamedXorChunks => {
            // every query's matchers before the first frame: a bad one is
            // still a 400
            let matchers = match req
                .queries
                .iter()
                .map(|q| matchers(&q.matchers, ext))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(m) => m,
                Err(e) => return Answer::Whole(error(400, e.to_string())),
            };
            Answer::Streamed(StreamedRead {
                req,
                matchers,
                ext: ext.clone(),
                limits,
            })
        }
    }
}

fn samples(db: &dyn Queryable, req: &ReadRequest, ext: &Labels, limits: ReadLimits) -> ReadAnswer {
    let mut resp = ReadResponse::default();
    for q in &req.queries {
        let ms = match matchers(&q.matchers, ext) {
            Ok(m) => m,
            Err(e) => return error(400, e.to_string()),
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

/// One frame: uvarint length, big-endian CRC32C, message.
fn frame(msg: &ChunkedReadResponse) -> Vec<u8> {
    let bytes = msg.encode_to_vec();
    let mut out = Vec::with_capacity(bytes.len() + 14);
    let mut n = bytes.len() as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(&crc32c::crc32c(&bytes).to_be_bytes());
    out.extend_from_slice(&bytes);
    out
}

impl StreamedRead {
    /// Makes the answer's frames in order, handing each to `sink` as soon
    /// as it is made; one series' samples are read at a time. Stops early
    /// when `sink` says no (the client went away). A database error is
    /// returned as it happens, frames before it having been handed on.
    pub fn frames(
        &self,
        db: &dyn Queryable,
        sink: &mut dyn FnMut(Vec<u8>) -> bool,
    ) -> Result<(), ReadError> {
        use tsdb::chunkenc::prom::{encode_xor, SAMPLES_PER_CHUNK};
        let (ext, max_bytes) = (&self.ext, self.limits.max_bytes_in_frame as isize);
        for (qi, (q, ms)) in self.req.queries.iter().zip(&self.matchers).enumerate() {
            let querier = db.querier(q.start_timestamp_ms, q.end_timestamp_ms)?;
            let series = querier.select_lazy(ms)?;
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
                let mut budget = max_bytes - label_bytes as isize;
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
                        let full = std::mem::replace(
                            &mut current,
                            ChunkedSeries {
                                labels: labels.clone(),
                                chunks: Vec::new(),
                            },
                        );
                        let f = frame(&ChunkedReadResponse {
                            chunked_series: vec![full],
                            query_index: qi as i64,
                        });
                        if !sink(f) {
                            return Ok(());
                        }
                        budget = max_bytes - label_bytes as isize;
                    }
                }
                if !current.chunks.is_empty() {
                    let f = frame(&ChunkedReadResponse {
                        chunked_series: vec![current],
                        query_index: qi as i64,
                    });
                    if !sink(f) {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::{LabelMatcher, Query};
    use super::*;

    /// A store of `n` series of 1000 samples each, and a streamed request
    /// for all of them.
    fn setup(n: usize) -> (tsdb::read::MemQueryable, Vec<u8>) {
        let mut db = tsdb::read::MemQueryable::new();
        for i in 0..n {
            let l = Labels::from_pairs(&[("__name__", "m"), ("i", &format!("{i:03}"))]);
            for t in 0..1000i64 {
                db.add(&l, t * 1000, (i as i64 * t) as f64);
            }
        }
        let req = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: 1_000_000,
                matchers: vec![LabelMatcher {
                    r#type: 0,
                    name: "__name__".into(),
                    value: "m".into(),
                }],
                hints: None,
            }],
            accepted_response_types: vec![ResponseType::StreamedXorChunks as i32],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap();
        (db, body)
    }

    fn limits() -> ReadLimits {
        ReadLimits {
            sample_limit: 0,
            max_bytes_in_frame: 1024,
            max_request_bytes: 1 << 20,
        }
    }

    fn decode(f: &[u8]) -> ChunkedReadResponse {
        let (mut len, mut i) = (0usize, 0);
        loop {
            len |= ((f[i] & 0x7f) as usize) << (7 * i);
            i += 1;
            if f[i - 1] < 0x80 {
                break;
            }
        }
        assert_eq!(f.len(), i + 4 + len, "one frame");
        let msg = &f[i + 4..];
        assert_eq!(crc32c::crc32c(msg).to_be_bytes(), f[i..i + 4]);
        ChunkedReadResponse::decode(msg).unwrap()
    }

    #[test]
    fn frames_are_handed_on_one_by_one_in_series_order() {
        let (db, body) = setup(3);
        let Answer::Streamed(s) = handle(&db, &body, &Labels::default(), limits()) else {
            panic!("not streamed");
        };
        let mut frames = Vec::new();
        s.frames(&db, &mut |f| {
            frames.push(f);
            true
        })
        .unwrap();
        // 1000 samples in chunks of 120, about 1 KiB a frame: several
        // frames per series, each a message of its own
        assert!(frames.len() > 3, "{}", frames.len());
        let mut samples = Vec::new();
        let mut order = Vec::new();
        for f in &frames {
            let m = decode(f);
            assert_eq!(m.chunked_series.len(), 1);
            let cs = &m.chunked_series[0];
            let i = cs
                .labels
                .iter()
                .find(|l| l.name == "i")
                .unwrap()
                .value
                .clone();
            if order.last() != Some(&i) {
                order.push(i.clone());
            }
            for c in &cs.chunks {
                for (t, v) in tsdb::chunkenc::prom::decode_xor(&c.data).unwrap() {
                    samples.push((i.clone(), t, v));
                }
            }
        }
        assert_eq!(order, ["000", "001", "002"]);
        assert_eq!(samples.len(), 3000);
        assert_eq!(samples[1999], ("001".to_string(), 999_000, 999.0));
    }

    #[test]
    fn a_sink_that_says_no_stops_the_making() {
        let (db, body) = setup(50);
        let Answer::Streamed(s) = handle(&db, &body, &Labels::default(), limits()) else {
            panic!("not streamed");
        };
        let mut made = 0;
        s.frames(&db, &mut |_| {
            made += 1;
            made < 2
        })
        .unwrap();
        assert_eq!(made, 2);
    }

    #[test]
    fn a_bad_matcher_of_any_query_is_a_400_before_any_frame() {
        let (db, _) = setup(1);
        let q = |value: &str| Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 1,
            matchers: vec![LabelMatcher {
                r#type: 2,
                name: "__name__".into(),
                value: value.into(),
            }],
            hints: None,
        };
        let req = ReadRequest {
            queries: vec![q("m"), q("(")],
            accepted_response_types: vec![ResponseType::StreamedXorChunks as i32],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap();
        match handle(&db, &body, &Labels::default(), limits()) {
            Answer::Whole(a) => assert_eq!(a.status, 400),
            Answer::Streamed(_) => panic!("streamed"),
        }
    }
}
