//! Formatting as rule templates see it: Go's `fmt.Sprintf` (`%v`, `%g`,
//! `%e`, `%f` of `float64` through [`format_float`], `%q`, ...) and
//! Prometheus's `humanize*` template functions.

use promql::gofmt::special;

use crate::error::ValueError;
use crate::gofmt::{format_float, go_time, quote_ascii};
use crate::value::Value;

/// `fmt.Sprintf("%.4g", v)`.
fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

/// Prometheus's `humanize`.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus's `humanize1024`.
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus's `humanizeDuration` (seconds).
pub fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        let d = v as i64;
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        if days != 0 {
            return format!("{sign}{days}d {h}h {m}m {s}s");
        }
        if h != 0 {
            return format!("{sign}{h}h {m}m {s}s");
        }
        if m != 0 {
            return format!("{sign}{m}m {s}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Prometheus's `humanizePercentage`.
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Prometheus's `humanizeTimestamp`: Go's `time.Time` printing of the
/// millisecond-truncated instant, e.g. `2015-06-23 13:19:44.128 +0000 UTC`.
pub fn humanize_timestamp(v: f64) -> Result<String, ValueError> {
    if !v.is_finite() {
        return Ok(g4(v));
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(ValueError::TimestampOverflow(v));
    }
    let ms = (ns as i64) / 1_000_000;
    Ok(go_time(
        ms.div_euclid(1000),
        ms.rem_euclid(1000) as u32 * 1_000_000,
    ))
}

struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(s: String, sp: &Spec, numeric: bool) -> String {
    let Some(w) = sp.width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if sp.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if sp.zero && numeric {
        let (sign, rest) = match s.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), &s[1..]),
            _ => (String::new(), &s[..]),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn bad_verb(verb: char, v: &Value) -> String {
    match v {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", v.go_type(), v.display()),
    }
}

fn sign(s: String, sp: &Spec, neg: bool) -> String {
    if neg {
        s
    } else if sp.plus {
        format!("+{s}")
    } else if sp.space {
        format!(" {s}")
    } else {
        s
    }
}

fn fmt_one(verb: char, sp: &Spec, v: &Value) -> String {
    match (verb, v) {
        ('v', Value::Float(f)) | ('g' | 'G' | 'e' | 'E' | 'f' | 'F', Value::Float(f)) => {
            let fv = if verb == 'v' { 'g' } else { verb };
            let s = match special(*f, sp.plus) {
                Some(s) => s,
                None => {
                    let prec = match fv {
                        'e' | 'E' | 'f' | 'F' => Some(sp.prec.unwrap_or(6)),
                        _ => sp.prec,
                    };
                    sign(format_float(*f, fv, prec), sp, f.is_sign_negative())
                }
            };
            pad(s, sp, f.is_finite())
        }
        ('v' | 'd', Value::Int(i)) => pad(sign(i.to_string(), sp, *i < 0), sp, true),
        ('x', Value::Int(i)) => pad(format!("{i:x}"), sp, true),
        ('X', Value::Int(i)) => pad(format!("{i:X}"), sp, true),
        ('o', Value::Int(i)) => pad(format!("{i:o}"), sp, true),
        ('b', Value::Int(i)) => pad(format!("{i:b}"), sp, true),
        ('c', Value::Int(i)) => pad(
            char::from_u32(*i as u32).unwrap_or('\u{fffd}').to_string(),
            sp,
            false,
        ),
        ('q', Value::Int(i)) => pad(
            format!("'{}'", char::from_u32(*i as u32).unwrap_or('\u{fffd}')),
            sp,
            false,
        ),
        ('s' | 'v', Value::Str(s)) => {
            let s = match sp.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            pad(s, sp, false)
        }
        ('q', Value::Str(s)) => pad(quote_ascii(s), sp, false),
        ('x', Value::Str(s)) => pad(s.bytes().map(|b| format!("{b:02x}")).collect(), sp, false),
        ('X', Value::Str(s)) => pad(s.bytes().map(|b| format!("{b:02X}")).collect(), sp, false),
        ('t' | 'v', Value::Bool(b)) => pad(b.to_string(), sp, false),
        ('v', Value::Nil) => pad("<nil>".into(), sp, false),
        ('v' | 's', Value::Map(_) | Value::Samples(_) | Value::Sample(_) | Value::Data(_)) => {
            pad(v.display(), sp, false)
        }
        _ => bad_verb(verb, v),
    }
}

/// Widths and precisions above this are refused, as Go's `fmt` does
/// (a literal one ends the format, one from an argument is ignored).
const MAX_FORMAT_NUM: i64 = 1_000_000;

/// Go's `fmt.Sprintf` for the verbs templates use (`%s %v %d %f %e %g %q
/// %x %t %c %%` with flags, width and precision).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut argi = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec {
            minus: false,
            plus: false,
            sharp: false,
            zero: false,
            space: false,
            width: None,
            prec: None,
        };
        while let Some(&f) = chars.peek() {
            match f {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                '#' => sp.sharp = true,
                '0' => sp.zero = true,
                ' ' => sp.space = true,
                _ => break,
            }
            chars.next();
        }
        let num = |chars: &mut std::iter::Peekable<std::str::Chars>, argi: &mut usize| {
            if chars.peek() == Some(&'*') {
                chars.next();
                let n = match args.get(*argi) {
                    Some(Value::Int(i)) if *i <= MAX_FORMAT_NUM => Some((*i).max(0) as usize),
                    _ => None,
                };
                *argi += 1;
                return n;
            }
            let mut n: Option<usize> = None;
            while let Some(&d) = chars.peek() {
                if let Some(dv) = d.to_digit(10) {
                    if n.unwrap_or(0) > MAX_FORMAT_NUM as usize {
                        // as Go: a number this long takes the rest of the
                        // format, which then lacks its verb
                        chars.by_ref().for_each(drop);
                        return None;
                    }
                    n = Some(n.unwrap_or(0) * 10 + dv as usize);
                    chars.next();
                } else {
                    break;
                }
            }
            n
        };
        sp.width = num(&mut chars, &mut argi);
        if chars.peek() == Some(&'.') {
            chars.next();
            sp.prec = Some(num(&mut chars, &mut argi).unwrap_or(0));
        }
        let _ = sp.sharp;
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argi) {
            Some(a) => out.push_str(&fmt_one(verb, &sp, a)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        argi += 1;
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| format!("{}={}", a.go_type(), a.display()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// `strconv.FormatFloat(v, 'e', -1, 64)` as the alerts API prints values.
pub fn api_value(v: f64) -> String {
    format_float(v, 'e', None)
}
