//! In-memory postings: for each label name and value, the sorted list of
//! series references that carry it.

use std::collections::HashMap;

use crate::fasthash::FxBuild;
use crate::labels::{MatchOp, Matcher};

/// Cardinality figures, each list largest first.
#[derive(Clone, Debug, Default)]
pub struct Cardinality {
    /// Series per metric name.
    pub series_by_metric: Vec<(String, u64)>,
    /// Distinct values per label name.
    pub values_by_label: Vec<(String, u64)>,
    /// Bytes of distinct values per label name.
    pub bytes_by_label: Vec<(String, u64)>,
    /// Series per `name=value` pair.
    pub series_by_pair: Vec<(String, u64)>,
    /// Distinct label pairs in all.
    pub label_pairs: u64,
}

#[derive(Default)]
pub(crate) struct Postings {
    by_label: HashMap<String, HashMap<String, Vec<u64>, FxBuild>, FxBuild>,
    all: Vec<u64>,
}

/// Intersects two sorted lists (series references or positions).
pub(crate) fn intersect<T: Ord + Copy>(a: &[T], b: &[T]) -> Vec<T> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

impl Postings {
    /// Adds a series; references must be added in increasing order.
    pub(crate) fn add<'a>(&mut self, id: u64, labels: impl Iterator<Item = (&'a str, &'a str)>) {
        debug_assert!(self.all.last().is_none_or(|&l| l < id));
        self.all.push(id);
        for (name, value) in labels {
            // names and values are mostly known: copy them only when new
            let values = match self.by_label.get_mut(name) {
                Some(v) => v,
                None => self.by_label.entry(name.to_string()).or_default(),
            };
            match values.get_mut(value) {
                Some(ids) => ids.push(id),
                None => {
                    values.insert(value.to_string(), vec![id]);
                }
            }
        }
    }

    /// Removes the given series from every list.
    pub(crate) fn remove_many(&mut self, ids: &std::collections::HashSet<u64>) {
        self.all.retain(|x| !ids.contains(x));
        for values in self.by_label.values_mut() {
            values.retain(|_, list| {
                list.retain(|x| !ids.contains(x));
                !list.is_empty()
            });
        }
        self.by_label.retain(|_, v| !v.is_empty());
    }

    /// Series that may match all matchers: exact for matchers that do not
    /// match the empty string; the caller still checks the rest against
    /// each series' labels.
    pub(crate) fn candidates(&self, matchers: &[Matcher]) -> Vec<u64> {
        let mut result: Option<Vec<u64>> = None;
        for m in matchers.iter().filter(|m| !m.matches_empty()) {
            let list = self.for_matcher(m);
            result = Some(match result {
                None => list,
                Some(r) => intersect(&r, &list),
            });
            if result.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
        }
        result.unwrap_or_else(|| self.all.clone())
    }

    fn for_matcher(&self, m: &Matcher) -> Vec<u64> {
        let Some(values) = self.by_label.get(&m.name) else {
            return Vec::new();
        };
        if m.op == MatchOp::Equal {
            return values.get(&m.value).cloned().unwrap_or_default();
        }
        let mut out: Vec<u64> = values
            .iter()
            .filter(|(v, _)| m.matches(v))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        out.sort_unstable();
        out
    }

    /// Cardinality figures for the status page: the `limit` largest of
    /// each, as (name, count).
    pub(crate) fn cardinality(&self, limit: usize) -> Cardinality {
        let top = |mut v: Vec<(String, u64)>| {
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(limit);
            v
        };
        let by_metric = self
            .by_label
            .get(crate::labels::METRIC_NAME)
            .map(|m| {
                m.iter()
                    .map(|(v, ids)| (v.clone(), ids.len() as u64))
                    .collect()
            })
            .unwrap_or_default();
        let values_per_name = self
            .by_label
            .iter()
            .map(|(n, m)| (n.clone(), m.len() as u64))
            .collect();
        let bytes_per_name = self
            .by_label
            .iter()
            .map(|(n, m)| (n.clone(), m.keys().map(|v| v.len() as u64).sum()))
            .collect();
        let pairs = self
            .by_label
            .iter()
            .flat_map(|(n, m)| {
                m.iter()
                    .map(move |(v, ids)| (format!("{n}={v}"), ids.len() as u64))
            })
            .collect();
        Cardinality {
            series_by_metric: top(by_metric),
            values_by_label: top(values_per_name),
            bytes_by_label: top(bytes_per_name),
            series_by_pair: top(pairs),
            label_pairs: self.by_label.values().map(|m| m.len() as u64).sum(),
        }
    }

    pub(crate) fn label_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_label.keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .by_label
            .get(name)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default();
        values.sort();
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_intersect() {
        let mut p = Postings::default();
        p.add(1, [("__name__", "a"), ("job", "x")].into_iter());
        p.add(2, [("__name__", "a"), ("job", "y")].into_iter());
        p.add(3, [("__name__", "b"), ("job", "x")].into_iter());
        let eq = |n: &str, v: &str| Matcher::equal(n, v);
        assert_eq!(
            p.candidates(&[eq("__name__", "a"), eq("job", "x")]),
            vec![1]
        );
        let re = Matcher::new(MatchOp::RegexMatch, "job", "x|y").unwrap();
        assert_eq!(p.candidates(&[re]), vec![1, 2, 3]);
        // a matcher that matches empty does not narrow
        let ne = Matcher::new(MatchOp::NotEqual, "job", "x").unwrap();
        assert_eq!(p.candidates(&[ne]), vec![1, 2, 3]);
        assert_eq!(p.label_values("job"), vec!["x", "y"]);
        assert_eq!(p.label_names(), vec!["__name__", "job"]);
    }
}
