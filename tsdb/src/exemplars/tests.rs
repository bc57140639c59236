use super::*;
use crate::{Db, Options};
use std::io::Write;

fn ex(ts: i64, v: f64, trace: &str) -> Exemplar {
    Exemplar {
        labels: Labels::from_pairs(&[("trace_id", trace)]),
        value: v,
        ts,
        has_ts: true,
    }
}

fn series(name: &str) -> Labels {
    Labels::from_pairs(&[("__name__", name), ("job", "a")])
}

fn store(max: usize) -> Exemplars {
    let s = Exemplars::disabled();
    s.resize(max, &|_| None).unwrap();
    s
}

fn add(s: &Exemplars, id: u64, e: Exemplar) -> (u64, u64) {
    let name = format!("s{id}");
    s.add(std::iter::once((id, move || series(&name), e)), None)
}

fn all(s: &Exemplars) -> Vec<SeriesExemplars> {
    s.select(i64::MIN, i64::MAX, &[vec![Matcher::equal("job", "a")]])
}

#[test]
fn the_oldest_of_all_is_overwritten_when_full() {
    let s = store(3);
    add(&s, 1, ex(10, 1.0, "a"));
    add(&s, 2, ex(11, 2.0, "b"));
    add(&s, 1, ex(12, 3.0, "c"));
    add(&s, 2, ex(13, 4.0, "d"));
    let got = all(&s);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].series, series("s1"));
    assert_eq!(got[0].exemplars, vec![ex(12, 3.0, "c")]);
    assert_eq!(got[1].exemplars, vec![ex(11, 2.0, "b"), ex(13, 4.0, "d")]);
    // series 1 loses its last one: it leaves the index
    add(&s, 2, ex(14, 5.0, "e"));
    add(&s, 2, ex(15, 6.0, "f"));
    let got = all(&s);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].exemplars.len(), 3);
    let st = s.stats();
    assert_eq!((st.stored, st.series, st.max, st.appended), (3, 1, 3, 6));
    assert_eq!(st.oldest_ts, 13);
}

#[test]
fn duplicates_are_ignored_and_older_ones_refused() {
    let s = store(10);
    assert_eq!(add(&s, 1, ex(10, 1.0, "a")), (1, 0));
    assert_eq!(add(&s, 1, ex(10, 1.0, "a")), (0, 0), "duplicate");
    assert_eq!(add(&s, 1, ex(9, 5.0, "b")), (0, 1), "older");
    assert_eq!(
        add(&s, 1, ex(10, 0.5, "b")),
        (0, 1),
        "same time, smaller value"
    );
    assert_eq!(
        add(&s, 1, ex(10, 2.0, "b")),
        (1, 0),
        "same time, larger value"
    );
    // without a timestamp of its own, the same exemplar scraped again is
    // a duplicate though stamped later
    let untimed = |ts| Exemplar {
        has_ts: false,
        ..ex(ts, 7.0, "u")
    };
    assert_eq!(add(&s, 2, untimed(100)), (1, 0));
    assert_eq!(add(&s, 2, untimed(200)), (0, 0));
    assert_eq!(s.stats().out_of_order, 2);
    assert_eq!(all(&s)[0].exemplars.len(), 2);
}

#[test]
fn long_label_sets_and_a_disabled_store_store_nothing() {
    let s = store(10);
    let long = Exemplar {
        labels: Labels::from_pairs(&[("trace_id", "x".repeat(121))]),
        ..ex(1, 1.0, "")
    };
    assert_eq!(
        s.ring.read().check(1, &long),
        Err(ExemplarError::LabelLength)
    );
    assert_eq!(add(&s, 1, long), (0, 0));
    let ok = Exemplar {
        labels: Labels::from_pairs(&[("trace_id", "é".repeat(120))]),
        ..ex(1, 1.0, "")
    };
    assert_eq!(add(&s, 1, ok), (1, 0), "128 characters, more bytes");
    let off = store(0);
    assert_eq!(
        off.ring.read().check(1, &ex(1, 1.0, "a")),
        Err(ExemplarError::Disabled)
    );
    assert_eq!(add(&off, 1, ex(1, 1.0, "a")), (0, 0));
    assert!(all(&off).is_empty());
}

#[test]
fn select_filters_by_time_and_matchers() {
    let s = store(10);
    for t in 0..5 {
        add(&s, 1, ex(t * 10, t as f64, "a"));
        add(&s, 2, ex(t * 10 + 1, t as f64, "b"));
    }
    let got = s.select(10, 30, &[vec![Matcher::equal("__name__", "s2")]]);
    assert_eq!(got.len(), 1);
    let ts: Vec<i64> = got[0].exemplars.iter().map(|e| e.ts).collect();
    assert_eq!(ts, [11, 21]);
    let either = s.select(
        0,
        100,
        &[
            vec![Matcher::equal("__name__", "s2")],
            vec![Matcher::equal("__name__", "s1")],
        ],
    );
    assert_eq!(either.len(), 2);
    assert!(s
        .select(1000, 2000, &[vec![Matcher::equal("job", "a")]])
        .is_empty());
}

#[test]
fn resizing_keeps_the_newest() {
    let s = store(4);
    for t in 0..4 {
        add(&s, t as u64 % 2, ex(t, 0.0, "a"));
    }
    s.resize(2, &|_| None).unwrap();
    let ts: Vec<i64> = all(&s)
        .iter()
        .flat_map(|x| x.exemplars.iter().map(|e| e.ts))
        .collect();
    assert_eq!(ts, [2, 3]);
    s.resize(8, &|_| None).unwrap();
    for t in 4..10 {
        add(&s, 0, ex(t, 0.0, "a"));
    }
    assert_eq!(s.stats().stored, 8);
    assert_eq!(s.stats().oldest_ts, 2);
}

fn open(dir: &Path, max: usize) -> Db {
    Db::open(
        dir,
        Options {
            max_exemplars: max,
            ..Options::default()
        },
    )
    .unwrap()
}

#[test]
fn exemplars_are_stored_with_a_commit_and_read_back_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path(), 100);
        let mut app = db.appender();
        assert!(db.stores_exemplars());
        let (h, _) = app.series_handle(&series("req")).unwrap();
        app.append_handle(&h, 1000, 1.0);
        app.append_exemplar_handle(&h, ex(1000, 0.25, "abc"));
        let st = app.commit().unwrap();
        assert_eq!((st.appended, st.exemplars_appended), (1, 1));
        let mut app = db.appender();
        app.append_exemplar_handle(&h, ex(900, 0.5, "old"));
        assert_eq!(app.commit().unwrap().exemplars_out_of_order, 1);
    }
    let db = open(dir.path(), 100);
    let got = db.exemplars(0, 2000, &[vec![Matcher::equal("__name__", "req")]]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].series, series("req"));
    assert_eq!(got[0].exemplars, vec![ex(1000, 0.25, "abc")]);
    drop(db);
    // off: nothing stored, nothing read, the log left as it is
    let db = open(dir.path(), 0);
    let mut app = db.appender();
    assert!(!db.stores_exemplars());
    let (h, _) = app.series_handle(&series("req")).unwrap();
    app.append_exemplar_handle(&h, ex(2000, 1.0, "x"));
    assert_eq!(app.commit().unwrap().exemplars_appended, 0);
    assert!(db
        .exemplars(0, 9999, &[vec![Matcher::equal("job", "a")]])
        .is_empty());
    // turned on by a reload: the log is read back
    db.set_max_exemplars(10).unwrap();
    assert_eq!(
        db.exemplars(0, 9999, &[vec![Matcher::equal("job", "a")]])
            .len(),
        1
    );
}

#[test]
fn a_torn_tail_is_cut_and_old_segments_go() {
    let dir = tempfile::tempdir().unwrap();
    let ex_dir = dir.path().join(EXEMPLARS_DIR);
    {
        let db = open(dir.path(), 5);
        db.head
            .exemplars
            .log
            .lock()
            .as_mut()
            .unwrap()
            .set_segment_bytes(64);
        let mut app = db.appender();
        let (h, _) = app.series_handle(&series("req")).unwrap();
        app.append_handle(&h, 0, 1.0);
        app.commit().unwrap();
        for t in 0..20 {
            let mut app = db.appender();
            app.append_exemplar_handle(&h, ex(t, t as f64, "abcdefgh"));
            app.commit().unwrap();
        }
        let log = db.head.exemplars.log.lock();
        let segments = log.as_ref().unwrap().segment_count();
        // each segment holds a record or two; only what may still be held
        // is kept
        assert!(segments <= 6, "{segments} segments");
    }
    let mut names: Vec<_> = std::fs::read_dir(&ex_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let last = names.last().unwrap();
    let good = std::fs::metadata(last).unwrap().len();
    let mut f = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    f.write_all(&[9, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap();
    drop(f);
    let db = open(dir.path(), 5);
    let got = db.exemplars(0, 100, &[vec![Matcher::equal("job", "a")]]);
    let ts: Vec<i64> = got[0].exemplars.iter().map(|e| e.ts).collect();
    assert_eq!(ts, [15, 16, 17, 18, 19]);
    assert_eq!(std::fs::metadata(last).unwrap().len(), good);
}

/// The version 1 log as written by this version: two records.
fn fixture_exemplars() -> Vec<(u64, Exemplar)> {
    vec![
        (
            1,
            ex(1_700_000_000_123, 0.25, "4bf92f3577b34da6a3ce929d0e0e4736"),
        ),
        (
            2,
            Exemplar {
                labels: Labels::from_pairs(&[
                    ("span_id", "00f067aa0ba902b7"),
                    ("trace_id", "h\u{fc}st"),
                ]),
                value: -1.5e-7,
                ts: 1_700_000_005_000,
                has_ts: false,
            },
        ),
        (1, ex(1_700_000_010_000, f64::INFINITY, "")),
    ]
}

#[test]
fn version_1_logs_are_read() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/exemplars_v1/00000001");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&fixture, dir.path().join("00000001")).unwrap();
    let (_, got) = log::ExemplarLog::open(dir.path()).unwrap();
    assert_eq!(got, fixture_exemplars());
    assert_eq!(
        std::fs::read(dir.path().join("00000001")).unwrap(),
        std::fs::read(&fixture).unwrap(),
        "nothing cut"
    );
}
