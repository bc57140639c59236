use super::super::lex::NORMAL_NAN_BITS;
use super::super::tests::{check_read_back, escape, labels, s};
use super::*;
use std::path::PathBuf;

/// One parsed entry, owned, for comparisons.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Help(String, String),
    Type(String, MetricType),
    Unit(String, String),
    Series {
        raw: String,
        ts: Option<i64>,
        v: f64,
        labels: Vec<(String, String)>,
        exemplar: Option<Exemplar>,
    },
    Eof,
}

fn parse_all(body: &[u8]) -> Result<Vec<Item>, ParseError> {
    let mut p = OpenMetricsParser::new(body);
    let mut out = Vec::new();
    while let Some(e) = p.next()? {
        out.push(match e {
            Entry::Help => {
                let (m, h) = p.help();
                Item::Help(s(m), h.into_owned())
            }
            Entry::Type => {
                let (m, t) = p.metric_type();
                Item::Type(s(m), t)
            }
            Entry::Unit => {
                let (m, u) = p.unit();
                Item::Unit(s(m), u.to_string())
            }
            Entry::Series => {
                let (raw, ts, v) = p.series();
                let mut labels = vec![("junk".to_string(), "junk".to_string())];
                p.labels(&mut labels);
                Item::Series {
                    raw: s(raw),
                    ts,
                    v,
                    labels,
                    exemplar: p.exemplar(),
                }
            }
            Entry::Eof => Item::Eof,
            Entry::Comment | Entry::Histogram => panic!("{e:?} entry"),
        });
    }
    Ok(out)
}

fn err(body: &str) -> ParseError {
    match parse_all(body.as_bytes()) {
        Ok(items) => panic!("{body:?} parsed: {items:?}"),
        Err(e) => e,
    }
}

fn ok(body: &str) -> Vec<Item> {
    parse_all(body.as_bytes()).unwrap_or_else(|e| panic!("{body:?}: {e}"))
}

/// Cases of the official suite decided differently from its
/// `shouldParse`, with the reason. None so far.
const DECIDED_DIFFERENTLY: &[(&str, &str)] = &[];

fn suite_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OPENMETRICS_SUITE_DIR") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/exposition-tests/openmetrics"
    ));
    if dir.is_dir() {
        dir
    } else {
        PathBuf::from("/work/shared/exposition-tests/openmetrics")
    }
}

#[test]
fn official_suite() {
    let dir = suite_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "skipping official_suite: no OpenMetrics parser test suite at {} \
             (set OPENMETRICS_SUITE_DIR)",
            dir.display()
        );
        return;
    };
    let mut cases: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("test.json").is_file())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let json = std::fs::read_to_string(case.join("test.json")).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&json).unwrap();
        let should_parse = meta["shouldParse"].as_bool().unwrap();
        let body = std::fs::read(case.join("metrics")).unwrap();
        let expect = should_parse ^ DECIDED_DIFFERENTLY.iter().any(|(c, _)| *c == name);
        let result = parse_all(&body);
        if result.is_ok() != expect {
            failures.push(format!("{name}: expected ok={expect}, got {result:?}"));
        }
    }
    eprintln!(
        "OpenMetrics suite: {}/{} cases as expected",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn doc_example() {
    let body = b"# TYPE req counter\nreq_total{code=\"200\"} 7 1700000000.5 # {trace_id=\"abc\"} 1\n# EOF\n";
    let mut p = OpenMetricsParser::new(body);
    assert_eq!(p.next().unwrap(), Some(Entry::Type));
    assert_eq!(p.next().unwrap(), Some(Entry::Series));
    assert_eq!(
        p.series(),
        (
            &b"req_total{code=\"200\"}"[..],
            Some(1_700_000_000_500),
            7.0
        )
    );
    assert_eq!(p.exemplar().unwrap().labels[0].1, "abc");
    assert_eq!(p.next().unwrap(), Some(Entry::Eof));
    assert_eq!(p.next().unwrap(), None);
    assert_eq!(p.next().unwrap(), None);
}

#[test]
fn entries_and_accessors() {
    let body = "# TYPE foo_seconds histogram\n\
                # UNIT foo_seconds seconds\n\
                # HELP foo_seconds Some \\\"help\\\"\\n\\\\ here\n\
                foo_seconds_bucket{a=\"x\\ny\",le=\"1\"} 1 # {trace_id=\"t\\\"1\"} 0.5 123.4567\n\
                foo_seconds_bucket{a=\"x\\ny\",le=\"1e6\"} 2\n\
                foo_seconds_bucket{a=\"x\\ny\",le=\"+Inf\"} 3 # {} 7\n\
                foo_seconds_count{a=\"x\\ny\"} 3\n\
                foo_seconds_sum{a=\"x\\ny\"} 4.5\n\
                foo_seconds_created{a=\"x\\ny\"} 1520430000.123\n\
                # EOF\n";
    let items = ok(body);
    assert_eq!(items.len(), 10);
    assert_eq!(
        items[0],
        Item::Type("foo_seconds".into(), MetricType::Histogram)
    );
    assert_eq!(items[1], Item::Unit("foo_seconds".into(), "seconds".into()));
    assert_eq!(
        items[2],
        Item::Help("foo_seconds".into(), "Some \"help\"\n\\ here".into())
    );
    assert_eq!(
        items[3],
        Item::Series {
            raw: "foo_seconds_bucket{a=\"x\\ny\",le=\"1\"}".into(),
            ts: None,
            v: 1.0,
            labels: labels(&[
                ("__name__", "foo_seconds_bucket"),
                ("a", "x\ny"),
                ("le", "1.0")
            ]),
            exemplar: Some(Exemplar {
                labels: labels(&[("trace_id", "t\"1")]),
                value: 0.5,
                ts: Some(123_456),
            }),
        }
    );
    match &items[4] {
        Item::Series {
            labels, exemplar, ..
        } => {
            assert_eq!(labels[2], ("le".to_string(), "1e+06".to_string()));
            assert_eq!(exemplar, &None);
        }
        other => panic!("{other:?}"),
    }
    match &items[5] {
        Item::Series { exemplar, .. } => assert_eq!(
            exemplar,
            &Some(Exemplar {
                labels: vec![],
                value: 7.0,
                ts: None
            })
        ),
        other => panic!("{other:?}"),
    }
    // _created is an ordinary series.
    match &items[8] {
        Item::Series { raw, v, .. } => {
            assert_eq!(raw, "foo_seconds_created{a=\"x\\ny\"}");
            assert_eq!(*v, 1520430000.123);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(items[9], Item::Eof);
}

#[test]
fn timestamps_are_float_seconds() {
    let cases: &[(&str, Option<i64>)] = &[
        ("1", Some(1000)),
        ("000", Some(0)),
        ("1.5e3", Some(1_500_000)),
        ("-1.5", Some(-1500)),
        ("1520879607.789", Some((1520879607.789f64 * 1000.0) as i64)),
        ("0.0009", Some(0)),
        ("-0.0009", Some(0)),
        ("12345678901234567890.1234567890", Some(i64::MAX)),
    ];
    for (ts, want) in cases {
        let body = format!("a 1 {ts}\n# EOF\n");
        match &ok(&body)[0] {
            Item::Series { ts: got, .. } => assert_eq!(got, want, "{ts}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn special_values() {
    let items = ok("a NaN\nb +Inf\nc -Inf\nd inf\ne -infinity\nf 1E3\ng .5\nh 5.\n# EOF");
    let values: Vec<f64> = items
        .iter()
        .filter_map(|i| match i {
            Item::Series { v, .. } => Some(*v),
            _ => None,
        })
        .collect();
    assert_eq!(values[0].to_bits(), NORMAL_NAN_BITS);
    assert_eq!(
        &values[1..],
        &[
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1000.0,
            0.5,
            5.0
        ]
    );
    for bad in ["+NaN", "0x10", "1_0", "1e", "--1", "1e400", "", "Inf1"] {
        let body = format!("a {bad}\n# EOF\n");
        assert!(parse_all(body.as_bytes()).is_err(), "{bad:?}");
    }
}

#[test]
fn error_messages_and_lines() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "data does not end with # EOF"),
        ("a 1\n", 2, "data does not end with # EOF"),
        ("a 1", 1, "data does not end with # EOF"),
        ("a 1\n# EOF\nb 1\n", 3, "unexpected data after # EOF"),
        ("a 1\n# EOF\n\n", 3, "unexpected data after # EOF"),
        ("# EOF blah\n", 1, "unexpected data after # EOF"),
        ("a 1\n\n# EOF\n", 2, "unexpected blank line"),
        (
            " a 1\n# EOF\n",
            1,
            "expected a valid start token, got \" \"",
        ),
        (
            "# FOO a x\n# EOF\n",
            1,
            "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\", got \"# FOO a x\"",
        ),
        (
            "# HELP \n# EOF\n",
            1,
            "expected metric name after HELP, got \"\\n\"",
        ),
        ("# TYPE a\n# EOF\n", 1, "expected text in TYPE, got \"\\n\""),
        (
            "# TYPE a untyped\n# EOF\n",
            1,
            "invalid metric type \"untyped\"",
        ),
        (
            "# UNIT a seconds\n# EOF\n",
            1,
            "unit \"seconds\" not a suffix of metric \"a\"",
        ),
        (
            "a{b=\"1\",} 1\n# EOF\n",
            1,
            "expected label name, got \"}\"",
        ),
        ("a{b} 1\n# EOF\n", 1, "expected equal, got \"}\""),
        ("a{b=1} 1\n# EOF\n", 1, "expected label value, got \"1}\""),
        (
            "a{b=\"1\"c=\"2\"} 1\n# EOF\n",
            1,
            "expected comma or brace close, got \"c=\\\"2\\\"}\"",
        ),
        (
            "a{b=\"1\",b=\"2\"} 1\n# EOF\n",
            1,
            "label name \"b\" is not unique: invalid sample",
        ),
        ("a  1\n# EOF\n", 1, "expected value after metric, got \" \""),
        (
            "a 1 \n# EOF\n",
            1,
            "expected timestamp or comment, got \"\\n\"",
        ),
        ("a 1 NaN\n# EOF\n", 1, "invalid timestamp NaN"),
        (
            "a z\n# EOF\n",
            1,
            "strconv.ParseFloat: parsing \"z\": invalid syntax",
        ),
        (
            "a\r\n# EOF\n",
            1,
            "expected value after metric, got \"\\r\"",
        ),
        (
            "# TYPE a counter\na_total 1 # {} 1 Inf\n# EOF\n",
            2,
            "invalid exemplar timestamp +Inf",
        ),
        (
            "# TYPE a gauge\na 1 # {} 1\n# EOF\n",
            2,
            "exemplars are only allowed on counter _total and histogram _bucket samples",
        ),
        (
            "# TYPE a counter\na_total -1\n# EOF\n",
            2,
            "_total value must not be negative, got -1",
        ),
        (
            "# TYPE a gauge\na 1\n# HELP a x\n# EOF\n",
            3,
            "HELP line for metric family \"a\" after its samples",
        ),
        (
            "# HELP a x\n# HELP a x\n# EOF\n",
            2,
            "more than one HELP line for metric family \"a\"",
        ),
        (
            "a 1\nb 1\na 1\n# EOF\n",
            3,
            "metric family \"a\" clashes with an earlier metric family on name \"a\" \
             (families must not repeat or be interleaved)",
        ),
        (
            "# TYPE a_created gauge\n# TYPE a counter\n# EOF\n",
            2,
            "metric family \"a\" clashes with an earlier metric family on name \
             \"a_created\" (families must not repeat or be interleaved)",
        ),
        (
            "# TYPE a histogram\na_bucket{le=\"1\"} 0\n# EOF\n",
            2,
            "histogram \"a\" has no +Inf bucket",
        ),
        (
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 2\na_sum 1\n# EOF\n",
            2,
            "histogram \"a\": _count 2 does not match the +Inf bucket 1",
        ),
        (
            "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n",
            4,
            "invalid metric grouping: samples of \"a{x=\\\"1\\\"}\" are interleaved \
             with another metric of family \"a\"",
        ),
    ];
    for (body, line, msg) in cases {
        let e = err(body);
        assert_eq!((e.line, e.msg.as_str()), (*line, *msg), "{body:?}");
    }
    let e = parse_all(b"a 1\na{b=\"\xff\"} 1\n# EOF\n").unwrap_err();
    assert_eq!(
        (e.line, e.msg.as_str()),
        (2, "invalid UTF-8 label value: \"\\xff\"")
    );
    let e = parse_all(b"# HELP a \xff\n# EOF\n").unwrap_err();
    assert_eq!(e.msg, "help text \"\\xff\" is not a valid utf8 string");
}

#[test]
fn syntax_only_takes_what_prometheus_takes() {
    // promtool's documented backfill example: a counter family named
    // with its `_total` suffix, and families split apart
    let body = b"# HELP http_requests_total The total number of HTTP requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{code=\"200\",service=\"user\"} 123 1609954636\n\
up 1 1609954636\n\
http_requests_total{code=\"500\",service=\"user\"} 456 1609954730\n\
# EOF\n";
    assert!(parse_all(body).is_err());
    let mut p = OpenMetricsParser::syntax_only(body);
    let mut series = Vec::new();
    while let Some(e) = p.next().unwrap() {
        if e == Entry::Series {
            let (_, ts, v) = p.series();
            series.push((ts, v));
        }
    }
    assert_eq!(
        series,
        vec![
            (Some(1_609_954_636_000), 123.0),
            (Some(1_609_954_636_000), 1.0),
            (Some(1_609_954_730_000), 456.0)
        ]
    );
    // the syntax is still checked
    let mut p = OpenMetricsParser::syntax_only(b"a{b=c} 1\n# EOF\n");
    assert!(p.next().is_err());
}

#[test]
fn strictness_beyond_the_suite() {
    for body in [
        // Trailing comma in exemplar labels, blanks, CRLF.
        "# TYPE a counter\na_total 1 # {a=\"b\",} 1\n# EOF\n",
        "a{b=\"1\", c=\"2\"} 1\n# EOF\n",
        "a 1\r\n# EOF\r\n",
        "# HELP a x\r\n# EOF\n",
        "a 1\n# EOF\r\n",
        // Raw line feed in a label value.
        "a{b=\"x\ny\"} 1\n# EOF\n",
        // __name__ as a label, a quoted metric name (OpenMetrics 2.0).
        "a{__name__=\"a\"} 1\n# EOF\n",
        "{\"a\"} 1\n# EOF\n",
        // Exemplar on an unknown-typed sample, duplicate exemplar labels.
        "a 1 # {a=\"b\"} 1\n# EOF\n",
        "# TYPE a counter\na_total 1 # {a=\"b\",a=\"c\"} 1\n# EOF\n",
        // Quantile and le edge cases.
        "# TYPE a summary\na{quantile=\"+Inf\"} 1\n# EOF\n",
        "# TYPE a histogram\na_bucket{le=\"Infinity\"} 1\n# EOF\n",
        "# TYPE a histogram\na_bucket{le=\"1\"} 1\na_bucket{le=\"1.0\"} 1\na_bucket{le=\"+Inf\"} 1\n# EOF\n",
        // Gauge histogram with _gcount but no _gsum.
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gcount 1\n# EOF\n",
        // Unit on an info family given before its type.
        "# UNIT a_b b\n# TYPE a_b info\n# EOF\n",
        // Timestamp presence mixed within a histogram point.
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 1\na_bucket{le=\"+Inf\"} 1\n# EOF\n",
    ] {
        assert!(parse_all(body.as_bytes()).is_err(), "{body:?}");
    }
    for body in [
        "# EOF",
        "# EOF\n",
        "# TYPE a counter\n# EOF\n",
        "# HELP a \\\"quoted\\\" and \"raw\" \\\n# EOF\n",
        "a{b=\"\\x\\\\\"} 1\n# EOF\n",
        "a{b=\"\0\"} 1\n# EOF\n",
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 1\na_bucket{le=\"+Inf\"} 2 2\n# EOF\n",
        "# TYPE a stateset\na{a=\"x\",b=\"1\"} 1\na{a=\"y\",b=\"1\"} 0\na{a=\"x\",b=\"2\"} 0\n# EOF\n",
        "# TYPE a info\na_info{v=\"1\"} 1\na_info{v=\"2\"} 1.0\n# EOF\n",
        "# TYPE a counter\na_total +Inf\na_created 0\n# EOF\n",
        "a{b=\"1\"} 1\na{b=\"1\"} 2\n# EOF\n",
    ] {
        assert!(parse_all(body.as_bytes()).is_ok(), "{body:?}");
    }
}

#[test]
fn exemplar_label_limit_counts_unescaped_characters() {
    // 1 (name) + 127 characters, one of them written as `\\`.
    let value = format!("\\\\{}", "x".repeat(126));
    let body = format!("# TYPE a counter\na_total 1 # {{a=\"{value}\"}} 1\n# EOF\n");
    assert!(parse_all(body.as_bytes()).is_ok());
    let value = format!("\\\\{}", "x".repeat(127));
    let body = format!("# TYPE a counter\na_total 1 # {{a=\"{value}\"}} 1\n# EOF\n");
    assert!(parse_all(body.as_bytes()).is_err());
    assert_eq!(unescaped_chars(b"\\\\\\n\\\"\\x\xc3\xa9"), 6);
}

#[test]
fn le_and_quantile_normalisation_is_type_specific() {
    let body = "# TYPE s summary\ns{quantile=\"0.50\"} 1\n\
                # TYPE g gaugehistogram\ng_bucket{le=\"1\"} 1\ng_bucket{le=\"+Inf\"} 1\n\
                u{le=\"1\",quantile=\"1\"} 1\n# EOF\n";
    let got: Vec<Vec<(String, String)>> = ok(body)
        .into_iter()
        .filter_map(|i| match i {
            Item::Series { labels, .. } => Some(labels),
            _ => None,
        })
        .collect();
    assert_eq!(got[0][1].1, "0.5");
    assert_eq!(got[1][1].1, "1");
    assert_eq!(got[3][1..], labels(&[("le", "1"), ("quantile", "1")])[..]);
}

#[test]
fn content_type() {
    assert!(is_openmetrics("application/openmetrics-text"));
    assert!(is_openmetrics(
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    ));
    assert!(is_openmetrics("Application/OpenMetrics-Text;version=0.0.1"));
    assert!(!is_openmetrics("text/plain; version=0.0.4"));
    assert!(!is_openmetrics("application/openmetrics-textx"));
    assert!(!is_openmetrics(""));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn print_then_parse(
            name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
            raw_labels in prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>(), 0..6),
            v in any::<f64>(),
            ts in prop::option::of(-1_000_000_000_000i64..4_000_000_000_000),
        ) {
            let raw_labels: Vec<(String, String)> =
                raw_labels.into_iter().filter(|(k, _)| k != "__name__").collect();
            let mut series = name.clone();
            if !raw_labels.is_empty() {
                let parts: Vec<String> = raw_labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                series = format!("{series}{{{}}}", parts.join(","));
            }
            let value = if v.is_nan() {
                "NaN".to_string()
            } else if v.is_infinite() {
                if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
            } else {
                format!("{v:?}")
            };
            let mut line = format!("{series} {value}");
            if let Some(ts) = ts {
                // Milliseconds written as exact decimal seconds.
                let sign = if ts < 0 { "-" } else { "" };
                line.push_str(&format!(" {sign}{}.{:03}", ts.unsigned_abs() / 1000, ts.unsigned_abs() % 1000));
            }
            let body = format!("# TYPE {name} gauge\n# HELP {name} some help\n{line}\n# EOF\n");

            let mut p = OpenMetricsParser::new(body.as_bytes());
            prop_assert_eq!(p.next(), Ok(Some(Entry::Type)));
            prop_assert_eq!(p.metric_type(), (name.as_bytes(), MetricType::Gauge));
            prop_assert_eq!(p.next(), Ok(Some(Entry::Help)));
            prop_assert_eq!(p.help(), (name.as_bytes(), Cow::Borrowed("some help")));
            prop_assert_eq!(p.next(), Ok(Some(Entry::Series)));
            let (raw, got_ts, got_v) = p.series();
            prop_assert_eq!(raw, series.as_bytes());
            if let (Some(want), Some(got)) = (ts, got_ts) {
                // Float seconds times 1000 may land just below the integer.
                prop_assert!((want - got).abs() <= 1, "{} vs {}", want, got);
            } else {
                prop_assert_eq!(got_ts, ts);
            }
            let mut out = Vec::new();
            p.labels(&mut out);
            check_read_back(got_v, v, &out, &name, raw_labels)?;
            prop_assert_eq!(p.exemplar(), None);
            prop_assert_eq!(p.next(), Ok(Some(Entry::Eof)));
            prop_assert_eq!(p.next(), Ok(None));
        }
    }
}

/// Each sample's name and start time, and which samples are `_created`
/// ones.
fn starts(body: &[u8]) -> Vec<(String, Option<i64>, bool)> {
    let mut p = OpenMetricsParser::new(body);
    let mut out = Vec::new();
    while let Some(e) = p.next().unwrap() {
        if e == Entry::Series {
            let raw = s(p.series().0);
            let created = p.is_created_sample();
            out.push((raw, p.start_timestamp(), created));
        }
    }
    out
}

#[test]
fn start_times_come_from_the_familys_created_samples() {
    let body = b"# TYPE a counter
a_total{x=\"1\"} 5
a_created{x=\"1\"} 1700000000.25
a_total{x=\"2\"} 6
a_created{x=\"3\"} 1700000001
# TYPE h histogram
h_bucket{le=\"1\"} 1
h_bucket{le=\"+Inf\"} 2
h_count 2
h_sum 3
h_created 1700000002
# TYPE s summary
s{quantile=\"0.5\"} 1
s_count 2
s_sum 3
# TYPE g gauge
g 1
# TYPE c counter
c_total 1
# EOF
";
    let got = starts(body);
    let want: Vec<(String, Option<i64>, bool)> = vec![
        ("a_total{x=\"1\"}", Some(1_700_000_000_250), false),
        ("a_created{x=\"1\"}", None, true),
        // the next `_created` sample is another series': none
        ("a_total{x=\"2\"}", None, false),
        ("a_created{x=\"3\"}", None, true),
        // every part of a histogram, `le` aside
        ("h_bucket{le=\"1\"}", Some(1_700_000_002_000), false),
        ("h_bucket{le=\"+Inf\"}", Some(1_700_000_002_000), false),
        ("h_count", Some(1_700_000_002_000), false),
        ("h_sum", Some(1_700_000_002_000), false),
        ("h_created", None, true),
        // none given, none in a gauge, none found past the family
        ("s{quantile=\"0.5\"}", None, false),
        ("s_count", None, false),
        ("s_sum", None, false),
        ("g", None, false),
        ("c_total", None, false),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b, c))
    .collect();
    assert_eq!(got, want);
}
