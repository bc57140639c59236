//! Immutable on-disk blocks: a folder `<dir>/<id>/` holding `meta.json`,
//! `chunks` (chunk records back to back) and `index` (symbols, series,
//! postings, postings offset table, series table, TOC). Blocks are written
//! once by [`write_block`] (atomically, through a `.tmp` folder and a
//! rename) and read in place through memory maps by [`Block`].
//! Layout in `docs/format/block.md`.

mod against;
mod format;
mod id;
mod index;
mod matchers;
mod meta;
mod reader;
mod recode;
mod writer;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

pub(crate) use id::{is_block_id, new_block_id};
pub(crate) use meta::BlockMeta;
pub(crate) use reader::Block;
pub(crate) use recode::{delta_chunk, encode_samples};
pub(crate) use writer::write_block;

use crate::fs::sync_dir;
use crate::Error;

/// One chunk of a series, owned: what [`write_block`] stores and
/// [`Block::all_series`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChunkData {
    /// First sample's timestamp, ms.
    pub mint: i64,
    /// Last sample's timestamp, ms.
    pub maxt: i64,
    /// Encoding tag ([`crate::chunkenc::ENCODING_XOR`],
    /// [`crate::chunkenc::ENCODING_DELTA`] or
    /// [`crate::chunkenc::ENCODING_DELTA2`]).
    pub encoding: u8,
    /// Samples in the chunk.
    pub count: u16,
    /// Length of the encoded data in bits.
    pub bit_len: u16,
    /// The encoded data: at least `ceil(bit_len / 8)` bytes (only those
    /// are stored).
    pub data: Vec<u8>,
}

/// Suffix of a block folder being written.
const TMP_SUFFIX: &str = ".tmp";

/// Removes leftover `<id>.tmp` folders (blocks whose writing was
/// interrupted) from `dir`; returns how many were removed. Other entries
/// are left alone. A missing `dir` is not an error.
pub(crate) fn remove_tmp_blocks(dir: &Path) -> Result<usize, Error> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut removed = 0;
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let name = ent.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(TMP_SUFFIX)) else {
            continue;
        };
        let path = ent.path();
        if is_block_id(id) && path.is_dir() {
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(removed)
}

/// The block folders in `dir` (entries named by a block id that are
/// folders), sorted by id, that is by creation time. A missing `dir` has
/// none.
pub(crate) fn list_blocks(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let path = ent.path();
        if ent.file_name().to_str().is_some_and(is_block_id) && path.is_dir() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
