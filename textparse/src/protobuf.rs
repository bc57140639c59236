//! The protobuf exposition format (`PrometheusProto` in `scrape_protocols`:
//! `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`):
//! `MetricFamily` messages, each after its length as a varint.
//!
//! The body is decoded whole into [`Decoded`] first, whose entries then
//! read as the text parsers' do ([`ProtoParser`]): help, unit and type of
//! each family, then its samples, as Prometheus 3's protobuf parser gives
//! them. Counters, gauges and untyped metrics are one series each;
//! summaries a series per quantile, `_sum` and `_count`; a histogram is
//! a native histogram sample when it has spans, a zero threshold or a zero
//! count (and native histograms are scraped), else, or besides it with
//! `always_scrape_classic_histograms`, the classic `_bucket` (with `+Inf`
//! added when absent), `_sum` and `_count` series; with
//! `convert_classic_histograms_to_nhcb` a classic one becomes a histogram
//! with custom bounds. A series' key is its metric name followed by each
//! other label as `0xff name 0xff value`, in label order.

use std::borrow::Cow;

use prost::Message;
use tsdb::histogram::{
    buckets_from_spans, counts_from_deltas, ClassicHistogram, CounterResetHint, FloatHistogram,
    SpansError,
};

use super::openmetrics::Exemplar;
use super::{Entry, MetricType, ParseError};

/// The `Content-Type` of the format.
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

/// Whether a `Content-Type` names the protobuf format.
pub fn is_protobuf(content_type: &str) -> bool {
    let mut parts = content_type.split(';').map(str::trim);
    let base = parts.next().unwrap_or("").to_ascii_lowercase();
    if base != "application/vnd.google.protobuf" {
        return false;
    }
    let mut proto_ok = false;
    let mut delimited = false;
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            match k.trim().to_ascii_lowercase().as_str() {
                "proto" => proto_ok = v.trim() == "io.prometheus.client.MetricFamily",
                "encoding" => delimited = v.trim() == "delimited",
                _ => {}
            }
        }
    }
    proto_ok && delimited
}

/// The messages of `io.prometheus.client` (metrics.proto).
pub mod model {
    /// A label.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        /// Field 1.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Field 2.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// The metric types.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// A counter.
        Counter = 0,
        /// A gauge.
        Gauge = 1,
        /// A summary.
        Summary = 2,
        /// Untyped.
        Untyped = 3,
        /// A histogram.
        Histogram = 4,
        /// A gauge histogram.
        GaugeHistogram = 5,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        /// Seconds since the epoch.
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        /// Nanoseconds within the second.
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    /// A gauge's value.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Gauge {
        /// Field 1.
        #[prost(double, tag = "1")]
        pub value: f64,
    }

    /// A counter's value.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Counter {
        /// Field 1.
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Field 2.
        #[prost(message, optional, tag = "2")]
        pub exemplar: Option<Exemplar>,
        /// Field 3.
        #[prost(message, optional, tag = "3")]
        pub start_timestamp: Option<Timestamp>,
    }

    /// A summary's quantile.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Quantile {
        /// Field 1.
        #[prost(double, tag = "1")]
        pub quantile: f64,
        /// Field 2.
        #[prost(double, tag = "2")]
        pub value: f64,
    }

    /// A summary.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        /// Field 1.
        #[prost(uint64, tag = "1")]
        pub sample_count: u64,
        /// Field 2.
        #[prost(double, tag = "2")]
        pub sample_sum: f64,
        /// Field 3.
        #[prost(message, repeated, tag = "3")]
        pub quantile: Vec<Quantile>,
        /// Field 4.
        #[prost(message, optional, tag = "4")]
        pub start_timestamp: Option<Timestamp>,
    }

    /// An untyped value.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Untyped {
        /// Field 1.
        #[prost(double, tag = "1")]
        pub value: f64,
    }

    /// A histogram: classic buckets, native buckets, or both.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        /// Field 1.
        #[prost(uint64, tag = "1")]
        pub sample_count: u64,
        /// Field 4 (overrides `sample_count` when above 0).
        #[prost(double, tag = "4")]
        pub sample_count_float: f64,
        /// Field 2.
        #[prost(double, tag = "2")]
        pub sample_sum: f64,
        /// Field 3: classic buckets, by upper bound.
        #[prost(message, repeated, tag = "3")]
        pub bucket: Vec<Bucket>,
        /// Field 15.
        #[prost(message, optional, tag = "15")]
        pub start_timestamp: Option<Timestamp>,
        /// Field 5.
        #[prost(sint32, tag = "5")]
        pub schema: i32,
        /// Field 6.
        #[prost(double, tag = "6")]
        pub zero_threshold: f64,
        /// Field 7.
        #[prost(uint64, tag = "7")]
        pub zero_count: u64,
        /// Field 8 (overrides `zero_count` when above 0).
        #[prost(double, tag = "8")]
        pub zero_count_float: f64,
        /// Field 9.
        #[prost(message, repeated, tag = "9")]
        pub negative_span: Vec<BucketSpan>,
        /// Field 10.
        #[prost(sint64, repeated, tag = "10")]
        pub negative_delta: Vec<i64>,
        /// Field 11.
        #[prost(double, repeated, tag = "11")]
        pub negative_count: Vec<f64>,
        /// Field 12.
        #[prost(message, repeated, tag = "12")]
        pub positive_span: Vec<BucketSpan>,
        /// Field 13.
        #[prost(sint64, repeated, tag = "13")]
        pub positive_delta: Vec<i64>,
        /// Field 14.
        #[prost(double, repeated, tag = "14")]
        pub positive_count: Vec<f64>,
        /// Field 16.
        #[prost(message, repeated, tag = "16")]
        pub exemplars: Vec<Exemplar>,
    }

    /// A classic bucket.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Bucket {
        /// Field 1.
        #[prost(uint64, tag = "1")]
        pub cumulative_count: u64,
        /// Field 4 (overrides `cumulative_count` when above 0).
        #[prost(double, tag = "4")]
        pub cumulative_count_float: f64,
        /// Field 2.
        #[prost(double, tag = "2")]
        pub upper_bound: f64,
        /// Field 3.
        #[prost(message, optional, tag = "3")]
        pub exemplar: Option<Exemplar>,
    }

    /// A run of native buckets.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        /// Field 1.
        #[prost(sint32, tag = "1")]
        pub offset: i32,
        /// Field 2.
        #[prost(uint32, tag = "2")]
        pub length: u32,
    }

    /// An exemplar.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        /// Field 1.
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        /// Field 2.
        #[prost(double, tag = "2")]
        pub value: f64,
        /// Field 3.
        #[prost(message, optional, tag = "3")]
        pub timestamp: Option<Timestamp>,
    }

    /// One metric of a family.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        /// Field 1.
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        /// Field 2.
        #[prost(message, optional, tag = "2")]
        pub gauge: Option<Gauge>,
        /// Field 3.
        #[prost(message, optional, tag = "3")]
        pub counter: Option<Counter>,
        /// Field 4.
        #[prost(message, optional, tag = "4")]
        pub summary: Option<Summary>,
        /// Field 5.
        #[prost(message, optional, tag = "5")]
        pub untyped: Option<Untyped>,
        /// Field 7.
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
        /// Field 6 (0: none).
        #[prost(int64, tag = "6")]
        pub timestamp_ms: i64,
    }

    /// A metric family.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        /// Field 1.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Field 2.
        #[prost(string, tag = "2")]
        pub help: String,
        /// Field 3.
        #[prost(enumeration = "MetricType", tag = "3")]
        pub r#type: i32,
        /// Field 4.
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
        /// Field 5.
        #[prost(string, tag = "5")]
        pub unit: String,
    }
}

/// How histograms are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistogramOptions {
    /// Native histograms are kept (`scrape_native_histograms`).
    pub native: bool,
    /// A native histogram's classic buckets are kept besides it
    /// (`always_scrape_classic_histograms`).
    pub always_classic: bool,
    /// A classic histogram becomes one with custom bounds
    /// (`convert_classic_histograms_to_nhcb`).
    pub convert_to_nhcb: bool,
}

/// One entry of a decoded body.
#[derive(Clone, Debug, PartialEq)]
pub enum ProtoEntry {
    /// A family's help.
    Help {
        /// Family name.
        name: String,
        /// Help text.
        help: String,
    },
    /// A family's unit.
    Unit {
        /// Family name.
        name: String,
        /// The unit.
        unit: String,
    },
    /// A family's type.
    Type {
        /// Family name.
        name: String,
        /// The type.
        kind: MetricType,
    },
    /// A float sample.
    Series {
        /// The series' key (see the module's documentation).
        key: Vec<u8>,
        /// Labels, `__name__` included, sorted.
        labels: Vec<(String, String)>,
        /// The metric's timestamp (ms), if it has one.
        ts: Option<i64>,
        /// The value.
        value: f64,
        /// The sample's exemplar.
        exemplar: Option<Exemplar>,
        /// The start (created) time of a counter, summary or histogram, ms.
        st: Option<i64>,
    },
    /// A native histogram sample.
    Histogram {
        /// The series' key.
        key: Vec<u8>,
        /// Labels, `__name__` included, sorted.
        labels: Vec<(String, String)>,
        /// The metric's timestamp (ms), if it has one.
        ts: Option<i64>,
        /// The histogram.
        h: FloatHistogram,
        /// The histogram's exemplars.
        exemplars: Vec<Exemplar>,
        /// The histogram's start (created) time, ms.
        st: Option<i64>,
    },
}

/// A body decoded into its entries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decoded {
    /// The entries in the order Prometheus's parser gives them.
    pub entries: Vec<ProtoEntry>,
}

fn err(msg: impl Into<String>) -> ParseError {
    ParseError {
        line: 0,
        msg: msg.into(),
    }
}

fn is_native(h: &model::Histogram) -> bool {
    !h.positive_span.is_empty()
        || !h.negative_span.is_empty()
        || h.zero_threshold > 0.0
        || h.zero_count > 0
        || h.zero_count_float > 0.0
}

fn exemplar(e: &model::Exemplar) -> Exemplar {
    Exemplar {
        labels: e
            .label
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect(),
        value: e.value,
        ts: e.timestamp.as_ref().map(|t| {
            t.seconds
                .saturating_mul(1000)
                .saturating_add(i64::from(t.nanos) / 1_000_000)
        }),
    }
}

/// A native histogram's exemplars, as Prometheus takes them: those of the
/// histogram, or when it has none those of its classic buckets, only the
/// ones with a timestamp, oldest first.
fn native_exemplars(h: &model::Histogram) -> Vec<Exemplar> {
    let mut out: Vec<Exemplar> = if h.exemplars.is_empty() {
        h.bucket
            .iter()
            .filter_map(|b| b.exemplar.as_ref())
            .map(exemplar)
            .collect()
    } else {
        h.exemplars.iter().map(exemplar).collect()
    };
    out.retain(|e| e.ts.is_some());
    out.sort_by_key(|e| e.ts);
    out
}

/// Why a native histogram's message is not a histogram, in Prometheus's
/// words.
#[derive(Debug, thiserror::Error)]
enum NativeError {
    /// A schema other than -4 to 8.
    #[error("histogram has an unknown schema {0}")]
    UnknownSchema(i32),
    /// Spans that do not match the buckets.
    #[error(transparent)]
    Spans(#[from] SpansError),
}

/// A native histogram from its message; an error as Prometheus's for
/// spans that do not match the buckets.
fn native(h: &model::Histogram, gauge: bool) -> Result<FloatHistogram, NativeError> {
    let float = h.sample_count_float > 0.0 || h.zero_count_float > 0.0;
    let side = |spans: &[model::BucketSpan], deltas: &[i64], counts: &[f64], what: &str| {
        let values = if float {
            counts.to_vec()
        } else {
            counts_from_deltas(deltas, what)?
        };
        let spans: Vec<(i32, u32)> = spans.iter().map(|s| (s.offset, s.length)).collect();
        buckets_from_spans(&spans, &values, what)
    };
    if !(-4..=8).contains(&h.schema) {
        return Err(NativeError::UnknownSchema(h.schema));
    }
    let positive = side(
        &h.positive_span,
        &h.positive_delta,
        &h.positive_count,
        "positive",
    )?;
    let negative = side(
        &h.negative_span,
        &h.negative_delta,
        &h.negative_count,
        "negative",
    )?;
    let mut fh = FloatHistogram {
        schema: h.schema,
        counter_reset_hint: if gauge {
            CounterResetHint::Gauge
        } else {
            CounterResetHint::Unknown
        },
        zero_threshold: h.zero_threshold,
        zero_count: if float {
            h.zero_count_float
        } else {
            h.zero_count as f64
        },
        count: if float {
            h.sample_count_float
        } else {
            h.sample_count as f64
        },
        sum: h.sample_sum,
        positive,
        negative,
        custom_values: Vec::new(),
    };
    fh.compact();
    Ok(fh)
}

fn count_of(h: &model::Histogram) -> f64 {
    if h.sample_count_float > 0.0 {
        h.sample_count_float
    } else {
        h.sample_count as f64
    }
}

fn bucket_count(b: &model::Bucket) -> f64 {
    if b.cumulative_count_float > 0.0 {
        b.cumulative_count_float
    } else {
        b.cumulative_count as f64
    }
}

/// Label names and values, in order.
type LabelPairs = Vec<(String, String)>;

/// Builds a series' labels (sorted, `__name__` first among equals by
/// name order) and key from a metric's labels, a name and a magic label.
fn series(
    name: &str,
    labels: &[model::LabelPair],
    magic: Option<(&str, String)>,
) -> Result<(Vec<u8>, LabelPairs), ParseError> {
    let mut ls: Vec<(String, String)> = Vec::with_capacity(labels.len() + 2);
    ls.push(("__name__".to_string(), name.to_string()));
    for l in labels {
        if l.name.is_empty() {
            return Err(err(format!("invalid label name \"\" for metric {name:?}")));
        }
        ls.push((l.name.clone(), l.value.clone()));
    }
    if let Some((n, v)) = magic {
        ls.push((n.to_string(), v));
    }
    ls.sort_by(|a, b| a.0.cmp(&b.0));
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(name.as_bytes());
    for (n, v) in &ls {
        if n == "__name__" {
            continue;
        }
        key.push(0xff);
        key.extend_from_slice(n.as_bytes());
        key.push(0xff);
        key.extend_from_slice(v.as_bytes());
    }
    Ok((key, ls))
}

/// Decodes a whole body; an error (failing the scrape) for a message that
/// does not decode or breaks the format's rules.
pub fn decode(body: &[u8], opts: HistogramOptions) -> Result<Decoded, ParseError> {
    use model::MetricType as T;
    let mut buf = body;
    let mut out = Vec::new();
    while !buf.is_empty() {
        let mf = model::MetricFamily::decode_length_delimited(&mut buf)
            .map_err(|e| err(format!("decoding MetricFamily: {e}")))?;
        if mf.metric.is_empty() {
            continue;
        }
        let name = mf.name.as_str();
        if name.is_empty() {
            return Err(err("invalid metric name: "));
        }
        let kind = T::try_from(mf.r#type).map_err(|_| {
            err(format!(
                "unknown metric type for metric {name:?}: {}",
                mf.r#type
            ))
        })?;
        out.push(ProtoEntry::Help {
            name: name.to_string(),
            help: mf.help.clone(),
        });
        if !mf.unit.is_empty() {
            out.push(ProtoEntry::Unit {
                name: name.to_string(),
                unit: mf.unit.clone(),
            });
        }
        out.push(ProtoEntry::Type {
            name: name.to_string(),
            kind: match kind {
                T::Counter => MetricType::Counter,
                T::Gauge => MetricType::Gauge,
                T::Summary => MetricType::Summary,
                T::Untyped => MetricType::Unknown,
                T::Histogram => MetricType::Histogram,
                T::GaugeHistogram => MetricType::GaugeHistogram,
            },
        });
        for m in &mf.metric {
            let ts = (m.timestamp_ms != 0).then_some(m.timestamp_ms);
            let st = match kind {
                T::Counter => m.counter.as_ref().and_then(|c| c.start_timestamp.as_ref()),
                T::Summary => m.summary.as_ref().and_then(|c| c.start_timestamp.as_ref()),
                T::Histogram | T::GaugeHistogram => m
                    .histogram
                    .as_ref()
                    .and_then(|c| c.start_timestamp.as_ref()),
                T::Gauge | T::Untyped => None,
            }
            .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000);
            let push = |out: &mut Vec<ProtoEntry>,
                        n: &str,
                        magic: Option<(&str, String)>,
                        value: f64,
                        ex: Option<Exemplar>|
             -> Result<(), ParseError> {
                let (key, labels) = series(n, &m.label, magic)?;
                out.push(ProtoEntry::Series {
                    key,
                    labels,
                    ts,
                    value,
                    exemplar: ex,
                    st,
                });
                Ok(())
            };
            match kind {
                T::Counter => {
                    let c = m.counter.clone().unwrap_or_default();
                    push(
                        &mut out,
                        name,
                        None,
                        c.value,
                        c.exemplar.as_ref().map(exemplar),
                    )?;
                }
                T::Gauge => push(
                    &mut out,
                    name,
                    None,
                    m.gauge.as_ref().map_or(0.0, |g| g.value),
                    None,
                )?,
                T::Untyped => push(
                    &mut out,
                    name,
                    None,
                    m.untyped.as_ref().map_or(0.0, |g| g.value),
                    None,
                )?,
                T::Summary => {
                    let s = m.summary.clone().unwrap_or_default();
                    push(
                        &mut out,
                        &format!("{name}_count"),
                        None,
                        s.sample_count as f64,
                        None,
                    )?;
                    push(&mut out, &format!("{name}_sum"), None, s.sample_sum, None)?;
                    for q in &s.quantile {
                        push(
                            &mut out,
                            name,
                            Some(("quantile", promql::gofmt::om_float(q.quantile))),
                            q.value,
                            None,
                        )?;
                    }
                }
                T::Histogram | T::GaugeHistogram => {
                    let gauge = kind == T::GaugeHistogram;
                    let h = m.histogram.clone().unwrap_or_default();
                    let native_here = opts.native && is_native(&h);
                    if native_here {
                        let fh = native(&h, gauge)
                            .map_err(|e| err(format!("histogram {name:?}: {e}")))?;
                        let (key, labels) = series(name, &m.label, None)?;
                        out.push(ProtoEntry::Histogram {
                            key,
                            labels,
                            ts,
                            h: fh,
                            exemplars: native_exemplars(&h),
                            st,
                        });
                    }
                    let classic = if native_here {
                        opts.always_classic && !h.bucket.is_empty()
                    } else {
                        !opts.convert_to_nhcb || opts.always_classic
                    };
                    if classic {
                        push(&mut out, &format!("{name}_count"), None, count_of(&h), None)?;
                        push(&mut out, &format!("{name}_sum"), None, h.sample_sum, None)?;
                        let bucket = format!("{name}_bucket");
                        let mut inf = false;
                        for b in &h.bucket {
                            inf |= b.upper_bound == f64::INFINITY;
                            push(
                                &mut out,
                                &bucket,
                                Some(("le", promql::gofmt::om_float(b.upper_bound))),
                                bucket_count(b),
                                b.exemplar.as_ref().map(exemplar),
                            )?;
                            if inf {
                                break;
                            }
                        }
                        if !inf {
                            push(
                                &mut out,
                                &bucket,
                                Some(("le", "+Inf".to_string())),
                                count_of(&h),
                                None,
                            )?;
                        }
                    }
                    if !native_here && opts.convert_to_nhcb {
                        let mut c = ClassicHistogram::default();
                        c.set_count(count_of(&h));
                        c.set_sum(h.sample_sum);
                        for b in &h.bucket {
                            c.set_bucket(b.upper_bound, bucket_count(b));
                        }
                        let mut fh = c
                            .convert()
                            .map_err(|e| err(format!("histogram {name:?}: {e}")))?;
                        if gauge {
                            fh.counter_reset_hint = CounterResetHint::Gauge;
                        }
                        let (key, labels) = series(name, &m.label, None)?;
                        out.push(ProtoEntry::Histogram {
                            key,
                            labels,
                            ts,
                            h: fh,
                            exemplars: Vec::new(),
                            st,
                        });
                    }
                }
            }
        }
    }
    Ok(Decoded { entries: out })
}

/// Reads a [`Decoded`] body entry by entry, as the text parsers read.
pub struct ProtoParser<'a> {
    entries: &'a [ProtoEntry],
    /// The entry `next` stopped at, plus one (0: before the first).
    pos: usize,
}

impl<'a> ProtoParser<'a> {
    /// A parser over a decoded body.
    pub fn new(d: &'a Decoded) -> Self {
        ProtoParser {
            entries: &d.entries,
            pos: 0,
        }
    }

    fn cur(&self) -> &'a ProtoEntry {
        &self.entries[self.pos - 1]
    }

    /// The next entry; `Ok(None)` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry>, ParseError> {
        let Some(e) = self.entries.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        Ok(Some(match e {
            ProtoEntry::Help { .. } => Entry::Help,
            ProtoEntry::Unit { .. } => Entry::Unit,
            ProtoEntry::Type { .. } => Entry::Type,
            ProtoEntry::Series { .. } => Entry::Series,
            ProtoEntry::Histogram { .. } => Entry::Histogram,
        }))
    }

    /// After [`Entry::Series`]: key, timestamp, value.
    pub fn series(&self) -> (&'a [u8], Option<i64>, f64) {
        match self.cur() {
            ProtoEntry::Series { key, ts, value, .. } => (key, *ts, *value),
            ProtoEntry::Histogram { key, ts, .. } => (key, *ts, 0.0),
            _ => (&[], None, 0.0),
        }
    }

    /// After [`Entry::Histogram`]: key, timestamp, histogram.
    pub fn histogram(&self) -> Option<(&'a [u8], Option<i64>, &'a FloatHistogram)> {
        match self.cur() {
            ProtoEntry::Histogram { key, ts, h, .. } => Some((key, *ts, h)),
            _ => None,
        }
    }

    /// After a sample: its start (created) time in ms, if it has one.
    pub fn start_timestamp(&self) -> Option<i64> {
        match self.cur() {
            ProtoEntry::Series { st, .. } | ProtoEntry::Histogram { st, .. } => *st,
            _ => None,
        }
    }

    /// After a sample: its labels.
    pub fn labels(&self, out: &mut Vec<(String, String)>) {
        out.clear();
        if let ProtoEntry::Series { labels, .. } | ProtoEntry::Histogram { labels, .. } = self.cur()
        {
            out.extend(labels.iter().cloned());
        }
    }

    /// After [`Entry::Histogram`]: the histogram's exemplars (with
    /// timestamps, oldest first).
    pub fn histogram_exemplars(&self) -> &'a [Exemplar] {
        match self.cur() {
            ProtoEntry::Histogram { exemplars, .. } => exemplars,
            _ => &[],
        }
    }

    /// After a sample: its exemplar (the first of a native histogram's).
    pub fn exemplar(&self) -> Option<Exemplar> {
        match self.cur() {
            ProtoEntry::Series { exemplar, .. } => exemplar.clone(),
            ProtoEntry::Histogram { exemplars, .. } => exemplars.first().cloned(),
            _ => None,
        }
    }

    /// After [`Entry::Help`].
    pub fn help(&self) -> (&'a [u8], Cow<'a, str>) {
        match self.cur() {
            ProtoEntry::Help { name, help } => (name.as_bytes(), Cow::Borrowed(help.as_str())),
            _ => (&[], Cow::Borrowed("")),
        }
    }

    /// After [`Entry::Type`].
    pub fn metric_type(&self) -> (&'a [u8], MetricType) {
        match self.cur() {
            ProtoEntry::Type { name, kind } => (name.as_bytes(), *kind),
            _ => (&[], MetricType::Unknown),
        }
    }

    /// After [`Entry::Unit`].
    pub fn unit(&self) -> (&'a [u8], &'a str) {
        match self.cur() {
            ProtoEntry::Unit { name, unit } => (name.as_bytes(), unit.as_str()),
            _ => (&[], ""),
        }
    }
}

#[cfg(test)]
mod tests;
