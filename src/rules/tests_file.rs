//! Rule file parsing and validation tests.

use std::time::Duration;

use super::file::{check_rule_files, expand_rule_files, parse_rules};

const GOOD: &str = r#"
groups:
  - name: example
    interval: 30s
    limit: 10
    query_offset: 1m
    labels:
      team: infra
    rules:
      - record: code:prometheus_http_requests_total:sum
        expr: sum by (code) (prometheus_http_requests_total)
      - alert: HighRequestLatency
        expr: job:request_latency_seconds:mean5m{job="myjob"} > 0.5
        for: 10m
        keep_firing_for: 5m
        labels:
          severity: page
          team: web
        annotations:
          summary: High request latency on {{ $labels.instance }}
          value: "{{ $value | humanize }}"
"#;

#[test]
fn parses_prometheus_documentation_example() {
    let groups = parse_rules("rules.yml", GOOD).unwrap();
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!(g.name, "example");
    assert_eq!(g.file, "rules.yml");
    assert_eq!(g.interval, Some(Duration::from_secs(30)));
    assert_eq!(g.query_offset, Some(Duration::from_secs(60)));
    assert_eq!(g.limit, 10);
    assert_eq!(g.rules.len(), 2);
    let rec = &g.rules[0];
    assert!(!rec.alerting);
    assert_eq!(rec.labels.get("team"), Some("infra"));
    let a = &g.rules[1];
    assert!(a.alerting);
    assert_eq!(a.hold, Duration::from_secs(600));
    assert_eq!(a.keep_firing_for, Duration::from_secs(300));
    // rule labels win over group labels
    assert_eq!(a.labels.get("team"), Some("web"));
    assert_eq!(a.labels.get("severity"), Some("page"));
    assert_eq!(a.annotation_templates.len(), 2);
}

fn errors(src: &str) -> Vec<String> {
    parse_rules("f.yml", src).unwrap_err()
}

#[test]
fn validation_errors_name_file_group_rule_and_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "groups:\n- name: x\n  rules:\n  - record: a\n    expr: up\n  - record: b\n    expr: sum(\n",
            "f.yml: group \"x\", rule 2, \"b\": could not parse expression: ",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - record: a\n    expr: up\n    for: 5m\n",
            "f.yml: group \"x\", rule 1, \"a\": invalid field 'for' in recording rule",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - record: a\n    expr: up\n    keep_firing_for: 5m\n",
            "invalid field 'keep_firing_for' in recording rule",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - record: a\n    expr: up\n    annotations:\n      x: y\n",
            "invalid field 'annotations' in recording rule",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - record: 'a{b=\"c\"}'\n    expr: up\n",
            "braces present in the recording rule name; should it be in expr?: a{b=\"c\"}",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - record: a\n    alert: b\n    expr: up\n",
            "only one of 'record' and 'alert' must be set",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - expr: up\n",
            "f.yml: group \"x\", rule 1, \"\": one of 'record' or 'alert' must be set",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - alert: a\n",
            "field 'expr' must be set in rule",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - alert: a\n    expr: up\n    labels:\n      __name__: x\n",
            "invalid label name: __name__",
        ),
        (
            "groups:\n- name: x\n  rules: []\n- name: x\n  rules: []\n",
            "f.yml: groupname: \"x\" is repeated in the same file",
        ),
        ("groups:\n- rules: []\n", "f.yml: Groupname must not be empty"),
        (
            "groups:\n- name: x\n  rules:\n  - alert: a\n    expr: up\n    annotations:\n      s: '{{ nope }}'\n",
            "f.yml: group \"x\", rule 1, \"a\": annotation \"s\": template: __alert_a:1: function \"nope\" not defined",
        ),
        (
            "groups:\n- name: x\n  rules:\n  - alert: a\n    expr: up\n    labels:\n      s: '{{ template \"t\" }}'\n",
            "label \"s\": template: __alert_a:1: unsupported template construct {{template}}",
        ),
        ("groups:\n- name: x\n  interval: 5x\n  rules: []\n", "not a valid duration string"),
        ("groups:\n- name: x\n  foo: 1\n  rules: []\n", "unknown field `foo`"),
    ];
    for (src, want) in cases {
        let errs = errors(src);
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "{src}\nwant {want}\ngot {errs:?}"
        );
    }
}

#[test]
fn all_errors_are_reported() {
    let errs = errors(
        "groups:\n- name: x\n  rules:\n  - record: a\n    expr: up\n    for: 1m\n  - alert: b\n    expr: 'x +'\n",
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
}

#[test]
fn empty_file_and_numbers_as_strings() {
    assert!(parse_rules("f", "").unwrap().is_empty());
    let g = parse_rules(
        "f",
        "groups:\n- name: 1\n  rules:\n  - record: r\n    expr: 1\n    labels:\n      n: 2\n",
    )
    .unwrap();
    assert_eq!(g[0].name, "1");
    assert_eq!(g[0].rules[0].expr, "1");
    assert_eq!(g[0].rules[0].labels.get("n"), Some("2"));
}

#[test]
fn check_rules_reports_like_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, GOOD).unwrap();
    let out = check_rule_files(&[&good]).unwrap();
    assert_eq!(
        out,
        format!("Checking {}\n  SUCCESS: 2 rules found\n\n", good.display())
    );
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n- name: x\n  rules:\n  - record: a\n    expr: up\n    for: 1m\n",
    )
    .unwrap();
    let err = check_rule_files(&[&good, &bad]).unwrap_err();
    assert!(err.contains("  FAILED:\n"), "{err}");
    assert!(
        err.contains(&format!(
            "{}: group \"x\", rule 1, \"a\": invalid field 'for' in recording rule",
            bad.display()
        )),
        "{err}"
    );
    let missing = dir.path().join("nope.yml");
    let err = check_rule_files(&[&missing]).unwrap_err();
    assert!(err.contains("nope.yml"), "{err}");
}

#[test]
fn globs_expand_relative_to_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("r")).unwrap();
    for f in ["b.yml", "a.yml", "c.yaml", "x.txt"] {
        std::fs::write(dir.path().join("r").join(f), "").unwrap();
    }
    let files = expand_rule_files(
        &[
            "r/*.yml".to_string(),
            "r/c.y?ml".to_string(),
            "r/a.yml".to_string(),
            "r/none.yml".to_string(),
        ],
        dir.path(),
    );
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["a.yml", "b.yml", "c.yaml"]);
    let files = expand_rule_files(&["r/[ab].yml".to_string()], dir.path());
    assert_eq!(files.len(), 2);
}
