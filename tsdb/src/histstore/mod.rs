//! The native histogram store: histogram samples by series, in chunks of
//! their own encoding ([`chunk`]), beside the float head and blocks.
//!
//! Files, in `<data>/histograms/` (formats in `docs/format/histograms.md`):
//!
//! - `p<start>`: the closed chunks of one 2 h range (starting at `start`
//!   ms), appended as they close, each with its series' labels;
//! - `log`: what is not in a closed chunk yet: the samples of the open
//!   chunks as they were appended. It is rewritten, holding the open
//!   chunks whole, once it outgrows [`LOG_REWRITE_BYTES`], so reading it
//!   at start costs at most that.
//!
//! A series' open chunk closes after [`SAMPLES_PER_CHUNK`] samples, at a
//! 2 h boundary, and where Prometheus's chunks would be cut (a counter
//! reset, a change between counter and gauge, a new schema, zero
//! threshold or custom bounds), so that the counter reset hints read back
//! are those of Prometheus (see [`crate::histogram::read_back_hint`]).
//! When the database writes the 2 h range of a block, the range's closed
//! chunks and the open chunks still in it go into the block
//! ([`HistStore::collect_range`]) and leave the store
//! ([`HistStore::finish_range`]); no sample older than that block's end
//! is taken afterwards. Range files written before blocks held histograms
//! stay and are read as they are; whole ranges go with retention.

pub(crate) mod chunk;
mod delete;
mod file;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::encoding::{put_uvarint, Cursor};
use crate::histogram::{read_back_hint, starts_new_chunk, FloatHistogram, SAMPLES_PER_CHUNK};
use crate::labels::{Labels, Matcher};
use crate::read::{matches_all, HistogramSample};
use crate::Error;
use file::{
    convert_range_v1, decode_chunk, encode_chunk, frame, new_file, open_file, records, replace_file,
};
pub(crate) use file::{get_labels, put_labels};

/// The store's folder in the data folder.
pub(crate) const DIR: &str = "histograms";
/// Span of a range file (as a block).
const RANGE_MS: i64 = 2 * 3600 * 1000;
/// Log size past which it is rewritten with the open chunks only.
pub(crate) const LOG_REWRITE_BYTES: u64 = 8 << 20;

const PART_MAGIC: &[u8; 4] = b"FLHP";
const LOG_MAGIC: &[u8; 4] = b"FLHL";
/// The version written: 2 (chunks in [`chunk::CURRENT`]'s encoding);
/// version 1 files are read (a range file is converted at open, a log
/// rewritten at the first commit).
const VERSION: u8 = 2;
const HEADER: u64 = 8;

/// Log record kinds.
const REC_SERIES: u8 = 1;
const REC_SAMPLE: u8 = 2;
const REC_OPEN: u8 = 3;
const REC_APPENDS: u8 = 4;

fn range_start(t: i64) -> i64 {
    t.div_euclid(RANGE_MS).saturating_mul(RANGE_MS)
}

/// A closed chunk in a range file.
#[derive(Clone, Copy, Debug)]
struct Meta {
    offset: u64,
    len: u32,
    mint: i64,
    maxt: i64,
}

/// One range file: its chunks by series.
struct Range {
    path: PathBuf,
    file: File,
    len: u64,
    series: HashMap<Labels, Vec<Meta>>,
}

/// A series' open chunk.
struct Open {
    enc: chunk::Encoder,
    range: i64,
    mint: i64,
    maxt: i64,
    last: FloatHistogram,
}

#[derive(Default)]
struct SeriesState {
    open: Option<Open>,
    /// The newest sample's timestamp.
    last_t: Option<i64>,
    /// This series' number in the current log (0: not written there yet).
    log_id: u64,
}

struct Log {
    path: PathBuf,
    file: File,
    len: u64,
    next_id: u64,
}

struct Inner {
    series: HashMap<Labels, SeriesState>,
    /// Appends of samples older than this are refused: their range is in
    /// a block, or being written into one.
    floor: i64,
    /// The ranges before this are in blocks (or were left as range files
    /// by earlier versions).
    moved_before: i64,
    ranges: BTreeMap<i64, Range>,
    log: Option<Log>,
    /// The next series number in the log (past those it holds).
    log_next_id: u64,
}

/// A closed chunk of one series, owned: what goes into a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HistChunk {
    /// First sample's timestamp, ms.
    pub mint: i64,
    /// Last sample's timestamp, ms.
    pub maxt: i64,
    /// Samples in the chunk.
    pub count: u32,
    /// The chunk's length in bits.
    pub bits: usize,
    /// `⌈bits/8⌉` bytes of the chunk ([`chunk`]'s encoding).
    pub data: Vec<u8>,
}

impl HistChunk {
    fn of(o: &Open) -> HistChunk {
        HistChunk::encoded(&o.enc, o.mint, o.maxt)
    }

    /// The chunk an encoder holds, its samples spanning `mint..=maxt`.
    fn encoded(enc: &chunk::Encoder, mint: i64, maxt: i64) -> HistChunk {
        let (bytes, bits) = enc.bytes();
        HistChunk {
            mint,
            maxt,
            count: enc.count(),
            bits,
            data: bytes[..bits.div_ceil(8)].to_vec(),
        }
    }

    /// The chunk's samples, with the hints Prometheus's chunks read back,
    /// those in `mint..=maxt` added to `out`; `None` when it does not
    /// decode.
    pub(crate) fn decode_into(
        data: &[u8],
        bits: usize,
        count: u32,
        mint: i64,
        maxt: i64,
        out: &mut Vec<HistogramSample>,
    ) -> Option<()> {
        push_chunk(out, chunk::decode(data, bits, count)?, mint, maxt);
        Some(())
    }
}

/// What the blocks hold of the histograms, for opening the store: range
/// files whose every chunk a block holds (left by a stop between writing
/// the block and deleting the file) are deleted, and samples of the log
/// that a block holds are not stored again.
pub(crate) struct InBlocks<'a> {
    /// Each series' newest histogram sample in the blocks.
    pub last: HashMap<Labels, i64>,
    /// Whether a block holds the chunk of this series starting at this
    /// time.
    pub holds: &'a dyn Fn(&Labels, i64) -> bool,
    /// Appends older than this are refused (the blocks' end).
    pub floor: i64,
}

impl Default for InBlocks<'_> {
    fn default() -> Self {
        InBlocks {
            last: HashMap::new(),
            holds: &|_, _| false,
            floor: i64::MIN,
        }
    }
}

/// The histogram store of one database.
pub(crate) struct HistStore {
    dir: PathBuf,
    inner: Mutex<Inner>,
    /// Log size past which it is rewritten.
    pub(crate) rewrite_at: u64,
}
impl HistStore {
    /// Opens the store in `data/histograms` (created when the first
    /// histogram comes), reading the range files' chunk lists and the log,
    /// as if no block held histograms (the take-over fills it before the
    /// database opens; its range files then stay beside the blocks).
    pub(crate) fn open(data: &Path) -> Result<HistStore, Error> {
        Self::open_with(data, &InBlocks::default())
    }

    /// Opens the store, knowing what the blocks hold (see [`InBlocks`]).
    pub(crate) fn open_with(data: &Path, blocks: &InBlocks<'_>) -> Result<HistStore, Error> {
        let dir = data.join(DIR);
        let mut inner = Inner {
            floor: blocks.floor,
            moved_before: blocks.floor,
            series: HashMap::new(),
            ranges: BTreeMap::new(),
            log: None,
            log_next_id: 1,
        };
        if dir.exists() {
            for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let e = e.map_err(|e| Error::io(&dir, e))?;
                let name = e.file_name().to_string_lossy().to_string();
                let Some(start) = name.strip_prefix('p').and_then(|s| s.parse::<i64>().ok()) else {
                    continue;
                };
                let path = e.path();
                let (mut file, mut data, mut len) = open_file(&path, PART_MAGIC)?;
                if data[4] == 1 {
                    convert_range_v1(&path, &data[..len as usize])?;
                    (file, data, len) = open_file(&path, PART_MAGIC)?;
                }
                let mut series: HashMap<Labels, Vec<Meta>> = HashMap::new();
                let mut all_held = true;
                for (off, payload) in records(&data[..len as usize]).0 {
                    let c = decode_chunk(payload).ok_or_else(|| Error::Corruption {
                        path: path.clone(),
                        offset: off,
                        detail: "malformed histogram chunk record".into(),
                    })?;
                    all_held &= (blocks.holds)(&c.labels, c.mint);
                    series.entry(c.labels).or_default().push(Meta {
                        offset: off,
                        len: payload.len() as u32 + 8,
                        mint: c.mint,
                        maxt: c.maxt,
                    });
                }
                if all_held && !series.is_empty() {
                    // its chunks went into a block, the file was not
                    // deleted yet
                    drop(file);
                    tracing::info!(component = "tsdb", file = %path.display(), "Deleting histogram range file held by a block");
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    continue;
                }
                for (labels, metas) in &series {
                    let last = metas.iter().map(|m| m.maxt).max();
                    let st = inner.series.entry(labels.clone()).or_default();
                    st.last_t = st.last_t.max(last);
                }
                inner.ranges.insert(
                    start,
                    Range {
                        path,
                        file,
                        len,
                        series,
                    },
                );
            }
            let log = dir.join("log");
            if log.exists() {
                Self::read_log(&log, &dir, &mut inner, &blocks.last)?;
            }
        }
        Ok(HistStore {
            dir,
            inner: Mutex::new(inner),
            rewrite_at: LOG_REWRITE_BYTES,
        })
    }

    /// Rebuilds the open chunks from the log.
    fn read_log(
        path: &Path,
        dir: &Path,
        inner: &mut Inner,
        in_blocks: &HashMap<Labels, i64>,
    ) -> Result<(), Error> {
        let (_, data, len) = open_file(path, LOG_MAGIC)?;
        let version = data[4];
        let mut ids: HashMap<u64, Labels> = HashMap::new();
        // per series: the open chunk's bits as logged so far, and its
        // sample count; stored again when the chunk ends and at the end
        let mut growing: HashMap<u64, (chunk::BitWriter, u32)> = HashMap::new();
        let bad = |off: u64| Error::Corruption {
            path: path.to_path_buf(),
            offset: off,
            detail: "malformed histogram log record".into(),
        };
        for (off, payload) in records(&data[..len as usize]).0 {
            let mut c = Cursor::at(payload, 0);
            let kind = c.bytes(1).ok_or_else(|| bad(off))?[0];
            match kind {
                REC_SERIES => {
                    let id = c.uvarint().ok_or_else(|| bad(off))?;
                    let labels = get_labels(&mut c).ok_or_else(|| bad(off))?;
                    inner.log_next_id = inner.log_next_id.max(id.saturating_add(1));
                    // samples a block holds are refused as out of order
                    if let Some(&t) = in_blocks.get(&labels) {
                        let st = inner.series.entry(labels.clone()).or_default();
                        st.last_t = st.last_t.max(Some(t));
                    }
                    ids.insert(id, labels);
                }
                REC_OPEN => {
                    let id = c.uvarint().ok_or_else(|| bad(off))?;
                    if !ids.contains_key(&id) {
                        return Err(bad(off));
                    }
                    let ch = decode_chunk(&payload[c.pos()..]).ok_or_else(|| bad(off))?;
                    Self::replay_chunk(inner, &ids, &mut growing, id, dir, version)
                        .map_err(|_| bad(off))??;
                    let mut w = chunk::BitWriter::default();
                    w.append_bits(&ch.data, 0, ch.bits);
                    growing.insert(id, (w, ch.count));
                }
                REC_APPENDS => {
                    let n = c.uvarint().ok_or_else(|| bad(off))?;
                    for _ in 0..n {
                        let id = c.uvarint().ok_or_else(|| bad(off))?;
                        let fresh = c.uvarint().ok_or_else(|| bad(off))? == 1;
                        let bits = usize::try_from(c.uvarint().ok_or_else(|| bad(off))?)
                            .map_err(|_| bad(off))?;
                        let bytes = c.bytes(bits.div_ceil(8)).ok_or_else(|| bad(off))?;
                        if !ids.contains_key(&id) {
                            return Err(bad(off));
                        }
                        if fresh {
                            Self::replay_chunk(inner, &ids, &mut growing, id, dir, version)
                                .map_err(|_| bad(off))??;
                        }
                        let g = growing.entry(id).or_default();
                        g.0.append_bits(bytes, 0, bits);
                        g.1 += 1;
                    }
                }
                REC_SAMPLE => {
                    let id = c.uvarint().ok_or_else(|| bad(off))?;
                    let labels = ids.get(&id).ok_or_else(|| bad(off))?.clone();
                    let bits = usize::try_from(c.uvarint().ok_or_else(|| bad(off))?)
                        .map_err(|_| bad(off))?;
                    let bytes = c.bytes(bits.div_ceil(8)).ok_or_else(|| bad(off))?;
                    let mut s =
                        chunk::decode_version(version, bytes, bits, 1).ok_or_else(|| bad(off))?;
                    let (t, h) = s.pop().ok_or_else(|| bad(off))?;
                    // a sample already in a closed chunk is refused as out
                    // of order: skipped
                    if let Err(AddError::Io(e)) = Self::add_to(inner, &labels, t, h, dir) {
                        return Err(e);
                    }
                }
                _ => return Err(bad(off)),
            }
        }
        let left: Vec<u64> = growing.keys().copied().collect();
        for id in left {
            Self::replay_chunk(inner, &ids, &mut growing, id, dir, version)
                .map_err(|_| bad(len))??;
        }
        Ok(())
    }

    /// Stores again the samples of a series' chunk rebuilt from the log
    /// (those already in a closed chunk are refused, and skipped); `Err(())`
    /// when the logged bits do not decode.
    fn replay_chunk(
        inner: &mut Inner,
        ids: &HashMap<u64, Labels>,
        growing: &mut HashMap<u64, (chunk::BitWriter, u32)>,
        id: u64,
        dir: &Path,
        version: u8,
    ) -> Result<Result<(), Error>, ()> {
        let Some((w, count)) = growing.remove(&id) else {
            return Ok(Ok(()));
        };
        let labels = ids.get(&id).ok_or(())?;
        let samples = chunk::decode_version(version, &w.buf, w.bits, count).ok_or(())?;
        for (t, h) in samples {
            match Self::add_to(inner, labels, t, h, dir) {
                Err(AddError::Io(e)) => return Ok(Err(e)),
                Err(AddError::Refused) | Ok(()) => {}
            }
        }
        Ok(Ok(()))
    }

    /// Stores histogram samples (each series' in time order), logging them;
    /// returns how many were stored and how many refused as out of order.
    /// With `kept`, the stored samples are added to it.
    pub(crate) fn append(
        &self,
        samples: Vec<(Labels, i64, FloatHistogram)>,
        mut kept: Option<&mut Vec<(Labels, i64, FloatHistogram)>>,
    ) -> Result<(u64, u64), Error> {
        if samples.is_empty() {
            return Ok((0, 0));
        }
        let mut inner = self.inner.lock();
        if inner.log.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
            let path = self.dir.join("log");
            if path.exists() {
                // the log read at start, rewritten with the open chunks
                // whole, so that what follows continues them
                Self::rewrite_log(&mut inner, &self.dir)?;
            } else {
                let file = new_file(&path, LOG_MAGIC)?;
                inner.log = Some(Log {
                    path,
                    file,
                    len: HEADER,
                    next_id: inner.log_next_id,
                });
            }
        }
        let (mut stored, mut refused) = (0, 0);
        let mut out = Vec::new();
        // each stored sample as the bits its series' open chunk grew by
        let mut appends = Vec::new();
        let mut n_appends = 0u64;
        for (labels, t, h) in samples {
            if t < inner.floor {
                refused += 1;
                continue;
            }
            let before = inner
                .series
                .get(&labels)
                .and_then(|st| st.open.as_ref())
                .map(|o| (o.enc.count(), o.enc.bytes().1));
            let copy = kept.is_some().then(|| h.clone());
            let ok = Self::add_to(&mut inner, &labels, t, h, &self.dir);
            match ok {
                Ok(()) => {
                    stored += 1;
                    let inner = &mut *inner;
                    let st = inner.series.get_mut(&labels).expect("just added");
                    let log = inner.log.as_mut().expect("opened above");
                    if st.log_id == 0 {
                        st.log_id = log.next_id;
                        log.next_id += 1;
                        let mut p = vec![REC_SERIES];
                        put_uvarint(&mut p, st.log_id);
                        put_labels(&mut p, &labels);
                        out.extend_from_slice(&frame(&p));
                    }
                    let open = st.open.as_ref().expect("just added");
                    let (bytes, bits) = open.enc.bytes();
                    // the chunk this sample went to is the one before it
                    // when that one grew by one sample, else a new one
                    let from = match before {
                        Some((n, b)) if open.enc.count() == n + 1 => Some(b),
                        _ => None,
                    };
                    put_uvarint(&mut appends, st.log_id);
                    put_uvarint(&mut appends, u64::from(from.is_none()));
                    let mut w = chunk::BitWriter::default();
                    w.append_bits(bytes, from.unwrap_or(0), bits);
                    put_uvarint(&mut appends, w.bits as u64);
                    appends.extend_from_slice(&w.buf);
                    n_appends += 1;
                    if let (Some(k), Some(h)) = (kept.as_deref_mut(), copy) {
                        k.push((labels, t, h));
                    }
                }
                Err(AddError::Refused) => refused += 1,
                Err(AddError::Io(e)) => return Err(e),
            }
        }
        if n_appends > 0 {
            let mut p = vec![REC_APPENDS];
            put_uvarint(&mut p, n_appends);
            p.extend_from_slice(&appends);
            out.extend_from_slice(&frame(&p));
        }
        let log = inner.log.as_mut().expect("opened above");
        log.file
            .write_all_at(&out, log.len)
            .map_err(|e| Error::io(&log.path, e))?;
        log.len += out.len() as u64;
        if log.len > self.rewrite_at {
            Self::rewrite_log(&mut inner, &self.dir)?;
        }
        Ok((stored, refused))
    }

    /// Replaces the log with one holding the open chunks whole.
    fn rewrite_log(inner: &mut Inner, dir: &Path) -> Result<(), Error> {
        let mut buf = Vec::new();
        let mut id = 0u64;
        for (labels, st) in inner.series.iter_mut() {
            st.log_id = 0;
            let Some(open) = &st.open else { continue };
            id += 1;
            st.log_id = id;
            let mut p = vec![REC_SERIES];
            put_uvarint(&mut p, id);
            put_labels(&mut p, labels);
            buf.extend_from_slice(&frame(&p));
            let mut p = vec![REC_OPEN];
            put_uvarint(&mut p, id);
            encode_chunk(labels, open.mint, open.maxt, &open.enc, &mut p);
            buf.extend_from_slice(&frame(&p));
        }
        let path = dir.join("log");
        let file = replace_file(&path, LOG_MAGIC, &buf)?;
        inner.log = Some(Log {
            path,
            file,
            len: HEADER + buf.len() as u64,
            next_id: id + 1,
        });
        inner.log_next_id = id + 1;
        Ok(())
    }

    /// Adds one sample to its series' open chunk, closing the chunk into
    /// its range file in `dir` first where one ends.
    fn add_to(
        inner: &mut Inner,
        labels: &Labels,
        t: i64,
        h: FloatHistogram,
        dir: &Path,
    ) -> Result<(), AddError> {
        let st = inner.series.entry(labels.clone()).or_default();
        if st.last_t.is_some_and(|l| t <= l) {
            return Err(AddError::Refused);
        }
        let range = range_start(t);
        let close = match &st.open {
            None => false,
            Some(o) => {
                o.range != range
                    || o.enc.count() as usize >= SAMPLES_PER_CHUNK
                    || starts_new_chunk(&o.last, &h)
            }
        };
        if close {
            let open = st.open.take().expect("checked");
            Self::write_closed(&mut inner.ranges, labels, open, dir).map_err(AddError::Io)?;
        }
        let st = inner.series.get_mut(labels).expect("present");
        let open = st.open.get_or_insert_with(|| Open {
            enc: chunk::Encoder::default(),
            range,
            mint: t,
            maxt: t,
            last: FloatHistogram::default(),
        });
        open.enc.append(t, &h);
        open.maxt = t;
        open.last = h;
        st.last_t = Some(t);
        Ok(())
    }

    /// Appends a closed chunk to its range file.
    fn write_closed(
        ranges: &mut BTreeMap<i64, Range>,
        labels: &Labels,
        open: Open,
        dir: &Path,
    ) -> Result<(), Error> {
        if let std::collections::btree_map::Entry::Vacant(slot) = ranges.entry(open.range) {
            let path = dir.join(format!("p{}", open.range));
            let file = if path.exists() {
                open_file(&path, PART_MAGIC)?.0
            } else {
                new_file(&path, PART_MAGIC)?
            };
            let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
            slot.insert(Range {
                path,
                file,
                len,
                series: HashMap::new(),
            });
        }
        let r = ranges.get_mut(&open.range).expect("inserted");
        let mut p = Vec::new();
        encode_chunk(labels, open.mint, open.maxt, &open.enc, &mut p);
        let rec = frame(&p);
        r.file
            .write_all_at(&rec, r.len)
            .map_err(|e| Error::io(&r.path, e))?;
        r.series.entry(labels.clone()).or_default().push(Meta {
            offset: r.len,
            len: rec.len() as u32,
            mint: open.mint,
            maxt: open.maxt,
        });
        r.len += rec.len() as u64;
        Ok(())
    }

    /// The histogram samples in `mint..=maxt` of the series matching all
    /// `matchers`, sorted by labels, with the counter reset hints
    /// Prometheus's chunks read back.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<HistogramSample>)>, Error> {
        let inner = self.inner.lock();
        let mut found: BTreeMap<Labels, Vec<HistogramSample>> = BTreeMap::new();
        let lo = range_start(mint);
        for (_, r) in inner.ranges.range(lo..=maxt) {
            for (labels, metas) in &r.series {
                if !matches_all(labels, matchers) {
                    continue;
                }
                for m in metas.iter().filter(|m| m.mint <= maxt && m.maxt >= mint) {
                    let mut buf = vec![0u8; m.len as usize];
                    r.file
                        .read_exact_at(&mut buf, m.offset)
                        .map_err(|e| Error::io(&r.path, e))?;
                    let bad = || Error::Corruption {
                        path: r.path.clone(),
                        offset: m.offset,
                        detail: "malformed histogram chunk".into(),
                    };
                    let c = decode_chunk(buf.get(8..).ok_or_else(bad)?).ok_or_else(bad)?;
                    let samples = chunk::decode(&c.data, c.bits, c.count).ok_or_else(bad)?;
                    push_chunk(
                        found.entry(labels.clone()).or_default(),
                        samples,
                        mint,
                        maxt,
                    );
                }
            }
        }
        for (labels, st) in &inner.series {
            let Some(o) = &st.open else { continue };
            if o.mint > maxt || o.maxt < mint || !matches_all(labels, matchers) {
                continue;
            }
            let (bytes, bits) = o.enc.bytes();
            if let Some(samples) = chunk::decode(bytes, bits, o.enc.count()) {
                push_chunk(
                    found.entry(labels.clone()).or_default(),
                    samples,
                    mint,
                    maxt,
                );
            }
        }
        Ok(found
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(l, mut v)| {
                v.sort_by_key(|s| s.0);
                (l, v)
            })
            .collect())
    }

    /// Label sets of the series with histogram samples in `mint..=maxt`
    /// matching all `matchers`.
    pub(crate) fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        let inner = self.inner.lock();
        let mut out: Vec<Labels> = Vec::new();
        for (_, r) in inner.ranges.range(range_start(mint)..=maxt) {
            for (labels, metas) in &r.series {
                if metas.iter().any(|m| m.mint <= maxt && m.maxt >= mint)
                    && matches_all(labels, matchers)
                {
                    out.push(labels.clone());
                }
            }
        }
        for (labels, st) in &inner.series {
            if let Some(o) = &st.open {
                if o.mint <= maxt && o.maxt >= mint && matches_all(labels, matchers) {
                    out.push(labels.clone());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// For the block of the range `start..end` (a 2 h range): from now on
    /// refuses samples older than `end`, closes the open chunks of older
    /// ranges into their range files, and returns the chunks of the range,
    /// by series in label order: its range file's and the open chunks in
    /// it (left in the store until [`Self::finish_range`]).
    pub(crate) fn collect_range(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<(Labels, Vec<HistChunk>)>, Error> {
        let mut inner = self.inner.lock();
        inner.floor = inner.floor.max(end);
        let inner = &mut *inner;
        let mut found: BTreeMap<Labels, Vec<HistChunk>> = BTreeMap::new();
        for (labels, st) in inner.series.iter_mut() {
            match &st.open {
                Some(o) if o.range < start => {
                    let o = st.open.take().expect("matched");
                    Self::write_closed(&mut inner.ranges, labels, o, &self.dir)?;
                }
                Some(o) if o.range == start => {
                    found
                        .entry(labels.clone())
                        .or_default()
                        .push(HistChunk::of(o));
                }
                _ => {}
            }
        }
        if let Some(r) = inner.ranges.get(&start) {
            for (labels, metas) in &r.series {
                for m in metas {
                    let mut buf = vec![0u8; m.len as usize];
                    r.file
                        .read_exact_at(&mut buf, m.offset)
                        .map_err(|e| Error::io(&r.path, e))?;
                    let c =
                        buf.get(8..)
                            .and_then(decode_chunk)
                            .ok_or_else(|| Error::Corruption {
                                path: r.path.clone(),
                                offset: m.offset,
                                detail: "malformed histogram chunk".into(),
                            })?;
                    found.entry(labels.clone()).or_default().push(HistChunk {
                        mint: c.mint,
                        maxt: c.maxt,
                        count: c.count,
                        bits: c.bits,
                        data: c.data,
                    });
                }
            }
        }
        Ok(found
            .into_iter()
            .map(|(l, mut v)| {
                v.sort_by_key(|c| c.mint);
                v.dedup_by_key(|c| c.mint);
                (l, v)
            })
            .collect())
    }

    /// Once the chunks [`Self::collect_range`] returned for the range
    /// starting at `start` are in a block: deletes its range file and
    /// drops its open chunks, rewriting the log without them.
    pub(crate) fn finish_range(&self, start: i64) -> Result<(), Error> {
        let mut inner = self.inner.lock();
        let mut dropped = false;
        for st in inner.series.values_mut() {
            if st.open.as_ref().is_some_and(|o| o.range == start) {
                st.open = None;
                dropped = true;
            }
        }
        if let Some(r) = inner.ranges.remove(&start) {
            tracing::info!(component = "tsdb", file = %r.path.display(), "Histogram range moved into a block");
            drop(r.file);
            std::fs::remove_file(&r.path).map_err(|e| Error::io(&r.path, e))?;
            crate::fs::sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        }
        inner.moved_before = inner.moved_before.max(start.saturating_add(RANGE_MS));
        if dropped && inner.log.is_some() {
            Self::rewrite_log(&mut inner, &self.dir)?;
        }
        // series with nothing left here: their samples are in blocks
        let floor = inner.floor;
        inner
            .series
            .retain(|_, st| st.open.is_some() || st.last_t.is_some_and(|t| t >= floor));
        Ok(())
    }

    /// The oldest and newest timestamp of what is not in a block yet
    /// (range files of earlier versions left aside): what the next blocks
    /// are to hold. A range whose block could not be written stays here.
    pub(crate) fn pending_range(&self) -> Option<(i64, i64)> {
        let inner = self.inner.lock();
        let floor = inner.moved_before;
        let metas = inner
            .ranges
            .range(range_start(floor)..)
            .flat_map(|(_, r)| r.series.values().flatten().map(|m| (m.mint, m.maxt)));
        let opens = inner
            .series
            .values()
            .filter_map(|s| s.open.as_ref().map(|o| (o.mint, o.maxt)));
        metas.chain(opens).filter(|(a, _)| *a >= floor).fold(
            None,
            |acc: Option<(i64, i64)>, (a, b)| match acc {
                None => Some((a, b)),
                Some((x, y)) => Some((x.min(a), y.max(b))),
            },
        )
    }

    /// Deletes the range files that end at or before `t`; returns how many.
    pub(crate) fn drop_before(&self, t: i64) -> Result<usize, Error> {
        let mut inner = self.inner.lock();
        let doomed: Vec<i64> = inner
            .ranges
            .keys()
            .copied()
            .filter(|s| s.saturating_add(RANGE_MS) <= t)
            .collect();
        for s in &doomed {
            if let Some(r) = inner.ranges.remove(s) {
                tracing::info!(component = "tsdb", file = %r.path.display(), "Deleting histogram range beyond retention");
                std::fs::remove_file(&r.path).map_err(|e| Error::io(&r.path, e))?;
            }
        }
        Ok(doomed.len())
    }

    /// Bytes on disk.
    pub(crate) fn disk_bytes(&self) -> u64 {
        let inner = self.inner.lock();
        inner.ranges.values().map(|r| r.len).sum::<u64>() + inner.log.as_ref().map_or(0, |l| l.len)
    }

    /// For each series with a metric name: calls `f` with the name, the
    /// hash of its labels ([`Labels::hash64`]) and the bytes of its chunks:
    /// the records of its closed chunks in the range files, and its open
    /// chunk's encoded bytes (the log holds that chunk's samples one
    /// record each, or the chunk whole once rewritten).
    pub(crate) fn bytes_by_metric(&self, f: &mut dyn FnMut(&str, u64, u64)) {
        let inner = self.inner.lock();
        let mut bytes: HashMap<&Labels, u64> = HashMap::new();
        for r in inner.ranges.values() {
            for (labels, metas) in &r.series {
                *bytes.entry(labels).or_default() +=
                    metas.iter().map(|m| u64::from(m.len)).sum::<u64>();
            }
        }
        for (labels, st) in &inner.series {
            if let Some(o) = &st.open {
                *bytes.entry(labels).or_default() += o.enc.bytes().0.len() as u64;
            }
        }
        for (labels, n) in bytes {
            if let Some(name) = labels.get(crate::labels::METRIC_NAME) {
                f(name, labels.hash64(), n);
            }
        }
    }

    /// The newest sample time of the series with these labels.
    pub(crate) fn last_t(&self, labels: &Labels) -> Option<i64> {
        self.inner.lock().series.get(labels).and_then(|s| s.last_t)
    }

    /// Each series' newest sample time, for the series the store has
    /// appended to since its log was started.
    pub(crate) fn last_times(&self) -> Vec<(Labels, i64)> {
        let inner = self.inner.lock();
        inner
            .series
            .iter()
            .filter_map(|(l, st)| Some((l.clone(), st.last_t?)))
            .collect()
    }

    /// The number of open chunks and the time range they cover.
    pub(crate) fn open_chunks(&self) -> (u64, Option<(i64, i64)>) {
        let inner = self.inner.lock();
        let mut n = 0;
        let mut range: Option<(i64, i64)> = None;
        for o in inner.series.values().filter_map(|s| s.open.as_ref()) {
            n += 1;
            range = Some(range.map_or((o.mint, o.maxt), |(a, b)| (a.min(o.mint), b.max(o.maxt))));
        }
        (n, range)
    }

    /// The oldest and newest timestamp held.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        let inner = self.inner.lock();
        let metas = inner
            .ranges
            .values()
            .flat_map(|r| r.series.values().flatten().map(|m| (m.mint, m.maxt)));
        let opens = inner
            .series
            .values()
            .filter_map(|s| s.open.as_ref().map(|o| (o.mint, o.maxt)));
        metas
            .chain(opens)
            .fold(None, |acc: Option<(i64, i64)>, (a, b)| match acc {
                None => Some((a, b)),
                Some((x, y)) => Some((x.min(a), y.max(b))),
            })
    }

    /// Makes the log and range files durable.
    pub(crate) fn sync(&self) -> Result<(), Error> {
        let inner = self.inner.lock();
        if let Some(l) = &inner.log {
            l.file.sync_data().map_err(|e| Error::io(&l.path, e))?;
        }
        for r in inner.ranges.values() {
            r.file.sync_data().map_err(|e| Error::io(&r.path, e))?;
        }
        Ok(())
    }

    /// The folder, for snapshots.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

enum AddError {
    Refused,
    Io(Error),
}

/// Adds a chunk's samples in range to `out`, with read-back hints.
fn push_chunk(
    out: &mut Vec<HistogramSample>,
    samples: Vec<(i64, FloatHistogram)>,
    mint: i64,
    maxt: i64,
) {
    for (i, (t, mut h)) in samples.into_iter().enumerate() {
        h.counter_reset_hint = read_back_hint(&h, i == 0);
        if t >= mint && t <= maxt {
            out.push((t, Arc::new(h)));
        }
    }
}

#[cfg(test)]
mod tests;
