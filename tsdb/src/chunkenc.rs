//! Chunk codecs: pure functions over byte buffers, no I/O.
//!
//! The XOR encoding (Gorilla-style) stores the first sample raw, then each
//! timestamp as a delta-of-delta in a variable-width bucket and each value as
//! the XOR with the previous value, reusing the previous window of meaningful
//! bits where it fits. The encoder writes into a caller-owned fixed-capacity
//! buffer (a chunk slot) and can be resumed from the bytes alone, which is
//! what lets a restart continue an open chunk without a write-ahead log.
//! See `docs/format/chunks.md`.

mod delta;
pub mod prom;
pub mod prom_histogram;

pub use delta::{
    chunk_exponent, decimal_exponent, decode_mantissas, differences_size, encode as encode_delta,
    encode_differences, mantissas, DeltaIterator, SharedChunk, SharedIterator, ENCODING_DELTA,
    ENCODING_DELTA2, ENCODING_DELTA_REF,
};

/// Chunk encoding tag: XOR-compressed float samples. 0 means "no chunk";
/// 2 is [`ENCODING_DELTA`], 3 [`ENCODING_DELTA2`] and 4
/// [`ENCODING_DELTA_REF`]; other values are reserved (native histograms
/// later).
pub const ENCODING_XOR: u8 = 1;

/// Decodes a stored chunk of either encoding.
#[allow(clippy::large_enum_variant)] // one per chunk being read, on the stack
pub enum ChunkIter<'a> {
    /// An XOR chunk.
    Xor(XorIterator<'a>),
    /// A delta chunk.
    Delta(DeltaIterator<'a>),
    /// A delta chunk decoded once for the chunks stored against it, or one
    /// of those (boxed: rare, and bigger than the others).
    Shared(Box<SharedIterator<'a>>),
    /// An unknown encoding: no samples.
    Empty,
}

impl<'a> ChunkIter<'a> {
    /// Iterates the `count` samples of a chunk with tag `encoding`, whose
    /// encoded data is `bit_len` bits of `data`.
    pub fn new(encoding: u8, data: &'a [u8], count: u16, bit_len: usize) -> Self {
        match encoding {
            ENCODING_XOR => ChunkIter::Xor(XorIterator::new(data, count, bit_len)),
            ENCODING_DELTA => {
                let n = bit_len.div_ceil(8).min(data.len());
                ChunkIter::Delta(DeltaIterator::new(&data[..n], count))
            }
            ENCODING_DELTA2 => {
                let n = bit_len.div_ceil(8).min(data.len());
                ChunkIter::Delta(DeltaIterator::v2(&data[..n], count))
            }
            _ => ChunkIter::Empty,
        }
    }

    /// Iterates a shared chunk's samples (`diffs` `None`), or those of the
    /// chunk of `count` samples stored against it whose body is `diffs`.
    pub fn shared(base: std::sync::Arc<SharedChunk<'a>>, diffs: Option<(&'a [u8], u16)>) -> Self {
        ChunkIter::Shared(Box::new(SharedIterator::new(base, diffs)))
    }
}

impl ChunkIter<'_> {
    /// Appends the remaining samples with `mint <= t <= maxt` to `out`:
    /// as collecting the iterator with that filter, but a group of samples
    /// at a time where the encoding has groups.
    pub fn decode_into(self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        match self {
            ChunkIter::Xor(it) => {
                for s in it {
                    if s.0 > maxt {
                        break;
                    }
                    if s.0 >= mint {
                        out.push(s);
                    }
                }
            }
            ChunkIter::Delta(it) => delta::Groups::decode_into(it, mint, maxt, out),
            ChunkIter::Shared(it) => delta::Groups::decode_into(*it, mint, maxt, out),
            ChunkIter::Empty => {}
        }
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        match self {
            ChunkIter::Xor(it) => it.next(),
            ChunkIter::Delta(it) => it.next(),
            ChunkIter::Shared(it) => it.next(),
            ChunkIter::Empty => None,
        }
    }
}

/// Appends bits to a byte buffer at a bit position.
struct BitWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl BitWriter<'_> {
    /// Writes the low `n` bits of `v` (at most 64), most significant
    /// first, a byte's worth at a time.
    fn write_bits(&mut self, v: u64, n: u32) {
        let mut left = n;
        while left > 0 {
            let byte = self.pos / 8;
            let free = 8 - (self.pos % 8) as u32;
            let take = free.min(left);
            let bits = ((v >> (left - take)) & ((1u64 << take) - 1)) as u8;
            let shift = free - take;
            let mask = (((1u16 << take) - 1) as u8) << shift;
            self.buf[byte] = (self.buf[byte] & !mask) | (bits << shift);
            self.pos += take as usize;
            left -= take;
        }
    }
}

/// Reads bits from a byte buffer, bounded by a bit length.
struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl BitReader<'_> {
    /// Reads `n` bits (at most 64), most significant first.
    #[inline]
    fn read_bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if self.pos + n as usize > self.end {
            return None;
        }
        if n == 0 {
            return Some(0);
        }
        let byte = self.pos / 8;
        let off = (self.pos % 8) as u32;
        let v = match self.buf.get(byte..byte + 8) {
            Some(w) => {
                // one unaligned big-endian word holds bits [pos, pos + 64 - off)
                let w = u64::from_be_bytes(w.try_into().expect("8 bytes")) << off;
                if off + n <= 64 {
                    w >> (64 - n)
                } else {
                    // the last 1..=7 bits come from the ninth byte, which
                    // exists because pos + n <= end <= 8 * len
                    let extra = off + n - 64;
                    (w >> (64 - n)) | (self.buf[byte + 8] >> (8 - extra)) as u64
                }
            }
            None => {
                // near the end of the buffer: bit by bit
                let mut v = 0u64;
                for i in 0..n as usize {
                    let p = self.pos + i;
                    let bit = (self.buf[p / 8] >> (7 - (p % 8))) & 1;
                    v = (v << 1) | bit as u64;
                }
                v
            }
        };
        self.pos += n as usize;
        Some(v)
    }

    #[inline]
    fn read_bit(&mut self) -> Option<bool> {
        if self.pos >= self.end {
            return None;
        }
        let bit = (self.buf[self.pos / 8] >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Some(bit == 1)
    }
}

/// Delta-of-delta buckets: (prefix bits, prefix length, value bits).
const DOD_BUCKETS: [(u64, u32, u32); 4] = [
    (0b10, 2, 8),
    (0b110, 3, 14),
    (0b1110, 4, 20),
    (0b1111, 4, 64),
];

fn fits_signed(v: i64, bits: u32) -> bool {
    if bits >= 64 {
        return true;
    }
    let min = -(1i64 << (bits - 1));
    let max = (1i64 << (bits - 1)) - 1;
    v >= min && v <= max
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// The state needed to append to an XOR chunk.
#[derive(Clone, Debug, PartialEq)]
pub struct XorEncoder {
    count: u16,
    // u32: 32 bytes in all, as one is kept a head series
    bit_len: u32,
    t: i64,
    delta: i64,
    v_bits: u64,
    leading: u8,
    trailing: u8,
}

/// Largest encoding of one sample, in bits (64-bit dod bucket + full XOR).
const MAX_SAMPLE_BITS: usize = 4 + 64 + 2 + 5 + 6 + 64;

impl Default for XorEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl XorEncoder {
    /// A new, empty chunk.
    pub fn new() -> Self {
        XorEncoder {
            count: 0,
            bit_len: 0,
            t: 0,
            delta: 0,
            v_bits: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    /// Number of samples in the chunk.
    pub fn count(&self) -> u16 {
        self.count
    }

    /// Length of the encoded data in bits.
    pub fn bit_len(&self) -> usize {
        self.bit_len as usize
    }

    /// Timestamp of the last sample.
    pub fn last_t(&self) -> i64 {
        self.t
    }

    /// Raw bits of the last value.
    pub fn last_value_bits(&self) -> u64 {
        self.v_bits
    }

    /// Appends a sample to `buf` (the chunk's data area). Returns false, and
    /// changes nothing, if it does not fit; the caller then starts a new chunk.
    /// Timestamps must increase; the caller checks ordering.
    pub fn append(&mut self, buf: &mut [u8], t: i64, v: f64) -> bool {
        // encode into a scratch area first, so a sample that does not fit
        // leaves the chunk untouched
        let mut scratch = [0u8; MAX_SAMPLE_BITS.div_ceil(8) + 1];
        let mut next = self.clone();
        let n = {
            let mut w = BitWriter {
                buf: &mut scratch,
                pos: 0,
            };
            next.encode(&mut w, t, v);
            w.pos
        };
        let bit_len = self.bit_len as usize;
        if bit_len + n > buf.len() * 8 {
            return false;
        }
        let mut r = BitReader {
            buf: &scratch,
            pos: 0,
            end: n,
        };
        let mut w = BitWriter { buf, pos: bit_len };
        let mut left = n as u32;
        while left > 0 {
            let k = left.min(64);
            let bits = r.read_bits(k).expect("scratch holds n bits");
            w.write_bits(bits, k);
            left -= k;
        }
        next.bit_len = (bit_len + n) as u32;
        *self = next;
        true
    }

    fn encode(&mut self, w: &mut BitWriter<'_>, t: i64, v: f64) {
        let v_bits = v.to_bits();
        match self.count {
            0 => {
                w.write_bits(t as u64, 64);
                w.write_bits(v_bits, 64);
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                let dod = if self.count == 1 {
                    delta
                } else {
                    delta.wrapping_sub(self.delta)
                };
                write_dod(w, dod);
                self.write_xor(w, v_bits);
                self.delta = delta;
            }
        }
        self.t = t;
        self.v_bits = v_bits;
        self.count += 1;
    }

    fn write_xor(&mut self, w: &mut BitWriter<'_>, v_bits: u64) {
        let x = v_bits ^ self.v_bits;
        if x == 0 {
            w.write_bits(0, 1);
            return;
        }
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            // fits the previous window
            w.write_bits(0b10, 2);
            let sig = 64 - self.leading as u32 - self.trailing as u32;
            w.write_bits(x >> self.trailing, sig);
            return;
        }
        let sig = 64 - leading as u32 - trailing as u32;
        w.write_bits(0b11, 2);
        w.write_bits(leading as u64, 5);
        // sig is 1..=64; 64 is stored as 0
        w.write_bits((sig & 63) as u64, 6);
        w.write_bits(x >> trailing, sig);
        self.leading = leading;
        self.trailing = trailing;
    }

    /// Rebuilds the encoder state of a chunk from its bytes, so appending can
    /// continue. Returns the state and the samples decoded; stops early (and
    /// reports fewer samples) if the data ends before `count` samples.
    pub fn resume(buf: &[u8], count: u16, bit_len: usize) -> (XorEncoder, Vec<(i64, f64)>) {
        let mut it = XorIterator::new(buf, count, bit_len);
        let mut samples = Vec::with_capacity(count as usize);
        for s in it.by_ref() {
            samples.push(s);
        }
        let enc = XorEncoder {
            count: it.read,
            bit_len: it.r.pos.min(bit_len) as u32,
            t: it.t,
            delta: it.delta,
            v_bits: it.v_bits,
            leading: it.leading,
            trailing: it.trailing,
        };
        (enc, samples)
    }
}

fn write_dod(w: &mut BitWriter<'_>, dod: i64) {
    if dod == 0 {
        w.write_bits(0, 1);
        return;
    }
    for (prefix, plen, bits) in DOD_BUCKETS {
        if fits_signed(dod, bits) {
            w.write_bits(prefix, plen);
            let mask = if bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            w.write_bits(dod as u64 & mask, bits);
            return;
        }
    }
}

/// Decodes an XOR chunk.
pub struct XorIterator<'a> {
    r: BitReader<'a>,
    count: u16,
    read: u16,
    t: i64,
    delta: i64,
    v_bits: u64,
    leading: u8,
    trailing: u8,
}

impl<'a> XorIterator<'a> {
    /// Iterates `count` samples from `buf`, reading at most `bit_len` bits.
    pub fn new(buf: &'a [u8], count: u16, bit_len: usize) -> Self {
        XorIterator {
            r: BitReader {
                buf,
                pos: 0,
                end: bit_len.min(buf.len() * 8),
            },
            count,
            read: 0,
            t: 0,
            delta: 0,
            v_bits: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    fn read_dod(&mut self) -> Option<i64> {
        if !self.r.read_bit()? {
            return Some(0);
        }
        // count further 1 bits of the prefix (at most 3 more)
        let mut ones = 1;
        while ones < 4 && self.r.read_bit()? {
            ones += 1;
        }
        let bits = DOD_BUCKETS[ones - 1].2;
        let raw = self.r.read_bits(bits)?;
        Some(sign_extend(raw, bits))
    }

    fn read_value(&mut self) -> Option<u64> {
        if !self.r.read_bit()? {
            return Some(self.v_bits);
        }
        let x = if !self.r.read_bit()? {
            if self.leading == 0xff {
                return None;
            }
            let sig = 64 - self.leading as u32 - self.trailing as u32;
            self.r.read_bits(sig)? << self.trailing
        } else {
            let leading = self.r.read_bits(5)? as u8;
            let mut sig = self.r.read_bits(6)? as u32;
            if sig == 0 {
                sig = 64;
            }
            if leading as u32 + sig > 64 {
                return None;
            }
            let trailing = (64 - leading as u32 - sig) as u8;
            self.leading = leading;
            self.trailing = trailing;
            self.r.read_bits(sig)? << trailing
        };
        Some(self.v_bits ^ x)
    }
}

impl Iterator for XorIterator<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.read >= self.count {
            return None;
        }
        // decode into locals; commit state only if the whole sample decoded
        let save = (
            self.r.pos,
            self.t,
            self.delta,
            self.v_bits,
            self.leading,
            self.trailing,
        );
        let ok = if self.read == 0 {
            (|| {
                self.t = self.r.read_bits(64)? as i64;
                self.v_bits = self.r.read_bits(64)?;
                Some(())
            })()
        } else {
            (|| {
                let dod = self.read_dod()?;
                let delta = if self.read == 1 {
                    dod
                } else {
                    self.delta.wrapping_add(dod)
                };
                let v = self.read_value()?;
                self.delta = delta;
                self.t = self.t.wrapping_add(delta);
                self.v_bits = v;
                Some(())
            })()
        };
        if ok.is_none() {
            (
                self.r.pos,
                self.t,
                self.delta,
                self.v_bits,
                self.leading,
                self.trailing,
            ) = save;
            self.count = self.read;
            return None;
        }
        self.read += 1;
        Some((self.t, f64::from_bits(self.v_bits)))
    }
}

/// Whether two sample lists are the same, values compared bit for bit
/// (NaN and stale markers included).
#[cfg(test)]
pub(crate) fn same_samples(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use same_samples as same;

    fn roundtrip(samples: &[(i64, f64)], cap: usize) -> (Vec<(i64, f64)>, usize) {
        let mut buf = vec![0u8; cap];
        let mut enc = XorEncoder::new();
        let mut n = 0;
        for &(t, v) in samples {
            if !enc.append(&mut buf, t, v) {
                break;
            }
            n += 1;
        }
        let got: Vec<_> = XorIterator::new(&buf, enc.count(), enc.bit_len()).collect();
        (got, n)
    }

    #[test]
    fn regular_scrape_compresses() {
        let samples: Vec<_> = (0..120)
            .map(|i| (1_700_000_000_000 + i * 15_000 + (i % 3), (i * 7) as f64))
            .collect();
        let (got, n) = roundtrip(&samples, 4096);
        assert_eq!(n, 120);
        assert!(same(&got, &samples));
        let mut buf = vec![0u8; 4096];
        let mut enc = XorEncoder::new();
        for &(t, v) in &samples {
            assert!(enc.append(&mut buf, t, v));
        }
        // jittered timestamps and changing values: under 3 bytes/sample
        assert!(
            enc.bit_len() / 8 < 16 + 3 * 120,
            "{} bytes",
            enc.bit_len() / 8
        );
        // a steady scrape of a constant: the first sample raw, then ~2 bits each
        let mut buf = vec![0u8; 4096];
        let mut enc = XorEncoder::new();
        for i in 0..120 {
            assert!(enc.append(&mut buf, i * 15_000, 42.0));
        }
        assert!(enc.bit_len() / 8 < 16 + 40, "{} bytes", enc.bit_len() / 8);
    }

    #[test]
    fn special_values() {
        let stale = f64::from_bits(crate::STALE_NAN_BITS);
        let samples = vec![
            (0, f64::NAN),
            (1, stale),
            (2, f64::INFINITY),
            (3, f64::NEG_INFINITY),
            (4, -0.0),
            (5, f64::MIN_POSITIVE),
            (i64::MAX / 2, 1e300),
        ];
        let (got, n) = roundtrip(&samples, 1024);
        assert_eq!(n, samples.len());
        assert!(same(&got, &samples));
    }

    #[test]
    fn full_buffer_refuses_without_change() {
        let mut buf = vec![0u8; 20];
        let mut enc = XorEncoder::new();
        assert!(enc.append(&mut buf, 1000, 1.5));
        let before = enc.clone();
        let snapshot = buf.clone();
        assert!(!enc.append(&mut buf, 2000, 123456.789));
        assert_eq!(enc, before);
        assert_eq!(buf, snapshot);
    }

    #[test]
    fn resume_continues_identically() {
        let samples: Vec<_> = (0..50)
            .map(|i| (i * 1000 + i % 2, (i as f64).sin()))
            .collect();
        let mut a = vec![0u8; 2048];
        let mut enc = XorEncoder::new();
        for &(t, v) in &samples[..30] {
            assert!(enc.append(&mut a, t, v));
        }
        let (mut resumed, got) = XorEncoder::resume(&a, enc.count(), enc.bit_len());
        assert_eq!(resumed, enc);
        assert!(same(&got, &samples[..30]));
        let mut b = a.clone();
        for &(t, v) in &samples[30..] {
            assert!(enc.append(&mut a, t, v));
            assert!(resumed.append(&mut b, t, v));
        }
        assert_eq!(a, b);
    }

    #[test]
    fn truncated_data_stops_cleanly() {
        let samples: Vec<_> = (0..20).map(|i| (i * 1000, i as f64 * 1.25)).collect();
        let mut buf = vec![0u8; 1024];
        let mut enc = XorEncoder::new();
        for &(t, v) in &samples {
            enc.append(&mut buf, t, v);
        }
        let got: Vec<_> = XorIterator::new(&buf, 20, enc.bit_len() - 3).collect();
        assert!(got.len() < 20);
        assert!(same(&got, &samples[..got.len()]));
    }

    proptest! {
        #[test]
        fn prop_roundtrip(start in -1i64<<40..1i64<<40,
                          deltas in proptest::collection::vec(0i64..1_000_000, 1..200),
                          vals in proptest::collection::vec(any::<u64>(), 200)) {
            let mut t = start;
            let samples: Vec<_> = deltas.iter().zip(&vals).map(|(d, v)| { t += d + 1; (t, f64::from_bits(*v)) }).collect();
            let (got, n) = roundtrip(&samples, 4096);
            prop_assert!(same(&got, &samples[..n]));
        }

        #[test]
        fn prop_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), count in 0u16..500) {
            let n = XorIterator::new(&bytes, count, bytes.len() * 8).count();
            prop_assert!(n <= count as usize);
        }
    }
}
