//! The series notation of promqltest scripts: times, values, expanding
//! `0+10x5`, and label sets.

use promql::parser::lex::parse_duration;
use promql::STALE_NAN_BITS;
use tsdb::labels::{Label, Labels};

pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('-') {
        return parse_time(rest).map(|v| -v);
    }
    if let Ok(v) = s.parse::<f64>() {
        return Some((v * 1000.0).round() as i64);
    }
    parse_duration(s)
}

pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        "stale" => Some(f64::from_bits(STALE_NAN_BITS)),
        _ => s.parse().ok(),
    }
}

/// Expands a series description (`0+10x3 _ stale 1x2`) into optional values.
pub fn expand_values(tokens: &[&str]) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for tok in tokens {
        if *tok == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad value {tok:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if let Some(v) = parse_value(tok) {
            out.push(Some(v));
            continue;
        }
        // start[+-]incr x times, or value x times
        let (head, times) = tok
            .rsplit_once('x')
            .ok_or_else(|| format!("bad value {tok:?}"))?;
        let times: usize = times.parse().map_err(|_| format!("bad value {tok:?}"))?;
        // split head at a sign that is not the first character and not
        // part of an exponent
        let b = head.as_bytes();
        let mut split = None;
        for i in 1..b.len() {
            if (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E') {
                split = Some(i);
            }
        }
        let (start, incr) = match split {
            Some(i) => {
                let start = parse_value(&head[..i]).ok_or_else(|| format!("bad value {tok:?}"))?;
                let mut incr =
                    parse_value(&head[i + 1..]).ok_or_else(|| format!("bad value {tok:?}"))?;
                if b[i] == b'-' {
                    incr = -incr;
                }
                (start, incr)
            }
            None => (
                parse_value(head).ok_or_else(|| format!("bad value {tok:?}"))?,
                0.0,
            ),
        };
        for k in 0..=times {
            out.push(Some(start + incr * k as f64));
        }
    }
    Ok(out)
}

/// Parses `name{a="b", ...}` (either part optional) at the start of `s`,
/// returning the labels and the rest of the line.
pub fn parse_series(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let name_end = s
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(s.len());
    let name = &s[..name_end];
    let mut labels = Vec::new();
    if !name.is_empty() {
        labels.push(Label::new("__name__", name));
    }
    let mut rest = &s[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let consumed;
        loop {
            while chars
                .peek()
                .is_some_and(|(_, c)| c.is_whitespace() || *c == ',')
            {
                chars.next();
            }
            let Some(&(i, c)) = chars.peek() else {
                return Err("unterminated label set".into());
            };
            if c == '}' {
                consumed = i + 1;
                break;
            }
            // label name: identifier or quoted
            let mut lname = String::new();
            if c == '"' {
                chars.next();
                lname = read_quoted(&mut chars)?;
            } else {
                while let Some(&(_, c)) = chars.peek() {
                    if c == '=' || c.is_whitespace() {
                        break;
                    }
                    lname.push(c);
                    chars.next();
                }
            }
            while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                chars.next();
            }
            match chars.next() {
                Some((_, '=')) => {}
                Some((_, '}')) | Some((_, ',')) if !lname.is_empty() => {
                    // a quoted metric name: {"name"}
                    labels.push(Label::new("__name__", lname));
                    continue;
                }
                other => return Err(format!("expected '=' in label set, got {other:?}")),
            }
            while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                chars.next();
            }
            match chars.next() {
                Some((_, '"')) => {}
                other => return Err(format!("expected '\"' in label set, got {other:?}")),
            }
            let value = read_quoted(&mut chars)?;
            labels.push(Label::new(lname, value));
        }
        rest = &body[consumed..];
    }
    Ok((Labels::new(labels), rest))
}

fn read_quoted(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, String> {
    let mut v = String::new();
    loop {
        match chars.next() {
            None => return Err("unterminated string".into()),
            Some((_, '"')) => return Ok(v),
            Some((_, '\\')) => match chars.next() {
                Some((_, 'n')) => v.push('\n'),
                Some((_, 't')) => v.push('\t'),
                Some((_, c)) => v.push(c),
                None => return Err("unterminated string".into()),
            },
            Some((_, c)) => v.push(c),
        }
    }
}

pub fn almost_equal(a: f64, b: f64) -> bool {
    const EPS: f64 = 1e-6;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    let sum = a.abs() + b.abs();
    if a == 0.0 || b == 0.0 || sum < f64::MIN_POSITIVE {
        return diff < EPS * f64::MIN_POSITIVE;
    }
    diff / sum.min(f64::MAX) < EPS
}
