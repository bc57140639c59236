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
/// The kind byte of an exemplars record.
pub(crate) const KIND_EXEMPLARS: u8 = 2;
/// The kind byte of a native histograms record with chunks of the first
/// histogram chunk encoding (read only).
pub(crate) const KIND_HISTOGRAMS_V1: u8 = 3;
/// The kind byte of a native histograms record (chunks in the encoding
/// written now).
pub(crate) const KIND_HISTOGRAMS: u8 = 5;

/// Appends the payload of a histograms record: each histogram with its
/// series' labels, as a one-sample histogram chunk (which holds the
/// timestamp).
pub(crate) fn encode_histograms(
    out: &mut Vec<u8>,
    histograms: &[(crate::labels::Labels, i64, crate::histogram::FloatHistogram)],
) {
    out.push(KIND_HISTOGRAMS);
    put_uvarint(out, histograms.len() as u64);
    for (labels, t, h) in histograms {
        crate::histstore::put_labels(out, labels);
        let mut enc = crate::histstore::chunk::Encoder::default();
        enc.append(*t, h);
        let (bytes, bits) = enc.bytes();
        put_uvarint(out, bits as u64);
        out.extend_from_slice(bytes);
    }
}

fn decode_histograms(
    payload: &[u8],
    mut h: impl FnMut(crate::labels::Labels, i64, crate::histogram::FloatHistogram),
) -> Option<()> {
    let mut c = Cursor::at(payload, 1);
    let n = c.uvarint()?;
    for _ in 0..n {
        let labels = crate::histstore::get_labels(&mut c)?;
        let bits = usize::try_from(c.uvarint()?).ok()?;
        let bytes = c.bytes(bits.div_ceil(8))?;
        let version = if payload[0] == KIND_HISTOGRAMS_V1 {
            1
        } else {
            2
        };
        let (t, hist) = crate::histstore::chunk::decode_version(version, bytes, bits, 1)?.pop()?;
        h(labels, t, hist);
    }
    (c.pos() == payload.len()).then_some(())
}

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

/// The payload of an exemplars record (kind, count, exemplars) into
/// `out`: per exemplar its series (a difference to the one before), its
/// timestamp (likewise), its value as a sample's and its labels as a
/// count and length-prefixed names and values.
pub(crate) fn encode_exemplars(out: &mut Vec<u8>, exemplars: &[(u64, crate::Exemplar)]) {
    out.push(KIND_EXEMPLARS);
    put_uvarint(out, exemplars.len() as u64);
    let (mut last_ref, mut last_t) = (0u64, 0i64);
    for (series, e) in exemplars {
        put_varint(out, series.wrapping_sub(last_ref) as i64);
        put_varint(out, e.ts.wrapping_sub(last_t));
        put_value(out, e.value);
        out.push(u8::from(e.has_ts));
        put_uvarint(out, e.labels.len() as u64);
        for l in e.labels.iter() {
            put_uvarint(out, l.name.len() as u64);
            out.extend_from_slice(l.name.as_bytes());
            put_uvarint(out, l.value.len() as u64);
            out.extend_from_slice(l.value.as_bytes());
        }
        last_ref = *series;
        last_t = e.ts;
    }
}

/// Decodes a record's payload: `f(series, t, v)` for each sample of a
/// samples record, `g(series, exemplar)` for each exemplar of an
/// exemplars record; `None` when it is malformed.
pub(crate) fn decode_any(
    payload: &[u8],
    f: impl FnMut(u64, i64, f64),
    mut g: impl FnMut(u64, crate::Exemplar),
    h: impl FnMut(crate::labels::Labels, i64, crate::histogram::FloatHistogram),
) -> Option<()> {
    if matches!(
        payload.first(),
        Some(&KIND_HISTOGRAMS | &KIND_HISTOGRAMS_V1)
    ) {
        return decode_histograms(payload, h);
    }
    if payload.first() != Some(&KIND_EXEMPLARS) {
        return decode(payload, f);
    }
    let mut c = Cursor::at(payload, 1);
    let n = c.uvarint()?;
    let (mut r, mut t) = (0u64, 0i64);
    let text = |c: &mut Cursor<'_>| -> Option<String> {
        let len = usize::try_from(c.uvarint()?).ok()?;
        String::from_utf8(c.bytes(len)?.to_vec()).ok()
    };
    for _ in 0..n {
        r = r.wrapping_add(c.varint()? as u64);
        t = t.wrapping_add(c.varint()?);
        let value = value(&mut c)?;
        let has_ts = match c.bytes(1)?[0] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let nl = c.uvarint()?;
        let mut labels = Vec::new();
        for _ in 0..nl {
            let name = text(&mut c)?;
            let v = text(&mut c)?;
            labels.push(crate::labels::Label::new(name, v));
        }
        g(
            r,
            crate::Exemplar {
                labels: crate::labels::Labels::new(labels),
                value,
                ts: t,
                has_ts,
            },
        );
    }
    (c.pos() == payload.len()).then_some(())
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
    fn exemplar_records_round_trip() {
        let ex = |v: f64, ts: i64, trace: &str| crate::Exemplar {
            labels: crate::labels::Labels::from_pairs(&[("trace_id", trace)]),
            value: v,
            ts,
            has_ts: ts % 2 == 0,
        };
        let list = vec![
            (7u64, ex(0.25, 1_700_000_000_000, "abc")),
            (3, ex(12.0, 1_700_000_000_001, "")),
            (7, ex(f64::NAN, -5, "ü")),
        ];
        let mut out = Vec::new();
        encode_exemplars(&mut out, &list);
        let mut got = Vec::new();
        decode_any(
            &out,
            |_, _, _| panic!("no samples"),
            |r, e| got.push((r, e)),
            |_, _, _| panic!("no histograms"),
        )
        .expect("decodes");
        assert_eq!(got.len(), 3);
        for ((r, e), (wr, we)) in got.iter().zip(&list) {
            assert_eq!(r, wr);
            assert_eq!(e.labels, we.labels);
            assert_eq!(e.value.to_bits(), we.value.to_bits());
            assert_eq!((e.ts, e.has_ts), (we.ts, we.has_ts));
        }
        // a cut record is refused
        assert!(decode_any(&out[..out.len() - 1], |_, _, _| {}, |_, _| {}, |_, _, _| {}).is_none());
    }

    #[test]
    fn histogram_records_round_trip() {
        use crate::histogram::{CounterResetHint, FloatHistogram};
        let h = |k: f64| FloatHistogram {
            schema: 2,
            counter_reset_hint: CounterResetHint::Gauge,
            zero_threshold: 0.001,
            zero_count: k,
            count: 3.5 * k,
            sum: -0.25 * k,
            positive: vec![(-1, k), (3, 1.5 * k)],
            negative: vec![(0, k)],
            ..Default::default()
        };
        let list = vec![
            (
                crate::labels::Labels::from_pairs(&[("__name__", "a"), ("x", "ü")]),
                1_700_000_000_000,
                h(2.0),
            ),
            (
                crate::labels::Labels::from_pairs(&[("__name__", "b")]),
                -5,
                h(0.5),
            ),
        ];
        let mut out = Vec::new();
        encode_histograms(&mut out, &list);
        let mut got = Vec::new();
        decode_any(
            &out,
            |_, _, _| panic!("no samples"),
            |_, _| panic!("no exemplars"),
            |l, t, h| got.push((l, t, h)),
        )
        .expect("decodes");
        assert_eq!(got, list);
        assert!(decode_any(&out[..out.len() - 1], |_, _, _| {}, |_, _| {}, |_, _, _| {}).is_none());
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
