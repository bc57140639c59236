//! Deleting samples from the head: the chunks of a matching series that
//! hold deleted samples are replaced by new closed chunks of the samples
//! kept, then let go.

use std::collections::HashSet;

use super::{ChunkMeta, Head, MemSeries};
use crate::chunkenc::ChunkIter;
use crate::chunks::DATA_SIZE;
use crate::labels::Matcher;
use crate::Error;

/// What a deletion removed from the head.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HeadDeletion {
    /// Series whose chunks were rewritten.
    pub series: usize,
    /// Samples removed.
    pub samples: u64,
}

impl Head {
    /// Deletes the samples of the series matching all `matchers` with
    /// timestamps in `[mint, maxt]`.
    pub(crate) fn delete(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<HeadDeletion, Error> {
        let mut done = HeadDeletion::default();
        let ids = self.postings.read().candidates(matchers);
        for s in self.series_for(&ids) {
            if !s.labels.matches_all(matchers) {
                continue;
            }
            if let Some(removed) = self.delete_in(&s, mint, maxt)? {
                done.series += 1;
                done.samples += removed;
            }
        }
        Ok(done)
    }

    /// Deletes one series' samples in `[mint, maxt]`: the samples removed,
    /// or `None` when no chunk of it overlaps the range.
    fn delete_in(&self, s: &MemSeries, mint: i64, maxt: i64) -> Result<Option<u64>, Error> {
        let inside = |t: i64| t >= mint && t <= maxt;
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
            return Ok(None);
        }
        let mut removed = 0;
        let mut keep = Vec::new();
        for c in &affected {
            let mut data = [0u8; DATA_SIZE];
            self.read_chunk(c, &mut data);
            for (t, v) in ChunkIter::new(c.encoding, &data, c.count, c.bit_len as usize) {
                if inside(t) {
                    removed += 1;
                } else {
                    keep.push((t, v));
                }
            }
        }
        // the kept samples go into new closed slots, then the old go
        let mut fresh = Vec::new();
        let mut rest = keep.as_slice();
        while !rest.is_empty() {
            let (cref, h, n) = self.chunks.write_closed(s.id, rest)?;
            rest = &rest[n..];
            fresh.push(ChunkMeta {
                cref,
                mint: h.mint,
                maxt: h.maxt,
                count: h.count,
                bit_len: h.bit_len,
                encoding: h.encoding,
            });
        }
        let gone: HashSet<_> = affected.iter().map(|c| c.cref).collect();
        if st.open.as_ref().is_some_and(|o| gone.contains(&o.cref)) {
            st.open = None;
        }
        st.closed.retain(|c| !gone.contains(&c.cref));
        st.closed.extend(fresh);
        st.closed.sort_by_key(|c| c.mint);
        st.set_last_v(None);
        drop(st);
        for c in affected {
            self.release_chunk(c.cref)?;
        }
        Ok(Some(removed))
    }
}
