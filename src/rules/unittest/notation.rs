//! The text notations of rule unit test files: series descriptions
//! (`name{label="value", ...}`), expanding value notation
//! (`1+2x10 _ stale 3x5`), and Go's printing of labels, floats and
//! durations as promtool's failure messages show them.

use tsdb::labels::{Label, Labels, METRIC_NAME};

use super::error::{SeriesError, ValueProblem, ValuesError};
use crate::gofmt::{format_float, quote_ascii};

/// One position of an input series: a value, a stale marker, or nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Point {
    /// `_`: no sample at this step.
    Missing,
    /// `stale`: a staleness marker.
    Stale,
    /// A sample value.
    Value(f64),
}

/// Parses a number as Prometheus's series notation accepts it: decimal
/// with optional sign and exponent (`1e3`, `-2.5`, `.5`), `Inf` and `NaN`.
/// Hexadecimal is not accepted: `0x4` is zero repeated (as in Prometheus,
/// whose lexer refuses hex in series descriptions for that reason).
pub fn parse_number(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let v = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower == "nan" {
        f64::NAN
    } else {
        let ok = body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
        if !ok
            || !body
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Splits `a+b` / `a-b` (the part of an expanding term before `x`) into
/// start and signed increment; `None` if no split makes two numbers.
fn split_increment(head: &str) -> Option<(f64, f64)> {
    let b = head.as_bytes();
    for i in 1..b.len() {
        if b[i] != b'+' && b[i] != b'-' {
            continue;
        }
        // `1e-3+1x2`: splitting at the exponent's sign leaves `1e`,
        // which is no number, so the loop moves on to the real split
        let (Some(start), Some(incr)) = (parse_number(&head[..i]), parse_number(&head[i + 1..]))
        else {
            continue;
        };
        return Some((start, if b[i] == b'-' { -incr } else { incr }));
    }
    None
}

/// Expands the `values` string of an input series:
///
/// * `a` — one sample; `_` — no sample; `stale` — a staleness marker;
/// * `a+bxn` / `a-bxn` — `a`, then `n` more samples going up (down) by `b`;
/// * `axn` — `a` repeated `n + 1` times; `_xn` — `n` steps without samples.
pub fn expand_values(values: &str) -> Result<Vec<Point>, ValuesError> {
    let mut out = Vec::new();
    for tok in values.split_whitespace() {
        let bad = |problem: ValueProblem| ValuesError {
            token: tok.to_string(),
            problem,
        };
        if tok.starts_with("{{") {
            return Err(bad(ValueProblem::Histogram));
        }
        match tok {
            "_" => {
                out.push(Point::Missing);
                continue;
            }
            "stale" => {
                out.push(Point::Stale);
                continue;
            }
            _ => {}
        }
        if let Some(v) = parse_number(tok) {
            out.push(Point::Value(v));
            continue;
        }
        let Some(x) = tok.rfind('x') else {
            return Err(bad(ValueProblem::NotATerm));
        };
        let (head, times) = (&tok[..x], &tok[x + 1..]);
        if times.is_empty() || !times.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(ValueProblem::Count));
        }
        let n: usize = times
            .parse()
            .map_err(|_| bad(ValueProblem::CountTooLarge))?;
        if n > 10_000_000 {
            return Err(bad(ValueProblem::CountTooLarge));
        }
        if head == "_" {
            out.resize(out.len() + n, Point::Missing);
            continue;
        }
        if head == "stale" {
            return Err(bad(ValueProblem::StaleRepeated));
        }
        let (start, incr) = match parse_number(head) {
            Some(v) => (v, 0.0),
            None => split_increment(head).ok_or_else(|| bad(ValueProblem::Expanding))?,
        };
        for k in 0..=n {
            out.push(Point::Value(start + incr * k as f64));
        }
    }
    Ok(out)
}

fn is_name_start(c: char, metric: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (metric && c == ':')
}

fn is_name_char(c: char, metric: bool) -> bool {
    is_name_start(c, metric) || c.is_ascii_digit()
}

struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn err(&self, expected: &'static str) -> SeriesError {
        match self.peek() {
            Some(found) => SeriesError::Unexpected {
                expected,
                found,
                pos: self.pos,
                src: self.src.to_string(),
            },
            None => SeriesError::End {
                expected,
                src: self.src.to_string(),
            },
        }
    }

    fn name(&mut self, metric: bool) -> String {
        let start = self.pos;
        if self.peek().is_some_and(|c| is_name_start(c, metric)) {
            while self.peek().is_some_and(|c| is_name_char(c, metric)) {
                self.bump();
            }
        }
        self.src[start..self.pos].to_string()
    }

    /// A quoted string (`"..."`, `'...'` with Go escapes, or a raw
    /// `` `...` ``); the cursor is on the opening quote.
    fn quoted(&mut self) -> Result<String, SeriesError> {
        let Some(q) = self.bump() else {
            return Err(self.err("expected a quoted string"));
        };
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(SeriesError::Unterminated(self.src.to_string()));
            };
            if c == q {
                return Ok(out);
            }
            if c != '\\' || q == '`' {
                if c == '\n' && q != '`' {
                    return Err(SeriesError::Unterminated(self.src.to_string()));
                }
                out.push(c);
                continue;
            }
            let Some(e) = self.bump() else {
                return Err(SeriesError::Unterminated(self.src.to_string()));
            };
            let simple = match e {
                'a' => Some('\u{7}'),
                'b' => Some('\u{8}'),
                'f' => Some('\u{c}'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                'v' => Some('\u{b}'),
                '\\' | '"' | '\'' => Some(e),
                _ => None,
            };
            if let Some(s) = simple {
                out.push(s);
                continue;
            }
            let digits = match e {
                'x' => 2,
                'u' => 4,
                'U' => 8,
                '0'..='7' => 2,
                _ => {
                    return Err(SeriesError::UnknownEscape {
                        escape: e,
                        src: self.src.to_string(),
                    })
                }
            };
            let start = self.pos;
            for _ in 0..digits {
                self.bump();
            }
            let text = self.src.get(start..self.pos).unwrap_or("");
            let code = if matches!(e, '0'..='7') {
                u32::from_str_radix(&format!("{e}{text}"), 8).ok()
            } else {
                u32::from_str_radix(text, 16).ok()
            };
            match code.and_then(char::from_u32) {
                Some(c) => out.push(c),
                None => return Err(SeriesError::InvalidEscape(self.src.to_string())),
            }
        }
    }
}

/// Parses a series description as promtool reads `series:` and `labels:`:
/// `name`, `name{a="b", c='d'}`, `{__name__="name", a="b"}` or
/// `{"name", a="b"}`; empty text or `{}` is the empty label set. Labels
/// with empty values are dropped.
pub fn parse_series(s: &str) -> Result<Labels, SeriesError> {
    let mut c = Cursor { src: s, pos: 0 };
    let mut labels: Vec<Label> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut add =
        |labels: &mut Vec<Label>, name: String, value: String| -> Result<(), SeriesError> {
            if seen.contains(&name) {
                return Err(SeriesError::Duplicate {
                    name,
                    src: s.to_string(),
                });
            }
            seen.push(name.clone());
            labels.push(Label::new(name, value));
            Ok(())
        };
    c.skip_ws();
    let name = c.name(true);
    if !name.is_empty() {
        add(&mut labels, METRIC_NAME.to_string(), name)?;
    }
    c.skip_ws();
    if c.peek() == Some('{') {
        c.bump();
        loop {
            c.skip_ws();
            if c.peek() == Some('}') {
                c.bump();
                break;
            }
            let (lname, quoted) = match c.peek() {
                Some('"') | Some('\'') | Some('`') => (c.quoted()?, true),
                Some(ch) if is_name_start(ch, false) => (c.name(false), false),
                _ => return Err(c.err("expected a label name")),
            };
            c.skip_ws();
            match c.peek() {
                Some('=') => {
                    c.bump();
                    c.skip_ws();
                    if !matches!(c.peek(), Some('"') | Some('\'') | Some('`')) {
                        return Err(c.err("expected a quoted label value"));
                    }
                    let v = c.quoted()?;
                    add(&mut labels, lname, v)?;
                }
                Some(',') | Some('}') if quoted => {
                    add(&mut labels, METRIC_NAME.to_string(), lname)?;
                }
                _ => return Err(c.err("expected '='")),
            }
            c.skip_ws();
            match c.peek() {
                Some(',') => {
                    c.bump();
                }
                Some('}') => {}
                _ => return Err(c.err("expected ',' or '}'")),
            }
        }
    }
    c.skip_ws();
    if c.peek().is_some() {
        return Err(c.err("unexpected text after the series description"));
    }
    Ok(Labels::new(labels))
}

/// Go's `labels.Labels.String()`: `{__name__="x", a="b"}`.
pub fn labels_string(ls: &Labels) -> String {
    let items: Vec<String> = ls
        .iter()
        .map(|l| format!("{}={}", l.name, quote_ascii(&l.value)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// `strconv.FormatFloat(v, 'E', -1, 64)`: `5E+01`, `3.999999999999991E-01`.
pub fn float_e(v: f64) -> String {
    format_float(v, 'E', None)
}

/// Go's `time.Duration.String()` for a whole number of milliseconds:
/// `0s`, `500ms`, `1m30s`, `1h0m0s`, `1.5s`.
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let body = if ms < 1000 {
        format!("{ms}ms")
    } else {
        let h = ms / 3_600_000;
        let m = ms / 60_000 % 60;
        let s = ms / 1000 % 60;
        let frac = ms % 1000;
        let secs = if frac == 0 {
            format!("{s}s")
        } else {
            let f = format!("{frac:03}");
            format!("{s}.{}s", f.trim_end_matches('0'))
        };
        if h > 0 {
            format!("{h}h{m}m{secs}")
        } else if m > 0 {
            format!("{m}m{secs}")
        } else {
            secs
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}
