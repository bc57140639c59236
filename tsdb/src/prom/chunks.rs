//! Prometheus's chunk files: a block's `chunks/NNNNNN` segments, read by
//! reference from its index, and the head's `chunks_head/NNNNNN` files,
//! read front to back (each chunk names its series).

use std::fs::File;
use std::path::{Path, PathBuf};

use super::Cur;
use crate::encoding::crc32c;
use crate::fs::ReadMap;
use crate::Error;

/// Magic number of block chunk segments.
pub const BLOCK_CHUNKS_MAGIC: u32 = 0x85BD_40DD;
/// Length of a chunk file's header (magic, version, padding).
const HEADER: usize = 8;

/// Chunk encodings Prometheus writes.
pub const ENC_XOR: u8 = 1;
/// Integer native histograms.
pub const ENC_HISTOGRAM: u8 = 2;
/// Float native histograms.
pub const ENC_FLOAT_HISTOGRAM: u8 = 3;
/// XOR with start timestamps (3.x, by configuration).
pub const ENC_XOR2: u8 = 4;
/// Histograms with start timestamps.
pub const ENC_HISTOGRAM_ST: u8 = 5;
/// Float histograms with start timestamps.
pub const ENC_FLOAT_HISTOGRAM_ST: u8 = 6;
/// The bit of a head chunk's encoding that marks it out of order.
pub const OOO_MASK: u8 = 0x80;

/// The name of a chunk encoding, for messages.
pub fn encoding_name(e: u8) -> &'static str {
    match e & !OOO_MASK {
        ENC_XOR => "XOR",
        ENC_HISTOGRAM => "histogram",
        ENC_FLOAT_HISTOGRAM => "floathistogram",
        ENC_XOR2 => "XOR2",
        ENC_HISTOGRAM_ST => "histogramST",
        ENC_FLOAT_HISTOGRAM_ST => "floathistogramST",
        _ => "unknown",
    }
}

/// Whether an encoding holds native histograms.
pub fn is_histogram(e: u8) -> bool {
    matches!(
        e & !OOO_MASK,
        ENC_HISTOGRAM | ENC_FLOAT_HISTOGRAM | ENC_HISTOGRAM_ST | ENC_FLOAT_HISTOGRAM_ST
    )
}

fn open_checked(path: &Path, magic: u32) -> Result<ReadMap, Error> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let map = ReadMap::open(&f).map_err(|e| Error::io(path, e))?;
    let b = map.bytes();
    if b.len() < HEADER {
        return Err(Error::corrupt(path, 0, "shorter than its header"));
    }
    let m = u32::from_be_bytes(b[..4].try_into().expect("4 bytes"));
    if m != magic {
        return Err(Error::unsupported(
            path,
            format!("unexpected magic number {m:#x}"),
        ));
    }
    if b[4] != 1 {
        return Err(Error::unsupported(
            path,
            format!("chunk file format version {} (version 1 is read)", b[4]),
        ));
    }
    Ok(map)
}

/// A block's chunk segments.
pub struct BlockChunks {
    segments: Vec<(PathBuf, ReadMap)>,
}

impl BlockChunks {
    /// Opens every segment of `block/chunks/`, checking their headers.
    pub fn open(block: &Path) -> Result<BlockChunks, Error> {
        let dir = block.join("chunks");
        let mut segments = Vec::new();
        for (i, (n, path)) in super::numbered(&dir)?.into_iter().enumerate() {
            if n != i as u64 + 1 {
                return Err(Error::corrupt(
                    &dir,
                    0,
                    format!("chunk segment {:06} missing", i + 1),
                ));
            }
            let map = open_checked(&path, BLOCK_CHUNKS_MAGIC)?;
            segments.push((path, map));
        }
        Ok(BlockChunks { segments })
    }

    /// The chunk at `r`: its encoding and data (checksum checked).
    pub fn get(&self, r: u64) -> Result<(u8, &[u8]), Error> {
        let seg = (r >> 32) as usize;
        let off = (r & 0xffff_ffff) as usize;
        let Some((path, map)) = self.segments.get(seg) else {
            return Err(Error::corrupt(
                &PathBuf::from("chunks"),
                off as u64,
                format!(
                    "chunk reference to segment {} of {}",
                    seg + 1,
                    self.segments.len()
                ),
            ));
        };
        let mut c = Cur::at(map.bytes(), off);
        let bad = |d: &str| Error::corrupt(path, off as u64, d.to_string());
        let len = c
            .uvarint()
            .ok_or_else(|| bad("chunk length past the end"))? as usize;
        let start = c.pos;
        let enc = c.byte().ok_or_else(|| bad("chunk past the end"))?;
        let data = c.bytes(len).ok_or_else(|| bad("chunk data past the end"))?;
        let sum = c.be32().ok_or_else(|| bad("chunk checksum past the end"))?;
        if crc32c(&map.bytes()[start..start + 1 + len]) != sum {
            return Err(bad("chunk checksum mismatch"));
        }
        Ok((enc, data))
    }
}

/// One chunk of a head chunk file.
#[derive(Debug, Clone)]
pub struct HeadChunk {
    /// The series' reference in the write-ahead log.
    pub series: u64,
    /// First sample's timestamp.
    pub mint: i64,
    /// Last sample's timestamp.
    pub maxt: i64,
    /// Encoding, the out-of-order bit included.
    pub encoding: u8,
    /// Chunk data.
    pub data: Vec<u8>,
}

/// What reading a head chunk file found.
#[derive(Debug, Default)]
pub struct HeadChunkFile {
    /// The chunks, in file order.
    pub chunks: Vec<HeadChunk>,
    /// Where reading stopped early and why (the rest of the file unread).
    pub damage: Option<(u64, String)>,
}

/// Reads a head chunk file front to back, up to its end (zeros) or the
/// first damaged chunk.
pub fn read_head_chunk_file(path: &Path) -> Result<HeadChunkFile, Error> {
    let map = open_checked(path, super::HEAD_CHUNKS_MAGIC)?;
    let b = map.bytes();
    let mut out = HeadChunkFile::default();
    let mut pos = HEADER;
    while pos < b.len() {
        // the rest of a file is zeros past its last chunk
        if b[pos..b.len().min(pos + 25)].iter().all(|&x| x == 0) {
            break;
        }
        let mut c = Cur::at(b, pos);
        let parsed = (|| {
            let series = c.be64()?;
            let mint = c.be64()? as i64;
            let maxt = c.be64()? as i64;
            let encoding = c.byte()?;
            let len = usize::try_from(c.uvarint()?).ok()?;
            let data = c.bytes(len)?;
            let end = c.pos;
            let sum = c.be32()?;
            Some((series, mint, maxt, encoding, data, end, sum))
        })();
        let Some((series, mint, maxt, encoding, data, end, sum)) = parsed else {
            out.damage = Some((pos as u64, "chunk cut short".into()));
            break;
        };
        if crc32c(&b[pos..end]) != sum {
            out.damage = Some((pos as u64, "chunk checksum mismatch".into()));
            break;
        }
        out.chunks.push(HeadChunk {
            series,
            mint,
            maxt,
            encoding,
            data: data.to_vec(),
        });
        pos = end + 4;
    }
    Ok(out)
}
