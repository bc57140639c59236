//! OTLP/JSON: the protobuf messages in JSON, with lowerCamelCase keys
//! (snake_case taken too), 64-bit integers as strings or numbers, enums
//! as numbers or names, trace and span ids in hex. Keys not needed are
//! ignored.

use serde_json::Value;

use super::error::JsonError;
use super::proto::*;

type R<T> = Result<T, JsonError>;

fn wrong(field: &str, expected: &'static str, got: &Value) -> JsonError {
    JsonError::Type {
        field: field.to_string(),
        expected,
        got: got.clone(),
    }
}

fn not_number(field: &str, text: &str) -> JsonError {
    JsonError::Number {
        field: field.to_string(),
        text: text.to_string(),
    }
}

/// A field by its JSON name or its proto name.
fn field<'a>(v: &'a Value, camel: &str) -> Option<&'a Value> {
    let o = v.as_object()?;
    if let Some(x) = o.get(camel) {
        return Some(x);
    }
    let mut snake = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    o.get(&snake)
}

fn list<'a>(v: &'a Value, name: &str) -> R<&'a [Value]> {
    match field(v, name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(wrong(name, "an array", other)),
    }
}

fn string(v: &Value, name: &str) -> R<String> {
    match field(v, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong(name, "a string", other)),
    }
}

fn number_of<T: std::str::FromStr>(x: &Value, name: &str) -> R<T> {
    let s = match x {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return Err(wrong(name, "a number", other)),
    };
    s.parse().map_err(|_| not_number(name, &s))
}

fn num<T: std::str::FromStr + Default>(v: &Value, name: &str) -> R<T> {
    match field(v, name) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(x) => number_of(x, name),
    }
}

fn opt_f64(v: &Value, name: &str) -> R<Option<f64>> {
    match field(v, name) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => float(x, name).map(Some),
    }
}

/// A double: a number, or a string (`"NaN"`, `"Infinity"` included).
fn float(x: &Value, name: &str) -> R<f64> {
    match x {
        Value::Number(n) => n.as_f64().ok_or_else(|| JsonError::Double {
            field: name.to_string(),
            n: n.clone(),
        }),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" | "+Infinity" | "Inf" | "+Inf" => Ok(f64::INFINITY),
            "-Infinity" | "-Inf" => Ok(f64::NEG_INFINITY),
            _ => s.parse().map_err(|_| not_number(name, s)),
        },
        other => Err(wrong(name, "a number", other)),
    }
}

fn boolean(v: &Value, name: &str) -> R<bool> {
    match field(v, name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(wrong(name, "true or false", other)),
    }
}

fn temporality(v: &Value) -> R<i32> {
    match field(v, "aggregationTemporality") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) if s.starts_with("AGGREGATION_TEMPORALITY_") => {
            match &s["AGGREGATION_TEMPORALITY_".len()..] {
                "UNSPECIFIED" => Ok(TEMPORALITY_UNSPECIFIED),
                "DELTA" => Ok(TEMPORALITY_DELTA),
                "CUMULATIVE" => Ok(TEMPORALITY_CUMULATIVE),
                _ => Err(JsonError::Temporality(s.clone())),
            }
        }
        Some(x) => number_of(x, "aggregationTemporality"),
    }
}

fn object<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    field(v, name).filter(|x| x.is_object())
}

fn any_value(v: &Value) -> R<AnyValue> {
    use any_value::Value as V;
    let value = if let Some(s) = field(v, "stringValue") {
        Some(V::StringValue(s.as_str().unwrap_or_default().to_string()))
    } else if let Some(b) = field(v, "boolValue") {
        Some(V::BoolValue(b.as_bool().unwrap_or(false)))
    } else if let Some(i) = field(v, "intValue") {
        Some(V::IntValue(number_of(i, "intValue")?))
    } else if let Some(d) = field(v, "doubleValue") {
        Some(V::DoubleValue(float(d, "doubleValue")?))
    } else if let Some(a) = object(v, "arrayValue") {
        Some(V::ArrayValue(ArrayValue {
            values: list(a, "values")?.iter().map(any_value).collect::<R<_>>()?,
        }))
    } else if let Some(kv) = object(v, "kvlistValue") {
        Some(V::KvlistValue(KeyValueList {
            values: attributes(kv, "values")?,
        }))
    } else if let Some(b) = field(v, "bytesValue") {
        let s = b.as_str().unwrap_or_default();
        Some(V::BytesValue(
            common::base64::decode_any(s).ok_or_else(|| JsonError::Base64(s.to_string()))?,
        ))
    } else {
        None
    };
    Ok(AnyValue { value })
}

fn attributes(v: &Value, name: &str) -> R<Vec<KeyValue>> {
    list(v, name)?
        .iter()
        .map(|kv| {
            Ok(KeyValue {
                key: string(kv, "key")?,
                value: match object(kv, "value") {
                    Some(x) => Some(any_value(x)?),
                    None => None,
                },
            })
        })
        .collect()
}

/// A trace or span id: hex in OTLP/JSON.
fn hex_id(v: &Value, name: &str) -> R<Vec<u8>> {
    let s = string(v, name)?;
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let not_hex = || JsonError::Hex {
        field: name.to_string(),
        text: s.clone(),
    };
    if s.len() % 2 != 0 {
        return Err(not_hex());
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| match (digit(p[0]), digit(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(not_hex()),
        })
        .collect()
}

fn exemplars(p: &Value) -> R<Vec<Exemplar>> {
    list(p, "exemplars")?
        .iter()
        .map(|e| {
            let value = if let Some(d) = field(e, "asDouble") {
                Some(exemplar::Value::AsDouble(float(d, "asDouble")?))
            } else if let Some(i) = field(e, "asInt") {
                Some(exemplar::Value::AsInt(number_of(i, "asInt")?))
            } else {
                None
            };
            Ok(Exemplar {
                filtered_attributes: attributes(e, "filteredAttributes")?,
                time_unix_nano: num(e, "timeUnixNano")?,
                value,
                span_id: hex_id(e, "spanId")?,
                trace_id: hex_id(e, "traceId")?,
            })
        })
        .collect()
}

fn number_point(p: &Value) -> R<NumberDataPoint> {
    let value = if let Some(d) = field(p, "asDouble") {
        Some(number_data_point::Value::AsDouble(float(d, "asDouble")?))
    } else if let Some(i) = field(p, "asInt") {
        Some(number_data_point::Value::AsInt(number_of(i, "asInt")?))
    } else {
        None
    };
    Ok(NumberDataPoint {
        attributes: attributes(p, "attributes")?,
        start_time_unix_nano: num(p, "startTimeUnixNano")?,
        time_unix_nano: num(p, "timeUnixNano")?,
        value,
        exemplars: exemplars(p)?,
        flags: num(p, "flags")?,
    })
}

fn histogram_point(p: &Value) -> R<HistogramDataPoint> {
    Ok(HistogramDataPoint {
        attributes: attributes(p, "attributes")?,
        start_time_unix_nano: num(p, "startTimeUnixNano")?,
        time_unix_nano: num(p, "timeUnixNano")?,
        count: num(p, "count")?,
        sum: opt_f64(p, "sum")?,
        bucket_counts: list(p, "bucketCounts")?
            .iter()
            .map(|x| number_of(x, "bucketCounts"))
            .collect::<R<_>>()?,
        explicit_bounds: list(p, "explicitBounds")?
            .iter()
            .map(|x| float(x, "explicitBounds"))
            .collect::<R<_>>()?,
        exemplars: exemplars(p)?,
        flags: num(p, "flags")?,
    })
}

fn exponential_buckets(p: &Value, name: &str) -> R<Option<ExponentialBuckets>> {
    let Some(b) = object(p, name) else {
        return Ok(None);
    };
    Ok(Some(ExponentialBuckets {
        offset: num(b, "offset")?,
        bucket_counts: list(b, "bucketCounts")?
            .iter()
            .map(|x| number_of(x, "bucketCounts"))
            .collect::<R<_>>()?,
    }))
}

fn exponential_point(p: &Value) -> R<ExponentialHistogramDataPoint> {
    Ok(ExponentialHistogramDataPoint {
        attributes: attributes(p, "attributes")?,
        start_time_unix_nano: num(p, "startTimeUnixNano")?,
        time_unix_nano: num(p, "timeUnixNano")?,
        count: num(p, "count")?,
        sum: opt_f64(p, "sum")?,
        scale: num(p, "scale")?,
        zero_count: num(p, "zeroCount")?,
        positive: exponential_buckets(p, "positive")?,
        negative: exponential_buckets(p, "negative")?,
        flags: num(p, "flags")?,
        exemplars: exemplars(p)?,
        zero_threshold: opt_f64(p, "zeroThreshold")?.unwrap_or(0.0),
    })
}

fn summary_point(p: &Value) -> R<SummaryDataPoint> {
    Ok(SummaryDataPoint {
        attributes: attributes(p, "attributes")?,
        start_time_unix_nano: num(p, "startTimeUnixNano")?,
        time_unix_nano: num(p, "timeUnixNano")?,
        count: num(p, "count")?,
        sum: opt_f64(p, "sum")?.unwrap_or(0.0),
        quantile_values: list(p, "quantileValues")?
            .iter()
            .map(|q| {
                Ok(ValueAtQuantile {
                    quantile: opt_f64(q, "quantile")?.unwrap_or(0.0),
                    value: opt_f64(q, "value")?.unwrap_or(0.0),
                })
            })
            .collect::<R<_>>()?,
        flags: num(p, "flags")?,
    })
}

fn metric(m: &Value) -> R<Metric> {
    let points = |d: &Value, f: fn(&Value) -> R<NumberDataPoint>| -> R<Vec<NumberDataPoint>> {
        list(d, "dataPoints")?.iter().map(f).collect()
    };
    let data = if let Some(g) = object(m, "gauge") {
        Some(metric::Data::Gauge(Gauge {
            data_points: points(g, number_point)?,
        }))
    } else if let Some(s) = object(m, "sum") {
        Some(metric::Data::Sum(Sum {
            data_points: points(s, number_point)?,
            aggregation_temporality: temporality(s)?,
            is_monotonic: boolean(s, "isMonotonic")?,
        }))
    } else if let Some(h) = object(m, "histogram") {
        Some(metric::Data::Histogram(Histogram {
            data_points: list(h, "dataPoints")?
                .iter()
                .map(histogram_point)
                .collect::<R<_>>()?,
            aggregation_temporality: temporality(h)?,
        }))
    } else if let Some(h) = object(m, "exponentialHistogram") {
        Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: list(h, "dataPoints")?
                .iter()
                .map(exponential_point)
                .collect::<R<_>>()?,
            aggregation_temporality: temporality(h)?,
        }))
    } else if let Some(s) = object(m, "summary") {
        Some(metric::Data::Summary(Summary {
            data_points: list(s, "dataPoints")?
                .iter()
                .map(summary_point)
                .collect::<R<_>>()?,
        }))
    } else {
        None
    };
    Ok(Metric {
        name: string(m, "name")?,
        description: string(m, "description")?,
        unit: string(m, "unit")?,
        data,
    })
}

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode(body: &[u8]) -> R<ExportMetricsServiceRequest> {
    let v: Value = serde_json::from_slice(body).map_err(JsonError::Syntax)?;
    if !v.is_object() {
        return Err(JsonError::NotObject);
    }
    let resource_metrics = list(&v, "resourceMetrics")?
        .iter()
        .map(|rm| {
            Ok(ResourceMetrics {
                resource: match object(rm, "resource") {
                    Some(r) => Some(Resource {
                        attributes: attributes(r, "attributes")?,
                    }),
                    None => None,
                },
                scope_metrics: list(rm, "scopeMetrics")?
                    .iter()
                    .map(|sm| {
                        Ok(ScopeMetrics {
                            scope: match object(sm, "scope") {
                                Some(sc) => Some(InstrumentationScope {
                                    name: string(sc, "name")?,
                                    version: string(sc, "version")?,
                                    attributes: attributes(sc, "attributes")?,
                                }),
                                None => None,
                            },
                            metrics: list(sm, "metrics")?.iter().map(metric).collect::<R<_>>()?,
                            schema_url: string(sm, "schemaUrl")?,
                        })
                    })
                    .collect::<R<_>>()?,
                schema_url: string(rm, "schemaUrl")?,
            })
        })
        .collect::<R<_>>()?;
    Ok(ExportMetricsServiceRequest { resource_metrics })
}
