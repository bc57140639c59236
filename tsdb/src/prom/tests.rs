//! Reading the data directory Prometheus 2.42 left in
//! `testdata/prometheus-2.42/`: three series backfilled by
//! `promtool tsdb create-blocks-from openmetrics` (value
//! `(t/15 % 100) * 0.5 + i` at `t` seconds, every 15 s), one of them
//! partly deleted through the admin API (a tombstone), then a static
//! target scraped every second for 2.5 minutes and the process killed
//! (`kill -9`: its head chunks never reached the file), then started
//! again on the same folder for 3.3 minutes and stopped (SIGTERM),
//! leaving the write-ahead log and memory-mapped head chunks.

use std::path::PathBuf;

use super::chunks::{read_head_chunk_file, BlockChunks, ENC_XOR};
use super::index::IndexReader;
use super::wal::{self, Record};
use super::*;
use crate::chunkenc::prom::decode_xor;

pub(crate) fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/prometheus-2.42")
}

fn backfill_value(t_ms: i64, i: i64) -> f64 {
    ((t_ms / 1000 / 15) % 100) as f64 * 0.5 + i as f64
}

#[test]
fn finds_what_prometheus_left() {
    let l = detect(&fixture()).unwrap();
    assert_eq!(l.blocks.len(), 4);
    assert!(l.wal.is_some());
    assert!(l.chunks_head.is_some());
    assert!(l.wbl.is_none());
    // a folder without any of it holds nothing
    let empty = tempfile::tempdir().unwrap();
    assert!(detect(empty.path()).unwrap().is_empty());
}

#[test]
fn blocks_read_back_as_written() {
    let l = detect(&fixture()).unwrap();
    let mut total = 0u64;
    let mut deleted_seen = 0;
    for b in &l.blocks {
        let meta = read_meta(b).unwrap();
        let idx = IndexReader::open(&b.join("index")).unwrap();
        let chunks = BlockChunks::open(b).unwrap();
        let stones = tombstones::read(b).unwrap();
        assert_eq!(idx.len() as u64, meta.num_series);
        let mut prev: Option<crate::labels::Labels> = None;
        for i in 0..idx.len() {
            let s = idx.series(i).unwrap();
            assert!(prev.as_ref().is_none_or(|p| *p < s.labels), "label order");
            prev = Some(s.labels.clone());
            assert_eq!(s.labels.get("__name__"), Some("fix_backfill"));
            let n: i64 = s.labels.get("i").unwrap().parse().unwrap();
            let mut last = i64::MIN;
            for c in &s.chunks {
                let (enc, data) = chunks.get(c.r#ref).unwrap();
                assert_eq!(enc, ENC_XOR);
                let samples = decode_xor(data).unwrap();
                assert_eq!(samples.first().unwrap().0, c.mint);
                assert_eq!(samples.last().unwrap().0, c.maxt);
                for (t, v) in samples {
                    assert!(t > last && t >= meta.min_time && t < meta.max_time);
                    last = t;
                    assert_eq!(v, backfill_value(t, n), "{} at {t}", s.labels);
                    total += 1;
                    if tombstones::deleted(stones.get(&s.r#ref), t) {
                        deleted_seen += 1;
                        assert_eq!(n, 2);
                    }
                }
            }
        }
        let _ = meta.num_samples;
    }
    // 6 hours every 15 s, three series
    assert_eq!(total, 6 * 240 * 3);
    // the deleted range: 1796393000 to 1796394000 s, one series
    assert_eq!(deleted_seen, (1796394000 - 1796393010) / 15 + 1);
}

#[test]
fn head_chunks_and_the_log_name_the_scraped_series() {
    let l = detect(&fixture()).unwrap();
    let (checkpoint, segs) = wal::segments(l.wal.as_ref().unwrap()).unwrap();
    assert!(checkpoint.is_none());
    let mut names = std::collections::HashMap::new();
    let mut samples = 0;
    let mut tombstones = 0;
    for s in &segs {
        let seg = wal::read_segment(s).unwrap();
        // killed mid-write at worst: the records read are whole
        for r in &seg.records {
            match wal::decode(r).unwrap() {
                Record::Series(v) => {
                    for (r, l) in v {
                        names.insert(r, l);
                    }
                }
                Record::Samples(v) => samples += v.len(),
                Record::Tombstones(v) => tombstones += v.len(),
                Record::Histograms(_) | Record::Other(_) => {}
            }
        }
    }
    assert!(samples > 1000, "{samples}");
    assert_eq!(tombstones, 0);
    let temp: Vec<&crate::labels::Labels> = names
        .values()
        .filter(|l| l.get("__name__") == Some("fix_temp"))
        .collect();
    assert_eq!(temp.len(), 2);
    assert!(temp.iter().any(|l| l.get("room") == Some("ü")));
    let mut mapped = 0;
    for (_, p) in numbered(l.chunks_head.as_ref().unwrap()).unwrap() {
        let f = read_head_chunk_file(&p).unwrap();
        assert!(f.damage.is_none(), "{:?}", f.damage);
        for c in f.chunks {
            assert!(names.contains_key(&c.series));
            assert_eq!(c.encoding, ENC_XOR);
            let s = decode_xor(&c.data).unwrap();
            assert_eq!((s[0].0, s.last().unwrap().0), (c.mint, c.maxt));
            if names[&c.series].get("room") == Some("a b") {
                assert!(s.iter().all(|x| x.1 == 21.5));
            }
            mapped += 1;
        }
    }
    assert!(mapped > 0);
}

#[test]
fn what_is_not_understood_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("01M91BFJZ6RKDGQTXBKKN6HNQP");
    std::fs::create_dir_all(b.join("chunks")).unwrap();
    let mut index = std::fs::read(fixture().join("01M91BFJZ6RKDGQTXBKKN6HNQP/index")).unwrap();
    index[4] = 9;
    std::fs::write(b.join("index"), &index).unwrap();
    let e = IndexReader::open(&b.join("index"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("index format version 9"), "{e}");
    assert!(e.contains("01M91BFJZ6RKDGQTXBKKN6HNQP/index"), "{e}");
    // a zstd record
    let w = dir.path().join("wal");
    std::fs::create_dir_all(&w).unwrap();
    let mut seg = vec![1u8 | (1 << 4), 0, 1, 0, 0, 0, 0, 0];
    let sum = crate::encoding::crc32c(&seg[7..8]);
    seg[3..7].copy_from_slice(&sum.to_be_bytes());
    std::fs::write(w.join("00000000"), &seg).unwrap();
    let e = wal::read_segment(&w.join("00000000"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("zstd-compressed record"), "{e}");
}

#[test]
fn a_torn_log_reads_up_to_the_tear() {
    let l = detect(&fixture()).unwrap();
    let (_, segs) = wal::segments(l.wal.as_ref().unwrap()).unwrap();
    let whole = wal::read_segment(&segs[0]).unwrap().records.len();
    let dir = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(&segs[0]).unwrap();
    let cut = b.len() / 2;
    b[cut] ^= 0xff;
    std::fs::write(dir.path().join("00000000"), &b).unwrap();
    let seg = wal::read_segment(&dir.path().join("00000000")).unwrap();
    assert!(seg.damage.is_some());
    assert!(seg.records.len() < whole && !seg.records.is_empty());
}

/// A histogram as a histogram samples record carries it, written from
/// the record layout: hint, schema, zero threshold, zero count and count
/// (uvarints, or floats), sum, spans, buckets (deltas as varints, or
/// floats), custom bounds with schema -53.
pub(crate) fn put_histogram(
    out: &mut Vec<u8>,
    p: &crate::chunkenc::prom_histogram::Parts,
    float: bool,
) {
    use crate::encoding::{put_uvarint, put_varint};
    out.push(match p.hint {
        crate::histogram::CounterResetHint::Unknown => 0,
        crate::histogram::CounterResetHint::CounterReset => 1,
        crate::histogram::CounterResetHint::NotCounterReset => 2,
        crate::histogram::CounterResetHint::Gauge => 3,
    });
    put_varint(out, i64::from(p.schema));
    out.extend_from_slice(&p.zero_threshold.to_bits().to_be_bytes());
    if float {
        out.extend_from_slice(&p.zero_count.to_bits().to_be_bytes());
        out.extend_from_slice(&p.count.to_bits().to_be_bytes());
    } else {
        put_uvarint(out, p.zero_count as u64);
        put_uvarint(out, p.count as u64);
    }
    out.extend_from_slice(&p.sum.to_bits().to_be_bytes());
    for spans in [&p.positive_spans, &p.negative_spans] {
        put_uvarint(out, spans.len() as u64);
        for &(o, l) in spans.iter() {
            put_varint(out, i64::from(o));
            put_uvarint(out, u64::from(l));
        }
    }
    for counts in [&p.positive, &p.negative] {
        put_uvarint(out, counts.len() as u64);
        let mut prev = 0i64;
        for &c in counts.iter() {
            if float {
                out.extend_from_slice(&c.to_bits().to_be_bytes());
            } else {
                put_varint(out, c as i64 - prev);
                prev = c as i64;
            }
        }
    }
    if p.schema == crate::histogram::CUSTOM_BUCKETS_SCHEMA {
        put_uvarint(out, p.custom_values.len() as u64);
        for v in &p.custom_values {
            out.extend_from_slice(&v.to_bits().to_be_bytes());
        }
    }
}

#[test]
fn histogram_records_decode() {
    use crate::chunkenc::prom_histogram::Parts;
    use crate::encoding::put_varint;
    use crate::histogram::CounterResetHint;
    let exp = Parts {
        schema: 2,
        hint: CounterResetHint::CounterReset,
        zero_threshold: 0.001,
        zero_count: 3.0,
        count: 17.0,
        sum: 12.5,
        positive_spans: vec![(-3, 2), (4, 1)],
        positive: vec![4.0, 1.0, 6.0],
        negative_spans: vec![(0, 1)],
        negative: vec![3.0],
        custom_values: Vec::new(),
    };
    let custom = Parts {
        schema: crate::histogram::CUSTOM_BUCKETS_SCHEMA,
        hint: CounterResetHint::Gauge,
        count: 3.0,
        sum: 0.75,
        positive_spans: vec![(0, 3)],
        positive: vec![1.0, 0.0, 2.0],
        custom_values: vec![0.1, 0.25],
        ..Parts::default()
    };
    // version 1: base reference and time, then deltas per sample
    for (typ, float, h) in [
        (wal::REC_HISTOGRAMS, false, &exp),
        (wal::REC_FLOAT_HISTOGRAMS, true, &exp),
        (wal::REC_CUSTOM_HISTOGRAMS, false, &custom),
        (wal::REC_CUSTOM_FLOAT_HISTOGRAMS, true, &custom),
    ] {
        let mut rec = vec![typ];
        rec.extend_from_slice(&40u64.to_be_bytes());
        rec.extend_from_slice(&1_000i64.to_be_bytes());
        for (dr, dt) in [(0i64, 0i64), (-3, 15), (2, 30)] {
            put_varint(&mut rec, dr);
            put_varint(&mut rec, dt);
            put_histogram(&mut rec, h, float);
        }
        let Some(Record::Histograms(v)) = wal::decode(&rec) else {
            panic!("type {typ} decodes");
        };
        let got: Vec<(u64, i64)> = v.iter().map(|x| (x.r#ref, x.t)).collect();
        assert_eq!(got, vec![(40, 1000), (37, 1015), (42, 1030)], "type {typ}");
        assert!(v.iter().all(|x| x.h == *h), "type {typ}: {v:?}");
        // cut short, it is refused
        assert!(wal::decode(&rec[..rec.len() - 1]).is_none(), "type {typ}");
    }
    // version 2: the first sample's reference, time and start time, then
    // deltas from the previous reference and the first time, and a start
    // time marker (0: none, 1: the previous one, 2: a delta follows)
    for (typ, float) in [
        (wal::REC_HISTOGRAMS_V2, false),
        (wal::REC_FLOAT_HISTOGRAMS_V2, true),
    ] {
        let mut rec = vec![typ];
        put_varint(&mut rec, 7);
        put_varint(&mut rec, 5_000);
        put_varint(&mut rec, 4_000);
        put_histogram(&mut rec, &exp, float);
        for (dr, dt, marker) in [(1i64, 10i64, 0u8), (-5, 20, 1), (3, 25, 2)] {
            put_varint(&mut rec, dr);
            put_varint(&mut rec, dt);
            rec.push(marker);
            if marker == 2 {
                put_varint(&mut rec, -100);
            }
            put_histogram(&mut rec, &exp, float);
        }
        let Some(Record::Histograms(v)) = wal::decode(&rec) else {
            panic!("type {typ} decodes");
        };
        let got: Vec<(u64, i64)> = v.iter().map(|x| (x.r#ref, x.t)).collect();
        assert_eq!(
            got,
            vec![(7, 5000), (8, 5010), (3, 5020), (6, 5025)],
            "type {typ}"
        );
        assert!(v.iter().all(|x| x.h == exp));
    }
}
