//! Lexing both exposition parsers share, where their rules agree: the
//! bytes of metric and label names, quoted label values and their escapes,
//! sample values (Go's `strconv.ParseFloat`), and the decoding of a label
//! set for [`labels`](super::PromParser::labels). How tokens are separated,
//! and so what is strict, stays with each format.

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::tag_no_case;
use nom::character::complete::{char, digit0, digit1, one_of};
use nom::combinator::{all_consuming, opt, recognize, value};
use nom::sequence::{pair, tuple};
use nom::IResult;

use promql::gofmt::{quote_with, Escape};

/// Bytes quoted like Go's `%q`, for parse errors: ASCII and C1 controls
/// escaped, invalid UTF-8 as `\xNN`.
pub(super) fn go_quote(b: &[u8]) -> String {
    quote_with(b, Escape::Controls)
}

/// Bit pattern of the NaN that
/// [`PromParser::series`](crate::PromParser::series) returns for any NaN
/// value (Prometheus's `value.NormalNaN`, distinct from its stale marker
/// `0x7ff0000000000002`).
pub const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

type Res<'a, T> = IResult<&'a [u8], T>;

pub(super) fn is_metric_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

pub(super) fn is_metric_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

pub(super) fn is_label_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

pub(super) fn is_label_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Length of the name at the start of `b`: one byte passing `start`, then
/// bytes passing `rest` (0 if there is none).
fn name_len(b: &[u8], start: impl Fn(u8) -> bool, rest: impl Fn(u8) -> bool) -> usize {
    match b.split_first() {
        Some((&c, tail)) if start(c) => 1 + tail.iter().take_while(|&&c| rest(c)).count(),
        _ => 0,
    }
}

/// Length of the metric name `[a-zA-Z_:][a-zA-Z0-9_:]*` at the start of `b`.
#[inline]
pub(super) fn metric_name_len(b: &[u8]) -> usize {
    name_len(b, is_metric_name_start, is_metric_name_char)
}

/// Length of the label name `[a-zA-Z_][a-zA-Z0-9_]*` at the start of `b`.
#[inline]
pub(super) fn label_name_len(b: &[u8]) -> usize {
    name_len(b, is_label_name_start, is_label_name_char)
}

/// For `b` starting with `"`: the index of the closing quote, the value
/// `"(\\.|[^\\"])*"` between where `.` is any byte but a line feed (so a
/// backslash needs a byte after it that is not a line feed). `None` if
/// `b` starts otherwise or the value does not close.
#[inline]
pub(super) fn quoted_len(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut j = 1;
    while let Some(&c) = b.get(j) {
        match c {
            b'"' => return Some(j),
            b'\\' if b.get(j + 1).is_some_and(|&e| e != b'\n') => j += 2,
            b'\\' => return None,
            _ => j += 1,
        }
    }
    None
}

/// The error for a label name given twice (or `__name__` in the braces).
pub(super) fn not_unique(name: &[u8]) -> String {
    format!(
        "label name {} is not unique: invalid sample",
        go_quote(name)
    )
}

/// Go float specials: `[+-]?(inf|infinity)` and `nan`, case-insensitive.
fn go_float_special(i: &[u8]) -> Res<'_, ()> {
    alt((
        value(
            (),
            pair(
                opt(one_of("+-")),
                alt((tag_no_case("infinity"), tag_no_case("inf"))),
            ),
        ),
        value((), tag_no_case("nan")),
    ))(i)
}

/// Go decimal float syntax: `[+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?`.
fn go_float_decimal(i: &[u8]) -> Res<'_, ()> {
    value(
        (),
        tuple((
            opt(one_of("+-")),
            alt((
                recognize(pair(digit1, opt(pair(char('.'), digit0)))),
                recognize(pair(char('.'), digit1)),
            )),
            opt(tuple((one_of("eE"), opt(one_of("+-")), digit1))),
        )),
    )(i)
}

/// Why a sample value does not parse, as Go's `strconv.ParseFloat` says
/// it (the token quoted as Go quotes it).
#[derive(Debug, thiserror::Error)]
pub(super) enum ValueError {
    /// A hex float or an underscore.
    #[error("unsupported character in float")]
    UnsupportedChar,
    /// Not a float.
    #[error("strconv.ParseFloat: parsing {}: invalid syntax", go_quote(.0))]
    Syntax(Vec<u8>),
    /// Beyond the range of a float.
    #[error("strconv.ParseFloat: parsing {}: value out of range", go_quote(.0))]
    Range(Vec<u8>),
}

/// Parses a sample value as Prometheus does (Go's `strconv.ParseFloat`
/// without hex floats and underscores); the error text is Go's.
pub(super) fn parse_value(tok: &[u8]) -> Result<f64, ValueError> {
    if let Some(v) = exact_decimal(tok) {
        return Ok(v);
    }
    if tok.iter().any(|&c| matches!(c, b'p' | b'P' | b'_')) {
        return Err(ValueError::UnsupportedChar);
    }
    let syntax = || ValueError::Syntax(tok.to_vec());
    if all_consuming(go_float_special)(tok).is_ok() {
        let negative = tok.first() == Some(&b'-');
        let nan = tok
            .iter()
            .find(|c| !matches!(c, b'+' | b'-'))
            .is_some_and(|c| c.eq_ignore_ascii_case(&b'n'));
        return Ok(if nan {
            f64::from_bits(NORMAL_NAN_BITS)
        } else if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if all_consuming(go_float_decimal)(tok).is_err() {
        return Err(syntax());
    }
    let s = std::str::from_utf8(tok).map_err(|_| syntax())?;
    let v: f64 = s.parse().map_err(|_| syntax())?;
    if v.is_infinite() {
        return Err(ValueError::Range(tok.to_vec()));
    }
    Ok(v)
}

/// The value of `[+-]?` followed by at most 15 digits with at most one `.`
/// among them, when it is exactly computable: the digits as an integer
/// (exact in an f64) divided by a power of ten (exact too), which IEEE
/// division rounds correctly, as a full parse would. `None` for anything
/// else, which takes the full parse.
fn exact_decimal(tok: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, digits) = match tok.first()? {
        b'-' => (true, &tok[1..]),
        b'+' => (false, &tok[1..]),
        _ => (false, tok),
    };
    if digits.len() > 16 {
        return None;
    }
    let mut m = 0u64;
    let mut n = 0usize;
    let mut point = None;
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                n += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    if n == 0 || n > 15 {
        return None;
    }
    let frac = point.map_or(0, |p| digits.len() - p - 1);
    let v = m as f64 / POW10[frac];
    Some(if negative { -v } else { v })
}

/// Replaces `\\` and `\n` (and `\"` if `quote`), borrowing when there is no
/// backslash. Invalid UTF-8 (already rejected by the parser) is replaced.
pub(super) fn unescape(v: &[u8], quote: bool) -> Cow<'_, str> {
    if !v.contains(&b'\\') {
        return String::from_utf8_lossy(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        let c = v[i];
        if c == b'\\' {
            let replacement = match v.get(i + 1) {
                Some(b'\\') => Some(b'\\'),
                Some(b'n') => Some(b'\n'),
                Some(b'"') if quote => Some(b'"'),
                _ => None,
            };
            if let Some(r) = replacement {
                out.push(r);
                i += 2;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Number of characters of a (valid UTF-8) label value once unescaped.
pub(super) fn unescaped_chars(v: &[u8]) -> usize {
    let mut chars = std::str::from_utf8(v).unwrap_or("").chars();
    let mut n = 0;
    while let Some(c) = chars.next() {
        n += 1;
        if c == '\\' && matches!(chars.clone().next(), Some('\\' | 'n' | '"')) {
            chars.next();
        }
    }
    n
}

/// Writes a series' labels into `out` (cleared first): `("__name__",
/// name)` then each label in written order, values unescaped. The value of
/// the label named `float_label` (if not empty) is normalised to the
/// OpenMetrics float form when it is a number, as Prometheus 3 does for
/// `le` of histograms and `quantile` of summaries (`1` becomes `1.0`).
pub(super) fn decode_labels(
    out: &mut Vec<(String, String)>,
    name: &[u8],
    labels: &[(&[u8], &[u8])],
    float_label: &[u8],
) {
    out.clear();
    out.reserve(labels.len() + 1);
    out.push((
        "__name__".to_string(),
        String::from_utf8_lossy(name).into_owned(),
    ));
    for &(n, v) in labels {
        let mut v = unescape(v, true).into_owned();
        if !float_label.is_empty() && n == float_label {
            if let Ok(f) = parse_value(v.as_bytes()) {
                v = promql::gofmt::om_float(f);
            }
        }
        out.push((String::from_utf8_lossy(n).into_owned(), v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_quote_matches_go() {
        assert_eq!(
            go_quote(b"a\"b\\c\n\r\t\0\x07\x7f"),
            r#""a\"b\\c\n\r\t\x00\a\x7f""#
        );
        assert_eq!(go_quote("é✓\u{85}".as_bytes()), "\"é✓\\u0085\"");
        assert_eq!(go_quote(b"\xe2\x82x\xff"), r#""\xe2\x82x\xff""#);
        assert_eq!(go_quote("a\"\u{85}\x07".as_bytes()), "\"a\\\"\\u0085\\a\"");
        assert_eq!(go_quote(b"\xff"), "\"\\xff\"");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn short_decimals_parse_as_the_full_parser_does(tok in "[+-]?[0-9]{0,9}[.]?[0-9]{0,9}") {
            let full = tok.parse::<f64>().ok();
            if let Some(v) = exact_decimal(tok.as_bytes()) {
                prop_assert_eq!(Some(v.to_bits()), full.map(f64::to_bits));
            }
            // what the shortcut declines is left to the full parse
            let digits = tok.bytes().filter(u8::is_ascii_digit).count();
            prop_assert_eq!(exact_decimal(tok.as_bytes()).is_some(), (1..=15).contains(&digits));
        }
    }
}
