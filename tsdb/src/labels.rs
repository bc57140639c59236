//! Label sets and label matchers.
//!
//! A series is identified by its label set: name/value pairs sorted by name,
//! with the metric name stored under [`METRIC_NAME`]. Matchers select series
//! by one label each, with Prometheus's four operators.

use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, LazyLock};

use regex::Regex;

mod text;
pub use text::LabelStr;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label: a name and a value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    /// Label name.
    pub name: LabelStr,
    /// Label value.
    pub value: LabelStr,
}

impl Label {
    /// A label from anything string-like.
    pub fn new(name: impl Into<LabelStr>, value: impl Into<LabelStr>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A label set, sorted by name, names unique, no empty values.
///
/// Immutable and shared: a clone is a reference count, not a copy of the
/// strings (a query hands the same set from stage to stage, and from
/// step to step). The labels and their short strings are one allocation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Arc<[Label]>);

static EMPTY: LazyLock<Labels> = LazyLock::new(|| Labels(Arc::from(Vec::new())));

impl Default for Labels {
    fn default() -> Self {
        Labels::empty()
    }
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        EMPTY.clone()
    }

    /// Builds a label set from labels in any order. Labels with empty values
    /// are dropped (an empty value means "absent"); for repeated names the
    /// last one wins.
    pub fn new(mut labels: Vec<Label>) -> Self {
        labels.retain(|l| !l.value.is_empty());
        // stable sort keeps input order among equal names; keep the last
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(labels.len());
        for l in labels {
            match out.last_mut() {
                Some(last) if last.name == l.name => *last = l,
                _ => out.push(l),
            }
        }
        Labels(Arc::from(out))
    }

    /// Builds a label set from `(name, value)` pairs.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Self {
        Labels::new(
            pairs
                .iter()
                .map(|(n, v)| Label::new(n.as_ref(), v.as_ref()))
                .collect(),
        )
    }

    /// Builds from labels already sorted by name with unique names and
    /// non-empty values (as decoded from our own files).
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Labels(Arc::from(labels))
    }

    /// As [`Labels::from_sorted`], from an iterator yielding exactly `n`
    /// labels, built in one allocation.
    ///
    /// # Panics
    ///
    /// If `labels` ends before `n` labels.
    pub fn from_sorted_iter(n: usize, mut labels: impl Iterator<Item = Label>) -> Self {
        // a mapped range has a trusted length: the slice is allocated once
        let set: Arc<[Label]> = (0..n)
            .map(|_| labels.next().expect("fewer labels than counted"))
            .collect();
        debug_assert!(labels.next().is_none());
        debug_assert!(set.windows(2).all(|w| w[0].name < w[1].name));
        Labels(set)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name, if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Whether `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Iterates the labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels as a slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Consumes the set, returning a copy of its labels.
    pub fn into_vec(self) -> Vec<Label> {
        self.0.to_vec()
    }

    /// A copy with `name` set to `value` (removed when `value` is empty).
    pub fn with(&self, name: &str, value: &str) -> Labels {
        let mut v = self.0.to_vec();
        match v.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                v.remove(i);
            }
            Ok(i) => v[i].value = value.into(),
            Err(_) if value.is_empty() => {}
            Err(i) => v.insert(i, Label::new(name, value)),
        }
        Labels(Arc::from(v))
    }

    /// A copy without the named labels.
    pub fn without(&self, names: &[&str]) -> Labels {
        if !self.0.iter().any(|l| names.contains(&l.name.as_str())) {
            return self.clone();
        }
        Labels(
            self.0
                .iter()
                .filter(|l| !names.contains(&l.name.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// A copy with only the named labels.
    pub fn keep_only(&self, names: &[&str]) -> Labels {
        if self.0.iter().all(|l| names.contains(&l.name.as_str())) {
            return self.clone();
        }
        // the grouping key of an aggregation without `by` labels, once a
        // series: the shared empty set rather than an allocation
        if !self.0.iter().any(|l| names.contains(&l.name.as_str())) {
            return Labels::empty();
        }
        Labels(
            self.0
                .iter()
                .filter(|l| names.contains(&l.name.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// A copy without the metric name.
    pub fn without_metric_name(&self) -> Labels {
        self.without(&[METRIC_NAME])
    }

    /// A 64-bit hash of the label set, stable within one process.
    pub fn hash64(&self) -> u64 {
        hash_pairs(self.0.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }
}

/// The hash of a label set given as its `(name, value)` pairs in order:
/// each string is followed by a byte no UTF-8 string holds, so sets that
/// differ only in where a string ends hash apart.
pub(crate) fn hash_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = crate::fasthash::FxBuild.build_hasher();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

impl fmt::Display for Labels {
    /// Prometheus's notation: `name{a="b", c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(n) = name {
            f.write_str(n)?;
        }
        let rest: Vec<&Label> = self.0.iter().filter(|l| l.name != METRIC_NAME).collect();
        if rest.is_empty() && name.is_some() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, l) in rest.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}=\"{}\"", l.name, escape_value(&l.value))?;
        }
        f.write_str("}")
    }
}

fn escape_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

impl FromIterator<Label> for Labels {
    fn from_iter<I: IntoIterator<Item = Label>>(iter: I) -> Self {
        Labels::new(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The operator of a label matcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored)
    RegexMatch,
    /// `!~` (fully anchored)
    RegexNoMatch,
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        })
    }
}

/// Selects series whose label `name` relates to `value` by `op`. An absent
/// label matches as the empty string, as in Prometheus.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// The operator.
    pub op: MatchOp,
    /// The label name.
    pub name: String,
    /// The value or regular expression.
    pub value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.op == other.op && self.name == other.name && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher; regular expressions are anchored at both ends.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, regex::Error> {
        let value = value.into();
        let re = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => {
                Some(Regex::new(&format!("^(?s:{value})$"))?)
            }
            _ => None,
        };
        Ok(Matcher {
            op,
            name: name.into(),
            value,
            re,
        })
    }

    /// An equality matcher (never fails).
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            op: MatchOp::Equal,
            name: name.into(),
            value: value.into(),
            re: None,
        }
    }

    /// Whether a label value (empty for an absent label) satisfies this matcher.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::RegexMatch => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::RegexNoMatch => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Whether this matcher matches the empty string (so also series that
    /// lack the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Whether a whole label set satisfies this matcher.
    pub fn matches_labels(&self, ls: &Labels) -> bool {
        self.matches(ls.get(&self.name).unwrap_or(""))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}\"{}\"",
            self.name,
            self.op,
            escape_value(&self.value)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_nonempty() {
        let ls = Labels::from_pairs(&[("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        let names: Vec<_> = ls
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(names, vec![("a", "3"), ("b", "2")]);
        assert_eq!(ls.get("b"), Some("2"));
        assert_eq!(ls.get("c"), None);
    }

    #[test]
    fn with_and_without() {
        let ls = Labels::from_pairs(&[("__name__", "up"), ("job", "x")]);
        assert_eq!(ls.with("instance", "i").get("instance"), Some("i"));
        assert_eq!(ls.with("job", "").get("job"), None);
        assert_eq!(ls.without_metric_name().len(), 1);
        assert_eq!(ls.to_string(), "up{job=\"x\"}");
        // nothing to drop or everything kept: the same set, shared
        let same = ls.without(&["instance"]);
        assert_eq!(same, ls);
        assert!(Arc::ptr_eq(&same.0, &ls.0));
        assert!(Arc::ptr_eq(
            &ls.keep_only(&["__name__", "job", "x"]).0,
            &ls.0
        ));
        assert_eq!(ls.keep_only(&["job"]), Labels::from_pairs(&[("job", "x")]));
        // nothing kept: the shared empty set
        for names in [&[][..], &["other"][..]] {
            let none = ls.keep_only(names);
            assert!(none.is_empty());
            assert!(Arc::ptr_eq(&none.0, &Labels::empty().0));
        }
        assert_eq!(Labels::default(), Labels::empty());
        assert!(Labels::default().is_empty());
    }

    #[test]
    fn a_shared_set_is_copied_when_taken_apart() {
        let ls = Labels::from_pairs(&[("a", "1"), ("b", "2")]);
        let copy = ls.clone();
        let v = ls.into_vec();
        assert_eq!(v, vec![Label::new("a", "1"), Label::new("b", "2")]);
        // the clone still holds its labels; alone, a set gives them up
        assert_eq!(copy.len(), 2);
        assert_eq!(copy.into_vec(), v);
    }

    #[test]
    fn matchers() {
        let m = Matcher::new(MatchOp::RegexMatch, "a", "fo+").unwrap();
        assert!(m.matches("foo"));
        assert!(!m.matches("xfoo"), "regex is anchored");
        let m = Matcher::new(MatchOp::RegexNoMatch, "a", "").unwrap();
        assert!(!m.matches(""));
        assert!(m.matches("x"));
        let m = Matcher::new(MatchOp::NotEqual, "a", "x").unwrap();
        assert!(m.matches_empty());
        assert!(Matcher::new(MatchOp::RegexMatch, "a", "(").is_err());
    }
}
