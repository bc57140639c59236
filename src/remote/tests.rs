use proptest::prelude::*;
use prost::Message as _;
use tsdb::labels::Labels;

use super::proto::histogram::{Count, ResetHint, ZeroCount};
use super::*;

const MAX: usize = 64 << 20;
const STALE_NAN: u64 = tsdb::STALE_NAN_BITS;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

fn request(ts: Vec<TimeSeries>) -> WriteRequest {
    WriteRequest {
        timeseries: ts,
        metadata: vec![],
    }
}

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

// ---------------------------------------------------------------- wire format

/// `up{} 1 @1000` plus metadata, hand-encoded from the proto definitions.
#[rustfmt::skip]
const FIXTURE: &[u8] = &[
    0x0a, 30,                          // WriteRequest.timeseries (1, LEN) 30 bytes
      0x0a, 14,                        //   TimeSeries.labels (1, LEN) 14 bytes
        0x0a, 8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', // Label.name (1)
        0x12, 2, b'u', b'p',           //     Label.value (2, LEN)
      0x12, 12,                        //   TimeSeries.samples (2, LEN) 12 bytes
        0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // Sample.value (1, I64) 1.0
        0x10, 0xe8, 0x07,              //     Sample.timestamp (2, VARINT) 1000
    0x1a, 12,                          // WriteRequest.metadata (3, LEN) 12 bytes
      0x08, 2,                         //   MetricMetadata.type (1, VARINT) GAUGE
      0x12, 2, b'u', b'p',             //   .metric_family_name (2, LEN)
      0x22, 1, b'h',                   //   .help (4, LEN)
      0x2a, 1, b's',                   //   .unit (5, LEN)
];

fn fixture_request() -> WriteRequest {
    WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(1000, 1.0)])],
        metadata: vec![MetricMetadata {
            r#type: MetricType::Gauge as i32,
            metric_family_name: "up".into(),
            help: "h".into(),
            unit: "s".into(),
        }],
    }
}

#[test]
fn fixture_encodes_to_known_bytes() {
    assert_eq!(fixture_request().encode_to_vec(), FIXTURE);
}

#[test]
fn fixture_decodes_through_snappy() {
    let req = decode_write_request(&snappy(FIXTURE), MAX).unwrap();
    assert_eq!(req, fixture_request());
    assert_eq!(req.metadata[0].r#type(), MetricType::Gauge);
    let out = to_series(&req).unwrap();
    assert_eq!(
        out,
        vec![(Labels::from_pairs(&[("__name__", "up")]), vec![(1000, 1.0)])]
    );
}

/// A series with an exemplar and an integer native histogram, hand-encoded.
#[test]
fn histogram_and_exemplar_fields_decode() {
    // Built piecewise so each length byte is visibly right.
    #[rustfmt::skip]
    let label: Vec<u8> = vec![0x0a, 8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', 0x12, 1, b'h'];
    #[rustfmt::skip]
    let exemplar_label: Vec<u8> = vec![0x0a, 2, b't', b'i', 0x12, 1, b'7'];
    let mut exemplar = vec![0x0a, exemplar_label.len() as u8];
    exemplar.extend(&exemplar_label);
    exemplar.extend([0x11, 0, 0, 0, 0, 0, 0, 0x04, 0x40]); // value (2, I64) 2.5
    exemplar.extend([0x18, 0x09]); // timestamp (3, VARINT) 9
    #[rustfmt::skip]
    let histogram: Vec<u8> = vec![
        0x08, 3,                        // count_int (1, VARINT) 3
        0x19, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // sum (3, I64) 1.5
        0x20, 1,                        // schema (4, sint32 zigzag) -1
        0x29, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // zero_threshold (5, I64) 1.0
        0x30, 4,                        // zero_count_int (6, VARINT) 4
        0x42, 4, 0x08, 0x02, 0x10, 0x01, // negative_spans (8): offset 1, length 1
        0x4a, 1, 0x04,                  // negative_deltas (9, packed sint64) [2]
        0x5a, 4, 0x08, 0x03, 0x10, 0x02, // positive_spans (11): offset -2, length 2
        0x62, 2, 0x02, 0x01,            // positive_deltas (12, packed sint64) [1, -1]
        0x70, 3,                        // reset_hint (14, VARINT) GAUGE
        0x78, 5,                        // timestamp (15, VARINT) 5
        0x82, 0x01, 8, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f, // custom_values (16, packed) [+Inf]
    ];
    let mut ts = vec![0x0a, label.len() as u8];
    ts.extend(&label);
    ts.extend([0x1a, exemplar.len() as u8]);
    ts.extend(&exemplar);
    ts.extend([0x22, histogram.len() as u8]);
    ts.extend(&histogram);
    let mut raw = vec![0x0a, ts.len() as u8];
    raw.extend(&ts);

    let req = decode_write_request(&snappy(&raw), MAX).unwrap();
    let want = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", "h")],
            samples: vec![],
            exemplars: vec![Exemplar {
                labels: vec![Label::new("ti", "7")],
                value: 2.5,
                timestamp: 9,
            }],
            histograms: vec![Histogram {
                count: Some(Count::CountInt(3)),
                sum: 1.5,
                schema: -1,
                zero_threshold: 1.0,
                zero_count: Some(ZeroCount::ZeroCountInt(4)),
                negative_spans: vec![BucketSpan {
                    offset: 1,
                    length: 1,
                }],
                negative_deltas: vec![2],
                negative_counts: vec![],
                positive_spans: vec![BucketSpan {
                    offset: -2,
                    length: 2,
                }],
                positive_deltas: vec![1, -1],
                positive_counts: vec![],
                reset_hint: ResetHint::Gauge as i32,
                timestamp: 5,
                custom_values: vec![f64::INFINITY],
                start_timestamp: 0,
            }],
        }],
        metadata: vec![],
    };
    assert_eq!(req, want);
    // prost writes fields in tag order with packed repeats, as Go does.
    assert_eq!(want.encode_to_vec(), raw);
    // A series with only histograms converts to nothing (not stored yet).
    assert_eq!(to_series(&req).unwrap(), vec![]);
}

#[test]
fn float_histogram_variants_round_trip() {
    let h = Histogram {
        count: Some(Count::CountFloat(2.5)),
        zero_count: Some(ZeroCount::ZeroCountFloat(0.5)),
        positive_counts: vec![1.0, 1.0],
        negative_counts: vec![f64::from_bits(STALE_NAN)],
        ..Default::default()
    };
    let mut ts = series(&[("__name__", "fh")], &[]);
    ts.histograms.push(h.clone());
    let req = request(vec![ts]);
    let back = decode_write_request(&encode_write_request(&req), MAX).unwrap();
    let got = &back.timeseries[0].histograms[0];
    assert_eq!(got.count, h.count);
    assert_eq!(got.zero_count, h.zero_count);
    assert_eq!(got.positive_counts, h.positive_counts);
    assert_eq!(got.negative_counts[0].to_bits(), STALE_NAN);
}

#[test]
fn empty_request_is_one_snappy_byte() {
    let body = encode_write_request(&WriteRequest::default());
    assert_eq!(body, [0x00]);
    assert_eq!(
        decode_write_request(&body, MAX).unwrap(),
        WriteRequest::default()
    );
}

#[test]
fn stale_marker_survives_bit_exact() {
    let req = request(vec![series(
        &[("__name__", "x")],
        &[
            (1, f64::from_bits(STALE_NAN)),
            (2, f64::NAN),
            (3, f64::INFINITY),
        ],
    )]);
    let back = decode_write_request(&encode_write_request(&req), MAX).unwrap();
    let out = to_series(&back).unwrap();
    let bits: Vec<u64> = out[0].1.iter().map(|(_, v)| v.to_bits()).collect();
    assert_eq!(
        bits,
        [STALE_NAN, f64::NAN.to_bits(), f64::INFINITY.to_bits()]
    );
}

#[test]
fn highly_compressible_body_passes_the_ratio_check() {
    let big = "a".repeat(1 << 20);
    let req = request(vec![series(
        &[("__name__", "x"), ("big", &big)],
        &[(1, 1.0)],
    )]);
    let body = encode_write_request(&req);
    assert!(body.len() * 20 < (1 << 20), "snappy ratio {}", body.len());
    assert_eq!(decode_write_request(&body, MAX).unwrap(), req);
}

// ---------------------------------------------------------------- bad bodies

#[test]
fn empty_body_is_corrupt_snappy() {
    let err = decode_write_request(&[], MAX).unwrap_err();
    assert!(matches!(err, RemoteError::Snappy(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("snappy: corrupt input"),
        "{err}"
    );
    assert_eq!(err.http_status(), 400);
}

#[test]
fn bad_snappy_header_is_corrupt() {
    // Six continuation bytes: a varint longer than snappy's 5-byte header.
    let err = decode_write_request(&[0xff; 6], MAX).unwrap_err();
    assert!(matches!(err, RemoteError::Snappy(_)), "{err:?}");
}

#[test]
fn every_truncation_is_an_error() {
    let body = encode_write_request(&fixture_request());
    for n in 0..body.len() {
        let err = decode_write_request(&body[..n], MAX).unwrap_err();
        assert!(matches!(err, RemoteError::Snappy(_)), "prefix {n}: {err:?}");
    }
}

#[test]
fn trailing_garbage_is_an_error() {
    let mut body = encode_write_request(&fixture_request());
    body.extend([0x00, 0x00]);
    assert!(decode_write_request(&body, MAX).is_err());
}

#[test]
fn declared_size_over_limit_is_too_large() {
    let body = encode_write_request(&fixture_request());
    let declared = FIXTURE.len();
    let err = decode_write_request(&body, declared - 1).unwrap_err();
    assert_eq!(
        err,
        RemoteError::TooLarge {
            declared: declared as u64,
            limit: declared - 1
        }
    );
    assert_eq!(err.http_status(), 413);
    assert_eq!(
        err.to_string(),
        format!(
            "decompressed request size of {declared} bytes exceeds the limit of {} bytes",
            declared - 1
        )
    );
    assert!(decode_write_request(&body, declared).is_ok());
}

#[test]
fn huge_declared_size_is_refused_before_allocating() {
    // Header declaring 2^32 + 1 bytes (over snappy's own limit) and 4 GiB - 1.
    let err = decode_write_request(&[0x81, 0x80, 0x80, 0x80, 0x10, 0x00], usize::MAX).unwrap_err();
    assert!(
        matches!(
            err,
            RemoteError::TooLarge {
                declared: 0x1_0000_0001,
                ..
            }
        ),
        "{err:?}"
    );
    let err = decode_write_request(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00], MAX).unwrap_err();
    assert!(
        matches!(
            err,
            RemoteError::TooLarge {
                declared: 0xffff_ffff,
                ..
            }
        ),
        "{err:?}"
    );
    // Within the limit, but more than 6 bytes could ever expand to.
    let err = decode_write_request(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00], usize::MAX).unwrap_err();
    assert!(matches!(err, RemoteError::Snappy(_)), "{err:?}");
}

#[test]
fn valid_snappy_bad_protobuf() {
    for raw in [
        &[0x0f][..],                               // field 1, wire type 7: invalid
        &[0x0a, 0x05, 0x0a][..],                   // length past the end
        &[0x0a, 0x03, 0x0a, 0x01][..],             // nested length past its parent
        &[0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe][..], // label name not UTF-8
    ] {
        let err = decode_write_request(&snappy(raw), MAX).unwrap_err();
        assert!(matches!(err, RemoteError::Protobuf(_)), "{raw:x?}: {err:?}");
        assert_eq!(err.http_status(), 400);
    }
}

#[test]
fn unknown_fields_are_skipped() {
    // Field 2 (reserved, Cortex's `source`) and field 99 before the fixture.
    let mut raw = vec![0x10, 0x01, 0x9a, 0x06, 0x01, b'x'];
    raw.extend(FIXTURE);
    assert_eq!(
        decode_write_request(&snappy(&raw), MAX).unwrap(),
        fixture_request()
    );
}

// ---------------------------------------------------------------- labels

fn convert(labels: &[(&str, &str)]) -> Result<Series, RemoteError> {
    convert_series(&series(labels, &[(1, 1.0)]))
}

#[test]
fn unsorted_labels_are_sorted() {
    let (ls, samples) = convert(&[("job", "j"), ("__name__", "up"), ("a", "1")]).unwrap();
    assert_eq!(
        ls,
        Labels::from_pairs(&[("__name__", "up"), ("a", "1"), ("job", "j")])
    );
    assert_eq!(samples, vec![(1, 1.0)]);
}

#[test]
fn empty_values_are_dropped() {
    let (ls, _) = convert(&[("__name__", "up"), ("gone", "")]).unwrap();
    assert_eq!(ls, Labels::from_pairs(&[("__name__", "up")]));
}

#[test]
fn utf8_names_are_accepted() {
    let (ls, _) = convert(&[("__name__", "http.requests µs"), ("kube.pod/name", "ç")]).unwrap();
    assert_eq!(ls.metric_name(), Some("http.requests µs"));
    assert_eq!(ls.get("kube.pod/name"), Some("ç"));
}

#[test]
fn missing_metric_name_is_invalid() {
    let err = convert(&[("job", "j"), ("a", "1")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid metric name or labels, got {a="1", job="j"}"#
    );
    assert_eq!(err.http_status(), 400);
    let err = convert(&[]).unwrap_err();
    assert_eq!(err.to_string(), "invalid metric name or labels, got {}");
}

#[test]
fn empty_metric_name_is_invalid() {
    let err = convert(&[("__name__", ""), ("job", "j")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid metric name or labels, got {__name__="", job="j"}"#
    );
}

#[test]
fn empty_label_name_is_invalid() {
    let err = convert(&[("__name__", "up"), ("", "v")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid metric name or labels, got {""="v", __name__="up"}"#
    );
}

#[test]
fn duplicate_label_names_are_rejected() {
    let err = convert(&[("__name__", "up"), ("job", "a"), ("job", "b")]).unwrap_err();
    assert_eq!(
        err,
        RemoteError::DuplicateLabel {
            labels: r#"{__name__="up", job="a", job="b"}"#.into(),
            name: "job".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        r#"invalid labels for series, labels {__name__="up", job="a", job="b"}, duplicated label job"#
    );
    // A duplicate is a duplicate even when one value is empty.
    assert!(matches!(
        convert(&[("__name__", "up"), ("job", ""), ("job", "b")]),
        Err(RemoteError::DuplicateLabel { .. })
    ));
    assert!(matches!(
        convert(&[("__name__", "up"), ("__name__", "up")]),
        Err(RemoteError::DuplicateLabel { .. })
    ));
}

#[test]
fn notation_quotes_like_go() {
    let err = convert(&[("a.b", "x\"y\\z\n\t\u{1}é"), ("zz", "")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid metric name or labels, got {"a.b"="x\"y\\z\n\t\x01é", zz=""}"#
    );
}

#[test]
fn to_series_fails_on_first_invalid_and_drops_sampleless() {
    let req = request(vec![
        series(&[("__name__", "ok")], &[(1, 1.0)]),
        series(&[("__name__", "none")], &[]),
        series(&[("job", "nameless")], &[(1, 1.0)]),
    ]);
    assert!(matches!(
        to_series(&req),
        Err(RemoteError::InvalidLabels { .. })
    ));
    let (ok, skipped) = to_series_skipping_invalid(&req);
    assert_eq!(
        ok,
        vec![(Labels::from_pairs(&[("__name__", "ok")]), vec![(1, 1.0)])]
    );
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].samples, 1);
    assert!(matches!(
        skipped[0].error,
        RemoteError::InvalidLabels { .. }
    ));
    assert_eq!(
        to_series(&request(req.timeseries[..2].to_vec()))
            .unwrap()
            .len(),
        1
    );
}

// ---------------------------------------------------------------- properties

fn arb_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        Just(f64::from_bits(STALE_NAN)),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        any::<f64>(),
    ]
}

fn arb_series() -> impl Strategy<Value = TimeSeries> {
    (
        "\\PC{1,12}",
        prop::collection::vec(("[a-z_]{1,6}|\\PC{1,6}", "\\PC{0,8}"), 0..5),
        prop::collection::vec((any::<i64>(), arb_value()), 0..20),
    )
        .prop_map(|(name, labels, samples)| TimeSeries {
            labels: std::iter::once(Label::new("__name__", name))
                .chain(labels.into_iter().map(|(n, v)| Label::new(n, v)))
                .collect(),
            samples: samples
                .into_iter()
                .map(|(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        })
}

/// proto3 does not send a default-valued scalar: `-0.0` arrives as `+0.0`.
fn wire_bits(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

proptest! {
    #[test]
    fn round_trip_is_bit_exact(ts in prop::collection::vec(arb_series(), 0..8)) {
        let req = request(ts);
        let back = decode_write_request(&encode_write_request(&req), MAX).unwrap();
        prop_assert_eq!(back.timeseries.len(), req.timeseries.len());
        for (a, b) in req.timeseries.iter().zip(&back.timeseries) {
            prop_assert_eq!(&a.labels, &b.labels);
            let want: Vec<(i64, u64)> =
                a.samples.iter().map(|s| (s.timestamp, wire_bits(s.value))).collect();
            let got: Vec<(i64, u64)> =
                b.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect();
            prop_assert_eq!(want, got);
        }
        // Conversion keeps values bit-exact too (or reports a label error).
        if let Ok(out) = to_series(&back) {
            let with_samples: Vec<&TimeSeries> =
                back.timeseries.iter().filter(|t| !t.samples.is_empty()).collect();
            prop_assert_eq!(out.len(), with_samples.len());
            for ((_, samples), t) in out.iter().zip(with_samples) {
                let want: Vec<u64> = t.samples.iter().map(|s| s.value.to_bits()).collect();
                let got: Vec<u64> = samples.iter().map(|(_, v)| v.to_bits()).collect();
                prop_assert_eq!(want, got);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        match decode_write_request(&body, 4096) {
            Ok(req) => { let _ = to_series_skipping_invalid(&req); }
            Err(e) => {
                let known = matches!(
                    e,
                    RemoteError::Snappy(_) | RemoteError::TooLarge { .. } | RemoteError::Protobuf(_)
                );
                prop_assert!(known, "{:?}", e);
            }
        }
    }

    #[test]
    fn arbitrary_protobuf_payloads_never_panic(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        match decode_write_request(&snappy(&raw), 4096) {
            Ok(req) => { let _ = to_series_skipping_invalid(&req); }
            Err(e) => {
                let known = matches!(e, RemoteError::Protobuf(_));
                prop_assert!(known, "{:?}", e);
            }
        }
    }

    #[test]
    fn corrupted_valid_bodies_never_panic(
        ts in prop::collection::vec(arb_series(), 1..3),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut body = encode_write_request(&request(ts));
        for (i, b) in flips {
            let i = i.index(body.len());
            body[i] ^= b;
        }
        if let Ok(req) = decode_write_request(&body, MAX) {
            let _ = to_series(&req);
        }
    }
}
