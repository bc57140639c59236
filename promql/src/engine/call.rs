//! Function calls: the engine evaluates a call's arguments and hands
//! their values to the implementation in [`crate::functions`], with a
//! [`FnCtx`].

use super::Evaluator;
use crate::error::Error;
use crate::functions::{self, Custom, FnCtx, Impl, RangeFn, Window};
use crate::parser::{Expr, ValueType};
use crate::value::StepValue;

impl Evaluator<'_> {
    /// The context of a call with argument expressions `exprs` at `ts`.
    pub(super) fn fn_ctx<'a>(&'a mut self, exprs: &'a [Expr], ts: i64) -> FnCtx<'a> {
        FnCtx {
            ts,
            start: self.start,
            end: self.end,
            step: self.step,
            exprs,
            notes: &mut self.notes,
            regexes: &mut self.regexes,
        }
    }

    /// Calls function `name` on `args` at time `ts`.
    pub(crate) fn call(&mut self, name: &str, args: &[Expr], ts: i64) -> Result<StepValue, Error> {
        match functions::lookup(name)? {
            Impl::Element(f) => {
                let arg = args
                    .first()
                    .ok_or_else(|| Error::exec(format!("missing argument to {name}")))?;
                let v = self.eval_vector(arg, ts)?;
                Ok(functions::element(*f, v))
            }
            Impl::Range { f, keep_name } => self.call_range(name, (*f, *keep_name), args, ts),
            Impl::Custom(c) => self.call_custom(name, c, args, ts),
        }
    }

    /// A range function: its scalar arguments evaluated in order, then its
    /// range vector and the window that covers.
    fn call_range(
        &mut self,
        name: &str,
        how: (RangeFn, bool),
        args: &[Expr],
        ts: i64,
    ) -> Result<StepValue, Error> {
        let mut params = Vec::new();
        let mut matrix_arg = None;
        for a in args {
            if a.value_type() == ValueType::Matrix {
                matrix_arg = Some(a);
            } else {
                params.push(self.eval_scalar(a, ts)?);
            }
        }
        let arg =
            matrix_arg.ok_or_else(|| Error::exec(format!("missing range argument to {name}")))?;
        if let Expr::MatrixSelector {
            selector, range_ms, ..
        } = arg.unwrap_parens()
        {
            if selector.anchored || selector.smoothed {
                return self.extended_call(name, how, selector, *range_ms, args, ts, &params);
            }
        }
        let window = self.window_of(arg, ts);
        let StepValue::Matrix(series) = self.eval(arg, ts)? else {
            return Err(Error::exec(format!("expected range vector in {name}")));
        };
        let mut ctx = self.fn_ctx(args, ts);
        functions::range_vector(&mut ctx, name, how, series, &window, &params)
    }

    /// Any other function: its arguments evaluated in the order it asks
    /// for, each looked at by its check once evaluated.
    fn call_custom(
        &mut self,
        name: &str,
        c: &Custom,
        args: &[Expr],
        ts: i64,
    ) -> Result<StepValue, Error> {
        if name == "info" {
            let base = self.eval(&args[0], ts)?;
            let infos = match &base {
                StepValue::Vector(v) => self.info_series(args, v, ts)?,
                _ => Vec::new(),
            };
            let mut ctx = self.fn_ctx(args, ts);
            return (c.f)(&mut ctx, vec![base, StepValue::Vector(infos)]);
        }
        let n = args.len();
        let mut vals: Vec<Option<StepValue>> = (0..n).map(|_| None).collect();
        let order = if c.vector_last && n > 0 {
            (1..n).chain(0..1)
        } else {
            (0..n).chain(0..0)
        };
        for i in order {
            let v = self.eval_arg(name, &args[i], ts)?;
            vals[i] = Some(v);
            if let Some(check) = c.check {
                let mut ctx = self.fn_ctx(args, ts);
                if let Some(r) = check(&mut ctx, i, &vals)? {
                    return Ok(r);
                }
            }
        }
        let vals = vals.into_iter().flatten().collect();
        let mut ctx = self.fn_ctx(args, ts);
        (c.f)(&mut ctx, vals)
    }

    /// The value of argument `a` of function `name`: a selector given to
    /// `timestamp` yields the times of its samples (seconds) as values.
    fn eval_arg(&mut self, name: &str, a: &Expr, ts: i64) -> Result<StepValue, Error> {
        match a.unwrap_parens() {
            Expr::VectorSelector(vs) if name == "timestamp" => {
                Ok(StepValue::Vector(self.select_instant(vs, ts, true)))
            }
            _ => self.eval(a, ts),
        }
    }

    /// The window covered by a range-vector argument evaluated at `ts`.
    fn window_of(&self, arg: &Expr, ts: i64) -> Window {
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
        let end = self.effective_time(at, offset, ts);
        Window {
            start: end.saturating_sub(range),
            end,
            ts,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::stats_tests::store;
    use crate::{Engine, Value};

    #[test]
    fn parameters_are_checked_before_the_vector_is_evaluated() {
        let e = Engine::default();
        let s = store();
        // an empty clamp range: the vector is not evaluated at all
        let r = e.instant_query(&s, "clamp(up, 2, 1)", 120_000).unwrap();
        assert_eq!(r.value, Value::Vector(Vec::new()));
        assert_eq!(r.stats.total_samples, 0);
        let r = e.instant_query(&s, "clamp(up, 1, 2)", 120_000).unwrap();
        assert_eq!(r.stats.total_samples, 2);
        // `up + on() up` fails (many-to-many matching): the parameters'
        // errors come first
        let err = e
            .instant_query(&s, r#"label_replace(up + on() up, "d", "", "s", "(")"#, 0)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid regular expression in label_replace(): (:"),
            "{err}"
        );
        let err = e
            .instant_query(&s, r#"label_join(up + on() up, "d", ",", "a", "")"#, 0)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid source label name in label_join(): "
        );
        let err = e
            .instant_query(&s, "clamp_max(up + on() up, 1)", 0)
            .unwrap_err();
        assert!(
            err.to_string().starts_with("found duplicate series"),
            "{err}"
        );
    }

    #[test]
    fn timestamp_of_a_selector_is_its_samples_time() {
        let e = Engine::default();
        let s = store();
        let Value::Vector(v) = e.instant_query(&s, "timestamp(up)", 150_000).unwrap().value else {
            panic!("vector expected")
        };
        assert_eq!(v.len(), 2);
        assert!(v
            .iter()
            .all(|x| x.v == 120.0 && x.metric.get("__name__").is_none()));
        let Value::Vector(v) = e
            .instant_query(&s, "timestamp(up * 1)", 150_000)
            .unwrap()
            .value
        else {
            panic!("vector expected")
        };
        assert!(v.iter().all(|x| x.v == 150.0));
    }
}
