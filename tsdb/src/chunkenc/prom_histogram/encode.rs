//! Prometheus's native histogram chunks, written (the layout is in the
//! parent module's documentation): [`encode`] turns samples of one bucket
//! layout into one chunk, bit for bit as Prometheus's appenders write it;
//! [`encode_series`] cuts a series' histogram samples into chunks where
//! Prometheus's head cuts them (by size since 2.47, [`ChunkCut`]) and
//! picks each chunk's encoding.

use super::{Parts, ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM};
use crate::chunkenc::prom::{Bits, XorState};
use crate::histogram::{spans_of, CounterResetHint, FloatHistogram, CUSTOM_BUCKETS_SCHEMA};

/// Samples a histogram chunk of Prometheus 2.42 holds at most.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// Signed varbit widths by the number of `1` bits of their prefix.
const WIDTHS: [u32; 7] = [3, 6, 9, 12, 18, 25, 56];

/// Writes a prefix of `ones` one bits, closed by a zero bit below 8.
fn prefix(w: &mut Bits, ones: u32) {
    for _ in 0..ones {
        w.bit(true);
    }
    if ones < 8 {
        w.bit(false);
    }
}

/// A signed varbit: the narrowest width whose range
/// `-(2^(n-1)-1) ..= 2^(n-1)` holds `v`.
fn varbit_int(w: &mut Bits, v: i64) {
    if v == 0 {
        return w.bit(false);
    }
    for (i, &n) in WIDTHS.iter().enumerate() {
        let half = 1i64 << (n - 1);
        if -(half - 1) <= v && v <= half {
            prefix(w, i as u32 + 1);
            return w.bits(v as u64 & ((1u64 << n) - 1), n);
        }
    }
    prefix(w, 8);
    w.bits(v as u64, 64);
}

/// An unsigned varbit: the narrowest width that holds `v`.
fn varbit_uint(w: &mut Bits, v: u64) {
    if v == 0 {
        return w.bit(false);
    }
    for (i, &n) in WIDTHS.iter().enumerate() {
        if v < 1u64 << n {
            prefix(w, i as u32 + 1);
            return w.bits(v, n);
        }
    }
    prefix(w, 8);
    w.bits(v, 64);
}

/// The zero threshold: one byte for 0 and for powers of two from 2^-243
/// to 2^10 (their exponent as 0.5·2^e, plus 243), else 255 and the float.
fn zero_threshold(w: &mut Bits, z: f64) {
    if z == 0.0 {
        return w.byte(0);
    }
    let bits = z.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let power_of_two = z > 0.0 && z.is_finite() && biased != 0 && bits & ((1 << 52) - 1) == 0;
    // z = 2^(biased-1023) = 0.5 · 2^e
    let e = biased - 1023 + 1;
    if power_of_two && (-242..=11).contains(&e) {
        w.byte((e + 243) as u8);
    } else {
        w.byte(255);
        w.bits(bits, 64);
    }
}

fn spans(w: &mut Bits, spans: &[(i32, u32)]) {
    varbit_uint(w, spans.len() as u64);
    for &(offset, length) in spans {
        varbit_uint(w, u64::from(length));
        varbit_int(w, i64::from(offset));
    }
}

/// A custom bound: a whole number of thousandths from 0 to 33554.430 as
/// that number plus one (an unsigned varbit, never 0), anything else as a
/// 0 bit and the float.
fn custom_bound(w: &mut Bits, f: f64) {
    let milli = f * 1000.0;
    let whole = f.is_finite() && (milli.round() / 1000.0) == f;
    if (0.0..=33_554_430.0).contains(&milli) && whole {
        varbit_uint(w, milli.round() as u64 + 1);
    } else {
        w.bit(false);
        w.bits(f.to_bits(), 64);
    }
}

fn layout(w: &mut Bits, p: &Parts) {
    zero_threshold(w, p.zero_threshold);
    varbit_int(w, i64::from(p.schema));
    spans(w, &p.positive_spans);
    spans(w, &p.negative_spans);
    if p.schema == CUSTOM_BUCKETS_SCHEMA {
        varbit_uint(w, p.custom_values.len() as u64);
        for &b in &p.custom_values {
            custom_bound(w, b);
        }
    }
}

/// The two header bits of a counter reset hint.
fn header_bits(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0b00,
        CounterResetHint::NotCounterReset => 0b01,
        CounterResetHint::CounterReset => 0b10,
        CounterResetHint::Gauge => 0b11,
    }
}

fn xor_state(v: f64) -> XorState {
    XorState {
        prev: v.to_bits(),
        leading: 0xff,
        trailing: 0,
    }
}

/// Encodes `samples` (timestamps increasing, at most 65535) as one
/// Prometheus histogram chunk of encoding `enc` ([`ENC_HISTOGRAM`] or
/// [`ENC_FLOAT_HISTOGRAM`]) whose counter reset header is `header`, its
/// three header bytes included.
///
/// Every sample but stale markers (a sum that is the stale NaN) must have
/// the first one's layout (schema, zero threshold, spans, custom bounds);
/// a stale marker is written without buckets (and, first in the chunk,
/// with an empty layout), as Prometheus writes it. With
/// [`ENC_HISTOGRAM`] the counts must be whole numbers. The samples' hints
/// are not written: a chunk has only its header.
pub fn encode(enc: u8, header: CounterResetHint, samples: &[(i64, Parts)]) -> Vec<u8> {
    let mut w = ChunkWriter::new(enc, header);
    for (t, p) in samples {
        w.push(*t, p);
    }
    w.finish()
}

/// A Prometheus histogram chunk being written sample by sample (see
/// [`encode`]): its bytes so far are those of the chunk of the samples
/// pushed, so its size can be watched as Prometheus's head watches it.
struct ChunkWriter {
    integer: bool,
    w: Bits,
    n: usize,
    /// timestamps
    t_prev: i64,
    t_delta: i64,
    /// integer counts: value and last delta of count, zero count, buckets
    /// (each bucket as the difference to the one before it)
    cnt: i64,
    cnt_delta: i64,
    zcnt: i64,
    zcnt_delta: i64,
    buckets: Vec<i64>,
    bucket_deltas: Vec<i64>,
    /// float counts and the sum: XOR states
    sum: XorState,
    fcnt: XorState,
    fzcnt: XorState,
    fbuckets: Vec<XorState>,
}

impl ChunkWriter {
    fn new(enc: u8, header: CounterResetHint) -> ChunkWriter {
        let integer = match enc {
            ENC_HISTOGRAM => true,
            ENC_FLOAT_HISTOGRAM => false,
            _ => panic!("not a histogram encoding: {enc}"),
        };
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&[0, 0, header_bits(header) << 6]);
        ChunkWriter {
            integer,
            w: Bits { out, used: 0 },
            n: 0,
            t_prev: 0,
            t_delta: 0,
            cnt: 0,
            cnt_delta: 0,
            zcnt: 0,
            zcnt_delta: 0,
            buckets: Vec::new(),
            bucket_deltas: Vec::new(),
            sum: xor_state(0.0),
            fcnt: xor_state(0.0),
            fzcnt: xor_state(0.0),
            fbuckets: Vec::new(),
        }
    }

    /// The chunk's length in bytes so far, its header included.
    fn len(&self) -> usize {
        self.w.out.len()
    }

    /// The chunk.
    fn finish(self) -> Vec<u8> {
        self.w.out
    }

    /// Appends a sample (see [`encode`] for what `p` must be).
    fn push(&mut self, t: i64, p: &Parts) {
        assert!(self.n < u16::MAX as usize, "too many samples for a chunk");
        let stale;
        let p = if crate::is_stale_nan(p.sum) {
            stale = Parts {
                sum: p.sum,
                ..Parts::default()
            };
            &stale
        } else {
            p
        };
        let neighbour_deltas = || -> Vec<i64> {
            let mut out = Vec::with_capacity(p.positive.len() + p.negative.len());
            for side in [&p.positive, &p.negative] {
                let mut before = 0i64;
                for &c in side.iter() {
                    let c = c as i64;
                    out.push(c.wrapping_sub(before));
                    before = c;
                }
            }
            out
        };
        let w = &mut self.w;
        if self.n == 0 {
            layout(w, p);
            varbit_int(w, t);
            if self.integer {
                varbit_uint(w, p.count as u64);
                varbit_uint(w, p.zero_count as u64);
                w.bits(p.sum.to_bits(), 64);
                self.buckets = neighbour_deltas();
                for &b in &self.buckets {
                    varbit_int(w, b);
                }
                self.bucket_deltas = vec![0; self.buckets.len()];
                self.cnt = p.count as u64 as i64;
                self.zcnt = p.zero_count as u64 as i64;
            } else {
                for v in [p.count, p.zero_count, p.sum] {
                    w.bits(v.to_bits(), 64);
                }
                for &b in p.positive.iter().chain(&p.negative) {
                    w.bits(b.to_bits(), 64);
                    self.fbuckets.push(xor_state(b));
                }
                self.fcnt = xor_state(p.count);
                self.fzcnt = xor_state(p.zero_count);
            }
            self.sum = xor_state(p.sum);
        } else {
            let d = t.wrapping_sub(self.t_prev);
            varbit_int(w, d.wrapping_sub(self.t_delta));
            self.t_delta = d;
            let is_stale = crate::is_stale_nan(p.sum);
            if self.integer {
                let (c, z) = (p.count as u64 as i64, p.zero_count as u64 as i64);
                let (cd, zd) = (c.wrapping_sub(self.cnt), z.wrapping_sub(self.zcnt));
                if is_stale {
                    varbit_int(w, 0);
                    varbit_int(w, 0);
                } else {
                    varbit_int(w, cd.wrapping_sub(self.cnt_delta));
                    varbit_int(w, zd.wrapping_sub(self.zcnt_delta));
                }
                (self.cnt, self.cnt_delta, self.zcnt, self.zcnt_delta) = (c, cd, z, zd);
                self.sum.write(w, p.sum.to_bits());
                if !is_stale {
                    let now = neighbour_deltas();
                    for (k, &b) in now.iter().enumerate() {
                        let d = b.wrapping_sub(self.buckets[k]);
                        varbit_int(w, d.wrapping_sub(self.bucket_deltas[k]));
                        self.bucket_deltas[k] = d;
                        self.buckets[k] = b;
                    }
                }
            } else {
                self.fcnt.write(w, p.count.to_bits());
                self.fzcnt.write(w, p.zero_count.to_bits());
                self.sum.write(w, p.sum.to_bits());
                if !is_stale {
                    for (x, &b) in self
                        .fbuckets
                        .iter_mut()
                        .zip(p.positive.iter().chain(&p.negative))
                    {
                        x.write(w, b.to_bits());
                    }
                }
            }
        }
        self.t_prev = t;
        self.n += 1;
        self.w.out[..2].copy_from_slice(&(self.n as u16).to_be_bytes());
    }
}

/// One chunk of a series, encoded.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedChunk {
    /// [`ENC_HISTOGRAM`] or [`ENC_FLOAT_HISTOGRAM`].
    pub encoding: u8,
    /// The chunk, its three header bytes included.
    pub data: Vec<u8>,
    /// Its first sample's timestamp.
    pub min_time: i64,
    /// Its last sample's timestamp.
    pub max_time: i64,
    /// Its samples.
    pub samples: usize,
}

/// A histogram sample to write: a histogram, or (`None`) a stale marker.
pub type Point<'a> = (i64, Option<&'a FloatHistogram>);

fn is_gauge(p: &Point<'_>) -> bool {
    p.1.is_some_and(|h| h.counter_reset_hint == CounterResetHint::Gauge)
}

/// Whether a bucket of `prev` holds more than the same bucket of `cur` (a
/// missing bucket holding 0).
fn decreased(cur: &[(i32, f64)], prev: &[(i32, f64)]) -> bool {
    let mut j = 0;
    prev.iter().any(|&(i, c)| {
        while j < cur.len() && cur[j].0 < i {
            j += 1;
        }
        let now = match cur.get(j) {
            Some(&(k, n)) if k == i => n,
            _ => 0.0,
        };
        now < c
    })
}

fn same_bounds(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// What Prometheus's appender finds about a counter reset from `prev` to
/// `cur` (both counter histograms): a reset; "unknown" where the schema or
/// the zero threshold changed (it does not look further there); else no
/// reset.
fn reset_between(prev: &FloatHistogram, cur: &FloatHistogram) -> CounterResetHint {
    if cur.count < prev.count {
        return CounterResetHint::CounterReset;
    }
    if cur.schema != prev.schema || cur.zero_threshold != prev.zero_threshold {
        return CounterResetHint::Unknown;
    }
    if cur.uses_custom_buckets() && !same_bounds(&cur.custom_values, &prev.custom_values) {
        return CounterResetHint::CounterReset;
    }
    if cur.zero_count < prev.zero_count
        || decreased(&cur.positive, &prev.positive)
        || decreased(&cur.negative, &prev.negative)
    {
        return CounterResetHint::CounterReset;
    }
    CounterResetHint::NotCounterReset
}

/// Whether two histograms' buckets can share a chunk: the same schema,
/// zero threshold and custom bounds (the buckets used may differ: the
/// chunk holds them all).
fn same_frame(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.schema == b.schema
        && a.zero_threshold.to_bits() == b.zero_threshold.to_bits()
        && same_bounds(&a.custom_values, &b.custom_values)
}

/// The header of a chunk whose first sample is `cur`, the chunk before it
/// (of the same run of histogram samples) ending with `prev` and having
/// header `prev_header`: what Prometheus's head gives a chunk it cuts
/// while a series goes on.
fn continued_header(
    prev: &Point<'_>,
    prev_header: CounterResetHint,
    cur: &Point<'_>,
) -> CounterResetHint {
    match cur.1 {
        Some(h) if h.counter_reset_hint == CounterResetHint::Gauge => CounterResetHint::Gauge,
        Some(h) if h.counter_reset_hint == CounterResetHint::CounterReset => {
            CounterResetHint::CounterReset
        }
        _ if prev_header == CounterResetHint::Gauge => CounterResetHint::NotCounterReset,
        None => CounterResetHint::NotCounterReset,
        Some(h) => match prev.1 {
            None => CounterResetHint::Unknown,
            Some(p) => reset_between(p, h),
        },
    }
}

/// Whether `cur` must start a new chunk after `prev` in a chunk of header
/// `header`, and if so that chunk's header. A new chunk starts, as in
/// Prometheus, between gauge and counter histograms (a stale marker counts
/// as a counter one, as Prometheus writes it), at a counter reset (found
/// or told by the hint), after a stale marker, and where the schema, the
/// zero threshold or the custom bounds change. Buckets that appear or go
/// (empty) do not cut it: the chunk's layout holds every bucket of its
/// histograms, as Prometheus's chunk does once its appender has rewritten
/// it for new buckets.
fn cut_before(
    prev: &Point<'_>,
    header: CounterResetHint,
    cur: &Point<'_>,
) -> Option<CounterResetHint> {
    let gauge_chunk = header == CounterResetHint::Gauge;
    if is_gauge(cur) {
        let fits = gauge_chunk
            && match (prev.1, cur.1) {
                (Some(p), Some(h)) => same_frame(p, h),
                _ => false,
            };
        return (!fits).then_some(CounterResetHint::Gauge);
    }
    if gauge_chunk {
        return Some(CounterResetHint::NotCounterReset);
    }
    let h = cur.1?; // a stale marker always fits
    if h.counter_reset_hint == CounterResetHint::CounterReset {
        return Some(CounterResetHint::CounterReset);
    }
    let Some(p) = prev.1 else {
        return Some(CounterResetHint::Unknown);
    };
    match reset_between(p, h) {
        CounterResetHint::NotCounterReset => None,
        v => Some(v),
    }
}

/// The bucket indexes of a chunk's layout: every one its histograms use,
/// positive and negative, ascending.
fn layout_of(histograms: &[&FloatHistogram]) -> (Vec<i32>, Vec<i32>) {
    let all = |side: fn(&FloatHistogram) -> &[(i32, f64)]| {
        let mut v: Vec<i32> = histograms
            .iter()
            .flat_map(|h| side(h).iter().map(|b| b.0))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    (all(|h| &h.positive), all(|h| &h.negative))
}

/// `buckets`' counts on `layout` (0 where it has none).
fn counts_on(buckets: &[(i32, f64)], layout: &[i32]) -> Vec<f64> {
    let mut j = 0;
    layout
        .iter()
        .map(|&i| {
            while j < buckets.len() && buckets[j].0 < i {
                j += 1;
            }
            match buckets.get(j) {
                Some(&(k, c)) if k == i => c,
                _ => 0.0,
            }
        })
        .collect()
}

/// Spans covering the indexes `layout`.
fn spans_on(layout: &[i32]) -> Vec<(i32, u32)> {
    let buckets: Vec<(i32, f64)> = layout.iter().map(|&i| (i, 0.0)).collect();
    spans_of(&buckets)
}

/// A histogram's fields on a chunk's layout; a stale marker without any.
fn parts_of(p: &Point<'_>, layout: &(Vec<i32>, Vec<i32>)) -> Parts {
    match p.1 {
        None => Parts {
            sum: f64::from_bits(crate::STALE_NAN_BITS),
            ..Parts::default()
        },
        Some(h) => Parts {
            schema: h.schema,
            hint: h.counter_reset_hint,
            zero_threshold: h.zero_threshold,
            zero_count: h.zero_count,
            count: h.count,
            sum: h.sum,
            positive_spans: spans_on(&layout.0),
            positive: counts_on(&h.positive, &layout.0),
            negative_spans: spans_on(&layout.1),
            negative: counts_on(&h.negative, &layout.1),
            custom_values: if h.uses_custom_buckets() {
                h.custom_values.clone()
            } else {
                Vec::new()
            },
        },
    }
}

/// Where a series' histogram chunks are cut besides where their buckets,
/// counter resets or kind make Prometheus cut them (see [`cut_before`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkCut {
    /// After this many samples, as Prometheus up to 2.46 cut them (its
    /// float chunk rule, 120 samples).
    Samples(usize),
    /// By size, as Prometheus's head has cut them since 2.47
    /// (`histogramsAppendPreprocessor`): once a chunk reaches a quarter of
    /// `target` bytes, the time it should end is predicted so that the
    /// rest of its `range_ms` range (the head's chunk range, 2 h) is split
    /// into chunks of about `target` bytes; a sample at or past that time,
    /// or one that finds the chunk at twice `target` bytes, starts a new
    /// chunk once the chunk holds `min_samples` samples (or at once when
    /// the sample is in the next range). A chunk cut for its buckets, a
    /// counter reset, its kind or a stale marker is not predicted again
    /// when the chunk before it was (Prometheus keeps that prediction's
    /// flag across such cuts).
    Bytes {
        /// The size aimed at, bytes (Prometheus's
        /// `TargetBytesPerHistogramChunk`).
        target: usize,
        /// Samples a chunk holds before it is cut by size (Prometheus's
        /// `MinSamplesPerHistogramChunk`).
        min_samples: usize,
        /// The head's chunk range, ms.
        range_ms: i64,
    },
}

/// How Prometheus 2.47 and later (3.x included) cut histogram chunks:
/// by size, near 1 KiB, with at least 10 samples.
pub const PROMETHEUS_CUT: ChunkCut = ChunkCut::Bytes {
    target: 1024,
    min_samples: 10,
    range_ms: 2 * 3600 * 1000,
};

/// How Prometheus 2.42 cut histogram chunks: at 120 samples.
pub const PROMETHEUS_2_42_CUT: ChunkCut = ChunkCut::Samples(SAMPLES_PER_CHUNK);

/// The end of the `range_ms` range holding `t` (Prometheus's
/// `rangeForTimestamp`).
fn range_end(t: i64, range_ms: i64) -> i64 {
    t.div_euclid(range_ms) * range_ms + range_ms
}

/// When a chunk from `start` whose last sample is at `cur` should end, it
/// being `1/ratio_to_full` full, so that the rest of the time up to `max`
/// is split into equal chunks (Prometheus's `computeChunkEndTime`).
fn chunk_end_time(start: i64, cur: i64, max: i64, ratio_to_full: f64) -> i64 {
    let n = (max - start) as f64 / ((cur - start + 1) as f64 * ratio_to_full);
    if n <= 1.0 {
        return max;
    }
    (start as f64 + (max - start) as f64 / n.floor()) as i64
}

/// The chunk being filled by [`encode_series_with`]: its samples from
/// `start`, the layout holding all their buckets, and the chunk as
/// written so far on that layout.
struct Filling {
    start: usize,
    header: CounterResetHint,
    layout: (Vec<i32>, Vec<i32>),
    integer: bool,
    /// Whether a histogram was seen (a chunk of stale markers only takes
    /// `integer` from the chunk before).
    any: bool,
    w: ChunkWriter,
}

impl Filling {
    fn new(start: usize, header: CounterResetHint, integer: bool) -> Filling {
        Filling {
            start,
            header,
            layout: (Vec::new(), Vec::new()),
            integer,
            any: false,
            w: ChunkWriter::new(enc_of(integer), header),
        }
    }

    /// Adds `samples[i]`, the chunk's next sample: written on the layout,
    /// or the chunk written again when the sample brings buckets the
    /// layout lacks or float counts into an integer chunk (as Prometheus's
    /// appender rewrites its chunk for new buckets).
    fn push(&mut self, samples: &[Point<'_>], i: usize) {
        let p = &samples[i];
        if let Some(h) = p.1 {
            let holds =
                |side: &[(i32, f64)], l: &[i32]| side.iter().all(|b| l.binary_search(&b.0).is_ok());
            let integer = if self.any {
                self.integer && h.has_integer_counts()
            } else {
                h.has_integer_counts()
            };
            let fits = self.any
                && integer == self.integer
                && holds(&h.positive, &self.layout.0)
                && holds(&h.negative, &self.layout.1);
            if !fits {
                let range = &samples[self.start..=i];
                let histograms: Vec<&FloatHistogram> = range.iter().filter_map(|p| p.1).collect();
                self.layout = layout_of(&histograms);
                self.integer = integer;
                self.any = true;
                self.w = ChunkWriter::new(enc_of(integer), self.header);
                for p in range {
                    self.w.push(p.0, &parts_of(p, &self.layout));
                }
                return;
            }
        }
        self.w.push(p.0, &parts_of(p, &self.layout));
    }

    fn finish(self, samples: &[Point<'_>], end: usize) -> EncodedChunk {
        EncodedChunk {
            encoding: enc_of(self.integer),
            data: self.w.finish(),
            min_time: samples[self.start].0,
            max_time: samples[end - 1].0,
            samples: end - self.start,
        }
    }
}

fn enc_of(integer: bool) -> u8 {
    if integer {
        ENC_HISTOGRAM
    } else {
        ENC_FLOAT_HISTOGRAM
    }
}

/// Cuts a run of one series' histogram samples (in time order, with no
/// float sample between them) into Prometheus chunks, as the head of
/// Prometheus 2.47 and later cuts them ([`PROMETHEUS_CUT`]): by size and
/// where [`cut_before`] says. Each chunk's layout holds every bucket its
/// histograms use (a histogram without one of them has it empty there).
/// The first chunk's header is "unknown" unless its first histogram is a
/// gauge or says "counter reset"; the others' are what Prometheus's head
/// finds from the sample before.
///
/// A chunk is written as integer histograms ([`ENC_HISTOGRAM`]) when
/// every count of its histograms is a whole number (flint does not keep
/// whether a histogram came as an integer or a float one), else as float
/// histograms; a chunk of stale markers only takes the encoding of the
/// chunk (or histogram) before it.
pub fn encode_series(samples: &[Point<'_>]) -> Vec<EncodedChunk> {
    encode_series_with(PROMETHEUS_CUT, None, samples)
}

/// [`encode_series`] for samples that go on from `before`, the series'
/// histogram sample (or histogram stale marker) right before them, which
/// is in another block: the first chunk's header is then what Prometheus's
/// head gives a chunk it cuts at a block boundary.
pub fn encode_series_after(before: Option<Point<'_>>, samples: &[Point<'_>]) -> Vec<EncodedChunk> {
    encode_series_with(PROMETHEUS_CUT, before, samples)
}

/// [`encode_series_after`] with chunks cut by `cut` instead of as
/// Prometheus 3 cuts them.
pub fn encode_series_with(
    cut: ChunkCut,
    before: Option<Point<'_>>,
    samples: &[Point<'_>],
) -> Vec<EncodedChunk> {
    let mut out: Vec<EncodedChunk> = Vec::new();
    let Some(first) = samples.first() else {
        return out;
    };
    let header = match (before, first.1) {
        (Some(p), _) => {
            let kind = if is_gauge(&p) {
                CounterResetHint::Gauge
            } else {
                CounterResetHint::Unknown
            };
            continued_header(&p, kind, first)
        }
        (None, Some(h))
            if matches!(
                h.counter_reset_hint,
                CounterResetHint::Gauge | CounterResetHint::CounterReset
            ) =>
        {
            h.counter_reset_hint
        }
        _ => CounterResetHint::Unknown,
    };
    // the encoding of a chunk of stale markers only: the one before's
    let before_integer = before
        .and_then(|p| p.1)
        .map(|h| h.has_integer_counts())
        .unwrap_or(true);
    let mut fill = Filling::new(0, header, before_integer);
    fill.push(samples, 0);
    // Prometheus's `nextAt` and `histogramChunkHasComputedEndTime`
    let (mut next_at, mut predicted) = match cut {
        ChunkCut::Bytes { range_ms, .. } => (range_end(first.0, range_ms), false),
        ChunkCut::Samples(_) => (i64::MAX, false),
    };
    for i in 1..samples.len() {
        let (prev, cur) = (&samples[i - 1], &samples[i]);
        let held = i - fill.start;
        let by_size = match cut {
            ChunkCut::Samples(max) => held >= max,
            ChunkCut::Bytes {
                target,
                min_samples,
                range_ms,
            } => {
                let bytes = fill.w.len();
                let min_time = samples[fill.start].0;
                let next_range = if predicted {
                    range_end(min_time, range_ms)
                } else {
                    next_at
                };
                if !predicted && bytes >= target / 4 {
                    let ratio = target as f64 / bytes as f64;
                    next_at = chunk_end_time(min_time, prev.0, next_at, ratio);
                    predicted = true;
                }
                (cur.0 >= next_at || bytes >= target * 2)
                    && (held >= min_samples || cur.0 >= next_range)
            }
        };
        let next = if by_size {
            predicted = false;
            Some(continued_header(prev, fill.header, cur))
        } else {
            cut_before(prev, fill.header, cur)
        };
        if let Some(h) = next {
            let integer = fill.integer;
            let done = std::mem::replace(&mut fill, Filling::new(i, h, integer));
            out.push(done.finish(samples, i));
            if let ChunkCut::Bytes { range_ms, .. } = cut {
                next_at = range_end(cur.0, range_ms);
            }
        }
        fill.push(samples, i);
    }
    out.push(fill.finish(samples, samples.len()));
    out
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
