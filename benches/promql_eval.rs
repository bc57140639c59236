//! PromQL range-query evaluation over an in-memory store, in samples
//! stored per second: `sum by (job) (rate(...))`, a `histogram_quantile`
//! over summed bucket rates, and `avg_over_time`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use promql::Engine;
use tsdb::labels::{Labels, Matcher};
use tsdb::read::{matches_all, Querier, Queryable, ReadError, Samples, Series};

/// Series with their samples, sorted by labels.
struct Store {
    series: Vec<(Labels, Vec<(i64, f64)>)>,
}

struct StoreQuerier<'a> {
    store: &'a Store,
    mint: i64,
    maxt: i64,
}

impl Queryable for Store {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, ReadError> {
        Ok(Box::new(StoreQuerier {
            store: self,
            mint,
            maxt,
        }))
    }
}

impl Querier for StoreQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        Ok(self
            .store
            .series
            .iter()
            .filter(|(l, _)| matches_all(l, matchers))
            .map(|(l, s)| {
                let lo = s.partition_point(|p| p.0 < self.mint);
                let hi = s.partition_point(|p| p.0 <= self.maxt);
                Series::floats(l.clone(), Samples::decoded(s[lo..hi.max(lo)].to_vec()))
            })
            .collect())
    }

    fn label_names(&self, _: &[Matcher]) -> Result<Vec<String>, ReadError> {
        Ok(Vec::new())
    }

    fn label_values(&self, _: &str, _: &[Matcher]) -> Result<Vec<String>, ReadError> {
        Ok(Vec::new())
    }
}

const STEP_MS: i64 = 15_000;
const POINTS: i64 = 6 * 240; // 6 h at 15 s
const INSTANCES: usize = 100;
const JOBS: [&str; 4] = ["api", "web", "db", "cache"];
const LE: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf",
];

fn store() -> Store {
    let mut series = Vec::new();
    for i in 0..INSTANCES {
        let inst = format!("host-{i:03}");
        let job = JOBS[i % JOBS.len()];
        for h in 0..5 {
            let handler = format!("/api/h{h}");
            for code in ["200", "500"] {
                let l = Labels::from_pairs(&[
                    ("__name__", "http_requests_total"),
                    ("instance", inst.as_str()),
                    ("job", job),
                    ("handler", handler.as_str()),
                    ("code", code),
                ]);
                let rate = 1.0 + ((i * 7 + h * 3) % 11) as f64;
                let s = (0..POINTS)
                    .map(|k| {
                        (
                            k * STEP_MS,
                            (rate * k as f64 + (k as f64 / 7.0).sin()).floor(),
                        )
                    })
                    .collect();
                series.push((l, s));
            }
            for (j, le) in LE.iter().enumerate() {
                let l = Labels::from_pairs(&[
                    ("__name__", "request_duration_seconds_bucket"),
                    ("instance", inst.as_str()),
                    ("job", job),
                    ("handler", handler.as_str()),
                    ("le", le),
                ]);
                let frac = (j + 1) as f64 / LE.len() as f64;
                let s = (0..POINTS)
                    .map(|k| (k * STEP_MS, (3.0 * k as f64 * frac).floor()))
                    .collect();
                series.push((l, s));
            }
        }
        for kind in ["used", "free"] {
            let l = Labels::from_pairs(&[
                ("__name__", "memory_bytes"),
                ("instance", inst.as_str()),
                ("job", job),
                ("kind", kind),
            ]);
            let s = (0..POINTS)
                .map(|k| (k * STEP_MS, 1e9 + 1e6 * (k as f64 / 50.0 + i as f64).sin()))
                .collect();
            series.push((l, s));
        }
    }
    series.sort_by(|a, b| a.0.cmp(&b.0));
    Store { series }
}

fn bench(c: &mut Criterion) {
    let store = store();
    let engine = Engine::default();
    let end = (POINTS - 1) * STEP_MS;
    let start = end - 4 * 3600 * 1000;
    let count = |name: &str| -> u64 {
        store
            .series
            .iter()
            .filter(|(l, _)| l.metric_name() == Some(name))
            .map(|(_, s)| s.len() as u64)
            .sum()
    };
    let mut g = c.benchmark_group("promql_eval");
    g.sample_size(10);
    for (id, metric, q) in [
        (
            "rate_sum_by_job",
            "http_requests_total",
            "sum by (job) (rate(http_requests_total[5m]))",
        ),
        (
            "hist_quantile",
            "request_duration_seconds_bucket",
            "histogram_quantile(0.9, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))",
        ),
        (
            "avg_over_time",
            "memory_bytes",
            "avg by (job) (avg_over_time(memory_bytes[10m]))",
        ),
    ] {
        g.throughput(Throughput::Elements(count(metric)));
        g.bench_function(id, |b| {
            b.iter(|| black_box(engine.range_query(&store, q, start, end, 60_000).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
