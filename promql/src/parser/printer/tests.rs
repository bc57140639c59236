//! Expected outputs from Prometheus's own printer and prettier tests
//! (`promql/parser/printer_test.go`, `prettier_test.go`).

use super::*;
use crate::parser::parse;

fn string_of(q: &str) -> String {
    parse(q).unwrap_or_else(|e| panic!("{q}: {e}")).to_string()
}

/// `TestExprString`: `(input, expected)`; an empty expectation means the
/// input itself.
#[test]
fn expr_string() {
    let cases = [
        (
            r#"sum by() (task:errors:rate10s{job="s"})"#,
            r#"sum(task:errors:rate10s{job="s"})"#,
        ),
        (
            r#"sum by(code) (task:errors:rate10s{job="s"})"#,
            r#"sum by (code) (task:errors:rate10s{job="s"})"#,
        ),
        (
            r#"sum without() (task:errors:rate10s{job="s"})"#,
            r#"sum without () (task:errors:rate10s{job="s"})"#,
        ),
        (
            r#"sum without(instance) (task:errors:rate10s{job="s"})"#,
            r#"sum without (instance) (task:errors:rate10s{job="s"})"#,
        ),
        (r#"topk(5, task:errors:rate10s{job="s"})"#, ""),
        (r#"count_values("value", task:errors:rate10s{job="s"})"#, ""),
        ("a - on() c", "a - on () c"),
        ("a - on(b) c", "a - on (b) c"),
        ("a - on(b) group_left(x) c", "a - on (b) group_left (x) c"),
        (
            "a - on(b) group_left(x, y) c",
            "a - on (b) group_left (x, y) c",
        ),
        ("a - on(b) group_left c", "a - on (b) group_left () c"),
        ("a - on(b) group_left() (c)", "a - on (b) group_left () (c)"),
        ("a - ignoring(b) c", "a - ignoring (b) c"),
        ("a - ignoring() c", "a - c"),
        ("up > bool 0", ""),
        ("a offset 1m", ""),
        ("a offset -7m", ""),
        (r#"a{c="d"}[5m] offset 1m"#, ""),
        ("a[5m] offset 1m", ""),
        ("a[12m] offset -3m", ""),
        ("a[1h:5m] offset 1m", ""),
        (r#"{__name__="a"}"#, ""),
        (r#"a{b!="c"}[1m]"#, ""),
        (r#"a{b=~"c"}[1m]"#, ""),
        (r#"a{b!~"c"}[1m]"#, ""),
        ("a @ 10", "a @ 10.000"),
        ("a[1m] @ 10", "a[1m] @ 10.000"),
        ("a @ start()", ""),
        ("a @ end()", ""),
        ("a[1m] @ start()", ""),
        ("a[1m] @ end()", ""),
        // Beyond Prometheus's table: behaviour of its String() methods.
        (r#"{"foo"}"#, r#"{__name__="foo"}"#),
        (
            r#"{"foo.bar", "a.b"="c"}"#,
            r#"{"a.b"="c",__name__="foo.bar"}"#,
        ),
        (r#"foo{b="1", a="2"}"#, r#"foo{a="2",b="1"}"#),
        ("sum by (\"a.b\") (x)", "sum by (\"a.b\") (x)"),
        ("x offset 90s", "x offset 1m30s"),
        ("x[14d]", "x[2w]"),
        ("x[1d1ms]", "x[1d1ms]"),
        ("x[365d]", "x[1y]"),
        ("rate(x[5m:])", ""),
        ("x[5m:10s] @ end() offset 1m", ""),
        ("+x", ""),
        ("-x", ""),
        ("+1", "1"),
        ("- - 1", "1"),
        ("-(1)", ""),
        ("1e3 + Inf - -Inf * NaN", "1000 + +Inf - -Inf * NaN"),
        ("0x10 / .5", "16 / 0.5"),
        ("\"a\\\"b\\n\\x01é\"", "\"a\\\"b\\n\\x01é\""),
        ("'single'", "\"single\""),
        ("`raw\\n`", "\"raw\\\\n\""),
        ("a and b or c unless d", ""),
        ("a and on (x) b", ""),
        ("a == bool on (x) group_right (y) b", ""),
        ("-1 ^ 2", ""),
        ("2 ^ 3 ^ 2", ""),
        ("time()", ""),
        ("label_join(x, \"a\", \",\", \"b\", \"c\")", ""),
        ("quantile without (a) (0.9, x)", ""),
    ];
    for (input, want) in cases {
        let want = if want.is_empty() { input } else { want };
        assert_eq!(string_of(input), want, "input {input}");
    }
}

#[test]
fn durations() {
    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(1), "1ms");
    assert_eq!(format_duration(90_000), "1m30s");
    assert_eq!(format_duration(-420_000), "-7m");
    assert_eq!(format_duration(8 * 86_400_000), "8d");
    assert_eq!(format_duration(14 * 86_400_000), "2w");
    assert_eq!(format_duration(366 * 86_400_000), "366d");
    assert_eq!(format_duration(3_600_000 + 1), "1h1ms");
}

fn pretty10(q: &str) -> String {
    parse(q)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .pretty_with_limit(0, 10)
}

/// `prettier_test.go`, which sets the line limit to 10.
#[test]
fn pretty_aggregations() {
    let cases = [
        ("sum(foo)", "sum(foo)"),
        (
            r#"sum by() (task:errors:rate10s{job="s"})"#,
            "sum(\n  task:errors:rate10s{job=\"s\"}\n)",
        ),
        (
            r#"sum without(job,foo) (task:errors:rate10s{job="s"})"#,
            "sum without (job, foo) (\n  task:errors:rate10s{job=\"s\"}\n)",
        ),
        (
            r#"sum(task:errors:rate10s{job="s"}) without(job,foo)"#,
            "sum without (job, foo) (\n  task:errors:rate10s{job=\"s\"}\n)",
        ),
        (
            r#"sum by(job,foo) (task:errors:rate10s{job="s"})"#,
            "sum by (job, foo) (\n  task:errors:rate10s{job=\"s\"}\n)",
        ),
        (
            r#"topk(10, ask:errors:rate10s{job="s"})"#,
            "topk(\n  10,\n  ask:errors:rate10s{job=\"s\"}\n)",
        ),
        (
            r#"sum by(job,foo) (sum by(job,foo) (task:errors:rate10s{job="s"}))"#,
            "sum by (job, foo) (\n  sum by (job, foo) (\n    task:errors:rate10s{job=\"s\"}\n  )\n)",
        ),
        (
            "sum by(job,foo) # Comment 1.\n(sum by(job,foo) ( # Comment 2.\ntask:errors:rate10s{job=\"s\"}))",
            "sum by (job, foo) (\n  sum by (job, foo) (\n    task:errors:rate10s{job=\"s\"}\n  )\n)",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(pretty10(input), want, "input {input}");
    }
}

#[test]
fn pretty_binary() {
    let cases = [
        ("a+b", "a + b"),
        ("a == bool 1", "  a\n== bool\n  1"),
        ("a + ignoring(job) b", "  a\n+ ignoring (job)\n  b"),
        ("foo_1 + foo_2", "  foo_1\n+\n  foo_2"),
        (
            "foo_1 + foo_2 + foo_3",
            "    foo_1\n  +\n    foo_2\n+\n  foo_3",
        ),
        ("foo + baar + foo_3", "  foo + baar\n+\n  foo_3"),
        (
            "foo_1 + foo_2 + foo_3 + foo_4",
            "      foo_1\n    +\n      foo_2\n  +\n    foo_3\n+\n  foo_4",
        ),
        (
            "foo_1 + ignoring(foo) foo_2 + ignoring(job) group_left foo_3 + on(instance) group_right foo_4",
            "      foo_1\n    + ignoring (foo)\n      foo_2\n  + ignoring (job) group_left ()\n    foo_3\n+ on (instance) group_right ()\n  foo_4",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(pretty10(input), want, "input {input}");
    }
}

#[test]
fn pretty_calls_parens_unary() {
    let lr =
        r#"label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*")"#;
    let lr_out = "label_replace(\n  up{job=\"api-server\",service=\"a:c\"},\n  \"foo\",\n  \"$1\",\n  \"service\",\n  \"(.*):.*\"\n)";
    let cases = [
        ("rate(foo[1m])", "rate(\n  foo[1m]\n)".to_string()),
        (
            "rate(long_vector_selector[10m:1m] @ start() offset 1m)",
            "rate(\n  long_vector_selector[10m:1m] @ start() offset 1m\n)".to_string(),
        ),
        (
            "histogram_quantile(0.9, rate(foo[1m]))",
            "histogram_quantile(\n  0.9,\n  rate(\n    foo[1m]\n  )\n)".to_string(),
        ),
        (
            "max_over_time(rate(demo_api_request_duration_seconds_count[1m])[1m:] @ start() offset 1m)",
            "max_over_time(\n  rate(\n    demo_api_request_duration_seconds_count[1m]\n  )[1m:] @ start() offset 1m\n)".to_string(),
        ),
        (lr, lr_out.to_string()),
        ("(foo)", "(foo)".to_string()),
        ("(_foo_long_)", "(\n  _foo_long_\n)".to_string()),
        ("((foo_long))", "(\n  (foo_long)\n)".to_string()),
        ("((_foo_long_))", "(\n  (\n    _foo_long_\n  )\n)".to_string()),
        ("a @ 1", "a @ 1.000".to_string()),
        ("vector_selector @ start()", "vector_selector @ start()".to_string()),
        ("(1 + 2)", "(1 + 2)".to_string()),
        ("(foo + bar)", "(\n  foo + bar\n)".to_string()),
        (
            "(foo_long + bar_long)",
            "(\n    foo_long\n  +\n    bar_long\n)".to_string(),
        ),
        (
            "((foo_long + bar_long) + bar_2_long)",
            "(\n    (\n        foo_long\n      +\n        bar_long\n    )\n  +\n    bar_2_long\n)"
                .to_string(),
        ),
        ("-1", "-1".to_string()),
        ("-vector_selector", "-vector_selector".to_string()),
        ("(-vector_selector)", "(\n  -vector_selector\n)".to_string()),
        (
            "-histogram_quantile(0.99, sum by (le) (rate(foo[1m])))",
            "-histogram_quantile(\n  0.99,\n  sum by (le) (\n    rate(\n      foo[1m]\n    )\n  )\n)"
                .to_string(),
        ),
        (
            "(-histogram_quantile(0.9, -rate(foo[1m] @ start())))",
            "(\n  -histogram_quantile(\n    0.9,\n    -rate(\n      foo[1m] @ start()\n    )\n  )\n)"
                .to_string(),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(pretty10(input), want, "input {input}");
    }
}

/// `TestExprPretty`'s real-world queries (from monitoring mixins).
#[test]
fn pretty_mixins() {
    let cases = [
        (
            r#"(node_filesystem_avail_bytes{job="node",fstype!=""} / node_filesystem_size_bytes{job="node",fstype!=""} * 100 < 40 and predict_linear(node_filesystem_avail_bytes{job="node",fstype!=""}[6h], 24*60*60) < 0 and node_filesystem_readonly{job="node",fstype!=""} == 0)"#,
            r#"(
            node_filesystem_avail_bytes{fstype!="",job="node"}
          /
            node_filesystem_size_bytes{fstype!="",job="node"}
        *
          100
      <
        40
    and
        predict_linear(
          node_filesystem_avail_bytes{fstype!="",job="node"}[6h],
            24 * 60
          *
            60
        )
      <
        0
  and
      node_filesystem_readonly{fstype!="",job="node"}
    ==
      0
)"#,
        ),
        (
            r#"(node_timex_offset_seconds > 0.05 and deriv(node_timex_offset_seconds[5m]) >= 0) or (node_timex_offset_seconds < -0.05 and deriv(node_timex_offset_seconds[5m]) <= 0)"#,
            r#"  (
        node_timex_offset_seconds
      >
        0.05
    and
        deriv(
          node_timex_offset_seconds[5m]
        )
      >=
        0
  )
or
  (
        node_timex_offset_seconds
      <
        -0.05
    and
        deriv(
          node_timex_offset_seconds[5m]
        )
      <=
        0
  )"#,
        ),
        (
            r#"1 - ((node_memory_MemAvailable_bytes{job="node"} or (node_memory_Buffers_bytes{job="node"} + node_memory_Cached_bytes{job="node"} + node_memory_MemFree_bytes{job="node"} + node_memory_Slab_bytes{job="node"}) ) / node_memory_MemTotal_bytes{job="node"})"#,
            r#"  1
-
  (
      (
          node_memory_MemAvailable_bytes{job="node"}
        or
          (
                  node_memory_Buffers_bytes{job="node"}
                +
                  node_memory_Cached_bytes{job="node"}
              +
                node_memory_MemFree_bytes{job="node"}
            +
              node_memory_Slab_bytes{job="node"}
          )
      )
    /
      node_memory_MemTotal_bytes{job="node"}
  )"#,
        ),
        (
            r#"min by (job, integration) (rate(alertmanager_notifications_failed_total{job="alertmanager", integration=~".*"}[5m]) / rate(alertmanager_notifications_total{job="alertmanager", integration="~.*"}[5m])) > 0.01"#,
            r#"  min by (job, integration) (
      rate(
        alertmanager_notifications_failed_total{integration=~".*",job="alertmanager"}[5m]
      )
    /
      rate(
        alertmanager_notifications_total{integration="~.*",job="alertmanager"}[5m]
      )
  )
>
  0.01"#,
        ),
        (
            r#"(count by (job) (changes(process_start_time_seconds{job="alertmanager"}[10m]) > 4) / count by (job) (up{job="alertmanager"})) >= 0.5"#,
            r#"  (
      count by (job) (
          changes(
            process_start_time_seconds{job="alertmanager"}[10m]
          )
        >
          4
      )
    /
      count by (job) (
        up{job="alertmanager"}
      )
  )
>=
  0.5"#,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(pretty10(input), want, "input {input}");
    }
}

#[test]
fn pretty_default_limit() {
    let short = "sum by (job) (rate(http_requests_total[5m]))";
    assert_eq!(parse(short).unwrap().pretty(), short);
    let long = "sum by (job, instance) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (job, instance) (rate(http_requests_total[5m]))";
    assert_eq!(
        parse(long).unwrap().pretty(),
        "  sum by (job, instance) (rate(http_requests_total{code=~\"5..\"}[5m]))\n/\n  sum by (job, instance) (rate(http_requests_total[5m]))"
    );
    // a subquery that fits is not indented (as in Prometheus)
    let p = parse("quantile_over_time(0.99, foo[5m:])")
        .unwrap()
        .pretty_with_limit(0, 20);
    assert_eq!(p, "quantile_over_time(\n  0.99,\nfoo[5m:]\n)");
}

#[test]
fn query_dependent_durations_print_as_written() {
    let cases = [
        ("foo[step()]", "foo[step()]"),
        ("foo[step()*2+1m]", "foo[step() * 2 + 1m]"),
        ("foo offset -step()", "foo offset -step()"),
        (
            "foo offset min_of(range(), 1h) * 2",
            "foo offset min_of(range(), 1h) * 2",
        ),
        (
            "rate(foo[5m])[RANGE():step()] offset (1m)",
            "rate(foo[5m])[range():step()] offset 1m",
        ),
        ("foo[5m+1m]", "foo[6m]"),
    ];
    for (input, want) in cases {
        assert_eq!(string_of(input), want, "input {input}");
    }
}

#[test]
fn query_dependent_durations_resolve_per_query() {
    let mut e =
        parse("sum_over_time(foo[step()*2] offset -range())[max_of(range(), 1m):step()]").unwrap();
    e.resolve_durations(15_000, 3_600_000).unwrap();
    assert_eq!(e.to_string(), "sum_over_time(foo[30s] offset -1h)[1h:15s]");
    // an instant query has step 0 and range 0: a range of step() is empty
    let mut e = parse("count_over_time(foo[step()])").unwrap();
    assert_eq!(
        e.resolve_durations(0, 0).unwrap_err().to_string(),
        "range step() must be greater than 0, got 0ms"
    );
}

#[test]
fn fill_modifiers_print_and_check() {
    let cases = [
        ("a + fill(0) b", "a + fill (0) b"),
        (
            "a + on(x) group_left fill_right(-1) b",
            "a + on (x) group_left () fill_right (-1) b",
        ),
        (
            "a == bool fill_right(NaN) fill_left(Inf) b",
            "a == bool fill_left (+Inf) fill_right (NaN) b",
        ),
        ("a + fill", "a + fill"),
        ("a + fill(1) fill", "a + fill (1) fill"),
    ];
    for (input, want) in cases {
        assert_eq!(string_of(input), want, "input {input}");
    }
    for (input, want) in [
        (
            "1 + fill(0) a",
            "filling in missing series only allowed between instant vectors",
        ),
        (
            "a and fill(0) b",
            "filling in missing series not allowed for set operators",
        ),
    ] {
        let err = parse(input).unwrap_err().to_string();
        assert!(err.contains(want), "{input}: {err}");
    }
}

#[test]
fn info_takes_label_selectors_only() {
    assert_eq!(
        string_of(r#"info(up, {data=~".*"})"#),
        r#"info(up, {data=~".*"})"#
    );
    assert_eq!(string_of("info(up)"), "info(up)");
    for (input, want) in [
        (
            "info(up, target_info)",
            "expected label selectors only, got vector selector instead",
        ),
        ("info(up, rate(x[5m]))", "expected label selectors only"),
        (
            "info(up, 1)",
            "expected type instant vector in call to function \"info\", got scalar",
        ),
        (
            "info(up, {a=\"b\"}, {c=\"d\"})",
            "expected at most 2 argument(s) in call to \"info\", got 3",
        ),
        // outside info() the usual rule holds
        (
            "sum({a=~\".*\"})",
            "vector selector must contain at least one non-empty matcher",
        ),
    ] {
        let err = parse(input).unwrap_err().to_string();
        assert!(err.contains(want), "{input}: {err}");
    }
}

#[test]
fn anchored_and_smoothed_modifiers() {
    for (input, want) in [
        ("rate(x[5m] anchored)", "rate(x[5m] anchored)"),
        (
            "increase(x[5m] SMOOTHED offset 1m)",
            "increase(x[5m] offset 1m smoothed)",
        ),
        ("x @ 100 smoothed", "x @ 100.000 smoothed"),
        ("anchored{smoothed=\"1\"}", "anchored{smoothed=\"1\"}"),
    ] {
        assert_eq!(string_of(input), want, "input {input}");
    }
    for (input, want) in [
        (
            "x[5m] anchored smoothed",
            "anchored and smoothed modifiers cannot be used together",
        ),
        (
            "rate(x[5m])[10m:1m] anchored",
            "anchored modifier is not supported for subqueries",
        ),
        ("(x + y) smoothed", "smoothed modifier not implemented"),
    ] {
        let err = parse(input).unwrap_err().to_string();
        assert!(err.contains(want), "{input}: {err}");
    }
}
