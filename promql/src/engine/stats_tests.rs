//! Query statistics (`QueryResult::stats`) and engine settings.

use super::*;
use tsdb::read::MemQueryable;

/// Two `up` series, a sample a minute from 0 to 20 min.
pub(super) fn store() -> MemQueryable {
    let mut m = MemQueryable::new();
    for inst in ["a", "b"] {
        let l = Labels::from_pairs(&[("__name__", "up"), ("instance", inst)]);
        for i in 0..=20 {
            m.add(&l, i * 60_000, i as f64);
        }
    }
    m
}

#[test]
fn instant_query_counts_selected_samples() {
    let e = Engine::default();
    let s = store();
    let st = e.instant_query(&s, "up", 120_000).unwrap().stats;
    assert_eq!(st.total_samples, 2);
    assert_eq!(st.peak_samples, 2);
    assert_eq!(st.total_samples_per_step, vec![(120_000, 2)]);
    assert!(st.eval_seconds >= st.inner_eval_seconds);
    assert!(st.eval_seconds >= st.preparation_seconds + st.sort_seconds);

    // (300s, 600s] holds five samples per series
    let st = e.instant_query(&s, "rate(up[5m])", 600_000).unwrap().stats;
    assert_eq!(st.total_samples, 10);
    assert_eq!(st.peak_samples, 10);

    // subquery steps at 240s and 300s each select two samples
    let st = e
        .instant_query(&s, "max_over_time(up[2m:1m])", 300_000)
        .unwrap()
        .stats;
    assert_eq!(st.total_samples, 4);

    let st = e.instant_query(&s, "1 + 1", 0).unwrap().stats;
    assert_eq!(st.total_samples, 0);
    assert_eq!(st.total_samples_per_step, vec![(0, 0)]);
}

#[test]
fn range_query_counts_per_step() {
    let e = Engine::default();
    let s = store();
    let st = e.range_query(&s, "up", 0, 180_000, 60_000).unwrap().stats;
    assert_eq!(st.total_samples, 8);
    assert_eq!(
        st.total_samples_per_step,
        vec![(0, 2), (60_000, 2), (120_000, 2), (180_000, 2)]
    );
    // the last step's two samples plus six output points held before it
    assert_eq!(st.peak_samples, 8);
}

#[test]
fn default_subquery_step_is_configurable() {
    let s = store();
    let q = "count_over_time(up{instance=\"a\"}[10m:])";
    let e = Engine::default();
    assert_eq!(e.subquery_step_ms(), 60_000);
    let Value::Vector(v) = e.instant_query(&s, q, 600_000).unwrap().value else {
        panic!("vector expected")
    };
    assert_eq!(v[0].v, 10.0);
    let e = Engine::default().with_subquery_step(30_000);
    let Value::Vector(v) = e.instant_query(&s, q, 600_000).unwrap().value else {
        panic!("vector expected")
    };
    assert_eq!(v[0].v, 20.0);
}
