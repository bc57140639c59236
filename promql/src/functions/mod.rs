//! Function implementations and the name → implementation table.
//!
//! Functions compute: the engine (`engine/call.rs`) evaluates their
//! arguments and calls them with the values and a [`FnCtx`] (the
//! evaluation time, the query's range, the arguments' syntax to read,
//! where annotations go). Range functions get the matrix and the
//! [`Window`] it covers. A [`Custom`] function says in which order its
//! arguments are evaluated and may check each once it is, so that a bad
//! parameter is reported before the vector is evaluated, and `clamp` over
//! an empty range does not evaluate the vector at all.

pub(crate) mod extended;
pub(crate) mod extended_hist;
mod histogram;
mod histogram_more;
pub(crate) mod info;
mod label;
mod math;
mod native;

pub(crate) use native::{sum_histograms, sum_notes, SumNotes};
mod over_time;
pub(crate) mod rate;

use std::collections::HashMap;

use regex::Regex;

use crate::error::Error;
use crate::parser::Expr;
use crate::value::{Sample, Series, StepValue};

/// The warning and info annotations of a query, each kept once, in the
/// order first reported.
#[derive(Default)]
pub(crate) struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Annotations {
    pub(crate) fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    pub(crate) fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }
}

/// Regular expressions of function arguments compiled during a query, by
/// their source (a query's steps use the same ones again).
#[derive(Default)]
pub(crate) struct Regexes(HashMap<String, Regex>);

impl Regexes {
    /// `src` compiled, as by [`Regex::new`].
    fn get(&mut self, src: &str) -> Result<Regex, regex::Error> {
        if let Some(re) = self.0.get(src) {
            return Ok(re.clone());
        }
        let re = Regex::new(src)?;
        self.0.insert(src.to_string(), re.clone());
        Ok(re)
    }
}

/// What a function sees besides its argument values.
pub(crate) struct FnCtx<'a> {
    /// The evaluation time (ms).
    pub ts: i64,
    /// Start and end of the query range (equal for instant queries), ms.
    pub start: i64,
    pub end: i64,
    /// The step of a range query (0 for instant queries), ms.
    pub step: i64,
    /// The argument expressions of the call, to read (not evaluate): the
    /// matchers of the selectors of `absent*` and `info`, whether
    /// `timestamp`'s argument is a selector.
    pub exprs: &'a [Expr],
    /// Where warnings and infos go.
    pub notes: &'a mut Annotations,
    /// The query's compiled regular expressions (`label_replace`).
    pub regexes: &'a mut Regexes,
}

/// The window a range-vector argument covers: samples in `(start, end]`.
pub(crate) struct Window {
    pub start: i64,
    pub end: i64,
    /// The evaluation time of the enclosing step.
    pub ts: i64,
}

impl Window {
    fn range_secs(&self) -> f64 {
        (self.end - self.start) as f64 / 1000.0
    }
}

type R = Result<StepValue, Error>;

/// A function over one series' samples in a window and scalar arguments.
pub(crate) type RangeFn = fn(&[(i64, f64)], &Window, &[f64]) -> Option<f64>;
/// A function applied to each element of an instant vector.
type ElementFn = fn(f64) -> f64;
/// Any other function, on its evaluated arguments in written order.
type CustomFn = fn(&mut FnCtx<'_>, Vec<StepValue>) -> R;
/// Looks at the arguments evaluated so far (by position), once the one
/// at the given position is: fails, or gives the call's result without
/// evaluating the others (`Some`), or lets evaluation go on (`None`).
type CheckFn = fn(&mut FnCtx<'_>, usize, &[Option<StepValue>]) -> Result<Option<StepValue>, Error>;

pub(crate) enum Impl {
    /// Takes one range vector (and scalars); `keep_name` keeps `__name__`.
    Range { f: RangeFn, keep_name: bool },
    /// Element-wise on the single instant-vector argument; drops `__name__`.
    Element(ElementFn),
    /// Any other function.
    Custom(Custom),
}

/// A function on its evaluated arguments, and how they are evaluated.
pub(crate) struct Custom {
    pub f: CustomFn,
    /// Whether the first argument (the instant vector) is evaluated after
    /// the others (its parameters), instead of all in written order.
    pub vector_last: bool,
    /// Run after each argument is evaluated.
    pub check: Option<CheckFn>,
}

/// A function whose arguments are evaluated in written order.
const fn custom(f: CustomFn) -> Impl {
    Impl::Custom(Custom {
        f,
        vector_last: false,
        check: None,
    })
}

/// A function whose first argument, the instant vector, is evaluated after
/// its parameters, which `check` may look at first.
const fn vector_last(f: CustomFn, check: Option<CheckFn>) -> Impl {
    Impl::Custom(Custom {
        f,
        vector_last: true,
        check,
    })
}

use Impl::Element;

const fn range(f: RangeFn) -> Impl {
    Impl::Range {
        f,
        keep_name: false,
    }
}

/// Every implemented function; must list the same names as the signature
/// table of the parser.
pub(crate) static IMPLS: &[(&str, Impl)] = &[
    ("abs", Element(f64::abs)),
    ("absent", custom(label::absent)),
    ("absent_over_time", custom(label::absent_over_time)),
    ("acos", Element(f64::acos)),
    ("acosh", Element(f64::acosh)),
    ("asin", Element(f64::asin)),
    ("asinh", Element(f64::asinh)),
    ("atan", Element(f64::atan)),
    ("atanh", Element(f64::atanh)),
    ("avg_over_time", range(over_time::avg)),
    ("ceil", Element(f64::ceil)),
    ("changes", range(over_time::changes)),
    ("clamp", vector_last(math::clamp, Some(math::clamp_check))),
    ("clamp_max", vector_last(math::clamp_max, None)),
    ("clamp_min", vector_last(math::clamp_min, None)),
    ("cos", Element(f64::cos)),
    ("cosh", Element(f64::cosh)),
    ("count_over_time", range(over_time::count)),
    ("day_of_month", custom(math::day_of_month)),
    ("day_of_week", custom(math::day_of_week)),
    ("day_of_year", custom(math::day_of_year)),
    ("days_in_month", custom(math::days_in_month)),
    ("deg", Element(f64::to_degrees)),
    ("delta", range(rate::delta)),
    ("deriv", range(over_time::deriv)),
    (
        "double_exponential_smoothing",
        range(over_time::double_exponential_smoothing),
    ),
    ("end", custom(math::end)),
    ("exp", Element(f64::exp)),
    (
        "first_over_time",
        Impl::Range {
            f: over_time::first,
            keep_name: true,
        },
    ),
    ("floor", Element(f64::floor)),
    ("histogram_avg", custom(native::histogram_avg)),
    ("histogram_count", custom(native::histogram_count)),
    (
        "histogram_fraction",
        custom(histogram_more::histogram_fraction),
    ),
    ("histogram_quantile", custom(histogram::histogram_quantile)),
    (
        "histogram_quantiles",
        Impl::Custom(Custom {
            f: histogram_more::histogram_quantiles,
            vector_last: false,
            check: Some(histogram_more::check_quantiles),
        }),
    ),
    ("histogram_stddev", custom(native::histogram_stddev)),
    ("histogram_stdvar", custom(native::histogram_stdvar)),
    ("histogram_sum", custom(native::histogram_sum)),
    ("hour", custom(math::hour)),
    ("idelta", range(rate::idelta)),
    ("increase", range(rate::increase)),
    ("info", custom(info::info)),
    ("irate", range(rate::irate)),
    (
        "label_join",
        vector_last(label::label_join, Some(label::label_join_check)),
    ),
    (
        "label_replace",
        vector_last(label::label_replace, Some(label::label_replace_check)),
    ),
    (
        "last_over_time",
        Impl::Range {
            f: over_time::last,
            keep_name: true,
        },
    ),
    ("ln", Element(f64::ln)),
    ("log10", Element(f64::log10)),
    ("log2", Element(f64::log2)),
    ("mad_over_time", range(over_time::mad)),
    ("max_of", custom(math::max_of)),
    ("max_over_time", range(over_time::max)),
    ("min_of", custom(math::min_of)),
    ("min_over_time", range(over_time::min)),
    ("minute", custom(math::minute)),
    ("month", custom(math::month)),
    ("pi", custom(math::pi)),
    ("predict_linear", range(over_time::predict_linear)),
    ("present_over_time", range(over_time::present)),
    ("quantile_over_time", range(over_time::quantile)),
    ("rad", Element(f64::to_radians)),
    ("range", custom(math::range)),
    ("rate", range(rate::rate)),
    ("resets", range(over_time::resets)),
    ("round", vector_last(math::round, None)),
    ("scalar", custom(math::scalar_fn)),
    ("sgn", Element(math::sgn)),
    ("sin", Element(f64::sin)),
    ("sinh", Element(f64::sinh)),
    ("sort", custom(label::sort)),
    ("sort_by_label", vector_last(label::sort_by_label, None)),
    (
        "sort_by_label_desc",
        vector_last(label::sort_by_label_desc, None),
    ),
    ("sort_desc", custom(label::sort_desc)),
    ("sqrt", Element(f64::sqrt)),
    ("start", custom(math::start)),
    ("stddev_over_time", range(over_time::stddev)),
    ("stdvar_over_time", range(over_time::stdvar)),
    ("step", custom(math::step)),
    ("sum_over_time", range(over_time::sum)),
    ("tan", Element(f64::tan)),
    ("tanh", Element(f64::tanh)),
    ("time", custom(math::time)),
    ("timestamp", custom(math::timestamp)),
    ("ts_of_first_over_time", range(over_time::ts_of_first)),
    ("ts_of_last_over_time", range(over_time::ts_of_last)),
    ("ts_of_max_over_time", range(over_time::ts_of_max)),
    ("ts_of_min_over_time", range(over_time::ts_of_min)),
    ("vector", custom(math::vector)),
    ("year", custom(math::year)),
];

/// The implementation of function `name`.
pub(crate) fn lookup(name: &str) -> Result<&'static Impl, Error> {
    match IMPLS.iter().find(|(n, _)| *n == name) {
        Some((_, imp)) => Ok(imp),
        None => Err(Error::exec(format!(
            "unknown function with name \"{name}\""
        ))),
    }
}

/// The scalar argument at `i`.
fn scalar(args: &[StepValue], i: usize) -> Result<f64, Error> {
    match args.get(i) {
        Some(StepValue::Scalar(v)) => Ok(*v),
        Some(_) => Err(Error::exec("expected a scalar expression")),
        None => Err(Error::exec("missing function argument")),
    }
}

/// The string argument at `i`.
fn string(args: &[StepValue], i: usize) -> Result<&str, Error> {
    match args.get(i) {
        Some(StepValue::String(v)) => Ok(v),
        Some(_) => Err(Error::exec("expected a string expression")),
        None => Err(Error::exec("missing function argument")),
    }
}

/// The instant-vector argument at `i`, taken out of `args`.
fn take_vector(args: &mut [StepValue], i: usize) -> Result<Vec<Sample>, Error> {
    match args.get_mut(i) {
        Some(StepValue::Vector(v)) => Ok(std::mem::take(v)),
        Some(_) => Err(Error::exec("expected an instant vector expression")),
        None => Err(Error::exec("missing function argument")),
    }
}

/// The argument at `i` of those evaluated so far, if it is evaluated.
fn evaluated(args: &[Option<StepValue>], i: usize) -> Option<&StepValue> {
    args.get(i).and_then(Option::as_ref)
}

/// An element-wise function on an evaluated instant vector.
pub(crate) fn element(f: ElementFn, mut v: Vec<Sample>) -> StepValue {
    v.retain(|s| s.h.is_none());
    for s in &mut v {
        s.v = f(s.v);
        s.drop_name = true;
    }
    StepValue::Vector(v)
}

/// Range function `name` (`f`, `keep_name`) over the evaluated range
/// vector `series` covering `window`, with scalar arguments `params`.
pub(crate) fn range_vector(
    ctx: &mut FnCtx<'_>,
    name: &str,
    (f, keep_name): (RangeFn, bool),
    series: Vec<Series>,
    window: &Window,
    params: &[f64],
) -> R {
    if !series.is_empty() {
        check_params(ctx.notes, name, params)?;
    }
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        if !s.hpoints.is_empty() {
            let metric_name = s.metric.get(tsdb::labels::METRIC_NAME).unwrap_or("");
            match native::range_call(ctx.notes, name, metric_name, &s.points, &s.hpoints, window) {
                native::RangeOut::Floats => {}
                native::RangeOut::Done(r) => {
                    if let Some((v, h)) = r {
                        out.push(Sample {
                            metric: s.metric,
                            v,
                            h,
                            drop_name: s.drop_name || !keep_name,
                        });
                    }
                    continue;
                }
            }
        }
        if let Some(v) = f(&s.points, window, params) {
            out.push(Sample {
                metric: s.metric,
                v,
                h: None,
                drop_name: s.drop_name || !keep_name,
            });
        }
    }
    Ok(StepValue::Vector(out))
}

/// Whether range function `name` over an anchored or smoothed range takes
/// the range's boundary values (else the samples from the anchor on).
pub(crate) fn takes_boundaries(name: &str) -> bool {
    matches!(name, "rate" | "increase" | "delta")
}

/// Range function `name` (`f`, `keep_name`) over an anchored or smoothed
/// (`smoothed`) range `window`: per series of `series` the samples of the
/// range widened by the lookback delta for the functions that
/// [take its boundaries](takes_boundaries), those from the anchor on for
/// the others (series without samples after the range start left out).
pub(crate) fn extended_vector(
    ctx: &mut FnCtx<'_>,
    name: &str,
    (f, keep_name): (RangeFn, bool),
    series: Vec<Series>,
    window: &Window,
    smoothed: bool,
    params: &[f64],
) -> R {
    let (start, end) = (window.start, window.end);
    let boundaries = takes_boundaries(name);
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        if !s.hpoints.is_empty() {
            let metric_name = s
                .metric
                .get(tsdb::labels::METRIC_NAME)
                .unwrap_or("")
                .to_string();
            let mut notes = extended_hist::Notes::new(&metric_name);
            let r = if boundaries && !s.points.is_empty() {
                notes.warnings.push(format!(
                    "PromQL warning: encountered a mix of histograms and floats for metric name \"{metric_name}\""
                ));
                None
            } else if boundaries {
                extended_hist::rate(
                    &s.hpoints,
                    start,
                    end,
                    smoothed,
                    name != "delta",
                    name == "rate",
                    &mut notes,
                )
                .map(|h| (0.0, Some(std::sync::Arc::new(h))))
            } else {
                match native::range_call(
                    ctx.notes,
                    name,
                    &metric_name,
                    &s.points,
                    &s.hpoints,
                    window,
                ) {
                    native::RangeOut::Done(r) => r,
                    native::RangeOut::Floats => f(&s.points, window, params).map(|v| (v, None)),
                }
            };
            notes.flush(ctx.notes);
            if let Some((v, h)) = r {
                out.push(Sample {
                    metric: s.metric,
                    v,
                    h,
                    drop_name: s.drop_name || !keep_name,
                });
            }
            continue;
        }
        let v = if boundaries {
            extended::rate(
                &s.points,
                start,
                end,
                smoothed,
                name != "delta",
                name == "rate",
            )
        } else if s.points.is_empty() {
            None
        } else {
            f(&s.points, window, params)
        };
        if let Some(v) = v {
            out.push(Sample {
                metric: s.metric,
                v,
                h: None,
                drop_name: s.drop_name || !keep_name,
            });
        }
    }
    Ok(StepValue::Vector(out))
}

/// Validates the scalar arguments of a range function: warnings for
/// doubtful values, errors for invalid ones (as Prometheus, only when
/// there is a series to apply the function to).
fn check_params(notes: &mut Annotations, name: &str, params: &[f64]) -> Result<(), Error> {
    if name == "double_exponential_smoothing" {
        for (v, what, short) in [
            (params.first(), "smoothing", "sf"),
            (params.get(1), "trend", "tf"),
        ] {
            if let Some(&v) = v {
                if v <= 0.0 || v >= 1.0 || v.is_nan() {
                    return Err(Error::exec(format!(
                        "invalid {what} factor. Expected: 0 < {short} < 1, got: {v:.6}"
                    )));
                }
            }
        }
    }
    if name == "quantile_over_time" {
        if let Some(&q) = params.first() {
            if !(0.0..=1.0).contains(&q) {
                notes.warn(format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    crate::engine::format_value(q)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implementation_table_matches_signatures() {
        let impls: Vec<&str> = IMPLS.iter().map(|(n, _)| *n).collect();
        let sigs: Vec<&str> = crate::parser::functions::FUNCTIONS
            .iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(impls, sigs);
    }
}
