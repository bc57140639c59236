//! Entry points for the fuzz targets in `fuzz/`: each opens or decodes
//! bytes with one of the crate's readers, which must answer with an error,
//! never a panic, a hang or an allocation sized by the input. Not a stable
//! interface.

use std::path::Path;

use crate::block::Block;
use crate::chunks::log::ChunkLog;
use crate::journal::{Journal, JournalPosition, JournalRead};
use crate::labels::{MatchOp, Matcher};
use crate::reader::Reader;
use crate::series_log::SeriesLog;
use crate::Error;

/// Opens `bytes` as the series log `dir/series`, and decodes them as the
/// body of a record of each layout.
pub fn series_log(dir: &Path, bytes: &[u8]) -> Result<usize, Error> {
    crate::series_log::fuzz_bodies(bytes);
    let path = dir.join("series");
    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    let mut n = 0;
    let (_log, _) = SeriesLog::open(&path, &mut |_, labels| {
        n += labels.to_labels().len();
    })?;
    Ok(n)
}

/// Opens `bytes` as the index file `dir/index` and reads all of it: every
/// label name and value, postings list and series; `fix_checksums` first
/// recomputes the TOC's and sections' CRCs so that changed bytes get past
/// them.
pub fn block_index(dir: &Path, bytes: &[u8], fix_checksums: bool) -> Result<usize, Error> {
    crate::block::fuzz_index(&dir.join("index"), bytes, fix_checksums)
}

/// Opens the block folder `dir` (`meta.json`, `index`, `chunks`) and reads
/// every series and chunk, by selection and whole.
pub fn block(dir: &Path) -> Result<usize, Error> {
    let b = Block::open(dir)?;
    let mut n = 0;
    let all = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").expect("valid")];
    for (_, chunks) in b.select(&all, i64::MIN, i64::MAX)? {
        for c in chunks {
            n += c.iter().count();
        }
    }
    for s in b.all_series()? {
        n += s?.1.len();
    }
    b.label_names(&[])?;
    b.series_spans(&[])?;
    b.verify()?;
    Ok(n)
}

/// Opens `bytes` as segment 1 of the closed-chunk log in `dir` and reads
/// every chunk found; also decodes them as a record at offset 0.
pub fn chunk_log(dir: &Path, bytes: &[u8]) -> Result<usize, Error> {
    crate::chunks::log::fuzz_record(bytes);
    let path = dir.join(format!("{:06}", 1));
    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    let (log, found, _problems) = ChunkLog::open(dir)?;
    let mut n = 0;
    for c in found {
        let mut out = vec![0u8; usize::from(c.bit_len).div_ceil(8)];
        if log.read(c.cref, &mut out) {
            n += crate::chunkenc::ChunkIter::new(c.encoding, &out, c.count, c.bit_len.into())
                .count();
        }
    }
    Ok(n)
}

/// Opens `bytes` as segment 1 of a journal in `dir`, with one reader at
/// its start, and reads it to the end; also decodes them as a record, a
/// reader's state and a catch-up list.
pub fn journal(dir: &Path, bytes: &[u8]) -> Result<usize, Error> {
    crate::journal::fuzz_bodies(bytes);
    let path = dir.join(format!("{:08}", 1));
    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    let j = Journal::open(dir, 1 << 20, 1 << 16)?;
    j.set_readers(&["r".to_string()])?;
    let generation = j.reader("r").map_or(0, |r| r.generation);
    let mut from = JournalPosition {
        segment: 1,
        offset: crate::journal::HEADER,
    };
    let mut n = 0;
    // each read returns at least one record or stops: bounded by the size
    for _ in 0..=bytes.len() {
        match j.read("r", generation, from, 64)? {
            JournalRead::Batch(b) if !b.records.is_empty() => {
                n += b.samples.len();
                from = b.end(from);
            }
            _ => break,
        }
    }
    Ok(n)
}

/// What the block reader learns from a regex without running it: the
/// literals of a plain alternation, and a prefix every match starts with.
pub fn regex_literals(re: &str) -> (Option<Vec<String>>, String) {
    crate::block::fuzz_regex_literals(re)
}

/// Decodes `bytes` as a native histogram chunk of each encoding version:
/// the first two bytes give the sample count, the next two the bit length.
/// At most the count is decoded; what decodes is encoded again and must
/// decode to the same samples.
pub fn histogram_chunk(bytes: &[u8]) -> usize {
    let Some((head, body)) = bytes.split_at_checked(4) else {
        return 0;
    };
    let count = u32::from(u16::from_le_bytes([head[0], head[1]]));
    let bits = usize::from(u16::from_le_bytes([head[2], head[3]]));
    let mut n = 0;
    for version in [1u8, 2] {
        let Some(samples) = crate::histstore::chunk::decode_version(version, body, bits, count)
        else {
            continue;
        };
        assert!(samples.len() <= count as usize);
        n += samples.len();
        let mut enc = crate::histstore::chunk::Encoder::default();
        let mut prev = None;
        for (t, h) in &samples {
            // the encoder takes growing timestamps
            if prev.is_some_and(|p| *t <= p) {
                return n;
            }
            prev = Some(*t);
            enc.append(*t, h);
        }
        let (buf, bits) = enc.bytes();
        let again = crate::histstore::chunk::decode(buf, bits, enc.count()).expect("re-encoded");
        assert_eq!(again.len(), samples.len());
        // the same samples, but for empty buckets: an encoder keeps the
        // buckets of its layout, which a decoded layout may not have had
        for ((t, a), (u, b)) in samples.iter().zip(&again) {
            assert_eq!(t, u);
            assert_eq!(a.count.to_bits(), b.count.to_bits());
            let (mut a, mut b) = (a.clone(), b.clone());
            a.compact();
            b.compact();
            assert_eq!(a.positive.len(), b.positive.len());
            assert_eq!(a.negative.len(), b.negative.len());
        }
    }
    n
}
