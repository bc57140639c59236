//! Reading a Prometheus data directory (what `prometheus` 2.x and 3.x
//! write under `--storage.tsdb.path`): blocks (`index` v1–v3, `chunks/`
//! segments, `tombstones`, `meta.json`), the write-ahead log (`wal/`, with
//! its checkpoints), the memory-mapped head chunks (`chunks_head/`) and the
//! out-of-order log (`wbl/`). Only reading: see [`crate::takeover`] for
//! turning such a directory into flint's own.
//!
//! The formats are Prometheus's, as its `tsdb/docs/format/` describes them;
//! integers are big-endian, varints are Go's (zig-zag for signed ones),
//! checksums CRC32C.

pub mod chunks;
pub mod index;
pub mod tombstones;
pub mod wal;
pub mod writer;

use std::fs;
use std::path::{Path, PathBuf};

use crate::Error;

/// A position in a byte slice, reading Prometheus's encodings. Every read
/// returns `None` past the end.
#[derive(Clone)]
pub(crate) struct Cur<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cur<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Cur { b, pos: 0 }
    }

    pub(crate) fn at(b: &'a [u8], pos: usize) -> Self {
        Cur { b, pos }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub(crate) fn byte(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    pub(crate) fn be32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }

    pub(crate) fn be64(&mut self) -> Option<u64> {
        self.bytes(8)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    pub(crate) fn uvarint(&mut self) -> Option<u64> {
        let mut x = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return None;
            }
            x |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(x);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }

    pub(crate) fn varint(&mut self) -> Option<i64> {
        let u = self.uvarint()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A string prefixed by its uvarint length.
    pub(crate) fn uvarint_bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.uvarint()?;
        self.bytes(usize::try_from(n).ok()?)
    }
}

/// What a data directory holds of Prometheus's.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Block folders (ULID names holding `meta.json` and an `index` in
    /// Prometheus's format), sorted by name.
    pub blocks: Vec<PathBuf>,
    /// `wal/`, if present.
    pub wal: Option<PathBuf>,
    /// `chunks_head/` holding Prometheus's head chunk files, if present.
    pub chunks_head: Option<PathBuf>,
    /// `wbl/` (out-of-order samples), if present.
    pub wbl: Option<PathBuf>,
    /// Other entries Prometheus leaves (`lock`, `queries.active`,
    /// `*.tmp-for-deletion`, …), moved along with the rest.
    pub other: Vec<PathBuf>,
}

impl Layout {
    /// Every top-level entry of the layout.
    pub fn entries(&self) -> Vec<PathBuf> {
        let mut v = self.blocks.clone();
        v.extend(self.wal.iter().cloned());
        v.extend(self.chunks_head.iter().cloned());
        v.extend(self.wbl.iter().cloned());
        v.extend(self.other.iter().cloned());
        v
    }

    /// Whether nothing of Prometheus's is there.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
            && self.wal.is_none()
            && self.chunks_head.is_none()
            && self.wbl.is_none()
    }
}

/// The magic number of Prometheus's block index files.
pub const INDEX_MAGIC: u32 = 0xBAAA_D700;
/// The magic number of Prometheus's head chunk files.
pub const HEAD_CHUNKS_MAGIC: u32 = 0x0130_BC91;

fn starts_with_magic(path: &Path, magic: u32) -> bool {
    use std::io::Read;
    let mut b = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
        && u32::from_be_bytes(b) == magic
}

/// Whether `dir/chunks_head` holds Prometheus's head chunk files (flint's
/// own head uses the same folder name with other files).
fn prometheus_head_chunks(dir: &Path) -> bool {
    let Ok(rd) = fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        !name.is_empty()
            && name.bytes().all(|c| c.is_ascii_digit())
            && starts_with_magic(&e.path(), HEAD_CHUNKS_MAGIC)
    })
}

/// What of Prometheus's is in `dir` (empty when nothing; an absent `dir`
/// holds nothing).
pub fn detect(dir: &Path) -> Result<Layout, Error> {
    let mut l = Layout::default();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(l),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let path = ent.path();
        let name = ent.file_name().to_string_lossy().into_owned();
        if !path.is_dir() {
            if name == "queries.active" {
                l.other.push(path);
            }
            continue;
        }
        match name.as_str() {
            "wal" => l.wal = Some(path),
            "wbl" => l.wbl = Some(path),
            "chunks_head" if prometheus_head_chunks(&path) => l.chunks_head = Some(path),
            _ if crate::block::is_block_id(name.trim_end_matches(".tmp-for-deletion"))
                && starts_with_magic(&path.join("index"), INDEX_MAGIC) =>
            {
                if name.ends_with(".tmp-for-deletion") {
                    l.other.push(path);
                } else {
                    l.blocks.push(path);
                }
            }
            _ if name.ends_with(".tmp-for-creation") || name.ends_with(".tmp-for-deletion") => {
                l.other.push(path)
            }
            _ => {}
        }
    }
    l.blocks.sort();
    l.other.sort();
    Ok(l)
}

/// A block's `meta.json` as far as an import needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMeta {
    /// The block's id.
    pub ulid: String,
    /// Inclusive start, ms.
    pub min_time: i64,
    /// Exclusive end, ms.
    pub max_time: i64,
    /// Samples the block says it holds.
    pub num_samples: u64,
    /// Series the block says it holds.
    pub num_series: u64,
}

/// Reads a block's `meta.json` (format version 1).
pub fn read_meta(block: &Path) -> Result<BlockMeta, Error> {
    let path = block.join("meta.json");
    let text = fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::corrupt(&path, 0, format!("not JSON: {e}")))?;
    if v["version"].as_u64() != Some(1) {
        return Err(Error::unsupported(
            &path,
            format!(
                "meta.json version {} (only version 1 is read)",
                v["version"]
            ),
        ));
    }
    let num = |k: &str| v[k].as_i64();
    let stats = &v["stats"];
    Ok(BlockMeta {
        ulid: v["ulid"].as_str().unwrap_or_default().to_string(),
        min_time: num("minTime").ok_or_else(|| Error::corrupt(&path, 0, "no minTime"))?,
        max_time: num("maxTime").ok_or_else(|| Error::corrupt(&path, 0, "no maxTime"))?,
        num_samples: stats["numSamples"].as_u64().unwrap_or(0),
        num_series: stats["numSeries"].as_u64().unwrap_or(0),
    })
}

/// Names of the numbered files (`000001`, `00000012`) in `dir`, sorted by
/// number.
pub(crate) fn numbered(dir: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let rd = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        if !name.is_empty() && name.bytes().all(|c| c.is_ascii_digit()) && ent.path().is_file() {
            if let Ok(n) = name.parse() {
                out.push((n, ent.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests;
