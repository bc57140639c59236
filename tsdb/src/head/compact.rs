//! Moving the head's oldest block range into a block: choosing the range,
//! collecting its chunks, and afterwards dropping them from the head
//! (releasing their slots) and forgetting series left without data;
//! rewriting the series log without the forgotten series.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{block_end, ChunkMeta, Head, MemSeries, BLOCK_RANGE_MS};
use crate::chunks::{slot_crc, ChunkRef, DATA_SIZE, STATE_CLOSED};
use crate::labels::Labels;
use crate::series_log::Rewrite;
use crate::Error;

/// Records of forgotten series the series log keeps before it is
/// rewritten without them: at least this many, and at least as many as
/// there are live series (so the rewrite's cost stays in proportion to the
/// appends that made the waste).
const SERIES_LOG_MIN_DEAD: usize = 4096;

/// A head chunk copied out for a block.
#[derive(Clone)]
pub(crate) struct PersistChunk {
    pub mint: i64,
    pub maxt: i64,
    pub count: u16,
    pub bit_len: u16,
    pub encoding: u8,
    /// The used bytes of the encoded data.
    pub data: Vec<u8>,
}

/// What one block will hold, and where it came from in the head.
pub(crate) struct Persistable {
    /// Series in label order, each with its chunks in time order.
    pub series: Vec<(Labels, Vec<PersistChunk>)>,
    /// The slots those chunks occupy, per series id.
    slots: Vec<(u64, Vec<ChunkRef>)>,
}

impl Head {
    /// The next range to move into a block, `[start, end)`: the oldest
    /// block-aligned range, once the head spans one and a half ranges.
    pub(crate) fn next_block_range(&self) -> Option<(i64, i64)> {
        let mut min = self.min_time.load(Ordering::Relaxed);
        let mut max = self.max_time.load(Ordering::Relaxed);
        // the native histograms not in a block yet count too
        if let Some((a, b)) = self.hist.pending_range() {
            (min, max) = (min.min(a), max.max(b));
        }
        if min > max || max - min < BLOCK_RANGE_MS / 2 * 3 {
            return None;
        }
        let end = block_end(min);
        Some((end - BLOCK_RANGE_MS, end))
    }

    /// Stops accepting samples before `end` and collects every chunk that
    /// ends before it (closing open chunks that do).
    pub(crate) fn collect_persistable(&self, end: i64) -> Persistable {
        self.min_valid.fetch_max(end, Ordering::Relaxed);
        let mut all: Vec<Arc<MemSeries>> = self.index.all();
        all.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut series = Vec::new();
        let mut slots = Vec::new();
        for s in all {
            let mut st = s.state.lock();
            // an open chunk wholly before `end` gets no more samples: close it
            if st
                .open
                .as_ref()
                .is_some_and(|o| o.count > 0 && o.maxt < end)
            {
                let o = st.open.take().expect("checked above");
                let mut data = [0u8; DATA_SIZE];
                self.chunks.read_data(o.cref, &mut data);
                let mut h = o.header(s.id, STATE_CLOSED);
                h.crc = slot_crc(&h, &data);
                self.chunks.write_header(o.cref, &h);
                st.closed.push(o.meta());
            }
            let n = st.closed.partition_point(|c| c.maxt < end);
            if n == 0 {
                continue;
            }
            let mut chunks = Vec::with_capacity(n);
            let mut refs = Vec::with_capacity(n);
            for c in &st.closed[..n] {
                if let Some(p) = self.persist_copy(c) {
                    chunks.push(p);
                    refs.push(c.cref);
                }
            }
            drop(st);
            series.push((s.labels.to_labels(), chunks));
            slots.push((s.id, refs));
        }
        Persistable { series, slots }
    }

    /// Every chunk of every series, open ones included, in label order,
    /// without changing anything (for snapshots). Also the time range.
    pub(crate) fn copy_all(&self) -> (Vec<(Labels, Vec<PersistChunk>)>, i64, i64) {
        let mut all: Vec<Arc<MemSeries>> = self.index.all();
        all.sort_by(|a, b| a.labels.cmp(&b.labels));
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        let mut out = Vec::new();
        for s in all {
            let st = s.state.lock();
            let metas: Vec<ChunkMeta> = st
                .closed
                .iter()
                .copied()
                .chain(st.open.iter().filter(|o| o.count > 0).map(|o| o.meta()))
                .collect();
            let mut chunks = Vec::with_capacity(metas.len());
            for c in &metas {
                if let Some(p) = self.persist_copy(c) {
                    min = min.min(c.mint);
                    max = max.max(c.maxt);
                    chunks.push(p);
                }
            }
            drop(st);
            if !chunks.is_empty() {
                out.push((s.labels.to_labels(), chunks));
            }
        }
        (out, min, max)
    }

    /// A copy of a chunk's used bytes, for a block.
    fn persist_copy(&self, c: &ChunkMeta) -> Option<PersistChunk> {
        let mut data = [0u8; DATA_SIZE];
        if !self.read_chunk(c, &mut data) {
            return None;
        }
        let used = (c.bit_len as usize).div_ceil(8).min(DATA_SIZE);
        Some(PersistChunk {
            mint: c.mint,
            maxt: c.maxt,
            count: c.count,
            bit_len: c.bit_len,
            encoding: c.encoding,
            data: data[..used].to_vec(),
        })
    }

    /// After the block holding `p` is durable: drops its chunks from the
    /// head, releases their slots (deleting emptied slot files), and
    /// forgets series left with no data. Returns how many were forgotten.
    pub(crate) fn truncate(&self, end: i64, p: &Persistable) -> Result<usize, Error> {
        let mut first_err = None;
        for (id, refs) in &p.slots {
            let Some(s) = self.get(*id) else { continue };
            let mut st = s.state.lock();
            let set: HashSet<ChunkRef> = refs.iter().copied().collect();
            st.closed.retain(|c| !set.contains(&c.cref));
            drop(st);
            for r in refs {
                if let Err(e) = self.release_chunk(*r) {
                    first_err.get_or_insert(e);
                }
            }
        }
        // the head's range now starts at the oldest chunk left
        let mut min = i64::MAX;
        let mut dead = HashSet::new();
        // a journal reader may still have to send older samples of a series
        let forget_before = end.min(self.gc_pin.load(Ordering::Relaxed));
        self.index.for_each(|s| {
            let st = s.state.lock();
            let first = st.closed.first().map(|c| c.mint).or(st
                .open
                .as_ref()
                .filter(|o| o.count > 0)
                .map(|o| o.mint));
            match first {
                Some(t) => min = min.min(t),
                None if st
                    .last_t()
                    .max(st.last_hist_t())
                    .is_some_and(|t| t < forget_before) =>
                {
                    dead.insert(s.id);
                }
                None => {}
            }
        });
        self.min_time.store(
            if min == i64::MAX { end } else { min.max(end) },
            Ordering::Relaxed,
        );
        let removed = self.forget(&dead);
        match first_err {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    /// Forgets series without chunks whose newest sample is older than
    /// `before` (agent mode's series collection); returns how many.
    pub(crate) fn forget_idle(&self, before: i64) -> usize {
        let mut dead = HashSet::new();
        self.index.for_each(|s| {
            let st = s.state.lock();
            if st.open.is_none()
                && st.closed.is_empty()
                && st
                    .last_t()
                    .max(st.last_hist_t())
                    .is_some_and(|t| t < before)
            {
                dead.insert(s.id);
            }
        });
        self.forget(&dead)
    }

    /// Removes series from every map and the postings.
    pub(crate) fn forget(&self, ids: &HashSet<u64>) -> usize {
        if ids.is_empty() {
            return 0;
        }
        let _c = self.creation.lock(); // no series creation meanwhile
        let mut removed = 0;
        for &id in ids {
            if let Some(s) = self.index.remove(id) {
                s.state.lock().set_removed();
                removed += 1;
            }
        }
        self.postings.write().remove_many(ids);
        self.num_series.fetch_sub(removed as u64, Ordering::Relaxed);
        self.counters
            .series_removed
            .fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    /// Rewrites the series log without the records of forgotten series,
    /// once they are at least [`SERIES_LOG_MIN_DEAD`] and at least as many
    /// as the live ones, or when it is in an older layout; returns its size
    /// before and after. The live series are written out and synced
    /// without holding the creation lock; those created meanwhile are
    /// added at the end, under it.
    pub(crate) fn compact_series_log(&self) -> Result<Option<(u64, u64)>, Error> {
        let (mut live, mut rw, from) = {
            let c = self.creation.lock();
            let live_n = self.num_series() as usize;
            let dead = c.log.records().saturating_sub(live_n);
            if dead < SERIES_LOG_MIN_DEAD.max(live_n) && !c.log.is_old() {
                return Ok(None);
            }
            let mut live = Vec::with_capacity(live_n);
            self.index.for_each(|s| live.push(Arc::clone(s)));
            (live, c.log.begin_rewrite()?, c.next_id)
        };
        let add_in_order = |rw: &mut Rewrite, series: &mut Vec<Arc<MemSeries>>| {
            series.sort_unstable_by_key(|s| s.id);
            series
                .drain(..)
                .try_for_each(|s| rw.add(s.id, s.labels.iter()))
        };
        add_in_order(&mut rw, &mut live)?;
        rw.sync()?;
        let mut c = self.creation.lock();
        self.index.for_each(|s| {
            if s.id >= from {
                live.push(Arc::clone(s));
            }
        });
        add_in_order(&mut rw, &mut live)?;
        c.log.replace(rw).map(Some)
    }
}
