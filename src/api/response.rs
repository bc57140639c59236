//! The API envelope and JSON as Prometheus writes it: floats as strings in
//! Go's shortest form, timestamps as float seconds with millisecond
//! precision, HTML-safe string escaping, errorType → HTTP status in one place.

use std::fmt::Write as _;

/// Prometheus's error types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// Bad request parameters or query.
    BadData,
    /// The query failed while running.
    Execution,
    /// The query ran out of time.
    Timeout,
    /// The query was cancelled.
    Canceled,
    /// A server-side failure.
    Internal,
    /// Nothing at that path.
    NotFound,
    /// Not available (e.g. endpoint disabled).
    Unavailable,
}

impl ErrorType {
    /// The API's word for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::NotFound => "not_found",
            ErrorType::Unavailable => "unavailable",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn status(&self) -> u16 {
        match self {
            ErrorType::BadData => 400,
            ErrorType::Execution => 422,
            ErrorType::Timeout | ErrorType::Canceled | ErrorType::Unavailable => 503,
            ErrorType::Internal => 500,
            ErrorType::NotFound => 404,
        }
    }
}

/// An API error: type and message.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// Its type.
    pub kind: ErrorType,
    /// Its message.
    pub msg: String,
}

impl ApiError {
    /// A `bad_data` error.
    pub fn bad_data(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorType::BadData,
            msg: msg.into(),
        }
    }

    /// The error envelope.
    pub fn body(&self) -> String {
        let mut s = String::from("{\"status\":\"error\",\"errorType\":");
        json_str(&mut s, self.kind.as_str());
        s.push_str(",\"error\":");
        json_str(&mut s, &self.msg);
        s.push('}');
        s
    }
}

/// The success envelope around already-encoded `data`.
pub fn success(data: &str, warnings: &[String], infos: &[String]) -> String {
    let mut s = String::with_capacity(data.len() + 64);
    s.push_str("{\"status\":\"success\",\"data\":");
    s.push_str(data);
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if !list.is_empty() {
            let _ = write!(s, ",\"{key}\":[");
            for (i, w) in list.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                json_str(&mut s, w);
            }
            s.push(']');
        }
    }
    s.push('}');
    s
}

/// Appends a JSON string, escaped as Go's encoding/json does (including
/// `<`, `>`, `&`, U+2028 and U+2029).
pub use promql::parser::json::write_json_string as json_str;

/// Formats a sample value as Prometheus does: Go's shortest `'f'` form,
/// `'e'` form below 1e-6 or from 1e21, `+Inf`, `-Inf`, `NaN`.
pub fn format_value(v: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

/// Appends a sample value as [`format_value`] spells it.
pub fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
    } else if (1e-6..1e21).contains(&v.abs()) {
        // a decimal exponent in -6..21 (the shortest digits of a float in
        // that range never round out of it): the plain form
        write_plain(out, v);
    } else {
        out.push_str(&crate::gofmt::format_g(v, -6..21));
    }
}

/// Appends a finite, non-zero `v` as a plain decimal of its shortest
/// round-trip digits, as Go chooses them. ryu gives those as `123.45`,
/// `1.0`, `0.00012` or `1.2345e17`: `.0` is dropped and an exponent
/// written out.
fn write_plain(out: &mut String, v: f64) {
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    match s.split_once('e') {
        Some((mant, exp)) => crate::gofmt::push_plain(out, mant, exp.parse().unwrap_or(0)),
        None => out.push_str(s.strip_suffix(".0").unwrap_or(s)),
    }
}

/// Appends a timestamp in milliseconds as float seconds (`1700000000.123`).
pub fn write_timestamp(out: &mut String, ms: i64) {
    let neg = ms < 0;
    let a = ms.unsigned_abs();
    if neg {
        out.push('-');
    }
    let _ = write!(out, "{}", a / 1000);
    let frac = a % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Appends a label set as a JSON object.
pub fn write_labels(out: &mut String, labels: &tsdb::labels::Labels) {
    write_pairs(
        out,
        labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
    );
}

/// Appends a label set given as `(name, value)` pairs as a JSON object.
pub fn write_pairs<'a>(out: &mut String, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push('{');
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, name);
        out.push(':');
        json_str(out, value);
    }
    out.push('}');
}

/// Appends `[ts,"value"]`.
pub fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",\"");
    write_value(out, v);
    out.push_str("\"]");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_prometheus_writes_them() {
        let cases = [
            (1.0, "1"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (-2.5e300, "-2.5e+300"),
            (123456789.0, "123456789"),
            (1e20, "100000000000000000000"),
            (0.000001, "0.000001"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1e-6, "0.000001"),
            (-9.99999999999e-7, "-9.99999999999e-07"),
            (9.999999999999999e20, "999999999999999900000"),
            (-1e21, "-1e+21"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123.456, "123.456"),
            // halfway between two shortest candidates: the even one, as
            // Prometheus 2.42 answers `vector(1658206780088562.25)`
            (1658206780088562.2, "1658206780088562.2"),
        ];
        for (v, want) in cases {
            assert_eq!(format_value(v), want, "{v}");
        }
    }

    /// The plain form written straight is the one built from the
    /// exponent form, for floats of every magnitude and around the ends
    /// of the plain range.
    #[test]
    fn plain_values_as_the_exponent_form_gives_them() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = vec![];
        for edge in [1e-6f64, 1e21] {
            let b = edge.to_bits();
            values.extend((b - 64..b + 64).map(f64::from_bits));
        }
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            // and values with few digits, as samples mostly are
            values.push((x % 2_000_001) as f64 / 1000.0 - 1000.0);
        }
        for v in values.into_iter().filter(|v| v.is_finite() && *v != 0.0) {
            assert_eq!(format_value(v), crate::gofmt::format_g(v, -6..21), "{v:e}");
        }
    }

    #[test]
    fn timestamps_and_strings() {
        let mut s = String::new();
        write_timestamp(&mut s, 1_700_000_000_123);
        s.push(' ');
        write_timestamp(&mut s, 1_700_000_000_000);
        s.push(' ');
        write_timestamp(&mut s, 1_700_000_000_005);
        s.push(' ');
        write_timestamp(&mut s, -1500);
        assert_eq!(s, "1700000000.123 1700000000 1700000000.005 -1.500");
        let mut j = String::new();
        json_str(&mut j, "a\"<b>\n&");
        assert_eq!(j, r#""a\"\u003cb\u003e\n\u0026""#);
        let e = ApiError::bad_data("x");
        assert_eq!(
            e.body(),
            r#"{"status":"error","errorType":"bad_data","error":"x"}"#
        );
        assert_eq!(
            success("{}", &["w".into()], &[]),
            r#"{"status":"success","data":{},"warnings":["w"]}"#
        );
    }
}
