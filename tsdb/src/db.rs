//! The database: a data folder with its lock, the series log, the chunk
//! slot files and the head built from them, and the immutable blocks the
//! head's older ranges are moved into.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::block::{self, Block, ChunkData};
use crate::head::{Appender, Head};
use crate::read::{Querier, Queryable, ReadError};
use crate::Error;

/// Options for [`Db::open`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Blocks whose newest sample is older than this, relative to the
    /// newest data, are deleted (milliseconds; 0 keeps everything).
    pub retention_ms: i64,
    /// When the blocks and head files take more bytes than this, the
    /// oldest blocks are deleted (0: no limit).
    pub retention_bytes: u64,
    /// Samples more than this many milliseconds after the wall clock are
    /// refused, so that one stray future timestamp cannot move the head's
    /// window past the present (0: no limit).
    pub max_future_ms: i64,
    /// Do not create or lock the `lock` file (`--storage.tsdb.no-lockfile`):
    /// two servers on one folder are then not refused.
    pub no_lockfile: bool,
    /// Most bytes the append journal's segments may take before the
    /// oldest is dropped (its readers then catch up from the blocks and
    /// head).
    pub journal_max_bytes: u64,
    /// Bytes after which the journal starts a new segment.
    pub journal_segment_bytes: u64,
    /// Agent mode: samples are written to the journal only (for remote
    /// write), not to chunks; nothing can be queried.
    pub agent: bool,
    /// How many exemplars are held (the newest of all series; 0: none
    /// are stored), as `storage.exemplars.max_exemplars`.
    pub max_exemplars: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention_ms: 15 * 24 * 3600 * 1000,
            retention_bytes: 0,
            max_future_ms: 10 * 60 * 1000,
            no_lockfile: false,
            journal_max_bytes: 1 << 30,
            journal_segment_bytes: crate::journal::SEGMENT_BYTES,
            agent: false,
            max_exemplars: 0,
        }
    }
}

/// What one [`Db::compact`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Blocks written from the head.
    pub blocks_written: usize,
    /// Series forgotten by the head (no data left in it).
    pub series_removed: usize,
    /// Blocks deleted by retention.
    pub blocks_deleted: usize,
    /// Blocks merged into larger ones.
    pub blocks_merged: usize,
    /// The series log was rewritten without the forgotten series.
    pub series_log_rewritten: bool,
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
    /// Blocks on disk.
    pub blocks: u64,
    /// Bytes of the blocks.
    pub block_bytes: u64,
    /// Head compactions (blocks written) since start.
    pub compactions: u64,
    /// Compaction runs that failed since start.
    pub compactions_failed: u64,
    /// Blocks deleted by retention since start.
    pub retention_deletions: u64,
    /// Rewrites of the series log without forgotten series begun since
    /// start.
    pub series_log_rewrites: u64,
    /// Of those, the ones that failed (the log is then left as it was).
    pub series_log_rewrite_failures: u64,
    /// Samples in the blocks.
    pub block_samples: u64,
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
    /// Bytes of damaged series records skipped in the middle of the log.
    pub series_log_skipped_bytes: u64,
    /// Chunk slots whose series is unknown (skipped).
    pub orphan_chunks: usize,
    /// Problems found and worked around (bad slots), one line each.
    pub problems: Vec<String>,
}

fn to_chunk_data(c: crate::head::PersistChunk) -> ChunkData {
    ChunkData {
        mint: c.mint,
        maxt: c.maxt,
        encoding: c.encoding,
        count: c.count,
        bit_len: c.bit_len,
        data: c.data,
    }
}

/// `YYYYMMDDTHHMMSSZ` of now, as snapshot names start.
fn snapshot_time() -> String {
    let ms = crate::time::now_ms();
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    let (y, m, d) = crate::time::civil_from_days(ms.div_euclid(86_400_000));
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The longest a compaction waits for the queriers that were open when
/// it added a block before the head lets go of the block's range.
const READERS_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// A time-series database in one folder.
pub struct Db {
    pub(crate) dir: PathBuf,
    pub(crate) head: Head,
    /// Blocks, oldest first.
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    pub(crate) opts: Options,
    report: OpenReport,
    pub(crate) compact_lock: Mutex<()>,
    /// Held by every querier (a clone) from before it lists the blocks
    /// until it is dropped: once a block is added, the head lets go of
    /// that block's data only when the queriers that may not know the
    /// block are gone (see [`Db::wait_for_queriers`]).
    pub(crate) readers: Mutex<Arc<()>>,
    compactions: AtomicU64,
    compactions_failed: AtomicU64,
    /// Retention in force (from the options, changed by `set_retention`).
    retention_ms: std::sync::atomic::AtomicI64,
    retention_bytes: AtomicU64,
    retention_deletions: AtomicU64,
    series_log_rewrites: AtomicU64,
    series_log_rewrite_failures: AtomicU64,
    _lock: Option<File>,
}

const LOCK_FILE: &str = "lock";

/// Creates and locks `dir/lock`; the lock lasts as long as the file is open.
fn lock_folder(dir: &Path) -> Result<File, Error> {
    let lock_path = dir.join(LOCK_FILE);
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path: lock_path }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&lock_path, e)),
    }
}
const SERIES_FILE: &str = "series";
const CHUNKS_DIR: &str = "chunks_head";
/// The closed-chunk log's segments.
const CLOSED_CHUNKS_DIR: &str = "chunks_closed";

impl Db {
    /// Opens (creating if needed) the database in `dir`. Nothing is
    /// replayed: files are mapped and their headers read.
    pub fn open(dir: &Path, opts: Options) -> Result<Db, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = if opts.no_lockfile {
            None
        } else {
            Some(lock_folder(dir)?)
        };
        let mut problems = Vec::new();
        block::remove_tmp_blocks(dir)?;
        let mut blocks = Vec::new();
        for path in block::list_blocks(dir)? {
            match Block::open(&path) {
                Ok(b) => blocks.push(Arc::new(b)),
                Err(e) => {
                    // move it aside, keep serving the rest
                    problems.push(format!(
                        "{}: {e}; {}",
                        path.display(),
                        match crate::fs::move_aside(&path) {
                            Ok(aside) => format!("moved aside to {}", aside.display()),
                            Err(_) => "left in place".to_string(),
                        }
                    ));
                }
            }
        }
        blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
        // parts of a merge that stopped before deleting them
        for old in crate::compact::superseded(&blocks) {
            let dir = old.dir().to_path_buf();
            problems.push(format!(
                "{}: held by a merged block, deleted",
                dir.display()
            ));
            blocks.retain(|b| !Arc::ptr_eq(b, &old));
            drop(old);
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let min_valid = blocks
            .iter()
            .map(|b| b.meta().max_time)
            .max()
            .unwrap_or(i64::MIN);
        // what the blocks hold of the native histograms
        let mut last: std::collections::HashMap<crate::labels::Labels, i64> =
            std::collections::HashMap::new();
        for h in blocks.iter().filter_map(|b| b.histograms()) {
            for (l, t) in h.last_times() {
                let e = last.entry(l.clone()).or_insert(t);
                *e = (*e).max(t);
            }
        }
        let holds = |l: &crate::labels::Labels, mint: i64| {
            blocks.iter().any(|b| {
                b.meta().min_time <= mint
                    && mint < b.meta().max_time
                    && b.histograms().is_some_and(|h| h.holds(l, mint))
            })
        };
        let in_blocks = crate::histstore::InBlocks {
            last,
            holds: &holds,
            floor: min_valid,
        };
        let (head, r, loaded, chunk_problems) = Head::load(
            &dir.join(SERIES_FILE),
            &dir.join(CHUNKS_DIR),
            &dir.join(CLOSED_CHUNKS_DIR),
            min_valid,
            opts.max_future_ms,
            &in_blocks,
        )?;
        drop(in_blocks);
        problems.extend(chunk_problems);
        let report = OpenReport {
            series: r.series,
            chunks: r.chunks,
            series_log_cut_bytes: loaded.cut_bytes,
            series_log_skipped_bytes: loaded.skipped_bytes,
            orphan_chunks: r.orphan_chunks,
            problems,
        };
        let (retention_ms, retention_bytes) = (opts.retention_ms, opts.retention_bytes);
        let db = Db {
            dir: dir.to_path_buf(),
            head,
            blocks: RwLock::new(blocks),
            opts,
            report,
            compact_lock: Mutex::new(()),
            readers: Mutex::new(Arc::new(())),
            compactions: AtomicU64::new(0),
            compactions_failed: AtomicU64::new(0),
            retention_ms: std::sync::atomic::AtomicI64::new(retention_ms),
            retention_bytes: AtomicU64::new(retention_bytes),
            retention_deletions: AtomicU64::new(0),
            series_log_rewrites: AtomicU64::new(0),
            series_log_rewrite_failures: AtomicU64::new(0),
            _lock: lock,
        };
        db.head.agent.store(db.opts.agent, Ordering::Relaxed);
        db.open_journal()?;
        let max_exemplars = if db.opts.agent {
            0
        } else {
            db.opts.max_exemplars
        };
        db.head.exemplars.open(
            &dir.join(crate::exemplars::EXEMPLARS_DIR),
            max_exemplars,
            &|id| db.head.get(id).map(|s| s.labels.to_labels()),
        )?;
        Ok(db)
    }

    /// Whether the head holds a range ready to become a block (it spans
    /// 3 h): what [`Db::compact`] would write now.
    pub fn compactable(&self) -> bool {
        self.head.next_block_range().is_some()
    }

    /// Moves every complete old range of the head into a block (2 h each,
    /// once the head spans 3 h), then applies retention. Appends and
    /// queries go on meanwhile.
    pub fn compact(&self) -> Result<CompactReport, Error> {
        let r = self.compact_all();
        if r.is_err() {
            self.compactions_failed.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Waits until every querier made before now is dropped (at most
    /// [`READERS_WAIT`]; a query still running then may miss the range
    /// the head lets go of, and a warning says so).
    fn wait_for_queriers(&self) {
        let old = std::mem::replace(&mut *self.readers.lock(), Arc::new(()));
        let started = std::time::Instant::now();
        while Arc::strong_count(&old) > 1 {
            if started.elapsed() > READERS_WAIT {
                tracing::warn!(component = "tsdb", queriers = Arc::strong_count(&old) - 1, waited = ?started.elapsed(), "Queriers still open after a block was written: the head lets go of its range anyway");
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn compact_all(&self) -> Result<CompactReport, Error> {
        let _only_one = self.compact_lock.lock();
        let mut rep = CompactReport::default();
        while let Some((start, end)) = self.head.next_block_range() {
            let p = self.head.collect_persistable(end);
            // the native histograms of the range go into the block too
            let hist = self.head.hist.collect_range(start, end)?;
            if !p.series.is_empty() || !hist.is_empty() {
                let series = p.series.iter().map(|(labels, chunks)| {
                    (
                        labels.clone(),
                        chunks.iter().map(|c| to_chunk_data(c.clone())).collect(),
                    )
                });
                let meta =
                    block::write_block_with(&self.dir, start, end, series, &hist, 1, Vec::new())?;
                let b = Block::open(&self.dir.join(&meta.id))?;
                let mut blocks = self.blocks.write();
                blocks.push(Arc::new(b));
                blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
                drop(blocks);
                rep.blocks_written += 1;
                self.compactions.fetch_add(1, Ordering::Relaxed);
                tracing::info!(component = "tsdb", mint = start, maxt = end, ulid = %meta.id, series = meta.num_series, histogram_series = meta.hist.series, "Write block");
            }
            // queriers that listed the blocks before this one read the
            // range from the head: it stays there until they are done
            self.wait_for_queriers();
            // a stop before this leaves the range file beside the block
            // that holds its chunks: deleted at the next open
            self.head.hist.finish_range(start)?;
            self.pin_journal_series();
            rep.series_removed += self.head.truncate(end, &p)?;
        }
        rep.blocks_merged = self.merge_blocks()?;
        rep.blocks_deleted = self.apply_retention()?;
        // a failed rewrite leaves the log as it was: reported, and tried
        // again at the next compaction
        let started = std::time::Instant::now();
        match self.head.compact_series_log() {
            Ok(None) => {}
            Ok(Some((before, after))) => {
                self.series_log_rewrites.fetch_add(1, Ordering::Relaxed);
                rep.series_log_rewritten = true;
                tracing::info!(
                    component = "tsdb",
                    before_bytes = before,
                    after_bytes = after,
                    duration = ?started.elapsed(),
                    "Series log rewritten without forgotten series"
                );
            }
            Err(e) => {
                self.series_log_rewrites.fetch_add(1, Ordering::Relaxed);
                self.series_log_rewrite_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(component = "tsdb", err = %e, "Series log rewrite failed");
            }
        }
        Ok(rep)
    }

    /// Writes a consistent copy of the database into `<data>/snapshots/<name>`
    /// and returns the name: blocks as hard links, and (unless `skip_head`)
    /// the head's data as one more block. The folder can be used as a data
    /// folder on its own.
    pub fn snapshot(&self, skip_head: bool) -> Result<String, Error> {
        let _only_one = self.compact_lock.lock();
        let name = format!(
            "{}-{}",
            snapshot_time(),
            crate::block::new_block_id()[16..].to_ascii_lowercase()
        );
        let root = self.dir.join("snapshots").join(&name);
        std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        for b in self.blocks.read().iter() {
            let to = root.join(&b.meta().id);
            std::fs::create_dir(&to).map_err(|e| Error::io(&to, e))?;
            for e in std::fs::read_dir(b.dir()).map_err(|e| Error::io(b.dir(), e))? {
                let e = e.map_err(|e| Error::io(b.dir(), e))?;
                let dst = to.join(e.file_name());
                std::fs::hard_link(e.path(), &dst).map_err(|err| Error::io(&dst, err))?;
            }
        }
        if !skip_head {
            let (series, min, max) = self.head.copy_all();
            if !series.is_empty() {
                let series = series
                    .into_iter()
                    .map(|(l, cs)| (l, cs.into_iter().map(to_chunk_data).collect::<Vec<_>>()));
                block::write_block(&root, min, max + 1, series, 1, Vec::new())?;
            }
        }
        // the histogram store as it is
        let hist = self.head.hist.dir();
        if hist.exists() {
            self.head.hist.sync()?;
            let to = root.join(crate::histstore::DIR);
            std::fs::create_dir(&to).map_err(|e| Error::io(&to, e))?;
            for e in std::fs::read_dir(hist).map_err(|e| Error::io(hist, e))? {
                let e = e.map_err(|e| Error::io(hist, e))?;
                let dst = to.join(e.file_name());
                std::fs::copy(e.path(), &dst).map_err(|err| Error::io(&dst, err))?;
            }
        }
        crate::fs::sync_dir(&root).map_err(|e| Error::io(&root, e))?;
        Ok(name)
    }

    /// Merges adjacent blocks into larger ones while there is a complete
    /// window to merge. Returns how many blocks were merged away.
    fn merge_blocks(&self) -> Result<usize, Error> {
        let max_range = crate::compact::max_range_for(self.retention_ms.load(Ordering::Relaxed));
        let mut merged = 0;
        loop {
            let complete_before = self.head.min_valid.load(Ordering::Relaxed);
            let snapshot: Vec<Arc<Block>> = self.blocks.read().clone();
            let Some(parts) = crate::compact::plan(&snapshot, max_range, complete_before) else {
                break;
            };
            let meta = crate::compact::merge(&self.dir, &parts)?;
            let b = Arc::new(Block::open(&self.dir.join(&meta.id))?);
            {
                let mut blocks = self.blocks.write();
                blocks.retain(|x| !parts.iter().any(|p| Arc::ptr_eq(x, p)));
                blocks.push(b);
                blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
            }
            tracing::info!(
                component = "tsdb",
                mint = meta.min_time,
                maxt = meta.max_time,
                ulid = %meta.id,
                parts = parts.len(),
                "Compacted blocks"
            );
            for p in &parts {
                let dir = p.dir().to_path_buf();
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
            crate::fs::sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
            merged += parts.len();
            self.compactions.fetch_add(1, Ordering::Relaxed);
        }
        Ok(merged)
    }

    /// Deletes blocks beyond the time or size retention.
    fn apply_retention(&self) -> Result<usize, Error> {
        let newest = {
            let blocks = self.blocks.read();
            let head_max = self.head.max_time.load(Ordering::Relaxed);
            let hist_max = self.head.hist.time_range().map_or(i64::MIN, |r| r.1);
            blocks
                .iter()
                .map(|b| b.meta().max_time)
                .max()
                .unwrap_or(i64::MIN)
                .max(head_max)
                .max(hist_max)
        };
        let mut doomed: Vec<Arc<Block>> = Vec::new();
        {
            let mut blocks = self.blocks.write();
            let retention_ms = self.retention_ms.load(Ordering::Relaxed);
            if retention_ms > 0 && newest > i64::MIN {
                let cutoff = newest.saturating_sub(retention_ms);
                self.head.hist.drop_before(cutoff)?;
                let (old, keep): (Vec<_>, Vec<_>) =
                    blocks.drain(..).partition(|b| b.meta().max_time <= cutoff);
                *blocks = keep;
                doomed.extend(old);
            }
            let retention_bytes = self.retention_bytes.load(Ordering::Relaxed);
            if retention_bytes > 0 {
                let head_bytes = self.head.chunks.disk_bytes()
                    + self.head.log.disk_bytes()
                    + self.head.hist.disk_bytes();
                let mut total: u64 =
                    head_bytes + blocks.iter().map(|b| b.size_bytes()).sum::<u64>();
                while total > retention_bytes && !blocks.is_empty() {
                    let b = blocks.remove(0);
                    total = total.saturating_sub(b.size_bytes());
                    doomed.push(b);
                }
            }
        }
        let n = doomed.len();
        for b in doomed {
            tracing::info!(component = "tsdb", ulid = %b.meta().id, "Deleting obsolete block");
            let dir = b.dir().to_path_buf();
            drop(b); // open readers keep their own Arc and mapping
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        if n > 0 {
            crate::fs::sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
            self.retention_deletions
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
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

    /// Whether the head still knows a series reference.
    pub fn has_series(&self, r: crate::SeriesRef) -> bool {
        self.head.get(r.0).is_some()
    }

    /// Makes everything appended so far durable: the series log is synced
    /// and chunk pages are written (waiting for them when `wait`).
    pub fn flush(&self, wait: bool) -> Result<(), Error> {
        self.head.sync_log()?;
        self.head.chunks.flush(wait)?;
        self.head.flush_moved()?;
        self.head.exemplars.sync()?;
        self.head.hist.sync()?;
        self.flush_journal()
    }

    /// Changes how many exemplars are held, keeping the newest (a
    /// configuration reload); from 0, the exemplar log is read back.
    pub fn set_max_exemplars(&self, max: usize) -> Result<(), Error> {
        if self.opts.agent {
            return Ok(());
        }
        self.head
            .exemplars
            .resize(max, &|id| self.head.get(id).map(|s| s.labels.to_labels()))
            .map(|_| ())
    }

    /// The exemplars in `mint..=maxt` of the series that match any of the
    /// matcher sets, sorted by series labels, each series' oldest first.
    pub fn exemplars(
        &self,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<crate::labels::Matcher>],
    ) -> Vec<crate::SeriesExemplars> {
        self.head.exemplars.select(mint, maxt, matcher_sets)
    }

    /// Whether exemplars appended now would be stored at all.
    pub fn stores_exemplars(&self) -> bool {
        self.head.exemplars.enabled()
    }

    /// The exemplar store's counters.
    pub fn exemplar_stats(&self) -> crate::ExemplarStats {
        self.head.exemplars.stats()
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

    /// Changes the retention (time in ms, 0: none; bytes, 0: none), as a
    /// configuration's `storage.tsdb.retention` does; applied at the next
    /// compaction.
    pub fn set_retention(&self, ms: i64, bytes: u64) {
        self.retention_ms.store(ms, Ordering::Relaxed);
        self.retention_bytes.store(bytes, Ordering::Relaxed);
    }

    /// The retention in force: (ms, bytes).
    pub fn retention(&self) -> (i64, u64) {
        (
            self.retention_ms.load(Ordering::Relaxed),
            self.retention_bytes.load(Ordering::Relaxed),
        )
    }

    /// The oldest timestamp stored (blocks or head), `None` when empty.
    pub fn oldest_time(&self) -> Option<i64> {
        let blocks = self.blocks.read().first().map(|b| b.meta().min_time);
        let head = self.head.time_range().1.map(|r| r.0);
        let hist = self.head.hist.time_range().map(|r| r.0);
        [blocks, head, hist].into_iter().flatten().min()
    }

    /// Bytes the native histogram store takes on disk.
    pub fn histogram_bytes(&self) -> u64 {
        self.head.hist.disk_bytes()
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
            mapped_bytes: self.head.chunks.mapped_bytes() + self.head.log.mapped_bytes(),
            out_of_bounds: c.out_of_bounds.load(Ordering::Relaxed),
            series_removed: c.series_removed.load(Ordering::Relaxed),
            blocks: self.blocks.read().len() as u64,
            block_bytes: self.blocks.read().iter().map(|b| b.size_bytes()).sum(),
            compactions: self.compactions.load(Ordering::Relaxed),
            compactions_failed: self.compactions_failed.load(Ordering::Relaxed),
            retention_deletions: self.retention_deletions.load(Ordering::Relaxed),
            series_log_rewrites: self.series_log_rewrites.load(Ordering::Relaxed),
            series_log_rewrite_failures: self.series_log_rewrite_failures.load(Ordering::Relaxed),
            block_samples: self
                .blocks
                .read()
                .iter()
                .map(|b| b.meta().num_samples)
                .sum(),
        }
    }
}

impl Queryable for Db {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, ReadError> {
        Ok(Box::new(crate::querier::DbQuerier::new(self, mint, maxt)))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.flush(true) {
            tracing::error!(err = %e, "Flushing the database on close failed");
        }
    }
}
