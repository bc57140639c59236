//! Go's formatting the templates need beyond [`promql::gofmt`]:
//! `strconv.FormatFloat` with every verb and precision (`printf`'s `%e`,
//! `%f`, `%g`), `%q`'s quoting, and Go's printing of `time.Time`
//! (`humanizeTimestamp`). The server re-exports them (its `gofmt`) for its
//! own uses of the same forms.

use promql::gofmt::{quote_with, special, Escape};
use tsdb::time::civil_from_days;

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `s` quoted as rule templates' `%q` quotes it: Go's `strconv.Quote`
/// escapes for ASCII, every other character as it is.
pub fn quote_ascii(s: &str) -> String {
    quote_with(s.as_bytes(), Escape::AsciiControls)
}

/// Decimal digits of `|v|` (no leading zeros, no trailing zeros) and the
/// decimal point position: `v = 0.d1d2d3... × 10^dp`. `prec` is the
/// number of significant digits to round to; `None` is the shortest
/// representation that round-trips.
fn digits(v: f64, prec: Option<usize>) -> (Vec<u8>, i32) {
    let v = v.abs();
    if v == 0.0 {
        return (Vec::new(), 0);
    }
    let s = match prec {
        None => promql::gofmt::scientific(v),
        // an f64 has at most 767 significant digits, the rest are zeros
        // (dropped below); Rust formats at most u16::MAX of them
        Some(p) => format!("{:.*e}", p.clamp(1, 800) - 1, v),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(|b| b.is_ascii_digit()).collect();
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
    if d == [b'0'] {
        return (Vec::new(), 0);
    }
    (d, exp + 1)
}

/// `%e` with `prec` digits after the point, from rounded digits.
fn fmt_e(d: &[u8], dp: i32, prec: usize, upper: bool) -> String {
    let mut s = String::new();
    s.push(d.first().map(|&c| c as char).unwrap_or('0'));
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(d.get(i).map(|&c| c as char).unwrap_or('0'));
        }
    }
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    s.push(if upper { 'E' } else { 'e' });
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

/// `%f` with `prec` digits after the point, from rounded digits.
fn fmt_f(d: &[u8], dp: i32, prec: usize) -> String {
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp as usize {
            s.push(d.get(i).map(|&c| c as char).unwrap_or('0'));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec as i32 {
            let j = dp + i;
            let c = if j < 0 {
                b'0'
            } else {
                *d.get(j as usize).unwrap_or(&b'0')
            };
            s.push(c as char);
        }
    }
    s
}

/// `strconv.FormatFloat(v, fmt, prec, 64)` for `fmt` in `e E f g G`;
/// `prec` `None` is -1 (shortest).
pub fn format_float(v: f64, fmt: char, prec: Option<usize>) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let neg = v.is_sign_negative();
    let body = match fmt {
        'e' | 'E' => {
            let (d, dp) = digits(v, prec.map(|p| p + 1));
            let p = prec.unwrap_or(d.len().saturating_sub(1));
            fmt_e(&d, dp, p, fmt == 'E')
        }
        'f' | 'F' => match prec {
            Some(p) => {
                // an f64 has at most 1074 decimals, the rest are zeros; Rust
                // formats at most u16::MAX of them
                let q = p.min(1100);
                let mut s = format!("{:.*}", q, v.abs());
                s.extend(std::iter::repeat_n('0', p - q));
                s
            }
            None => {
                let (d, dp) = digits(v, None);
                fmt_f(&d, dp, (d.len() as i32 - dp).max(0) as usize)
            }
        },
        _ => {
            let upper = fmt == 'G';
            let shortest = prec.is_none();
            let mut p = match prec {
                Some(0) => 1,
                Some(p) => p,
                None => 0,
            };
            let (d, dp) = digits(v, if shortest { None } else { Some(p) });
            let nd = d.len().max(1) as i32;
            if shortest {
                p = nd as usize;
            }
            let mut eprec = p as i32;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if d.is_empty() {
                "0".to_string()
            } else if exp < -4 || exp >= eprec {
                let pp = (p as i32).min(nd);
                fmt_e(&d, dp, (pp - 1).max(0) as usize, upper)
            } else {
                let pp = if p as i32 > dp { nd } else { p as i32 };
                fmt_f(&d, dp, (pp - dp).max(0) as usize)
            }
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// Go's default `time.Time` string in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub fn go_time(secs: i64, nanos: u32) -> String {
    // clamped to what an i64 of milliseconds holds, as the server's
    // timestamps are
    let secs = secs.saturating_mul(1000).div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut frac = String::new();
    if nanos > 0 {
        frac = format!(".{nanos:09}");
        while frac.ends_with('0') {
            frac.pop();
        }
    }
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}{frac} +0000 UTC",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql::gofmt::go_float;

    /// The general `'g'` path and the shortest one agree, on specials,
    /// both zeros, powers of ten at the form's edges and scattered bit
    /// patterns.
    #[test]
    fn shortest_g_is_format_float_g() {
        let mut vs = vec![0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
        vs.extend(
            f64::MIN_POSITIVE
                .to_bits()
                .checked_sub(1)
                .map(f64::from_bits),
        );
        vs.extend([f64::MAX, f64::MIN_POSITIVE, 5e-324, 0.1 + 0.2]);
        for e in -8..=8 {
            let p = 10f64.powi(e);
            vs.extend([p, -p, p * 1.5, p * 0.999_999_999_999_999_9]);
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vs.push(f64::from_bits(x));
        }
        for v in vs {
            assert_eq!(format_float(v, 'g', None), go_float(v), "{v:e}");
        }
    }

    #[test]
    fn quotes_by_caller() {
        // templates' %q leaves C1 controls as they are (the exposition
        // parsers' errors escape them: `textparse`'s `go_quote`)
        assert_eq!(quote_ascii("a\"\u{85}\x07"), "\"a\\\"\u{85}\\a\"");
    }
}
