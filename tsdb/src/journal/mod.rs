//! The append journal: every sample a commit stores, in commit order, kept
//! for readers that send them on (remote write queues) and read it from a
//! position of their own, kept on disk, so that nothing acknowledged is
//! lost when a receiver is away or the process dies.
//!
//! The journal is written only while it has readers. Files, in
//! `<data>/journal/` (format in `docs/format/journal.md`):
//!
//! - numbered segments of records (samples of one commit each), written in
//!   order; a new segment starts past [`SEGMENT_BYTES`] (by default);
//! - `readers/<name in hex>`: a reader's position, generation and catch-up
//!   progress; `readers/<name in hex>.catchup`: its catch-up list.
//!
//! A segment goes once every reader has read past it. When the segments
//! outgrow their limit, the oldest goes anyway: a reader still in it gets,
//! per series, the time range of the samples it had not read (its
//! catch-up list) and reads those from the database's blocks and head
//! before going on in the journal. Per series, the journal holds samples
//! in time order, so such a range is exactly what was skipped.

mod db;
mod reader;
mod record;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};

use crate::encoding::crc32c;
use crate::Error;
use reader::ReaderFile;
use record::Encoder;

/// Bytes after which the writer starts a new segment, by default.
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// The segment header: magic and version.
const MAGIC: &[u8; 4] = b"FLJN";
const VERSION: u8 = 1;
pub(crate) const HEADER: u64 = 8;

/// Bytes of a record's frame before its payload: length and CRC32C.
const FRAME: usize = 8;

/// A place in the journal: a segment and a byte offset in it (always the
/// start of a record, or the end of the written data).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JournalPosition {
    /// The segment number.
    pub segment: u64,
    /// The byte offset in it.
    pub offset: u64,
}

/// One sample read from the journal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JournalSample {
    /// The series.
    pub series: crate::SeriesRef,
    /// Timestamp, ms.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// One exemplar read from the journal.
#[derive(Clone, Debug)]
pub struct JournalExemplar {
    /// The index in [`JournalBatch::records`] of the record it was in.
    pub record: usize,
    /// The series.
    pub series: crate::SeriesRef,
    /// The exemplar.
    pub exemplar: crate::Exemplar,
}

/// A native histogram sample read from the journal.
#[derive(Clone, Debug)]
pub struct JournalHistogram {
    /// The index in [`JournalBatch::records`] of the record it was in.
    pub record: usize,
    /// The series' labels.
    pub labels: crate::labels::Labels,
    /// Its timestamp (ms).
    pub t: i64,
    /// The histogram.
    pub h: std::sync::Arc<crate::histogram::FloatHistogram>,
}

/// Samples read from the journal, with the position after each record so
/// that a reader can acknowledge what it has sent.
#[derive(Clone, Debug, Default)]
pub struct JournalBatch {
    /// The samples, in journal order.
    pub samples: Vec<JournalSample>,
    /// The exemplars, in journal order (a record holds samples,
    /// exemplars or histograms).
    pub exemplars: Vec<JournalExemplar>,
    /// The native histograms, in journal order.
    pub histograms: Vec<JournalHistogram>,
    /// For each record read: the number of samples up to and including it,
    /// and the position just after it.
    pub records: Vec<(usize, JournalPosition)>,
}

impl JournalBatch {
    /// The position after the last record read (`from` when none was).
    pub fn end(&self, from: JournalPosition) -> JournalPosition {
        self.records.last().map_or(from, |r| r.1)
    }
}

/// What reading the journal at a position gave.
#[derive(Clone, Debug)]
pub enum JournalRead {
    /// Records (possibly none, when nothing new was written).
    Batch(JournalBatch),
    /// The reader was moved on (its segment was dropped): read its state
    /// again with [`crate::Db::journal_reader`].
    Moved,
}

/// A series' samples a reader skipped when its segment was dropped: those
/// with timestamps in `mint..=maxt`, to be read from the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatchUp {
    /// The series.
    pub series: crate::SeriesRef,
    /// Oldest skipped timestamp.
    pub mint: i64,
    /// Newest skipped timestamp.
    pub maxt: i64,
}

/// A reader's state: where it reads, what it must catch up on first.
#[derive(Clone, Debug, Default)]
pub struct ReaderState {
    /// Where it reads next in the journal.
    pub position: JournalPosition,
    /// Increases each time the reader is moved on; acknowledgements of an
    /// older generation are ignored.
    pub generation: u64,
    /// Series ranges to read from the database before the journal.
    pub catch_up: Vec<CatchUp>,
    /// How many of `catch_up` are done.
    pub catch_up_done: usize,
}

struct Writer {
    segment: u64,
    file: File,
    len: u64,
    frame: Vec<u8>,
    /// The record being built by the commit holding the writer.
    enc: Encoder,
}

/// The journal of one database.
pub(crate) struct Journal {
    dir: PathBuf,
    writer: Mutex<Writer>,
    /// Bytes written to the current segment, for readers.
    written: AtomicU64,
    /// The current segment's number, for readers.
    current: AtomicU64,
    /// Segments on disk: number → size in bytes.
    segments: Mutex<BTreeMap<u64, u64>>,
    readers: Mutex<HashMap<String, ReaderFile>>,
    /// Most bytes the segments may take before the oldest is dropped.
    max_bytes: u64,
    /// Bytes after which a new segment starts.
    segment_bytes: u64,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:08}"))
}

fn new_segment(dir: &Path, n: u64) -> Result<File, Error> {
    let path = segment_path(dir, n);
    let mut f = File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .read(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let mut h = [0u8; HEADER as usize];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    f.write_all(&h).map_err(|e| Error::io(&path, e))?;
    Ok(f)
}

/// The length of the valid records of a segment (a torn or damaged tail
/// is not counted), or an error when its header is not a journal's.
fn valid_len(path: &Path) -> Result<u64, Error> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if data.len() < HEADER as usize || &data[..4] != MAGIC || data[4] != VERSION {
        return Err(Error::Corruption {
            path: path.to_path_buf(),
            offset: 0,
            detail: "not a journal segment".into(),
        });
    }
    let mut off = HEADER as usize;
    while let Some((_, next)) = frame_at(&data, off) {
        off = next;
    }
    Ok(off as u64)
}

/// The payload of the record at `off` and the offset after it, if a whole
/// record with a good CRC is there.
fn frame_at(data: &[u8], off: usize) -> Option<(&[u8], usize)> {
    let head = data.get(off..off + FRAME)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
    let end = (off + FRAME).checked_add(len)?;
    let payload = data.get(off + FRAME..end)?;
    (len > 0 && crc32c(payload) == crc).then_some((payload, end))
}

impl Journal {
    /// Opens the journal in `dir`, creating it, with the readers that have
    /// files there. A torn last record is cut.
    pub(crate) fn open(dir: &Path, max_bytes: u64, segment_bytes: u64) -> Result<Journal, Error> {
        let numbers = crate::fs::numbered_files(dir).map_err(|e| Error::io(dir, e))?;
        let mut segments = BTreeMap::new();
        for &n in &numbers {
            let p = segment_path(dir, n);
            let len = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
            segments.insert(n, len);
        }
        let (segment, file, len) = match numbers.last() {
            Some(&n) => {
                let p = segment_path(dir, n);
                let valid = valid_len(&p)?;
                let f = File::options()
                    .write(true)
                    .read(true)
                    .open(&p)
                    .map_err(|e| Error::io(&p, e))?;
                if valid < segments[&n] {
                    tracing::warn!(file = %p.display(), bytes = segments[&n] - valid, "Cut a torn tail of the journal");
                    f.set_len(valid).map_err(|e| Error::io(&p, e))?;
                    segments.insert(n, valid);
                }
                (n, f, valid)
            }
            None => {
                let f = new_segment(dir, 1)?;
                segments.insert(1, HEADER);
                (1, f, HEADER)
            }
        };
        let readers = reader::load_all(&dir.join("readers"))?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            writer: Mutex::new(Writer {
                segment,
                file,
                len,
                frame: Vec::new(),
                enc: Encoder::default(),
            }),
            written: AtomicU64::new(len),
            current: AtomicU64::new(segment),
            segments: Mutex::new(segments),
            readers: Mutex::new(readers),
            max_bytes,
            segment_bytes,
        })
    }

    /// The end of what is written: where a new reader starts.
    pub(crate) fn end(&self) -> JournalPosition {
        let w = self.writer.lock();
        JournalPosition {
            segment: w.segment,
            offset: w.len,
        }
    }

    /// Holds the writer for a commit: samples added with
    /// [`JournalGuard::push`] are written as one record by
    /// [`JournalGuard::write`]. Commits holding it one after another keep
    /// each series' samples in the order they were stored.
    pub(crate) fn lock(&self) -> JournalGuard<'_> {
        let mut writer = self.writer.lock();
        writer.enc.reset();
        JournalGuard {
            journal: self,
            writer,
        }
    }

    /// Makes the current segment durable.
    pub(crate) fn sync(&self) -> Result<(), Error> {
        let w = self.writer.lock();
        let file = w.file.try_clone().map_err(|e| Error::io(&self.dir, e))?;
        let seg = w.segment;
        drop(w);
        file.sync_data()
            .map_err(|e| Error::io(&segment_path(&self.dir, seg), e))?;
        for r in self.readers.lock().values() {
            r.sync()?;
        }
        Ok(())
    }

    /// Keeps exactly the readers named (new ones start at the end).
    pub(crate) fn set_readers(&self, names: &[String]) -> Result<(), Error> {
        let end = self.end();
        let mut readers = self.readers.lock();
        let gone: Vec<String> = readers
            .keys()
            .filter(|k| !names.contains(k))
            .cloned()
            .collect();
        for name in gone {
            if let Some(r) = readers.remove(&name) {
                r.remove()?;
            }
        }
        for name in names {
            if !readers.contains_key(name) {
                let r = ReaderFile::create(
                    &self.dir.join("readers"),
                    name,
                    ReaderState {
                        position: end,
                        ..Default::default()
                    },
                )?;
                readers.insert(name.clone(), r);
            }
        }
        Ok(())
    }

    /// Names of the readers.
    pub(crate) fn reader_names(&self) -> Vec<String> {
        self.readers.lock().keys().cloned().collect()
    }

    /// A reader's state.
    pub(crate) fn reader(&self, name: &str) -> Option<ReaderState> {
        self.readers.lock().get(name).map(|r| r.state().clone())
    }

    /// Records what a reader has sent: up to `position` in the journal and
    /// `catch_up_done` entries of its catch-up list. Ignored when the
    /// reader has been moved on since `generation`.
    pub(crate) fn ack(
        &self,
        name: &str,
        generation: u64,
        position: JournalPosition,
        catch_up_done: usize,
    ) -> Result<(), Error> {
        let mut readers = self.readers.lock();
        let Some(r) = readers.get_mut(name) else {
            return Ok(());
        };
        if r.state().generation != generation {
            return Ok(());
        }
        r.set_progress(position, catch_up_done)
    }

    /// Reads whole records from `from` until at least `max` samples are
    /// read or the written data ends.
    pub(crate) fn read(
        &self,
        name: &str,
        generation: u64,
        from: JournalPosition,
        max: usize,
    ) -> Result<JournalRead, Error> {
        if self
            .readers
            .lock()
            .get(name)
            .is_none_or(|r| r.state().generation != generation)
        {
            return Ok(JournalRead::Moved);
        }
        let mut batch = JournalBatch::default();
        let mut pos = from;
        // read the rest of the segment at once: the next record is larger
        // than a piece
        let mut whole = false;
        loop {
            let current = self.current.load(Ordering::Acquire);
            if pos.segment > current {
                break;
            }
            let limit = if pos.segment == current {
                self.written.load(Ordering::Acquire)
            } else {
                match self.segments.lock().get(&pos.segment) {
                    Some(&len) => len,
                    None => return Ok(JournalRead::Moved),
                }
            };
            if pos.offset >= limit {
                if pos.segment == current {
                    break;
                }
                pos = JournalPosition {
                    segment: pos.segment + 1,
                    offset: HEADER,
                };
                // a segment that was never written (numbers are dense)
                if !self.segments.lock().contains_key(&pos.segment) {
                    break;
                }
                continue;
            }
            let path = segment_path(&self.dir, pos.segment);
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(JournalRead::Moved)
                }
                Err(e) => return Err(Error::io(&path, e)),
            };
            // read in pieces of 256 KiB, whole records
            let want = if whole {
                (limit - pos.offset) as usize
            } else {
                (limit - pos.offset).min(256 << 10) as usize
            };
            let mut data = vec![0u8; want];
            file.read_exact_at(&mut data, pos.offset)
                .map_err(|e| Error::io(&path, e))?;
            let mut off = 0usize;
            while let Some((payload, next)) = frame_at(&data, off) {
                let index = batch.records.len();
                let (samples, exemplars, histograms) = (
                    &mut batch.samples,
                    &mut batch.exemplars,
                    &mut batch.histograms,
                );
                let ok = record::decode_any(
                    payload,
                    |r, t, v| {
                        samples.push(JournalSample {
                            series: crate::SeriesRef(r),
                            t,
                            v,
                        })
                    },
                    |r, e| {
                        exemplars.push(JournalExemplar {
                            record: index,
                            series: crate::SeriesRef(r),
                            exemplar: e,
                        })
                    },
                    |labels, t, h| {
                        histograms.push(JournalHistogram {
                            record: index,
                            labels,
                            t,
                            h: std::sync::Arc::new(h),
                        })
                    },
                );
                if ok.is_none() {
                    return Err(Error::Corruption {
                        path,
                        offset: pos.offset + off as u64,
                        detail: "malformed journal record".into(),
                    });
                }
                off = next;
                batch.records.push((
                    batch.samples.len(),
                    JournalPosition {
                        segment: pos.segment,
                        offset: pos.offset + off as u64,
                    },
                ));
                if batch.samples.len() + batch.exemplars.len() + batch.histograms.len() >= max {
                    return Ok(JournalRead::Batch(batch));
                }
            }
            if off == 0 {
                // a record larger than the piece read, or damage: the
                // written part of a segment holds only whole good records
                if whole || want as u64 == limit - pos.offset {
                    return Err(Error::Corruption {
                        path,
                        offset: pos.offset,
                        detail: "damaged journal record".into(),
                    });
                }
                whole = true;
                continue;
            }
            whole = false;
            pos.offset += off as u64;
        }
        Ok(JournalRead::Batch(batch))
    }

    /// Deletes the segments every reader has read past, and, while the
    /// segments take more than their limit, the oldest one with the
    /// readers in it moved on (each given the series ranges it skipped).
    /// Returns the number of segments deleted.
    /// `series` finds the head series of a histogram record's labels.
    pub(crate) fn truncate(
        &self,
        series: &dyn Fn(&crate::labels::Labels) -> Option<u64>,
    ) -> Result<usize, Error> {
        let current = self.current.load(Ordering::Acquire);
        let mut deleted = 0;
        let mut readers = self.readers.lock();
        loop {
            let (oldest, total) = {
                let s = self.segments.lock();
                let Some((&oldest, _)) = s.iter().next() else {
                    break;
                };
                (oldest, s.values().sum::<u64>())
            };
            if oldest >= current {
                break;
            }
            let needed = readers
                .values()
                .any(|r| r.state().position.segment <= oldest);
            if needed && total <= self.max_bytes {
                break;
            }
            if needed {
                for (name, r) in readers.iter_mut() {
                    if r.state().position.segment > oldest {
                        continue;
                    }
                    let skipped = self.skipped(oldest, r.state().position, series)?;
                    let n: usize = skipped.len();
                    r.move_on(
                        JournalPosition {
                            segment: oldest + 1,
                            offset: HEADER,
                        },
                        skipped,
                    )?;
                    tracing::warn!(component = "tsdb", reader = %name, series = n, "Journal over its size limit: a reader's unsent samples will be read from the blocks and head instead");
                }
            }
            let p = segment_path(&self.dir, oldest);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            self.segments.lock().remove(&oldest);
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Deletes the oldest segments (not the current one) whose samples are
    /// all older than `before`, moving readers still in them to the next
    /// segment without a catch-up list (agent mode, where nothing else
    /// holds the samples). Returns the number deleted.
    pub(crate) fn drop_older(&self, before: i64) -> Result<usize, Error> {
        let current = self.current.load(Ordering::Acquire);
        let mut readers = self.readers.lock();
        let mut deleted = 0;
        loop {
            let Some(oldest) = self.segments.lock().keys().next().copied() else {
                break;
            };
            if oldest >= current {
                break;
            }
            let path = segment_path(&self.dir, oldest);
            let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let mut newest = i64::MIN;
            let mut off = HEADER as usize;
            while let Some((payload, next)) = frame_at(&data, off) {
                let _ = record::decode(payload, |_, t, _| newest = newest.max(t));
                off = next;
            }
            if newest >= before {
                break;
            }
            for (name, r) in readers.iter_mut() {
                if r.state().position.segment <= oldest {
                    tracing::warn!(component = "tsdb", reader = %name, segment = oldest, "Journal segment older than the agent's retention dropped before it was sent");
                    r.move_on(
                        JournalPosition {
                            segment: oldest + 1,
                            offset: HEADER,
                        },
                        Vec::new(),
                    )?;
                }
            }
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            self.segments.lock().remove(&oldest);
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Per series, the time range of the samples (floats, and native
    /// histograms of the series `series` finds) in segment `seg` from
    /// `from` on.
    fn skipped(
        &self,
        seg: u64,
        from: JournalPosition,
        series: &dyn Fn(&crate::labels::Labels) -> Option<u64>,
    ) -> Result<Vec<CatchUp>, Error> {
        let path = segment_path(&self.dir, seg);
        let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let mut off = if from.segment == seg {
            from.offset as usize
        } else {
            HEADER as usize
        };
        let mut ranges: HashMap<u64, (i64, i64)> = HashMap::new();
        let mut widen = |r: u64, t: i64| {
            let e = ranges.entry(r).or_insert((t, t));
            e.0 = e.0.min(t);
            e.1 = e.1.max(t);
        };
        while let Some((payload, next)) = frame_at(&data, off) {
            let mut hists = Vec::new();
            let _ = record::decode_any(
                payload,
                |r, t, _| widen(r, t),
                |_, _| {},
                |labels, t, _| hists.push((labels, t)),
            );
            for (labels, t) in hists {
                if let Some(r) = series(&labels) {
                    widen(r, t);
                }
            }
            off = next;
        }
        let mut out: Vec<CatchUp> = ranges
            .into_iter()
            .map(|(r, (mint, maxt))| CatchUp {
                series: crate::SeriesRef(r),
                mint,
                maxt,
            })
            .collect();
        out.sort_by_key(|c| c.series);
        Ok(out)
    }

    /// The oldest timestamp a reader still has to send: the oldest of its
    /// catch-up ranges not done, and of the samples from its position in
    /// its current segment (a reader at the end needs nothing).
    /// `i64::MAX` when nothing is pending.
    pub(crate) fn oldest_unsent(&self) -> i64 {
        let end = self.end();
        let states: Vec<ReaderState> = self
            .readers
            .lock()
            .values()
            .map(|r| r.state().clone())
            .collect();
        let mut oldest = i64::MAX;
        for s in states {
            for c in &s.catch_up[s.catch_up_done.min(s.catch_up.len())..] {
                oldest = oldest.min(c.mint);
            }
            if s.position < end {
                let path = segment_path(&self.dir, s.position.segment);
                let Ok(data) = std::fs::read(&path) else {
                    continue;
                };
                let mut off = s.position.offset as usize;
                while let Some((payload, next)) = frame_at(&data, off) {
                    let _ = record::decode(payload, |_, t, _| oldest = oldest.min(t));
                    off = next;
                }
            }
        }
        oldest
    }

    /// Bytes of the segments on disk.
    pub(crate) fn bytes(&self) -> u64 {
        self.segments.lock().values().sum()
    }

    /// Deletes the journal's files (when it has no reader left).
    pub(crate) fn remove(self) -> Result<(), Error> {
        let dir = self.dir.clone();
        drop(self);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&dir, e)),
        }
    }
}

/// The journal held for one commit.
pub(crate) struct JournalGuard<'a> {
    journal: &'a Journal,
    writer: MutexGuard<'a, Writer>,
}

impl JournalGuard<'_> {
    /// Adds a stored sample to the record.
    pub(crate) fn push(&mut self, series: u64, t: i64, v: f64) {
        self.writer.enc.push(series, t, v);
    }

    /// Writes the samples pushed as one record (nothing when there are
    /// none), starting a new segment first when the current one is full.
    pub(crate) fn write(mut self) -> Result<(), Error> {
        if self.writer.enc.count() == 0 {
            return Ok(());
        }
        let w = &mut *self.writer;
        w.frame.clear();
        w.frame.extend_from_slice(&[0u8; FRAME]);
        w.enc.finish_into(&mut w.frame);
        self.write_frame()
    }

    /// Writes stored native histograms as one record (nothing for none).
    pub(crate) fn write_histograms(
        mut self,
        histograms: &[(crate::labels::Labels, i64, crate::histogram::FloatHistogram)],
    ) -> Result<(), Error> {
        if histograms.is_empty() {
            return Ok(());
        }
        let w = &mut *self.writer;
        w.frame.clear();
        w.frame.extend_from_slice(&[0u8; FRAME]);
        record::encode_histograms(&mut w.frame, histograms);
        self.write_frame()
    }

    /// Writes stored exemplars as one record (nothing for none).
    pub(crate) fn write_exemplars(
        mut self,
        exemplars: &[(u64, crate::Exemplar)],
    ) -> Result<(), Error> {
        if exemplars.is_empty() {
            return Ok(());
        }
        let w = &mut *self.writer;
        w.frame.clear();
        w.frame.extend_from_slice(&[0u8; FRAME]);
        record::encode_exemplars(&mut w.frame, exemplars);
        self.write_frame()
    }

    /// Frames the payload in the writer's frame buffer (after `FRAME`
    /// reserved bytes) and appends it.
    fn write_frame(&mut self) -> Result<(), Error> {
        let j = self.journal;
        let w = &mut *self.writer;
        if w.len >= j.segment_bytes {
            let n = w.segment + 1;
            let f = new_segment(&j.dir, n)?;
            j.segments.lock().insert(n, HEADER);
            w.segment = n;
            w.file = f;
            w.len = HEADER;
            j.written.store(HEADER, Ordering::Release);
            j.current.store(n, Ordering::Release);
        }
        let payload_len = w.frame.len() - FRAME;
        let crc = crc32c(&w.frame[FRAME..]);
        w.frame[..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        w.frame[4..8].copy_from_slice(&crc.to_le_bytes());
        let path = || segment_path(&j.dir, w.segment);
        if let Err(e) = w.file.write_all_at(&w.frame, w.len) {
            // whatever part got written is cut at the next open
            return Err(Error::io(&path(), e));
        }
        w.len += w.frame.len() as u64;
        j.segments.lock().insert(w.segment, w.len);
        j.written.store(w.len, Ordering::Release);
        Ok(())
    }
}

/// For the fuzz targets: decodes `bytes` as a record's payload, a
/// reader's state and a catch-up list.
pub(crate) fn fuzz_bodies(bytes: &[u8]) {
    let _ = record::decode_any(bytes, |_, _, _| {}, |_, _| {}, |_, _, _| {});
    reader::fuzz_bodies(bytes);
}

#[cfg(test)]
mod tests;
