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
    /// The `@` modifier.
    pub at: Option<AtModifier>,
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
            Eql | Neq | Gtr | Lss | Gte | Lte => 3,
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

    /// The expression without enclosing parentheses.
    pub fn unwrap_parens(&self) -> &Expr {
        match self {
            Expr::Paren(e) => e.unwrap_parens(),
            e => e,
        }
    }
}
