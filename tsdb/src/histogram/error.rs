//! Why a histogram's buckets or a classic histogram cannot be made into a
//! stored histogram, in Prometheus's words.

/// Spans and bucket counts that do not make buckets; `side` is `positive`
/// or `negative`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpansError {
    /// An integer histogram's bucket whose count comes out negative.
    #[error("{side} bucket number {bucket} has observation count of {count}")]
    NegativeCount {
        /// The side.
        side: String,
        /// The bucket's 1-based number.
        bucket: usize,
        /// Its count.
        count: i64,
    },
    /// Spans that cover more or fewer buckets than there are counts.
    #[error("{side} side: spans need {need} buckets, have {have} buckets")]
    Length {
        /// The side.
        side: String,
        /// The buckets the spans cover.
        need: u64,
        /// The counts.
        have: usize,
    },
    /// A span after the first going back.
    #[error("{side} side: span number {span} with offset {offset}")]
    NegativeOffset {
        /// The side.
        side: String,
        /// The span's 1-based number.
        span: usize,
        /// Its offset.
        offset: i32,
    },
    /// A bucket index beyond `i32`.
    #[error("{side} bucket index {index} out of range")]
    IndexRange {
        /// The side.
        side: String,
        /// The index.
        index: i64,
    },
}

/// A classic histogram that has no histogram with custom bounds.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClassicError {
    /// A bucket with a negative count.
    #[error("negative bucket count: le={le}, count={count}")]
    NegativeBucket {
        /// The bucket's upper bound.
        le: f64,
        /// Its count.
        count: f64,
    },
    /// A bucket whose count is below a lower bucket's or above a higher
    /// one's.
    #[error("bucket counts are not cumulative: le={le}, count={count}")]
    NotCumulative {
        /// The bucket's upper bound.
        le: f64,
        /// Its count.
        count: f64,
    },
    /// A negative count of observations.
    #[error("negative count: count={0}")]
    NegativeCount(f64),
    /// A count of observations other than the `+Inf` bucket's.
    #[error(
        "histogram count does not match the +Inf bucket: count={count} != le=+Inf count={inf}"
    )]
    CountMismatch {
        /// The count of observations.
        count: f64,
        /// The `+Inf` bucket's count.
        inf: f64,
    },
}
