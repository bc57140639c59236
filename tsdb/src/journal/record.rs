//! One journal record: the samples of one commit, as series references,
//! timestamps and values, each a delta from the one before where that is
//! small. Framing (length, CRC32C) is the segment's business.
//!
//! ```text
//! kind u8 (1) | count uvarint | then per sample:
//!   series  varint  (difference to the previous sample's reference; the first to 0)
//!   t       varint  (difference to the previous sample's timestamp; the first to 0)
//!   value   uvarint x: x even: an integer, zigzag(i) = x >> 1
//!                      x == 1: followed by the 8 bytes of the float, little-endian
//! ```

use crate::encoding::{put_uvarint, put_varint, Cursor};

/// The kind byte of a samples record.
pub(crate) const KIND_SAMPLES: u8 = 1;

/// The largest integer written as one (2^53: every integer up to it is a
/// float exactly).
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// Appends the value of one sample.
fn put_value(buf: &mut Vec<u8>, v: f64) {
    // integers (counters, most gauges) as varints; the rest, -0.0 and
    // NaNs (a stale marker is a NaN) as their bits
    if v.fract() == 0.0 && v.abs() <= MAX_EXACT && !(v == 0.0 && v.is_sign_negative()) {
        let i = v as i64;
        put_uvarint(buf, (((i << 1) ^ (i >> 63)) as u64) << 1);
    } else {
        buf.push(1);
        buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

fn value(c: &mut Cursor<'_>) -> Option<f64> {
    let x = c.uvarint()?;
    if x & 1 == 0 {
        let z = x >> 1;
        let i = ((z >> 1) as i64) ^ -((z & 1) as i64);
        return Some(i as f64);
    }
    if x != 1 {
        return None;
    }
    let b = c.bytes(8)?;
    Some(f64::from_bits(u64::from_le_bytes(b.try_into().ok()?)))
}

/// Builds the payload of one samples record.
#[derive(Default)]
pub(crate) struct Encoder {
    buf: Vec<u8>,
    count: u64,
    last_ref: u64,
    last_t: i64,
}

impl Encoder {
    /// Starts a new record, forgetting the previous one.
    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.count = 0;
        self.last_ref = 0;
        self.last_t = 0;
    }

    /// Adds a sample.
    pub(crate) fn push(&mut self, series: u64, t: i64, v: f64) {
        put_varint(&mut self.buf, series.wrapping_sub(self.last_ref) as i64);
        put_varint(&mut self.buf, t.wrapping_sub(self.last_t));
        put_value(&mut self.buf, v);
        self.last_ref = series;
        self.last_t = t;
        self.count += 1;
    }

    /// Samples added since the last reset.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The finished payload (kind, count, samples) into `out`.
    pub(crate) fn finish_into(&self, out: &mut Vec<u8>) {
        out.push(KIND_SAMPLES);
        put_uvarint(out, self.count);
        out.extend_from_slice(&self.buf);
    }
}

/// Decodes a samples record's payload, calling `f(series, t, v)` for each
/// sample; `None` when it is malformed.
pub(crate) fn decode(payload: &[u8], mut f: impl FnMut(u64, i64, f64)) -> Option<()> {
    let mut c = Cursor::at(payload, 0);
    if c.bytes(1)?[0] != KIND_SAMPLES {
        return None;
    }
    let n = c.uvarint()?;
    let (mut r, mut t) = (0u64, 0i64);
    for _ in 0..n {
        r = r.wrapping_add(c.varint()? as u64);
        t = t.wrapping_add(c.varint()?);
        let v = value(&mut c)?;
        f(r, t, v);
    }
    (c.pos() == payload.len()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(samples: &[(u64, i64, f64)]) -> Vec<(u64, i64, u64)> {
        let mut e = Encoder::default();
        for &(r, t, v) in samples {
            e.push(r, t, v);
        }
        let mut out = Vec::new();
        e.finish_into(&mut out);
        let mut got = Vec::new();
        decode(&out, |r, t, v| got.push((r, t, v.to_bits()))).expect("decodes");
        got
    }

    #[test]
    fn values_of_every_kind() {
        let stale = f64::from_bits(crate::STALE_NAN_BITS);
        let s = [
            (5, 1_700_000_000_000, 0.0),
            (6, 1_700_000_000_000, -0.0),
            (3, 1_700_000_000_015, 12345.0),
            (u64::MAX, i64::MIN, -7.0),
            (0, i64::MAX, 0.125),
            (9, 0, stale),
            (9, 1, f64::INFINITY),
            (9, 2, 9_007_199_254_740_993.0),
            (9, 3, -9_007_199_254_740_992.0),
        ];
        let want: Vec<_> = s.iter().map(|&(r, t, v)| (r, t, v.to_bits())).collect();
        assert_eq!(roundtrip(&s), want);
    }

    #[test]
    fn integers_are_small() {
        let mut e = Encoder::default();
        for i in 0..100u64 {
            e.push(1000 + i, 1_700_000_000_000, (i * 10) as f64);
        }
        let mut out = Vec::new();
        e.finish_into(&mut out);
        // series and time differences of one byte, values of two at most
        assert!(out.len() < 100 * 4 + 10, "{} bytes", out.len());
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let mut e = Encoder::default();
        e.push(1, 2, 3.5);
        let mut out = Vec::new();
        e.finish_into(&mut out);
        for cut in 0..out.len() {
            assert!(decode(&out[..cut], |_, _, _| {}).is_none(), "cut at {cut}");
        }
        let mut long = out.clone();
        long.push(0);
        assert!(decode(&long, |_, _, _| {}).is_none());
    }

    proptest! {
        #[test]
        fn any_samples_roundtrip(s in prop::collection::vec((any::<u64>(), any::<i64>(), any::<u64>()), 0..50)) {
            let samples: Vec<(u64, i64, f64)> = s.iter().map(|&(r, t, b)| (r, t, f64::from_bits(b))).collect();
            let want: Vec<_> = s.clone();
            prop_assert_eq!(roundtrip(&samples), want);
        }

        #[test]
        fn garbage_never_panics(b in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&b, |_, _, _| {});
        }
    }
}
