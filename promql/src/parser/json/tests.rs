//! Expected JSON derived from Prometheus's `translateAST`
//! (`web/api/v1/translate_ast.go`), with keys sorted as Go writes maps.

use crate::parse_query_json;

fn json(q: &str) -> String {
    parse_query_json(q).unwrap_or_else(|e| panic!("{q}: {e}"))
}

const UP: &str = r#"{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":0,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"}"#;

#[test]
fn selectors() {
    assert_eq!(json("up"), UP);
    assert_eq!(
        json(r#"foo{a="b"}[5m] offset 1m"#),
        r#"{"anchored":false,"matchers":[{"name":"a","type":"=","value":"b"},{"name":"__name__","type":"=","value":"foo"}],"name":"foo","offset":60000,"range":300000,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"matrixSelector"}"#
    );
    assert_eq!(
        json(r#"{__name__=~"x.*", b!~"c"} @ 10.5"#),
        r#"{"anchored":false,"matchers":[{"name":"__name__","type":"=~","value":"x.*"},{"name":"b","type":"!~","value":"c"}],"name":"","offset":0,"smoothed":false,"startOrEnd":null,"timestamp":10500,"type":"vectorSelector"}"#
    );
    assert_eq!(
        json(r#"{"foo.bar"} offset -5s"#),
        r#"{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"foo.bar"}],"name":"","offset":-5000,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"}"#
    );
}

#[test]
fn subqueries_and_modifiers() {
    assert_eq!(
        json("up[5m:] @ start()"),
        format!(
            r#"{{"expr":{UP},"offset":0,"range":300000,"startOrEnd":"start","step":0,"timestamp":null,"type":"subquery"}}"#
        )
    );
    assert_eq!(
        json("up[1h:1m] offset 2m"),
        format!(
            r#"{{"expr":{UP},"offset":120000,"range":3600000,"startOrEnd":null,"step":60000,"timestamp":null,"type":"subquery"}}"#
        )
    );
}

#[test]
fn operators() {
    assert_eq!(
        json("1 + -2"),
        r#"{"bool":false,"lhs":{"type":"numberLiteral","val":"1"},"matching":null,"op":"+","rhs":{"type":"numberLiteral","val":"-2"},"type":"binaryExpr"}"#
    );
    assert_eq!(
        json("up > bool on (a) group_left (b) up"),
        format!(
            r#"{{"bool":true,"lhs":{UP},"matching":{{"card":"many-to-one","fillValues":{{"lhs":null,"rhs":null}},"include":["b"],"labels":["a"],"on":true}},"op":"\u003e","rhs":{UP},"type":"binaryExpr"}}"#
        )
    );
    assert_eq!(
        json("up and up"),
        format!(
            r#"{{"bool":false,"lhs":{UP},"matching":{{"card":"many-to-many","fillValues":{{"lhs":null,"rhs":null}},"include":[],"labels":[],"on":false}},"op":"and","rhs":{UP},"type":"binaryExpr"}}"#
        )
    );
    assert_eq!(
        json("-(up)"),
        format!(r#"{{"expr":{{"expr":{UP},"type":"parenExpr"}},"op":"-","type":"unaryExpr"}}"#)
    );
    assert_eq!(
        json("Inf * NaN"),
        r#"{"bool":false,"lhs":{"type":"numberLiteral","val":"+Inf"},"matching":null,"op":"*","rhs":{"type":"numberLiteral","val":"NaN"},"type":"binaryExpr"}"#
    );
}

#[test]
fn calls_and_aggregations() {
    assert_eq!(
        json("sum by (job) (rate(up[5m]))"),
        r#"{"expr":{"args":[{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":0,"range":300000,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"matrixSelector"}],"func":{"argTypes":["matrix"],"name":"rate","returnType":"vector","variadic":0},"type":"call"},"grouping":["job"],"op":"sum","param":null,"type":"aggregation","without":false}"#
    );
    assert_eq!(
        json("topk without () (3, up)"),
        format!(
            r#"{{"expr":{UP},"grouping":[],"op":"topk","param":{{"type":"numberLiteral","val":"3"}},"type":"aggregation","without":true}}"#
        )
    );
    assert_eq!(
        json(r#"label_join(up, "a<b", "&", "c")"#),
        format!(
            r#"{{"args":[{UP},{{"type":"stringLiteral","val":"a\u003cb"}},{{"type":"stringLiteral","val":"\u0026"}},{{"type":"stringLiteral","val":"c"}}],"func":{{"argTypes":["vector","string","string","string"],"name":"label_join","returnType":"vector","variadic":-1}},"type":"call"}}"#
        )
    );
    assert_eq!(
        json("time()"),
        r#"{"args":[],"func":{"argTypes":[],"name":"time","returnType":"scalar","variadic":0},"type":"call"}"#
    );
    assert_eq!(
        json("round(up)"),
        format!(
            r#"{{"args":[{UP}],"func":{{"argTypes":["vector","scalar"],"name":"round","returnType":"vector","variadic":1}},"type":"call"}}"#
        )
    );
}

#[test]
fn errors_are_parse_errors() {
    let e = parse_query_json("sum(").unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::BadData);
    assert!(crate::format_query("rate(up)").is_err());
}
