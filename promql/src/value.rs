//! Query results, and the values the evaluator passes between nodes.

use tsdb::labels::Labels;

/// The result of a query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings collected during evaluation.
    pub warnings: Vec<String>,
    /// Informational notes collected during evaluation.
    pub infos: Vec<String>,
}

/// A query's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar at time `t` (milliseconds).
    Scalar {
        /// Evaluation time.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at time `t`.
    String {
        /// Evaluation time.
        t: i64,
        /// The value.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<VectorSample>),
    /// A range vector (or the result of a range query).
    Matrix(Vec<MatrixSeries>),
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSample {
    /// The series labels.
    pub metric: Labels,
    /// Timestamp in milliseconds (the evaluation time).
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One series of a range vector.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSeries {
    /// The series labels.
    pub metric: Labels,
    /// `(timestamp ms, value)` pairs in time order.
    pub points: Vec<(i64, f64)>,
}

/// The bit pattern Prometheus uses for stale markers.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is a stale marker.
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// An element of an instant vector during evaluation.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub metric: Labels,
    pub v: f64,
    /// The metric name is to be removed at the end of evaluation.
    pub drop_name: bool,
}

/// A series of a range vector during evaluation.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub metric: Labels,
    pub points: Vec<(i64, f64)>,
    pub drop_name: bool,
}

/// A value at one evaluation step.
#[derive(Clone, Debug)]
pub(crate) enum StepValue {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}
