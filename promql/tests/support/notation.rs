//! The series notation of promqltest scripts: times, values, expanding
//! `0+10x5`, and label sets.

use promql::parser::lex::parse_duration;
use promql::STALE_NAN_BITS;
use tsdb::histogram::{CounterResetHint, FloatHistogram};
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

/// A value of a series description: a float or a native histogram (with
/// whether its counter reset hint was written out).
#[derive(Clone, Debug)]
pub enum Val {
    F(f64),
    H(FloatHistogram, bool),
}

/// Parses the inside of `{{schema:0 sum:5 count:4 buckets:[1 2 1] ...}}`.
pub fn parse_histogram(body: &str) -> Result<(FloatHistogram, bool), String> {
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let (mut off, mut noff) = (0i32, 0i32);
    let mut rest = body.trim();
    let num = |s: &str| parse_value(s).ok_or_else(|| format!("bad number {s:?} in histogram"));
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once(':')
            .ok_or_else(|| format!("bad histogram {body:?}"))?;
        let key = key.trim();
        let after = after.trim_start();
        let (val, next) = if let Some(list) = after.strip_prefix('[') {
            let end = list.find(']').ok_or("unterminated list in histogram")?;
            (&list[..end], &list[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let list = || -> Result<Vec<f64>, String> { val.split_whitespace().map(num).collect() };
        match key {
            "schema" => h.schema = val.parse().map_err(|_| format!("bad schema {val:?}"))?,
            "sum" => h.sum = num(val)?,
            "count" => h.count = num(val)?,
            "z_bucket" => h.zero_count = num(val)?,
            "z_bucket_w" => h.zero_threshold = num(val)?,
            "custom_values" => h.custom_values = list()?,
            "buckets" => pos = list()?,
            "n_buckets" => neg = list()?,
            "offset" => off = val.parse().map_err(|_| format!("bad offset {val:?}"))?,
            "n_offset" => noff = val.parse().map_err(|_| format!("bad offset {val:?}"))?,
            "counter_reset_hint" => {
                hint_set = true;
                h.counter_reset_hint = match val {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    other => return Err(format!("bad counter_reset_hint {other:?}")),
                }
            }
            other => return Err(format!("unknown histogram key {other:?}")),
        }
        rest = next.trim_start();
    }
    h.positive = pos
        .into_iter()
        .enumerate()
        .map(|(i, c)| (off + i as i32, c))
        .collect();
    h.negative = neg
        .into_iter()
        .enumerate()
        .map(|(i, c)| (noff + i as i32, c))
        .collect();
    Ok((h, hint_set))
}

/// Reads `{{...}}` at the start of `s`: the histogram and the rest.
fn take_histogram(s: &str) -> Result<(FloatHistogram, bool, &str), String> {
    let body = s.strip_prefix("{{").ok_or("expected {{")?;
    let end = body.find("}}").ok_or("unterminated histogram")?;
    let (h, set) = parse_histogram(&body[..end])?;
    Ok((h, set, &body[end + 2..]))
}

/// Expands a series description that may hold native histograms
/// (`{{...}}`, `{{...}}x3`, `{{...}}+{{...}}x3`, `{{...}}-{{...}}x3`)
/// besides the float notation.
pub fn expand_any(desc: &str) -> Result<Vec<Option<Val>>, String> {
    let mut out = Vec::new();
    let mut rest = desc.trim_start();
    while !rest.is_empty() {
        if rest.starts_with("{{") {
            let (base, set, after) = take_histogram(rest)?;
            let mut after = after;
            let mut times = 0usize;
            let mut inc: Option<(FloatHistogram, bool)> = None;
            if let Some(a) = after.strip_prefix(['+', '-']) {
                let negate = after.starts_with('-');
                let (ih, iset, a2) = take_histogram(a)?;
                inc = Some((ih, negate));
                let _ = iset;
                after = a2;
            }
            if let Some(a) = after.strip_prefix('x') {
                let end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                times = a[..end]
                    .parse()
                    .map_err(|_| format!("bad repetition in {desc:?}"))?;
                after = &a[end..];
            }
            let mut cur = base;
            out.push(Some(Val::H(cur.clone(), set)));
            for _ in 0..times {
                if let Some((inc, negate)) = &inc {
                    if cur.schema > inc.schema {
                        return Err(format!(
                            "error combining histograms: cannot merge from schema {} to {}",
                            inc.schema, cur.schema
                        ));
                    }
                    let r = if *negate { cur.sub(inc) } else { cur.add(inc) };
                    r.map_err(|_| "error combining histograms".to_string())?;
                }
                out.push(Some(Val::H(cur.clone(), set)));
            }
            rest = after.trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let tok = &rest[..end];
        out.extend(expand_values(&[tok])?.into_iter().map(|v| v.map(Val::F)));
        rest = rest[end..].trim_start();
    }
    Ok(out)
}

/// Whether two histograms agree as promqltest compares them: after
/// dropping empty buckets, equal layouts and counts within tolerance;
/// the counter reset hint only when the expectation wrote it out.
pub fn histograms_match(want: &FloatHistogram, got: &FloatHistogram, hint_set: bool) -> bool {
    let (mut w, mut g) = (want.clone(), got.clone());
    w.compact();
    g.compact();
    let buckets = |a: &[(i32, f64)], b: &[(i32, f64)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && almost_equal(x.1, y.1))
    };
    w.schema == g.schema
        && almost_equal(w.count, g.count)
        && almost_equal(w.sum, g.sum)
        && (!w.uses_custom_buckets() || w.custom_values == g.custom_values)
        && w.zero_threshold == g.zero_threshold
        && almost_equal(w.zero_count, g.zero_count)
        && buckets(&w.negative, &g.negative)
        && buckets(&w.positive, &g.positive)
        && (!hint_set || w.counter_reset_hint == g.counter_reset_hint)
}
