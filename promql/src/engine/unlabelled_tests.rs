//! Selectors whose labels are never read get their series through
//! `Querier::select_lazy_unlabelled`, and the answers stay the same when
//! a store leaves those labels out.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::engine::Engine;
use crate::value::Value;
use tsdb::read::{MemQueryable, Queryable, ReadError, Series};

/// A store that leaves out the labels of every unlabelled selection and
/// counts those selections.
struct Stripping {
    inner: MemQueryable,
    unlabelled: AtomicUsize,
}

struct StrippingQuerier<'a> {
    inner: Box<dyn Querier + 'a>,
    unlabelled: &'a AtomicUsize,
}

impl Queryable for Stripping {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, ReadError> {
        Ok(Box::new(StrippingQuerier {
            inner: self.inner.querier(mint, maxt)?,
            unlabelled: &self.unlabelled,
        }))
    }
}

impl Querier for StrippingQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        self.inner.select(matchers)
    }

    fn select_lazy_unlabelled(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        self.unlabelled.fetch_add(1, Ordering::Relaxed);
        let mut series = self.inner.select_lazy(matchers)?;
        for s in &mut series {
            s.labels = Labels::empty();
        }
        Ok(series)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.inner.label_names(matchers)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.inner.label_values(name, matchers)
    }
}

/// `up` of three instances and `other` of one, a sample a minute.
fn store() -> MemQueryable {
    let mut m = MemQueryable::new();
    for (name, inst) in [("up", "a"), ("up", "b"), ("up", "c"), ("other", "a")] {
        let l = Labels::from_pairs(&[("__name__", name), ("instance", inst)]);
        for i in 0..=20i64 {
            m.add(&l, i * 60_000, (i * inst.len() as i64) as f64 + 0.25);
        }
    }
    m
}

#[test]
fn aggregations_into_one_group_read_no_labels_and_answer_the_same() {
    let labelled = store();
    let stripping = Stripping {
        inner: store(),
        unlabelled: AtomicUsize::new(0),
    };
    // (query, selections made without labels)
    let cases = [
        ("count(up)", 1),
        ("sum(up)", 1),
        ("avg by () ((up))", 1),
        ("max(up) - min({__name__=~\"up|other\"})", 2),
        ("stddev(up) + stdvar(up) + group(up)", 3),
        ("sum by (instance) (up) / on() group_left() sum(up)", 1),
        ("sum by (instance) (up)", 0),
        ("sum without () (up)", 0),
        ("topk(1, up)", 0),
        ("count_values(\"v\", up)", 0),
        ("count(rate(up[5m]))", 1),
        (
            "sum(increase(up[5m])) + avg(max_over_time((up)[10m:1m]))",
            1,
        ),
        ("avg(quantile_over_time(0.5, up[5m]))", 1),
        ("sum(rate({__name__=~\"up|other\"}[5m]))", 1),
        ("sum(absent_over_time(up[5m]))", 0),
        ("sum by (instance) (rate(up[5m]))", 0),
        (
            "sum(label_replace(rate(up[5m]), \"x\", \"$1\", \"instance\", \"(.*)\"))",
            0,
        ),
        ("count(up offset 1m)", 1),
        ("up", 0),
    ];
    for (q, want) in cases {
        for engine in [Engine::default(), Engine::default().step_by_step()] {
            stripping.unlabelled.store(0, Ordering::Relaxed);
            let a = engine.instant_query(&labelled, q, 600_000).unwrap().value;
            let b = engine.instant_query(&stripping, q, 600_000).unwrap().value;
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{q}");
            let empty = matches!(a, Value::Vector(ref v) if v.is_empty());
            assert!(!empty || q.contains("absent"), "{q}");
            let a = engine
                .range_query(&labelled, q, 300_000, 1_200_000, 60_000)
                .unwrap()
                .value;
            let b = engine
                .range_query(&stripping, q, 300_000, 1_200_000, 60_000)
                .unwrap()
                .value;
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{q}");
            assert_eq!(
                stripping.unlabelled.load(Ordering::Relaxed),
                2 * want,
                "{q}"
            );
        }
    }
}
