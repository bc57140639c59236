//! In-memory postings: for each label name and value, the sorted list of
//! series references that carry it.

use std::collections::HashMap;

use crate::fasthash::FxBuild;
use crate::labels::{MatchOp, Matcher};

mod values;
use values::{Later, Values};

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
    by_label: HashMap<String, Values, FxBuild>,
    all: Vec<u64>,
}

/// The series carrying one label pair, in order. Most values of a
/// high-cardinality label (an id, a path) have exactly one series, kept
/// without an allocation of its own.
enum Ids {
    One(u64),
    Many(Vec<u64>),
}

impl Ids {
    fn push(&mut self, id: u64) {
        match self {
            Ids::One(first) => *self = Ids::Many(vec![*first, id]),
            Ids::Many(v) => v.push(id),
        }
    }

    fn as_slice(&self) -> &[u64] {
        match self {
            Ids::One(id) => std::slice::from_ref(id),
            Ids::Many(v) => v,
        }
    }

    /// Keeps the ids `keep` accepts; false when none is left.
    fn retain(&mut self, keep: impl Fn(&u64) -> bool) -> bool {
        match self {
            Ids::One(id) => keep(id),
            Ids::Many(v) => {
                v.retain(keep);
                !v.is_empty()
            }
        }
    }
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
            values.push(value, id);
        }
    }

    /// A builder for the postings of about `series` series read at
    /// start-up, given in id order.
    pub(crate) fn loader(series: usize) -> Loader {
        Loader {
            names: Vec::new(),
            by_position: Vec::new(),
            all: Vec::with_capacity(series),
        }
    }

    /// Removes the given series from every list.
    pub(crate) fn remove_many(&mut self, ids: &std::collections::HashSet<u64>) {
        self.all.retain(|x| !ids.contains(x));
        for values in self.by_label.values_mut() {
            values.retain(|list| list.retain(|x| !ids.contains(x)));
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
            return values
                .get(m.value.as_str())
                .map(|ids| ids.as_slice().to_vec())
                .unwrap_or_default();
        }
        let mut out: Vec<u64> = values
            .iter()
            .filter(|(v, _)| m.matches(v))
            .flat_map(|(_, ids)| ids.as_slice().iter().copied())
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
                    .map(|(v, ids)| (v.to_string(), ids.as_slice().len() as u64))
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
            .map(|(n, m)| (n.clone(), m.iter().map(|(v, _)| v.len() as u64).sum()))
            .collect();
        let pairs = self
            .by_label
            .iter()
            .flat_map(|(n, m)| {
                m.iter()
                    .map(move |(v, ids)| (format!("{n}={v}"), ids.as_slice().len() as u64))
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
            .map(|v| v.iter().map(|(k, _)| k.to_string()).collect())
            .unwrap_or_default();
        values.sort();
        values
    }
}

/// Builds [`Postings`] for the series found at start-up. The same as
/// [`Postings::add`] for each, with two shortcuts for a million series:
/// a label name is looked for first where the previous series had its
/// label in the same position (series mostly come in families), and the
/// values of a label that has a new value for most series (an id, a path)
/// are kept aside and put in their table at the end, sized once and
/// filled in the order of its places (see [`Values::push_later`]),
/// instead of growing it twenty times and looking up every value at a
/// random place in it.
pub(crate) struct Loader {
    /// Each name's values, and those kept aside for its table (`None`
    /// while its values are added at once).
    names: Vec<(String, Values, Option<Vec<Later>>)>,
    /// Position in `names` of the n-th label of the previous series.
    by_position: Vec<usize>,
    all: Vec<u64>,
}

impl Loader {
    pub(crate) fn add<'a>(&mut self, id: u64, labels: impl Iterator<Item = (&'a str, &'a str)>) {
        debug_assert!(self.all.last().is_none_or(|&l| l < id));
        self.all.push(id);
        let seen = self.all.len();
        for (pos, (name, value)) in labels.enumerate() {
            let at = match self.by_position.get(pos) {
                Some(&i) if self.names[i].0 == name => i,
                _ => {
                    let i = match self.names.iter().position(|(n, ..)| n == name) {
                        Some(i) => i,
                        None => {
                            self.names.push((name.to_string(), Values::default(), None));
                            self.names.len() - 1
                        }
                    };
                    if pos < self.by_position.len() {
                        self.by_position[pos] = i;
                    } else {
                        self.by_position.push(i);
                    }
                    i
                }
            };
            let (_, values, later) = &mut self.names[at];
            match later {
                Some(later) => values.push_later(value, id, later),
                None => {
                    values.push(value, id);
                    // a new value for most series so far
                    let n = values.len();
                    if n >= 1 << 12 && n * 2 > seen {
                        *later = Some(Vec::with_capacity(n));
                    }
                }
            }
        }
    }

    pub(crate) fn finish(self) -> Postings {
        Postings {
            by_label: self
                .names
                .into_iter()
                .map(|(name, mut values, later)| {
                    if let Some(mut later) = later {
                        values.add_later(&mut later);
                    }
                    (name, values)
                })
                .collect(),
            all: self.all,
        }
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

    #[test]
    fn loader_builds_what_add_builds() {
        // families with different label sets and positions, a unique id
        // (its table is sized ahead), values shared across names
        let n = 30_000u64;
        let labels = |i: u64| -> Vec<(String, String)> {
            let mut l = vec![("__name__".to_string(), format!("m{}", i % 3))];
            if i % 3 == 1 {
                l.push(("code".into(), format!("{}", 200 + i % 5)));
            }
            l.push(("id".into(), i.to_string()));
            if !i.is_multiple_of(7) {
                l.push(("job".into(), format!("j{}", i % 10)));
            }
            if i % 3 == 2 {
                l.push(("zone".into(), format!("j{}", i % 4)));
            }
            l
        };
        let mut added = Postings::default();
        let mut loader = Postings::loader(n as usize);
        for i in 1..=n {
            let l = labels(i);
            added.add(i, l.iter().map(|(a, b)| (a.as_str(), b.as_str())));
            loader.add(i, l.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        }
        let loaded = loader.finish();
        assert_eq!(loaded.label_names(), added.label_names());
        for name in added.label_names() {
            assert_eq!(loaded.label_values(&name), added.label_values(&name));
        }
        let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        for ms in [
            vec![m(MatchOp::Equal, "__name__", "m1")],
            vec![m(MatchOp::Equal, "id", "12345")],
            vec![
                m(MatchOp::RegexMatch, "job", "j[13]"),
                m(MatchOp::Equal, "code", "201"),
            ],
            vec![m(MatchOp::NotEqual, "zone", "j1")],
            vec![],
        ] {
            let want = added.candidates(&ms);
            assert!(!want.is_empty());
            assert_eq!(loaded.candidates(&ms), want);
        }
        let (a, b) = (added.cardinality(5), loaded.cardinality(5));
        assert_eq!(a.series_by_pair, b.series_by_pair);
        assert_eq!(a.values_by_label, b.values_by_label);
        assert_eq!(a.label_pairs, b.label_pairs);
    }
}
