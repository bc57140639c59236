//! Label sets packed into one allocation: what the head keeps per series.
//!
//! A [`Labels`] is a vector of owned strings, so a series of six labels
//! costs thirteen allocations and their headers. A packed set is one boxed
//! string, `len name len value …` in name order, so a series costs one
//! allocation holding its names and values and a byte or two of length per
//! string. Lengths are written in ASCII (six bits per byte, `0x40` set on
//! all but the last), so the whole stays valid UTF-8 and reading a string
//! back is a slice, without checking its bytes again. Its order, equality
//! and hash agree with the [`Labels`] it was packed from.

use std::cmp::Ordering;

use crate::labels::{hash_pairs, Label, Labels, Matcher};

/// A label set packed into one allocation (sorted by name, names unique,
/// values non-empty, as [`Labels`]).
#[derive(Clone, PartialEq, Eq)]
pub struct PackedLabels(Box<str>);

impl PackedLabels {
    /// Packs a label set.
    pub fn new(labels: &Labels) -> Self {
        Self::from_sorted_pairs(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }

    /// Packs pairs that already satisfy the invariants of [`Labels`].
    pub(crate) fn from_sorted_pairs<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Self {
        let size: usize = pairs.clone().map(|(n, v)| n.len() + v.len() + 2).sum();
        let mut buf = String::with_capacity(size);
        for (n, v) in pairs {
            put(&mut buf, n);
            put(&mut buf, v);
        }
        PackedLabels(buf.into_boxed_str())
    }

    /// Packs pairs of byte strings that satisfy the invariants of
    /// [`Labels`] once read as strings; `None` if they are not UTF-8 (the
    /// whole is checked once, not string by string).
    pub(crate) fn from_sorted_byte_pairs<'a>(
        pairs: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
    ) -> Option<Self> {
        let size: usize = pairs.clone().map(|(n, v)| n.len() + v.len() + 2).sum();
        let mut buf = Vec::with_capacity(size);
        for (n, v) in pairs {
            put_bytes(&mut buf, n);
            put_bytes(&mut buf, v);
        }
        String::from_utf8(buf)
            .ok()
            .map(|s| PackedLabels(s.into_boxed_str()))
    }

    /// The packed bytes, for [`cmp_packed`] (which orders them as the
    /// sets are ordered).
    pub(crate) fn packed(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The labels in name order, as `(name, value)`.
    pub fn iter(&self) -> Pairs<'_> {
        Pairs(&self.0)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        for (n, v) in self.iter() {
            match n.cmp(name) {
                Ordering::Less => continue,
                Ordering::Equal => return Some(v),
                Ordering::Greater => return None,
            }
        }
        None
    }

    /// Unpacks into a [`Labels`].
    pub fn to_labels(&self) -> Labels {
        let n = self.iter().count();
        Labels::from_sorted_iter(n, self.iter().map(|(n, v)| Label::new(n, v)))
    }

    /// Whether this is the same label set as `labels`.
    pub(crate) fn eq_labels(&self, labels: &Labels) -> bool {
        let mut mine = self.iter();
        for l in labels {
            match mine.next() {
                Some((n, v)) if n == l.name && v == l.value => {}
                _ => return false,
            }
        }
        mine.next().is_none()
    }

    /// The same hash as [`Labels::hash64`] of the unpacked set.
    pub(crate) fn hash64(&self) -> u64 {
        hash_pairs(self.iter())
    }

    /// Whether every matcher accepts this set.
    pub(crate) fn matches_all(&self, matchers: &[Matcher]) -> bool {
        matchers
            .iter()
            .all(|m| m.matches(self.get(&m.name).unwrap_or("")))
    }
}

impl Ord for PackedLabels {
    /// The order of [`Labels`]: pair by pair, a prefix first. The strings
    /// before the first byte where the two differ are the same in both, at
    /// the same places; the first string that differs (the one holding
    /// that byte, in its length or its text) decides, whether it is a
    /// name or a value, and a set that runs out first is the smaller.
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_packed(self.packed(), other.packed())
    }
}

/// The order of two packed sets given by their bytes (see [`PackedLabels::cmp`]).
pub(crate) fn cmp_packed(a: &[u8], b: &[u8]) -> Ordering {
    let d = common_prefix(a, b);
    if d == a.len() && d == b.len() {
        return Ordering::Equal;
    }
    let mut at = 0;
    loop {
        if at == a.len() || at == b.len() {
            return a.len().cmp(&b.len());
        }
        let (from, to) = string_at(a, at);
        if to > d {
            let (from_b, to_b) = string_at(b, at);
            return a[from..to].cmp(&b[from_b..to_b]);
        }
        at = to;
    }
}

/// Sorts items by their packed label sets (each set once among them).
///
/// Sorting many sets compares each with about log n others, at random
/// places in memory. The sets usually share their first strings (a metric
/// name, a job), so the first string where any two differ is at the same
/// place in all of them; its first eight bytes, kept beside each item,
/// settle most comparisons without reading the sets, and equal keys fall
/// back to comparing the sets.
pub(crate) fn sort_by_packed<T>(items: Vec<T>, labels: impl Fn(&T) -> &PackedLabels) -> Vec<T> {
    let Some(first) = items.first().map(|t| labels(t).packed()) else {
        return items;
    };
    let lcp = items.iter().fold(first.len(), |n, t| {
        n.min(common_prefix(first, labels(t).packed()))
    });
    // the string holding the first byte where some differ starts at the
    // same place in every set (all before it are the same)
    let mut at = 0;
    while at < first.len() {
        let (_, to) = string_at(first, at);
        if to > lcp {
            break;
        }
        at = to;
    }
    let key = |b: &[u8]| -> u64 {
        if at >= b.len() {
            return 0;
        }
        let (from, to) = string_at(b, at);
        let mut k = [0u8; 8];
        let n = (to - from).min(8);
        k[..n].copy_from_slice(&b[from..from + n]);
        u64::from_be_bytes(k)
    };
    let mut keyed: Vec<(u64, T)> = items
        .into_iter()
        .map(|t| (key(labels(&t).packed()), t))
        .collect();
    keyed.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| cmp_packed(labels(&a.1).packed(), labels(&b.1).packed()))
    });
    keyed.into_iter().map(|(_, t)| t).collect()
}

/// Where the text of the string whose length starts at byte `at` of a
/// packed set starts and ends.
#[inline]
fn string_at(b: &[u8], at: usize) -> (usize, usize) {
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = at;
    loop {
        let x = b[i];
        i += 1;
        len |= usize::from(x & 0x3f) << shift;
        if x & 0x40 == 0 {
            return (i, i + len);
        }
        shift += 6;
    }
}

/// The length of the longest common prefix of `a` and `b`, eight bytes at
/// a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

impl PartialOrd for PackedLabels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for PackedLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Hands `push` the length prefix of a string of `n` bytes: six bits a
/// byte, lowest first, 0x40 set on every byte but the last (so each is
/// ASCII). [`string_at`] reads it back.
fn length_prefix(mut n: usize, mut push: impl FnMut(u8)) {
    while n >= 0x40 {
        push(0x40 | (n & 0x3f) as u8);
        n >>= 6;
    }
    push(n as u8);
}

fn put(buf: &mut String, s: &str) {
    length_prefix(s.len(), |b| buf.push(char::from(b)));
    buf.push_str(s);
}

/// [`put`] for bytes.
fn put_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    length_prefix(s.len(), |b| buf.push(b));
    buf.extend_from_slice(s);
}

/// The pairs of a [`PackedLabels`].
#[derive(Clone)]
pub struct Pairs<'a>(&'a str);

impl<'a> Pairs<'a> {
    #[inline]
    fn string(&mut self) -> &'a str {
        let (from, to) = string_at(self.0.as_bytes(), 0);
        let s = &self.0[from..to];
        self.0 = &self.0[to..];
        s
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let n = self.string();
        let v = self.string();
        Some((n, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::MatchOp;

    /// Sorting by the first differing string's first bytes, then by the
    /// sets, gives the sets' order: ids of different lengths, texts whose
    /// first eight bytes are the same, sets that are prefixes of others,
    /// a NUL byte beside padding, long texts.
    #[test]
    fn sorted_by_packed_as_labels_sort() {
        let long = "x".repeat(100);
        let mut all: Vec<Labels> = Vec::new();
        for i in (0..3000u32).rev() {
            let id = i.to_string();
            let shared = format!("samesame{}", i % 37);
            let mut pairs = vec![("__name__", "m"), ("id", id.as_str())];
            match i % 5 {
                0 => pairs[1].1 = shared.as_str(),
                1 => pairs.push(("z", "1")),
                2 => pairs[1].1 = &long[..(i as usize % 90) + 1],
                _ => {}
            }
            all.push(Labels::from_pairs(&pairs));
        }
        all.push(Labels::from_pairs(&[("__name__", "m"), ("id", "7\0")]));
        all.push(Labels::from_pairs(&[("__name__", "m"), ("id", "\0")]));
        let check = |mut all: Vec<Labels>| {
            all.sort();
            all.dedup();
            let mut shuffled: Vec<PackedLabels> = all.iter().map(PackedLabels::new).collect();
            shuffled.reverse();
            shuffled.rotate_left(1234);
            let sorted = sort_by_packed(shuffled, |p| p);
            let back: Vec<Labels> = sorted.iter().map(PackedLabels::to_labels).collect();
            assert_eq!(back, all);
        };
        // the ids' strings are the first to differ
        check(all.clone());
        // a set ending where the others go on
        all.push(Labels::from_pairs(&[("__name__", "m")]));
        check(all);
        // sets that all differ in their first string, and none at all
        let names = [
            Labels::from_pairs(&[("b", "1")]),
            Labels::from_pairs(&[("a", "2")]),
        ];
        let sorted = sort_by_packed(names.iter().map(PackedLabels::new).collect(), |p| p);
        assert_eq!(sorted[0].to_labels(), names[1]);
        assert!(sort_by_packed(Vec::<PackedLabels>::new(), |p| p).is_empty());
    }

    #[test]
    fn byte_pairs_must_be_utf8() {
        let pairs = [(&b"__name__"[..], &b"up"[..]), (&b"job"[..], &b"\xff"[..])];
        assert_eq!(
            PackedLabels::from_sorted_byte_pairs(pairs.into_iter()),
            None
        );
    }

    #[test]
    fn agrees_with_labels() {
        let long = "v".repeat(300);
        let longer = "w".repeat(364);
        let sets = [
            Labels::empty(),
            Labels::from_pairs(&[("__name__", "up")]),
            Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
            Labels::from_pairs(&[("__name__", "up"), ("job", "b")]),
            Labels::from_pairs(&[("__name__", "up"), ("job", "a"), ("x", long.as_str())]),
            Labels::from_pairs(&[("a", "bc")]),
            Labels::from_pairs(&[("ab", "c")]),
            Labels::from_pairs(&[("é", "ü\"\n")]),
            // sets differing at every place of a pair, within and past
            // eight bytes
            Labels::from_pairs(&[("__name__", "up"), ("job", "ab")]),
            Labels::from_pairs(&[("__name__", "up"), ("jo", "b")]),
            Labels::from_pairs(&[("__name__", "up"), ("job", "a"), ("y", "")]),
            Labels::from_pairs(&[("__name__", "up"), ("job", long.as_str())]),
            Labels::from_pairs(&[("__name__", "up"), ("job", &long[..299])]),
            // lengths whose first bytes are the same (300 and 364 differ
            // in their second), and a longer text sorting first
            Labels::from_pairs(&[("__name__", "up"), ("job", longer.as_str())]),
            Labels::from_pairs(&[("__name__", "up"), ("job", &longer[..300])]),
            Labels::from_pairs(&[("__name__", "up"), ("job", "a".repeat(364).as_str())]),
            Labels::from_pairs(&[("__name__", "upx")]),
            Labels::from_pairs(&[("__name__", "u")]),
            Labels::from_pairs(&[("__name__", "up"), ("job", "a"), ("x", "w")]),
        ];
        for a in &sets {
            let pa = PackedLabels::new(a);
            assert_eq!(&pa.to_labels(), a);
            let bytes = a.iter().map(|l| (l.name.as_bytes(), l.value.as_bytes()));
            assert_eq!(
                PackedLabels::from_sorted_byte_pairs(bytes),
                Some(pa.clone())
            );
            assert_eq!(pa.hash64(), a.hash64());
            for l in a {
                assert_eq!(pa.get(&l.name), Some(l.value.as_str()));
            }
            assert_eq!(pa.get("zz"), None);
            assert_eq!(pa.get("0"), None);
            for b in &sets {
                let pb = PackedLabels::new(b);
                assert_eq!(pa.cmp(&pb), a.cmp(b), "{a} vs {b}");
                assert_eq!(pa.eq_labels(b), a == b);
                assert_eq!(pa == pb, a == b);
            }
        }
    }

    #[test]
    fn matchers() {
        let p = PackedLabels::new(&Labels::from_pairs(&[("__name__", "up"), ("job", "api")]));
        let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        assert!(p.matches_all(&[m(MatchOp::Equal, "job", "api"), m(MatchOp::Equal, "x", "")]));
        assert!(p.matches_all(&[m(MatchOp::RegexMatch, "job", "a.+")]));
        assert!(!p.matches_all(&[
            m(MatchOp::Equal, "__name__", "up"),
            m(MatchOp::NotEqual, "job", "api")
        ]));
    }
}
