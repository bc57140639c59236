//! Template and Go-formatting tests; expected strings from Prometheus's
//! `template_test.go` and Go's `fmt`.

use std::collections::BTreeMap;
use std::time::Duration;

use promql::gofmt::go_float;

use super::exec::Env;
use super::format::*;
use super::parse::Template;
use super::value::{AlertData, Sample};
use super::{ExecError, TemplateError, ValueError};
use crate::gofmt::format_float;

fn data() -> AlertData {
    let mut labels = BTreeMap::new();
    labels.insert("instance".to_string(), "host1:9100".to_string());
    labels.insert("job".to_string(), "node".to_string());
    let mut ext = BTreeMap::new();
    ext.insert("cluster".to_string(), "eu1".to_string());
    AlertData {
        labels,
        external_labels: ext,
        external_url: "http://testhost:9090/path/prefix".into(),
        value: 0.1,
    }
}

fn samples() -> Vec<Sample> {
    let mk = |i: &str, v: f64| Sample {
        labels: [("__name__", "metric"), ("instance", i)]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        value: v,
    };
    vec![mk("b", 21.0), mk("a", 11.0)]
}

fn run(text: &str) -> Result<String, String> {
    run_with(text, &data()).map_err(|e| e.to_string())
}

fn run_typed(text: &str) -> Result<String, TemplateError> {
    run_with(text, &data())
}

fn run_with(text: &str, d: &AlertData) -> Result<String, TemplateError> {
    let t = Template::parse("test", text)?;
    let q = |q: &str| -> Result<Vec<Sample>, String> {
        if q == "missing" {
            Ok(Vec::new())
        } else {
            Ok(samples())
        }
    };
    // the server passes its configuration's reading of Prometheus's
    // durations; PromQL's lexer reads the same units
    let parse_duration = |s: &str| {
        promql::parser::lex::parse_duration(s)
            .map(|ms| Duration::from_millis(ms as u64))
            .ok_or_else(|| format!("not a valid duration string: {s:?}"))
    };
    let env = Env {
        query: &q,
        external_url: "http://testhost:9090/path/prefix",
        parse_duration: &parse_duration,
    };
    t.execute(d, &env)
}

#[test]
fn expansions() {
    let cases: &[(&str, &str)] = &[
        ("plain text", "plain text"),
        ("{{ 1 }}", "1"),
        ("{{ \"<b>\" }}", "<b>"),
        ("{{ $value }}", "0.1"),
        ("{{ .Value }}", "0.1"),
        ("{{ $labels.instance }}", "host1:9100"),
        ("{{ .Labels.job }}", "node"),
        ("{{ $labels.missing }}", ""),
        ("{{ $externalLabels.cluster }}/{{ .ExternalLabels.cluster }}", "eu1/eu1"),
        ("{{ $externalURL }}", "http://testhost:9090/path/prefix"),
        ("{{ query \"x\" | first | value }}", "21"),
        ("{{ query \"x\" | first | label \"instance\" }}", "b"),
        ("{{ query \"x\" | first | label \"foo\" }}", ""),
        ("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}", ""),
        (
            "{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}",
            "a:11: b:21: ",
        ),
        ("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", "xa"),
        ("{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}", "-22.22%:0%:12.35%:123.5%"),
        ("{{ 1435065584.128 | humanizeTimestamp }}", "2015-06-23 13:19:44.128 +0000 UTC"),
        ("{{ \"aa bb CC\" | title }}", "Aa Bb CC"),
        ("{{ \"aa bb CC\" | toUpper }}", "AA BB CC"),
        ("{{ \"aA bB CC\" | toLower }}", "aa bb cc"),
        ("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}", "true false"),
        ("{{ graphLink \"up\" }}", "/graph?g0.expr=up&g0.tab=0"),
        ("{{ tableLink \"up\" }}", "/graph?g0.expr=up&g0.tab=1"),
        ("{{ pathPrefix }}", "/path/prefix"),
        ("{{ externalURL }}", "http://testhost:9090/path/prefix"),
        ("{{ \"1234567\" | humanize }}", "1.235M"),
        ("{{ humanize 1234567.0 }}", "1.235M"),
        ("{{ humanize1024 1048576.0 }}", "1Mi"),
        ("{{ humanizeDuration 899.99 }}", "14m 59s"),
        ("{{ parseDuration \"1h2m10ms\" }}", "3720.01"),
        ("{{ stripPort \"example.com:8080\" }}|{{ stripPort \"[::1]:80\" }}|{{ stripPort \"x\" }}", "example.com|::1|x"),
        ("{{ stripDomain \"foo.example.com:8080\" }}", "foo:8080"),
        ("{{ printf \"%.2f\" $value }}", "0.10"),
        ("{{ printf \"%s=%d %v %q %5.1f|%-4s|\" \"a\" 3 true \"q\" 2.25 \"x\" }}", "a=3 true \"q\"   2.2|x   |"),
        ("{{ printf \"%d\" 1.5 }}", "%!d(float64=1.5)"),
        ("{{ printf \"%s\" }}", "%!s(MISSING)"),
        ("{{ printf \"%.4g\" 123456.0 }}", "1.235e+05"),
        ("{{ if gt $value 0.05 }}big{{ else }}small{{ end }}", "big"),
        ("{{ if lt $value 0.05 }}big{{ else if eq $value 0.1 }}exact{{ else }}small{{ end }}", "exact"),
        ("{{ if and (eq .Labels.job \"node\") (ne .Labels.instance \"x\") }}y{{ end }}", "y"),
        ("{{ if or false 0 \"\" }}y{{ else }}n{{ end }}", "n"),
        ("{{ if not false }}y{{ end }}", "y"),
        ("{{ if eq \"a\" \"b\" \"a\" }}y{{ end }}", "y"),
        ("{{ with query \"missing\" }}has{{ else }}none{{ end }}", "none"),
        ("{{ with query \"x\" }}{{ . | first | value | humanize }}{{ end }}", "21"),
        ("{{ range $i, $s := query \"x\" }}{{ $i }}={{ $s.Value }};{{ end }}", "0=21;1=11;"),
        ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}", "instance=host1:9100,job=node,"),
        ("{{ range query \"missing\" }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range query \"x\" }}{{ if eq .Value 11.0 }}{{ break }}{{ end }}{{ .Value }}{{ end }}", "21"),
        ("{{/* a comment */}}x", "x"),
        ("a  {{- /* c */ -}}  b", "ab"),
        ("a \n {{- 1 -}} \n b", "a1b"),
        ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
        ("{{ len $labels }}", "2"),
        ("{{ index $labels \"job\" }}", "node"),
        ("{{ print 1 2 \"a\" \"b\" 3 }}", "1 2ab3"),
        ("{{ 1e21 }} {{ 1e6 }} {{ 123456.0 }} {{ 0.0001 }} {{ 0.00001 }}", "1e+21 1e+06 123456 0.0001 1e-05"),
        ("{{ `raw\\n` }}", "raw\\n"),
        ("{{ (query \"x\" | first).Labels.instance }}", "b"),
        ("{{ true }} {{ false }}", "true false"),
    ];
    for (text, want) in cases {
        assert_eq!(run(text).as_deref(), Ok(*want), "template {text}");
    }
}

#[test]
fn humanize_tables() {
    let h: Vec<String> = [0.0, 1.0, 1234567.0, 0.12]
        .iter()
        .map(|v| humanize(*v))
        .collect();
    assert_eq!(h.join(":"), "0:1:1.235M:120m");
    let h: Vec<String> = [0.0, 1.0, 1048576.0, 0.12]
        .iter()
        .map(|v| humanize1024(*v))
        .collect();
    assert_eq!(h.join(":"), "0:1:1Mi:0.12");
    let d: Vec<String> = [
        0.0,
        1.0,
        60.0,
        3600.0,
        86400.0,
        86400.0 + 3600.0,
        -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
        899.99,
    ]
    .iter()
    .map(|v| humanize_duration(*v))
    .collect();
    assert_eq!(
        d.join(":"),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s"
    );
    let d: Vec<String> = [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]
        .iter()
        .map(|v| humanize_duration(*v))
        .collect();
    assert_eq!(d.join(":"), "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s");
    for (v, s) in [
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
    ] {
        assert_eq!(humanize(v), s);
        assert_eq!(humanize1024(v), s);
        assert_eq!(humanize_duration(v), s);
        assert_eq!(humanize_timestamp(v).unwrap(), s);
    }
    assert_eq!(humanize(-1234.0), "-1.234k");
    assert_eq!(humanize(0.000_001_5), "1.5u");
}

#[test]
fn go_float_formatting() {
    let cases = [
        (0.1, "0.1"),
        (1.0, "1"),
        (-2.5, "-2.5"),
        (1e21, "1e+21"),
        (1e20, "1e+20"),
        (123456789.0, "1.23456789e+08"),
        (100000.0, "100000"),
        (0.0, "0"),
        (1e-7, "1e-07"),
        (f64::INFINITY, "+Inf"),
        (f64::NAN, "NaN"),
    ];
    for (v, s) in cases {
        assert_eq!(go_float(v), s, "{v}");
    }
    assert_eq!(api_value(1.0), "1e+00");
    assert_eq!(api_value(0.5), "5e-01");
    assert_eq!(api_value(1234.5), "1.2345e+03");
    assert_eq!(format_float(2.0 / 3.0, 'f', Some(3)), "0.667");
    assert_eq!(format_float(1234.5678, 'e', Some(2)), "1.23e+03");
    assert_eq!(format_float(0.000012345, 'g', Some(3)), "1.23e-05");
    assert_eq!(format_float(100.0, 'g', Some(4)), "100");
    assert_eq!(format_float(1e5, 'g', Some(4)), "1e+05");
}

#[test]
fn parse_errors_name_the_problem() {
    let cases = [
        ("{{", "unclosed action"),
        ("{{ foo }}", "function \"foo\" not defined"),
        (
            "{{ define \"x\" }}{{ end }}",
            "unsupported template construct {{define}}",
        ),
        (
            "{{ template \"x\" }}",
            "unsupported template construct {{template}}",
        ),
        ("{{ if 1 }}", "unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ $nope }}", "undefined variable \"$nope\""),
        ("{{ break }}", "outside {{range}}"),
    ];
    for (text, want) in cases {
        let err = Template::parse("t", text).unwrap_err();
        assert!(matches!(&err, TemplateError::Parse { name, .. } if name == "t"));
        let err = err.to_string();
        assert!(err.contains(want), "{text}: {err}");
        assert!(err.starts_with("template: t:"), "{err}");
    }
}

#[test]
fn execution_errors() {
    assert!(matches!(
        run_typed("{{ query \"missing\" | first }}"),
        Err(TemplateError::Exec { name, .. }) if name == "test"
    ));
    // what failed is kept: the function, the field, the value
    assert!(matches!(
        run_typed("{{ humanize \"x\" }}"),
        Err(TemplateError::Exec { err: ExecError::Call { func, err }, .. })
            if func == "humanize" && *err == ExecError::Value(ValueError::NotNumber("x".into()))
    ));
    assert!(matches!(
        run_typed("{{ .Nope }}"),
        Err(TemplateError::Exec { err: ExecError::Field { field, err: ValueError::NoField { .. } }, .. })
            if field == "Nope"
    ));
    let e = run("{{ query \"missing\" | first }}").unwrap_err();
    assert!(
        e.contains("error calling first: first() called on vector with no elements"),
        "{e}"
    );
    assert!(e.starts_with("error executing template test:"), "{e}");
    let e = run("{{ if gt $value 1 }}x{{ end }}").unwrap_err();
    assert!(e.contains("incompatible types for comparison"), "{e}");
    let e = run("{{ (query \"missing\").banana }}").unwrap_err();
    assert!(e.contains("can't evaluate field banana"), "{e}");
}

#[test]
fn value_printing_uses_go_formats() {
    let mut d = data();
    d.value = 1234567.0;
    assert_eq!(run_with("{{ $value }}", &d).unwrap(), "1.234567e+06");
    d.value = 42.0;
    assert_eq!(run_with("{{ $value }}", &d).unwrap(), "42");
    assert_eq!(
        run_with("{{ $labels }}", &d).unwrap(),
        "map[instance:host1:9100 job:node]"
    );
}

#[test]
fn huge_ranges_are_refused() {
    // found by fuzzing: collected 8.9e14 items before looping over them
    let src = b"{{ range 888888888888888}} 888888 printf \"%0f\" }} {{ end }}  }_}";
    let err = run(std::str::from_utf8(src).unwrap()).unwrap_err();
    assert!(err.contains("iterations"), "{err}");
    // loops within loops count together
    let err = run("{{range 1000}}{{range 1001}}{{end}}{{end}}").unwrap_err();
    assert!(err.contains("iterations"), "{err}");
    assert_eq!(run("{{range 3}}{{.}}{{end}}").unwrap(), "012");
}

#[test]
fn huge_widths_and_precisions_are_refused() {
    // found by fuzzing: a precision past u16::MAX panicked in format!
    let out = run("{{ .Value | printf \"%+.999999999999999999999999999999F\" }}").unwrap();
    assert_eq!(out, "%!(NOVERB)%!(EXTRA float64=0.1)");
    let out = run("{{ printf \"%.2000f\" 1.5 }}").unwrap();
    assert_eq!(out.len(), 2002);
    assert!(out.starts_with("1.5000") && out.ends_with('0'));
    assert_eq!(run("{{ printf \"%*d|\" 2000000 7 }}").unwrap(), "7|");
    // and in %e and %g, through the significant digits
    let out = run("{{ printf \"%.100000e\" 1.5 }}").unwrap();
    assert!(
        out.starts_with("1.5000") && out.ends_with("0e+00"),
        "{out:.20}"
    );
    assert_eq!(run("{{ printf \"%.100000g\" 1.5 }}").unwrap(), "1.5");
}
