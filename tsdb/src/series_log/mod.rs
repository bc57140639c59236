//! The series log: an append-only file of series records (reference and
//! label set), each framed with a length and a CRC32C; label strings met
//! before in the file are written as symbol numbers. Read through a memory
//! map at open; a torn tail is cut at the last valid record. Once it holds
//! as many records of forgotten series as of live ones (or it is in the
//! first layout), it is rewritten beside itself without them and renamed
//! into place. Layout in `docs/format/series.md`.

mod record;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::encoding::{crc32c, Encoder};
use crate::fs::ReadMap;
use crate::labels::Labels;
use crate::packed::PackedLabels;
use crate::Error;
use record::{SymbolTable, Symbols, KIND_SERIES, KIND_SYMBOLS};

const MAGIC: &[u8; 4] = b"FLSE";
/// Version 2 added the second record layout (symbols); version 1 logs are
/// still read and appended to, until their first rewrite.
const VERSION: u8 = 2;
const FILE_HEADER: usize = 8;

/// Largest label set a series may have, by [`record_size_bound`]: its
/// records then stay well within what a reader accepts.
const MAX_LABELS_SIZE: usize = record::MAX_RECORD / 2;

/// A bound on the bytes a label set takes in a record of either layout:
/// its strings, and room for their lengths.
fn record_size_bound(labels: &Labels) -> usize {
    labels
        .iter()
        .map(|l| l.name.len() + l.value.len() + 10)
        .sum::<usize>()
        + 32
}

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
    /// The file's layout version.
    version: u8,
    /// Valid series records in the file (read at open, or appended since).
    records: usize,
    symbols: Symbols,
    buf: Vec<u8>,
}

/// A new log being written beside the current one (see
/// [`SeriesLog::begin_rewrite`]). Dropped unfinished, its file is removed.
pub(crate) struct Rewrite {
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    records: usize,
    symbols: Symbols,
    buf: Vec<u8>,
    /// Renamed into place: nothing to remove.
    placed: bool,
}

/// A first-layout record, appended to a version 1 log until its rewrite.
fn encode_v1(id: u64, labels: &Labels) -> Vec<u8> {
    let mut body = Encoder::default();
    body.u64(id);
    body.u16(labels.len() as u16);
    for l in labels {
        body.bytes16(l.name.as_bytes());
        body.bytes32(l.value.as_bytes());
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
    /// Adds one series; references must increase from call to call.
    pub(crate) fn add<'a>(
        &mut self,
        id: u64,
        labels: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<(), Error> {
        self.buf.clear();
        self.symbols.encode(id, labels, &mut self.buf);
        let out = self.out.as_mut().expect("an unfinished rewrite");
        out.write_all(&self.buf)
            .map_err(|e| Error::io(&self.tmp, e))?;
        self.records += 1;
        Ok(())
    }

    /// Makes what was added so far durable, so that the sync in
    /// [`SeriesLog::replace`] (under the creation lock) has little left
    /// to write.
    pub(crate) fn sync(&mut self) -> Result<(), Error> {
        let out = self.out.as_mut().expect("an unfinished rewrite");
        out.flush().map_err(|e| Error::io(&self.tmp, e))?;
        out.get_ref()
            .sync_data()
            .map_err(|e| Error::io(&self.tmp, e))
    }
}

impl Drop for Rewrite {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl SeriesLog {
    /// Opens or creates the log, handing every valid record to `sink` in
    /// file order (as it is read, so the caller can work alongside). A
    /// new log is created whole (header written to a temporary file, then
    /// renamed), so an existing log shorter than its header is damage, not
    /// a crash artifact: that is an error. A damaged record in the middle is
    /// skipped (reading resumes at the next valid record); only a damaged
    /// tail is cut.
    pub(crate) fn open(
        path: &Path,
        sink: &mut dyn FnMut(u64, PackedLabels),
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
        let version = bytes[4];
        if &bytes[..4] != MAGIC || !(1..=VERSION).contains(&version) {
            return Err(Error::Corruption {
                path: path.to_path_buf(),
                offset: 0,
                detail: "not a series log (bad magic or version)".into(),
            });
        }
        // a record whole and with a matching CRC at `pos`: kind, body, length
        let frame_at = |pos: usize| -> Option<(u8, &[u8], usize)> {
            if version == 1 {
                record::frame_v1(bytes, pos).map(|(body, n)| (KIND_SERIES, body, n))
            } else {
                record::frame_v2(bytes, pos)
            }
        };
        let mut symbols = SymbolTable::for_file(bytes.len());
        let mut pos = FILE_HEADER;
        let mut valid_end = pos;
        let mut skipped = 0u64;
        let mut records = 0;
        while pos < bytes.len() {
            match frame_at(pos) {
                Some((kind, body, len)) => {
                    let taken = match kind {
                        KIND_SYMBOLS => symbols.define(body).is_some(),
                        _ => {
                            let series = if version == 1 {
                                record::decode_v1(body)
                            } else {
                                symbols.series(body)
                            };
                            series.map(|(id, labels)| sink(id, labels)).is_some()
                        }
                    };
                    if !taken {
                        // whole, but not to be read (a symbol it names
                        // was damaged): skipped, the rest is read
                        skipped += len as u64;
                    } else if kind == KIND_SERIES {
                        records += 1;
                    }
                    pos += len;
                    valid_end = pos;
                }
                None => {
                    // resynchronise: the next offset where a valid record starts
                    match (pos + 1..bytes.len()).find(|&p| frame_at(p).is_some()) {
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
        let next_symbol = symbols.next_number();
        drop(symbols);
        drop(map);
        if cut_bytes > 0 {
            file.set_len(valid_end as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok((
            SeriesLog {
                path: path.to_path_buf(),
                file,
                version,
                records,
                symbols: Symbols::starting_at(next_symbol),
                buf: Vec::new(),
            },
            Loaded {
                cut_bytes,
                skipped_bytes: skipped,
            },
        ))
    }

    /// Appends one series (buffered by the OS; see [`Self::sync`]).
    /// A label set too large for a record that a reader accepts is
    /// refused.
    pub(crate) fn append(&mut self, id: u64, labels: &Labels) -> Result<(), Error> {
        let size = record_size_bound(labels);
        if size > MAX_LABELS_SIZE {
            return Err(Error::InvalidLabels(format!(
                "label set of {size} bytes, more than the {MAX_LABELS_SIZE} a series may take"
            )));
        }
        self.buf.clear();
        if self.version == 1 {
            self.buf.extend_from_slice(&encode_v1(id, labels));
        } else {
            let pairs = labels.iter().map(|l| (l.name.as_str(), l.value.as_str()));
            self.symbols.encode(id, pairs, &mut self.buf);
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.records += 1;
        Ok(())
    }

    /// Valid series records in the file, live or not.
    pub(crate) fn records(&self) -> usize {
        self.records
    }

    /// Whether the file is in an older layout (rewriting it brings it to
    /// the current one).
    pub(crate) fn is_old(&self) -> bool {
        self.version < VERSION
    }

    /// Starts a new log beside this one (`series.tmp`, its header
    /// written). The caller adds the series to keep with [`Rewrite::add`]
    /// (no lock needed: this log takes appends meanwhile), then, holding
    /// off creation, those created since, and hands it to
    /// [`Self::replace`].
    pub(crate) fn begin_rewrite(&self) -> Result<Rewrite, Error> {
        let tmp = self.path.with_extension("tmp");
        let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        file.write_all(&file_header())
            .map_err(|e| Error::io(&tmp, e))?;
        Ok(Rewrite {
            tmp,
            out: Some(BufWriter::with_capacity(1 << 16, file)),
            records: 0,
            symbols: Symbols::starting_at(0),
            buf: Vec::new(),
            placed: false,
        })
    }

    /// Finishes a rewrite: makes it durable and renames it over this log,
    /// which then appends to it. Returns the sizes before and after. On an
    /// error before the rename this log is left as it was.
    pub(crate) fn replace(&mut self, mut rw: Rewrite) -> Result<(u64, u64), Error> {
        let before = self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, e))?
            .len();
        let tmp = rw.tmp.clone();
        let tmp_io = |e| Error::io(&tmp, e);
        let out = rw.out.take().expect("a rewrite is finished once");
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
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        rw.placed = true;
        self.file = appender;
        self.version = VERSION;
        self.records = rw.records;
        self.symbols = std::mem::replace(&mut rw.symbols, Symbols::starting_at(0));
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

/// For the fuzz targets: decodes `bytes` as a record body of each layout
/// (a first-layout series, a symbols record, then a series naming them).
pub(crate) fn fuzz_bodies(bytes: &[u8]) {
    let _ = record::decode_v1(bytes);
    let mut symbols = SymbolTable::for_file(bytes.len());
    let _ = symbols.define(bytes);
    let _ = symbols.series(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_numbers_are_bounded_by_the_file() {
        // found by fuzzing: a symbols record numbered from near 2^32 sized
        // the table to that many entries
        let input: &[u8] =
            b"\xff\xff\xffdybR\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\
            \xff:::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::\
            \xff\xff\xff\xff\xff\xff\xff\x01'\x01\x03\x11__09\x9cS\x01\x0f\x04\x03\x001\
            \x02\x04\x0fh4z9090\x06\x08!\xa2\x81\x00\x0f\xff\xf7\x9a\x01\x0f\x05l08\x04\
            \x0fh5:90\xb490\x06\x08\x07\x223\xb4";
        fuzz_bodies(input);
        // first 2^30 - 2, one symbol "a": within the old bound, not the file's
        let body = [0xfe, 0xff, 0xff, 0xff, 0x03, 0x01, 0x01, b'a'];
        assert!(SymbolTable::for_file(1 << 20).define(&body).is_none());
        let body = [0x00, 0x01, 0x01, b'a'];
        assert!(SymbolTable::for_file(4).define(&body).is_some());
    }

    /// The log, what it loaded, and its series.
    type Opened = (SeriesLog, Loaded, Vec<(u64, PackedLabels)>);

    /// Opens the log, collecting its records.
    fn open(path: &Path) -> Result<Opened, Error> {
        let mut series = Vec::new();
        let (log, loaded) = SeriesLog::open(path, &mut |id, l| series.push((id, l)))?;
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
    fn rewrite_keeps_what_it_is_given() {
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
        let mut rw = log.begin_rewrite().unwrap();
        for i in [2u64, 7] {
            let packed = PackedLabels::new(&l(i));
            rw.add(i, packed.iter()).unwrap();
        }
        // appended while the rewrite is written, then added to it
        log.append(11, &l(11)).unwrap();
        log.append(12, &l(12)).unwrap();
        for i in [11u64, 12] {
            let packed = PackedLabels::new(&l(i));
            rw.add(i, packed.iter()).unwrap();
        }
        let (before, after) = log.replace(rw).unwrap();
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

    /// A new log in a temporary folder holding series 0..n, `{n="i"}`.
    fn numbered_log(n: u64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series");
        let (mut log, _, _) = open(&path).unwrap();
        for i in 0..n {
            log.append(i, &Labels::from_pairs(&[("n", i.to_string())]))
                .unwrap();
        }
        (dir, path)
    }

    /// Where each record starts in a second-layout log, with its kind.
    fn frames(bytes: &[u8]) -> Vec<(usize, u8)> {
        let mut out = Vec::new();
        let mut pos = FILE_HEADER;
        while let Some((kind, _, len)) = record::frame_v2(bytes, pos) {
            out.push((pos, kind));
            pos += len;
        }
        assert_eq!(pos, bytes.len(), "every record whole");
        out
    }

    #[test]
    fn a_version_1_log_is_read_appended_to_and_rewritten_into_version_2() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/series_v1/series");
        std::fs::copy(&fixture, &path).unwrap();
        let mut want: Vec<(u64, PackedLabels)> = [
            Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
            Labels::from_pairs(&[
                ("__name__", "up"),
                ("instance", "h\u{fc}st-\u{2713}:9100"),
                ("job", "b"),
            ]),
            Labels::from_pairs(&[("__name__", "m"), ("v", "say \"hi\"\nand\\bye")]),
            Labels::from_pairs(&[("__name__", "m"), ("v", &"x".repeat(300))]),
            Labels::from_pairs(
                &std::iter::once(("__name__".to_string(), "wide".to_string()))
                    .chain((0..20).map(|i| (format!("l{i:02}"), format!("v{i}"))))
                    .collect::<Vec<_>>(),
            ),
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, PackedLabels::new(l)))
        .collect();
        let (mut log, loaded, series) = open(&path).unwrap();
        assert_eq!(series, want);
        assert_eq!((loaded.cut_bytes, loaded.skipped_bytes), (0, 0));
        assert!(log.is_old());
        // appended in its own layout
        let six = Labels::from_pairs(&[("__name__", "up"), ("job", "c")]);
        log.append(6, &six).unwrap();
        want.push((6, PackedLabels::new(&six)));
        drop(log);
        let old_len = std::fs::metadata(&path).unwrap().len();
        let (mut log, _, series) = open(&path).unwrap();
        assert_eq!(series, want);
        assert_eq!(std::fs::read(&path).unwrap()[4], 1);
        let mut rw = log.begin_rewrite().unwrap();
        for (id, l) in &want {
            rw.add(*id, l.iter()).unwrap();
        }
        log.replace(rw).unwrap();
        assert!(!log.is_old());
        let seven = Labels::from_pairs(&[("__name__", "up"), ("job", "d")]);
        log.append(7, &seven).unwrap();
        want.push((7, PackedLabels::new(&seven)));
        drop(log);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes[4], VERSION);
        assert!((bytes.len() as u64) < old_len);
        frames(&bytes);
        let (_, _, series) = open(&path).unwrap();
        assert_eq!(series, want);
    }

    #[test]
    fn repeated_strings_become_symbols_and_a_damaged_definition_costs_one_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series");
        let l = |i: usize| {
            Labels::from_pairs(&[
                ("__name__", "http_requests_total".to_string()),
                ("code", ["200", "404", "500"][i % 3].to_string()),
                ("instance", format!("host-{}:9100", i / 50)),
                ("job", "api".to_string()),
                ("unique", format!("u{i}")),
            ])
        };
        let n = 2000;
        {
            let (mut log, _, _) = open(&path).unwrap();
            for i in 0..n {
                log.append(i as u64 + 1, &l(i)).unwrap();
            }
        }
        let bytes = std::fs::read(&path).unwrap();
        let full: usize = (0..n).map(|i| encode_v1(0, &l(i)).len()).sum();
        assert!(
            bytes.len() * 3 < full,
            "{} bytes, {} in the first layout",
            bytes.len(),
            full
        );
        let (_, _, series) = open(&path).unwrap();
        let want: Vec<(u64, PackedLabels)> = (0..n)
            .map(|i| (i as u64 + 1, PackedLabels::new(&l(i))))
            .collect();
        assert_eq!(series, want);
        // damage the first symbols record after the 1000th series record
        let all = frames(&bytes);
        let series_at: Vec<usize> = all
            .iter()
            .filter(|f| f.1 == KIND_SERIES)
            .map(|f| f.0)
            .collect();
        let (at, _) = *all
            .iter()
            .find(|f| f.1 == KIND_SYMBOLS && f.0 > series_at[1000])
            .unwrap();
        let mut damaged = bytes.clone();
        damaged[at + 4] ^= 0x55;
        std::fs::write(&path, &damaged).unwrap();
        let (_, loaded, series) = open(&path).unwrap();
        assert!(loaded.skipped_bytes > 0);
        assert_eq!(loaded.cut_bytes, 0);
        let lost = n - series.len();
        assert!(
            (1..=record::SYMBOL_EPOCH).contains(&lost),
            "{lost} series lost"
        );
        // what is read is exact, and everything outside that epoch is read
        let first_lost = want.iter().position(|w| !series.contains(w)).unwrap();
        assert!(first_lost >= 1000, "{first_lost}");
        for (i, w) in want.iter().enumerate() {
            if i < first_lost || i >= first_lost + record::SYMBOL_EPOCH {
                assert!(series.contains(w), "series {i}");
            }
        }
    }

    #[test]
    fn damage_in_the_middle_is_skipped_and_empty_log_refused() {
        let (_dir, path) = numbered_log(5);
        let mut bytes = std::fs::read(&path).unwrap();
        // damage the second series record's body
        let second = frames(&bytes)
            .into_iter()
            .filter(|f| f.1 == KIND_SERIES)
            .nth(1)
            .unwrap()
            .0;
        bytes[second + 3] ^= 0xff;
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
        let (_dir, path) = numbered_log(3);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, _, series) = open(&path).unwrap();
        assert_eq!(series.len(), 2);
    }
}
