//! Function calls and aggregations: a call's arguments parsed and checked
//! against the function's signature (count and value types, the label
//! selector of `info` allowed to be empty), and an aggregation's grouping
//! (`by`/`without`, before or after the body), parameter and body, with
//! Prometheus's type checks.

use super::super::ast::*;
use super::super::functions;
use super::super::lex::Tok;
use super::{ident_is, PResult, Parser};

impl Parser<'_> {
    /// After an argument of a call or an aggregation (`ctx` names which):
    /// true past a comma, with another argument to come; false at the
    /// closing parenthesis (not taken).
    fn next_argument(&mut self, ctx: &str) -> PResult<bool> {
        match self.peek().tok {
            Tok::Comma => {
                let comma = self.next().pos;
                if self.peek().tok == Tok::RParen {
                    return Err(
                        self.err_at(comma, "trailing commas not allowed in function call args")
                    );
                }
                Ok(true)
            }
            Tok::RParen => Ok(false),
            _ => Err(self.unexpected_in(ctx, "\",\" or \")\"")),
        }
    }

    pub(super) fn call(&mut self, f: &'static functions::Function, pos: usize) -> PResult<Expr> {
        self.next();
        self.expect(Tok::LParen, "function call", "\"(\"")?;
        let mut args = Vec::new();
        let mut positions = Vec::new();
        if self.peek().tok != Tok::RParen {
            loop {
                self.info_selector = f.name == "info" && args.len() == 1;
                let r = self.expr(0);
                self.info_selector = false;
                let (a, p) = r?;
                args.push(a);
                positions.push(p);
                if !self.next_argument("argument list")? {
                    break;
                }
            }
        }
        self.next();
        let n = args.len();
        let want = f.args.len();
        if f.variadic == 0 {
            if n != want {
                return Err(self.err_at(
                    pos,
                    format!(
                        "expected {want} argument(s) in call to \"{}\", got {n}",
                        f.name
                    ),
                ));
            }
        } else {
            let min = want - 1;
            if n < min {
                return Err(self.err_at(
                    pos,
                    format!(
                        "expected at least {min} argument(s) in call to \"{}\", got {n}",
                        f.name
                    ),
                ));
            }
            if f.variadic > 0 {
                let max = want + f.variadic as usize - 1;
                if n > max {
                    return Err(self.err_at(
                        pos,
                        format!(
                            "expected at most {max} argument(s) in call to \"{}\", got {n}",
                            f.name
                        ),
                    ));
                }
            }
        }
        if f.name == "info" && n == 2 {
            let got = args[1].value_type();
            if got != ValueType::Vector {
                return Err(self.err_at(
                    pos,
                    format!("expected type instant vector in call to function \"info\", got {got}"),
                ));
            }
            match &args[1] {
                Expr::VectorSelector(vs) if vs.name.is_none() => {}
                Expr::VectorSelector(_) => {
                    return Err(self.err_at(
                        positions[1],
                        "expected label selectors only, got vector selector instead",
                    ))
                }
                _ => return Err(self.err_at(positions[1], "expected label selectors only")),
            }
        }
        for (i, a) in args.iter().enumerate() {
            let expected = f.args[i.min(want.saturating_sub(1))];
            let got = a.value_type();
            if got != expected {
                return Err(self.err_at(
                    positions[i],
                    format!(
                        "expected type {expected} in call to function \"{}\", got {got}",
                        f.name
                    ),
                ));
            }
        }
        Ok(Expr::Call {
            func: f.name.to_string(),
            args,
        })
    }

    pub(super) fn aggregate(&mut self, op: AggregateOp) -> PResult<Expr> {
        let start = self.next().pos;
        let mut grouping = Vec::new();
        let mut without = false;
        let mut have_grouping = false;
        if ident_is(self.peek(), "by") || ident_is(self.peek(), "without") {
            without = ident_is(&self.next(), "without");
            grouping = self.label_list("grouping opts")?;
            have_grouping = true;
        }
        self.expect(Tok::LParen, "aggregation", "\"(\"")?;
        let mut args = Vec::new();
        if self.peek().tok != Tok::RParen {
            loop {
                args.push(self.expr(0)?);
                if !self.next_argument("aggregation")? {
                    break;
                }
            }
        }
        self.next();
        if ident_is(self.peek(), "by") || ident_is(self.peek(), "without") {
            if have_grouping {
                return Err(self.unexpected());
            }
            without = ident_is(&self.next(), "without");
            grouping = self.label_list("grouping opts")?;
        }
        let want = if op.has_param() { 2 } else { 1 };
        if args.is_empty() {
            return Err(self.err_at(start, "no arguments for aggregate expression provided"));
        }
        if args.len() != want {
            return Err(self.err_at(
                start,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            ));
        }
        let (expr, epos) = args.pop().expect("argument count checked above");
        if expr.value_type() != ValueType::Vector {
            return Err(self.err_at(
                epos,
                format!(
                    "expected type instant vector in aggregation expression, got {}",
                    expr.value_type()
                ),
            ));
        }
        let param = match args.pop() {
            Some((p, ppos)) => {
                let want = if op == AggregateOp::CountValues {
                    ValueType::String
                } else {
                    ValueType::Scalar
                };
                if p.value_type() != want {
                    return Err(self.err_at(
                        ppos,
                        format!(
                            "expected type {want} in aggregation parameter, got {}",
                            p.value_type()
                        ),
                    ));
                }
                Some(Box::new(p))
            }
            None => None,
        };
        Ok(Expr::Aggregate {
            op,
            expr: Box::new(expr),
            param,
            grouping,
            without,
        })
    }
}
