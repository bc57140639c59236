//! Constants and byte-level helpers shared by the block writer and reader:
//! file headers, the index TOC, varints and a bounds-checked cursor.
//! Layout in `docs/format/block.md`.

use std::path::Path;

pub(crate) use crate::encoding::{put_uvarint, put_varint, Cursor};
use crate::Error;

/// Magic of the `chunks` file.
pub(crate) const CHUNKS_MAGIC: &[u8; 4] = b"FLBC";
/// Magic of the `index` file.
pub(crate) const INDEX_MAGIC: &[u8; 4] = b"FLBI";
/// Version of the `index` file.
pub(crate) const INDEX_VERSION: u8 = 1;
/// Version of the `chunks` file: 2 adds delta chunks (encoding 2) to the
/// XOR chunks of version 1, 3 the delta encoding's second layout
/// (encoding 3), 4 chunks stored against an earlier chunk (encoding 4);
/// versions 1 to 3 are still read.
pub(crate) const CHUNKS_VERSION: u8 = 4;
/// Bytes of each file's header: magic, version, 3 zero bytes.
pub(crate) const FILE_HEADER_LEN: usize = 8;

/// Name of the chunks file inside a block folder.
pub(crate) const CHUNKS_FILE: &str = "chunks";
/// Name of the index file inside a block folder.
pub(crate) const INDEX_FILE: &str = "index";
/// Name of the meta file inside a block folder.
pub(crate) const META_FILE: &str = "meta.json";

/// Bytes of a chunk record before its data: encoding, count, bit length.
pub(crate) const CHUNK_HEADER_LEN: usize = 5;
/// Bytes of a postings-table entry: name ref u32, value ref u32, offset u64.
pub(crate) const TABLE_ENTRY_LEN: usize = 16;
/// Bytes of a series-table entry: offset u64.
pub(crate) const SERIES_ENTRY_LEN: usize = 8;

/// The index sections, in file order; the TOC lists them in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    /// Sorted unique strings.
    Symbols = 0,
    /// Series records.
    Series = 1,
    /// Postings lists.
    Postings = 2,
    /// The postings offset table: (name, value) → list.
    PostingsTable = 3,
    /// Series position → series record offset.
    SeriesTable = 4,
}

/// Number of sections.
pub(crate) const NUM_SECTIONS: usize = 5;
/// All sections in file order.
pub(crate) const SECTIONS: [Section; NUM_SECTIONS] = [
    Section::Symbols,
    Section::Series,
    Section::Postings,
    Section::PostingsTable,
    Section::SeriesTable,
];

impl Section {
    /// The section's name, for error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Section::Symbols => "symbols",
            Section::Series => "series",
            Section::Postings => "postings",
            Section::PostingsTable => "postings table",
            Section::SeriesTable => "series table",
        }
    }
}

/// One TOC entry: where a section is and its checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SectionRef {
    /// Absolute byte offset in the index file.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// CRC32C of the section's bytes.
    pub crc: u32,
}

/// Bytes of one TOC entry.
const TOC_ENTRY_LEN: usize = 20;
/// Bytes of the TOC: the entries, then a CRC32C of them.
pub(crate) const TOC_LEN: usize = NUM_SECTIONS * TOC_ENTRY_LEN + 4;

/// Encodes the TOC.
pub(crate) fn encode_toc(sections: &[SectionRef; NUM_SECTIONS]) -> Vec<u8> {
    let mut b = Vec::with_capacity(TOC_LEN);
    for s in sections {
        b.extend_from_slice(&s.offset.to_le_bytes());
        b.extend_from_slice(&s.len.to_le_bytes());
        b.extend_from_slice(&s.crc.to_le_bytes());
    }
    let crc = crate::encoding::crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes and checks the TOC at the end of the index file `file`: CRC,
/// sections in order, back to back from the header to the TOC.
pub(crate) fn decode_toc(path: &Path, file: &[u8]) -> Result<[SectionRef; NUM_SECTIONS], Error> {
    let file_len = file.len();
    if file_len < FILE_HEADER_LEN + TOC_LEN {
        return Err(corrupt(path, 0, "index file too short"));
    }
    let toc_off = file_len - TOC_LEN;
    let toc = &file[toc_off..];
    let body = &toc[..TOC_LEN - 4];
    let want = u32_at(toc, TOC_LEN - 4).unwrap_or(0);
    if crate::encoding::crc32c(body) != want {
        return Err(corrupt(path, toc_off as u64, "TOC checksum mismatch"));
    }
    let mut out = [SectionRef::default(); NUM_SECTIONS];
    let mut expect = FILE_HEADER_LEN as u64;
    for (i, s) in out.iter_mut().enumerate() {
        let e = i * TOC_ENTRY_LEN;
        *s = SectionRef {
            offset: u64_at(body, e).unwrap_or(u64::MAX),
            len: u64_at(body, e + 8).unwrap_or(u64::MAX),
            crc: u32_at(body, e + 16).unwrap_or(0),
        };
        if s.offset != expect {
            return Err(corrupt(
                path,
                toc_off as u64,
                format!(
                    "section {} at {} instead of {expect}",
                    SECTIONS[i].name(),
                    s.offset
                ),
            ));
        }
        expect = s
            .offset
            .checked_add(s.len)
            .ok_or_else(|| corrupt(path, toc_off as u64, "section length overflows"))?;
    }
    if expect != toc_off as u64 {
        return Err(corrupt(
            path,
            toc_off as u64,
            format!("sections end at {expect}, TOC starts at {toc_off}"),
        ));
    }
    Ok(out)
}

/// Encodes a file header.
pub(crate) fn file_header(magic: &[u8; 4], version: u8) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..4].copy_from_slice(magic);
    h[4] = version;
    h
}

/// Checks a file header: magic, a version from 1 to `newest`, zero
/// padding. Returns the version.
pub(crate) fn check_header(
    path: &Path,
    file: &[u8],
    magic: &[u8; 4],
    newest: u8,
) -> Result<u8, Error> {
    let Some(h) = file.get(..FILE_HEADER_LEN) else {
        return Err(corrupt(path, 0, "file shorter than its header"));
    };
    if &h[..4] != magic {
        return Err(corrupt(path, 0, "bad magic"));
    }
    if !(1..=newest).contains(&h[4]) {
        return Err(corrupt(path, 4, format!("unsupported version {}", h[4])));
    }
    if h[5..].iter().any(|&b| b != 0) {
        return Err(corrupt(path, 5, "nonzero reserved header bytes"));
    }
    Ok(h[4])
}

/// A corruption error.
pub(crate) fn corrupt(path: &Path, offset: u64, detail: impl Into<String>) -> Error {
    Error::Corruption {
        path: path.to_path_buf(),
        offset,
        detail: detail.into(),
    }
}

/// Little-endian u32 at `off`, if in bounds.
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Little-endian u64 at `off`, if in bounds.
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_roundtrip_and_reject_garbage() {
        let vals = [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX];
        let mut b = Vec::new();
        for v in vals {
            put_varint(&mut b, v);
            put_uvarint(&mut b, v as u64);
        }
        let mut c = Cursor::at(&b, 0);
        for v in vals {
            assert_eq!(c.varint(), Some(v));
            assert_eq!(c.uvarint(), Some(v as u64));
        }
        assert_eq!(c.uvarint(), None);
        let over = [0xffu8; 11];
        assert_eq!(Cursor::at(&over, 0).uvarint(), None);
        let mut big = vec![0xffu8; 9];
        big.push(0x02);
        assert_eq!(Cursor::at(&big, 0).uvarint(), None);
    }

    #[test]
    fn toc_roundtrip() {
        let mut secs = [SectionRef::default(); NUM_SECTIONS];
        let mut off = FILE_HEADER_LEN as u64;
        for (i, s) in secs.iter_mut().enumerate() {
            *s = SectionRef {
                offset: off,
                len: i as u64 * 3,
                crc: i as u32,
            };
            off += s.len;
        }
        let mut file = vec![0u8; off as usize];
        file.extend(encode_toc(&secs));
        let p = Path::new("x");
        assert_eq!(decode_toc(p, &file).unwrap(), secs);
        file[off as usize + 3] ^= 1;
        assert!(decode_toc(p, &file).is_err());
    }
}
