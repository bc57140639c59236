//! Database-level tests: append, query, restart.

use crate::labels::{Labels, MatchOp, Matcher};
use crate::read::{Queryable, SampleIterator};
use std::sync::Arc;

use crate::{Db, Options};

fn ls(job: &str, i: usize) -> Labels {
    Labels::from_pairs(&[("__name__", "m"), ("job", job), ("i", &i.to_string())])
}

/// Options for a test that opens the folder again while an earlier `Db`
/// (leaked, as a killed process leaves it) still holds it.
fn unlocked() -> Options {
    Options {
        no_lockfile: true,
        ..Options::default()
    }
}

/// A series' samples as a lazy selection gives them.
type Lazy<'q> = crate::read::Samples<'q>;

fn all_samples(db: &Db, matchers: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let got: Vec<(Labels, Vec<(i64, f64)>)> = q
        .select(matchers)
        .unwrap()
        .into_iter()
        .map(|mut s| {
            let mut v = Vec::new();
            while let Some(x) = s.samples.next() {
                v.push(x);
            }
            (s.labels, v)
        })
        .collect();
    // the lazy selection reads the same, sample by sample or into a
    // buffer, whole or from a later time on
    let lazy = |read: &mut dyn FnMut(&mut Lazy<'_>) -> Vec<(i64, f64)>| {
        q.select_lazy(matchers)
            .unwrap()
            .into_iter()
            .map(|mut s| (s.labels.clone(), read(&mut s.samples)))
            .filter(|(_, v)| !v.is_empty())
            .collect::<Vec<_>>()
    };
    // compared bit for bit: stale markers are NaNs
    type Bits = Vec<(Labels, Vec<(i64, u64)>)>;
    let bits = |v: &[(Labels, Vec<(i64, f64)>)]| -> Bits {
        v.iter()
            .map(|(l, s)| (l.clone(), s.iter().map(|p| (p.0, p.1.to_bits())).collect()))
            .collect()
    };
    let one_by_one = lazy(&mut |it| std::iter::from_fn(|| it.next()).collect());
    assert_eq!(bits(&one_by_one), bits(&got));
    let mut buf = vec![(0, 0.0)];
    let into = lazy(&mut |it| {
        buf.clear();
        it.collect_into(i64::MIN, i64::MAX, &mut buf);
        buf.clone()
    });
    assert_eq!(bits(&into), bits(&got));
    let mid = got
        .iter()
        .flat_map(|(_, v)| v.get(v.len() / 2))
        .map(|s| s.0)
        .min()
        .unwrap_or(0);
    let later: Vec<_> = got
        .iter()
        .map(|(l, v)| {
            (
                l.clone(),
                v.iter().copied().filter(|s| s.0 >= mid).collect::<Vec<_>>(),
            )
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    assert_eq!(
        bits(&lazy(&mut |it| it.collect_between(mid, i64::MAX))),
        bits(&later)
    );
    // a selection for a reader of samples only: the same series in the
    // same order with the same samples, a label set either as it is or
    // left empty
    let unlabelled: Vec<_> = q
        .select_lazy_unlabelled(matchers)
        .unwrap()
        .into_iter()
        .map(|mut s| (s.labels, s.samples.collect_between(i64::MIN, i64::MAX)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    assert_eq!(unlabelled.len(), got.len());
    for ((ul, us), (l, s)) in unlabelled.iter().zip(&got) {
        assert!(ul.is_empty() || ul == l, "{ul} for {l}");
        assert_eq!(
            bits(&[(l.clone(), us.clone())]),
            bits(&[(l.clone(), s.clone())])
        );
    }
    got
}

/// A selection whose labels are not read leaves them out where the head
/// alone answers, and keeps them where a series' parts are joined by
/// label: its floats with its histograms, its blocks with the head.
#[test]
fn an_unlabelled_selection_leaves_labels_out_where_the_head_alone_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), unlocked()).unwrap();
    let hour = 3600 * 1000;
    let start = 1_700_006_400_000i64;
    let mut app = db.appender();
    for i in 0..3 {
        for k in 0..10 {
            app.append_labels(&ls("a", i), start + k * 60_000, (i as i64 * k) as f64)
                .unwrap();
        }
    }
    app.commit().unwrap();
    let m = [Matcher::equal("job", "a")];
    let read = |q: &dyn crate::read::Querier, unlabelled: bool| {
        let selected = if unlabelled {
            q.select_lazy_unlabelled(&m)
        } else {
            q.select_lazy(&m)
        };
        selected
            .unwrap()
            .into_iter()
            .map(|mut s| {
                (
                    s.labels,
                    s.samples.collect_between(i64::MIN, i64::MAX),
                    s.histograms.len(),
                )
            })
            .collect::<Vec<_>>()
    };
    let q = db.querier(start, start + hour).unwrap();
    let (with, without) = (read(&*q, false), read(&*q, true));
    assert_eq!(with.len(), 3);
    assert!(without.iter().all(|s| s.0.is_empty()), "{without:?}");
    assert_eq!(
        without.iter().map(|s| &s.1).collect::<Vec<_>>(),
        with.iter().map(|s| &s.1).collect::<Vec<_>>()
    );
    drop(q);
    // a series with histograms among them: labels kept
    let mut app = db.appender();
    app.append_histogram(&ls("a", 1), start + 11 * 60_000, hist_of(1));
    app.commit().unwrap();
    let q = db.querier(start, start + hour).unwrap();
    let (with, without) = (read(&*q, false), read(&*q, true));
    assert_eq!(with, without);
    assert_eq!(with.iter().map(|s| s.2).sum::<usize>(), 1);
    drop(q);
    // samples far enough on for the first hours to make a block: labels
    // kept over a range that reads the block and the head
    let mut app = db.appender();
    for i in 0..3 {
        app.append_labels(&ls("a", i), start + 6 * hour, 1.0)
            .unwrap();
    }
    app.commit().unwrap();
    db.compact().unwrap();
    assert!(!db.blocks.read().is_empty());
    let q = db.querier(start, start + 7 * hour).unwrap();
    let (with, without) = (read(&*q, false), read(&*q, true));
    assert_eq!(with.len(), 3);
    assert_eq!(with, without);
}

#[test]
fn append_query_restart_continue() {
    let dir = tempfile::tempdir().unwrap();
    let n_series = 50;
    let n_samples = 500; // several chunks per series
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for t in 0..n_samples {
            let mut app = db.appender();
            for i in 0..n_series {
                app.append_labels(
                    &ls("a", i),
                    t * 15_000 + (i as i64 % 7),
                    (t * i as i64) as f64 * 0.5,
                )
                .unwrap();
            }
            let st = app.commit().unwrap();
            assert_eq!(st.appended, n_series as u64);
        }
        assert_eq!(db.stats().series, n_series as u64);
    }
    let expect = |i: usize, upto: i64| -> Vec<(i64, f64)> {
        (0..upto)
            .map(|t| (t * 15_000 + (i as i64 % 7), (t * i as i64) as f64 * 0.5))
            .collect()
    };
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(
        db.open_report().problems.is_empty(),
        "{:?}",
        db.open_report().problems
    );
    assert_eq!(db.open_report().series, n_series);
    let got = all_samples(&db, &[Matcher::equal("i", "3")]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, expect(3, n_samples));
    // continue appending after restart, into the reopened open chunk
    let mut app = db.appender();
    for i in 0..n_series {
        app.append_labels(
            &ls("a", i),
            n_samples * 15_000 + (i as i64 % 7),
            (n_samples * i as i64) as f64 * 0.5,
        )
        .unwrap();
    }
    app.commit().unwrap();
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for (labels, samples) in all_samples(&db, &[Matcher::equal("job", "a")]) {
        let i: usize = labels.get("i").unwrap().parse().unwrap();
        assert_eq!(samples, expect(i, n_samples + 1), "series {i}");
    }
}

#[test]
fn out_of_order_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let l = ls("b", 0);
    let mut app = db.appender();
    app.append_labels(&l, 100, 1.0).unwrap();
    app.append_labels(&l, 200, 2.0).unwrap();
    app.append_labels(&l, 200, 2.0).unwrap(); // same value: ignored
    app.append_labels(&l, 200, 3.0).unwrap(); // other value: refused
    app.append_labels(&l, 150, 9.0).unwrap(); // older: refused
    app.append_labels(&l, 300, 4.0).unwrap(); // still lands
    let st = app.commit().unwrap();
    assert_eq!(st.appended, 3);
    assert_eq!(st.duplicates_ignored, 1);
    assert_eq!(st.duplicate_timestamp, 1);
    assert_eq!(st.out_of_order, 1);
    assert_eq!(
        all_samples(&db, &[])[0].1,
        vec![(100, 1.0), (200, 2.0), (300, 4.0)]
    );
    drop(db);
    // the duplicate check still works after a restart (value decoded lazily)
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    app.append_labels(&l, 300, 4.0).unwrap();
    app.append_labels(&l, 300, 5.0).unwrap();
    let st = app.commit().unwrap();
    assert_eq!((st.duplicates_ignored, st.duplicate_timestamp), (1, 1));
}

#[test]
fn matchers_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    for i in 0..10 {
        for t in 0..10 {
            app.append_labels(
                &ls(if i % 2 == 0 { "even" } else { "odd" }, i),
                t * 1000,
                t as f64,
            )
            .unwrap();
        }
    }
    app.commit().unwrap();
    let re = Matcher::new(MatchOp::RegexMatch, "i", "1|3|4").unwrap();
    let ne = Matcher::new(MatchOp::NotEqual, "job", "odd").unwrap();
    let got = all_samples(&db, &[re, ne]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.get("i"), Some("4"));
    let q = db.querier(2000, 4000).unwrap();
    let mut s = q.select(&[Matcher::equal("i", "0")]).unwrap();
    let mut v = Vec::new();
    while let Some(x) = s[0].samples.next() {
        v.push(x.0);
    }
    assert_eq!(v, vec![2000, 3000, 4000]);
    assert_eq!(q.label_values("job", &[]).unwrap(), vec!["even", "odd"]);
    assert_eq!(
        q.label_values("i", &[Matcher::equal("job", "odd")])
            .unwrap(),
        vec!["1", "3", "5", "7", "9"]
    );
}

#[test]
fn second_open_is_refused_while_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(crate::Error::Locked { .. })
    ));
}

#[test]
fn no_lockfile_leaves_the_folder_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        no_lockfile: true,
        ..Options::default()
    };
    let _db = Db::open(dir.path(), opts.clone()).unwrap();
    assert!(!dir.path().join("lock").exists());
    // nothing refuses a second server on the folder
    assert!(Db::open(dir.path(), opts).is_ok());
}

#[test]
fn stale_marker_is_stored_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    let l = ls("s", 0);
    app.append_labels(&l, 1, 1.0).unwrap();
    app.append_labels(&l, 2, f64::from_bits(crate::STALE_NAN_BITS))
        .unwrap();
    app.commit().unwrap();
    let got = all_samples(&db, &[]);
    assert!(crate::is_stale_nan(got[0].1[1].1));
}

/// Series whose samples all went into blocks are not head series after a
/// restart (their records stay in the series log), while those with head
/// chunks are; the dropped ones read back from the block and come back to
/// the head with a new sample.
#[test]
fn series_all_in_blocks_are_not_head_series_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let step = 15_000i64;
    let start = 1_700_000_000_000i64 - 1_700_000_000_000 % (2 * 3600 * 1000);
    let hour = 3600 * 1000;
    {
        let db = Db::open(dir.path(), unlocked()).unwrap();
        for k in 0..4 * hour / step {
            let t = start + k * step;
            let mut app = db.appender();
            for i in 0..5 {
                app.append_labels(&ls("new", i), t, k as f64).unwrap();
            }
            if t < start + hour {
                for i in 0..2 {
                    app.append_labels(&ls("old", i), t, k as f64).unwrap();
                }
            }
            app.commit().unwrap();
        }
        assert_eq!(db.compact().unwrap().blocks_written, 1);
        // as a killed process leaves it
        std::mem::forget(db);
    }
    let db = Db::open(dir.path(), unlocked()).unwrap();
    assert_eq!(db.open_report().series, 5);
    assert_eq!(db.stats().series, 5);
    let old = all_samples(&db, &[Matcher::equal("job", "old")]);
    assert_eq!(old.len(), 2);
    assert!(old.iter().all(|(_, s)| s.len() == (hour / step) as usize));
    let mut app = db.appender();
    app.append_labels(&ls("old", 1), start + 4 * hour, 1.0)
        .unwrap();
    app.commit().unwrap();
    assert_eq!(db.stats().series, 6);
    let old = all_samples(&db, &[Matcher::equal("job", "old")]);
    assert_eq!(old[1].1.len(), (hour / step) as usize + 1);
}

/// Eight hours of 15 s samples for 30 series, compacted into blocks: every
/// sample reads back exactly, across restarts; emptied slot files are
/// deleted; retention drops old blocks; late samples are out of bounds.
#[test]
fn compaction_restart_retention() {
    let dir = tempfile::tempdir().unwrap();
    let hours = 8i64;
    let step = 15_000i64;
    let n = hours * 3600 * 1000 / step;
    let start = 1_700_000_000_000i64 - 1_700_000_000_000 % (2 * 3600 * 1000);
    let val = |i: usize, k: i64| (k * (i as i64 + 1)) as f64 + 0.25;
    let opts = || Options {
        retention_ms: 0,
        retention_bytes: 0,
        ..Options::default()
    };
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for k in 0..n {
            let mut app = db.appender();
            for i in 0..30 {
                app.append_labels(&ls("c", i), start + k * step + (k % 3), val(i, k))
                    .unwrap();
            }
            app.commit().unwrap();
        }
        let files_before = std::fs::read_dir(dir.path().join("chunks_head"))
            .unwrap()
            .count();
        let rep = db.compact().unwrap();
        // 8 h of data: head keeps < 3 h, so ranges 0-2, 2-4, 4-6 are cut
        assert_eq!(rep.blocks_written, 3, "{rep:?}");
        assert_eq!(db.stats().blocks, 3);
        assert_eq!(
            db.stats().block_samples,
            3 * 2 * 3600 * 1000 / step as u64 * 30
        );
        let files_after = std::fs::read_dir(dir.path().join("chunks_head"))
            .unwrap()
            .count();
        assert!(
            files_after <= files_before,
            "{files_before} -> {files_after}"
        );
        // the head now refuses samples older than the blocks' end
        let mut app = db.appender();
        app.append_labels(&ls("c", 0), start + step, 1.0).unwrap();
        assert_eq!(app.commit().unwrap().out_of_bounds, 1);
        let got = all_samples(&db, &[Matcher::equal("i", "7")]);
        let want: Vec<(i64, f64)> = (0..n)
            .map(|k| (start + k * step + (k % 3), val(7, k)))
            .collect();
        assert_eq!(got[0].1.len(), want.len());
        assert_eq!(got[0].1, want);
        // a range inside one block, and one spanning block and head
        let q = db
            .querier(start + 3600 * 1000, start + 7 * 3600 * 1000)
            .unwrap();
        let mut s = q.select(&[Matcher::equal("i", "3")]).unwrap();
        let mut count = 0;
        while s[0].samples.next().is_some() {
            count += 1;
        }
        assert_eq!(
            count,
            6 * 3600 * 1000 / step as usize + 1,
            "closed range: both ends count"
        );
        assert_eq!(q.label_values("i", &[]).unwrap().len(), 30);
    }
    // restart: blocks and head together, nothing lost or doubled
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(
        db.open_report().problems.is_empty(),
        "{:?}",
        db.open_report().problems
    );
    let got = all_samples(&db, &[Matcher::equal("i", "11")]);
    let want: Vec<(i64, f64)> = (0..n)
        .map(|k| (start + k * step + (k % 3), val(11, k)))
        .collect();
    assert_eq!(got[0].1, want);
    drop(db);
    // retention of 4 h relative to the newest sample
    let db = Db::open(
        dir.path(),
        Options {
            retention_ms: 4 * 3600 * 1000,
            retention_bytes: 0,
            ..Options::default()
        },
    )
    .unwrap();
    // (the newest sample is just under 8 h, so the cutoff is just under
    // 4 h: only the block ending at 2 h lies wholly before it)
    let rep = db.compact().unwrap();
    assert_eq!(rep.blocks_deleted, 1, "{rep:?}");
    let got = all_samples(&db, &[Matcher::equal("i", "11")]);
    assert_eq!(got[0].1.first().unwrap().0, start + 2 * 3600 * 1000);
    assert_eq!(db.stats().blocks, 2);
}

/// A damaged block is moved aside at open; the rest is served.
#[test]
fn damaged_block_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_700_000_000_000i64 - 1_700_000_000_000 % (2 * 3600 * 1000);
    {
        let db = Db::open(
            dir.path(),
            Options {
                retention_ms: 0,
                retention_bytes: 0,
                ..Options::default()
            },
        )
        .unwrap();
        for k in 0..(5 * 240) {
            let mut app = db.appender();
            app.append_labels(&ls("d", 0), start + k * 15_000, k as f64)
                .unwrap();
            app.commit().unwrap();
        }
        assert_eq!(db.compact().unwrap().blocks_written, 1);
    }
    let block = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().join("meta.json").exists())
        .unwrap()
        .path();
    std::fs::write(block.join("index"), b"garbage").unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let problems = &db.open_report().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("moved aside"), "{problems:?}");
    // the head part (from 2 h on) is still there
    let got = all_samples(&db, &[]);
    assert_eq!(got[0].1.first().unwrap().0, start + 2 * 3600 * 1000);
}

#[test]
fn samples_far_in_the_future_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let now = crate::time::now_ms();
    let mut app = db.appender();
    app.append_labels(&ls("f", 0), now + 3_600_000, 1.0)
        .unwrap();
    app.append_labels(&ls("f", 1), now, 1.0).unwrap();
    let st = app.commit().unwrap();
    assert_eq!((st.appended, st.too_far_in_future), (1, 1));
    // the present stays writable
    let mut app = db.appender();
    app.append_labels(&ls("f", 0), now, 2.0).unwrap();
    assert_eq!(app.commit().unwrap().appended, 1);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// 18 h of data: the 2 h blocks of complete 6 h windows are merged; a part
/// left behind by an interrupted merge is deleted at the next open; every
/// sample reads back exactly.
#[test]
fn blocks_merge_into_larger_ones() {
    let dir = tempfile::tempdir().unwrap();
    let step = 60_000i64;
    let n = 18 * 60;
    let start = 1_700_000_000_000i64 - 1_700_000_000_000 % (18 * 3600 * 1000);
    let opts = || Options {
        retention_ms: 0,
        ..Options::default()
    };
    let want: Vec<(i64, f64)> = (0..n).map(|k| (start + k * step, k as f64 * 1.5)).collect();
    let saved = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for (t, v) in &want {
            let mut app = db.appender();
            for i in 0..5 {
                app.append_labels(&ls("m", i), *t, *v + i as f64).unwrap();
            }
            app.commit().unwrap();
        }
        // keep a copy of the first 2 h block, as if a merge had stopped
        // before deleting it
        let mut app_blocks = Vec::new();
        while let Some((s, e)) = db.head.next_block_range() {
            let p = db.head.collect_persistable(e);
            let series = p.series.iter().map(|(l, cs)| {
                (
                    l.clone(),
                    cs.iter()
                        .map(|c| crate::block::ChunkData {
                            mint: c.mint,
                            maxt: c.maxt,
                            encoding: c.encoding,
                            count: c.count,
                            bit_len: c.bit_len,
                            data: c.data.clone(),
                        })
                        .collect(),
                )
            });
            let meta = crate::block::write_block(dir.path(), s, e, series, 1, Vec::new()).unwrap();
            app_blocks.push(meta.id.clone());
            db.blocks.write().push(Arc::new(
                crate::block::Block::open(&dir.path().join(&meta.id)).unwrap(),
            ));
            db.head.truncate(e, &p).unwrap();
        }
        assert_eq!(app_blocks.len(), 8, "2 h blocks up to 16 h");
        copy_dir(
            &dir.path().join(&app_blocks[0]),
            &saved.path().join(&app_blocks[0]),
        );
        let rep = db.compact().unwrap();
        // [0,6) and [6,12) are complete 6 h windows; [12,18) is not yet
        assert_eq!(rep.blocks_merged, 6, "{rep:?}");
        let spans: Vec<i64> = db
            .blocks
            .read()
            .iter()
            .map(|b| (b.meta().max_time - b.meta().min_time) / 3_600_000)
            .collect();
        assert_eq!(spans, vec![6, 6, 2, 2]);
        let got = all_samples(&db, &[Matcher::equal("i", "2")]);
        let w2: Vec<(i64, f64)> = want.iter().map(|(t, v)| (*t, v + 2.0)).collect();
        assert_eq!(got[0].1, w2);
        // put the old part back, as if deleting it had not happened
        copy_dir(
            &saved.path().join(&app_blocks[0]),
            &dir.path().join(&app_blocks[0]),
        );
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let problems = &db.open_report().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("held by a merged block"),
        "{problems:?}"
    );
    assert_eq!(db.blocks.read().len(), 4);
    let got = all_samples(&db, &[Matcher::equal("i", "0")]);
    assert_eq!(got[0].1, want);
}

#[test]
fn snapshot_is_a_complete_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let step = 60_000i64;
    let start = 1_700_000_000_000i64 - 1_700_000_000_000 % (2 * 3600 * 1000);
    let db = Db::open(
        dir.path(),
        Options {
            retention_ms: 0,
            ..Options::default()
        },
    )
    .unwrap();
    let want: Vec<(i64, f64)> = (0..(5 * 60))
        .map(|k| (start + k * step, k as f64))
        .collect();
    for (t, v) in &want {
        let mut app = db.appender();
        app.append_labels(&ls("snap", 0), *t, *v).unwrap();
        app.commit().unwrap();
    }
    assert_eq!(db.compact().unwrap().blocks_written, 1);
    let name = db.snapshot(false).unwrap();
    assert!(
        name.len() > 17 && name.as_bytes()[8] == b'T' && name.as_bytes()[15] == b'Z',
        "{name}"
    );
    let snap = dir.path().join("snapshots").join(&name);
    drop(db);
    let copy = Db::open(
        &snap,
        Options {
            retention_ms: 0,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(copy.stats().blocks, 2, "the block, and the head as a block");
    assert_eq!(all_samples(&copy, &[])[0].1, want);
}

/// A querier opened before a block is written reads that block's range
/// from the head: the head lets go of it only once such queriers are
/// dropped, so a query running across a compaction misses nothing.
#[test]
fn a_querier_open_across_a_compaction_reads_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Db::open(dir.path(), unlocked()).unwrap());
    let start = 1_700_006_400_000i64;
    let step = 60_000i64;
    let n = 181;
    for k in 0..n {
        let mut app = db.appender();
        for i in 0..3 {
            app.append_labels(&ls("across", i), start + k * step, k as f64)
                .unwrap();
        }
        app.commit().unwrap();
    }
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let compacting = {
        let db = std::sync::Arc::clone(&db);
        std::thread::spawn(move || db.compact().unwrap())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while db.blocks.read().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no block written");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // the block is in place; the querier, which does not know it, reads on
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut got = 0;
    for mut s in q.select(&[Matcher::equal("job", "across")]).unwrap() {
        while s.samples.next().is_some() {
            got += 1;
        }
    }
    assert_eq!(got, 3 * n as usize);
    drop(q);
    assert_eq!(compacting.join().unwrap().blocks_written, 1);
    let after: usize = all_samples(&db, &[Matcher::equal("job", "across")])
        .iter()
        .map(|(_, v)| v.len())
        .sum();
    assert_eq!(after, 3 * n as usize);
}

/// Deleting a time range of some series, in blocks and the head at once;
/// other series untouched; the deletion survives a restart.
#[test]
fn delete_series_in_blocks_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let step = 60_000i64;
    let start = 1_700_000_000_000i64 - 1_700_000_000_000 % (2 * 3600 * 1000);
    let n = 5 * 60;
    let opts = || Options {
        retention_ms: 0,
        ..Options::default()
    };
    let (cut_from, cut_to) = (start + 90 * step, start + 200 * step); // spans block and head
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for k in 0..n {
            let mut app = db.appender();
            for i in 0..3 {
                app.append_labels(&ls("del", i), start + k * step, (k * 10 + i as i64) as f64)
                    .unwrap();
            }
            app.commit().unwrap();
        }
        assert_eq!(db.compact().unwrap().blocks_written, 1);
        let rep = db
            .delete(&[Matcher::equal("i", "1")], cut_from, cut_to)
            .unwrap();
        assert_eq!(rep.blocks_rewritten, 1);
        assert_eq!(rep.head_series, 1);
        assert_eq!(rep.samples_removed, 111);
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(
        db.open_report().problems.is_empty(),
        "{:?}",
        db.open_report().problems
    );
    for (labels, samples) in all_samples(&db, &[Matcher::equal("job", "del")]) {
        let i: i64 = labels.get("i").unwrap().parse().unwrap();
        let want: Vec<(i64, f64)> = (0..n)
            .map(|k| (start + k * step, (k * 10 + i) as f64))
            .filter(|(t, _)| i != 1 || *t < cut_from || *t > cut_to)
            .collect();
        assert_eq!(samples, want, "series {i}");
    }
    // appending goes on after the rewrite
    let mut app = db.appender();
    app.append_labels(&ls("del", 1), start + n * step, 1.0)
        .unwrap();
    assert_eq!(app.commit().unwrap().appended, 1);
}

#[test]
fn label_lookups_follow_the_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    app.append_labels(&ls("lt", 0), 10_000, 1.0).unwrap();
    app.commit().unwrap();
    let q = db.querier(0, 20_000).unwrap();
    assert_eq!(q.label_values("job", &[]).unwrap(), vec!["lt"]);
    let q = db.querier(30_000, 40_000).unwrap();
    assert!(q.label_values("job", &[]).unwrap().is_empty());
    assert!(q
        .label_names(&[Matcher::equal("job", "lt")])
        .unwrap()
        .is_empty());
}

/// One step of a random workload.
#[derive(Clone, Debug)]
enum Op {
    /// Move the clock forward by this many milliseconds and append one
    /// sample to each listed series.
    Append {
        gap: i64,
        series: Vec<usize>,
        value: f64,
    },
    /// Try to append to a series at its newest timestamp minus `back`
    /// (`back == 0`: a duplicate timestamp; `same`: with the same value).
    Old {
        series: usize,
        back: i64,
        same: bool,
    },
    /// Run a compaction (cut blocks, merge, retention).
    Compact,
}

fn op_strategy() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        8 => (1_000i64..1_500_000, proptest::collection::vec(0usize..5, 1..5), -1e6f64..1e6)
            .prop_map(|(gap, series, value)| Op::Append { gap, series, value }),
        2 => (0usize..5, 0i64..7_200_000, any::<bool>())
            .prop_map(|(series, back, same)| Op::Old { series, back, same }),
        1 => Just(Op::Compact),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// Random appends (with out-of-order and duplicate attempts) and
    /// compactions read back exactly as a simple model says, before and
    /// after a restart; retention then drops only whole blocks of the
    /// oldest data, never a sample within the retention time.
    #[test]
    fn prop_appends_compaction_retention_against_model(
        ops in proptest::collection::vec(op_strategy(), 1..400),
        retention_h in 1i64..30,
    ) {
        use std::collections::BTreeMap;
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { retention_ms: 0, max_future_ms: 0, ..Options::default() };
        let mut model: BTreeMap<usize, Vec<(i64, f64)>> = BTreeMap::new();
        let mut now = 1_700_000_000_000i64;
        {
            let db = Db::open(dir.path(), opts.clone()).unwrap();
            for op in &ops {
                match op {
                    Op::Append { gap, series, value } => {
                        now += gap;
                        let mut app = db.appender();
                        let mut seen = std::collections::BTreeSet::new();
                        for (k, &i) in series.iter().enumerate() {
                            let v = value + k as f64;
                            app.append_labels(&ls("p", i), now, v).unwrap();
                            // the same series twice in a batch: a duplicate
                            // timestamp with another value
                            if seen.insert(i) {
                                model.entry(i).or_default().push((now, v));
                            }
                        }
                        let st = app.commit().unwrap();
                        proptest::prop_assert_eq!(st.appended as usize, seen.len());
                        proptest::prop_assert_eq!(st.duplicate_timestamp as usize, series.len() - seen.len());
                    }
                    Op::Old { series, back, same } => {
                        let Some(&(t, v)) = model.get(series).and_then(|s| s.last()) else {
                            continue;
                        };
                        let v2 = if *same { v } else { v + 0.5 };
                        let mut app = db.appender();
                        app.append_labels(&ls("p", *series), t - back, v2).unwrap();
                        let st = app.commit().unwrap();
                        proptest::prop_assert_eq!(st.appended, 0);
                        if *back == 0 && *same {
                            proptest::prop_assert_eq!(st.duplicates_ignored, 1);
                        } else {
                            proptest::prop_assert_eq!(
                                st.out_of_order + st.out_of_bounds + st.duplicate_timestamp, 1
                            );
                        }
                    }
                    Op::Compact => {
                        db.compact().unwrap();
                    }
                }
            }
            db.compact().unwrap();
            let got: BTreeMap<usize, Vec<(i64, f64)>> = all_samples(&db, &[])
                .into_iter()
                .map(|(l, s)| (l.get("i").unwrap().parse().unwrap(), s))
                .collect();
            proptest::prop_assert_eq!(&got, &model);
        }
        // a restart maps the same data back
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        proptest::prop_assert!(db.open_report().problems.is_empty());
        let got: BTreeMap<usize, Vec<(i64, f64)>> = all_samples(&db, &[])
            .into_iter()
            .map(|(l, s)| (l.get("i").unwrap().parse().unwrap(), s))
            .collect();
        proptest::prop_assert_eq!(&got, &model);
        drop(db);
        // retention: every sample within it stays; what goes is, per
        // series, a prefix of the oldest samples
        let retention_ms = retention_h * 3_600_000;
        let db = Db::open(dir.path(), Options { retention_ms, ..opts }).unwrap();
        db.compact().unwrap();
        let newest = model.values().filter_map(|s| s.last()).map(|s| s.0).max().unwrap_or(0);
        let got: BTreeMap<usize, Vec<(i64, f64)>> = all_samples(&db, &[])
            .into_iter()
            .map(|(l, s)| (l.get("i").unwrap().parse().unwrap(), s))
            .collect();
        for (i, want) in &model {
            let kept = got.get(i).cloned().unwrap_or_default();
            proptest::prop_assert!(want.ends_with(&kept), "series {}: kept samples are not the newest ones", i);
            let must_keep = want.iter().filter(|s| s.0 >= newest - retention_ms).count();
            proptest::prop_assert!(kept.len() >= must_keep, "series {}: {} kept, {} within retention", i, kept.len(), must_keep);
        }
    }
}

/// Appends that continue after an unclean stop (the process dies: no
/// `Drop`, nothing flushed beyond the shared mappings) keep every
/// committed sample, round after round.
#[test]
fn appends_after_unclean_stops_keep_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let mut want: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 10];
    let mut t = 1_700_000_000_000i64;
    // the lock of a forgotten database stays held in this process
    let opts = unlocked;
    for round in 0..5 {
        let db = Db::open(dir.path(), opts()).unwrap();
        for _ in 0..(37 + round * 11) {
            t += 50;
            let mut app = db.appender();
            for (i, w) in want.iter_mut().enumerate() {
                let v = ((t / 50) as f64).sin() * 10f64.powi(i as i32 - 4);
                app.append_labels(&ls("crash", i), t, v).unwrap();
                w.push((t, v));
            }
            app.commit().unwrap();
        }
        std::mem::forget(db);
        let db = Db::open(dir.path(), opts()).unwrap();
        for (i, w) in want.iter().enumerate() {
            let got = all_samples(&db, &[Matcher::equal("i", i.to_string())]);
            assert_eq!(got[0].1.len(), w.len(), "round {round}, series {i}");
            assert_eq!(&got[0].1, w, "round {round}, series {i}");
        }
        std::mem::forget(db);
    }
}

#[test]
fn a_held_series_the_head_forgot_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let h = 3_600_000;
    let mut app = db.appender();
    let (old, created) = app.series_handle(&ls("old", 0)).unwrap();
    assert!(created);
    let (busy, _) = app.series_handle(&ls("busy", 0)).unwrap();
    for t in (0..h).step_by(60_000) {
        app.append_handle(&old, t, 1.0);
    }
    for t in (0..4 * h).step_by(60_000) {
        app.append_handle(&busy, t, 2.0);
    }
    app.commit().unwrap();
    // [0, 2h) goes into a block; "old" has nothing left in the head
    let rep = db.compact().unwrap();
    assert_eq!(rep.series_removed, 1);
    let mut app = db.appender();
    app.append_handle(&old, 4 * h, 3.0);
    let err = app.commit().unwrap_err();
    assert!(matches!(err, crate::Error::UnknownSeries(id) if id == old.series_ref().0));
    // resolved again by labels: a new series takes the sample
    let mut app = db.appender();
    let (again, created) = app.series_handle(&ls("old", 0)).unwrap();
    assert!(created && again.series_ref() != old.series_ref());
    app.append_handle(&again, 4 * h, 3.0);
    app.append_handle(&busy, 4 * h, 2.0);
    assert_eq!(app.commit().unwrap().appended, 2);
    let got = all_samples(&db, &[Matcher::equal("job", "old")]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.len(), 61, "60 from the block and the new one");
}

/// Files of a data directory's subdirectory.
fn files_in(dir: &std::path::Path, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(sub))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn closed_chunks_move_to_the_log_and_their_slots_go_after_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let opts = unlocked;
    let n = 2000i64; // about 17 chunks a series
    let val = |i: usize, k: i64| (k * (i as i64 + 1)) as f64 / 4.0;
    let want = |i: usize| -> Vec<(i64, f64)> { (0..n).map(|k| (k * 1000, val(i, k))).collect() };
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for k in 0..n {
            let mut app = db.appender();
            for i in 0..20 {
                app.append_labels(&ls("l", i), k * 1000, val(i, k)).unwrap();
            }
            app.commit().unwrap();
        }
        assert!(!files_in(dir.path(), "chunks_closed").is_empty());
        // stopped without a flush, as by a kill: moved chunks are still in
        // their slots as well as in the log
        std::mem::forget(db);
    }
    let slots = |d: &std::path::Path| {
        crate::chunks::ChunkFiles::open(&d.join("chunks_head"))
            .unwrap()
            .1
            .len()
    };
    let before = slots(dir.path());
    assert!(before > 300, "{before}");
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        assert!(
            db.open_report().problems.is_empty(),
            "{:?}",
            db.open_report().problems
        );
        let got = all_samples(&db, &[]);
        assert_eq!(got.len(), 20);
        for (labels, samples) in &got {
            let i: usize = labels.get("i").unwrap().parse().unwrap();
            assert_eq!(samples, &want(i), "series {i}");
        }
        // the slots of chunks found in both places were let go at open;
        // appending goes on, and a flush lets the newly moved slots go
        for k in n..n + 300 {
            let mut app = db.appender();
            for i in 0..20 {
                app.append_labels(&ls("l", i), k * 1000, val(i, k)).unwrap();
            }
            app.commit().unwrap();
        }
        db.flush(true).unwrap();
    }
    // only the open chunks keep a slot
    assert_eq!(slots(dir.path()), 20);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.open_report().problems.is_empty());
    for (labels, samples) in all_samples(&db, &[]) {
        let i: usize = labels.get("i").unwrap().parse().unwrap();
        let all: Vec<(i64, f64)> = (0..n + 300).map(|k| (k * 1000, val(i, k))).collect();
        assert_eq!(samples, all, "series {i}");
    }
}

#[test]
fn deleted_samples_stay_deleted_when_stopped_before_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let opts = unlocked;
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for k in 0..600i64 {
            let mut app = db.appender();
            for i in 0..2 {
                app.append_labels(&ls("d", i), k * 1000, k as f64).unwrap();
            }
            app.commit().unwrap();
        }
        // chunks closed and moved to the log; their slots wait for a flush
        let rep = db
            .delete(&[Matcher::equal("i", "1")], i64::MIN, i64::MAX)
            .unwrap();
        assert_eq!(rep.samples_removed, 600);
        std::mem::forget(db);
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.open_report().problems.is_empty());
    let got = all_samples(&db, &[]);
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    assert_eq!(got[0].0.get("i"), Some("0"));
    assert_eq!(got[0].1.len(), 600);
}

#[test]
fn a_deletion_inside_a_moved_chunk_keeps_the_rest_when_stopped_before_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let opts = unlocked;
    let want: Vec<(i64, f64)> = (0..600i64)
        .filter(|k| !(10..20).contains(k))
        .map(|k| (k * 1000, k as f64))
        .collect();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for k in 0..600i64 {
            let mut app = db.appender();
            app.append_labels(&ls("d", 0), k * 1000, k as f64).unwrap();
            app.commit().unwrap();
        }
        // inside the first chunk: its rewrite starts where it started
        let rep = db.delete(&[], 10_000, 19_000).unwrap();
        assert_eq!(rep.samples_removed, 10);
        assert_eq!(all_samples(&db, &[])[0].1, want);
        std::mem::forget(db);
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.open_report().problems.is_empty());
    assert_eq!(all_samples(&db, &[])[0].1, want);
}

#[test]
fn series_log_is_rewritten_without_forgotten_series() {
    let dir = tempfile::tempdir().unwrap();
    let step = 60_000i64;
    let start = 1_700_000_000_000i64 - 1_700_000_000_000 % (2 * 3600 * 1000);
    let opts = || Options {
        retention_ms: 0,
        ..Options::default()
    };
    let (gone, live) = (5000usize, 10usize);
    let series_file = dir.path().join("series");
    let full;
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        // many series with a few samples early on, a few that go on
        for k in 0..5 {
            let mut app = db.appender();
            for i in 0..gone {
                app.append_labels(&ls("gone", i), start + k * step, (i + k as usize) as f64)
                    .unwrap();
            }
            app.commit().unwrap();
        }
        for k in 0..(4 * 60) {
            let mut app = db.appender();
            for i in 0..live {
                app.append_labels(&ls("live", i), start + k * step, k as f64)
                    .unwrap();
            }
            app.commit().unwrap();
        }
        full = std::fs::metadata(&series_file).unwrap().len();
        // the rewrite's file cannot be made: the log stays as it was, and
        // the compaction goes on
        let blocker = dir.path().join("series.tmp");
        std::fs::create_dir(&blocker).unwrap();
        let rep = db.compact().unwrap();
        assert_eq!(rep.blocks_written, 1, "{rep:?}");
        assert_eq!(rep.series_removed, gone, "{rep:?}");
        assert!(!rep.series_log_rewritten, "{rep:?}");
        let st = db.stats();
        assert_eq!(
            (st.series_log_rewrites, st.series_log_rewrite_failures),
            (1, 1)
        );
        assert_eq!(std::fs::metadata(&series_file).unwrap().len(), full);
        std::fs::remove_dir(&blocker).unwrap();
        let rep = db.compact().unwrap();
        assert!(rep.series_log_rewritten, "{rep:?}");
        let st = db.stats();
        assert_eq!(
            (st.series_log_rewrites, st.series_log_rewrite_failures),
            (2, 1)
        );
        let now = std::fs::metadata(&series_file).unwrap().len();
        assert!(now * 100 < full, "{now} bytes left of {full}");
        // nothing more to drop: no second rewrite
        assert!(!db.compact().unwrap().series_log_rewritten);
        // a forgotten series comes back, and a new one is made
        let mut app = db.appender();
        app.append_labels(&ls("gone", 3), start + 300 * step, -1.0)
            .unwrap();
        app.append_labels(&ls("new", 0), start + 300 * step, -2.0)
            .unwrap();
        app.commit().unwrap();
    }
    for round in 0..2 {
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(db.stats().series, live as u64 + 2, "round {round}");
        let got = all_samples(&db, &[Matcher::equal("job", "gone")]);
        assert_eq!(got.len(), gone);
        for (labels, samples) in &got {
            let i: usize = labels.get("i").unwrap().parse().unwrap();
            let mut want: Vec<(i64, f64)> = (0..5)
                .map(|k| (start + k * step, (i + k as usize) as f64))
                .collect();
            if i == 3 {
                want.push((start + 300 * step, -1.0));
            }
            assert_eq!(samples, &want, "gone {i}");
        }
        let got = all_samples(&db, &[Matcher::equal("job", "live")]);
        assert_eq!(got.len(), live);
        for (_, samples) in &got {
            let want: Vec<(i64, f64)> = (0..(4 * 60))
                .map(|k| (start + k * step, k as f64))
                .collect();
            assert_eq!(samples, &want);
        }
        let got = all_samples(&db, &[Matcher::equal("job", "new")]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, vec![(start + 300 * step, -2.0)]);
    }
}

#[test]
fn a_label_set_too_large_for_the_series_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = |n: usize| Labels::from_pairs(&[("__name__", "m".to_string()), ("v", "x".repeat(n))]);
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut app = db.appender();
        let err = app.append_labels(&big(600 << 10), 1000, 1.0).unwrap_err();
        assert!(
            matches!(&err, crate::Error::InvalidLabels(m) if m.contains("bytes")),
            "{err}"
        );
        app.append_labels(&big(400 << 10), 1000, 2.0).unwrap();
        app.commit().unwrap();
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let got = all_samples(&db, &[Matcher::equal("__name__", "m")]);
    assert_eq!(got, vec![(big(400 << 10), vec![(1000, 2.0)])]);
}

#[test]
fn bytes_by_metric_add_up_to_the_chunk_bytes_on_disk() {
    use crate::chunks::{log, ChunkFiles, HEADER_SIZE};
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        retention_ms: 0,
        ..unlocked()
    };
    let step = 15_000i64;
    let start = 1_700_000_000_000i64 - 1_700_000_000_000 % (2 * 3600 * 1000);
    let n = 4 * 3600 * 1000 / step; // 4 h: the first 2 h become a block
    let series =
        |name: &str, i: usize| Labels::from_pairs(&[("__name__", name), ("i", &i.to_string())]);
    let hist = |k: i64| crate::histogram::FloatHistogram {
        schema: 1,
        count: k as f64,
        sum: 0.5 * k as f64,
        positive: vec![(0, k as f64)],
        ..Default::default()
    };
    let before = {
        let db = Db::open(dir.path(), opts()).unwrap();
        for k in 0..n {
            let t = start + k * step;
            let mut app = db.appender();
            // values that compress badly, so "big" takes the most bytes
            for i in 0..6 {
                let v = ((k * 7919 + i as i64 * 104_729) % 10_007) as f64 * 1.37;
                app.append_labels(&series("big", i), t, v).unwrap();
            }
            for i in 0..2 {
                app.append_labels(&series("small", i), t, 1.0).unwrap();
            }
            if k >= n - 10 {
                app.append_histogram(&series("hist", 0), t, hist(k));
            }
            app.commit().unwrap();
        }
        assert_eq!(db.compact().unwrap().blocks_written, 1);
        db.flush(true).unwrap();
        db.bytes_by_metric(0).unwrap()
    };
    // what the files hold: block chunk records, live log records and used
    // slots (the moved ones were let go by the flush)
    let blocks = crate::block::list_blocks(dir.path()).unwrap();
    assert_eq!(blocks.len(), 1);
    let block_bytes: u64 = blocks
        .iter()
        .map(|b| std::fs::metadata(b.join("chunks")).unwrap().len() - 8)
        .sum();
    let (_, slots, _) = ChunkFiles::open(&dir.path().join("chunks_head")).unwrap();
    let (_, logged, _) = log::ChunkLog::open(&dir.path().join("chunks_closed")).unwrap();
    assert!(!logged.is_empty() && !slots.is_empty());
    let head_bytes: u64 = slots
        .iter()
        .map(|s| (HEADER_SIZE + (s.header.bit_len as usize).div_ceil(8)) as u64)
        .chain(
            logged
                .iter()
                .filter(|c| !c.released)
                .map(|c| log::record_len(c) as u64),
        )
        .sum();

    let db = Db::open(dir.path(), opts()).unwrap();
    let got = db.bytes_by_metric(0).unwrap();
    assert_eq!(got, before, "the same after a restart");
    let names: Vec<&str> = got.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["big", "small", "hist"], "{got:?}");
    let series: Vec<u64> = got.iter().map(|m| m.series).collect();
    assert_eq!(
        series,
        [6, 2, 1],
        "a series in a block and the head counts once"
    );
    assert!(got[0].total() > 2 * got[1].total(), "{got:?}");
    assert_eq!(got.iter().map(|m| m.block_bytes).sum::<u64>(), block_bytes);
    assert_eq!(got.iter().map(|m| m.head_bytes).sum::<u64>(), head_bytes);
    for m in &got[..2] {
        assert!(
            m.block_bytes > 0 && m.head_bytes > 0 && m.histogram_bytes == 0,
            "{m:?}"
        );
    }
    assert!(got[2].histogram_bytes > 0 && got[2].block_bytes + got[2].head_bytes == 0);
    assert_eq!(db.bytes_by_metric(1).unwrap(), got[..1]);

    // a series without a metric name is left out
    let mut app = db.appender();
    app.append_labels(&Labels::from_pairs(&[("job", "x")]), start + n * step, 1.0)
        .unwrap();
    app.commit().unwrap();
    assert_eq!(db.bytes_by_metric(0).unwrap().len(), 3);
}

/// Each series' histogram samples as (timestamp, count).
fn hist_samples(db: &Db, matchers: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    q.select(matchers)
        .unwrap()
        .into_iter()
        .filter(|s| !s.histograms.is_empty())
        .map(|s| {
            let v = s.histograms.iter().map(|(t, h)| (*t, h.count)).collect();
            (s.labels, v)
        })
        .collect()
}

fn hist_of(k: i64) -> crate::histogram::FloatHistogram {
    crate::histogram::FloatHistogram {
        schema: 0,
        count: k as f64,
        sum: 0.5 * k as f64,
        positive: vec![(0, k as f64)],
        ..Default::default()
    }
}

/// The range files of the histogram store, by range start.
fn range_files(dir: &std::path::Path) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(dir.join("histograms"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.strip_prefix('p')?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Native histograms go into the blocks with the floats of their range:
/// their range files leave the store, every sample stays queryable once
/// (through head compaction, block merging and a restart), older samples
/// are refused, and retention deletes them with their block.
#[test]
fn histograms_go_into_blocks_merge_and_go_with_retention() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_700_006_400_000i64;
    let hour = 3600 * 1000;
    let step = 60_000i64;
    let n = 10 * hour / step;
    let opts = || Options {
        retention_ms: 0,
        ..unlocked()
    };
    let kind = |k: &str| Labels::from_pairs(&[("__name__", "lat"), ("kind", k)]);
    // histograms only; floats and histograms; histograms that stop with
    // their chunk open in the first range
    let want = |k: &str, from: i64| -> Vec<(i64, f64)> {
        let last = if k == "stopped" { 90 } else { n };
        (0..last)
            .map(|i| (start + i * step, i as f64))
            .filter(|s| s.0 >= from)
            .collect()
    };
    let check = |db: &Db, from: i64| {
        let got = hist_samples(db, &[Matcher::equal("__name__", "lat")]);
        let mut expected: Vec<(Labels, Vec<(i64, f64)>)> = ["both", "only", "stopped"]
            .iter()
            .map(|k| (kind(k), want(k, from)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got.len(), expected.len());
        for (g, w) in got.iter().zip(&expected) {
            assert_eq!(g.0, w.0);
            assert_eq!(g.1.len(), w.1.len(), "{}", g.0);
            assert_eq!(g.1, w.1, "{}", g.0);
        }
    };
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for k in 0..n {
            let t = start + k * step;
            let mut app = db.appender();
            app.append_labels(&kind("both"), t, k as f64).unwrap();
            app.append_histogram(&kind("both"), t, hist_of(k));
            app.append_histogram(&kind("only"), t, hist_of(k));
            if k < 90 {
                app.append_histogram(&kind("stopped"), t, hist_of(k));
            }
            app.commit().unwrap();
        }
        assert_eq!(range_files(dir.path()).first(), Some(&start));
        let rep = db.compact().unwrap();
        // 0-2, 2-4, 4-6, 6-8 h cut from the head; the first three merged
        assert_eq!((rep.blocks_written, rep.blocks_merged), (4, 3), "{rep:?}");
        let blocks = db.blocks.read().clone();
        assert_eq!(blocks.len(), 2);
        let m = blocks[0].meta();
        assert_eq!((m.min_time, m.max_time), (start, start + 6 * hour));
        assert_eq!(
            (m.hist.series, m.hist.samples),
            (3, 360 + 360 + 90),
            "{m:?}"
        );
        assert_eq!((m.num_series, m.num_samples), (1, 360));
        assert_eq!(blocks[1].meta().hist.samples, 240);
        for b in &blocks {
            b.verify().unwrap();
        }
        // no range file before the head's range is left
        let files = range_files(dir.path());
        assert!(files.iter().all(|&s| s >= start + 8 * hour), "{files:?}");
        check(&db, i64::MIN);
        let q = db.querier(i64::MIN, i64::MAX).unwrap();
        assert_eq!(
            q.label_values("kind", &[]).unwrap(),
            ["both", "only", "stopped"]
        );
        assert_eq!(
            q.series_labels(&[Matcher::equal("kind", "stopped")])
                .unwrap(),
            [crate::packed::PackedLabels::new(&kind("stopped"))]
        );
        let q = db.querier(start, start + hour).unwrap();
        assert_eq!(
            q.label_names(&[Matcher::equal("kind", "stopped")]).unwrap(),
            ["__name__", "kind"]
        );
        drop(q);
        // older than the blocks' end: refused
        let mut app = db.appender();
        app.append_histogram(&kind("stopped"), start + 100 * step, hist_of(1));
        app.append_histogram(&kind("new"), start + 7 * hour, hist_of(1));
        let st = app.commit().unwrap();
        assert_eq!((st.histograms_appended, st.histograms_out_of_order), (0, 2));
        db.flush(true).unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    check(&db, i64::MIN);
    let rep = db.compact().unwrap();
    assert_eq!((rep.blocks_written, rep.blocks_merged), (0, 0));
    // the rest goes on into the next block
    for k in n..n + 3 * hour / step {
        let mut app = db.appender();
        app.append_histogram(&kind("only"), start + k * step, hist_of(k));
        app.commit().unwrap();
    }
    assert_eq!(db.compact().unwrap().blocks_written, 1);
    let got = hist_samples(&db, &[Matcher::equal("kind", "only")]);
    assert_eq!(got[0].1.len() as i64, n + 3 * hour / step);
    // deleting a time range of a series in a block takes its float
    // samples and its histograms there, and nothing else
    let before = hist_samples(&db, &[]);
    let rep = db
        .delete(&[Matcher::equal("kind", "both")], start, start + hour)
        .unwrap();
    assert_eq!((rep.blocks_rewritten, rep.samples_removed), (1, 61 + 61));
    let expected: Vec<_> = before
        .into_iter()
        .map(|(l, v)| {
            let gone = |t: i64| l == kind("both") && t <= start + hour;
            let v: Vec<_> = v.into_iter().filter(|(t, _)| !gone(*t)).collect();
            (l, v)
        })
        .collect();
    assert_eq!(hist_samples(&db, &[]), expected);
    db.blocks.read()[0].verify().unwrap();
    // a snapshot holds them all
    let name = db.snapshot(false).unwrap();
    let snap = Db::open(&dir.path().join("snapshots").join(name), opts()).unwrap();
    assert_eq!(hist_samples(&snap, &[]), hist_samples(&db, &[]));
    drop(snap);
    // retention takes the merged block and its histograms
    let size_with = db.stats().block_bytes;
    db.set_retention(5 * hour, 0);
    assert_eq!(db.compact().unwrap().blocks_deleted, 1);
    assert!(db.stats().block_bytes < size_with);
    let got = hist_samples(&db, &[Matcher::equal("kind", "stopped")]);
    assert!(got.is_empty(), "{got:?}");
    let got = hist_samples(&db, &[Matcher::equal("kind", "only")]);
    assert_eq!(got[0].1[0].0, start + 6 * hour);
}

/// A stop after a block took a range's histograms but before the range
/// file and the open chunks left the store: at the next open the range
/// file is deleted and the logged samples are not stored twice.
#[test]
fn histogram_range_file_beside_its_block_is_deleted_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let before = tempfile::tempdir().unwrap();
    let start = 1_700_006_400_000i64;
    let hour = 3600 * 1000;
    let step = 60_000i64;
    let n = 5 * hour / step;
    let opts = || Options {
        retention_ms: 0,
        ..unlocked()
    };
    let l = |i: usize| Labels::from_pairs(&[("__name__", "h"), ("i", &i.to_string())]);
    let db = Db::open(dir.path(), opts()).unwrap();
    for k in 0..n {
        let mut app = db.appender();
        app.append_histogram(&l(0), start + k * step, hist_of(k));
        if k < 100 {
            app.append_histogram(&l(1), start + k * step, hist_of(k));
        }
        app.commit().unwrap();
    }
    db.flush(true).unwrap();
    // the folder as it was before the block
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        for e in walk(from) {
            let rel = e.strip_prefix(from).unwrap();
            let dst = to.join(rel);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(&e, &dst).unwrap();
        }
    };
    copy(dir.path(), before.path());
    assert_eq!(db.compact().unwrap().blocks_written, 1);
    let want = hist_samples(&db, &[]);
    assert_eq!(want[0].1.len() as i64, n);
    assert_eq!(want[1].1.len(), 100);
    // the block beside the old range file and log
    let block = db.blocks.read()[0].dir().to_path_buf();
    copy(&block, &before.path().join(block.file_name().unwrap()));
    assert!(range_files(before.path()).contains(&start));
    let old = Db::open(before.path(), opts()).unwrap();
    assert!(!range_files(before.path()).contains(&start));
    assert_eq!(hist_samples(&old, &[]), want);
    // the stopped series' open chunk, logged, is in the block: not
    // stored again
    let (open, range) = old.head.hist.open_chunks();
    assert_eq!(open, 1);
    assert!(range.unwrap().0 >= start + 2 * hour, "{range:?}");
    // and nothing of the range comes back into the store
    assert_eq!(old.compact().unwrap().blocks_written, 0);
    drop(old);
    let old = Db::open(before.path(), opts()).unwrap();
    assert_eq!(hist_samples(&old, &[]), want);
}

/// Deleting histogram samples not in a block yet: chunks in a range file
/// and open chunks lose the samples in the range, other series keep
/// theirs, a restart does not bring them back, and appending goes on.
#[test]
fn delete_histograms_in_range_files_and_open_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_700_006_400_000i64;
    let step = 60_000i64;
    let n = 170;
    let l = |i: usize| Labels::from_pairs(&[("__name__", "h"), ("i", &i.to_string())]);
    let all = |i: usize| -> Vec<(i64, f64)> {
        (0..n)
            .map(|k| (start + k * step, k as f64))
            .filter(|s| i != 1 || s.0 < start + 100 * step || s.0 > start + 150 * step)
            .collect()
    };
    {
        let db = Db::open(dir.path(), unlocked()).unwrap();
        for k in 0..n {
            let mut app = db.appender();
            for i in 0..3 {
                app.append_histogram(&l(i), start + k * step, hist_of(k));
            }
            app.commit().unwrap();
        }
        assert_eq!(
            range_files(dir.path()),
            [start],
            "the first range's chunks closed"
        );
        let rep = db
            .delete(
                &[Matcher::equal("i", "1")],
                start + 100 * step,
                start + 150 * step,
            )
            .unwrap();
        assert_eq!(
            (rep.blocks_rewritten, rep.head_series, rep.samples_removed),
            (0, 1, 51)
        );
        let got = hist_samples(&db, &[]);
        assert_eq!(got.len(), 3);
        for (i, (labels, samples)) in got.iter().enumerate() {
            assert_eq!(labels, &l(i));
            assert_eq!(samples, &all(i), "series {i}");
        }
        // a series deleted whole is gone
        db.delete(&[Matcher::equal("i", "2")], i64::MIN, i64::MAX)
            .unwrap();
        assert_eq!(hist_samples(&db, &[Matcher::equal("i", "2")]), []);
    }
    let db = Db::open(dir.path(), unlocked()).unwrap();
    let got = hist_samples(&db, &[]);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, all(0));
    assert_eq!(got[1].1, all(1));
    let mut app = db.appender();
    app.append_histogram(&l(1), start + n * step, hist_of(n));
    assert_eq!(app.commit().unwrap().histograms_appended, 1);
    assert_eq!(
        hist_samples(&db, &[Matcher::equal("i", "1")])[0].1.last(),
        Some(&(start + n * step, n as f64))
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if e.file_name() != "lock" {
            out.push(p);
        }
    }
    out
}

/// A data folder written before blocks held native histograms
/// (`testdata/histograms_before_blocks/`, see `docs/format/histograms.md`):
/// a block of the first 2 h of `up{job="f"}` (one float a minute for
/// 5 h, values 0 to 299), the histogram range files of the first two
/// ranges, and a log with the open chunks of `h_running{job="h"}`
/// (300 samples, count k) and `h_stopped{job="h"}` (110 samples, count
/// 2k, its chunk open in the first range). Its range files older than the
/// newest block are read as they are; the ranges after it go into blocks.
#[test]
fn histograms_of_a_folder_from_before_blocks_held_them() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/histograms_before_blocks");
    let dir = tempfile::tempdir().unwrap();
    for e in walk(&fixture) {
        let dst = dir.path().join(e.strip_prefix(&fixture).unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&e, &dst).unwrap();
    }
    let s = 1_700_006_400_000i64;
    let hour = 3600 * 1000;
    let opts = || Options {
        retention_ms: 0,
        ..unlocked()
    };
    let run = Labels::from_pairs(&[("__name__", "h_running"), ("job", "h")]);
    let stop = Labels::from_pairs(&[("__name__", "h_stopped"), ("job", "h")]);
    let up = Labels::from_pairs(&[("__name__", "up"), ("job", "f")]);
    let check = |db: &Db, n: i64| {
        let got = hist_samples(db, &[Matcher::equal("job", "h")]);
        let want_run: Vec<(i64, f64)> = (0..n).map(|k| (s + k * 60_000, k as f64)).collect();
        let want_stop: Vec<(i64, f64)> =
            (0..110).map(|k| (s + k * 60_000, 2.0 * k as f64)).collect();
        assert_eq!(got.len(), 2);
        assert_eq!((&got[0].0, got[0].1.len()), (&run, want_run.len()));
        assert_eq!(got[0].1, want_run);
        assert_eq!((&got[1].0, &got[1].1), (&stop, &want_stop));
        let floats = all_samples(db, &[Matcher::equal("job", "f")]);
        let want: Vec<(i64, f64)> = (0..n).map(|k| (s + k * 60_000, k as f64)).collect();
        assert_eq!(floats, vec![(up.clone(), want)]);
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(range_files(dir.path()), [s, s + 2 * hour]);
    check(&db, 300);
    // three more hours: the ranges from 2 h on go into blocks
    for k in 300..480i64 {
        let t = s + k * 60_000;
        let mut app = db.appender();
        app.append_labels(&up, t, k as f64).unwrap();
        app.append_histogram(&run, t, hist_of(k));
        app.commit().unwrap();
    }
    let rep = db.compact().unwrap();
    // 2-4 h and 4-6 h written, then merged with the old block
    assert_eq!((rep.blocks_written, rep.blocks_merged), (2, 3), "{rep:?}");
    let blocks = db.blocks.read().clone();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].meta().hist.samples, 240);
    blocks[0].verify().unwrap();
    // the first range's file stays (read as before), with the stopped
    // series' chunk now closed into it
    assert_eq!(range_files(dir.path()), [s]);
    check(&db, 480);
    drop(blocks);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    check(&db, 480);
    assert_eq!(db.head.hist.open_chunks().0, 1);
}

/// A block whose `histograms` file is damaged is moved aside at open, as
/// one with a damaged index; the rest is served.
#[test]
fn block_with_a_damaged_histograms_file_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_700_006_400_000i64;
    let hour = 3600 * 1000;
    let l = Labels::from_pairs(&[("__name__", "h")]);
    {
        let db = Db::open(dir.path(), unlocked()).unwrap();
        for k in 0..5 * 60 {
            let mut app = db.appender();
            app.append_histogram(&l, start + k * 60_000, hist_of(k));
            app.commit().unwrap();
        }
        assert_eq!(db.compact().unwrap().blocks_written, 1);
    }
    let block = db_block_dirs(dir.path()).pop().unwrap();
    let file = block.join("histograms");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let db = Db::open(dir.path(), unlocked()).unwrap();
    let problems = &db.open_report().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("moved aside"), "{problems:?}");
    assert!(db_block_dirs(dir.path()).is_empty());
    let got = hist_samples(&db, &[]);
    assert_eq!(got[0].1.first().unwrap().0, start + 2 * hour);
    assert_eq!(got[0].1.len(), 180);
}

fn db_block_dirs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    crate::block::list_blocks(dir).unwrap()
}

/// A lazy selection hands a head series' few samples over decoded, with
/// no iterator boxed around them (a query over a million short series
/// would make a million boxes), and a longer series' as an iterator
/// decoding them when read: both read back as appended.
#[test]
fn a_few_head_samples_come_decoded_from_a_lazy_selection() {
    use crate::read::Samples;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), unlocked()).unwrap();
    let mut app = db.appender();
    let few = Labels::from_pairs(&[("__name__", "m"), ("n", "few")]);
    let many = Labels::from_pairs(&[("__name__", "m"), ("n", "many")]);
    for t in 0..100i64 {
        if t < 4 {
            app.append_labels(&few, t * 1000, t as f64).unwrap();
        }
        app.append_labels(&many, t * 1000, -t as f64).unwrap();
    }
    app.commit().unwrap();
    let q = db.querier(0, 200_000).unwrap();
    let mut got = q.select_lazy(&[Matcher::equal("__name__", "m")]).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels, few);
    assert!(matches!(got[0].samples, Samples::Decoded(_)));
    assert!(matches!(got[1].samples, Samples::Iter(_)));
    let few_samples = got[0].samples.collect_between(i64::MIN, i64::MAX);
    assert_eq!(
        few_samples,
        (0..4).map(|t| (t * 1000, t as f64)).collect::<Vec<_>>()
    );
    let many_samples = got[1].samples.collect_between(i64::MIN, i64::MAX);
    assert_eq!(
        many_samples,
        (0..100).map(|t| (t * 1000, -t as f64)).collect::<Vec<_>>()
    );
}
