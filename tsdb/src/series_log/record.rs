//! Series log records. The second layout (version 2, written) frames each
//! record as `kind | length | body | CRC32C` and names a label string met
//! before in the file by a symbol number; the first layout (version 1,
//! read only) holds every string in full. Layouts in
//! `docs/format/series.md`.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use crate::encoding::{crc32c, put_uvarint, Cursor, Decoder};
use crate::fasthash::FxBuild;
use crate::packed::PackedLabels;

/// A series: reference and labels.
pub(super) const KIND_SERIES: u8 = 1;
/// Symbol definitions: strings numbered from a first number on.
pub(super) const KIND_SYMBOLS: u8 = 2;
/// Largest record body accepted (a label set far beyond any real one).
pub(super) const MAX_RECORD: usize = 1 << 20;
/// Symbol numbers a reader accepts (a sanity bound: a writer numbers
/// from 0 up, a few per series at most).
const MAX_SYMBOLS: usize = 1 << 30;
/// Series records a writer's symbols serve before it defines them anew,
/// so that a damaged symbols record can cost at most the series written
/// up to there.
pub(super) const SYMBOL_EPOCH: usize = 256;
/// Strings a writer remembers having met once (not yet symbols) before it
/// forgets them all.
const MAX_MET_ONCE: usize = 1 << 14;

/// A first-layout record at `pos` (`len u32 | crc u32 | body`): its body
/// and whole length, if it is whole and its CRC matches.
pub(super) fn frame_v1(bytes: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let n = u32::from_le_bytes(bytes.get(pos..pos + 4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(pos + 4..pos + 8)?.try_into().ok()?);
    if !(10..=MAX_RECORD).contains(&n) {
        return None;
    }
    let body = bytes.get(pos + 8..(pos + 8).checked_add(n)?)?;
    (crc32c(body) == crc).then_some((body, 8 + n))
}

/// A first-layout body: `ref u64 | n u16 | n × (name_len u16, name,
/// value_len u32, value)`.
pub(super) fn decode_v1(body: &[u8]) -> Option<(u64, PackedLabels)> {
    let mut d = Decoder::new(body);
    let id = d.u64()?;
    let n = d.u16()?;
    let mut labels: Vec<(&str, &str)> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let name = std::str::from_utf8(d.bytes16()?).ok()?;
        let value = std::str::from_utf8(d.bytes32()?).ok()?;
        labels.push((name, value));
    }
    if d.remaining() != 0 {
        return None;
    }
    sorted(id, &labels)
}

fn sorted(id: u64, labels: &[(&str, &str)]) -> Option<(u64, PackedLabels)> {
    labels
        .windows(2)
        .all(|w| w[0].0 < w[1].0)
        .then(|| (id, PackedLabels::from_sorted_pairs(labels.iter().copied())))
}

/// A second-layout record at `pos`: its kind, body and whole length, if
/// it is whole, of a known kind and its CRC matches.
pub(super) fn frame_v2(bytes: &[u8], pos: usize) -> Option<(u8, &[u8], usize)> {
    let kind = *bytes.get(pos)?;
    if kind != KIND_SERIES && kind != KIND_SYMBOLS {
        return None;
    }
    let mut c = Cursor::at(bytes, pos + 1);
    let n = c.uvarint()? as usize;
    if n == 0 || n > MAX_RECORD {
        return None;
    }
    let start = c.pos();
    let body = c.bytes(n)?;
    let crc = c.u32()?;
    (crc32c(&bytes[pos..start + n]) == crc).then_some((kind, body, c.pos() - pos))
}

fn put_frame(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    let start = out.len();
    out.push(kind);
    put_uvarint(out, body.len() as u64);
    out.extend_from_slice(body);
    let crc = crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// The symbols read so far from a second-layout log.
pub(super) struct SymbolTable<'a> {
    strings: Vec<Option<&'a str>>,
    /// Symbol numbers accepted: below [`MAX_SYMBOLS`] and the file's
    /// length (each symbol takes at least a byte), so that a damaged
    /// number cannot size the table.
    limit: usize,
}

impl<'a> SymbolTable<'a> {
    /// An empty table for a log of `file_len` bytes.
    pub(super) fn for_file(file_len: usize) -> Self {
        SymbolTable {
            strings: Vec::new(),
            limit: file_len.min(MAX_SYMBOLS),
        }
    }

    /// Takes a symbols record's body: `first uvarint | count uvarint |
    /// count × (len uvarint, bytes)`.
    pub(super) fn define(&mut self, body: &'a [u8]) -> Option<()> {
        let mut c = Cursor::at(body, 0);
        let first = c.uvarint32()? as usize;
        let count = c.uvarint()? as usize;
        // each string takes at least its length byte
        if count > body.len() {
            return None;
        }
        let end = first.checked_add(count)?;
        if end > self.limit {
            return None;
        }
        if self.strings.len() < end {
            self.strings.resize(end, None);
        }
        for slot in &mut self.strings[first..end] {
            let n = c.uvarint()? as usize;
            *slot = Some(std::str::from_utf8(c.bytes(n)?).ok()?);
        }
        (c.pos() == body.len()).then_some(())
    }

    /// One past the highest symbol number defined.
    pub(super) fn next_number(&self) -> u32 {
        self.strings.len() as u32
    }

    /// A series record's body: `ref uvarint | n uvarint | n × (name,
    /// value)`, each string a uvarint `x`: symbol `x / 2` when `x` is even,
    /// else `x / 2` bytes written in place. `None` if a symbol is unknown
    /// (its definition was damaged).
    pub(super) fn series(&self, body: &'a [u8]) -> Option<(u64, PackedLabels)> {
        let mut c = Cursor::at(body, 0);
        let id = c.uvarint()?;
        let n = c.uvarint()? as usize;
        if n > body.len() {
            return None;
        }
        // (a set of up to 16 labels, almost any, is gathered on the stack)
        let mut small = [("", ""); 16];
        let mut large = Vec::new();
        let labels: &mut [(&str, &str)] = if n <= small.len() {
            &mut small[..n]
        } else {
            large.resize(n, ("", ""));
            &mut large
        };
        for l in labels.iter_mut() {
            let name = self.string(&mut c)?;
            let value = self.string(&mut c)?;
            *l = (name, value);
        }
        if c.pos() != body.len() {
            return None;
        }
        sorted(id, labels)
    }

    fn string(&self, c: &mut Cursor<'a>) -> Option<&'a str> {
        let x = c.uvarint()?;
        if x & 1 == 1 {
            std::str::from_utf8(c.bytes((x >> 1) as usize)?).ok()
        } else {
            *self.strings.get(usize::try_from(x >> 1).ok()?)?
        }
    }
}

/// A writer's symbols: a string becomes a symbol the second time it is
/// met (defined in a symbols record just before the series record that
/// uses it); until then, and for strings met only once, it is written in
/// place. Both memories are bounded.
pub(super) struct Symbols {
    numbers: HashMap<Box<str>, u32, FxBuild>,
    next: u32,
    met_once: HashSet<u64, FxBuild>,
    series_in_epoch: usize,
}

impl Symbols {
    /// Numbering from `next` on (past those already in the file).
    pub(super) fn starting_at(next: u32) -> Symbols {
        Symbols {
            numbers: HashMap::default(),
            next,
            met_once: HashSet::default(),
            series_in_epoch: 0,
        }
    }

    /// Appends one series' records to `out`: a symbols record for the
    /// strings it defines, if any, then the series record.
    pub(super) fn encode<'a>(
        &mut self,
        id: u64,
        labels: impl Iterator<Item = (&'a str, &'a str)> + Clone,
        out: &mut Vec<u8>,
    ) {
        if self.series_in_epoch == SYMBOL_EPOCH {
            self.numbers.clear();
            self.series_in_epoch = 0;
        }
        self.series_in_epoch += 1;
        if self.met_once.len() >= MAX_MET_ONCE {
            self.met_once.clear();
        }
        let first = self.next;
        let mut defined: Vec<&str> = Vec::new();
        let mut series = Vec::with_capacity(64);
        put_uvarint(&mut series, id);
        put_uvarint(&mut series, labels.clone().count() as u64);
        for (name, value) in labels {
            self.put(name, &mut defined, &mut series);
            self.put(value, &mut defined, &mut series);
        }
        if !defined.is_empty() {
            let mut body = Vec::with_capacity(64);
            put_uvarint(&mut body, u64::from(first));
            put_uvarint(&mut body, defined.len() as u64);
            for s in &defined {
                put_uvarint(&mut body, s.len() as u64);
                body.extend_from_slice(s.as_bytes());
            }
            put_frame(out, KIND_SYMBOLS, &body);
        }
        put_frame(out, KIND_SERIES, &series);
    }

    fn put<'a>(&mut self, s: &'a str, defined: &mut Vec<&'a str>, out: &mut Vec<u8>) {
        if let Some(&n) = self.numbers.get(s) {
            put_uvarint(out, u64::from(n) << 1);
            return;
        }
        let h = FxBuild.hash_one(s);
        if self.met_once.remove(&h) {
            let n = self.next;
            self.next += 1;
            self.numbers.insert(s.into(), n);
            defined.push(s);
            put_uvarint(out, u64::from(n) << 1);
        } else {
            self.met_once.insert(h);
            put_uvarint(out, ((s.len() as u64) << 1) | 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}
