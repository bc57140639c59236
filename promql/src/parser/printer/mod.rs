//! Printing expressions back to PromQL text, as Prometheus does.
//!
//! [`Display`](fmt::Display) gives the single-line form of Prometheus's
//! `Expr.String()`: label matchers sorted, `@` timestamps with three
//! decimals, durations normalized (`90s` prints as `1m30s`), and
//! `by`/`without`/`on`/`ignoring` written as `by (a, b)`.
//! [`Expr::pretty`] gives `Expr.Pretty(0)`, which `/api/v1/format_query`
//! returns: nodes longer than 100 characters are split over indented lines.

use std::fmt::{self, Write as _};

use tsdb::labels::{MatchOp, Matcher, METRIC_NAME};

use super::ast::*;

/// Lines longer than this many bytes are split by [`Expr::pretty`].
pub const MAX_CHARACTERS_PER_LINE: usize = 100;

const INDENT: &str = "  ";

impl Expr {
    /// The expression formatted as Prometheus's `/api/v1/format_query`
    /// returns it (`Expr.Pretty(0)`): on one line when it fits in
    /// [`MAX_CHARACTERS_PER_LINE`], else split into indented lines.
    pub fn pretty(&self) -> String {
        self.pretty_with_limit(0, MAX_CHARACTERS_PER_LINE)
    }

    /// `Pretty(level)` with a given line limit.
    pub(crate) fn pretty_with_limit(&self, level: usize, limit: usize) -> String {
        let ind = INDENT.repeat(level);
        let s = self.to_string();
        let split = s.len() > limit;
        match self {
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
            } if split => {
                let mut out = ind.clone();
                write_agg_op(&mut out, *op, grouping, *without);
                out.push_str("(\n");
                if let Some(p) = param {
                    out.push_str(&p.pretty_with_limit(level + 1, limit));
                    out.push_str(",\n");
                }
                out.push_str(&expr.pretty_with_limit(level + 1, limit));
                out.push('\n');
                out.push_str(&ind);
                out.push(')');
                out
            }
            Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } if split => {
                let mut out = lhs.pretty_with_limit(level + 1, limit);
                out.push('\n');
                out.push_str(&ind);
                out.push_str(op.as_str());
                if *return_bool {
                    out.push_str(" bool");
                }
                write_matching(&mut out, matching.as_ref());
                out.push('\n');
                out.push_str(&rhs.pretty_with_limit(level + 1, limit));
                out
            }
            Expr::Call { func, args } if split => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| a.pretty_with_limit(level + 1, limit))
                    .collect();
                format!("{ind}{func}(\n{}\n{ind})", args.join(",\n"))
            }
            Expr::Paren(e) if split => {
                format!("{ind}(\n{}\n{ind})", e.pretty_with_limit(level + 1, limit))
            }
            // Prometheus indents a subquery only when it is split.
            Expr::Subquery { .. } if !split => s,
            Expr::Subquery { expr, .. } => {
                let mut out = expr.pretty_with_limit(level, limit);
                write_subquery_suffix(&mut out, self);
                out
            }
            Expr::Unary { op, expr } => {
                let child = expr.pretty_with_limit(level, limit);
                format!("{ind}{op}{}", child.trim())
            }
            _ => ind + &s,
        }
    }
}

/// Formats a duration in milliseconds as Prometheus's `model.Duration`
/// does: `0s`, `1m30s`, `2w`, `1y`, `1d12h`, `100ms` (years and weeks
/// only when they divide the duration exactly). Negative durations get a
/// leading `-`.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    let units: [(&str, u64, bool); 7] = [
        ("y", 365 * 24 * 3_600_000, true),
        ("w", 7 * 24 * 3_600_000, true),
        ("d", 24 * 3_600_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && !rest.is_multiple_of(mult) {
            continue;
        }
        let v = rest / mult;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            rest -= v * mult;
        }
    }
    out
}

pub use crate::gofmt::{format_f as format_number, quote};

/// Whether `s` is a label name that needs no quoting
/// (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn is_legacy_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn write_label_name(out: &mut String, name: &str) {
    if is_legacy_label_name(name) {
        out.push_str(name);
    } else {
        out.push_str(&quote(name));
    }
}

fn write_labels(out: &mut String, labels: &[String]) {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_label_name(out, l);
    }
}

/// A matcher as Prometheus prints it: `name="value"`, the name quoted
/// when it is not a plain identifier.
pub fn matcher_string(m: &Matcher) -> String {
    let mut out = String::new();
    write_label_name(&mut out, &m.name);
    out.push_str(match m.op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::RegexMatch => "=~",
        MatchOp::RegexNoMatch => "!~",
    });
    out.push_str(&quote(&m.value));
    out
}

fn write_agg_op(out: &mut String, op: AggregateOp, grouping: &[String], without: bool) {
    out.push_str(op.as_str());
    if without {
        out.push_str(" without (");
        write_labels(out, grouping);
        out.push_str(") ");
    } else if !grouping.is_empty() {
        out.push_str(" by (");
        write_labels(out, grouping);
        out.push_str(") ");
    }
}

fn write_matching(out: &mut String, m: Option<&VectorMatching>) {
    let Some(m) = m else { return };
    let grouped = matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany);
    if !m.labels.is_empty() || m.on || grouped {
        out.push_str(if m.on { " on (" } else { " ignoring (" });
        write_labels(out, &m.labels);
        out.push(')');
    }
    if grouped {
        out.push_str(if m.card == Cardinality::ManyToOne {
            " group_left ("
        } else {
            " group_right ("
        });
        write_labels(out, &m.include);
        out.push(')');
    }
    let f = &m.fill;
    match (f.lhs, f.rhs) {
        (Some(v), Some(_)) if f.both => {
            let _ = write!(out, " fill ({})", format_number(v));
        }
        (l, r) => {
            if let Some(v) = l {
                let _ = write!(out, " fill_left ({})", format_number(v));
            }
            if let Some(v) = r {
                let _ = write!(out, " fill_right ({})", format_number(v));
            }
        }
    }
}

fn write_at(out: &mut String, at: Option<AtModifier>) {
    match at {
        Some(AtModifier::Timestamp(ms)) => {
            let _ = write!(out, " @ {:.3}", ms as f64 / 1000.0);
        }
        Some(AtModifier::Start) => out.push_str(" @ start()"),
        Some(AtModifier::End) => out.push_str(" @ end()"),
        None => {}
    }
}

fn write_offset(out: &mut String, offset_ms: i64, expr: Option<&DurationExpr>) {
    if let Some(e) = expr {
        let _ = write!(out, " offset {e}");
    } else if offset_ms != 0 {
        out.push_str(" offset ");
        out.push_str(&format_duration(offset_ms));
    }
}

/// A range or step: the expression as written, else the duration.
fn write_duration(out: &mut String, ms: i64, expr: Option<&DurationExpr>) {
    match expr {
        Some(e) => {
            let _ = write!(out, "{e}");
        }
        None => out.push_str(&format_duration(ms)),
    }
}

/// `[range:step] @ … offset …` of a subquery expression.
fn write_subquery_suffix(out: &mut String, e: &Expr) {
    let Expr::Subquery {
        range_ms,
        step_ms,
        offset_ms,
        at,
        exprs,
        ..
    } = e
    else {
        return;
    };
    let exprs = exprs.as_deref();
    out.push('[');
    write_duration(out, *range_ms, exprs.and_then(|x| x.range.as_ref()));
    out.push(':');
    match exprs.and_then(|x| x.step.as_ref()) {
        Some(step) => write_duration(out, 0, Some(step)),
        None => {
            if let Some(step) = step_ms.filter(|s| *s != 0) {
                out.push_str(&format_duration(step));
            }
        }
    }
    out.push(']');
    write_at(out, *at);
    write_offset(out, *offset_ms, exprs.and_then(|x| x.offset.as_ref()));
}

impl fmt::Display for DurationExpr {
    /// The expression as written, with spaces around binary operators.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Duration(ms) => f.write_str(&format_duration(*ms)),
            DurationExpr::Number(v) => f.write_str(&format_number(*v)),
            DurationExpr::Step => f.write_str("step()"),
            DurationExpr::Range => f.write_str("range()"),
            DurationExpr::MinOf(a, b) => write!(f, "min_of({a}, {b})"),
            DurationExpr::MaxOf(a, b) => write!(f, "max_of({a}, {b})"),
            DurationExpr::Neg(e) => write!(f, "-{e}"),
            DurationExpr::Paren(e) => write!(f, "({e})"),
            DurationExpr::Binary(op, a, b) => write!(f, "{a} {op} {b}"),
        }
    }
}

impl VectorSelector {
    /// ` anchored` or ` smoothed`, if set.
    fn write_extended(&self, out: &mut String) {
        if self.anchored {
            out.push_str(" anchored");
        }
        if self.smoothed {
            out.push_str(" smoothed");
        }
    }

    /// The name and sorted matchers, without `@` and `offset`.
    fn write_base(&self, out: &mut String) {
        let name = self.name.as_deref().unwrap_or("");
        let mut matchers: Vec<String> = self
            .matchers
            .iter()
            .filter(|m| {
                !(m.name == METRIC_NAME
                    && m.op == MatchOp::Equal
                    && m.value == name
                    && !m.value.is_empty())
            })
            .map(matcher_string)
            .collect();
        out.push_str(name);
        if !matchers.is_empty() {
            matchers.sort();
            out.push('{');
            out.push_str(&matchers.join(","));
            out.push('}');
        }
    }
}

impl fmt::Display for VectorSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_base(&mut out);
        write_at(&mut out, self.at);
        write_offset(&mut out, self.offset_ms, self.offset_expr.as_deref());
        self.write_extended(&mut out);
        f.write_str(&out)
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AggregateOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for UnaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
        })
    }
}

impl fmt::Display for AtModifier {
    /// `@ 10.000`, `@ start()` or `@ end()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_at(&mut out, Some(*self));
        f.write_str(out.trim_start())
    }
}

impl fmt::Display for Expr {
    /// The single-line form of Prometheus's `Expr.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_expr(&mut out, self);
        f.write_str(&out)
    }
}

fn write_expr(out: &mut String, e: &Expr) {
    match e {
        Expr::NumberLiteral(v) => out.push_str(&format_number(*v)),
        Expr::StringLiteral(s) => out.push_str(&quote(s)),
        Expr::VectorSelector(vs) => {
            let _ = write!(out, "{vs}");
        }
        Expr::MatrixSelector {
            selector,
            range_ms,
            range_expr,
        } => {
            selector.write_base(out);
            out.push('[');
            write_duration(out, *range_ms, range_expr.as_deref());
            out.push(']');
            write_at(out, selector.at);
            write_offset(out, selector.offset_ms, selector.offset_expr.as_deref());
            selector.write_extended(out);
        }
        Expr::Subquery { expr, .. } => {
            write_expr(out, expr);
            write_subquery_suffix(out, e);
        }
        Expr::Call { func, args } => {
            out.push_str(func);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, a);
            }
            out.push(')');
        }
        Expr::Aggregate {
            op,
            expr,
            param,
            grouping,
            without,
        } => {
            write_agg_op(out, *op, grouping, *without);
            out.push('(');
            if let Some(p) = param {
                write_expr(out, p);
                out.push_str(", ");
            }
            write_expr(out, expr);
            out.push(')');
        }
        Expr::Binary {
            op,
            lhs,
            rhs,
            return_bool,
            matching,
        } => {
            write_expr(out, lhs);
            out.push(' ');
            out.push_str(op.as_str());
            if *return_bool {
                out.push_str(" bool");
            }
            write_matching(out, matching.as_ref());
            out.push(' ');
            write_expr(out, rhs);
        }
        Expr::Unary { op, expr } => {
            let _ = write!(out, "{op}");
            write_expr(out, expr);
        }
        Expr::Paren(inner) => {
            out.push('(');
            write_expr(out, inner);
            out.push(')');
        }
    }
}

#[cfg(test)]
mod tests;
