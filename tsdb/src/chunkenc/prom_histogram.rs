//! Prometheus's native histogram chunks, read ([`decode`]) and written
//! ([`encode`], [`encode_series`]): encoding 2 (integer counts) and 3
//! (float counts), as its blocks and head chunk files hold them,
//! custom-bound histograms (schema -53) included.
//!
//! ```text
//! count u16 big-endian | flags u8 (top two bits: counter reset header:
//!   00 unknown, 01 no reset, 10 reset, 11 gauge) | bit stream, most
//!   significant bit first:
//! first sample:
//!   layout: zero threshold (a byte: 0 is 0, 255 is followed by the
//!           64 bits of a float, others are 2^(b-244)), schema (varbit),
//!           positive spans, negative spans (each: count (uvarbit), then
//!           length (uvarbit), offset (varbit) per span), and with
//!           schema -53 the custom bounds (count (uvarbit), then per bound
//!           a uvarbit b: b > 0 is (b-1)/1000, 0 is followed by the 64
//!           bits of a float)
//!   timestamp (varbit)
//!   integer: count, zero count (uvarbit), sum (64 bits), bucket
//!            deltas (varbit, each from the bucket before, positive then
//!            negative)
//!   float:   count, zero count, sum, buckets (64 bits each)
//! later samples:
//!   timestamp: delta of deltas (varbit)
//!   integer: count and zero count as delta of deltas (varbit), sum
//!            XOR-coded, each bucket's delta as a delta of deltas (varbit)
//!   float:   count, zero count, sum and each bucket XOR-coded (each
//!            value against its own previous one)
//!   a sum that is the stale marker is followed by no buckets
//! varbit: 0 is 0; 10 + 3 bits, 110 + 6, 1110 + 9, 11110 + 12,
//!   111110 + 18, 1111110 + 25, 11111110 + 56 bits, 11111111 + 64 bits;
//!   signed ones are two's complement in their width, from -(2^(n-1)-1)
//!   to 2^(n-1)
//! ```
//!
//! The layout is the first sample's for the whole chunk; the counter
//! reset header speaks for the first sample (see [`decode`]).

mod encode;

pub use encode::{
    encode, encode_series, encode_series_after, encode_series_with, ChunkCut, EncodedChunk, Point,
    PROMETHEUS_2_42_CUT, PROMETHEUS_CUT, SAMPLES_PER_CHUNK,
};

use super::prom::{signed, Reader};
use crate::histogram::{
    buckets_from_spans, CounterResetHint, FloatHistogram, SpansError, CUSTOM_BUCKETS_SCHEMA,
    MAX_SCHEMA, MIN_SCHEMA,
};

/// Integer histogram chunks.
pub const ENC_HISTOGRAM: u8 = 2;
/// Float histogram chunks.
pub const ENC_FLOAT_HISTOGRAM: u8 = 3;

/// The finest schema Prometheus reserves (histograms finer than
/// [`MAX_SCHEMA`] are read at [`MAX_SCHEMA`]).
const MAX_RESERVED_SCHEMA: i32 = 52;

/// One histogram's fields as Prometheus's records and chunks carry them:
/// spans and absolute bucket counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parts {
    /// Schema.
    pub schema: i32,
    /// The counter reset hint.
    pub hint: CounterResetHint,
    /// Zero threshold.
    pub zero_threshold: f64,
    /// Zero bucket count.
    pub zero_count: f64,
    /// All observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Positive spans `(offset, length)`.
    pub positive_spans: Vec<(i32, u32)>,
    /// Positive bucket counts (absolute).
    pub positive: Vec<f64>,
    /// Negative spans.
    pub negative_spans: Vec<(i32, u32)>,
    /// Negative bucket counts (absolute).
    pub negative: Vec<f64>,
    /// Custom bounds (schema -53).
    pub custom_values: Vec<f64>,
}

/// What a Prometheus histogram is in flint, or why it cannot be.
#[derive(Clone, Debug, PartialEq)]
pub enum Converted {
    /// A histogram.
    Histogram(FloatHistogram),
    /// A stale marker (its sum the stale NaN): flint keeps it as a float
    /// stale marker of the series.
    Stale,
}

/// Why a record's or chunk's histogram is not one flint can store.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A schema neither exponential nor custom buckets.
    #[error("histogram with unknown schema {0}")]
    UnknownSchema(i32),
    /// Spans that do not match the buckets.
    #[error(transparent)]
    Spans(#[from] SpansError),
    /// A bucket of a schema finer than 8 at the lowest index, which
    /// reducing the schema cannot place.
    #[error("bucket index {} out of range", i32::MIN)]
    IndexRange,
}

impl Parts {
    /// The histogram flint stores (empty buckets dropped, schemas finer
    /// than 8 reduced to 8); an error for an unknown schema or spans that
    /// do not match the buckets.
    pub fn convert(self) -> Result<Converted, ConvertError> {
        if crate::is_stale_nan(self.sum) {
            return Ok(Converted::Stale);
        }
        let custom = self.schema == CUSTOM_BUCKETS_SCHEMA;
        if !custom && !(MIN_SCHEMA..=MAX_RESERVED_SCHEMA).contains(&self.schema) {
            return Err(ConvertError::UnknownSchema(self.schema));
        }
        let positive = buckets_from_spans(&self.positive_spans, &self.positive, "positive")?;
        let negative = buckets_from_spans(&self.negative_spans, &self.negative, "negative")?;
        let mut h = FloatHistogram {
            schema: self.schema,
            counter_reset_hint: self.hint,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count,
            count: self.count,
            sum: self.sum,
            positive,
            negative,
            custom_values: if custom {
                self.custom_values
            } else {
                Vec::new()
            },
        };
        if h.schema > MAX_SCHEMA
            && h.positive
                .iter()
                .chain(&h.negative)
                .any(|b| b.0 == i32::MIN)
        {
            return Err(ConvertError::IndexRange);
        }
        // by at most 16 schemas at a time (bucket indexes are shifted by
        // the difference)
        while h.schema > MAX_SCHEMA {
            h.reduce_resolution((h.schema - 16).max(MAX_SCHEMA));
        }
        h.compact();
        Ok(Converted::Histogram(h))
    }
}

/// The counter reset hint of a record's hint byte.
pub fn hint_of(b: u8) -> CounterResetHint {
    match b {
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

/// The counter reset hint a chunk's header gives its first sample.
fn header_hint(flags: u8) -> CounterResetHint {
    match flags >> 6 {
        0b01 => CounterResetHint::NotCounterReset,
        0b10 => CounterResetHint::CounterReset,
        0b11 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

impl Reader<'_> {
    /// The width that follows a varbit's prefix (`None`: 64 bits raw).
    fn varbit_width(&mut self) -> Option<Option<u32>> {
        let mut ones = 0;
        while ones < 8 && self.bit()? {
            ones += 1;
        }
        Some(match ones {
            0 => Some(0),
            1 => Some(3),
            2 => Some(6),
            3 => Some(9),
            4 => Some(12),
            5 => Some(18),
            6 => Some(25),
            7 => Some(56),
            _ => None,
        })
    }

    fn varbit_int(&mut self) -> Option<i64> {
        match self.varbit_width()? {
            Some(0) => Some(0),
            Some(n) => Some(signed(self.bits(n)?, n)),
            None => Some(self.bits(64)? as i64),
        }
    }

    fn varbit_uint(&mut self) -> Option<u64> {
        match self.varbit_width()? {
            Some(0) => Some(0),
            Some(n) => self.bits(n),
            None => self.bits(64),
        }
    }

    fn zero_threshold(&mut self) -> Option<f64> {
        match self.bits(8)? {
            0 => Some(0.0),
            255 => Some(f64::from_bits(self.bits(64)?)),
            b => Some(0.5 * 2f64.powi(b as i32 - 243)),
        }
    }

    fn spans(&mut self) -> Option<Vec<(i32, u32)>> {
        let n = self.varbit_uint()?;
        // each span takes two bits at least
        if n > (self.data.len() * 8).saturating_sub(self.pos) as u64 {
            return None;
        }
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let length = u32::try_from(self.varbit_uint()?).ok()?;
            let offset = i32::try_from(self.varbit_int()?).ok()?;
            out.push((offset, length));
        }
        Some(out)
    }

    fn custom_bounds(&mut self) -> Option<Vec<f64>> {
        let n = self.varbit_uint()?;
        if n > (self.data.len() * 8).saturating_sub(self.pos) as u64 {
            return None;
        }
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            out.push(match self.varbit_uint()? {
                0 => f64::from_bits(self.bits(64)?),
                b => (b - 1) as f64 / 1000.0,
            });
        }
        Some(out)
    }
}

/// XOR-coding state of one value.
#[derive(Clone, Copy)]
struct Xor {
    prev: u64,
    leading: u8,
    trailing: u8,
}

impl Xor {
    fn new(v: u64) -> Xor {
        Xor {
            prev: v,
            leading: 0xff,
            trailing: 0,
        }
    }

    fn read(&mut self, r: &mut Reader<'_>) -> Option<f64> {
        r.xor(&mut self.prev, &mut self.leading, &mut self.trailing)
    }
}

/// Absolute counts from deltas between neighbouring buckets.
fn cumulative(deltas: &[i64]) -> Vec<f64> {
    let mut acc = 0i64;
    deltas
        .iter()
        .map(|d| {
            acc = acc.wrapping_add(*d);
            acc as f64
        })
        .collect()
}

/// Decodes a Prometheus histogram chunk of encoding `enc` (2 or 3), its
/// three header bytes included: each sample's timestamp and fields, in
/// order. `None` when it is malformed or of another encoding.
///
/// The first sample's hint is the chunk header's (so that a chunk cut at
/// a counter reset says so); the others' "no reset", or gauge in a gauge
/// chunk.
pub fn decode(enc: u8, chunk: &[u8]) -> Option<Vec<(i64, Parts)>> {
    if enc != ENC_HISTOGRAM && enc != ENC_FLOAT_HISTOGRAM {
        return None;
    }
    let n = u16::from_be_bytes(chunk.get(..2)?.try_into().ok()?) as usize;
    let first_hint = header_hint(*chunk.get(2)?);
    let later_hint = if first_hint == CounterResetHint::Gauge {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::NotCounterReset
    };
    let mut r = Reader {
        data: &chunk[3..],
        pos: 0,
    };
    let mut out: Vec<(i64, Parts)> = Vec::with_capacity(n.min(chunk.len()));
    if n == 0 {
        return Some(out);
    }
    // the layout
    let zero_threshold = r.zero_threshold()?;
    let schema = i32::try_from(r.varbit_int()?).ok()?;
    let pspans = r.spans()?;
    let nspans = r.spans()?;
    let custom = if schema == CUSTOM_BUCKETS_SCHEMA {
        r.custom_bounds()?
    } else {
        Vec::new()
    };
    let count_of = |spans: &[(i32, u32)]| -> Option<usize> {
        let n: u64 = spans.iter().map(|s| u64::from(s.1)).sum();
        // a bucket takes one bit at least
        (n <= (chunk.len() * 8) as u64).then_some(n as usize)
    };
    let (np, nn) = (count_of(&pspans)?, count_of(&nspans)?);
    let parts = |hint, zero_count, count, sum, positive, negative| Parts {
        schema,
        hint,
        zero_threshold,
        zero_count,
        count,
        sum,
        positive_spans: pspans.clone(),
        positive,
        negative_spans: nspans.clone(),
        negative,
        custom_values: custom.clone(),
    };
    let mut t = r.varbit_int()?;
    let mut t_delta = 0i64;
    if enc == ENC_HISTOGRAM {
        let mut cnt = r.varbit_uint()? as i64;
        let mut zcnt = r.varbit_uint()? as i64;
        let mut sum = Xor::new(r.bits(64)?);
        let mut pb = Vec::with_capacity(np);
        for _ in 0..np {
            pb.push(r.varbit_int()?);
        }
        let mut nb = Vec::with_capacity(nn);
        for _ in 0..nn {
            nb.push(r.varbit_int()?);
        }
        let (mut pd, mut nd) = (vec![0i64; np], vec![0i64; nn]);
        let (mut cnt_delta, mut zcnt_delta) = (0i64, 0i64);
        out.push((
            t,
            parts(
                first_hint,
                zcnt as u64 as f64,
                cnt as u64 as f64,
                f64::from_bits(sum.prev),
                cumulative(&pb),
                cumulative(&nb),
            ),
        ));
        for _ in 1..n {
            t_delta = t_delta.wrapping_add(r.varbit_int()?);
            t = t.wrapping_add(t_delta);
            cnt_delta = cnt_delta.wrapping_add(r.varbit_int()?);
            cnt = cnt.wrapping_add(cnt_delta);
            zcnt_delta = zcnt_delta.wrapping_add(r.varbit_int()?);
            zcnt = zcnt.wrapping_add(zcnt_delta);
            let s = sum.read(&mut r)?;
            if crate::is_stale_nan(s) {
                out.push((
                    t,
                    Parts {
                        sum: s,
                        ..Parts::default()
                    },
                ));
                continue;
            }
            for (b, d) in pb.iter_mut().zip(pd.iter_mut()) {
                *d = d.wrapping_add(r.varbit_int()?);
                *b = b.wrapping_add(*d);
            }
            for (b, d) in nb.iter_mut().zip(nd.iter_mut()) {
                *d = d.wrapping_add(r.varbit_int()?);
                *b = b.wrapping_add(*d);
            }
            out.push((
                t,
                parts(
                    later_hint,
                    zcnt as u64 as f64,
                    cnt as u64 as f64,
                    s,
                    cumulative(&pb),
                    cumulative(&nb),
                ),
            ));
        }
    } else {
        let mut cnt = Xor::new(r.bits(64)?);
        let mut zcnt = Xor::new(r.bits(64)?);
        let mut sum = Xor::new(r.bits(64)?);
        let mut pb = Vec::with_capacity(np);
        for _ in 0..np {
            pb.push(Xor::new(r.bits(64)?));
        }
        let mut nb = Vec::with_capacity(nn);
        for _ in 0..nn {
            nb.push(Xor::new(r.bits(64)?));
        }
        let values = |v: &[Xor]| v.iter().map(|x| f64::from_bits(x.prev)).collect();
        out.push((
            t,
            parts(
                first_hint,
                f64::from_bits(zcnt.prev),
                f64::from_bits(cnt.prev),
                f64::from_bits(sum.prev),
                values(&pb),
                values(&nb),
            ),
        ));
        for _ in 1..n {
            t_delta = t_delta.wrapping_add(r.varbit_int()?);
            t = t.wrapping_add(t_delta);
            let c = cnt.read(&mut r)?;
            let z = zcnt.read(&mut r)?;
            let s = sum.read(&mut r)?;
            if crate::is_stale_nan(s) {
                out.push((
                    t,
                    Parts {
                        sum: s,
                        ..Parts::default()
                    },
                ));
                continue;
            }
            for b in pb.iter_mut().chain(nb.iter_mut()) {
                b.read(&mut r)?;
            }
            out.push((t, parts(later_hint, z, c, s, values(&pb), values(&nb))));
        }
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests;
