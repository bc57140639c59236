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
        Labels::from_sorted(self.iter().map(|(n, v)| Label::new(n, v)).collect())
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
    /// The order of [`Labels`]: pair by pair, a prefix first. The pairs
    /// before the first byte where the two differ are the same in both, so
    /// the pairs are compared from the one holding that byte.
    fn cmp(&self, other: &Self) -> Ordering {
        let d = common_prefix(self.0.as_bytes(), other.0.as_bytes());
        if d == self.0.len() && d == other.0.len() {
            return Ordering::Equal;
        }
        let mut pairs = self.iter();
        let mut start = 0;
        while pairs.next().is_some() {
            let end = self.0.len() - pairs.0.len();
            if end > d {
                break;
            }
            start = end;
        }
        Pairs(&self.0[start..]).cmp(Pairs(&other.0[start..]))
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

/// [`put`] for bytes: the same length prefix, then the bytes.
fn put_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let mut n = s.len();
    while n >= 0x40 {
        buf.push(0x40 | (n & 0x3f) as u8);
        n >>= 6;
    }
    buf.push(n as u8);
    buf.extend_from_slice(s);
}

fn put(buf: &mut String, s: &str) {
    let mut n = s.len();
    while n >= 0x40 {
        buf.push(char::from(0x40 | (n & 0x3f) as u8));
        n >>= 6;
    }
    buf.push(char::from(n as u8));
    buf.push_str(s);
}

/// The pairs of a [`PackedLabels`].
#[derive(Clone)]
pub struct Pairs<'a>(&'a str);

impl<'a> Pairs<'a> {
    fn string(&mut self) -> &'a str {
        let bytes = self.0.as_bytes();
        let mut len = 0usize;
        let mut shift = 0;
        let mut i = 0;
        loop {
            let b = bytes[i];
            i += 1;
            len |= usize::from(b & 0x3f) << shift;
            if b & 0x40 == 0 {
                break;
            }
            shift += 6;
        }
        let (s, rest) = self.0[i..].split_at(len);
        self.0 = rest;
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
