//! The series log: an append-only file of series records (reference and
//! label set), each framed with a length and a CRC32C. Read through a memory
//! map at open; a torn tail is cut at the last valid record. Once it holds
//! as many records of forgotten series as of live ones, it is rewritten
//! beside itself without them and renamed into place. Layout in
//! `docs/format/series.md`.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::encoding::{crc32c, Decoder, Encoder};
use crate::fs::ReadMap;
use crate::labels::Labels;
use crate::packed::PackedLabels;
use crate::Error;

const MAGIC: &[u8; 4] = b"FLSE";
const VERSION: u8 = 1;
const FILE_HEADER: usize = 8;
/// Largest record body accepted (a label set far beyond any real one).
const MAX_RECORD: usize = 1 << 20;

/// What [`SeriesLog::open`] found besides the records.
pub(crate) struct Loaded {
    /// Bytes cut from a torn or corrupt tail.
    pub cut_bytes: u64,
    /// Bytes of damaged records skipped in the middle.
    pub skipped_bytes: u64,
}

/// Appends series records.
pub(crate) struct SeriesLog {
    path: PathBuf,
    file: File,
    /// Valid records in the file (read at open, or appended since).
    records: usize,
}

/// Where a log ended when a rewrite began: records appended after it are
/// copied into the new file as they are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    len: u64,
    records: usize,
}

/// A new log being written beside the current one (see
/// [`SeriesLog::begin_rewrite`]). Dropped unfinished, its file is removed.
pub(crate) struct Rewrite {
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    records: usize,
    /// Renamed into place: nothing to remove.
    placed: bool,
}

fn encode_record<'a>(id: u64, labels: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Vec<u8> {
    let mut body = Encoder::default();
    body.u64(id);
    body.u16(labels.clone().count() as u16);
    for (name, value) in labels {
        body.bytes16(name.as_bytes());
        body.bytes32(value.as_bytes());
    }
    let mut rec = Encoder::default();
    rec.u32(body.buf.len() as u32);
    rec.u32(crc32c(&body.buf));
    rec.buf.extend_from_slice(&body.buf);
    rec.buf
}

fn file_header() -> [u8; FILE_HEADER] {
    let mut h = [0u8; FILE_HEADER];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    h
}

impl Rewrite {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let out = self.out.as_mut().expect("an unfinished rewrite");
        out.write_all(bytes).map_err(|e| Error::io(&self.tmp, e))
    }

    /// Adds one series record; references must increase from call to
    /// call, and stay below those appended to the log since the mark.
    pub(crate) fn add<'a>(
        &mut self,
        id: u64,
        labels: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<(), Error> {
        self.write(&encode_record(id, labels))?;
        self.records += 1;
        Ok(())
    }
}

impl Drop for Rewrite {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn decode_body(body: &[u8]) -> Option<(u64, PackedLabels)> {
    let mut d = Decoder::new(body);
    let id = d.u64()?;
    let n = d.u16()?;
    let mut labels: Vec<(&str, &str)> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let name = std::str::from_utf8(d.bytes16()?).ok()?;
        let value = std::str::from_utf8(d.bytes32()?).ok()?;
        labels.push((name, value));
    }
    if d.remaining() != 0 || !labels.windows(2).all(|w| w[0].0 < w[1].0) {
        return None;
    }
    Some((id, PackedLabels::from_sorted_pairs(labels.iter().copied())))
}

impl SeriesLog {
    /// Opens or creates the log, handing every valid record and its size
    /// in bytes to `sink` in file order (as it is read, so the caller can
    /// work alongside). A new log
    /// is created whole (header written to a temporary file, then renamed),
    /// so an existing log shorter than its header is damage, not a crash
    /// artifact: that is an error. A damaged record in the middle is
    /// skipped (reading resumes at the next valid record); only a damaged
    /// tail is cut.
    pub(crate) fn open(
        path: &Path,
        sink: &mut dyn FnMut(u64, PackedLabels, usize),
    ) -> Result<(SeriesLog, Loaded), Error> {
        let io = |e| Error::io(path, e);
        if path.exists() {
            // an unfinished rewrite's
            let _ = std::fs::remove_file(path.with_extension("tmp"));
        } else {
            let tmp = path.with_extension("tmp");
            let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            f.write_all(&file_header())
                .map_err(|e| Error::io(&tmp, e))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, path).map_err(io)?;
            if let Some(dir) = path.parent() {
                crate::fs::sync_dir(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < FILE_HEADER as u64 {
            return Err(Error::Corruption {
                path: path.to_path_buf(),
                offset: 0,
                detail: format!("series log is {len} bytes, shorter than its header: the series index is damaged"),
            });
        }
        let map = ReadMap::open(&file).map_err(io)?;
        let bytes = map.bytes();
        if &bytes[..4] != MAGIC || bytes[4] != VERSION {
            return Err(Error::Corruption {
                path: path.to_path_buf(),
                offset: 0,
                detail: "not a series log (bad magic or version)".into(),
            });
        }
        let record_at = |pos: usize| -> Option<((u64, PackedLabels), usize)> {
            let n = u32::from_le_bytes(bytes.get(pos..pos + 4)?.try_into().ok()?) as usize;
            let crc = u32::from_le_bytes(bytes.get(pos + 4..pos + 8)?.try_into().ok()?);
            if n > MAX_RECORD {
                return None;
            }
            let body = bytes.get(pos + 8..(pos + 8).checked_add(n)?)?;
            if !(10..=MAX_RECORD).contains(&n) || crc32c(body) != crc {
                return None;
            }
            decode_body(body).map(|r| (r, 8 + n))
        };
        let mut pos = FILE_HEADER;
        let mut valid_end = pos;
        let mut skipped = 0u64;
        let mut records = 0;
        while pos + 8 <= bytes.len() {
            match record_at(pos) {
                Some(((id, labels), len)) => {
                    sink(id, labels, len);
                    records += 1;
                    pos += len;
                    valid_end = pos;
                }
                None => {
                    // resynchronise: the next offset where a valid record starts
                    match (pos + 1..bytes.len().saturating_sub(8)).find(|&p| record_at(p).is_some())
                    {
                        Some(next) => {
                            skipped += (next - pos) as u64;
                            pos = next;
                        }
                        None => break,
                    }
                }
            }
        }
        let cut_bytes = (bytes.len() - valid_end) as u64;
        drop(map);
        if cut_bytes > 0 {
            file.set_len(valid_end as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok((
            SeriesLog {
                path: path.to_path_buf(),
                file,
                records,
            },
            Loaded {
                cut_bytes,
                skipped_bytes: skipped,
            },
        ))
    }

    /// Appends one series record (buffered by the OS; see [`Self::sync`]).
    pub(crate) fn append(&mut self, id: u64, labels: &Labels) -> Result<(), Error> {
        let pairs = labels.iter().map(|l| (l.name.as_str(), l.value.as_str()));
        self.file
            .write_all(&encode_record(id, pairs))
            .map_err(|e| Error::io(&self.path, e))?;
        self.records += 1;
        Ok(())
    }

    /// Valid records in the file, live or not.
    pub(crate) fn records(&self) -> usize {
        self.records
    }

    /// Starts a new log beside this one (`series.tmp`, its header
    /// written), and marks where this one ends. The caller adds the
    /// records to keep with [`Rewrite::add`] (no lock needed: this log
    /// takes appends meanwhile) and hands both back to [`Self::replace`].
    pub(crate) fn begin_rewrite(&self) -> Result<(Rewrite, Mark), Error> {
        let len = self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, e))?
            .len();
        let tmp = self.path.with_extension("tmp");
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut rw = Rewrite {
            tmp,
            out: Some(BufWriter::with_capacity(1 << 16, file)),
            records: 0,
            placed: false,
        };
        rw.write(&file_header())?;
        let mark = Mark {
            len,
            records: self.records,
        };
        Ok((rw, mark))
    }

    /// Finishes a rewrite: copies the records appended since `mark` into
    /// it, makes it durable, and renames it over this log, which then
    /// appends to it. Returns the sizes before and after. On an error
    /// before the rename this log is left as it was.
    pub(crate) fn replace(&mut self, mut rw: Rewrite, mark: Mark) -> Result<(u64, u64), Error> {
        let io = |e| Error::io(&self.path, e);
        let before = self.file.metadata().map_err(io)?.len();
        let mut src = File::open(&self.path).map_err(io)?;
        src.seek(SeekFrom::Start(mark.len)).map_err(io)?;
        let tmp = rw.tmp.clone();
        let tmp_io = |e| Error::io(&tmp, e);
        let mut out = rw.out.take().expect("a rewrite is finished once");
        std::io::copy(&mut src, &mut out).map_err(tmp_io)?;
        let file = out.into_inner().map_err(|e| tmp_io(e.into_error()))?;
        file.sync_all().map_err(tmp_io)?;
        let after = file.metadata().map_err(tmp_io)?.len();
        // the handle to append through, opened before the rename so that
        // it names the new file whatever happens after
        let appender = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&tmp)
            .map_err(tmp_io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        rw.placed = true;
        self.file = appender;
        self.records = rw.records + (self.records - mark.records);
        if let Some(dir) = self.path.parent() {
            crate::fs::sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        Ok((before, after))
    }

    /// Makes appended records durable.
    pub(crate) fn sync(&self) -> Result<(), Error> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens the log, collecting its records.
    fn open(path: &Path) -> Result<(SeriesLog, Loaded, Vec<(u64, PackedLabels)>), Error> {
        let mut series = Vec::new();
        let (log, loaded) = SeriesLog::open(path, &mut |id, l, _| series.push((id, l)))?;
        Ok((log, loaded, series))
    }

    #[test]
    fn append_reopen_and_cut_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series");
        let a = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs(&[("__name__", "up"), ("job", "b\n\"x\"")]);
        {
            let (mut log, _, series) = open(&path).unwrap();
            assert!(series.is_empty());
            log.append(1, &a).unwrap();
            log.append(2, &b).unwrap();
        }
        let full = std::fs::metadata(&path).unwrap().len();
        // tear the last record
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(full - 3).unwrap();
        drop(f);
        let (mut log, loaded, series) = open(&path).unwrap();
        assert_eq!(series, vec![(1, PackedLabels::new(&a))]);
        assert!(loaded.cut_bytes > 0);
        log.append(3, &b).unwrap();
        drop(log);
        let (_, loaded, series) = open(&path).unwrap();
        assert_eq!(
            series,
            vec![(1, PackedLabels::new(&a)), (3, PackedLabels::new(&b))]
        );
        assert_eq!(loaded.cut_bytes, 0);
    }

    #[test]
    fn rewrite_keeps_what_it_is_given_and_what_was_appended_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series");
        let tmp = dir.path().join("series.tmp");
        let l = |i: u64| Labels::from_pairs(&[("__name__", "m"), ("i", &i.to_string())]);
        let (mut log, _, _) = open(&path).unwrap();
        for i in 1..=10 {
            log.append(i, &l(i)).unwrap();
        }
        assert_eq!(log.records(), 10);
        // an unfinished rewrite leaves nothing behind
        drop(log.begin_rewrite().unwrap());
        assert!(!tmp.exists());
        let (mut rw, mark) = log.begin_rewrite().unwrap();
        for i in [2u64, 7] {
            let packed = PackedLabels::new(&l(i));
            rw.add(i, packed.iter()).unwrap();
        }
        // appended while the rewrite is written
        log.append(11, &l(11)).unwrap();
        log.append(12, &l(12)).unwrap();
        let (before, after) = log.replace(rw, mark).unwrap();
        assert!(after < before, "{after} < {before}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), after);
        assert!(!tmp.exists());
        assert_eq!(log.records(), 4);
        // appends go to the new file
        log.append(13, &l(13)).unwrap();
        assert_eq!(log.records(), 5);
        drop(log);
        // a rewrite cut short by a crash leaves its file: gone at open
        std::fs::write(&tmp, b"FLSE").unwrap();
        let (_, loaded, series) = open(&path).unwrap();
        assert!(!tmp.exists());
        let want: Vec<(u64, PackedLabels)> = [2u64, 7, 11, 12, 13]
            .iter()
            .map(|&i| (i, PackedLabels::new(&l(i))))
            .collect();
        assert_eq!(series, want);
        assert_eq!((loaded.cut_bytes, loaded.skipped_bytes), (0, 0));
    }

    #[test]
    fn damage_in_the_middle_is_skipped_and_empty_log_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series");
        {
            let (mut log, _, _) = open(&path).unwrap();
            for i in 0..5 {
                log.append(i, &Labels::from_pairs(&[("n", i.to_string())]))
                    .unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        // damage the second record's body
        bytes[FILE_HEADER + 30] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, loaded, series) = open(&path).unwrap();
        let ids: Vec<u64> = series.iter().map(|s| s.0).collect();
        assert_eq!(ids, vec![0, 2, 3, 4], "records after the damage are kept");
        assert!(loaded.skipped_bytes > 0);
        assert_eq!(loaded.cut_bytes, 0);
        assert_eq!(
            std::fs::read(&path).unwrap().len(),
            bytes.len(),
            "nothing cut"
        );
        // an emptied log is damage: refused, not silently recreated
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(open(&path), Err(Error::Corruption { .. })));
    }

    #[test]
    fn flipped_byte_stops_at_bad_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series");
        {
            let (mut log, _, _) = open(&path).unwrap();
            for i in 0..3 {
                log.append(i, &Labels::from_pairs(&[("n", i.to_string())]))
                    .unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, _, series) = open(&path).unwrap();
        assert_eq!(series.len(), 2);
    }
}
