//! The records of the store's files and the files themselves: a chunk
//! record's payload (labels, time range, sample count and the encoded
//! chunk), labels as bytes, the framing of each record with its length
//! and checksum and reading the records back up to the first damaged one;
//! creating, replacing and opening a file with its header (a torn tail
//! cut), and converting range files of version 1.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use super::{chunk, HEADER, PART_MAGIC, VERSION};
use crate::encoding::{crc32c, put_uvarint, put_varint, Cursor};
use crate::labels::{Label, Labels};
use crate::Error;

/// A chunk record's payload in a range file: labels, mint, maxt, count,
/// bit length, bytes.
pub(super) fn encode_chunk(
    labels: &Labels,
    mint: i64,
    maxt: i64,
    enc: &chunk::Encoder,
    out: &mut Vec<u8>,
) {
    put_labels(out, labels);
    put_varint(out, mint);
    put_varint(out, maxt);
    put_uvarint(out, u64::from(enc.count()));
    let (bytes, bits) = enc.bytes();
    put_uvarint(out, bits as u64);
    out.extend_from_slice(bytes);
}

pub(super) struct DecodedChunk {
    pub(super) labels: Labels,
    pub(super) mint: i64,
    pub(super) maxt: i64,
    pub(super) count: u32,
    pub(super) bits: usize,
    pub(super) data: Vec<u8>,
}

pub(super) fn decode_chunk(payload: &[u8]) -> Option<DecodedChunk> {
    let mut c = Cursor::at(payload, 0);
    let labels = get_labels(&mut c)?;
    let mint = c.varint()?;
    let maxt = c.varint()?;
    let count = u32::try_from(c.uvarint()?).ok()?;
    let bits = usize::try_from(c.uvarint()?).ok()?;
    let data = c.bytes(bits.div_ceil(8))?.to_vec();
    (c.pos() == payload.len()).then_some(DecodedChunk {
        labels,
        mint,
        maxt,
        count,
        bits,
        data,
    })
}

/// Labels as a count and each label's name and value, lengths first.
pub(crate) fn put_labels(out: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(out, labels.len() as u64);
    for l in labels.iter() {
        put_uvarint(out, l.name.len() as u64);
        out.extend_from_slice(l.name.as_bytes());
        put_uvarint(out, l.value.len() as u64);
        out.extend_from_slice(l.value.as_bytes());
    }
}

/// Reads what [`put_labels`] wrote.
pub(crate) fn get_labels(c: &mut Cursor<'_>) -> Option<Labels> {
    let n = c.uvarint()?;
    if n > 1 << 16 {
        return None;
    }
    let mut v = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let len = usize::try_from(c.uvarint()?).ok()?;
        let name = String::from_utf8(c.bytes(len)?.to_vec()).ok()?;
        let len = usize::try_from(c.uvarint()?).ok()?;
        let value = String::from_utf8(c.bytes(len)?.to_vec()).ok()?;
        v.push(Label::new(name, value));
    }
    Some(Labels::new(v))
}

/// `[len u32][crc32c u32][payload]`.
pub(super) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The records of a file after its header: payloads with their offsets,
/// up to the first damaged one; and the length of the good part.
pub(super) fn records(data: &[u8]) -> (Vec<(u64, &[u8])>, u64) {
    let mut out = Vec::new();
    let mut off = HEADER as usize;
    while let Some(head) = data.get(off..off + 8) {
        let len = u32::from_le_bytes(head[..4].try_into().expect("4")) as usize;
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4"));
        let Some(payload) = data.get(off + 8..off + 8 + len) else {
            break;
        };
        if len == 0 || crc32c(payload) != crc {
            break;
        }
        out.push((off as u64, payload));
        off += 8 + len;
    }
    (out, off.min(data.len()) as u64)
}

pub(super) fn new_file(path: &Path, magic: &[u8; 4]) -> Result<File, Error> {
    let mut f = File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let mut h = [0u8; HEADER as usize];
    h[..4].copy_from_slice(magic);
    h[4] = VERSION;
    f.write_all(&h).map_err(|e| Error::io(path, e))?;
    Ok(f)
}

/// Writes a file of the store whole: its header and `body` into
/// `<path>.tmp`, synced, then renamed over `path`. Returns the new file.
pub(super) fn replace_file(path: &Path, magic: &[u8; 4], body: &[u8]) -> Result<File, Error> {
    let tmp = path.with_extension("tmp");
    let mut f = new_file(&tmp, magic)?;
    f.write_all(body).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent() {
        crate::fs::sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(f)
}

/// Opens a file of the store, checking its header; a torn tail is cut.
pub(super) fn open_file(path: &Path, magic: &[u8; 4]) -> Result<(File, Vec<u8>, u64), Error> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if data.len() < HEADER as usize || &data[..4] != magic || !(1..=VERSION).contains(&data[4]) {
        return Err(Error::Corruption {
            path: path.to_path_buf(),
            offset: 0,
            detail: "not a histogram store file of version 1 or 2".into(),
        });
    }
    let (_, good) = records(&data);
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    if good < data.len() as u64 {
        tracing::warn!(component = "tsdb", file = %path.display(), cut_bytes = data.len() as u64 - good, "Histogram store file cut after its last whole record");
        file.set_len(good).map_err(|e| Error::io(path, e))?;
    }
    Ok((file, data, good))
}

/// Rewrites a version 1 range file (its `good` bytes) in version 2: each
/// chunk's samples encoded again, the same chunks in the same order.
pub(super) fn convert_range_v1(path: &Path, good: &[u8]) -> Result<(), Error> {
    let bad = |off: u64| Error::Corruption {
        path: path.to_path_buf(),
        offset: off,
        detail: "malformed histogram chunk record".into(),
    };
    let mut out = Vec::with_capacity(good.len());
    for (off, payload) in records(good).0 {
        let c = decode_chunk(payload).ok_or_else(|| bad(off))?;
        let samples = chunk::decode_version(1, &c.data, c.bits, c.count).ok_or_else(|| bad(off))?;
        let mut enc = chunk::Encoder::default();
        for (t, h) in &samples {
            enc.append(*t, h);
        }
        let mut p = Vec::new();
        encode_chunk(&c.labels, c.mint, c.maxt, &enc, &mut p);
        out.extend_from_slice(&frame(&p));
    }
    replace_file(path, PART_MAGIC, &out)?;
    tracing::info!(component = "tsdb", file = %path.display(), "Histogram range file converted to version 2");
    Ok(())
}
