//! The string type of label names and values.
//!
//! Nearly every label name and value is short (`job`, `instance`,
//! `localhost:9090`, a status code), so a string of up to
//! [`INLINE`] bytes is kept inside the value itself and a label set is one
//! allocation however many labels it holds. Longer strings take one heap
//! allocation of their exact length.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest string kept inline.
pub const INLINE: usize = 22;

/// A label name or value: an immutable UTF-8 string that derefs to `str`,
/// compares, orders and hashes as its `str` does, and holds strings of up
/// to [`INLINE`] bytes without a heap allocation.
#[derive(Clone)]
pub struct LabelStr(Repr);

#[derive(Clone)]
enum Repr {
    /// Invariant: `bytes[..len]` is UTF-8, `len <= INLINE`.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap(Box<str>),
}

const _: () = assert!(std::mem::size_of::<LabelStr>() == 24);

impl LabelStr {
    /// The empty string.
    pub const fn new() -> Self {
        LabelStr(Repr::Inline {
            len: 0,
            bytes: [0; INLINE],
        })
    }

    /// The string.
    #[inline]
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                let b = &bytes[..*len as usize];
                // SAFETY: only `From<&str>` writes inline bytes, copying a
                // whole `str` of at most INLINE bytes, so they are UTF-8.
                unsafe { std::str::from_utf8_unchecked(b) }
            }
            Repr::Heap(s) => s,
        }
    }

    /// The string as an owned `String`.
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Heap(s) => s.into_string(),
            Repr::Inline { .. } => self.as_str().to_string(),
        }
    }
}

impl Default for LabelStr {
    fn default() -> Self {
        LabelStr::new()
    }
}

impl From<&str> for LabelStr {
    #[inline]
    fn from(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            LabelStr(Repr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            LabelStr(Repr::Heap(s.into()))
        }
    }
}

impl From<String> for LabelStr {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            LabelStr::from(s.as_str())
        } else {
            LabelStr(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<&String> for LabelStr {
    fn from(s: &String) -> Self {
        LabelStr::from(s.as_str())
    }
}

impl From<LabelStr> for String {
    fn from(s: LabelStr) -> String {
        s.into_string()
    }
}

impl From<&LabelStr> for String {
    fn from(s: &LabelStr) -> String {
        s.as_str().to_string()
    }
}

impl Deref for LabelStr {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for LabelStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for LabelStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for LabelStr {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for LabelStr {}

impl PartialOrd for LabelStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LabelStr {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for LabelStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for LabelStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for LabelStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

macro_rules! eq_with {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for LabelStr {
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<LabelStr> for $t {
            fn eq(&self, other: &LabelStr) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}

eq_with!(str, &str, String, &String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_behave_as_str() {
        let words = [
            "",
            "a",
            "job",
            "exactly_twenty-two_b__",
            "twenty-three bytes long",
            "é unicode ünïcødé, long enough for the heap",
            "ü",
        ];
        for w in words {
            let s = LabelStr::from(w);
            assert_eq!(s.as_str(), w);
            assert_eq!(s, w);
            assert_eq!(LabelStr::from(w.to_string()), s);
            assert_eq!(s.clone().into_string(), w);
            assert_eq!(format!("{s}"), w);
            assert_eq!(format!("{s:?}"), format!("{w:?}"));
            let inline = matches!(s.0, Repr::Inline { .. });
            assert_eq!(inline, w.len() <= INLINE, "{w:?}");
            let mut h1 = std::collections::hash_map::DefaultHasher::new();
            let mut h2 = std::collections::hash_map::DefaultHasher::new();
            s.hash(&mut h1);
            w.hash(&mut h2);
            assert_eq!(h1.finish(), h2.finish());
        }
        for a in words {
            for b in words {
                assert_eq!(LabelStr::from(a).cmp(&LabelStr::from(b)), a.cmp(b));
            }
        }
    }

    #[test]
    fn usable_as_a_str_key() {
        let mut m = std::collections::HashMap::new();
        m.insert(LabelStr::from("instance"), 1);
        m.insert(
            LabelStr::from("a label name longer than the inline room"),
            2,
        );
        assert_eq!(m.get("instance"), Some(&1));
        assert_eq!(m.get("a label name longer than the inline room"), Some(&2));
    }
}
