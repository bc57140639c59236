//! One label name's values and the series carrying each. The values'
//! bytes are kept one after another in a single buffer and the table
//! holds where each starts, so a value costs its bytes and one table
//! entry: a high-cardinality label (an id, a path) adds no allocation per
//! value, at start-up nor after.

use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry as Slot, HashTable};

use super::Ids;
use crate::fasthash::FxBuild;

struct Entry {
    /// Where the value starts in the buffer, and its length.
    at: u32,
    len: u32,
    ids: Ids,
}

/// A value and series kept aside by [`Values::push_later`].
#[derive(Clone, Copy, Default)]
pub(super) struct Later {
    hash: u64,
    at: u32,
    len: u32,
    id: u64,
}

#[derive(Default)]
pub(super) struct Values {
    bytes: String,
    table: HashTable<Entry>,
    /// Bytes of removed values still in the buffer.
    garbage: usize,
}

fn text<'a>(bytes: &'a str, e: &Entry) -> &'a str {
    &bytes[e.at as usize..e.at as usize + e.len as usize]
}

fn hash(v: &str) -> u64 {
    FxBuild.hash_one(v)
}

impl Values {
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The series carrying `value`.
    pub(super) fn get(&self, value: &str) -> Option<&Ids> {
        let bytes = &self.bytes;
        self.table
            .find(hash(value), |e| text(bytes, e) == value)
            .map(|e| &e.ids)
    }

    /// Adds series `id` to `value`'s list (ids come in increasing order).
    pub(super) fn push(&mut self, value: &str, id: u64) {
        if self.bytes.len() + value.len() > u32::MAX as usize {
            self.compact();
            assert!(
                self.bytes.len() + value.len() <= u32::MAX as usize,
                "over 4 GiB of values for one label name"
            );
        }
        let bytes = &self.bytes;
        match self.table.entry(
            hash(value),
            |e| text(bytes, e) == value,
            |e| hash(text(bytes, e)),
        ) {
            Slot::Occupied(mut e) => e.get_mut().ids.push(id),
            Slot::Vacant(e) => {
                let at = self.bytes.len() as u32;
                e.insert(Entry {
                    at,
                    len: value.len() as u32,
                    ids: Ids::One(id),
                });
                self.bytes.push_str(value);
            }
        }
    }

    /// Keeps `value` and series `id` aside in `later`, to be added by
    /// [`Values::add_later`]: the bytes go to the buffer now, the table
    /// is not looked at. For a label whose values are mostly new (an id,
    /// a path) at start-up, where a million lookups at random places in a
    /// table that does not fit the caches would each wait on memory.
    pub(super) fn push_later(&mut self, value: &str, id: u64, later: &mut Vec<Later>) {
        if self.bytes.len() + value.len() > u32::MAX as usize {
            // positions past 4 GiB cannot be kept: the duplicates in the
            // buffer go first
            self.add_later(later);
            self.compact();
            assert!(
                self.bytes.len() + value.len() <= u32::MAX as usize,
                "over 4 GiB of values for one label name"
            );
        }
        later.push(Later {
            hash: hash(value),
            at: self.bytes.len() as u32,
            len: value.len() as u32,
            id,
        });
        self.bytes.push_str(value);
    }

    /// Adds the values kept aside by [`Values::push_later`], in the order
    /// of the places they take in the table, so that it is filled from
    /// one end to the other. A value already there (or kept aside twice)
    /// gets the id, and its second copy of bytes counts as garbage.
    pub(super) fn add_later(&mut self, later: &mut Vec<Later>) {
        if later.is_empty() {
            return;
        }
        let bytes = &self.bytes;
        self.table.reserve(later.len(), |e| hash(text(bytes, e)));
        // the table finds a hash's first place by its low bits: the values
        // are taken stretch by stretch of the table (1,024 stretches; one
        // pass to count, one to place, each value's ids kept in order)
        let buckets = (self.table.capacity() / 7 * 8).next_power_of_two() as u64;
        let shift = buckets.trailing_zeros().saturating_sub(10);
        let stretch = |l: &Later| ((l.hash & (buckets - 1)) >> shift) as usize;
        let mut starts = vec![0usize; (buckets >> shift) as usize + 1];
        for l in later.iter() {
            starts[stretch(l) + 1] += 1;
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let mut ordered = vec![Later::default(); later.len()];
        for l in later.drain(..) {
            let at = &mut starts[stretch(&l)];
            ordered[*at] = l;
            *at += 1;
        }
        let mut garbage = 0;
        for l in ordered {
            let value = &bytes[l.at as usize..(l.at + l.len) as usize];
            match self.table.entry(
                l.hash,
                |e| text(bytes, e) == value,
                |e| hash(text(bytes, e)),
            ) {
                Slot::Occupied(mut e) => {
                    e.get_mut().ids.push(l.id);
                    garbage += l.len as usize;
                }
                Slot::Vacant(e) => {
                    e.insert(Entry {
                        at: l.at,
                        len: l.len,
                        ids: Ids::One(l.id),
                    });
                }
            }
        }
        self.garbage += garbage;
        if self.garbage * 2 > self.bytes.len() {
            self.compact();
        }
    }

    /// Every value and its series, in no order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &Ids)> {
        self.table.iter().map(|e| (text(&self.bytes, e), &e.ids))
    }

    /// Keeps the values whose list `keep` leaves non-empty.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&mut Ids) -> bool) {
        let mut gone = 0;
        self.table.retain(|e| {
            let kept = keep(&mut e.ids);
            if !kept {
                gone += e.len as usize;
            }
            kept
        });
        self.garbage += gone;
        if self.garbage > 4096 && self.garbage * 2 > self.bytes.len() {
            self.compact();
        }
    }

    /// Copies the live values into a new buffer, dropping removed ones'.
    fn compact(&mut self) {
        let mut bytes = String::with_capacity(self.bytes.len() - self.garbage);
        for e in self.table.iter_mut() {
            let at = bytes.len() as u32;
            bytes.push_str(text(&self.bytes, e));
            e.at = at;
        }
        self.bytes = bytes;
        self.garbage = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_removed_and_the_buffer_compacted() {
        let mut v = Values::default();
        for i in 0..10_000u64 {
            v.push(&format!("value-{i}"), i);
            v.push("shared", i);
        }
        assert_eq!(v.len(), 10_001);
        assert_eq!(v.get("shared").unwrap().as_slice().len(), 10_000);
        assert_eq!(v.get("value-77").unwrap().as_slice(), &[77]);
        assert!(v.get("value-10000").is_none());
        let before = v.bytes.len();
        // two series in three go: their values, and most of the buffer
        v.retain(|ids| ids.retain(|id| id % 3 == 0));
        assert_eq!(v.len(), 3_335);
        assert!(v.get("value-77").is_none());
        assert_eq!(v.get("value-78").unwrap().as_slice(), &[78]);
        assert_eq!(v.get("shared").unwrap().as_slice().len(), 3_334);
        assert!(v.bytes.len() < before / 2, "{} of {before}", v.bytes.len());
        assert_eq!(v.garbage, 0);
        let mut all: Vec<&str> = v.iter().map(|(s, _)| s).collect();
        all.sort_unstable();
        assert_eq!(all.len(), 3_335);
        assert_eq!(all[0], "shared");
        // values added after the compaction are found
        v.push("value-77", 20_001);
        assert_eq!(v.get("value-77").unwrap().as_slice(), &[20_001]);
    }

    #[test]
    fn values_kept_aside_end_as_values_pushed() {
        // some values before the switch, then new ones, repeats of those
        // already in the table and repeats among those kept aside
        let value = |i: u64| match i % 5 {
            0 => format!("early-{}", i % 300),
            1 => format!("late-{}", i % 700),
            _ => format!("unique-{i}"),
        };
        let (mut pushed, mut aside) = (Values::default(), Values::default());
        let mut later = Vec::new();
        for i in 0..20_000u64 {
            pushed.push(&value(i), i);
            if i < 1_000 {
                aside.push(&value(i), i);
            } else {
                aside.push_later(&value(i), i, &mut later);
            }
        }
        aside.add_later(&mut later);
        assert!(later.is_empty());
        assert_eq!(aside.len(), pushed.len());
        for (v, ids) in pushed.iter() {
            assert_eq!(aside.get(v).map(Ids::as_slice), Some(ids.as_slice()), "{v}");
        }
        // the repeats' second copies went: at most half the buffer is not
        // live values
        let live: usize = aside.iter().map(|(v, _)| v.len()).sum();
        assert!(aside.bytes.len() - aside.garbage == live);
        assert!(aside.garbage * 2 <= aside.bytes.len());
        assert!(aside.get("late-1").unwrap().as_slice().len() > 1);
    }
}
