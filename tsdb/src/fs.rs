//! File-system helpers. This module holds the crate's `unsafe` code:
//! memory maps, a cache prefetch hint for walking them, and the capacity
//! of a volume. The one exception are the calls of [`SlotMap::read`] and
//! [`SlotMap::write`] in `chunks/`, which say there why no other thread
//! touches the same bytes.

#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapRaw};

/// Asks the CPU to start loading the cache line holding `r`, so that a
/// loop over many scattered items (a scrape's series, say) can overlap
/// their memory latency. Only a hint: it changes no state.
#[inline]
pub(crate) fn prefetch<T>(r: &T) {
    prefetch_addr(r as *const T as usize);
}

/// Like [`prefetch`], for an address that may no longer be mapped (a
/// prefetch of it is dropped, never a fault).
#[inline]
pub(crate) fn prefetch_addr(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program,
    // whatever the address
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Maps a whole file read-only. An empty file maps to an empty slice.
pub(crate) struct ReadMap {
    map: Option<Mmap>,
}

impl ReadMap {
    pub(crate) fn open(file: &File) -> io::Result<ReadMap> {
        if file.metadata()?.len() == 0 {
            return Ok(ReadMap { map: None });
        }
        // SAFETY: the files we map are written only by this process, and
        // only appended to (the mapped prefix never changes) while mapped;
        // another process modifying them is excluded by the directory lock.
        let map = unsafe { Mmap::map(file)? };
        Ok(ReadMap { map: Some(map) })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// A fixed-size file mapped read-write, written and read in place at byte
/// offsets. Nothing here keeps two threads off the same bytes: that is up
/// to the callers of [`SlotMap::read`] and [`SlotMap::write`] (each chunk
/// slot is owned by one series, under its lock; a log record is written
/// once, before anyone holds its reference).
pub(crate) struct SlotMap {
    map: MmapRaw,
    len: usize,
}

impl SlotMap {
    /// Opens (creating if needed) a file of exactly `len` bytes and maps it.
    /// New files are sparse: disk space is taken only as slots are written.
    pub(crate) fn open(path: &Path, len: usize) -> io::Result<SlotMap> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        if file.metadata()?.len() != len as u64 {
            file.set_len(len as u64)?;
        }
        let map = MmapRaw::map_raw(&file)?;
        Ok(SlotMap { map, len })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The memory address of byte `off`, for [`prefetch_addr`] only.
    pub(crate) fn addr(&self, off: usize) -> usize {
        self.map.as_ptr() as usize + off
    }

    /// Copies `out.len()` bytes at `off` into `out`. Panics if the range
    /// runs past the end of the map.
    ///
    /// # Safety
    ///
    /// No other thread may write any of the bytes `off..off + out.len()`
    /// while this runs (a write racing with the copy is a data race on the
    /// mapped memory).
    pub(crate) unsafe fn read(&self, off: usize, out: &mut [u8]) {
        assert!(
            off + out.len() <= self.len,
            "read past the end of a slot map"
        );
        // SAFETY: the range is inside the mapping (checked above); the
        // mapping lives as long as self; no writer of the range runs
        // meanwhile (this function's contract).
        unsafe {
            std::ptr::copy_nonoverlapping(self.map.as_ptr().add(off), out.as_mut_ptr(), out.len());
        }
    }

    /// Copies `data` to `off`. Panics if the range runs past the end of
    /// the map.
    ///
    /// # Safety
    ///
    /// No other thread may read or write any of the bytes
    /// `off..off + data.len()` while this runs.
    pub(crate) unsafe fn write(&self, off: usize, data: &[u8]) {
        assert!(
            off + data.len() <= self.len,
            "write past the end of a slot map"
        );
        // SAFETY: as for `read`, no other access to the range runs
        // meanwhile; the mapping is writable (MmapRaw over a file opened
        // read-write).
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.map.as_mut_ptr().add(off),
                data.len(),
            );
        }
    }

    /// Schedules dirty pages to be written to disk.
    pub(crate) fn flush_async(&self) -> io::Result<()> {
        self.map.flush_async()
    }

    /// Writes dirty pages to disk and waits.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

/// Writes zeros from byte `from` to `to`, so the file's blocks are
/// allocated now. A mapped page of a sparse file that cannot get a block
/// (disk full) faults the process (SIGBUS); allocated blocks cannot.
pub(crate) fn fill_zeros(file: &mut File, from: u64, to: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    file.seek(SeekFrom::Start(from))?;
    let mut left = to.saturating_sub(from);
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// The numbers of the files in `dir` (created if missing) named by a
/// number, sorted; files named `*.tmp` (left by a creation the process did
/// not finish) are deleted.
pub(crate) fn numbered_files(dir: &Path) -> io::Result<Vec<u64>> {
    std::fs::create_dir_all(dir)?;
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        } else if let Ok(n) = name.parse::<u64>() {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Renames a damaged file or folder to `<name>.damaged` (or
/// `<name>.damaged.1`, `.2`, … when that is taken, so that an earlier one
/// is kept) and returns the new path.
pub(crate) fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push(".damaged");
    let first = PathBuf::from(name);
    let mut aside = first.clone();
    let mut k = 0;
    while aside.exists() {
        k += 1;
        let mut name = first.as_os_str().to_owned();
        name.push(format!(".{k}"));
        aside = PathBuf::from(name);
    }
    std::fs::rename(path, &aside)?;
    Ok(aside)
}

/// Fsyncs a directory so that created or removed entries are durable.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// The capacity in bytes of the file system holding `dir`.
pub fn volume_capacity(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain old data; all zeros is a valid value
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` is writable and sized for
    // the call
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_blocks as u64 * st.f_frsize as u64)
}
