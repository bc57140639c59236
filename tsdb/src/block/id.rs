//! Block ids: 26 characters of Crockford base32 over 128 bits, a 48-bit
//! millisecond timestamp followed by 80 random bits (the ULID layout), so
//! ids sort by creation time. Within one process ids are strictly
//! increasing: an id made in the same millisecond as the previous one (or
//! after the clock went back) reuses the previous timestamp and adds one to
//! the random part.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Crockford's base32 alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Length of an id in characters.
pub(crate) const ID_LEN: usize = 26;
const RANDOM_BITS: u32 = 80;
const RANDOM_MASK: u128 = (1u128 << RANDOM_BITS) - 1;
const TIME_MASK: u64 = (1u64 << 48) - 1;

/// The last id's (timestamp, random part), to keep ids increasing.
static LAST: Mutex<Option<(u64, u128)>> = Mutex::new(None);
/// Mixed into the random part so that hashers built in the same
/// nanosecond still differ.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 80 bits from the standard library's per-process random hash keys, the
/// clock, the process id and a counter (no random-number dependency).
fn random80() -> u128 {
    let nanos = crate::time::now_ns() as u128;
    let word = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(salt);
        h.finish()
    };
    let hi = word(1) as u128;
    let lo = word(2) as u128;
    ((hi << 64) | lo) & RANDOM_MASK
}

/// A new block id, greater than every id made before in this process.
pub(crate) fn new_block_id() -> String {
    let now = crate::time::now_ms() as u64 & TIME_MASK;
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let (ms, rand) = match *last {
        Some((last_ms, last_rand)) if now <= last_ms => {
            if last_rand < RANDOM_MASK {
                (last_ms, last_rand + 1)
            } else {
                ((last_ms + 1) & TIME_MASK, 0)
            }
        }
        _ => (now, random80()),
    };
    *last = Some((ms, rand));
    encode(ms, rand)
}

/// Encodes a timestamp and random part as 26 base32 characters.
fn encode(ms: u64, rand: u128) -> String {
    let v = (u128::from(ms) << RANDOM_BITS) | (rand & RANDOM_MASK);
    (0..ID_LEN)
        .map(|i| {
            let shift = 5 * (ID_LEN - 1 - i);
            ALPHABET[((v >> shift) & 31) as usize] as char
        })
        .collect()
}

/// The 128-bit value of an id, if it is well formed (26 characters of the
/// upper-case alphabet, the first at most `7`).
fn decode(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() != ID_LEN || b[0] > b'7' {
        return None;
    }
    let mut v = 0u128;
    for &c in b {
        let d = ALPHABET.iter().position(|&a| a == c)?;
        v = (v << 5) | d as u128;
    }
    Some(v)
}

/// Whether `id` is a well-formed block id.
pub(crate) fn is_block_id(id: &str) -> bool {
    decode(id).is_some()
}

/// The creation time of a block id, in ms since the epoch.
#[allow(dead_code)] // for tests and block-age tooling
pub(crate) fn id_time_ms(id: &str) -> Option<u64> {
    decode(id).map(|v| (v >> RANDOM_BITS) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_increasing_and_parse() {
        let ids: Vec<String> = (0..1000).map(|_| new_block_id()).collect();
        for w in ids.windows(2) {
            assert!(w[0] < w[1], "{} !< {}", w[0], w[1]);
        }
        for id in &ids {
            assert!(is_block_id(id), "{id}");
            assert_eq!(id.len(), ID_LEN);
        }
        let now = crate::time::now_ms() as u64;
        let t = id_time_ms(&ids[0]).unwrap();
        assert!(t <= now && now - t < 60_000, "{t} vs {now}");
    }

    #[test]
    fn encoding_is_ulid_compatible() {
        assert_eq!(encode(0, 0), "00000000000000000000000000");
        assert_eq!(encode(TIME_MASK, RANDOM_MASK), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        // the ULID spec's example timestamp 1469918176385 → 01ARYZ6S41
        assert!(encode(1_469_918_176_385, 0).starts_with("01ARYZ6S41"));
        assert!(!is_block_id("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
        assert!(!is_block_id("0000000000000000000000000I"));
        assert!(!is_block_id("0000000000000000000000000"));
        assert!(!is_block_id("0000000000000000000000000a"));
    }
}
