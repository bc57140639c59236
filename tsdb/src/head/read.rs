//! Reading the head: its [`Reader`] over the postings, the series and
//! copies of their chunks.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::ChunkMeta;
use super::{Head, MemSeries};
use crate::chunkenc::ChunkIter;
use crate::chunks::DATA_SIZE;
use crate::labels::{Labels, Matcher};
use crate::packed::{sort_by_packed, PackedLabels};
use crate::read::Sample;
use crate::reader::{sorted_unique, Chunks, HistogramReader, Reader};
use crate::Error;

/// Most head samples of a series decoded as soon as they are copied.
const DECODE_AT_ONCE: usize = 32;

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
    fn decode_copies(copies: &ChunkCopies, mint: i64, maxt: i64) -> Vec<Sample> {
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

    /// The series matching all `matchers`, in label order.
    pub(crate) fn matching(&self, matchers: &[Matcher]) -> Vec<Arc<MemSeries>> {
        let ids = self.postings.read().candidates(matchers);
        let series: Vec<_> = self
            .series_for(&ids)
            .into_iter()
            .filter(|s| s.labels.matches_all(matchers))
            .collect();
        // each label set is one series of the head
        sort_by_packed(series, |s| &s.labels)
    }

    /// Whether any chunk of the series overlaps `[mint, maxt]`.
    fn series_overlaps(s: &MemSeries, mint: i64, maxt: i64) -> bool {
        let st = s.state.lock();
        st.open
            .as_ref()
            .is_some_and(|o| o.count > 0 && o.mint <= maxt && o.maxt >= mint)
            || st.closed.iter().any(|c| c.mint <= maxt && c.maxt >= mint)
    }
}

impl Reader for Head {
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let (min, max) = (
            self.min_time.load(Ordering::Relaxed),
            self.max_time.load(Ordering::Relaxed),
        );
        min <= max && min <= maxt && max >= mint
    }

    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Chunks<'_>)>, Error> {
        Ok(self
            .matching(matchers)
            .into_iter()
            .filter_map(|s| {
                let copies = self.chunk_copies(&s, mint, maxt);
                let chunks = if copies.is_empty() {
                    return None;
                } else if copies.iter().map(|c| c.count as usize).sum::<usize>() <= DECODE_AT_ONCE {
                    Chunks::Decoded(Self::decode_copies(&copies, mint, maxt))
                } else {
                    Chunks::Copied(copies)
                };
                Some((s.labels.to_labels(), chunks))
            })
            .collect())
    }

    fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<PackedLabels>, Error> {
        Ok(self
            .matching(matchers)
            .into_iter()
            .filter(|s| Head::series_overlaps(s, mint, maxt))
            .map(|s| s.labels.clone())
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        if matchers.is_empty() {
            return Ok(self.postings.read().label_names());
        }
        let names = self
            .matching(matchers)
            .iter()
            .flat_map(|s| {
                s.labels
                    .iter()
                    .map(|(n, _)| n.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(sorted_unique(names))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        if matchers.is_empty() {
            return Ok(self.postings.read().label_values(name));
        }
        let values = self
            .matching(matchers)
            .iter()
            .filter_map(|s| s.labels.get(name).map(str::to_string))
            .collect();
        Ok(sorted_unique(values))
    }

    fn histograms(&self) -> Option<&dyn HistogramReader> {
        Some(&self.hist)
    }
}
