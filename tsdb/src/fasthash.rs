//! A fast hasher for in-memory maps keyed by label names, values and label
//! sets: multiply-rotate over 8-byte words, the high bits folded down at
//! the end (tables index by the low bits), started from a per-process
//! random seed so that stored labels cannot be chosen to collide in
//! advance.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Builds [`FxHasher`]s from the process seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxBuild;

/// The hasher state.
pub struct FxHasher(u64);

fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64))
}

impl BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(seed())
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        // the last 1 to 7 bytes in one word, read in two overlapping
        // halves (or three bytes) rather than copied into a buffer, with
        // their count on top
        let rest = chunks.remainder();
        let n = rest.len();
        if n >= 4 {
            let lo = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
            let hi = u32::from_le_bytes(rest[n - 4..].try_into().expect("4 bytes"));
            self.add((u64::from(lo) | u64::from(hi) << 32) ^ (n as u64) << 61);
        } else if n > 0 {
            let w = u64::from(rest[0]) | u64::from(rest[n / 2]) << 8 | u64::from(rest[n - 1]) << 16;
            self.add(w ^ (n as u64) << 61);
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let h = self.0;
        (h ^ (h >> 32)).wrapping_mul(K).rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_others_spread() {
        let h = |b: &[u8]| FxBuild.hash_one(b);
        assert_eq!(h(b"http_requests_total"), h(b"http_requests_total"));
        // keys differing only late in an 8-byte word: both the high and the
        // low 14 bits (what a table indexes by) spread 10k keys
        let keys: Vec<String> = (0..10_000)
            .map(|i| format!("metric_name_{:07}x{{a=\"b\"}}", i))
            .collect();
        for part in [|x: u64| x >> 50, |x: u64| x & 0x3fff] {
            let seen: std::collections::HashSet<u64> =
                keys.iter().map(|k| part(h(k.as_bytes()))).collect();
            assert!(seen.len() > 5_000, "{}", seen.len());
        }
        // label sets that differ only in where a string ends hash apart
        let a = crate::labels::Labels::from_pairs(&[("ab", "c")]);
        let b = crate::labels::Labels::from_pairs(&[("a", "bc")]);
        assert_ne!(a.hash64(), b.hash64());
    }
}
