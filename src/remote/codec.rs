//! Decoding, encoding and validating remote-write 1.0 bodies.

use prost::Message as _;
use tsdb::labels::{Label as TsdbLabel, Labels, METRIC_NAME};

use super::proto::{Label, TimeSeries, WriteRequest};
use crate::gofmt::{quote_bytes_to, Escape};

/// One converted series: its label set and its float samples as
/// `(timestamp in ms, value)`, in request order.
pub type Series = (Labels, Vec<(i64, f64)>);

/// The largest expansion a snappy block can achieve: a 3-byte copy element
/// produces at most 64 bytes. A declared length beyond `input × 22` can
/// therefore never be honoured and is rejected without allocating.
const MAX_SNAPPY_RATIO: u64 = 22;

/// Why a remote-write body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The body is not a valid snappy block (the message is the decoder's,
    /// which like Prometheus's starts with `snappy: corrupt input`).
    #[error("{0}")]
    Snappy(String),
    /// The snappy header declares more decompressed bytes than allowed.
    #[error("decompressed request size of {declared} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The decompressed size the body declares.
        declared: u64,
        /// The configured limit.
        limit: usize,
    },
    /// The decompressed body is not a `prometheus.WriteRequest` message
    /// (this includes strings that are not valid UTF-8).
    #[error("{0}")]
    Protobuf(String),
    /// A series without a `__name__`, with an empty metric name or with an
    /// empty label name. Wording as Prometheus's receiver.
    #[error("invalid metric name or labels, got {labels}")]
    InvalidLabels {
        /// The series' labels in Prometheus's notation, e.g.
        /// `{__name__="up", job="x"}`.
        labels: String,
    },
    /// A series with the same label name twice. Wording as Prometheus's
    /// receiver.
    #[error("invalid labels for series, labels {labels}, duplicated label {name}")]
    DuplicateLabel {
        /// The series' labels in Prometheus's notation.
        labels: String,
        /// The repeated label name.
        name: String,
    },
}

impl RemoteError {
    /// The HTTP status to answer with: 413 Payload Too Large for
    /// [`RemoteError::TooLarge`], 400 Bad Request for everything else.
    ///
    /// Prometheus answers 400 for every malformed body and has no size limit
    /// of its own; a Prometheus sender retries only 5xx (and 429 when
    /// configured) and drops the batch on any other 4xx, so 413 and 400
    /// behave the same for it.
    pub fn http_status(&self) -> u16 {
        match self {
            RemoteError::TooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// Decodes a remote-write 1.0 body: a snappy *block* (not framed) holding a
/// protobuf `WriteRequest`.
///
/// The decompressed length declared in the snappy header is checked against
/// `max_decoded` before anything is allocated; a declared length the input
/// could not possibly expand to is reported as corrupt input. Never panics.
pub fn decode_write_request(body: &[u8], max_decoded: usize) -> Result<WriteRequest, RemoteError> {
    let buf = decode_snappy(body, max_decoded)?;
    WriteRequest::decode(buf.as_slice()).map_err(|e| RemoteError::Protobuf(e.to_string()))
}

/// Decompresses a snappy block of at most `max_decoded` bytes, checking the
/// declared length before allocating. Never panics.
pub fn decode_snappy(body: &[u8], max_decoded: usize) -> Result<Vec<u8>, RemoteError> {
    let declared = match snap::raw::decompress_len(body) {
        Ok(n) => n as u64,
        Err(snap::Error::TooBig { given, .. }) => {
            return Err(RemoteError::TooLarge {
                declared: given,
                limit: max_decoded,
            })
        }
        Err(e) => return Err(RemoteError::Snappy(e.to_string())),
    };
    if declared > max_decoded as u64 {
        return Err(RemoteError::TooLarge {
            declared,
            limit: max_decoded,
        });
    }
    if declared > (body.len() as u64).saturating_mul(MAX_SNAPPY_RATIO) {
        return Err(RemoteError::Snappy(format!(
            "snappy: corrupt input (header declares {declared} decompressed bytes, \
             more than {} input bytes can hold)",
            body.len()
        )));
    }
    let mut buf = vec![0u8; declared as usize];
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut buf)
        .map_err(|e| RemoteError::Snappy(e.to_string()))?;
    buf.truncate(n);
    Ok(buf)
}

/// Encodes a request as a remote-write 1.0 body: protobuf, then a snappy
/// block. The inverse of [`decode_write_request`].
///
/// # Panics
///
/// If the protobuf encoding exceeds 4 GiB, snappy's block size limit.
pub fn encode_write_request(req: &WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("remote-write request larger than snappy's 4 GiB block limit")
}

/// Converts one series, validating its labels as Prometheus 3's receiver
/// does: labels are sorted by name (senders need not sort them); the set
/// must contain a non-empty `__name__`, no label name may be empty (any
/// other UTF-8 name is valid), and no name may repeat. Label values may be
/// empty; such labels are dropped, empty meaning absent. Histograms and
/// exemplars are ignored.
pub fn convert_series(ts: &TimeSeries) -> Result<Series, RemoteError> {
    let mut sorted: Vec<&Label> = ts.labels.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));

    let has_name = sorted.iter().any(|l| l.name == METRIC_NAME);
    // Prometheus 3 (UTF-8 validation): a name is valid when non-empty (the
    // protobuf decoder already guarantees UTF-8), and so is a metric name.
    let valid = sorted.iter().all(|l| {
        let empty_metric_name = l.name == METRIC_NAME && l.value.is_empty();
        !l.name.is_empty() && !empty_metric_name
    });
    if !has_name || !valid {
        return Err(RemoteError::InvalidLabels {
            labels: prometheus_notation(&sorted),
        });
    }
    if let Some(w) = sorted.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(RemoteError::DuplicateLabel {
            labels: prometheus_notation(&sorted),
            name: w[0].name.clone(),
        });
    }

    let labels = Labels::new(
        sorted
            .iter()
            .map(|l| TsdbLabel::new(l.name.as_str(), l.value.as_str()))
            .collect(),
    );
    let samples = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
    Ok((labels, samples))
}

/// Converts every series of a request with [`convert_series`], failing on
/// the first invalid one. Series without float samples are validated but
/// left out of the result.
///
/// Prometheus's own 1.0 receiver does not fail the request here: it skips
/// the invalid series (logging and counting them) and stores the rest. Use
/// [`to_series_skipping_invalid`] for that behaviour.
pub fn to_series(req: &WriteRequest) -> Result<Vec<Series>, RemoteError> {
    let mut out = Vec::with_capacity(req.timeseries.len());
    for ts in &req.timeseries {
        let series = convert_series(ts)?;
        if !series.1.is_empty() {
            out.push(series);
        }
    }
    Ok(out)
}

/// A request's exemplar as the database stores it (its timestamp taken as
/// given, as Prometheus's receiver takes it).
pub fn exemplar_v1(e: &super::proto::Exemplar) -> tsdb::Exemplar {
    tsdb::Exemplar {
        labels: Labels::new(
            e.labels
                .iter()
                .map(|l| TsdbLabel::new(l.name.as_str(), l.value.as_str()))
                .collect(),
        ),
        value: e.value,
        ts: e.timestamp,
        has_ts: true,
    }
}

/// A series [`to_series_skipping_invalid`] left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Why it was refused.
    pub error: RemoteError,
    /// How many float and histogram samples it carried (what Prometheus 3
    /// adds to `prometheus_api_remote_write_invalid_labels_samples_total`
    /// on its 2.0 path; its 1.0 path adds 1 per series).
    pub samples: usize,
}

/// Converts the valid series of a request and reports the invalid ones
/// instead of failing, as Prometheus's 1.0 receiver does (it logs a warning
/// per skipped series and still answers 204). Series without float samples
/// are left out of the converted list.
pub fn to_series_skipping_invalid(req: &WriteRequest) -> (Vec<Series>, Vec<Skipped>) {
    let mut out = Vec::with_capacity(req.timeseries.len());
    let mut skipped = Vec::new();
    for ts in &req.timeseries {
        match convert_series(ts) {
            Ok(series) if series.1.is_empty() => {}
            Ok(series) => out.push(series),
            Err(error) => skipped.push(Skipped {
                error,
                samples: ts.samples.len() + ts.histograms.len(),
            }),
        }
    }
    (out, skipped)
}

/// Formats labels (already sorted) as Prometheus's `labels.String()` does:
/// `{__name__="up", job="x"}`, names quoted when not legacy identifiers,
/// values quoted Go-style.
fn prometheus_notation(labels: &[&Label]) -> String {
    let mut s = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if is_legacy_label_name(&l.name) {
            s.push_str(&l.name);
        } else {
            quote_bytes_to(&mut s, l.name.as_bytes(), Escape::ControlsAndSpaces);
        }
        s.push('=');
        quote_bytes_to(&mut s, l.value.as_bytes(), Escape::ControlsAndSpaces);
    }
    s.push('}');
    s
}

/// A label set as Prometheus's `labels.String()` writes it.
pub(crate) fn prom_notation(labels: &Labels) -> String {
    let owned: Vec<Label> = labels
        .iter()
        .map(|l| Label::new(l.name.as_str(), l.value.as_str()))
        .collect();
    prometheus_notation(&owned.iter().collect::<Vec<_>>())
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Why a request's native histogram is not valid.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    /// A schema neither exponential (-4 to 8) nor custom buckets.
    #[error("histogram has an unknown schema {0}")]
    UnknownSchema(i32),
    /// Spans that do not match the buckets, or negative counts.
    #[error(transparent)]
    Spans(#[from] tsdb::histogram::SpansError),
    /// Custom buckets with negative buckets.
    #[error("custom buckets: must not have negative buckets")]
    CustomNegative,
    /// Custom bounds not finite or not ascending.
    #[error("custom buckets: bounds must be finite and ascending")]
    CustomBounds,
    /// A bucket index beyond the custom bounds.
    #[error("custom buckets: a bucket index is beyond the bounds")]
    CustomIndex,
}

/// A request's native histogram as the database stores it: integer
/// histograms (bucket deltas) and float ones (absolute counts) alike, the
/// spans resolved to bucket indexes; an error for one that is not valid
/// (an unknown schema, spans that do not match the buckets, negative
/// counts in an integer histogram, custom bounds not ascending).
pub fn histogram_from_proto(
    h: &super::proto::Histogram,
) -> Result<tsdb::histogram::FloatHistogram, HistogramError> {
    use super::proto::histogram::{Count, ResetHint, ZeroCount};
    use tsdb::histogram::{CounterResetHint, FloatHistogram, CUSTOM_BUCKETS_SCHEMA};
    let custom = h.schema == CUSTOM_BUCKETS_SCHEMA;
    if !custom && !(-4..=8).contains(&h.schema) {
        return Err(HistogramError::UnknownSchema(h.schema));
    }
    let integer = matches!(h.count, Some(Count::CountInt(_)));
    let side = |spans: &[super::proto::BucketSpan],
                deltas: &[i64],
                counts: &[f64],
                what: &str|
     -> Result<Vec<(i32, f64)>, tsdb::histogram::SpansError> {
        let values = if integer {
            tsdb::histogram::counts_from_deltas(deltas, what)?
        } else {
            counts.to_vec()
        };
        let spans: Vec<(i32, u32)> = spans.iter().map(|s| (s.offset, s.length)).collect();
        tsdb::histogram::buckets_from_spans(&spans, &values, what)
    };
    let positive = side(
        &h.positive_spans,
        &h.positive_deltas,
        &h.positive_counts,
        "positive",
    )?;
    let negative = side(
        &h.negative_spans,
        &h.negative_deltas,
        &h.negative_counts,
        "negative",
    )?;
    if custom {
        if !negative.is_empty() || !h.negative_spans.is_empty() {
            return Err(HistogramError::CustomNegative);
        }
        if h.custom_values
            .windows(2)
            .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
            || h.custom_values.iter().any(|v| !v.is_finite())
        {
            return Err(HistogramError::CustomBounds);
        }
        if positive
            .iter()
            .any(|b| b.0 < 0 || b.0 as usize > h.custom_values.len())
        {
            return Err(HistogramError::CustomIndex);
        }
    }
    let count = match h.count {
        Some(Count::CountInt(c)) => c as f64,
        Some(Count::CountFloat(c)) => c,
        None => 0.0,
    };
    let zero_count = match h.zero_count {
        Some(ZeroCount::ZeroCountInt(c)) => c as f64,
        Some(ZeroCount::ZeroCountFloat(c)) => c,
        None => 0.0,
    };
    let hint = match ResetHint::try_from(h.reset_hint).unwrap_or(ResetHint::Unknown) {
        ResetHint::Unknown => CounterResetHint::Unknown,
        ResetHint::Yes => CounterResetHint::CounterReset,
        ResetHint::No => CounterResetHint::NotCounterReset,
        ResetHint::Gauge => CounterResetHint::Gauge,
    };
    Ok(FloatHistogram {
        schema: h.schema,
        counter_reset_hint: hint,
        zero_threshold: if custom { 0.0 } else { h.zero_threshold },
        zero_count: if custom { 0.0 } else { zero_count },
        count,
        sum: h.sum,
        positive,
        negative,
        custom_values: if custom {
            h.custom_values.clone()
        } else {
            Vec::new()
        },
    })
}

/// A stored histogram as a request's histogram at `t`: integer (bucket
/// deltas) when every count is an integer, else float (absolute counts);
/// consecutive bucket indexes in one span.
pub fn histogram_to_proto(h: &tsdb::histogram::FloatHistogram, t: i64) -> super::proto::Histogram {
    use super::proto::histogram::{Count, ResetHint, ZeroCount};
    use super::proto::BucketSpan;
    use tsdb::histogram::CounterResetHint;
    let integer = h.has_integer_counts();
    let spans = |buckets: &[(i32, f64)]| -> Vec<BucketSpan> {
        tsdb::histogram::spans_of(buckets)
            .into_iter()
            .map(|(offset, length)| BucketSpan { offset, length })
            .collect()
    };
    let deltas = tsdb::histogram::deltas_of;
    let counts = |buckets: &[(i32, f64)]| -> Vec<f64> { buckets.iter().map(|b| b.1).collect() };
    super::proto::Histogram {
        count: Some(if integer {
            Count::CountInt(h.count as u64)
        } else {
            Count::CountFloat(h.count)
        }),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(if integer {
            ZeroCount::ZeroCountInt(h.zero_count as u64)
        } else {
            ZeroCount::ZeroCountFloat(h.zero_count)
        }),
        negative_spans: spans(&h.negative),
        negative_deltas: if integer {
            deltas(&h.negative)
        } else {
            Vec::new()
        },
        negative_counts: if integer {
            Vec::new()
        } else {
            counts(&h.negative)
        },
        positive_spans: spans(&h.positive),
        positive_deltas: if integer {
            deltas(&h.positive)
        } else {
            Vec::new()
        },
        positive_counts: if integer {
            Vec::new()
        } else {
            counts(&h.positive)
        },
        reset_hint: match h.counter_reset_hint {
            CounterResetHint::Unknown => ResetHint::Unknown,
            CounterResetHint::CounterReset => ResetHint::Yes,
            CounterResetHint::NotCounterReset => ResetHint::No,
            CounterResetHint::Gauge => ResetHint::Gauge,
        } as i32,
        timestamp: t,
        custom_values: h.custom_values.clone(),
        start_timestamp: 0,
    }
}
