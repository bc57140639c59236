//! The head's chunk files: fixed-size slots in memory-mapped files, here,
//! for open chunks, and the closed-chunk log ([`log`]) that closed chunks
//! move to.
//!
//! An open chunk lives in one 256-byte slot: a 40-byte header and 216 bytes of
//! encoded samples. A series' open chunk is written in place as samples
//! arrive (data bits first, then the header's count), so the files are the
//! durable state: a restart maps them and reads slot headers, it does not
//! replay samples. A chunk is closed when its data area is full or it holds
//! [`MAX_SAMPLES_PER_CHUNK`] samples; closing stores a CRC32C over the slot.
//! Layouts in `docs/format/chunks.md` and `docs/format/chunklog.md`.

pub(crate) mod log;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::chunkenc::{XorEncoder, ENCODING_XOR};
use crate::encoding::crc32c;
use crate::fs::SlotMap;
use crate::Error;

/// Bytes per slot.
pub(crate) const SLOT_SIZE: usize = 256;
/// Bytes of slot header.
pub(crate) const HEADER_SIZE: usize = 40;
/// Bytes of encoded data a slot holds.
pub(crate) const DATA_SIZE: usize = SLOT_SIZE - HEADER_SIZE;
/// Slot numbers per file in a chunk reference, and the most slots a file
/// holds (16 MiB); slot 0 of each file is the file header.
pub(crate) const SLOTS_PER_FILE: u64 = 1 << 16;
/// Slots of a new file (256 KiB, allocated whole when created): small, so
/// that the file being filled and files emptied down to a few live slots
/// hold little unused space.
pub(crate) const NEW_FILE_SLOTS: u64 = 1 << 10;
/// Slot counts of the files that are read and filled: new files, then
/// those earlier versions made (1 MiB, and 16 MiB = [`SLOTS_PER_FILE`]).
/// A file shorter than one of them is that size cut short.
const FILE_SLOTS: [u64; 3] = [NEW_FILE_SLOTS, 1 << 12, SLOTS_PER_FILE];
/// A chunk is closed after this many samples even if bytes remain.
pub(crate) const MAX_SAMPLES_PER_CHUNK: u16 = 120;

const FILE_MAGIC: &[u8; 4] = b"FLCH";
const FILE_VERSION: u8 = 1;

/// Chunk state byte: samples may still be appended.
pub(crate) const STATE_OPEN: u8 = 1;
/// Chunk state byte: complete, CRC valid.
pub(crate) const STATE_CLOSED: u8 = 2;
/// Chunk state byte: copied into a block; the slot is free to go with its
/// file.
pub(crate) const STATE_PERSISTED: u8 = 3;

/// Global index of a chunk slot: file number × SLOTS_PER_FILE + slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkRef(pub u64);

impl ChunkRef {
    fn file(self) -> u64 {
        self.0 / SLOTS_PER_FILE
    }
    fn offset(self) -> usize {
        (self.0 % SLOTS_PER_FILE) as usize * SLOT_SIZE
    }
}

/// A decoded slot header.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SlotHeader {
    pub encoding: u8,
    pub state: u8,
    pub count: u16,
    pub bit_len: u16,
    pub crc: u32,
    pub series: u64,
    pub mint: i64,
    pub maxt: i64,
}

impl SlotHeader {
    pub(crate) fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0] = self.encoding;
        b[1] = self.state;
        b[2..4].copy_from_slice(&self.count.to_le_bytes());
        b[4..6].copy_from_slice(&self.bit_len.to_le_bytes());
        b[8..12].copy_from_slice(&self.crc.to_le_bytes());
        b[16..24].copy_from_slice(&self.series.to_le_bytes());
        b[24..32].copy_from_slice(&self.mint.to_le_bytes());
        b[32..40].copy_from_slice(&self.maxt.to_le_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8; HEADER_SIZE]) -> SlotHeader {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        SlotHeader {
            encoding: b[0],
            state: b[1],
            count: u16_at(2),
            bit_len: u16_at(4),
            crc: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
            series: u64_at(16),
            mint: u64_at(24) as i64,
            maxt: u64_at(32) as i64,
        }
    }
}

/// CRC over a closed slot: header without the CRC field, then the data.
pub(crate) fn slot_crc(header: &SlotHeader, data: &[u8]) -> u32 {
    let mut h = header.encode();
    h[8..12].fill(0);
    let used = (header.bit_len as usize).div_ceil(8).min(DATA_SIZE);
    let mut all = Vec::with_capacity(HEADER_SIZE + used);
    all.extend_from_slice(&h);
    all.extend_from_slice(&data[..used]);
    crc32c(&all)
}

/// A slot found at open: where it is and its header.
pub(crate) struct FoundSlot {
    pub cref: ChunkRef,
    pub header: SlotHeader,
}

/// The set of chunk slot files of one database.
///
/// A slot has one owner at a time, the only thread to read or write its
/// bytes: the one that allocated it, until the slot is a series' chunk;
/// then whoever holds that series' lock; then the one letting it go. The
/// reads and writes of the maps here rely on that.
pub(crate) struct ChunkFiles {
    dir: PathBuf,
    files: RwLock<Vec<Option<SlotMap>>>,
    next: AtomicU64,
    /// Slots per file still holding a head chunk; a file whose count drops
    /// to zero is deleted (the one being filled too: new slots then come
    /// from the next file). New slots are handed out under this lock.
    live: parking_lot::Mutex<Slots>,
}

/// Which slots hold head chunks, and which are free to hand out again.
struct Slots {
    /// Slots per file holding a head chunk.
    live: std::collections::BTreeMap<u64, u32>,
    /// Slots let go whose chunks moved to the closed-chunk log, in files
    /// that still hold live slots; the lowest is handed out first, so
    /// chunks gather in the oldest files and the newest drain and go.
    free: std::collections::BTreeSet<ChunkRef>,
}

/// Most free slots remembered for reuse.
const MAX_FREE: usize = 1 << 16;

fn file_name(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}"))
}

/// Creates file `n` of `dir` whole: `header`, then zeros up to `len`
/// bytes, its blocks allocated and synced under a temporary name, then
/// renamed. A numbered file that is empty or short can then only be
/// damage, never a crash artifact, and writing through a map of it never
/// needs a new disk block (which a full disk would refuse with SIGBUS).
pub(crate) fn create_whole(dir: &Path, n: u64, header: &[u8], len: u64) -> Result<(), Error> {
    use std::io::Write;
    let tmp = dir.join(format!("{n:06}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let written = f
        .write_all(header)
        .and_then(|_| crate::fs::fill_zeros(&mut f, header.len() as u64, len))
        .and_then(|_| f.sync_all());
    if let Err(e) = written {
        drop(f);
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    let path = file_name(dir, n);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    crate::fs::sync_dir(dir).map_err(|e| Error::io(dir, e))
}

impl ChunkFiles {
    /// Opens the slot files in `dir`, returning them and every used slot.
    #[allow(unsafe_code)] // reads the maps before they are shared
    pub(crate) fn open(dir: &Path) -> Result<(ChunkFiles, Vec<FoundSlot>, Vec<String>), Error> {
        let numbers = crate::fs::numbered_files(dir).map_err(|e| Error::io(dir, e))?;
        let mut files: Vec<Option<SlotMap>> = Vec::new();
        let mut found = Vec::new();
        let mut problems = Vec::new();
        let mut next = SLOTS_PER_FILE; // file 0 is never used, so ref 0 is "none"
        for n in numbers {
            let path = file_name(dir, n);
            let len = std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .len();
            let full = FILE_SLOTS
                .iter()
                .map(|&slots| slots * SLOT_SIZE as u64)
                .find(|&size| len <= size)
                .unwrap_or(SLOTS_PER_FILE * SLOT_SIZE as u64);
            if len < 8 {
                return Err(Error::Corruption {
                    path: path.clone(),
                    offset: 0,
                    detail: format!("chunk file is {len} bytes, shorter than its header; move it aside to start without it"),
                });
            }
            if len < full {
                problems.push(format!(
                    "{}: truncated to {len} of {full} bytes (corrupt); repaired by extending it, slots past the cut are lost",
                    path.display()
                ));
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                crate::fs::fill_zeros(&mut f, len, full).map_err(|e| Error::io(&path, e))?;
            }
            let map = SlotMap::open(&path, full as usize).map_err(|e| Error::io(&path, e))?;
            // SAFETY: the map was opened just now and is not shared yet: no
            // other thread can write it
            let read = |off: usize, out: &mut [u8]| unsafe { map.read(off, out) };
            let mut fh = [0u8; 8];
            read(0, &mut fh);
            if &fh[..4] != FILE_MAGIC || fh[4] != FILE_VERSION {
                problems.push(format!("{}: bad file header, file ignored", path.display()));
                continue;
            }
            let mut hb = [0u8; HEADER_SIZE];
            let mut data = [0u8; DATA_SIZE];
            for slot in 1..full / SLOT_SIZE as u64 {
                let off = slot as usize * SLOT_SIZE;
                read(off, &mut hb);
                if hb[0] == 0 {
                    continue;
                }
                let header = SlotHeader::decode(&hb);
                let cref = ChunkRef(n * SLOTS_PER_FILE + slot);
                if header.state == STATE_PERSISTED {
                    next = next.max(cref.0 + 1);
                    continue;
                }
                let plausible = header.encoding == ENCODING_XOR
                    && (header.state == STATE_OPEN || header.state == STATE_CLOSED)
                    && header.count > 0
                    && header.bit_len as usize <= DATA_SIZE * 8
                    && header.mint <= header.maxt;
                if !plausible {
                    problems.push(format!(
                        "{}: slot {slot} has an invalid header, skipped",
                        path.display()
                    ));
                    continue;
                }
                if header.state == STATE_CLOSED {
                    read(off + HEADER_SIZE, &mut data);
                    if slot_crc(&header, &data) != header.crc {
                        problems.push(format!(
                            "{}: slot {slot} fails its checksum, skipped",
                            path.display()
                        ));
                        continue;
                    }
                }
                next = next.max(cref.0 + 1);
                found.push(FoundSlot { cref, header });
            }
            let idx = n as usize;
            if files.len() <= idx {
                files.resize_with(idx + 1, || None);
            }
            files[idx] = Some(map);
        }
        if next.is_multiple_of(SLOTS_PER_FILE) {
            next += 1; // slot 0 is the file header
        }
        let mut live = std::collections::BTreeMap::new();
        for f in &found {
            *live.entry(f.cref.file()).or_insert(0u32) += 1;
        }
        let cf = ChunkFiles {
            dir: dir.to_path_buf(),
            files: RwLock::new(files),
            next: AtomicU64::new(next),
            live: parking_lot::Mutex::new(Slots {
                live,
                free: std::collections::BTreeSet::new(),
            }),
        };
        // files with no live slot left (all persisted) go now; if the one
        // to be filled next goes, new slots come from the file after it
        let current = next / SLOTS_PER_FILE;
        let present: Vec<u64> = cf
            .files
            .read()
            .iter()
            .enumerate()
            .filter(|(_, m)| m.is_some())
            .map(|(i, _)| i as u64)
            .collect();
        for n in present {
            if !cf.live.lock().live.contains_key(&n) {
                if n == current {
                    cf.next
                        .fetch_max((n + 1) * SLOTS_PER_FILE, Ordering::Relaxed);
                }
                cf.remove_file(n)?;
            }
        }
        Ok((cf, found, problems))
    }

    /// Reserves a slot: one let go by [`ChunkFiles::recycle`] (its data
    /// area zeroed), or a new one, creating its file if needed.
    pub(crate) fn allocate(&self) -> Result<ChunkRef, Error> {
        let mut slots = self.live.lock();
        if let Some(r) = slots.free.pop_first() {
            *slots.live.entry(r.file()).or_insert(0) += 1;
            drop(slots);
            self.write_data(r, 0, &[0u8; DATA_SIZE]);
            return Ok(r);
        }
        // a new slot: under the lock, so that the file it is in cannot be
        // deleted (its last live slot let go) between here and its count
        loop {
            let r = ChunkRef(self.next.fetch_add(1, Ordering::Relaxed));
            let slot = r.0 % SLOTS_PER_FILE;
            if slot == 0 {
                continue; // file header slot
            }
            if slot >= self.capacity(r.file()) {
                // the file is full: go on in the next one
                self.next
                    .fetch_max((r.file() + 1) * SLOTS_PER_FILE, Ordering::Relaxed);
                continue;
            }
            self.ensure_file(r.file())?;
            *slots.live.entry(r.file()).or_insert(0) += 1;
            return Ok(r);
        }
    }

    /// Slots of file `n`: those of the mapped file, or of a new one.
    fn capacity(&self, n: u64) -> u64 {
        self.files
            .read()
            .get(n as usize)
            .and_then(Option::as_ref)
            .map_or(NEW_FILE_SLOTS, |m| (m.len() / SLOT_SIZE) as u64)
    }

    fn ensure_file(&self, n: u64) -> Result<(), Error> {
        let idx = n as usize;
        if self.files.read().get(idx).is_some_and(Option::is_some) {
            return Ok(());
        }
        let mut files = self.files.write();
        if files.get(idx).is_some_and(Option::is_some) {
            return Ok(());
        }
        let path = file_name(&self.dir, n);
        let mut fh = [0u8; 8];
        fh[..4].copy_from_slice(FILE_MAGIC);
        fh[4] = FILE_VERSION;
        create_whole(&self.dir, n, &fh, NEW_FILE_SLOTS * SLOT_SIZE as u64)?;
        let map = SlotMap::open(&path, (NEW_FILE_SLOTS as usize) * SLOT_SIZE)
            .map_err(|e| Error::io(&path, e))?;
        if files.len() <= idx {
            files.resize_with(idx + 1, || None);
        }
        files[idx] = Some(map);
        Ok(())
    }

    fn with_map<T>(&self, r: ChunkRef, f: impl FnOnce(&SlotMap) -> T) -> Option<T> {
        let files = self.files.read();
        files.get(r.file() as usize).and_then(Option::as_ref).map(f)
    }

    /// Writes a slot header.
    #[allow(unsafe_code)]
    pub(crate) fn write_header(&self, r: ChunkRef, h: &SlotHeader) {
        // SAFETY: slot `r` is its owner's (see the type's doc), who is
        // writing it: no other thread touches its bytes
        self.with_map(r, |m| unsafe { m.write(r.offset(), &h.encode()) });
    }

    /// Writes bytes into a slot's data area at `at`.
    #[allow(unsafe_code)]
    pub(crate) fn write_data(&self, r: ChunkRef, at: usize, data: &[u8]) {
        debug_assert!(at + data.len() <= DATA_SIZE);
        // SAFETY: slot `r` is its owner's, who is writing it; `at + len`
        // stays inside its data area
        self.with_map(r, |m| unsafe {
            m.write(r.offset() + HEADER_SIZE + at, data)
        });
    }

    /// The memory address of slot `r` (0 if its file is not mapped), as a
    /// prefetch hint: slots are 256-byte aligned in memory as in the file.
    pub(crate) fn slot_addr(&self, r: ChunkRef) -> usize {
        self.with_map(r, |m| m.addr(r.offset())).unwrap_or(0)
    }

    /// Copies a slot's data area.
    #[allow(unsafe_code)]
    pub(crate) fn read_data(&self, r: ChunkRef, out: &mut [u8; DATA_SIZE]) -> bool {
        // SAFETY: slot `r` is its owner's, who is reading it: only the
        // owner writes it
        self.with_map(r, |m| unsafe { m.read(r.offset() + HEADER_SIZE, out) })
            .is_some()
    }

    /// Writes the bytes a sample appended (`data` from data offset `at`),
    /// then the header that counts it, under one look-up of the file.
    #[allow(unsafe_code)]
    pub(crate) fn write_append(&self, r: ChunkRef, at: usize, data: &[u8], h: &SlotHeader) {
        debug_assert!(at + data.len() <= DATA_SIZE);
        // SAFETY: slot `r` is its owner's, who is appending to it; `at +
        // len` stays inside its data area
        self.with_map(r, |m| unsafe {
            m.write(r.offset() + HEADER_SIZE + at, data);
            m.write(r.offset(), &h.encode());
        });
    }

    /// Writes the first of `samples` (in time order) that fit one chunk
    /// into a new slot, as a closed XOR chunk of series `series`. Returns
    /// the slot, its header and how many samples it took.
    pub(crate) fn write_closed(
        &self,
        series: u64,
        samples: &[(i64, f64)],
    ) -> Result<(ChunkRef, SlotHeader, usize), Error> {
        let cref = self.allocate()?;
        let mut data = [0u8; DATA_SIZE];
        let mut enc = XorEncoder::new();
        let n = samples
            .iter()
            .take_while(|&&(t, v)| {
                enc.count() < MAX_SAMPLES_PER_CHUNK && enc.append(&mut data, t, v)
            })
            .count();
        debug_assert!(n > 0 || samples.is_empty(), "a sample fits an empty chunk");
        self.write_data(cref, 0, &data[..enc.bit_len().div_ceil(8)]);
        let mut h = SlotHeader {
            encoding: ENCODING_XOR,
            state: STATE_CLOSED,
            count: enc.count(),
            bit_len: enc.bit_len() as u16,
            crc: 0,
            series,
            mint: samples[0].0,
            maxt: samples[n - 1].0,
        };
        h.crc = slot_crc(&h, &data);
        self.write_header(cref, &h);
        Ok((cref, h, n))
    }

    /// Marks a chunk as copied into a block. When no live chunk is left in
    /// its file, the file is deleted.
    pub(crate) fn release(&self, r: ChunkRef) -> Result<(), Error> {
        self.let_go(r, false)
    }

    /// Lets a slot go whose chunk is now in the closed-chunk log: like
    /// [`ChunkFiles::release`], but while its file holds other live slots
    /// the slot is remembered and handed out again by
    /// [`ChunkFiles::allocate`], so a steady head reuses its slots rather
    /// than creating files.
    pub(crate) fn recycle(&self, r: ChunkRef) -> Result<(), Error> {
        self.let_go(r, true)
    }

    #[allow(unsafe_code)]
    fn let_go(&self, r: ChunkRef, reuse: bool) -> Result<(), Error> {
        // SAFETY: slot `r` is its owner's, who is letting it go: it is no
        // longer any series', and its state byte is read only at open
        self.with_map(r, |m| unsafe {
            m.write(r.offset() + 1, &[STATE_PERSISTED])
        });
        let n = r.file();
        let remove = {
            let mut slots = self.live.lock();
            let left = match slots.live.get_mut(&n) {
                Some(c) => {
                    *c = c.saturating_sub(1);
                    *c
                }
                None => return Ok(()),
            };
            if left == 0 {
                // the file goes: forget its free slots with it, and if it
                // is being filled, go on in the next
                slots.live.remove(&n);
                slots.free.retain(|f| f.file() != n);
                self.next
                    .fetch_max((n + 1) * SLOTS_PER_FILE, Ordering::Relaxed);
                true
            } else {
                if reuse && slots.free.len() < MAX_FREE {
                    slots.free.insert(r);
                }
                false
            }
        };
        if remove {
            self.remove_file(n)?;
        }
        Ok(())
    }

    fn remove_file(&self, n: u64) -> Result<(), Error> {
        let mut files = self.files.write();
        if let Some(slot) = files.get_mut(n as usize) {
            *slot = None;
        }
        let path = file_name(&self.dir, n);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Bytes the slot files take on disk (they are sparse).
    pub(crate) fn disk_bytes(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let files = self.files.read();
        (0..files.len())
            .filter(|i| files[*i].is_some())
            .filter_map(|i| std::fs::metadata(file_name(&self.dir, i as u64)).ok())
            .map(|m| m.blocks() * 512)
            .sum()
    }

    /// Starts writing dirty pages of every file to disk.
    pub(crate) fn flush(&self, wait: bool) -> Result<(), Error> {
        let files = self.files.read();
        for (n, m) in files.iter().enumerate() {
            if let Some(m) = m {
                let res = if wait { m.flush() } else { m.flush_async() };
                res.map_err(|e| Error::io(&file_name(&self.dir, n as u64), e))?;
            }
        }
        Ok(())
    }

    /// Bytes of address space mapped.
    pub(crate) fn mapped_bytes(&self) -> u64 {
        self.files
            .read()
            .iter()
            .flatten()
            .map(|m| m.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let h = SlotHeader {
            encoding: ENCODING_XOR,
            state: STATE_CLOSED,
            count: 120,
            bit_len: 1700,
            crc: 0xdead_beef,
            series: 42,
            mint: -5,
            maxt: i64::MAX,
        };
        assert_eq!(SlotHeader::decode(&h.encode()), h);
    }

    #[test]
    fn allocate_write_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (cf, found, problems) = ChunkFiles::open(dir.path()).unwrap();
        assert!(found.is_empty() && problems.is_empty());
        let r = cf.allocate().unwrap();
        assert_eq!(r.0, SLOTS_PER_FILE + 1);
        cf.write_data(r, 0, &[1, 2, 3]);
        let mut h = SlotHeader {
            encoding: ENCODING_XOR,
            state: STATE_CLOSED,
            count: 1,
            bit_len: 24,
            crc: 0,
            series: 7,
            mint: 10,
            maxt: 10,
        };
        let mut data = [0u8; DATA_SIZE];
        cf.read_data(r, &mut data);
        h.crc = slot_crc(&h, &data);
        cf.write_header(r, &h);
        let r2 = cf.allocate().unwrap();
        cf.write_header(
            r2,
            &SlotHeader {
                state: STATE_OPEN,
                crc: 0,
                series: 8,
                ..h
            },
        );
        cf.flush(true).unwrap();
        drop(cf);
        let (cf, found, problems) = ChunkFiles::open(dir.path()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].header, h);
        assert_eq!(cf.allocate().unwrap().0, r2.0 + 1);
    }

    #[test]
    fn a_recycled_slot_is_handed_out_again_zeroed_and_ignored_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let (cf, _, _) = ChunkFiles::open(dir.path()).unwrap();
        let r = cf.allocate().unwrap();
        let other = cf.allocate().unwrap();
        cf.write_data(r, 0, &[0xee; DATA_SIZE]);
        let h = SlotHeader {
            encoding: ENCODING_XOR,
            state: STATE_CLOSED,
            count: 3,
            bit_len: 200,
            crc: 0,
            series: 9,
            mint: 1,
            maxt: 2,
        };
        cf.write_header(r, &h);
        cf.write_header(
            other,
            &SlotHeader {
                state: STATE_OPEN,
                series: 10,
                ..h
            },
        );
        cf.recycle(r).unwrap();
        let again = cf.allocate().unwrap();
        assert_eq!(again, r);
        let mut data = [1u8; DATA_SIZE];
        assert!(cf.read_data(again, &mut data));
        assert_eq!(data, [0u8; DATA_SIZE]);
        assert_ne!(cf.allocate().unwrap(), r, "handed out once");
        drop(cf);
        // not yet written again: ignored at open
        let (_, found, problems) = ChunkFiles::open(dir.path()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].cref, other);
    }

    #[test]
    fn recycled_slots_are_reused_lowest_first_and_emptied_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let (cf, _, _) = ChunkFiles::open(dir.path()).unwrap();
        // a burst: file 1 full, file 2 begun
        let refs: Vec<ChunkRef> = (0..NEW_FILE_SLOTS + 10)
            .map(|_| cf.allocate().unwrap())
            .collect();
        assert_eq!(refs.last().unwrap().file(), 2);
        // two slots of file 1 come free: the lower is handed out first
        cf.recycle(refs[7]).unwrap();
        cf.recycle(refs[3]).unwrap();
        assert_eq!(cf.allocate().unwrap(), refs[3]);
        // every other slot of file 1 comes free: the file goes, and none of
        // its slots is handed out again
        for r in refs.iter().filter(|r| r.file() == 1) {
            cf.recycle(*r).unwrap();
        }
        assert!(!file_name(dir.path(), 1).exists());
        let next = cf.allocate().unwrap();
        assert_eq!(next.file(), 2);
    }

    #[test]
    fn the_file_being_filled_goes_too_when_its_slots_are_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let (cf, _, _) = ChunkFiles::open(dir.path()).unwrap();
        // a burst that closed: every slot of file 1 let go
        let refs: Vec<ChunkRef> = (0..100).map(|_| cf.allocate().unwrap()).collect();
        assert!(refs.iter().all(|r| r.file() == 1));
        for r in &refs {
            cf.recycle(*r).unwrap();
        }
        assert!(!file_name(dir.path(), 1).exists());
        // new slots come from the next file
        let r = cf.allocate().unwrap();
        assert_eq!(r.0, 2 * SLOTS_PER_FILE + 1);
        let h = SlotHeader {
            encoding: ENCODING_XOR,
            state: STATE_OPEN,
            count: 0,
            bit_len: 0,
            crc: 0,
            series: 4,
            mint: 0,
            maxt: 0,
        };
        cf.write_header(r, &h);
        cf.flush(true).unwrap();
        drop(cf);
        // at open, a file whose slots are all persisted goes, the one to be
        // filled next included (an earlier version kept that one)
        let path = file_name(dir.path(), 2);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[r.offset() + 1] = STATE_PERSISTED;
        std::fs::write(&path, &bytes).unwrap();
        let (cf, found, problems) = ChunkFiles::open(dir.path()).unwrap();
        assert!(found.is_empty() && problems.is_empty(), "{problems:?}");
        assert!(!path.exists());
        // file numbers only grow
        assert_eq!(cf.allocate().unwrap().file(), 3);
    }

    #[test]
    fn a_full_file_continues_in_the_next_and_goes_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let (cf, _, _) = ChunkFiles::open(dir.path()).unwrap();
        let refs: Vec<ChunkRef> = (1..NEW_FILE_SLOTS)
            .map(|_| cf.allocate().unwrap())
            .collect();
        assert!(refs.iter().all(|r| r.file() == 1));
        let next = cf.allocate().unwrap();
        assert_eq!(next.0, 2 * SLOTS_PER_FILE + 1);
        for n in [1, 2] {
            let len = std::fs::metadata(file_name(dir.path(), n)).unwrap().len();
            assert_eq!(len, NEW_FILE_SLOTS * SLOT_SIZE as u64);
        }
        for r in refs {
            cf.release(r).unwrap();
        }
        assert!(!file_name(dir.path(), 1).exists());
        assert!(file_name(dir.path(), 2).exists());
    }

    /// A slot file of `slots` slots, cut to `len` bytes, holding one closed
    /// chunk in slot `slot`; returns the chunk's header.
    fn write_slot_file(dir: &Path, slots: u64, len: usize, slot: usize) -> SlotHeader {
        let mut bytes = vec![0u8; slots as usize * SLOT_SIZE];
        bytes[..4].copy_from_slice(FILE_MAGIC);
        bytes[4] = FILE_VERSION;
        let mut h = SlotHeader {
            encoding: ENCODING_XOR,
            state: STATE_CLOSED,
            count: 1,
            bit_len: 8,
            crc: 0,
            series: 3,
            mint: 5,
            maxt: 5,
        };
        let mut data = [0u8; DATA_SIZE];
        data[0] = 0xab;
        h.crc = slot_crc(&h, &data);
        let off = slot * SLOT_SIZE;
        bytes[off..off + HEADER_SIZE].copy_from_slice(&h.encode());
        bytes[off + HEADER_SIZE..off + SLOT_SIZE].copy_from_slice(&data);
        bytes.truncate(len);
        std::fs::write(file_name(dir, 1), &bytes).unwrap();
        h
    }

    #[test]
    fn files_of_the_earlier_sizes_are_read_and_filled() {
        for slots in [1 << 12, SLOTS_PER_FILE] {
            let dir = tempfile::tempdir().unwrap();
            // past the slots of a new file
            let slot = NEW_FILE_SLOTS as usize + 500;
            let h = write_slot_file(dir.path(), slots, slots as usize * SLOT_SIZE, slot);
            let (cf, found, problems) = ChunkFiles::open(dir.path()).unwrap();
            assert!(problems.is_empty(), "{problems:?}");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].cref.0, SLOTS_PER_FILE + slot as u64);
            assert_eq!(found[0].header, h);
            assert_eq!(cf.allocate().unwrap().0, SLOTS_PER_FILE + slot as u64 + 1);
            let len = std::fs::metadata(file_name(dir.path(), 1)).unwrap().len();
            assert_eq!(len, slots * SLOT_SIZE as u64);
        }
    }

    #[test]
    fn a_cut_file_is_extended_to_the_size_it_was_cut_from() {
        // (slots of the file, bytes it is cut to, the size it is read as)
        let cases = [
            (NEW_FILE_SLOTS, 100_000, NEW_FILE_SLOTS),
            (1 << 12, 600_000, 1 << 12),
            (SLOTS_PER_FILE, 3_000_000, SLOTS_PER_FILE),
        ];
        for (slots, len, read_as) in cases {
            let dir = tempfile::tempdir().unwrap();
            let h = write_slot_file(dir.path(), slots, len, 300);
            let (_, found, problems) = ChunkFiles::open(dir.path()).unwrap();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].contains("truncated"), "{problems:?}");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].header, h);
            let now = std::fs::metadata(file_name(dir.path(), 1)).unwrap().len();
            assert_eq!(now, read_as * SLOT_SIZE as u64);
        }
    }

    #[test]
    fn bad_checksum_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (cf, _, _) = ChunkFiles::open(dir.path()).unwrap();
        let r = cf.allocate().unwrap();
        let h = SlotHeader {
            encoding: ENCODING_XOR,
            state: STATE_CLOSED,
            count: 1,
            bit_len: 8,
            crc: 1234,
            series: 1,
            mint: 0,
            maxt: 0,
        };
        cf.write_header(r, &h);
        drop(cf);
        let (_, found, problems) = ChunkFiles::open(dir.path()).unwrap();
        assert!(found.is_empty());
        assert_eq!(problems.len(), 1);
    }
}
