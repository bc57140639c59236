//! Storing a block chunk against an earlier one ([`crate::chunkenc::ENCODING_DELTA_REF`]).
//!
//! Series are written in label order, so a histogram's buckets follow one
//! another, and a bucket differs from its neighbours by what falls between
//! their bounds: often nothing at all for the buckets above most
//! observations. The writer remembers the delta chunks of the last few
//! series; a chunk with the same timestamps as one of them may be stored as
//! the differences of its mantissas to that chunk's, when that takes at
//! most half its bytes (reading it decodes the other chunk too, which a
//! smaller saving does not pay for). A histogram's `_count`, equal to its
//! `+Inf` bucket but written after all its family's buckets, is stored
//! against that bucket however far back. A chunk is only ever stored
//! against a chunk that stands alone, so reading one costs at most one more
//! chunk.

use std::collections::{HashMap, VecDeque};

use crate::chunkenc::{decode_mantissas, differences_size, encode_differences, mantissas};
use crate::encoding::put_uvarint;
use crate::labels::Labels;

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
    /// is stored against, then the differences. `own` is the chunk's
    /// exponent and its mantissas there, when it has them.
    pub(crate) fn against(
        &self,
        offset: u64,
        samples: &[(i64, f64)],
        own_len: usize,
        own: Option<(u8, &[i64])>,
    ) -> Option<Vec<u8>> {
        if own_len < MIN_BYTES || samples.is_empty() {
            return None;
        }
        let same_times = |c: &Candidate| {
            c.ts.len() == samples.len()
                && c.ts[0] == samples[0].0
                && c.ts.iter().zip(samples).all(|(t, s)| *t == s.0)
        };
        // the mantissas at another exponent than the chunk's own
        let mut at_exp: Option<(u8, Option<Vec<i64>>)> = None;
        let mut best: Option<(usize, &Candidate, Vec<i64>)> = None;
        for c in self.series.iter().rev().flatten().filter(|c| same_times(c)) {
            let ms: &[i64] = match own {
                Some((e, ms)) if e == c.e => ms,
                _ => {
                    if at_exp.as_ref().is_none_or(|(e, _)| *e != c.e) {
                        at_exp = Some((c.e, mantissas(samples, c.e)));
                    }
                    let Some((_, Some(ms))) = &at_exp else {
                        continue;
                    };
                    ms
                }
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
    /// at `offset` with exponent `e`, where its mantissas are `ms`.
    pub(crate) fn remember(&mut self, offset: u64, samples: &[(i64, f64)], e: u8, ms: Vec<i64>) {
        self.current.push(Candidate {
            offset,
            e,
            ts: samples.iter().map(|s| s.0).collect(),
            ms,
        });
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

/// The `+Inf` bucket chunks of the block's classic histograms. A
/// histogram's `_count` equals its `+Inf` bucket, sample for sample, but
/// follows all the buckets of its family in label order, too far for the
/// window: its chunks are looked up here instead, and stored against the
/// bucket's when they are equal (checked on the bytes written).
#[derive(Default)]
pub(crate) struct InfBuckets {
    /// Family and other labels → (offset, mint, count) of each stand-alone
    /// delta chunk of the `+Inf` bucket.
    by_series: HashMap<String, Vec<(u64, i64, u16)>>,
}

/// The key shared by `<family>_bucket{…, le="+Inf"}` and
/// `<family>_count{…}`: the family and the labels but `__name__` and `le`.
fn histogram_key(labels: &Labels, suffix: &str) -> Option<String> {
    let family = labels.get("__name__")?.strip_suffix(suffix)?;
    let mut key = format!("{family}\u{0}");
    for l in labels
        .iter()
        .filter(|l| l.name != "__name__" && l.name != "le")
    {
        key.push_str(&l.name);
        key.push('\u{1}');
        key.push_str(&l.value);
        key.push('\u{0}');
    }
    Some(key)
}

impl InfBuckets {
    /// Whether `labels` are a classic histogram's `+Inf` bucket's.
    pub(crate) fn is_inf_bucket(labels: &Labels) -> bool {
        labels.get("le") == Some("+Inf")
            && labels
                .get("__name__")
                .is_some_and(|n| n.ends_with("_bucket"))
    }

    /// Remembers a stand-alone delta chunk written at `offset`, if
    /// `labels` are a `+Inf` bucket's.
    pub(crate) fn remember(&mut self, labels: &Labels, offset: u64, mint: i64, count: u16) {
        if !Self::is_inf_bucket(labels) {
            return;
        }
        if let Some(key) = histogram_key(labels, "_bucket") {
            self.by_series
                .entry(key)
                .or_default()
                .push((offset, mint, count));
        }
    }

    /// The offsets of the `+Inf` bucket chunks that a chunk of `labels`
    /// starting at `mint` with `count` samples may equal: some only if
    /// `labels` are a `_count`'s.
    pub(crate) fn candidates(&self, labels: &Labels, mint: i64, count: u16) -> Vec<u64> {
        if labels.get("le").is_some() {
            return Vec::new();
        }
        let Some(key) = histogram_key(labels, "_count") else {
            return Vec::new();
        };
        self.by_series.get(&key).map_or_else(Vec::new, |cs| {
            cs.iter()
                .filter(|c| c.1 == mint && c.2 == count)
                .map(|c| c.0)
                .collect()
        })
    }
}

/// The data of a [`crate::chunkenc::ENCODING_DELTA_REF`] record for
/// `samples`, written at `offset`, stored against the second-layout chunk
/// `base` (its data, written at `base_offset`) if their samples are equal:
/// all differences 0.
pub(crate) fn against_equal(
    offset: u64,
    samples: &[(i64, f64)],
    base_offset: u64,
    base: &[u8],
) -> Option<Vec<u8>> {
    let (e, ts, ms) = decode_mantissas(base, samples.len() as u16);
    let mine = mantissas(samples, e)?;
    let equal =
        ts.len() == samples.len() && ts.iter().zip(samples).all(|(t, s)| *t == s.0) && mine == ms;
    if !equal {
        return None;
    }
    let mut data = Vec::new();
    put_uvarint(&mut data, offset.checked_sub(base_offset)?);
    encode_differences(&vec![0; samples.len()], e, &mut data);
    Some(data)
}
