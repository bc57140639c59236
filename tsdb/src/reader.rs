//! One reader interface for the parts of the database a query reads: the
//! head and each block. A [`Reader`] finds series by matchers through its
//! index (postings), answers label-name and label-value questions, and
//! hands over each selected series' chunks overlapping a time range, not
//! decoded yet; its native histograms come through a [`HistogramReader`].
//! The database's querier (`querier.rs`) merges any number of readers the
//! same way, whatever they are.

use crate::chunkenc::ChunkIter;
use crate::head::ChunkCopies;
use crate::labels::{Labels, Matcher};
use crate::packed::PackedLabels;
use crate::read::{HistogramSample, Sample};
use crate::Error;

/// A chunk mapped from a block's file: its decoder and sample count.
pub(crate) struct MappedChunk<'a> {
    pub it: ChunkIter<'a>,
    pub count: u16,
}

/// One series' chunks in one reader overlapping the selected range, before
/// decoding. Each chunk may hold samples outside the range.
pub(crate) enum Chunks<'a> {
    /// A block's chunks, read in place from its mapped file.
    Mapped(Vec<MappedChunk<'a>>),
    /// Copies of head chunks, taken under the series lock.
    Copied(ChunkCopies),
    /// A few samples decoded at once (already within the range): smaller
    /// than their chunk copies, which matters when a query meets a
    /// million short series.
    Decoded(Vec<Sample>),
}

impl Chunks<'_> {
    /// Samples in the chunks (an upper bound of those in range).
    pub(crate) fn count(&self) -> usize {
        match self {
            Chunks::Mapped(c) => c.iter().map(|c| c.count as usize).sum(),
            Chunks::Copied(c) => c.iter().map(|c| c.count as usize).sum(),
            Chunks::Decoded(v) => v.len(),
        }
    }
}

/// The index and chunks of one part of the database.
pub(crate) trait Reader: Sync {
    /// Whether the reader holds data in `[mint, maxt]`. Label questions
    /// are answered from a whole reader that does, as Prometheus answers
    /// them from whole blocks and the whole head.
    fn overlaps(&self, mint: i64, maxt: i64) -> bool;

    /// The series matching all `matchers` (an absent label matching as the
    /// empty string), in label order, each once, with their chunks that
    /// overlap `[mint, maxt]`; series with no such chunk are left out.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Chunks<'_>)>, Error>;

    /// Label sets of the series [`Reader::select`] would give, without
    /// their chunks, packed (one allocation each: most of them are the
    /// same in every reader, and only the union is unpacked).
    fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<PackedLabels>, Error>;

    /// Sorted, unique label names of the series matching all `matchers`
    /// (of all series when empty).
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error>;

    /// Sorted, unique values of label `name` among the series matching
    /// all `matchers` (all series when empty).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error>;

    /// The reader's native histograms, when it holds any.
    fn histograms(&self) -> Option<&dyn HistogramReader>;
}

/// Native histogram series of one reader.
pub(crate) trait HistogramReader {
    /// The samples in `[mint, maxt]` of the series matching all
    /// `matchers`, in label order (series without any left out).
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<HistogramSample>)>, Error>;

    /// Label sets of the series with a chunk overlapping `[mint, maxt]`
    /// matching all `matchers`, in label order.
    fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels>;
}

/// Sorted, unique strings.
pub(crate) fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

impl HistogramReader for crate::histstore::HistStore {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<HistogramSample>)>, Error> {
        crate::histstore::HistStore::select(self, matchers, mint, maxt)
    }

    fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        crate::histstore::HistStore::series(self, matchers, mint, maxt)
    }
}
