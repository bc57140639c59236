//! Element-wise math with parameters, scalar/vector conversion, time and
//! calendar functions.

use tsdb::labels::Labels;

use crate::engine::Evaluator;
use crate::error::Error;
use crate::parser::Expr;
use crate::value::{Sample, StepValue};

type R = Result<StepValue, Error>;

pub(super) fn sgn(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v // 0, -0 and NaN stay as they are
    }
}

/// Applies `f` to each element of the vector argument, dropping names.
fn map_vector(ev: &mut Evaluator<'_>, arg: &Expr, ts: i64, f: impl Fn(f64) -> f64) -> R {
    let mut v = ev.eval_vector(arg, ts)?;
    v.retain(|s| s.h.is_none());
    for s in &mut v {
        s.v = f(s.v);
        s.drop_name = true;
    }
    Ok(StepValue::Vector(v))
}

/// Go's `math.Max`: NaN when either is NaN.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN when either is NaN.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn arg(args: &[Expr], i: usize) -> Result<&Expr, Error> {
    args.get(i)
        .ok_or_else(|| Error::exec("missing function argument"))
}

pub(super) fn clamp(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let lo = ev.eval_scalar(arg(args, 1)?, ts)?;
    let hi = ev.eval_scalar(arg(args, 2)?, ts)?;
    if lo > hi {
        return Ok(StepValue::Vector(Vec::new()));
    }
    map_vector(ev, &args[0], ts, |v| go_min(go_max(v, lo), hi))
}

pub(super) fn clamp_max(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let hi = ev.eval_scalar(arg(args, 1)?, ts)?;
    map_vector(ev, &args[0], ts, |v| go_min(v, hi))
}

pub(super) fn clamp_min(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let lo = ev.eval_scalar(arg(args, 1)?, ts)?;
    map_vector(ev, &args[0], ts, |v| go_max(v, lo))
}

pub(super) fn round(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let to = match args.get(1) {
        Some(e) => ev.eval_scalar(e, ts)?,
        None => 1.0,
    };
    let inv = 1.0 / to;
    map_vector(ev, arg(args, 0)?, ts, |v| (v * inv + 0.5).floor() / inv)
}

pub(super) fn scalar(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let v = ev.eval_vector(arg(args, 0)?, ts)?;
    let floats: Vec<f64> = v.iter().filter(|s| s.h.is_none()).map(|s| s.v).collect();
    Ok(StepValue::Scalar(if floats.len() == 1 {
        floats[0]
    } else {
        f64::NAN
    }))
}

pub(super) fn vector(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let v = ev.eval_scalar(arg(args, 0)?, ts)?;
    Ok(StepValue::Vector(vec![Sample {
        metric: Labels::empty(),
        v,
        h: None,
        drop_name: false,
    }]))
}

pub(super) fn time(_: &mut Evaluator<'_>, _: &[Expr], ts: i64) -> R {
    Ok(StepValue::Scalar(ts as f64 / 1000.0))
}

pub(super) fn pi(_: &mut Evaluator<'_>, _: &[Expr], _: i64) -> R {
    Ok(StepValue::Scalar(std::f64::consts::PI))
}

pub(super) fn start(ev: &mut Evaluator<'_>, _: &[Expr], _: i64) -> R {
    Ok(StepValue::Scalar(ev.start as f64 / 1000.0))
}

pub(super) fn end(ev: &mut Evaluator<'_>, _: &[Expr], _: i64) -> R {
    Ok(StepValue::Scalar(ev.end as f64 / 1000.0))
}

pub(super) fn range(ev: &mut Evaluator<'_>, _: &[Expr], _: i64) -> R {
    Ok(StepValue::Scalar((ev.end - ev.start) as f64 / 1000.0))
}

pub(super) fn step(ev: &mut Evaluator<'_>, _: &[Expr], _: i64) -> R {
    Ok(StepValue::Scalar(ev.step as f64 / 1000.0))
}

fn two_scalars(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> Result<(f64, f64), Error> {
    Ok((
        ev.eval_scalar(arg(args, 0)?, ts)?,
        ev.eval_scalar(arg(args, 1)?, ts)?,
    ))
}

pub(super) fn min_of(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let (a, b) = two_scalars(ev, args, ts)?;
    Ok(StepValue::Scalar(if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }))
}

pub(super) fn max_of(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let (a, b) = two_scalars(ev, args, ts)?;
    Ok(StepValue::Scalar(if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }))
}

pub(super) fn timestamp(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
    let a = arg(args, 0)?;
    let mut v = match a.unwrap_parens() {
        Expr::VectorSelector(vs) => ev.select_instant(vs, ts, true),
        _ => {
            let mut v = ev.eval_vector(a, ts)?;
            for s in &mut v {
                s.v = ts as f64 / 1000.0;
            }
            v
        }
    };
    for s in &mut v {
        s.drop_name = true;
    }
    Ok(StepValue::Vector(v))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn month_days(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Calendar fields of a Unix time in seconds.
struct Date {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    weekday: u32,
    yday: u32,
}

fn date(secs: f64) -> Date {
    let s = secs.floor() as i64;
    let days = s.div_euclid(86_400);
    let rem = s.rem_euclid(86_400);
    let (year, month, day) = tsdb::time::civil_from_days(days);
    let yday = (1..month).map(|m| month_days(year, m)).sum::<u32>() + day;
    Date {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: ((rem % 3600) / 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

fn date_fn(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64, f: fn(&Date) -> f64) -> R {
    let v = match args.first() {
        Some(a) => ev.eval_vector(a, ts)?,
        None => vec![Sample {
            metric: Labels::empty(),
            v: ts as f64 / 1000.0,
            h: None,
            drop_name: false,
        }],
    };
    Ok(StepValue::Vector(
        v.into_iter()
            .filter(|s| s.h.is_none())
            .map(|mut s| {
                s.v = if s.v.is_finite() {
                    f(&date(s.v))
                } else {
                    f64::NAN
                };
                s.drop_name = true;
                s
            })
            .collect(),
    ))
}

macro_rules! date_functions {
    ($($name:ident => $body:expr;)*) => {$(
        pub(super) fn $name(ev: &mut Evaluator<'_>, args: &[Expr], ts: i64) -> R {
            date_fn(ev, args, ts, $body)
        }
    )*};
}

date_functions! {
    day_of_month => |d| d.day as f64;
    day_of_week => |d| d.weekday as f64;
    day_of_year => |d| d.yday as f64;
    days_in_month => |d| month_days(d.year, d.month) as f64;
    hour => |d| d.hour as f64;
    minute => |d| d.minute as f64;
    month => |d| d.month as f64;
    year => |d| d.year as f64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        let d = date(0.0);
        assert_eq!(
            (d.year, d.month, d.day, d.weekday, d.yday),
            (1970, 1, 1, 4, 1)
        );
        // 2024-02-29T13:45:00Z
        let d = date(1_709_214_300.0);
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute),
            (2024, 2, 29, 13, 45)
        );
        assert_eq!(d.yday, 60);
        assert_eq!(month_days(2024, 2), 29);
        assert_eq!(month_days(1900, 2), 28);
        let d = date(-1.0);
        assert_eq!((d.year, d.month, d.day, d.hour), (1969, 12, 31, 23));
        assert_eq!(sgn(-3.0), -1.0);
    }
}
