//! A block's `histograms` file: the native histogram chunks of its range,
//! one record per series (its labels once, then its chunks in time order),
//! in label order. Written only when the block holds histograms; read
//! whole at open (every record's CRC checked), the chunk bytes then read
//! in place from the mapping. Layout in `docs/format/block.md`.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::format::{check_header, corrupt, file_header, put_uvarint, put_varint, u32_at};
use crate::encoding::{crc32c, Cursor};
use crate::fs::ReadMap;
use crate::histstore::{get_labels, put_labels, HistChunk};
use crate::labels::{Labels, Matcher};
use crate::read::{matches_all, HistogramSample};
use crate::reader::HistogramReader;
use crate::Error;

/// The file's name in the block folder.
pub(crate) const HIST_FILE: &str = "histograms";
const HIST_MAGIC: &[u8; 4] = b"FLBH";
const HIST_VERSION: u8 = 1;
const HEADER: usize = 8;

/// Series, chunks and samples written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HistStats {
    pub series: u64,
    pub chunks: u64,
    pub samples: u64,
}

/// The bytes of the file for `series` (strictly increasing labels, each
/// with its chunks in time order; series without chunks are left out).
pub(crate) fn encode(series: &[(Labels, Vec<HistChunk>)]) -> Result<(Vec<u8>, HistStats), Error> {
    let mut out = file_header(HIST_MAGIC, HIST_VERSION).to_vec();
    let mut stats = HistStats::default();
    let mut prev: Option<&Labels> = None;
    let mut body = Vec::new();
    for (labels, chunks) in series {
        if prev.is_some_and(|p| p >= labels) {
            return Err(Error::InvalidLabels(format!(
                "block histogram series out of order: {labels}"
            )));
        }
        prev = Some(labels);
        if chunks.is_empty() {
            continue;
        }
        body.clear();
        put_labels(&mut body, labels);
        put_uvarint(&mut body, chunks.len() as u64);
        let mut prev_maxt = 0i64;
        for (i, c) in chunks.iter().enumerate() {
            if c.mint > c.maxt || (i > 0 && c.mint <= prev_maxt) || c.data.len() * 8 < c.bits {
                return Err(Error::InvalidLabels(format!(
                    "{labels}: histogram chunks overlap or are malformed"
                )));
            }
            if i == 0 {
                put_varint(&mut body, c.mint);
            } else {
                put_varint(&mut body, c.mint.wrapping_sub(prev_maxt));
            }
            put_uvarint(&mut body, c.maxt.wrapping_sub(c.mint) as u64);
            put_uvarint(&mut body, u64::from(c.count));
            put_uvarint(&mut body, c.bits as u64);
            body.extend_from_slice(&c.data[..c.bits.div_ceil(8)]);
            prev_maxt = c.maxt;
            stats.chunks += 1;
            stats.samples += u64::from(c.count);
        }
        stats.series += 1;
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32c(&body).to_le_bytes());
        out.extend_from_slice(&body);
    }
    Ok((out, stats))
}

/// Where a chunk's bytes are in the file.
#[derive(Clone, Copy, Debug)]
struct ChunkAt {
    mint: i64,
    maxt: i64,
    count: u32,
    bits: usize,
    offset: usize,
}

/// An open `histograms` file.
pub(crate) struct HistFile {
    path: PathBuf,
    map: ReadMap,
    /// In label order.
    series: Vec<(Labels, Vec<ChunkAt>)>,
    stats: HistStats,
}

impl HistFile {
    /// Opens and reads the file's records (each CRC checked).
    pub(crate) fn open(path: &Path) -> Result<HistFile, Error> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let map = ReadMap::open(&file).map_err(|e| Error::io(path, e))?;
        let b = map.bytes();
        check_header(path, b, HIST_MAGIC, HIST_VERSION)?;
        let mut series: Vec<(Labels, Vec<ChunkAt>)> = Vec::new();
        let mut stats = HistStats::default();
        let mut off = HEADER;
        while off < b.len() {
            let bad = |what: &str| corrupt(path, off as u64, format!("histogram series: {what}"));
            let len = u32_at(b, off).ok_or_else(|| bad("cut short"))? as usize;
            let crc = u32_at(b, off + 4).ok_or_else(|| bad("cut short"))?;
            let start = off + 8;
            let body = b
                .get(start..start.saturating_add(len))
                .ok_or_else(|| bad("runs past the end of the file"))?;
            if crc32c(body) != crc {
                return Err(bad("checksum mismatch"));
            }
            let mut c = Cursor::at(body, 0);
            let labels = get_labels(&mut c).ok_or_else(|| bad("malformed labels"))?;
            if series.last().is_some_and(|(p, _)| *p >= labels) {
                return Err(bad("series out of order"));
            }
            let n = c.uvarint().ok_or_else(|| bad("malformed"))?;
            let mut chunks = Vec::new();
            let mut prev_maxt = 0i64;
            for i in 0..n {
                let d = c.varint().ok_or_else(|| bad("malformed"))?;
                let mint = if i == 0 { d } else { prev_maxt.wrapping_add(d) };
                let span = c.uvarint().ok_or_else(|| bad("malformed"))?;
                let maxt = mint.wrapping_add(span as i64);
                let count = c
                    .uvarint()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| bad("malformed"))?;
                let bits = c
                    .uvarint()
                    .and_then(|v| usize::try_from(v).ok())
                    .ok_or_else(|| bad("malformed"))?;
                let at = c.pos();
                c.bytes(bits.div_ceil(8))
                    .ok_or_else(|| bad("chunk runs past the record"))?;
                chunks.push(ChunkAt {
                    mint,
                    maxt,
                    count,
                    bits,
                    offset: start + at,
                });
                prev_maxt = maxt;
                stats.chunks += 1;
                stats.samples += u64::from(count);
            }
            if c.pos() != body.len() {
                return Err(bad("trailing bytes"));
            }
            stats.series += 1;
            series.push((labels, chunks));
            off = start + len;
        }
        Ok(HistFile {
            path: path.to_path_buf(),
            map,
            series,
            stats,
        })
    }

    /// What the file holds.
    pub(crate) fn stats(&self) -> HistStats {
        self.stats
    }

    /// Bytes of the file.
    pub(crate) fn len(&self) -> u64 {
        self.map.bytes().len() as u64
    }

    fn data(&self, c: &ChunkAt) -> &[u8] {
        &self.map.bytes()[c.offset..c.offset + c.bits.div_ceil(8)]
    }

    fn decode_into(
        &self,
        c: &ChunkAt,
        mint: i64,
        maxt: i64,
        out: &mut Vec<HistogramSample>,
    ) -> Result<(), Error> {
        HistChunk::decode_into(self.data(c), c.bits, c.count, mint, maxt, out)
            .ok_or_else(|| corrupt(&self.path, c.offset as u64, "malformed histogram chunk"))
    }

    /// The samples in `mint..=maxt` of the series matching all
    /// `matchers`, in label order (series without any left out).
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<HistogramSample>)>, Error> {
        let mut out = Vec::new();
        for (labels, chunks) in &self.series {
            if !chunks.iter().any(|c| c.mint <= maxt && c.maxt >= mint)
                || !matches_all(labels, matchers)
            {
                continue;
            }
            let mut v = Vec::new();
            for c in chunks.iter().filter(|c| c.mint <= maxt && c.maxt >= mint) {
                self.decode_into(c, mint, maxt, &mut v)?;
            }
            if !v.is_empty() {
                out.push((labels.clone(), v));
            }
        }
        Ok(out)
    }

    /// Label sets of the series with a chunk overlapping `mint..=maxt`
    /// matching all `matchers`, in label order.
    pub(crate) fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        self.series
            .iter()
            .filter(|(l, cs)| {
                cs.iter().any(|c| c.mint <= maxt && c.maxt >= mint) && matches_all(l, matchers)
            })
            .map(|(l, _)| l.clone())
            .collect()
    }

    /// The series matching all `matchers`, in label order, with their
    /// first and last sample times.
    pub(crate) fn spans(&self, matchers: &[Matcher]) -> Vec<(Labels, i64, i64)> {
        self.series
            .iter()
            .filter(|(l, _)| matches_all(l, matchers))
            .filter_map(|(l, cs)| Some((l.clone(), cs.first()?.mint, cs.last()?.maxt)))
            .collect()
    }

    /// Samples, bytes and buckets of the bucket layout (its last sample's:
    /// a layout only grows within a chunk) of each chunk of the series
    /// matching all `matchers`.
    pub(crate) fn chunk_sizes(
        &self,
        matchers: &[Matcher],
    ) -> Result<Vec<(u32, usize, usize)>, Error> {
        let mut out = Vec::new();
        let mut v = Vec::new();
        for (l, cs) in &self.series {
            if !matches_all(l, matchers) {
                continue;
            }
            for c in cs {
                v.clear();
                self.decode_into(c, i64::MIN, i64::MAX, &mut v)?;
                let buckets = v
                    .last()
                    .map_or(0, |(_, h)| h.positive.len() + h.negative.len());
                out.push((c.count, c.bits.div_ceil(8), buckets));
            }
        }
        Ok(out)
    }

    /// Every series with its chunks, copied out, in label order.
    pub(crate) fn all(&self) -> Vec<(Labels, Vec<HistChunk>)> {
        self.series
            .iter()
            .map(|(l, cs)| {
                let chunks = cs
                    .iter()
                    .map(|c| HistChunk {
                        mint: c.mint,
                        maxt: c.maxt,
                        count: c.count,
                        bits: c.bits,
                        data: self.data(c).to_vec(),
                    })
                    .collect();
                (l.clone(), chunks)
            })
            .collect()
    }

    /// Each series' newest sample time.
    pub(crate) fn last_times(&self) -> impl Iterator<Item = (&Labels, i64)> {
        self.series
            .iter()
            .filter_map(|(l, cs)| Some((l, cs.last()?.maxt)))
    }

    /// Whether the file holds a chunk of `labels` starting at `mint`.
    pub(crate) fn holds(&self, labels: &Labels, mint: i64) -> bool {
        self.series
            .binary_search_by(|(l, _)| l.cmp(labels))
            .is_ok_and(|i| self.series[i].1.iter().any(|c| c.mint == mint))
    }

    /// For each series with a metric name: its name, labels hash and the
    /// bytes of its record.
    pub(crate) fn bytes_by_metric(&self, f: &mut dyn FnMut(&str, u64, u64)) {
        for (labels, cs) in &self.series {
            if let Some(name) = labels.get(crate::labels::METRIC_NAME) {
                let bytes: u64 = cs.iter().map(|c| c.bits.div_ceil(8) as u64 + 8).sum();
                f(name, labels.hash64(), bytes);
            }
        }
    }

    /// Decodes every chunk.
    pub(crate) fn verify(&self) -> Result<(), Error> {
        let mut v = Vec::new();
        for (_, cs) in &self.series {
            for c in cs {
                v.clear();
                self.decode_into(c, i64::MIN, i64::MAX, &mut v)?;
                if v.len() != c.count as usize {
                    return Err(corrupt(
                        &self.path,
                        c.offset as u64,
                        "histogram chunk holds fewer samples than it says",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl HistogramReader for HistFile {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<HistogramSample>)>, Error> {
        HistFile::select(self, matchers, mint, maxt)
    }

    fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        HistFile::series(self, matchers, mint, maxt)
    }
}
