//! Tests of relabeling: every action, Prometheus's defaults and errors.

use super::*;
use proptest::prelude::*;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

fn yaml(s: &str) -> RelabelConfig {
    match serde_yaml::from_str::<RelabelConfig>(s) {
        Ok(c) => c,
        Err(e) => panic!("parsing {s:?}: {e}"),
    }
}

fn yaml_list(s: &str) -> Vec<RelabelConfig> {
    match serde_yaml::from_str::<Vec<RelabelConfig>>(s) {
        Ok(c) => c,
        Err(e) => panic!("parsing {s:?}: {e}"),
    }
}

fn yaml_err(s: &str) -> String {
    match serde_yaml::from_str::<RelabelConfig>(s) {
        Ok(c) => panic!("parsing {s:?} should fail, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// Expands `template` against the anchored `regex` matched on `input`.
fn expand_str(regex: &str, input: &str, template: &str) -> String {
    let re = Regexp::new(regex).expect("test regex");
    let caps = re.re.captures(input).expect("test regex matches");
    let mut out = String::new();
    expand(template, &caps, &mut out);
    out
}

#[test]
fn expand_follows_go() {
    let re = r"(\w+)-(\d+)";
    for (template, want) in [
        ("$1", "foo"),
        ("${1}", "foo"),
        ("$2$1", "12foo"),
        ("${2}x${1}", "12xfoo"),
        // `$1x` names the group "1x", which does not exist.
        ("$1x", ""),
        ("${1}x", "foox"),
        ("$1_", ""),
        ("$1-", "foo-"),
        ("$0", "foo-12"),
        ("$3", ""),
        // A leading zero makes a name, not an index.
        ("$01", ""),
        ("$$1", "$1"),
        ("$$$1", "$foo"),
        ("$", "$"),
        ("a$", "a$"),
        ("${1", "${1"),
        ("${}", "${}"),
        ("${-}", "${-}"),
        ("$-1", "$-1"),
        ("$ 1", "$ 1"),
        ("${1}}", "foo}"),
        // Unicode letters and decimal digits extend a name...
        ("$1é", ""),
        ("$1\u{663}", ""),
        // ...other characters do not.
        ("$1·", "foo·"),
        ("$1²", "foo²"),
        ("$999999999", ""),
        ("$1000000000", ""),
        // Long indexes neither overflow nor panic.
        ("$123456789012345678901234567890x", ""),
        ("${123456789012345678901234567890}x", "x"),
        ("plain", "plain"),
    ] {
        assert_eq!(expand_str(re, "foo-12", template), want, "{template:?}");
    }
    let named = r"(?P<word>\w+)-(?P<num>\d+)";
    for (template, want) in [
        ("$word", "foo"),
        ("${num}", "12"),
        ("$word_x", ""),
        ("${word}_x", "foo_x"),
        ("$1:$num", "foo:12"),
        ("$nope", ""),
    ] {
        assert_eq!(expand_str(named, "foo-12", template), want, "{template:?}");
    }
    // A group that did not take part expands to nothing.
    assert_eq!(expand_str("(a)|(b)", "b", "[$1][$2]"), "[][b]");
}

#[test]
fn replace_all_follows_go() {
    let re = |s: &str| Regexp::new(s).expect("test regex").re;
    assert_eq!(replace_all(&re("a(.*)"), "abc", "x$1"), "xbc");
    // An unbalanced pattern escapes the anchoring: `^(?s:a)|(b)$`.
    assert_eq!(replace_all(&re("a)|(b"), "ab", "x$1"), "xxb");
    // Empty matches: `^(?s:x*)|()$` on "ab" matches at 0 and at 2.
    assert_eq!(replace_all(&re("x*)|("), "ab", "_"), "_ab_");
}

#[test]
fn case_mapping_follows_go() {
    assert_eq!(go_to_lower("FoO-ÄÖ"), "foo-äö");
    assert_eq!(go_to_lower("İ"), "i");
    // No final-sigma rule.
    assert_eq!(go_to_lower("ΌΣ"), "όσ");
    assert_eq!(go_to_upper("foo-äö"), "FOO-ÄÖ");
    assert_eq!(go_to_upper("straße"), "STRAßE");
    assert_eq!(go_to_upper("ﬁ"), "ﬁ");
    assert_eq!(
        go_to_upper("\u{1FB3}\u{1F80}\u{1F88}"),
        "\u{1FBC}\u{1F88}\u{1F88}"
    );
    assert_eq!(go_to_upper("ǆ"), "Ǆ");
}

/// One relabeling case: input labels, rules (YAML), expected output.
struct Case {
    name: &'static str,
    input: &'static [(&'static str, &'static str)],
    rules: &'static str,
    want: Option<&'static [(&'static str, &'static str)]>,
}

const ABC: &[(&str, &str)] = &[("a", "foo"), ("b", "bar"), ("c", "baz")];

fn cases() -> Vec<Case> {
    vec![
            Case {
                name: "replace with $1 and ${1}",
                input: ABC,
                rules: "- {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch$1'}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
            },
            Case {
                name: "replace defaults copy the joined value",
                input: ABC,
                rules: "- {source_labels: [a, b], target_label: d}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "foo;bar")]),
            },
            Case {
                name: "absent source labels join as empty strings",
                input: ABC,
                rules: "- {source_labels: [a, missing, b], separator: ',', regex: '(.*),,(.*)', target_label: d, replacement: '$2.$1'}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "bar.foo")]),
            },
            Case {
                name: "replace without a match leaves the set alone",
                input: ABC,
                rules: "- {source_labels: [a], regex: 'x(.*)', target_label: d}",
                want: Some(ABC),
            },
            Case {
                name: "the regex is anchored",
                input: ABC,
                rules: "- {source_labels: [a], regex: 'o+', target_label: d}",
                want: Some(ABC),
            },
            Case {
                name: "an empty result deletes the target",
                input: ABC,
                rules: "- {source_labels: [a], regex: '(f)oo', target_label: b, replacement: '$2'}",
                want: Some(&[("a", "foo"), ("c", "baz")]),
            },
            Case {
                name: "literal replacement of an empty value",
                input: ABC,
                rules: "- {source_labels: [missing], target_label: d, replacement: const}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "const")]),
            },
            Case {
                name: "literal empty replacement deletes",
                input: ABC,
                rules: "- {target_label: c, replacement: ''}",
                want: Some(&[("a", "foo"), ("b", "bar")]),
            },
            Case {
                name: "templated target label",
                input: ABC,
                rules: "- {source_labels: [a, b], regex: '(.*);(.*)', target_label: 'x_${1}', replacement: '$2'}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("x_foo", "bar")]),
            },
            Case {
                name: "an expanded target that is empty is skipped",
                input: ABC,
                rules: "- {source_labels: [a], regex: '(.*)', target_label: '$2', replacement: x}",
                want: Some(ABC),
            },
            Case {
                name: "$1x is the group named 1x",
                input: ABC,
                rules: "- {source_labels: [a], regex: '(.*)', target_label: d, replacement: '$1x'}",
                want: Some(ABC),
            },
            Case {
                name: "named groups",
                input: ABC,
                rules: "- {source_labels: [a], regex: '(?P<head>.)(?P<tail>.*)', target_label: d, replacement: '$tail-${head}'}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "oo-f")]),
            },
            Case {
                name: "UTF-8 target names are allowed",
                input: ABC,
                rules: "- {source_labels: [a], target_label: 'app.kubernetes.io/name'}",
                want: Some(&[("a", "foo"), ("app.kubernetes.io/name", "foo"), ("b", "bar"), ("c", "baz")]),
            },
            Case {
                name: "dot matches newline",
                input: &[("a", "x\ny")],
                rules: "- {source_labels: [a], regex: 'x.y', action: drop}",
                want: None,
            },
            Case {
                name: "drop with only source_labels drops everything",
                input: ABC,
                rules: "- {source_labels: [a], action: drop}",
                want: None,
            },
            Case {
                name: "drop without a match keeps",
                input: ABC,
                rules: "- {source_labels: [a], regex: bar, action: drop}",
                want: Some(ABC),
            },
            Case {
                name: "keep with a match",
                input: ABC,
                rules: "- {source_labels: [a, b], regex: 'foo;bar', action: keep}",
                want: Some(ABC),
            },
            Case {
                name: "keep without a match",
                input: ABC,
                rules: "- {source_labels: [a], regex: 'fo', action: keep}",
                want: None,
            },
            Case {
                name: "keep an absent label with the default regex",
                input: ABC,
                rules: "- {source_labels: [missing], action: keep}",
                want: Some(ABC),
            },
            Case {
                name: "action names are case-insensitive",
                input: ABC,
                rules: "- {source_labels: [a], regex: foo, action: DROP}",
                want: None,
            },
            Case {
                name: "keepequal keeps on equal values",
                input: &[("a", "1"), ("b", "1"), ("c", "2")],
                rules: "- {source_labels: [a], target_label: b, action: keepequal}",
                want: Some(&[("a", "1"), ("b", "1"), ("c", "2")]),
            },
            Case {
                name: "keepequal drops on different values",
                input: &[("a", "1"), ("b", "1"), ("c", "2")],
                rules: "- {source_labels: [a], target_label: c, action: keepequal}",
                want: None,
            },
            Case {
                name: "dropequal drops on equal values",
                input: &[("a", "1"), ("b", "1")],
                rules: "- {source_labels: [a], target_label: b, action: dropequal}",
                want: None,
            },
            Case {
                name: "dropequal: absent equals empty join",
                input: &[("a", "1")],
                rules: "- {source_labels: [x], target_label: y, action: dropequal}",
                want: None,
            },
            Case {
                name: "dropequal keeps on different values",
                input: &[("a", "1"), ("b", "2")],
                rules: "- {source_labels: [a], target_label: b, action: dropequal}",
                want: Some(&[("a", "1"), ("b", "2")]),
            },
            Case {
                // Prometheus's own test case; python3:
                // int.from_bytes(hashlib.md5(b"baz").digest()[8:], "big") % 1000
                name: "hashmod",
                input: ABC,
                rules: "- {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
            },
            Case {
                // python3: int.from_bytes(hashlib.md5(b"foo;bar").digest()[8:], "big") % 1000
                name: "hashmod of joined values",
                input: ABC,
                rules: "- {source_labels: [a, b], target_label: d, modulus: 1000, action: hashmod}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "750")]),
            },
            Case {
                // md5("foo") = acbd18db4cc2f85c edef654fccc4a4d8; the last
                // eight bytes big-endian are 0xedef654fccc4a4d8.
                name: "hashmod with the largest modulus",
                input: ABC,
                rules: "- {source_labels: [a], target_label: d, modulus: 18446744073709551615, action: hashmod}",
                want: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "17145033699835028696")]),
            },
            Case {
                name: "labelmap copies matching labels",
                input: &[("__meta_x_foo", "1"), ("__meta_x_bar", "2"), ("other", "3")],
                rules: "- {regex: '__meta_x_(.+)', action: labelmap}",
                want: Some(&[("__meta_x_bar", "2"), ("__meta_x_foo", "1"), ("bar", "2"), ("foo", "1"), ("other", "3")]),
            },
            Case {
                name: "labelmap with a template",
                input: &[("a", "1"), ("b", "2")],
                rules: "- {regex: '(a)', replacement: 'copy_${1}_$1', action: labelmap}",
                want: Some(&[("a", "1"), ("b", "2"), ("copy_a_a", "1")]),
            },
            Case {
                // Prometheus visits untouched labels by name and then the
                // labels set by earlier rules, so the later-set `a_k` wins.
                name: "labelmap clash: set labels come last",
                input: &[("b_k", "base")],
                rules: "
- {target_label: a_k, replacement: added}
- {regex: '[ab]_(k)', action: labelmap}",
                want: Some(&[("a_k", "added"), ("b_k", "base"), ("k", "added")]),
            },
            Case {
                name: "labelmap sees the labels as they were before the rule",
                input: &[("a", "1"), ("xa", "2")],
                rules: "- {regex: '(.*)', replacement: 'x$1', action: labelmap}",
                want: Some(&[("a", "1"), ("xa", "1"), ("xxa", "2")]),
            },
            Case {
                name: "labeldrop",
                input: &[("a", "1"), ("aa", "2"), ("b", "3")],
                rules: "- {regex: 'a', action: labeldrop}",
                want: Some(&[("aa", "2"), ("b", "3")]),
            },
            Case {
                name: "labelkeep",
                input: &[("a", "1"), ("aa", "2"), ("b", "3")],
                rules: "- {regex: 'a|b', action: labelkeep}",
                want: Some(&[("a", "1"), ("b", "3")]),
            },
            Case {
                name: "lowercase",
                input: &[("a", "FoO"), ("b", "BaR")],
                rules: "- {source_labels: [a, b], separator: '', target_label: l, action: lowercase}",
                want: Some(&[("a", "FoO"), ("b", "BaR"), ("l", "foobar")]),
            },
            Case {
                name: "uppercase",
                input: &[("a", "FoO"), ("b", "straße")],
                rules: "- {source_labels: [a, b], target_label: a, action: uppercase}",
                want: Some(&[("a", "FOO;STRAßE"), ("b", "straße")]),
            },
            Case {
                name: "lowercase of an empty value deletes",
                input: &[("a", "X"), ("l", "old")],
                rules: "- {source_labels: [missing], target_label: l, action: lowercase}",
                want: Some(&[("a", "X")]),
            },
            Case {
                name: "rules see the results of earlier rules",
                input: ABC,
                rules: "
- {source_labels: [a], target_label: tmp, replacement: 'x-$1'}
- {source_labels: [tmp], regex: 'x-(.*)', target_label: a, replacement: '${1}2'}
- {source_labels: [tmp], regex: 'x-foo', action: keep}
- {regex: tmp, action: labeldrop}",
                want: Some(&[("a", "foo2"), ("b", "bar"), ("c", "baz")]),
            },
            Case {
                name: "set then delete then set",
                input: ABC,
                rules: "
- {target_label: a, replacement: one}
- {target_label: a, replacement: ''}
- {source_labels: [a], target_label: e}
- {target_label: a, replacement: two}",
                want: Some(&[("a", "two"), ("b", "bar"), ("c", "baz")]),
            },
            Case {
                // The next cases are from Prometheus's relabel_test.go.
                name: "chained replaces",
                input: ABC,
                rules: "
- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}
- {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}",
                want: Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
            },
            Case {
                // python3: int.from_bytes(hashlib.md5(b"foo\nbar").digest()[8:], "big") % 1000
                name: "hashmod of a value with a newline",
                input: &[("a", "foo\nbar")],
                rules: "- {source_labels: [a], target_label: b, modulus: 1000, action: hashmod}",
                want: Some(&[("a", "foo\nbar"), ("b", "734")]),
            },
            Case {
                name: "targets from capture groups",
                input: &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
                rules: r#"
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)path:(/[^,]+).*', target_label: __metrics_path__, replacement: '${1}'}
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)job:([^,]+).*', target_label: job, replacement: '${1}'}
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', target_label: '${1}', replacement: '${2}'}"#,
                want: Some(&[
                    ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
                    ("__metrics_path__", "/secret"),
                    ("foo", "bar"),
                    ("job", "some-job"),
                ]),
            },
            Case {
                // prometheus/prometheus#12283: a label deleted and then set
                // again by later rules.
                name: "labeldrop then set the same label",
                input: &[
                    ("__meta_kubernetes_pod_container_port_name", "foo"),
                    ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
                ],
                rules: "
- {regex: '^__meta_kubernetes_pod_container_port_name$', action: labeldrop}
- {source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port], regex: '(.+)', target_label: __meta_kubernetes_pod_container_port_name, replacement: metrics}
- {source_labels: [__meta_kubernetes_pod_container_port_name], regex: '^metrics$', action: keep}",
                want: Some(&[
                    ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
                    ("__meta_kubernetes_pod_container_port_name", "metrics"),
                ]),
            },
            Case {
                name: "no rules",
                input: ABC,
                rules: "[]",
                want: Some(ABC),
            },
        ]
}

#[test]
fn table() {
    for case in cases() {
        let cfgs = yaml_list(case.rules);
        for cfg in &cfgs {
            if let Err(e) = cfg.validate() {
                panic!("{}: {cfg:?} is invalid: {e}", case.name);
            }
        }
        let input = ls(case.input);
        let want = case.want.map(ls);
        assert_eq!(relabel(&input, &cfgs), want, "{}", case.name);
        assert_eq!(
            relabel_owned(input.clone(), &cfgs),
            want,
            "{} (owned)",
            case.name
        );
    }
}

#[test]
fn defaults() {
    let cfg = yaml("{source_labels: [__name__], action: drop}");
    assert_eq!(
        cfg,
        RelabelConfig {
            source_labels: vec!["__name__".into()],
            action: Action::Drop,
            ..RelabelConfig::default()
        }
    );
    assert_eq!(cfg.separator, ";");
    assert_eq!(cfg.regex.as_str(), "(.*)");
    assert!(cfg.regex.is_default());
    assert_eq!(cfg.modulus, 0);
    assert_eq!(cfg.target_label, "");
    assert_eq!(cfg.replacement, "$1");
    assert_eq!(yaml("{target_label: x}").action, Action::Replace);
    assert_eq!(cfg.validate(), Ok(()));
}

#[test]
fn explicit_nulls_are_zero_values() {
    let cfg = yaml("{source_labels: [a], regex: , separator: , replacement: , target_label: b}");
    assert_eq!(cfg.regex.as_str(), "");
    assert!(!cfg.regex.is_default());
    assert_eq!(cfg.separator, "");
    assert_eq!(cfg.replacement, "");
    // The empty regex matches only the empty string.
    assert!(cfg.regex.is_match(""));
    assert!(!cfg.regex.is_match("x"));
    assert!(yaml_err("{action: }").contains("relabel action cannot be empty"));
}

#[test]
fn parses_a_real_config() {
    #[derive(Deserialize)]
    struct Job {
        relabel_configs: Vec<RelabelConfig>,
        metric_relabel_configs: Vec<RelabelConfig>,
    }
    let job: Job = serde_yaml::from_str(
        r#"
relabel_configs:
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
    action: keep
    regex: true
  - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
    action: replace
    regex: ([^:]+)(?::\d+)?;(\d+)
    replacement: $1:$2
    target_label: __address__
  - action: labelmap
    regex: __meta_kubernetes_pod_label_(.+)
  - source_labels: [__meta_kubernetes_namespace]
    action: replace
    target_label: kubernetes_namespace
  - source_labels: [__address__]
    target_label: __tmp_shard
    modulus: 4
    action: hashmod
  - source_labels: [__tmp_shard]
    regex: "2"
    action: keep
metric_relabel_configs:
  - source_labels: [__name__]
    regex: 'go_.*'
    action: Drop
  - regex: pod_template_hash
    action: labeldrop
"#,
    )
    .expect("valid config");
    assert_eq!(job.relabel_configs.len(), 6);
    assert_eq!(job.metric_relabel_configs.len(), 2);
    for cfg in job
        .relabel_configs
        .iter()
        .chain(&job.metric_relabel_configs)
    {
        assert_eq!(cfg.validate(), Ok(()), "{cfg:?}");
    }
    assert_eq!(job.relabel_configs[0].regex.as_str(), "true");
    assert_eq!(job.metric_relabel_configs[0].action, Action::Drop);

    let target = ls(&[
        ("__address__", "10.0.0.1:8080"),
        ("__meta_kubernetes_namespace", "prod"),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_port",
            "9102",
        ),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
            "true",
        ),
        ("__meta_kubernetes_pod_label_app", "web"),
    ]);
    // python3: int.from_bytes(hashlib.md5(b"10.0.0.1:9102").digest()[8:], "big") % 4 == 2
    let got = relabel(&target, &job.relabel_configs).expect("kept");
    assert_eq!(got.get("__address__"), Some("10.0.0.1:9102"));
    assert_eq!(got.get("app"), Some("web"));
    assert_eq!(got.get("kubernetes_namespace"), Some("prod"));
    assert_eq!(got.get("__tmp_shard"), Some("2"));
    let not_scraped = target.with("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "");
    assert_eq!(relabel(&not_scraped, &job.relabel_configs), None);

    let series = ls(&[
        ("__name__", "http_requests_total"),
        ("pod_template_hash", "abc"),
    ]);
    assert_eq!(
        relabel(&series, &job.metric_relabel_configs),
        Some(ls(&[("__name__", "http_requests_total")]))
    );
    let go = ls(&[("__name__", "go_goroutines")]);
    assert_eq!(relabel(&go, &job.metric_relabel_configs), None);
}

#[test]
fn parse_errors() {
    let e = yaml_err("{source_labels: [a], target: b}");
    assert!(e.contains("unknown field `target`"), "{e}");
    let e = yaml_err("{action: rewrite}");
    assert!(e.contains(r#"unknown relabel action "rewrite""#), "{e}");
    let e = yaml_err("{regex: '(abc'}");
    assert!(e.contains("error parsing regexp: "), "{e}");
    assert!(e.contains("`^(?s:(abc)$`"), "{e}");
    let e = yaml_err("{modulus: -1}");
    assert!(e.contains("modulus"), "{e}");
}

#[test]
fn regexp_keeps_its_source() {
    let re = Regexp::new("a|b").expect("valid");
    assert_eq!(re.as_str(), "a|b");
    assert_eq!(re.to_string(), "a|b");
    assert_eq!(format!("{re:?}"), r#"Regexp("a|b")"#);
    assert!(re.is_match("a") && re.is_match("b") && !re.is_match("ab"));
    assert_eq!(re, Regexp::new("a|b").expect("valid"));
    assert_ne!(re, Regexp::new("b|a").expect("valid"));
    assert_eq!(Regexp::new("(.*)").expect("valid"), Regexp::default());
    let e = match Regexp::new("a)|(b(") {
        Ok(_) => panic!("should not compile"),
        Err(e) => e.to_string(),
    };
    assert!(e.starts_with("error parsing regexp: "), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn serialization_round_trips() {
    let cfgs = yaml_list(
        r#"
- {source_labels: [a, b], separator: '', regex: 'x(.*)', target_label: '${1}', replacement: '', action: replace}
- {source_labels: [a], action: drop}
- {source_labels: [a], target_label: h, modulus: 8, action: hashmod}
- {regex: '(.*)', action: labelmap}
- {source_labels: [a], target_label: b, action: keepequal}
"#,
    );
    let text = serde_yaml::to_string(&cfgs).expect("serializes");
    assert!(text.contains("regex: x(.*)"), "{text}");
    assert!(text.contains("action: keepequal"), "{text}");
    let back: Vec<RelabelConfig> = serde_yaml::from_str(&text).expect("parses back");
    assert_eq!(back, cfgs);
    for (a, b) in back.iter().zip(&cfgs) {
        assert_eq!(a.regex.is_default(), b.regex.is_default(), "{text}");
    }
}

#[test]
fn validate_errors() {
    for (rule, want) in [
            (
                "{source_labels: [a], target_label: b, action: hashmod}",
                "relabel configuration for hashmod requires non-zero modulus",
            ),
            (
                "{source_labels: [a], modulus: 3, action: hashmod}",
                "relabel configuration for hashmod action requires 'target_label' value",
            ),
            (
                "{source_labels: [a]}",
                "relabel configuration for replace action requires 'target_label' value",
            ),
            (
                "{source_labels: [a], action: lowercase}",
                "relabel configuration for lowercase action requires 'target_label' value",
            ),
            (
                "{source_labels: [a], action: uppercase}",
                "relabel configuration for uppercase action requires 'target_label' value",
            ),
            (
                "{source_labels: [a], action: keepequal}",
                "relabel configuration for keepequal action requires 'target_label' value",
            ),
            (
                "{source_labels: [a], action: dropequal}",
                "relabel configuration for dropequal action requires 'target_label' value",
            ),
            (
                "{source_labels: [a], target_label: b, replacement: x, action: lowercase}",
                "'replacement' can not be set for lowercase action",
            ),
            (
                "{source_labels: [a], target_label: b, replacement: x, action: uppercase}",
                "'replacement' can not be set for uppercase action",
            ),
            (
                "{source_labels: [a], target_label: b, replacement: x, action: keepequal}",
                "'replacement' can not be set for keepequal action",
            ),
            (
                "{regex: 'a(.*)', replacement: '', action: labelmap}",
                r#""" is invalid 'replacement' for labelmap action"#,
            ),
            (
                "{source_labels: [a], target_label: b, regex: 'x', action: keepequal}",
                "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                // Even an explicit default regex: Prometheus tells it apart.
                "{source_labels: [a], target_label: b, regex: '(.*)', action: dropequal}",
                "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                "{source_labels: [a], target_label: b, separator: ',', action: dropequal}",
                "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                "{source_labels: [a], target_label: b, modulus: 2, action: keepequal}",
                "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                "{source_labels: [a], regex: x, action: labeldrop}",
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                "{target_label: a, regex: x, action: labelkeep}",
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                "{separator: ',', regex: x, action: labeldrop}",
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                "{replacement: y, regex: x, action: labelkeep}",
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                "{modulus: 1, regex: x, action: labeldrop}",
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                "{source_labels: [a, ''], target_label: b}",
                r#""" is not a valid label name"#,
            ),
        ] {
            assert_eq!(
                yaml(rule).validate().map_err(|e| e.to_string()),
                Err(want.to_string()),
                "{rule}"
            );
        }
    for rule in [
        "{source_labels: [a], target_label: 'foo.bar'}",
        "{source_labels: [a], target_label: '0starts_with_digit'}",
        "{source_labels: [a], target_label: '${1}'}",
        "{source_labels: [a], target_label: '$1-$2 é'}",
        "{regex: x, action: labeldrop}",
        "{regex: x, action: labelkeep, separator: ';', replacement: '$1'}",
        "{source_labels: [a], target_label: b, action: keepequal}",
        "{source_labels: [a], target_label: b, modulus: 1, action: hashmod}",
        "{regex: '(.*)', action: labelmap}",
        "{source_labels: [a], regex: x, action: keep}",
        "{action: drop}",
    ] {
        assert_eq!(yaml(rule).validate(), Ok(()), "{rule}");
    }
}

#[test]
fn unchanged_sets_are_returned_as_is() {
    let input = ls(&[("a", "1")]);
    let cfgs = yaml_list("- {regex: b, action: labeldrop}\n- {target_label: c, replacement: ''}");
    assert_eq!(relabel(&input, &cfgs), Some(input.clone()));
    // A hashmod rule that was never validated does nothing.
    let bad = RelabelConfig {
        action: Action::HashMod,
        target_label: "h".into(),
        ..RelabelConfig::default()
    };
    assert_eq!(relabel(&input, &[bad]), Some(input));
}

const NAMES: &[&str] = &["a", "b", "c", "__name__", "x_y", "é", ""];
const VALUES: &[&str] = &["", "1", "foo", "a;b", "İß", "x\ny", "$1"];
const REGEXES: &[&str] = &[
    "(.*)",
    "",
    "a",
    "(a|b)*",
    "(.)(.*)",
    "(?P<n>.)",
    "a)|(b",
    "x*)|(",
    "[^;]*;(.*)",
    "é|İ",
];
const TEMPLATES: &[&str] = &[
    "", "a", "$1", "${1}x", "$1x", "$n", "$$", "$", "${", "é$2", "$0",
];

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(options).prop_map(str::to_string)
}

fn arb_labels() -> impl Strategy<Value = Labels> {
    proptest::collection::vec((pick(NAMES), pick(VALUES)), 0..6)
        .prop_map(|pairs| Labels::new(pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect()))
}

fn arb_config() -> impl Strategy<Value = RelabelConfig> {
    (
        proptest::sample::select(Action::ALL.to_vec()),
        proptest::collection::vec(pick(NAMES), 0..3),
        pick(&[";", "", ",", "é"]),
        proptest::option::of(pick(REGEXES)),
        0u64..4,
        pick(TEMPLATES),
        pick(TEMPLATES),
    )
        .prop_map(
            |(action, source_labels, separator, regex, modulus, target_label, replacement)| {
                RelabelConfig {
                    source_labels,
                    separator,
                    regex: regex.and_then(|r| Regexp::new(&r).ok()).unwrap_or_default(),
                    modulus,
                    target_label,
                    replacement,
                    action,
                }
            },
        )
}

fn assert_well_formed(ls: &Labels) {
    for w in ls.as_slice().windows(2) {
        assert!(w[0].name < w[1].name, "{ls:?}");
    }
    assert!(ls.iter().all(|l| !l.value.is_empty()), "{ls:?}");
}

proptest! {
    #[test]
    fn never_panics(labels in arb_labels(), cfgs in proptest::collection::vec(arb_config(), 0..5)) {
        let got = relabel(&labels, &cfgs);
        if let Some(out) = &got {
            assert_well_formed(out);
        }
        prop_assert_eq!(relabel_owned(labels.clone(), &cfgs), got.clone());
        // Applying the rules one at a time gives the same result.
        let mut step = Some(labels);
        for cfg in &cfgs {
            step = step.and_then(|ls| relabel(&ls, std::slice::from_ref(cfg)));
        }
        // Except that labelmap clash order depends on what earlier rules
        // set, so compare only when no labelmap rule is present.
        if cfgs.iter().all(|c| c.action != Action::LabelMap) {
            prop_assert_eq!(step, got);
        }
        for cfg in &cfgs {
            let _ = cfg.validate();
        }
    }

    #[test]
    fn configs_round_trip(cfg in arb_config()) {
        let text = serde_yaml::to_string(&cfg).expect("serializes");
        let back: RelabelConfig = serde_yaml::from_str(&text).expect("parses back");
        prop_assert_eq!(&back, &cfg);
        prop_assert_eq!(back.validate(), cfg.validate());
    }
}
