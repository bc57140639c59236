//! The aggregation operators' arithmetic, one definition for both
//! evaluation paths: a value at a time added to a state, and the group's
//! result taken from it (Kahan-compensated sum, mean, variance, minimum,
//! maximum, count, group). The step-wise aggregation folds a group's
//! members through it ([`reduce`]); the whole-range one keeps a state per
//! group and step.

use super::aggregate::{kahan_add, MeanAcc, VarAcc};

/// An aggregation state that takes values one at a time.
pub(crate) trait Acc: Copy + Default + Send {
    fn add(&mut self, v: f64);
    fn result(&self, members: u32) -> f64;
}

#[derive(Clone, Copy, Default)]
pub(crate) struct SumAcc(f64, f64);
impl Acc for SumAcc {
    #[inline]
    fn add(&mut self, v: f64) {
        (self.0, self.1) = kahan_add(v, self.0, self.1);
    }
    fn result(&self, _: u32) -> f64 {
        self.0 + self.1
    }
}

#[derive(Clone, Copy)]
pub(crate) struct MinMaxAcc<const MAX: bool>(f64);
impl<const MAX: bool> Default for MinMaxAcc<MAX> {
    fn default() -> Self {
        MinMaxAcc(f64::NAN)
    }
}
impl<const MAX: bool> Acc for MinMaxAcc<MAX> {
    #[inline]
    fn add(&mut self, v: f64) {
        let better = if MAX { v > self.0 } else { v < self.0 };
        if self.0.is_nan() || better {
            self.0 = v;
        }
    }
    fn result(&self, _: u32) -> f64 {
        self.0
    }
}

#[derive(Clone, Copy, Default)]
pub(crate) struct CountAcc;
impl Acc for CountAcc {
    #[inline]
    fn add(&mut self, _: f64) {}
    fn result(&self, members: u32) -> f64 {
        members as f64
    }
}

#[derive(Clone, Copy, Default)]
pub(crate) struct GroupAcc;
impl Acc for GroupAcc {
    #[inline]
    fn add(&mut self, _: f64) {}
    fn result(&self, _: u32) -> f64 {
        1.0
    }
}

impl Acc for MeanAcc {
    #[inline]
    fn add(&mut self, v: f64) {
        MeanAcc::add(self, v)
    }
    fn result(&self, _: u32) -> f64 {
        MeanAcc::result(self)
    }
}

#[derive(Clone, Copy, Default)]
pub(crate) struct VarianceAcc<const SQRT: bool>(VarAcc);
impl<const SQRT: bool> Acc for VarianceAcc<SQRT> {
    #[inline]
    fn add(&mut self, v: f64) {
        self.0.add(v)
    }
    fn result(&self, _: u32) -> f64 {
        if SQRT {
            self.0.result().sqrt()
        } else {
            self.0.result()
        }
    }
}

/// The result of `A` over `vals`, added in their order.
pub(crate) fn reduce<A: Acc>(vals: &[f64]) -> f64 {
    let mut acc = A::default();
    for &v in vals {
        acc.add(v);
    }
    acc.result(vals.len() as u32)
}
