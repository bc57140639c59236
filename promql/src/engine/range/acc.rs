//! The aggregation states of the whole-range aggregations: one value at a
//! time added to a state per group and step, and the group's result
//! taken from it (Kahan-compensated sum, mean and variance as the
//! step-wise aggregations compute them, minimum, maximum, count, group).

use super::super::aggregate::{kahan_add, MeanAcc, VarAcc};

/// An aggregation state that takes values one at a time.
pub(super) trait Acc: Copy + Default + Send {
    fn add(&mut self, v: f64);
    fn result(&self, members: u32) -> f64;
}

#[derive(Clone, Copy, Default)]
pub(super) struct SumAcc(f64, f64);
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
pub(super) struct MinMaxAcc<const MAX: bool>(f64);
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
pub(super) struct CountAcc;
impl Acc for CountAcc {
    #[inline]
    fn add(&mut self, _: f64) {}
    fn result(&self, members: u32) -> f64 {
        members as f64
    }
}

#[derive(Clone, Copy, Default)]
pub(super) struct GroupAcc;
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
pub(super) struct VarianceAcc<const SQRT: bool>(VarAcc);
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
