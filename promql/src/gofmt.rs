//! Go's `strconv` formatting as Prometheus prints it: `Quote` and the
//! float forms PromQL, the exposition parsers and the server share (among
//! them the text format's [`go_float`] and OpenMetrics's [`om_float`]). The
//! server builds its other Go formats (`FormatFloat` with a precision,
//! `time.Time`) on these.

use std::fmt::Write as _;
use std::ops::Range;

/// Which characters beyond the ASCII controls a quote escapes (as `\u` or
/// `\U`). Go's `strconv.Quote` escapes every non-printable character;
/// [`Escape::NotPrintable`] is that. The others are narrower, each kept for
/// the output its callers already give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Only the ASCII controls (rule templates' `%q`).
    AsciiControls,
    /// Also the C1 controls (exposition parse errors).
    Controls,
    /// Also the C1 controls and white space other than U+0020 (remote write
    /// label errors).
    ControlsAndSpaces,
    /// Go's `unicode.IsPrint`, approximated (PromQL's printer).
    NotPrintable,
}

impl Escape {
    fn escapes(self, c: char) -> bool {
        match self {
            Escape::AsciiControls => false,
            Escape::Controls => c.is_control(),
            Escape::ControlsAndSpaces => c.is_control() || (c.is_whitespace() && c != ' '),
            Escape::NotPrintable => !is_printable(c),
        }
    }
}

/// An approximation of Go's `unicode.IsPrint` for characters outside
/// ASCII: control, format, surrogate and unassigned-looking characters
/// are not printable.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || (0x2028..=0x2029).contains(&u)
        || (0x200b..=0x200f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2060..=0x206f).contains(&u)
        || u == 0xad
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || (0xe000..=0xf8ff).contains(&u)
        || u >= 0xf0000
        || (u & 0xfffe) == 0xfffe)
}

fn push_escaped(out: &mut String, s: &str, esc: Escape) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if esc.escapes(c) => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
}

/// Appends `b` double-quoted with Go's `strconv.Quote` escapes, the
/// characters beyond ASCII escaped as `esc` says; bytes that are not
/// UTF-8 are written as `\xNN`, as Go's `%q` writes them.
pub fn quote_bytes_to(out: &mut String, b: &[u8], esc: Escape) {
    out.reserve(b.len() + 2);
    out.push('"');
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_escaped(out, s, esc);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                push_escaped(out, std::str::from_utf8(valid).unwrap_or_default(), esc);
                let bad = e.error_len().unwrap_or(after.len()).min(after.len());
                for &x in &after[..bad] {
                    let _ = write!(out, "\\x{x:02x}");
                }
                rest = &after[bad..];
            }
        }
    }
    out.push('"');
}

/// `s` quoted as [`quote_bytes_to`] quotes it.
pub fn quote_with(s: &[u8], esc: Escape) -> String {
    let mut out = String::new();
    quote_bytes_to(&mut out, s, esc);
    out
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_with(s.as_bytes(), Escape::NotPrintable)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)` with Prometheus's specials:
/// the shortest decimal that reads back as `v`, never in exponent form;
/// `NaN`, `+Inf`, `-Inf`.
pub fn format_f(v: f64) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    if v == 0.0 {
        return format!("{v}");
    }
    let e = scientific(v);
    let (mant, exp) = split_exponent(&e);
    plain_decimal(mant, exp)
}

/// `NaN` (`+NaN` with `plus`), `+Inf`, `-Inf` for the non-finite values.
pub fn special(v: f64, plus: bool) -> Option<String> {
    if v.is_nan() {
        Some(if plus { "+NaN" } else { "NaN" }.to_string())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.to_string())
    } else {
        None
    }
}

/// A finite float as `[-]d[.ddd]e[-]x` (the form of Rust's `{:e}`) in the
/// shortest digits that read back as it, chosen as Go chooses them: of two
/// as near, the even one (1658206780088562.25 is `...562.2`, where Rust's
/// own formatting gives `...562.3`).
pub fn scientific(v: f64) -> String {
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s),
    };
    if let Some((mant, exp)) = s.split_once('e') {
        return format!("{sign}{mant}e{exp}");
    }
    // a plain decimal (`123.45`, `0.00012`, `1.0`): its significant
    // digits and where the point falls among them
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let all: String = [int, frac].concat();
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0');
    if digits.is_empty() {
        return format!("{sign}0e0");
    }
    let exp = int.len() as i32 - 1 - lead as i32;
    let (first, rest) = digits.split_at(1);
    let point = if rest.is_empty() { "" } else { "." };
    format!("{sign}{first}{point}{rest}e{exp}")
}

/// Splits [`scientific`]'s (or Rust's `{:e}`) form of a finite float into
/// the mantissa `[-]d[.ddd]` and the decimal exponent.
fn split_exponent(e: &str) -> (&str, i32) {
    match e.split_once('e') {
        Some((mant, exp)) => (mant, exp.parse().unwrap_or(0)),
        None => (e, 0),
    }
}

/// The mantissa `[-]d[.ddd]` times ten to `exp`, as a plain decimal.
fn plain_decimal(mant: &str, exp: i32) -> String {
    let mut out = String::with_capacity(mant.len() + exp.unsigned_abs() as usize + 3);
    push_plain(&mut out, mant, exp);
    out
}

/// Appends the mantissa `[-]d[.ddd]` times ten to `exp` as a plain
/// decimal.
pub fn push_plain(out: &mut String, mant: &str, exp: i32) {
    let (sign, m) = match mant.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mant),
    };
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    out.push_str(sign);
    if exp < 0 {
        out.push_str("0.");
        for _ in 1..-exp {
            out.push('0');
        }
        out.push_str(int);
        out.push_str(frac);
    } else {
        let e = exp as usize;
        out.push_str(int);
        if e < frac.len() {
            out.push_str(&frac[..e]);
            out.push('.');
            out.push_str(&frac[e..]);
        } else {
            out.push_str(frac);
            for _ in frac.len()..e {
                out.push('0');
            }
        }
    }
}

/// `mant` with Go's exponent suffix: a sign and at least two digits.
fn with_exponent(mant: &str, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.unsigned_abs())
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)` of a finite `v`: the
/// shortest round-trip digits, an exponent of at least two digits with its
/// sign (`1e+06`, `-1.5e-07`).
pub fn format_e(v: f64) -> String {
    let e = scientific(v);
    let (mant, exp) = split_exponent(&e);
    with_exponent(mant, exp)
}

/// A finite, non-zero float in shortest round-trip digits: in exponent
/// form ([`format_e`]) when its decimal exponent is outside `plain`, else
/// as a plain decimal. Go's `'g'` with precision -1 is `-4..6`;
/// Prometheus's JSON uses `-6..21`. NaN, the infinities and zero are the
/// caller's to spell.
pub fn format_g(v: f64, plain: Range<i32>) -> String {
    let e = scientific(v);
    let (mant, exp) = split_exponent(&e);
    if plain.contains(&exp) {
        plain_decimal(mant, exp)
    } else {
        with_exponent(mant, exp)
    }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` (`fmt`'s `%v` of a
/// `float64`) with Prometheus's spellings of the specials: `1e+06`,
/// `0.0001`, `1.5e-05`, `+Inf`, `-Inf`, `NaN`, `-0`.
pub fn go_float(v: f64) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    format_g(v, -4..6)
}

/// Prometheus's `formatOpenMetricsFloat`: [`go_float`] with `.0` appended
/// when it has neither `.` nor `e`; zero of either sign is `0.0`.
pub fn om_float(v: f64) -> String {
    if v == 0.0 {
        return "0.0".to_string();
    }
    let mut s = go_float(v);
    if v.is_finite() && !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
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
            assert_eq!(go_float(v), want, "{v}");
        }
    }

    #[test]
    fn om_float_format_matches_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.5, "0.5"),
            (0.001, "0.001"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1.1e-4, "0.00011"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1.55555555555552e6, "1.55555555555552e+06"),
            (123456789.0, "1.23456789e+08"),
            (1e23, "1e+23"),
            (1e100, "1e+100"),
            (-2.5e-10, "-2.5e-10"),
            (10.0, "10.0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(om_float(*f), *want, "{f}");
        }
    }

    #[test]
    fn quotes_by_escape() {
        let s = "a\"b\\\n\t\0\x07\x7f";
        for esc in [
            Escape::AsciiControls,
            Escape::Controls,
            Escape::ControlsAndSpaces,
            Escape::NotPrintable,
        ] {
            assert_eq!(quote_with(s.as_bytes(), esc), r#""a\"b\\\n\t\x00\a\x7f""#);
            assert_eq!(quote_with("é✓".as_bytes(), esc), "\"é✓\"");
        }
        // the copies this replaced differ beyond ASCII: each keeps its own
        let odd = "\u{85}\u{a0}\u{200b}\u{10fffe}";
        assert_eq!(
            quote_with(odd.as_bytes(), Escape::AsciiControls),
            "\"\u{85}\u{a0}\u{200b}\u{10fffe}\""
        );
        assert_eq!(
            quote_with(odd.as_bytes(), Escape::Controls),
            "\"\\u0085\u{a0}\u{200b}\u{10fffe}\""
        );
        assert_eq!(
            quote_with(odd.as_bytes(), Escape::ControlsAndSpaces),
            "\"\\u0085\\u00a0\u{200b}\u{10fffe}\""
        );
        assert_eq!(
            quote_with(odd.as_bytes(), Escape::NotPrintable),
            "\"\\u0085\u{a0}\\u200b\\U0010fffe\""
        );
        assert_eq!(quote(odd), quote_with(odd.as_bytes(), Escape::NotPrintable));
        // bytes that are not UTF-8, as Go's %q of a byte slice
        assert_eq!(
            quote_with(b"\xe2\x82x\xff", Escape::Controls),
            r#""\xe2\x82x\xff""#
        );
    }

    /// `n` test floats: scattered bits, values with exponents near the
    /// forms' edges, and values with few digits, as samples mostly are.
    fn test_floats(n: usize) -> impl Iterator<Item = f64> {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        (0..n).map(move |i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match i % 3 {
                0 => f64::from_bits(x),
                1 => (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 60) as i32 - 30),
                _ => (x % 2_000_001) as f64 / 1000.0 - 1000.0,
            }
        })
    }

    /// The plain form built from the exponent form is Rust's (and Go's
    /// `'f'`) shortest decimal.
    #[test]
    fn plain_decimal_is_shortest_f() {
        for v in test_floats(50_000) {
            if !v.is_finite() || v == 0.0 {
                continue;
            }
            let e = format!("{v:e}");
            let (mant, exp) = split_exponent(&e);
            if (-30..60).contains(&exp) {
                assert_eq!(plain_decimal(mant, exp), format!("{v}"), "{e}");
            }
        }
    }

    #[test]
    fn floats() {
        for (v, f, e, g) in [
            (1.0, "1", "1e+00", "1"),
            (0.5, "0.5", "5e-01", "0.5"),
            (123456.0, "123456", "1.23456e+05", "123456"),
            (1234567.0, "1234567", "1.234567e+06", "1.234567e+06"),
            (0.0001, "0.0001", "1e-04", "0.0001"),
            (0.00001, "0.00001", "1e-05", "1e-05"),
            (-2.5e-7, "-0.00000025", "-2.5e-07", "-2.5e-07"),
            (1e21, "1000000000000000000000", "1e+21", "1e+21"),
            (1200.0, "1200", "1.2e+03", "1200"),
            (0.00012, "0.00012", "1.2e-04", "0.00012"),
            // 1658206780088562.25, halfway between two shortest
            // candidates: the even one, as Prometheus 2.42 writes it in its
            // API's JSON
            (
                1658206780088562.2,
                "1658206780088562.2",
                "1.6582067800885622e+15",
                "1.6582067800885622e+15",
            ),
        ] {
            assert_eq!(format_f(v), f, "{v}");
            assert_eq!(format_e(v), e, "{v}");
            assert_eq!(format_g(v, -4..6), g, "{v}");
        }
        assert_eq!(1658206780088562.2, 1658206780088562.0 + 0.25);
        assert_eq!(format_e(1e100), "1e+100");
        assert_eq!(format_f(5e-324), format!("0.{}5", "0".repeat(323)));
        assert_eq!(format_e(5e-324), "5e-324");
        assert_eq!(format_g(1e20, -6..21), "100000000000000000000");
        assert_eq!(format_g(1e-6, -6..21), "0.000001");
        assert_eq!(format_g(1e-7, -6..21), "1e-07");
        assert_eq!(format_f(f64::NAN), "NaN");
        assert_eq!(format_f(f64::NEG_INFINITY), "-Inf");
    }

    /// The digits come from ryu; apart from halfway cases they are Rust's
    /// own, in the same form.
    #[test]
    fn scientific_is_rusts_form_with_the_same_digits() {
        for v in test_floats(300_000) {
            if !v.is_finite() {
                continue;
            }
            let (ours, rusts) = (scientific(v), format!("{v:e}"));
            assert_eq!(
                ours.parse::<f64>().unwrap().to_bits(),
                v.to_bits(),
                "{ours}"
            );
            if ours != rusts {
                // a tie of two candidates of the same length
                assert_eq!(ours.len(), rusts.len(), "{ours} {rusts}");
                let (a, b) = (split_exponent(&ours), split_exponent(&rusts));
                assert_eq!(a.1, b.1, "{ours} {rusts}");
                let last = |m: &str| m.bytes().last().unwrap() - b'0';
                assert_eq!(last(a.0) % 2, 0, "{ours} {rusts}");
                assert_eq!(last(a.0).abs_diff(last(b.0)), 1, "{ours} {rusts}");
            }
        }
        assert_eq!(scientific(0.0), "0e0");
        assert_eq!(scientific(-0.0), "-0e0");
    }
}
