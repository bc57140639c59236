//! Prometheus's write-ahead log (`wal/`, its `checkpoint.NNNNNNNN/`
//! folders, and the out-of-order `wbl/`): segments of 32 KiB pages holding
//! record fragments (type, length, CRC32C), records compressed with snappy
//! (zstd is recognised and refused), and the record types an import needs:
//! series, float samples (both encodings), native histogram samples
//! (integer and float, with exponential or custom buckets, both
//! encodings) and tombstones. Other records (exemplars, metadata,
//! out-of-order markers) are counted by type.

use std::path::{Path, PathBuf};

use super::Cur;
use crate::chunkenc::prom_histogram::{hint_of, Parts};
use crate::encoding::crc32c;
use crate::labels::{Label, Labels};
use crate::Error;

const PAGE: usize = 32 * 1024;
const FRAGMENT_HEADER: usize = 7;
const SNAPPY: u8 = 1 << 3;
const ZSTD: u8 = 1 << 4;

/// Record types.
pub const REC_SERIES: u8 = 1;
/// Float samples.
pub const REC_SAMPLES: u8 = 2;
/// Deleted ranges.
pub const REC_TOMBSTONES: u8 = 3;
/// Float samples with start timestamps (3.x).
pub const REC_SAMPLES_V2: u8 = 11;
/// Integer histogram samples.
pub const REC_HISTOGRAMS: u8 = 7;
/// Float histogram samples.
pub const REC_FLOAT_HISTOGRAMS: u8 = 8;
/// Integer histogram samples with custom buckets (same layout as 7).
pub const REC_CUSTOM_HISTOGRAMS: u8 = 9;
/// Float histogram samples with custom buckets (same layout as 8).
pub const REC_CUSTOM_FLOAT_HISTOGRAMS: u8 = 10;
/// Integer histogram samples with start timestamps (3.x).
pub const REC_HISTOGRAMS_V2: u8 = 12;
/// Float histogram samples with start timestamps (3.x).
pub const REC_FLOAT_HISTOGRAMS_V2: u8 = 13;

/// The name of a record type, for messages.
pub fn record_name(t: u8) -> &'static str {
    match t {
        1 => "series",
        2 => "samples",
        3 => "tombstones",
        4 => "exemplars",
        5 => "mmap markers",
        6 => "metadata",
        7 => "histogram samples",
        8 => "float histogram samples",
        9 => "custom buckets histogram samples",
        10 => "custom buckets float histogram samples",
        11 => "samples (v2)",
        12 => "histogram samples (v2)",
        13 => "float histogram samples (v2)",
        _ => "unknown",
    }
}

/// Whether a record type holds native histogram samples.
pub fn is_histogram_record(t: u8) -> bool {
    matches!(t, 7..=10 | 12 | 13)
}

/// What reading one segment found.
#[derive(Debug, Default)]
pub struct Segment {
    /// Whole records, decompressed, in order.
    pub records: Vec<Vec<u8>>,
    /// Where reading stopped early and why.
    pub damage: Option<(u64, String)>,
}

/// Reads a segment's records up to its end or its first damaged fragment.
/// A zstd-compressed record is an error (`Unsupported`): nothing can be
/// read past it.
pub fn read_segment(path: &Path) -> Result<Segment, Error> {
    let b = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Segment::default();
    let mut pos = 0usize;
    let mut rec: Vec<u8> = Vec::new();
    let mut in_record = false;
    let mut compressed = 0u8;
    while pos < b.len() {
        let in_page = PAGE - pos % PAGE;
        if in_page < FRAGMENT_HEADER {
            pos += in_page;
            continue;
        }
        let typ = b[pos];
        let kind = typ & 0x07;
        if kind == 0 {
            // the rest of the page is empty
            if b[pos..(pos + in_page).min(b.len())].iter().any(|&x| x != 0) {
                out.damage = Some((
                    pos as u64,
                    "non-zero bytes in the empty rest of a page".into(),
                ));
                break;
            }
            pos += in_page;
            continue;
        }
        if pos + FRAGMENT_HEADER > b.len() {
            out.damage = Some((pos as u64, "fragment header cut short".into()));
            break;
        }
        let len = u16::from_be_bytes([b[pos + 1], b[pos + 2]]) as usize;
        let sum = u32::from_be_bytes(b[pos + 3..pos + 7].try_into().expect("4 bytes"));
        let start = pos + FRAGMENT_HEADER;
        if len > in_page - FRAGMENT_HEADER || start + len > b.len() {
            out.damage = Some((
                pos as u64,
                format!("fragment of {len} bytes past its page or the file"),
            ));
            break;
        }
        let data = &b[start..start + len];
        if crc32c(data) != sum {
            out.damage = Some((pos as u64, "fragment checksum mismatch".into()));
            break;
        }
        if typ & ZSTD != 0 {
            return Err(Error::unsupported(
                path,
                format!("zstd-compressed record at offset {pos}: this version reads uncompressed and snappy-compressed write-ahead logs (Prometheus's --storage.tsdb.wal-compression-type=snappy, its default)"),
            ));
        }
        let ok = match kind {
            1 if !in_record => {
                rec.clear();
                rec.extend_from_slice(data);
                compressed = typ & SNAPPY;
                true
            }
            2 if !in_record => {
                rec.clear();
                rec.extend_from_slice(data);
                compressed = typ & SNAPPY;
                in_record = true;
                false
            }
            3 if in_record => {
                rec.extend_from_slice(data);
                false
            }
            4 if in_record => {
                rec.extend_from_slice(data);
                in_record = false;
                true
            }
            _ => {
                out.damage = Some((pos as u64, format!("unexpected fragment type {kind}")));
                break;
            }
        };
        pos = start + len;
        if ok {
            if compressed != 0 {
                match snap::raw::Decoder::new().decompress_vec(&rec) {
                    Ok(d) => out.records.push(d),
                    Err(e) => {
                        out.damage =
                            Some((pos as u64, format!("record not decodable as snappy: {e}")));
                        break;
                    }
                }
            } else {
                out.records.push(std::mem::take(&mut rec));
            }
        }
    }
    if in_record && out.damage.is_none() {
        out.damage = Some((b.len() as u64, "last record cut short".into()));
    }
    Ok(out)
}

/// The segments to read in `wal` (or `wbl`): those of the newest
/// checkpoint, then the log's from the one after it. The checkpoint's
/// folder is `None` when there is none.
pub fn segments(dir: &Path) -> Result<(Option<PathBuf>, Vec<PathBuf>), Error> {
    let mut checkpoint: Option<(u64, PathBuf)> = None;
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        if let Some(n) = name.strip_prefix("checkpoint.") {
            if let Ok(n) = n.parse::<u64>() {
                if ent.path().is_dir() && checkpoint.as_ref().is_none_or(|c| n > c.0) {
                    checkpoint = Some((n, ent.path()));
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Some((_, p)) = &checkpoint {
        out.extend(super::numbered(p)?.into_iter().map(|(_, p)| p));
    }
    let after = checkpoint.as_ref().map(|c| c.0);
    out.extend(
        super::numbered(dir)?
            .into_iter()
            .filter(|(n, _)| after.is_none_or(|a| *n > a))
            .map(|(_, p)| p),
    );
    Ok((checkpoint.map(|c| c.1), out))
}

/// A sample of a samples record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Series reference.
    pub r#ref: u64,
    /// Timestamp, ms.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A sample of a histogram samples record.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSample {
    /// Series reference.
    pub r#ref: u64,
    /// Timestamp, ms.
    pub t: i64,
    /// The histogram, as the record has it.
    pub h: Parts,
}

/// A decoded record.
#[derive(Debug)]
pub enum Record {
    /// Series with their references.
    Series(Vec<(u64, Labels)>),
    /// Float samples.
    Samples(Vec<Sample>),
    /// Deleted ranges: (series, mint, maxt).
    Tombstones(Vec<(u64, i64, i64)>),
    /// Native histogram samples.
    Histograms(Vec<HistogramSample>),
    /// Another type, not used by an import.
    Other(u8),
}

/// Decodes a record; `None` when it is malformed.
pub fn decode(rec: &[u8]) -> Option<Record> {
    let mut c = Cur::new(rec);
    let t = c.byte()?;
    match t {
        REC_SERIES => {
            let mut out = Vec::new();
            while c.remaining() > 0 {
                let r = c.be64()?;
                let n = c.uvarint()?;
                let mut ls = Vec::with_capacity(n.min(64) as usize);
                for _ in 0..n {
                    let name = String::from_utf8_lossy(c.uvarint_bytes()?).into_owned();
                    let value = String::from_utf8_lossy(c.uvarint_bytes()?).into_owned();
                    ls.push(Label::new(name, value));
                }
                out.push((r, Labels::new(ls)));
            }
            Some(Record::Series(out))
        }
        REC_SAMPLES => {
            let mut out = Vec::new();
            if c.remaining() == 0 {
                return Some(Record::Samples(out));
            }
            let base_ref = c.be64()?;
            let base_t = c.be64()? as i64;
            while c.remaining() > 0 {
                let dr = c.varint()?;
                let dt = c.varint()?;
                let v = f64::from_bits(c.be64()?);
                out.push(Sample {
                    r#ref: (base_ref as i64).wrapping_add(dr) as u64,
                    t: base_t.wrapping_add(dt),
                    v,
                });
            }
            Some(Record::Samples(out))
        }
        REC_SAMPLES_V2 => {
            let mut out: Vec<Sample> = Vec::new();
            let mut first_t = 0i64;
            while c.remaining() > 0 {
                let (r, t) = v2_ref_time(&mut c, out.last().map(|p| p.r#ref), &mut first_t)?;
                let v = f64::from_bits(c.be64()?);
                out.push(Sample {
                    r#ref: r as u64,
                    t,
                    v,
                });
            }
            Some(Record::Samples(out))
        }
        REC_TOMBSTONES => {
            let mut out = Vec::new();
            while c.remaining() > 0 {
                let r = c.be64()?;
                let a = c.varint()?;
                let b = c.varint()?;
                out.push((r, a, b));
            }
            Some(Record::Tombstones(out))
        }
        REC_HISTOGRAMS
        | REC_CUSTOM_HISTOGRAMS
        | REC_FLOAT_HISTOGRAMS
        | REC_CUSTOM_FLOAT_HISTOGRAMS => {
            let float = matches!(t, REC_FLOAT_HISTOGRAMS | REC_CUSTOM_FLOAT_HISTOGRAMS);
            let mut out = Vec::new();
            if c.remaining() == 0 {
                return Some(Record::Histograms(out));
            }
            let base_ref = c.be64()?;
            let base_t = c.be64()? as i64;
            while c.remaining() > 0 {
                let dr = c.varint()?;
                let dt = c.varint()?;
                out.push(HistogramSample {
                    r#ref: base_ref.wrapping_add(dr as u64),
                    t: base_t.wrapping_add(dt),
                    h: histogram(&mut c, float)?,
                });
            }
            Some(Record::Histograms(out))
        }
        REC_HISTOGRAMS_V2 | REC_FLOAT_HISTOGRAMS_V2 => {
            let float = t == REC_FLOAT_HISTOGRAMS_V2;
            let mut out: Vec<HistogramSample> = Vec::new();
            let mut first_t = 0i64;
            while c.remaining() > 0 {
                let (r, t) = v2_ref_time(&mut c, out.last().map(|p| p.r#ref), &mut first_t)?;
                out.push(HistogramSample {
                    r#ref: r as u64,
                    t,
                    h: histogram(&mut c, float)?,
                });
            }
            Some(Record::Histograms(out))
        }
        other => Some(Record::Other(other)),
    }
}

/// Spans: a count, then offset (signed) and length per span.
fn spans(c: &mut Cur<'_>) -> Option<Vec<(i32, u32)>> {
    let n = c.uvarint()?;
    // a span takes two bytes at least
    if n > c.remaining() as u64 {
        return None;
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let offset = i32::try_from(c.varint()?).ok()?;
        let length = u32::try_from(c.uvarint()?).ok()?;
        out.push((offset, length));
    }
    Some(out)
}

/// A count, then that many values: signed varints (bucket deltas of an
/// integer histogram, made absolute) or floats.
fn bucket_counts(c: &mut Cur<'_>, float: bool) -> Option<Vec<f64>> {
    let n = c.uvarint()?;
    if n > c.remaining() as u64 {
        return None;
    }
    let mut out = Vec::with_capacity(n as usize);
    let mut acc = 0i64;
    for _ in 0..n {
        if float {
            out.push(f64::from_bits(c.be64()?));
        } else {
            acc = acc.wrapping_add(c.varint()?);
            out.push(acc as f64);
        }
    }
    Some(out)
}

/// The series reference and timestamp that start a sample of a version 2
/// record (with start timestamps, which are read past): the first sample's
/// in full, each next one's as deltas to the one before and to the
/// first's time.
fn v2_ref_time(c: &mut Cur<'_>, prev: Option<u64>, first_t: &mut i64) -> Option<(i64, i64)> {
    match prev {
        None => {
            let r = c.varint()?;
            *first_t = c.varint()?;
            let _st = c.varint()?;
            Some((r, *first_t))
        }
        Some(prev) => {
            let r = (prev as i64).wrapping_add(c.varint()?);
            let t = first_t.wrapping_add(c.varint()?);
            // the start timestamp: a marker, then a delta when explicit
            if c.byte()? >= 2 {
                c.varint()?;
            }
            Some((r, t))
        }
    }
}

/// One histogram of a histogram samples record.
fn histogram(c: &mut Cur<'_>, float: bool) -> Option<Parts> {
    let hint = hint_of(c.byte()?);
    let schema = i32::try_from(c.varint()?).ok()?;
    let zero_threshold = f64::from_bits(c.be64()?);
    let (zero_count, count) = if float {
        (f64::from_bits(c.be64()?), f64::from_bits(c.be64()?))
    } else {
        (c.uvarint()? as f64, c.uvarint()? as f64)
    };
    let sum = f64::from_bits(c.be64()?);
    let positive_spans = spans(c)?;
    let negative_spans = spans(c)?;
    let positive = bucket_counts(c, float)?;
    let negative = bucket_counts(c, float)?;
    let mut custom_values = Vec::new();
    if schema == crate::histogram::CUSTOM_BUCKETS_SCHEMA {
        let n = c.uvarint()?;
        if n > c.remaining() as u64 {
            return None;
        }
        for _ in 0..n {
            custom_values.push(f64::from_bits(c.be64()?));
        }
    }
    Some(Parts {
        schema,
        hint,
        zero_threshold,
        zero_count,
        count,
        sum,
        positive_spans,
        positive,
        negative_spans,
        negative,
        custom_values,
    })
}
