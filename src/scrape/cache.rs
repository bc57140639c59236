//! A target's series cache: the raw text of each series it exposed last
//! time (name and labels as written) → the stored series, so that a known
//! series costs no label parsing or head lookup.
//!
//! Targets expose their series in the same order scrape after scrape, so
//! the cache keeps the last scrape's keys back to back in that order and
//! checks each line against the next key in turn: a sequential compare,
//! without hashing. A series out of its place is found through a map of
//! key hashes; a scrape that differs in any way (new, missing or reordered
//! series) rebuilds the cache in its own order.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

pub(crate) struct SeriesCache<E> {
    /// The last scrape's keys, back to back, in its order.
    keys: Vec<u8>,
    /// For each series of the last scrape in order: where its key ends in
    /// `keys`, and its entry.
    list: Vec<(u32, E)>,
    /// Key hash → position in `list`. A key whose hash another key already
    /// holds is not in the map; it is resolved as new (by labels) when out
    /// of place, which stays correct.
    by_hash: HashMap<u64, u32>,
    hasher: RandomState,
}

impl<E> Default for SeriesCache<E> {
    fn default() -> Self {
        SeriesCache {
            keys: Vec::new(),
            list: Vec::new(),
            by_hash: HashMap::new(),
            hasher: RandomState::new(),
        }
    }
}

/// One scrape's pass over the cache.
pub(crate) struct Pass {
    cursor: usize,
    seen: Vec<bool>,
    /// Whether every line so far was the next key in order.
    in_order: bool,
}

/// The `i`-th key of `keys`, whose ends `list` holds.
fn key_at<'k, E>(keys: &'k [u8], list: &[(u32, E)], i: usize) -> &'k [u8] {
    let start = if i == 0 { 0 } else { list[i - 1].0 as usize };
    &keys[start..list[i].0 as usize]
}

impl<E> SeriesCache<E> {
    fn key(&self, i: usize) -> &[u8] {
        key_at(&self.keys, &self.list, i)
    }

    /// Entries of the last scrape.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        *self = SeriesCache::default();
    }

    /// Every cached entry.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &E> {
        self.list.iter().map(|(_, e)| e)
    }

    pub(crate) fn entry(&self, pos: usize) -> &E {
        &self.list[pos].1
    }

    pub(crate) fn pass(&self) -> Pass {
        Pass {
            cursor: 0,
            seen: vec![false; self.list.len()],
            in_order: true,
        }
    }

    /// The key this pass expects next if the scrape repeats the last one
    /// in order (empty when there is none).
    pub(crate) fn expected(&self, pass: &Pass) -> &[u8] {
        let c = pass.cursor;
        if c < self.list.len() && !pass.seen[c] {
            self.key(c)
        } else {
            &[]
        }
    }

    /// Takes the expected entry (the caller has seen its key): its position.
    pub(crate) fn take_expected(&self, pass: &mut Pass) -> usize {
        let c = pass.cursor;
        debug_assert!(c < self.list.len() && !pass.seen[c]);
        pass.seen[c] = true;
        pass.cursor += 1;
        c
    }

    /// The position of `raw` in the cache, if it is there.
    pub(crate) fn find(&self, pass: &mut Pass, raw: &[u8]) -> Option<usize> {
        let c = pass.cursor;
        if c < self.list.len() && self.key(c) == raw && !pass.seen[c] {
            pass.seen[c] = true;
            pass.cursor += 1;
            return Some(c);
        }
        pass.in_order = false;
        let p = *self.by_hash.get(&self.hasher.hash_one(raw))? as usize;
        if self.key(p) != raw {
            return None;
        }
        pass.seen[p] = true;
        pass.cursor = p + 1;
        Some(p)
    }

    /// Whether the scrape was exactly the cached series in the cached
    /// order (then the cache stays as it is).
    pub(crate) fn unchanged(&self, pass: &Pass) -> bool {
        pass.in_order && pass.cursor == self.list.len()
    }

    /// Entries of the last scrape that this one did not have.
    pub(crate) fn missing<'a>(&'a self, pass: &'a Pass) -> impl Iterator<Item = &'a E> {
        self.list
            .iter()
            .zip(&pass.seen)
            .filter(|(_, seen)| !**seen)
            .map(|((_, e), _)| e)
    }

    /// Rebuilds the cache from this scrape's series, in its order (the
    /// first of repeated keys counts).
    pub(crate) fn rebuild(&mut self, series: Vec<(&[u8], E)>) {
        let hasher = std::mem::take(&mut self.hasher);
        let mut keys = Vec::with_capacity(series.iter().map(|(k, _)| k.len()).sum());
        let mut list: Vec<(u32, E)> = Vec::with_capacity(series.len());
        let mut by_hash: HashMap<u64, u32> = HashMap::with_capacity(list.capacity());
        for (raw, e) in series {
            let h = hasher.hash_one(raw);
            if let Some(&p) = by_hash.get(&h) {
                if key_at(&keys, &list, p as usize) == raw {
                    continue;
                }
            } else {
                by_hash.insert(h, list.len() as u32);
            }
            keys.extend_from_slice(raw);
            list.push((keys.len() as u32, e));
        }
        *self = SeriesCache {
            keys,
            list,
            by_hash,
            hasher,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(r: u64) -> u64 {
        r
    }

    #[test]
    fn in_order_out_of_order_and_rebuilt() {
        let mut c = SeriesCache::<u64>::default();
        let keys: [&[u8]; 3] = [b"a{x=\"1\"}", b"a{x=\"2\"}", b"b"];
        c.rebuild(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (*k, e(i as u64)))
                .collect(),
        );
        assert_eq!(c.list.len(), 3);
        // the same scrape again: found in place, unchanged
        let mut p = c.pass();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(c.find(&mut p, k), Some(i));
        }
        assert!(c.unchanged(&p));
        assert_eq!(c.missing(&p).count(), 0);
        // reordered, one missing, one new
        let mut p = c.pass();
        assert_eq!(c.find(&mut p, b"b"), Some(2));
        assert_eq!(c.find(&mut p, b"a{x=\"1\"}"), Some(0));
        assert_eq!(c.find(&mut p, b"new"), None);
        assert!(!c.unchanged(&p));
        assert_eq!(c.missing(&p).copied().collect::<Vec<_>>(), vec![e(1)]);
        // a line repeated in one scrape is found through the map
        let mut p = c.pass();
        assert_eq!(c.find(&mut p, b"a{x=\"1\"}"), Some(0));
        assert_eq!(c.find(&mut p, b"a{x=\"1\"}"), Some(0));
        assert!(!c.unchanged(&p));
        // a prefix of the keys is not unchanged
        let mut p = c.pass();
        assert_eq!(c.find(&mut p, keys[0]), Some(0));
        assert!(!c.unchanged(&p));
        let next: [&[u8]; 3] = [b"b", b"new", b"b"];
        c.rebuild(
            next.iter()
                .enumerate()
                .map(|(i, k)| (*k, e(10 + i as u64)))
                .collect(),
        );
        assert_eq!(c.list.len(), 2, "a repeated key is kept once");
        let mut p = c.pass();
        assert_eq!(c.find(&mut p, b"b"), Some(0));
        assert_eq!(c.entry(0), &e(10));
        assert_eq!(c.find(&mut p, b"new"), Some(1));
        assert_eq!(c.find(&mut p, b"a{x=\"1\"}"), None);
        c.clear();
        assert_eq!(c.list.len(), 0);
    }
}
