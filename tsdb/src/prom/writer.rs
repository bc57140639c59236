//! Writes blocks in Prometheus's format (index version 2, XOR chunks in
//! 512 MiB segments, `meta.json` version 1), so that Prometheus,
//! `promtool tsdb` and the tools of Thanos and Mimir open what flint
//! exports. The layout is the one this module's readers take apart (see
//! [`super::index`] and [`super::chunks`]): every section checksummed with
//! CRC32C, series 16-byte aligned and referred to by offset / 16, symbols
//! by their position in the sorted symbol table.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::chunkenc::prom::encode_xor;
use crate::encoding::{crc32c, put_uvarint, put_varint};
use crate::labels::Labels;
use crate::Error;

/// The index file's magic number.
const INDEX_MAGIC: u32 = 0xBAAA_D700;
/// The chunk segments' magic number.
const CHUNKS_MAGIC: u32 = 0x85BD_40DD;
/// Samples per chunk, as Prometheus cuts them.
pub const SAMPLES_PER_CHUNK: usize = 120;
/// A chunk segment is closed once it reaches this size (Prometheus's
/// default segment size).
const SEGMENT_BYTES: u64 = 512 << 20;
/// Prometheus's encoding number of XOR chunks.
const ENC_XOR: u8 = 1;

/// What was written: the block's statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// The block's id (its folder's name).
    pub ulid: String,
    /// Inclusive start, ms.
    pub min_time: i64,
    /// Exclusive end, ms.
    pub max_time: i64,
    /// Series with at least one sample.
    pub num_series: u64,
    /// Chunks.
    pub num_chunks: u64,
    /// Samples.
    pub num_samples: u64,
    /// Bytes of the block's files.
    pub bytes: u64,
}

/// One series as the index records it: symbol numbers of its labels, and
/// its chunks' (mint, maxt, reference).
struct SeriesEntry {
    labels: Labels,
    chunks: Vec<(i64, i64, u64)>,
}

/// Chunk segments being written.
struct ChunkSegments {
    dir: PathBuf,
    seq: u64,
    file: Option<(PathBuf, BufWriter<File>)>,
    offset: u64,
    bytes: u64,
}

impl ChunkSegments {
    fn new(dir: PathBuf) -> Self {
        ChunkSegments {
            dir,
            seq: 0,
            file: None,
            offset: 0,
            bytes: 0,
        }
    }

    fn cut(&mut self) -> Result<(), Error> {
        self.finish_file()?;
        self.seq += 1;
        let path = self.dir.join(format!("{:06}", self.seq));
        let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut head = CHUNKS_MAGIC.to_be_bytes().to_vec();
        head.extend_from_slice(&[1, 0, 0, 0]);
        w.write_all(&head).map_err(|e| Error::io(&path, e))?;
        self.offset = head.len() as u64;
        self.file = Some((path, w));
        Ok(())
    }

    /// Appends one chunk, returning its reference.
    fn add(&mut self, data: &[u8]) -> Result<u64, Error> {
        let mut rec = Vec::with_capacity(data.len() + 10);
        put_uvarint(&mut rec, data.len() as u64);
        let body_at = rec.len();
        rec.push(ENC_XOR);
        rec.extend_from_slice(data);
        let sum = crc32c(&rec[body_at..]);
        rec.extend_from_slice(&sum.to_be_bytes());
        if self.file.is_none() || self.offset + rec.len() as u64 > SEGMENT_BYTES {
            self.cut()?;
        }
        let (path, w) = self.file.as_mut().expect("a segment is open");
        w.write_all(&rec).map_err(|e| Error::io(path, e))?;
        let r = ((self.seq - 1) << 32) | self.offset;
        self.offset += rec.len() as u64;
        Ok(r)
    }

    fn finish_file(&mut self) -> Result<(), Error> {
        if let Some((path, w)) = self.file.take() {
            let f = w
                .into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io(&path, e))?;
            self.bytes += self.offset;
        }
        Ok(())
    }
}

/// Writes a block of `series` (each with its samples in time order, all
/// within `[min_time, max_time)`, the series in label order) into
/// `dir/<ulid>/`, through `dir/<ulid>.tmp-for-creation/` as Prometheus
/// does. Series without samples are left out; samples are cut into XOR
/// chunks of [`SAMPLES_PER_CHUNK`].
pub fn write_block(
    dir: &Path,
    ulid: &str,
    min_time: i64,
    max_time: i64,
    series: impl IntoIterator<Item = Result<(Labels, Vec<(i64, f64)>), Error>>,
) -> Result<Written, Error> {
    let tmp = dir.join(format!("{ulid}.tmp-for-creation"));
    let dst = dir.join(ulid);
    if dst.exists() {
        return Err(Error::io(
            &dst,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "block already exists"),
        ));
    }
    let _ = fs::remove_dir_all(&tmp);
    let chunks_dir = tmp.join("chunks");
    fs::create_dir_all(&chunks_dir).map_err(|e| Error::io(&chunks_dir, e))?;
    let res = write_files(&tmp, ulid, min_time, max_time, series).and_then(|w| {
        let d = File::open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        d.sync_all().map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &dst).map_err(|e| Error::io(&tmp, e))?;
        Ok(w)
    });
    if res.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    res
}

fn write_files(
    tmp: &Path,
    ulid: &str,
    min_time: i64,
    max_time: i64,
    series: impl IntoIterator<Item = Result<(Labels, Vec<(i64, f64)>), Error>>,
) -> Result<Written, Error> {
    let mut segs = ChunkSegments::new(tmp.join("chunks"));
    let mut entries: Vec<SeriesEntry> = Vec::new();
    let mut w = Written {
        ulid: ulid.to_string(),
        min_time,
        max_time,
        ..Written::default()
    };
    for s in series {
        let (labels, samples) = s?;
        if samples.is_empty() {
            continue;
        }
        if let Some(prev) = entries.last() {
            if prev.labels >= labels {
                return Err(Error::InvalidLabels(format!(
                    "series {labels} out of order"
                )));
            }
        }
        let mut chunks = Vec::with_capacity(samples.len().div_ceil(SAMPLES_PER_CHUNK));
        for part in samples.chunks(SAMPLES_PER_CHUNK) {
            let r = segs.add(&encode_xor(part))?;
            chunks.push((part[0].0, part[part.len() - 1].0, r));
        }
        w.num_series += 1;
        w.num_chunks += chunks.len() as u64;
        w.num_samples += samples.len() as u64;
        entries.push(SeriesEntry { labels, chunks });
    }
    segs.finish_file()?;
    let index_path = tmp.join("index");
    let index = encode_index(&entries);
    write_synced(&index_path, &index)?;
    let meta = meta_json(&w);
    let meta_path = tmp.join("meta.json");
    write_synced(&meta_path, meta.as_bytes())?;
    w.bytes = segs.bytes + index.len() as u64 + meta.len() as u64;
    Ok(w)
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(data).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// `meta.json` as Prometheus writes it (tab-indented).
fn meta_json(w: &Written) -> String {
    format!(
        "{{\n\t\"ulid\": \"{}\",\n\t\"minTime\": {},\n\t\"maxTime\": {},\n\t\"stats\": {{\n\t\t\
         \"numSamples\": {},\n\t\t\"numSeries\": {},\n\t\t\"numChunks\": {}\n\t}},\n\t\
         \"compaction\": {{\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"{}\"\n\t\t]\n\t}},\n\t\
         \"version\": 1\n}}",
        w.ulid, w.min_time, w.max_time, w.num_samples, w.num_series, w.num_chunks, w.ulid
    )
}

/// Pads `buf` with zero bytes to a multiple of `n`.
fn pad(buf: &mut Vec<u8>, n: usize) {
    while buf.len() % n != 0 {
        buf.push(0);
    }
}

/// Appends `len <4b> | body | CRC32 <4b>`.
fn put_section(buf: &mut Vec<u8>, body: &[u8]) {
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(body);
    buf.extend_from_slice(&crc32c(body).to_be_bytes());
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// The whole index file of `entries` (in label order).
fn encode_index(entries: &[SeriesEntry]) -> Vec<u8> {
    let mut buf = INDEX_MAGIC.to_be_bytes().to_vec();
    buf.push(2);
    // symbols: every label name and value, sorted
    let mut set: BTreeSet<&str> = BTreeSet::new();
    for e in entries {
        for l in e.labels.iter() {
            set.insert(&l.name);
            set.insert(&l.value);
        }
    }
    let symbols: Vec<&str> = set.into_iter().collect();
    let sym = |s: &str| symbols.binary_search(&s).expect("every string is a symbol") as u64;
    let symbols_at = buf.len() as u64;
    let mut body = (symbols.len() as u32).to_be_bytes().to_vec();
    for s in &symbols {
        put_str(&mut body, s);
    }
    put_section(&mut buf, &body);

    // series, 16-byte aligned; postings by label pair
    pad(&mut buf, 16);
    let series_at = buf.len() as u64;
    let mut postings: BTreeMap<(&str, &str), Vec<u32>> = BTreeMap::new();
    let mut all = Vec::with_capacity(entries.len());
    for e in entries {
        pad(&mut buf, 16);
        let id = (buf.len() / 16) as u32;
        all.push(id);
        let mut body = Vec::new();
        put_uvarint(&mut body, e.labels.len() as u64);
        for l in e.labels.iter() {
            put_uvarint(&mut body, sym(&l.name));
            put_uvarint(&mut body, sym(&l.value));
            postings.entry((&l.name, &l.value)).or_default().push(id);
        }
        put_uvarint(&mut body, e.chunks.len() as u64);
        let (mut prev_maxt, mut prev_ref) = (0i64, 0u64);
        for (i, &(mint, maxt, r)) in e.chunks.iter().enumerate() {
            if i == 0 {
                put_varint(&mut body, mint);
                put_uvarint(&mut body, (maxt - mint) as u64);
                put_uvarint(&mut body, r);
            } else {
                put_uvarint(&mut body, (mint - prev_maxt) as u64);
                put_uvarint(&mut body, (maxt - mint) as u64);
                put_varint(&mut body, r as i64 - prev_ref as i64);
            }
            prev_maxt = maxt;
            prev_ref = r;
        }
        put_uvarint(&mut buf, body.len() as u64);
        buf.extend_from_slice(&body);
        buf.extend_from_slice(&crc32c(&body).to_be_bytes());
    }

    // label indices (no longer read by Prometheus, still written by it)
    let mut names: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (n, v) in postings.keys() {
        names.entry(n).or_default().push(v);
    }
    pad(&mut buf, 4);
    let label_indices_at = buf.len() as u64;
    let mut label_offsets = Vec::new();
    for (n, values) in &names {
        pad(&mut buf, 4);
        label_offsets.push((*n, buf.len() as u64));
        let mut body = 1u32.to_be_bytes().to_vec();
        body.extend_from_slice(&(values.len() as u32).to_be_bytes());
        for v in values {
            body.extend_from_slice(&(sym(v) as u32).to_be_bytes());
        }
        put_section(&mut buf, &body);
    }

    // postings: all series first (the empty pair), then each pair
    pad(&mut buf, 4);
    let postings_at = buf.len() as u64;
    let mut postings_offsets: Vec<(&str, &str, u64)> = Vec::new();
    let mut put_postings = |buf: &mut Vec<u8>, n, v, ids: &[u32]| {
        pad(buf, 4);
        postings_offsets.push((n, v, buf.len() as u64));
        let mut body = (ids.len() as u32).to_be_bytes().to_vec();
        for id in ids {
            body.extend_from_slice(&id.to_be_bytes());
        }
        put_section(buf, &body);
    };
    put_postings(&mut buf, "", "", &all);
    for ((n, v), ids) in &postings {
        put_postings(&mut buf, n, v, ids);
    }

    // label offset table
    let label_table_at = buf.len() as u64;
    let mut body = (label_offsets.len() as u32).to_be_bytes().to_vec();
    for (n, off) in &label_offsets {
        body.push(1);
        put_str(&mut body, n);
        put_uvarint(&mut body, *off);
    }
    put_section(&mut buf, &body);

    // postings offset table
    let postings_table_at = buf.len() as u64;
    let mut body = (postings_offsets.len() as u32).to_be_bytes().to_vec();
    for (n, v, off) in &postings_offsets {
        body.push(2);
        put_str(&mut body, n);
        put_str(&mut body, v);
        put_uvarint(&mut body, *off);
    }
    put_section(&mut buf, &body);

    // table of contents
    let mut toc = Vec::with_capacity(52);
    for at in [
        symbols_at,
        series_at,
        label_indices_at,
        label_table_at,
        postings_at,
        postings_table_at,
    ] {
        toc.extend_from_slice(&at.to_be_bytes());
    }
    let sum = crc32c(&toc);
    toc.extend_from_slice(&sum.to_be_bytes());
    buf.extend_from_slice(&toc);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::prom::decode_xor;
    use crate::prom::chunks::BlockChunks;
    use crate::prom::index::IndexReader;

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("flint-promwriter-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn written_block_reads_back() {
        let dir = tmpdir("roundtrip");
        let mut series = Vec::new();
        for i in 0..50 {
            let labels = Labels::from_pairs(&[
                ("__name__", "m"),
                ("i", &format!("{i:03}")),
                ("job", if i % 2 == 0 { "a" } else { "b" }),
            ]);
            let samples: Vec<(i64, f64)> = (0..(i * 7 + 1))
                .map(|k| (1_000 + k as i64 * 15_000, (k * i) as f64 / 3.0))
                .collect();
            series.push((labels, samples));
        }
        let w = write_block(
            &dir,
            "01HZZZZZZZZZZZZZZZZZZZZZZZ",
            0,
            10_000_000,
            series.clone().into_iter().map(Ok),
        )
        .unwrap();
        assert_eq!(w.num_series, 50);
        assert_eq!(
            w.num_samples,
            series.iter().map(|s| s.1.len() as u64).sum::<u64>()
        );
        let block = dir.join("01HZZZZZZZZZZZZZZZZZZZZZZZ");
        let meta = crate::prom::read_meta(&block).unwrap();
        assert_eq!(meta.num_series, 50);
        assert_eq!(meta.max_time, 10_000_000);
        let ix = IndexReader::open(&block.join("index")).unwrap();
        assert_eq!(ix.len(), 50);
        let chunks = BlockChunks::open(&block).unwrap();
        for (i, (labels, samples)) in series.iter().enumerate() {
            let s = ix.series(i).unwrap();
            assert_eq!(&s.labels, labels);
            let mut got = Vec::new();
            for c in &s.chunks {
                let (enc, data) = chunks.get(c.r#ref).unwrap();
                assert_eq!(enc, ENC_XOR);
                let part = decode_xor(data).unwrap();
                assert_eq!(part.first().unwrap().0, c.mint);
                assert_eq!(part.last().unwrap().0, c.maxt);
                got.extend(part);
            }
            assert_eq!(&got, samples);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn out_of_order_series_are_refused_and_nothing_is_left() {
        let dir = tmpdir("order");
        let a = Labels::from_pairs(&[("__name__", "b")]);
        let b = Labels::from_pairs(&[("__name__", "a")]);
        let err = write_block(
            &dir,
            "01HZZZZZZZZZZZZZZZZZZZZZZZ",
            0,
            10,
            vec![Ok((a, vec![(1, 1.0)])), Ok((b, vec![(1, 1.0)]))],
        )
        .unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
