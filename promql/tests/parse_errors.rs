//! Parse errors compared with Prometheus's: every failing input of the
//! parser test table of Prometheus 3.14 (`testdata/parse_errors_v3.14.tsv`)
//! is parsed, and the message (`line:col: parse error: ...`) must be
//! Prometheus's word for word, except for the inputs listed in
//! [`DIFFERENT`] with the reason. An input of that list that comes to
//! match fails the test too, so the list stays true.
//!
//! Set `PARSE_ERRORS_VERBOSE=1` to print every comparison.

use std::collections::HashMap;

/// Inputs whose message differs from Prometheus's, and why.
const DIFFERENT: &[(&[u8], &str)] = &[
    (
        b"some_metric{a=\"\xff\"}",
        "the byte 0xff is not UTF-8: a query reaches the parser as a Rust string",
    ),
    (
        b"label_replace(a, `b`, `c\xff`, `d`, `.*`)",
        "the byte 0xff is not UTF-8: a query reaches the parser as a Rust string",
    ),
];

struct Vector {
    line: usize,
    input: Vec<u8>,
    message: String,
    exact: bool,
}

fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut it = field.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            other => panic!("bad escape \\{:?}", other.map(|&c| c as char)),
        }
    }
    out
}

/// The vectors of the file: lines of five tab-separated fields (lines
/// without a tab are comments).
fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/parse_errors_v3.14.tsv"
    );
    let text = std::fs::read(path).expect("reading the test vectors");
    let mut out = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if !line.contains(&b'\t') {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        assert_eq!(fields.len(), 5, "line {}: {} fields", i + 1, fields.len());
        let message = String::from_utf8(unescape(fields[1]))
            .unwrap_or_else(|_| panic!("line {}: message is not UTF-8", i + 1));
        out.push(Vector {
            line: i + 1,
            input: unescape(fields[0]),
            message,
            exact: match fields[4] {
                b"exact" => true,
                b"substring" => false,
                k => panic!("line {}: kind {:?}", i + 1, String::from_utf8_lossy(k)),
            },
        });
    }
    out
}

/// flint's message for `input`, or why there is none.
fn flint_message(input: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(input) else {
        return "(input is not UTF-8: a query is a string)".into();
    };
    match promql::parse(text) {
        Ok(expr) => format!("(parsed: {expr:?})"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn parse_errors_are_prometheus_3_14s() {
    let vectors = vectors();
    assert!(vectors.len() >= 140, "only {} vectors", vectors.len());
    let different: HashMap<&[u8], &str> = DIFFERENT.iter().copied().collect();
    let verbose = std::env::var_os("PARSE_ERRORS_VERBOSE").is_some();
    let (mut same, mut listed) = (0, 0);
    let mut problems = Vec::new();
    for v in &vectors {
        let got = flint_message(&v.input);
        let matches = if v.exact {
            got == v.message
        } else {
            got.contains(&v.message)
        };
        let input = String::from_utf8_lossy(&v.input);
        if verbose {
            let mark = if matches { "same" } else { "DIFF" };
            println!(
                "{mark} {input:?}\n  prometheus: {}\n  flint:      {got}",
                v.message
            );
        }
        match (matches, different.get(v.input.as_slice())) {
            (true, None) => same += 1,
            (false, Some(_)) => listed += 1,
            (true, Some(_)) => problems.push(format!(
                "line {}: {input:?} now matches Prometheus; take it off the list",
                v.line
            )),
            (false, None) => problems.push(format!(
                "line {}: {input:?}\n  prometheus: {}\n  flint:      {got}",
                v.line, v.message
            )),
        }
    }
    for (input, _) in DIFFERENT {
        assert!(
            vectors.iter().any(|v| v.input == *input),
            "listed input {:?} is not a vector",
            String::from_utf8_lossy(input)
        );
    }
    println!(
        "{same} of {} parse errors as Prometheus 3.14's, {listed} listed as different",
        vectors.len()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
