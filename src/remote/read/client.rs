//! The `remote_read` client: each configured endpoint is asked for the
//! series a query selects, and their samples are merged with the local
//! database's (local samples win at equal timestamps), as Prometheus's
//! fanout storage does.
//!
//! - `read_recent: false` (the default) skips an endpoint for a time range
//!   the local database holds, and asks only for what is older.
//! - `required_matchers`: an endpoint is asked only for selectors with all
//!   these `name="value"` matchers.
//! - `filter_external_labels: true` (the default) adds the external labels
//!   as matchers (names the selector does not match on) and removes them
//!   from the answer.
//! - An endpoint that fails is logged and left out of the answer.

use std::sync::Arc;

use prost::Message as _;
use tsdb::labels::{Labels, MatchOp, Matcher};
use tsdb::read::{Querier, Queryable, ReadError, Sample, SampleIterator as _, Samples, Series};

use super::error::ClientError;
use super::proto::{LabelMatcher, MatchType, Query, ReadRequest, ReadResponse, ResponseType};
use crate::config::remote::RemoteReadConfig;
use common::httpclient::HttpClient;

/// One endpoint.
pub struct RemoteReader {
    cfg: RemoteReadConfig,
    http: HttpClient,
    name: String,
}

impl RemoteReader {
    /// The client of `cfg`.
    pub fn new(
        cfg: &RemoteReadConfig,
        base_dir: &std::path::Path,
    ) -> Result<RemoteReader, ClientError> {
        Ok(RemoteReader {
            http: HttpClient::new(&cfg.http, base_dir, false)?,
            name: cfg.remote_name(),
            cfg: cfg.clone(),
        })
    }

    /// The series matching `matchers` with samples in `[mint, maxt]`.
    async fn read(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<(Labels, Vec<Sample>)>, ClientError> {
        let q = Query {
            start_timestamp_ms: mint,
            end_timestamp_ms: maxt,
            matchers: matchers
                .iter()
                .map(|m| LabelMatcher {
                    r#type: match m.op {
                        MatchOp::Equal => MatchType::Eq,
                        MatchOp::NotEqual => MatchType::Neq,
                        MatchOp::RegexMatch => MatchType::Re,
                        MatchOp::RegexNoMatch => MatchType::Nre,
                    } as i32,
                    name: m.name.clone(),
                    value: m.value.clone(),
                })
                .collect(),
            hints: None,
        };
        let req = ReadRequest {
            queries: vec![q],
            accepted_response_types: vec![
                ResponseType::StreamedXorChunks as i32,
                ResponseType::Samples as i32,
            ],
        };
        let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())?;
        let mut r = self
            .http
            .client()
            .post(&self.cfg.url)
            .timeout(self.cfg.remote_timeout.0)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("Accept-Encoding", "snappy")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .header("User-Agent", concat!("flint/", env!("CARGO_PKG_VERSION")));
        for (k, v) in &self.cfg.headers {
            r = r.header(k.as_str(), v.as_str());
        }
        let resp = self.http.authorize(r).await?.body(body).send().await?;
        let status = resp.status();
        let ct = resp
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_string();
            return Err(ClientError::Status {
                url: crate::config::remote::redact(&self.cfg.url),
                status,
                text: text.trim().to_string(),
            });
        }
        if ct.starts_with("application/x-streamed-protobuf") {
            return parse_streamed(&bytes, self.cfg.chunked_read_limit.unwrap_or(50_000_000));
        }
        if !ct.starts_with("application/x-protobuf") {
            return Err(ClientError::ContentType(ct));
        }
        let raw = crate::remote::decode_snappy(&bytes, 1 << 30)?;
        let rr = ReadResponse::decode(raw.as_slice())?;
        let mut out = Vec::new();
        for result in rr.results {
            for ts in result.timeseries {
                let labels = Labels::new(
                    ts.labels
                        .iter()
                        .map(|l| tsdb::labels::Label::new(l.name.as_str(), l.value.as_str()))
                        .collect(),
                );
                let samples = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
                out.push((labels, samples));
            }
        }
        Ok(out)
    }
}

/// Reads the frames of a streamed answer.
fn parse_streamed(mut b: &[u8], limit: u64) -> Result<Vec<(Labels, Vec<Sample>)>, ClientError> {
    use super::proto::ChunkedReadResponse;
    let mut out: Vec<(Labels, Vec<Sample>)> = Vec::new();
    while !b.is_empty() {
        let mut len = 0u64;
        let mut i = 0;
        loop {
            let byte = *b.get(i).ok_or(ClientError::TruncatedFrameLength)?;
            len |= u64::from(byte & 0x7f) << (7 * i);
            i += 1;
            if byte < 0x80 {
                break;
            }
            if i >= 10 {
                return Err(ClientError::MalformedFrameLength);
            }
        }
        if len > limit {
            return Err(ClientError::FrameTooLarge(limit));
        }
        let crc = u32::from_be_bytes(
            b.get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .ok_or(ClientError::TruncatedFrame)?,
        );
        let msg = b
            .get(i + 4..i + 4 + len as usize)
            .ok_or(ClientError::TruncatedFrame)?;
        if crc32c::crc32c(msg) != crc {
            return Err(ClientError::Checksum);
        }
        b = &b[i + 4 + len as usize..];
        let m = ChunkedReadResponse::decode(msg)?;
        for cs in m.chunked_series {
            let labels = Labels::new(
                cs.labels
                    .iter()
                    .map(|l| tsdb::labels::Label::new(l.name.as_str(), l.value.as_str()))
                    .collect(),
            );
            let mut samples = Vec::new();
            for c in cs.chunks {
                if c.r#type != super::proto::CHUNK_XOR && c.r#type != 0 {
                    return Err(ClientError::ChunkEncoding(c.r#type));
                }
                samples.extend(
                    tsdb::chunkenc::prom::decode_xor(&c.data).ok_or(ClientError::MalformedChunk)?,
                );
            }
            match out.last_mut() {
                Some((l, s)) if *l == labels => s.extend(samples),
                _ => out.push((labels, samples)),
            }
        }
    }
    Ok(out)
}

/// The local database with the `remote_read` endpoints.
pub struct Fanout {
    db: Arc<tsdb::Db>,
    readers: Vec<Arc<RemoteReader>>,
    ext: Labels,
    handle: tokio::runtime::Handle,
}

impl Fanout {
    /// The database and `readers`, with the external labels in force.
    pub fn new(db: Arc<tsdb::Db>, readers: Vec<Arc<RemoteReader>>, ext: Labels) -> Fanout {
        Fanout {
            db,
            readers,
            ext,
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// The oldest timestamp the local database holds.
    fn local_oldest(&self) -> Option<i64> {
        self.db.oldest_time()
    }
}

impl Queryable for Fanout {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, ReadError> {
        Ok(Box::new(FanoutQuerier {
            fanout: self,
            local: self.db.querier(mint, maxt)?,
            mint,
            maxt,
        }))
    }
}

struct FanoutQuerier<'a> {
    fanout: &'a Fanout,
    local: Box<dyn Querier + 'a>,
    mint: i64,
    maxt: i64,
}

impl FanoutQuerier<'_> {
    /// The remote series for `matchers`, merged over every endpoint asked.
    fn remote(&self, matchers: &[Matcher]) -> Vec<(Labels, Vec<Sample>)> {
        let f = self.fanout;
        let mut all: Vec<(Labels, Vec<Sample>)> = Vec::new();
        for r in &f.readers {
            let cfg = &r.cfg;
            // selectors without the required matchers do not go there
            if !cfg.required_matchers.iter().all(|(k, v)| {
                matchers
                    .iter()
                    .any(|m| m.op == MatchOp::Equal && m.name == *k && m.value == *v)
            }) {
                continue;
            }
            let mut maxt = self.maxt;
            if !cfg.read_recent {
                if let Some(oldest) = f.local_oldest() {
                    if self.mint >= oldest {
                        continue;
                    }
                    maxt = maxt.min(oldest - 1);
                }
            }
            let mut ms: Vec<Matcher> = matchers.to_vec();
            let mut strip: Vec<String> = Vec::new();
            if cfg.filter_external_labels {
                for l in f.ext.iter() {
                    if !matchers.iter().any(|m| m.name == l.name) {
                        ms.push(Matcher::equal(l.name.clone(), l.value.clone()));
                        strip.push(l.name.to_string());
                    }
                }
            }
            let got =
                tokio::task::block_in_place(|| f.handle.block_on(r.read(self.mint, maxt, &ms)));
            match got {
                Ok(series) => {
                    for (labels, samples) in series {
                        let labels = if strip.is_empty() {
                            labels
                        } else {
                            let names: Vec<&str> = strip.iter().map(String::as_str).collect();
                            labels.without(&names)
                        };
                        all.push((labels, samples));
                    }
                }
                Err(e) => {
                    tracing::warn!(component = "remote", remote_name = %r.name, err = %e, "Error reading from a remote_read endpoint; answering without it");
                }
            }
        }
        all
    }
}

/// Merges sample lists by timestamp, the first list winning at equal times.
fn merge(first: Vec<Sample>, second: Vec<Sample>) -> Vec<Sample> {
    let mut out = Vec::with_capacity(first.len() + second.len());
    let (mut i, mut j) = (0, 0);
    while i < first.len() || j < second.len() {
        match (first.get(i), second.get(j)) {
            (Some(a), Some(b)) if a.0 < b.0 => {
                out.push(*a);
                i += 1;
            }
            (Some(a), Some(b)) if a.0 > b.0 => {
                out.push(*b);
                j += 1;
            }
            (Some(a), Some(_)) => {
                out.push(*a);
                i += 1;
                j += 1;
            }
            (Some(a), None) => {
                out.push(*a);
                i += 1;
            }
            (None, Some(b)) => {
                out.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

impl FanoutQuerier<'_> {
    /// The local series for `matchers` merged with the `remote` ones.
    fn merged(
        &self,
        matchers: &[Matcher],
        remote: Vec<(Labels, Vec<Sample>)>,
    ) -> Result<Vec<Series<'_>>, ReadError> {
        let local = self.local.select(matchers)?;
        let mut by_labels: std::collections::BTreeMap<Labels, Vec<Sample>> = Default::default();
        for (labels, samples) in remote {
            let e = by_labels.entry(labels).or_default();
            let merged = merge(std::mem::take(e), samples);
            *e = merged;
        }
        for mut s in local {
            let samples = s.samples.collect_between(i64::MIN, i64::MAX);
            let e = by_labels.entry(s.labels).or_default();
            *e = merge(samples, std::mem::take(e));
        }
        Ok(by_labels
            .into_iter()
            .map(|(labels, samples)| Series {
                labels,
                samples: Samples::decoded(samples),
                histograms: Vec::new(),
            })
            .collect())
    }
}

impl Querier for FanoutQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        let remote = self.remote(matchers);
        if remote.is_empty() {
            return self.local.select(matchers);
        }
        self.merged(matchers, remote)
    }

    fn select_lazy(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        let remote = self.remote(matchers);
        if remote.is_empty() {
            return self.local.select_lazy(matchers);
        }
        self.merged(matchers, remote)
    }

    fn select_lazy_unlabelled(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        let remote = self.remote(matchers);
        if remote.is_empty() {
            return self.local.select_lazy_unlabelled(matchers);
        }
        self.merged(matchers, remote)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.local.label_names(matchers)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.local.label_values(name, matchers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_the_first_at_equal_times() {
        assert_eq!(
            merge(
                vec![(1, 1.0), (3, 3.0)],
                vec![(2, 20.0), (3, 30.0), (4, 40.0)]
            ),
            vec![(1, 1.0), (2, 20.0), (3, 3.0), (4, 40.0)]
        );
    }
}
