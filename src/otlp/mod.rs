//! The OTLP metrics receiver: `POST /api/v1/otlp/v1/metrics` with
//! `--web.enable-otlp-receiver`, translating OpenTelemetry metrics into
//! series as Prometheus 3 does (names by `otlp.translation_strategy`,
//! `job`/`instance` from the resource, `target_info`, promoted resource
//! and scope attributes, classic histogram buckets and summary
//! quantiles). Exponential histograms are stored as native histograms
//! (see [`native`]), and so are explicit-bucket histograms with
//! `convert_histograms_to_nhcb`, as one series with custom bucket bounds
//! instead of `_bucket`/`_sum`/`_count`; either keeps the metric's
//! translated name without a suffix. A native histogram point without a
//! recorded value is a stale marker in its series, as a scrape marks a
//! histogram series stale; exemplars of native histogram points are
//! stored with their series. Requests are
//! decoded from protobuf or OTLP/JSON, gzipped or not; a request that
//! cannot be decoded or translated stores nothing.

pub mod delta;
mod error;
pub mod json;
pub mod names;
pub mod native;
pub mod proto;

use std::collections::{BTreeMap, HashMap};

use prost::Message as _;
use tsdb::histogram::FloatHistogram;
use tsdb::labels::Labels;

pub use error::{DecodeError, HistogramError, JsonError, MetricError, NameError, TranslateError};
use names::{bound, label_name, metric_name, value_string, Kind, LabelRules, Strategy};
use proto::{metric, ExportMetricsServiceRequest, KeyValue, FLAG_NO_RECORDED_VALUE};

/// Most bytes of a request body once decompressed, as Prometheus reads.
pub const MAX_BODY: usize = 32 << 20;

/// The resource attributes that make `job` and `instance`.
const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// How requests are translated: the `otlp:` configuration and the flags
/// that bear on it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `translation_strategy`.
    pub strategy: Strategy,
    /// `promote_resource_attributes`.
    pub promote: Vec<String>,
    /// `promote_all_resource_attributes`.
    pub promote_all: bool,
    /// `ignore_resource_attributes`.
    pub ignore: Vec<String>,
    /// `keep_identifying_resource_attributes`.
    pub keep_identifying: bool,
    /// `promote_scope_metadata`.
    pub promote_scope: bool,
    /// `label_name_underscore_sanitization`.
    pub underscore_sanitization: bool,
    /// `label_name_preserve_multiple_underscores`.
    pub preserve_multiple_underscores: bool,
    /// `--enable-feature=otlp-native-delta-ingestion`: delta sums and
    /// histograms are stored as they come.
    pub allow_delta: bool,
    /// `convert_histograms_to_nhcb`: explicit-bucket histograms as native
    /// histograms with custom bounds.
    pub convert_nhcb: bool,
    /// `--query.lookback-delta` (ms): `target_info` is repeated every half.
    pub lookback_ms: i64,
    /// `--enable-feature=created-timestamp-zero-ingestion`: points' start
    /// times are kept (see [`Translated::float_starts`]).
    pub start_zero: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            strategy: Strategy::UnderscoreEscapingWithSuffixes,
            promote: Vec::new(),
            promote_all: false,
            ignore: Vec::new(),
            keep_identifying: false,
            promote_scope: false,
            underscore_sanitization: true,
            preserve_multiple_underscores: true,
            allow_delta: false,
            convert_nhcb: false,
            lookback_ms: 5 * 60 * 1000,
            start_zero: false,
        }
    }
}

impl Settings {
    fn label_rules(&self) -> LabelRules {
        LabelRules {
            escape: self.strategy.escapes(),
            underscore_sanitization: self.underscore_sanitization,
            preserve_multiple_underscores: self.preserve_multiple_underscores,
        }
    }
}

/// What a request becomes.
#[derive(Debug, Default)]
pub struct Translated {
    /// Each series with its samples, in time order.
    pub series: Vec<(Labels, Vec<(i64, f64)>)>,
    /// Native histogram samples: series, time, histogram; each series'
    /// in time order.
    pub histograms: Vec<(Labels, i64, FloatHistogram)>,
    /// Exemplars, by the labels of the series they belong to.
    pub exemplars: Vec<(Labels, tsdb::Exemplar)>,
    /// What was translated but looks wrong (Prometheus's translation
    /// warnings), to be logged.
    pub warnings: Vec<String>,
    /// Label names that more than one attribute mapped to.
    pub collisions: Vec<String>,
    /// With [`Settings::start_zero`], the start times of points: by the
    /// series' place in `series` and the sample's time, in ms.
    pub float_starts: HashMap<(usize, i64), i64>,
    /// The same for native histogram samples, by series and time.
    pub histogram_starts: HashMap<(Labels, i64), i64>,
}

/// Collects samples by series.
#[derive(Default)]
struct Out {
    index: HashMap<Labels, usize>,
    series: Vec<(Labels, Vec<(i64, f64)>)>,
    /// The start time of the point being added (with
    /// [`Settings::start_zero`]), and those of the samples added.
    start: Option<i64>,
    starts: HashMap<(usize, i64), i64>,
}

impl Out {
    fn add(&mut self, labels: Labels, t: i64, v: f64) {
        let i = match self.index.get(&labels) {
            Some(&i) => i,
            None => {
                self.series.push((labels.clone(), Vec::new()));
                self.index.insert(labels, self.series.len() - 1);
                self.series.len() - 1
            }
        };
        self.series[i].1.push((t, v));
        if let Some(st) = self.start {
            self.starts.insert((i, t), st);
        }
    }

    /// Sets the start time of the point whose samples are added next (0:
    /// none; ns).
    fn point_start(&mut self, s: &Settings, st_ns: u64) {
        self.start = (s.start_zero && st_ns > 0).then(|| nanos_to_ms(st_ns));
    }
}

/// Decodes a request body by its content type and encoding; the error is
/// the 400 answer's text.
pub fn decode(
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: &[u8],
) -> Result<ExportMetricsServiceRequest, DecodeError> {
    let ct = content_type.unwrap_or("");
    if ct != "application/x-protobuf" && ct != "application/json" {
        return Err(DecodeError::ContentType(ct.to_string()));
    }
    let plain;
    let body = match encoding.unwrap_or("") {
        "" => body,
        "gzip" => {
            let mut out = Vec::new();
            let d = flate2::read::GzDecoder::new(body);
            std::io::Read::read_to_end(&mut std::io::Read::take(d, MAX_BODY as u64 + 1), &mut out)
                .map_err(DecodeError::Gzip)?;
            plain = out;
            &plain[..]
        }
        other => return Err(DecodeError::Compression(other.to_string())),
    };
    if body.len() > MAX_BODY {
        return Err(DecodeError::TooLarge);
    }
    if ct == "application/json" {
        json::decode(body).map_err(DecodeError::Json)
    } else {
        ExportMetricsServiceRequest::decode(body).map_err(DecodeError::Proto)
    }
}

fn nanos_to_ms(ns: u64) -> i64 {
    (ns / 1_000_000) as i64
}

/// A resource's labels for its series.
struct ResourceLabels {
    job: Option<String>,
    instance: Option<String>,
    promoted: Vec<(String, String)>,
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attrs.iter().find(|a| a.key == key)
}

fn resource_labels(s: &Settings, attrs: &[KeyValue]) -> Result<ResourceLabels, NameError> {
    let val = |k: &str| attr(attrs, k).map(|a| value_string(a.value.as_ref()));
    let job = match (val(SERVICE_NAME), val(SERVICE_NAMESPACE)) {
        (Some(n), Some(ns)) if !ns.is_empty() => Some(format!("{ns}/{n}")),
        (Some(n), _) => Some(n),
        _ => None,
    };
    let mut promoted = Vec::new();
    for a in attrs {
        let take = if s.promote_all {
            !s.ignore.contains(&a.key)
        } else {
            s.promote.contains(&a.key)
        };
        if take {
            let name = label_name(s.label_rules(), &a.key)?;
            let v = value_string(a.value.as_ref());
            // the last of equal names wins
            promoted.retain(|(n, _): &(String, String)| *n != name);
            promoted.push((name, v));
        }
    }
    Ok(ResourceLabels {
        job: job.filter(|j| !j.is_empty()),
        instance: val(SERVICE_INSTANCE_ID).filter(|i| !i.is_empty()),
        promoted,
    })
}

/// Attributes as label pairs: names translated (in the order of the
/// original keys), values of names met twice joined with `;`.
fn attribute_labels(
    s: &Settings,
    attrs: &[KeyValue],
    skip: &[&str],
    collisions: &mut Vec<String>,
) -> Result<Vec<(String, String)>, NameError> {
    let mut sorted: Vec<&KeyValue> = attrs
        .iter()
        .filter(|a| a.key != "__name__" && !skip.contains(&a.key.as_str()))
        .collect();
    sorted.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    let mut out: Vec<(String, String)> = Vec::with_capacity(sorted.len());
    for a in sorted {
        let name = label_name(s.label_rules(), &a.key)?;
        let v = value_string(a.value.as_ref());
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) if !old.is_empty() && s.strategy.escapes() => {
                if !collisions.contains(&name) {
                    collisions.push(name.clone());
                }
                old.push(';');
                old.push_str(&v);
            }
            Some((_, old)) => *old = v,
            None => out.push((name, v)),
        }
    }
    Ok(out)
}

/// The labels of one series: data point attributes, then promoted
/// resource attributes not already there, `job`/`instance`, scope labels,
/// the name; empty values dropped.
fn series_labels(
    base: &[(String, String)],
    res: &ResourceLabels,
    scope: &[(String, String)],
    name: &str,
    extra: Option<(&str, String)>,
) -> Labels {
    let mut m: BTreeMap<String, String> = base.iter().cloned().collect();
    for (n, v) in &res.promoted {
        m.entry(n.clone()).or_insert_with(|| v.clone());
    }
    if let Some(j) = &res.job {
        m.insert("job".into(), j.clone());
    }
    if let Some(i) = &res.instance {
        m.insert("instance".into(), i.clone());
    }
    for (n, v) in scope {
        m.insert(n.clone(), v.clone());
    }
    m.insert("__name__".into(), name.to_string());
    if let Some((n, v)) = extra {
        m.insert(n.to_string(), v);
    }
    let pairs: Vec<(String, String)> = m.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    Labels::from_pairs(&pairs)
}

/// Translates a request; the error is the joined messages of everything
/// that could not be translated (then nothing is to be stored).
pub fn translate(
    req: &ExportMetricsServiceRequest,
    s: &Settings,
) -> Result<Translated, TranslateError> {
    let mut out = Out::default();
    let mut tr = Translated::default();
    let mut errors: Vec<MetricError> = Vec::new();
    for rm in &req.resource_metrics {
        let attrs: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
        let res = match resource_labels(s, attrs) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e.into());
                continue;
            }
        };
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let mut points = 0usize;
        for sm in &rm.scope_metrics {
            let scope = match scope_labels(s, sm) {
                Ok(l) => l,
                Err(e) => {
                    errors.push(e.into());
                    continue;
                }
            };
            for m in &sm.metrics {
                if let Err(e) = translate_metric(
                    s,
                    m,
                    &res,
                    &scope,
                    &mut out,
                    &mut tr,
                    &mut first,
                    &mut last,
                    &mut points,
                ) {
                    errors.push(e);
                }
            }
        }
        out.start = None;
        if points > 0 {
            if let Err(e) = target_info(s, attrs, &res, first, last, &mut out, &mut tr) {
                errors.push(e.into());
            }
        }
    }
    if !errors.is_empty() {
        return Err(TranslateError(errors));
    }
    for (_, samples) in out.series.iter_mut() {
        samples.sort_by_key(|x| x.0);
    }
    tr.series = out.series;
    tr.float_starts = out.starts;
    tr.histograms.sort_by_key(|x| x.1);
    Ok(tr)
}

fn scope_labels(
    s: &Settings,
    sm: &proto::ScopeMetrics,
) -> Result<Vec<(String, String)>, NameError> {
    let Some(scope) = sm
        .scope
        .as_ref()
        .filter(|sc| s.promote_scope && !sc.name.is_empty())
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for a in &scope.attributes {
        let name = label_name(s.label_rules(), &format!("otel_scope_{}", a.key))?;
        out.push((name, value_string(a.value.as_ref())));
    }
    for (n, v) in [
        ("otel_scope_name", &scope.name),
        ("otel_scope_version", &scope.version),
        ("otel_scope_schema_url", &sm.schema_url),
    ] {
        out.retain(|(x, _)| x != n);
        out.push((n.to_string(), v.clone()));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn translate_metric(
    s: &Settings,
    m: &proto::Metric,
    res: &ResourceLabels,
    scope: &[(String, String)],
    out: &mut Out,
    tr: &mut Translated,
    first: &mut i64,
    last: &mut i64,
    points: &mut usize,
) -> Result<(), MetricError> {
    let Some(data) = &m.data else {
        return Err(MetricError::NoData(m.name.clone()));
    };
    let (temporality, kind) = match data {
        metric::Data::Gauge(_) => (None, Kind::Gauge),
        metric::Data::Sum(x) => (
            Some(x.aggregation_temporality),
            if x.is_monotonic {
                Kind::Counter
            } else {
                Kind::Other
            },
        ),
        metric::Data::Histogram(x) => (Some(x.aggregation_temporality), Kind::Other),
        metric::Data::ExponentialHistogram(x) => (Some(x.aggregation_temporality), Kind::Other),
        metric::Data::Summary(_) => (None, Kind::Other),
    };
    let mut seen = |t: u64| {
        let ms = nanos_to_ms(t);
        *first = (*first).min(ms);
        *last = (*last).max(ms);
        *points += 1;
    };
    // every point counts for target_info, whatever becomes of it
    match data {
        metric::Data::Gauge(g) => g.data_points.iter().for_each(|p| seen(p.time_unix_nano)),
        metric::Data::Sum(x) => x.data_points.iter().for_each(|p| seen(p.time_unix_nano)),
        metric::Data::Histogram(x) => x.data_points.iter().for_each(|p| seen(p.time_unix_nano)),
        metric::Data::ExponentialHistogram(x) => {
            x.data_points.iter().for_each(|p| seen(p.time_unix_nano))
        }
        metric::Data::Summary(x) => x.data_points.iter().for_each(|p| seen(p.time_unix_nano)),
    }
    if let Some(t) = temporality {
        let ok =
            t == proto::TEMPORALITY_CUMULATIVE || (s.allow_delta && t == proto::TEMPORALITY_DELTA);
        if !ok {
            return Err(MetricError::Temporality(m.name.clone()));
        }
    }
    let name = metric_name(s.strategy, &m.name, &m.unit, kind)?;
    let empty = || MetricError::NoPoints(m.name.clone());
    let value = |v: Option<proto::number_data_point::Value>| match v {
        Some(proto::number_data_point::Value::AsDouble(d)) => d,
        Some(proto::number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    };
    let stale = |flags: u32, v: f64| {
        if flags & FLAG_NO_RECORDED_VALUE != 0 {
            f64::from_bits(tsdb::STALE_NAN_BITS)
        } else {
            v
        }
    };
    let mut attrs = |a: &[KeyValue]| attribute_labels(s, a, &[], &mut tr.collisions);
    let delta = temporality == Some(proto::TEMPORALITY_DELTA);
    // a native histogram point: a histogram sample, or a float stale
    // marker in its series (as a scrape marks a histogram series stale)
    let mut add_native = |l: Labels,
                          t: i64,
                          st_ns: u64,
                          (p, warning): native::Converted,
                          exemplars: &[proto::Exemplar]| {
        match p {
            native::Point::Histogram(h) => {
                for e in exemplars {
                    tr.exemplars.push((l.clone(), exemplar(e)));
                }
                if s.start_zero && st_ns > 0 {
                    tr.histogram_starts
                        .insert((l.clone(), t), nanos_to_ms(st_ns));
                }
                tr.histograms.push((l, t, h))
            }
            native::Point::Stale => out.add(l, t, f64::from_bits(tsdb::STALE_NAN_BITS)),
        }
        tr.warnings.extend(warning);
    };
    match data {
        metric::Data::Gauge(proto::Gauge { data_points: dps })
        | metric::Data::Sum(proto::Sum {
            data_points: dps, ..
        }) => {
            if dps.is_empty() {
                return Err(empty());
            }
            for p in dps {
                let base = attrs(&p.attributes)?;
                let l = series_labels(&base, res, scope, &name, None);
                out.point_start(s, p.start_time_unix_nano);
                for e in &p.exemplars {
                    tr.exemplars.push((l.clone(), exemplar(e)));
                }
                out.add(
                    l,
                    nanos_to_ms(p.time_unix_nano),
                    stale(p.flags, value(p.value)),
                );
            }
        }
        metric::Data::Histogram(h) if s.convert_nhcb => {
            if h.data_points.is_empty() {
                return Err(empty());
            }
            for p in &h.data_points {
                let point = native::custom_buckets(p, delta)?;
                let l = series_labels(&attrs(&p.attributes)?, res, scope, &name, None);
                let t = nanos_to_ms(p.time_unix_nano);
                add_native(l, t, p.start_time_unix_nano, point, &p.exemplars);
            }
        }
        metric::Data::Histogram(h) => {
            if h.data_points.is_empty() {
                return Err(empty());
            }
            for p in &h.data_points {
                let base = attrs(&p.attributes)?;
                let t = nanos_to_ms(p.time_unix_nano);
                out.point_start(s, p.start_time_unix_nano);
                let v = |x: f64| stale(p.flags, x);
                if let Some(sum) = p.sum {
                    let l = series_labels(&base, res, scope, &format!("{name}_sum"), None);
                    out.add(l, t, v(sum));
                }
                let l = series_labels(&base, res, scope, &format!("{name}_count"), None);
                out.add(l, t, v(p.count as f64));
                let bucket = format!("{name}_bucket");
                // each exemplar goes to the first bucket that holds its value
                let mut exemplars: Vec<tsdb::Exemplar> = p.exemplars.iter().map(exemplar).collect();
                exemplars.sort_by(|a, b| a.value.total_cmp(&b.value));
                let mut exemplars = exemplars.into_iter().peekable();
                let mut cum = 0u64;
                for (b, c) in p.explicit_bounds.iter().zip(&p.bucket_counts) {
                    cum += c;
                    let l = series_labels(&base, res, scope, &bucket, Some(("le", bound(*b))));
                    while let Some(e) = exemplars.next_if(|e| e.value <= *b) {
                        tr.exemplars.push((l.clone(), e));
                    }
                    out.add(l, t, v(cum as f64));
                }
                let l = series_labels(&base, res, scope, &bucket, Some(("le", "+Inf".into())));
                for e in exemplars {
                    tr.exemplars.push((l.clone(), e));
                }
                out.add(l, t, v(p.count as f64));
            }
        }
        metric::Data::Summary(x) => {
            if x.data_points.is_empty() {
                return Err(empty());
            }
            for p in &x.data_points {
                let base = attrs(&p.attributes)?;
                let t = nanos_to_ms(p.time_unix_nano);
                out.point_start(s, p.start_time_unix_nano);
                let v = |x: f64| stale(p.flags, x);
                let l = series_labels(&base, res, scope, &format!("{name}_sum"), None);
                out.add(l, t, v(p.sum));
                let l = series_labels(&base, res, scope, &format!("{name}_count"), None);
                out.add(l, t, v(p.count as f64));
                for q in &p.quantile_values {
                    let l = series_labels(
                        &base,
                        res,
                        scope,
                        &name,
                        Some(("quantile", bound(q.quantile))),
                    );
                    out.add(l, t, v(q.value));
                }
            }
        }
        metric::Data::ExponentialHistogram(x) => {
            if x.data_points.is_empty() {
                return Err(empty());
            }
            for p in &x.data_points {
                let point = native::exponential(p, delta)?;
                let l = series_labels(&attrs(&p.attributes)?, res, scope, &name, None);
                let t = nanos_to_ms(p.time_unix_nano);
                add_native(l, t, p.start_time_unix_nano, point, &p.exemplars);
            }
        }
    }
    Ok(())
}

/// An OTLP exemplar as Prometheus stores it: `trace_id` and `span_id` in
/// hex, and its filtered attributes as they are, unless they would take
/// the labels past 128 characters.
fn exemplar(e: &proto::Exemplar) -> tsdb::Exemplar {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut labels = Vec::new();
    let mut chars = 0;
    for (key, id) in [("trace_id", &e.trace_id), ("span_id", &e.span_id)] {
        if !id.is_empty() {
            let v = hex(id);
            chars += key.len() + v.len();
            labels.push(tsdb::labels::Label::new(key, v));
        }
    }
    let attrs: Vec<(String, String)> = e
        .filtered_attributes
        .iter()
        .map(|a| (a.key.clone(), value_string(a.value.as_ref())))
        .collect();
    chars += attrs
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum::<usize>();
    if chars <= tsdb::MAX_LABEL_SET_CHARS {
        labels.extend(
            attrs
                .into_iter()
                .map(|(k, v)| tsdb::labels::Label::new(k, v)),
        );
    }
    let ts = nanos_to_ms(e.time_unix_nano);
    tsdb::Exemplar {
        labels: Labels::new(labels),
        value: match e.value {
            Some(proto::exemplar::Value::AsDouble(d)) => d,
            Some(proto::exemplar::Value::AsInt(i)) => i as f64,
            None => 0.0,
        },
        ts,
        has_ts: ts != 0,
    }
}

/// `target_info` for a resource whose points span `[first, last]` (ms):
/// its attributes but the identifying ones, every half lookback delta and
/// at `last`.
fn target_info(
    s: &Settings,
    attrs: &[KeyValue],
    res: &ResourceLabels,
    first: i64,
    last: i64,
    out: &mut Out,
    tr: &mut Translated,
) -> Result<(), NameError> {
    let identifying = [SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE_ID];
    if attrs.iter().all(|a| identifying.contains(&a.key.as_str())) {
        return Ok(());
    }
    let skip: &[&str] = if s.keep_identifying {
        &[]
    } else {
        &identifying
    };
    let mut pairs = attribute_labels(s, attrs, skip, &mut tr.collisions)?;
    pairs.retain(|(n, _)| n != "job" && n != "instance");
    if let Some(j) = &res.job {
        pairs.push(("job".into(), j.clone()));
    }
    if let Some(i) = &res.instance {
        pairs.push(("instance".into(), i.clone()));
    }
    if !pairs.iter().any(|(n, _)| n == "job" || n == "instance") {
        return Ok(());
    }
    pairs.push(("__name__".into(), "target_info".into()));
    pairs.retain(|(_, v)| !v.is_empty());
    let labels = Labels::from_pairs(&pairs);
    let step = (s.lookback_ms / 2).max(1);
    let mut t = first;
    let mut n = 0;
    while t < last && n < 100_000 {
        out.add(labels.clone(), t, 1.0);
        t += step;
        n += 1;
    }
    out.add(labels, last, 1.0);
    // the same (series, time) once
    if let Some(i) = out.index.get(&Labels::from_pairs(&pairs)).copied() {
        let v = &mut out.series[i].1;
        v.sort_by_key(|x| x.0);
        v.dedup_by_key(|x| x.0);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
