//! Prometheus's XOR chunk format, byte for byte: what its blocks, head
//! chunks and streamed remote read answers hold. flint's own XOR chunks
//! differ (first timestamp raw, count kept outside); this module reads and
//! writes Prometheus's, to talk to Prometheus, Thanos and vmctl.
//!
//! ```text
//! count u16 big-endian | bit stream, most significant bit first:
//!   sample 0: timestamp as a signed varint (bytes), value as 64 bits
//!   sample 1: timestamp - t0 as an unsigned varint (bytes), value XOR-coded
//!   sample n: delta of deltas of timestamps:
//!               0                        0
//!               10   + 14 bits           -8191 ..= 8192
//!               110  + 17 bits           -65535 ..= 65536
//!               1110 + 20 bits           -524287 ..= 524288
//!               1111 + 64 bits           otherwise
//!             value XOR-coded
//! value XOR with the previous value:
//!   0                                   equal
//!   10 + meaningful bits                within the previous leading/trailing window
//!   11 + leading (5 bits) + length (6 bits, 64 as 0) + meaningful bits
//! ```

/// Samples Prometheus puts in one chunk at most when it cuts by count.
pub const SAMPLES_PER_CHUNK: usize = 120;

pub(super) struct Bits {
    pub(super) out: Vec<u8>,
    /// Bits used in the last byte (0: a new byte is needed).
    pub(super) used: u8,
}

impl Bits {
    pub(super) fn bit(&mut self, b: bool) {
        if self.used == 0 {
            self.out.push(0);
        }
        if b {
            *self.out.last_mut().expect("pushed") |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    pub(super) fn bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    pub(super) fn byte(&mut self, b: u8) {
        self.bits(u64::from(b), 8);
    }
}

fn varint_bytes(v: u64, out: &mut Vec<u8>) {
    let mut v = v;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) struct XorState {
    pub(super) prev: u64,
    pub(super) leading: u8,
    pub(super) trailing: u8,
}

impl XorState {
    pub(super) fn write(&mut self, w: &mut Bits, v: u64) {
        let delta = v ^ self.prev;
        self.prev = v;
        if delta == 0 {
            w.bit(false);
            return;
        }
        w.bit(true);
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            w.bit(false);
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            w.bits(delta >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        w.bit(true);
        w.bits(u64::from(leading), 5);
        let sig = 64 - u32::from(leading) - u32::from(trailing);
        w.bits(u64::from(sig & 63), 6);
        w.bits(delta >> trailing, sig);
    }
}

fn fits(dod: i64, bits: u32) -> bool {
    -((1i64 << (bits - 1)) - 1) <= dod && dod <= 1i64 << (bits - 1)
}

/// Encodes samples (timestamps increasing, at most 65535) as one
/// Prometheus XOR chunk, its two-byte count included.
pub fn encode_xor(samples: &[(i64, f64)]) -> Vec<u8> {
    assert!(
        samples.len() <= u16::MAX as usize,
        "too many samples for a chunk"
    );
    let mut w = Bits {
        out: Vec::with_capacity(2 + samples.len() * 2),
        used: 0,
    };
    w.out
        .extend_from_slice(&(samples.len() as u16).to_be_bytes());
    let mut x = XorState {
        prev: 0,
        leading: 0xff,
        trailing: 0,
    };
    let (mut t_prev, mut delta_prev) = (0i64, 0i64);
    let mut tmp = Vec::with_capacity(10);
    for (i, &(t, v)) in samples.iter().enumerate() {
        match i {
            0 => {
                tmp.clear();
                varint_bytes(((t << 1) ^ (t >> 63)) as u64, &mut tmp);
                for &b in &tmp {
                    w.byte(b);
                }
                w.bits(v.to_bits(), 64);
                x.prev = v.to_bits();
            }
            1 => {
                let delta = t.wrapping_sub(t_prev);
                tmp.clear();
                varint_bytes(delta as u64, &mut tmp);
                for &b in &tmp {
                    w.byte(b);
                }
                x.write(&mut w, v.to_bits());
                delta_prev = delta;
            }
            _ => {
                let delta = t.wrapping_sub(t_prev);
                let dod = delta.wrapping_sub(delta_prev);
                if dod == 0 {
                    w.bit(false);
                } else if fits(dod, 14) {
                    w.bits(0b10, 2);
                    w.bits(dod as u64, 14);
                } else if fits(dod, 17) {
                    w.bits(0b110, 3);
                    w.bits(dod as u64, 17);
                } else if fits(dod, 20) {
                    w.bits(0b1110, 4);
                    w.bits(dod as u64, 20);
                } else {
                    w.bits(0b1111, 4);
                    w.bits(dod as u64, 64);
                }
                x.write(&mut w, v.to_bits());
                delta_prev = delta;
            }
        }
        t_prev = t;
    }
    w.out
}

/// Reads a bit stream, most significant bit first.
pub(super) struct Reader<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
}

impl Reader<'_> {
    pub(super) fn bit(&mut self) -> Option<bool> {
        let b = *self.data.get(self.pos / 8)?;
        let bit = b & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(bit)
    }

    pub(super) fn bits(&mut self, n: u32) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Some(v)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.bits(8)? as u8;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    pub(super) fn xor(
        &mut self,
        prev: &mut u64,
        leading: &mut u8,
        trailing: &mut u8,
    ) -> Option<f64> {
        if !self.bit()? {
            return Some(f64::from_bits(*prev));
        }
        if self.bit()? {
            *leading = self.bits(5)? as u8;
            let mut sig = self.bits(6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            *trailing = 64u8.checked_sub(*leading)?.checked_sub(sig)?;
        } else if *leading == 0xff {
            return None;
        }
        let sig = 64 - u32::from(*leading) - u32::from(*trailing);
        let bits = self.bits(sig)?;
        *prev ^= bits << *trailing;
        Some(f64::from_bits(*prev))
    }
}

pub(super) fn signed(bits: u64, n: u32) -> i64 {
    if bits > 1 << (n - 1) {
        bits as i64 - (1i64 << n)
    } else {
        bits as i64
    }
}

/// Decodes a Prometheus XOR chunk (its two-byte count included); `None`
/// when it is malformed.
pub fn decode_xor(chunk: &[u8]) -> Option<Vec<(i64, f64)>> {
    let n = u16::from_be_bytes(chunk.get(..2)?.try_into().ok()?) as usize;
    let mut r = Reader {
        data: &chunk[2..],
        pos: 0,
    };
    let mut out = Vec::with_capacity(n);
    let (mut t, mut delta) = (0i64, 0i64);
    let (mut prev, mut leading, mut trailing) = (0u64, 0xffu8, 0u8);
    for i in 0..n {
        match i {
            0 => {
                let z = r.varint()?;
                t = ((z >> 1) as i64) ^ -((z & 1) as i64);
                prev = r.bits(64)?;
                out.push((t, f64::from_bits(prev)));
            }
            1 => {
                delta = r.varint()? as i64;
                t = t.wrapping_add(delta);
                let v = r.xor(&mut prev, &mut leading, &mut trailing)?;
                out.push((t, v));
            }
            _ => {
                let mut ones = 0;
                while ones < 4 && r.bit()? {
                    ones += 1;
                }
                let dod = match ones {
                    0 => 0,
                    1 => signed(r.bits(14)?, 14),
                    2 => signed(r.bits(17)?, 17),
                    3 => signed(r.bits(20)?, 20),
                    _ => r.bits(64)? as i64,
                };
                delta = delta.wrapping_add(dod);
                t = t.wrapping_add(delta);
                let v = r.xor(&mut prev, &mut leading, &mut trailing)?;
                out.push((t, v));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scrape_like_series_roundtrip_small() {
        let samples: Vec<(i64, f64)> = (0..120)
            .map(|i| (1_700_000_000_000 + i * 15_000, (i * 3) as f64))
            .collect();
        let c = encode_xor(&samples);
        assert_eq!(&c[..2], &[0, 120]);
        assert_eq!(decode_xor(&c).unwrap(), samples);
        // regular timestamps cost one bit each after the second sample
        assert!(c.len() < 120 * 3, "{} bytes", c.len());
    }

    #[test]
    fn every_timestamp_bucket() {
        let mut t = -5i64;
        let mut samples = vec![(t, 1.5)];
        for d in [
            1, 0, 8192, -8191, 8193, 65536, -65535, 524_288, -524_287, 600_000, -1_000_000,
        ] {
            t += 10_000_000 + d;
            samples.push((t, f64::from_bits(crate::STALE_NAN_BITS)));
        }
        let back = decode_xor(&encode_xor(&samples)).unwrap();
        assert_eq!(back.len(), samples.len());
        for (a, b) in back.iter().zip(&samples) {
            assert_eq!((a.0, a.1.to_bits()), (b.0, b.1.to_bits()));
        }
    }

    #[test]
    fn known_bytes_of_two_samples() {
        // count 2 | varint(zigzag(1000)) = d0 0f | 1.0 as bits | varint(15) | value equal: bit 0
        let c = encode_xor(&[(1000, 1.0), (1015, 1.0)]);
        assert_eq!(
            c,
            [0, 2, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x0f, 0x00]
        );
    }

    proptest! {
        #[test]
        fn any_increasing_series_roundtrips(start in any::<i32>(), steps in prop::collection::vec((0i64..10_000_000, any::<u64>()), 0..200)) {
            let mut t = i64::from(start);
            let mut samples = Vec::new();
            for (d, bits) in steps {
                t += d;
                samples.push((t, f64::from_bits(bits)));
            }
            let back = decode_xor(&encode_xor(&samples)).unwrap();
            prop_assert_eq!(back.len(), samples.len());
            for (a, b) in back.iter().zip(&samples) {
                prop_assert_eq!((a.0, a.1.to_bits()), (b.0, b.1.to_bits()));
            }
        }

        #[test]
        fn garbage_never_panics(b in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_xor(&b);
        }
    }
}
