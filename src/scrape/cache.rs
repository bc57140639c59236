//! A target's series cache: the raw text of each series it exposed last
//! time (name and labels as written) → the stored series, so that a known
//! series costs no label parsing or head lookup.
//!
//! Targets expose their series in the same order scrape after scrape, so
//! the cache keeps the last scrape's keys in that order and checks each
//! line against the next key in turn: a sequential compare, without
//! hashing. A series out of its place is found through a map of key
//! hashes; a scrape that differs in any way (new, missing or reordered
//! series) rebuilds the cache in its own order.
//!
//! A key is kept as the bytes that follow what it shares with the key
//! before it (a target's series mostly differ from the one before in
//! their last label only: 14 of 67 bytes on the bench's targets), every
//! [`RESTART`]-th one in full, so a key is rebuilt from at most that many.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

/// Every `RESTART`-th key is kept whole.
const RESTART: usize = 16;

pub(crate) struct SeriesCache<E> {
    /// What each key of the last scrape adds to the one before it, back
    /// to back, in its order.
    tails: Vec<u8>,
    /// For each series of the last scrape in order: its key.
    list: Vec<Key<E>>,
    /// Key hash → position in `list`. A key whose hash another key already
    /// holds is not in the map; it is resolved as new (by labels) when out
    /// of place, which stays correct.
    by_hash: HashMap<u64, u32>,
    hasher: RandomState,
}

struct Key<E> {
    /// Where its tail ends in `tails`.
    end: u32,
    /// How many of its first bytes are the key before's.
    shared: u32,
    entry: E,
}

impl<E> Default for SeriesCache<E> {
    fn default() -> Self {
        SeriesCache {
            tails: Vec::new(),
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
    /// The key at `cursor` (while there is one).
    key: Vec<u8>,
    /// A key looked up out of order.
    probe: Vec<u8>,
}

/// The tail of the `i`-th key, with `list` giving where tails end.
fn tail<'k, E>(tails: &'k [u8], list: &[Key<E>], i: usize) -> &'k [u8] {
    let start = if i == 0 { 0 } else { list[i - 1].end as usize };
    &tails[start..list[i].end as usize]
}

/// Turns `key`, the `i - 1`-th key, into the `i`-th.
fn step<E>(tails: &[u8], list: &[Key<E>], key: &mut Vec<u8>, i: usize) {
    key.truncate(list[i].shared as usize);
    key.extend_from_slice(tail(tails, list, i));
}

/// The `i`-th key, rebuilt into `out` from the last whole one.
fn key_into<E>(tails: &[u8], list: &[Key<E>], i: usize, out: &mut Vec<u8>) {
    out.clear();
    for j in i - i % RESTART..=i {
        step(tails, list, out, j);
    }
}

impl<E> SeriesCache<E> {
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
        self.list.iter().map(|k| &k.entry)
    }

    pub(crate) fn entry(&self, pos: usize) -> &E {
        &self.list[pos].entry
    }

    pub(crate) fn pass(&self) -> Pass {
        let mut key = Vec::new();
        if !self.list.is_empty() {
            key_into(&self.tails, &self.list, 0, &mut key);
        }
        Pass {
            cursor: 0,
            seen: vec![false; self.list.len()],
            in_order: true,
            key,
            probe: Vec::new(),
        }
    }

    /// The key this pass expects next if the scrape repeats the last one
    /// in order (empty when there is none).
    pub(crate) fn expected<'p>(&self, pass: &'p Pass) -> &'p [u8] {
        let c = pass.cursor;
        if c < self.list.len() && !pass.seen[c] {
            &pass.key
        } else {
            &[]
        }
    }

    /// Moves the pass on past position `p` (its key in `pass.key`).
    fn advance(&self, pass: &mut Pass, p: usize) {
        pass.seen[p] = true;
        pass.cursor = p + 1;
        if pass.cursor < self.list.len() {
            step(&self.tails, &self.list, &mut pass.key, pass.cursor);
        }
    }

    /// Takes the expected entry (the caller has seen its key): its position.
    pub(crate) fn take_expected(&self, pass: &mut Pass) -> usize {
        let c = pass.cursor;
        debug_assert!(c < self.list.len() && !pass.seen[c]);
        self.advance(pass, c);
        c
    }

    /// The position of `raw` in the cache, if it is there.
    pub(crate) fn find(&self, pass: &mut Pass, raw: &[u8]) -> Option<usize> {
        let c = pass.cursor;
        if c < self.list.len() && pass.key == raw && !pass.seen[c] {
            self.advance(pass, c);
            return Some(c);
        }
        pass.in_order = false;
        let p = *self.by_hash.get(&self.hasher.hash_one(raw))? as usize;
        key_into(&self.tails, &self.list, p, &mut pass.probe);
        if pass.probe != raw {
            return None;
        }
        std::mem::swap(&mut pass.key, &mut pass.probe);
        self.advance(pass, p);
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
            .map(|(k, _)| &k.entry)
    }

    /// Rebuilds the cache from this scrape's series, in its order (the
    /// first of repeated keys counts).
    pub(crate) fn rebuild(&mut self, series: Vec<(&[u8], E)>) {
        let hasher = std::mem::take(&mut self.hasher);
        let mut tails = Vec::new();
        let mut list: Vec<Key<E>> = Vec::with_capacity(series.len());
        let mut by_hash: HashMap<u64, u32> = HashMap::with_capacity(list.capacity());
        let mut before: &[u8] = &[];
        let mut probe = Vec::new();
        for (raw, entry) in series {
            let h = hasher.hash_one(raw);
            if let Some(&p) = by_hash.get(&h) {
                key_into(&tails, &list, p as usize, &mut probe);
                if probe == raw {
                    continue;
                }
            } else {
                by_hash.insert(h, list.len() as u32);
            }
            let shared = if list.len().is_multiple_of(RESTART) {
                0
            } else {
                before.iter().zip(raw).take_while(|(a, b)| a == b).count()
            };
            tails.extend_from_slice(&raw[shared..]);
            list.push(Key {
                end: tails.len() as u32,
                shared: shared as u32,
                entry,
            });
            before = raw;
        }
        tails.shrink_to_fit();
        *self = SeriesCache {
            tails,
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

    /// Keys sharing their starts (prefixes of each other among them) come
    /// back from their tails in order, out of order, and around the keys
    /// kept whole.
    #[test]
    fn keys_rebuilt_from_their_tails() {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for h in 0..7 {
            for code in ["200", "500", "5000"] {
                keys.push(format!("m{{handler=\"/h{h}\",code=\"{code}\"}}").into_bytes());
            }
            keys.push(format!("m{{handler=\"/h{h}\"").into_bytes());
            keys.push(b"m".to_vec());
        }
        keys.push(b"".to_vec());
        let n = keys.len();
        assert!(n > 2 * RESTART);
        let mut c = SeriesCache::<u64>::default();
        c.rebuild(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (k.as_slice(), i as u64))
                .collect(),
        );
        // "m" repeats: kept once, at its first place
        let unique: Vec<&Vec<u8>> = keys
            .iter()
            .enumerate()
            .filter(|(i, k)| keys[..*i].iter().all(|o| o != *k))
            .map(|(_, k)| k)
            .collect();
        assert_eq!(c.len(), unique.len());
        let total: usize = unique.iter().map(|k| k.len()).sum();
        assert!(
            c.tails.len() * 2 < total,
            "{} of {total} bytes",
            c.tails.len()
        );
        // in order: each the expected key, the cache unchanged
        let mut p = c.pass();
        for (i, k) in unique.iter().enumerate() {
            assert_eq!(c.expected(&p), k.as_slice(), "{i}");
            assert_eq!(c.find(&mut p, k), Some(i));
        }
        assert!(c.unchanged(&p));
        assert_eq!(c.expected(&p), b"");
        // backwards: each found through the map, and after each jump the
        // next key in order is the one held
        let mut p = c.pass();
        for (i, k) in unique.iter().enumerate().rev() {
            assert_eq!(c.find(&mut p, k), Some(i), "{}", String::from_utf8_lossy(k));
            if i + 1 < unique.len() {
                // seen already, so not expected, but ready
                assert_eq!(c.expected(&p), b"");
                assert_eq!(p.key, *unique[i + 1], "after {i}");
            }
        }
        assert_eq!(c.missing(&p).count(), 0);
        assert!(!c.unchanged(&p));
        // a miss out of order leaves the expected key as it was
        let mut p = c.pass();
        assert_eq!(c.find(&mut p, unique[0]), Some(0));
        assert_eq!(c.find(&mut p, b"m{handler=\"/h9\"}"), None);
        assert_eq!(c.expected(&p), unique[1].as_slice());
        assert_eq!(c.take_expected(&mut p), 1);
        assert_eq!(c.entry(1), &1);
        assert_eq!(c.expected(&p), unique[2].as_slice());
    }
}
