//! Taking over the data directory Prometheus 2.42 left in
//! `testdata/prometheus-2.42/` (see `prom/tests.rs`).

use std::path::Path;

use super::*;
use crate::labels::Matcher;
use crate::read::Queryable;
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
