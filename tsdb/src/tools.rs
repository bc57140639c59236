//! What the `flint tsdb` commands need from a data folder: its blocks'
//! metas and series, everything it holds (blocks and head) read through a
//! sandbox so that a running server's files are never written, and blocks
//! written from samples (backfill).

use std::fs;
use std::path::{Path, PathBuf};

use crate::block::{self, encode_samples, Block};
use crate::histogram::{starts_new_chunk, FloatHistogram, SAMPLES_PER_CHUNK};
use crate::histstore::{chunk, HistChunk};
use crate::labels::{Labels, Matcher};
use crate::{Db, Error, Options};

/// A block as `meta.json` and its files describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's id (its folder's name).
    pub id: String,
    /// First timestamp covered, ms, inclusive.
    pub min_time: i64,
    /// End of the range covered, ms, exclusive.
    pub max_time: i64,
    /// Samples, float and native histogram ones (as Prometheus's meta
    /// counts them).
    pub num_samples: u64,
    /// Chunks, of both kinds.
    pub num_chunks: u64,
    /// Series: those with float samples, native histogram samples or
    /// both (once).
    pub num_series: u64,
    /// Of those, the native histogram samples, chunks and series.
    pub num_histogram_samples: u64,
    /// See [`Self::num_histogram_samples`].
    pub num_histogram_chunks: u64,
    /// See [`Self::num_histogram_samples`].
    pub num_histogram_series: u64,
    /// Bytes of its files.
    pub size_bytes: u64,
    /// Its folder.
    pub dir: PathBuf,
}

fn info(b: &Block) -> Result<BlockInfo, Error> {
    let m = b.meta();
    // histogram series without float samples
    let mut hist_only = 0;
    if let Some(h) = b.histograms() {
        for l in h.series(&[], i64::MIN, i64::MAX) {
            let ms: Vec<Matcher> = l
                .iter()
                .map(|l| Matcher::equal(&l.name, &l.value))
                .collect();
            if !b.series_spans(&ms)?.iter().any(|s| s.0 == l) {
                hist_only += 1;
            }
        }
    }
    Ok(BlockInfo {
        id: m.id.clone(),
        min_time: m.min_time,
        max_time: m.max_time,
        num_samples: m.num_samples + m.hist.samples,
        num_chunks: m.num_chunks + m.hist.chunks,
        num_series: m.num_series + hist_only,
        num_histogram_samples: m.hist.samples,
        num_histogram_chunks: m.hist.chunks,
        num_histogram_series: m.hist.series,
        size_bytes: b.size_bytes(),
        dir: b.dir().to_path_buf(),
    })
}

/// The blocks of the data folder `dir`, oldest data first (as Prometheus
/// lists them). A block that cannot be opened is an error naming it.
pub fn list_blocks(dir: &Path) -> Result<Vec<BlockInfo>, Error> {
    check_data_dir(dir)?;
    let mut out = Vec::new();
    for path in block::list_blocks(dir)? {
        out.push(info(&Block::open(&path)?)?);
    }
    out.sort_by(|a, b| (a.min_time, &a.id).cmp(&(b.min_time, &b.id)));
    Ok(out)
}

/// Refuses a missing folder, and a Prometheus data folder with a word on
/// what to do with it.
fn check_data_dir(dir: &Path) -> Result<(), Error> {
    let meta = fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a folder"),
        ));
    }
    if dir.join("wal").is_dir() && !dir.join("takeover.json").exists() {
        return Err(Error::unsupported(
            dir,
            "holds a Prometheus TSDB: flint takes it over when started with \
             --storage.tsdb.path on it; promtool tsdb reads it as it is",
        ));
    }
    Ok(())
}

/// One block, open for analysis.
pub struct BlockView {
    block: Block,
}

/// A series of a block: its labels and the time span of its chunks (first
/// chunk's first sample to last chunk's last).
pub type SeriesSpan = (Labels, i64, i64);

impl BlockView {
    /// Opens block `id` of the data folder `dir`, or, without an id, the
    /// one created last (the greatest id, as promtool picks it).
    pub fn open(dir: &Path, id: Option<&str>) -> Result<BlockView, Error> {
        check_data_dir(dir)?;
        let path = match id {
            Some(id) => dir.join(id),
            None => block::list_blocks(dir)?.pop().ok_or_else(|| {
                Error::io(
                    dir,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no blocks found"),
                )
            })?,
        };
        if !path.join("meta.json").is_file() {
            return Err(Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such block"),
            ));
        }
        Ok(BlockView {
            block: Block::open(&path)?,
        })
    }

    /// What the block's meta says, and its size.
    pub fn info(&self) -> Result<BlockInfo, Error> {
        info(&self.block)
    }

    /// Every series matching all `matchers` (all series when empty), in
    /// label order, with the span of its chunks.
    pub fn series(&self, matchers: &[Matcher]) -> Result<Vec<SeriesSpan>, Error> {
        let mut spans = self.block.series_spans(matchers)?;
        let Some(h) = self.block.histograms() else {
            return Ok(spans);
        };
        // with the native histogram series, a series with both once
        spans.extend(h.spans(matchers));
        spans.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<SeriesSpan> = Vec::with_capacity(spans.len());
        for s in spans {
            match out.last_mut() {
                Some(l) if l.0 == s.0 => {
                    l.1 = l.1.min(s.1);
                    l.2 = l.2.max(s.2);
                }
                _ => out.push(s),
            }
        }
        Ok(out)
    }

    /// Samples, bytes and buckets (of the chunk's bucket layout) of every
    /// native histogram chunk of the series matching all `matchers`.
    pub fn histogram_chunk_sizes(
        &self,
        matchers: &[Matcher],
    ) -> Result<Vec<(u32, usize, usize)>, Error> {
        match self.block.histograms() {
            Some(h) => h.chunk_sizes(matchers),
            None => Ok(Vec::new()),
        }
    }

    /// Samples and bytes of every chunk of the series matching all
    /// `matchers`.
    pub fn chunk_sizes(&self, matchers: &[Matcher]) -> Result<Vec<(u16, usize)>, Error> {
        Ok(self
            .block
            .select(matchers, i64::MIN, i64::MAX)?
            .into_iter()
            .flat_map(|(_, chunks)| {
                chunks
                    .into_iter()
                    .map(|c| (c.count, c.data.len()))
                    .collect::<Vec<_>>()
            })
            .collect())
    }
}

/// A data folder opened without writing to it: its blocks hard-linked (or
/// copied) and its head files copied into a sandbox folder, and the copy
/// opened. The sandbox is removed when this is dropped.
pub struct ReadOnly {
    db: Option<Db>,
    sandbox: PathBuf,
}

impl ReadOnly {
    /// Opens the data folder `dir` through a sandbox made in
    /// `sandbox_root` (`dir` itself when `None`, as promtool does).
    pub fn open(dir: &Path, sandbox_root: Option<&Path>) -> Result<ReadOnly, Error> {
        check_data_dir(dir)?;
        let root = sandbox_root.unwrap_or(dir);
        let nanos = crate::time::now_ns();
        let sandbox = root.join(format!("flint-sandbox-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&sandbox).map_err(|e| Error::io(&sandbox, e))?;
        let mut ro = ReadOnly { db: None, sandbox };
        for b in block::list_blocks(dir)? {
            let to = ro
                .sandbox
                .join(b.file_name().expect("a block folder has a name"));
            link_tree(&b, &to)?;
        }
        // the histogram store too: its range files and the log of the
        // open chunks
        for name in ["series", "chunks_head", "chunks_closed", "histograms"] {
            let from = dir.join(name);
            if from.is_dir() {
                copy_tree(&from, &ro.sandbox.join(name))?;
            } else if from.is_file() {
                let to = ro.sandbox.join(name);
                fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            }
        }
        ro.db = Some(Db::open(
            &ro.sandbox,
            Options {
                retention_ms: 0,
                retention_bytes: 0,
                max_future_ms: 0,
                no_lockfile: true,
                ..Options::default()
            },
        )?);
        Ok(ro)
    }

    /// The opened copy, for queries.
    pub fn db(&self) -> &Db {
        self.db.as_ref().expect("opened")
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        self.db = None;
        let _ = fs::remove_dir_all(&self.sandbox);
    }
}

/// Hard-links every file of folder `from` into a new folder `to` (copies
/// where links cannot be made, e.g. across file systems).
fn link_tree(from: &Path, to: &Path) -> Result<(), Error> {
    fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for ent in fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let ent = ent.map_err(|e| Error::io(from, e))?;
        let (src, dst) = (ent.path(), to.join(ent.file_name()));
        if src.is_dir() {
            link_tree(&src, &dst)?;
        } else if fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
        }
    }
    Ok(())
}

/// Copies folder `from` into a new folder `to`.
fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for ent in fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let ent = ent.map_err(|e| Error::io(from, e))?;
        let (src, dst) = (ent.path(), to.join(ent.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
        }
    }
    Ok(())
}

/// Writes a flint block of `series` (label order, samples in time order,
/// all in `[min_time, max_time)`) into the data folder `dir`.
pub fn write_block(
    dir: &Path,
    min_time: i64,
    max_time: i64,
    series: Vec<(Labels, Vec<(i64, f64)>)>,
) -> Result<BlockInfo, Error> {
    write_block_with_histograms(dir, min_time, max_time, series, Vec::new())
}

/// [`write_block`] with native histogram series too (label order,
/// samples in time order, all in `[min_time, max_time)`), written into
/// the block's `histograms` file in chunks cut as the histogram store
/// cuts them (see `docs/format/histograms.md`): at 120 samples, at 2 h
/// boundaries and where Prometheus cuts its chunks. A series may have
/// float and histogram samples.
pub fn write_block_with_histograms(
    dir: &Path,
    min_time: i64,
    max_time: i64,
    series: Vec<(Labels, Vec<(i64, f64)>)>,
    histograms: Vec<(Labels, Vec<(i64, FloatHistogram)>)>,
) -> Result<BlockInfo, Error> {
    let hist: Vec<(Labels, Vec<HistChunk>)> = histograms
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(l, s)| (l, histogram_chunks(&s)))
        .collect();
    let meta = block::write_block_with(
        dir,
        min_time,
        max_time,
        series
            .into_iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(l, s)| (l, encode_samples(&s))),
        &hist,
        1,
        Vec::new(),
    )?;
    info(&Block::open(&dir.join(&meta.id))?)
}

/// One series' histogram samples (timestamps increasing) in the store's
/// chunks, cut where [`crate::histstore`] cuts a series' open chunk.
fn histogram_chunks(samples: &[(i64, FloatHistogram)]) -> Vec<HistChunk> {
    const RANGE_MS: i64 = 2 * 3600 * 1000;
    let mut out = Vec::new();
    let mut enc = chunk::Encoder::default();
    let mut mint = 0;
    let mut prev: Option<&(i64, FloatHistogram)> = None;
    let close = |enc: &chunk::Encoder, mint: i64, maxt: i64| {
        let (bytes, bits) = enc.bytes();
        HistChunk {
            mint,
            maxt,
            count: enc.count(),
            bits,
            data: bytes[..bits.div_ceil(8)].to_vec(),
        }
    };
    for s in samples {
        if let Some(p) = prev {
            if p.0.div_euclid(RANGE_MS) != s.0.div_euclid(RANGE_MS)
                || enc.count() as usize >= SAMPLES_PER_CHUNK
                || starts_new_chunk(&p.1, &s.1)
            {
                out.push(close(&enc, mint, p.0));
                enc = chunk::Encoder::default();
            }
        }
        if enc.count() == 0 {
            mint = s.0;
        }
        enc.append(s.0, &s.1);
        prev = Some(s);
    }
    if let Some(p) = prev {
        out.push(close(&enc, mint, p.0));
    }
    out
}

/// A new block id (a ULID), greater than every one made before by this
/// process.
pub fn new_block_id() -> String {
    block::new_block_id()
}
