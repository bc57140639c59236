//! Deleting series data by matchers and time range, at once: blocks
//! holding matching data are rewritten without it, and matching head
//! series get their affected chunks re-encoded without the deleted
//! samples. There are no tombstones left to clean afterwards.
//!
//! A rewritten block takes the level above the one it replaces with the
//! same sources, so if the process stops before the old block is deleted,
//! the next open deletes it as superseded.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::block::{self, Block};
use crate::chunkenc::{ChunkIter, XorEncoder, ENCODING_XOR};
use crate::chunks::{slot_crc, SlotHeader, DATA_SIZE, MAX_SAMPLES_PER_CHUNK, STATE_CLOSED};
use crate::db::Db;
use crate::head::ChunkMeta;
use crate::labels::Matcher;
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
            if hits.is_empty() {
                continue;
            }
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
            // the block's native histograms are kept as they are (deletion
            // reaches float samples only)
            let hist = b.histograms().map(|h| h.all()).unwrap_or_default();
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
            rep.samples_removed += removed;
        }
        // head
        let ids = self.head.postings.read().candidates(matchers);
        for s in self.head.series_for(&ids) {
            if !s.labels.matches_all(matchers) {
                continue;
            }
            let mut st = s.state.lock();
            let mut affected: Vec<ChunkMeta> = st
                .closed
                .iter()
                .copied()
                .filter(|c| c.mint <= maxt && c.maxt >= mint)
                .collect();
            if let Some(o) = st
                .open
                .as_ref()
                .filter(|o| o.count > 0 && o.mint <= maxt && o.maxt >= mint)
            {
                affected.push(o.meta());
            }
            if affected.is_empty() {
                continue;
            }
            let mut keep = Vec::new();
            for c in &affected {
                let mut data = [0u8; DATA_SIZE];
                self.head.read_chunk(c, &mut data);
                for (t, v) in ChunkIter::new(c.encoding, &data, c.count, c.bit_len as usize) {
                    if inside(t, mint, maxt) {
                        rep.samples_removed += 1;
                    } else {
                        keep.push((t, v));
                    }
                }
            }
            // the kept samples go into new closed slots, then the old go
            let mut fresh = Vec::new();
            let mut i = 0;
            while i < keep.len() {
                let cref = self.head.chunks.allocate()?;
                let mut data = [0u8; DATA_SIZE];
                let mut enc = XorEncoder::new();
                while i < keep.len()
                    && enc.count() < MAX_SAMPLES_PER_CHUNK
                    && enc.append(&mut data, keep[i].0, keep[i].1)
                {
                    i += 1;
                }
                let (first, last) = (keep[i - enc.count() as usize].0, keep[i - 1].0);
                self.head
                    .chunks
                    .write_data(cref, 0, &data[..enc.bit_len().div_ceil(8)]);
                let mut h = SlotHeader {
                    encoding: ENCODING_XOR,
                    state: STATE_CLOSED,
                    count: enc.count(),
                    bit_len: enc.bit_len() as u16,
                    crc: 0,
                    series: s.id,
                    mint: first,
                    maxt: last,
                };
                h.crc = slot_crc(&h, &data);
                self.head.chunks.write_header(cref, &h);
                fresh.push(ChunkMeta {
                    cref,
                    mint: first,
                    maxt: last,
                    count: h.count,
                    bit_len: h.bit_len,
                    encoding: ENCODING_XOR,
                });
            }
            let gone: HashSet<_> = affected.iter().map(|c| c.cref).collect();
            if st.open.as_ref().is_some_and(|o| gone.contains(&o.cref)) {
                st.open = None;
            }
            st.closed.retain(|c| !gone.contains(&c.cref));
            st.closed.extend(fresh);
            st.closed.sort_by_key(|c| c.mint);
            st.last_v = None;
            drop(st);
            for c in affected {
                self.head.release_chunk(c.cref)?;
            }
            rep.head_series += 1;
        }
        self.head
            .counters
            .samples_deleted
            .fetch_add(rep.samples_removed, Ordering::Relaxed);
        Ok(rep)
    }
}
