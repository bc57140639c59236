//! Tests of the whole-range evaluation against the window functions
//! applied one window at a time.

use super::*;
use crate::value::Value;
use crate::Engine;
use tsdb::read::MemQueryable;

/// The samples of each step's window `(ts - range, ts]`, and the window.
fn windows(
    samples: &[(i64, f64)],
    (start, end, step): (i64, i64, i64),
    range: i64,
) -> Vec<(Vec<(i64, f64)>, Window)> {
    (0..)
        .map(|k| start + k * step)
        .take_while(|&ts| ts <= end)
        .map(|ts| {
            let window = samples
                .iter()
                .copied()
                .filter(|s| s.0 > ts - range && s.0 <= ts)
                .collect();
            let w = Window {
                start: ts - range,
                end: ts,
                ts,
            };
            (window, w)
        })
        .collect()
}

/// `rate` and `increase` over the whole range equal, bit for bit, the
/// window function applied to each window alone: counters with resets,
/// negative values, gaps and uneven spacing, windows of one sample.
#[test]
fn counter_windows_equal_one_window_at_a_time() {
    let mut store = MemQueryable::new();
    let mut all: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    for kind in 0..5 {
        let labels = Labels::from_pairs(&[("__name__", "c"), ("kind", &kind.to_string())]);
        let mut samples = Vec::new();
        let mut v = if kind == 4 { -50.0 } else { 0.0 };
        for i in 0..480i64 {
            if kind == 2 && (100..130).contains(&i) {
                continue; // a gap longer than the window
            }
            // uneven spacing: some windows hold one sample
            let t = i * 15_000 + if kind == 3 { (i % 7) * 2_000 } else { 0 };
            v += match kind {
                1 if i % 37 == 36 => -v + 3.0, // a reset
                1 => (i as f64 * 0.7).sin().abs() * 10.0,
                _ => 1.5 + (i % 5) as f64 * 0.25,
            };
            store.add(&labels, t, v);
            samples.push((t, v));
        }
        all.push((labels, samples));
    }
    let engine = Engine::default();
    let (start, end, step) = (0i64, 480 * 15_000, 60_000i64);
    for (func, range) in [
        ("rate", 300_000i64),
        ("increase", 300_000),
        ("rate", 20_000),
    ] {
        let Some((_, Impl::Range { f, .. })) = IMPLS.iter().find(|(n, _)| *n == func) else {
            panic!("{func} is a range function");
        };
        let q = format!("{func}(c[{}s])", range / 1000);
        let r = engine.range_query(&store, &q, start, end, step).unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("matrix expected")
        };
        assert_eq!(m.len(), all.len(), "{q}");
        for (series, (labels, samples)) in m.iter().zip(&all) {
            let mut want = Vec::new();
            for (window, w) in windows(samples, (start, end, step), range) {
                if let Some(v) = f(&window, &w, &[]) {
                    want.push((w.ts, v.to_bits()));
                }
            }
            let got: Vec<(i64, u64)> = series.points.iter().map(|p| (p.0, p.1.to_bits())).collect();
            assert_eq!(got, want, "{q} for kind {:?}", labels.get("kind"));
        }
    }
}

/// The sums and means of windows computed side by side equal, bit for
/// bit, the window function applied to each window alone: over
/// ordinary values, values whose sum overflows (the mean turns
/// incremental), NaN, infinities and gaps.
#[test]
fn side_by_side_window_sums_equal_one_window_at_a_time() {
    let mut store = MemQueryable::new();
    let mut all: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    for kind in 0..5 {
        let labels = Labels::from_pairs(&[("__name__", "m"), ("kind", &kind.to_string())]);
        let mut samples = Vec::new();
        for i in 0..480i64 {
            if kind == 3 && (100..160).contains(&i) {
                continue; // a gap longer than the window
            }
            let v = match kind {
                0 => (i as f64 * 0.37).sin() * 1e3 + 0.1 * i as f64,
                1 => (if i % 3 == 0 { -1.0 } else { 1.0 }) * 1.5e308,
                2 if i == 50 => f64::NAN,
                2 if i == 200 => f64::INFINITY,
                2 => i as f64 * 1e-3,
                3 => 1e15 + i as f64 * 0.5,
                // values larger than the sum so far, then smaller
                _ => (if i % 2 == 0 { 1e16 } else { -1e16 }) + i as f64 * 0.3,
            };
            store.add(&labels, i * 15_000, v);
            samples.push((i * 15_000, v));
        }
        all.push((labels, samples));
    }
    let engine = Engine::default();
    let (start, end, step, range) = (0i64, 480 * 15_000, 60_000i64, 600_000i64);
    for func in ["avg_over_time", "sum_over_time"] {
        let Some((_, Impl::Range { f, .. })) = IMPLS.iter().find(|(n, _)| *n == func) else {
            panic!("{func} is a range function");
        };
        let q = format!("{func}(m[10m])");
        let r = engine.range_query(&store, &q, start, end, step).unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("matrix expected")
        };
        assert_eq!(m.len(), all.len());
        for (series, (labels, samples)) in m.iter().zip(&all) {
            assert_eq!(series.metric.get("kind"), labels.get("kind"));
            let mut want = Vec::new();
            for (window, w) in windows(samples, (start, end, step), range) {
                if !window.is_empty() {
                    let v = f(&window, &w, &[]).expect("a value");
                    want.push((w.ts, v.to_bits()));
                }
            }
            let got: Vec<(i64, u64)> = series.points.iter().map(|p| (p.0, p.1.to_bits())).collect();
            assert_eq!(got, want, "{q} for kind {:?}", labels.get("kind"));
        }
    }
}

/// Enough series for the whole-range path to split them over threads
/// (when the machine has more than one core), some with no sample in the
/// query's range (their columns left out in every part), aggregated into
/// few groups over enough steps to aggregate on several threads: every
/// step of the range query equals, bit for bit, the instant query at that
/// time.
#[test]
fn parts_on_threads_equal_the_instant_queries() {
    let mut store = MemQueryable::new();
    for k in 0..600 {
        let (id, group) = (format!("{k:03}"), (k % 3).to_string());
        let labels = Labels::from_pairs(&[("__name__", "p"), ("g", &group), ("id", &id)]);
        // every seventh series only long before the range
        let t0 = if k % 7 == 0 { -10_000_000 } else { 0 };
        let mut v = k as f64 * 0.25;
        for i in 0..400i64 {
            v += ((i * (k + 1)) % 11) as f64 * 0.37;
            store.add(&labels, t0 + i * 15_000, v);
        }
    }
    let engine = Engine::default();
    let (start, end, step) = (60_000i64, 399 * 15_000, 15_000i64);
    for q in [
        "p",
        "rate(p[1m])",
        "sum by (g) (rate(p[2m]))",
        "max by (g) (p)",
        "avg(avg_over_time(p[5m]))",
    ] {
        let r = engine.range_query(&store, q, start, end, step).unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("matrix expected")
        };
        let mut got: Vec<(Labels, i64, u64)> = Vec::new();
        for s in &m {
            got.extend(
                s.points
                    .iter()
                    .map(|p| (s.metric.clone(), p.0, p.1.to_bits())),
            );
        }
        let mut want: Vec<(Labels, i64, u64)> = Vec::new();
        for ts in (start..=end).step_by(step as usize) {
            let Value::Vector(v) = engine.instant_query(&store, q, ts).unwrap().value else {
                panic!("vector expected")
            };
            want.extend(v.into_iter().map(|s| (s.metric, s.t, s.v.to_bits())));
        }
        got.sort();
        want.sort();
        assert!(!want.is_empty(), "{q}");
        assert_eq!(got.len(), want.len(), "{q}");
        assert!(
            got == want,
            "{q}: the range query differs from the instant queries"
        );
    }
}

/// A query leaves its columns in the buffers its engine was given, for the
/// next query of any engine given the same; an engine made alone keeps its
/// own.
#[test]
fn a_query_leaves_its_columns_to_the_shared_buffers() {
    let mut store = MemQueryable::new();
    for s in 0..50 {
        let labels = Labels::from_pairs(&[("__name__", "g"), ("s", &s.to_string())]);
        for i in 0..100i64 {
            store.add(&labels, i * 15_000, (s * i) as f64);
        }
    }
    let shared = std::sync::Arc::new(ColumnBuffers::default());
    let a = Engine::default().with_buffers(std::sync::Arc::clone(&shared));
    let b = Engine::default().with_buffers(std::sync::Arc::clone(&shared));
    let alone = Engine::default();
    let range = |e: &Engine, q: &str| e.range_query(&store, q, 0, 1_485_000, 15_000).unwrap();

    let r = range(&alone, "g");
    assert_eq!(shared.kept(), 0, "an engine made alone keeps its own");
    let kept = {
        let r2 = range(&a, "g");
        assert_eq!(r.value, r2.value);
        shared.kept()
    };
    // 50 series over 100 steps
    assert!(kept >= 50 * 100, "kept room for {kept} values");
    // the other engine's query writes into them and leaves them again
    assert_eq!(range(&b, "g").value, r.value);
    assert!(shared.kept() >= kept);
    assert_eq!(range(&b, "sum(g)").value, range(&alone, "sum(g)").value);
}
