use super::super::{decode, header_hint, Converted};
use super::*;
use crate::prom::chunks::{read_head_chunk_file, BlockChunks};
use crate::prom::index::IndexReader;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/prometheus-2.42-histograms")
}

/// Decodes `chunk` and encodes what it holds again.
fn reencode(enc: u8, chunk: &[u8]) -> Vec<u8> {
    let samples = decode(enc, chunk).expect("decodes");
    encode(enc, header_hint(chunk[2]), &samples)
}

/// Every histogram chunk Prometheus 2.42 wrote into the fixture's block
/// and head chunk files comes out byte for byte.
#[test]
fn prometheus_chunks_come_out_byte_for_byte() {
    let dir = fixture();
    let mut seen = [0usize; 2];
    let block = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("meta.json").exists())
        .expect("a block");
    let ix = IndexReader::open(&block.join("index")).unwrap();
    let chunks = BlockChunks::open(&block).unwrap();
    for i in 0..ix.len() {
        for c in ix.series(i).unwrap().chunks {
            let (enc, data) = chunks.get(c.r#ref).unwrap();
            if enc == ENC_HISTOGRAM || enc == ENC_FLOAT_HISTOGRAM {
                assert_eq!(reencode(enc, data), data, "block chunk {:x}", c.r#ref);
                seen[usize::from(enc - 2)] += 1;
            }
        }
    }
    for f in std::fs::read_dir(dir.join("chunks_head"))
        .unwrap()
        .flatten()
    {
        for c in read_head_chunk_file(&f.path()).unwrap().chunks {
            let enc = c.encoding & 0x7f;
            if enc == ENC_HISTOGRAM || enc == ENC_FLOAT_HISTOGRAM {
                assert_eq!(reencode(enc, &c.data), c.data, "head chunk at {}", c.mint);
                seen[usize::from(enc - 2)] += 1;
            }
        }
    }
    // the exponential (integer) and the gauge (float) histograms
    assert!(seen[0] >= 2 && seen[1] >= 2, "{seen:?}");
}

fn exp(count: f64, zero: f64, sum: f64, pos: &[(i32, f64)], neg: &[(i32, f64)]) -> FloatHistogram {
    FloatHistogram {
        schema: 3,
        zero_threshold: 2f64.powi(-128),
        zero_count: zero,
        count,
        sum,
        positive: pos.to_vec(),
        negative: neg.to_vec(),
        ..FloatHistogram::default()
    }
}

fn custom(counts: &[(i32, f64)], bounds: &[f64], sum: f64) -> FloatHistogram {
    FloatHistogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        count: counts.iter().map(|b| b.1).sum(),
        sum,
        positive: counts.to_vec(),
        custom_values: bounds.to_vec(),
        ..FloatHistogram::default()
    }
}

/// What the chunks give back: each sample's time, histogram (or `None`
/// for a stale marker) and hint, and per chunk (encoding, header, samples).
type Back = (
    Vec<(i64, Option<FloatHistogram>)>,
    Vec<(u8, CounterResetHint, usize)>,
);

fn read_back(chunks: &[EncodedChunk]) -> Back {
    let mut samples = Vec::new();
    let mut shape = Vec::new();
    for c in chunks {
        let d = decode(c.encoding, &c.data).expect("decodes");
        assert_eq!(d.len(), c.samples);
        assert_eq!(d[0].0, c.min_time);
        assert_eq!(d[d.len() - 1].0, c.max_time);
        shape.push((c.encoding, header_hint(c.data[2]), c.samples));
        for (t, p) in d {
            match p.convert().unwrap() {
                Converted::Stale => samples.push((t, None)),
                Converted::Histogram(h) => samples.push((t, Some(h))),
            }
        }
    }
    (samples, shape)
}

/// [`check_with`] with chunks cut at 120 samples, as Prometheus 2.42 cut
/// them (these tests' runs are far below the size Prometheus 3 cuts at).
fn check(input: &[(i64, Option<FloatHistogram>)]) -> Vec<(u8, CounterResetHint, usize)> {
    check_with(PROMETHEUS_2_42_CUT, input)
}

/// Cuts `input` into chunks by `cut` and checks that they give back
/// `input` with the hints chunks give back: the header's for a chunk's
/// first sample, "no reset" (or gauge) for the others. Returns each
/// chunk's encoding, header and samples.
fn check_with(
    cut: ChunkCut,
    input: &[(i64, Option<FloatHistogram>)],
) -> Vec<(u8, CounterResetHint, usize)> {
    let points: Vec<Point<'_>> = input.iter().map(|(t, h)| (*t, h.as_ref())).collect();
    let chunks = encode_series_with(cut, None, &points);
    for c in &chunks {
        // each chunk as `encode` writes it alone
        let d = decode(c.encoding, &c.data).expect("decodes");
        assert_eq!(encode(c.encoding, header_hint(c.data[2]), &d), c.data);
    }
    let (got, shape) = read_back(&chunks);
    assert_eq!(got.len(), input.len());
    let mut k = 0;
    for (enc, header, n) in &shape {
        for j in 0..*n {
            let (t, h) = &got[k + j];
            let (wt, wh) = &input[k + j];
            assert_eq!(t, wt);
            match (h, wh) {
                (None, None) => {}
                (Some(h), Some(w)) => {
                    let mut w = w.clone();
                    w.compact();
                    w.counter_reset_hint = if *header == CounterResetHint::Gauge {
                        CounterResetHint::Gauge
                    } else if j == 0 {
                        *header
                    } else {
                        CounterResetHint::NotCounterReset
                    };
                    assert_eq!(h, &w, "sample {} (chunk encoding {enc})", k + j);
                }
                _ => panic!("sample {}: {h:?} for {wh:?}", k + j),
            }
        }
        k += n;
    }
    shape
}

use CounterResetHint::{CounterReset, Gauge, NotCounterReset, Unknown};

#[test]
fn counter_with_reset_layout_change_and_stale_marker() {
    let mut s = Vec::new();
    let mut t = 1_700_000_000_000i64;
    for k in 0..150 {
        let k = k as f64;
        s.push((
            t,
            Some(exp(
                10.0 + 4.0 * k,
                2.0,
                0.5 * k,
                &[(-2, 3.0 + k), (1, 5.0 + 3.0 * k)],
                &[(0, 2.0)],
            )),
        ));
        t += 15_000 + (k as i64 % 3);
    }
    // a counter reset
    s.push((t, Some(exp(4.0, 1.0, 0.25, &[(-2, 1.0), (1, 2.0)], &[]))));
    t += 15_000;
    // a new bucket: the layout changes, no reset
    s.push((
        t,
        Some(exp(9.0, 1.0, 2.25, &[(-2, 1.0), (1, 2.0), (7, 5.0)], &[])),
    ));
    t += 15_000;
    s.push((
        t,
        Some(exp(12.0, 1.0, 3.0, &[(-2, 2.0), (1, 2.0), (7, 7.0)], &[])),
    ));
    t += 15_000;
    // gone, then back
    s.push((t, None));
    t += 15_000;
    s.push((t, None));
    t += 60_000;
    s.push((
        t,
        Some(exp(13.0, 1.0, 3.5, &[(-2, 2.0), (1, 3.0), (7, 7.0)], &[])),
    ));
    let shape = check(&s);
    assert_eq!(
        shape,
        vec![
            (ENC_HISTOGRAM, Unknown, 120),
            (ENC_HISTOGRAM, NotCounterReset, 30),
            // the new bucket joins the chunk's layout
            (ENC_HISTOGRAM, CounterReset, 5),
            (ENC_HISTOGRAM, Unknown, 1),
        ]
    );
}

#[test]
fn float_counts_gauges_and_custom_bounds() {
    let mut s = Vec::new();
    for k in 0..10 {
        let mut g = exp(
            6.5,
            0.5,
            2.0 + k as f64,
            &[
                (0, 1.5),
                (1, (k % 3) as f64 + 0.25),
                (2, 4.25 - (k % 3) as f64),
            ],
            &[],
        );
        g.counter_reset_hint = Gauge;
        g.zero_threshold = 0.5;
        s.push((k * 1000, Some(g)));
    }
    // a counter with custom bounds after the gauge, then its bounds change
    let bounds = [2.5e-4, 0.1, 0.25, 1.0, 33554.43, 1e9];
    for k in 10..20 {
        let c = (k - 10) as f64;
        s.push((
            k * 1000,
            Some(custom(
                &[(0, 1.0 + c), (2, 2.0), (6, c * 2.0 + 1.0)],
                &bounds,
                7.5 * c,
            )),
        ));
    }
    s.push((
        20_000,
        Some(custom(&[(0, 12.0), (1, 2.0)], &[0.1, 0.5], 80.0)),
    ));
    // a stale marker after a gauge starts a chunk of its own
    let mut g = exp(1.5, 0.0, -3.0, &[], &[(3, 1.5)]);
    g.counter_reset_hint = Gauge;
    s.push((21_000, Some(g)));
    s.push((22_000, None));
    let shape = check(&s);
    assert_eq!(
        shape,
        vec![
            (ENC_FLOAT_HISTOGRAM, Gauge, 10),
            (ENC_HISTOGRAM, NotCounterReset, 10),
            (ENC_HISTOGRAM, CounterReset, 1),
            (ENC_FLOAT_HISTOGRAM, Gauge, 1),
            (ENC_FLOAT_HISTOGRAM, NotCounterReset, 1),
        ]
    );
}

#[test]
fn hints_and_schema_changes() {
    let h = |count: f64, schema: i32| {
        let mut x = exp(count, 0.0, count, &[(1, count)], &[]);
        x.schema = schema;
        x
    };
    let mut told = h(20.0, 3);
    told.counter_reset_hint = CounterReset;
    let s = vec![
        (0, Some(h(5.0, 3))),
        (1, Some(h(6.0, 3))),
        // a finer schema: Prometheus does not look for a reset there
        (2, Some(h(7.0, 4))),
        // said to be a reset, though the counts went up
        (3, Some(told)),
        (4, Some(h(21.5, 4))),
    ];
    let shape = check(&s);
    assert_eq!(
        shape,
        vec![
            (ENC_HISTOGRAM, Unknown, 2),
            (ENC_HISTOGRAM, Unknown, 1),
            (ENC_HISTOGRAM, CounterReset, 1),
            (ENC_FLOAT_HISTOGRAM, Unknown, 1),
        ]
    );
}

#[test]
fn same_bytes_as_the_format_description() {
    // the tests' own writer, written from the module documentation
    let mut s = Vec::new();
    for k in 0..40i64 {
        let c = (k * k) as f64;
        let mut p = exp(
            3.0 * c + 7.0,
            1.0 + k as f64,
            1.5 * c,
            &[(-1, c), (0, c + 1.0), (4, c + 5.0)],
            &[(2, c + 1.0)],
        );
        if k % 7 == 3 {
            p.zero_threshold = 1e-3;
            p.count += 0.5;
        }
        s.push((k * 1_000 + k % 5, p));
    }
    for enc in [ENC_HISTOGRAM, ENC_FLOAT_HISTOGRAM] {
        let parts: Vec<(i64, Parts)> = s
            .iter()
            .filter(|(_, h)| enc == ENC_FLOAT_HISTOGRAM || h.has_integer_counts())
            .map(|(t, h)| (*t, parts_of(&(*t, Some(h)), &layout_of(&[h]))))
            .collect();
        for header in [Unknown, NotCounterReset, CounterReset, Gauge] {
            let bits = header_bits(header);
            assert_eq!(
                encode(enc, header, &parts),
                super::super::tests::encode(enc, bits, &parts),
                "encoding {enc}"
            );
        }
    }
}

#[test]
fn varbits_and_thresholds_read_back() {
    let mut w = Bits {
        out: Vec::new(),
        used: 0,
    };
    let ints = [
        0i64,
        1,
        -1,
        4,
        -3,
        5,
        32,
        -31,
        33,
        256,
        -255,
        2048,
        131_072,
        -16_777_215,
        1 << 55,
        -(1 << 55) + 1,
        1 << 56,
        i64::MIN + 1,
        i64::MAX,
    ];
    for v in ints {
        varbit_int(&mut w, v);
    }
    let uints = [
        0u64,
        7,
        8,
        63,
        64,
        4095,
        262_143,
        33_554_431,
        (1 << 56) - 1,
        1 << 56,
        u64::MAX,
    ];
    for v in uints {
        varbit_uint(&mut w, v);
    }
    let zs = [
        0.0,
        2f64.powi(-128),
        2f64.powi(-243),
        2f64.powi(-244),
        1024.0,
        2048.0,
        1e-3,
        -0.5,
    ];
    for z in zs {
        zero_threshold(&mut w, z);
    }
    let mut r = crate::chunkenc::prom::Reader {
        data: &w.out,
        pos: 0,
    };
    for v in ints {
        assert_eq!(r.varbit_int(), Some(v));
    }
    for v in uints {
        assert_eq!(r.varbit_uint(), Some(v));
    }
    for z in zs {
        assert_eq!(
            r.zero_threshold().map(f64::to_bits),
            Some(z.to_bits()),
            "{z}"
        );
    }
}

#[test]
fn a_series_going_on_from_another_block() {
    let a = exp(10.0, 1.0, 1.0, &[(0, 9.0)], &[]);
    let more = exp(12.0, 1.0, 2.0, &[(0, 11.0)], &[]);
    let less = exp(3.0, 1.0, 0.5, &[(0, 2.0)], &[]);
    let mut g = exp(1.5, 0.0, 1.0, &[(0, 1.5)], &[]);
    g.counter_reset_hint = Gauge;
    let header = |before: Option<Point<'_>>, first: &FloatHistogram| {
        let c = encode_series_after(before, &[(10, Some(first))]);
        header_hint(c[0].data[2])
    };
    assert_eq!(header(None, &more), Unknown);
    assert_eq!(header(Some((0, Some(&a))), &more), NotCounterReset);
    assert_eq!(header(Some((0, Some(&a))), &less), CounterReset);
    // after a stale marker nothing is known; after a gauge, Prometheus
    // says "no reset"
    assert_eq!(header(Some((0, None)), &more), Unknown);
    assert_eq!(header(Some((0, Some(&g))), &more), NotCounterReset);
    assert_eq!(header(Some((0, Some(&a))), &g), Gauge);
    // a stale marker first, of the kind of the histogram before
    let c = encode_series_after(Some((0, Some(&a))), &[(10, None)]);
    assert_eq!(header_hint(c[0].data[2]), NotCounterReset);
    assert_eq!(c[0].encoding, ENC_HISTOGRAM);
    let c = encode_series_after(Some((0, Some(&g))), &[(10, None)]);
    assert_eq!(c[0].encoding, ENC_FLOAT_HISTOGRAM);
}

#[test]
fn buckets_come_and_go_within_a_chunk() {
    let a = exp(1.0, 0.0, 1.0, &[(0, 1.0), (1, 0.0)], &[]);
    // bucket 1 (empty) goes, bucket 3 comes: no reset, one chunk
    let b = exp(3.0, 0.0, 2.0, &[(0, 2.0), (3, 1.0)], &[(-2, 0.5)]);
    let c = exp(4.0, 0.0, 3.0, &[(0, 2.0), (3, 1.0), (4, 1.0)], &[(-2, 0.5)]);
    // bucket 3 (not empty) gone: a reset
    let d = exp(5.0, 0.0, 4.0, &[(0, 5.0)], &[]);
    let s = vec![(0, Some(a)), (1, Some(b)), (2, Some(c)), (3, Some(d))];
    let shape = check(&s);
    assert_eq!(
        shape,
        vec![
            (ENC_FLOAT_HISTOGRAM, Unknown, 3),
            (ENC_HISTOGRAM, CounterReset, 1)
        ]
    );
    let points: Vec<Point<'_>> = s.iter().map(|(t, h)| (*t, h.as_ref())).collect();
    let first = &encode_series(&points)[0];
    let d = decode(first.encoding, &first.data).unwrap();
    // every bucket of the three, empty where a histogram has none
    assert_eq!(d[0].1.positive_spans, vec![(0, 2), (1, 2)]);
    assert_eq!(d[0].1.positive, vec![1.0, 0.0, 0.0, 0.0]);
    assert_eq!(d[1].1.positive, vec![2.0, 0.0, 1.0, 0.0]);
    assert_eq!(d[2].1.negative_spans, vec![(-2, 1)]);
    assert_eq!(d[0].1.negative, vec![0.0]);
}

proptest::proptest! {
    /// Any run of counter and gauge histograms (integer or float counts,
    /// buckets coming and going, schema changes) and stale markers reads
    /// back sample for sample.
    #[test]
    fn any_run_reads_back(
        steps in proptest::collection::vec(
            (
                0i64..100_000,
                0u8..10,
                proptest::collection::vec((-3i32..6, 0u32..50), 0..6),
                proptest::prelude::any::<bool>(),
            ),
            1..300,
        )
    ) {
        let mut t = -50_000i64;
        let mut s = Vec::new();
        for (d, kind, buckets, float) in steps {
            t += d + 1;
            if kind == 0 {
                s.push((t, None));
                continue;
            }
            let mut b: Vec<(i32, f64)> = buckets
                .iter()
                .map(|&(i, c)| (i, f64::from(c) + if float { 0.5 } else { 0.0 }))
                .collect();
            b.sort_by_key(|x| x.0);
            b.dedup_by_key(|x| x.0);
            let (pos, neg) = b.split_at(b.len() / 2);
            let mut h = exp(
                b.iter().map(|x| x.1).sum::<f64>() + 1.0,
                1.0,
                t as f64 / 7.0,
                pos,
                neg,
            );
            if kind == 1 {
                h.counter_reset_hint = Gauge;
            }
            if kind == 2 {
                h.schema = 2;
            }
            s.push((t, Some(h)));
        }
        check(&s);
        check_with(PROMETHEUS_CUT, &s);
    }
}

/// Chunks of `chunks` as (first timestamp, samples, bytes).
fn spans(chunks: &[EncodedChunk]) -> Vec<(i64, usize, usize)> {
    chunks
        .iter()
        .map(|c| (c.min_time, c.samples, c.data.len()))
        .collect()
}

#[test]
fn prometheus_3_cuts_chunks_by_size() {
    // the same small histogram every second over a 2 h range: 5 bits a
    // sample once the second one is written, so a chunk reaches a quarter
    // of 1 KiB after about 400 samples; Prometheus then splits what is
    // left of the range into chunks of that rate's size: 4 of 30 minutes
    let h = exp(3.0, 1.0, 2.0, &[(0, 2.0)], &[]);
    let s: Vec<(i64, Option<FloatHistogram>)> = (0..7_200 + 5)
        .map(|k| (k * 1_000, Some(h.clone())))
        .collect();
    let points: Vec<Point<'_>> = s.iter().map(|(t, h)| (*t, h.as_ref())).collect();
    let got = spans(&encode_series(&points));
    let starts: Vec<(i64, usize)> = got.iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(
        starts,
        vec![
            (0, 1_800),
            (1_800_000, 1_800),
            (3_600_000, 1_800),
            (5_400_000, 1_800),
            // the next range
            (7_200_000, 5),
        ]
    );
    let bytes: Vec<usize> = got.iter().map(|c| c.2).collect();
    // 5 bits a sample: 1,800 of them 1,125 bytes, and the first two
    assert_eq!(bytes, vec![1_143, 1_147, 1_147, 1_147, 25]);
    // the same with 2.42's rule: 120 samples a chunk
    let old = encode_series_with(PROMETHEUS_2_42_CUT, None, &points);
    assert_eq!(old.len(), 7_205usize.div_ceil(120));
    check_with(PROMETHEUS_CUT, &s);
}

/// A histogram of `n` buckets whose float counts change in every bit
/// from one sample to the next: about `8·n` bytes a sample.
fn wide(k: i64, n: i32) -> FloatHistogram {
    let b: Vec<(i32, f64)> = (0..n)
        .map(|i| {
            (
                i,
                (k as f64 + 1.0) * std::f64::consts::PI * f64::from(i + 1) / 7.0,
            )
        })
        .collect();
    let count = b.iter().map(|x| x.1).sum();
    exp(count, 0.0, count * 0.3, &b, &[])
}

#[test]
fn large_histograms_make_chunks_of_ten_samples() {
    // every sample is past 1 KiB: a chunk is cut as soon as it holds the
    // minimum of 10 samples, or at the end of the range before that
    let s: Vec<(i64, Option<FloatHistogram>)> = (0..25)
        .map(|k| (7_200_000 - 12_000 + k * 1_000, Some(wide(k, 200))))
        .collect();
    let points: Vec<Point<'_>> = s.iter().map(|(t, h)| (*t, h.as_ref())).collect();
    let got = encode_series(&points);
    let shape: Vec<(i64, usize)> = got.iter().map(|c| (c.min_time, c.samples)).collect();
    assert_eq!(
        shape,
        vec![
            (7_188_000, 10),
            // two samples left in the range: cut at its end
            (7_198_000, 2),
            (7_200_000, 10),
            (7_210_000, 3),
        ]
    );
    assert!(got.iter().all(|c| c.encoding == ENC_FLOAT_HISTOGRAM));
    assert!(got[0].data.len() > 10 * 1_024, "{}", got[0].data.len());
    check_with(PROMETHEUS_CUT, &s);
}

#[test]
fn a_chunk_cut_for_a_reset_after_a_prediction_is_not_predicted() {
    // as `prometheus_3_cuts_chunks_by_size`, with a counter reset in the
    // second chunk after its end was predicted: the chunk it starts has
    // no prediction (Prometheus keeps its flag), so it grows to twice
    // 1 KiB; the one after that is predicted again
    let h = |c: f64| exp(c, 1.0, 2.0, &[(0, c - 1.0)], &[]);
    let s: Vec<(i64, Option<FloatHistogram>)> = (0..7_200)
        .map(|k| (k * 1_000, Some(h(if k < 2_500 { 30.0 } else { 3.0 }))))
        .collect();
    let points: Vec<Point<'_>> = s.iter().map(|(t, h)| (*t, h.as_ref())).collect();
    let got = spans(&encode_series(&points));
    assert_eq!(got[0].0..got[0].0 + got[0].1 as i64, 0..1_800);
    assert_eq!((got[1].0, got[1].1), (1_800_000, 700));
    assert_eq!(got[2].0, 2_500_000);
    assert!(got[2].2 >= 2_048 && got[2].2 < 2_048 + 4, "{got:?}");
    assert!(got[3].1 < got[2].1, "{got:?}");
    assert!(got.iter().all(|c| c.0 + c.1 as i64 * 1_000 <= 7_200_000));
    check_with(PROMETHEUS_CUT, &s);
}
