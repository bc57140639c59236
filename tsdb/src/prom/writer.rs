//! Writes blocks in Prometheus's format (index version 2, XOR and native
//! histogram chunks in 512 MiB segments, `meta.json` version 1), so that
//! Prometheus, `promtool tsdb` and the tools of Thanos and Mimir open what
//! flint exports. The layout is the one this module's readers take apart
//! (see [`super::index`] and [`super::chunks`]): every section checksummed
//! with CRC32C, series 16-byte aligned and referred to by offset / 16,
//! symbols by their position in the sorted symbol table.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::chunkenc::prom::encode_xor;
use crate::chunkenc::prom_histogram::{encode_series_after, Point};
use crate::encoding::{crc32c, put_uvarint, put_varint};
use crate::histogram::FloatHistogram;
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

/// A sample to write: a float or a native histogram.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A float sample (or a stale marker).
    Float(f64),
    /// A native histogram sample.
    Histogram(Arc<FloatHistogram>),
}

/// One series to write: its labels and samples in time order.
pub type SeriesSamples = (Labels, Vec<(i64, Value)>);

/// How a series ended before a block: what the block's first histogram
/// chunk of it goes on from (Prometheus's head gives a chunk it cuts at a
/// block boundary the counter reset header it finds from the sample
/// before).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Before {
    /// Nothing, or a float sample.
    #[default]
    Nothing,
    /// A histogram.
    Histogram(Arc<FloatHistogram>),
    /// A histogram's stale marker.
    HistogramStale,
}

impl Before {
    /// How the series ends after `samples`, having ended as `self` before
    /// them.
    pub fn after(&self, samples: &[(i64, Value)]) -> Before {
        let mut end = self.clone();
        for (_, v) in samples {
            end = match v {
                Value::Histogram(h) => Before::Histogram(h.clone()),
                Value::Float(f) if crate::is_stale_nan(*f) && end != Before::Nothing => {
                    Before::HistogramStale
                }
                Value::Float(_) => Before::Nothing,
            };
        }
        end
    }
}

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
    /// Samples, floats and histograms.
    pub num_samples: u64,
    /// Of those, the float samples (in XOR chunks).
    pub num_float_samples: u64,
    /// Of those, the native histogram samples (stale markers of histogram
    /// series included).
    pub num_histogram_samples: u64,
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

    /// Appends one chunk of encoding `enc`, returning its reference.
    fn add(&mut self, enc: u8, data: &[u8]) -> Result<u64, Error> {
        let mut rec = Vec::with_capacity(data.len() + 10);
        put_uvarint(&mut rec, data.len() as u64);
        let body_at = rec.len();
        rec.push(enc);
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
/// does. Series without samples are left out; float samples are cut into
/// XOR chunks of [`SAMPLES_PER_CHUNK`], histograms into histogram chunks
/// as the head of Prometheus 2.47 and later cuts them (by size, see
/// [`crate::chunkenc::prom_histogram::encode_series`]), and a chunk ends
/// where a series goes from one kind to the other.
///
/// A float stale marker right after a histogram sample (or after another
/// such marker) is written as a histogram stale marker in the histogram
/// chunk, as Prometheus's head stores the stale marker of a histogram
/// series.
pub fn write_block(
    dir: &Path,
    ulid: &str,
    min_time: i64,
    max_time: i64,
    series: impl IntoIterator<Item = Result<SeriesSamples, Error>>,
) -> Result<Written, Error> {
    write_block_after(
        dir,
        ulid,
        min_time,
        max_time,
        series
            .into_iter()
            .map(|s| s.map(|(l, v)| (l, v, Before::Nothing))),
    )
}

/// [`write_block`] for series that go on from earlier blocks: each with
/// how it ended before this block (see [`Before`]).
pub fn write_block_after(
    dir: &Path,
    ulid: &str,
    min_time: i64,
    max_time: i64,
    series: impl IntoIterator<Item = Result<(Labels, Vec<(i64, Value)>, Before), Error>>,
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

/// A series' samples as runs of one kind: floats, or histograms with
/// their stale markers.
enum Run<'a> {
    Floats(Vec<(i64, f64)>),
    Histograms(Vec<Point<'a>>),
}

fn runs<'a>(before: &Before, samples: &'a [(i64, Value)]) -> Vec<Run<'a>> {
    let mut out: Vec<Run<'a>> = Vec::new();
    if before != &Before::Nothing {
        // a stale marker going on from a histogram
        if let Some(&(t, Value::Float(f))) = samples.first() {
            if crate::is_stale_nan(f) {
                out.push(Run::Histograms(vec![(t, None)]));
            }
        }
    }
    for (t, v) in samples.iter().skip(out.len()) {
        match v {
            Value::Histogram(h) => match out.last_mut() {
                Some(Run::Histograms(r)) => r.push((*t, Some(&**h))),
                _ => out.push(Run::Histograms(vec![(*t, Some(&**h))])),
            },
            Value::Float(f) => match out.last_mut() {
                Some(Run::Histograms(r)) if crate::is_stale_nan(*f) => r.push((*t, None)),
                Some(Run::Floats(r)) => r.push((*t, *f)),
                _ => out.push(Run::Floats(vec![(*t, *f)])),
            },
        }
    }
    out
}

fn write_files(
    tmp: &Path,
    ulid: &str,
    min_time: i64,
    max_time: i64,
    series: impl IntoIterator<Item = Result<(Labels, Vec<(i64, Value)>, Before), Error>>,
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
        let (labels, samples, before) = s?;
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
        for (i, run) in runs(&before, &samples).into_iter().enumerate() {
            match run {
                Run::Floats(floats) => {
                    for part in floats.chunks(SAMPLES_PER_CHUNK) {
                        let r = segs.add(ENC_XOR, &encode_xor(part))?;
                        chunks.push((part[0].0, part[part.len() - 1].0, r));
                    }
                    w.num_float_samples += floats.len() as u64;
                }
                Run::Histograms(points) => {
                    let prev = match (&before, i) {
                        (Before::Histogram(h), 0) => Some((min_time, Some(&**h))),
                        (Before::HistogramStale, 0) => Some((min_time, None)),
                        _ => None,
                    };
                    for c in encode_series_after(prev, &points) {
                        let r = segs.add(c.encoding, &c.data)?;
                        chunks.push((c.min_time, c.max_time, r));
                    }
                    w.num_histogram_samples += points.len() as u64;
                }
            }
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

/// `meta.json` as Prometheus writes it (tab-indented), with the float and
/// histogram sample counts of Prometheus 3.6 and later (left out when 0,
/// as it leaves them out; older versions ignore them).
fn meta_json(w: &Written) -> String {
    let mut kinds = String::new();
    if w.num_float_samples > 0 {
        kinds.push_str(&format!(
            "\n\t\t\"numFloatSamples\": {},",
            w.num_float_samples
        ));
    }
    if w.num_histogram_samples > 0 {
        kinds.push_str(&format!(
            "\n\t\t\"numHistogramSamples\": {},",
            w.num_histogram_samples
        ));
    }
    format!(
        "{{\n\t\"ulid\": \"{}\",\n\t\"minTime\": {},\n\t\"maxTime\": {},\n\t\"stats\": {{\n\t\t\
         \"numSamples\": {},{kinds}\n\t\t\"numSeries\": {},\n\t\t\"numChunks\": {}\n\t}},\n\t\
         \"compaction\": {{\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"{}\"\n\t\t]\n\t}},\n\t\
         \"version\": 1\n}}",
        w.ulid, w.min_time, w.max_time, w.num_samples, w.num_series, w.num_chunks, w.ulid
    )
}

/// Pads `buf` with zero bytes to a multiple of `n`.
fn pad(buf: &mut Vec<u8>, n: usize) {
    while !buf.len().is_multiple_of(n) {
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

    fn floats(s: &[(i64, f64)]) -> Vec<(i64, Value)> {
        s.iter().map(|&(t, v)| (t, Value::Float(v))).collect()
    }

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
            series.iter().map(|(l, s)| Ok((l.clone(), floats(s)))),
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
            vec![
                Ok((a, vec![(1, Value::Float(1.0))])),
                Ok((b, vec![(1, Value::Float(1.0))])),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn histograms_go_into_histogram_chunks_with_their_stale_markers() {
        use crate::chunkenc::prom_histogram::{
            decode, Converted, ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM,
        };
        use crate::histogram::CounterResetHint;
        let dir = tmpdir("histograms");
        let h = |k: i64, gauge: bool| {
            let mut h = FloatHistogram {
                schema: 1,
                zero_threshold: 1e-3,
                count: (5 + k) as f64,
                sum: 0.5 * k as f64,
                positive: vec![(0, 2.0), (3, (3 + k) as f64)],
                ..FloatHistogram::default()
            };
            if gauge {
                h.counter_reset_hint = CounterResetHint::Gauge;
                h.count += 0.5;
                h.positive[0].1 += 0.5;
            }
            Value::Histogram(Arc::new(h))
        };
        let stale = Value::Float(f64::from_bits(crate::STALE_NAN_BITS));
        let mut mixed = vec![(0, Value::Float(1.0)), (1_000, Value::Float(2.0))];
        for k in 0..130 {
            mixed.push((2_000 + k * 1_000, h(k, false)));
        }
        mixed.push((200_000, stale.clone()));
        mixed.push((201_000, stale.clone()));
        mixed.push((202_000, Value::Float(3.0)));
        mixed.push((203_000, stale.clone()));
        let gauge: Vec<(i64, Value)> = (0..5).map(|k| (k * 1_000, h(k, true))).collect();
        let a = Labels::from_pairs(&[("__name__", "a")]);
        let b = Labels::from_pairs(&[("__name__", "b")]);
        let w = write_block(
            &dir,
            "01HZZZZZZZZZZZZZZZZZZZZZZZ",
            0,
            300_000,
            vec![Ok((a, mixed)), Ok((b, gauge))],
        )
        .unwrap();
        assert_eq!(w.num_samples, 2 + 130 + 2 + 2 + 5);
        assert_eq!(w.num_float_samples, 4);
        assert_eq!(w.num_histogram_samples, 137);
        let block = dir.join("01HZZZZZZZZZZZZZZZZZZZZZZZ");
        let meta = fs::read_to_string(block.join("meta.json")).unwrap();
        assert!(
            meta.contains("\"numSamples\": 141,\n\t\t\"numFloatSamples\": 4,\n\t\t\"numHistogramSamples\": 137,\n\t\t\"numSeries\": 2,"),
            "{meta}"
        );
        let ix = IndexReader::open(&block.join("index")).unwrap();
        let chunks = BlockChunks::open(&block).unwrap();
        let mut kinds = Vec::new();
        for i in 0..ix.len() {
            let mut got = Vec::new();
            for c in &ix.series(i).unwrap().chunks {
                let (enc, data) = chunks.get(c.r#ref).unwrap();
                let n = if enc == ENC_XOR {
                    let s = decode_xor(data).unwrap();
                    got.extend(s.iter().map(|s| format!("{}", s.1)));
                    s.len()
                } else {
                    let s = decode(enc, data).unwrap();
                    for (_, p) in &s {
                        got.push(match p.clone().convert().unwrap() {
                            Converted::Stale => "stale".to_string(),
                            Converted::Histogram(h) => format!("h{}", h.count),
                        });
                    }
                    s.len()
                };
                kinds.push((i, enc, n));
            }
            if i == 0 {
                assert_eq!(&got[..3], ["1", "2", "h5"]);
                assert_eq!(
                    &got[got.len() - 5..],
                    ["h134", "stale", "stale", "3", "NaN"]
                );
            }
        }
        assert_eq!(
            kinds,
            vec![
                (0, ENC_XOR, 2),
                // cut by size as Prometheus 3 does: 132 small histograms
                // stay far below 1 KiB
                (0, ENC_HISTOGRAM, 132),
                (0, ENC_XOR, 2),
                (1, ENC_FLOAT_HISTOGRAM, 5),
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_series_goes_on_from_the_block_before() {
        use crate::chunkenc::prom_histogram::decode;
        use crate::histogram::CounterResetHint;
        let dir = tmpdir("after");
        let h = |c: f64| {
            Arc::new(FloatHistogram {
                count: c,
                positive: vec![(0, c)],
                ..FloatHistogram::default()
            })
        };
        let stale = Value::Float(f64::from_bits(crate::STALE_NAN_BITS));
        let before =
            Before::Nothing.after(&[(0, Value::Float(1.0)), (5, Value::Histogram(h(5.0)))]);
        assert_eq!(before, Before::Histogram(h(5.0)));
        assert_eq!(before.after(&[(6, stale.clone())]), Before::HistogramStale);
        assert_eq!(
            Before::Nothing.after(&[(6, stale.clone())]),
            Before::Nothing
        );
        let a = Labels::from_pairs(&[("__name__", "a")]);
        let b = Labels::from_pairs(&[("__name__", "b")]);
        write_block_after(
            &dir,
            "01HZZZZZZZZZZZZZZZZZZZZZZZ",
            0,
            100,
            vec![
                Ok((
                    a,
                    vec![(10, stale.clone()), (20, Value::Histogram(h(6.0)))],
                    before.clone(),
                )),
                Ok((b, vec![(10, Value::Histogram(h(3.0)))], before)),
            ],
        )
        .unwrap();
        let block = dir.join("01HZZZZZZZZZZZZZZZZZZZZZZZ");
        let ix = IndexReader::open(&block.join("index")).unwrap();
        let chunks = BlockChunks::open(&block).unwrap();
        let mut headers = Vec::new();
        for i in 0..ix.len() {
            for c in &ix.series(i).unwrap().chunks {
                let (enc, data) = chunks.get(c.r#ref).unwrap();
                let s = decode(enc, data).unwrap();
                headers.push((i, s.len(), s[0].1.hint));
            }
        }
        assert_eq!(
            headers,
            vec![
                // the stale marker stays a histogram one
                (0, 1, CounterResetHint::NotCounterReset),
                (0, 1, CounterResetHint::Unknown),
                (1, 1, CounterResetHint::CounterReset),
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
