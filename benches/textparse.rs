//! Benchmarks of the Prometheus text format parser (`textparse`).
//!
//! The body is generated: about 1000 series in the shape of a typical
//! exporter (counters with a few labels, histograms with `le` buckets, a
//! summary, HELP and TYPE lines), some with timestamps.
//!
//! - `prom/series`: `next` + `series` only, what the scrape loop does on a
//!   series cache hit (no allocation per sample).
//! - `prom/labels`: also decodes every label set, the cache-miss path.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use textparse::{Entry, PromParser};

/// Builds an exposition body and returns it with its number of samples.
fn body() -> (Vec<u8>, u64) {
    let mut b = String::new();
    let mut samples = 0u64;
    let methods = ["GET", "POST", "PUT", "DELETE"];
    let statuses = ["2xx", "3xx", "4xx", "5xx"];

    b.push_str(
        "# HELP http_requests_total Total number of requests by method, status and handler.\n",
    );
    b.push_str("# TYPE http_requests_total counter\n");
    for h in 0..20 {
        for m in methods {
            for s in statuses {
                b.push_str(&format!(
                    "http_requests_total{{handler=\"/api/v1/items/{h}\",method=\"{m}\",status=\"{s}\"}} {}\n",
                    h * 17 + 3
                ));
                samples += 1;
            }
        }
    }

    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "+Inf",
    ];
    b.push_str("# HELP http_request_duration_seconds Latency with only few buckets by handler.\n");
    b.push_str("# TYPE http_request_duration_seconds histogram\n");
    for h in 0..40 {
        for (i, le) in les.iter().enumerate() {
            b.push_str(&format!(
                "http_request_duration_seconds_bucket{{handler=\"/api/v1/items/{h}\",le=\"{le}\",method=\"GET\"}} {}.0\n",
                i * 3 + h
            ));
            samples += 1;
        }
        b.push_str(&format!(
            "http_request_duration_seconds_count{{handler=\"/api/v1/items/{h}\",method=\"GET\"}} {}.0\n",
            30 + h
        ));
        b.push_str(&format!(
            "http_request_duration_seconds_sum{{handler=\"/api/v1/items/{h}\",method=\"GET\"}} {}\n",
            0.0017910003662109375 * (h + 1) as f64
        ));
        samples += 2;
    }

    b.push_str("# HELP rpc_duration_seconds RPC latency summary.\n");
    b.push_str("# TYPE rpc_duration_seconds summary\n");
    for svc in 0..20 {
        for q in ["0.5", "0.9", "0.99"] {
            b.push_str(&format!(
                "rpc_duration_seconds{{service=\"svc-{svc}\",quantile=\"{q}\"}} 1.23e-3\n"
            ));
            samples += 1;
        }
        b.push_str(&format!(
            "rpc_duration_seconds_sum{{service=\"svc-{svc}\"}} 17.5\n"
        ));
        b.push_str(&format!(
            "rpc_duration_seconds_count{{service=\"svc-{svc}\"}} 2693\n"
        ));
        samples += 2;
    }

    b.push_str("# HELP node_gauge Misc gauges with timestamps.\n# TYPE node_gauge gauge\n");
    while samples < 1000 {
        b.push_str(&format!(
            "node_gauge{{instance=\"10.0.0.{}:9100\",kind=\"k{}\"}} {} 1700000000{:03}\n",
            samples % 250,
            samples,
            samples as f64 * 1.5,
            samples % 1000
        ));
        samples += 1;
    }
    (b.into_bytes(), samples)
}

fn bench_prom(c: &mut Criterion) {
    let (body, samples) = body();
    let mut g = c.benchmark_group("prom");
    g.throughput(Throughput::Elements(samples));

    g.bench_function("series", |bench| {
        bench.iter(|| {
            let mut p = PromParser::new(black_box(&body));
            let mut n = 0u64;
            while let Ok(Some(entry)) = p.next() {
                if entry == Entry::Series {
                    let (raw, ts, v) = p.series();
                    black_box((raw, ts, v));
                    n += 1;
                }
            }
            assert_eq!(n, samples);
        })
    });

    g.bench_function("labels", |bench| {
        let mut labels = Vec::new();
        bench.iter(|| {
            let mut p = PromParser::new(black_box(&body));
            let mut n = 0u64;
            while let Ok(Some(entry)) = p.next() {
                if entry == Entry::Series {
                    p.labels(&mut labels);
                    black_box(&labels);
                    n += 1;
                }
            }
            assert_eq!(n, samples);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_prom);
criterion_main!(benches);
