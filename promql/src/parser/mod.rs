//! The PromQL parser: text to [`Expr`], with type checking.

pub mod ast;
pub mod functions;
pub mod json;
pub mod lex;
mod parse;
pub mod printer;

pub use ast::*;
pub use parse::{parse, parse_metric_selector};

#[cfg(test)]
mod tests {
    use super::*;
    use tsdb::labels::{MatchOp, Matcher};

    fn sel(name: &str) -> VectorSelector {
        VectorSelector {
            name: Some(name.to_string()),
            matchers: vec![Matcher::equal("__name__", name)],
            offset_ms: 0,
            offset_expr: None,
            at: None,
            anchored: false,
            smoothed: false,
        }
    }

    #[test]
    fn subquery_durations_folded_to_zero_or_less_are_refused() {
        // found by fuzzing: the range folded to 0s, printed as `[0s:10s]`,
        // which does not parse again
        let src = b"sum_over_time(metric1_total[29s%1s:20*500ms] offset -(20*(((((8 - 2) / 3) * 7s) % 4) + 8000ms)))";
        let err = parse(std::str::from_utf8(src).unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("range must be greater than 0"),
            "{err}"
        );
        assert!(parse("x[1m-2m:10s]").is_err());
        assert!(parse("x[5m:1s-2s]").is_err());
        assert!(parse("x[29s+1s:20*500ms]").is_ok());
    }

    #[test]
    fn metric_selectors_may_match_everything() {
        let m = parse_metric_selector("{__name__=~'(?s:.*)'}").unwrap();
        assert_eq!(m.len(), 1);
        assert!(m[0].matches_empty());
        assert!(parse("{__name__=~'(?s:.*)'}").is_err());
        assert_eq!(
            parse_metric_selector("up{job=\"a\"}").unwrap(),
            vec![Matcher::equal("__name__", "up"), Matcher::equal("job", "a")]
        );
        assert!(parse_metric_selector("rate(up[5m])").is_err());
        assert!(parse_metric_selector("up offset 5m").is_err());
    }

    fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        let both = l.value_type() == ValueType::Vector && r.value_type() == ValueType::Vector;
        Expr::Binary {
            op,
            lhs: Box::new(l),
            rhs: Box::new(r),
            return_bool: false,
            matching: both.then(|| VectorMatching {
                card: if op.is_set() {
                    Cardinality::ManyToMany
                } else {
                    Cardinality::OneToOne
                },
                on: false,
                labels: vec![],
                include: vec![],
                fill: FillValues::default(),
            }),
        }
    }

    fn num(v: f64) -> Expr {
        Expr::NumberLiteral(v)
    }

    #[test]
    fn asts() {
        let foo = || Expr::VectorSelector(sel("foo"));
        let cases: Vec<(&str, Expr)> = vec![
            ("1", num(1.0)),
            ("-1", num(-1.0)),
            ("0x10", num(16.0)),
            (
                "1 + 2 * 3",
                bin(
                    BinaryOp::Add,
                    num(1.0),
                    bin(BinaryOp::Mul, num(2.0), num(3.0)),
                ),
            ),
            (
                "2 ^ 3 ^ 2",
                bin(
                    BinaryOp::Pow,
                    num(2.0),
                    bin(BinaryOp::Pow, num(3.0), num(2.0)),
                ),
            ),
            (
                "1 - 2 - 3",
                bin(
                    BinaryOp::Sub,
                    bin(BinaryOp::Sub, num(1.0), num(2.0)),
                    num(3.0),
                ),
            ),
            ("-1 ^ 2", num(-1.0).clone()).clone(),
            ("foo", foo()),
            (
                "foo{a!~\"b\"} offset 5m",
                Expr::VectorSelector(VectorSelector {
                    matchers: vec![
                        Matcher::equal("__name__", "foo"),
                        Matcher::new(MatchOp::RegexNoMatch, "a", "b").unwrap(),
                    ],
                    offset_ms: 300_000,
                    ..sel("foo")
                }),
            ),
            (
                "foo[1m] @ 10",
                Expr::MatrixSelector {
                    selector: VectorSelector {
                        at: Some(AtModifier::Timestamp(10_000)),
                        ..sel("foo")
                    },
                    range_ms: 60_000,
                    range_expr: None,
                },
            ),
            (
                "rate(foo[5m])",
                Expr::Call {
                    func: "rate".into(),
                    args: vec![Expr::MatrixSelector {
                        selector: sel("foo"),
                        range_ms: 300_000,
                        range_expr: None,
                    }],
                },
            ),
            (
                "sum without (a) (foo)",
                Expr::Aggregate {
                    op: AggregateOp::Sum,
                    expr: Box::new(foo()),
                    param: None,
                    grouping: vec!["a".into()],
                    without: true,
                },
            ),
            (
                "topk(2, foo) by (x, y,)",
                Expr::Aggregate {
                    op: AggregateOp::Topk,
                    expr: Box::new(foo()),
                    param: Some(Box::new(num(2.0))),
                    grouping: vec!["x".into(), "y".into()],
                    without: false,
                },
            ),
            (
                "foo / on(a) group_left(b) foo",
                Expr::Binary {
                    op: BinaryOp::Div,
                    lhs: Box::new(foo()),
                    rhs: Box::new(foo()),
                    return_bool: false,
                    matching: Some(VectorMatching {
                        card: Cardinality::ManyToOne,
                        on: true,
                        labels: vec!["a".into()],
                        include: vec!["b".into()],
                        fill: FillValues::default(),
                    }),
                },
            ),
            (
                "foo[5m:]",
                Expr::Subquery {
                    expr: Box::new(foo()),
                    range_ms: 300_000,
                    step_ms: None,
                    offset_ms: 0,
                    at: None,
                    exprs: None,
                },
            ),
            ("(foo) # comment", Expr::Paren(Box::new(foo()))),
        ];
        for (q, want) in cases {
            // "-1 ^ 2" parses as -(1^2), which is a unary on a binary
            if q == "-1 ^ 2" {
                let got = parse(q).unwrap();
                assert!(matches!(got, Expr::Unary { .. }), "{q}: {got:?}");
                continue;
            }
            assert_eq!(parse(q).unwrap(), want, "query {q}");
        }
    }

    #[test]
    fn errors() {
        let cases = [
            ("", "unknown position: parse error: no expression found in input"),
            ("1 +", "1:4: parse error: unexpected end of input"),
            ("foo + + ", "1:9: parse error: unexpected end of input"),
            ("sum(foo) +* 1", "1:11: parse error: unexpected <op:*>"),
            (
                "rate(foo)",
                "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
            ),
            ("foo(1)", "1:1: parse error: unknown function with name \"foo\""),
            (
                "rate(foo[1m], 1)",
                "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2",
            ),
            (
                "{a=\"\"}",
                "1:1: parse error: vector selector must contain at least one non-empty matcher",
            ),
            (
                "1 > 2",
                "1:3: parse error: comparisons between scalars must use BOOL modifier",
            ),
            (
                "1 and foo",
                "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
            ),
            (
                "sum(foo[5m])",
                "1:5: parse error: expected type instant vector in aggregation expression, got range vector",
            ),
            ("(1)[5m]", "1:4: parse error: ranges only allowed for vector selectors"),
            ("foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"),
            ("foo\n  + )", "2:6: parse error: unexpected right parenthesis ')'"),
            ("foo offset 1m offset 2m", "1:1: parse error: offset may not be set multiple times"),
        ];
        for (q, want) in cases {
            let got = parse(q).map(|e| format!("{e:?}")).unwrap_err().to_string();
            assert_eq!(got, want, "query {q:?}");
        }
    }

    #[test]
    fn deep_queries_are_rejected_not_overflowing() {
        let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        let err = parse(&deep).unwrap_err().to_string();
        assert!(err.contains("expression nesting is too deep"), "{err}");
        let long = vec!["1"; 5000].join(" + ");
        let err = parse(&long).unwrap_err().to_string();
        assert!(err.contains("too many binary operators"), "{err}");
        let ok = vec!["1"; 1000].join(" + ");
        assert!(parse(&ok).is_ok());
        let nested_ok = format!("{}1{}", "(".repeat(90), ")".repeat(90));
        assert!(parse(&nested_ok).is_ok());
    }

    #[test]
    fn never_panics_on_garbage() {
        let pieces = [
            "foo",
            "(",
            ")",
            "[",
            "]",
            "5m",
            ":",
            "{",
            "}",
            "\"a\"",
            "=",
            "=~",
            ",",
            "+",
            "-",
            "offset",
            "@",
            "by",
            "sum",
            "rate",
            "1",
            "bool",
            "on",
            "group_left",
            "Inf",
            "^",
        ];
        // every sequence of up to 3 pieces
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let _ = parse(&format!("{a}{b} {c}"));
                    let _ = parse(&format!("{a} {b}{c}"));
                }
            }
        }
    }
}
