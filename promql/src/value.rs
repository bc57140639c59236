//! Query results, and the values the evaluator passes between nodes.

use std::sync::Arc;

use tsdb::histogram::FloatHistogram;
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
    /// Statistics of the evaluation (Prometheus's `stats` with
    /// `stats=all`).
    pub stats: QueryStats,
}

/// Statistics of one query, for the `data.stats` member that Prometheus
/// returns when asked with `stats=all`. Field by field:
///
/// | field | Prometheus JSON |
/// | --- | --- |
/// | [`eval_seconds`](Self::eval_seconds) | `timings.evalTotalTime` (and `timings.execTotalTime` plus the server's queueing) |
/// | [`preparation_seconds`](Self::preparation_seconds) | `timings.queryPreparationTime` |
/// | [`inner_eval_seconds`](Self::inner_eval_seconds) | `timings.innerEvalTime` |
/// | [`sort_seconds`](Self::sort_seconds) | `timings.resultSortTime` |
/// | (none: the engine has no queue) | `timings.execQueueTime` |
/// | [`total_samples`](Self::total_samples) | `samples.totalQueryableSamples` |
/// | [`peak_samples`](Self::peak_samples) | `samples.peakSamples` |
/// | [`total_samples_per_step`](Self::total_samples_per_step) | `samples.totalQueryableSamplesPerStep` as `[[<seconds>, <count>], ...]` |
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryStats {
    /// Samples read by selectors, summed over all evaluation steps: one
    /// per series an instant selector finds at a step, every point in the
    /// window of a range selector, including those read for subqueries.
    pub total_samples: u64,
    /// The most samples held at once, estimated as the most of the
    /// samples read at one step plus the output points accumulated by
    /// then (for range queries).
    pub peak_samples: u64,
    /// `total_samples` by evaluation step: `(step timestamp ms, samples)`,
    /// one entry per step (one for instant queries).
    pub total_samples_per_step: Vec<(i64, u64)>,
    /// Wall time of the whole evaluation: parsing, loading, evaluating
    /// and sorting.
    pub eval_seconds: f64,
    /// Time to parse the query and load its samples from storage.
    pub preparation_seconds: f64,
    /// Time spent evaluating the steps.
    pub inner_eval_seconds: f64,
    /// Time spent sorting the result.
    pub sort_seconds: f64,
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
    /// The value (0 for a histogram sample).
    pub v: f64,
    /// The native histogram, when the sample is one.
    pub h: Option<Arc<FloatHistogram>>,
}

/// One series of a range vector.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSeries {
    /// The series labels.
    pub metric: Labels,
    /// `(timestamp ms, value)` pairs in time order.
    pub points: Vec<(i64, f64)>,
    /// `(timestamp ms, histogram)` pairs in time order.
    pub hpoints: Vec<(i64, Arc<FloatHistogram>)>,
}

pub use tsdb::STALE_NAN_BITS;

/// Whether `v` is a stale marker.
pub fn is_stale(v: f64) -> bool {
    tsdb::is_stale_nan(v)
}

/// An element of an instant vector during evaluation.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub metric: Labels,
    pub v: f64,
    /// The native histogram, when the sample is one (`v` is then 0).
    pub h: Option<Arc<FloatHistogram>>,
    /// The metric name is to be removed at the end of evaluation.
    pub drop_name: bool,
}

/// A series of a range vector during evaluation.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub metric: Labels,
    pub points: Vec<(i64, f64)>,
    /// Native histogram samples, in time order.
    pub hpoints: Vec<(i64, Arc<FloatHistogram>)>,
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
