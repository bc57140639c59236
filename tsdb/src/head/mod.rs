//! The head: every series in memory (labels, chunk list, the open chunk's
//! position), with samples themselves in the memory-mapped chunk slots.
//!
//! Series are found by label hash or by reference in striped maps, so the
//! append path takes only a stripe read lock and the series' own mutex.
//! Creating a series takes the creation lock (series log + postings).

mod append;
mod compact;
mod delete;
mod index;
mod read;

pub use append::{AppendStats, Appender};
pub(crate) use compact::PersistChunk;
pub(crate) use read::ChunkCopies;

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use index::SeriesIndex;

use crate::chunkenc::{XorEncoder, XorIterator, ENCODING_DELTA2, ENCODING_XOR};
use crate::chunks::log::{in_log, ChunkLog, LogChunk};
use crate::chunks::{ChunkFiles, ChunkRef, FoundSlot, SlotHeader, DATA_SIZE, STATE_OPEN};
use crate::labels::Labels;
use crate::packed::PackedLabels;
use crate::postings::Postings;
use crate::series_log::{Loaded, SeriesLog};
use crate::Error;

/// Time span of a block, and so the boundary no head chunk crosses (2 h,
/// as Prometheus).
pub(crate) const BLOCK_RANGE_MS: i64 = 2 * 3600 * 1000;

/// The end (exclusive) of the block range holding `t`.
pub(crate) fn block_end(t: i64) -> i64 {
    t.div_euclid(BLOCK_RANGE_MS) * BLOCK_RANGE_MS + BLOCK_RANGE_MS
}

/// Bytes a head chunk takes on disk: in a slot, the slot's header and the
/// data bytes used so far (not the slot's unused rest); in the
/// closed-chunk log, its whole record.
pub(crate) fn chunk_disk_bytes(series: u64, c: &ChunkMeta) -> u64 {
    let n = if in_log(c.cref) {
        crate::chunks::log::record_len(&LogChunk {
            cref: c.cref,
            series,
            mint: c.mint,
            maxt: c.maxt,
            count: c.count,
            bit_len: c.bit_len,
            encoding: c.encoding,
            released: false,
        })
    } else {
        crate::chunks::HEADER_SIZE + (c.bit_len as usize).div_ceil(8).min(DATA_SIZE)
    };
    n as u64
}

/// A reference to a series, stable for the life of the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(pub u64);

/// A series held directly: appending through it needs no lookup. A series
/// the head has since forgotten refuses appends with
/// [`Error::UnknownSeries`], as its reference would.
#[derive(Clone)]
pub struct SeriesHandle(pub(crate) Arc<MemSeries>);

impl SeriesHandle {
    /// The series' reference.
    pub fn series_ref(&self) -> SeriesRef {
        SeriesRef(self.0.id)
    }
}

impl std::fmt::Debug for SeriesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeriesHandle({})", self.0.id)
    }
}

/// A closed chunk's place, time range and encoding: in a slot (always
/// XOR) or in the closed-chunk log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkMeta {
    pub cref: ChunkRef,
    pub mint: i64,
    pub maxt: i64,
    pub count: u16,
    pub bit_len: u16,
    pub encoding: u8,
}

/// The chunk being appended to.
pub(crate) struct OpenChunk {
    pub cref: ChunkRef,
    pub mint: i64,
    pub maxt: i64,
    pub count: u16,
    pub bit_len: u16,
    /// With the encoder: the byte the chunk's bits end in when they end
    /// inside one (zero otherwise), so that an append need not read the
    /// slot.
    pub tail: u8,
    /// Whether `enc` holds the chunk's encoder state: it is built from the
    /// slot's bytes on the first append after a restart (a flag beside it
    /// rather than an option, 8 bytes less a series).
    has_enc: bool,
    enc: XorEncoder,
    /// With the encoder: the slot's memory address, a prefetch hint (0:
    /// none).
    pub addr: usize,
}

impl OpenChunk {
    /// A new chunk in slot `cref` (at `addr` in memory), its first sample
    /// to come at `t`.
    pub(crate) fn new(cref: ChunkRef, t: i64, addr: usize) -> OpenChunk {
        OpenChunk {
            cref,
            mint: t,
            maxt: t,
            count: 0,
            bit_len: 0,
            tail: 0,
            has_enc: true,
            enc: XorEncoder::new(),
            addr,
        }
    }

    /// A chunk found in its slot at start-up, its encoder state to be
    /// built at the first append.
    pub(crate) fn found(cref: ChunkRef, mint: i64, maxt: i64, count: u16, bit_len: u16) -> Self {
        OpenChunk {
            cref,
            mint,
            maxt,
            count,
            bit_len,
            tail: 0,
            has_enc: false,
            enc: XorEncoder::new(),
            addr: 0,
        }
    }

    /// The encoder state, if built.
    pub(crate) fn enc(&mut self) -> Option<&mut XorEncoder> {
        self.has_enc.then_some(&mut self.enc)
    }

    /// Sets the encoder state.
    pub(crate) fn set_enc(&mut self, enc: XorEncoder) -> &mut XorEncoder {
        self.has_enc = true;
        self.enc = enc;
        &mut self.enc
    }

    /// The slot header describing this chunk, in `state`, without a CRC.
    pub(crate) fn header(&self, series: u64, state: u8) -> SlotHeader {
        SlotHeader {
            encoding: ENCODING_XOR,
            state,
            count: self.count,
            bit_len: self.bit_len,
            crc: 0,
            series,
            mint: self.mint,
            maxt: self.maxt,
        }
    }

    /// The chunk's place and range, as a closed chunk.
    pub(crate) fn meta(&self) -> ChunkMeta {
        ChunkMeta {
            cref: self.cref,
            mint: self.mint,
            maxt: self.maxt,
            count: self.count,
            bit_len: self.bit_len,
            encoding: ENCODING_XOR,
        }
    }
}

pub(crate) struct SeriesState {
    pub closed: Vec<ChunkMeta>,
    pub open: Option<OpenChunk>,
    // what the accessors below answer, each valid when its flag is set:
    // kept as plain fields and one byte of flags, as there is one of these
    // a series (a million at start-up), 24 bytes less than options
    last_t: i64,
    last_v: u64,
    last_hist_t: i64,
    flags: u8,
}

const HAS_LAST_T: u8 = 1;
const HAS_LAST_V: u8 = 2;
const HAS_LAST_HIST_T: u8 = 4;
const REMOVED: u8 = 8;

impl SeriesState {
    fn get<T: Copy>(&self, flag: u8, v: T) -> Option<T> {
        (self.flags & flag != 0).then_some(v)
    }

    fn flag(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    /// Newest timestamp, if any sample is stored.
    pub fn last_t(&self) -> Option<i64> {
        self.get(HAS_LAST_T, self.last_t)
    }

    pub fn set_last_t(&mut self, t: Option<i64>) {
        self.flag(HAS_LAST_T, t.is_some());
        self.last_t = t.unwrap_or(0);
    }

    /// Bits of the newest value, when known without decoding.
    pub fn last_v(&self) -> Option<u64> {
        self.get(HAS_LAST_V, self.last_v)
    }

    pub fn set_last_v(&mut self, v: Option<u64>) {
        self.flag(HAS_LAST_V, v.is_some());
        self.last_v = v.unwrap_or(0);
    }

    /// Newest native histogram sample's timestamp (the samples are in the
    /// histogram store; a series holding only those is a head series too).
    pub fn last_hist_t(&self) -> Option<i64> {
        self.get(HAS_LAST_HIST_T, self.last_hist_t)
    }

    pub fn set_last_hist_t(&mut self, t: Option<i64>) {
        self.flag(HAS_LAST_HIST_T, t.is_some());
        self.last_hist_t = t.unwrap_or(0);
    }

    /// Forgotten by the head: appends through an old handle are refused.
    pub fn removed(&self) -> bool {
        self.flags & REMOVED != 0
    }

    pub fn set_removed(&mut self) {
        self.flags |= REMOVED;
    }
}

pub(crate) struct MemSeries {
    pub id: u64,
    pub labels: PackedLabels,
    pub state: Mutex<SeriesState>,
    /// Where the next append will write in memory (the open chunk's slot
    /// plus its data so far; 0: unknown), so that a commit can prefetch
    /// it a few samples ahead. Only a hint, read without the lock.
    pub next_write: AtomicUsize,
}

impl MemSeries {
    /// A series with no samples yet.
    pub(crate) fn new(id: u64, labels: PackedLabels) -> MemSeries {
        MemSeries {
            id,
            labels,
            state: Mutex::new(SeriesState {
                closed: Vec::new(),
                open: None,
                last_t: 0,
                last_v: 0,
                last_hist_t: 0,
                flags: 0,
            }),
            next_write: AtomicUsize::new(0),
        }
    }
}

/// Counters kept by the head.
#[derive(Default)]
pub(crate) struct HeadCounters {
    pub samples_appended: AtomicU64,
    pub out_of_order: AtomicU64,
    pub duplicates: AtomicU64,
    pub chunks_created: AtomicU64,
    pub series_created: AtomicU64,
    pub out_of_bounds: AtomicU64,
    pub series_removed: AtomicU64,
    pub samples_deleted: AtomicU64,
}

pub(crate) struct Head {
    index: SeriesIndex,
    creation: Mutex<Creation>,
    pub(crate) postings: RwLock<Postings>,
    pub(crate) chunks: ChunkFiles,
    /// Closed chunks, moved out of their slots.
    pub(crate) log: ChunkLog,
    /// Slots whose chunks are now in the log, released once the log is
    /// flushed.
    moved: Mutex<Vec<ChunkRef>>,
    pub(crate) counters: HeadCounters,
    num_series: AtomicU64,
    /// Samples older than this are refused ("out of bounds"): that range
    /// is in blocks.
    pub(crate) min_valid: AtomicI64,
    /// Oldest and newest sample timestamps in the head.
    pub(crate) min_time: AtomicI64,
    pub(crate) max_time: AtomicI64,
    /// Samples more than this far after the wall clock are refused (ms;
    /// 0: no limit).
    pub(crate) max_future_ms: i64,
    /// The append journal, while it has readers: commits write what they
    /// store to it.
    pub(crate) journal: RwLock<Option<Arc<crate::journal::Journal>>>,
    /// Series whose newest sample is at or after this are not forgotten
    /// (a journal reader still has to send them).
    pub(crate) gc_pin: AtomicI64,
    /// Commits whose samples could not be written to the journal.
    pub(crate) journal_failures: AtomicU64,
    /// Agent mode: samples go to the journal only, no chunk is written.
    pub(crate) agent: std::sync::atomic::AtomicBool,
    /// The newest exemplars of all series.
    pub(crate) exemplars: crate::exemplars::Exemplars,
    /// Native histogram samples.
    pub(crate) hist: crate::histstore::HistStore,
}

struct Creation {
    log: SeriesLog,
    next_id: u64,
}

/// Waits for a scoped thread, passing its panic on.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Series read at start-up, handed to the thread that adds them to the
/// postings and the index.
enum Batch {
    /// Read (id, labels and label hash), to be made there.
    Read(Vec<(u64, PackedLabels, u64)>),
    /// Made by the reading thread, when the other was still busy (label
    /// hash and series).
    Made(Vec<(u64, Arc<MemSeries>)>),
}

impl Batch {
    /// Makes the series read, each beside its label hash.
    fn make(read: Vec<(u64, PackedLabels, u64)>) -> Vec<(u64, Arc<MemSeries>)> {
        read.into_iter()
            .map(|(id, labels, h)| (h, Arc::new(MemSeries::new(id, labels))))
            .collect()
    }
}

/// What [`Head::load`] found.
pub(crate) struct LoadReport {
    pub series: usize,
    pub chunks: usize,
    pub orphan_chunks: usize,
}

/// A chunk found at open, in a slot or in the log.
struct Found {
    cref: ChunkRef,
    series: u64,
    mint: i64,
    maxt: i64,
    count: u16,
    bit_len: u16,
    encoding: u8,
    open: bool,
    /// A log record already let go: not attached, but a copy of it in a
    /// slot goes too.
    released: bool,
}

impl From<FoundSlot> for Found {
    fn from(s: FoundSlot) -> Found {
        let h = s.header;
        Found {
            cref: s.cref,
            series: h.series,
            mint: h.mint,
            maxt: h.maxt,
            count: h.count,
            bit_len: h.bit_len,
            encoding: ENCODING_XOR,
            open: h.state == STATE_OPEN,
            released: false,
        }
    }
}

impl From<LogChunk> for Found {
    fn from(c: LogChunk) -> Found {
        Found {
            cref: c.cref,
            series: c.series,
            mint: c.mint,
            maxt: c.maxt,
            count: c.count,
            bit_len: c.bit_len,
            encoding: c.encoding,
            open: false,
            released: c.released,
        }
    }
}

impl Head {
    /// Builds the head from the series log, the chunk slot files and the
    /// closed-chunk log. The slot headers and the closed-chunk log are read
    /// on one thread while the series log is read on this one, which packs
    /// each series' labels and notes their hash; the series read are
    /// handed over in batches to another, which adds them to the postings
    /// and the index's tables by id. The index's tables by hash are filled
    /// once all are read. Making the series takes most of the time (memory
    /// the system gives for the first time), so a batch's series are made
    /// by the other thread, unless it is still busy with an earlier batch
    /// when the batch is read: then by this one.
    pub(crate) fn load(
        log_path: &Path,
        chunks_dir: &Path,
        closed_dir: &Path,
        min_valid: i64,
        max_future_ms: i64,
        hist_in_blocks: &crate::histstore::InBlocks<'_>,
    ) -> Result<(Head, LoadReport, Loaded, Vec<String>), Error> {
        const BATCH: usize = 1 << 14;
        let (batches, received) = std::sync::mpsc::channel::<Batch>();
        // batches handed over and not yet added
        let pending = AtomicUsize::new(0);
        let index = SeriesIndex::new();
        let (read, ids) = std::thread::scope(|scope| {
            let chunks = scope.spawn(|| {
                let files = ChunkFiles::open(chunks_dir)?;
                let log = ChunkLog::open(closed_dir)?;
                Ok::<_, Error>((files, log))
            });
            let series = scope.spawn(|| {
                // the ids read, in order, and each series with its label
                // hash, for the index's tables by hash
                let mut ids: Vec<u64> = Vec::new();
                let mut by_hash: Vec<(u64, Arc<MemSeries>)> = Vec::new();
                let mut postings = Postings::loader(0);
                for batch in received {
                    let made = match batch {
                        Batch::Read(read) => Batch::make(read),
                        Batch::Made(made) => made,
                    };
                    for (_, s) in &made {
                        postings.add(s.id, s.labels.iter());
                        ids.push(s.id);
                    }
                    index.load_ids(made.iter().map(|(_, s)| s));
                    by_hash.extend(made);
                    pending.fetch_sub(1, Ordering::Relaxed);
                }
                (ids, by_hash, postings.finish())
            });
            let mut batch = Vec::with_capacity(BATCH);
            let hand_over = |batch: Vec<(u64, PackedLabels, u64)>| {
                // while the other thread is still busy with an earlier
                // batch, this one's series are made here
                let batch = if pending.load(Ordering::Relaxed) > 0 {
                    Batch::Made(Batch::make(batch))
                } else {
                    Batch::Read(batch)
                };
                pending.fetch_add(1, Ordering::Relaxed);
                // the receiver lives until this scope ends
                let _ = batches.send(batch);
            };
            let log = SeriesLog::open(log_path, &mut |id, labels| {
                let h = labels.hash64();
                batch.push((id, labels, h));
                if batch.len() == BATCH {
                    hand_over(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            });
            hand_over(batch);
            drop(batches);
            let (ids, by_hash, postings) = join(series);
            index.load_hashes(by_hash);
            ((log, join(chunks), postings), ids)
        });
        let loaded = (|| {
            let (log, chunks, postings) = read;
            let (log, loaded) = log?;
            let ((chunks, slots, mut problems), (log_files, logged, log_problems)) = chunks?;
            problems.extend(log_problems);
            let found: Vec<Found> = slots
                .into_iter()
                .map(Found::from)
                .chain(logged.into_iter().map(Found::from))
                .collect();
            // past every reference on disk, not only the series log's:
            // a rewritten log no longer holds forgotten series, whose
            // references may still name chunks let go in the log
            let next_id = ids
                .iter()
                .copied()
                .chain(found.iter().map(|c| c.series))
                .max()
                .map_or(1, |m| m + 1);
            let head = Head {
                index,
                creation: Mutex::new(Creation { log, next_id }),
                postings: RwLock::new(postings),
                chunks,
                log: log_files,
                moved: Mutex::new(Vec::new()),
                counters: HeadCounters::default(),
                num_series: AtomicU64::new(ids.len() as u64),
                min_valid: AtomicI64::new(min_valid),
                min_time: AtomicI64::new(i64::MAX),
                max_time: AtomicI64::new(i64::MIN),
                max_future_ms,
                journal: RwLock::new(None),
                gc_pin: AtomicI64::new(i64::MAX),
                journal_failures: AtomicU64::new(0),
                agent: std::sync::atomic::AtomicBool::new(false),
                exemplars: crate::exemplars::Exemplars::disabled(),
                hist: crate::histstore::HistStore::open_with(
                    log_path.parent().unwrap_or(Path::new(".")),
                    hist_in_blocks,
                )?,
            };
            let (report, with_chunks) = head.attach(found, min_valid);
            Ok::<_, Error>((head, report, with_chunks, loaded, problems))
        })();
        let (head, mut report, with_chunks, loaded, problems) = loaded?;
        // the series with native histograms newer than the blocks are head
        // series too
        let min_valid = head.min_valid.load(Ordering::Relaxed);
        let hist_series = head.hist.last_times();
        let mut hist_new = Vec::new();
        let mut with_hist = std::collections::HashSet::new();
        for (labels, t) in hist_series.into_iter().filter(|(_, t)| *t >= min_valid) {
            match head.find(&labels, labels.hash64()) {
                Some(s) => {
                    s.state.lock().set_last_hist_t(Some(t));
                    with_hist.insert(s.id);
                }
                None => hist_new.push((labels, t)),
            }
        }
        // series whose data all went into blocks (or never came) are dropped
        // (ids come in increasing order: the lists are walked side by side)
        let mut next = 0;
        let in_order = ids.is_sorted();
        let mut has_chunks = |id: u64| {
            if !in_order {
                return with_chunks.binary_search(&id).is_ok();
            }
            while with_chunks.get(next).is_some_and(|&c| c < id) {
                next += 1;
            }
            with_chunks.get(next) == Some(&id)
        };
        let dead: std::collections::HashSet<u64> = ids
            .into_iter()
            .filter(|&id| !has_chunks(id) && !with_hist.contains(&id))
            .collect();
        head.forget(&dead);
        head.counters.series_removed.store(0, Ordering::Relaxed);
        // (histogram series of a data folder from before they were)
        for (labels, t) in hist_new {
            if let Ok((s, _)) = head.get_or_create(&labels) {
                s.state.lock().set_last_hist_t(Some(t));
            }
        }
        report.series = head.num_series.load(Ordering::Relaxed) as usize;
        Ok((head, report, loaded, problems))
    }

    /// Hands the chunks found at open to their series, in time order. A
    /// chunk both in a slot and in the log (moved, its slot not yet let go
    /// when the process stopped) is taken from the log, and the slot
    /// released; so is a slot whose log record was released (its chunk
    /// went into a block or was deleted meanwhile). Answers, beside the
    /// report, the ids of the series given a chunk, in order.
    fn attach(&self, mut found: Vec<Found>, min_valid: i64) -> (LoadReport, Vec<u64>) {
        // a chunk is known by its series, range and count (a deletion's
        // rewrite can start where a released chunk started, but holds
        // fewer samples or ends later); the log's copy sorts first (no two
        // share a reference, so the order is total)
        found
            .sort_unstable_by_key(|c| (c.series, c.mint, c.maxt, c.count, !in_log(c.cref), c.cref));
        let mut report = LoadReport {
            series: self.num_series.load(Ordering::Relaxed) as usize,
            chunks: 0,
            orphan_chunks: 0,
        };
        let mut prev: Option<(u64, i64, i64, u16)> = None;
        let mut with_chunks = Vec::new();
        for c in found {
            let key = (c.series, c.mint, c.maxt, c.count);
            // already in a block (a crash came between writing the block
            // and letting its chunks go), or already in the log: let it go
            if prev == Some(key) || (c.maxt < min_valid && !c.released) {
                let _ = self.release_chunk(c.cref);
                continue;
            }
            prev = Some(key);
            if c.released {
                continue;
            }
            let Some(s) = self.get(c.series) else {
                // its series record is missing (damaged series log): keep
                // the chunk on disk, a repaired log can claim it again
                report.orphan_chunks += 1;
                continue;
            };
            self.note_time(c.mint);
            self.note_time(c.maxt);
            report.chunks += 1;
            if with_chunks.last() != Some(&c.series) {
                with_chunks.push(c.series);
            }
            let mut st = s.state.lock();
            // a previous open chunk followed by another is complete
            if let Some(prev) = st.open.take() {
                st.closed.push(prev.meta());
            }
            if c.open {
                st.open = Some(OpenChunk::found(c.cref, c.mint, c.maxt, c.count, c.bit_len));
            } else {
                st.closed.push(ChunkMeta {
                    cref: c.cref,
                    mint: c.mint,
                    maxt: c.maxt,
                    count: c.count,
                    bit_len: c.bit_len,
                    encoding: c.encoding,
                });
            }
            let newest = st.last_t().map_or(c.maxt, |t| t.max(c.maxt));
            st.set_last_t(Some(newest));
            st.set_last_v(None);
        }
        (report, with_chunks)
    }

    /// Copies a chunk's data (its used bytes; the rest of `out` is left).
    pub(crate) fn read_chunk(&self, c: &ChunkMeta, out: &mut [u8; DATA_SIZE]) -> bool {
        if in_log(c.cref) {
            let n = (c.bit_len as usize).div_ceil(8).min(DATA_SIZE);
            self.log.read(c.cref, &mut out[..n])
        } else {
            self.chunks.read_data(c.cref, out)
        }
    }

    /// Lets a chunk's storage go (the chunk is in a block, or deleted).
    pub(crate) fn release_chunk(&self, r: ChunkRef) -> Result<(), Error> {
        if in_log(r) {
            self.log.release(r)
        } else {
            self.chunks.release(r)
        }
    }

    /// Moves a closed slot chunk into the log, in the delta encoding where
    /// that is smaller. Returns its new place, or `None` if the log could
    /// not take it (a full disk): the chunk then stays in its slot, which
    /// holds it whole.
    pub(crate) fn move_to_log(
        &self,
        series: u64,
        slot: &ChunkMeta,
        data: &[u8; DATA_SIZE],
    ) -> Option<ChunkMeta> {
        let used = &data[..(slot.bit_len as usize).div_ceil(8).min(DATA_SIZE)];
        let samples: Vec<(i64, f64)> =
            XorIterator::new(data, slot.count, slot.bit_len as usize).collect();
        if samples.len() != slot.count as usize {
            return None;
        }
        let delta = crate::block::delta_chunk(&samples).filter(|d| d.len() < used.len());
        let (encoding, bytes, bit_len) = match &delta {
            Some(d) => (ENCODING_DELTA2, d.as_slice(), (d.len() * 8) as u16),
            None => (ENCODING_XOR, used, slot.bit_len),
        };
        let record = LogChunk {
            cref: slot.cref,
            series,
            mint: slot.mint,
            maxt: slot.maxt,
            count: slot.count,
            bit_len,
            encoding,
            released: false,
        };
        let cref = self.log.append(&record, bytes).ok()?;
        self.moved.lock().push(slot.cref);
        Some(ChunkMeta {
            cref,
            bit_len,
            encoding,
            ..*slot
        })
    }

    /// Flushes the closed-chunk log, then lets go the slots whose chunks
    /// it now holds, for new chunks to reuse.
    pub(crate) fn flush_moved(&self) -> Result<(), Error> {
        let moved = std::mem::take(&mut *self.moved.lock());
        if let Err(e) = self.log.flush() {
            self.moved.lock().extend(moved);
            return Err(e);
        }
        let mut first_err = None;
        for r in moved {
            if let Err(e) = self.chunks.recycle(r) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Slots waiting for the log's next flush to be let go.
    pub(crate) fn moved_pending(&self) -> usize {
        self.moved.lock().len()
    }

    /// Widens the head's time range to include `t`.
    pub(crate) fn note_time(&self, t: i64) {
        // plain loads first: on the append path the bounds rarely move, and
        // a read keeps the cache line shared between threads
        if t < self.min_time.load(Ordering::Relaxed) {
            self.min_time.fetch_min(t, Ordering::Relaxed);
        }
        if t > self.max_time.load(Ordering::Relaxed) {
            self.max_time.fetch_max(t, Ordering::Relaxed);
        }
    }

    fn insert(&self, s: Arc<MemSeries>) {
        let h = s.labels.hash64();
        self.index.insert(s, h);
        self.num_series.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<MemSeries>> {
        self.index.get(id)
    }

    pub(crate) fn find(&self, labels: &Labels, hash: u64) -> Option<Arc<MemSeries>> {
        self.index.find(labels, hash)
    }

    /// The series with exactly these labels, created if new. The bool says
    /// whether it was created.
    pub(crate) fn get_or_create(&self, labels: &Labels) -> Result<(Arc<MemSeries>, bool), Error> {
        if labels.is_empty() {
            return Err(Error::InvalidLabels("empty label set".into()));
        }
        let hash = labels.hash64();
        if let Some(s) = self.find(labels, hash) {
            return Ok((s, false));
        }
        let mut c = self.creation.lock();
        if let Some(s) = self.find(labels, hash) {
            return Ok((s, false));
        }
        let id = c.next_id;
        c.log.append(id, labels)?;
        c.next_id += 1;
        let s = Arc::new(MemSeries::new(id, PackedLabels::new(labels)));
        self.postings.write().add(
            id,
            labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
        );
        self.insert(Arc::clone(&s));
        self.counters.series_created.fetch_add(1, Ordering::Relaxed);
        Ok((s, true))
    }

    pub(crate) fn num_series(&self) -> u64 {
        self.num_series.load(Ordering::Relaxed)
    }

    pub(crate) fn sync_log(&self) -> Result<(), Error> {
        self.creation.lock().log.sync()
    }

    /// Chunk count and (min, max) sample time over all series.
    pub(crate) fn time_range(&self) -> (u64, Option<(i64, i64)>) {
        let mut chunks = 0u64;
        let mut range: Option<(i64, i64)> = None;
        let mut widen = |a: i64, b: i64| {
            range = Some(range.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        };
        self.index.for_each(|s| {
            let st = s.state.lock();
            chunks += st.closed.len() as u64;
            if let Some(c) = st.closed.first() {
                widen(c.mint, c.maxt);
            }
            if let Some(o) = st.open.as_ref().filter(|o| o.count > 0) {
                chunks += 1;
                widen(o.mint, o.maxt);
            }
            if let Some(t) = st.last_t() {
                widen(t, t);
            }
        });
        // and the histogram store's open chunks
        let (hist_chunks, hist_range) = self.hist.open_chunks();
        if let Some((a, b)) = hist_range {
            widen(a, b);
        }
        (chunks + hist_chunks, range)
    }

    /// For each series with a metric name: calls `f` with the name, the
    /// hash of its labels ([`Labels::hash64`]) and the bytes its chunks
    /// take on disk (see [`chunk_disk_bytes`]). Reads no chunk.
    pub(crate) fn chunk_bytes_by_metric(&self, f: &mut dyn FnMut(&str, u64, u64)) {
        self.index.for_each(|s| {
            let Some(name) = s.labels.get(crate::labels::METRIC_NAME) else {
                return;
            };
            let bytes = {
                let st = s.state.lock();
                if st.removed() {
                    return;
                }
                let open = st.open.as_ref().map(OpenChunk::meta);
                st.closed
                    .iter()
                    .chain(open.as_ref())
                    .map(|c| chunk_disk_bytes(s.id, c))
                    .sum()
            };
            f(name, s.labels.hash64(), bytes);
        });
    }

    /// Series by reference, for the given ids, skipping unknown ones.
    pub(crate) fn series_for(&self, ids: &[u64]) -> Vec<Arc<MemSeries>> {
        ids.iter().filter_map(|&id| self.get(id)).collect()
    }
}

#[cfg(test)]
mod size_tests {
    /// A head series, with the two reference counts of its `Arc`, fits a
    /// 192-byte block of glibc's allocator (a request of up to 184 bytes):
    /// a million series at start-up are a million of these, made and
    /// touched for the first time.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_series_fits_a_192_byte_allocation() {
        let arc_inner = 16 + std::mem::size_of::<super::MemSeries>();
        assert!(arc_inner <= 184, "{arc_inner} bytes");
    }
}
