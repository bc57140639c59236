//! Writing the text exposition format (`/metrics`, `/federate`) as
//! Prometheus's encoder writes it.

use std::fmt::Write as _;

use tsdb::labels::Labels;

/// Formats a float as Go's `strconv.FormatFloat(v, 'g', -1, 64)`, with
/// Prometheus's spellings of the specials: `1e+06`, `0.0001`, `1.5e-05`,
/// `+Inf`, `-Inf`, `NaN`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    go_float(v, -4..6)
}

/// Formats a finite, non-zero float in shortest round-trip digits, in
/// Go's exponent form (`1e+21`, `1.5e-07`) when its decimal exponent is
/// outside `plain` (Go's `'g'` uses `-4..6`; Prometheus's JSON `-6..21`),
/// otherwise as a plain decimal. NaN, infinities and zero are the
/// caller's to spell.
pub fn go_float(v: f64, plain: std::ops::Range<i32>) -> String {
    let e = format!("{v:e}");
    let (mant, exp) = e.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("integer exponent");
    if plain.contains(&exp) {
        return format!("{v}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.abs())
}

/// Appends `name{labels} value [timestamp]\n`, without `__name__` in the
/// braces and with label values escaped.
pub fn write_sample(out: &mut String, labels: &Labels, v: f64, ts: Option<i64>) {
    out.push_str(labels.metric_name().unwrap_or(""));
    let mut first = true;
    for l in labels
        .iter()
        .filter(|l| l.name != tsdb::labels::METRIC_NAME)
    {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(&l.name);
        out.push_str("=\"");
        for c in l.value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    out.push_str(&format_float(v));
    if let Some(t) = ts {
        let _ = write!(out, " {t}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_g() {
        for (v, want) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.7e9, "1.7e+09"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_float(v), want, "{v}");
        }
    }

    #[test]
    fn sample_lines() {
        let mut s = String::new();
        write_sample(
            &mut s,
            &Labels::from_pairs(&[("__name__", "up"), ("job", "a\"b")]),
            1.0,
            Some(1000),
        );
        write_sample(
            &mut s,
            &Labels::from_pairs(&[("__name__", "x")]),
            0.25,
            None,
        );
        assert_eq!(s, "up{job=\"a\\\"b\"} 1 1000\nx 0.25\n");
    }
}
