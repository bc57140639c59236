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

mod shared;

use crate::encoding::{put_varint, Cursor};

pub use shared::{SharedChunk, SharedIterator};

/// Chunk encoding tag of the delta encoding, first layout: groups of 32
/// deltas of deltas, each packed. Still read; no longer written.
pub const ENCODING_DELTA: u8 = 2;

/// Chunk encoding tag of the delta encoding, second layout: groups of 64,
/// each holding deltas of deltas or plain deltas, packed or sparse,
/// whichever is smallest.
pub const ENCODING_DELTA2: u8 = 3;

/// The two group layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    V1,
    V2,
}

impl Layout {
    /// Elements per group.
    fn group(self) -> usize {
        match self {
            Layout::V1 => 32,
            Layout::V2 => GROUP_MAX,
        }
    }
}

/// Most elements in a group (of either layout).
const GROUP_MAX: usize = 64;

/// Chunk encoding tag of a delta chunk stored against an earlier delta
/// chunk of the same block (blocks only): same timestamps, and mantissas
/// (at the earlier chunk's exponent) stored as their differences to the
/// earlier chunk's, in the second layout. A histogram's buckets, or a
/// bucket and its `_count`, differ by little, so the differences take a
/// fraction of the bytes.
pub const ENCODING_DELTA_REF: u8 = 4;

/// Group tag bit (second layout): the elements are deltas, not deltas of
/// deltas.
const DELTAS: u8 = 0x80;

/// Group tag code (second layout): a sparse group. Codes 0 to 64 are the
/// bit width of a packed group.
const SPARSE: u8 = 0x7f;

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
/// its mantissa at exponent `e`, appending to `out`, in the second layout
/// ([`ENCODING_DELTA2`]). Returns false, with `out` left as it was, if a
/// value has no mantissa at `e` or `samples` is empty or holds more than
/// `u16::MAX` samples.
pub fn encode(samples: &[(i64, f64)], e: u8, out: &mut Vec<u8>) -> bool {
    encode_layout(samples, e, out, Layout::V2)
}

/// [`encode`] in the first layout ([`ENCODING_DELTA`]), as earlier
/// versions wrote it.
#[cfg(test)]
pub(crate) fn encode_v1(samples: &[(i64, f64)], e: u8, out: &mut Vec<u8>) -> bool {
    encode_layout(samples, e, out, Layout::V1)
}

fn encode_layout(samples: &[(i64, f64)], e: u8, out: &mut Vec<u8>, layout: Layout) -> bool {
    if samples.is_empty() || samples.len() > u16::MAX as usize || e as usize > MAX_EXP {
        return false;
    }
    let Some(ms) = mantissas(samples, e) else {
        return false;
    };
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    encode_ints(Some(&ts), &ms, e, out, layout);
    true
}

/// The decimal exponent of a delta chunk's `data` (either layout).
pub fn chunk_exponent(data: &[u8]) -> Option<u8> {
    data.first()
        .map(|h| h & !STEADY)
        .filter(|&e| e as usize <= MAX_EXP)
}

/// The mantissas of the values of `samples` at exponent `e`, if they all
/// have one.
pub fn mantissas(samples: &[(i64, f64)], e: u8) -> Option<Vec<i64>> {
    samples.iter().map(|&(_, v)| mantissa(v, e)).collect()
}

/// Encodes the differences `ms` of a chunk's mantissas to those of the
/// chunk it is stored against ([`ENCODING_DELTA_REF`]), at that chunk's
/// exponent `e`: a second-layout body whose timestamps are all 0 (steady,
/// so no timestamp groups). Returns false, with `out` left as it was, if
/// `ms` is empty or longer than `u16::MAX`.
pub fn encode_differences(ms: &[i64], e: u8, out: &mut Vec<u8>) -> bool {
    if ms.is_empty() || ms.len() > u16::MAX as usize || e as usize > MAX_EXP {
        return false;
    }
    encode_ints(None, ms, e, out, Layout::V2);
    true
}

/// About how many bytes [`encode_differences`] would take for `ms`
/// (packed groups only, so at most a few bytes a group over), without
/// writing them: a cheap way to compare candidate chunks.
pub fn differences_size(ms: &[i64]) -> usize {
    if ms.len() < 2 {
        return 4 + varint_len(ms.first().copied().unwrap_or(0));
    }
    let mut size = 4 + varint_len(ms[0]) + varint_len(ms[1].wrapping_sub(ms[0]));
    let mut dm = ms[1].wrapping_sub(ms[0]);
    let (mut dod, mut d) = ([0i64; GROUP_MAX], [0i64; GROUP_MAX]);
    let mut i = 2;
    while i < ms.len() {
        let k = GROUP_MAX.min(ms.len() - i);
        for j in 0..k {
            let x = ms[i + j].wrapping_sub(ms[i + j - 1]);
            (dod[j], d[j]) = (x.wrapping_sub(dm), x);
            dm = x;
        }
        let (a, wa) = span_of(&dod[..k]);
        let (b, wb) = span_of(&d[..k]);
        size += 1
            + (varint_len(a) + (k * wa as usize).div_ceil(8))
                .min(varint_len(b) + (k * wb as usize).div_ceil(8));
        i += k;
    }
    size
}

/// Writes a chunk body: the header byte, first timestamp and mantissa,
/// first differences, then the groups. `ts` `None` means every timestamp
/// is 0 (a [`ENCODING_DELTA_REF`] body). `ms` is not empty.
fn encode_ints(ts: Option<&[i64]>, ms: &[i64], e: u8, out: &mut Vec<u8>, layout: Layout) {
    let t = |i: usize| ts.map_or(0, |ts| ts[i]);
    let n = ms.len();
    let dt1 = if n > 1 { t(1).wrapping_sub(t(0)) } else { 0 };
    let steady = ts.is_none_or(|ts| ts.windows(2).all(|w| w[1].wrapping_sub(w[0]) == dt1));
    out.push(if steady { e | STEADY } else { e });
    let (t0, m0) = (t(0), ms[0]);
    put_varint(out, t0);
    put_varint(out, m0);
    if n == 1 {
        return;
    }
    let (mut dt, mut dm) = (t(1).wrapping_sub(t0), ms[1].wrapping_sub(m0));
    put_varint(out, dt);
    put_varint(out, dm);
    let (mut tdod, mut td) = ([0i64; GROUP_MAX], [0i64; GROUP_MAX]);
    let (mut mdod, mut md) = ([0i64; GROUP_MAX], [0i64; GROUP_MAX]);
    let mut i = 2;
    while i < n {
        let k = layout.group().min(n - i);
        for j in 0..k {
            let d = t(i + j).wrapping_sub(t(i + j - 1));
            (tdod[j], td[j]) = (d.wrapping_sub(dt), d);
            dt = d;
            let d = ms[i + j].wrapping_sub(ms[i + j - 1]);
            (mdod[j], md[j]) = (d.wrapping_sub(dm), d);
            dm = d;
        }
        match layout {
            Layout::V1 => {
                if !steady {
                    put_group(out, &tdod[..k]);
                }
                put_group(out, &mdod[..k]);
            }
            Layout::V2 => {
                if !steady {
                    put_group2(out, &tdod[..k], &td[..k]);
                }
                put_group2(out, &mdod[..k], &md[..k]);
            }
        }
        i += k;
    }
}

/// Bytes of a zigzag varint.
fn varint_len(v: i64) -> usize {
    let z = ((v << 1) ^ (v >> 63)) as u64;
    ((64 - z.leading_zeros()) as usize).div_ceil(7).max(1)
}

/// The smallest element and the bit width of the largest difference to it.
fn span_of(xs: &[i64]) -> (i64, u32) {
    let min = xs.iter().copied().min().unwrap_or(0);
    let span = xs
        .iter()
        .map(|&x| x.wrapping_sub(min) as u64)
        .max()
        .unwrap_or(0);
    (min, 64 - span.leading_zeros())
}

/// The element that occurs in more than half of `xs`, if one does (else
/// some element): a sparse group pays off only for such an element, and
/// finding it takes one pass (Boyer and Moore's majority vote).
fn majority(xs: &[i64]) -> i64 {
    let (mut cand, mut n) = (xs[0], 0u32);
    for &x in xs {
        if n == 0 {
            (cand, n) = (x, 1);
        } else if x == cand {
            n += 1;
        } else {
            n -= 1;
        }
    }
    cand
}

/// A group in the second layout, in the smallest of its four forms: the
/// deltas of deltas or the deltas, each packed or sparse.
///
/// packed: tag (the bit width, 0 to 64), the smallest element (varint),
/// then each element minus the smallest in that many bits.
/// sparse: tag [`SPARSE`], a common element (varint), a bitmap of
/// the elements that differ from it (bit j of byte j/8), then those
/// elements as a first-layout group. Bit 7 of the tag is [`DELTAS`].
fn put_group2(out: &mut Vec<u8>, dods: &[i64], deltas: &[i64]) {
    /// A group form, with what writing it needs.
    #[derive(Clone, Copy)]
    enum Form {
        Packed { min: i64, w: u32 },
        Sparse { common: i64 },
    }
    let k = dods.len();
    let mut best: Option<(usize, u8, &[i64], Form)> = None;
    for (xs, order) in [(dods, 0u8), (deltas, DELTAS)] {
        let (min, w) = span_of(xs);
        let packed = 1 + varint_len(min) + (k * w as usize).div_ceil(8);
        let common = majority(xs);
        let mut ex = [0i64; GROUP_MAX];
        let mut n = 0;
        for &x in xs.iter().filter(|&&x| x != common) {
            ex[n] = x;
            n += 1;
        }
        let (emin, ew) = span_of(&ex[..n]);
        let sparse = 1
            + varint_len(common)
            + k.div_ceil(8)
            + varint_len(emin)
            + 1
            + (n * ew as usize).div_ceil(8);
        for (size, form) in [
            (packed, Form::Packed { min, w }),
            (sparse, Form::Sparse { common }),
        ] {
            if best.is_none_or(|b| size < b.0) {
                best = Some((size, order, xs, form));
            }
        }
    }
    let (_, order, xs, form) = best.expect("four forms were sized");
    match form {
        Form::Packed { min, w } => {
            out.push(order | w as u8);
            put_varint(out, min);
            put_bits(out, xs, min, w);
        }
        Form::Sparse { common: c } => {
            out.push(order | SPARSE);
            put_varint(out, c);
            let at = out.len();
            out.resize(at + k.div_ceil(8), 0);
            let mut ex = [0i64; GROUP_MAX];
            let mut n = 0;
            for (j, &x) in xs.iter().enumerate() {
                if x != c {
                    out[at + j / 8] |= 1 << (j % 8);
                    ex[n] = x;
                    n += 1;
                }
            }
            put_group(out, &ex[..n]);
        }
    }
}

/// Appends a group: its smallest element (varint), the bit width of the
/// largest difference to it (one byte), then each difference in that many
/// bits, least significant bits first, padded to a whole byte.
fn put_group(out: &mut Vec<u8>, xs: &[i64]) {
    let (min, w) = span_of(xs);
    put_varint(out, min);
    out.push(w as u8);
    put_bits(out, xs, min, w);
}

/// Each element minus `min` in `w` bits, least significant bits first,
/// padded to a whole byte.
fn put_bits(out: &mut Vec<u8>, xs: &[i64], min: i64, w: u32) {
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
        None => b
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .fold(0, |v, (k, &x)| v | u64::from(x) << (8 * k)),
    }
}

/// Reads a group of `out.len()` elements; `None` if the data ends early or
/// the width is over 64.
fn read_group(c: &mut Cursor<'_>, out: &mut [i64]) -> Option<()> {
    let min = c.varint()?;
    let w = *c.bytes(1)?.first()? as usize;
    read_bits(c, min, w, out)
}

/// Reads a second-layout group (see [`put_group2`]); whether its elements
/// are deltas. `None` if the data ends early or is malformed.
fn read_group2(c: &mut Cursor<'_>, out: &mut [i64]) -> Option<bool> {
    let tag = *c.bytes(1)?.first()?;
    let code = tag & !DELTAS;
    if code == SPARSE {
        let common = c.varint()?;
        let bitmap = c.bytes(out.len().div_ceil(8))?;
        let n = bitmap
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum::<usize>();
        if n > out.len() {
            return None;
        }
        let mut ex = [0i64; GROUP_MAX];
        read_group(c, &mut ex[..n])?;
        let mut i = 0;
        for (j, x) in out.iter_mut().enumerate() {
            if bitmap[j / 8] >> (j % 8) & 1 == 1 {
                *x = ex[i];
                i += 1;
            } else {
                *x = common;
            }
        }
        // bits set past the last element
        if i != n {
            return None;
        }
    } else {
        let min = c.varint()?;
        read_bits(c, min, code as usize, out)?;
    }
    Some(tag & DELTAS != 0)
}

/// Reads `out.len()` elements of `w` bits each, adding `min`.
fn read_bits(c: &mut Cursor<'_>, min: i64, w: usize, out: &mut [i64]) -> Option<()> {
    if w > 64 {
        return None;
    }
    if w == 0 {
        out.fill(min);
        return Some(());
    }
    // the group's bytes and what follows them, so that words are read
    // whole up to the group's end; bits past it are masked off
    let b = c.bytes_and_rest((out.len() * w).div_ceil(8))?;
    let mask = u64::MAX >> (64 - w);
    let mut p = 0usize;
    if w <= 57 {
        // an element's bits are always within the word at its first byte
        for x in out.iter_mut() {
            let v = word_at(b, p / 8) >> (p % 8);
            *x = min.wrapping_add((v & mask) as i64);
            p += w;
        }
        return Some(());
    }
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
    layout: Layout,
    count: u16,
    /// Samples decoded so far, into `ts` and `vs` included.
    decoded: u16,
    e: u8,
    steady: bool,
    t: i64,
    dt: i64,
    m: i64,
    dm: i64,
    ts: [i64; GROUP_MAX],
    ms: [i64; GROUP_MAX],
    /// Next position in `ts`/`ms`, and how many they hold.
    at: usize,
    len: usize,
}

impl<'a> DeltaIterator<'a> {
    /// Iterates `count` samples encoded in `data` in the first layout
    /// ([`ENCODING_DELTA`]).
    pub fn new(data: &'a [u8], count: u16) -> Self {
        Self::with_layout(data, count, Layout::V1)
    }

    /// Iterates `count` samples encoded in `data` in the second layout
    /// ([`ENCODING_DELTA2`]).
    pub fn v2(data: &'a [u8], count: u16) -> Self {
        Self::with_layout(data, count, Layout::V2)
    }

    fn with_layout(data: &'a [u8], count: u16, layout: Layout) -> Self {
        DeltaIterator {
            c: Cursor::at(data, 0),
            layout,
            count,
            decoded: 0,
            e: 0,
            steady: false,
            t: 0,
            dt: 0,
            m: 0,
            dm: 0,
            ts: [0; GROUP_MAX],
            ms: [0; GROUP_MAX],
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
        let k = self
            .layout
            .group()
            .min((self.count - self.decoded) as usize);
        let read = |c: &mut Cursor<'a>, out: &mut [i64]| match self.layout {
            Layout::V1 => read_group(c, out).map(|()| false),
            Layout::V2 => read_group2(c, out),
        };
        let t_deltas = if self.steady {
            self.ts[..k].fill(0);
            false
        } else {
            read(&mut self.c, &mut self.ts[..k])?
        };
        let m_deltas = read(&mut self.c, &mut self.ms[..k])?;
        integrate(&mut self.ts[..k], &mut self.t, &mut self.dt, t_deltas);
        integrate(&mut self.ms[..k], &mut self.m, &mut self.dm, m_deltas);
        self.len = k;
        self.decoded += k as u16;
        Some(())
    }
}

/// Turns a group's deltas of deltas (or deltas) into the values, from the
/// last value `x` and its delta `dx`, which it advances.
#[inline]
fn integrate(xs: &mut [i64], x: &mut i64, dx: &mut i64, deltas: bool) {
    let (mut v, mut d) = (*x, *dx);
    if deltas {
        for e in xs.iter_mut() {
            d = *e;
            v = v.wrapping_add(d);
            *e = v;
        }
    } else {
        for e in xs.iter_mut() {
            d = d.wrapping_add(*e);
            v = v.wrapping_add(d);
            *e = v;
        }
    }
    (*x, *dx) = (v, d);
}

impl DeltaIterator<'_> {
    /// The next timestamp and mantissa (the value is the mantissa over
    /// 10^[`Self::exponent`]).
    #[inline]
    pub fn next_mantissa(&mut self) -> Option<(i64, i64)> {
        if self.at == self.len && self.refill().is_none() {
            self.count = self.decoded;
            self.len = 0;
            return None;
        }
        let j = self.at;
        self.at += 1;
        Some((self.ts[j], self.ms[j]))
    }

    /// The chunk's decimal exponent, once a sample has been decoded.
    pub fn exponent(&self) -> u8 {
        self.e
    }
}

/// Iterators that decode a group of samples at a time.
pub trait Groups: Sized {
    /// The timestamps and mantissas of the samples decoded but not yet
    /// taken, or else of the next group, with their exponent; `None` at
    /// the end.
    fn next_group(&mut self) -> Option<(&[i64], &[i64], u8)>;

    /// Appends the remaining samples with `mint <= t <= maxt` to `out`, a
    /// group at a time.
    fn decode_into(mut self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        while let Some((ts, ms, e)) = self.next_group() {
            if !push_group(ts, ms, e, mint, maxt, out) {
                return;
            }
        }
    }
}

impl Groups for DeltaIterator<'_> {
    fn next_group(&mut self) -> Option<(&[i64], &[i64], u8)> {
        if self.at == self.len && self.refill().is_none() {
            self.count = self.decoded;
            self.len = 0;
            return None;
        }
        let (a, b) = (self.at, self.len);
        self.at = b;
        Some((&self.ts[a..b], &self.ms[a..b], self.e))
    }
}

/// Appends the samples of a group with `mint <= t <= maxt` to `out`;
/// false once past `maxt`.
#[inline]
fn push_group(
    ts: &[i64],
    ms: &[i64],
    e: u8,
    mint: i64,
    maxt: i64,
    out: &mut Vec<(i64, f64)>,
) -> bool {
    let len = ts.len().min(ms.len());
    // the samples before the first one past `maxt`
    let n = ts[..len].iter().position(|&t| t > maxt).unwrap_or(len);
    let (ts, ms) = (&ts[..n], &ms[..n]);
    if ts.iter().all(|&t| t >= mint) {
        let pairs = ts.iter().zip(ms);
        if e == 0 {
            out.extend(pairs.map(|(&t, &m)| (t, m as f64)));
        } else {
            let p = POW10[e as usize];
            out.extend(pairs.map(|(&t, &m)| (t, m as f64 / p)));
        }
    } else {
        for (&t, &m) in ts.iter().zip(ms) {
            if t >= mint {
                out.push((t, value_of(m, e)));
            }
        }
    }
    n == len
}

impl Iterator for DeltaIterator<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        let (t, m) = self.next_mantissa()?;
        Some((t, value_of(m, self.e)))
    }
}

/// The exponent, timestamps and mantissas of the (at most `count`)
/// samples of the second-layout chunk `data`.
pub fn decode_mantissas(data: &[u8], count: u16) -> (u8, Vec<i64>, Vec<i64>) {
    let mut it = DeltaIterator::v2(data, count);
    let n = count as usize;
    let (mut ts, mut ms) = (Vec::with_capacity(n), Vec::with_capacity(n));
    while let Some((t, m)) = it.next_mantissa() {
        ts.push(t);
        ms.push(m);
    }
    (it.exponent(), ts, ms)
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
        Some(DeltaIterator::v2(&out, samples.len() as u16).collect())
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
            &DeltaIterator::v2(&out, 480).collect::<Vec<_>>(),
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
            let got: Vec<_> = DeltaIterator::v2(&out[..cut], 100).collect();
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
            let got: Vec<_> = DeltaIterator::v2(&out, samples.len() as u16).collect();
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
            // decoding into a buffer a group at a time, within a range
            let e = samples.iter().filter_map(|s| decimal_exponent(s.1)).max().unwrap_or(0);
            let mut data = Vec::new();
            prop_assert!(encode(&samples, e, &mut data));
            let (mint, maxt) = (samples[samples.len() / 3].0, samples[samples.len() * 2 / 3].0);
            let want: Vec<_> = samples.iter().copied().filter(|s| s.0 >= mint && s.0 <= maxt).collect();
            let mut into = vec![(0, 0.0)];
            DeltaIterator::v2(&data, samples.len() as u16).decode_into(mint, maxt, &mut into);
            prop_assert!(same(&into[1..], &want));
        }

        #[test]
        fn prop_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), count in 0u16..500) {
            let n = DeltaIterator::new(&bytes, count).count();
            prop_assert!(n <= count as usize);
            let n = DeltaIterator::v2(&bytes, count).count();
            prop_assert!(n <= count as usize);
            let (a, b) = bytes.split_at(bytes.len() / 2);
            let shared = std::sync::Arc::new(SharedChunk::new(a, count));
            let n = SharedIterator::new(shared.clone(), Some((b, count))).count();
            prop_assert!(n <= count as usize);
            let n = SharedIterator::new(shared, None).count();
            prop_assert!(n <= count as usize);
        }

        #[test]
        fn prop_stored_against_another_roundtrip(
            base in proptest::collection::vec(0i64..1_000_000, 1..500),
            steps in proptest::collection::vec(-3i64..4, 500),
            e in 0u8..4,
            irregular in any::<bool>(),
        ) {
            // a chunk, and one like it: its mantissas plus a small walk
            let p = 10f64.powi(e as i32);
            let t = |i: usize| i as i64 * 15_000 + if irregular { (i % 3) as i64 } else { 0 };
            let b: Vec<(i64, f64)> = base.iter().enumerate()
                .map(|(i, m)| (t(i), *m as f64 / p)).collect();
            let mut acc = 0i64;
            let mine: Vec<(i64, f64)> = base.iter().zip(&steps).enumerate()
                .map(|(i, (m, s))| { acc += s; (t(i), (m + acc) as f64 / p) })
                .collect();
            let mut bdata = Vec::new();
            prop_assert!(encode(&b, e, &mut bdata));
            let (bm, mm) = (mantissas(&b, e).unwrap(), mantissas(&mine, e).unwrap());
            let diffs: Vec<i64> = mm.iter().zip(&bm).map(|(m, b)| m - b).collect();
            let mut ddata = Vec::new();
            prop_assert!(encode_differences(&diffs, e, &mut ddata));
            prop_assert!(ddata.len() <= differences_size(&diffs));
            let n = mine.len() as u16;
            let shared = std::sync::Arc::new(SharedChunk::new(&bdata, n));
            let got: Vec<_> = SharedIterator::new(shared.clone(), Some((&ddata, n))).collect();
            prop_assert!(same(&got, &mine));
            let (mint, maxt) = (t(mine.len() / 4), t(mine.len() / 2));
            let mut into = Vec::new();
            SharedIterator::new(shared.clone(), Some((&ddata, n))).decode_into(mint, maxt, &mut into);
            let want: Vec<_> = mine.iter().copied().filter(|s| s.0 >= mint && s.0 <= maxt).collect();
            prop_assert!(same(&into, &want));
            let got: Vec<_> = SharedIterator::new(shared, None).collect();
            prop_assert!(same(&got, &b));
            // a body at another exponent is damage: nothing comes out
            let mut other = ddata.clone();
            other[0] = (other[0] & STEADY) | (e + 1);
            let shared = std::sync::Arc::new(SharedChunk::new(&bdata, n));
            prop_assert_eq!(SharedIterator::new(shared, Some((&other, n))).count(), 0);
        }

        #[test]
        fn prop_both_layouts_roundtrip(
            kind in 0usize..4,
            steps in proptest::collection::vec(-3i64..4, 2..400),
            rare in proptest::collection::vec(any::<i64>(), 8),
            irregular in any::<bool>(),
        ) {
            // series that favour each group form: small steps (packed
            // deltas of deltas), jumps (packed deltas), mostly one step
            // with rare others (sparse), and wide random values
            let mut m = 1_000_000i64;
            let samples: Vec<_> = steps.iter().enumerate().map(|(i, &s)| {
                m += match kind {
                    0 => 20 + s,
                    1 => s * 1000 + (i as i64 % 2) * 777,
                    2 => if i % 37 == 5 { rare[i % 8] % 100_000 } else { 3 },
                    _ => rare[i % 8] % (1 << 40),
                };
                let t = i as i64 * 15_000 + if irregular { s * (i as i64 % 3) } else { 0 };
                (t, m as f64)
            }).collect();
            let mut v1 = Vec::new();
            let mut v2 = Vec::new();
            prop_assert!(encode_v1(&samples, 0, &mut v1));
            prop_assert!(encode(&samples, 0, &mut v2));
            let n = samples.len() as u16;
            prop_assert!(same(&DeltaIterator::new(&v1, n).collect::<Vec<_>>(), &samples));
            prop_assert!(same(&DeltaIterator::v2(&v2, n).collect::<Vec<_>>(), &samples));
            // the second layout never takes more than a few bytes beyond
            // the first: each group picks its smallest form
            prop_assert!(v2.len() <= v1.len() + 2 * samples.len().div_ceil(64), "{} > {}", v2.len(), v1.len());
            // a cut chunk yields a prefix
            for cut in [v2.len() / 3, v2.len() / 2, v2.len() - 1] {
                let got: Vec<_> = DeltaIterator::v2(&v2[..cut], n).collect();
                prop_assert!(got.len() < samples.len());
                prop_assert!(same(&got, &samples[..got.len()]));
            }
        }
    }
}
