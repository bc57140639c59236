//! The delta encoding (tag 2), for chunks written once, in blocks.
//!
//! Values that are decimals (an integer mantissa `m` over `10^e`, exactly,
//! bit for bit) are stored as their mantissas. Timestamps and mantissas
//! are then two integer sequences, each stored as its first value, its
//! first delta, and the deltas of deltas in groups of 32: a group is its
//! smallest element and a bit width, then every element minus the smallest
//! in that many bits. A chunk whose timestamps are evenly spaced stores
//! no timestamp groups at all, and a counter's mantissas change by similar
//! steps, so their groups are a few bits wide. Layout in `docs/format/block.md`.

use crate::encoding::{put_varint, Cursor};

/// Chunk encoding tag of the delta encoding.
pub const ENCODING_DELTA: u8 = 2;

/// Elements per packed group.
const GROUP: usize = 32;

/// Largest decimal exponent.
const MAX_EXP: usize = 18;

/// Flag in the header byte: every timestamp delta equals the first, and no
/// timestamp groups follow.
const STEADY: u8 = 0x80;

/// Powers of ten up to 10^18, each exact in an f64.
const POW10: [f64; MAX_EXP + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// Mantissas stay below 2^53 so that converting them to f64 is exact.
const MANTISSA_LIMIT: f64 = (1u64 << 53) as f64;

/// The mantissa of `v` at exponent `e`: the integer `m` with
/// `m / 10^e == v` bit for bit, if there is one below 2^53 in magnitude.
/// Negative zero, NaN (stale markers included) and infinities have none.
pub fn mantissa(v: f64, e: u8) -> Option<i64> {
    let p = *POW10.get(e as usize)?;
    let m = (v * p).round();
    if !m.is_finite() || m.abs() >= MANTISSA_LIMIT {
        return None;
    }
    let m = m as i64;
    if value_of(m, e).to_bits() == v.to_bits() {
        return Some(m);
    }
    // v × 10^e is off the mantissa by at most |m| × 2^-52: below 2^50 it
    // rounds to the mantissa, above the mantissa may be a neighbour
    if m.unsigned_abs() < 1 << 50 {
        return None;
    }
    [-1, 1, -2, 2].into_iter().map(|d| m + d).find(|&c| {
        (c.unsigned_abs() as f64) < MANTISSA_LIMIT && value_of(c, e).to_bits() == v.to_bits()
    })
}

/// The smallest exponent at which `v` has a mantissa.
pub fn decimal_exponent(v: f64) -> Option<u8> {
    if !v.is_finite() {
        return None;
    }
    for e in 0..=MAX_EXP as u8 {
        if (v * POW10[e as usize]).abs() >= MANTISSA_LIMIT + 2.0 {
            return None; // a larger exponent only makes it larger
        }
        if mantissa(v, e).is_some() {
            return Some(e);
        }
    }
    None
}

#[inline]
fn value_of(m: i64, e: u8) -> f64 {
    if e == 0 {
        m as f64
    } else {
        m as f64 / POW10[e as usize]
    }
}

/// Encodes `samples` (timestamps strictly increasing) with every value as
/// its mantissa at exponent `e`, appending to `out`. Returns false, with
/// `out` left as it was, if a value has no mantissa at `e` or `samples`
/// is empty or holds more than `u16::MAX` samples.
pub fn encode(samples: &[(i64, f64)], e: u8, out: &mut Vec<u8>) -> bool {
    if samples.is_empty() || samples.len() > u16::MAX as usize || e as usize > MAX_EXP {
        return false;
    }
    let mut ms = Vec::with_capacity(samples.len());
    for &(_, v) in samples {
        match mantissa(v, e) {
            Some(m) => ms.push(m),
            None => return false,
        }
    }
    let dt1 = samples.get(1).map_or(0, |s| s.0.wrapping_sub(samples[0].0));
    let steady = samples
        .windows(2)
        .all(|w| w[1].0.wrapping_sub(w[0].0) == dt1);
    out.push(if steady { e | STEADY } else { e });
    let (t0, m0) = (samples[0].0, ms[0]);
    put_varint(out, t0);
    put_varint(out, m0);
    if samples.len() == 1 {
        return true;
    }
    let (mut dt, mut dm) = (samples[1].0.wrapping_sub(t0), ms[1].wrapping_sub(m0));
    put_varint(out, dt);
    put_varint(out, dm);
    let mut tdod = [0i64; GROUP];
    let mut mdod = [0i64; GROUP];
    let mut i = 2;
    while i < samples.len() {
        let k = GROUP.min(samples.len() - i);
        for j in 0..k {
            let d = samples[i + j].0.wrapping_sub(samples[i + j - 1].0);
            tdod[j] = d.wrapping_sub(dt);
            dt = d;
            let d = ms[i + j].wrapping_sub(ms[i + j - 1]);
            mdod[j] = d.wrapping_sub(dm);
            dm = d;
        }
        if !steady {
            put_group(out, &tdod[..k]);
        }
        put_group(out, &mdod[..k]);
        i += k;
    }
    true
}

/// Appends a group: its smallest element (varint), the bit width of the
/// largest difference to it (one byte), then each difference in that many
/// bits, least significant bits first, padded to a whole byte.
fn put_group(out: &mut Vec<u8>, xs: &[i64]) {
    let min = *xs.iter().min().expect("a group is never empty");
    let span = xs
        .iter()
        .map(|&x| x.wrapping_sub(min) as u64)
        .max()
        .unwrap_or(0);
    let w = 64 - span.leading_zeros();
    put_varint(out, min);
    out.push(w as u8);
    if w == 0 {
        return;
    }
    let mut acc: u128 = 0;
    let mut bits = 0u32;
    for &x in xs {
        acc |= u128::from(x.wrapping_sub(min) as u64) << bits;
        bits += w;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Eight bytes of `b` from `i` as a little-endian word, zeros past the end.
#[inline]
fn word_at(b: &[u8], i: usize) -> u64 {
    match b.get(i..i + 8) {
        Some(s) => u64::from_le_bytes(s.try_into().expect("8 bytes")),
        None => {
            let mut tmp = [0u8; 8];
            let tail = b.get(i..).unwrap_or(&[]);
            tmp[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(tmp)
        }
    }
}

/// Reads a group of `out.len()` elements; `None` if the data ends early or
/// the width is over 64.
fn read_group(c: &mut Cursor<'_>, out: &mut [i64]) -> Option<()> {
    let min = c.varint()?;
    let w = *c.bytes(1)?.first()? as usize;
    if w > 64 {
        return None;
    }
    if w == 0 {
        out.fill(min);
        return Some(());
    }
    let b = c.bytes((out.len() * w).div_ceil(8))?;
    let mask = u64::MAX >> (64 - w);
    let mut p = 0usize;
    for x in out.iter_mut() {
        let (i, sh) = (p / 8, p % 8);
        let mut v = word_at(b, i) >> sh;
        if sh + w > 64 {
            // the top bits are in the ninth byte
            v |= u64::from(b[i + 8]) << (64 - sh);
        }
        *x = min.wrapping_add((v & mask) as i64);
        p += w;
    }
    Some(())
}

/// Decodes a delta chunk. Yields at most `count` samples and stops early,
/// without panicking, on data that ends or is malformed. Samples are
/// decoded a group at a time.
pub struct DeltaIterator<'a> {
    c: Cursor<'a>,
    count: u16,
    /// Samples decoded so far, into `ts` and `vs` included.
    decoded: u16,
    e: u8,
    steady: bool,
    t: i64,
    dt: i64,
    m: i64,
    dm: i64,
    ts: [i64; GROUP],
    ms: [i64; GROUP],
    /// Next position in `ts`/`ms`, and how many they hold.
    at: usize,
    len: usize,
}

impl<'a> DeltaIterator<'a> {
    /// Iterates `count` samples encoded in `data`.
    pub fn new(data: &'a [u8], count: u16) -> Self {
        DeltaIterator {
            c: Cursor::at(data, 0),
            count,
            decoded: 0,
            e: 0,
            steady: false,
            t: 0,
            dt: 0,
            m: 0,
            dm: 0,
            ts: [0; GROUP],
            ms: [0; GROUP],
            at: 0,
            len: 0,
        }
    }

    /// Decodes the next samples into `ts`/`ms`: the first two from the
    /// header, then a group at a time. `None` at the end or on bad data.
    fn refill(&mut self) -> Option<()> {
        if self.decoded >= self.count {
            return None;
        }
        self.at = 0;
        self.len = 0;
        if self.decoded == 0 {
            let h = *self.c.bytes(1)?.first()?;
            self.steady = h & STEADY != 0;
            self.e = h & !STEADY;
            if self.e as usize > MAX_EXP {
                return None;
            }
            self.t = self.c.varint()?;
            self.m = self.c.varint()?;
            (self.ts[0], self.ms[0], self.len) = (self.t, self.m, 1);
            if self.count > 1 {
                // a chunk cut after its first sample still yields that one
                if let Some((dt, dm)) = self.c.varint().zip(self.c.varint()) {
                    (self.dt, self.dm) = (dt, dm);
                    self.t = self.t.wrapping_add(dt);
                    self.m = self.m.wrapping_add(dm);
                    (self.ts[1], self.ms[1], self.len) = (self.t, self.m, 2);
                }
            }
            self.decoded = self.len as u16;
            return Some(());
        }
        let k = GROUP.min((self.count - self.decoded) as usize);
        if self.steady {
            self.ts[..k].fill(0);
        } else {
            read_group(&mut self.c, &mut self.ts[..k])?;
        }
        read_group(&mut self.c, &mut self.ms[..k])?;
        let (mut t, mut dt, mut m, mut dm) = (self.t, self.dt, self.m, self.dm);
        for j in 0..k {
            dt = dt.wrapping_add(self.ts[j]);
            t = t.wrapping_add(dt);
            self.ts[j] = t;
            dm = dm.wrapping_add(self.ms[j]);
            m = m.wrapping_add(dm);
            self.ms[j] = m;
        }
        (self.t, self.dt, self.m, self.dm) = (t, dt, m, dm);
        self.len = k;
        self.decoded += k as u16;
        Some(())
    }
}

impl Iterator for DeltaIterator<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.at == self.len && self.refill().is_none() {
            self.count = self.decoded;
            self.len = 0;
            return None;
        }
        let j = self.at;
        self.at += 1;
        Some((self.ts[j], value_of(self.ms[j], self.e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::same_samples as same;
    use proptest::prelude::*;

    fn roundtrip(samples: &[(i64, f64)]) -> Option<Vec<(i64, f64)>> {
        let e = samples
            .iter()
            .map(|s| decimal_exponent(s.1))
            .try_fold(0u8, |a, e| e.map(|e| a.max(e)))?;
        let mut out = Vec::new();
        if !encode(samples, e, &mut out) {
            return None;
        }
        Some(DeltaIterator::new(&out, samples.len() as u16).collect())
    }

    #[test]
    fn exponents() {
        assert_eq!(decimal_exponent(0.0), Some(0));
        assert_eq!(decimal_exponent(-3.0), Some(0));
        assert_eq!(decimal_exponent(0.1), Some(1));
        assert_eq!(decimal_exponent(1034567890.123), Some(3));
        assert_eq!(decimal_exponent(0.005), Some(3));
        assert_eq!(decimal_exponent(0.1 + 0.2), None);
        assert_eq!(decimal_exponent(-0.0), None);
        assert_eq!(decimal_exponent(f64::NAN), None);
        assert_eq!(decimal_exponent(f64::INFINITY), None);
        assert_eq!(decimal_exponent(1e300), None);
        assert_eq!(decimal_exponent(std::f64::consts::PI), Some(15));
        assert_eq!(decimal_exponent(std::f64::consts::SQRT_2), None);
        // a mantissa at a larger exponent than needed is still exact
        assert_eq!(mantissa(0.5, 3), Some(500));
        assert_eq!(mantissa(0.5, 0), None);
    }

    #[test]
    fn steady_counter_is_a_few_bits_a_sample() {
        let mut v = 1_000_000.0;
        let samples: Vec<_> = (0..480)
            .map(|i| {
                v += 20.0 + ((i * 7919) % 5) as f64;
                (1_700_000_000_000 + i * 15_000, v)
            })
            .collect();
        let mut out = Vec::new();
        assert!(encode(&samples, 0, &mut out));
        // timestamps cost nothing; value dods in [-4, 4] take 3 or 4 bits
        assert!(out.len() < 480 / 2 + 40, "{} bytes", out.len());
        assert!(same(
            &DeltaIterator::new(&out, 480).collect::<Vec<_>>(),
            &samples
        ));
    }

    #[test]
    fn refuses_what_it_cannot_store() {
        let mut out = vec![7];
        assert!(!encode(&[(1, 0.5)], 0, &mut out));
        assert!(!encode(&[(1, 1.0), (2, f64::NAN)], 0, &mut out));
        assert!(!encode(&[], 0, &mut out));
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn extreme_steps_wrap_exactly() {
        let samples = vec![
            (i64::MIN, 9007199254740991.0),
            (0, -9007199254740991.0),
            (i64::MAX, 9007199254740991.0),
            (i64::MIN + 5, 0.0),
        ];
        // the last step goes backwards: encoding does not check order
        let got = roundtrip(&samples).expect("encodable");
        assert!(same(&got, &samples));
    }

    #[test]
    fn truncated_data_stops_cleanly() {
        let samples: Vec<_> = (0..100)
            .map(|i| (i * 1000 + i % 7, i as f64 * 1.25))
            .collect();
        let mut out = Vec::new();
        assert!(encode(&samples, 2, &mut out));
        for cut in 0..out.len() {
            let got: Vec<_> = DeltaIterator::new(&out[..cut], 100).collect();
            assert!(got.len() < 100);
            assert!(same(&got, &samples[..got.len()]));
        }
    }

    proptest! {
        #[test]
        fn prop_roundtrip(start in any::<i64>(),
                          deltas in proptest::collection::vec(any::<i64>(), 1..200),
                          mants in proptest::collection::vec(-(1i64 << 53) + 1..(1i64 << 53), 200),
                          e in 0u8..=18) {
            let mut t = start;
            let samples: Vec<_> = deltas.iter().zip(&mants).map(|(d, m)| {
                t = t.wrapping_add(*d);
                (t, value_of(*m, e))
            }).collect();
            let mut out = Vec::new();
            prop_assert!(encode(&samples, e, &mut out));
            let got: Vec<_> = DeltaIterator::new(&out, samples.len() as u16).collect();
            prop_assert!(same(&got, &samples));
        }

        #[test]
        fn prop_decimals_roundtrip(vals in proptest::collection::vec(-1e9f64..1e9, 1..100), digits in 0i32..6) {
            let p = 10f64.powi(digits);
            let samples: Vec<_> = vals.iter().enumerate()
                .map(|(i, v)| (i as i64 * 15_000, (v * p).round() / p))
                .collect();
            let got = roundtrip(&samples);
            prop_assert!(got.is_some());
            prop_assert!(same(&got.unwrap(), &samples));
        }

        #[test]
        fn prop_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), count in 0u16..500) {
            let n = DeltaIterator::new(&bytes, count).count();
            prop_assert!(n <= count as usize);
        }
    }
}
