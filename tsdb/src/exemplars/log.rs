//! The exemplar log: segments of one record per commit's stored
//! exemplars, read back at open; segments whose exemplars have all been
//! overwritten in the store are deleted. Format: `docs/format/exemplars.md`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::Exemplar;
use crate::encoding::{crc32c, put_uvarint, put_varint, Cursor};
use crate::labels::{Label, Labels};
use crate::Error;

const MAGIC: &[u8; 4] = b"FLEX";
const VERSION: u8 = 1;
const HEADER: usize = 8;
/// A new segment starts once the current one passes this.
pub(crate) const SEGMENT_BYTES: u64 = 1 << 20;

pub(crate) struct ExemplarLog {
    dir: PathBuf,
    /// (number, exemplars in it), oldest first; the last is written to.
    segments: VecDeque<(u32, u64)>,
    file: File,
    size: u64,
    total: u64,
    capacity: u64,
    segment_bytes: u64,
}

fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("{n:08}"))
}

fn create_segment(dir: &Path, n: u32) -> Result<File, Error> {
    let path = segment_path(dir, n);
    let mut f = File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    f.write_all(&h).map_err(|e| Error::io(&path, e))?;
    Ok(f)
}

/// Appends one exemplar's encoding.
fn encode(buf: &mut Vec<u8>, series: u64, e: &Exemplar) {
    put_uvarint(buf, series);
    put_varint(buf, e.ts);
    buf.push(u8::from(e.has_ts));
    buf.extend_from_slice(&e.value.to_bits().to_le_bytes());
    put_uvarint(buf, e.labels.len() as u64);
    for l in e.labels.iter() {
        for s in [&l.name, &l.value] {
            put_uvarint(buf, s.len() as u64);
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

/// A record's payload, or `None` if it does not decode.
fn decode(payload: &[u8], out: &mut Vec<(u64, Exemplar)>) -> Option<()> {
    let mut c = Cursor::at(payload, 0);
    let count = c.uvarint()?;
    for _ in 0..count {
        let series = c.uvarint()?;
        let ts = c.varint()?;
        let flags = c.bytes(1)?[0];
        let value = f64::from_bits(u64::from_le_bytes(c.bytes(8)?.try_into().ok()?));
        let n = c.uvarint()?;
        let mut labels = Vec::new();
        for _ in 0..n {
            let mut s = [String::new(), String::new()];
            for part in &mut s {
                let len = usize::try_from(c.uvarint()?).ok()?;
                *part = String::from_utf8(c.bytes(len)?.to_vec()).ok()?;
            }
            let [name, value] = s;
            labels.push(Label::new(name, value));
        }
        out.push((
            series,
            Exemplar {
                labels: Labels::new(labels),
                value,
                ts,
                has_ts: flags & 1 != 0,
            },
        ));
    }
    (c.pos() == payload.len()).then_some(())
}

/// Reads a segment's records into `out`; returns the length of its good
/// part (`None`: not a segment of this format).
fn read_segment(bytes: &[u8], out: &mut Vec<(u64, Exemplar)>) -> Option<usize> {
    if bytes.len() < HEADER || &bytes[..4] != MAGIC || bytes[4] != VERSION {
        return None;
    }
    let mut at = HEADER;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4"));
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32c(payload) != crc {
            break;
        }
        let before = out.len();
        if decode(payload, out).is_none() {
            out.truncate(before);
            break;
        }
        at += 8 + len;
    }
    Some(at)
}

impl ExemplarLog {
    /// Opens (creating) the log in `dir` and reads back its exemplars,
    /// oldest first; a torn or damaged tail of a segment is cut.
    pub(crate) fn open(dir: &Path) -> Result<(ExemplarLog, Vec<(u64, Exemplar)>), Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut numbers: Vec<u32> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                (name.len() == 8).then(|| name.parse::<u32>().ok())?
            })
            .collect();
        numbers.sort_unstable();
        let mut records = Vec::new();
        let mut segments = VecDeque::new();
        let mut last_size = 0;
        for &n in &numbers {
            let path = segment_path(dir, n);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| Error::io(&path, e))?;
            let before = records.len();
            let good = read_segment(&bytes, &mut records);
            let good = match good {
                Some(g) => g,
                None => {
                    tracing::warn!(component = "tsdb", file = %path.display(), "Not an exemplar log segment, deleted");
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    continue;
                }
            };
            if good < bytes.len() {
                tracing::warn!(component = "tsdb", file = %path.display(), offset = good, "Exemplar log cut after its last good record");
                let f = File::options()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                f.set_len(good as u64).map_err(|e| Error::io(&path, e))?;
            }
            segments.push_back((n, (records.len() - before) as u64));
            last_size = good as u64;
        }
        let (file, size) = match segments.back() {
            Some(&(n, _)) => {
                let path = segment_path(dir, n);
                let f = File::options()
                    .append(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                (f, last_size)
            }
            None => {
                segments.push_back((1, 0));
                (create_segment(dir, 1)?, HEADER as u64)
            }
        };
        let total = segments.iter().map(|s| s.1).sum();
        let log = ExemplarLog {
            dir: dir.to_path_buf(),
            segments,
            file,
            size,
            total,
            capacity: u64::MAX,
            segment_bytes: SEGMENT_BYTES,
        };
        Ok((log, records))
    }

    /// Segments are kept while their exemplars may still be held: those
    /// after the oldest hold at least `capacity` exemplars, it goes.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity as u64;
        self.trim();
    }

    #[cfg(test)]
    pub(crate) fn set_segment_bytes(&mut self, n: u64) {
        self.segment_bytes = n;
    }

    fn trim(&mut self) {
        while self.segments.len() > 1 && self.total - self.segments[0].1 >= self.capacity {
            let (n, count) = self.segments.pop_front().expect("more than one");
            let path = segment_path(&self.dir, n);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(component = "tsdb", file = %path.display(), err = %e, "Deleting an exemplar log segment failed");
            }
            self.total -= count;
        }
    }

    /// Writes one record of exemplars.
    pub(crate) fn append(&mut self, batch: &[(u64, Exemplar)]) -> Result<(), Error> {
        let mut payload = Vec::with_capacity(batch.len() * 48);
        put_uvarint(&mut payload, batch.len() as u64);
        for (series, e) in batch {
            encode(&mut payload, *series, e);
        }
        let mut rec = Vec::with_capacity(payload.len() + 8);
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32c(&payload).to_le_bytes());
        rec.extend_from_slice(&payload);
        if self.size > HEADER as u64 && self.size + rec.len() as u64 > self.segment_bytes {
            let last = self.segments.back().expect("a segment").0;
            self.file
                .sync_data()
                .map_err(|e| Error::io(&segment_path(&self.dir, last), e))?;
            self.file = create_segment(&self.dir, last + 1)?;
            self.segments.push_back((last + 1, 0));
            self.size = HEADER as u64;
        }
        let n = self.segments.back().expect("a segment").0;
        if let Err(e) = self.file.write_all(&rec) {
            // cut what part of the record was written, so later records
            // are not lost behind it
            let _ = self.file.set_len(self.size);
            return Err(Error::io(&segment_path(&self.dir, n), e));
        }
        self.size += rec.len() as u64;
        self.segments.back_mut().expect("a segment").1 += batch.len() as u64;
        self.total += batch.len() as u64;
        self.trim();
        Ok(())
    }

    /// Makes what was written durable.
    pub(crate) fn sync(&mut self) -> Result<(), Error> {
        let n = self.segments.back().expect("a segment").0;
        self.file
            .sync_data()
            .map_err(|e| Error::io(&segment_path(&self.dir, n), e))
    }

    #[cfg(test)]
    pub(crate) fn segment_count(&self) -> usize {
        self.segments.len()
    }
}
