#[test]
fn le_and_quantile_are_normalised_like_prometheus_3() {
    let body = b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n# TYPE s summary\ns{quantile=\"0.5\"} 3\n# TYPE g gauge\ng{le=\"1\"} 4\nother{quantile=\"1\"} 5\n";
    let mut p = PromParser::new(body);
    let mut got = Vec::new();
    let mut out = Vec::new();
    while let Some(e) = p.next().unwrap() {
        if e == Entry::Series {
            p.labels(&mut out);
            got.push(out[1].1.clone());
        }
    }
    assert_eq!(got, vec!["1.0", "+Inf", "0.5", "1", "1"]);
}

use super::super::tests::{check_read_back, escape, labels, s};
use super::*;

/// One parsed entry, owned, for comparisons.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Help(String, String),
    Type(String, MetricType),
    Comment(String),
    Series {
        raw: String,
        ts: Option<i64>,
        v: f64,
        labels: Vec<(String, String)>,
    },
}

fn parse_all(body: &[u8]) -> Result<Vec<Item>, ParseError> {
    let (items, err, _) = parse_hinted(body, &[]);
    err.map_or(Ok(items), Err)
}

/// Parses `body` offering `hints` in turn, as a scrape cache does (the
/// next one is offered once the last is taken): the items up to the
/// first error, the error, and how many hints were taken.
fn parse_hinted(body: &[u8], hints: &[Vec<u8>]) -> (Vec<Item>, Option<ParseError>, usize) {
    let mut p = PromParser::new(body);
    let mut out = Vec::new();
    let mut taken = 0;
    loop {
        let hint = hints.get(taken).map_or(&[][..], |h| &h[..]);
        let e = match p.next_hinted(hint) {
            Ok(Some(e)) => e,
            Ok(None) => return (out, None, taken),
            Err(e) => return (out, Some(e), taken),
        };
        if e == Entry::Series && p.hint_taken() {
            assert_eq!(p.series().0, hint);
            taken += 1;
        }
        out.push(match e {
            Entry::Help => {
                let (m, h) = p.help();
                Item::Help(s(m), h.into_owned())
            }
            Entry::Type => {
                let (m, t) = p.metric_type();
                Item::Type(s(m), t)
            }
            Entry::Comment => Item::Comment(s(p.comment())),
            Entry::Series => {
                let (raw, ts, v) = p.series();
                let mut labels = vec![("junk".to_string(), "junk".to_string())];
                p.labels(&mut labels);
                Item::Series {
                    raw: s(raw),
                    ts,
                    v,
                    labels,
                }
            }
            other => panic!("unexpected entry {other:?}"),
        });
    }
}

/// The raw series of `body`'s sample lines before any error.
fn raws(body: &[u8]) -> Vec<Vec<u8>> {
    parse_hinted(body, &[])
        .0
        .into_iter()
        .filter_map(|i| match i {
            Item::Series { raw, .. } => Some(raw.into_bytes()),
            _ => None,
        })
        .collect()
}

/// Items with values as bits, so that NaNs compare.
fn exact(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            Item::Series { raw, ts, v, labels } => {
                format!("{raw:?} {ts:?} {:x} {labels:?}", v.to_bits())
            }
            other => format!("{other:?}"),
        })
        .collect()
}

/// Parsing with hints gives what parsing without them gives.
fn same_with_hints(body: &[u8], hints: &[Vec<u8>]) -> usize {
    let (want, want_err, _) = parse_hinted(body, &[]);
    let (got, got_err, taken) = parse_hinted(body, hints);
    assert_eq!(exact(&got), exact(&want), "{:?} hints {hints:?}", s(body));
    assert_eq!(got_err, want_err, "{:?} hints {hints:?}", s(body));
    taken
}

#[test]
fn hinted_series_parse_as_without_hints() {
    let body = b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2 1000\nfoo 1\nfoo_bar 2\nfoo {a=\"b\"} 3\nfoo\t{a=\"b\"} 4\nbar{a=\"}\"}  5\t\n";
    let own = raws(body);
    assert_eq!(own.len(), 7);
    // the same body: every series is taken, le still normalised
    assert_eq!(same_with_hints(body, &own), 7);
    // a bare name is not taken for a longer name or for labels after it
    assert_eq!(
        same_with_hints(b"foo_bar 1\nfoo {a=\"b\"} 2\n", &[b"foo".to_vec()]),
        0
    );
    assert_eq!(
        same_with_hints(b"foo{a=\"b\"}1\n", &[b"foo{a=\"b\"}".to_vec()]),
        0
    );
    // a taken series still gets its value checked
    assert_eq!(
        same_with_hints(b"foo 1\nfoo 1x\n", &[b"foo".to_vec(), b"foo".to_vec()]),
        1
    );
    // a hint waits for its line
    assert_eq!(same_with_hints(body, &own[3..]), 4);
}

fn series(body: &str) -> Vec<Item> {
    parse_all(body.as_bytes())
        .unwrap_or_else(|e| panic!("{body:?}: {e}"))
        .into_iter()
        .filter(|i| matches!(i, Item::Series { .. }))
        .collect()
}

fn one(body: &str) -> (String, Option<i64>, f64, Vec<(String, String)>) {
    let items = series(body);
    assert_eq!(items.len(), 1, "{body:?}: {items:?}");
    match items.into_iter().next() {
        Some(Item::Series { raw, ts, v, labels }) => (raw, ts, v, labels),
        _ => unreachable!(),
    }
}

fn err(body: &[u8]) -> ParseError {
    match parse_all(body) {
        Ok(items) => panic!("{:?} parsed: {items:?}", s(body)),
        Err(e) => e,
    }
}

/// A /metrics body as served by prometheus-fastapi-instrumentator
/// (prometheus_client for Python).
const FASTAPI: &str = include_str!("../testdata/fastapi.prom");

#[test]
fn fastapi_body() {
    let items = parse_all(FASTAPI.as_bytes()).unwrap();
    let n = |f: fn(&Item) -> bool| items.iter().filter(|i| f(i)).count();
    assert_eq!(n(|i| matches!(i, Item::Series { .. })), 37);
    assert_eq!(n(|i| matches!(i, Item::Help(..))), 15);
    assert_eq!(n(|i| matches!(i, Item::Type(..))), 15);
    assert_eq!(items.len(), 67);

    assert_eq!(
        items[0],
        Item::Help(
            "python_gc_objects_collected_total".into(),
            "Objects collected during gc".into()
        )
    );
    assert_eq!(
        items[1],
        Item::Type(
            "python_gc_objects_collected_total".into(),
            MetricType::Counter
        )
    );
    assert!(items.contains(&Item::Help(
        "python_info".into(),
        "Python platform information".into()
    )));
    // The trailing blank of a help text is kept.
    assert!(items.contains(&Item::Help(
        "http_request_size_bytes".into(),
        "Content length of incoming requests by handler. Only value of header is \
         respected. Otherwise ignored. No percentile calculated. "
            .into()
    )));
    assert!(items.contains(&Item::Type(
        "http_request_size_bytes".into(),
        MetricType::Summary
    )));
    assert!(items.contains(&Item::Type(
        "http_request_duration_seconds".into(),
        MetricType::Histogram
    )));
    assert!(items.contains(&Item::Series {
        raw: r#"python_info{implementation="CPython",major="3",minor="11",patchlevel="6",version="3.11.6"}"#.into(),
        ts: None,
        v: 1.0,
        labels: labels(&[
            ("__name__", "python_info"),
            ("implementation", "CPython"),
            ("major", "3"),
            ("minor", "11"),
            ("patchlevel", "6"),
            ("version", "3.11.6"),
        ]),
    }));
    assert!(items.contains(&Item::Series {
        raw: r#"http_request_duration_seconds_bucket{handler="/items/{item_id}",le="+Inf",method="GET"}"#.into(),
        ts: None,
        v: 3.0,
        labels: labels(&[
            ("__name__", "http_request_duration_seconds_bucket"),
            ("handler", "/items/{item_id}"),
            ("le", "+Inf"),
            ("method", "GET"),
        ]),
    }));
    assert!(items.contains(&Item::Series {
        raw: "process_max_fds".into(),
        ts: None,
        v: 1048576.0,
        labels: labels(&[("__name__", "process_max_fds")]),
    }));
    assert!(items.contains(&Item::Series {
        raw: "http_request_duration_highr_seconds_sum".into(),
        ts: None,
        v: 0.031853675842285156,
        labels: labels(&[("__name__", "http_request_duration_highr_seconds_sum")]),
    }));
}

#[test]
fn empty_and_blank_bodies() {
    assert_eq!(parse_all(b"").unwrap(), vec![]);
    assert_eq!(parse_all(b"\n\n  \n\t\n").unwrap(), vec![]);
    assert_eq!(parse_all(b"   ").unwrap(), vec![]);
    let mut p = PromParser::new(b"");
    assert_eq!(p.next(), Ok(None));
    assert_eq!(p.next(), Ok(None));
}

#[test]
fn comments_and_metadata() {
    let body = "# just a comment\n#\n#no space\n# HELP\n# HELPx y\n#HELP a b\n\
                # \tTYPE tc summary\n# HELP tc Has comments.\n# TYPE  tu untyped\n\
                # HELP e1\n# HELP e2 \n# HELP e3    \n# HELP e4  two\n# HELP e5\ttab\n\
                # HELP e6 say \"hi\"\n   # indented comment\n# trailing";
    let items = parse_all(body.as_bytes()).unwrap();
    let c = |x: &str| Item::Comment(x.into());
    let h = |m: &str, t: &str| Item::Help(m.into(), t.into());
    assert_eq!(
        items,
        vec![
            c("# just a comment"),
            c("#"),
            c("#no space"),
            c("# HELP"),
            c("# HELPx y"),
            c("#HELP a b"),
            Item::Type("tc".into(), MetricType::Summary),
            h("tc", "Has comments."),
            Item::Type("tu".into(), MetricType::Unknown),
            h("e1", ""),
            h("e2", ""),
            h("e3", ""),
            h("e4", " two"),
            h("e5", "tab"),
            h("e6", "say \"hi\""),
            c("# indented comment"),
            c("# trailing"),
        ]
    );
}

#[test]
fn metric_types() {
    for (word, t) in [
        ("counter", MetricType::Counter),
        ("gauge", MetricType::Gauge),
        ("histogram", MetricType::Histogram),
        ("summary", MetricType::Summary),
        ("untyped", MetricType::Unknown),
    ] {
        let body = format!("# TYPE m {word}\n");
        assert_eq!(
            parse_all(body.as_bytes()).unwrap(),
            vec![Item::Type("m".into(), t)]
        );
    }
    for word in [
        "unknown",
        "gaugehistogram",
        "info",
        "stateset",
        "Counter",
        "counter ",
        " counter",
        "",
    ] {
        let body = format!("# TYPE m {word}\n");
        let e = err(body.as_bytes());
        assert_eq!(e.msg, format!("invalid metric type \"{word}\""), "{word:?}");
        assert_eq!(e.line, 1);
    }
    assert_eq!(MetricType::GaugeHistogram.as_str(), "gaugehistogram");
    assert_eq!(MetricType::StateSet.to_string(), "stateset");
    assert_eq!(MetricType::Unknown.as_str(), "unknown");
}

#[test]
fn help_escapes() {
    let body = "# HELP h Line one\\nline two with \\\\ backslash, \\\"kept\\\" and \\x\n";
    let mut p = PromParser::new(body.as_bytes());
    assert_eq!(p.next(), Ok(Some(Entry::Help)));
    let (m, h) = p.help();
    assert_eq!(m, b"h");
    assert_eq!(
        h,
        "Line one\nline two with \\ backslash, \\\"kept\\\" and \\x"
    );
    // No escape: borrowed from the body.
    let mut p = PromParser::new(b"# HELP h plain text\n");
    p.next().unwrap();
    assert!(matches!(p.help().1, Cow::Borrowed("plain text")));
    // UTF-8 and NUL are fine in help text.
    let mut p = PromParser::new("# HELP h héllo\0x\n".as_bytes());
    p.next().unwrap();
    assert_eq!(p.help().1, "héllo\0x");
}

#[test]
fn label_escapes() {
    let (raw, _, _, l) =
        one(r#"tle{a="q\"uote",b="back\\slash",c="new\nline",d="tab\t",e="\\n",f="x\\"} 1"#);
    assert_eq!(
        raw,
        r#"tle{a="q\"uote",b="back\\slash",c="new\nline",d="tab\t",e="\\n",f="x\\"}"#
    );
    assert_eq!(
        l,
        labels(&[
            ("__name__", "tle"),
            ("a", "q\"uote"),
            ("b", "back\\slash"),
            ("c", "new\nline"),
            ("d", "tab\\t"),
            ("e", "\\n"),
            ("f", "x\\"),
        ])
    );
    let (_, _, _, l) = one("u{city=\"서울\",emoji=\"✓\",nul=\"a\0b\",empty=\"\"} 1\n");
    assert_eq!(
        l,
        labels(&[
            ("__name__", "u"),
            ("city", "서울"),
            ("emoji", "✓"),
            ("nul", "a\0b"),
            ("empty", ""),
        ])
    );
    // `{` `}` `,` `#` inside label values.
    let (_, _, v, l) = one(r#"m{a="{x},y # z"} 2"#);
    assert_eq!(v, 2.0);
    assert_eq!(l, labels(&[("__name__", "m"), ("a", "{x},y # z")]));
}

#[test]
fn whitespace_and_commas() {
    let ab = labels(&[("__name__", "g"), ("q", "1.0"), ("a", "b")]);
    for body in [
        r#"g{q="1.0",a="b"} 8"#,
        r#"g{q="1.0",a="b",} 8"#,
        r#"g{q="1.0", a="b"} 8"#,
        r#"g{ q="1.0", a="b" } 8"#,
        r#"g { q="1.0", a="b" } 8"#,
        r#"g { q= "1.0", a= "b", } 8"#,
        r#"g { q = "1.0" , a = "b" } 8"#,
        r#"g { q = "1.0" a = "b" } 8"#,
        "g{q=\"1.0\"a=\"b\"}8",
        "\t g{\tq=\"1.0\",a=\"b\"}\t8 \t",
        "g{q=\"1.0\",a=\"b\"} 8 \n",
    ] {
        let (_, ts, v, l) = one(body);
        assert_eq!((ts, v), (None, 8.0), "{body:?}");
        assert_eq!(l, ab, "{body:?}");
    }
    let (raw, _, _, _) = one("  g { q=\"1.0\" }  8  ");
    assert_eq!(raw, "g { q=\"1.0\" }");
    let (raw, ts, v, l) = one("tel{} 3\n");
    assert_eq!((raw.as_str(), ts, v), ("tel{}", None, 3.0));
    assert_eq!(l, labels(&[("__name__", "tel")]));
    let (raw, ts, v, _) = one("ttab\t6\t1700000000000\n");
    assert_eq!((raw.as_str(), ts, v), ("ttab", Some(1700000000000), 6.0));
    let (raw, _, _, l) = one("some:aggregate:rate5m{a_b=\"c\"}\t1");
    assert_eq!(raw, "some:aggregate:rate5m{a_b=\"c\"}");
    assert_eq!(
        l,
        labels(&[("__name__", "some:aggregate:rate5m"), ("a_b", "c")])
    );
    let (_, _, _, l) = one("_m{_l=\"x\",L9=\"y\"} 1");
    assert_eq!(l, labels(&[("__name__", "_m"), ("_l", "x"), ("L9", "y")]));
}

#[test]
fn values() {
    let ok: &[(&str, f64)] = &[
        ("1", 1.0),
        ("-3", -3.0),
        ("+3", 3.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("1.5e3", 1500.0),
        ("-2E-2", -0.02),
        ("1e+2", 100.0),
        ("3.0e-300", 3.0e-300),
        ("1e-400", 0.0),
        ("0001.50", 1.5),
        ("12345678901234567890", 12345678901234567890.0),
        (
            "123456789012345678901234567890123456789012345678901234567890",
            1.2345678901234568e59,
        ),
        ("+Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
        ("Inf", f64::INFINITY),
        ("inf", f64::INFINITY),
        ("+INF", f64::INFINITY),
        ("infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
        ("1.7976931348623157e308", f64::MAX),
    ];
    for (tok, want) in ok {
        let (_, _, v, _) = one(&format!("m {tok}\n"));
        assert_eq!(v.to_bits(), want.to_bits(), "{tok}");
    }
    for tok in ["NaN", "nan", "NAN", "nAn"] {
        let (_, _, v, _) = one(&format!("m {tok}\n"));
        assert_eq!(v.to_bits(), NORMAL_NAN_BITS, "{tok}");
    }
    let syntax = |t: &str| format!("strconv.ParseFloat: parsing \"{t}\": invalid syntax");
    let bad: &[(&str, String)] = &[
        ("abc", syntax("abc")),
        ("true", syntax("true")),
        ("1e", syntax("1e")),
        ("1e+", syntax("1e+")),
        (".", syntax(".")),
        ("-", syntax("-")),
        ("--1", syntax("--1")),
        ("1.2.3", syntax("1.2.3")),
        ("+nan", syntax("+nan")),
        ("-NaN", syntax("-NaN")),
        ("infin", syntax("infin")),
        ("Infinityy", syntax("Infinityy")),
        ("0x10", syntax("0x10")),
        ("1}", syntax("1}")),
        ("1,5", syntax("1,5")),
        ("1_2", "unsupported character in float".into()),
        ("0x1p-3", "unsupported character in float".into()),
        ("0x1P-3", "unsupported character in float".into()),
        ("nope", "unsupported character in float".into()),
        (
            "1e400",
            "strconv.ParseFloat: parsing \"1e400\": value out of range".into(),
        ),
        (
            "-1e400",
            "strconv.ParseFloat: parsing \"-1e400\": value out of range".into(),
        ),
        (
            "1\r",
            "strconv.ParseFloat: parsing \"1\\r\": invalid syntax".into(),
        ),
        (
            "\u{e9}\u{ff}",
            "strconv.ParseFloat: parsing \"éÿ\": invalid syntax".into(),
        ),
    ];
    for (tok, msg) in bad {
        let e = err(format!("good 1\nm {tok}\n").as_bytes());
        assert_eq!((e.line, e.msg.as_str()), (2, msg.as_str()), "{tok:?}");
    }
    let e = err(b"m \xff\xfe1\n");
    assert_eq!(
        e.msg,
        "strconv.ParseFloat: parsing \"\\xff\\xfe1\": invalid syntax"
    );
}

#[test]
fn timestamps() {
    assert_eq!(one("m 1 0").1, Some(0));
    assert_eq!(one("m 1 123123\n").1, Some(123123));
    assert_eq!(one("m 1 00042\n").1, Some(42));
    assert_eq!(one("m 1 -5\n").1, Some(-5));
    assert_eq!(one("m 1 9223372036854775807").1, Some(i64::MAX));
    assert_eq!(one("m 1 -9223372036854775808").1, Some(i64::MIN));
    assert_eq!(one("m{a=\"b\"} 33  \t123123  ").1, Some(123123));
    let e = err(b"m 1 9223372036854775808\n");
    assert_eq!(
        e.msg,
        "strconv.ParseInt: parsing \"9223372036854775808\": value out of range"
    );
    for (body, msg) in [
        (
            "m 1 notatime",
            "expected timestamp or new record, got \"INVALID\"",
        ),
        (
            "m 1 1.5",
            "expected next entry after timestamp, got \"INVALID\"",
        ),
        (
            "m 1 1e3",
            "expected next entry after timestamp, got \"INVALID\"",
        ),
        (
            "m 1 2 3",
            "expected next entry after timestamp, got \"TIMESTAMP\"",
        ),
        (
            "m 1 2 -3",
            "expected next entry after timestamp, got \"TIMESTAMP\"",
        ),
        (
            "m 1 +5",
            "expected timestamp or new record, got \"INVALID\"",
        ),
        (
            "m 1 - 5",
            "expected timestamp or new record, got \"INVALID\"",
        ),
        ("m 1 {", "expected timestamp or new record, got \"INVALID\""),
        (
            "m 1{a=\"b\"}",
            "expected timestamp or new record, got \"INVALID\"",
        ),
        (
            "m 1 2{",
            "expected next entry after timestamp, got \"INVALID\"",
        ),
        (
            "m 0 1_2\n",
            "expected next entry after timestamp, got \"INVALID\"",
        ),
        (
            "m 0 1\0",
            "expected next entry after timestamp, got \"INVALID\"",
        ),
        ("m 1\0", "expected timestamp or new record, got \"INVALID\""),
    ] {
        let e = err(body.as_bytes());
        assert_eq!((e.line, e.msg.as_str()), (1, msg), "{body:?}");
    }
}

#[test]
fn errors_with_lines() {
    let cases: &[(&[u8], usize, &str)] = &[
        (b"a", 1, "expected value after metric, got \"INVALID\""),
        (b"a\n", 1, "expected value after metric, got \"INVALID\""),
        (
            b"ok 1\nbad_mv\n",
            2,
            "expected value after metric, got \"INVALID\"",
        ),
        (b"a{b='c'} 1\n", 1, "expected label value, got \"INVALID\""),
        (b"a{b=c} 1\n", 1, "expected label value, got \"INVALID\""),
        (b"a{b=\n", 1, "expected label value, got \"INVALID\""),
        (b"a{b=\"c} 1\n", 1, "expected label value, got \"INVALID\""),
        (
            b"a{b=\"x\\\ny\"} 1\n",
            1,
            "expected label value, got \"INVALID\"",
        ),
        (
            b"a{b=\0\"ssss\"} 1\n",
            1,
            "expected label value, got \"INVALID\"",
        ),
        (
            b"something_weird{problem=\"",
            1,
            "expected label value, got \"INVALID\"",
        ),
        (
            b"a{\xff=\"foo\"} 1\n",
            1,
            "expected label name, got \"INVALID\"",
        ),
        (
            b"a{0a=\"1\"} 1\n",
            1,
            "expected label name, got \"INVALID\"",
        ),
        (
            b"a{\"b\"=\"1\"} 1\n",
            1,
            "expected label name, got \"INVALID\"",
        ),
        (b"a{=\"\"} 0", 1, "expected label name, got \"EQUAL\""),
        (b"a{,} 0", 1, "expected label name, got \"COMMA\""),
        (b"a{b=\"c\",,} 1", 1, "expected label name, got \"COMMA\""),
        (b"a{b=\"c\"=} 1", 1, "expected label name, got \"EQUAL\""),
        (b"a{b=\"c\"\n} 1", 1, "expected label name, got \"INVALID\""),
        (b"a{b=\"c\"", 1, "expected label name, got \"INVALID\""),
        (b"a{b c=\"d\"} 1", 1, "expected equal, got \"LNAME\""),
        (b"a{b} 1", 1, "expected equal, got \"BCLOSE\""),
        (b"a{b,} 1", 1, "expected equal, got \"COMMA\""),
        (b"a{b-c=\"d\"} 1", 1, "expected equal, got \"INVALID\""),
        (b"a{b\0=\"hiih\"}\t1", 1, "expected equal, got \"INVALID\""),
        (
            b"a\0{b=\"ddd\"} 1",
            1,
            "expected value after metric, got \"INVALID\"",
        ),
        (b"a{} {} 1", 1, "expected value after metric, got \"BOPEN\""),
        (b"a{}{} 1", 1, "expected value after metric, got \"BOPEN\""),
        (b"a{}", 1, "expected value after metric, got \"INVALID\""),
        (b"a \n", 1, "expected value after metric, got \"INVALID\""),
        (b"{a=\"ok\"} 1", 1, "\"INVALID\" is not a valid start token"),
        (b"0bad 1\n", 1, "\"INVALID\" is not a valid start token"),
        (b"ok 1\n9\n", 2, "\"INVALID\" is not a valid start token"),
        (b"ok 1\n-x 1\n", 2, "\"INVALID\" is not a valid start token"),
        (
            b"ok 1\n\xc3\xa9 1\n",
            2,
            "\"INVALID\" is not a valid start token",
        ),
        (b"<html>\n", 1, "\"INVALID\" is not a valid start token"),
        (
            b"# TYPE #\n",
            1,
            "expected metric name after TYPE, got \"INVALID\"",
        ),
        (
            b"# HELP #\n",
            1,
            "expected metric name after HELP, got \"INVALID\"",
        ),
        (
            b"# HELP \n",
            1,
            "expected metric name after HELP, got \"INVALID\"",
        ),
        (
            b"# TYPE 9a counter\n",
            1,
            "expected metric name after TYPE, got \"INVALID\"",
        ),
        (
            b"# TYPE good_before nonsense\ngood_before 1\n",
            1,
            "invalid metric type \"nonsense\"",
        ),
        (
            b"# TYPE a-b counter\n",
            1,
            "invalid metric type \"b counter\"",
        ),
        (b"a{b=\"\xff\"} 1\n", 1, "invalid UTF-8 label value"),
        (
            b"# HELP a \xff\n",
            1,
            "help text \"\\xff\" is not a valid utf8 string",
        ),
        (
            b"bad_dl{a=\"1\",a=\"2\"} 1\n",
            1,
            "label name \"a\" is not unique: invalid sample",
        ),
        (
            b"a{b=\"1\",c=\"\",b=\"\"} 1\n",
            1,
            "label name \"b\" is not unique: invalid sample",
        ),
        (
            b"a{__name__=\"a\"} 1\n",
            1,
            "label name \"__name__\" is not unique: invalid sample",
        ),
        (
            b"a 1\nb 2\n\nc{ 3\n",
            4,
            "expected label name, got \"INVALID\"",
        ),
        (
            b"a{b=\"x\ny\"} 1 z\n",
            2,
            "expected timestamp or new record, got \"INVALID\"",
        ),
        (
            b"# c\n# HELP h t\n# TYPE h gauge\nh 1\n\n\nh{} x\n",
            7,
            "strconv.ParseFloat: parsing \"x\": invalid syntax",
        ),
    ];
    for (body, line, msg) in cases {
        let e = err(body);
        assert_eq!((e.line, e.msg.as_str()), (*line, *msg), "{:?}", s(body));
        assert_eq!(e.to_string(), format!("line {line}: {msg}"));
    }
}

#[test]
fn crlf_is_rejected() {
    let cases: &[(&[u8], usize, &str)] = &[
        (
            b"tcr_metric 1\r\ntcr_other 2\r\n",
            1,
            "strconv.ParseFloat: parsing \"1\\r\": invalid syntax",
        ),
        (
            b"m 1 2\r\n",
            1,
            "expected next entry after timestamp, got \"INVALID\"",
        ),
        (
            b"m{a=\"b\"} 1 \r\n",
            1,
            "expected timestamp or new record, got \"INVALID\"",
        ),
        (b"m 1\n\r\n", 2, "\"INVALID\" is not a valid start token"),
        (
            b"# TYPE m counter\r\nm 1\r\n",
            1,
            "invalid metric type \"counter\\r\"",
        ),
        (
            b"m{a=\"b\"\r\n} 1",
            1,
            "expected label name, got \"INVALID\"",
        ),
    ];
    for (body, line, msg) in cases {
        let e = err(body);
        assert_eq!((e.line, e.msg.as_str()), (*line, *msg), "{:?}", s(body));
    }
    // A CR in help text or a comment is just text, as in Prometheus.
    assert_eq!(
        parse_all(b"# HELP m x\r\n# c\r\n").unwrap(),
        vec![
            Item::Help("m".into(), "x\r".into()),
            Item::Comment("# c\r".into())
        ]
    );
}

#[test]
fn nul_bytes() {
    // A NUL where a line starts fails the body (Prometheus would drop
    // the rest silently), unless it is only NUL padding at the end.
    assert!(parse_all(b"a 1\n\0garbage {{{\n").is_err());
    assert!(parse_all(b"a 1\n  \0\nb 2\n").is_err());
    assert_eq!(series("a 1\n\0\0").len(), 1);
    assert_eq!(parse_all(b"\0").unwrap(), vec![]);
    // Allowed in label values.
    for body in [
        "null_byte_metric{a=\"abc\0\"} 1",
        "a{b=\"\0ss\"} 1\n",
        "a{b=\"\0\"} 1\n",
    ] {
        assert_eq!(series(body).len(), 1, "{body:?}");
    }
    let e = err(b"a{b=\"\0");
    assert_eq!(e.msg, "expected label value, got \"INVALID\"");
}

#[test]
fn lexer_quirks_match_prometheus() {
    // The name ends at the first byte that cannot continue it; what
    // follows is the value token.
    let (raw, _, v, _) = one("a-1\n");
    assert_eq!((raw.as_str(), v), ("a", -1.0));
    let (_, _, v, _) = one("a{}1\n");
    assert_eq!(v, 1.0);
    let e = err(b"my.metric 1\n");
    assert_eq!(
        e.msg,
        "strconv.ParseFloat: parsing \".metric\": invalid syntax"
    );
    // HELP/TYPE drop the first byte after the name, whatever it is.
    assert_eq!(
        parse_all(b"# HELP a.b text\n").unwrap(),
        vec![Item::Help("a".into(), "b text".into())]
    );
}

#[test]
fn newline_in_label_value_is_accepted() {
    let items = series("a{b=\"x\ny\"} 1\nc 2 3\n");
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[0], Item::Series { labels, .. } if labels[1].1 == "x\ny"));
}

#[test]
fn accepted_bodies() {
    // Cases from the end-to-end exposition check, by name.
    let now = 1_700_000_000_000i64;
    let cases: Vec<(&str, String, usize)> = vec![
        ("basic_counter", "# HELP tb_requests_total Requests.\n# TYPE tb_requests_total counter\ntb_requests_total 5\n".into(), 1),
        ("missing_type", "tnt_metric{a=\"1\"} 3\ntnt_other 4\n".into(), 2),
        ("timestamps", format!("tts_metric 7 {}\n", now - 10000), 1),
        ("special_values", "tsv_nan NaN\ntsv_pinf +Inf\ntsv_ninf -Inf\n".into(), 3),
        ("trailing_spaces", "tts2_metric 4   \ntts2_other{a=\"b\"} 5 \t\n".into(), 2),
        ("no_final_newline", "tnf_metric 6".into(), 1),
        ("duplicate_series", "tdup_metric 1\ntdup_metric 2\n".into(), 2),
        ("label_trailing_comma", "ttc_metric{a=\"1\",} 1\n".into(), 1),
        ("untyped_type", "# TYPE tut_metric untyped\ntut_metric 1\n".into(), 1),
        ("colon_in_name", "tcol:metric:rate5m 2\n".into(), 1),
        ("negative_and_int", "tneg_metric -3\ntbig_metric 12345678901234567890\n".into(), 2),
        ("histogram", "# HELP thist Request latency.\n# TYPE thist histogram\nthist_bucket{le=\"0.1\"} 1\nthist_bucket{le=\"0.5\"} 2\nthist_bucket{le=\"+Inf\"} 3\nthist_sum 0.9\nthist_count 3\n".into(), 5),
        ("summary", "# TYPE tsum summary\ntsum{quantile=\"0.5\"} 0.2\ntsum{quantile=\"0.99\"} 0.9\ntsum_sum 5\ntsum_count 10\n".into(), 4),
        ("empty_body", String::new(), 0),
    ];
    for (name, body, n) in cases {
        assert_eq!(series(&body).len(), n, "{name}");
    }
    let long_val = "x".repeat(65536);
    let many: Vec<String> = (0..100).map(|i| format!("l{i:03}=\"v{i:03}\"")).collect();
    let body = format!(
        "tlong_metric{{big=\"{long_val}\"}} 1\ntmany_metric{{{}}} 2\n",
        many.join(",")
    );
    let items = series(&body);
    match &items[..] {
        [Item::Series { labels: a, .. }, Item::Series { labels: b, .. }] => {
            assert_eq!(a[1].1, long_val);
            assert_eq!(b.len(), 101);
            assert_eq!(b[100], ("l099".to_string(), "v099".to_string()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn labels_buffer_is_reused() {
    let mut p = PromParser::new(b"a{x=\"1\",y=\"2\"} 1\nb 2\n");
    let mut out = Vec::new();
    p.next().unwrap();
    p.labels(&mut out);
    assert_eq!(out.len(), 3);
    p.next().unwrap();
    p.labels(&mut out);
    assert_eq!(out, labels(&[("__name__", "b")]));
    assert_eq!(p.next(), Ok(None));
    assert_eq!(p.next(), Ok(None));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Sample lines from a few names, separators and label sets, so
    /// that one line is often a prefix of another; some are invalid.
    fn line() -> impl Strategy<Value = String> {
        let pick = |xs: &'static [&'static str]| prop::sample::select(xs.to_vec());
        (
            pick(&[
                "a",
                "ab",
                "a_b",
                "le",
                "# TYPE a histogram\n",
                "# TYPE a_b gauge\n",
            ]),
            pick(&["", " ", "\t"]),
            pick(&[
                "",
                "{}",
                "{x=\"1\"}",
                "{x=\"1\",}",
                "{x=\"}\"}",
                "{x=\"1\",y=\"2\"}",
                "{x=\"1\" , y=\"\\\"\"}",
                "{le=\"1\"}",
                "{x=\"1\",x=\"2\"}",
                "{x=1}",
                "{",
            ]),
            pick(&["", " ", "  ", "\t"]),
            pick(&["1", "1x", "NaN", "-Inf", "2.5", ""]),
            pick(&["", " 1000", " x", "\r"]),
        )
            .prop_map(|(n, s1, l, s2, v, t)| {
                if n.starts_with('#') {
                    n.to_string()
                } else {
                    format!("{n}{s1}{l}{s2}{v}{t}\n")
                }
            })
    }

    fn print_value(v: f64, debug: bool) -> String {
        match (v.is_nan(), v.is_infinite(), debug) {
            (true, _, _) => "NaN".into(),
            (_, true, true) => if v > 0.0 { "+Inf" } else { "-Inf" }.into(),
            (_, _, true) => format!("{v:?}"),
            _ => format!("{v}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn hints_from_any_body_change_nothing(
            a in prop::collection::vec(line(), 0..12),
            b in prop::collection::vec(line(), 0..12),
        ) {
            let (a, b) = (a.concat().into_bytes(), b.concat().into_bytes());
            same_with_hints(&a, &raws(&a));
            same_with_hints(&a, &raws(&b));
            let mut both = raws(&b);
            both.extend(raws(&a));
            same_with_hints(&a, &both);
        }

        #[test]
        fn print_then_parse(
            name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
            raw_labels in prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>(), 0..6),
            v in any::<f64>(),
            ts in prop::option::of(any::<i64>()),
            debug in any::<bool>(),
            pad in "[ \t]{0,2}",
            trailing_comma in any::<bool>(),
            newline in any::<bool>(),
        ) {
            let raw_labels: Vec<(String, String)> =
                raw_labels.into_iter().filter(|(k, _)| k != "__name__").collect();
            let mut series = name.clone();
            if !raw_labels.is_empty() || trailing_comma {
                series.push('{');
                let parts: Vec<String> = raw_labels
                    .iter()
                    .map(|(k, v)| format!("{k}{pad}={pad}\"{}\"", escape(v)))
                    .collect();
                series.push_str(&parts.join(&format!(",{pad}")));
                if trailing_comma && !raw_labels.is_empty() {
                    series.push(',');
                }
                series.push('}');
            }
            let mut line = format!("{series} {}", print_value(v, debug));
            if let Some(ts) = ts {
                line.push_str(&format!("{pad} {ts}"));
            }
            line.push_str(&pad);
            let body = format!("# HELP {name} some help\n# TYPE {name} gauge\n{line}{}",
                if newline { "\n" } else { "" });

            let mut p = PromParser::new(body.as_bytes());
            prop_assert_eq!(p.next(), Ok(Some(Entry::Help)));
            prop_assert_eq!(p.help(), (name.as_bytes(), Cow::Borrowed("some help")));
            prop_assert_eq!(p.next(), Ok(Some(Entry::Type)));
            prop_assert_eq!(p.metric_type(), (name.as_bytes(), MetricType::Gauge));
            prop_assert_eq!(p.next(), Ok(Some(Entry::Series)));
            let (raw, got_ts, got_v) = p.series();
            prop_assert_eq!(raw, series.as_bytes());
            prop_assert_eq!(got_ts, ts);
            let mut out = Vec::new();
            p.labels(&mut out);
            check_read_back(got_v, v, &out, &name, raw_labels)?;
            prop_assert_eq!(p.next(), Ok(None));
        }
    }
}
