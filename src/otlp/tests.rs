use super::proto::*;
use super::*;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
    }
}

const T: u64 = 1_700_000_000_000_000_000;
const MIN: u64 = 60_000_000_000;

fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.2".into(),
                    attributes: vec![kv("team", "x")],
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn sum_metric(name: &str, unit: &str, temporality: i32, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        description: String::new(),
        unit: unit.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality,
            is_monotonic: true,
        })),
    }
}

fn point(t: u64, v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: T - 10 * MIN,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        exemplars: vec![],
        flags: 0,
    }
}

fn exemplar(v: f64, trace: u8, attrs: Vec<KeyValue>) -> Exemplar {
    Exemplar {
        filtered_attributes: attrs,
        time_unix_nano: T + 5 * MIN + 1_500_000,
        value: Some(exemplar::Value::AsDouble(v)),
        span_id: vec![0xab, trace],
        trace_id: vec![trace; 16],
    }
}

fn show(tr: &Translated) -> Vec<String> {
    let mut v: Vec<String> = tr
        .series
        .iter()
        .map(|(l, s)| format!("{l} {s:?}"))
        .collect();
    v.sort();
    v
}

#[test]
fn sums_histograms_summaries_and_target_info() {
    let resource = vec![
        kv("service.name", "api"),
        kv("service.namespace", "shop"),
        kv("service.instance.id", "i-1"),
        kv("host.name", "h1"),
    ];
    let hist = Metric {
        name: "http.server.request.duration".into(),
        description: "How long".into(),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![kv("http.method", "GET")],
                start_time_unix_nano: 0,
                time_unix_nano: T + 6 * MIN,
                count: 12,
                sum: Some(30.0),
                bucket_counts: vec![2, 2, 2, 2, 2, 2],
                explicit_bounds: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
                exemplars: vec![
                    exemplar(7.0, 1, vec![]),
                    exemplar(0.5, 2, vec![kv("user", "u1")]),
                    exemplar(3.0, 3, vec![kv("long", &"x".repeat(80))]),
                ],
                flags: 0,
            }],
            aggregation_temporality: TEMPORALITY_CUMULATIVE,
        })),
    };
    let summary = Metric {
        name: "rpc.latency".into(),
        description: String::new(),
        unit: "ms".into(),
        data: Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                attributes: vec![],
                start_time_unix_nano: 0,
                time_unix_nano: T,
                count: 4,
                sum: 10.5,
                quantile_values: vec![
                    ValueAtQuantile {
                        quantile: 0.5,
                        value: 2.0,
                    },
                    ValueAtQuantile {
                        quantile: 1.0,
                        value: 4.0,
                    },
                ],
                flags: FLAG_NO_RECORDED_VALUE,
            }],
        })),
    };
    let req = request(
        resource,
        vec![
            sum_metric(
                "requests",
                "{request}",
                TEMPORALITY_CUMULATIVE,
                vec![point(T, 42.0, vec![kv("a.b", "x"), kv("a_b", "y")])],
            ),
            hist,
            summary,
        ],
    );
    let tr = translate(&req, &Settings::default()).unwrap();
    let got = show(&tr);
    let t = (T / 1_000_000) as i64;
    let m = 60_000i64;
    let want = vec![
        format!(
            "http_server_request_duration_seconds_bucket{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\", le=\"+Inf\"}} [({}, 12.0)]",
            t + 6 * m
        ),
        format!("http_server_request_duration_seconds_bucket{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\", le=\"0\"}} [({}, 2.0)]", t + 6 * m),
        format!("http_server_request_duration_seconds_bucket{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\", le=\"1\"}} [({}, 4.0)]", t + 6 * m),
        format!("http_server_request_duration_seconds_bucket{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\", le=\"2\"}} [({}, 6.0)]", t + 6 * m),
        format!("http_server_request_duration_seconds_bucket{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\", le=\"3\"}} [({}, 8.0)]", t + 6 * m),
        format!("http_server_request_duration_seconds_bucket{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\", le=\"4\"}} [({}, 10.0)]", t + 6 * m),
        format!("http_server_request_duration_seconds_bucket{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\", le=\"5\"}} [({}, 12.0)]", t + 6 * m),
        format!("http_server_request_duration_seconds_count{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\"}} [({}, 12.0)]", t + 6 * m),
        format!("http_server_request_duration_seconds_sum{{http_method=\"GET\", instance=\"i-1\", job=\"shop/api\"}} [({}, 30.0)]", t + 6 * m),
        format!("requests_total{{a_b=\"x;y\", instance=\"i-1\", job=\"shop/api\"}} [({t}, 42.0)]"),
        format!("rpc_latency_milliseconds_count{{instance=\"i-1\", job=\"shop/api\"}} [({t}, NaN)]"),
        format!("rpc_latency_milliseconds_sum{{instance=\"i-1\", job=\"shop/api\"}} [({t}, NaN)]"),
        format!("rpc_latency_milliseconds{{instance=\"i-1\", job=\"shop/api\", quantile=\"0.5\"}} [({t}, NaN)]"),
        format!("rpc_latency_milliseconds{{instance=\"i-1\", job=\"shop/api\", quantile=\"1\"}} [({t}, NaN)]"),
        format!(
            "target_info{{host_name=\"h1\", instance=\"i-1\", job=\"shop/api\"}} [({t}, 1.0), ({}, 1.0), ({}, 1.0), ({}, 1.0)]",
            t + 150_000,
            t + 300_000,
            t + 360_000
        ),
    ];
    assert_eq!(got, want);
    // the summary's values are stale markers (no recorded value)
    let stale = tr
        .series
        .iter()
        .find(|(l, _)| l.metric_name() == Some("rpc_latency_milliseconds_sum"))
        .unwrap();
    assert_eq!(stale.1[0].1.to_bits(), tsdb::STALE_NAN_BITS);
    assert_eq!(tr.collisions, vec!["a_b".to_string()]);
    // each exemplar in the first bucket that holds its value; trace and
    // span ids in hex; attributes kept while the labels stay within 128
    // characters
    let got: Vec<String> = tr
        .exemplars
        .iter()
        .map(|(l, e)| {
            format!(
                "{} {} {} {} {}",
                l.get("le").unwrap(),
                e.labels,
                e.value,
                e.ts,
                e.has_ts
            )
        })
        .collect();
    let ts = t + 5 * m + 1;
    assert_eq!(
        got,
        [
            format!("1 {{span_id=\"ab02\", trace_id=\"02020202020202020202020202020202\", user=\"u1\"}} 0.5 {ts} true"),
            format!("3 {{span_id=\"ab03\", trace_id=\"03030303030303030303030303030303\"}} 3 {ts} true"),
            format!("+Inf {{span_id=\"ab01\", trace_id=\"01010101010101010101010101010101\"}} 7 {ts} true"),
        ]
    );
}

#[test]
fn promotion_scope_and_strategies() {
    let req = request(
        vec![
            kv("service.name", "api"),
            kv("cloud.region", "eu"),
            kv("k8s.pod", "p"),
        ],
        vec![sum_metric(
            "hits",
            "",
            TEMPORALITY_CUMULATIVE,
            vec![point(T, 1.0, vec![kv("cloud.region", "dp-wins")])],
        )],
    );
    let s = Settings {
        promote: vec!["cloud.region".into(), "k8s.pod".into()],
        promote_scope: true,
        ..Settings::default()
    };
    let tr = translate(&req, &s).unwrap();
    let hits = tr
        .series
        .iter()
        .find(|(l, _)| l.metric_name() == Some("hits_total"))
        .unwrap();
    assert_eq!(
        hits.0.to_string(),
        "hits_total{cloud_region=\"dp-wins\", job=\"api\", k8s_pod=\"p\", otel_scope_name=\"lib\", otel_scope_team=\"x\", otel_scope_version=\"1.2\"}"
    );
    // target_info has no scope labels and keeps only non-identifying attributes
    let ti = tr
        .series
        .iter()
        .find(|(l, _)| l.metric_name() == Some("target_info"))
        .unwrap();
    assert_eq!(
        ti.0.to_string(),
        "target_info{cloud_region=\"eu\", job=\"api\", k8s_pod=\"p\"}"
    );
    let s = Settings {
        strategy: Strategy::NoTranslation,
        ..Settings::default()
    };
    let tr = translate(&req, &s).unwrap();
    assert!(tr
        .series
        .iter()
        .any(|(l, _)| l.metric_name() == Some("hits") && l.get("cloud.region") == Some("dp-wins")));
}

#[test]
fn delta_empty_and_exponential() {
    let req = request(
        vec![kv("service.name", "api")],
        vec![sum_metric(
            "d",
            "",
            TEMPORALITY_DELTA,
            vec![point(T, 1.0, vec![])],
        )],
    );
    let e = translate(&req, &Settings::default()).unwrap_err();
    assert_eq!(
        e,
        "invalid temporality and type combination for metric \"d\""
    );
    let s = Settings {
        allow_delta: true,
        ..Settings::default()
    };
    assert_eq!(translate(&req, &s).unwrap().series.len(), 1);
    let req = request(
        vec![kv("service.name", "api")],
        vec![sum_metric("e", "", TEMPORALITY_CUMULATIVE, vec![])],
    );
    assert_eq!(
        translate(&req, &Settings::default()).unwrap_err(),
        "empty data points. e is dropped"
    );
    let exp = Metric {
        name: "latency".into(),
        description: String::new(),
        unit: "s".into(),
        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![
                ExponentialHistogramDataPoint {
                    attributes: vec![],
                    time_unix_nano: T,
                },
                ExponentialHistogramDataPoint {
                    attributes: vec![],
                    time_unix_nano: T + MIN,
                },
            ],
            aggregation_temporality: TEMPORALITY_CUMULATIVE,
        })),
    };
    let req = request(
        vec![kv("service.name", "api"), kv("host.name", "h")],
        vec![
            exp,
            sum_metric("c", "", TEMPORALITY_CUMULATIVE, vec![point(T, 1.0, vec![])]),
        ],
    );
    let tr = translate(&req, &Settings::default()).unwrap();
    assert_eq!(tr.dropped_points, 2);
    assert_eq!(tr.dropped_metrics, vec!["latency".to_string()]);
    // the dropped points still count for target_info's time span
    let ti = tr
        .series
        .iter()
        .find(|(l, _)| l.metric_name() == Some("target_info"))
        .unwrap();
    assert_eq!(ti.1.last().unwrap().0, ((T + MIN) / 1_000_000) as i64);
}

#[test]
fn json_and_content_types() {
    let body = br#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
 "scopeMetrics":[{"scope":{"name":"lib","version":"1.0"},"metrics":[{"name":"http.server.requests","unit":"{request}",
 "sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"42",
 "startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000060000000000",
 "exemplars":[{"asInt":"7","timeUnixNano":"1700000059000000000","traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
  "filteredAttributes":[{"key":"user","value":{"intValue":"12"}}]}],
 "attributes":[{"key":"http.method","value":{"stringValue":"GET"}}]}]}}]}]}]}"#;
    let req = decode(Some("application/json"), None, body).unwrap();
    let tr = translate(&req, &Settings::default()).unwrap();
    // exemplar ids are hex in OTLP/JSON
    let (series, e) = &tr.exemplars[0];
    assert_eq!(series.metric_name(), Some("http_server_requests_total"));
    assert_eq!(
        e.labels.to_string(),
        r#"{span_id="eee19b7ec3c1b174", trace_id="5b8efff798038103d269b633813fc60c", user="12"}"#
    );
    assert_eq!((e.value, e.ts), (7.0, 1_700_000_059_000));
    let bad = String::from_utf8_lossy(body).replace("eee19b7ec3c1b174", "xyz");
    assert!(decode(Some("application/json"), None, bad.as_bytes())
        .unwrap_err()
        .contains("spanId: \"xyz\" is not hex"));
    assert_eq!(
        show(&tr),
        vec![
            "http_server_requests_total{http_method=\"GET\", job=\"api\"} [(1700000060000, 42.0)]"
        ]
    );
    // the same as protobuf, gzipped
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &req.encode_to_vec()).unwrap();
    let zipped = gz.finish().unwrap();
    let again = decode(Some("application/x-protobuf"), Some("gzip"), &zipped).unwrap();
    assert_eq!(again, req);
    assert_eq!(
        decode(Some("application/json; charset=utf-8"), None, body).unwrap_err(),
        "unsupported content type: application/json; charset=utf-8, supported: [application/json, application/x-protobuf]"
    );
    assert!(decode(Some("application/x-protobuf"), Some("br"), b"")
        .unwrap_err()
        .starts_with("unsupported compression: br."));
    assert!(decode(Some("application/x-protobuf"), None, b"\xff\xff")
        .unwrap_err()
        .starts_with("proto: "));
    assert!(decode(Some("application/json"), None, b"{")
        .unwrap_err()
        .starts_with("json: "));
    // an empty body is an empty request
    assert_eq!(
        decode(Some("application/x-protobuf"), None, b"").unwrap(),
        ExportMetricsServiceRequest::default()
    );
}
