//! Evaluation of an expression at one time step.

use std::collections::HashMap;

use tsdb::labels::Labels;

use super::selector::{hwindow, key, latest_any, window, LoadedSeries};
use super::Evaluator;
use crate::error::Error;
use crate::parser::{Expr, UnaryOp, VectorSelector};
use crate::value::{Sample, Series, StepValue};

impl Evaluator<'_> {
    /// The series loaded for a selector evaluated step by step.
    pub(super) fn loaded(&self, vs: &VectorSelector) -> Option<&Vec<LoadedSeries<'_>>> {
        debug_assert!(
            !self.consumed.contains(&key(vs)),
            "a selector whose samples were dropped is read"
        );
        self.data.get(&key(vs))
    }

    /// Evaluates `e` at time `ts` (milliseconds).
    pub(crate) fn eval(&mut self, e: &Expr, ts: i64) -> Result<StepValue, Error> {
        if !self.pre.is_empty() {
            if let Some(v) = self.take_pre(e, ts)? {
                return Ok(v);
            }
        }
        match e {
            Expr::NumberLiteral(v) => Ok(StepValue::Scalar(*v)),
            Expr::StringLiteral(s) => Ok(StepValue::String(s.clone())),
            Expr::Paren(e) => self.eval(e, ts),
            Expr::VectorSelector(vs) if vs.smoothed => {
                Ok(StepValue::Vector(self.select_smoothed(vs, ts)))
            }
            Expr::VectorSelector(vs) => Ok(StepValue::Vector(self.select_instant(vs, ts, false))),
            Expr::MatrixSelector {
                selector, range_ms, ..
            } if selector.anchored || selector.smoothed => {
                self.select_extended_range(selector, *range_ms, ts)
            }
            Expr::MatrixSelector {
                selector, range_ms, ..
            } => Ok(StepValue::Matrix(
                self.select_range(selector, *range_ms, ts)?,
            )),
            Expr::Subquery {
                expr,
                range_ms,
                step_ms,
                offset_ms,
                at,
                ..
            } => {
                let t = self.effective_time(*at, *offset_ms, ts);
                let step = step_ms.unwrap_or(self.subquery_step_ms).max(1);
                Ok(StepValue::Matrix(self.subquery(expr, t, *range_ms, step)?))
            }
            Expr::Unary { op, expr } => {
                let v = self.eval(expr, ts)?;
                Ok(match (op, v) {
                    (UnaryOp::Pos, v) => v,
                    (UnaryOp::Neg, StepValue::Scalar(v)) => StepValue::Scalar(-v),
                    (UnaryOp::Neg, StepValue::Vector(mut v)) => {
                        for s in &mut v {
                            s.v = -s.v;
                            if let Some(h) = &s.h {
                                let mut h = (**h).clone();
                                h.mul(-1.0);
                                s.h = Some(std::sync::Arc::new(h));
                            }
                            s.drop_name = true;
                        }
                        StepValue::Vector(v)
                    }
                    (_, v) => v,
                })
            }
            Expr::Call { func, args } => self.call(func, args, ts),
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
            } => self.aggregate(*op, expr, param.as_deref(), grouping, *without, ts),
            Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => self.binary(*op, lhs, rhs, *return_bool, matching.as_ref(), ts),
        }
    }

    /// Evaluates an expression known (by type checking) to be a scalar.
    pub(crate) fn eval_scalar(&mut self, e: &Expr, ts: i64) -> Result<f64, Error> {
        match self.eval(e, ts)? {
            StepValue::Scalar(v) => Ok(v),
            _ => Err(Error::exec("expected a scalar expression")),
        }
    }

    /// Evaluates an expression known to be an instant vector.
    pub(crate) fn eval_vector(&mut self, e: &Expr, ts: i64) -> Result<Vec<Sample>, Error> {
        match self.eval(e, ts)? {
            StepValue::Vector(v) => Ok(v),
            _ => Err(Error::exec("expected an instant vector expression")),
        }
    }

    /// Evaluates an expression known to be a string.
    pub(crate) fn eval_string(&mut self, e: &Expr, ts: i64) -> Result<String, Error> {
        match self.eval(e, ts)? {
            StepValue::String(v) => Ok(v),
            _ => Err(Error::exec("expected a string expression")),
        }
    }

    /// The instant vector a selector yields at `ts`. With `sample_times`,
    /// values are replaced by the timestamps (seconds) of the samples.
    pub(crate) fn select_instant(
        &self,
        vs: &VectorSelector,
        ts: i64,
        sample_times: bool,
    ) -> Vec<Sample> {
        let t = self.effective_time(vs.at, vs.offset_ms, ts);
        let Some(series) = self.loaded(vs) else {
            return Vec::new();
        };
        let out: Vec<Sample> = series
            .iter()
            .filter_map(|s| {
                latest_any(s, t, self.opts.lookback_delta_ms).map(|(st, v, h)| {
                    if sample_times {
                        Sample {
                            metric: s.labels.clone(),
                            v: st as f64 / 1000.0,
                            h: None,
                            drop_name: false,
                        }
                    } else {
                        Sample {
                            metric: s.labels.clone(),
                            v,
                            h,
                            drop_name: false,
                        }
                    }
                })
            })
            .collect();
        self.count_queried(out.len());
        out
    }

    /// The range vector `vs[range]` at `ts`.
    pub(crate) fn select_range(
        &self,
        vs: &VectorSelector,
        range_ms: i64,
        ts: i64,
    ) -> Result<Vec<Series>, Error> {
        let t = self.effective_time(vs.at, vs.offset_ms, ts);
        self.series_between(vs, t.saturating_sub(range_ms), t)
    }

    /// Per series of `vs`, its samples in `(lo, hi]` without stale markers
    /// (series without any left out), counted against the sample limit.
    pub(super) fn series_between(
        &self,
        vs: &VectorSelector,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<Series>, Error> {
        let mut out = Vec::new();
        let mut held = 0usize;
        for s in self.loaded(vs).into_iter().flatten() {
            let points = window(&s.samples, lo, hi);
            let hpoints = hwindow(&s.hists, lo, hi);
            if points.is_empty() && hpoints.is_empty() {
                continue;
            }
            let n = points.len() + hpoints.len();
            held += n;
            self.check_samples(held)?;
            self.count_queried(n);
            out.push(Series {
                metric: s.labels.clone(),
                points,
                hpoints,
                drop_name: false,
            });
        }
        Ok(out)
    }

    /// Evaluates `expr` at the steps of a subquery ending at `t`.
    fn subquery(
        &mut self,
        expr: &Expr,
        t: i64,
        range_ms: i64,
        step: i64,
    ) -> Result<Vec<Series>, Error> {
        let lo = t.saturating_sub(range_ms);
        let mut ti = step * (lo / step);
        if ti <= lo {
            ti += step;
        }
        let mut index: HashMap<(Labels, bool), usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        let mut held = 0usize;
        while ti <= t {
            self.check_deadline()?;
            let v = match self.eval(expr, ti)? {
                StepValue::Vector(v) => v,
                StepValue::Scalar(v) => vec![Sample {
                    metric: Labels::empty(),
                    v,
                    h: None,
                    drop_name: false,
                }],
                _ => return Err(Error::exec("subquery of a non-vector expression")),
            };
            held += v.len();
            self.check_samples(held)?;
            for s in v {
                let k = (s.metric, s.drop_name);
                let i = match index.get(&k) {
                    Some(&i) => i,
                    None => {
                        index.insert(k.clone(), out.len());
                        out.push(Series {
                            metric: k.0,
                            points: Vec::new(),
                            hpoints: Vec::new(),
                            drop_name: k.1,
                        });
                        out.len() - 1
                    }
                };
                match s.h {
                    Some(mut h) => {
                        // a subquery may skip samples or return one
                        // several times: counter resets are detected
                        // afresh, as for floats
                        use tsdb::histogram::CounterResetHint::{
                            CounterReset, NotCounterReset, Unknown,
                        };
                        if matches!(h.counter_reset_hint, CounterReset | NotCounterReset) {
                            std::sync::Arc::make_mut(&mut h).counter_reset_hint = Unknown;
                        }
                        out[i].hpoints.push((ti, h))
                    }
                    None => out[i].points.push((ti, s.v)),
                }
            }
            ti = match ti.checked_add(step) {
                Some(x) => x,
                None => break,
            };
        }
        Ok(out)
    }
}
