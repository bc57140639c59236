//! The histogram chunk encoding: the native histogram samples of one
//! series, bit-packed (format in `docs/format/histograms.md`).
//!
//! Per sample: the timestamp as a delta of deltas; two bits of counter
//! reset hint; whether the bucket layout (schema, zero threshold, custom
//! bounds, bucket indexes) changed, and if so the new layout; whether the
//! counts are integers. Integer counts (count, zero count, each bucket in
//! layout order) are written as deltas of deltas, float counts XORed with
//! the previous value; the sum always XORed. A layout change keeps the
//! previous values of the buckets that stay, so adding a bucket costs the
//! new index and the new bucket only.

use std::collections::HashMap;

use crate::histogram::{CounterResetHint, FloatHistogram};

/// Writes bits, most significant first.
#[derive(Default, Clone, Debug)]
pub(crate) struct BitWriter {
    pub(crate) buf: Vec<u8>,
    pub(crate) bits: usize,
    /// Integers in the first version's sizes (see [`put_signed`]).
    pub(crate) v1: bool,
}

impl BitWriter {
    fn bit(&mut self, b: bool) {
        if self.bits.is_multiple_of(8) {
            self.buf.push(0);
        }
        if b {
            let last = self.buf.len() - 1;
            self.buf[last] |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
    }

    fn bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    /// Appends bits `from..to` of `src` (most significant first).
    pub(crate) fn append_bits(&mut self, src: &[u8], from: usize, to: usize) {
        for i in from..to {
            self.bit(src[i / 8] & (0x80 >> (i % 8)) != 0);
        }
    }
}

/// Reads what [`BitWriter`] wrote.
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    /// Integers in the first version's sizes.
    v1: bool,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(buf: &'a [u8], bits: usize) -> Self {
        BitReader {
            buf,
            pos: 0,
            end: bits.min(buf.len() * 8),
            v1: false,
        }
    }

    fn bit(&mut self) -> Option<bool> {
        if self.pos >= self.end {
            return None;
        }
        let b = self.buf[self.pos / 8] & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(b)
    }

    fn bits(&mut self, n: u32) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Some(v)
    }
}

/// The payload widths of signed integers by the number of `1` bits before
/// the `0` that ends their prefix (none after the last): version 2 has a
/// 3-bit class for the small changes most bucket counts make each sample;
/// version 1 started at 7 bits.
const WIDTHS_V2: [u32; 6] = [0, 3, 7, 14, 28, 64];
const WIDTHS_V1: [u32; 5] = [0, 7, 14, 28, 64];

/// Signed integers by size, two's complement: version 2 `0` for 0,
/// `10` + 3 bits, `110` + 7, `1110` + 14, `11110` + 28, `11111` + 64;
/// version 1 `0`, `10` + 7, `110` + 14, `1110` + 28, `1111` + 64.
fn put_signed(w: &mut BitWriter, v: i64) {
    let widths: &[u32] = if w.v1 { &WIDTHS_V1 } else { &WIDTHS_V2 };
    let last = widths.len() - 1;
    let class = (0..last)
        .find(|&c| {
            let n = widths[c];
            if n == 0 {
                v == 0
            } else {
                let lim = 1i64 << (n - 1);
                (-lim..lim).contains(&v)
            }
        })
        .unwrap_or(last);
    for _ in 0..class {
        w.bit(true);
    }
    if class < last {
        w.bit(false);
    }
    let n = widths[class];
    if n == 64 {
        w.bits(v as u64, 64);
    } else if n > 0 {
        w.bits(v as u64 & ((1u64 << n) - 1), n);
    }
}

fn get_signed(r: &mut BitReader<'_>) -> Option<i64> {
    let widths: &[u32] = if r.v1 { &WIDTHS_V1 } else { &WIDTHS_V2 };
    let last = widths.len() - 1;
    let mut class = 0;
    while class < last && r.bit()? {
        class += 1;
    }
    let width = widths[class];
    if width == 0 {
        return Some(0);
    }
    let raw = r.bits(width)?;
    if width == 64 {
        return Some(raw as i64);
    }
    let shift = 64 - width;
    Some(((raw << shift) as i64) >> shift)
}

/// A float XORed with the one before: `0` when equal, else `1`, 6 bits of
/// leading zeros, 6 bits of length − 1, the meaningful bits.
fn put_xor(w: &mut BitWriter, prev: f64, v: f64) {
    let x = prev.to_bits() ^ v.to_bits();
    if x == 0 {
        w.bit(false);
        return;
    }
    w.bit(true);
    let lead = x.leading_zeros().min(63);
    let trail = x.trailing_zeros();
    let len = 64 - lead - trail;
    w.bits(u64::from(lead), 6);
    w.bits(u64::from(len - 1), 6);
    w.bits(x >> trail, len);
}

fn get_xor(r: &mut BitReader<'_>, prev: f64) -> Option<f64> {
    if !r.bit()? {
        return Some(prev);
    }
    let lead = r.bits(6)? as u32;
    let len = r.bits(6)? as u32 + 1;
    if lead + len > 64 {
        return None;
    }
    let x = r.bits(len)? << (64 - lead - len);
    Some(f64::from_bits(prev.to_bits() ^ x))
}

fn put_unsigned(w: &mut BitWriter, v: u64) {
    put_signed(w, v as i64);
}

fn get_unsigned(r: &mut BitReader<'_>) -> Option<u64> {
    get_signed(r).map(|v| v as u64)
}

/// The largest integer count written as one (2^53).
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

fn is_int(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() <= MAX_EXACT && !(v == 0.0 && v.is_sign_negative())
}

/// The bucket layout of a histogram.
#[derive(Clone, Debug, Default, PartialEq)]
struct Layout {
    schema: i32,
    zero_threshold: f64,
    custom_values: Vec<f64>,
    positive: Vec<i32>,
    negative: Vec<i32>,
}

impl Layout {
    fn of(h: &FloatHistogram) -> Layout {
        Layout {
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            custom_values: h.custom_values.clone(),
            positive: h.positive.iter().map(|b| b.0).collect(),
            negative: h.negative.iter().map(|b| b.0).collect(),
        }
    }

    /// Whether `h`'s buckets are all in this layout (and the rest agrees).
    fn holds(&self, h: &FloatHistogram) -> bool {
        self.schema == h.schema
            && self.zero_threshold.to_bits() == h.zero_threshold.to_bits()
            && self.custom_values.len() == h.custom_values.len()
            && self
                .custom_values
                .iter()
                .zip(&h.custom_values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
            && subset(&h.positive, &self.positive)
            && subset(&h.negative, &self.negative)
    }

    /// The layout holding both `self`'s buckets and `h`'s.
    fn widened(&self, h: &FloatHistogram) -> Layout {
        let union = |a: &[i32], b: &[(i32, f64)]| {
            let mut v: Vec<i32> = a.iter().copied().chain(b.iter().map(|x| x.0)).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let same_base = self.schema == h.schema
            && self.zero_threshold.to_bits() == h.zero_threshold.to_bits()
            && self.custom_values == h.custom_values;
        if !same_base {
            return Layout::of(h);
        }
        Layout {
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            custom_values: h.custom_values.clone(),
            positive: union(&self.positive, &h.positive),
            negative: union(&self.negative, &h.negative),
        }
    }

    fn write(&self, w: &mut BitWriter) {
        put_signed(w, i64::from(self.schema));
        w.bits(self.zero_threshold.to_bits(), 64);
        put_unsigned(w, self.custom_values.len() as u64);
        for v in &self.custom_values {
            w.bits(v.to_bits(), 64);
        }
        for side in [&self.positive, &self.negative] {
            put_unsigned(w, side.len() as u64);
            let mut prev = None;
            for &i in side {
                match prev {
                    None => put_signed(w, i64::from(i)),
                    Some(p) => put_unsigned(w, (i64::from(i) - i64::from(p) - 1) as u64),
                }
                prev = Some(i);
            }
        }
    }

    fn read(r: &mut BitReader<'_>) -> Option<Layout> {
        let schema = i32::try_from(get_signed(r)?).ok()?;
        let zero_threshold = f64::from_bits(r.bits(64)?);
        let n = usize::try_from(get_unsigned(r)?).ok()?;
        if n > 1 << 16 {
            return None;
        }
        let mut custom_values = Vec::with_capacity(n);
        for _ in 0..n {
            custom_values.push(f64::from_bits(r.bits(64)?));
        }
        let mut sides = [Vec::new(), Vec::new()];
        for side in &mut sides {
            let n = usize::try_from(get_unsigned(r)?).ok()?;
            if n > 1 << 16 {
                return None;
            }
            let mut prev: Option<i64> = None;
            for _ in 0..n {
                let i = match prev {
                    None => get_signed(r)?,
                    // a gap is never negative: indexes grow
                    Some(p) => {
                        let gap = i64::try_from(get_unsigned(r)?).ok()?;
                        p.checked_add(1)?.checked_add(gap)?
                    }
                };
                side.push(i32::try_from(i).ok()?);
                prev = Some(i);
            }
        }
        let [positive, negative] = sides;
        Some(Layout {
            schema,
            zero_threshold,
            custom_values,
            positive,
            negative,
        })
    }
}

/// Whether every index of `h` (sorted) is in `of` (sorted).
fn subset(h: &[(i32, f64)], of: &[i32]) -> bool {
    let mut j = 0;
    for &(i, _) in h {
        while j < of.len() && of[j] < i {
            j += 1;
        }
        if of.get(j) != Some(&i) {
            return false;
        }
    }
    true
}

/// A value with the delta it last changed by (integer mode).
#[derive(Clone, Copy, Debug, Default)]
struct Track {
    value: f64,
    delta: i64,
}

/// The state both sides keep between samples.
#[derive(Clone, Debug, Default)]
struct State {
    n: u32,
    t: i64,
    t_delta: i64,
    layout: Layout,
    integer: bool,
    count: Track,
    zero: Track,
    sum: f64,
    /// Per bucket (sign, index).
    buckets: HashMap<(bool, i32), Track>,
}

fn hint_bits(h: CounterResetHint) -> u64 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

fn hint_of(b: u64) -> CounterResetHint {
    match b {
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

/// Writes one count: in integer mode as the change of its delta (`fresh`:
/// the value itself), else XORed.
fn put_count(w: &mut BitWriter, tr: &mut Track, v: f64, integer: bool, fresh: bool) {
    if integer {
        if fresh {
            put_signed(w, v as i64);
            tr.delta = 0;
        } else {
            let d = (v as i64).wrapping_sub(tr.value as i64);
            put_signed(w, d.wrapping_sub(tr.delta));
            tr.delta = d;
        }
    } else {
        put_xor(w, if fresh { 0.0 } else { tr.value }, v);
        tr.delta = 0;
    }
    tr.value = v;
}

fn get_count(r: &mut BitReader<'_>, tr: &mut Track, integer: bool, fresh: bool) -> Option<f64> {
    let v = if integer {
        if fresh {
            tr.delta = 0;
            get_signed(r)? as f64
        } else {
            let d = tr.delta.wrapping_add(get_signed(r)?);
            tr.delta = d;
            (tr.value as i64).wrapping_add(d) as f64
        }
    } else {
        tr.delta = 0;
        get_xor(r, if fresh { 0.0 } else { tr.value })?
    };
    tr.value = v;
    Some(v)
}

/// Appends histogram samples of one series to a chunk.
#[derive(Clone, Debug, Default)]
pub(crate) struct Encoder {
    w: BitWriter,
    st: State,
}

impl Encoder {
    /// Samples written.
    pub(crate) fn count(&self) -> u32 {
        self.st.n
    }

    /// The chunk so far: bytes and length in bits.
    pub(crate) fn bytes(&self) -> (&[u8], usize) {
        (&self.w.buf, self.w.bits)
    }

    /// Appends a sample (timestamps must grow).
    pub(crate) fn append(&mut self, t: i64, h: &FloatHistogram) {
        let w = &mut self.w;
        let st = &mut self.st;
        match st.n {
            0 => w.bits(t as u64, 64),
            1 => {
                st.t_delta = t.wrapping_sub(st.t);
                put_signed(w, st.t_delta);
            }
            _ => {
                let d = t.wrapping_sub(st.t);
                put_signed(w, d.wrapping_sub(st.t_delta));
                st.t_delta = d;
            }
        }
        st.t = t;
        w.bits(hint_bits(h.counter_reset_hint), 2);
        let relayout = st.n == 0 || !st.layout.holds(h);
        if st.n > 0 {
            w.bit(relayout);
        }
        if relayout {
            let new = if st.n == 0 {
                Layout::of(h)
            } else {
                st.layout.widened(h)
            };
            new.write(w);
            if new.schema != st.layout.schema
                || new.zero_threshold.to_bits() != st.layout.zero_threshold.to_bits()
                || new.custom_values != st.layout.custom_values
            {
                st.buckets.clear();
            }
            st.layout = new;
        }
        let integer = is_int(h.count)
            && is_int(h.zero_count)
            && h.positive.iter().chain(&h.negative).all(|b| is_int(b.1));
        let fresh = st.n == 0 || integer != st.integer;
        w.bit(integer);
        st.integer = integer;
        put_count(w, &mut st.count, h.count, integer, fresh);
        put_count(w, &mut st.zero, h.zero_count, integer, fresh);
        put_xor(w, if st.n == 0 { 0.0 } else { st.sum }, h.sum);
        st.sum = h.sum;
        for (neg, idx, side) in [
            (false, &st.layout.positive, &h.positive),
            (true, &st.layout.negative, &h.negative),
        ] {
            let mut j = 0;
            for &i in idx.iter() {
                let v = match side.get(j) {
                    Some(&(bi, c)) if bi == i => {
                        j += 1;
                        c
                    }
                    _ => 0.0,
                };
                let tr = st.buckets.entry((neg, i)).or_default();
                put_count(w, tr, v, integer, fresh);
            }
        }
        st.n += 1;
    }
}

/// Decodes a chunk of `count` samples; `None` when it is malformed.
pub(crate) fn decode(buf: &[u8], bits: usize, count: u32) -> Option<Vec<(i64, FloatHistogram)>> {
    decode_version(CURRENT, buf, bits, count)
}

/// The encoding written now.
pub(crate) const CURRENT: u8 = 2;

/// Decodes a chunk of `count` samples in the encoding of `version` (1 or
/// 2); `None` when it is malformed.
pub(crate) fn decode_version(
    version: u8,
    buf: &[u8],
    bits: usize,
    count: u32,
) -> Option<Vec<(i64, FloatHistogram)>> {
    let mut r = BitReader::new(buf, bits);
    r.v1 = version == 1;
    let mut st = State::default();
    let mut out = Vec::with_capacity(count as usize);
    for n in 0..count {
        let t = match n {
            0 => r.bits(64)? as i64,
            1 => {
                st.t_delta = get_signed(&mut r)?;
                st.t.wrapping_add(st.t_delta)
            }
            _ => {
                st.t_delta = st.t_delta.wrapping_add(get_signed(&mut r)?);
                st.t.wrapping_add(st.t_delta)
            }
        };
        st.t = t;
        let hint = hint_of(r.bits(2)?);
        let relayout = n == 0 || r.bit()?;
        if relayout {
            let new = Layout::read(&mut r)?;
            if new.schema != st.layout.schema
                || new.zero_threshold.to_bits() != st.layout.zero_threshold.to_bits()
                || new.custom_values != st.layout.custom_values
            {
                st.buckets.clear();
            }
            st.layout = new;
        }
        let integer = r.bit()?;
        let fresh = n == 0 || integer != st.integer;
        st.integer = integer;
        let count = get_count(&mut r, &mut st.count, integer, fresh)?;
        let zero_count = get_count(&mut r, &mut st.zero, integer, fresh)?;
        let sum = get_xor(&mut r, if n == 0 { 0.0 } else { st.sum })?;
        st.sum = sum;
        let mut h = FloatHistogram {
            schema: st.layout.schema,
            counter_reset_hint: hint,
            zero_threshold: st.layout.zero_threshold,
            zero_count,
            count,
            sum,
            custom_values: st.layout.custom_values.clone(),
            ..Default::default()
        };
        for (neg, idx) in [(false, &st.layout.positive), (true, &st.layout.negative)] {
            for &i in idx.iter() {
                let tr = st.buckets.entry((neg, i)).or_default();
                let v = get_count(&mut r, tr, integer, fresh)?;
                if neg {
                    h.negative.push((i, v));
                } else {
                    h.positive.push((i, v));
                }
            }
        }
        out.push((t, h));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(count: f64, buckets: &[(i32, f64)]) -> FloatHistogram {
        FloatHistogram {
            schema: 2,
            zero_threshold: 1e-128,
            zero_count: 1.0,
            count,
            sum: count * 0.37,
            positive: buckets.to_vec(),
            negative: vec![(-3, 2.0)],
            ..Default::default()
        }
    }

    fn roundtrip(samples: &[(i64, FloatHistogram)]) -> usize {
        let mut e = Encoder::default();
        for (t, h) in samples {
            e.append(*t, h);
        }
        let (buf, bits) = e.bytes();
        let got = decode(buf, bits, e.count()).expect("decodes");
        assert_eq!(got.len(), samples.len());
        for ((t, h), (gt, gh)) in samples.iter().zip(&got) {
            assert_eq!(t, gt);
            let (mut a, mut b) = (h.clone(), gh.clone());
            a.compact();
            b.compact();
            assert_eq!(a.count.to_bits(), b.count.to_bits());
            assert_eq!(a.sum.to_bits(), b.sum.to_bits());
            (a.sum, b.sum) = (0.0, 0.0);
            assert_eq!(a, b, "at {t}");
        }
        buf.len()
    }

    #[test]
    fn integer_counters_are_small() {
        let mut s = Vec::new();
        for k in 0..120i64 {
            let c = k as f64;
            s.push((
                1_700_000_000_000 + k * 15_000,
                hist(
                    10.0 * c + 3.0,
                    &[(0, 3.0 * c), (1, 5.0 * c + 1.0), (3, 2.0 * c)],
                ),
            ));
        }
        let bytes = roundtrip(&s);
        // steady rates: a few bytes a sample (mostly the sum)
        assert!(bytes < 120 * 12, "{bytes} bytes");
    }

    #[test]
    fn layouts_hints_floats_and_custom_bounds() {
        let mut a = hist(4.0, &[(0, 1.0), (2, 3.0)]);
        a.counter_reset_hint = CounterResetHint::Gauge;
        let b = hist(6.0, &[(-1, 1.0), (0, 1.0), (2, 3.0), (7, 1.0)]);
        let mut c = hist(2.5, &[(1, 0.5)]);
        c.schema = 0;
        c.sum = f64::NAN;
        let d = FloatHistogram {
            schema: crate::histogram::CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![0.1, 0.5, 1.0],
            count: 7.0,
            sum: 2.0,
            positive: vec![(0, 1.0), (3, 6.0)],
            ..Default::default()
        };
        let stale = FloatHistogram {
            sum: f64::from_bits(crate::STALE_NAN_BITS),
            ..d.clone()
        };
        roundtrip(&[
            (-5, a),
            (10, b),
            (11, c),
            (i64::MAX - 1, d.clone()),
            (i64::MAX, stale),
        ]);
        roundtrip(&[(0, d)]);
    }

    #[test]
    fn signed_and_unsigned_widths() {
        let mut w = BitWriter::default();
        let vals = [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            8191,
            -8192,
            8192,
            1 << 27,
            -(1 << 27),
            i64::MAX,
            i64::MIN,
        ];
        for &v in &vals {
            put_signed(&mut w, v);
        }
        let mut r = BitReader::new(&w.buf, w.bits);
        for &v in &vals {
            assert_eq!(get_signed(&mut r), Some(v));
        }
        assert_eq!(get_signed(&mut r), None);
    }

    #[test]
    fn damage_is_refused_not_a_panic() {
        let mut e = Encoder::default();
        e.append(1, &hist(3.0, &[(0, 1.0)]));
        e.append(2, &hist(4.0, &[(0, 2.0)]));
        let (buf, bits) = e.bytes();
        assert!(decode(buf, bits - 3, 2).is_none());
        assert!(decode(buf, bits, 3).is_none());
        let garbage = vec![0xffu8; 64];
        let _ = decode(&garbage, garbage.len() * 8, 40);
    }

    #[test]
    fn version_1_still_decodes_and_version_2_is_smaller() {
        // bucket counts that each grow by a few observations a sample
        let mut counts = [0i64; 30];
        let samples: Vec<(i64, FloatHistogram)> = (0..120i64)
            .map(|k| {
                for (i, c) in counts.iter_mut().enumerate() {
                    *c += (i as i64 * 7 + k * 13 + k * k) % 4;
                }
                let buckets: Vec<(i32, f64)> = counts
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i as i32, *c as f64))
                    .collect();
                let count = buckets.iter().map(|b| b.1).sum::<f64>() + 1.0;
                (k * 15_000, hist(count, &buckets))
            })
            .collect();
        let mut sizes = Vec::new();
        for version in [1u8, 2] {
            let mut e = Encoder::default();
            e.w.v1 = version == 1;
            for (t, h) in &samples {
                e.append(*t, h);
            }
            let (buf, bits) = e.bytes();
            let got = decode_version(version, buf, bits, e.count()).expect("decodes");
            assert_eq!(got.len(), samples.len());
            for ((t, h), (gt, gh)) in samples.iter().zip(&got) {
                assert_eq!((t, h.count, &h.positive), (gt, gh.count, &gh.positive));
            }
            sizes.push(buf.len());
        }
        assert!(sizes[1] * 10 < sizes[0] * 8, "{sizes:?}");
    }
}
