//! Element-wise math with parameters, scalar/vector conversion, time and
//! calendar functions.

use tsdb::labels::Labels;

use super::{evaluated, scalar, take_vector, FnCtx};
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
fn map_vector(mut args: Vec<StepValue>, f: impl Fn(f64) -> f64) -> R {
    let mut v = take_vector(&mut args, 0)?;
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

/// `clamp` of a range below its lower end: empty, without evaluating the
/// vector.
pub(super) fn clamp_check(
    _: &mut FnCtx<'_>,
    i: usize,
    args: &[Option<StepValue>],
) -> Result<Option<StepValue>, Error> {
    match (evaluated(args, 1), evaluated(args, 2)) {
        (Some(StepValue::Scalar(lo)), Some(StepValue::Scalar(hi))) if i == 2 && lo > hi => {
            Ok(Some(StepValue::Vector(Vec::new())))
        }
        _ => Ok(None),
    }
}

pub(super) fn clamp(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    let lo = scalar(&args, 1)?;
    let hi = scalar(&args, 2)?;
    if lo > hi {
        return Ok(StepValue::Vector(Vec::new()));
    }
    map_vector(args, |v| go_min(go_max(v, lo), hi))
}

pub(super) fn clamp_max(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    let hi = scalar(&args, 1)?;
    map_vector(args, |v| go_min(v, hi))
}

pub(super) fn clamp_min(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    let lo = scalar(&args, 1)?;
    map_vector(args, |v| go_max(v, lo))
}

pub(super) fn round(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    let to = match args.get(1) {
        Some(_) => scalar(&args, 1)?,
        None => 1.0,
    };
    let inv = 1.0 / to;
    map_vector(args, |v| (v * inv + 0.5).floor() / inv)
}

pub(super) fn scalar_fn(_: &mut FnCtx<'_>, mut args: Vec<StepValue>) -> R {
    let v = take_vector(&mut args, 0)?;
    let floats: Vec<f64> = v.iter().filter(|s| s.h.is_none()).map(|s| s.v).collect();
    Ok(StepValue::Scalar(if floats.len() == 1 {
        floats[0]
    } else {
        f64::NAN
    }))
}

pub(super) fn vector(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    let v = scalar(&args, 0)?;
    Ok(StepValue::Vector(vec![Sample {
        metric: Labels::empty(),
        v,
        h: None,
        drop_name: false,
    }]))
}

pub(super) fn time(ctx: &mut FnCtx<'_>, _: Vec<StepValue>) -> R {
    Ok(StepValue::Scalar(ctx.ts as f64 / 1000.0))
}

pub(super) fn pi(_: &mut FnCtx<'_>, _: Vec<StepValue>) -> R {
    Ok(StepValue::Scalar(std::f64::consts::PI))
}

pub(super) fn start(ctx: &mut FnCtx<'_>, _: Vec<StepValue>) -> R {
    Ok(StepValue::Scalar(ctx.start as f64 / 1000.0))
}

pub(super) fn end(ctx: &mut FnCtx<'_>, _: Vec<StepValue>) -> R {
    Ok(StepValue::Scalar(ctx.end as f64 / 1000.0))
}

pub(super) fn range(ctx: &mut FnCtx<'_>, _: Vec<StepValue>) -> R {
    Ok(StepValue::Scalar((ctx.end - ctx.start) as f64 / 1000.0))
}

pub(super) fn step(ctx: &mut FnCtx<'_>, _: Vec<StepValue>) -> R {
    Ok(StepValue::Scalar(ctx.step as f64 / 1000.0))
}

fn two_scalars(args: &[StepValue]) -> Result<(f64, f64), Error> {
    Ok((scalar(args, 0)?, scalar(args, 1)?))
}

pub(super) fn min_of(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    let (a, b) = two_scalars(&args)?;
    Ok(StepValue::Scalar(if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }))
}

pub(super) fn max_of(_: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
    let (a, b) = two_scalars(&args)?;
    Ok(StepValue::Scalar(if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }))
}

/// `timestamp(v)`: the engine evaluates a selector argument with the
/// timestamps of its samples as values; any other argument's elements
/// get the evaluation time.
pub(super) fn timestamp(ctx: &mut FnCtx<'_>, mut args: Vec<StepValue>) -> R {
    let selector = matches!(
        ctx.exprs.first().map(Expr::unwrap_parens),
        Some(Expr::VectorSelector(_))
    );
    let mut v = take_vector(&mut args, 0)?;
    for s in &mut v {
        if !selector {
            s.v = ctx.ts as f64 / 1000.0;
        }
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

fn date_fn(ctx: &FnCtx<'_>, mut args: Vec<StepValue>, f: fn(&Date) -> f64) -> R {
    let v = if args.is_empty() {
        vec![Sample {
            metric: Labels::empty(),
            v: ctx.ts as f64 / 1000.0,
            h: None,
            drop_name: false,
        }]
    } else {
        take_vector(&mut args, 0)?
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
        pub(super) fn $name(ctx: &mut FnCtx<'_>, args: Vec<StepValue>) -> R {
            date_fn(ctx, args, $body)
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
