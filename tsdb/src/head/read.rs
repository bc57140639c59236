//! Reading the head: the [`crate::read::Querier`] over series and chunks.

use super::ChunkMeta;
use super::{Head, MemSeries};
use crate::chunkenc::ChunkIter;
use crate::chunks::DATA_SIZE;
use crate::labels::{Labels, Matcher};
use crate::read::{Querier, ReadError, Sample, Series, VecIterator};

pub(crate) struct HeadQuerier<'a> {
    pub(crate) head: &'a Head,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
}

/// A copy of a head chunk's bytes, taken under the series lock to decode
/// outside it.
pub(crate) struct ChunkCopy {
    pub data: [u8; DATA_SIZE],
    pub count: u16,
    pub bit_len: u16,
    pub encoding: u8,
}

impl ChunkCopy {
    /// The chunk's samples.
    pub(crate) fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(self.encoding, &self.data, self.count, self.bit_len as usize)
    }
}

/// Copies of a series' chunks overlapping a time range.
pub(crate) type ChunkCopies = Vec<ChunkCopy>;

impl Head {
    /// Copies of the chunks of one series that overlap `[mint, maxt]`.
    pub(crate) fn chunk_copies(&self, s: &MemSeries, mint: i64, maxt: i64) -> ChunkCopies {
        let st = s.state.lock();
        // closed chunks are in time order; skip those entirely before mint
        let first = st.closed.partition_point(|c| c.maxt < mint);
        let last = st.closed.partition_point(|c| c.mint <= maxt).max(first);
        // sized exactly: a query over a million series holds all of these
        let mut copies: ChunkCopies =
            Vec::with_capacity(last - first + usize::from(st.open.is_some()));
        let mut take = |c: &ChunkMeta| {
            if c.maxt < mint || c.mint > maxt || c.count == 0 {
                return;
            }
            let mut data = [0u8; DATA_SIZE];
            if self.read_chunk(c, &mut data) {
                copies.push(ChunkCopy {
                    data,
                    count: c.count,
                    bit_len: c.bit_len,
                    encoding: c.encoding,
                });
            }
        };
        for c in &st.closed[first..last] {
            take(c);
        }
        if let Some(o) = &st.open {
            take(&o.meta());
        }
        copies
    }

    /// Decodes chunk copies, keeping the samples within `[mint, maxt]`.
    pub(crate) fn decode_copies(copies: &ChunkCopies, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut out = Vec::with_capacity(copies.iter().map(|c| c.count as usize).sum());
        Self::decode_copies_into(copies, mint, maxt, &mut out);
        out
    }

    /// [`Head::decode_copies`], appending to `out`.
    pub(crate) fn decode_copies_into(
        copies: &ChunkCopies,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) {
        for c in copies {
            c.iter().decode_into(mint, maxt, out);
        }
    }

    /// Samples of one series within `[mint, maxt]`.
    pub(crate) fn samples(&self, s: &MemSeries, mint: i64, maxt: i64) -> Vec<Sample> {
        // copy the chunk bytes under the series lock, decode outside it
        let copies = self.chunk_copies(s, mint, maxt);
        Self::decode_copies(&copies, mint, maxt)
    }

    pub(crate) fn matching(&self, matchers: &[Matcher]) -> Vec<std::sync::Arc<MemSeries>> {
        let ids = self.postings.read().candidates(matchers);
        let mut series: Vec<_> = self
            .series_for(&ids)
            .into_iter()
            .filter(|s| s.labels.matches_all(matchers))
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        series
    }
}

impl Head {
    /// Whether any chunk of the series overlaps `[mint, maxt]`.
    fn overlaps(s: &MemSeries, mint: i64, maxt: i64) -> bool {
        let st = s.state.lock();
        st.open
            .as_ref()
            .is_some_and(|o| o.count > 0 && o.mint <= maxt && o.maxt >= mint)
            || st.closed.iter().any(|c| c.mint <= maxt && c.maxt >= mint)
    }
}

impl HeadQuerier<'_> {
    /// Whether the querier's range meets the head's data at all; label
    /// lookups answer from the whole head when it does, as Prometheus's.
    fn overlaps_head(&self) -> bool {
        use std::sync::atomic::Ordering;
        let (min, max) = (
            self.head.min_time.load(Ordering::Relaxed),
            self.head.max_time.load(Ordering::Relaxed),
        );
        min <= max && min <= self.maxt && max >= self.mint
    }
}

impl Querier for HeadQuerier<'_> {
    fn series_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, ReadError> {
        Ok(self
            .head
            .matching(matchers)
            .into_iter()
            .filter(|s| Head::overlaps(s, self.mint, self.maxt))
            .map(|s| s.labels.to_labels())
            .collect())
    }

    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        Ok(self
            .head
            .matching(matchers)
            .into_iter()
            .filter_map(|s| {
                let samples = self.head.samples(&s, self.mint, self.maxt);
                if samples.is_empty() {
                    return None;
                }
                Some(Series {
                    labels: s.labels.to_labels(),
                    samples: Box::new(VecIterator::new(samples)),
                    histograms: Vec::new(),
                })
            })
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        if !self.overlaps_head() {
            return Ok(Vec::new());
        }
        if matchers.is_empty() {
            return Ok(self.head.postings.read().label_names());
        }
        let mut names: Vec<String> = self
            .head
            .matching(matchers)
            .iter()
            .flat_map(|s| {
                s.labels
                    .iter()
                    .map(|(n, _)| n.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        if !self.overlaps_head() {
            return Ok(Vec::new());
        }
        if matchers.is_empty() {
            return Ok(self.head.postings.read().label_values(name));
        }
        let mut values: Vec<String> = self
            .head
            .matching(matchers)
            .iter()
            .filter_map(|s| s.labels.get(name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}
