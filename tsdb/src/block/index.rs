//! Reading a block's `index` file in place from its memory map: symbols,
//! series records, postings lists and the postings offset table are all
//! looked up by binary search or direct offset, nothing is loaded at open.
//!
//! Checks: the header and TOC at open; the CRC of the symbols, postings
//! table and series table sections on first use (once); the CRC of each
//! series record and postings list every time it is read; the series and
//! postings sections' own CRCs by [`Index::verify_sections`].

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::format::{
    check_header, corrupt, decode_toc, u32_at, u64_at, Cursor, Section, SectionRef, INDEX_MAGIC,
    INDEX_VERSION, NUM_SECTIONS, SECTIONS, SERIES_ENTRY_LEN, TABLE_ENTRY_LEN,
};
use crate::encoding::crc32c;
use crate::fs::ReadMap;
use crate::labels::{Label, Labels};
use crate::packed::PackedLabels;
use crate::Error;

/// A chunk's place in a series record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkMeta {
    /// First sample's timestamp, ms.
    pub mint: i64,
    /// Last sample's timestamp, ms.
    pub maxt: i64,
    /// Offset of the chunk record in the `chunks` file.
    pub offset: u64,
}

/// A decoded series record: label symbol refs and chunk metas.
#[derive(Clone, Debug, Default)]
pub(crate) struct SeriesRecord {
    /// (name ref, value ref) pairs in name order.
    pub labels: Vec<(u32, u32)>,
    /// Chunks sorted by mint.
    pub chunks: Vec<ChunkMeta>,
}

/// One postings-table entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableEntry {
    /// Symbol ref of the label name.
    pub name: u32,
    /// Symbol ref of the label value.
    pub value: u32,
    /// Offset of the postings list in the index file.
    pub offset: u64,
}

/// An open, mapped index file.
pub(crate) struct Index {
    path: PathBuf,
    map: ReadMap,
    toc: [SectionRef; NUM_SECTIONS],
    n_symbols: u32,
    n_series: u32,
    n_entries: u64,
    /// Result of the section CRC check, per section, once done.
    checked: [OnceLock<Result<(), String>>; NUM_SECTIONS],
}

impl Index {
    /// Maps the file and checks its header and TOC (cheap: no section is
    /// read beyond the symbol count).
    pub(crate) fn open(path: &Path) -> Result<Index, Error> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let map = ReadMap::open(&file).map_err(|e| Error::io(path, e))?;
        let b = map.bytes();
        check_header(path, b, INDEX_MAGIC, INDEX_VERSION)?;
        let toc = decode_toc(path, b)?;
        let sym = toc[Section::Symbols as usize];
        let n_symbols = u32_at(b, sym.offset as usize)
            .ok_or_else(|| corrupt(path, sym.offset, "symbols section too short"))?;
        if 4 + 4 * u64::from(n_symbols) > sym.len {
            return Err(corrupt(path, sym.offset, "symbol count exceeds section"));
        }
        let st = toc[Section::SeriesTable as usize];
        let pt = toc[Section::PostingsTable as usize];
        if st.len % SERIES_ENTRY_LEN as u64 != 0 || st.len / 8 > u64::from(u32::MAX) {
            return Err(corrupt(path, st.offset, "bad series table length"));
        }
        if pt.len % TABLE_ENTRY_LEN as u64 != 0 {
            return Err(corrupt(path, pt.offset, "bad postings table length"));
        }
        Ok(Index {
            path: path.to_path_buf(),
            n_symbols,
            n_series: (st.len / SERIES_ENTRY_LEN as u64) as u32,
            n_entries: pt.len / TABLE_ENTRY_LEN as u64,
            toc,
            map,
            checked: Default::default(),
        })
    }

    /// Number of series.
    pub(crate) fn num_series(&self) -> u32 {
        self.n_series
    }

    /// Size of the file in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.map.bytes().len() as u64
    }

    /// The index file's path.
    #[allow(dead_code)] // used by verify and tests
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, offset: u64, detail: impl Into<String>) -> Error {
        corrupt(&self.path, offset, detail)
    }

    /// The bytes of a section, after checking its CRC once.
    fn section(&self, s: Section) -> Result<&[u8], Error> {
        let r = self.toc[s as usize];
        let b = self.raw_section(s);
        let res = self.checked[s as usize].get_or_init(|| {
            if crc32c(b) == r.crc {
                Ok(())
            } else {
                Err(format!("{} section checksum mismatch", s.name()))
            }
        });
        match res {
            Ok(()) => Ok(b),
            Err(d) => Err(self.err(r.offset, d.clone())),
        }
    }

    /// The bytes of a section, unchecked (the TOC guarantees the bounds).
    fn raw_section(&self, s: Section) -> &[u8] {
        let r = self.toc[s as usize];
        let b = self.map.bytes();
        b.get(r.offset as usize..(r.offset + r.len) as usize)
            .unwrap_or(&[])
    }

    /// Checks every section's CRC (the series and postings sections are
    /// otherwise only checked record by record).
    pub(crate) fn verify_sections(&self) -> Result<(), Error> {
        for s in SECTIONS {
            let r = self.toc[s as usize];
            if crc32c(self.raw_section(s)) != r.crc {
                return Err(self.err(r.offset, format!("{} section checksum mismatch", s.name())));
            }
        }
        Ok(())
    }

    /// The bytes of symbol `r`.
    pub(crate) fn symbol_bytes(&self, r: u32) -> Result<&[u8], Error> {
        self.symbol_in(self.section(Section::Symbols)?, r)
    }

    /// The bytes of symbol `r` in `sec`, the symbols section.
    fn symbol_in<'a>(&self, sec: &'a [u8], r: u32) -> Result<&'a [u8], Error> {
        let base = self.toc[Section::Symbols as usize].offset;
        if r >= self.n_symbols {
            return Err(self.err(base, format!("symbol ref {r} out of range")));
        }
        let off = u32_at(sec, 4 + 4 * r as usize).unwrap_or(u32::MAX) as usize;
        let mut c = Cursor::at(sec, off);
        c.uvarint()
            .and_then(|n| c.bytes(usize::try_from(n).ok()?))
            .ok_or_else(|| self.err(base + off as u64, "symbol runs past its section"))
    }

    /// Symbol `r` as a string.
    pub(crate) fn symbol(&self, r: u32) -> Result<&str, Error> {
        let b = self.symbol_bytes(r)?;
        std::str::from_utf8(b).map_err(|_| self.err(0, format!("symbol {r} is not UTF-8")))
    }

    /// The ref of symbol `s`, if the block has it.
    pub(crate) fn lookup_symbol(&self, s: &str) -> Result<Option<u32>, Error> {
        let i = lower_bound(u64::from(self.n_symbols), |i| {
            Ok(self.symbol_bytes(i as u32)? < s.as_bytes())
        })?;
        if i < u64::from(self.n_symbols) && self.symbol_bytes(i as u32)? == s.as_bytes() {
            return Ok(Some(i as u32));
        }
        Ok(None)
    }

    /// Postings-table entry `i`.
    pub(crate) fn entry(&self, i: u64) -> Result<TableEntry, Error> {
        let t = self.section(Section::PostingsTable)?;
        let o = usize::try_from(i)
            .unwrap_or(usize::MAX)
            .saturating_mul(TABLE_ENTRY_LEN);
        match (
            u32_at(t, o),
            u32_at(t, o.saturating_add(4)),
            u64_at(t, o.saturating_add(8)),
        ) {
            (Some(name), Some(value), Some(offset)) => Ok(TableEntry {
                name,
                value,
                offset,
            }),
            _ => Err(self.err(
                self.toc[Section::PostingsTable as usize].offset,
                "entry out of range",
            )),
        }
    }

    /// Number of postings-table entries.
    pub(crate) fn num_entries(&self) -> u64 {
        self.n_entries
    }

    /// The range of table entries whose label name is symbol `name`.
    pub(crate) fn name_entries(&self, name: u32) -> Result<Range<u64>, Error> {
        let lo = lower_bound(self.n_entries, |i| Ok(self.entry(i)?.name < name))?;
        let hi = lower_bound(self.n_entries, |i| Ok(self.entry(i)?.name <= name))?;
        Ok(lo..hi.max(lo))
    }

    /// The first entry in `range` whose value sorts at or after `v`.
    pub(crate) fn value_lower_bound(&self, range: &Range<u64>, v: &[u8]) -> Result<u64, Error> {
        let n = range.end - range.start;
        let i = lower_bound(n, |i| {
            let e = self.entry(range.start + i)?;
            Ok(self.symbol_bytes(e.value)? < v)
        })?;
        Ok(range.start + i)
    }

    /// The entry in `range` whose value is `v`, if any.
    pub(crate) fn find_value(&self, range: &Range<u64>, v: &str) -> Result<Option<u64>, Error> {
        let i = self.value_lower_bound(range, v.as_bytes())?;
        if i < range.end && self.symbol_bytes(self.entry(i)?.value)? == v.as_bytes() {
            return Ok(Some(i));
        }
        Ok(None)
    }

    /// Distinct label names in the block, in order.
    pub(crate) fn names(&self) -> Result<Vec<u32>, Error> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.n_entries {
            let name = self.entry(i)?.name;
            out.push(name);
            i = self.name_entries(name)?.end.max(i + 1);
        }
        Ok(out)
    }

    /// Reads the postings list at absolute `offset`: sorted series positions.
    pub(crate) fn postings(&self, offset: u64) -> Result<Vec<u32>, Error> {
        let b = self.map.bytes();
        let sec = self.toc[Section::Postings as usize];
        if offset < sec.offset || offset >= sec.offset + sec.len {
            return Err(self.err(offset, "postings offset outside its section"));
        }
        let end = (sec.offset + sec.len) as usize;
        let b = &b[..end];
        let start = offset as usize;
        let mut c = Cursor::at(b, start);
        let bad = |what: &str| self.err(offset, format!("postings list: {what}"));
        let n = c.uvarint().ok_or_else(|| bad("truncated"))?;
        if n > u64::from(self.n_series) {
            return Err(bad("longer than the series count"));
        }
        let mut out = Vec::with_capacity(n as usize);
        let mut prev = 0u32;
        for i in 0..n {
            let d = c.uvarint32().ok_or_else(|| bad("truncated"))?;
            let p = if i == 0 {
                d
            } else if d == 0 {
                return Err(bad("not strictly increasing"));
            } else {
                prev.checked_add(d)
                    .ok_or_else(|| bad("position overflow"))?
            };
            out.push(p);
            prev = p;
        }
        let body = &b[start..c.pos()];
        let crc = c.u32().ok_or_else(|| bad("truncated"))?;
        if crc32c(body) != crc {
            return Err(bad("checksum mismatch"));
        }
        if prev >= self.n_series && n > 0 {
            return Err(bad("position out of range"));
        }
        Ok(out)
    }

    /// Reads the series record at position `pos`.
    pub(crate) fn series(&self, pos: u32) -> Result<SeriesRecord, Error> {
        let table = self.section(Section::SeriesTable)?;
        let sec = self.toc[Section::Series as usize];
        let offset = u64_at(table, pos as usize * SERIES_ENTRY_LEN)
            .ok_or_else(|| self.err(sec.offset, format!("series position {pos} out of range")))?;
        if offset < sec.offset || offset >= sec.offset + sec.len {
            return Err(self.err(offset, "series offset outside its section"));
        }
        let b = &self.map.bytes()[..(sec.offset + sec.len) as usize];
        let bad = |what: &str| self.err(offset, format!("series record: {what}"));
        let mut c = Cursor::at(b, offset as usize);
        let len = c.uvarint().ok_or_else(|| bad("truncated"))?;
        let body = c
            .bytes(usize::try_from(len).unwrap_or(usize::MAX))
            .ok_or_else(|| bad("runs past its section"))?;
        let crc = c.u32().ok_or_else(|| bad("truncated"))?;
        if crc32c(body) != crc {
            return Err(bad("checksum mismatch"));
        }
        decode_series(body).ok_or_else(|| bad("malformed"))
    }

    /// The labels of a series record, checked: names strictly increasing,
    /// values non-empty. The symbols section is looked up once, and the
    /// set built in one allocation.
    pub(crate) fn labels(&self, rec: &SeriesRecord) -> Result<Labels, Error> {
        const ON_STACK: usize = 16;
        let sec = self.section(Section::Symbols)?;
        let text = |r: u32| {
            std::str::from_utf8(self.symbol_in(sec, r)?)
                .map_err(|_| self.err(0, format!("symbol {r} is not UTF-8")))
        };
        let mut first = [("", ""); ON_STACK];
        let mut rest = Vec::new();
        let mut n = 0;
        self.each_pair(rec, text, |name, value| {
            match first.get_mut(n) {
                Some(p) => *p = (name, value),
                None => rest.push((name, value)),
            }
            n += 1;
        })?;
        let pairs = first[..n.min(ON_STACK)].iter().chain(&rest);
        Ok(Labels::from_sorted_iter(
            n,
            pairs.map(|&(name, value)| Label::new(name, value)),
        ))
    }

    /// [`Index::labels`], packed into one allocation (the symbols section
    /// is looked up once, and the strings checked as UTF-8 all at once).
    pub(crate) fn packed_labels(&self, rec: &SeriesRecord) -> Result<PackedLabels, Error> {
        let sec = self.section(Section::Symbols)?;
        let mut pairs: Vec<(&[u8], &[u8])> = Vec::with_capacity(rec.labels.len());
        self.each_pair(rec, |r| self.symbol_in(sec, r), |n, v| pairs.push((n, v)))?;
        PackedLabels::from_sorted_byte_pairs(pairs.into_iter())
            .ok_or_else(|| self.err(0, "series labels are not UTF-8"))
    }

    /// Hands `f` the names and values of a series record in order, each
    /// looked up with `symbol`, checked as [`Index::labels`] says.
    fn each_pair<'a, S>(
        &self,
        rec: &SeriesRecord,
        symbol: impl Fn(u32) -> Result<&'a S, Error>,
        mut f: impl FnMut(&'a S, &'a S),
    ) -> Result<(), Error>
    where
        S: ?Sized + Ord + AsRef<[u8]> + 'a,
    {
        let mut last: Option<&S> = None;
        for &(n, v) in &rec.labels {
            let (name, value) = (symbol(n)?, symbol(v)?);
            if value.as_ref().is_empty() || last.is_some_and(|l| l >= name) {
                return Err(self.err(0, "series labels not sorted or empty value"));
            }
            last = Some(name);
            f(name, value);
        }
        Ok(())
    }
}

/// Decodes a series record body; `None` if malformed.
pub(super) fn decode_series(body: &[u8]) -> Option<SeriesRecord> {
    let mut c = Cursor::at(body, 0);
    let n = c.uvarint()?;
    if n > body.len() as u64 {
        return None;
    }
    let mut labels = Vec::with_capacity(n as usize);
    for _ in 0..n {
        labels.push((c.uvarint32()?, c.uvarint32()?));
    }
    let n = c.uvarint()?;
    if n > body.len() as u64 {
        return None;
    }
    let mut chunks: Vec<ChunkMeta> = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (mint, span, offset) = match chunks.last() {
            None => (c.varint()?, c.uvarint()?, c.uvarint()?),
            Some(p) => {
                let mint = p.maxt.checked_add(c.varint()?)?;
                (mint, c.uvarint()?, p.offset.checked_add(c.uvarint()?)?)
            }
        };
        let maxt = i64::try_from(i128::from(mint) + i128::from(span)).ok()?;
        if i > 0 && offset == chunks[chunks.len() - 1].offset {
            return None;
        }
        chunks.push(ChunkMeta { mint, maxt, offset });
    }
    if c.pos() != body.len() {
        return None;
    }
    Some(SeriesRecord { labels, chunks })
}

/// The first `i` in `0..n` for which `less(i)` is false, assuming it is
/// true for a prefix (binary search with a fallible predicate).
pub(crate) fn lower_bound(
    n: u64,
    mut less: impl FnMut(u64) -> Result<bool, Error>,
) -> Result<u64, Error> {
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if less(mid)? {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}
