//! Writing remote write request bodies straight from label sets and
//! samples, without building message structs first: protobuf fields as
//! bytes (varints, length-delimited, fixed 64-bit), for 1.0
//! (`prometheus.WriteRequest`) and 2.0 (`io.prometheus.write.v2.Request`).

use std::collections::HashMap;

use tsdb::labels::Labels;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Writes a length-delimited field whose body `f` writes.
fn nested(out: &mut Vec<u8>, field: u32, scratch: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
    scratch.clear();
    f(scratch);
    key(out, field, 2);
    varint(out, scratch.len() as u64);
    out.extend_from_slice(scratch);
}

/// A sample message (both versions: value = 1 double, timestamp = 2 int64),
/// proto3 defaults left out.
fn sample(out: &mut Vec<u8>, t: i64, v: f64) {
    sample_fields(out, 1, v, 2, t);
}

/// A double field and an int64 field, proto3 defaults left out (a
/// sample's value and timestamp; an exemplar's are fields 2 and 3).
fn sample_fields(out: &mut Vec<u8>, vfield: u32, v: f64, tfield: u32, t: i64) {
    if v.to_bits() != 0 {
        key(out, vfield, 1);
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    if t != 0 {
        key(out, tfield, 0);
        varint(out, t as u64);
    }
}

/// One series of a request: labels and samples, oldest first.
pub struct SeriesSamples<'a> {
    /// The labels as sent (external labels and relabeling applied); for
    /// 1.0 with `encoded`, not read.
    pub labels: &'a Labels,
    /// The labels already written as 1.0 `Label` fields
    /// ([`encode_labels_v1`]), when the caller keeps them; 2.0 needs
    /// `labels`.
    pub encoded: Option<&'a [u8]>,
    /// `(timestamp ms, value)`.
    pub samples: &'a [(i64, f64)],
    /// Exemplars of the series, oldest first.
    pub exemplars: &'a [tsdb::Exemplar],
    /// Native histogram samples `(timestamp ms, histogram)`, oldest first.
    pub histograms: &'a [(i64, std::sync::Arc<tsdb::histogram::FloatHistogram>)],
}

/// A histogram message's bytes.
fn histogram_bytes(t: i64, h: &tsdb::histogram::FloatHistogram) -> Vec<u8> {
    use prost::Message;
    super::codec::histogram_to_proto(h, t).encode_to_vec()
}

/// A label set as the `labels` fields of a 1.0 `TimeSeries`.
pub fn encode_labels_v1(labels: &Labels) -> Vec<u8> {
    let mut out = Vec::with_capacity(labels.len() * 24);
    let mut inner = Vec::with_capacity(64);
    for l in labels.iter() {
        nested(&mut out, 1, &mut inner, |b| {
            bytes_field(b, 1, l.name.as_bytes());
            bytes_field(b, 2, l.value.as_bytes());
        });
    }
    out
}

/// A 1.0 `WriteRequest` holding `series` (uncompressed).
pub fn write_request_v1(series: &[SeriesSamples<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(series.len() * 96);
    let mut ts = Vec::with_capacity(256);
    let mut inner = Vec::with_capacity(64);
    for s in series {
        ts.clear();
        match s.encoded {
            Some(bytes) => ts.extend_from_slice(bytes),
            None => ts.extend_from_slice(&encode_labels_v1(s.labels)),
        }
        for &(t, v) in s.samples {
            nested(&mut ts, 2, &mut inner, |b| sample(b, t, v));
        }
        let mut labels = Vec::new();
        for e in s.exemplars {
            labels.clear();
            labels.extend_from_slice(&encode_labels_v1(&e.labels));
            nested(&mut ts, 3, &mut inner, |b| {
                b.extend_from_slice(&labels);
                sample_fields(b, 2, e.value, 3, e.ts);
            });
        }
        for (t, h) in s.histograms {
            bytes_field(&mut ts, 4, &histogram_bytes(*t, h));
        }
        bytes_field(&mut out, 1, &ts);
    }
    out
}

/// Metadata of one metric family, for 1.0's metadata requests and 2.0's
/// per-series metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilyMetadata {
    /// The type word as exposed (`counter`, `gauge`, …).
    pub kind: String,
    /// HELP text.
    pub help: String,
    /// UNIT.
    pub unit: String,
}

/// 1.0 metadata type numbers (`prometheus.MetricMetadata.MetricType`),
/// the same as 2.0's.
fn type_number(kind: &str) -> u64 {
    super::v2::MetricType::from_word(kind) as i32 as u64
}

/// A 1.0 `WriteRequest` holding only metadata (field 3).
pub fn metadata_request_v1(families: &[(String, FamilyMetadata)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut inner = Vec::new();
    for (name, m) in families {
        nested(&mut out, 3, &mut inner, |b| {
            let t = type_number(&m.kind);
            if t != 0 {
                key(b, 1, 0);
                varint(b, t);
            }
            bytes_field(b, 2, name.as_bytes());
            if !m.help.is_empty() {
                bytes_field(b, 4, m.help.as_bytes());
            }
            if !m.unit.is_empty() {
                bytes_field(b, 5, m.unit.as_bytes());
            }
        });
    }
    out
}

/// The symbol table of a 2.0 request.
#[derive(Default)]
struct Symbols {
    list: Vec<String>,
    index: HashMap<String, u32>,
}

impl Symbols {
    fn new() -> Self {
        let mut s = Symbols::default();
        s.get("");
        s
    }

    fn get(&mut self, v: &str) -> u32 {
        if let Some(&i) = self.index.get(v) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(v.to_string());
        self.index.insert(v.to_string(), i);
        i
    }
}

/// A 2.0 `Request` holding `series`, each with the metadata of its family
/// when `metadata` knows it (uncompressed).
pub fn request_v2(
    series: &[SeriesSamples<'_>],
    metadata: &dyn Fn(&str) -> Option<FamilyMetadata>,
) -> Vec<u8> {
    let mut symbols = Symbols::new();
    let mut body = Vec::with_capacity(series.len() * 48);
    let mut ts = Vec::with_capacity(128);
    let mut inner = Vec::with_capacity(32);
    let mut refs = Vec::with_capacity(32);
    for s in series {
        ts.clear();
        refs.clear();
        for l in s.labels.iter() {
            varint(&mut refs, u64::from(symbols.get(&l.name)));
            varint(&mut refs, u64::from(symbols.get(&l.value)));
        }
        bytes_field(&mut ts, 1, &refs);
        for &(t, v) in s.samples {
            nested(&mut ts, 2, &mut inner, |b| sample(b, t, v));
        }
        for e in s.exemplars {
            let mut erefs = Vec::with_capacity(8);
            for l in e.labels.iter() {
                varint(&mut erefs, u64::from(symbols.get(&l.name)));
                varint(&mut erefs, u64::from(symbols.get(&l.value)));
            }
            nested(&mut ts, 4, &mut inner, |b| {
                if !erefs.is_empty() {
                    bytes_field(b, 1, &erefs);
                }
                sample_fields(b, 2, e.value, 3, e.ts);
            });
        }
        for (t, h) in s.histograms {
            bytes_field(&mut ts, 3, &histogram_bytes(*t, h));
        }
        let found = s
            .labels
            .metric_name()
            .and_then(|n| metadata(n).or_else(|| metadata(family_name(n))));
        if let Some(m) = found {
            let (t, help, unit) = (
                type_number(&m.kind),
                symbols.get(&m.help),
                symbols.get(&m.unit),
            );
            nested(&mut ts, 5, &mut inner, |b| {
                if t != 0 {
                    key(b, 1, 0);
                    varint(b, t);
                }
                if help != 0 {
                    key(b, 3, 0);
                    varint(b, u64::from(help));
                }
                if unit != 0 {
                    key(b, 4, 0);
                    varint(b, u64::from(unit));
                }
            });
        }
        bytes_field(&mut body, 5, &ts);
    }
    let mut out = Vec::with_capacity(body.len() + symbols.list.len() * 12);
    for sym in &symbols.list {
        bytes_field(&mut out, 4, sym.as_bytes());
    }
    out.extend_from_slice(&body);
    out
}

/// The metric family a series name belongs to: a histogram's or summary's
/// series carry a suffix the family name does not.
pub fn family_name(metric: &str) -> &str {
    for suffix in ["_bucket", "_count", "_sum", "_total", "_created", "_info"] {
        if let Some(base) = metric.strip_suffix(suffix) {
            return base;
        }
    }
    metric
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p)
    }

    fn ex() -> tsdb::Exemplar {
        tsdb::Exemplar {
            labels: ls(&[("trace_id", "abc")]),
            value: 0.25,
            ts: 1500,
            has_ts: true,
        }
    }

    /// An integer and a float histogram, with gaps between buckets.
    fn hists() -> Vec<(i64, std::sync::Arc<tsdb::histogram::FloatHistogram>)> {
        use tsdb::histogram::{CounterResetHint, FloatHistogram};
        let a = FloatHistogram {
            schema: 1,
            zero_threshold: 0.001,
            zero_count: 2.0,
            count: 12.0,
            sum: 3.5,
            positive: vec![(-2, 1.0), (-1, 4.0), (3, 2.0)],
            negative: vec![(0, 3.0)],
            ..Default::default()
        };
        let b = FloatHistogram {
            counter_reset_hint: CounterResetHint::Gauge,
            count: 12.5,
            zero_count: 2.5,
            ..a.clone()
        };
        vec![
            (1000, std::sync::Arc::new(a)),
            (2000, std::sync::Arc::new(b)),
        ]
    }

    /// The request's histograms of one series back as stored.
    fn back(hs: &[crate::remote::Histogram]) -> Vec<(i64, tsdb::histogram::FloatHistogram)> {
        hs.iter()
            .map(|h| {
                (
                    h.timestamp,
                    super::super::codec::histogram_from_proto(h).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn v1_decodes_as_a_write_request() {
        let a = ls(&[("__name__", "up"), ("job", "x")]);
        let b = ls(&[("__name__", "m"), ("k", "")]);
        let stale = f64::from_bits(tsdb::STALE_NAN_BITS);
        let body = write_request_v1(&[
            SeriesSamples {
                labels: &a,
                encoded: None,
                samples: &[(1000, 1.0), (2000, 0.0)],
                exemplars: &[ex()],
                histograms: &hists(),
            },
            SeriesSamples {
                labels: &b,
                encoded: Some(&encode_labels_v1(&b)),
                samples: &[(-5, stale)],
                exemplars: &[],
                histograms: &[],
            },
        ]);
        let req = crate::remote::WriteRequest::decode(body.as_slice()).unwrap();
        assert_eq!(req.timeseries.len(), 2);
        let t0 = &req.timeseries[0];
        assert_eq!(
            t0.labels,
            vec![
                crate::remote::Label::new("__name__", "up"),
                crate::remote::Label::new("job", "x")
            ]
        );
        assert_eq!(t0.samples.len(), 2);
        assert_eq!((t0.samples[0].timestamp, t0.samples[0].value), (1000, 1.0));
        assert_eq!((t0.samples[1].timestamp, t0.samples[1].value), (2000, 0.0));
        assert_eq!(t0.exemplars.len(), 1);
        let e = &t0.exemplars[0];
        assert_eq!(e.labels, vec![crate::remote::Label::new("trace_id", "abc")]);
        assert_eq!((e.timestamp, e.value), (1500, 0.25));
        assert!(req.timeseries[1].exemplars.is_empty());
        let want: Vec<_> = hists()
            .into_iter()
            .map(|(t, h)| (t, (*h).clone()))
            .collect();
        assert_eq!(back(&req.timeseries[0].histograms), want);
        let s = req.timeseries[1].samples[0];
        assert_eq!(s.timestamp, -5);
        assert_eq!(s.value.to_bits(), tsdb::STALE_NAN_BITS);
        let meta = metadata_request_v1(&[(
            "http_requests".into(),
            FamilyMetadata {
                kind: "counter".into(),
                help: "Requests.".into(),
                unit: String::new(),
            },
        )]);
        let req = crate::remote::WriteRequest::decode(meta.as_slice()).unwrap();
        assert_eq!(req.metadata[0].metric_family_name, "http_requests");
        assert_eq!(req.metadata[0].r#type, 1);
        assert_eq!(req.metadata[0].help, "Requests.");
    }

    #[test]
    fn v2_decodes_with_symbols_and_metadata() {
        let a = ls(&[("__name__", "http_requests_total"), ("job", "x")]);
        let b = ls(&[("__name__", "temp"), ("job", "x")]);
        let body = request_v2(
            &[
                SeriesSamples {
                    labels: &a,
                    encoded: None,
                    samples: &[(1000, 3.0)],
                    exemplars: &[ex()],
                    histograms: &[],
                },
                SeriesSamples {
                    labels: &b,
                    encoded: None,
                    samples: &[(1000, 21.5), (2000, 22.0)],
                    exemplars: &[],
                    histograms: &hists(),
                },
            ],
            &|f| {
                (f == "http_requests").then(|| FamilyMetadata {
                    kind: "counter".into(),
                    help: "Requests.".into(),
                    unit: "".into(),
                })
            },
        );
        let req = crate::remote::v2::Request::decode(body.as_slice()).unwrap();
        assert_eq!(req.symbols[0], "");
        let l0 =
            crate::remote::v2::series_labels(&req.symbols, &req.timeseries[0].labels_refs).unwrap();
        assert_eq!(l0, a);
        let m = req.timeseries[0].metadata.unwrap();
        assert_eq!(m.r#type, 1);
        assert_eq!(req.symbols[m.help_ref as usize], "Requests.");
        assert_eq!(m.unit_ref, 0);
        assert!(req.timeseries[1].metadata.is_none());
        assert_eq!(req.timeseries[1].samples.len(), 2);
        let e = crate::remote::v2::exemplar(&req.symbols, &req.timeseries[0].exemplars[0]).unwrap();
        assert_eq!(e.labels, ex().labels);
        assert_eq!((e.ts, e.value), (1500, 0.25));
        assert!(req.timeseries[1].exemplars.is_empty());
        let want: Vec<_> = hists()
            .into_iter()
            .map(|(t, h)| (t, (*h).clone()))
            .collect();
        assert_eq!(back(&req.timeseries[1].histograms), want);
        // "x" and "job" are written once
        assert_eq!(req.symbols.iter().filter(|s| *s == "job").count(), 1);
    }
}
