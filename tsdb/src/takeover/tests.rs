//! Taking over the data directory Prometheus 2.42 left in
//! `testdata/prometheus-2.42/` (see `prom/tests.rs`).

use std::path::{Path, PathBuf};

use super::*;
use crate::histogram::FloatHistogram;
use crate::labels::Matcher;
use crate::read::{Queryable, SampleIterator as _};
use crate::Options;

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn samples(db: &Db, matchers: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let q = db.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
    let mut out = Vec::new();
    for mut s in q.select(matchers).unwrap() {
        let mut v = Vec::new();
        while let Some(x) = s.samples.next() {
            v.push(x);
        }
        out.push((s.labels.clone(), v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every sample Prometheus holds (blocks, head chunks, log), read
/// independently of the import: (labels, t, v), tombstones applied.
fn prometheus_samples(dir: &Path) -> Vec<(Labels, i64, u64)> {
    let l = prom::detect(dir).unwrap();
    let mut out = Vec::new();
    for b in &l.blocks {
        let idx = IndexReader::open(&b.join("index")).unwrap();
        let ch = BlockChunks::open(b).unwrap();
        let st = tombstones::read(b).unwrap();
        for i in 0..idx.len() {
            let s = idx.series(i).unwrap();
            for c in &s.chunks {
                for (t, v) in decode_xor(ch.get(c.r#ref).unwrap().1).unwrap() {
                    if !tombstones::deleted(st.get(&s.r#ref), t) {
                        out.push((s.labels.clone(), t, v.to_bits()));
                    }
                }
            }
        }
    }
    let mut names = HashMap::new();
    let segs = wal::segments(l.wal.as_ref().unwrap()).unwrap().1;
    let mut logged = Vec::new();
    for s in &segs {
        for r in wal::read_segment(s).unwrap().records {
            match wal::decode(&r).unwrap() {
                Record::Series(v) => names.extend(v),
                Record::Samples(v) => logged.extend(v),
                _ => {}
            }
        }
    }
    for (_, p) in prom::numbered(l.chunks_head.as_ref().unwrap()).unwrap() {
        for c in pchunks::read_head_chunk_file(&p).unwrap().chunks {
            for (t, v) in decode_xor(&c.data).unwrap() {
                out.push((names[&c.series].clone(), t, v.to_bits()));
            }
        }
    }
    for s in logged {
        out.push((names[&s.r#ref].clone(), s.t, s.v.to_bits()));
    }
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out.dedup();
    out
}

fn take_over(dir: &Path, delete: bool) -> (Db, Skipped, Progress) {
    let progress = Progress::default();
    let plan = prepare(dir, &progress)
        .unwrap()
        .expect("something to take over");
    let mut skipped = import_blocks(&plan, &progress).unwrap();
    let opts = Options {
        max_future_ms: i64::MAX / 4,
        ..Options::default()
    };
    let db = Db::open(dir, opts).unwrap();
    skipped.add(import_head(&plan, &db, &progress).unwrap());
    finish(&plan, &skipped, &progress, delete).unwrap();
    (db, skipped, progress)
}

#[test]
fn every_sample_prometheus_held_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_dir(&prom::tests::fixture(), &dir);
    let want = prometheus_samples(&dir);
    let (db, skipped, progress) = take_over(&dir, false);
    assert_eq!(skipped, Skipped::default(), "nothing left out");
    let got: Vec<(Labels, i64, u64)> = samples(
        &db,
        &[Matcher::new(crate::labels::MatchOp::RegexMatch, "__name__", ".+").unwrap()],
    )
    .into_iter()
    .flat_map(|(l, v)| v.into_iter().map(move |(t, x)| (l.clone(), t, x.to_bits())))
    .collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the samples differ");
    assert!(progress.finished.load(Ordering::Relaxed));
    // Prometheus's files are kept as they were, in prometheus-original/
    let orig = dir.join(ORIGINAL_DIR);
    assert_eq!(prom::detect(&orig).unwrap().blocks.len(), 4);
    assert!(prom::detect(&dir).unwrap().is_empty());
    for b in prom::detect(&prom::tests::fixture()).unwrap().blocks {
        let name = b.file_name().unwrap();
        assert_eq!(
            fs::read(b.join("index")).unwrap(),
            fs::read(orig.join(name).join("index")).unwrap()
        );
    }
    // and a second start has nothing to do
    drop(db);
    assert!(prepare(&dir, &Progress::default()).unwrap().is_none());
}

#[test]
fn an_interrupted_take_over_goes_on_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_dir(&prom::tests::fixture(), &dir);
    let want = prometheus_samples(&dir).len();
    // stopped after the blocks were written
    {
        let progress = Progress::default();
        let plan = prepare(&dir, &progress).unwrap().unwrap();
        import_blocks(&plan, &progress).unwrap();
    }
    let blocks_before = block::list_blocks(&dir).unwrap().len();
    let (db, _, _) = take_over(&dir, true);
    assert_eq!(
        block::list_blocks(&dir).unwrap().len(),
        blocks_before,
        "blocks not written twice"
    );
    let got: usize = samples(
        &db,
        &[Matcher::new(crate::labels::MatchOp::RegexMatch, "__name__", ".+").unwrap()],
    )
    .iter()
    .map(|s| s.1.len())
    .sum();
    assert_eq!(got, want);
    assert!(!dir.join(ORIGINAL_DIR).exists(), "deleted when asked");
}

#[test]
fn unreadable_files_stop_it_before_anything_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_dir(&prom::tests::fixture(), &dir);
    let idx = dir.join("01M91BFK4ZCNY46WFNWK0XPEX2/index");
    let mut b = fs::read(&idx).unwrap();
    b[4] = 7;
    fs::write(&idx, b).unwrap();
    let e = prepare(&dir, &Progress::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("01M91BFK4ZCNY46WFNWK0XPEX2/index") && e.contains("version 7"),
        "{e}"
    );
    assert!(!dir.join(ORIGINAL_DIR).exists());
    assert!(!dir.join(STATE_FILE).exists());
    assert_eq!(prom::detect(&dir).unwrap().blocks.len(), 4);
}

/// A Prometheus head with native histograms, written from the formats:
/// series 1 (`h`, integer histograms) with a memory-mapped head chunk at
/// 1000 and 2000 ms and logged samples from 1000 to 4000 ms; series 2
/// (`g`, float gauge histograms) logged at 1000 and 2000 ms, then a stale
/// marker at 3000 ms.
fn histogram_head(dir: &Path) {
    use crate::chunkenc::prom_histogram::{tests::encode, Parts, ENC_HISTOGRAM};
    use crate::encoding::{crc32c, put_uvarint, put_varint};
    use crate::histogram::CounterResetHint;
    use crate::prom::tests::put_histogram;
    let h = |k: f64| Parts {
        schema: 1,
        zero_threshold: 0.5,
        zero_count: 1.0,
        count: 1.0 + 3.0 * k,
        sum: 2.5 * k,
        positive_spans: vec![(-1, 2), (1, 1)],
        positive: vec![k, k, k],
        ..Parts::default()
    };
    let g = |k: f64| Parts {
        schema: 0,
        hint: CounterResetHint::Gauge,
        count: 4.5 - k,
        sum: k,
        positive_spans: vec![(0, 1)],
        positive: vec![4.5 - k],
        ..Parts::default()
    };
    let mut records: Vec<Vec<u8>> = Vec::new();
    let mut series = vec![wal::REC_SERIES];
    for (r, name) in [(1u64, "h"), (2, "g")] {
        series.extend_from_slice(&r.to_be_bytes());
        put_uvarint(&mut series, 1);
        for s in ["__name__", name] {
            put_uvarint(&mut series, s.len() as u64);
            series.extend_from_slice(s.as_bytes());
        }
    }
    records.push(series);
    let record = |typ: u8, r: u64, float: bool, samples: &[(i64, Parts)]| {
        let mut rec = vec![typ];
        rec.extend_from_slice(&r.to_be_bytes());
        rec.extend_from_slice(&samples[0].0.to_be_bytes());
        for (t, p) in samples {
            put_varint(&mut rec, 0);
            put_varint(&mut rec, t - samples[0].0);
            put_histogram(&mut rec, p, float);
        }
        rec
    };
    // the log's copies of the first two samples of `h` differ from the
    // head chunk's: the head chunk is read, the log's older samples not
    records.push(record(
        wal::REC_HISTOGRAMS,
        1,
        false,
        &[
            (1000, h(100.0)),
            (2000, h(200.0)),
            (3000, h(3.0)),
            (4000, h(4.0)),
        ],
    ));
    let stale = Parts {
        sum: f64::from_bits(crate::STALE_NAN_BITS),
        ..Parts::default()
    };
    records.push(record(
        wal::REC_FLOAT_HISTOGRAMS,
        2,
        true,
        &[(1000, g(0.5)), (2000, g(1.5)), (3000, stale)],
    ));
    let mut seg = Vec::new();
    for r in &records {
        seg.push(1u8);
        seg.extend_from_slice(&(r.len() as u16).to_be_bytes());
        seg.extend_from_slice(&crc32c(r).to_be_bytes());
        seg.extend_from_slice(r);
    }
    fs::create_dir_all(dir.join("wal")).unwrap();
    fs::write(dir.join("wal/00000000"), &seg).unwrap();
    let chunk = encode(ENC_HISTOGRAM, 0, &[(1000, h(1.0)), (2000, h(2.0))]);
    let mut file = crate::prom::HEAD_CHUNKS_MAGIC.to_be_bytes().to_vec();
    file.extend_from_slice(&[1, 0, 0, 0]);
    let start = file.len();
    file.extend_from_slice(&1u64.to_be_bytes());
    file.extend_from_slice(&1000i64.to_be_bytes());
    file.extend_from_slice(&2000i64.to_be_bytes());
    file.push(ENC_HISTOGRAM);
    put_uvarint(&mut file, chunk.len() as u64);
    file.extend_from_slice(&chunk);
    let sum = crc32c(&file[start..]);
    file.extend_from_slice(&sum.to_be_bytes());
    fs::create_dir_all(dir.join("chunks_head")).unwrap();
    fs::write(dir.join("chunks_head/000001"), &file).unwrap();
}

/// A series' name, histograms (time, count) and float samples (time,
/// bits).
type NamedSamples = (String, Vec<(i64, f64)>, Vec<(i64, u64)>);

/// Each series' histograms and float samples.
fn histograms(db: &Db) -> Vec<NamedSamples> {
    let q = db.querier(0, 10_000).unwrap();
    let all = Matcher::new(crate::labels::MatchOp::RegexMatch, "__name__", ".+").unwrap();
    let mut out = Vec::new();
    for mut s in q.select(&[all]).unwrap() {
        let mut floats = Vec::new();
        while let Some((t, v)) = s.samples.next() {
            floats.push((t, v.to_bits()));
        }
        let h = s.histograms.iter().map(|(t, h)| (*t, h.count)).collect();
        out.push((s.labels.get("__name__").unwrap().to_string(), h, floats));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn histograms_of_the_head_are_taken_over_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    histogram_head(&dir);
    let want = vec![
        (
            "g".to_string(),
            vec![(1000, 4.0), (2000, 3.0)],
            vec![(3000, crate::STALE_NAN_BITS)],
        ),
        (
            "h".to_string(),
            vec![(1000, 4.0), (2000, 7.0), (3000, 10.0), (4000, 13.0)],
            Vec::new(),
        ),
    ];
    // stopped once the head was replayed, before it was marked done
    {
        let progress = Progress::default();
        let plan = prepare(&dir, &progress).unwrap().unwrap();
        import_blocks(&plan, &progress).unwrap();
        let db = Db::open(&dir, Options::default()).unwrap();
        let skipped = import_head(&plan, &db, &progress).unwrap();
        assert_eq!(skipped, Skipped::default());
        assert_eq!(progress.histograms.load(Ordering::Relaxed), 6);
        assert_eq!(histograms(&db), want);
        // the gauge histograms read back as gauges
        let q = db.querier(0, 10_000).unwrap();
        let g = Matcher::new(crate::labels::MatchOp::Equal, "__name__", "g").unwrap();
        let sel = q.select(&[g]).unwrap();
        assert!(sel[0]
            .histograms
            .iter()
            .all(|h| h.1.counter_reset_hint == crate::histogram::CounterResetHint::Gauge));
    }
    // started again: the same, nothing twice
    let (db, skipped, progress) = take_over(&dir, false);
    assert_eq!(histograms(&db), want);
    assert_eq!(progress.histograms.load(Ordering::Relaxed), 0);
    // the six histograms again (the stale marker again is the same
    // sample, which the head ignores without counting it)
    assert_eq!(skipped.refused, 6, "{skipped:?}");
    assert!(skipped.damage.is_empty() && skipped.histograms == 0);
}

/// The native histogram the fixture target served for `series` (its
/// round read back from the sum), or `None` for another series.
fn served(labels: &Labels, h: &FloatHistogram) -> Option<FloatHistogram> {
    let drop_empty = |v: Vec<(i32, f64)>| v.into_iter().filter(|b| b.1 != 0.0).collect();
    match labels.get("__name__")? {
        "rpc_duration_seconds" => {
            let i = match labels.get("method")? {
                "get" => 0.0,
                _ => 1.0,
            };
            let k = ((h.sum - 10.0 * i) / 0.37).round();
            let pos = [3.0 * k + 1.0, 2.0 * k, k + i, 5.0];
            Some(FloatHistogram {
                schema: 3,
                counter_reset_hint: h.counter_reset_hint,
                zero_threshold: 1e-3,
                zero_count: 2.0 + i,
                count: pos.iter().sum::<f64>() + k + 2.0 + i,
                sum: 0.37 * k + 10.0 * i,
                positive: drop_empty(vec![(-2, pos[0]), (-1, pos[1]), (3, pos[2]), (4, pos[3])]),
                negative: drop_empty(vec![(1, k)]),
                custom_values: Vec::new(),
            })
        }
        "queue_fill" => {
            let k = h.sum - 2.0;
            let m = k.rem_euclid(3.0);
            Some(FloatHistogram {
                schema: 0,
                counter_reset_hint: crate::histogram::CounterResetHint::Gauge,
                zero_threshold: 0.5,
                zero_count: 0.5,
                count: 6.5,
                sum: 2.0 + k,
                positive: drop_empty(vec![(0, 1.5), (1, m), (2, 4.5 - m)]),
                negative: Vec::new(),
                custom_values: Vec::new(),
            })
        }
        _ => None,
    }
}

/// `testdata/prometheus-2.42-histograms/` (see its README): native
/// histograms in a block, head chunks and the log.
#[test]
fn native_histograms_prometheus_scraped_are_there() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/prometheus-2.42-histograms");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_dir(&fixture, &dir);
    let layout = prom::detect(&dir).unwrap();
    let block = prom::read_meta(&layout.blocks[0]).unwrap();
    let (db, skipped, progress) = take_over(&dir, false);
    // nothing left out; what the head chunks still held of the block's
    // range was passed over, not offered again
    assert_eq!(skipped, Skipped::default());
    let q = db.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
    let m = Matcher::new(
        crate::labels::MatchOp::RegexMatch,
        "__name__",
        "rpc_duration_seconds|queue_fill",
    )
    .unwrap();
    let mut total = 0;
    let mut names = Vec::new();
    for mut s in q.select(&[m]).unwrap() {
        names.push(s.labels.to_string());
        let hs = &s.histograms;
        // every one is what the target served (the store reads back
        // the empty buckets of its chunk's layout too)
        for (t, h) in hs {
            let want = served(&s.labels, h).unwrap();
            let mut got = (**h).clone();
            got.compact();
            assert_eq!(got, want, "{} at {t}", s.labels);
        }
        // from the block's range to the log's end, a scrape a second
        assert!(hs[0].0 <= block.min_time + 1000, "{}", s.labels);
        assert!(hs.iter().any(|h| h.0 >= block.max_time + 30_000));
        let gaps: Vec<i64> = hs
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .filter(|d| !(900..=1100).contains(d))
            .collect();
        let mut stale = Vec::new();
        while let Some((t, v)) = s.samples.next() {
            assert!(crate::is_stale_nan(v), "{} at {t}", s.labels);
            stale.push(t);
        }
        if s.labels.get("__name__") == Some("queue_fill") {
            assert!(gaps.is_empty(), "{gaps:?}");
            assert!(stale.is_empty());
        } else {
            // gone for a while: a stale marker, then a gap of some seconds
            assert_eq!(gaps.len(), 1, "{gaps:?}");
            assert!((2000..=6000).contains(&gaps[0]), "{gaps:?}");
            assert_eq!(stale.len(), 1);
            assert!(hs.iter().any(|h| h.0 < stale[0]) && hs.iter().any(|h| h.0 > stale[0]));
        }
        total += hs.len() as u64;
    }
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(total, progress.histograms.load(Ordering::Relaxed));
    assert!(total > 150, "{total}");
}

#[test]
fn histograms_of_a_block_not_written_are_not_stored_twice() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/prometheus-2.42-histograms");
    let count = |dir: &Path| {
        let (db, skipped, _) = take_over(dir, false);
        let q = db.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
        let m = Matcher::new(crate::labels::MatchOp::RegexMatch, "__name__", ".+").unwrap();
        let n: usize = q
            .select(&[m])
            .unwrap()
            .iter()
            .map(|s| s.histograms.len())
            .sum();
        (n, skipped)
    };
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    copy_dir(&fixture, &whole);
    let (want, _) = count(&whole);
    // the block's histograms stored, then a crash before its flint block
    // was in place
    let dir = tmp.path().join("data");
    copy_dir(&fixture, &dir);
    let stored = {
        let progress = Progress::default();
        let plan = prepare(&dir, &progress).unwrap().unwrap();
        import_blocks(&plan, &progress).unwrap();
        progress.histograms.load(Ordering::Relaxed)
    };
    assert!(stored > 0);
    for b in block::list_blocks(&dir).unwrap() {
        fs::remove_dir_all(b).unwrap();
    }
    let (got, skipped) = count(&dir);
    assert_eq!(got, want);
    assert_eq!(skipped.refused, stored, "{skipped:?}");
}
