//! The values of number and duration tokens, with the messages of
//! Prometheus's parsers.

use super::unit_ms;

/// A number token that is neither an integer nor a float, as Go's
/// `strconv.ParseFloat` says it.
#[derive(Debug, thiserror::Error)]
pub(super) enum NumberError {
    /// Not a number.
    #[error("error parsing number: strconv.ParseFloat: parsing {0:?}: invalid syntax")]
    Syntax(String),
    /// Beyond the range of a float.
    #[error("error parsing number: strconv.ParseFloat: parsing {0:?}: value out of range")]
    Range(String),
}

/// A duration token that is not a duration.
#[derive(Debug, thiserror::Error)]
pub(super) enum DurationError {
    /// Not a sequence of numbers with units, largest unit first.
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// A unit not known.
    #[error("unknown unit {unit:?} in duration {text:?}")]
    Unit {
        /// The unit.
        unit: String,
        /// The token.
        text: String,
    },
    /// More milliseconds than an `i64` holds.
    #[error("duration out of range")]
    Range,
}

/// The value of a number token as Prometheus reads it: as an integer
/// first (`0x` hexadecimal, a leading `0` octal, `_` between digits), else
/// as a float (no `_`), with its message when it is neither.
pub(super) fn number_value(text: &str) -> Result<f64, NumberError> {
    if let Some(v) = int_value(text) {
        return Ok(v as f64);
    }
    let hex = text.starts_with("0x") || text.starts_with("0X");
    if hex || text.contains('_') {
        return Err(NumberError::Syntax(text.to_string()));
    }
    let v: f64 = text
        .parse()
        .map_err(|_| NumberError::Syntax(text.to_string()))?;
    if v.is_infinite() {
        return Err(NumberError::Range(text.to_string()));
    }
    Ok(v)
}

/// Go's `strconv.ParseInt(text, 0, 64)`, for the texts the lexer takes.
fn int_value(text: &str) -> Option<i64> {
    let (digits, radix) = if let Some(h) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        (h.trim_start_matches('_'), 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    i64::from_str_radix(&clean, radix).ok()
}

/// The milliseconds of a duration token, with the messages of
/// Prometheus's duration parser.
pub(super) fn duration_value(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let b = text.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last_unit = i64::MAX;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: i64 = text[start..i].parse().map_err(|_| invalid())?;
        let ustart = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        if ustart == i {
            return Err(invalid());
        }
        let unit = &text[ustart..i];
        let u = unit_ms(unit).ok_or_else(|| DurationError::Unit {
            unit: unit.to_string(),
            text: text.to_string(),
        })?;
        if u >= last_unit {
            return Err(invalid());
        }
        last_unit = u;
        total = n
            .checked_mul(u)
            .and_then(|v| total.checked_add(v))
            .ok_or(DurationError::Range)?;
    }
    Ok(total)
}
