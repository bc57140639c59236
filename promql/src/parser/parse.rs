//! A recursive-descent (precedence-climbing) parser over the token stream,
//! with Prometheus's type checks applied as nodes are built.

use tsdb::labels::{MatchOp, Matcher, METRIC_NAME};

use super::ast::*;
use super::functions;
use super::lex::{tokens, Tok, Token};
use crate::error::Error;

mod calls;
mod duration_expr;
use duration_expr::{Dur, DurCtx};

/// Parses a PromQL expression.
pub fn parse(src: &str) -> Result<Expr, Error> {
    parse_whole(src, false).map(|(e, _)| e)
}

/// The one expression `src` holds; `empty_matchers` lets a selector's
/// matchers all match the empty string.
fn parse_whole(src: &str, empty_matchers: bool) -> Result<(Expr, Parser<'_>), Error> {
    let mut p = Parser {
        src,
        toks: tokens(src),
        i: 0,
        depth: 0,
        binary_ops: 0,
        info_selector: empty_matchers,
    };
    if p.peek().tok == Tok::Eof {
        return Err(p.err_at(0, "no expression found in input"));
    }
    let (e, _) = p.expr(0)?;
    if p.peek().tok != Tok::Eof {
        return Err(p.unexpected());
    }
    Ok((e, p))
}

/// Parses a series selector (`name{matchers}`) into its matchers, as
/// Prometheus's `ParseMetricSelector`: unlike in a query, the matchers may
/// all match the empty string (`{__name__=~".*"}` selects every series).
pub fn parse_metric_selector(src: &str) -> Result<Vec<Matcher>, Error> {
    let (e, p) = parse_whole(src, true)?;
    match e {
        Expr::VectorSelector(vs) if vs.offset_ms == 0 && vs.at.is_none() => Ok(vs.matchers),
        _ => Err(p.err_at(0, format!("expected vector selector, got {src:?}"))),
    }
}

fn position_error(src: &str, pos: usize, msg: String) -> Error {
    if src.is_empty() {
        return Error::Parse {
            line: 0,
            col: 0,
            msg,
        };
    }
    let before = &src[..pos.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() + 1;
    Error::Parse { line, col, msg }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    /// Current nesting of parenthesized/sub-expressions.
    depth: usize,
    /// Binary operators parsed so far.
    binary_ops: usize,
    /// Parsing the label selector of `info()`, which may consist of
    /// matchers that all match the empty string.
    info_selector: bool,
}

/// Most nesting of sub-expressions accepted, keeping recursion bounded.
const MAX_DEPTH: usize = 100;
/// Most binary operators accepted in one query (they nest the tree too).
const MAX_BINARY_OPS: usize = 2000;

type PResult<T> = Result<T, Error>;

/// Keywords of PromQL's grammar that cannot name a metric.
fn is_keyword(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "on" | "ignoring" | "group_left" | "group_right" | "bool"
    )
}

fn ident_is(t: &Token, kw: &str) -> bool {
    matches!(&t.tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.toks[(self.i + n).min(self.toks.len() - 1)]
    }

    /// Returns the current token and advances (past the end, the index
    /// keeps growing so that stepping back with `i -= 1` is always exact).
    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn err_at(&self, pos: usize, msg: impl Into<String>) -> Error {
        position_error(self.src, pos, msg.into())
    }

    fn unexpected(&self) -> Error {
        let t = self.peek();
        if let Tok::Error(msg) = &t.tok {
            return self.err_at(t.pos, msg.clone());
        }
        self.err_at(t.pos, format!("unexpected {}", t.describe()))
    }

    fn unexpected_in(&self, ctx: &str, expected: &str) -> Error {
        let t = self.peek();
        if let Tok::Error(msg) = &t.tok {
            return self.err_at(t.pos, msg.clone());
        }
        let mut msg = format!("unexpected {} in {}", t.describe(), ctx);
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.err_at(t.pos, msg)
    }

    fn expect(&mut self, tok: Tok, ctx: &str, what: &str) -> PResult<Token> {
        if self.peek().tok == tok {
            Ok(self.next())
        } else {
            Err(self.unexpected_in(ctx, what))
        }
    }

    fn binop(&self) -> Option<BinaryOp> {
        let t = self.peek();
        match &t.tok {
            Tok::Op(op) => Some(*op),
            Tok::Ident(s) => match s.to_ascii_lowercase().as_str() {
                "and" => Some(BinaryOp::And),
                "or" => Some(BinaryOp::Or),
                "unless" => Some(BinaryOp::Unless),
                "atan2" => Some(BinaryOp::Atan2),
                _ => None,
            },
            _ => None,
        }
    }

    /// Parses an expression whose binary operators bind at least `min`.
    fn expr(&mut self, min: u8) -> PResult<(Expr, usize)> {
        self.depth += 1;
        let r = self.expr_inner(min);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min: u8) -> PResult<(Expr, usize)> {
        if self.depth > MAX_DEPTH {
            let pos = self.peek().pos;
            return Err(self.err_at(pos, "expression nesting is too deep"));
        }
        let (mut lhs, start) = self.unary()?;
        while let Some(op) = self.binop() {
            let prec = op.precedence();
            if prec < min {
                break;
            }
            let op_pos = self.next().pos;
            self.binary_ops += 1;
            if self.binary_ops > MAX_BINARY_OPS {
                return Err(self.err_at(op_pos, "too many binary operators in expression"));
            }
            let mut return_bool = false;
            if ident_is(self.peek(), "bool") {
                self.next();
                return_bool = true;
            }
            let mut matching: Option<VectorMatching> = None;
            if ident_is(self.peek(), "on") || ident_is(self.peek(), "ignoring") {
                let on = ident_is(&self.next(), "on");
                let labels = self.label_list("grouping opts")?;
                matching = Some(VectorMatching {
                    card: Cardinality::OneToOne,
                    on,
                    labels,
                    include: Vec::new(),
                    fill: FillValues::default(),
                });
            }
            if matching.is_some()
                && (ident_is(self.peek(), "group_left") || ident_is(self.peek(), "group_right"))
            {
                let t = self.next();
                let left = ident_is(&t, "group_left");
                let include = if self.peek().tok == Tok::LParen {
                    self.label_list("grouping opts")?
                } else {
                    Vec::new()
                };
                let m = matching.get_or_insert(VectorMatching {
                    card: Cardinality::OneToOne,
                    on: false,
                    labels: Vec::new(),
                    include: Vec::new(),
                    fill: FillValues::default(),
                });
                m.card = if left {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                m.include = include;
            }
            let fill = self.fill_modifiers()?;
            if fill.any() {
                matching
                    .get_or_insert(VectorMatching {
                        card: Cardinality::OneToOne,
                        on: false,
                        labels: Vec::new(),
                        include: Vec::new(),
                        fill: FillValues::default(),
                    })
                    .fill = fill;
            }
            let next_min = if op == BinaryOp::Pow { prec } else { prec + 1 };
            let (rhs, _) = self.expr(next_min)?;
            lhs = self.binary(op, lhs, rhs, return_bool, matching, start, op_pos)?;
        }
        Ok((lhs, start))
    }

    /// `fill(v)`, or `fill_left(v)` and/or `fill_right(v)` in either
    /// order, after the other modifiers of a binary operator. The words
    /// are modifiers only when `(` follows; otherwise they are metric names.
    fn fill_modifiers(&mut self) -> PResult<FillValues> {
        let mut fill = FillValues::default();
        loop {
            let t = self.peek().clone();
            let Tok::Ident(word) = &t.tok else {
                return Ok(fill);
            };
            let word = word.to_ascii_lowercase();
            if !matches!(word.as_str(), "fill" | "fill_left" | "fill_right")
                || self.peek_at(1).tok != Tok::LParen
            {
                return Ok(fill);
            }
            let repeated = match word.as_str() {
                "fill" => fill.any(),
                "fill_left" => fill.both || fill.lhs.is_some(),
                _ => fill.both || fill.rhs.is_some(),
            };
            if repeated {
                return Err(self.unexpected_in("binary expression", "expression"));
            }
            self.next();
            self.next();
            let neg = self.sign();
            let v = match self.next().tok {
                Tok::Number(v) => v,
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected_in("fill modifier", "number"));
                }
            };
            let v = if neg { -v } else { v };
            self.expect(Tok::RParen, "fill modifier", "\")\"")?;
            match word.as_str() {
                "fill" => {
                    fill.lhs = Some(v);
                    fill.rhs = Some(v);
                    fill.both = true;
                }
                "fill_left" => fill.lhs = Some(v),
                _ => fill.rhs = Some(v),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn binary(
        &self,
        op: BinaryOp,
        lhs: Expr,
        rhs: Expr,
        return_bool: bool,
        matching: Option<VectorMatching>,
        start: usize,
        op_pos: usize,
    ) -> PResult<Expr> {
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        let ok = |t| matches!(t, ValueType::Scalar | ValueType::Vector);
        // Prometheus's order of checks, with its positions: the operator
        // for the first three, the whole expression for the rest.
        if return_bool && !op.is_comparison() {
            return Err(self.err_at(
                op_pos,
                "bool modifier can only be used on comparison operators",
            ));
        }
        if op.is_comparison() && !return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar
        {
            return Err(self.err_at(op_pos, "comparisons between scalars must use BOOL modifier"));
        }
        if let Some(m) = matching.as_ref().filter(|m| m.on) {
            if let Some(l) = m.include.iter().find(|l| m.labels.contains(l)) {
                return Err(self.err_at(
                    op_pos,
                    format!("label \"{l}\" must not occur in ON and GROUP clause at once"),
                ));
            }
        }
        if !ok(lt) || !ok(rt) {
            return Err(self.err_at(
                start,
                "binary expression must contain only scalar and instant vector types",
            ));
        }
        let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        if !both_vectors {
            if matching.as_ref().is_some_and(|m| !m.labels.is_empty()) {
                return Err(self.err_at(
                    start,
                    "vector matching only allowed between instant vectors",
                ));
            }
            if matching.as_ref().is_some_and(|m| m.fill.any()) {
                return Err(self.err_at(
                    start,
                    "filling in missing series only allowed between instant vectors",
                ));
            }
        } else if op.is_set() {
            if matching
                .as_ref()
                .is_some_and(|m| matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany))
            {
                return Err(self.err_at(
                    start,
                    format!("no grouping allowed for \"{}\" operation", op.as_str()),
                ));
            }
            if matching.as_ref().is_some_and(|m| m.fill.any()) {
                return Err(self.err_at(
                    start,
                    "filling in missing series not allowed for set operators",
                ));
            }
        }
        if op.is_set() && !both_vectors {
            return Err(self.err_at(
                start,
                format!(
                    "set operator \"{}\" not allowed in binary scalar expression",
                    op.as_str()
                ),
            ));
        }
        let matching = if both_vectors {
            let mut m = matching.unwrap_or(VectorMatching {
                card: Cardinality::OneToOne,
                on: false,
                labels: Vec::new(),
                include: Vec::new(),
                fill: FillValues::default(),
            });
            if op.is_set() {
                m.card = Cardinality::ManyToMany;
            }
            Some(m)
        } else {
            None
        };
        Ok(Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool,
            matching,
        })
    }

    fn unary(&mut self) -> PResult<(Expr, usize)> {
        let t = self.peek().clone();
        if let Tok::Op(op @ (BinaryOp::Add | BinaryOp::Sub)) = t.tok {
            self.next();
            let (e, _) = self.expr(BinaryOp::Pow.precedence())?;
            let vt = e.value_type();
            if vt != ValueType::Scalar && vt != ValueType::Vector {
                return Err(self.err_at(
                    t.pos,
                    format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got \"{vt}\""
                    ),
                ));
            }
            // As in Prometheus, a sign on a number literal folds into it;
            // on anything else it stays a unary expression.
            let e = match (op, e) {
                (BinaryOp::Add, e @ Expr::NumberLiteral(_)) => e,
                (_, Expr::NumberLiteral(v)) => Expr::NumberLiteral(-v),
                (BinaryOp::Add, e) => Expr::Unary {
                    op: UnaryOp::Pos,
                    expr: Box::new(e),
                },
                (_, e) => Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(e),
                },
            };
            return Ok((e, t.pos));
        }
        let (e, start) = self.primary()?;
        let e = self.postfix(e, start)?;
        Ok((e, start))
    }

    /// Takes a leading `-` or `+`, if any: whether it negates.
    fn sign(&mut self) -> bool {
        let neg = match self.peek().tok {
            Tok::Op(BinaryOp::Sub) => true,
            Tok::Op(BinaryOp::Add) => false,
            _ => return false,
        };
        self.next();
        neg
    }

    fn postfix(&mut self, mut e: Expr, start: usize) -> PResult<Expr> {
        loop {
            let t = self.peek().clone();
            match &t.tok {
                Tok::LBracket => {
                    self.next();
                    let range = self.duration_expr(DurCtx::Range)?;
                    if self.peek().tok == Tok::Colon {
                        self.next();
                        let step = if self.peek().tok == Tok::RBracket {
                            None
                        } else {
                            Some(self.duration_expr(DurCtx::Step)?)
                        };
                        let mut exprs = SubqueryExprs::default();
                        let range = match range {
                            Dur::Const(ms) => ms,
                            Dur::Deferred(e) => {
                                exprs.range = Some(*e);
                                0
                            }
                        };
                        let step = match step {
                            None => None,
                            Some(Dur::Const(ms)) => Some(ms),
                            Some(Dur::Deferred(e)) => {
                                exprs.step = Some(*e);
                                Some(0)
                            }
                        };
                        self.expect(Tok::RBracket, "subquery selector", "\"]\"")?;
                        let vt = e.value_type();
                        if vt != ValueType::Vector {
                            return Err(self.err_at(
                                start,
                                format!(
                                    "subquery is only allowed on instant vector, got {} instead",
                                    vt.go_name()
                                ),
                            ));
                        }
                        if step == Some(0) && exprs.step.is_none() {
                            return Err(self.err_at(t.pos, "zero step in subquery"));
                        }
                        // a duration expression folded to a range or step
                        // that a literal could not be (`[29s % 1s:1m]`)
                        if exprs.range.is_none() && range <= 0 {
                            return Err(self.err_at(
                                t.pos,
                                format!("range must be greater than 0, got {range}ms"),
                            ));
                        }
                        if let (Some(ms), None) = (step, &exprs.step) {
                            if ms < 0 {
                                return Err(self.err_at(
                                    t.pos,
                                    format!("subquery step must be greater than 0, got {ms}ms"),
                                ));
                            }
                        }
                        let deferred = exprs.range.is_some() || exprs.step.is_some();
                        e = Expr::Subquery {
                            expr: Box::new(e),
                            range_ms: range,
                            step_ms: step,
                            offset_ms: 0,
                            at: None,
                            exprs: deferred.then(|| Box::new(exprs)),
                        };
                    } else {
                        self.expect(Tok::RBracket, "subquery or range", "\":\" or \"]\"")?;
                        e = match e {
                            Expr::VectorSelector(vs) => {
                                if vs.offset_ms != 0 || vs.offset_expr.is_some() {
                                    return Err(self.err_at(
                                        t.pos,
                                        "no offset modifiers allowed before range",
                                    ));
                                }
                                if vs.at.is_some() {
                                    return Err(
                                        self.err_at(t.pos, "no @ modifiers allowed before range")
                                    );
                                }
                                let (range_ms, range_expr) = match range {
                                    Dur::Const(ms) => (ms, None),
                                    Dur::Deferred(e) => (0, Some(e)),
                                };
                                if range_expr.is_none() && range_ms <= 0 {
                                    return Err(self.err_at(
                                        t.pos,
                                        format!("range must be greater than 0, got {range_ms}ms"),
                                    ));
                                }
                                Expr::MatrixSelector {
                                    selector: vs,
                                    range_ms,
                                    range_expr,
                                }
                            }
                            _ => {
                                return Err(
                                    self.err_at(t.pos, "ranges only allowed for vector selectors")
                                )
                            }
                        };
                    }
                }
                Tok::Ident(s) if s.eq_ignore_ascii_case("offset") => {
                    self.next();
                    let d = self.offset_duration()?;
                    let (slot, deferred): (&mut i64, &mut Option<Box<DurationExpr>>) = match &mut e {
                        Expr::VectorSelector(vs) | Expr::MatrixSelector { selector: vs, .. } => {
                            (&mut vs.offset_ms, &mut vs.offset_expr)
                        }
                        Expr::Subquery {
                            offset_ms, exprs, ..
                        } => {
                            if *offset_ms != 0 || exprs.as_ref().is_some_and(|x| x.offset.is_some())
                            {
                                return Err(
                                    self.err_at(start, "offset may not be set multiple times")
                                );
                            }
                            match d {
                                Dur::Const(ms) => *offset_ms = ms,
                                Dur::Deferred(x) => {
                                    exprs.get_or_insert_with(Default::default).offset = Some(*x)
                                }
                            }
                            continue;
                        }
                        _ => {
                            return Err(self.err_at(
                                start,
                                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                            ))
                        }
                    };
                    if *slot != 0 || deferred.is_some() {
                        return Err(self.err_at(start, "offset may not be set multiple times"));
                    }
                    match d {
                        Dur::Const(ms) => *slot = ms,
                        Dur::Deferred(x) => *deferred = Some(x),
                    }
                }
                Tok::Ident(s)
                    if s.eq_ignore_ascii_case("anchored") || s.eq_ignore_ascii_case("smoothed") =>
                {
                    self.next();
                    let anchored = s.eq_ignore_ascii_case("anchored");
                    let word = if anchored { "anchored" } else { "smoothed" };
                    let vs = match &mut e {
                        Expr::VectorSelector(vs) | Expr::MatrixSelector { selector: vs, .. } => vs,
                        Expr::Subquery { .. } => {
                            return Err(self.err_at(
                                start,
                                format!("{word} modifier is not supported for subqueries"),
                            ))
                        }
                        _ => {
                            return Err(
                                self.err_at(start, format!("{word} modifier not implemented"))
                            )
                        }
                    };
                    if (anchored && vs.smoothed) || (!anchored && vs.anchored) {
                        return Err(self.err_at(
                            start,
                            "anchored and smoothed modifiers cannot be used together",
                        ));
                    }
                    if anchored {
                        vs.anchored = true;
                    } else {
                        vs.smoothed = true;
                    }
                }
                Tok::At => {
                    self.next();
                    let at = self.at_value(start)?;
                    let slot = match &mut e {
                        Expr::VectorSelector(vs) | Expr::MatrixSelector { selector: vs, .. } => {
                            &mut vs.at
                        }
                        Expr::Subquery { at, .. } => at,
                        _ => {
                            return Err(self.err_at(
                                start,
                                "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                            ))
                        }
                    };
                    if slot.is_some() {
                        return Err(
                            self.err_at(t.pos, "@ <timestamp> may not be set multiple times")
                        );
                    }
                    *slot = Some(at);
                }
                _ => return Ok(e),
            }
        }
    }

    fn at_value(&mut self, start: usize) -> PResult<AtModifier> {
        let t = self.peek().clone();
        if ident_is(&t, "start") || ident_is(&t, "end") {
            self.next();
            self.expect(Tok::LParen, "@ modifier", "\"(\"")?;
            self.expect(Tok::RParen, "@ modifier", "\")\"")?;
            return Ok(if ident_is(&t, "start") {
                AtModifier::Start
            } else {
                AtModifier::End
            });
        }
        let neg = self.sign();
        let t = self.next();
        let v = match t.tok {
            Tok::Number(v) => v,
            Tok::Duration(ms) => ms as f64 / 1000.0,
            _ => {
                self.i -= 1;
                return Err(self.unexpected_in("@", "timestamp"));
            }
        };
        let v = if neg { -v } else { v };
        let ms = v * 1000.0;
        if !ms.is_finite() || v >= i64::MAX as f64 || v <= i64::MIN as f64 {
            // Go's %f
            let shown = if v.is_nan() {
                "NaN".to_string()
            } else if v.is_infinite() {
                if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
            } else {
                format!("{v:.6}")
            };
            return Err(self.err_at(
                start,
                format!("timestamp out of bounds for @ modifier: {shown}"),
            ));
        }
        Ok(AtModifier::Timestamp(ms.round() as i64))
    }

    fn primary(&mut self) -> PResult<(Expr, usize)> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Number(v) => {
                self.next();
                Ok((Expr::NumberLiteral(*v), t.pos))
            }
            Tok::Duration(ms) => {
                // a duration where a number is expected means seconds
                self.next();
                Ok((Expr::NumberLiteral(*ms as f64 / 1000.0), t.pos))
            }
            Tok::Str(s) => {
                self.next();
                Ok((Expr::StringLiteral(s.clone()), t.pos))
            }
            Tok::LParen => {
                self.next();
                if self.peek().tok == Tok::RParen {
                    return Err(self.unexpected());
                }
                let (e, _) = self.expr(0)?;
                self.expect(Tok::RParen, "paren expression", "\")\"")?;
                Ok((Expr::Paren(Box::new(e)), t.pos))
            }
            Tok::LBrace => {
                let vs = self.selector(None, t.pos)?;
                Ok((Expr::VectorSelector(vs), t.pos))
            }
            Tok::Ident(name) if is_keyword(name) => Err(self.unexpected()),
            Tok::Ident(name) => {
                let next = self.peek_at(1).tok.clone();
                if let Some(op) = AggregateOp::from_name(name) {
                    if next == Tok::LParen
                        || ident_is(self.peek_at(1), "by")
                        || ident_is(self.peek_at(1), "without")
                    {
                        return Ok((self.aggregate(op)?, t.pos));
                    }
                }
                if next == Tok::LParen {
                    let Some(f) = functions::lookup(name) else {
                        return Err(
                            self.err_at(t.pos, format!("unknown function with name \"{name}\""))
                        );
                    };
                    return Ok((self.call(f, t.pos)?, t.pos));
                }
                if self.binop().is_some() || ident_is(&t, "offset") || ident_is(&t, "bool") {
                    return Err(self.unexpected());
                }
                self.next();
                let vs = self.selector(Some(name.clone()), t.pos)?;
                Ok((Expr::VectorSelector(vs), t.pos))
            }
            _ => Err(self.unexpected()),
        }
    }

    fn label_list(&mut self, ctx: &str) -> PResult<Vec<String>> {
        self.expect(Tok::LParen, ctx, "\"(\"")?;
        let mut out = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::RParen => return Ok(out),
                Tok::Ident(s) if !s.contains(':') => out.push(s),
                Tok::Str(s) => out.push(s),
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected_in(ctx, "label"));
                }
            }
            match self.peek().tok {
                Tok::Comma => {
                    self.next();
                }
                Tok::RParen => {}
                _ => return Err(self.unexpected_in(ctx, "\",\" or \")\"")),
            }
        }
    }

    fn selector(&mut self, name: Option<String>, pos: usize) -> PResult<VectorSelector> {
        let mut matchers: Vec<Matcher> = Vec::new();
        if self.peek().tok == Tok::LBrace {
            self.next();
            loop {
                let t = self.next();
                let label = match t.tok {
                    Tok::RBrace => break,
                    Tok::Ident(s) => s,
                    Tok::Str(s) => {
                        if matches!(self.peek().tok, Tok::Comma | Tok::RBrace) {
                            // A quoted metric name, {"foo"}: as in
                            // Prometheus, a `__name__` matcher in place
                            // (the selector's name stays unset).
                            matchers.push(Matcher::equal(METRIC_NAME, s));
                            if self.peek().tok == Tok::Comma {
                                self.next();
                            }
                            continue;
                        }
                        s
                    }
                    _ => {
                        self.i -= 1;
                        return Err(self.unexpected_in("label matching", "identifier or \"}\""));
                    }
                };
                let op = match self.next().tok {
                    Tok::Assign => MatchOp::Equal,
                    Tok::Op(BinaryOp::Neq) => MatchOp::NotEqual,
                    Tok::EqlRegex => MatchOp::RegexMatch,
                    Tok::NeqRegex => MatchOp::RegexNoMatch,
                    _ => {
                        self.i -= 1;
                        return Err(self.unexpected_in("label matching", "label matching operator"));
                    }
                };
                let vt = self.next();
                let Tok::Str(value) = vt.tok else {
                    self.i -= 1;
                    return Err(self.unexpected_in("label matching", "string"));
                };
                let m = Matcher::new(op, label, value)
                    .map_err(|e| self.err_at(vt.pos, format!("error parsing regexp: {e}")))?;
                matchers.push(m);
                match self.peek().tok {
                    Tok::Comma => {
                        self.next();
                    }
                    Tok::RBrace => {}
                    _ => return Err(self.unexpected_in("label matching", "\",\" or \"}\"")),
                }
            }
        }
        if let Some(n) = &name {
            if let Some(m) = matchers.iter().find(|m| m.name == METRIC_NAME) {
                return Err(self.err_at(
                    pos,
                    format!(
                        "metric name must not be set twice: \"{n}\" or \"{}\"",
                        m.value
                    ),
                ));
            }
            matchers.insert(0, Matcher::equal(METRIC_NAME, n.clone()));
        }
        if !self.info_selector && !matchers.iter().any(|m| !m.matches_empty()) {
            return Err(self.err_at(
                pos,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        Ok(VectorSelector {
            name,
            matchers,
            offset_ms: 0,
            offset_expr: None,
            at: None,
            anchored: false,
            smoothed: false,
        })
    }
}
