//! The storage engine: appending to the head (samples per second on one
//! core, as a scrape with cached series references appends), selecting
//! series by matchers through the postings, and decoding samples from the
//! head and from a compacted block (samples per second).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tsdb::labels::{Labels, MatchOp, Matcher};
use tsdb::read::{Queryable, SampleIterator as _};
use tsdb::{Db, Options, SeriesRef};

/// Labels shaped like a scrape's: 10 jobs, 50 instances, 20 handlers.
fn labels(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "http_requests_total"),
        ("job", &format!("job-{}", i % 10)),
        ("instance", &format!("10.0.{}.{}:9100", i / 250, i % 250)),
        ("handler", &format!("/api/v1/h{}", i % 20)),
        ("code", if i.is_multiple_of(7) { "500" } else { "200" }),
    ])
}

const T0: i64 = 1_700_000_000_000;
const STEP: i64 = 15_000;

fn options() -> Options {
    Options {
        retention_ms: 0,
        max_future_ms: 0,
        ..Options::default()
    }
}

/// A database with `series` series, each with `samples` samples 15 s apart.
fn filled(dir: &std::path::Path, series: usize, samples: i64) -> (Db, Vec<SeriesRef>) {
    let db = Db::open(dir, options()).unwrap();
    let mut app = db.appender();
    let refs: Vec<SeriesRef> = (0..series)
        .map(|i| app.series(&labels(i)).unwrap().0)
        .collect();
    app.commit().unwrap();
    for k in 0..samples {
        let mut app = db.appender();
        for (i, r) in refs.iter().enumerate() {
            app.append(*r, T0 + k * STEP, (k * (i as i64 % 13 + 1)) as f64)
                .unwrap();
        }
        app.commit().unwrap();
    }
    (db, refs)
}

/// Reads every sample of every series in `[mint, maxt]`.
fn decode_all(db: &Db, mint: i64, maxt: i64) -> usize {
    let q = db.querier(mint, maxt).unwrap();
    let mut n = 0;
    for mut s in q
        .select(&[Matcher::equal("__name__", "http_requests_total")])
        .unwrap()
    {
        while let Some((t, v)) = s.samples.next() {
            black_box((t, v));
            n += 1;
        }
    }
    n
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let series = 10_000;
    let (db, refs) = filled(dir.path(), series, 1);
    let mut g = c.benchmark_group("tsdb_append");
    g.throughput(Throughput::Elements(series as u64));
    let mut k = 1;
    g.bench_function("head_append_10k_series", |b| {
        b.iter(|| {
            let mut app = db.appender();
            for (i, r) in refs.iter().enumerate() {
                app.append(*r, T0 + k * STEP, (k + i as i64) as f64)
                    .unwrap();
            }
            k += 1;
            black_box(app.commit().unwrap().appended)
        })
    });
    g.finish();
}

/// As a scrape manager stores: 50 targets of 1000 series each (created
/// interleaved, as concurrent first scrapes do), each target's samples
/// committed as one list of held series.
fn scrape_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let (targets, per) = (50, 1000);
    let mut handles: Vec<Vec<tsdb::SeriesHandle>> = (0..targets).map(|_| Vec::new()).collect();
    let mut app = db.appender();
    for i in 0..per {
        for (t, hs) in handles.iter_mut().enumerate() {
            hs.push(app.series_handle(&labels(t * per + i)).unwrap().0);
        }
    }
    app.commit().unwrap();
    let mut g = c.benchmark_group("tsdb_append");
    g.throughput(Throughput::Elements((targets * per) as u64));
    let mut k = 0i64;
    g.bench_function("scrape_commit_50x1000_series", |b| {
        b.iter(|| {
            for hs in &handles {
                let batch: Vec<_> = hs
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (h, T0 + k * STEP, (k * (i as i64 % 13 + 1)) as f64))
                    .collect();
                black_box(db.appender().commit_with(&batch).unwrap().appended);
            }
            k += 1;
        })
    });
    g.finish();
}

fn select(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = filled(dir.path(), 10_000, 4);
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let re = |name: &str, v: &str| Matcher::new(MatchOp::RegexMatch, name, v).unwrap();
    let cases: Vec<(&str, Vec<Matcher>)> = vec![
        ("equal", vec![Matcher::equal("job", "job-3")]),
        (
            "equal_and_not_equal",
            vec![
                Matcher::equal("handler", "/api/v1/h4"),
                Matcher::new(MatchOp::NotEqual, "code", "200").unwrap(),
            ],
        ),
        ("alternation", vec![re("job", "job-1|job-2|job-3")]),
        ("prefix", vec![re("instance", "10\\.0\\.1\\..*")]),
        ("regex_scan", vec![re("handler", ".*h1[0-9]")]),
    ];
    let mut g = c.benchmark_group("tsdb_select_10k_series");
    for (name, ms) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| black_box(q.series_labels(ms).unwrap().len()))
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    // 1,000 series × 6 h at 15 s: 4 h go into blocks, the rest stays in
    // the head
    let dir = tempfile::tempdir().unwrap();
    let samples = 6 * 240;
    let (db, _) = filled(dir.path(), 1_000, samples);
    db.compact().unwrap();
    assert!(db.stats().blocks > 0, "no block was cut");
    let block_end = T0 - T0 % (2 * 3_600_000) + 4 * 3_600_000 - 1;
    let head_start = block_end + 1;
    let end = T0 + samples * STEP;
    let mut g = c.benchmark_group("tsdb_decode");
    for (name, mint, maxt) in [("block", T0, block_end), ("head", head_start, end)] {
        let n = decode_all(&db, mint, maxt);
        assert!(n > 100_000, "{name}: {n} samples");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| b.iter(|| decode_all(&db, mint, maxt)));
    }
    g.finish();
}

criterion_group!(benches, append, scrape_commit, select, decode);
criterion_main!(benches);
