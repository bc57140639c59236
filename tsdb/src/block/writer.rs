//! Writing a block: each series' chunks re-encoded (see `recode`; a chunk
//! like one of the last few series' may be stored against it, see
//! `against`) and
//! streamed to `chunks` as series arrive, the index
//! built from the series' labels and chunk positions kept in memory, then
//! `meta.json` (and the native histograms' `histograms` file, see
//! `histograms`); all in `<id>.tmp/`, fsynced, then renamed into place.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::against::{against_equal, InfBuckets, Window};
use super::format::{
    encode_toc, file_header, put_uvarint, put_varint, SectionRef, CHUNKS_FILE, CHUNKS_MAGIC,
    CHUNKS_VERSION, INDEX_FILE, INDEX_MAGIC, INDEX_VERSION, META_FILE, NUM_SECTIONS,
};
use super::id::new_block_id;
use super::recode::{encode_samples, samples_of};
use super::{BlockMeta, ChunkData};
use crate::chunkenc::{
    chunk_exponent, mantissas, ENCODING_DELTA, ENCODING_DELTA2, ENCODING_DELTA_REF, ENCODING_XOR,
};
use crate::encoding::crc32c;
use crate::fs::sync_dir;
use crate::labels::{Label, Labels};
use crate::Error;

/// A series as the index needs it: labels and where its chunks went.
struct SeriesEntry {
    labels: Vec<Label>,
    /// (mint, maxt, offset in the chunks file), sorted by mint.
    chunks: Vec<(i64, i64, u64)>,
}

/// Writes a block from series given in strictly increasing label order and
/// returns its meta. Series with no chunks are skipped; each series' chunks
/// are stored sorted by `mint`. The chunks should lie within
/// `[min_time, max_time)` (not checked; the meta records the given range).
/// An empty `sources` means a level-1 block: its sources are its own id.
///
/// The block is written to `<dir>/<id>.tmp/` and renamed to `<dir>/<id>/`
/// once every file and the folder are fsynced, so a crash leaves either no
/// block or a complete one (plus possibly a `.tmp` folder, see
/// [`super::remove_tmp_blocks`]). On error the `.tmp` folder is removed.
pub(crate) fn write_block(
    dir: &Path,
    min_time: i64,
    max_time: i64,
    series: impl IntoIterator<Item = (Labels, Vec<ChunkData>)>,
    level: u32,
    sources: Vec<String>,
) -> Result<BlockMeta, Error> {
    write_block_with(dir, min_time, max_time, series, &[], level, sources)
}

/// [`write_block`] with native histogram series too (strictly increasing
/// labels, each with its chunks in time order), written to the block's
/// `histograms` file when there are any.
pub(crate) fn write_block_with(
    dir: &Path,
    min_time: i64,
    max_time: i64,
    series: impl IntoIterator<Item = (Labels, Vec<ChunkData>)>,
    hist: &[(Labels, Vec<crate::histstore::HistChunk>)],
    level: u32,
    sources: Vec<String>,
) -> Result<BlockMeta, Error> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let id = new_block_id();
    let tmp = dir.join(format!("{id}.tmp"));
    let dst = dir.join(&id);
    fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut meta = BlockMeta {
        sources: if sources.is_empty() {
            vec![id.clone()]
        } else {
            sources
        },
        id,
        min_time,
        max_time,
        num_series: 0,
        num_chunks: 0,
        num_samples: 0,
        hist: Default::default(),
        level,
    };
    let res = write_files(&tmp, series, hist, &mut meta)
        .and_then(|()| sync_dir(&tmp).map_err(|e| Error::io(&tmp, e)))
        .and_then(|()| fs::rename(&tmp, &dst).map_err(|e| Error::io(&tmp, e)));
    if let Err(e) = res {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(meta)
}

/// Writes `chunks`, `index` and `meta.json` into `tmp`, each fsynced.
fn write_files(
    tmp: &Path,
    series: impl IntoIterator<Item = (Labels, Vec<ChunkData>)>,
    hist: &[(Labels, Vec<crate::histstore::HistChunk>)],
    meta: &mut BlockMeta,
) -> Result<(), Error> {
    if hist.iter().any(|(_, c)| !c.is_empty()) {
        let (bytes, stats) = super::histograms::encode(hist)?;
        let mut hw = CountingWriter::create(&tmp.join(super::histograms::HIST_FILE))?;
        hw.write(&bytes)?;
        hw.finish()?;
        meta.hist = stats;
    }
    let chunks_path = tmp.join(CHUNKS_FILE);
    let mut cw = CountingWriter::create(&chunks_path)?;
    cw.write(&file_header(CHUNKS_MAGIC, CHUNKS_VERSION))?;
    let mut entries: Vec<SeriesEntry> = Vec::new();
    let mut prev: Option<Labels> = None;
    let mut rec = Vec::new();
    let mut window = Window::default();
    let mut inf = InfBuckets::default();
    for (labels, mut chunks) in series {
        if let Some(p) = &prev {
            if *p >= labels {
                return Err(Error::InvalidLabels(format!(
                    "block series out of order: {labels} after {p}"
                )));
            }
        }
        prev = Some(labels.clone());
        if chunks.is_empty() {
            continue;
        }
        chunks.sort_by_key(|c| c.mint);
        for c in &chunks {
            let bad = |what: &str| {
                Error::io(
                    &chunks_path,
                    io::Error::new(io::ErrorKind::InvalidInput, format!("{labels}: {what}")),
                )
            };
            if ![ENCODING_XOR, ENCODING_DELTA, ENCODING_DELTA2].contains(&c.encoding) {
                return Err(bad("unknown chunk encoding"));
            }
            if c.data.len() < (c.bit_len as usize).div_ceil(8) {
                return Err(bad("chunk data shorter than its bit length"));
            }
            if c.mint > c.maxt {
                return Err(bad("chunk mint after maxt"));
            }
        }
        let samples = samples_of(&chunks);
        let chunks = encode_samples(&samples);
        if chunks.is_empty() {
            continue;
        }
        let mut metas = Vec::with_capacity(chunks.len());
        let mut at = 0;
        for c in &chunks {
            // the chunks cover the samples in order
            let part = &samples[at..at + c.count as usize];
            at += part.len();
            let n = (c.bit_len as usize).div_ceil(8);
            let delta_exp = (c.encoding == ENCODING_DELTA2)
                .then(|| chunk_exponent(&c.data))
                .flatten();
            // its mantissas, computed once for both uses below
            let own = delta_exp.and_then(|e| mantissas(part, e).map(|ms| (e, ms)));
            // a histogram's `_count` against its `+Inf` bucket when equal,
            // else against one of the last few series' chunks; a `+Inf`
            // bucket stands alone, for its `_count` and its other buckets
            let mut against = None;
            if delta_exp.is_some() && !InfBuckets::is_inf_bucket(&labels) {
                for at in inf.candidates(&labels, c.mint, c.count) {
                    if let Some(base) = cw.delta_data_at(at)? {
                        against = against_equal(cw.pos, part, at, &base);
                    }
                    if against.is_some() {
                        break;
                    }
                }
                if against.is_none() {
                    let own = own.as_ref().map(|(e, ms)| (*e, ms.as_slice()));
                    against = window.against(cw.pos, part, n, own);
                }
            }
            let (encoding, bit_len, data) = match &against {
                Some(d) => (ENCODING_DELTA_REF, (d.len() * 8) as u16, d.as_slice()),
                None => (c.encoding, c.bit_len, &c.data[..n]),
            };
            rec.clear();
            rec.push(encoding);
            rec.extend_from_slice(&c.count.to_le_bytes());
            rec.extend_from_slice(&bit_len.to_le_bytes());
            rec.extend_from_slice(data);
            let crc = crc32c(&rec);
            rec.extend_from_slice(&crc.to_le_bytes());
            if against.is_none() && delta_exp.is_some() {
                if let Some((e, ms)) = own {
                    window.remember(cw.pos, part, e, ms);
                }
                inf.remember(&labels, cw.pos, c.mint, c.count);
            }
            metas.push((c.mint, c.maxt, cw.pos));
            cw.write(&rec)?;
            meta.num_chunks += 1;
            meta.num_samples += u64::from(c.count);
        }
        window.end_series();
        entries.push(SeriesEntry {
            labels: labels.into_vec(),
            chunks: metas,
        });
    }
    meta.num_series = entries.len() as u64;
    if entries.len() > u32::MAX as usize {
        return Err(Error::InvalidLabels("too many series for one block".into()));
    }
    cw.finish()?;
    write_index(&tmp.join(INDEX_FILE), &entries)?;
    let meta_path = tmp.join(META_FILE);
    let mut mw = CountingWriter::create(&meta_path)?;
    mw.write(meta.to_json().as_bytes())?;
    mw.finish()
}

/// Writes the index file for `series` (in label order).
fn write_index(path: &Path, series: &[SeriesEntry]) -> Result<(), Error> {
    let too_big = |what: &str| Error::InvalidLabels(format!("block index too large: {what}"));
    // symbols: every name and value, sorted; a symbol's ref is its position
    let mut set: BTreeSet<&str> = BTreeSet::new();
    for s in series {
        for l in &s.labels {
            set.insert(&l.name);
            set.insert(&l.value);
        }
    }
    let symbols: Vec<&str> = set.into_iter().collect();
    let refs: HashMap<&str, u32> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u32))
        .collect();
    let sym = |s: &str| refs.get(s).copied().unwrap_or(0);

    let mut w = CountingWriter::create(path)?;
    w.write(&file_header(INDEX_MAGIC, INDEX_VERSION))?;
    let mut toc = [SectionRef::default(); NUM_SECTIONS];

    // symbols: count u32, offsets u32 × count (relative to the section), strings
    w.begin();
    let mut strings = Vec::new();
    let mut head = Vec::with_capacity(4 + 4 * symbols.len());
    head.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    let base = 4 + 4 * symbols.len() as u64;
    for s in &symbols {
        let off = u32::try_from(base + strings.len() as u64).map_err(|_| too_big("symbols"))?;
        head.extend_from_slice(&off.to_le_bytes());
        put_uvarint(&mut strings, s.len() as u64);
        strings.extend_from_slice(s.as_bytes());
    }
    w.write(&head)?;
    w.write(&strings)?;
    toc[0] = w.end();

    // series records; positions are indexes into `series`
    w.begin();
    let mut offsets = Vec::with_capacity(series.len() * 8);
    let mut postings: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
    let mut body = Vec::new();
    let mut rec = Vec::new();
    for (pos, s) in series.iter().enumerate() {
        offsets.extend_from_slice(&w.pos.to_le_bytes());
        body.clear();
        put_uvarint(&mut body, s.labels.len() as u64);
        for l in &s.labels {
            let (n, v) = (sym(&l.name), sym(&l.value));
            put_uvarint(&mut body, u64::from(n));
            put_uvarint(&mut body, u64::from(v));
            postings.entry((n, v)).or_default().push(pos as u32);
        }
        put_uvarint(&mut body, s.chunks.len() as u64);
        let (mut prev_maxt, mut prev_off) = (0i64, 0u64);
        for (i, &(mint, maxt, off)) in s.chunks.iter().enumerate() {
            if i == 0 {
                put_varint(&mut body, mint);
                put_uvarint(&mut body, maxt.wrapping_sub(mint) as u64);
                put_uvarint(&mut body, off);
            } else {
                put_varint(&mut body, mint.wrapping_sub(prev_maxt));
                put_uvarint(&mut body, maxt.wrapping_sub(mint) as u64);
                put_uvarint(&mut body, off - prev_off);
            }
            (prev_maxt, prev_off) = (maxt, off);
        }
        rec.clear();
        put_uvarint(&mut rec, body.len() as u64);
        rec.extend_from_slice(&body);
        rec.extend_from_slice(&crc32c(&body).to_le_bytes());
        w.write(&rec)?;
    }
    toc[1] = w.end();

    // postings lists, in (name, value) order; the table points at them
    let mut keys: Vec<(u32, u32)> = postings.keys().copied().collect();
    keys.sort_unstable();
    let mut table = Vec::with_capacity(keys.len() * 16);
    w.begin();
    for k in &keys {
        let list = postings.get(k).map(Vec::as_slice).unwrap_or(&[]);
        table.extend_from_slice(&k.0.to_le_bytes());
        table.extend_from_slice(&k.1.to_le_bytes());
        table.extend_from_slice(&w.pos.to_le_bytes());
        rec.clear();
        put_uvarint(&mut rec, list.len() as u64);
        let mut prev = 0u32;
        for (i, &p) in list.iter().enumerate() {
            put_uvarint(&mut rec, u64::from(if i == 0 { p } else { p - prev }));
            prev = p;
        }
        let crc = crc32c(&rec);
        rec.extend_from_slice(&crc.to_le_bytes());
        w.write(&rec)?;
    }
    toc[2] = w.end();

    w.begin();
    w.write(&table)?;
    toc[3] = w.end();

    w.begin();
    w.write(&offsets)?;
    toc[4] = w.end();

    w.write(&encode_toc(&toc))?;
    w.finish()
}

/// A buffered file writer that tracks its position and the CRC32C of the
/// current section.
struct CountingWriter {
    path: PathBuf,
    w: BufWriter<File>,
    pos: u64,
    start: u64,
    crc: u32,
}

impl CountingWriter {
    /// Creates (truncating) the file, readable too (see
    /// [`Self::delta_data_at`]).
    fn create(path: &Path) -> Result<Self, Error> {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(CountingWriter {
            path: path.to_path_buf(),
            w: BufWriter::with_capacity(1 << 16, f),
            pos: 0,
            start: 0,
            crc: 0,
        })
    }

    /// Appends bytes.
    fn write(&mut self, b: &[u8]) -> Result<(), Error> {
        self.w.write_all(b).map_err(|e| Error::io(&self.path, e))?;
        self.pos += b.len() as u64;
        self.crc = crc32c::crc32c_append(self.crc, b);
        Ok(())
    }

    /// The data of the chunk record written at `offset`, if it is a
    /// second-layout delta chunk.
    fn delta_data_at(&mut self, offset: u64) -> Result<Option<Vec<u8>>, Error> {
        use std::os::unix::fs::FileExt;
        self.w.flush().map_err(|e| Error::io(&self.path, e))?;
        let f = self.w.get_ref();
        let mut head = [0u8; 5];
        f.read_exact_at(&mut head, offset)
            .map_err(|e| Error::io(&self.path, e))?;
        if head[0] != ENCODING_DELTA2 {
            return Ok(None);
        }
        let bits = u16::from_le_bytes([head[3], head[4]]) as usize;
        let mut data = vec![0u8; bits.div_ceil(8)];
        f.read_exact_at(&mut data, offset + 5)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(Some(data))
    }

    /// Starts a section here.
    fn begin(&mut self) {
        self.start = self.pos;
        self.crc = 0;
    }

    /// Ends the section started by [`Self::begin`].
    fn end(&self) -> SectionRef {
        SectionRef {
            offset: self.start,
            len: self.pos - self.start,
            crc: self.crc,
        }
    }

    /// Flushes and fsyncs the file.
    fn finish(self) -> Result<(), Error> {
        let path = self.path;
        let f = self
            .w
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&path, e))
    }
}
