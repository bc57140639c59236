//! The histogram store: samples back as stored (hints as Prometheus's
//! chunks give them), after a restart, across chunk and range boundaries,
//! with the log rewritten, a torn tail cut, and ranges dropped.

use std::io::Write as _;

use super::*;
use crate::histogram::CounterResetHint;
use crate::read::SampleIterator as _;

fn ls(i: usize) -> Labels {
    Labels::from_pairs(&[("__name__", "h"), ("i", &i.to_string())])
}

fn hist(k: i64) -> FloatHistogram {
    FloatHistogram {
        schema: 1,
        zero_threshold: 0.001,
        zero_count: k as f64,
        count: 3.0 * k as f64,
        sum: 1.5 * k as f64,
        positive: vec![(0, k as f64), (2, k as f64)],
        ..Default::default()
    }
}

const MIN: i64 = 60_000;

fn all(s: &HistStore, i: usize) -> Vec<(i64, FloatHistogram)> {
    s.select(&[Matcher::equal("i", i.to_string())], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|(_, v)| v)
        .map(|(t, h)| (t, (*h).clone()))
        .collect()
}

#[test]
fn samples_come_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // 300 samples a minute apart from 1 h before a range boundary: closed
    // chunks of 120, one cut at the boundary, one open
    let t0 = 2 * 3600 * 1000 * 100 - 3600 * 1000;
    let want: Vec<(i64, FloatHistogram)> = (0..300).map(|k| (t0 + k * MIN, hist(k + 1))).collect();
    {
        let s = HistStore::open(dir.path()).unwrap();
        for (t, h) in &want {
            let (ok, refused) = s
                .append(vec![(ls(0), *t, h.clone()), (ls(1), *t, h.clone())], None)
                .unwrap();
            assert_eq!((ok, refused), (2, 0));
        }
        // out of order and duplicate timestamps are refused
        assert_eq!(s.append(vec![(ls(0), t0, hist(1))], None).unwrap(), (0, 1));
        let got = all(&s, 0);
        assert_eq!(got.len(), 300);
        assert_eq!(s.series(&[], i64::MIN, i64::MAX), vec![ls(0), ls(1)]);
    }
    let s = HistStore::open(dir.path()).unwrap();
    let got = all(&s, 1);
    assert_eq!(got.len(), want.len());
    let mut first_of_chunk = 0;
    for (k, ((t, h), (wt, wh))) in got.iter().zip(&want).enumerate() {
        assert_eq!(t, wt);
        assert_eq!(
            (h.count, h.sum, &h.positive),
            (wh.count, wh.sum, &wh.positive)
        );
        if h.counter_reset_hint == CounterResetHint::Unknown {
            first_of_chunk += 1;
        } else {
            assert_eq!(
                h.counter_reset_hint,
                CounterResetHint::NotCounterReset,
                "{k}"
            );
        }
    }
    // chunks start at samples 0, 60 (the range boundary) and 180 (120 on)
    assert_eq!(first_of_chunk, 3);
    // a time window
    let w = s.select(&[], t0 + 10 * MIN, t0 + 12 * MIN).unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].1.len(), 3);
    // appending goes on after the newest sample
    assert_eq!(
        s.append(vec![(ls(1), t0 + 299 * MIN, hist(1))], None)
            .unwrap(),
        (0, 1)
    );
    assert_eq!(
        s.append(vec![(ls(1), t0 + 300 * MIN, hist(400))], None)
            .unwrap(),
        (1, 0)
    );
    drop(s);
    let s = HistStore::open(dir.path()).unwrap();
    assert_eq!(all(&s, 1).len(), 301);
    // ranges before a time go whole
    let (lo, _) = s.time_range().unwrap();
    assert_eq!(lo, t0);
    assert_eq!(s.drop_before(t0 + 2 * 3600 * 1000).unwrap(), 1);
    assert_eq!(all(&s, 1)[0].0, t0 + 60 * MIN);
}

#[test]
fn a_counter_reset_starts_a_chunk_and_reads_back_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let s = HistStore::open(dir.path()).unwrap();
    for (k, v) in [5, 6, 7, 1, 2].iter().enumerate() {
        s.append(vec![(ls(0), k as i64 * MIN, hist(*v))], None)
            .unwrap();
    }
    let hints: Vec<CounterResetHint> = all(&s, 0)
        .iter()
        .map(|(_, h)| h.counter_reset_hint)
        .collect();
    use CounterResetHint::*;
    assert_eq!(
        hints,
        vec![
            Unknown,
            NotCounterReset,
            NotCounterReset,
            Unknown,
            NotCounterReset
        ]
    );
}

#[test]
fn the_log_is_rewritten_and_a_torn_tail_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = HistStore::open(dir.path()).unwrap();
    s.rewrite_at = 4096;
    for k in 0..100 {
        let batch = (0..10).map(|i| (ls(i), k * MIN, hist(k + 1))).collect();
        s.append(batch, None).unwrap();
    }
    let log = dir.path().join(DIR).join("log");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size < 4096 * 2, "log of {size} bytes");
    drop(s);
    // a torn write at the end
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
    drop(f);
    let s = HistStore::open(dir.path()).unwrap();
    for i in 0..10 {
        let got = all(&s, i);
        assert_eq!(got.len(), 100, "series {i}");
        assert_eq!(got[99].1.count, 300.0);
    }
    // a second restart after more appends keeps every series apart
    s.append(vec![(ls(3), 100 * MIN, hist(500))], None).unwrap();
    drop(s);
    let s = HistStore::open(dir.path()).unwrap();
    assert_eq!(all(&s, 3).len(), 101);
    assert_eq!(all(&s, 4).len(), 100);
}

#[test]
fn through_the_database_beside_float_samples() {
    use crate::read::Queryable;
    use crate::{Db, Options};
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        no_lockfile: true,
        max_future_ms: 0,
        ..Options::default()
    };
    let both = Labels::from_pairs(&[("__name__", "m"), ("job", "a")]);
    let only = Labels::from_pairs(&[("__name__", "m"), ("job", "b")]);
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        let mut app = db.appender();
        app.append_labels(&both, 1000, 1.0).unwrap();
        app.append_histogram(&both, 2000, hist(1));
        app.append_histogram(&only, 2000, hist(2));
        app.append_histogram(&only, 3000, hist(3));
        let st = app.commit().unwrap();
        assert_eq!((st.appended, st.histograms_appended), (1, 3));
        let mut app = db.appender();
        app.append_histogram(&only, 2500, hist(9));
        assert_eq!(app.commit().unwrap().histograms_out_of_order, 1);
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let q = db.querier(0, 10_000).unwrap();
    let sel = q.select(&[Matcher::equal("__name__", "m")]).unwrap();
    assert_eq!(sel.len(), 2);
    let mut it = sel.into_iter();
    let mut a = it.next().unwrap();
    assert_eq!(a.labels, both);
    assert_eq!(a.samples.next(), Some((1000, 1.0)));
    assert_eq!(a.histograms.len(), 1);
    let b = it.next().unwrap();
    assert_eq!(b.labels, only);
    let counts: Vec<f64> = b.histograms.iter().map(|h| h.1.count).collect();
    assert_eq!(counts, vec![6.0, 9.0]);
    assert_eq!(q.label_values("job", &[]).unwrap(), vec!["a", "b"]);
    assert_eq!(
        q.series_labels(&[Matcher::equal("job", "b")]).unwrap(),
        vec![crate::packed::PackedLabels::new(&only)]
    );
    // a snapshot holds them too
    let name = db.snapshot(false).unwrap();
    let snap = Db::open(&dir.path().join("snapshots").join(name), opts()).unwrap();
    let q = snap.querier(0, 10_000).unwrap();
    let sel = q.select(&[Matcher::equal("job", "b")]).unwrap();
    assert_eq!(sel[0].histograms.len(), 2);
}

#[test]
fn histogram_series_are_head_series() {
    use crate::{Db, Options};
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        no_lockfile: true,
        max_future_ms: 0,
        ..Options::default()
    };
    let only = Labels::from_pairs(&[("__name__", "h"), ("job", "b")]);
    let other = Labels::from_pairs(&[("__name__", "h"), ("job", "c")]);
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        let mut app = db.appender();
        app.append_histogram(&only, 2000, hist(2));
        app.append_histogram(&only, 3000, hist(3));
        app.commit().unwrap();
        let st = db.stats();
        assert_eq!((st.series, st.series_created), (1, 1));
        // the open histogram chunk is a head chunk, its times the head's
        assert_eq!(db.time_range(), (1, Some((2000, 3000))));
        let card = db.cardinality(10);
        assert_eq!(card.series_by_metric, vec![("h".to_string(), 1)]);
        // a series with float and histogram samples is counted once
        let mut app = db.appender();
        app.append_labels(&only, 4000, 1.0).unwrap();
        app.append_histogram(&other, 4000, hist(1));
        app.commit().unwrap();
        assert_eq!(db.stats().series, 2);
    }
    // still head series after a restart
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().series, 2);
    assert_eq!(
        db.cardinality(10).series_by_metric,
        vec![("h".to_string(), 2)]
    );
}

/// The fixture's series: an integer exponential histogram whose layout
/// grows and whose counter resets, a float custom-bucket one, and a gauge
/// histogram with negative buckets; 200 samples each from a range start,
/// so each has a closed chunk (in `p<start>`) and an open one (in `log`).
fn fixture_series() -> Vec<(Labels, Vec<(i64, FloatHistogram)>)> {
    use crate::histogram::CUSTOM_BUCKETS_SCHEMA;
    // a range start: a multiple of 2 h
    let t0 = 1_800_000_000_000;
    let t = |k: i64| t0 + k * 15_000 + (k % 3) * 7;
    let expo = (0..200)
        .map(|k| {
            let v = if k < 150 { k + 1 } else { k - 149 };
            let mut positive = vec![(-2, v as f64), (0, 2.0 * v as f64)];
            if k >= 40 {
                positive.push((5, 1.0));
            }
            let count = positive.iter().map(|b| b.1).sum::<f64>() + 3.0;
            let h = FloatHistogram {
                schema: 3,
                zero_threshold: 1e-128,
                zero_count: 3.0,
                count,
                sum: 0.25 * k as f64,
                positive,
                ..Default::default()
            };
            (t(k), h)
        })
        .collect();
    let custom = (0..200)
        .map(|k| {
            let a = 0.5 * k as f64;
            let h = FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                count: 3.0 * a + 1.0,
                sum: a * 0.123,
                positive: vec![(0, a), (1, 2.0 * a), (3, 1.0)],
                custom_values: vec![0.005, 0.01, 0.25, 1.0],
                ..Default::default()
            };
            (t(k), h)
        })
        .collect();
    let gauge = (0..200)
        .map(|k| {
            let v = ((k * 37) % 11) as f64;
            let h = FloatHistogram {
                schema: -2,
                counter_reset_hint: CounterResetHint::Gauge,
                zero_threshold: 0.001,
                zero_count: 1.0,
                count: 2.0 * v + 1.0,
                sum: -v,
                positive: vec![(1, v)],
                negative: vec![(-1, v)],
                ..Default::default()
            };
            (t(k), h)
        })
        .collect();
    vec![
        (
            Labels::from_pairs(&[("__name__", "rpc_seconds"), ("job", "a")]),
            expo,
        ),
        (
            Labels::from_pairs(&[
                ("__name__", "http_request_duration_seconds"),
                ("le_set", "4"),
            ]),
            custom,
        ),
        (
            Labels::from_pairs(&[("__name__", "queue_size"), ("q", "\u{e9}t\u{e9}")]),
            gauge,
        ),
    ]
}

/// `testdata/histograms_v1/`: the store its first release wrote for
/// [`fixture_series`] (200 samples of each, one commit per sample time), a
/// range file and a log of sample records; read, converted and appended to.
#[test]
fn version_1_store_is_read() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/histograms_v1");
    let series = fixture_series();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join(DIR);
    std::fs::create_dir_all(&store).unwrap();
    let mut names = Vec::new();
    for e in std::fs::read_dir(&fixture).unwrap() {
        let e = e.unwrap();
        names.push(e.file_name().to_string_lossy().to_string());
        std::fs::copy(e.path(), store.join(e.file_name())).unwrap();
    }
    names.sort();
    assert_eq!(names.len(), 2, "a range file and the log: {names:?}");
    assert_eq!(names[1], "p1800000000000");
    let s = HistStore::open(dir.path()).unwrap();
    for (labels, want) in &series {
        let m: Vec<Matcher> = labels
            .iter()
            .map(|l| Matcher::equal(&l.name, &l.value))
            .collect();
        let got = s.select(&m, i64::MIN, i64::MAX).unwrap();
        assert_eq!(got.len(), 1);
        let got = &got[0].1;
        assert_eq!(got.len(), want.len(), "{labels}");
        for (k, ((t, h), (wt, wh))) in got.iter().zip(want).enumerate() {
            assert_eq!(t, wt, "{labels} sample {k}");
            let mut h = (**h).clone();
            // hints as Prometheus's chunks read them back: only a gauge
            // keeps its own
            if wh.counter_reset_hint != CounterResetHint::Gauge {
                h.counter_reset_hint = CounterResetHint::Unknown;
            }
            // buckets of the chunk's layout that this sample left empty
            // come back as zero
            h.positive
                .retain(|b| b.1 != 0.0 || wh.positive.iter().any(|w| w.0 == b.0));
            assert_eq!(&h, wh, "{labels} sample {k}");
        }
    }
    // the counter reset of the first series starts a chunk
    let reset = s
        .select(&[Matcher::equal("job", "a")], i64::MIN, i64::MAX)
        .unwrap()[0]
        .1[150]
        .1
        .counter_reset_hint;
    assert_eq!(reset, CounterResetHint::Unknown);
    // the log is left as it is until the first commit; the range file is
    // converted to version 2 at open
    assert_eq!(
        std::fs::read(store.join("log")).unwrap(),
        std::fs::read(fixture.join("log")).unwrap(),
        "nothing cut"
    );
    assert_eq!(std::fs::read(fixture.join(&names[1])).unwrap()[4], 1);
    let converted = std::fs::read(store.join(&names[1])).unwrap();
    assert_eq!(&converted[..5], b"FLHP\x02");
    // appending goes on, and all of it reads back after a restart
    let next = series[0].1[199].0 + 15_000;
    let mut h = series[0].1[199].1.clone();
    h.count += 1.0;
    h.positive[0].1 += 1.0;
    assert_eq!(
        s.append(vec![(series[0].0.clone(), next, h)], None)
            .unwrap(),
        (1, 0)
    );
    drop(s);
    let s = HistStore::open(dir.path()).unwrap();
    let m: Vec<Matcher> = series[0]
        .0
        .iter()
        .map(|l| Matcher::equal(&l.name, &l.value))
        .collect();
    assert_eq!(s.select(&m, i64::MIN, i64::MAX).unwrap()[0].1.len(), 201);
    assert_eq!(std::fs::read(store.join("log")).unwrap()[4], 2);
}

#[test]
fn the_log_costs_a_sample_about_what_its_chunk_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = HistStore::open(dir.path()).unwrap();
    let wide = |k: i64| FloatHistogram {
        schema: 3,
        zero_threshold: 0.001,
        count: 30.0 * k as f64,
        sum: 0.5 * k as f64,
        positive: (0..30)
            .map(|i| (i - 15, (k * (i as i64 % 3 + 1)) as f64))
            .collect(),
        ..Default::default()
    };
    // 100 samples of 10 series: all in open chunks, so all in the log
    for k in 1..=100 {
        let batch = (0..10).map(|i| (ls(i), k * MIN, wide(k))).collect();
        assert_eq!(s.append(batch, None).unwrap(), (10, 0));
    }
    let inner = s.inner.lock();
    let chunk_bytes: usize = inner
        .series
        .values()
        .filter_map(|st| st.open.as_ref())
        .map(|o| o.enc.bytes().0.len())
        .sum();
    let log = inner.log.as_ref().unwrap().len as usize;
    drop(inner);
    // per sample: id, new-chunk flag, bit count and the bits' last byte,
    // and per commit a frame
    assert!(
        log <= chunk_bytes + 1000 * 5 + 100 * 12 + 10 * 40,
        "log of {log} bytes for chunks of {chunk_bytes}"
    );
    drop(s);
    let s = HistStore::open(dir.path()).unwrap();
    let got = all(&s, 7);
    assert_eq!(got.len(), 100);
    assert_eq!(got[99].1.positive, wide(100).positive);
}

/// A chunk found by fuzzing: bucket gaps that read as negative made
/// indexes that do not grow; such a layout is refused.
#[test]
fn a_layout_whose_indexes_do_not_grow_is_refused() {
    let bytes = include_bytes!("../../testdata/fuzz/histogram_chunk_negative_gap");
    let _ = crate::fuzzing::histogram_chunk(bytes);
}

/// A range handed to a block: its chunks (closed and open) end at the
/// range's end, later appends before it are refused, and once finished
/// the range leaves the store for good (file, open chunks, log).
#[test]
fn a_range_collected_for_a_block_leaves_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let r = 2 * 3600 * 1000 * 100i64;
    let end = r + 2 * 3600 * 1000;
    let s = HistStore::open(dir.path()).unwrap();
    // series 0 from the middle of the range to past its end, series 1
    // stopping inside it (its chunk open)
    for k in 0..200i64 {
        let t = r + 3600 * 1000 + k * MIN;
        let mut batch = vec![(ls(0), t, hist(k))];
        if k < 10 {
            batch.push((ls(1), t, hist(k)));
        }
        s.append(batch, None).unwrap();
    }
    let got = s.collect_range(r, end).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((&got[0].0, &got[1].0), (&ls(0), &ls(1)));
    // series 0: 60 samples up to the boundary, cut there
    assert_eq!(got[0].1.len(), 1);
    assert_eq!(got[0].1[0].count, 60);
    assert_eq!(got[0].1[0].maxt, end - MIN);
    assert_eq!((got[1].1.len(), got[1].1[0].count), (1, 10));
    assert!(got
        .iter()
        .flat_map(|(_, c)| c)
        .all(|c| c.mint >= r && c.maxt < end));
    // nothing before the end is taken any more
    let (stored, refused) = s
        .append(vec![(ls(1), r + 3600 * 1000 + 20 * MIN, hist(1))], None)
        .unwrap();
    assert_eq!((stored, refused), (0, 1));
    // still there until finished, and still to go into a block (should
    // that block's writing fail, the next one takes the range again)
    assert_eq!(all(&s, 1).len(), 10);
    assert_eq!(s.pending_range().unwrap().0, r + 3600 * 1000);
    s.finish_range(r).unwrap();
    assert!(!dir.path().join(DIR).join(format!("p{r}")).exists());
    assert!(all(&s, 1).is_empty());
    assert_eq!(all(&s, 0).len(), 140);
    assert_eq!(s.pending_range().unwrap().0, end);
    drop(s);
    let s = HistStore::open(dir.path()).unwrap();
    assert!(all(&s, 1).is_empty());
    assert_eq!(all(&s, 0).len(), 140);
}
