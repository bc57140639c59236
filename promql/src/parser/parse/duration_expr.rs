//! Duration expressions (Prometheus's experimental `promql-duration-expr`)
//! where a range, subquery step or offset is expected: `[5m+1m]`,
//! `[1h/2:10s*3]`, `offset (2 * 1m)`. Numbers are seconds. Only constant
//! expressions are supported; they are folded into milliseconds, so the
//! printer shows the result (`[6m]`), not the expression.

use super::super::ast::BinaryOp;
use super::super::lex::Tok;
use super::{PResult, Parser};

impl Parser<'_> {
    /// A constant duration expression, in milliseconds.
    pub(super) fn duration_expr(&mut self, ctx: &str) -> PResult<i64> {
        let start = self.peek().pos;
        let secs = self.duration_sum(ctx, 0)?;
        let ms = (secs * 1000.0).round();
        if !ms.is_finite() || ms.abs() > i64::MAX as f64 / 2.0 {
            return Err(self.err_at(start, format!("duration out of range in {ctx}")));
        }
        Ok(ms as i64)
    }

    /// Precedence climbing over `+ -` (1), `* / %` (2) and `^` (3, right
    /// associative), in seconds.
    fn duration_sum(&mut self, ctx: &str, min: u8) -> PResult<f64> {
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

    fn duration_sum_inner(&mut self, ctx: &str, min: u8) -> PResult<f64> {
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
            self.next();
            let next_min = if op.0 == BinaryOp::Pow {
                op.1
            } else {
                op.1 + 1
            };
            let rhs = self.duration_sum(ctx, next_min)?;
            lhs = match op.0 {
                BinaryOp::Add => lhs + rhs,
                BinaryOp::Sub => lhs - rhs,
                BinaryOp::Mul => lhs * rhs,
                BinaryOp::Div => lhs / rhs,
                BinaryOp::Mod => lhs % rhs,
                _ => lhs.powf(rhs),
            };
        }
    }

    /// A signed term; as in PromQL, the sign binds more loosely than `^`.
    fn duration_unary(&mut self, ctx: &str) -> PResult<f64> {
        match self.peek().tok {
            Tok::Op(BinaryOp::Sub) => {
                self.next();
                Ok(-self.duration_sum(ctx, 3)?)
            }
            Tok::Op(BinaryOp::Add) => {
                self.next();
                self.duration_sum(ctx, 3)
            }
            _ => self.duration_primary(ctx),
        }
    }

    fn duration_primary(&mut self, ctx: &str) -> PResult<f64> {
        let t = self.next();
        match t.tok {
            Tok::Duration(ms) => Ok(ms as f64 / 1000.0),
            Tok::Number(v) => Ok(v),
            Tok::LParen => {
                let v = self.duration_sum(ctx, 0)?;
                self.expect(Tok::RParen, ctx, "\")\"")?;
                Ok(v)
            }
            _ => {
                self.i -= 1;
                Err(self.unexpected_in(ctx, "duration"))
            }
        }
    }
}
