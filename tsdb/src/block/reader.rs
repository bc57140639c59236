//! Reading a block: [`Block`] maps `index` and `chunks` and answers
//! selects and label questions from them in place.

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::against::SERIES_WINDOW;
use super::format::{
    check_header, corrupt, u32_at, CHUNKS_FILE, CHUNKS_MAGIC, CHUNKS_VERSION, CHUNK_HEADER_LEN,
    FILE_HEADER_LEN, INDEX_FILE, META_FILE,
};
use super::histograms::{HistFile, HIST_FILE};
use super::index::{ChunkMeta, Index, SeriesRecord};
use super::matchers::postings_for_matchers;
use super::recode::encode_samples;
use super::{BlockMeta, ChunkData};
use crate::chunkenc::{
    ChunkIter, SharedChunk, ENCODING_DELTA, ENCODING_DELTA2, ENCODING_DELTA_REF, ENCODING_XOR,
};
use crate::encoding::{crc32c, Cursor};
use crate::fs::ReadMap;
use crate::labels::{Labels, Matcher};
use crate::packed::PackedLabels;
use crate::reader::{Chunks, HistogramReader, MappedChunk, Reader};
use crate::Error;

/// A chunk of a selected series, borrowing its bytes from the mapped
/// `chunks` file (its CRC was checked when it was selected).
#[derive(Clone, Debug)]
#[allow(dead_code)] // time range and encoding are part of the chunk's description
pub(crate) struct ChunkRefData<'a> {
    /// First sample's timestamp, ms.
    pub mint: i64,
    /// Last sample's timestamp, ms.
    pub maxt: i64,
    /// Encoding tag ([`ENCODING_XOR`], [`ENCODING_DELTA`],
    /// [`ENCODING_DELTA2`] or [`ENCODING_DELTA_REF`]).
    pub encoding: u8,
    /// Samples in the chunk.
    pub count: u16,
    /// Length of the encoded data in bits.
    pub bit_len: u16,
    /// The encoded data, `ceil(bit_len / 8)` bytes of the mapped file; for
    /// [`ENCODING_DELTA_REF`], the differences after the reference.
    pub data: &'a [u8],
    /// For [`ENCODING_DELTA_REF`], the chunk stored against (its CRC
    /// checked too); on a chunk that others of the same select are stored
    /// against, itself. Either way decoded once for all its readers.
    pub shared: Option<Arc<SharedChunk<'a>>>,
}

impl<'a> ChunkRefData<'a> {
    /// Decodes the chunk's samples (all of them: the caller trims to its
    /// time range).
    pub fn iter(&self) -> ChunkIter<'a> {
        match &self.shared {
            Some(sh) if self.encoding == ENCODING_DELTA_REF => {
                ChunkIter::shared(Arc::clone(sh), Some((self.data, self.count)))
            }
            Some(sh) => ChunkIter::shared(Arc::clone(sh), None),
            None => ChunkIter::new(self.encoding, self.data, self.count, self.bit_len as usize),
        }
    }

    /// Owned copies, each chunk standing alone: a chunk stored against
    /// another is decoded and encoded again (as one or more chunks).
    pub fn into_owned_chunks(self) -> Vec<ChunkData> {
        if self.encoding == ENCODING_DELTA_REF {
            let samples: Vec<(i64, f64)> = self.iter().collect();
            return encode_samples(&samples);
        }
        vec![ChunkData {
            mint: self.mint,
            maxt: self.maxt,
            encoding: self.encoding,
            count: self.count,
            bit_len: self.bit_len,
            data: self.data.to_vec(),
        }]
    }
}

/// A chunk record as the file holds it, CRC checked.
struct Record<'a> {
    encoding: u8,
    count: u16,
    bit_len: u16,
    data: &'a [u8],
    /// Bytes of the whole record.
    len: usize,
}

/// The mapped `chunks` file.
struct ChunkFile {
    path: PathBuf,
    map: ReadMap,
    /// Version of the file: 1 holds XOR chunks only.
    version: u8,
}

impl ChunkFile {
    /// Maps the file and checks its header.
    fn open(path: &Path) -> Result<ChunkFile, Error> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let map = ReadMap::open(&file).map_err(|e| Error::io(path, e))?;
        let version = check_header(path, map.bytes(), CHUNKS_MAGIC, CHUNKS_VERSION)?;
        Ok(ChunkFile {
            path: path.to_path_buf(),
            map,
            version,
        })
    }

    /// The chunk record at `meta.offset`, CRC checked, standing alone: a
    /// chunk stored against another gets that one decoded for itself. Also
    /// returns the record's length in bytes.
    fn chunk_alone(&self, meta: &ChunkMeta) -> Result<(ChunkRefData<'_>, usize), Error> {
        let (mut c, len, base) = self.chunk(meta)?;
        c.shared = base.map(|(_, b)| Arc::new(b));
        Ok((c, len))
    }

    /// The chunk record at `meta.offset`, CRC checked; also returns the
    /// record's length in bytes and, for a chunk stored against another,
    /// that one (CRC checked too, not yet attached) and its offset.
    #[allow(clippy::type_complexity)]
    fn chunk(
        &self,
        meta: &ChunkMeta,
    ) -> Result<(ChunkRefData<'_>, usize, Option<(u64, SharedChunk<'_>)>), Error> {
        let off = meta.offset;
        let bad = |what: &str| corrupt(&self.path, off, format!("chunk record: {what}"));
        let r = self.record(off)?;
        let known = match r.encoding {
            ENCODING_XOR => true,
            ENCODING_DELTA => self.version >= 2,
            ENCODING_DELTA2 => self.version >= 3,
            ENCODING_DELTA_REF => self.version >= 4,
            _ => false,
        };
        if !known {
            return Err(bad("unknown encoding"));
        }
        let mut c = ChunkRefData {
            mint: meta.mint,
            maxt: meta.maxt,
            encoding: r.encoding,
            count: r.count,
            bit_len: r.bit_len,
            data: r.data,
            shared: None,
        };
        let mut against = None;
        if r.encoding == ENCODING_DELTA_REF {
            let mut cur = Cursor::at(r.data, 0);
            let back = cur.uvarint().ok_or_else(|| bad("reference cut short"))?;
            let at = off
                .checked_sub(back)
                .filter(|&at| back > 0 && at >= FILE_HEADER_LEN as u64)
                .ok_or_else(|| bad("reference outside the file"))?;
            let base = self.record(at)?;
            if base.encoding != ENCODING_DELTA2 || base.count != r.count {
                return Err(bad("reference is not a delta chunk of as many samples"));
            }
            c.data = &r.data[cur.pos()..];
            against = Some((at, SharedChunk::new(base.data, base.count)));
        }
        Ok((c, r.len, against))
    }

    /// Bytes of the record at byte `off` (header, data and CRC), read
    /// from its header alone: nothing is checked or decoded.
    fn record_len(&self, off: u64) -> Result<u64, Error> {
        let b = self.map.bytes();
        let bad = |what: &str| corrupt(&self.path, off, format!("chunk record: {what}"));
        let o = usize::try_from(off)
            .ok()
            .filter(|&o| o >= FILE_HEADER_LEN)
            .ok_or_else(|| bad("offset out of range"))?;
        let h = b
            .get(o..o.saturating_add(CHUNK_HEADER_LEN))
            .ok_or_else(|| bad("offset past the end of the file"))?;
        let len = CHUNK_HEADER_LEN + (u16::from_le_bytes([h[3], h[4]]) as usize).div_ceil(8) + 4;
        if o + len > b.len() {
            return Err(bad("runs past the end of the file"));
        }
        Ok(len as u64)
    }

    /// The record at byte `off`, CRC checked.
    fn record(&self, off: u64) -> Result<Record<'_>, Error> {
        let b = self.map.bytes();
        let bad = |what: &str| corrupt(&self.path, off, format!("chunk record: {what}"));
        let o = usize::try_from(off).map_err(|_| bad("offset out of range"))?;
        if o < FILE_HEADER_LEN {
            return Err(bad("offset inside the file header"));
        }
        let h = b
            .get(o..o.saturating_add(CHUNK_HEADER_LEN))
            .ok_or_else(|| bad("offset past the end of the file"))?;
        let encoding = h[0];
        let count = u16::from_le_bytes([h[1], h[2]]);
        let bit_len = u16::from_le_bytes([h[3], h[4]]);
        let end = o + CHUNK_HEADER_LEN + (bit_len as usize).div_ceil(8);
        let crc = u32_at(b, end).ok_or_else(|| bad("runs past the end of the file"))?;
        if crc32c(&b[o..end]) != crc {
            return Err(bad("checksum mismatch"));
        }
        Ok(Record {
            encoding,
            count,
            bit_len,
            data: &b[o + CHUNK_HEADER_LEN..end],
            len: end + 4 - o,
        })
    }
}

/// An open block: its meta and its mapped files. Cheap to open (reads
/// `meta.json`, maps two files, checks headers and the index TOC); the
/// index's small sections are checksummed on first use, series records,
/// postings lists and chunks each time they are read.
pub(crate) struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    meta_len: u64,
    index: Index,
    chunks: ChunkFile,
    /// The native histograms, when the block holds any.
    hist: Option<HistFile>,
}

impl Block {
    /// Opens the block in folder `path`.
    pub fn open(path: &Path) -> Result<Block, Error> {
        let meta_path = path.join(META_FILE);
        let text = fs::read(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta = BlockMeta::parse(&meta_path, &text)?;
        let index = Index::open(&path.join(INDEX_FILE))?;
        if u64::from(index.num_series()) != meta.num_series {
            return Err(corrupt(
                &meta_path,
                0,
                format!(
                    "numSeries {} but the index has {}",
                    meta.num_series,
                    index.num_series()
                ),
            ));
        }
        let chunks = ChunkFile::open(&path.join(CHUNKS_FILE))?;
        let hist_path = path.join(HIST_FILE);
        let hist = if meta.hist.series > 0 || hist_path.exists() {
            let h = HistFile::open(&hist_path)?;
            if h.stats() != meta.hist {
                return Err(corrupt(
                    &meta_path,
                    0,
                    format!(
                        "histogram stats {:?} but the histograms file has {:?}",
                        meta.hist,
                        h.stats()
                    ),
                ));
            }
            Some(h)
        } else {
            None
        };
        Ok(Block {
            dir: path.to_path_buf(),
            meta,
            meta_len: text.len() as u64,
            index,
            chunks,
            hist,
        })
    }

    /// What `meta.json` says.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk: index, chunks, histograms and meta.
    pub fn size_bytes(&self) -> u64 {
        self.index.len()
            + self.chunks.map.bytes().len() as u64
            + self.meta_len
            + self.hist.as_ref().map_or(0, HistFile::len)
    }

    /// The native histograms, when the block holds any.
    pub(crate) fn histograms(&self) -> Option<&HistFile> {
        self.hist.as_ref()
    }

    /// Series matching all `matchers` (as [`Matcher`]: an absent label
    /// matches as the empty string), in label order, each with its chunks
    /// that overlap `[mint, maxt]`; series with no such chunk are left out.
    /// A chunk that others of the selection are stored against is decoded
    /// once for all of them.
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<ChunkRefData<'_>>)>, Error> {
        let mut out: Vec<(Labels, Vec<ChunkRefData<'_>>)> = Vec::new();
        // the delta chunks of the selected series among the last
        // SERIES_WINDOW positions (the only ones a chunk can be stored
        // against): offset, series position, where they are in `out`
        let mut deltas: VecDeque<(u64, u32, usize, usize)> = VecDeque::new();
        for pos in postings_for_matchers(&self.index, matchers)? {
            while deltas
                .front()
                .is_some_and(|d| d.1 as usize + SERIES_WINDOW < pos as usize)
            {
                deltas.pop_front();
            }
            let rec = self.index.series(pos)?;
            let mut chunks = Vec::new();
            for c in rec
                .chunks
                .iter()
                .filter(|c| c.maxt >= mint && c.mint <= maxt)
            {
                let (mut d, _, against) = self.chunks.chunk(c)?;
                if let Some((at, own)) = against {
                    // the selection's copy of that chunk, if it holds it
                    d.shared = Some(match deltas.iter().find(|x| x.0 == at) {
                        Some(&(_, _, si, ci)) => {
                            let b = &mut out[si].1[ci];
                            let (data, count) = (b.data, b.count);
                            let sh = b
                                .shared
                                .get_or_insert_with(|| Arc::new(SharedChunk::new(data, count)));
                            Arc::clone(sh)
                        }
                        None => Arc::new(own),
                    });
                } else if d.encoding == ENCODING_DELTA2 {
                    deltas.push_back((c.offset, pos, out.len(), chunks.len()));
                }
                chunks.push(d);
            }
            if !chunks.is_empty() {
                out.push((self.index.labels(&rec)?, chunks));
            }
        }
        Ok(out)
    }

    /// The series matching all `matchers` (all series when empty), in
    /// label order, each with its first chunk's first and last chunk's
    /// last timestamp; no chunk is read.
    pub fn series_spans(&self, matchers: &[Matcher]) -> Result<Vec<(Labels, i64, i64)>, Error> {
        let mut out = Vec::new();
        for pos in postings_for_matchers(&self.index, matchers)? {
            let rec = self.index.series(pos)?;
            let (Some(first), Some(last)) = (rec.chunks.first(), rec.chunks.last()) else {
                continue;
            };
            let (mint, maxt) = (first.mint, last.maxt);
            out.push((self.index.labels(&rec)?, mint, maxt));
        }
        Ok(out)
    }

    /// For each series with a metric name: calls `f` with the name, the
    /// hash of its labels ([`Labels::hash64`]) and the bytes its chunk
    /// records take in `chunks`. Reads series records and chunk headers
    /// only; a series without `__name__` is left out.
    pub fn chunk_bytes_by_metric(&self, f: &mut dyn FnMut(&str, u64, u64)) -> Result<(), Error> {
        let Some(name) = self.index.lookup_symbol(crate::labels::METRIC_NAME)? else {
            return Ok(());
        };
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for i in self.index.name_entries(name)? {
            let e = self.index.entry(i)?;
            let metric = self.index.symbol(e.value)?;
            for pos in self.index.postings(e.offset)? {
                let rec = self.index.series(pos)?;
                let mut bytes = 0;
                for c in &rec.chunks {
                    bytes += self.chunks.record_len(c.offset)?;
                }
                pairs.clear();
                for &(n, v) in &rec.labels {
                    pairs.push((self.index.symbol(n)?, self.index.symbol(v)?));
                }
                f(
                    metric,
                    crate::labels::hash_pairs(pairs.iter().copied()),
                    bytes,
                );
            }
        }
        Ok(())
    }

    /// Resolves symbol refs to sorted strings.
    fn strings(&self, refs: BTreeSet<u32>) -> Result<Vec<String>, Error> {
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            out.push(self.index.symbol(r)?.to_string());
        }
        // refs sort like their strings in a well-formed index; make sure
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Every series with all its chunks, copied out, in label order (for
    /// compaction into bigger blocks).
    #[allow(dead_code)] // for compacting blocks together
    pub fn all_series(
        &self,
    ) -> Result<impl Iterator<Item = Result<(Labels, Vec<ChunkData>), Error>> + '_, Error> {
        // touch the first series now so a damaged table fails here
        if self.index.num_series() > 0 {
            self.index.series(0)?;
        }
        Ok((0..self.index.num_series()).map(move |pos| {
            let rec = self.index.series(pos)?;
            let labels = self.index.labels(&rec)?;
            let mut chunks = Vec::with_capacity(rec.chunks.len());
            for c in &rec.chunks {
                chunks.extend(self.chunks.chunk_alone(c)?.0.into_owned_chunks());
            }
            Ok((labels, chunks))
        }))
    }

    /// Checks everything: every index section's CRC, every series record,
    /// postings list and chunk; series in strictly increasing label order;
    /// the meta's statistics; no bytes in `chunks` that no series uses.
    /// Reads the whole block.
    #[allow(dead_code)] // full check, used by tests
    pub fn verify(&self) -> Result<(), Error> {
        if let Some(h) = &self.hist {
            h.verify()?;
        }
        self.index.verify_sections()?;
        let ipath = self.index.path();
        for i in 0..self.index.num_entries() {
            self.index.postings(self.index.entry(i)?.offset)?;
        }
        let (mut n_chunks, mut n_samples, mut chunk_bytes) = (0u64, 0u64, 0u64);
        let mut prev: Option<Labels> = None;
        for pos in 0..self.index.num_series() {
            let rec: SeriesRecord = self.index.series(pos)?;
            let labels = self.index.labels(&rec)?;
            if prev.as_ref().is_some_and(|p| *p >= labels) {
                return Err(corrupt(ipath, 0, format!("series {pos} out of order")));
            }
            prev = Some(labels);
            for c in &rec.chunks {
                let (d, len) = self.chunks.chunk_alone(c)?;
                n_chunks += 1;
                n_samples += u64::from(d.count);
                chunk_bytes += len as u64;
            }
        }
        let m = &self.meta;
        if (n_chunks, n_samples) != (m.num_chunks, m.num_samples) {
            return Err(corrupt(
                &self.dir.join(META_FILE),
                0,
                format!(
                    "stats say {} chunks, {} samples; the block has {n_chunks}, {n_samples}",
                    m.num_chunks, m.num_samples
                ),
            ));
        }
        let file_len = self.chunks.map.bytes().len() as u64;
        if chunk_bytes + FILE_HEADER_LEN as u64 != file_len {
            return Err(corrupt(
                &self.chunks.path,
                0,
                format!("{file_len} bytes, of which series use {chunk_bytes} after the header"),
            ));
        }
        Ok(())
    }
}

impl Reader for Block {
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        // a block's max_time is exclusive
        self.meta.min_time <= maxt && self.meta.max_time > mint
    }

    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Chunks<'_>)>, Error> {
        // the inherent select, whose chunks still show their bytes
        Ok(Block::select(self, matchers, mint, maxt)?
            .into_iter()
            .map(|(labels, chunks)| {
                let chunks = chunks
                    .into_iter()
                    .map(|c| MappedChunk {
                        it: c.iter(),
                        count: c.count,
                    })
                    .collect();
                (labels, Chunks::Mapped(chunks))
            })
            .collect())
    }

    fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<PackedLabels>, Error> {
        // the index alone: a chunk's times are in its series record
        let mut out = Vec::new();
        for pos in postings_for_matchers(&self.index, matchers)? {
            let rec = self.index.series(pos)?;
            if rec.chunks.iter().any(|c| c.maxt >= mint && c.mint <= maxt) {
                out.push(self.index.packed_labels(&rec)?);
            }
        }
        Ok(out)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        let refs: BTreeSet<u32> = if matchers.is_empty() {
            self.index.names()?.into_iter().collect()
        } else {
            let mut s = BTreeSet::new();
            for pos in postings_for_matchers(&self.index, matchers)? {
                s.extend(self.index.series(pos)?.labels.iter().map(|l| l.0));
            }
            s
        };
        self.strings(refs)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        let Some(name) = self.index.lookup_symbol(name)? else {
            return Ok(Vec::new());
        };
        let mut refs = BTreeSet::new();
        if matchers.is_empty() {
            for i in self.index.name_entries(name)? {
                refs.insert(self.index.entry(i)?.value);
            }
        } else {
            for pos in postings_for_matchers(&self.index, matchers)? {
                let rec = self.index.series(pos)?;
                refs.extend(rec.labels.iter().filter(|l| l.0 == name).map(|l| l.1));
            }
        }
        self.strings(refs)
    }

    fn histograms(&self) -> Option<&dyn HistogramReader> {
        self.hist.as_ref().map(|h| h as &dyn HistogramReader)
    }
}
