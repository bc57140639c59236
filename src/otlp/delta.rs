//! `--enable-feature=otlp-deltatocumulative`: delta sums, histograms and
//! exponential histograms are added up per stream in memory and handed
//! on as cumulative ones, as Prometheus does with the OpenTelemetry
//! Collector's delta-to-cumulative processor (default settings: a stream
//! not heard from for 5 minutes is forgotten, no limit on streams).
//!
//! A stream is a metric's resource, scope, name, unit and kind with a
//! point's attributes (their order does not matter). Each delta point
//! adds to its stream's running total and becomes the total since the
//! stream's first point (whose start time it takes). A point that starts
//! before the stream's last one ended, or does not end after it, is out of
//! order and dropped. An explicit-bucket histogram whose bounds change, and
//! a point without a recorded value, start the stream again. Exponential
//! histograms of different scales are added at the coarser one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prost::Message;

use super::proto::{
    self, metric, number_data_point, ExponentialBuckets, ExponentialHistogramDataPoint,
    ExportMetricsServiceRequest, HistogramDataPoint, KeyValue, NumberDataPoint,
};

/// How long a stream is kept without a new point.
const MAX_STALE: Duration = Duration::from_secs(5 * 60);

/// A point's flag: no value was recorded.
const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// The running totals of every stream.
#[derive(Default)]
pub struct DeltaToCumulative {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    streams: HashMap<Vec<u8>, Stream>,
    last_sweep: Option<Instant>,
}

struct Stream {
    seen: Instant,
    /// The first point's start, and the last point's end (ns).
    start: u64,
    end: u64,
    total: Total,
}

enum Total {
    Sum(number_data_point::Value),
    Histogram(HistogramDataPoint),
    Exponential(ExponentialHistogramDataPoint),
}

/// What to do with a point.
enum Outcome {
    Keep,
    Drop,
}

impl DeltaToCumulative {
    /// A converter with no streams yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of streams held.
    pub fn streams(&self) -> usize {
        self.inner.lock().streams.len()
    }

    /// Turns the request's delta sums, histograms and exponential
    /// histograms into cumulative ones; returns how many points were
    /// dropped as out of order.
    pub fn convert(&self, req: &mut ExportMetricsServiceRequest) -> usize {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        if inner
            .last_sweep
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(30))
        {
            inner
                .streams
                .retain(|_, s| now.duration_since(s.seen) < MAX_STALE);
            inner.last_sweep = Some(now);
        }
        let mut dropped = 0;
        for rm in &mut req.resource_metrics {
            let mut resource = Vec::new();
            put_attributes(
                &mut resource,
                rm.resource.as_ref().map_or(&[], |r| &r.attributes),
            );
            for sm in &mut rm.scope_metrics {
                let mut scope = resource.clone();
                if let Some(s) = &sm.scope {
                    put_str(&mut scope, &s.name);
                    put_str(&mut scope, &s.version);
                    put_attributes(&mut scope, &s.attributes);
                } else {
                    put_str(&mut scope, "");
                    put_str(&mut scope, "");
                    put_attributes(&mut scope, &[]);
                }
                for m in &mut sm.metrics {
                    let mut base = scope.clone();
                    put_str(&mut base, &m.name);
                    put_str(&mut base, &m.unit);
                    dropped += convert_metric(&mut inner, now, &base, m.data.as_mut());
                }
            }
        }
        dropped
    }
}

fn convert_metric(
    inner: &mut Inner,
    now: Instant,
    base: &[u8],
    data: Option<&mut metric::Data>,
) -> usize {
    let key = |kind: u8, attrs: &[KeyValue]| {
        let mut k = base.to_vec();
        k.push(kind);
        put_attributes(&mut k, attrs);
        k
    };
    match data {
        Some(metric::Data::Sum(s)) if s.aggregation_temporality == proto::TEMPORALITY_DELTA => {
            let kind = if s.is_monotonic { 1 } else { 2 };
            s.aggregation_temporality = proto::TEMPORALITY_CUMULATIVE;
            keep_added(&mut s.data_points, |p| {
                add_sum(inner, now, key(kind, &p.attributes), p)
            })
        }
        Some(metric::Data::Histogram(h))
            if h.aggregation_temporality == proto::TEMPORALITY_DELTA =>
        {
            h.aggregation_temporality = proto::TEMPORALITY_CUMULATIVE;
            keep_added(&mut h.data_points, |p| {
                add_histogram(inner, now, key(3, &p.attributes), p)
            })
        }
        Some(metric::Data::ExponentialHistogram(h))
            if h.aggregation_temporality == proto::TEMPORALITY_DELTA =>
        {
            h.aggregation_temporality = proto::TEMPORALITY_CUMULATIVE;
            keep_added(&mut h.data_points, |p| {
                add_exponential(inner, now, key(4, &p.attributes), p)
            })
        }
        _ => 0,
    }
}

/// Keeps the points `add` keeps; returns how many it dropped.
fn keep_added<P>(points: &mut Vec<P>, mut add: impl FnMut(&mut P) -> Outcome) -> usize {
    let before = points.len();
    points.retain_mut(|p| matches!(add(p), Outcome::Keep));
    before - points.len()
}

/// Looks the stream up: `None` for a point out of order (dropped), else
/// whether it continues a stream whose total it may add to.
fn admit<'a>(
    inner: &'a mut Inner,
    key: &[u8],
    start: u64,
    end: u64,
    flags: u32,
) -> Option<Option<&'a mut Stream>> {
    if flags & FLAG_NO_RECORDED_VALUE != 0 {
        // nothing to add: the stream starts again after it
        inner.streams.remove(key);
        return Some(None);
    }
    match inner.streams.get_mut(key) {
        Some(s) if end <= s.end || (start != 0 && start < s.end) => None,
        Some(s) => Some(Some(s)),
        None => Some(None),
    }
}

fn add_sum(inner: &mut Inner, now: Instant, key: Vec<u8>, p: &mut NumberDataPoint) -> Outcome {
    use number_data_point::Value;
    let (start, end) = (p.start_time_unix_nano, p.time_unix_nano);
    let Some(stream) = admit(inner, &key, start, end, p.flags) else {
        return Outcome::Drop;
    };
    if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Outcome::Keep;
    }
    let delta = p.value.unwrap_or(Value::AsInt(0));
    match stream {
        Some(s) => {
            let total = match (&s.total, delta) {
                (Total::Sum(Value::AsInt(a)), Value::AsInt(b)) => Value::AsInt(a.wrapping_add(b)),
                (Total::Sum(a), b) => Value::AsDouble(as_f64(*a) + as_f64(b)),
                _ => delta,
            };
            s.total = Total::Sum(total);
            s.end = end;
            s.seen = now;
            p.value = Some(total);
            p.start_time_unix_nano = s.start;
        }
        None => {
            inner.streams.insert(
                key,
                Stream {
                    seen: now,
                    start,
                    end,
                    total: Total::Sum(delta),
                },
            );
        }
    }
    Outcome::Keep
}

fn as_f64(v: number_data_point::Value) -> f64 {
    match v {
        number_data_point::Value::AsDouble(d) => d,
        number_data_point::Value::AsInt(i) => i as f64,
    }
}

fn add_histogram(
    inner: &mut Inner,
    now: Instant,
    key: Vec<u8>,
    p: &mut HistogramDataPoint,
) -> Outcome {
    let (start, end) = (p.start_time_unix_nano, p.time_unix_nano);
    let Some(stream) = admit(inner, &key, start, end, p.flags) else {
        return Outcome::Drop;
    };
    if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Outcome::Keep;
    }
    let same_layout = |t: &HistogramDataPoint| {
        t.explicit_bounds == p.explicit_bounds && t.bucket_counts.len() == p.bucket_counts.len()
    };
    match stream {
        Some(s) if matches!(&s.total, Total::Histogram(t) if same_layout(t)) => {
            let Total::Histogram(t) = &mut s.total else {
                unreachable!("matched above")
            };
            t.count = t.count.wrapping_add(p.count);
            t.sum = match (t.sum, p.sum) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            for (a, b) in t.bucket_counts.iter_mut().zip(&p.bucket_counts) {
                *a = a.wrapping_add(*b);
            }
            s.end = end;
            s.seen = now;
            p.count = t.count;
            p.sum = t.sum;
            p.bucket_counts.clone_from(&t.bucket_counts);
            p.start_time_unix_nano = s.start;
        }
        // new, or its buckets changed: it starts again
        _ => {
            let mut total = p.clone();
            total.exemplars.clear();
            inner.streams.insert(
                key,
                Stream {
                    seen: now,
                    start,
                    end,
                    total: Total::Histogram(total),
                },
            );
        }
    }
    Outcome::Keep
}

fn add_exponential(
    inner: &mut Inner,
    now: Instant,
    key: Vec<u8>,
    p: &mut ExponentialHistogramDataPoint,
) -> Outcome {
    let (start, end) = (p.start_time_unix_nano, p.time_unix_nano);
    let Some(stream) = admit(inner, &key, start, end, p.flags) else {
        return Outcome::Drop;
    };
    if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Outcome::Keep;
    }
    match stream {
        Some(s) if matches!(s.total, Total::Exponential(_)) => {
            let Total::Exponential(t) = &mut s.total else {
                unreachable!("matched above")
            };
            let scale = t.scale.min(p.scale);
            let mut pos = downscaled(t.positive.as_ref(), t.scale - scale);
            add_buckets(&mut pos, &downscaled(p.positive.as_ref(), p.scale - scale));
            let mut neg = downscaled(t.negative.as_ref(), t.scale - scale);
            add_buckets(&mut neg, &downscaled(p.negative.as_ref(), p.scale - scale));
            t.scale = scale;
            t.positive = Some(pos);
            t.negative = Some(neg);
            t.count = t.count.wrapping_add(p.count);
            t.zero_count = t.zero_count.wrapping_add(p.zero_count);
            t.zero_threshold = t.zero_threshold.max(p.zero_threshold);
            t.sum = match (t.sum, p.sum) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            s.end = end;
            s.seen = now;
            p.scale = t.scale;
            p.positive.clone_from(&t.positive);
            p.negative.clone_from(&t.negative);
            p.count = t.count;
            p.zero_count = t.zero_count;
            p.zero_threshold = t.zero_threshold;
            p.sum = t.sum;
            p.start_time_unix_nano = s.start;
        }
        _ => {
            let mut total = p.clone();
            total.exemplars.clear();
            inner.streams.insert(
                key,
                Stream {
                    seen: now,
                    start,
                    end,
                    total: Total::Exponential(total),
                },
            );
        }
    }
    Outcome::Keep
}

/// Buckets at a scale `by` steps coarser: bucket `i` goes to `i >> by`.
fn downscaled(b: Option<&ExponentialBuckets>, by: i32) -> ExponentialBuckets {
    let Some(b) = b.filter(|b| !b.bucket_counts.is_empty()) else {
        return ExponentialBuckets::default();
    };
    if by <= 0 {
        return b.clone();
    }
    let first = b.offset >> by;
    let last = (b.offset + b.bucket_counts.len() as i32 - 1) >> by;
    let mut counts = vec![0u64; (last - first + 1) as usize];
    for (k, c) in b.bucket_counts.iter().enumerate() {
        let i = ((b.offset + k as i32) >> by) - first;
        counts[i as usize] = counts[i as usize].wrapping_add(*c);
    }
    ExponentialBuckets {
        offset: first,
        bucket_counts: counts,
    }
}

/// Adds `b`'s counts to `a`'s (same scale), widening `a` as needed.
fn add_buckets(a: &mut ExponentialBuckets, b: &ExponentialBuckets) {
    if b.bucket_counts.is_empty() {
        return;
    }
    if a.bucket_counts.is_empty() {
        *a = b.clone();
        return;
    }
    let first = a.offset.min(b.offset);
    let end =
        (a.offset + a.bucket_counts.len() as i32).max(b.offset + b.bucket_counts.len() as i32);
    let mut counts = vec![0u64; (end - first) as usize];
    for (src, off) in [(&a.bucket_counts, a.offset), (&b.bucket_counts, b.offset)] {
        for (k, c) in src.iter().enumerate() {
            let i = (off - first) as usize + k;
            counts[i] = counts[i].wrapping_add(*c);
        }
    }
    a.offset = first;
    a.bucket_counts = counts;
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Attributes in key order, so that their order makes no other stream.
fn put_attributes(out: &mut Vec<u8>, attrs: &[KeyValue]) {
    let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    out.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    for a in sorted {
        let v = a.encode_to_vec();
        out.extend_from_slice(&(v.len() as u64).to_le_bytes());
        out.extend_from_slice(&v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::*;

    fn request(
        temporality: i32,
        points: Vec<(u64, u64, i64, &str)>,
    ) -> ExportMetricsServiceRequest {
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "svc")],
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: None,
                    metrics: vec![Metric {
                        name: "jobs".into(),
                        description: String::new(),
                        unit: String::new(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: points
                                .into_iter()
                                .map(|(start, end, v, a)| NumberDataPoint {
                                    attributes: vec![kv("a", a), kv("b", "x")],
                                    start_time_unix_nano: start,
                                    time_unix_nano: end,
                                    value: Some(number_data_point::Value::AsInt(v)),
                                    exemplars: vec![],
                                    flags: 0,
                                })
                                .collect(),
                            aggregation_temporality: temporality,
                            is_monotonic: true,
                        })),
                    }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn sums(req: &ExportMetricsServiceRequest) -> Vec<(u64, u64, f64)> {
        let Some(metric::Data::Sum(s)) = &req.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            panic!("a sum")
        };
        assert_eq!(s.aggregation_temporality, TEMPORALITY_CUMULATIVE);
        s.data_points
            .iter()
            .map(|p| {
                (
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    as_f64(p.value.unwrap()),
                )
            })
            .collect()
    }

    #[test]
    fn delta_sums_add_up_per_stream() {
        let d = DeltaToCumulative::new();
        let mut r = request(
            TEMPORALITY_DELTA,
            vec![(10, 20, 3, "1"), (20, 30, 4, "1"), (5, 30, 7, "2")],
        );
        assert_eq!(d.convert(&mut r), 0);
        assert_eq!(sums(&r), vec![(10, 20, 3.0), (10, 30, 7.0), (5, 30, 7.0)]);
        // the next request goes on; a point overlapping the last is dropped
        let mut r = request(TEMPORALITY_DELTA, vec![(30, 40, 1, "1"), (25, 35, 9, "2")]);
        assert_eq!(d.convert(&mut r), 1);
        assert_eq!(sums(&r), vec![(10, 40, 8.0)]);
        assert_eq!(d.streams(), 2);
        // cumulative points pass as they are
        let mut r = request(TEMPORALITY_CUMULATIVE, vec![(1, 50, 100, "1")]);
        assert_eq!(d.convert(&mut r), 0);
        assert_eq!(sums(&r), vec![(1, 50, 100.0)]);
    }

    #[test]
    fn exponential_buckets_add_at_the_coarser_scale() {
        let b = ExponentialBuckets {
            offset: 3,
            bucket_counts: vec![1, 2, 3],
        };
        // indexes 3, 4, 5 at one step coarser: 1, 2, 2
        let d = downscaled(Some(&b), 1);
        assert_eq!((d.offset, d.bucket_counts.clone()), (1, vec![1, 5]));
        let mut a = ExponentialBuckets {
            offset: 0,
            bucket_counts: vec![4],
        };
        add_buckets(&mut a, &d);
        assert_eq!((a.offset, a.bucket_counts), (0, vec![4, 1, 5]));
    }
}
