//! The syntax tree of a PromQL expression.

use std::fmt;

use tsdb::labels::Matcher;

/// The type of a PromQL expression's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// A single number.
    Scalar,
    /// One sample per series at each evaluation time.
    Vector,
    /// A window of samples per series.
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// The type's name in Prometheus's Go code (`matrix`, `vector`), as
    /// some of its messages show it.
    pub fn go_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        })
    }
}

/// The `@` modifier of a selector or subquery.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AtModifier {
    /// A fixed time in milliseconds.
    Timestamp(i64),
    /// `@ start()`: the start of the query range.
    Start,
    /// `@ end()`: the end of the query range.
    End,
}

/// An instant vector selector such as `foo{a="b"} offset 5m`.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSelector {
    /// The metric name, when written before the braces.
    pub name: Option<String>,
    /// All matchers, including one for the metric name.
    pub matchers: Vec<Matcher>,
    /// The offset in milliseconds (positive looks into the past).
    pub offset_ms: i64,
    /// An offset written with `step()` or `range()`, resolved into
    /// `offset_ms` when the query runs.
    pub offset_expr: Option<Box<DurationExpr>>,
    /// The `@` modifier.
    pub at: Option<AtModifier>,
    /// `anchored`: a range also takes the last sample before its start
    /// (within the lookback delta) as its left boundary.
    pub anchored: bool,
    /// `smoothed`: values at the range boundaries (or at the step, for an
    /// instant selector) are interpolated between neighbouring samples.
    pub smoothed: bool,
}

/// A duration expression that depends on the query (`step()`, `range()`),
/// kept as written until the query runs. Numbers are seconds.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationExpr {
    /// A duration literal such as `5m`, in milliseconds.
    Duration(i64),
    /// A number of seconds.
    Number(f64),
    /// `step()`: the query's step (0 for instant queries).
    Step,
    /// `range()`: the query's end minus its start (0 for instant queries).
    Range,
    /// `min_of(a, b)`.
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    /// `max_of(a, b)`.
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
    /// A leading `-`.
    Neg(Box<DurationExpr>),
    /// Parentheses, kept for printing.
    Paren(Box<DurationExpr>),
    /// `+ - * / % ^`.
    Binary(BinaryOp, Box<DurationExpr>, Box<DurationExpr>),
}

impl DurationExpr {
    /// The value in seconds for a query with this step and range (ms).
    pub fn seconds(&self, step_ms: i64, range_ms: i64) -> f64 {
        let f = |e: &DurationExpr| e.seconds(step_ms, range_ms);
        match self {
            DurationExpr::Duration(ms) => *ms as f64 / 1000.0,
            DurationExpr::Number(v) => *v,
            DurationExpr::Step => step_ms as f64 / 1000.0,
            DurationExpr::Range => range_ms as f64 / 1000.0,
            DurationExpr::MinOf(a, b) => f(a).min(f(b)),
            DurationExpr::MaxOf(a, b) => f(a).max(f(b)),
            DurationExpr::Neg(e) => -f(e),
            DurationExpr::Paren(e) => f(e),
            DurationExpr::Binary(op, a, b) => {
                let (a, b) = (f(a), f(b));
                match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Sub => a - b,
                    BinaryOp::Mul => a * b,
                    BinaryOp::Div => a / b,
                    BinaryOp::Mod => a % b,
                    _ => a.powf(b),
                }
            }
        }
    }

    /// Whether the value depends on the query (`step()` or `range()`).
    pub fn is_query_dependent(&self) -> bool {
        match self {
            DurationExpr::Duration(_) | DurationExpr::Number(_) => false,
            DurationExpr::Step | DurationExpr::Range => true,
            DurationExpr::Neg(e) | DurationExpr::Paren(e) => e.is_query_dependent(),
            DurationExpr::MinOf(a, b)
            | DurationExpr::MaxOf(a, b)
            | DurationExpr::Binary(_, a, b) => a.is_query_dependent() || b.is_query_dependent(),
        }
    }

    /// The value in milliseconds, or `None` when it is not a finite
    /// duration that fits.
    pub fn millis(&self, step_ms: i64, range_ms: i64) -> Option<i64> {
        let ms = (self.seconds(step_ms, range_ms) * 1000.0).round();
        (ms.is_finite() && ms.abs() <= i64::MAX as f64 / 2.0).then_some(ms as i64)
    }
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `</`: removes a histogram's observations above a value
    TrimUpper,
    /// `>/`: removes a histogram's observations below a value
    TrimLower,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinaryOp {
    /// Whether this is a comparison operator.
    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eql | Neq | Gtr | Lss | Gte | Lte)
    }

    /// Whether this is a histogram trim operator (`</`, `>/`).
    pub fn is_trim(self) -> bool {
        matches!(self, BinaryOp::TrimUpper | BinaryOp::TrimLower)
    }

    /// Whether this is a set operator (`and`, `or`, `unless`).
    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }

    /// Binding strength; higher binds tighter.
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And | Unless => 2,
            Eql | Neq | Gtr | Lss | Gte | Lte | TrimUpper | TrimLower => 3,
            Add | Sub => 4,
            Mul | Div | Mod | Atan2 => 5,
            Pow => 6,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Atan2 => "atan2",
            Eql => "==",
            Neq => "!=",
            Gtr => ">",
            Lss => "<",
            Gte => ">=",
            Lte => "<=",
            TrimUpper => "</",
            TrimLower => ">/",
            And => "and",
            Or => "or",
            Unless => "unless",
        }
    }
}

/// How the two sides of a vector/vector operation are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cardinality {
    /// Each element matches at most one on the other side.
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// Vector matching of a binary expression.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorMatching {
    /// The cardinality.
    pub card: Cardinality,
    /// `true` for `on(...)`, `false` for `ignoring(...)` (or no clause).
    pub on: bool,
    /// The labels of `on`/`ignoring`.
    pub labels: Vec<String>,
    /// Extra labels of `group_left`/`group_right`.
    pub include: Vec<String>,
    /// Values standing in for missing series (`fill`, `fill_left`,
    /// `fill_right`).
    pub fill: FillValues,
}

/// The fill modifiers of a vector/vector operation: a missing left or
/// right operand of a match group takes this value instead of dropping
/// the group.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FillValues {
    /// For a missing left operand.
    pub lhs: Option<f64>,
    /// For a missing right operand.
    pub rhs: Option<f64>,
    /// Written as one `fill(v)` (printed back so).
    pub both: bool,
}

impl FillValues {
    /// Whether any fill is set.
    pub fn any(&self) -> bool {
        self.lhs.is_some() || self.rhs.is_some()
    }
}

/// An aggregation operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `count`
    Count,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `quantile`
    Quantile,
    /// `count_values`
    CountValues,
    /// `limitk`
    Limitk,
    /// `limit_ratio`
    LimitRatio,
}

impl AggregateOp {
    /// The operator for a name.
    pub fn from_name(s: &str) -> Option<AggregateOp> {
        use AggregateOp::*;
        Some(match s.to_ascii_lowercase().as_str() {
            "sum" => Sum,
            "avg" => Avg,
            "min" => Min,
            "max" => Max,
            "count" => Count,
            "group" => Group,
            "stddev" => Stddev,
            "stdvar" => Stdvar,
            "topk" => Topk,
            "bottomk" => Bottomk,
            "quantile" => Quantile,
            "count_values" => CountValues,
            "limitk" => Limitk,
            "limit_ratio" => LimitRatio,
            _ => return None,
        })
    }

    /// The operator's name.
    pub fn as_str(self) -> &'static str {
        use AggregateOp::*;
        match self {
            Sum => "sum",
            Avg => "avg",
            Min => "min",
            Max => "max",
            Count => "count",
            Group => "group",
            Stddev => "stddev",
            Stdvar => "stdvar",
            Topk => "topk",
            Bottomk => "bottomk",
            Quantile => "quantile",
            CountValues => "count_values",
            Limitk => "limitk",
            LimitRatio => "limit_ratio",
        }
    }

    /// Whether the operator takes a parameter before the expression.
    pub fn has_param(self) -> bool {
        use AggregateOp::*;
        matches!(
            self,
            Topk | Bottomk | Quantile | CountValues | Limitk | LimitRatio
        )
    }
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Pos,
}

/// The query-dependent durations of a subquery.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubqueryExprs {
    /// The range.
    pub range: Option<DurationExpr>,
    /// The step.
    pub step: Option<DurationExpr>,
    /// The offset.
    pub offset: Option<DurationExpr>,
}

/// A PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number such as `1`, `0x1f`, `Inf`.
    NumberLiteral(f64),
    /// A string such as `"foo"`.
    StringLiteral(String),
    /// An instant vector selector.
    VectorSelector(VectorSelector),
    /// A range vector selector such as `foo[5m]`.
    MatrixSelector {
        /// The selector (carrying offset and `@`).
        selector: VectorSelector,
        /// The range in milliseconds.
        range_ms: i64,
        /// A range written with `step()` or `range()`, resolved into
        /// `range_ms` when the query runs.
        range_expr: Option<Box<DurationExpr>>,
    },
    /// A subquery such as `rate(foo[1m])[10m:1m]`.
    Subquery {
        /// The inner expression.
        expr: Box<Expr>,
        /// The range in milliseconds.
        range_ms: i64,
        /// The step in milliseconds, if given.
        step_ms: Option<i64>,
        /// The offset in milliseconds.
        offset_ms: i64,
        /// The `@` modifier.
        at: Option<AtModifier>,
        /// Range, step and offset written with `step()` or `range()`,
        /// resolved into the fields above when the query runs.
        exprs: Option<Box<SubqueryExprs>>,
    },
    /// A function call.
    Call {
        /// The function name.
        func: String,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// An aggregation.
    Aggregate {
        /// The operator.
        op: AggregateOp,
        /// The aggregated expression.
        expr: Box<Expr>,
        /// The parameter of topk, quantile, etc.
        param: Option<Box<Expr>>,
        /// The `by`/`without` labels.
        grouping: Vec<String>,
        /// `true` for `without`.
        without: bool,
    },
    /// A binary operation.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
        /// The `bool` modifier of comparisons.
        return_bool: bool,
        /// Vector matching, when both sides are vectors.
        matching: Option<VectorMatching>,
    },
    /// A unary operation.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// A parenthesized expression.
    Paren(Box<Expr>),
}

impl Expr {
    /// The type of the expression's value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::NumberLiteral(_) => ValueType::Scalar,
            Expr::StringLiteral(_) => ValueType::String,
            Expr::VectorSelector(_) => ValueType::Vector,
            Expr::MatrixSelector { .. } | Expr::Subquery { .. } => ValueType::Matrix,
            Expr::Call { func, .. } => super::functions::lookup(func)
                .map(|f| f.ret)
                .unwrap_or(ValueType::Vector),
            Expr::Aggregate { .. } => ValueType::Vector,
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Unary { expr, .. } | Expr::Paren(expr) => expr.value_type(),
        }
    }

    /// Every vector selector in the expression (those of range selectors
    /// and subqueries included), in written order.
    pub fn selectors(&self) -> Vec<&VectorSelector> {
        fn walk<'e>(e: &'e Expr, out: &mut Vec<&'e VectorSelector>) {
            match e {
                Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
                Expr::VectorSelector(vs) | Expr::MatrixSelector { selector: vs, .. } => {
                    out.push(vs)
                }
                Expr::Subquery { expr, .. } | Expr::Unary { expr, .. } | Expr::Paren(expr) => {
                    walk(expr, out)
                }
                Expr::Call { args, .. } => args.iter().for_each(|a| walk(a, out)),
                Expr::Aggregate { expr, param, .. } => {
                    if let Some(p) = param {
                        walk(p, out);
                    }
                    walk(expr, out);
                }
                Expr::Binary { lhs, rhs, .. } => {
                    walk(lhs, out);
                    walk(rhs, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// The expression without enclosing parentheses.
    pub fn unwrap_parens(&self) -> &Expr {
        match self {
            Expr::Paren(e) => e.unwrap_parens(),
            e => e,
        }
    }
}

/// A duration written with `step()` or `range()` whose value does not fit
/// the query; `what` is the duration's place (`range`, `offset`,
/// `subquery range`, `subquery step`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DurationValueError {
    /// More milliseconds than an `i64` holds.
    #[error("{what} {expr} is out of range")]
    OutOfRange {
        /// The duration's place.
        what: &'static str,
        /// The duration as written.
        expr: DurationExpr,
    },
    /// Zero or negative where a positive duration is needed.
    #[error("{what} {expr} must be greater than 0, got {ms}ms")]
    NotPositive {
        /// The duration's place.
        what: &'static str,
        /// The duration as written.
        expr: DurationExpr,
        /// Its value.
        ms: i64,
    },
}

impl Expr {
    /// Replaces every duration written with `step()` or `range()` by its
    /// value for a query with this step and range (both 0 for an instant
    /// query). Ranges and subquery steps must come out positive.
    pub fn resolve_durations(
        &mut self,
        step_ms: i64,
        range_ms: i64,
    ) -> Result<(), DurationValueError> {
        let value = |e: &DurationExpr,
                     what: &'static str,
                     positive: bool|
         -> Result<i64, DurationValueError> {
            let ms = e
                .millis(step_ms, range_ms)
                .ok_or_else(|| DurationValueError::OutOfRange {
                    what,
                    expr: e.clone(),
                })?;
            if positive && ms <= 0 {
                return Err(DurationValueError::NotPositive {
                    what,
                    expr: e.clone(),
                    ms,
                });
            }
            Ok(ms)
        };
        let selector = |vs: &mut VectorSelector| -> Result<(), DurationValueError> {
            if let Some(e) = vs.offset_expr.take() {
                vs.offset_ms = value(&e, "offset", false)?;
            }
            Ok(())
        };
        match self {
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
            Expr::VectorSelector(vs) => selector(vs),
            Expr::MatrixSelector {
                selector: vs,
                range_ms: r,
                range_expr,
            } => {
                if let Some(e) = range_expr.take() {
                    *r = value(&e, "range", true)?;
                }
                selector(vs)
            }
            Expr::Subquery {
                expr,
                range_ms: r,
                step_ms: s,
                offset_ms,
                exprs,
                ..
            } => {
                if let Some(x) = exprs.take() {
                    if let Some(e) = &x.range {
                        *r = value(e, "subquery range", true)?;
                    }
                    if let Some(e) = &x.step {
                        *s = Some(value(e, "subquery step", true)?);
                    }
                    if let Some(e) = &x.offset {
                        *offset_ms = value(e, "offset", false)?;
                    }
                }
                expr.resolve_durations(step_ms, range_ms)
            }
            Expr::Call { args, .. } => args
                .iter_mut()
                .try_for_each(|a| a.resolve_durations(step_ms, range_ms)),
            Expr::Aggregate { expr, param, .. } => {
                if let Some(p) = param {
                    p.resolve_durations(step_ms, range_ms)?;
                }
                expr.resolve_durations(step_ms, range_ms)
            }
            Expr::Binary { lhs, rhs, .. } => {
                lhs.resolve_durations(step_ms, range_ms)?;
                rhs.resolve_durations(step_ms, range_ms)
            }
            Expr::Unary { expr, .. } | Expr::Paren(expr) => {
                expr.resolve_durations(step_ms, range_ms)
            }
        }
    }
}
