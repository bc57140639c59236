//! The protobuf format read as Prometheus 3 reads it: series names, magic
//! labels and order, native histograms with their options, errors.

use super::model::*;
use super::*;

fn body(families: &[MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in families {
        f.encode_length_delimited(&mut out).unwrap();
    }
    out
}

fn lp(n: &str, v: &str) -> LabelPair {
    LabelPair {
        name: n.into(),
        value: v.into(),
    }
}

fn family(name: &str, t: super::model::MetricType, metric: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        help: format!("help of {name}"),
        r#type: t as i32,
        metric,
        unit: String::new(),
    }
}

/// The samples as `name{labels} value` lines (histograms by count and
/// buckets), in order.
fn lines(d: &Decoded) -> Vec<String> {
    d.entries
        .iter()
        .filter_map(|e| match e {
            ProtoEntry::Series { labels, value, .. } => {
                let ls: Vec<String> = labels
                    .iter()
                    .filter(|l| l.0 != "__name__")
                    .map(|(n, v)| format!("{n}={v:?}"))
                    .collect();
                let name = &labels.iter().find(|l| l.0 == "__name__").unwrap().1;
                Some(format!("{name}{{{}}} {value}", ls.join(",")))
            }
            ProtoEntry::Histogram { labels, h, .. } => {
                let name = &labels.iter().find(|l| l.0 == "__name__").unwrap().1;
                Some(format!(
                    "{name} hist schema={} count={} sum={} zero={} pos={:?} neg={:?} hint={:?}",
                    h.schema,
                    h.count,
                    h.sum,
                    h.zero_count,
                    h.positive,
                    h.negative,
                    h.counter_reset_hint
                ))
            }
            _ => None,
        })
        .collect()
}

fn classic_histogram(with_inf: bool) -> Histogram {
    let mut bucket = vec![
        Bucket {
            cumulative_count: 2,
            upper_bound: 0.1,
            ..Default::default()
        },
        Bucket {
            cumulative_count: 5,
            upper_bound: 1.0,
            ..Default::default()
        },
    ];
    if with_inf {
        bucket.push(Bucket {
            cumulative_count: 7,
            upper_bound: f64::INFINITY,
            ..Default::default()
        });
    }
    Histogram {
        sample_count: 7,
        sample_sum: 12.5,
        bucket,
        ..Default::default()
    }
}

fn native_histogram() -> Histogram {
    Histogram {
        sample_count: 9,
        sample_sum: 4.25,
        schema: 2,
        zero_threshold: 1e-128,
        zero_count: 1,
        // buckets 0, 1 and 4, counts 3, 2, 2
        positive_span: vec![
            BucketSpan {
                offset: 0,
                length: 2,
            },
            BucketSpan {
                offset: 2,
                length: 1,
            },
        ],
        positive_delta: vec![3, -1, 0],
        negative_span: vec![BucketSpan {
            offset: -1,
            length: 1,
        }],
        negative_delta: vec![1],
        bucket: vec![Bucket {
            cumulative_count: 4,
            upper_bound: 0.5,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn metric(labels: Vec<LabelPair>) -> Metric {
    Metric {
        label: labels,
        ..Default::default()
    }
}

#[test]
fn counters_gauges_summaries_and_classic_histograms() {
    let mut c = metric(vec![lp("path", "/a"), lp("code", "200")]);
    c.counter = Some(Counter {
        value: 17.0,
        exemplar: Some(super::model::Exemplar {
            label: vec![lp("trace_id", "abc")],
            value: 0.3,
            timestamp: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 500_000_000,
            }),
        }),
        start_timestamp: None,
    });
    let mut g = metric(vec![]);
    g.gauge = Some(Gauge { value: -1.5 });
    g.timestamp_ms = 1_700_000_000_123;
    let mut sm = metric(vec![lp("x", "y")]);
    sm.summary = Some(Summary {
        sample_count: 4,
        sample_sum: 2.0,
        quantile: vec![
            Quantile {
                quantile: 0.5,
                value: 0.4,
            },
            Quantile {
                quantile: 1.0,
                value: 0.9,
            },
        ],
        start_timestamp: None,
    });
    let mut h = metric(vec![]);
    h.histogram = Some(classic_histogram(false));
    let mut h2 = metric(vec![lp("le_set", "b")]);
    h2.histogram = Some(classic_histogram(true));
    let b = body(&[
        family("requests_total", super::model::MetricType::Counter, vec![c]),
        family("temp", super::model::MetricType::Gauge, vec![g]),
        family("empty", super::model::MetricType::Gauge, vec![]),
        family("lat", super::model::MetricType::Summary, vec![sm]),
        family("dur", super::model::MetricType::Histogram, vec![h, h2]),
    ]);
    let d = decode(&b, HistogramOptions::default()).unwrap();
    assert_eq!(
        lines(&d),
        vec![
            r#"requests_total{code="200",path="/a"} 17"#,
            "temp{} -1.5",
            r#"lat_count{x="y"} 4"#,
            r#"lat_sum{x="y"} 2"#,
            r#"lat{quantile="0.5",x="y"} 0.4"#,
            r#"lat{quantile="1.0",x="y"} 0.9"#,
            "dur_count{} 7",
            "dur_sum{} 12.5",
            r#"dur_bucket{le="0.1"} 2"#,
            r#"dur_bucket{le="1.0"} 5"#,
            r#"dur_bucket{le="+Inf"} 7"#,
            r#"dur_count{le_set="b"} 7"#,
            r#"dur_sum{le_set="b"} 12.5"#,
            r#"dur_bucket{le="0.1",le_set="b"} 2"#,
            r#"dur_bucket{le="1.0",le_set="b"} 5"#,
            r#"dur_bucket{le="+Inf",le_set="b"} 7"#,
        ]
    );
    // metadata before each family's samples; the empty family is skipped
    let mut p = ProtoParser::new(&d);
    let mut kinds = Vec::new();
    while let Some(e) = p.next().unwrap() {
        kinds.push(e);
        match e {
            Entry::Type if kinds.len() == 2 => {
                assert_eq!(
                    p.metric_type(),
                    (&b"requests_total"[..], crate::MetricType::Counter)
                )
            }
            Entry::Help if kinds.len() == 1 => {
                assert_eq!(p.help().1, "help of requests_total")
            }
            Entry::Series if kinds.len() == 3 => {
                let (key, ts, v) = p.series();
                assert_eq!(key, b"requests_total\xffcode\xff200\xffpath\xff/a");
                assert_eq!((ts, v), (None, 17.0));
                let ex = p.exemplar().unwrap();
                assert_eq!(ex.labels, vec![("trace_id".to_string(), "abc".to_string())]);
                assert_eq!(ex.ts, Some(1_700_000_000_500));
            }
            Entry::Series if kinds.len() == 6 => {
                assert_eq!(p.series().1, Some(1_700_000_000_123));
            }
            _ => {}
        }
    }
    assert_eq!(&kinds[..3], &[Entry::Help, Entry::Type, Entry::Series]);
    assert_eq!(kinds.len(), 4 * 2 + 16);
}

#[test]
fn native_histograms_by_the_options() {
    let mut m = metric(vec![lp("job_kind", "api")]);
    m.histogram = Some(native_histogram());
    let mut g = metric(vec![]);
    let mut gh = native_histogram();
    gh.sample_count_float = 9.5;
    gh.zero_count_float = 1.5;
    gh.positive_count = vec![3.0, 2.0, 3.0];
    gh.positive_delta.clear();
    gh.negative_count = vec![0.5];
    gh.negative_delta.clear();
    g.histogram = Some(gh);
    let b = body(&[
        family("rpc", super::model::MetricType::Histogram, vec![m]),
        family("queue", super::model::MetricType::GaugeHistogram, vec![g]),
    ]);
    let native = HistogramOptions {
        native: true,
        ..Default::default()
    };
    let d = decode(&b, native).unwrap();
    assert_eq!(
        lines(&d),
        vec![
            "rpc hist schema=2 count=9 sum=4.25 zero=1 pos=[(0, 3.0), (1, 2.0), (4, 2.0)] neg=[(-1, 1.0)] hint=Unknown",
            "queue hist schema=2 count=9.5 sum=4.25 zero=1.5 pos=[(0, 3.0), (1, 2.0), (4, 3.0)] neg=[(-1, 0.5)] hint=Gauge",
        ]
    );
    // with the classic buckets too: after the histogram, as Prometheus
    let both = HistogramOptions {
        native: true,
        always_classic: true,
        ..Default::default()
    };
    let l = lines(&decode(&b, both).unwrap());
    assert_eq!(
        &l[1..5],
        &[
            r#"rpc_count{job_kind="api"} 9"#.to_string(),
            r#"rpc_sum{job_kind="api"} 4.25"#.to_string(),
            r#"rpc_bucket{job_kind="api",le="0.5"} 4"#.to_string(),
            r#"rpc_bucket{job_kind="api",le="+Inf"} 9"#.to_string(),
        ]
    );
    // not scraping native histograms: the classic parts only
    let l = lines(&decode(&b, HistogramOptions::default()).unwrap());
    assert_eq!(l[0], r#"rpc_count{job_kind="api"} 9"#);
    assert!(l.iter().all(|x| !x.contains("hist")), "{l:?}");
}

#[test]
fn classic_histograms_converted_to_custom_buckets() {
    let mut h = metric(vec![]);
    h.histogram = Some(classic_histogram(true));
    let b = body(&[family("dur", super::model::MetricType::Histogram, vec![h])]);
    let nhcb = HistogramOptions {
        convert_to_nhcb: true,
        ..Default::default()
    };
    let d = decode(&b, nhcb).unwrap();
    assert_eq!(
        lines(&d),
        vec!["dur hist schema=-53 count=7 sum=12.5 zero=0 pos=[(0, 2.0), (1, 3.0), (2, 2.0)] neg=[] hint=Unknown"]
    );
    match &d.entries[2] {
        ProtoEntry::Histogram { h, .. } => assert_eq!(h.custom_values, vec![0.1, 1.0]),
        e => panic!("{e:?}"),
    }
    // and kept as classic series too
    let both = HistogramOptions {
        convert_to_nhcb: true,
        always_classic: true,
        ..Default::default()
    };
    let l = lines(&decode(&b, both).unwrap());
    assert_eq!(l.len(), 6);
    assert!(l[5].starts_with("dur hist schema=-53"), "{l:?}");
}

#[test]
fn bad_bodies_fail() {
    let native = HistogramOptions {
        native: true,
        ..Default::default()
    };
    // spans that do not match the buckets
    let mut h = native_histogram();
    h.positive_delta.pop();
    let mut m = metric(vec![]);
    m.histogram = Some(h);
    let b = body(&[family("rpc", super::model::MetricType::Histogram, vec![m])]);
    let e = decode(&b, native).unwrap_err();
    assert!(
        e.msg.contains("rpc") && e.msg.contains("spans"),
        "{}",
        e.msg
    );
    // an unknown type
    let mut f = family("x", super::model::MetricType::Gauge, vec![metric(vec![])]);
    f.r#type = 9;
    let e = decode(&body(&[f]), native).unwrap_err();
    assert_eq!(e.msg, "unknown metric type for metric \"x\": 9");
    // a cut message
    let mut g = metric(vec![]);
    g.gauge = Some(Gauge { value: 1.0 });
    let b = body(&[family("temp", super::model::MetricType::Gauge, vec![g])]);
    let e = decode(&b[..b.len() - 3], native).unwrap_err();
    assert!(e.msg.starts_with("decoding MetricFamily"), "{}", e.msg);
    // the content type
    assert!(is_protobuf(CONTENT_TYPE));
    assert!(is_protobuf(
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    ));
    assert!(!is_protobuf(
        "application/vnd.google.protobuf;proto=other;encoding=delimited"
    ));
    assert!(!is_protobuf("text/plain"));
}

#[test]
fn start_times_of_counters_summaries_and_histograms() {
    let st = Some(Timestamp {
        seconds: 1_700_000_000,
        nanos: 250_000_000,
    });
    let mut c = metric(vec![]);
    c.counter = Some(Counter {
        value: 1.0,
        exemplar: None,
        start_timestamp: st.clone(),
    });
    let mut g = metric(vec![]);
    g.gauge = Some(Gauge { value: 1.0 });
    let mut sm = metric(vec![]);
    sm.summary = Some(Summary {
        sample_count: 1,
        sample_sum: 1.0,
        quantile: vec![],
        start_timestamp: st.clone(),
    });
    let mut h = metric(vec![]);
    let mut hist = native_histogram();
    hist.start_timestamp = st;
    h.histogram = Some(hist);
    let b = body(&[
        family("c_total", super::model::MetricType::Counter, vec![c]),
        family("g", super::model::MetricType::Gauge, vec![g]),
        family("s", super::model::MetricType::Summary, vec![sm]),
        family("h", super::model::MetricType::Histogram, vec![h]),
    ]);
    let opts = HistogramOptions {
        native: true,
        ..HistogramOptions::default()
    };
    let d = decode(&b, opts).unwrap();
    let mut p = ProtoParser::new(&d);
    let mut got = Vec::new();
    while let Some(e) = p.next().unwrap() {
        if matches!(e, Entry::Series | Entry::Histogram) {
            got.push((
                String::from_utf8_lossy(p.series().0).into_owned(),
                p.start_timestamp(),
            ));
        }
    }
    let at = Some(1_700_000_000_250);
    assert_eq!(
        got,
        vec![
            ("c_total".to_string(), at),
            ("g".to_string(), None),
            ("s_count".to_string(), at),
            ("s_sum".to_string(), at),
            ("h".to_string(), at),
        ]
    );
}
