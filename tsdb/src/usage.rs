//! Bytes on disk by metric name: which metrics cost the most storage.
//!
//! Computed on request from what is already at hand, without decoding a
//! sample: a block's series records and the headers of their chunk
//! records, the head's chunk list of each series, the histogram store's
//! chunk list. What is counted:
//!
//! - blocks: each series' chunk records in `chunks` (header, data, CRC).
//!   The index is left out (its symbols and postings are shared between
//!   series), as are `meta.json` and the `chunks` file header, so the
//!   metrics' block bytes add up to the `chunks` files less 8 bytes each;
//! - head: a chunk in a slot counts the slot's 40-byte header and the
//!   data bytes used so far (not the slot's unused rest), a chunk in the
//!   closed-chunk log its record; the series log is left out;
//! - native histograms: the records of closed chunks in the range files,
//!   the encoded bytes of each open chunk, and in a block's `histograms`
//!   file each chunk's bytes plus 8 (its times, count and length; the
//!   series' labels, written once, are left out).
//!
//! A series counts once however many blocks, and the head, hold it (label
//! sets are told apart by their 64-bit hash).
//!
//! A block of 200,000 series (500 metric names, two chunks each) takes
//! about 50 ms in a release build.

use std::collections::{HashMap, HashSet};

use crate::{Db, Error};

/// The bytes on disk the series of one metric name take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricBytes {
    /// The metric name (`__name__`).
    pub name: String,
    /// Series of that name in the blocks, the head or the histogram
    /// store, each counted once.
    pub series: u64,
    /// Bytes of their chunk records in the blocks.
    pub block_bytes: u64,
    /// Bytes of their head chunks (slots and closed-chunk log).
    pub head_bytes: u64,
    /// Bytes of their native histogram chunks.
    pub histogram_bytes: u64,
}

impl MetricBytes {
    /// All their bytes: blocks, head and histograms.
    pub fn total(&self) -> u64 {
        self.block_bytes + self.head_bytes + self.histogram_bytes
    }
}

#[derive(Default)]
struct Acc {
    series: HashSet<u64>,
    bytes: [u64; 3],
}

/// Sums by metric name, allocating a name only the first time it is seen.
#[derive(Default)]
struct Tally(HashMap<String, Acc>);

impl Tally {
    fn add(&mut self, kind: usize, name: &str, hash: u64, bytes: u64) {
        let acc = match self.0.get_mut(name) {
            Some(a) => a,
            None => self.0.entry(name.to_string()).or_default(),
        };
        acc.series.insert(hash);
        acc.bytes[kind] += bytes;
    }
}

impl Db {
    /// The `limit` metric names whose series take the most bytes on disk
    /// (all of them when `limit` is 0), largest total first (ties by
    /// name). See the module documentation for what is counted. Costs a
    /// pass over every block's series records and chunk headers and over
    /// the head's series; no sample is decoded.
    pub fn bytes_by_metric(&self, limit: usize) -> Result<Vec<MetricBytes>, Error> {
        let mut tally = Tally::default();
        let blocks = self.blocks.read().clone();
        for b in &blocks {
            b.chunk_bytes_by_metric(&mut |name, hash, bytes| tally.add(0, name, hash, bytes))?;
            if let Some(h) = b.histograms() {
                h.bytes_by_metric(&mut |name, hash, bytes| tally.add(2, name, hash, bytes));
            }
        }
        self.head
            .chunk_bytes_by_metric(&mut |name, hash, bytes| tally.add(1, name, hash, bytes));
        self.head
            .hist
            .bytes_by_metric(&mut |name, hash, bytes| tally.add(2, name, hash, bytes));
        let mut out: Vec<MetricBytes> = tally
            .0
            .into_iter()
            .map(|(name, a)| MetricBytes {
                name,
                series: a.series.len() as u64,
                block_bytes: a.bytes[0],
                head_bytes: a.bytes[1],
                histogram_bytes: a.bytes[2],
            })
            .collect();
        out.sort_unstable_by(|a, b| b.total().cmp(&a.total()).then_with(|| a.name.cmp(&b.name)));
        if limit > 0 {
            out.truncate(limit);
        }
        Ok(out)
    }
}
