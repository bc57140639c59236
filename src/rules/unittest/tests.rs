//! Tests of rule unit testing: the notations, and whole test files.

use std::path::{Path, PathBuf};

use tsdb::labels::Labels;

use super::notation::{
    expand_values, float_e, go_duration, labels_string, parse_number, parse_series, Point,
};
use super::{run_rule_tests, test_file, values_match, TestFile};

fn testdata() -> PathBuf {
    Path::new(file!())
        .parent()
        .unwrap()
        .join("../testdata/unittest")
}

fn vals(s: &str) -> Vec<Point> {
    expand_values(s).unwrap()
}

fn v(xs: &[f64]) -> Vec<Point> {
    xs.iter().map(|x| Point::Value(*x)).collect()
}

#[test]
fn expanding_notation() {
    use Point::{Missing, Stale};
    assert_eq!(vals("1+2x3"), v(&[1.0, 3.0, 5.0, 7.0]));
    assert_eq!(vals(" 1-2x4 "), v(&[1.0, -1.0, -3.0, -5.0, -7.0]));
    assert_eq!(vals("-2+4x3"), v(&[-2.0, 2.0, 6.0, 10.0]));
    assert_eq!(vals("1x4"), v(&[1.0; 5]));
    assert_eq!(vals("1+0x3"), v(&[1.0; 4]));
    assert_eq!(vals("7x0"), v(&[7.0]));
    assert_eq!(vals("1e3"), v(&[1000.0]));
    assert_eq!(vals("1e3+1e2x2"), v(&[1000.0, 1100.0, 1200.0]));
    assert_eq!(vals("1e-3-1e-3x1"), v(&[0.001, 0.0]));
    assert_eq!(vals("1.5-0.5x2"), v(&[1.5, 1.0, 0.5]));
    assert_eq!(vals("+3 0x2"), v(&[3.0, 0.0, 0.0, 0.0]));
    assert_eq!(
        vals("1 _x3 stale"),
        vec![Point::Value(1.0), Missing, Missing, Missing, Stale]
    );
    assert_eq!(vals("_ 2 _x0"), vec![Missing, Point::Value(2.0)]);
    assert_eq!(vals(""), vec![]);
    match vals("Inf -Inf NaN")[..] {
        [Point::Value(a), Point::Value(b), Point::Value(c)] => {
            assert!(a == f64::INFINITY && b == f64::NEG_INFINITY && c.is_nan())
        }
        ref other => panic!("{other:?}"),
    }
    for bad in [
        "1+x3",
        "foo",
        "1x-1",
        "1x",
        "1+2x3.5",
        "stalex2",
        "{{schema:1}}",
        "1++2",
    ] {
        let e = expand_values(bad).unwrap_err().to_string();
        assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
    }
}

#[test]
fn numbers() {
    assert_eq!(parse_number("1e3"), Some(1000.0));
    assert_eq!(parse_number("-.5"), Some(-0.5));
    assert_eq!(parse_number("+Inf"), Some(f64::INFINITY));
    for bad in ["", "-", "e3", "1e", "--1", "1_000", "x", "0x4"] {
        assert_eq!(parse_number(bad), None, "{bad}");
    }
}

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

#[test]
fn series_descriptions() {
    assert_eq!(
        parse_series(r#"up{job="a", instance='b:9',}"#).unwrap(),
        ls(&[("__name__", "up"), ("job", "a"), ("instance", "b:9")])
    );
    assert_eq!(
        parse_series(r#"  {__name__="x:y", a=`r\aw`} "#).unwrap(),
        ls(&[("__name__", "x:y"), ("a", r"r\aw")])
    );
    assert_eq!(
        parse_series(r#"{"my.metric", a="\"q\"\n\u00e9"}"#).unwrap(),
        ls(&[("__name__", "my.metric"), ("a", "\"q\"\né")])
    );
    assert_eq!(
        parse_series("job:rate5m").unwrap(),
        ls(&[("__name__", "job:rate5m")])
    );
    assert_eq!(parse_series("").unwrap(), Labels::empty());
    assert_eq!(parse_series(" {} ").unwrap(), Labels::empty());
    assert_eq!(
        parse_series(r#"m{a=""}"#).unwrap(),
        ls(&[("__name__", "m")])
    );
    for bad in [
        r#"up{a!="b"}"#,
        r#"up{a="b""#,
        r#"up{a="b"} 1"#,
        r#"up{a=b}"#,
        r#"up{a="b" c="d"}"#,
        r#"up{a="x", a="y"}"#,
        r#"up{a="\q"}"#,
        "1up",
    ] {
        assert!(parse_series(bad).is_err(), "{bad}");
    }
}

#[test]
fn go_printing() {
    assert_eq!(float_e(50.0), "5E+01");
    assert_eq!(float_e(0.4), "4E-01");
    assert_eq!(float_e(3.999999999999991e-01), "3.999999999999991E-01");
    assert_eq!(float_e(0.0), "0E+00");
    assert_eq!(float_e(-1.5), "-1.5E+00");
    assert_eq!(float_e(1e300), "1E+300");
    assert_eq!(float_e(f64::NAN), "NaN");
    assert_eq!(float_e(f64::INFINITY), "+Inf");
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(500), "500ms");
    assert_eq!(go_duration(1500), "1.5s");
    assert_eq!(go_duration(90_000), "1m30s");
    assert_eq!(go_duration(600_000), "10m0s");
    assert_eq!(go_duration(3_600_000), "1h0m0s");
    assert_eq!(go_duration(90_061_000), "25h1m1s");
    assert_eq!(
        labels_string(&ls(&[("b", "x\"y"), ("__name__", "m")])),
        r#"{__name__="m", b="x\"y"}"#
    );
    assert_eq!(labels_string(&Labels::empty()), "{}");
}

#[test]
fn value_comparison() {
    assert!(values_match(0.1, 0.1, false));
    assert!(values_match(f64::NAN, f64::NAN, false));
    let next = f64::from_bits(0.3f64.to_bits() + 1);
    assert!(!values_match(0.3, next, false));
    assert!(values_match(0.3, next, true));
    assert!(!values_match(
        0.3,
        f64::from_bits(0.3f64.to_bits() + 2),
        true
    ));
    assert!(!values_match(0.4, 3.999999999999991e-01, true));
    assert!(!values_match(1.0, -1.0, true));
    assert!(!values_match(f64::INFINITY, f64::MAX, true));
}

#[test]
fn test_file_format() {
    let tf = TestFile::parse(
        "rule_files: [a.yml]\nevaluation_interval: 30s\ngroup_eval_order: [g]\nfuzzy_compare: true\n\
         tests:\n- interval: 15s\n  name: 7\n  input_series:\n  - series: up\n    values: 1\n  \
         alert_rule_test:\n  - eval_time: 1m\n    alertname: A\n    exp_alerts:\n    - exp_labels: {code: 500}\n  \
         promql_expr_test:\n  - expr: up\n    eval_time: 0\n    exp_samples:\n    - labels: up\n      value: 1e3\n    - value: .nan\n",
    )
    .unwrap();
    assert_eq!(tf.evaluation_interval.as_secs(), 30);
    assert!(tf.fuzzy_compare);
    let t = &tf.tests[0];
    assert_eq!((t.interval.as_secs(), t.name.as_str()), (15, "7"));
    assert_eq!(t.input_series[0].values, "1");
    assert_eq!(t.alert_rule_test[0].exp_alerts[0].exp_labels["code"], "500");
    assert_eq!(t.promql_expr_test[0].exp_samples[0].value, 1000.0);
    assert!(t.promql_expr_test[0].exp_samples[1].value.is_nan());
    assert_eq!(TestFile::parse("").unwrap(), TestFile::default());
    assert_eq!(
        TestFile::parse("tests:\nrule_files:\n").unwrap(),
        TestFile::default()
    );
    let e = TestFile::parse("tests:\n- intervall: 1m\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("intervall"), "{e}");
    let e = TestFile::parse("evaluation_interval: 1x\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a valid duration string"), "{e}");
}

fn run<P: AsRef<Path>>(files: &[P]) -> (bool, String) {
    let names: Vec<String> = files
        .iter()
        .map(|p| p.as_ref().display().to_string())
        .collect();
    let mut out = Vec::new();
    let ok = run_rule_tests(&names, &mut out);
    (ok, String::from_utf8(out).unwrap())
}

#[test]
fn passing_file() {
    let f = testdata().join("pass.yml");
    let (ok, out) = run(&[&f]);
    assert!(ok, "{out}");
    assert_eq!(
        out,
        format!("Unit Testing:  {}\n  SUCCESS\n\n", f.display())
    );
}

#[test]
fn failing_file_reports_differences() {
    let pass = testdata().join("pass.yml");
    let fail = testdata().join("fail.yml");
    let (ok, out) = run(&[&fail, &pass]);
    assert!(!ok);
    let expected = format!(
        "Unit Testing:  {fail}
  FAILED:
    name: wrong expectations,
    alertname: HighErrors, time: 9m, 
        exp:[
            0:
              Labels:{{alertname=\"HighErrors\", job=\"api\", severity=\"page\"}}
              Annotations:{{}}
            ], 
        got:[]

    name: wrong expectations,
    alertname: HighErrors, time: 10m, 
        exp:[
            0:
              Labels:{{alertname=\"HighErrors\", job=\"api\", severity=\"critical\"}}
              Annotations:{{runbook=\"http://prom.example/runbook?env=prod\", summary=\"api error ratio 10%\"}}
            ], 
        got:[
            0:
              Labels:{{alertname=\"HighErrors\", job=\"api\", severity=\"page\"}}
              Annotations:{{runbook=\"http://prom.example/runbook?env=prod\", summary=\"api error ratio 10%\"}}
            ]

    name: wrong expectations,
    expr: \"job:error_ratio\", time: 10m,
        exp: {{__name__=\"job:error_ratio\", job=\"api\"}} 2E-01
        got: {{__name__=\"job:error_ratio\", job=\"api\"}} 1E-01


Unit Testing:  {pass}
  SUCCESS

",
        fail = fail.display(),
        pass = pass.display()
    );
    assert_eq!(out, expected);
}

/// Writes `files` into a fresh folder and tests `test.yml` there.
fn run_inline(files: &[(&str, &str)]) -> super::FileResult {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    test_file(&dir.path().join("test.yml"))
}

const COUNTER_RULES: &str = "groups:
- name: base
  rules:
  - record: job:hits:rate1m
    expr: sum by (job) (rate(hits_total[1m]))
- name: derived
  rules:
  - record: job:hits:rate1m:x2
    expr: job:hits:rate1m * 2
";

#[test]
fn recorded_rates_and_fuzzy_compare() {
    // `derived` reads what `base` records: 4/s doubled, give or take the
    // last bit of the extrapolated rate
    let test = |order: &str, fuzzy: bool, at: &str, exp: &str| {
        format!(
            "rule_files: [rules.yml]
evaluation_interval: 1m
fuzzy_compare: {fuzzy}
group_eval_order: {order}
tests:
- interval: 15s
  input_series:
  - series: 'hits_total{{job=\"a\"}}'
    values: '0+60x40'
  promql_expr_test:
  - expr: job:hits:rate1m:x2
    eval_time: {at}
    exp_samples: {exp}
"
        )
    };
    let eight = "[{labels: 'job:hits:rate1m:x2{job=\"a\"}', value: 8}]";
    let r = run_inline(&[
        ("rules.yml", COUNTER_RULES),
        ("test.yml", &test("[base, derived]", false, "2m", eight)),
    ]);
    assert_eq!(
        r.failures,
        vec!["    expr: \"job:hits:rate1m:x2\", time: 2m,
        exp: {__name__=\"job:hits:rate1m:x2\", job=\"a\"} 8E+00
        got: {__name__=\"job:hits:rate1m:x2\", job=\"a\"} 7.999999999999999E+00"
            .to_string()]
    );
    for order in ["[base, derived]", "[derived, base]"] {
        // evaluated before `base`, `derived` sees base's output of the step
        // before (within the lookback): the same value
        let r = run_inline(&[
            ("rules.yml", COUNTER_RULES),
            ("test.yml", &test(order, true, "2m", eight)),
        ]);
        assert_eq!(r.failures, Vec::<String>::new(), "{order}");
    }
    // at time 0 a rate needs two samples: nothing recorded yet
    let r = run_inline(&[
        ("rules.yml", COUNTER_RULES),
        ("test.yml", &test("[base, derived]", true, "0", "[]")),
    ]);
    assert_eq!(r.failures, Vec::<String>::new());
}

#[test]
fn same_step_output_depends_on_group_order() {
    let rules = "groups:
- name: second
  rules:
  - record: copy
    expr: orig * 10
- name: first
  rules:
  - record: orig
    expr: vector(1)
";
    let test = |order: &str| {
        format!(
            "rule_files: [rules.yml]
group_eval_order: {order}
tests:
- promql_expr_test:
  - expr: copy
    eval_time: 0
    exp_samples:
    - labels: copy
      value: 10
"
        )
    };
    let r = run_inline(&[("rules.yml", rules), ("test.yml", &test("[first, second]"))]);
    assert_eq!(r.failures, Vec::<String>::new());
    let r = run_inline(&[("rules.yml", rules), ("test.yml", &test("[second]"))]);
    assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
    assert!(r.failures[0].contains("got: nil"), "{}", r.failures[0]);
    let r = run_inline(&[("rules.yml", rules), ("test.yml", &test("[first, first]"))]);
    assert_eq!(
        r.failures,
        vec!["group name repeated in evaluation order: first".to_string()]
    );
    let r = run_inline(&[("rules.yml", rules), ("test.yml", &test("[third]"))]);
    assert_eq!(
        r.failures,
        vec!["group name third in group_eval_order not found".to_string()]
    );
}

#[test]
fn keep_firing_for_and_fuzzy_compare() {
    let rules = "groups:
- name: g
  rules:
  - alert: Flap
    expr: flap > 0
    keep_firing_for: 3m
  - record: third
    expr: flap / 3
";
    let test = "rule_files: ['rule*.yml']
fuzzy_compare: true
tests:
- input_series:
  - series: flap
    values: '1 1 0 0 0 0 0'
  alert_rule_test:
  - {eval_time: 0, alertname: Flap, exp_alerts: [{}]}
  - {eval_time: 4m, alertname: Flap, exp_alerts: [{}]}
  - {eval_time: 5m, alertname: Flap}
  promql_expr_test:
  - expr: third
    eval_time: 0
    exp_samples: [{labels: third, value: 0.33333333333333337}]
";
    let r = run_inline(&[("rules.yml", rules), ("test.yml", test)]);
    assert_eq!(r.failures, Vec::<String>::new());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn alert_checks_between_evaluations_use_the_previous_one() {
    let rules = "groups:
- name: g
  rules:
  - alert: Up
    expr: x > 0
";
    // evaluations every 2m: the state at 3m is the one computed at 2m
    let test = "rule_files: [rules.yml]
evaluation_interval: 2m
tests:
- interval: 1m
  input_series:
  - series: x
    values: '0 0 0 1 1'
  alert_rule_test:
  - {eval_time: 3m, alertname: Up}
  - {eval_time: 4m, alertname: Up, exp_alerts: [{}]}
";
    let r = run_inline(&[("rules.yml", rules), ("test.yml", test)]);
    assert_eq!(r.failures, Vec::<String>::new());
}

#[test]
fn rule_errors_stop_the_test() {
    let rules = "groups:
- name: g
  rules:
  - record: dup
    expr: label_replace(m, \"a\", \"\", \"\", \"\")
";
    let test = "rule_files: [rules.yml]
tests:
- input_series:
  - {series: 'm{a=\"1\"}', values: '1x5'}
  - {series: 'm{a=\"2\"}', values: '1x5'}
  promql_expr_test:
  - {expr: dup, eval_time: 5m}
";
    let r = run_inline(&[("rules.yml", rules), ("test.yml", test)]);
    assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
    assert!(
        r.failures[0].starts_with("    rule: dup, time: 0s, err: "),
        "{}",
        r.failures[0]
    );
}

#[test]
fn bad_test_files_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yml");
    let (ok, out) = run(&[&missing]);
    assert!(!ok);
    assert!(out.contains(&format!("{}: ", missing.display())), "{out}");

    let r = run_inline(&[(
        "test.yml",
        "tests:\n- input_series:\n  - series: up\n    valuez: 1\n",
    )]);
    assert_eq!(r.failures.len(), 1);
    assert!(
        r.failures[0].contains("test.yml: ") && r.failures[0].contains("valuez"),
        "{:?}",
        r.failures
    );

    let r = run_inline(&[(
        "test.yml",
        "tests:\n- name: first\n- name: second\n  input_series:\n  - series: up\n    values: '1 2+x3'\n",
    )]);
    assert_eq!(r.failures.len(), 1);
    let e = &r.failures[0];
    assert!(
        e.contains(
            "test.yml: test #2 (\"second\"): input_series[0] \"up\": invalid value \"2+x3\""
        ),
        "{e}"
    );

    let r = run_inline(&[(
        "test.yml",
        "tests:\n- input_series:\n  - series: 'up{'\n    values: '1'\n",
    )]);
    assert!(
        r.failures[0].contains("test #1: input_series[0]"),
        "{:?}",
        r.failures
    );

    let r = run_inline(&[(
        "test.yml",
        "tests:\n- input_series:\n  - {series: up, values: '1 2'}\n  - {series: up, values: '1 3'}\n",
    )]);
    assert!(
        r.failures[0].contains("two different values"),
        "{:?}",
        r.failures
    );
    let r = run_inline(&[(
        "test.yml",
        "tests:\n- input_series:\n  - {series: up, values: '1 _'}\n  - {series: up, values: '_ 3'}\n  \
         promql_expr_test: [{expr: up, eval_time: 1m, exp_samples: [{labels: up, value: 3}]}]\n",
    )]);
    assert_eq!(r.failures, Vec::<String>::new());

    let r = run_inline(&[(
        "test.yml",
        "tests:\n- name: t\n  alert_rule_test:\n  - eval_time: 5m\n",
    )]);
    assert_eq!(
        r.failures,
        vec!["an item under alert_rule_test misses required attribute alertname at eval_time 5m (in TestGroup t)".to_string()]
    );

    let r = run_inline(&[("test.yml", "rule_files: [missing*.yml]\ntests: []\n")]);
    assert!(r.failures.is_empty());
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].starts_with("  WARNING: no file match pattern "),
        "{:?}",
        r.warnings
    );

    let r = run_inline(&[
        (
            "rules.yml",
            "groups:\n- name: g\n  rules:\n  - record: r\n    expr: 'sum('\n",
        ),
        ("test.yml", "rule_files: [rules.yml]\ntests: [{}]\n"),
    ]);
    assert_eq!(r.failures.len(), 1);
    assert!(
        r.failures[0].contains("rules.yml: group \"g\", rule 1"),
        "{:?}",
        r.failures
    );

    let r = run_inline(&[(
        "test.yml",
        "tests:\n- promql_expr_test:\n  - expr: 'sum('\n    eval_time: 1m\n  - expr: up\n    exp_samples: [{labels: 'up{'}]\n",
    )]);
    assert_eq!(r.failures.len(), 2, "{:?}", r.failures);
    assert!(
        r.failures[0].starts_with("    expr: \"sum(\", time: 1m, err: "),
        "{}",
        r.failures[0]
    );
    assert!(
        r.failures[1].starts_with("    expr: \"up\", time: 0s, err: labels \"up{\": "),
        "{}",
        r.failures[1]
    );
}
