//! A Prometheus block's `index` file (format versions 1, 2 and 3): its
//! symbols, and its series in label order with their chunk references,
//! found through the postings list of the empty label pair (every series).

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{Cur, INDEX_MAGIC};
use crate::encoding::crc32c;
use crate::fs::ReadMap;
use crate::labels::{Label, Labels};
use crate::Error;

/// Length of the table of contents at the end of the file.
const TOC_LEN: usize = 6 * 8 + 4;

/// One chunk of a series: its time range and where its bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    /// First sample's timestamp.
    pub mint: i64,
    /// Last sample's timestamp.
    pub maxt: i64,
    /// Segment number (upper 32 bits) and offset in it (lower 32).
    pub r#ref: u64,
}

/// A series as the index holds it.
#[derive(Debug, Clone)]
pub struct Series {
    /// The series' reference (what tombstones name).
    pub r#ref: u64,
    /// Its labels.
    pub labels: Labels,
    /// Its chunks, in time order.
    pub chunks: Vec<ChunkMeta>,
}

/// An open index file.
pub struct IndexReader {
    path: PathBuf,
    map: ReadMap,
    version: u8,
    /// Version 2 and 3: the symbols by number.
    symbols: Vec<String>,
    /// Version 1: the symbol table's start (references are file offsets).
    symbols_at: usize,
    /// References of every series, in label order.
    all: Vec<u64>,
}

impl IndexReader {
    /// Opens and checks the header, table of contents, symbols and the
    /// list of every series.
    pub fn open(path: &Path) -> Result<IndexReader, Error> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let map = ReadMap::open(&f).map_err(|e| Error::io(path, e))?;
        let b = map.bytes();
        if b.len() < 5 + TOC_LEN {
            return Err(Error::corrupt(
                path,
                0,
                "index shorter than its header and table of contents",
            ));
        }
        let magic = u32::from_be_bytes(b[..4].try_into().expect("4 bytes"));
        if magic != INDEX_MAGIC {
            return Err(Error::unsupported(
                path,
                format!("not a Prometheus index (magic {magic:#x})"),
            ));
        }
        let version = b[4];
        if !(1..=3).contains(&version) {
            return Err(Error::unsupported(
                path,
                format!("index format version {version} (versions 1 to 3 are read)"),
            ));
        }
        let toc_at = b.len() - TOC_LEN;
        let toc = &b[toc_at..];
        if crc32c(&toc[..48]) != u32::from_be_bytes(toc[48..52].try_into().expect("4 bytes")) {
            return Err(Error::corrupt(
                path,
                toc_at as u64,
                "table of contents checksum mismatch",
            ));
        }
        let mut t = Cur::new(toc);
        let symbols_at = t.be64().expect("toc") as usize;
        let _series = t.be64();
        let _label_indices = t.be64();
        let _label_offsets = t.be64();
        let _postings = t.be64();
        let postings_table = t.be64().expect("toc") as usize;
        let mut r = IndexReader {
            path: path.to_path_buf(),
            map,
            version,
            symbols: Vec::new(),
            symbols_at,
            all: Vec::new(),
        };
        if version >= 2 {
            r.symbols = r.read_symbols()?;
        }
        r.all = r.all_postings(postings_table)?;
        Ok(r)
    }

    fn bytes(&self) -> &[u8] {
        self.map.bytes()
    }

    /// The body of a `len <4b> | body | CRC32 <4b>` section at `at`,
    /// checked.
    fn section(&self, at: usize, what: &str) -> Result<&[u8], Error> {
        let b = self.bytes();
        let mut c = Cur::at(b, at);
        let bad = |d: String| Error::corrupt(&self.path, at as u64, d);
        let len = c
            .be32()
            .ok_or_else(|| bad(format!("{what} past the end")))? as usize;
        let body = c
            .bytes(len)
            .ok_or_else(|| bad(format!("{what} of {len} bytes past the end")))?;
        let sum = c
            .be32()
            .ok_or_else(|| bad(format!("{what} checksum past the end")))?;
        if crc32c(body) != sum {
            return Err(bad(format!("{what} checksum mismatch")));
        }
        Ok(body)
    }

    fn read_symbols(&self) -> Result<Vec<String>, Error> {
        let body = self.section(self.symbols_at, "symbol table")?;
        let mut c = Cur::new(body);
        let n = c.be32().unwrap_or(0) as usize;
        let mut out = Vec::with_capacity(n.min(body.len()));
        for i in 0..n {
            let s = c.uvarint_bytes().ok_or_else(|| {
                Error::corrupt(
                    &self.path,
                    self.symbols_at as u64,
                    format!("symbol {i} of {n} cut short"),
                )
            })?;
            out.push(String::from_utf8_lossy(s).into_owned());
        }
        Ok(out)
    }

    fn symbol(&self, r: u32) -> Result<String, Error> {
        if self.version >= 2 {
            return self
                .symbols
                .get(r as usize)
                .cloned()
                .ok_or_else(|| Error::corrupt(&self.path, 0, format!("unknown symbol {r}")));
        }
        let mut c = Cur::at(self.bytes(), r as usize);
        c.uvarint_bytes()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .ok_or_else(|| Error::corrupt(&self.path, u64::from(r), "symbol past the end"))
    }

    /// The postings list of the label pair ("", "") — every series.
    fn all_postings(&self, table_at: usize) -> Result<Vec<u64>, Error> {
        if table_at == 0 {
            return Ok(Vec::new());
        }
        let body = self.section(table_at, "postings offset table")?;
        let mut c = Cur::new(body);
        let n = c.be32().unwrap_or(0);
        let mut at = None;
        for _ in 0..n {
            let cut = || {
                Error::corrupt(
                    &self.path,
                    table_at as u64,
                    "postings offset table cut short",
                )
            };
            let k = c.byte().ok_or_else(cut)?;
            if k != 2 {
                return Err(Error::corrupt(
                    &self.path,
                    table_at as u64,
                    format!("postings offset entry of {k} strings"),
                ));
            }
            let name = c.uvarint_bytes().ok_or_else(cut)?;
            let value = c.uvarint_bytes().ok_or_else(cut)?;
            let off = c.uvarint().ok_or_else(cut)?;
            if name.is_empty() && value.is_empty() {
                at = Some(off as usize);
                break;
            }
        }
        let Some(at) = at else {
            return Ok(Vec::new());
        };
        let body = self.section(at, "postings list")?;
        let mut c = Cur::new(body);
        let n = c.be32().unwrap_or(0) as usize;
        let mut out = Vec::with_capacity(n.min(body.len() / 4));
        for _ in 0..n {
            out.push(u64::from(c.be32().ok_or_else(|| {
                Error::corrupt(&self.path, at as u64, "postings list cut short")
            })?));
        }
        Ok(out)
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether the index holds no series.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The `i`-th series in label order.
    pub fn series(&self, i: usize) -> Result<Series, Error> {
        let r = self.all[i];
        let at = if self.version >= 2 { r * 16 } else { r } as usize;
        let b = self.bytes();
        let mut c = Cur::at(b, at);
        let bad = |d: &str| Error::corrupt(&self.path, at as u64, format!("series {r}: {d}"));
        let len = c.uvarint().ok_or_else(|| bad("length past the end"))? as usize;
        let body = c.bytes(len).ok_or_else(|| bad("past the end"))?;
        let sum = c.be32().ok_or_else(|| bad("checksum past the end"))?;
        if crc32c(body) != sum {
            return Err(bad("checksum mismatch"));
        }
        let mut c = Cur::new(body);
        let nl = c.uvarint().ok_or_else(|| bad("cut short"))?;
        let mut labels = Vec::with_capacity(nl.min(64) as usize);
        for _ in 0..nl {
            let n = c.uvarint().ok_or_else(|| bad("cut short"))?;
            let v = c.uvarint().ok_or_else(|| bad("cut short"))?;
            labels.push(Label::new(self.symbol(n as u32)?, self.symbol(v as u32)?));
        }
        let nc = c.uvarint().ok_or_else(|| bad("cut short"))?;
        let mut chunks = Vec::with_capacity(nc.min(4096) as usize);
        let (mut prev_maxt, mut prev_ref) = (0i64, 0u64);
        for i in 0..nc {
            let (mint, maxt, cref) = if i == 0 {
                let mint = c.varint().ok_or_else(|| bad("cut short"))?;
                let d = c.uvarint().ok_or_else(|| bad("cut short"))? as i64;
                let cref = c.uvarint().ok_or_else(|| bad("cut short"))?;
                (mint, mint.wrapping_add(d), cref)
            } else {
                let mint =
                    prev_maxt.wrapping_add(c.uvarint().ok_or_else(|| bad("cut short"))? as i64);
                let maxt = mint.wrapping_add(c.uvarint().ok_or_else(|| bad("cut short"))? as i64);
                let cref = (prev_ref as i64)
                    .wrapping_add(c.varint().ok_or_else(|| bad("cut short"))?)
                    as u64;
                (mint, maxt, cref)
            };
            chunks.push(ChunkMeta {
                mint,
                maxt,
                r#ref: cref,
            });
            (prev_maxt, prev_ref) = (maxt, cref);
        }
        Ok(Series {
            r#ref: r,
            labels: Labels::new(labels),
            chunks,
        })
    }
}
