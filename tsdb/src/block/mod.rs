//! Immutable on-disk blocks: a folder `<dir>/<id>/` holding `meta.json`,
//! `chunks` (chunk records back to back) and `index` (symbols, series,
//! postings, postings offset table, series table, TOC). Blocks are written
//! once by [`write_block`] (atomically, through a `.tmp` folder and a
//! rename) and read in place through memory maps by [`Block`].
//! A block holding native histograms has a fourth file, `histograms`.
//! Layout in `docs/format/block.md`.

mod against;
mod format;
mod histograms;
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
pub(crate) use writer::{write_block, write_block_with};

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

/// For the fuzz targets: opens `bytes` as the index file `path` and reads
/// all of it (every label name and value, postings list and series);
/// `fix_checksums` first recomputes the TOC's and sections' CRCs so that
/// changed bytes get past them. Returns the number of labels read.
pub(crate) fn fuzz_index(path: &Path, bytes: &[u8], fix_checksums: bool) -> Result<usize, Error> {
    let _ = index::decode_series(bytes);
    let mut bytes = bytes.to_vec();
    if fix_checksums {
        fix_index_checksums(path, &mut bytes);
    }
    std::fs::write(path, &bytes).map_err(|e| Error::io(path, e))?;
    let ix = index::Index::open(path)?;
    let mut n = 0;
    for name in ix.names()? {
        ix.symbol(name)?;
        let range = ix.name_entries(name)?;
        for i in range.clone() {
            let e = ix.entry(i)?;
            n += ix.postings(e.offset)?.len();
            let v = ix.symbol(e.value)?;
            ix.find_value(&range, v)?;
        }
    }
    for pos in 0..ix.num_series() {
        let rec = ix.series(pos)?;
        n += ix.labels(&rec)?.len();
    }
    ix.verify_sections()?;
    Ok(n)
}

/// Recomputes the section CRCs and the TOC's own CRC of an index file
/// (when its TOC places the sections back to back).
fn fix_index_checksums(path: &Path, bytes: &mut [u8]) {
    use format::{decode_toc, encode_toc, u64_at, SectionRef, NUM_SECTIONS, TOC_LEN};
    if bytes.len() < format::FILE_HEADER_LEN + TOC_LEN {
        return;
    }
    let toc_off = bytes.len() - TOC_LEN;
    let mut refs = [SectionRef::default(); NUM_SECTIONS];
    for (i, r) in refs.iter_mut().enumerate() {
        // an entry: offset u64, length u64, CRC u32
        let e = toc_off + i * 20;
        r.offset = u64_at(bytes, e).unwrap_or(0);
        r.len = u64_at(bytes, e + 8).unwrap_or(0);
    }
    // the TOC's own CRC first, so that its entries can be checked
    bytes[toc_off..].copy_from_slice(&encode_toc(&refs));
    if decode_toc(path, bytes).is_err() {
        return;
    }
    for r in &mut refs {
        let (o, l) = (r.offset as usize, r.len as usize);
        r.crc = crate::encoding::crc32c(&bytes[o..o + l]);
    }
    bytes[toc_off..].copy_from_slice(&encode_toc(&refs));
}

/// For the fuzz targets: [`matchers::literal_alternatives`] and
/// [`matchers::literal_prefix`] of `re`.
pub(crate) fn fuzz_regex_literals(re: &str) -> (Option<Vec<String>>, String) {
    (
        matchers::literal_alternatives(re),
        matchers::literal_prefix(re),
    )
}
