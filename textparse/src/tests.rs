//! What both exposition parsers are tested on alike: tables of lines whose
//! lexing the formats share, and the properties every parser keeps (errors
//! are sticky, accessors never panic, no input panics). Each format's own
//! rules are tested in `prom/tests.rs` and `openmetrics/tests.rs`.

use super::lex::NORMAL_NAN_BITS;
use super::{Entry, OpenMetricsParser, ParseError, Parser, PromParser};

#[derive(Clone, Copy, Debug)]
enum Format {
    Prom,
    OpenMetrics,
}

const FORMATS: [Format; 2] = [Format::Prom, Format::OpenMetrics];

impl Format {
    fn parser(self, body: &[u8]) -> Parser<'_> {
        match self {
            Format::Prom => Parser::Prom(PromParser::new(body)),
            Format::OpenMetrics => Parser::OpenMetrics(OpenMetricsParser::new(body)),
        }
    }

    /// A body of `lines` (each ending in a line feed) in this format.
    fn body(self, lines: &str) -> String {
        match self {
            Format::Prom => lines.to_string(),
            Format::OpenMetrics => format!("{lines}# EOF\n"),
        }
    }
}

pub(super) fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A label value escaped as both formats write it.
pub(super) use crate::escape_label_value as escape;

/// Checks a series printed and read back: its value (any NaN reads as the
/// normal NaN) and its labels, `__name__` first.
pub(super) fn check_read_back(
    got_v: f64,
    v: f64,
    got_labels: &[(String, String)],
    name: &str,
    labels: Vec<(String, String)>,
) -> Result<(), proptest::test_runner::TestCaseError> {
    if v.is_nan() {
        proptest::prop_assert_eq!(got_v.to_bits(), NORMAL_NAN_BITS);
    } else {
        proptest::prop_assert_eq!(got_v.to_bits(), v.to_bits());
    }
    let mut want = vec![("__name__".to_string(), name.to_string())];
    want.extend(labels);
    proptest::prop_assert_eq!(got_labels, &want[..]);
    Ok(())
}

/// The labels and value of the one series of `body`, or the first error.
fn one_series(f: Format, body: &[u8]) -> Result<(Vec<(String, String)>, f64), ParseError> {
    let mut p = f.parser(body);
    let mut out = Vec::new();
    let mut got = None;
    while let Some(e) = p.next()? {
        if e == Entry::Series {
            assert!(got.is_none(), "{f:?} {:?}: more than one series", s(body));
            p.labels(&mut out);
            got = Some((out.clone(), p.series().2));
        }
    }
    Ok(got.unwrap_or_else(|| panic!("{f:?} {:?}: no series", s(body))))
}

/// A sample line of series `a`, its labels after `__name__` and its value.
type LineCase = (&'static str, &'static [(&'static str, &'static str)], f64);

/// Sample lines both formats read alike: names, quoted values and their
/// escapes, values.
#[test]
fn shared_lexing_reads_alike() {
    let normal_nan = f64::from_bits(NORMAL_NAN_BITS);
    let cases: &[LineCase] = &[
        ("a 1", &[], 1.0),
        ("a{} 3", &[], 3.0),
        ("a{_x1=\"v\"} 4", &[("_x1", "v")], 4.0),
        (r#"a{x="q\"b\\c\nd"} 5"#, &[("x", "q\"b\\c\nd")], 5.0),
        // other escapes are kept as written
        (r#"a{x="\t\x"} 6"#, &[("x", r"\t\x")], 6.0),
        ("a{x=\"\",y=\"é\"} 7", &[("x", ""), ("y", "é")], 7.0),
        ("a{x=\"}\"} 8", &[("x", "}")], 8.0),
        ("a 1.5e3", &[], 1500.0),
        ("a -0.25", &[], -0.25),
        ("a .5", &[], 0.5),
        ("a 5.", &[], 5.0),
        ("a 1E-2", &[], 0.01),
        ("a +Inf", &[], f64::INFINITY),
        ("a -inf", &[], f64::NEG_INFINITY),
        ("a Infinity", &[], f64::INFINITY),
        ("a 123456789012345678", &[], 123_456_789_012_345_680.0),
        ("a NaN", &[], normal_nan),
        ("a nan", &[], normal_nan),
    ];
    for f in FORMATS {
        for &(line, want_labels, want_v) in cases {
            let body = f.body(&format!("{line}\n"));
            let (got, v) =
                one_series(f, body.as_bytes()).unwrap_or_else(|e| panic!("{f:?} {line:?}: {e}"));
            let mut want = labels(&[("__name__", "a")]);
            want.extend(labels(want_labels));
            assert_eq!(got, want, "{f:?} {line:?}");
            assert_eq!(v.to_bits(), want_v.to_bits(), "{f:?} {line:?}");
        }
    }
}

/// Lines both formats reject, with the same message.
#[test]
fn shared_lexing_rejects_alike() {
    let cases = [
        ("a 0x1p3", "unsupported character in float"),
        ("a 1_000", "unsupported character in float"),
        (
            "a 1e999",
            "strconv.ParseFloat: parsing \"1e999\": value out of range",
        ),
        ("a 1x", "strconv.ParseFloat: parsing \"1x\": invalid syntax"),
        (
            "a{x=\"1\",x=\"2\"} 1",
            "label name \"x\" is not unique: invalid sample",
        ),
        (
            "a{__name__=\"b\"} 1",
            "label name \"__name__\" is not unique: invalid sample",
        ),
    ];
    for f in FORMATS {
        for (line, want) in cases {
            let body = f.body(&format!("{line}\n"));
            let e = one_series(f, body.as_bytes()).expect_err(line);
            assert_eq!(e.line, 1, "{f:?} {line:?}");
            assert_eq!(e.msg, want, "{f:?} {line:?}");
        }
    }
}

#[test]
fn error_is_sticky_and_accessors_never_panic() {
    for (f, body) in [
        (Format::Prom, "a 1\nb x\nc 3\n"),
        (Format::OpenMetrics, "a 1\nb x\n# EOF\n"),
    ] {
        let mut p = f.parser(body.as_bytes());
        // Accessors before any entry.
        let _ = p.series();
        let _ = p.help();
        let _ = p.metric_type();
        let _ = p.unit();
        if let Parser::OpenMetrics(p) = &p {
            let _ = p.exemplar();
        }
        let mut out = Vec::new();
        p.labels(&mut out);
        assert_eq!(p.next(), Ok(Some(Entry::Series)), "{f:?}");
        let first = p.next().unwrap_err();
        assert_eq!(first.line, 2, "{f:?}");
        assert_eq!(p.next(), Err(first.clone()), "{f:?}");
        assert_eq!(p.next(), Err(first), "{f:?}");
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Fragments that reach deep into both grammars when concatenated.
    const COMMON_FRAGMENTS: &[&[u8]] = &[
        b"a",
        b"{",
        b"}",
        b"=",
        b",",
        b"\"",
        b"\\",
        b" ",
        b"\n",
        b"\r",
        b"\0",
        b"#",
        b"counter",
        b"1",
        b"-1",
        b"1.5e3",
        b"NaN",
        b"+Inf",
        b"\xc3\xa9",
        b"\xff",
        b"le=\"+Inf\"",
    ];

    /// Fragments for the text format only.
    const PROM_FRAGMENTS: &[&[u8]] = &[
        b"m_1",
        b":",
        b"\t",
        b"# HELP ",
        b"# TYPE ",
        b"untyped",
        b"9",
        b"-",
        b"e",
        b"_",
        b"p",
        b"__name__",
    ];

    /// Fragments for OpenMetrics only.
    const OPENMETRICS_FRAGMENTS: &[&[u8]] = &[
        b"a_total",
        b"a_bucket",
        b"_count",
        b"_sum",
        b"_gsum",
        b"_created",
        b" # {",
        b"# EOF",
        b"# HELP a ",
        b"# TYPE a ",
        b"# UNIT a ",
        b"histogram",
        b"gaugehistogram",
        b"summary",
        b"stateset",
        b"info",
        b"le=\"1\"",
        b"quantile=\"0.5\"",
        b"a=\"x\"",
    ];

    /// Pulls every entry, calling the accessors of each; an error must be
    /// on a line of the body and come again, and each call must progress.
    fn drain(f: Format, body: &[u8]) {
        let mut p = f.parser(body);
        let mut out = Vec::new();
        let mut n = 0;
        loop {
            match p.next() {
                Ok(Some(Entry::Series)) => {
                    let (raw, _, _) = p.series();
                    assert!(!raw.is_empty());
                    p.labels(&mut out);
                    assert_eq!(out[0].0, "__name__");
                    assert!(raw.starts_with(out[0].1.as_bytes()));
                    if let Parser::OpenMetrics(p) = &p {
                        let _ = p.exemplar();
                    }
                }
                Ok(Some(_)) => {
                    let _ = p.help();
                    let _ = p.metric_type();
                    let _ = p.unit();
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(e.line >= 1);
                    assert!(e.line <= body.iter().filter(|&&c| c == b'\n').count() + 1);
                    assert_eq!(p.next(), Err(e));
                    break;
                }
            }
            n += 1;
            assert!(n <= body.len() + 1, "no progress");
        }
    }

    fn fragments(own: &[&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
        let all = [COMMON_FRAGMENTS, own].concat();
        prop::collection::vec(prop::sample::select(all), 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
            for f in FORMATS {
                drain(f, &body);
            }
        }

        #[test]
        fn fragments_never_panic(
            prom in fragments(PROM_FRAGMENTS),
            om in fragments(OPENMETRICS_FRAGMENTS),
        ) {
            drain(Format::Prom, &prom);
            drain(Format::OpenMetrics, &om);
        }
    }
}
