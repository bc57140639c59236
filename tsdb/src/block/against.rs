//! Storing a block chunk against an earlier one ([`crate::chunkenc::ENCODING_DELTA_REF`]).
//!
//! Series are written in label order, so a histogram's buckets follow one
//! another, and a bucket differs from its neighbours by what falls between
//! their bounds: often nothing at all for the buckets above most
//! observations. The writer remembers the delta chunks of the last few
//! series; a chunk with the same timestamps as one of them may be stored as
//! the differences of its mantissas to that chunk's, when that takes at
//! most half its bytes (reading it decodes the other chunk too, which a
//! smaller saving does not pay for). A chunk is only ever stored against a
//! chunk that stands alone, so reading one costs at most one more chunk.

use std::collections::VecDeque;

use crate::chunkenc::{differences_size, encode_differences, mantissas};
use crate::encoding::put_uvarint;

/// How many earlier series' chunks are candidates (so a reader looks no
/// further back for the chunk a chunk is stored against).
pub(crate) const SERIES_WINDOW: usize = 8;

/// Chunks smaller than this are stored as they are: a reference and its
/// framing would take most of what they could save.
const MIN_BYTES: usize = 24;

/// A stand-alone delta chunk already written.
struct Candidate {
    /// Byte offset of its record in the `chunks` file.
    offset: u64,
    /// Its decimal exponent.
    e: u8,
    ts: Vec<i64>,
    ms: Vec<i64>,
}

/// The delta chunks of the last [`SERIES_WINDOW`] series written.
#[derive(Default)]
pub(crate) struct Window {
    series: VecDeque<Vec<Candidate>>,
    current: Vec<Candidate>,
}

impl Window {
    /// The data of a [`crate::chunkenc::ENCODING_DELTA_REF`] record for `samples`, to be
    /// written at `offset`, if one takes at most half of `own_len` bytes
    /// (the chunk's data standing alone): the distance back to the chunk it
    /// is stored against, then the differences.
    pub(crate) fn against(
        &self,
        offset: u64,
        samples: &[(i64, f64)],
        own_len: usize,
    ) -> Option<Vec<u8>> {
        if own_len < MIN_BYTES || samples.is_empty() {
            return None;
        }
        let same_times = |c: &Candidate| {
            c.ts.len() == samples.len()
                && c.ts[0] == samples[0].0
                && c.ts.iter().zip(samples).all(|(t, s)| *t == s.0)
        };
        let mut at_exp: Option<(u8, Option<Vec<i64>>)> = None;
        let mut best: Option<(usize, &Candidate, Vec<i64>)> = None;
        for c in self.series.iter().rev().flatten().filter(|c| same_times(c)) {
            if at_exp.as_ref().is_none_or(|(e, _)| *e != c.e) {
                at_exp = Some((c.e, mantissas(samples, c.e)));
            }
            let Some((_, Some(ms))) = &at_exp else {
                continue;
            };
            let diffs: Option<Vec<i64>> = ms
                .iter()
                .zip(&c.ms)
                .map(|(m, b)| m.checked_sub(*b))
                .collect();
            let Some(diffs) = diffs else { continue };
            let size = differences_size(&diffs);
            if best.as_ref().is_none_or(|b| size < b.0) {
                best = Some((size, c, diffs));
            }
        }
        let (size, c, diffs) = best?;
        if (size + 3) * 2 > own_len {
            return None;
        }
        let mut data = Vec::with_capacity(size + 8);
        put_uvarint(&mut data, offset - c.offset);
        encode_differences(&diffs, c.e, &mut data);
        (data.len() * 2 <= own_len).then_some(data)
    }

    /// Remembers a stand-alone delta chunk of the current series, written
    /// at `offset` with exponent `e`.
    pub(crate) fn remember(&mut self, offset: u64, samples: &[(i64, f64)], e: u8) {
        if let Some(ms) = mantissas(samples, e) {
            self.current.push(Candidate {
                offset,
                e,
                ts: samples.iter().map(|s| s.0).collect(),
                ms,
            });
        }
    }

    /// Ends the current series: its chunks become candidates, and the
    /// oldest series' chunks stop being.
    pub(crate) fn end_series(&mut self) {
        if self.series.len() == SERIES_WINDOW {
            self.series.pop_front();
        }
        self.series.push_back(std::mem::take(&mut self.current));
    }
}
