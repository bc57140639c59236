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

    pub(super) fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Makes room for `more` values of about `bytes_each` bytes.
    pub(super) fn reserve(&mut self, more: usize, bytes_each: usize) {
        let bytes = &self.bytes;
        self.table.reserve(more, |e| hash(text(bytes, e)));
        self.bytes.reserve(more.saturating_mul(bytes_each));
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
}
