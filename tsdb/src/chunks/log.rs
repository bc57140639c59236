//! The closed-chunk log: head chunks that are complete, moved out of their
//! 256-byte slots into append-only, memory-mapped segment files and stored
//! in the smaller of their XOR bytes and the delta encoding. Only the open
//! chunk of each series keeps a slot, so the head's files grow by about a
//! block chunk's size per sample rather than a slot's. Layout in
//! `docs/format/chunklog.md`.
//!
//! A record is written whole (CRC32C last) before the slot it came from is
//! let go, and slots are let go only after the log is flushed (see
//! [`crate::head`]), so a chunk is always in one place or both; at open a
//! chunk found in both is taken from the log and its slot released.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use super::{create_whole, ChunkRef, DATA_SIZE};
use crate::chunkenc::{ENCODING_DELTA, ENCODING_DELTA2, ENCODING_XOR};
use crate::encoding::{crc32c, put_uvarint, put_varint, uvarint_len, varint_len, Cursor};
use crate::fs::SlotMap;
use crate::Error;

/// Bytes of a segment file (allocated whole when created): 256 KiB, so that
/// the segment being filled and one partly released hold little unused
/// space. Segments of any length are read (earlier versions made 1 MiB).
pub(crate) const SEGMENT_SIZE: usize = 1 << 18;
/// Bytes of the segment file header.
const FILE_HEADER: usize = 8;
const MAGIC: &[u8; 4] = b"FLCL";
/// Version 2 adds records in the delta encoding's second layout; version 1
/// segments (XOR and first-layout delta records) are still read.
const VERSION: u8 = 2;

/// Set in a [`ChunkRef`] that points into the log; the segment number is
/// in bits 32–62 and the byte offset of the chunk's data in bits 0–31.
pub(crate) const LOG_BIT: u64 = 1 << 63;

fn log_ref(segment: u64, offset: usize) -> ChunkRef {
    ChunkRef(LOG_BIT | segment << 32 | offset as u64)
}

fn segment_of(r: ChunkRef) -> u64 {
    (r.0 & !LOG_BIT) >> 32
}

fn offset_of(r: ChunkRef) -> usize {
    (r.0 & 0xffff_ffff) as usize
}

/// A chunk found in the log at open.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LogChunk {
    pub cref: ChunkRef,
    pub series: u64,
    pub mint: i64,
    pub maxt: i64,
    pub count: u16,
    pub bit_len: u16,
    pub encoding: u8,
    /// Let go (in a block, or deleted): found at open only so that a copy
    /// of it still in a slot is let go too.
    pub released: bool,
}

struct Writer {
    /// Segment being filled (0: none yet).
    segment: u64,
    /// Next free byte in it.
    pos: usize,
    /// Number the next new segment gets.
    next: u64,
}

/// The segment files of one database's closed-chunk log.
pub(crate) struct ChunkLog {
    dir: PathBuf,
    segments: RwLock<BTreeMap<u64, SlotMap>>,
    writer: Mutex<Writer>,
    /// The segment being filled, readable without the writer's lock.
    current: AtomicU64,
    /// Records per segment still holding a head chunk; a segment whose
    /// count drops to zero (and that is not being filled) is deleted.
    live: Mutex<BTreeMap<u64, u32>>,
}

fn file_name(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}"))
}

/// Set in a record's encoding byte once its chunk has left the head (in a
/// block, or deleted): the record is skipped at open.
const RELEASED: u8 = 0x80;

/// Encodes one record: series (never 0, so a record never starts with a
/// zero byte), mint, maxt − mint, count, bit length, encoding, data,
/// CRC32C of all before it (with the encoding's released bit clear).
/// Returns the record and where its data starts.
fn encode_record(c: &LogChunk, data: &[u8]) -> (Vec<u8>, usize) {
    debug_assert!(c.series != 0 && c.mint <= c.maxt);
    let mut rec = Vec::with_capacity(data.len() + 32);
    put_uvarint(&mut rec, c.series);
    put_varint(&mut rec, c.mint);
    put_uvarint(&mut rec, c.maxt.wrapping_sub(c.mint) as u64);
    put_uvarint(&mut rec, u64::from(c.count));
    put_uvarint(&mut rec, u64::from(c.bit_len));
    rec.push(c.encoding);
    let at = rec.len();
    rec.extend_from_slice(data);
    let crc = crc32c(&rec);
    rec.extend_from_slice(&crc.to_le_bytes());
    (rec, at)
}

/// Bytes of the record [`encode_record`] writes for `c` (its data being
/// `ceil(bit_len / 8)` bytes), computed without encoding it.
pub(crate) fn record_len(c: &LogChunk) -> usize {
    uvarint_len(c.series)
        + varint_len(c.mint)
        + uvarint_len(c.maxt.wrapping_sub(c.mint) as u64)
        + uvarint_len(u64::from(c.count))
        + uvarint_len(u64::from(c.bit_len))
        + 1
        + (c.bit_len as usize).div_ceil(8)
        + 4
}

/// The record at `pos` of a segment's bytes: the chunk (its reference's
/// offset is that of its data) and the record's length. `None` where the
/// bytes are not a whole, valid record.
fn decode_record(buf: &[u8], pos: usize, segment: u64, version: u8) -> Option<(LogChunk, usize)> {
    let mut c = Cursor::at(buf, pos);
    let series = c.uvarint()?;
    let mint = c.varint()?;
    let span = c.uvarint()?;
    let count = u16::try_from(c.uvarint()?).ok()?;
    let bit_len = u16::try_from(c.uvarint()?).ok()?;
    let maxt = mint.checked_add(i64::try_from(span).ok()?)?;
    let enc_at = c.pos();
    let stored = c.bytes(1)?[0];
    let (encoding, released) = (stored & !RELEASED, stored & RELEASED != 0);
    let at = c.pos();
    let n = (bit_len as usize).div_ceil(8);
    let known = match encoding {
        ENCODING_XOR | ENCODING_DELTA => true,
        ENCODING_DELTA2 => version >= 2,
        _ => false,
    };
    let plausible = known && series != 0 && count > 0 && n <= DATA_SIZE;
    if !plausible {
        return None;
    }
    c.bytes(n)?;
    let end = c.pos();
    let crc = c.u32()?;
    let sum = crc32c::crc32c_append(
        crc32c::crc32c_append(crc32c(&buf[pos..enc_at]), &[encoding]),
        &buf[at..end],
    );
    if sum != crc {
        return None;
    }
    let chunk = LogChunk {
        cref: log_ref(segment, at),
        series,
        mint,
        maxt,
        count,
        bit_len,
        encoding,
        released,
    };
    Some((chunk, c.pos() - pos))
}

impl ChunkLog {
    /// Opens the log in `dir`: every valid record of every segment
    /// (released ones flagged), and a line per problem. A segment is read up to its first record that is
    /// not whole and valid (a torn tail, or damage): the rest is cut, and
    /// the line says how many bytes. New records go into a new segment.
    #[allow(unsafe_code)]
    pub(crate) fn open(dir: &Path) -> Result<(ChunkLog, Vec<LogChunk>, Vec<String>), Error> {
        let numbers = crate::fs::numbered_files(dir).map_err(|e| Error::io(dir, e))?;
        let mut segments = BTreeMap::new();
        let mut found = Vec::new();
        let mut problems = Vec::new();
        let mut live = BTreeMap::new();
        for &n in &numbers {
            let path = file_name(dir, n);
            let len = std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .len() as usize;
            let map = if len >= FILE_HEADER {
                Some(SlotMap::open(&path, len).map_err(|e| Error::io(&path, e))?)
            } else {
                None
            };
            let mut buf = vec![0u8; len];
            if let Some(m) = &map {
                // SAFETY: the map was opened just now and is not shared
                // yet: no other thread can write it
                unsafe { m.read(0, &mut buf) };
            }
            if map.is_none() || &buf[..4] != MAGIC || !(1..=VERSION).contains(&buf[4]) {
                drop(map);
                let aside = crate::fs::move_aside(&path).map_err(|e| Error::io(&path, e))?;
                problems.push(format!(
                    "{}: not a chunk log segment (bad header), moved aside to {}",
                    path.display(),
                    aside.display()
                ));
                continue;
            }
            let mut pos = FILE_HEADER;
            let mut records = 0u32;
            while pos < len && buf[pos] != 0 {
                match decode_record(&buf, pos, n, buf[4]) {
                    Some((chunk, size)) => {
                        records += u32::from(!chunk.released);
                        found.push(chunk);
                        pos += size;
                    }
                    None => break,
                }
            }
            let written = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            if written > pos {
                problems.push(format!(
                    "{}: record at offset {pos} is torn or damaged; cut {} bytes after it ({records} records kept)",
                    path.display(),
                    written - pos
                ));
            }
            if records == 0 {
                drop(map);
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                continue;
            }
            live.insert(n, records);
            segments.insert(n, map.expect("checked above"));
        }
        let next = numbers.last().map_or(1, |n| n + 1);
        let log = ChunkLog {
            dir: dir.to_path_buf(),
            segments: RwLock::new(segments),
            writer: Mutex::new(Writer {
                segment: 0,
                pos: 0,
                next,
            }),
            current: AtomicU64::new(0),
            live: Mutex::new(live),
        };
        Ok((log, found, problems))
    }

    /// Appends a closed chunk described by `meta` (its `cref` is not
    /// used; `data` holds its `bit_len` bits) and returns its reference.
    /// Fails only when a new segment cannot be created (a full disk); the
    /// chunk then stays where it was.
    #[allow(unsafe_code)]
    pub(crate) fn append(&self, meta: &LogChunk, data: &[u8]) -> Result<ChunkRef, Error> {
        let (rec, at) = encode_record(meta, &data[..(meta.bit_len as usize).div_ceil(8)]);
        let mut w = self.writer.lock();
        if w.segment == 0 || w.pos + rec.len() > SEGMENT_SIZE {
            let n = w.next;
            self.create_segment(n)?;
            let old = std::mem::replace(&mut w.segment, n);
            w.pos = FILE_HEADER;
            w.next = n + 1;
            self.current.store(n, Ordering::Relaxed);
            self.live.lock().insert(n, 0);
            if old != 0 && self.live.lock().get(&old) == Some(&0) {
                self.remove_segment(old)?;
            }
        }
        let pos = w.pos;
        let segments = self.segments.read();
        let m = segments
            .get(&w.segment)
            .expect("the segment being filled is mapped");
        // SAFETY: the bytes from `pos` on are past every record written,
        // so no reference to them was handed out yet, and the writer lock
        // keeps other appends off them
        unsafe { m.write(pos, &rec) };
        drop(segments);
        w.pos += rec.len();
        *self.live.lock().entry(w.segment).or_insert(0) += 1;
        Ok(log_ref(w.segment, pos + at))
    }

    fn create_segment(&self, n: u64) -> Result<(), Error> {
        let mut header = [0u8; FILE_HEADER];
        header[..4].copy_from_slice(MAGIC);
        header[4] = VERSION;
        create_whole(&self.dir, n, &header, SEGMENT_SIZE as u64)?;
        let path = file_name(&self.dir, n);
        let map = SlotMap::open(&path, SEGMENT_SIZE).map_err(|e| Error::io(&path, e))?;
        self.segments.write().insert(n, map);
        Ok(())
    }

    /// Copies a chunk's data (`out.len()` bytes of it); false if its
    /// segment is gone.
    #[allow(unsafe_code)]
    pub(crate) fn read(&self, r: ChunkRef, out: &mut [u8]) -> bool {
        let segments = self.segments.read();
        match segments.get(&segment_of(r)) {
            Some(m) if offset_of(r) + out.len() <= m.len() => {
                // SAFETY: a record's data bytes are written once, before
                // its reference is handed out, and never again
                unsafe { m.read(offset_of(r), out) };
                true
            }
            _ => false,
        }
    }

    /// Lets a record go (its chunk is in a block, or deleted): it is marked
    /// so that it is skipped at open, and a segment left with no record in
    /// use, and not being filled, is deleted.
    #[allow(unsafe_code)]
    pub(crate) fn release(&self, r: ChunkRef) -> Result<(), Error> {
        let n = segment_of(r);
        if let Some(m) = self.segments.read().get(&n) {
            let at = offset_of(r) - 1;
            let mut b = [0u8];
            // SAFETY: the byte before a record's data (its encoding and
            // flags) is read after open only here, and a record is let go
            // once, by the one series that held it
            unsafe {
                m.read(at, &mut b);
                m.write(at, &[b[0] | RELEASED]);
            }
        }
        let empty = {
            let mut live = self.live.lock();
            match live.get_mut(&n) {
                Some(c) if *c > 1 => {
                    *c -= 1;
                    false
                }
                Some(c) => {
                    *c = 0;
                    true
                }
                None => false,
            }
        };
        if empty && n != self.current.load(Ordering::Relaxed) {
            self.remove_segment(n)?;
        }
        Ok(())
    }

    fn remove_segment(&self, n: u64) -> Result<(), Error> {
        self.live.lock().remove(&n);
        self.segments.write().remove(&n);
        let path = file_name(&self.dir, n);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Writes the segments' dirty pages to disk and waits.
    pub(crate) fn flush(&self) -> Result<(), Error> {
        for (n, m) in self.segments.read().iter() {
            m.flush()
                .map_err(|e| Error::io(&file_name(&self.dir, *n), e))?;
        }
        Ok(())
    }

    /// Bytes the segment files take on disk.
    pub(crate) fn disk_bytes(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        self.segments
            .read()
            .keys()
            .filter_map(|n| std::fs::metadata(file_name(&self.dir, *n)).ok())
            .map(|m| m.blocks() * 512)
            .sum()
    }

    /// Bytes of address space mapped.
    pub(crate) fn mapped_bytes(&self) -> u64 {
        self.segments.read().values().map(|m| m.len() as u64).sum()
    }
}

/// Whether a reference points into the log rather than at a slot.
/// For the fuzz targets: decodes `bytes` as a record at offset 0 of a
/// segment of each version.
pub(crate) fn fuzz_record(bytes: &[u8]) {
    for version in 1..=VERSION {
        let _ = decode_record(bytes, 0, 1, version);
    }
}

pub(crate) fn in_log(r: ChunkRef) -> bool {
    r.0 & LOG_BIT != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(series: u64, mint: i64, data: &[u8]) -> (LogChunk, Vec<u8>) {
        let c = LogChunk {
            cref: ChunkRef(0),
            series,
            mint,
            maxt: mint + 1000,
            count: 3,
            bit_len: (data.len() * 8) as u16,
            encoding: ENCODING_DELTA,
            released: false,
        };
        (c, data.to_vec())
    }

    /// A log in a new temporary folder.
    fn empty_log() -> (tempfile::TempDir, ChunkLog) {
        let dir = tempfile::tempdir().unwrap();
        let (log, _, _) = ChunkLog::open(dir.path()).unwrap();
        (dir, log)
    }

    fn append(log: &ChunkLog, c: &LogChunk, data: &[u8]) -> ChunkRef {
        log.append(c, data).unwrap()
    }

    #[test]
    fn record_len_is_the_encoded_length() {
        for (series, mint, span, count, data_len) in [
            (1u64, 0i64, 0i64, 1u16, 1usize),
            (127, -1, 127, 120, 216),
            (128, 1 << 40, 1 << 20, 300, 17),
            (u64::MAX >> 1, i64::MIN / 2, 15_000, 1, 0),
        ] {
            let c = LogChunk {
                cref: ChunkRef(0),
                series,
                mint,
                maxt: mint + span,
                count,
                bit_len: (data_len * 8) as u16,
                encoding: ENCODING_XOR,
                released: false,
            };
            let data = vec![7u8; data_len];
            assert_eq!(record_len(&c), encode_record(&c, &data).0.len(), "{c:?}");
        }
    }

    #[test]
    fn records_read_back_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (log, found, problems) = ChunkLog::open(dir.path()).unwrap();
        assert!(found.is_empty() && problems.is_empty());
        let chunks: Vec<_> = (0..50u64)
            .map(|i| chunk(i + 1, -5 + i as i64 * 7, &vec![i as u8 + 1; 1 + i as usize]))
            .collect();
        let refs: Vec<ChunkRef> = chunks.iter().map(|(c, d)| append(&log, c, d)).collect();
        for (r, (_, d)) in refs.iter().zip(&chunks) {
            assert!(in_log(*r));
            let mut out = vec![0u8; d.len()];
            assert!(log.read(*r, &mut out));
            assert_eq!(&out, d);
        }
        log.flush().unwrap();
        drop(log);
        let (log, found, problems) = ChunkLog::open(dir.path()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(found.len(), chunks.len());
        for ((f, (c, d)), r) in found.iter().zip(&chunks).zip(&refs) {
            assert_eq!(LogChunk { cref: *r, ..*c }, *f);
            let mut out = vec![0u8; d.len()];
            assert!(log.read(f.cref, &mut out));
            assert_eq!(&out, d);
        }
        // new records go into a new segment
        let r = append(&log, &chunks[0].0, &chunks[0].1);
        assert_eq!(segment_of(r), 2);
    }

    #[test]
    fn a_segment_of_the_earlier_size_is_read() {
        let (dir, log) = empty_log();
        let chunks: Vec<_> = (0..20u64)
            .map(|i| chunk(i + 1, i as i64 * 100, &[i as u8 + 1; 40]))
            .collect();
        for (c, d) in &chunks {
            append(&log, c, d);
        }
        log.flush().unwrap();
        drop(log);
        // 1 MiB, as earlier versions created segments
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(file_name(dir.path(), 1))
            .unwrap();
        f.set_len(1 << 20).unwrap();
        drop(f);
        let (log, found, problems) = ChunkLog::open(dir.path()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(found.len(), chunks.len());
        for (f, (_, d)) in found.iter().zip(&chunks) {
            let mut out = vec![0u8; d.len()];
            assert!(log.read(f.cref, &mut out));
            assert_eq!(&out, d);
        }
        // new records go into a new segment of the current size
        let r = append(&log, &chunks[0].0, &chunks[0].1);
        log.flush().unwrap();
        let len = std::fs::metadata(file_name(dir.path(), segment_of(r)))
            .unwrap()
            .len();
        assert_eq!(len, SEGMENT_SIZE as u64);
    }

    #[test]
    fn released_records_are_flagged_at_open() {
        let (dir, log) = empty_log();
        let (c, d) = chunk(4, 100, &[3; 20]);
        let keep = append(&log, &c, &d);
        let later = LogChunk {
            mint: 5000,
            maxt: 6000,
            ..c
        };
        let gone = append(&log, &later, &d);
        log.release(gone).unwrap();
        drop(log);
        let (_, found, problems) = ChunkLog::open(dir.path()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].cref, found[0].released), (keep, false));
        assert_eq!((found[1].cref, found[1].released), (gone, true));
        assert_eq!(found[1].mint, 5000);
    }

    #[test]
    fn a_segment_whose_records_are_all_released_goes_at_open() {
        let (dir, log) = empty_log();
        let (c, d) = chunk(4, 100, &[3; 20]);
        let r = append(&log, &c, &d);
        log.release(r).unwrap();
        assert!(file_name(dir.path(), 1).exists(), "being filled");
        drop(log);
        let (_, found, _) = ChunkLog::open(dir.path()).unwrap();
        assert!(found.iter().all(|c| c.released));
        assert!(!file_name(dir.path(), 1).exists());
    }

    #[test]
    fn a_torn_tail_is_cut_at_the_last_whole_record() {
        let (dir, log) = empty_log();
        let (c, d) = chunk(1, 0, &[9; 40]);
        let r1 = append(&log, &c, &d);
        let r2 = append(&log, &c, &d);
        drop(log);
        // the second record loses its checksum's last byte
        let path = file_name(dir.path(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        let end = offset_of(r2) + d.len() + 4;
        bytes[end - 1] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, found, problems) = ChunkLog::open(dir.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].cref, r1);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("cut"), "{problems:?}");
    }

    #[test]
    fn version_1_segments_are_read_but_hold_no_second_layout_records() {
        let (dir, log) = empty_log();
        let (old, d) = chunk(1, 0, &[5; 30]);
        let new = LogChunk {
            mint: 2000,
            maxt: 3000,
            encoding: ENCODING_DELTA2,
            ..old
        };
        let r1 = append(&log, &old, &d);
        append(&log, &new, &d);
        drop(log);
        let path = file_name(dir.path(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes[4], 2);
        // as a version-1 writer left it: the second-layout record is not
        // one it could have written, so it ends the segment
        bytes[4] = 1;
        std::fs::write(&path, &bytes).unwrap();
        let (_, found, problems) = ChunkLog::open(dir.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].cref, found[0].encoding), (r1, ENCODING_DELTA));
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn a_segment_with_a_bad_header_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(file_name(dir.path(), 3), b"garbage garbage").unwrap();
        let (log, found, problems) = ChunkLog::open(dir.path()).unwrap();
        assert!(found.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(dir.path().join("000003.damaged").exists());
        // numbering goes on after it
        let (c, d) = chunk(1, 0, &[1]);
        assert_eq!(segment_of(append(&log, &c, &d)), 4);
        drop(log);
        // the same number damaged again: the earlier copy is kept
        std::fs::write(file_name(dir.path(), 3), b"other garbage").unwrap();
        let (_, _, problems) = ChunkLog::open(dir.path()).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].ends_with("000003.damaged.1"), "{problems:?}");
        assert_eq!(
            std::fs::read(dir.path().join("000003.damaged")).unwrap(),
            b"garbage garbage"
        );
        assert_eq!(
            std::fs::read(dir.path().join("000003.damaged.1")).unwrap(),
            b"other garbage"
        );
    }

    #[test]
    fn full_segments_continue_in_the_next_and_go_when_released() {
        let (dir, log) = empty_log();
        let (c, d) = chunk(1, 0, &[7; DATA_SIZE]);
        let mut refs = Vec::new();
        while refs.last().is_none_or(|r| segment_of(*r) < 3) {
            refs.push(append(&log, &c, &d));
        }
        let first: Vec<_> = refs.iter().filter(|r| segment_of(**r) == 1).collect();
        assert!(first.len() > 1000, "{}", first.len());
        for r in &first {
            log.release(**r).unwrap();
        }
        assert!(!file_name(dir.path(), 1).exists());
        assert!(file_name(dir.path(), 2).exists());
        // the segment being filled stays even when empty
        log.release(*refs.last().unwrap()).unwrap();
        assert!(file_name(dir.path(), 3).exists());
        let len = std::fs::metadata(file_name(dir.path(), 2)).unwrap().len();
        assert_eq!(len, SEGMENT_SIZE as u64);
    }
}
