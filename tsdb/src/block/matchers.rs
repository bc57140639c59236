//! Resolving label matchers to series positions through a block's index.
//!
//! Matchers that do not match the empty string select: the union of the
//! postings of the label's values that match, intersected across matchers.
//! Matchers that match the empty string (so also series lacking the label)
//! subtract: the union of the postings of the values that do *not* match.
//! With no selecting matcher, subtraction starts from all series.
//!
//! Finding the values: `=` (and the value `!=` excludes) by binary search
//! in the postings offset table; regexes that are literal alternations
//! (`a|b|c`) by one binary search per literal; regexes with a literal
//! prefix (`foo.*`, `api-\d+`) by scanning only the values with that
//! prefix; anything else by scanning the label's values, which are
//! contiguous and sorted in the table.

use std::ops::Range;

use super::index::Index;
use crate::labels::{MatchOp, Matcher};
use crate::Error;

/// Series positions (sorted) matching all `matchers`.
pub(crate) fn postings_for_matchers(ix: &Index, matchers: &[Matcher]) -> Result<Vec<u32>, Error> {
    let mut acc: Option<Vec<u32>> = None;
    for m in matchers.iter().filter(|m| !m.matches_empty()) {
        let list = values_postings(ix, m, true)?;
        let next = match acc {
            None => list,
            Some(a) => intersect(&a, &list),
        };
        if next.is_empty() {
            return Ok(next);
        }
        acc = Some(next);
    }
    let mut acc = acc.unwrap_or_else(|| (0..ix.num_series()).collect());
    for m in matchers.iter().filter(|m| m.matches_empty()) {
        if m.op == MatchOp::RegexMatch && m.value == ".*" {
            continue;
        }
        let list = values_postings(ix, m, false)?;
        if !list.is_empty() {
            acc = subtract(&acc, &list);
        }
        if acc.is_empty() {
            break;
        }
    }
    Ok(acc)
}

/// The union of the postings of the values of `m.name` for which
/// `m.matches(v) == want`.
fn values_postings(ix: &Index, m: &Matcher, want: bool) -> Result<Vec<u32>, Error> {
    let Some(name) = ix.lookup_symbol(&m.name)? else {
        return Ok(Vec::new());
    };
    let range = ix.name_entries(name)?;
    let entries = matching_entries(ix, m, want, &range)?;
    let mut out = Vec::new();
    for (k, e) in entries.iter().enumerate() {
        let list = ix.postings(ix.entry(*e)?.offset)?;
        if k == 0 {
            out = list;
        } else {
            out.extend_from_slice(&list);
        }
    }
    if entries.len() > 1 {
        // lists of one name's values are disjoint: no dedup needed
        out.sort_unstable();
    }
    Ok(out)
}

/// Table entries in `range` (one label name) whose value `v` has
/// `m.matches(v) == want`.
fn matching_entries(
    ix: &Index,
    m: &Matcher,
    want: bool,
    range: &Range<u64>,
) -> Result<Vec<u64>, Error> {
    // the set of values wanted is "values equal to / matched by m.value"
    let positive_literal = matches!(
        (m.op, want),
        (MatchOp::Equal, true) | (MatchOp::NotEqual, false)
    );
    let positive_regex = matches!(
        (m.op, want),
        (MatchOp::RegexMatch, true) | (MatchOp::RegexNoMatch, false)
    );
    if positive_literal {
        return Ok(ix.find_value(range, &m.value)?.into_iter().collect());
    }
    if positive_regex {
        if m.value == ".+" || m.value == ".*" {
            return Ok(range.clone().collect());
        }
        if let Some(lits) = literal_alternatives(&m.value) {
            let mut out = Vec::new();
            for l in lits {
                if let Some(e) = ix.find_value(range, &l)? {
                    out.push(e);
                }
            }
            out.sort_unstable();
            out.dedup();
            return Ok(out);
        }
        let prefix = literal_prefix(&m.value);
        if !prefix.is_empty() {
            let mut out = Vec::new();
            let mut i = ix.value_lower_bound(range, prefix.as_bytes())?;
            while i < range.end {
                let v = ix.symbol(ix.entry(i)?.value)?;
                if !v.starts_with(prefix.as_str()) {
                    break;
                }
                if m.matches(v) == want {
                    out.push(i);
                }
                i += 1;
            }
            return Ok(out);
        }
    }
    let mut out = Vec::new();
    for i in range.clone() {
        if m.matches(ix.symbol(ix.entry(i)?.value)?) == want {
            out.push(i);
        }
    }
    Ok(out)
}

/// Regex metacharacters (outside a backslash escape).
fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
    )
}

/// Splits a regex into its literal characters up to the first
/// metacharacter: returns the literal and the rest. `\` followed by a
/// character the regex crate treats as escapable punctuation is a literal;
/// any other escape (`\d`, `\b`, `\<`) stops.
fn literal_run(re: &str) -> (String, &str) {
    let mut lit = String::new();
    let mut it = re.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c == '\\' {
            match it.peek() {
                Some(&(_, e)) if is_meta(e) || matches!(e, '#' | '&' | '-' | '~') => {
                    lit.push(e);
                    it.next();
                    continue;
                }
                _ => return (lit, &re[i..]),
            }
        }
        if is_meta(c) {
            return (lit, &re[i..]);
        }
        lit.push(c);
    }
    (lit, "")
}

/// If `re` is a plain alternation of literals (`a|b|c`, `10\.0\.0\.1`),
/// the literals.
pub(crate) fn literal_alternatives(re: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = re;
    loop {
        let (lit, r) = literal_run(rest);
        out.push(lit);
        match r.strip_prefix('|') {
            Some(r) => rest = r,
            None if r.is_empty() => return Some(out),
            None => return None,
        }
    }
}

/// A literal every string the (anchored) regex matches starts with; empty
/// if none is known. Regexes with `|` anywhere get none (an alternation
/// could escape the prefix), and so do those that are not a whole regex
/// on their own: in `^(?s:RE)$` a `)` without its `(` closes the group
/// around them, and what follows can make the prefix optional (`a.)*(.*`
/// matches `x`).
pub(crate) fn literal_prefix(re: &str) -> String {
    if re.contains('|') || regex_syntax::ast::parse::Parser::new().parse(re).is_err() {
        return String::new();
    }
    let (mut lit, rest) = literal_run(re);
    // `ab?`, `ab*`, `ab{0,2}`: the last literal character is optional; so
    // it is in `ab+*` and `ab+{0,1}` (a repetition of the repetition),
    // and `ab+?` (lazy) is taken the same way, to be safe
    let repeated = rest
        .strip_prefix('+')
        .is_some_and(|r| r.starts_with(['?', '*', '{', '+']));
    if rest.starts_with(['?', '*', '{']) || repeated {
        lit.pop();
    }
    lit
}

pub(crate) use crate::postings::intersect;

/// The elements of sorted `a` not in sorted `b`.
pub(crate) fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_prefix_when_the_regex_closes_its_wrapper() {
        // found by fuzzing: in `^(?s:'.s*.)*(.*)$` the `)` ends the
        // wrapping group and `*` makes the `'` optional, so `x` matches
        let re = "'.s*.)*(.*";
        assert!(Matcher::new(MatchOp::RegexMatch, "a", re)
            .unwrap()
            .matches("x"));
        assert_eq!(literal_prefix(re), "");
        assert_eq!(literal_prefix("a.)?(b"), "");
        assert_eq!(literal_prefix("a(b)c"), "a");
    }

    #[test]
    fn no_prefix_when_a_repetition_is_repeated() {
        // found by fuzzing: `t+*` is `(t+)*`, which matches the empty
        // string (Go's regexp refuses it; the regex crate takes it)
        let m = Matcher::new(MatchOp::RegexMatch, "a", "t+*").unwrap();
        assert!(m.matches(""));
        assert_eq!(literal_prefix("t+*"), "");
        assert_eq!(literal_prefix("at+{0,1}"), "a");
        assert_eq!(literal_prefix("at+?"), "a");
        assert_eq!(literal_prefix("at+x"), "at");
    }

    #[test]
    fn regex_analysis() {
        let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(literal_alternatives("a|bc|d"), v(&["a", "bc", "d"]));
        assert_eq!(literal_alternatives("foo"), v(&["foo"]));
        assert_eq!(literal_alternatives("10\\.0\\.0\\.1"), v(&["10.0.0.1"]));
        assert_eq!(literal_alternatives("a|"), v(&["a", ""]));
        assert_eq!(literal_alternatives("a.*"), None);
        assert_eq!(literal_alternatives("a|b+"), None);
        assert_eq!(literal_alternatives("\\d"), None);
        assert_eq!(literal_prefix("foo.*"), "foo");
        assert_eq!(literal_prefix("foo"), "foo");
        assert_eq!(literal_prefix("fo+"), "fo");
        assert_eq!(literal_prefix("foo?"), "fo");
        assert_eq!(literal_prefix("foo*x"), "fo");
        assert_eq!(literal_prefix("foo{0,2}"), "fo");
        assert_eq!(literal_prefix("api-\\d+"), "api-");
        assert_eq!(literal_prefix("a\\.b.*"), "a.b");
        assert_eq!(literal_prefix("foo.*|bar"), "");
        assert_eq!(literal_prefix("(?i)foo"), "");
        assert_eq!(literal_prefix(".*foo"), "");
    }

    #[test]
    fn set_ops() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 7, 9]), vec![3, 7]);
        assert_eq!(subtract(&[1, 3, 5, 7], &[3, 4, 7, 9]), vec![1, 5]);
        assert_eq!(subtract(&[1, 2], &[]), vec![1, 2]);
    }
}
