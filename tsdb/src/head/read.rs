//! Reading the head: its [`Reader`] over the postings, the series and
//! copies of their chunks.

use std::sync::atomic::Ordering;
use std::sync::Arc;

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
    /// The chunks of one series that overlap `[mint, maxt]`, read under
    /// its lock: up to [`DECODE_AT_ONCE`] samples decoded there and then
    /// (within the range; through a buffer on the stack), more as copies
    /// to decode later. `None` when no chunk overlaps or none could be
    /// read.
    pub(crate) fn chunks_in(&self, s: &MemSeries, mint: i64, maxt: i64) -> Option<Chunks<'_>> {
        let st = s.state.lock();
        // closed chunks are in time order; skip those entirely before mint
        let first = st.closed.partition_point(|c| c.maxt < mint);
        let last = st.closed.partition_point(|c| c.mint <= maxt).max(first);
        let open = st.open.as_ref().map(|o| o.meta());
        let overlapping = || {
            st.closed[first..last]
                .iter()
                .chain(open.as_ref())
                .filter(|c| c.maxt >= mint && c.mint <= maxt && c.count > 0)
        };
        let (chunks, samples) =
            overlapping().fold((0, 0), |(n, k), c| (n + 1, k + c.count as usize));
        if chunks == 0 {
            return None;
        }
        let mut data = [0u8; DATA_SIZE];
        if samples <= DECODE_AT_ONCE {
            let mut out = Vec::with_capacity(samples);
            let mut read = false;
            for c in overlapping() {
                if self.read_chunk(c, &mut data) {
                    read = true;
                    ChunkIter::new(c.encoding, &data, c.count, c.bit_len as usize)
                        .decode_into(mint, maxt, &mut out);
                }
            }
            return read.then_some(Chunks::Decoded(out));
        }
        // sized exactly: a query over a million series holds all of these
        let mut copies: ChunkCopies = Vec::with_capacity(chunks);
        for c in overlapping() {
            if self.read_chunk(c, &mut data) {
                copies.push(ChunkCopy {
                    data,
                    count: c.count,
                    bit_len: c.bit_len,
                    encoding: c.encoding,
                });
            }
        }
        (!copies.is_empty()).then_some(Chunks::Copied(copies))
    }

    /// Decodes chunk copies, appending the samples within `[mint, maxt]`
    /// to `out`.
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

    /// The chunks [`Reader::select`] gives, in the same order, without
    /// the series' labels (unpacking them is most of the work of selecting
    /// many series whose few samples are all a query reads).
    pub(crate) fn select_unlabelled(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<Chunks<'_>> {
        self.matching(matchers)
            .into_iter()
            .filter_map(|s| self.chunks_in(&s, mint, maxt))
            .collect()
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
                let chunks = self.chunks_in(&s, mint, maxt)?;
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
