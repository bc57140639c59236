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
fn delta_and_empty() {
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
        e.to_string(),
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
        translate(&req, &Settings::default())
            .unwrap_err()
            .to_string(),
        "empty data points. e is dropped"
    );
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
        .to_string()
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
        decode(Some("application/json; charset=utf-8"), None, body)
            .unwrap_err()
            .to_string(),
        "unsupported content type: application/json; charset=utf-8, supported: [application/json, application/x-protobuf]"
    );
    assert!(decode(Some("application/x-protobuf"), Some("br"), b"")
        .unwrap_err()
        .to_string()
        .starts_with("unsupported compression: br."));
    assert!(matches!(
        decode(Some("application/x-protobuf"), None, b"\xff\xff"),
        Err(DecodeError::Proto(_))
    ));
    assert!(decode(Some("application/x-protobuf"), None, b"\xff\xff")
        .unwrap_err()
        .to_string()
        .starts_with("proto: "));
    assert!(decode(Some("application/json"), None, b"{")
        .unwrap_err()
        .to_string()
        .starts_with("json: "));
    // an empty body is an empty request
    assert_eq!(
        decode(Some("application/x-protobuf"), None, b"").unwrap(),
        ExportMetricsServiceRequest::default()
    );
}

fn exp_metric(
    name: &str,
    unit: &str,
    temporality: i32,
    points: Vec<ExponentialHistogramDataPoint>,
) -> Metric {
    Metric {
        name: name.into(),
        description: String::new(),
        unit: unit.into(),
        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: points,
            aggregation_temporality: temporality,
        })),
    }
}

fn buckets(offset: i32, counts: &[u64]) -> Option<ExponentialBuckets> {
    Some(ExponentialBuckets {
        offset,
        bucket_counts: counts.to_vec(),
    })
}

/// Scale 0: positive buckets `(0.5, 1]`, `(1, 2]` (empty) and `(2, 4]`,
/// negative `[-16, -8)`, 4 zeros.
fn exp_point(t: u64) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        attributes: vec![kv("http.method", "GET")],
        start_time_unix_nano: T - 10 * MIN,
        time_unix_nano: t,
        count: 10,
        sum: Some(12.5),
        scale: 0,
        zero_count: 4,
        positive: buckets(-1, &[1, 0, 2]),
        negative: buckets(3, &[3]),
        flags: 0,
        exemplars: vec![],
        zero_threshold: 0.0,
    }
}

fn hist_of(tr: &Translated, name: &str) -> Vec<(String, i64, FloatHistogram)> {
    tr.histograms
        .iter()
        .filter(|(l, _, _)| l.metric_name() == Some(name))
        .map(|(l, t, h)| (l.to_string(), *t, h.clone()))
        .collect()
}

#[test]
fn exponential_histograms_are_native_histograms() {
    use tsdb::histogram::CounterResetHint;
    let req = request(
        vec![kv("service.name", "api"), kv("service.instance.id", "i-1")],
        vec![exp_metric(
            "request.size",
            "By",
            TEMPORALITY_CUMULATIVE,
            // out of order in the request: stored in time order
            vec![exp_point(T + MIN), exp_point(T)],
        )],
    );
    let tr = translate(&req, &Settings::default()).unwrap();
    let t = (T / 1_000_000) as i64;
    // no float series but target_info: no _bucket, _sum or _count
    assert!(tr
        .series
        .iter()
        .all(|(l, _)| l.metric_name() == Some("target_info")));
    let got = hist_of(&tr, "request_size_bytes");
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].0,
        r#"request_size_bytes{http_method="GET", instance="i-1", job="api"}"#
    );
    assert_eq!((got[0].1, got[1].1), (t, t + 60_000));
    let h = &got[0].2;
    assert_eq!(
        *h,
        FloatHistogram {
            schema: 0,
            counter_reset_hint: CounterResetHint::Unknown,
            zero_threshold: 1e-128,
            zero_count: 4.0,
            count: 10.0,
            sum: 12.5,
            // OTLP bucket k is native bucket k + 1; empty ones left out
            positive: vec![(0, 1.0), (2, 2.0)],
            negative: vec![(4, 3.0)],
            custom_values: vec![],
        }
    );
    // the bounds are those of the OTLP buckets
    let b: Vec<(f64, f64, f64)> = h
        .all_buckets()
        .iter()
        .map(|b| (b.lower, b.upper, b.count))
        .collect();
    assert_eq!(
        b,
        vec![
            (-16.0, -8.0, 3.0),
            (-1e-128, 1e-128, 4.0),
            (0.5, 1.0, 1.0),
            (2.0, 4.0, 2.0)
        ]
    );
}

#[test]
fn exponential_scales_sums_staleness_and_errors() {
    use tsdb::histogram::CounterResetHint;
    let one = |p: ExponentialHistogramDataPoint, temporality: i32, s: &Settings| {
        let req = request(
            vec![kv("service.name", "api")],
            vec![exp_metric("lat", "s", temporality, vec![p])],
        );
        translate(&req, s)
    };
    let d = Settings::default();
    // scale 10 is merged down to schema 8: four OTLP buckets to one
    let fine = ExponentialHistogramDataPoint {
        scale: 10,
        count: 8,
        zero_count: 0,
        positive: buckets(5, &[1, 1, 1, 1, 1]),
        negative: buckets(-3, &[1, 2]),
        ..exp_point(T)
    };
    let tr = one(fine.clone(), TEMPORALITY_CUMULATIVE, &d).unwrap();
    let h = &hist_of(&tr, "lat_seconds")[0].2;
    assert_eq!(h.schema, 8);
    // OTLP 5..7 are in (2^(4/1024), 2^(8/1024)], native 2 of schema 8;
    // 8 and 9 in native 3; -3 and -2 in native 0
    assert_eq!(h.positive, vec![(2, 3.0), (3, 2.0)]);
    assert_eq!(h.negative, vec![(0, 3.0)]);
    // a scale below -4 fails the request with Prometheus's message
    let coarse = ExponentialHistogramDataPoint {
        scale: -5,
        ..exp_point(T)
    };
    assert_eq!(
        one(coarse, TEMPORALITY_CUMULATIVE, &d)
            .unwrap_err()
            .to_string(),
        "cannot convert exponential to native histogram. Scale must be >= -4, was -5"
    );
    // no sum: 0
    let tr = one(
        ExponentialHistogramDataPoint {
            sum: None,
            ..exp_point(T)
        },
        TEMPORALITY_CUMULATIVE,
        &d,
    )
    .unwrap();
    assert_eq!(hist_of(&tr, "lat_seconds")[0].2.sum, 0.0);
    // a count that is not the buckets' total is refused as Prometheus does
    let bad = ExponentialHistogramDataPoint {
        count: 11,
        ..exp_point(T)
    };
    assert_eq!(
        one(bad.clone(), TEMPORALITY_CUMULATIVE, &d).unwrap_err().to_string(),
        "10 observations found in buckets, but the Count field is 11: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)"
    );
    // ... unless the sum is NaN: then at least the buckets' total
    let nan = ExponentialHistogramDataPoint {
        sum: Some(f64::NAN),
        ..bad
    };
    assert!(one(nan, TEMPORALITY_CUMULATIVE, &d).is_ok());
    // zero count with a sum: stored, with a warning
    let tr = one(
        ExponentialHistogramDataPoint {
            count: 0,
            zero_count: 0,
            positive: None,
            negative: None,
            ..exp_point(T)
        },
        TEMPORALITY_CUMULATIVE,
        &d,
    )
    .unwrap();
    assert_eq!(hist_of(&tr, "lat_seconds").len(), 1);
    assert_eq!(
        tr.warnings,
        vec!["exponential histogram data point has zero count, but non-zero sum: 12.500000"]
    );
    // no recorded value: a stale marker in the histogram's series
    let tr = one(
        ExponentialHistogramDataPoint {
            flags: FLAG_NO_RECORDED_VALUE,
            ..exp_point(T)
        },
        TEMPORALITY_CUMULATIVE,
        &d,
    )
    .unwrap();
    assert!(tr.histograms.is_empty());
    let (l, samples) = tr
        .series
        .iter()
        .find(|(l, _)| l.metric_name() == Some("lat_seconds"))
        .unwrap();
    assert_eq!(
        l.to_string(),
        r#"lat_seconds{http_method="GET", job="api"}"#
    );
    assert_eq!(samples.len(), 1);
    assert!(tsdb::is_stale_nan(samples[0].1));
    // delta: refused, or with native delta ingestion stored as a gauge
    // histogram
    assert_eq!(
        one(exp_point(T), TEMPORALITY_DELTA, &d)
            .unwrap_err()
            .to_string(),
        "invalid temporality and type combination for metric \"lat\""
    );
    let s = Settings {
        allow_delta: true,
        ..Settings::default()
    };
    let tr = one(exp_point(T), TEMPORALITY_DELTA, &s).unwrap();
    assert_eq!(
        hist_of(&tr, "lat_seconds")[0].2.counter_reset_hint,
        CounterResetHint::Gauge
    );
    // names by the translation strategy, never a suffix for the buckets
    let s = Settings {
        strategy: Strategy::NoTranslation,
        ..Settings::default()
    };
    let tr = one(exp_point(T), TEMPORALITY_CUMULATIVE, &s).unwrap();
    assert_eq!(hist_of(&tr, "lat").len(), 1);
}

fn explicit(bounds: &[f64], counts: &[u64], count: u64, flags: u32) -> Metric {
    Metric {
        name: "http.server.request.duration".into(),
        description: String::new(),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![kv("http.method", "GET")],
                start_time_unix_nano: 0,
                time_unix_nano: T,
                count,
                sum: Some(7.0),
                bucket_counts: counts.to_vec(),
                explicit_bounds: bounds.to_vec(),
                exemplars: vec![],
                flags,
            }],
            aggregation_temporality: TEMPORALITY_CUMULATIVE,
        })),
    }
}

#[test]
fn explicit_histograms_with_custom_buckets() {
    let nhcb = Settings {
        convert_nhcb: true,
        ..Settings::default()
    };
    let one = |m: Metric| translate(&request(vec![kv("service.name", "api")], vec![m]), &nhcb);
    let tr = one(explicit(&[1.0, 2.0, 5.0], &[0, 3, 0, 1], 4, 0)).unwrap();
    // one series with the metric's name: no _bucket, _sum or _count
    assert!(tr
        .series
        .iter()
        .all(|(l, _)| l.metric_name() == Some("target_info")));
    let got = hist_of(&tr, "http_server_request_duration_seconds");
    assert_eq!(
        got[0].0,
        r#"http_server_request_duration_seconds{http_method="GET", job="api"}"#
    );
    assert_eq!(
        got[0].2,
        FloatHistogram {
            schema: tsdb::histogram::CUSTOM_BUCKETS_SCHEMA,
            count: 4.0,
            sum: 7.0,
            positive: vec![(1, 3.0), (3, 1.0)],
            custom_values: vec![1.0, 2.0, 5.0],
            ..FloatHistogram::default()
        }
    );
    // the same as a classic histogram converted
    let mut classic = tsdb::histogram::ClassicHistogram::default();
    for (le, c) in [(1.0, 0.0), (2.0, 3.0), (5.0, 3.0), (f64::INFINITY, 4.0)] {
        classic.set_bucket(le, c);
    }
    classic.set_count(4.0);
    classic.set_sum(7.0);
    assert_eq!(classic.convert().unwrap(), got[0].2);
    // Prometheus's checks
    for (bounds, counts, count, msg) in [
        (&[1.0, 1.0][..], &[0u64, 1, 0][..], 1, "custom buckets: previous bound is 1.000000 and current is 1.000000: histogram custom bounds must be in strictly increasing order"),
        (&[1.0, f64::INFINITY][..], &[1, 0, 0][..], 1, "custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite"),
        (&[f64::NAN][..], &[1, 0][..], 1, "custom buckets: histogram custom bounds must not be NaN"),
        (&[1.0][..], &[1, 1, 1][..], 3, "custom buckets: only 1 custom bounds defined which is insufficient to cover total span length of 3: histogram custom bounds are too few"),
        (&[1.0][..], &[1, 1][..], 3, "2 observations found in buckets, but the Count field is 3: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)"),
    ] {
        assert_eq!(one(explicit(bounds, counts, count, 0)).unwrap_err().to_string(), msg);
    }
    // no recorded value: a stale marker
    let tr = one(explicit(&[1.0], &[1, 1], 2, FLAG_NO_RECORDED_VALUE)).unwrap();
    assert!(tr.histograms.is_empty());
    assert!(tr.series.iter().any(|(l, s)| l.metric_name()
        == Some("http_server_request_duration_seconds")
        && tsdb::is_stale_nan(s[0].1)));
    // without the option: classic series
    let tr = translate(
        &request(
            vec![kv("service.name", "api")],
            vec![explicit(&[1.0], &[1, 1], 2, 0)],
        ),
        &Settings::default(),
    )
    .unwrap();
    assert!(tr.histograms.is_empty());
    assert_eq!(tr.series.len(), 4);
}

#[test]
fn exponential_histograms_in_json() {
    let body = br#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
 "scopeMetrics":[{"metrics":[{"name":"request.size","unit":"By","exponentialHistogram":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE",
 "dataPoints":[{"attributes":[{"key":"http.method","value":{"stringValue":"GET"}}],"startTimeUnixNano":"1699999400000000000",
 "timeUnixNano":"1700000000000000000","count":"10","sum":12.5,"scale":0,"zeroCount":"4",
 "positive":{"offset":-1,"bucketCounts":["1","0","2"]},"negative":{"offset":3,"bucketCounts":[3]},"zeroThreshold":0}]}}]}]}]}"#;
    let req = decode(Some("application/json"), None, body).unwrap();
    let want = request(
        vec![kv("service.name", "api")],
        vec![exp_metric(
            "request.size",
            "By",
            TEMPORALITY_CUMULATIVE,
            vec![exp_point(T)],
        )],
    );
    let got = &req.resource_metrics[0].scope_metrics[0].metrics[0];
    assert_eq!(got, &want.resource_metrics[0].scope_metrics[0].metrics[0]);
    // and the same from protobuf
    let again = decode(Some("application/x-protobuf"), None, &want.encode_to_vec()).unwrap();
    assert_eq!(again, want);
}
