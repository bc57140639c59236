//! Go-compatible formatting for the server, in one place: `strconv.Quote`
//! (with the escape sets callers rely on), `strconv.FormatFloat`, the float
//! spellings of Prometheus's exposition, JSON and OpenMetrics, and Go's
//! printing of `time.Time`. The forms PromQL and the exposition parsers
//! (the `textparse` crate) need too live in [`promql::gofmt`], those the
//! rule templates need too in [`gotemplate::gofmt`]; both are re-exported
//! here.

pub use gotemplate::gofmt::{format_float, go_time, query_escape, quote_ascii};
pub use promql::gofmt::{
    format_e, format_f, format_g, go_float, om_float, push_plain, quote, quote_bytes_to,
    quote_with, special, Escape,
};

/// RFC 3339 with nanoseconds and trailing zeros removed, as Go's
/// `time.Time` marshals to JSON in UTC (`2006-01-02T15:04:05.999999999Z`).
pub fn rfc3339_nano(ns: i64) -> String {
    common::rfc3339::format_nanos(i128::from(ns))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_nano() {
        assert_eq!(super::rfc3339_nano(1_500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(super::rfc3339_nano(0), "1970-01-01T00:00:00Z");
    }
}
