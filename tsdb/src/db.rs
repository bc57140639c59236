//! The database: a data folder with its lock, the series log, the chunk
//! slot files and the head built from them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::chunks::ChunkFiles;
use crate::head::{Appender, Head};
use crate::read::{Querier, Queryable, ReadError};
use crate::series_log::SeriesLog;
use crate::Error;

/// Options for [`Db::open`].
#[derive(Clone, Debug)]
pub struct Options {
    /// How long samples are kept, in milliseconds (not enforced yet).
    pub retention_ms: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention_ms: 15 * 24 * 3600 * 1000,
        }
    }
}

/// What the database holds now, for self-metrics and status pages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Series in the head.
    pub series: u64,
    /// Samples stored since start.
    pub samples_appended: u64,
    /// Samples refused as out of order since start.
    pub out_of_order: u64,
    /// Samples refused as duplicate timestamps since start.
    pub duplicates: u64,
    /// Chunks created since start.
    pub chunks_created: u64,
    /// Series created since start.
    pub series_created: u64,
    /// Bytes of chunk files mapped.
    pub mapped_bytes: u64,
    /// Samples refused as older than the head accepts, since start.
    pub out_of_bounds: u64,
    /// Series removed from the head, since start.
    pub series_removed: u64,
}

/// What opening found, for the start-up log.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    /// Series loaded.
    pub series: usize,
    /// Chunks attached to series.
    pub chunks: usize,
    /// Bytes cut from the series log's torn tail.
    pub series_log_cut_bytes: u64,
    /// Chunk slots whose series is unknown (skipped).
    pub orphan_chunks: usize,
    /// Problems found and worked around (bad slots), one line each.
    pub problems: Vec<String>,
}

/// A time-series database in one folder.
pub struct Db {
    dir: PathBuf,
    head: Head,
    report: OpenReport,
    _lock: File,
}

const LOCK_FILE: &str = "lock";
const SERIES_FILE: &str = "series";
const CHUNKS_DIR: &str = "chunks_head";

impl Db {
    /// Opens (creating if needed) the database in `dir`. Nothing is
    /// replayed: files are mapped and their headers read.
    pub fn open(dir: &Path, _opts: Options) -> Result<Db, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked { path: lock_path })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let (log, loaded) = SeriesLog::open(&dir.join(SERIES_FILE))?;
        let (chunks, slots, problems) = ChunkFiles::open(&dir.join(CHUNKS_DIR))?;
        let (head, r) = Head::load(log, loaded.series, chunks, slots, i64::MIN);
        let report = OpenReport {
            series: r.series,
            chunks: r.chunks,
            series_log_cut_bytes: loaded.cut_bytes,
            orphan_chunks: r.orphan_chunks,
            problems,
        };
        Ok(Db {
            dir: dir.to_path_buf(),
            head,
            report,
            _lock: lock,
        })
    }

    /// What opening found.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new appender (one batch, e.g. one scrape).
    pub fn appender(&self) -> Appender<'_> {
        Appender::new(&self.head)
    }

    /// Makes everything appended so far durable: the series log is synced
    /// and chunk pages are written (waiting for them when `wait`).
    pub fn flush(&self, wait: bool) -> Result<(), Error> {
        self.head.sync_log()?;
        self.head.chunks.flush(wait)
    }

    /// Cardinality of the head: the `limit` largest entries of each list.
    pub fn cardinality(&self, limit: usize) -> crate::Cardinality {
        self.head.postings.read().cardinality(limit)
    }

    /// Number of chunks and the time range of the head's samples
    /// (`None` when empty).
    pub fn time_range(&self) -> (u64, Option<(i64, i64)>) {
        self.head.time_range()
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        let c = &self.head.counters;
        Stats {
            series: self.head.num_series(),
            samples_appended: c.samples_appended.load(Ordering::Relaxed),
            out_of_order: c.out_of_order.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            chunks_created: c.chunks_created.load(Ordering::Relaxed),
            series_created: c.series_created.load(Ordering::Relaxed),
            mapped_bytes: self.head.chunks.mapped_bytes(),
            out_of_bounds: c.out_of_bounds.load(Ordering::Relaxed),
            series_removed: c.series_removed.load(Ordering::Relaxed),
        }
    }
}

impl Queryable for Db {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, ReadError> {
        Ok(Box::new(crate::head::HeadQuerier {
            head: &self.head,
            mint,
            maxt,
        }))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.flush(true) {
            tracing::error!(err = %e, "Flushing the database on close failed");
        }
    }
}
