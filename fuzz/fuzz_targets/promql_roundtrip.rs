//! Parse → print → parse: what the printer writes (the `Display` form and
//! `format_query`'s pretty form) parses again to an expression that prints
//! the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(e) = promql::parse(src) else {
        return;
    };
    let printed = e.to_string();
    let again = promql::parse(&printed)
        .unwrap_or_else(|err| panic!("{src:?} printed as {printed:?}, which fails: {err}"));
    assert_eq!(printed, again.to_string(), "from {src:?}");
    let pretty = e.pretty();
    let again = promql::parse(&pretty)
        .unwrap_or_else(|err| panic!("{src:?} pretty-printed as {pretty:?}, which fails: {err}"));
    assert_eq!(
        printed,
        again.to_string(),
        "pretty form {pretty:?} of {src:?}"
    );
});
