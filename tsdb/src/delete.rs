//! Deleting series data by matchers and time range, at once: blocks
//! holding matching data (float samples or native histograms) are
//! rewritten without it, the head re-encodes the affected chunks of its
//! matching series without the deleted samples (`head/delete.rs`), and
//! the histogram store its chunks (`histstore/delete.rs`). There are no
//! tombstones left to clean afterwards.
//!
//! A rewritten block takes the level above the one it replaces with the
//! same sources, so if the process stops before the old block is deleted,
//! the next open deletes it as superseded.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::block::{self, Block};
use crate::chunkenc::ChunkIter;
use crate::db::Db;
use crate::labels::{Labels, Matcher};
use crate::Error;

/// What a deletion removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteReport {
    /// Blocks rewritten.
    pub blocks_rewritten: usize,
    /// Head series whose chunks were rewritten.
    pub head_series: usize,
    /// Samples removed.
    pub samples_removed: u64,
}

fn inside(t: i64, mint: i64, maxt: i64) -> bool {
    t >= mint && t <= maxt
}

impl Db {
    /// Deletes the samples of series matching all `matchers` with
    /// timestamps in `[mint, maxt]`.
    pub fn delete(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<DeleteReport, Error> {
        let _only_one = self.compact_lock.lock();
        let mut rep = DeleteReport::default();
        // blocks
        let snapshot: Vec<Arc<Block>> = self.blocks.read().clone();
        for b in snapshot {
            let m = b.meta();
            if m.max_time <= mint || m.min_time > maxt {
                continue;
            }
            let hits = b.select(matchers, mint, maxt)?;
            let hist_hits: HashSet<Labels> = b
                .histograms()
                .map(|h| h.series(matchers, mint, maxt).into_iter().collect())
                .unwrap_or_default();
            if hits.is_empty() && hist_hits.is_empty() {
                continue;
            }
            let mut hist_removed = 0u64;
            let mut hist = b.histograms().map(|h| h.all()).unwrap_or_default();
            for (labels, chunks) in hist.iter_mut().filter(|(l, _)| hist_hits.contains(l)) {
                let mut kept = Vec::with_capacity(chunks.len());
                for c in chunks.iter() {
                    let (c, n) = c.without(mint, maxt).ok_or_else(|| Error::Corruption {
                        path: b.dir().join("histograms"),
                        offset: 0,
                        detail: format!("a histogram chunk of {labels} does not decode"),
                    })?;
                    hist_removed += n;
                    kept.extend(c);
                }
                *chunks = kept;
            }
            hist.retain(|(_, chunks)| !chunks.is_empty());
            let targets: HashSet<_> = hits.into_iter().map(|(l, _)| l).collect();
            let mut removed = 0u64;
            let mut failed = None;
            let rewritten = b.all_series()?.filter_map(|r| match r {
                Ok((labels, chunks)) if targets.contains(&labels) => {
                    let mut keep = Vec::new();
                    for c in &chunks {
                        for (t, v) in
                            ChunkIter::new(c.encoding, &c.data, c.count, c.bit_len as usize)
                        {
                            if inside(t, mint, maxt) {
                                removed += 1;
                            } else {
                                keep.push((t, v));
                            }
                        }
                    }
                    (!keep.is_empty()).then(|| (labels, block::encode_samples(&keep)))
                }
                Ok(other) => Some(other),
                Err(e) => {
                    failed.get_or_insert(e);
                    None
                }
            });
            let meta = block::write_block_with(
                &self.dir,
                m.min_time,
                m.max_time,
                rewritten.collect::<Vec<_>>(),
                &hist,
                m.level + 1,
                m.sources.clone(),
            )?;
            if let Some(e) = failed {
                let _ = std::fs::remove_dir_all(self.dir.join(&meta.id));
                return Err(e);
            }
            let nb = Arc::new(Block::open(&self.dir.join(&meta.id))?);
            {
                let mut blocks = self.blocks.write();
                blocks.retain(|x| !Arc::ptr_eq(x, &b));
                blocks.push(nb);
                blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
            }
            let dir = b.dir().to_path_buf();
            drop(b);
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            rep.blocks_rewritten += 1;
            rep.samples_removed += removed + hist_removed;
        }
        // head, and the native histograms not in a block yet
        let head = self.head.delete(matchers, mint, maxt)?;
        let (hist_series, hist_samples) = self.head.hist.delete(matchers, mint, maxt)?;
        rep.head_series = head.series + hist_series;
        rep.samples_removed += head.samples + hist_samples;
        self.head
            .counters
            .samples_deleted
            .fetch_add(rep.samples_removed, Ordering::Relaxed);
        Ok(rep)
    }
}
