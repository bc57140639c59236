//! The journal through the database: off without readers, every stored
//! sample in order for each reader, positions kept across a restart, a
//! torn tail cut, segments deleted once read, and a reader moved on with
//! the exact ranges it skipped when the segments outgrow their limit.

use crate::labels::Labels;
use crate::{Db, JournalPosition, JournalRead, Options, SeriesRef};

fn ls(i: usize) -> Labels {
    Labels::from_pairs(&[("__name__", "m"), ("i", &i.to_string())])
}

fn opts() -> Options {
    Options {
        no_lockfile: true,
        max_future_ms: 0,
        ..Options::default()
    }
}

/// Appends one commit: `n` series at time `t`, value `t + i`.
fn commit(db: &Db, n: usize, t: i64) -> Vec<SeriesRef> {
    let mut app = db.appender();
    let refs: Vec<SeriesRef> = (0..n)
        .map(|i| app.append_labels(&ls(i), t, (t + i as i64) as f64).unwrap())
        .collect();
    app.commit().unwrap();
    refs
}

/// Everything reader `name` can read now: (series, t, v) and the end.
fn read_all(db: &Db, name: &str) -> (Vec<(u64, i64, f64)>, JournalPosition) {
    let st = db.journal_reader(name).expect("reader");
    match db
        .journal_read(name, st.generation, st.position, usize::MAX)
        .unwrap()
    {
        JournalRead::Batch(b) => (
            b.samples.iter().map(|s| (s.series.0, s.t, s.v)).collect(),
            b.end(st.position),
        ),
        JournalRead::Moved => panic!("moved"),
    }
}

#[test]
fn off_without_readers_and_in_order_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    commit(&db, 3, 1000);
    assert!(!dir.path().join("journal").exists());
    assert!(db.journal_reader("a").is_none());

    db.journal_set_readers(&["a".into()]).unwrap();
    let refs = commit(&db, 3, 2000);
    // a refused sample (out of order) is not journaled
    let mut app = db.appender();
    app.append(refs[0], 1500, 9.0).unwrap();
    app.append(refs[1], 3000, 1.0).unwrap();
    app.commit().unwrap();
    let (got, end) = read_all(&db, "a");
    assert_eq!(
        got,
        vec![
            (refs[0].0, 2000, 2000.0),
            (refs[1].0, 2000, 2001.0),
            (refs[2].0, 2000, 2002.0),
            (refs[1].0, 3000, 1.0),
        ]
    );
    // a reader named later starts at the end
    db.journal_set_readers(&["a".into(), "b".into()]).unwrap();
    assert_eq!(read_all(&db, "b").0, vec![]);
    commit(&db, 1, 4000);
    assert_eq!(read_all(&db, "b").0, vec![(refs[0].0, 4000, 4000.0)]);
    // acknowledged progress survives a restart
    let gen = db.journal_reader("a").unwrap().generation;
    db.journal_ack("a", gen, end, 0).unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(read_all(&db, "a").0, vec![(refs[0].0, 4000, 4000.0)]);
    // no readers: the journal goes
    db.journal_set_readers(&[]).unwrap();
    assert!(!dir.path().join("journal").exists());
    commit(&db, 1, 5000);
    assert!(!dir.path().join("journal").exists());
}

#[test]
fn a_torn_tail_is_cut_and_writing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        db.journal_set_readers(&["a".into()]).unwrap();
        commit(&db, 2, 1000);
        commit(&db, 2, 2000);
    }
    let seg = dir.path().join("journal/00000001");
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);
    let db = Db::open(dir.path(), opts()).unwrap();
    let (got, _) = read_all(&db, "a");
    assert_eq!(
        got.iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![1000, 1000]
    );
    commit(&db, 1, 3000);
    let (got, _) = read_all(&db, "a");
    assert_eq!(
        got.iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![1000, 1000, 3000]
    );
}

#[test]
fn read_segments_go_and_a_late_reader_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            journal_segment_bytes: 600,
            journal_max_bytes: 2500,
            ..opts()
        },
    )
    .unwrap();
    db.journal_set_readers(&["fast".into(), "slow".into()])
        .unwrap();
    let mut refs = Vec::new();
    for k in 0..60 {
        refs = commit(&db, 20, 1000 + k * 1000);
        // "fast" reads and acknowledges everything as it comes
        let st = db.journal_reader("fast").unwrap();
        let (_, end) = read_all(&db, "fast");
        db.journal_ack("fast", st.generation, end, 0).unwrap();
    }
    // "slow" read nothing: while the segments fit, they stay for it
    let segs = || {
        std::fs::read_dir(dir.path().join("journal"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .is_ok()
            })
            .count()
    };
    let before = segs();
    assert!(before > 5, "{before} segments");
    db.flush(true).unwrap();
    assert!(db.journal_bytes() <= 2500 + 600, "{}", db.journal_bytes());
    assert!(segs() < before);
    let st = db.journal_reader("slow").unwrap();
    assert!(st.generation >= 1, "moved on once a dropped segment");
    // what it skipped, per series: the samples from the first commit on,
    // up to the last one in the dropped segments
    assert_eq!(st.catch_up.len(), 20);
    for c in &st.catch_up {
        assert_eq!(c.mint, 1000);
        assert!(c.maxt >= 1000 && c.maxt < 60_000, "{c:?}");
    }
    // skipped ranges and what is left in the journal hold every sample
    // once, in order per series
    let mut per_series: std::collections::BTreeMap<u64, Vec<i64>> = Default::default();
    for c in &st.catch_up {
        let (labels, samples, _) = db
            .series_samples(c.series, c.mint, c.maxt)
            .unwrap()
            .unwrap();
        assert_eq!(labels.get("__name__"), Some("m"));
        per_series
            .entry(c.series.0)
            .or_default()
            .extend(samples.iter().map(|s| s.0));
    }
    for (r, t, _) in read_all(&db, "slow").0 {
        per_series.entry(r).or_default().push(t);
    }
    let want: Vec<i64> = (0..60).map(|k| 1000 + k * 1000).collect();
    for r in &refs {
        assert_eq!(per_series[&r.0], want, "series {}", r.0);
    }
    // an acknowledgement of the old generation changes nothing, and
    // reading with it says the reader moved
    db.journal_ack(
        "slow",
        0,
        JournalPosition {
            segment: 99,
            offset: 0,
        },
        0,
    )
    .unwrap();
    assert_eq!(db.journal_reader("slow").unwrap().position, st.position);
    assert!(matches!(
        db.journal_read("slow", 0, st.position, 10).unwrap(),
        JournalRead::Moved
    ));
    // the catch-up list survives a restart
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.journal_reader("slow").unwrap().catch_up, st.catch_up);
}

#[test]
fn a_reader_behind_keeps_its_series_in_the_head() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.journal_set_readers(&["r".into()]).unwrap();
    let hour = 3600 * 1000;
    commit(&db, 2, 10);
    db.pin_journal_series();
    assert_eq!(db.head.gc_pin.load(Ordering::Relaxed), 10);
    // once sent, nothing holds the series
    let st = db.journal_reader("r").unwrap();
    let (_, end) = read_all(&db, "r");
    db.journal_ack("r", st.generation, end, 0).unwrap();
    db.pin_journal_series();
    assert_eq!(db.head.gc_pin.load(Ordering::Relaxed), i64::MAX);
    // a series that stopped long ago is kept while unsent
    commit(&db, 1, 4 * hour);
    commit(&db, 1, 5 * hour);
    db.pin_journal_series();
    assert_eq!(db.head.gc_pin.load(Ordering::Relaxed), 4 * hour);
}

#[test]
fn agent_mode_journals_without_chunks_and_drops_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            agent: true,
            journal_segment_bytes: 200,
            ..opts()
        },
    )
    .unwrap();
    db.journal_set_readers(&["r".into()]).unwrap();
    let hour = 3_600_000;
    for k in 0..20 {
        commit(&db, 5, k * hour / 10);
    }
    assert_eq!(db.stats().chunks_created, 0, "no chunk in agent mode");
    let (got, _) = read_all(&db, "r");
    assert_eq!(got.len(), 100);
    // an out-of-order sample is still refused
    let mut app = db.appender();
    app.append_labels(&ls(0), 0, 1.0).unwrap();
    assert_eq!(app.commit().unwrap().out_of_order, 1);
    // unsent data older than the maximum age goes; the reader moves on
    let before = db.journal_bytes();
    let (deleted, _) = db
        .agent_truncate(2 * hour + hour / 2, 5 * 60_000, hour)
        .unwrap();
    assert!(deleted > 0 && db.journal_bytes() < before);
    let (left, _) = read_all(&db, "r");
    assert!(left.iter().all(|s| s.1 >= hour / 2), "{left:?}");
    assert!(db.journal_reader("r").unwrap().catch_up.is_empty());
    // series idle past the maximum age are forgotten
    commit(&db, 1, 2 * hour);
    let (_, forgotten) = db.agent_truncate(10 * hour, 0, hour).unwrap();
    assert_eq!(forgotten, 5);
}

#[test]
fn a_record_larger_than_a_read_piece_is_read_whole() {
    // one commit of 60k samples makes a record of more than 256 KiB (the
    // piece a read takes at once), followed by a small one
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Db::open(dir.path(), opts()).unwrap());
    db.journal_set_readers(&["a".into()]).unwrap();
    let mut app = db.appender();
    for i in 0..60_000usize {
        let v = (i as f64 * 0.7311).sin() * 1e6;
        app.append_labels(&ls(i), 1000, v).unwrap();
    }
    app.commit().unwrap();
    commit(&db, 2, 2000);
    let seg = std::fs::read_dir(dir.path().join("journal"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_file())
        .unwrap();
    assert!(seg.metadata().unwrap().len() > 300 << 10);
    // a reader that never finished would hang: wait on a channel instead
    let (tx, rx) = std::sync::mpsc::channel();
    let db2 = std::sync::Arc::clone(&db);
    std::thread::spawn(move || {
        let _ = tx.send(read_all(&db2, "a"));
    });
    let (got, _) = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the read never ended");
    assert_eq!(got.len(), 60_002);
    assert_eq!(got[59_999].1, 1000);
    assert_eq!(got[60_001], (got[1].0, 2000, 2001.0));
}

#[test]
fn stored_exemplars_are_journaled_after_their_samples() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            max_exemplars: 100,
            ..opts()
        },
    )
    .unwrap();
    db.journal_set_readers(&["a".into()]).unwrap();
    let ex = |v: f64, ts: i64| crate::Exemplar {
        labels: Labels::from_pairs(&[("trace_id", "t1")]),
        value: v,
        ts,
        has_ts: true,
    };
    let mut app = db.appender();
    let r = app.append_labels(&ls(0), 1000, 1.0).unwrap();
    app.append_exemplar(r, ex(0.5, 1000)).unwrap();
    app.commit().unwrap();
    // the same exemplar again is not stored, so not journaled
    let mut app = db.appender();
    app.append(r, 2000, 2.0).unwrap();
    app.append_exemplar(r, ex(0.5, 1000)).unwrap();
    app.append_exemplar(r, ex(0.7, 1900)).unwrap();
    app.commit().unwrap();
    let st = db.journal_reader("a").unwrap();
    let JournalRead::Batch(b) = db
        .journal_read("a", st.generation, st.position, usize::MAX)
        .unwrap()
    else {
        panic!("moved")
    };
    assert_eq!(b.samples.len(), 2);
    // records: samples, exemplars, samples, exemplars
    assert_eq!(b.records.len(), 4);
    let got: Vec<(usize, u64, i64, f64)> = b
        .exemplars
        .iter()
        .map(|e| (e.record, e.series.0, e.exemplar.ts, e.exemplar.value))
        .collect();
    assert_eq!(got, vec![(1, r.0, 1000, 0.5), (3, r.0, 1900, 0.7)]);
    assert_eq!(b.exemplars[0].exemplar.labels.get("trace_id"), Some("t1"));
}

#[test]
fn a_late_reader_catches_up_on_native_histograms_too() {
    use crate::histogram::FloatHistogram;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            journal_segment_bytes: 600,
            journal_max_bytes: 2500,
            ..opts()
        },
    )
    .unwrap();
    db.journal_set_readers(&["slow".into()]).unwrap();
    let hs = |i: usize| Labels::from_pairs(&[("__name__", "h"), ("i", &i.to_string())]);
    let hist = |k: i64| FloatHistogram {
        count: k as f64,
        sum: k as f64,
        positive: vec![(0, k as f64)],
        ..Default::default()
    };
    for k in 0..60 {
        let mut app = db.appender();
        for i in 0..5 {
            app.append_histogram(&hs(i), 1000 + k * 1000, hist(k + 1));
        }
        app.commit().unwrap();
    }
    db.flush(true).unwrap();
    let st = db.journal_reader("slow").unwrap();
    assert!(st.generation >= 1, "moved on once a dropped segment");
    // each histogram series is in the catch-up list, and the skipped
    // ranges and the journal's rest hold each sample once, in order
    assert_eq!(st.catch_up.len(), 5);
    let mut per_series: std::collections::BTreeMap<String, Vec<(i64, f64)>> = Default::default();
    for c in &st.catch_up {
        let (labels, floats, hists) = db
            .series_samples(c.series, c.mint, c.maxt)
            .unwrap()
            .unwrap();
        assert!(floats.is_empty());
        assert!(!hists.is_empty());
        per_series
            .entry(labels.get("i").unwrap().to_string())
            .or_default()
            .extend(hists.iter().map(|h| (h.0, h.1.count)));
    }
    let b = match db
        .journal_read("slow", st.generation, st.position, usize::MAX)
        .unwrap()
    {
        JournalRead::Batch(b) => b,
        JournalRead::Moved => panic!("moved"),
    };
    for h in &b.histograms {
        per_series
            .entry(h.labels.get("i").unwrap().to_string())
            .or_default()
            .push((h.t, h.h.count));
    }
    let want: Vec<(i64, f64)> = (0..60).map(|k| (1000 + k * 1000, (k + 1) as f64)).collect();
    assert_eq!(per_series.len(), 5);
    for (i, got) in &per_series {
        assert_eq!(got, &want, "series {i}");
    }
}
