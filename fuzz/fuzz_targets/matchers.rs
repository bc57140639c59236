//! Label matchers: a regex (before the first newline) against a value
//! (after it). The tsdb matcher, the relabel regex and the block reader's
//! literal analysis must agree.
#![no_main]

use relabel::Regexp;
use libfuzzer_sys::fuzz_target;
use tsdb::labels::{MatchOp, Matcher};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = promql::parser::parse_metric_selector(s);
    let (re, value) = s.split_once('\n').unwrap_or((s, ""));
    let Ok(m) = Matcher::new(MatchOp::RegexMatch, "a", re) else {
        return;
    };
    let hit = m.matches(value);
    let not = Matcher::new(MatchOp::RegexNoMatch, "a", re).expect("compiled as =~");
    assert_eq!(not.matches(value), !hit);
    if let Ok(r) = Regexp::new(re) {
        assert_eq!(r.is_match(value), hit, "relabel regex {re:?} on {value:?}");
    }
    let (alternatives, prefix) = tsdb::fuzzing::regex_literals(re);
    if let Some(alts) = alternatives {
        assert_eq!(
            alts.iter().any(|a| a == value),
            hit,
            "{re:?} taken as the literals {alts:?}, on {value:?}"
        );
        for a in &alts {
            assert!(m.matches(a), "{re:?} taken as the literals {alts:?}");
        }
    }
    if hit {
        assert!(
            value.starts_with(&prefix),
            "{re:?} matches {value:?}, taken to start with {prefix:?}"
        );
    }
});
