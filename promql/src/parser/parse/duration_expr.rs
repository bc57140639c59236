//! Duration expressions (Prometheus's `promql-duration-expr`) where a
//! range, subquery step or offset is expected: `[5m+1m]`, `[1h/2:10s*3]`,
//! `offset (2 * 1m)`, `[step()*2]`, `offset min_of(range(), 1h)`. Numbers
//! are seconds. Constant expressions are folded into milliseconds (the
//! printer shows the result, `[6m]`); ones using `step()` or `range()` are
//! kept and resolved when the query runs.

use super::super::ast::{BinaryOp, DurationExpr};
use super::super::lex::Tok;
use super::{ident_is, PResult, Parser};

/// Where a duration expression stands, for the messages.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum DurCtx {
    /// A range or subquery range, right after `[`.
    Range,
    /// A subquery step, after `:`.
    Step,
    /// After `offset`.
    Offset,
}

impl DurCtx {
    /// Prometheus's context and expectation for an unexpected token.
    fn unexpected(self) -> (&'static str, &'static str) {
        match self {
            DurCtx::Range => (
                "subquery or range selector",
                "number, duration, step(), or range()",
            ),
            DurCtx::Step => (
                "subquery selector",
                "number, duration, step(), range(), or \"]\"",
            ),
            DurCtx::Offset => ("offset", "number, duration, step(), or range()"),
        }
    }
}

/// Whether `e` is a number or duration literal, maybe signed, which
/// Prometheus checks while parsing.
fn literal_value(e: &DurationExpr) -> Option<f64> {
    match e {
        DurationExpr::Number(v) => Some(*v),
        DurationExpr::Duration(ms) => Some(*ms as f64 / 1000.0),
        DurationExpr::Neg(x) => literal_value(x).map(|v| -v),
        _ => None,
    }
}

/// A parsed duration: folded, or kept for the query to resolve.
pub(super) enum Dur {
    /// Milliseconds.
    Const(i64),
    /// Depends on `step()` or `range()`.
    Deferred(Box<DurationExpr>),
}

impl Parser<'_> {
    /// A duration expression, as in ranges and subquery steps.
    pub(super) fn duration_expr(&mut self, ctx: DurCtx) -> PResult<Dur> {
        let start = self.peek().pos;
        let e = self.duration_sum(ctx, 0)?;
        if literal_value(&e).is_some_and(|v| v <= 0.0) {
            return Err(self.err_at(start, "duration must be greater than 0"));
        }
        self.fold(e, start)
    }

    /// An offset: an optional sign and one term (a literal, a call or a
    /// parenthesized expression); operators after it apply to the
    /// selector, as in `x offset step() * 2`.
    pub(super) fn offset_duration(&mut self) -> PResult<Dur> {
        let start = self.peek().pos;
        let neg = self.sign();
        let e = self.duration_primary(DurCtx::Offset)?;
        let e = if neg {
            DurationExpr::Neg(Box::new(e))
        } else {
            e
        };
        self.fold(e, start)
    }

    fn fold(&mut self, e: DurationExpr, start: usize) -> PResult<Dur> {
        if e.is_query_dependent() {
            return Ok(Dur::Deferred(Box::new(e)));
        }
        match e.millis(0, 0) {
            Some(ms) => Ok(Dur::Const(ms)),
            None => Err(self.err_at(start, "duration out of range")),
        }
    }

    /// Precedence climbing over `+ -` (1), `* / %` (2) and `^` (3, right
    /// associative).
    fn duration_sum(&mut self, ctx: DurCtx, min: u8) -> PResult<DurationExpr> {
        self.depth += 1;
        if self.depth > super::MAX_DEPTH {
            let pos = self.peek().pos;
            self.depth -= 1;
            return Err(self.err_at(pos, "expression nesting is too deep"));
        }
        let r = self.duration_sum_inner(ctx, min);
        self.depth -= 1;
        r
    }

    fn duration_sum_inner(&mut self, ctx: DurCtx, min: u8) -> PResult<DurationExpr> {
        let mut lhs = self.duration_unary(ctx)?;
        loop {
            let op = match self.peek().tok {
                Tok::Op(op @ (BinaryOp::Add | BinaryOp::Sub)) => (op, 1),
                Tok::Op(op @ (BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod)) => (op, 2),
                Tok::Op(BinaryOp::Pow) => (BinaryOp::Pow, 3),
                _ => return Ok(lhs),
            };
            if op.1 < min {
                return Ok(lhs);
            }
            let op_pos = self.next().pos;
            let next_min = if op.0 == BinaryOp::Pow {
                op.1
            } else {
                op.1 + 1
            };
            let rhs = self.duration_sum(ctx, next_min)?;
            let zero = matches!(rhs, DurationExpr::Number(v) if v == 0.0)
                || matches!(rhs, DurationExpr::Duration(0));
            if zero && op.0 == BinaryOp::Div {
                return Err(self.err_at(op_pos, "division by zero"));
            }
            if zero && op.0 == BinaryOp::Mod {
                return Err(self.err_at(op_pos, "modulo by zero"));
            }
            lhs = DurationExpr::Binary(op.0, Box::new(lhs), Box::new(rhs));
        }
    }

    /// A signed term; as in PromQL, the sign binds more loosely than `^`.
    fn duration_unary(&mut self, ctx: DurCtx) -> PResult<DurationExpr> {
        match self.peek().tok {
            Tok::Op(BinaryOp::Sub) => {
                self.next();
                Ok(DurationExpr::Neg(Box::new(self.duration_sum(ctx, 3)?)))
            }
            Tok::Op(BinaryOp::Add) => {
                self.next();
                self.duration_sum(ctx, 3)
            }
            _ => self.duration_primary(ctx),
        }
    }

    fn duration_primary(&mut self, ctx: DurCtx) -> PResult<DurationExpr> {
        let t = self.next();
        let (what, expected) = ctx.unexpected();
        // Prometheus's limit: a time.Duration in nanoseconds.
        let limit = (1u64 << 63) as f64 / 1e9;
        match t.tok {
            Tok::Duration(ms) if ms as f64 / 1000.0 > limit => {
                Err(self.err_at(t.pos, "duration out of range"))
            }
            Tok::Number(v) if v.abs() > limit => Err(self.err_at(t.pos, "duration out of range")),
            Tok::Duration(ms) => Ok(DurationExpr::Duration(ms)),
            Tok::Number(v) => Ok(DurationExpr::Number(v)),
            Tok::LParen => {
                let v = self.duration_sum(ctx, 0)?;
                self.expect(Tok::RParen, what, "\")\"")?;
                Ok(DurationExpr::Paren(Box::new(v)))
            }
            _ if (ident_is(&t, "step") || ident_is(&t, "range"))
                && self.peek().tok != Tok::LParen =>
            {
                Err(self.unexpected_in(what, expected))
            }
            _ if ident_is(&t, "step") || ident_is(&t, "range") => {
                self.expect(Tok::LParen, what, "\"(\"")?;
                self.expect(Tok::RParen, what, "\")\"")?;
                Ok(if ident_is(&t, "step") {
                    DurationExpr::Step
                } else {
                    DurationExpr::Range
                })
            }
            _ if ident_is(&t, "min_of") || ident_is(&t, "max_of") => {
                self.expect(Tok::LParen, what, "\"(\"")?;
                let a = self.duration_sum(ctx, 0)?;
                self.expect(Tok::Comma, what, "\",\"")?;
                let b = self.duration_sum(ctx, 0)?;
                self.expect(Tok::RParen, what, "\")\"")?;
                let (a, b) = (Box::new(a), Box::new(b));
                Ok(if ident_is(&t, "min_of") {
                    DurationExpr::MinOf(a, b)
                } else {
                    DurationExpr::MaxOf(a, b)
                })
            }
            _ => {
                self.i -= 1;
                Err(self.unexpected_in(what, expected))
            }
        }
    }
}
