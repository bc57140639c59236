//! Chunk encoding and decoding (XOR for the head, delta for blocks), in ns
//! per sample.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tsdb::chunkenc::{encode_delta, DeltaIterator, XorEncoder, XorIterator};

/// A scrape-like series: 15 s interval with a few ms of jitter, a counter
/// growing by small varying steps.
fn samples(n: usize) -> Vec<(i64, f64)> {
    let mut v = 1000.0;
    (0..n as i64)
        .map(|i| {
            v += ((i * 7919) % 13) as f64;
            (1_700_000_000_000 + i * 15_000 + (i * 31) % 5, v)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let input = samples(120);
    let mut g = c.benchmark_group("chunkenc");
    g.throughput(Throughput::Elements(input.len() as u64));
    g.bench_function("xor_append", |b| {
        b.iter(|| {
            let mut buf = [0u8; 2048];
            let mut enc = XorEncoder::new();
            for &(t, v) in &input {
                enc.append(&mut buf, t, v);
            }
            black_box(enc.bit_len())
        })
    });
    let mut buf = [0u8; 2048];
    let mut enc = XorEncoder::new();
    for &(t, v) in &input {
        enc.append(&mut buf, t, v);
    }
    println!(
        "chunkenc: {} samples in {} bytes ({:.2} bytes/sample)",
        enc.count(),
        enc.bit_len().div_ceil(8),
        enc.bit_len() as f64 / 8.0 / enc.count() as f64
    );
    g.bench_function("xor_iterate", |b| {
        b.iter(|| {
            XorIterator::new(&buf, enc.count(), enc.bit_len())
                .map(|(t, v)| t as f64 + v)
                .sum::<f64>()
        })
    });
    g.finish();

    // a block chunk: 480 samples (2 h at 15 s)
    let input = samples(480);
    let mut g = c.benchmark_group("chunkenc");
    g.throughput(Throughput::Elements(input.len() as u64));
    g.bench_function("delta_encode", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            assert!(encode_delta(black_box(&input), 0, &mut out));
            out.len()
        })
    });
    let mut data = Vec::new();
    assert!(encode_delta(&input, 0, &mut data));
    println!(
        "chunkenc: delta {} samples in {} bytes ({:.2} bytes/sample)",
        input.len(),
        data.len(),
        data.len() as f64 / input.len() as f64
    );
    g.bench_function("delta_iterate", |b| {
        b.iter(|| {
            DeltaIterator::v2(black_box(&data), input.len() as u16)
                .map(|(t, v)| t as f64 + v)
                .sum::<f64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
