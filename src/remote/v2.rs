//! Remote write 2.0: the `io.prometheus.write.v2.Request` messages as
//! `prost` structs (what the receiver decodes), and their conversion to
//! series. Field numbers follow Prometheus's `write/v2/types.proto`: a
//! request holds a symbol table and series whose labels, metadata help and
//! unit are indexes into it.
//!
//! The created timestamp moved from the series (field 6, up to
//! Prometheus 3.8) to each sample (`start_timestamp`, field 3); both are
//! read (the sample's first), and become a zero sample at that time with
//! `--enable-feature=created-timestamp-zero-ingestion`.

use tsdb::labels::{Label as TsdbLabel, Labels, METRIC_NAME};

/// A remote write 2.0 request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    /// Every string the series use; the first must be "" (field 4).
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    /// The series (field 5).
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// One series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Label name and value pairs as symbol indexes (field 1).
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Float samples (field 2).
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histogram samples (field 3).
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<super::Histogram>,
    /// Exemplars (field 4).
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    /// Type, help and unit (field 5).
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
    /// The created timestamp of senders before Prometheus 3.9 (field 6).
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// One float sample.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (field 1).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Timestamp, ms (field 2).
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// The start (created) timestamp, ms; 0 when unknown (field 3).
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// One exemplar.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Label pairs as symbol indexes (field 1).
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Value (field 2).
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Timestamp, ms (field 3).
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// A series' metric type, help and unit.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Metadata {
    /// The type, numbered as [`MetricType`] (field 1).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The help text's symbol (field 3).
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// The unit's symbol (field 4).
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// Metric types of 2.0 metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum MetricType {
    /// Not given.
    Unspecified = 0,
    /// Counter.
    Counter = 1,
    /// Gauge.
    Gauge = 2,
    /// Histogram.
    Histogram = 3,
    /// Gauge histogram.
    GaugeHistogram = 4,
    /// Summary.
    Summary = 5,
    /// Info.
    Info = 6,
    /// State set.
    StateSet = 7,
}

impl MetricType {
    /// The type of a metadata `TYPE` word (`counter`, `gauge`, …).
    pub fn from_word(w: &str) -> MetricType {
        match w {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            _ => MetricType::Unspecified,
        }
    }
}

/// What is wrong with one series of a 2.0 request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesError(pub String);

/// The label set of a 2.0 series, checked: refs within the symbol table,
/// in pairs, a non-empty `__name__`, no empty or repeated name.
pub fn series_labels(symbols: &[String], refs: &[u32]) -> Result<Labels, SeriesError> {
    let labels = label_pairs(symbols, refs)?;
    if labels.get(METRIC_NAME).is_none_or(str::is_empty) {
        return Err(SeriesError(format!(
            "invalid metric name or labels, got {}",
            super::codec::prom_notation(&labels)
        )));
    }
    Ok(labels)
}

/// An exemplar of a request, its labels resolved through `symbols`.
pub fn exemplar(symbols: &[String], e: &Exemplar) -> Result<tsdb::Exemplar, SeriesError> {
    Ok(tsdb::Exemplar {
        labels: label_pairs(symbols, &e.labels_refs)?,
        value: e.value,
        ts: e.timestamp,
        has_ts: true,
    })
}

/// Label pairs given as symbol references: names non-empty and unique,
/// pairs with an empty value left out.
fn label_pairs(symbols: &[String], refs: &[u32]) -> Result<Labels, SeriesError> {
    if !refs.len().is_multiple_of(2) {
        return Err(SeriesError(format!(
            "invalid labels_refs: odd length {}",
            refs.len()
        )));
    }
    let sym = |r: u32| {
        symbols.get(r as usize).map(String::as_str).ok_or_else(|| {
            SeriesError(format!(
                "labels_refs {r} out of bounds of symbols table (len {})",
                symbols.len()
            ))
        })
    };
    let mut pairs: Vec<TsdbLabel> = Vec::with_capacity(refs.len() / 2);
    for p in refs.chunks(2) {
        let (n, v) = (sym(p[0])?, sym(p[1])?);
        if n.is_empty() {
            return Err(SeriesError("invalid label name: empty".into()));
        }
        if v.is_empty() {
            continue;
        }
        pairs.push(TsdbLabel::new(n, v));
    }
    pairs.sort_by(|a, b| a.name.cmp(&b.name));
    for w in pairs.windows(2) {
        if w[0].name == w[1].name {
            return Err(SeriesError(format!(
                "invalid labels for series, duplicated label {}",
                w[0].name
            )));
        }
    }
    Ok(Labels::new(pairs))
}
