//! Function implementations and the name → implementation table.

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

use crate::engine::Evaluator;
use crate::error::Error;
use crate::parser::{Expr, ValueType};
use crate::value::{Sample, StepValue};

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

/// A function over one series' samples in a window and scalar arguments.
pub(crate) type RangeFn = fn(&[(i64, f64)], &Window, &[f64]) -> Option<f64>;
/// A function applied to each element of an instant vector.
type ElementFn = fn(f64) -> f64;
/// Any other function.
type CustomFn = fn(&mut Evaluator<'_>, &[Expr], i64) -> Result<StepValue, Error>;

pub(crate) enum Impl {
    /// Takes one range vector (and scalars); `keep_name` keeps `__name__`.
    Range { f: RangeFn, keep_name: bool },
    /// Element-wise on the single instant-vector argument; drops `__name__`.
    Element(ElementFn),
    /// Evaluates its own arguments.
    Custom(CustomFn),
}

use Impl::{Custom, Element};

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
    ("absent", Custom(label::absent)),
    ("absent_over_time", Custom(label::absent_over_time)),
    ("acos", Element(f64::acos)),
    ("acosh", Element(f64::acosh)),
    ("asin", Element(f64::asin)),
    ("asinh", Element(f64::asinh)),
    ("atan", Element(f64::atan)),
    ("atanh", Element(f64::atanh)),
    ("avg_over_time", range(over_time::avg)),
    ("ceil", Element(f64::ceil)),
    ("changes", range(over_time::changes)),
    ("clamp", Custom(math::clamp)),
    ("clamp_max", Custom(math::clamp_max)),
    ("clamp_min", Custom(math::clamp_min)),
    ("cos", Element(f64::cos)),
    ("cosh", Element(f64::cosh)),
    ("count_over_time", range(over_time::count)),
    ("day_of_month", Custom(math::day_of_month)),
    ("day_of_week", Custom(math::day_of_week)),
    ("day_of_year", Custom(math::day_of_year)),
    ("days_in_month", Custom(math::days_in_month)),
    ("deg", Element(f64::to_degrees)),
    ("delta", range(rate::delta)),
    ("deriv", range(over_time::deriv)),
    (
        "double_exponential_smoothing",
        range(over_time::double_exponential_smoothing),
    ),
    ("end", Custom(math::end)),
    ("exp", Element(f64::exp)),
    (
        "first_over_time",
        Impl::Range {
            f: over_time::first,
            keep_name: true,
        },
    ),
    ("floor", Element(f64::floor)),
    ("histogram_avg", Custom(native::histogram_avg)),
    ("histogram_count", Custom(native::histogram_count)),
    (
        "histogram_fraction",
        Custom(histogram_more::histogram_fraction),
    ),
    ("histogram_quantile", Custom(histogram::histogram_quantile)),
    (
        "histogram_quantiles",
        Custom(histogram_more::histogram_quantiles),
    ),
    ("histogram_stddev", Custom(native::histogram_stddev)),
    ("histogram_stdvar", Custom(native::histogram_stdvar)),
    ("histogram_sum", Custom(native::histogram_sum)),
    ("hour", Custom(math::hour)),
    ("idelta", range(rate::idelta)),
    ("increase", range(rate::increase)),
    ("info", Custom(info::info)),
    ("irate", range(rate::irate)),
    ("label_join", Custom(label::label_join)),
    ("label_replace", Custom(label::label_replace)),
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
    ("max_of", Custom(math::max_of)),
    ("max_over_time", range(over_time::max)),
    ("min_of", Custom(math::min_of)),
    ("min_over_time", range(over_time::min)),
    ("minute", Custom(math::minute)),
    ("month", Custom(math::month)),
    ("pi", Custom(math::pi)),
    ("predict_linear", range(over_time::predict_linear)),
    ("present_over_time", range(over_time::present)),
    ("quantile_over_time", range(over_time::quantile)),
    ("rad", Element(f64::to_radians)),
    ("range", Custom(math::range)),
    ("rate", range(rate::rate)),
    ("resets", range(over_time::resets)),
    ("round", Custom(math::round)),
    ("scalar", Custom(math::scalar)),
    ("sgn", Element(math::sgn)),
    ("sin", Element(f64::sin)),
    ("sinh", Element(f64::sinh)),
    ("sort", Custom(label::sort)),
    ("sort_by_label", Custom(label::sort_by_label)),
    ("sort_by_label_desc", Custom(label::sort_by_label_desc)),
    ("sort_desc", Custom(label::sort_desc)),
    ("sqrt", Element(f64::sqrt)),
    ("start", Custom(math::start)),
    ("stddev_over_time", range(over_time::stddev)),
    ("stdvar_over_time", range(over_time::stdvar)),
    ("step", Custom(math::step)),
    ("sum_over_time", range(over_time::sum)),
    ("tan", Element(f64::tan)),
    ("tanh", Element(f64::tanh)),
    ("time", Custom(math::time)),
    ("timestamp", Custom(math::timestamp)),
    ("ts_of_first_over_time", range(over_time::ts_of_first)),
    ("ts_of_last_over_time", range(over_time::ts_of_last)),
    ("ts_of_max_over_time", range(over_time::ts_of_max)),
    ("ts_of_min_over_time", range(over_time::ts_of_min)),
    ("vector", Custom(math::vector)),
    ("year", Custom(math::year)),
];

/// Calls function `name` on `args` at time `ts`.
pub(crate) fn call(
    ev: &mut Evaluator<'_>,
    name: &str,
    args: &[Expr],
    ts: i64,
) -> Result<StepValue, Error> {
    let Some((_, imp)) = IMPLS.iter().find(|(n, _)| *n == name) else {
        return Err(Error::exec(format!(
            "unknown function with name \"{name}\""
        )));
    };
    match imp {
        Impl::Custom(f) => f(ev, args, ts),
        Impl::Element(f) => {
            let arg = args
                .first()
                .ok_or_else(|| Error::exec(format!("missing argument to {name}")))?;
            let mut v = ev.eval_vector(arg, ts)?;
            v.retain(|s| s.h.is_none());
            for s in &mut v {
                s.v = f(s.v);
                s.drop_name = true;
            }
            Ok(StepValue::Vector(v))
        }
        Impl::Range { f, keep_name } => {
            let mut params = Vec::new();
            let mut matrix_arg = None;
            for a in args {
                if a.value_type() == ValueType::Matrix {
                    matrix_arg = Some(a);
                } else {
                    params.push(ev.eval_scalar(a, ts)?);
                }
            }
            let arg = matrix_arg
                .ok_or_else(|| Error::exec(format!("missing range argument to {name}")))?;
            if let Expr::MatrixSelector {
                selector, range_ms, ..
            } = arg.unwrap_parens()
            {
                if selector.anchored || selector.smoothed {
                    return extended_call(
                        ev, name, selector, *range_ms, ts, *f, *keep_name, &params,
                    );
                }
            }
            let window = window_of(ev, arg, ts);
            let StepValue::Matrix(series) = ev.eval(arg, ts)? else {
                return Err(Error::exec(format!("expected range vector in {name}")));
            };
            if !series.is_empty() {
                check_params(ev, name, &params)?;
            }
            let mut out = Vec::with_capacity(series.len());
            for s in series {
                if !s.hpoints.is_empty() {
                    let metric_name = s.metric.get(tsdb::labels::METRIC_NAME).unwrap_or("");
                    match native::range_call(ev, name, metric_name, &s.points, &s.hpoints, &window)
                    {
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
                if let Some(v) = f(&s.points, &window, &params) {
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
    }
}

/// A range function over an anchored or smoothed range selector; only
/// the functions Prometheus allows with each modifier.
#[allow(clippy::too_many_arguments)]
fn extended_call(
    ev: &mut Evaluator<'_>,
    name: &str,
    vs: &crate::parser::VectorSelector,
    range_ms: i64,
    ts: i64,
    f: RangeFn,
    keep_name: bool,
    params: &[f64],
) -> Result<StepValue, Error> {
    let (word, allowed) = if vs.smoothed {
        ("smoothed", extended::SMOOTHED_FUNCS)
    } else {
        ("anchored", extended::ANCHORED_FUNCS)
    };
    if !allowed.contains(&name) {
        return Err(Error::exec(format!(
            "{word} modifier can only be used with: {} - not with {name}",
            allowed.join(", ")
        )));
    }
    let (start, end, series) = ev.select_extended(vs, range_ms, ts)?;
    let window = Window { start, end, ts };
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        if !s.hpoints.is_empty() {
            let metric_name = s
                .metric
                .get(tsdb::labels::METRIC_NAME)
                .unwrap_or("")
                .to_string();
            let mut notes = extended_hist::Notes::new(&metric_name);
            let r = match name {
                "rate" | "increase" | "delta" if !s.points.is_empty() => {
                    notes.warnings.push(format!(
                        "PromQL warning: encountered a mix of histograms and floats for metric name \"{metric_name}\""
                    ));
                    None
                }
                "rate" | "increase" | "delta" => extended_hist::rate(
                    &s.hpoints,
                    start,
                    end,
                    vs.smoothed,
                    name != "delta",
                    name == "rate",
                    &mut notes,
                )
                .map(|h| (0.0, Some(std::sync::Arc::new(h)))),
                _ => {
                    // changes and resets from the anchor on, floats and
                    // histograms together
                    let anchor = s
                        .points
                        .iter()
                        .map(|p| p.0)
                        .chain(s.hpoints.iter().map(|h| h.0))
                        .filter(|t| *t <= start)
                        .max()
                        .unwrap_or(i64::MIN);
                    let after = s.points.iter().any(|p| p.0 > start)
                        || s.hpoints.iter().any(|h| h.0 > start);
                    let pts: Vec<(i64, f64)> =
                        s.points.iter().copied().filter(|p| p.0 >= anchor).collect();
                    let hps: Vec<_> = s
                        .hpoints
                        .iter()
                        .filter(|h| h.0 >= anchor)
                        .cloned()
                        .collect();
                    if !after {
                        None
                    } else {
                        match native::range_call(ev, name, &metric_name, &pts, &hps, &window) {
                            native::RangeOut::Done(r) => r,
                            native::RangeOut::Floats => f(&pts, &window, params).map(|v| (v, None)),
                        }
                    }
                }
            };
            notes.flush(ev);
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
        let v = match name {
            "rate" | "increase" | "delta" => extended::rate(
                &s.points,
                start,
                end,
                vs.smoothed,
                name != "delta",
                name == "rate",
            ),
            _ => match extended::anchored_points(&s.points, start) {
                [] => None,
                points => f(points, &window, params),
            },
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
fn check_params(ev: &mut Evaluator<'_>, name: &str, params: &[f64]) -> Result<(), Error> {
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
                ev.warn(format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    crate::engine::format_value(q)
                ));
            }
        }
    }
    Ok(())
}

/// The window covered by a range-vector argument evaluated at `ts`.
fn window_of(ev: &Evaluator<'_>, arg: &Expr, ts: i64) -> Window {
    let (at, offset, range) = match arg.unwrap_parens() {
        Expr::MatrixSelector {
            selector, range_ms, ..
        } => (selector.at, selector.offset_ms, *range_ms),
        Expr::Subquery {
            at,
            offset_ms,
            range_ms,
            ..
        } => (*at, *offset_ms, *range_ms),
        _ => (None, 0, 0),
    };
    let end = ev.effective_time(at, offset, ts);
    Window {
        start: end.saturating_sub(range),
        end,
        ts,
    }
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
