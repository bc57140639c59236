//! flint's storage engine: series are kept in memory-mapped, append-only
//! files, so that a restart maps the files instead of replaying a log.
//!
//! The public surface: [`Db`] (open, append, query), [`Appender`],
//! [`labels`] (label sets and matchers) and [`read`] (the seam the query
//! engine reads through). On-disk formats are described in `docs/format/`.
//!
//! ```
//! use tsdb::{Db, Options, labels::{Labels, Matcher}, read::{Queryable, SampleIterator}};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! let mut app = db.appender();
//! let up = Labels::from_pairs(&[("__name__", "up"), ("job", "demo")]);
//! app.append_labels(&up, 1_000, 1.0).unwrap();
//! app.commit().unwrap();
//! let q = db.querier(0, 2_000).unwrap();
//! let mut series = q.select(&[Matcher::equal("job", "demo")]).unwrap();
//! assert_eq!(series[0].samples.next(), Some((1_000, 1.0)));
//! ```
#![deny(missing_docs)]

mod block;
pub mod chunkenc;
mod chunks;
mod compact;
mod db;
mod delete;
mod encoding;
mod error;
mod exemplars;
mod fasthash;
mod fs;
#[doc(hidden)]
pub mod fuzzing;
mod head;
pub mod histogram;
mod histstore;
mod journal;
pub mod labels;
pub mod packed;
pub mod parallel;
mod postings;
pub mod prom;
mod querier;
pub mod read;
mod reader;
mod series_log;
pub mod takeover;
pub mod time;
pub mod tools;
mod usage;

pub use chunks::ChunkRef;
pub use db::{CompactReport, Db, OpenReport, Options, Stats};
pub use delete::DeleteReport;
pub use error::Error;
pub use exemplars::{Exemplar, ExemplarError, ExemplarStats, SeriesExemplars, MAX_LABEL_SET_CHARS};
pub use fs::volume_capacity;
pub use head::{AppendStats, Appender, SeriesHandle, SeriesRef};
pub use journal::{
    CatchUp, JournalBatch, JournalExemplar, JournalPosition, JournalRead, JournalSample,
    ReaderState,
};
pub use postings::Cardinality;
pub use usage::MetricBytes;

/// The value Prometheus writes as a staleness marker: a NaN with this bit
/// pattern, distinct from an ordinary NaN sample.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is a staleness marker.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

#[cfg(test)]
mod tests;
