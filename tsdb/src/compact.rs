//! Merging adjacent blocks into larger ones: 2 h blocks into 6 h, those
//! into 18 h, and so on (×3, as Prometheus), up to a tenth of the retention
//! or 31 days. Fewer, larger blocks mean fewer index lookups per query and
//! a smaller index overall.
//!
//! A merged block records the ids of every level-1 block it holds
//! (`sources`). If the process stops after the merged block is written but
//! before its parts are deleted, the parts are found at the next open
//! (their sources are covered by the merged block) and deleted then.

use std::cell::RefCell;
use std::sync::Arc;

use crate::block::{self, Block, BlockMeta, ChunkData};
use crate::head::BLOCK_RANGE_MS;
use crate::labels::Labels;
use crate::Error;

/// The largest merged block: 31 days.
const MAX_RANGE_MS: i64 = 31 * 24 * 3600 * 1000;

/// Block ranges tried for merging, smallest first, up to `max_range`.
fn ranges(max_range: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut r = BLOCK_RANGE_MS * 3;
    while r <= max_range.min(MAX_RANGE_MS) {
        out.push(r);
        r *= 3;
    }
    out
}

/// The largest merge range for a retention (a tenth of it, as Prometheus).
pub(crate) fn max_range_for(retention_ms: i64) -> i64 {
    if retention_ms <= 0 {
        MAX_RANGE_MS
    } else {
        (retention_ms / 10).min(MAX_RANGE_MS)
    }
}

/// The next set of blocks to merge: two or more blocks that fall in one
/// aligned window of a larger range, once that window is complete (no
/// data for it can still arrive: it ends at or before `complete_before`).
pub(crate) fn plan(
    blocks: &[Arc<Block>],
    max_range: i64,
    complete_before: i64,
) -> Option<Vec<Arc<Block>>> {
    for r in ranges(max_range) {
        let mut i = 0;
        while i < blocks.len() {
            let w = blocks[i].meta().min_time.div_euclid(r);
            let (start, end) = (w * r, w * r + r);
            let mut j = i;
            while j < blocks.len()
                && blocks[j].meta().min_time >= start
                && blocks[j].meta().max_time <= end
            {
                j += 1;
            }
            if j - i >= 2 && end <= complete_before {
                return Some(blocks[i..j].to_vec());
            }
            i = j.max(i + 1);
        }
    }
    None
}

/// Writes one block holding everything of `parts` (time-disjoint, in time
/// order). Series are merged by label set; their chunks keep time order;
/// so are the native histogram series of the parts' `histograms` files.
pub(crate) fn merge(dir: &std::path::Path, parts: &[Arc<Block>]) -> Result<BlockMeta, Error> {
    let min_time = parts.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
    let max_time = parts.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
    let level = parts.iter().map(|b| b.meta().level).max().unwrap_or(1) + 1;
    let mut sources: Vec<String> = parts
        .iter()
        .flat_map(|b| b.meta().sources.clone())
        .collect();
    sources.sort();
    sources.dedup();
    let failed: RefCell<Option<Error>> = RefCell::new(None);
    let mut iters = Vec::with_capacity(parts.len());
    for p in parts {
        iters.push(p.all_series()?.peekable());
    }
    // k-way merge by labels; an error stops the stream and is reported
    let merged = std::iter::from_fn(|| {
        if failed.borrow().is_some() {
            return None;
        }
        let mut smallest: Option<Labels> = None;
        for it in iters.iter_mut() {
            match it.peek() {
                Some(Ok((l, _))) if smallest.as_ref().is_none_or(|s| l < s) => {
                    smallest = Some(l.clone());
                }
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    if let Some(Err(e)) = it.next() {
                        *failed.borrow_mut() = Some(e);
                    }
                    return None;
                }
                None => {}
            }
        }
        let labels = smallest?;
        let mut chunks: Vec<ChunkData> = Vec::new();
        for it in iters.iter_mut() {
            if matches!(it.peek(), Some(Ok((l, _))) if *l == labels) {
                if let Some(Ok((_, c))) = it.next() {
                    chunks.extend(c);
                }
            }
        }
        Some((labels, chunks))
    });
    // the histograms of all parts, by series, in time order
    let mut hist: std::collections::BTreeMap<Labels, Vec<crate::histstore::HistChunk>> =
        std::collections::BTreeMap::new();
    for p in parts {
        if let Some(h) = p.histograms() {
            for (labels, chunks) in h.all() {
                hist.entry(labels).or_default().extend(chunks);
            }
        }
    }
    let hist: Vec<_> = hist
        .into_iter()
        .map(|(l, mut cs)| {
            cs.sort_by_key(|c| c.mint);
            cs.dedup_by_key(|c| c.mint);
            (l, cs)
        })
        .collect();
    let meta = block::write_block_with(dir, min_time, max_time, merged, &hist, level, sources)?;
    if let Some(e) = failed.into_inner() {
        let _ = std::fs::remove_dir_all(dir.join(&meta.id));
        return Err(e);
    }
    Ok(meta)
}

/// Blocks whose sources are all held by another, larger block: left over
/// from a merge that stopped before deleting its parts.
pub(crate) fn superseded(blocks: &[Arc<Block>]) -> Vec<Arc<Block>> {
    blocks
        .iter()
        .filter(|a| {
            blocks.iter().any(|b| {
                !Arc::ptr_eq(a, b)
                    && b.meta().level > a.meta().level
                    && a.meta()
                        .sources
                        .iter()
                        .all(|s| b.meta().sources.contains(s))
            })
        })
        .cloned()
        .collect()
}
