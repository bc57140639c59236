use super::*;

/// Writes chunks in Prometheus's histogram layout, for the tests: written
/// from the format description in the module documentation.
#[derive(Default)]
struct W {
    out: Vec<u8>,
    bits: usize,
}

impl W {
    fn bit(&mut self, b: bool) {
        if self.bits.is_multiple_of(8) {
            self.out.push(0);
        }
        if b {
            *self.out.last_mut().expect("pushed") |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
    }

    fn bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    fn prefix(&mut self, ones: u32) {
        for _ in 0..ones {
            self.bit(true);
        }
        if ones < 8 {
            self.bit(false);
        }
    }

    fn varbit_int(&mut self, v: i64) {
        if v == 0 {
            return self.bit(false);
        }
        for (ones, n) in [(1, 3), (2, 6), (3, 9), (4, 12), (5, 18), (6, 25), (7, 56)] {
            if -((1i64 << (n - 1)) - 1) <= v && v <= 1i64 << (n - 1) {
                self.prefix(ones);
                return self.bits(v as u64 & ((1u64 << n) - 1), n);
            }
        }
        self.prefix(8);
        self.bits(v as u64, 64);
    }

    fn varbit_uint(&mut self, v: u64) {
        if v == 0 {
            return self.bit(false);
        }
        for (ones, n) in [(1, 3), (2, 6), (3, 9), (4, 12), (5, 18), (6, 25), (7, 56)] {
            if v < 1u64 << n {
                self.prefix(ones);
                return self.bits(v, n);
            }
        }
        self.prefix(8);
        self.bits(v, 64);
    }

    fn zero_threshold(&mut self, z: f64) {
        let bits = z.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32 - 1023;
        let power_of_two = z > 0.0 && bits & ((1 << 52) - 1) == 0 && (bits >> 52) & 0x7ff != 0;
        if z == 0.0 {
            self.bits(0, 8);
        } else if power_of_two && (-243..=10).contains(&exp) {
            // z = 0.5 * 2^(exp+1)
            self.bits((exp + 1 + 243) as u64, 8);
        } else {
            self.bits(255, 8);
            self.bits(bits, 64);
        }
    }

    fn spans(&mut self, spans: &[(i32, u32)]) {
        self.varbit_uint(spans.len() as u64);
        for &(offset, length) in spans {
            self.varbit_uint(u64::from(length));
            self.varbit_int(i64::from(offset));
        }
    }

    fn custom_bound(&mut self, f: f64) {
        let m = f * 1000.0;
        if (0.0..=33_554_430.0).contains(&m) && m.round() / 1000.0 == f {
            self.varbit_uint(m.round() as u64 + 1);
        } else {
            self.bit(false);
            self.bits(f.to_bits(), 64);
        }
    }

    fn xor(&mut self, st: &mut (u64, u8, u8), v: f64) {
        let (prev, leading, trailing) = st;
        let d = v.to_bits() ^ *prev;
        *prev = v.to_bits();
        if d == 0 {
            return self.bit(false);
        }
        self.bit(true);
        let l = (d.leading_zeros() as u8).min(31);
        let t = d.trailing_zeros() as u8;
        if *leading != 0xff && l >= *leading && t >= *trailing {
            self.bit(false);
            let n = 64 - u32::from(*leading) - u32::from(*trailing);
            self.bits(d >> *trailing, n);
            return;
        }
        *leading = l;
        *trailing = t;
        self.bit(true);
        self.bits(u64::from(l), 5);
        let n = 64 - u32::from(l) - u32::from(t);
        self.bits(u64::from(n % 64), 6);
        self.bits(d >> t, n);
    }
}

fn deltas(counts: &[f64]) -> Vec<i64> {
    let mut prev = 0i64;
    counts
        .iter()
        .map(|&c| {
            let d = c as i64 - prev;
            prev = c as i64;
            d
        })
        .collect()
}

/// A chunk of encoding `enc` holding `samples` (one layout: the first's),
/// with counter reset header `header` (two bits).
pub(crate) fn encode(enc: u8, header: u8, samples: &[(i64, Parts)]) -> Vec<u8> {
    let mut w = W::default();
    let first = &samples[0].1;
    w.zero_threshold(first.zero_threshold);
    w.varbit_int(i64::from(first.schema));
    w.spans(&first.positive_spans);
    w.spans(&first.negative_spans);
    if first.schema == CUSTOM_BUCKETS_SCHEMA {
        w.varbit_uint(first.custom_values.len() as u64);
        for &b in &first.custom_values {
            w.custom_bound(b);
        }
    }
    let (mut t_prev, mut t_delta) = (0i64, 0i64);
    let (mut c_prev, mut c_delta, mut z_prev, mut z_delta) = (0i64, 0i64, 0i64, 0i64);
    let mut sum = (0u64, 0xffu8, 0u8);
    let (mut cnt, mut zcnt) = ((0u64, 0xffu8, 0u8), (0u64, 0xffu8, 0u8));
    let mut buckets_prev: Vec<i64> = Vec::new();
    let mut buckets_delta: Vec<i64> = Vec::new();
    let mut float_buckets: Vec<(u64, u8, u8)> = Vec::new();
    for (i, (t, p)) in samples.iter().enumerate() {
        let stale = crate::is_stale_nan(p.sum);
        let mut b = if enc == ENC_HISTOGRAM {
            let mut d = deltas(&p.positive);
            d.extend(deltas(&p.negative));
            d.into_iter().map(|x| x as f64).collect::<Vec<f64>>()
        } else {
            let mut v = p.positive.clone();
            v.extend(&p.negative);
            v
        };
        if stale {
            b.clear();
        }
        if i == 0 {
            w.varbit_int(*t);
            if enc == ENC_HISTOGRAM {
                w.varbit_uint(p.count as u64);
                w.varbit_uint(p.zero_count as u64);
                w.bits(p.sum.to_bits(), 64);
                for &x in &b {
                    w.varbit_int(x as i64);
                }
                buckets_prev = b.iter().map(|&x| x as i64).collect();
                buckets_delta = vec![0; b.len()];
            } else {
                for v in [p.count, p.zero_count, p.sum] {
                    w.bits(v.to_bits(), 64);
                }
                for &x in &b {
                    w.bits(x.to_bits(), 64);
                }
                float_buckets = b.iter().map(|x| (x.to_bits(), 0xff, 0)).collect();
                cnt.0 = p.count.to_bits();
                zcnt.0 = p.zero_count.to_bits();
            }
            sum.0 = p.sum.to_bits();
            c_prev = p.count as i64;
            z_prev = p.zero_count as i64;
        } else {
            let d = t - t_prev;
            w.varbit_int(d - t_delta);
            t_delta = d;
            if enc == ENC_HISTOGRAM {
                let (cd, zd) = (p.count as i64 - c_prev, p.zero_count as i64 - z_prev);
                if stale {
                    w.varbit_int(0);
                    w.varbit_int(0);
                } else {
                    w.varbit_int(cd - c_delta);
                    w.varbit_int(zd - z_delta);
                }
                (c_delta, z_delta, c_prev, z_prev) = (cd, zd, p.count as i64, p.zero_count as i64);
                w.xor(&mut sum, p.sum);
                for (k, &x) in b.iter().enumerate() {
                    let d = x as i64 - buckets_prev[k];
                    w.varbit_int(d - buckets_delta[k]);
                    buckets_delta[k] = d;
                    buckets_prev[k] = x as i64;
                }
            } else {
                w.xor(&mut cnt, p.count);
                w.xor(&mut zcnt, p.zero_count);
                w.xor(&mut sum, p.sum);
                for (k, &x) in b.iter().enumerate() {
                    w.xor(&mut float_buckets[k], x);
                }
            }
        }
        t_prev = *t;
    }
    let mut out = (samples.len() as u16).to_be_bytes().to_vec();
    out.push(header << 6);
    out.extend_from_slice(&w.out);
    out
}

fn parts(hint: CounterResetHint, count: f64, sum: f64, pos: &[f64], neg: &[f64]) -> Parts {
    Parts {
        schema: 3,
        hint,
        zero_threshold: 2f64.powi(-128),
        zero_count: count - pos.iter().sum::<f64>() - neg.iter().sum::<f64>(),
        count,
        sum,
        positive_spans: vec![(-2, 2), (3, pos.len() as u32 - 2)],
        positive: pos.to_vec(),
        negative_spans: vec![(1, neg.len() as u32)],
        negative: neg.to_vec(),
        custom_values: Vec::new(),
    }
}

#[test]
fn known_bytes_of_one_sample() {
    // one integer sample at t=4: count 1, sum 1.0, no buckets, zero
    // threshold 0, schema 0; worked out by hand from the format
    let chunk = [
        0x00, 0x01, 0x00, 0x00, 0x14, 0x88, 0xff, 0xc0, 0, 0, 0, 0, 0, 0,
    ];
    let got = decode(ENC_HISTOGRAM, &chunk).expect("decodes");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, 4);
    let p = &got[0].1;
    assert_eq!((p.schema, p.count, p.zero_count, p.sum), (0, 1.0, 0.0, 1.0));
    assert_eq!(p.zero_threshold, 0.0);
    assert!(p.positive.is_empty() && p.negative.is_empty());
    assert_eq!(p.hint, CounterResetHint::Unknown);
    // the test writer writes the same bytes
    assert_eq!(encode(ENC_HISTOGRAM, 0, &got), chunk.to_vec());
}

#[test]
fn integer_chunk_round_trip() {
    use CounterResetHint::*;
    let samples = vec![
        (
            1_700_000_000_000,
            parts(CounterReset, 20.0, 3.5, &[1.0, 2.0, 3.0, 4.0], &[5.0]),
        ),
        (
            1_700_000_015_000,
            parts(NotCounterReset, 31.0, 7.25, &[1.0, 4.0, 3.0, 9.0], &[6.0]),
        ),
        (
            1_700_000_030_000,
            parts(
                NotCounterReset,
                2_000_044.0,
                -1.0,
                &[1_000_000.0, 1_000_000.0, 7.0, 9.0],
                &[6.0],
            ),
        ),
        (
            1_700_000_045_001,
            parts(
                NotCounterReset,
                2_000_044.0,
                -1.0,
                &[1_000_000.0, 1_000_000.0, 7.0, 9.0],
                &[6.0],
            ),
        ),
        (
            1_700_900_045_001,
            parts(
                NotCounterReset,
                1e15,
                1e300,
                &[1e15 - 8.0, 1.0, 1.0, 1.0],
                &[4.0],
            ),
        ),
    ];
    let chunk = encode(ENC_HISTOGRAM, 0b10, &samples);
    let got = decode(ENC_HISTOGRAM, &chunk).expect("decodes");
    assert_eq!(got, samples);
    // cut anywhere, it does not decode (nor panic)
    for n in 3..chunk.len() - 1 {
        assert!(decode(ENC_HISTOGRAM, &chunk[..n]).is_none(), "cut at {n}");
    }
}

#[test]
fn gauge_float_chunk_with_custom_bounds_and_a_stale_marker() {
    use CounterResetHint::*;
    let h = |hint, count: f64, buckets: &[f64]| Parts {
        schema: CUSTOM_BUCKETS_SCHEMA,
        hint,
        count,
        sum: count * 0.3,
        positive_spans: vec![(0, 2), (1, 2)],
        positive: buckets.to_vec(),
        custom_values: vec![-3.5, 0.001, 0.1234567, 2.5, 40_000.0],
        ..Parts::default()
    };
    let samples = vec![
        (-5, h(Gauge, 10.5, &[0.5, 3.0, 6.0, 1.0])),
        (10, h(Gauge, 4.25, &[0.25, 3.0, 0.0, 1.0])),
        (25, h(Gauge, 4.25, &[0.25, 3.0, 0.0, 1.0])),
        (
            26,
            Parts {
                sum: f64::from_bits(crate::STALE_NAN_BITS),
                ..Parts::default()
            },
        ),
    ];
    let chunk = encode(ENC_FLOAT_HISTOGRAM, 0b11, &samples);
    let got = decode(ENC_FLOAT_HISTOGRAM, &chunk).expect("decodes");
    assert_eq!(got.len(), 4);
    assert_eq!(got[..3], samples[..3]);
    assert_eq!(got[3].0, 26);
    assert_eq!(got[3].1.clone().convert(), Ok(Converted::Stale));
    // the other encoding reads something else or nothing, never these
    assert_ne!(decode(ENC_HISTOGRAM, &chunk).as_deref(), Some(&samples[..]));
    assert!(decode(1, &chunk).is_none());
}

#[test]
fn conversion_to_flint_histograms() {
    let p = Parts {
        schema: 0,
        count: 9.0,
        zero_count: 1.0,
        sum: 4.0,
        positive_spans: vec![(-1, 2), (2, 1)],
        positive: vec![3.0, 0.0, 4.0],
        negative_spans: vec![(0, 1)],
        negative: vec![1.0],
        ..Parts::default()
    };
    let Ok(Converted::Histogram(h)) = p.clone().convert() else {
        panic!("converts");
    };
    // the empty bucket is left out
    assert_eq!(h.positive, vec![(-1, 3.0), (3, 4.0)]);
    assert_eq!(h.negative, vec![(0, 1.0)]);
    assert_eq!((h.count, h.zero_count, h.sum), (9.0, 1.0, 4.0));
    // finer than schema 8: read at 8
    let fine = Parts {
        schema: 9,
        positive_spans: vec![(1, 2)],
        positive: vec![1.0, 2.0],
        ..p.clone()
    };
    let Ok(Converted::Histogram(h)) = fine.convert() else {
        panic!("converts");
    };
    assert_eq!((h.schema, h.positive.clone()), (8, vec![(1, 3.0)]));
    // the finest reserved schema, far from 8
    let finest = Parts {
        schema: 52,
        positive_spans: vec![(-5, 1), (1 << 20, 1)],
        positive: vec![1.0, 2.0],
        ..p.clone()
    };
    let Ok(Converted::Histogram(h)) = finest.convert() else {
        panic!("converts");
    };
    assert_eq!(
        (h.schema, h.positive.clone()),
        (8, vec![(0, 1.0), (1, 2.0)])
    );
    assert!(Parts {
        schema: 60,
        ..p.clone()
    }
    .convert()
    .is_err());
    assert!(Parts {
        positive: vec![1.0],
        ..p
    }
    .convert()
    .is_err());
}

proptest::proptest! {
    #[test]
    fn garbage_never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96)) {
        for enc in [ENC_HISTOGRAM, ENC_FLOAT_HISTOGRAM] {
            if let Some(v) = decode(enc, &b) {
                for (_, p) in v {
                    let _ = p.convert();
                }
            }
        }
    }
}
