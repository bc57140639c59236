//! Taking over a Prometheus data directory: what Prometheus left under
//! `--storage.tsdb.path` becomes flint's, nothing lost, Prometheus's files
//! kept.
//!
//! 1. [`prepare`] finds Prometheus's files ([`crate::prom::detect`]) and
//!    reads every header, table of contents and symbol table before
//!    anything is changed: a file in a format flint does not read stops
//!    it there, naming the file and what was not understood.
//! 2. It moves them, untouched, into `prometheus-original/` (one rename
//!    each; `takeover.json` lists them first, so a crash midway finishes
//!    the moves on the next start), then writes each block (overlapping
//!    blocks together) as a flint block over the same range, tombstones
//!    applied. Native histogram chunks (integer and float, exponential or
//!    custom buckets) go to flint's histogram store, made durable before
//!    the block is. A flint block records the Prometheus blocks it came
//!    from as its sources, so a crash midway goes on with the blocks not
//!    written (histograms already stored are refused as not newer).
//! 3. Once the database is open, [`import_head`] replays the head as
//!    Prometheus would: series from the write-ahead log (checkpoint
//!    first), the memory-mapped head chunks (float and histogram), then
//!    the log's float and histogram samples newer than them, its
//!    tombstones applied, passing over what is older than the newest
//!    block's end (it is in the blocks). Appending is idempotent (a
//!    sample at or before a series' newest is dropped), so a crash midway
//!    replays it again without duplicates.
//! 4. [`finish`] marks the take-over done in `takeover.json`, and removes
//!    `prometheus-original/` when asked.
//!
//! A histogram stale marker becomes a float stale marker of its series,
//! as flint's scrapes write them. Out-of-order samples (`wbl/`,
//! out-of-order head chunks) and chunks with start timestamps (`XOR2`,
//! `histogramST`, `floathistogramST`) are not imported: they are counted
//! and logged, and stay in `prometheus-original/`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::block::{self, encode_samples};
use crate::chunkenc::prom::decode_xor;
use crate::chunkenc::prom_histogram::{self as phist, Converted};
use crate::fasthash::FxBuild;
use crate::histogram::FloatHistogram;
use crate::histstore::HistStore;
use crate::labels::Labels;
use crate::prom::chunks::{self as pchunks, BlockChunks};
use crate::prom::index::IndexReader;
use crate::prom::wal::{self, Record};
use crate::prom::{self, tombstones, Layout};
use crate::{Db, Error};

/// The folder Prometheus's files are moved to.
pub const ORIGINAL_DIR: &str = "prometheus-original";
/// The state file of a take-over.
pub const STATE_FILE: &str = "takeover.json";

/// How far a take-over is, for `/api/v1/status/walreplay` and the logs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Work in all (bytes of Prometheus's files to read).
    pub total: AtomicU64,
    /// Work done.
    pub done: AtomicU64,
    /// Series imported.
    pub series: AtomicU64,
    /// Samples imported.
    pub samples: AtomicU64,
    /// Native histogram samples imported.
    pub histograms: AtomicU64,
    /// Whether it has finished.
    pub finished: AtomicBool,
}

/// What an import left out, by cause.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Native histogram chunks with start timestamps (`histogramST`,
    /// `floathistogramST`) not imported.
    pub histograms: u64,
    /// Out-of-order chunks and `wbl/` records not imported.
    pub out_of_order: u64,
    /// Float chunks in an encoding not read (`XOR2`) or of an unknown
    /// encoding.
    pub other_encodings: u64,
    /// Samples of series the log never named.
    pub orphans: u64,
    /// Samples refused by the database (older than its blocks, duplicates).
    pub refused: u64,
    /// Damaged parts: file, offset, what.
    pub damage: Vec<String>,
}

/// A take-over in progress: what was found and where it is now.
#[derive(Debug)]
pub struct Plan {
    /// The data directory.
    pub dir: PathBuf,
    /// Where Prometheus's files are now.
    pub original: PathBuf,
    /// What is there (paths under `original`).
    pub layout: Layout,
    /// Whether this run resumes an interrupted one.
    pub resumed: bool,
}

fn write_state(
    dir: &Path,
    state: &str,
    entries: &[PathBuf],
    extra: serde_json::Value,
) -> Result<(), Error> {
    let names: Vec<String> = entries
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let v = serde_json::json!({
        "version": 1,
        "state": state,
        "original": ORIGINAL_DIR,
        "entries": names,
        "summary": extra,
    });
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let path = dir.join(STATE_FILE);
    fs::write(&tmp, serde_json::to_vec_pretty(&v).expect("json"))
        .map_err(|e| Error::io(&tmp, e))?;
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    crate::fs::sync_dir(dir).map_err(|e| Error::io(dir, e))
}

fn read_state(dir: &Path) -> Result<Option<serde_json::Value>, Error> {
    let path = dir.join(STATE_FILE);
    match fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::corrupt(&path, 0, format!("not JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Reads every header of the layout's files: anything not understood
/// is an error naming its file. Returns the bytes to read in all.
fn check(layout: &Layout) -> Result<u64, Error> {
    let mut total = 0u64;
    for b in &layout.blocks {
        prom::read_meta(b)?;
        IndexReader::open(&b.join("index"))?;
        BlockChunks::open(b)?;
        tombstones::read(b)?;
        total += dir_size(&b.join("chunks"));
    }
    if let Some(h) = &layout.chunks_head {
        for (_, p) in prom::numbered(h)? {
            let f = pchunks::read_head_chunk_file(&p)?;
            drop(f);
            total += file_size(&p);
        }
    }
    if let Some(w) = &layout.wal {
        let (_, segs) = wal::segments(w)?;
        for s in &segs {
            wal::read_segment(s)?;
            total += file_size(s);
        }
    }
    Ok(total.max(1))
}

fn file_size(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn dir_size(p: &Path) -> u64 {
    fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| file_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Whether `dir` holds Prometheus data to take over (or a take-over to
/// finish). Cheap: looks at names and magic numbers only.
pub fn pending(dir: &Path) -> Result<bool, Error> {
    let state = read_state(dir)?;
    if let Some(s) = &state {
        return Ok(s["state"].as_str() != Some("done") || !prom::detect(dir)?.is_empty());
    }
    Ok(!prom::detect(dir)?.is_empty())
}

/// Finds Prometheus's files in `dir`, checks them, and moves them into
/// `dir/prometheus-original/`; writes the blocks as flint blocks. Returns
/// `None` when there is nothing to take over (also once a take-over is
/// done). Call before opening the database.
pub fn prepare(dir: &Path, progress: &Progress) -> Result<Option<Plan>, Error> {
    let original = dir.join(ORIGINAL_DIR);
    let state = read_state(dir)?;
    let state_name = state
        .as_ref()
        .and_then(|s| s["state"].as_str().map(str::to_string));
    if state_name.as_deref() == Some("done") {
        return Ok(None);
    }
    let found = prom::detect(dir)?;
    let resumed = state_name.is_some();
    if found.is_empty() && !resumed {
        return Ok(None);
    }
    // check what will be moved (or, resuming, what was), before changing
    // anything
    let in_original = prom::detect(&original)?;
    let mut all = in_original.clone();
    all.blocks.extend(found.blocks.iter().cloned());
    all.wal = all.wal.or(found.wal.clone());
    all.chunks_head = all.chunks_head.or(found.chunks_head.clone());
    all.wbl = all.wbl.or(found.wbl.clone());
    let total = check(&all)?;
    progress.total.store(total, Ordering::Relaxed);
    if !found.is_empty() || !found.other.is_empty() {
        let entries = found.entries();
        write_state(dir, "moving", &entries, serde_json::Value::Null)?;
        fs::create_dir_all(&original).map_err(|e| Error::io(&original, e))?;
        for e in &entries {
            let to = original.join(e.file_name().expect("entry name"));
            fs::rename(e, &to).map_err(|err| Error::io(e, err))?;
        }
        crate::fs::sync_dir(&original).map_err(|e| Error::io(&original, e))?;
        crate::fs::sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        tracing::info!(component = "tsdb", from = %dir.display(), to = %original.display(), entries = entries.len(), "Moved the Prometheus data aside; flint imports it from there and leaves it as it is");
    }
    write_state(dir, "importing", &[], serde_json::Value::Null)?;
    let layout = prom::detect(&original)?;
    Ok(Some(Plan {
        dir: dir.to_path_buf(),
        original,
        layout,
        resumed,
    }))
}

/// Progress lines at most every few seconds.
struct Reporter<'a> {
    progress: &'a Progress,
    start: Instant,
    last: Instant,
}

impl Reporter<'_> {
    fn tick(&mut self, force: bool) {
        if !force && self.last.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.last = Instant::now();
        let p = self.progress;
        let (done, total) = (
            p.done.load(Ordering::Relaxed),
            p.total.load(Ordering::Relaxed).max(1),
        );
        let pct = (done as f64 / total as f64 * 100.0).min(100.0);
        let elapsed = self.start.elapsed().as_secs_f64();
        let eta = if done > 0 && done < total {
            format!("{:.0}s", elapsed * (total - done) as f64 / done as f64)
        } else {
            "0s".into()
        };
        tracing::info!(
            component = "tsdb",
            series = p.series.load(Ordering::Relaxed),
            samples = p.samples.load(Ordering::Relaxed),
            histograms = p.histograms.load(Ordering::Relaxed),
            bytes_read = done,
            bytes_total = total,
            percent = format!("{pct:.1}"),
            eta = %eta,
            "Importing the Prometheus data"
        );
    }
}

/// Groups blocks whose time ranges overlap.
fn clusters(mut metas: Vec<(PathBuf, prom::BlockMeta)>) -> Vec<Vec<(PathBuf, prom::BlockMeta)>> {
    metas.sort_by_key(|m| (m.1.min_time, m.1.max_time));
    let mut out: Vec<Vec<(PathBuf, prom::BlockMeta)>> = Vec::new();
    let mut end = i64::MIN;
    for m in metas {
        if m.1.min_time < end {
            end = end.max(m.1.max_time);
            out.last_mut().expect("a cluster").push(m);
        } else {
            end = m.1.max_time;
            out.push(vec![m]);
        }
    }
    out
}

/// The ids of the Prometheus blocks flint blocks in `dir` came from.
fn imported_sources(dir: &Path) -> Result<std::collections::HashSet<String>, Error> {
    let mut out = std::collections::HashSet::new();
    for p in block::list_blocks(dir)? {
        let path = p.join("meta.json");
        let Ok(text) = fs::read(&path) else { continue };
        if let Ok(m) = block::BlockMeta::parse(&path, &text) {
            out.extend(m.sources);
        }
    }
    Ok(out)
}

/// One Prometheus block opened for reading.
struct Source {
    path: PathBuf,
    index: IndexReader,
    chunks: BlockChunks,
    tombstones: tombstones::Tombstones,
    next: usize,
}

/// Writes the blocks of a plan as flint blocks (before the database is
/// opened). Returns what was left out.
pub fn import_blocks(plan: &Plan, progress: &Progress) -> Result<Skipped, Error> {
    let mut skipped = Skipped::default();
    block::remove_tmp_blocks(&plan.dir)?;
    // the database's histogram store, opened alone (the database is not
    // open yet)
    let hist = HistStore::open(&plan.dir)?;
    let done = imported_sources(&plan.dir)?;
    let mut metas = Vec::new();
    for b in &plan.layout.blocks {
        metas.push((b.clone(), prom::read_meta(b)?));
    }
    let mut rep = Reporter {
        progress,
        start: Instant::now(),
        last: Instant::now(),
    };
    for cluster in clusters(metas) {
        let ids: Vec<String> = cluster.iter().map(|m| m.1.ulid.clone()).collect();
        let bytes: u64 = cluster.iter().map(|m| dir_size(&m.0.join("chunks"))).sum();
        if ids.iter().all(|id| done.contains(id)) {
            progress.done.fetch_add(bytes, Ordering::Relaxed);
            continue;
        }
        let min_time = cluster.iter().map(|m| m.1.min_time).min().expect("a block");
        let max_time = cluster.iter().map(|m| m.1.max_time).max().expect("a block");
        let mut sources = Vec::new();
        for (path, _) in &cluster {
            sources.push(Source {
                index: IndexReader::open(&path.join("index"))?,
                chunks: BlockChunks::open(path)?,
                tombstones: tombstones::read(path)?,
                path: path.clone(),
                next: 0,
            });
        }
        let mut series = MergedSeries {
            sources,
            skipped: &mut skipped,
            progress,
            hist: &hist,
            histograms: 0,
            failed: None,
            done: false,
        };
        let meta = block::write_block(&plan.dir, min_time, max_time, &mut series, 1, ids.clone());
        if let Some(e) = series.failed.take() {
            // a block without the histograms would mark its sources done
            if let Ok(m) = &meta {
                let p = plan.dir.join(&m.id);
                fs::remove_dir_all(&p).map_err(|err| Error::io(&p, err))?;
            }
            return Err(e);
        }
        let histograms = series.histograms;
        let meta = meta?;
        progress.done.fetch_add(bytes, Ordering::Relaxed);
        tracing::info!(component = "tsdb", blocks = ?ids, block = %meta.id, series = meta.num_series, samples = meta.num_samples, histograms, "Imported Prometheus blocks");
        rep.tick(false);
    }
    Ok(skipped)
}

/// The series of overlapping blocks, merged in label order, as flint
/// block chunks; their histogram samples are stored in `hist` on the way,
/// and made durable once the last series is read (before the block is).
struct MergedSeries<'a> {
    sources: Vec<Source>,
    skipped: &'a mut Skipped,
    progress: &'a Progress,
    hist: &'a HistStore,
    /// Histogram samples stored.
    histograms: u64,
    /// Storing histograms failed: the block must not be written.
    failed: Option<Error>,
    done: bool,
}

impl MergedSeries<'_> {
    /// The labels of each source's next readable series (damaged ones
    /// skipped and noted).
    fn peek(&mut self, i: usize) -> Option<crate::prom::index::Series> {
        loop {
            let s = &mut self.sources[i];
            if s.next >= s.index.len() {
                return None;
            }
            match s.index.series(s.next) {
                Ok(x) => return Some(x),
                Err(e) => {
                    self.skipped.damage.push(e.to_string());
                    s.next += 1;
                }
            }
        }
    }
}

impl Iterator for MergedSeries<'_> {
    type Item = (Labels, Vec<block::ChunkData>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed.is_some() || self.done {
            return None;
        }
        let heads: Vec<Option<crate::prom::index::Series>> =
            (0..self.sources.len()).map(|i| self.peek(i)).collect();
        let Some(smallest) = heads.iter().flatten().map(|s| s.labels.clone()).min() else {
            self.done = true;
            if let Err(e) = self.hist.sync() {
                self.failed = Some(e);
            }
            return None;
        };
        let mut samples: Vec<(i64, f64)> = Vec::new();
        let mut hists: Vec<(i64, FloatHistogram)> = Vec::new();
        for (i, h) in heads.into_iter().enumerate() {
            let Some(series) = h.filter(|s| s.labels == smallest) else {
                continue;
            };
            let src = &mut self.sources[i];
            src.next += 1;
            let deleted = src.tombstones.get(&series.r#ref);
            for c in &series.chunks {
                match src.chunks.get(c.r#ref) {
                    Ok((enc, data)) if enc == pchunks::ENC_XOR => match decode_xor(data) {
                        Some(s) => samples.extend(
                            s.into_iter()
                                .filter(|(t, _)| !tombstones::deleted(deleted, *t)),
                        ),
                        None => self.skipped.damage.push(format!(
                            "{}: chunk {:#x} of {}: not decodable as XOR",
                            src.path.display(),
                            c.r#ref,
                            series.labels
                        )),
                    },
                    Ok((enc, data))
                        if enc == pchunks::ENC_HISTOGRAM || enc == pchunks::ENC_FLOAT_HISTOGRAM =>
                    {
                        let what = format!(
                            "{}: chunk {:#x} of {}",
                            src.path.display(),
                            c.r#ref,
                            series.labels
                        );
                        histogram_samples(
                            enc,
                            data,
                            &what,
                            |t| !tombstones::deleted(deleted, t),
                            &mut samples,
                            &mut hists,
                            self.skipped,
                        );
                    }
                    Ok((enc, _)) if pchunks::is_histogram(enc) => self.skipped.histograms += 1,
                    Ok(_) => self.skipped.other_encodings += 1,
                    Err(e) => self.skipped.damage.push(e.to_string()),
                }
            }
        }
        if samples.windows(2).any(|w| w[0].0 >= w[1].0) {
            samples.sort_by_key(|s| s.0);
            samples.dedup_by_key(|s| s.0);
        }
        if hists.windows(2).any(|w| w[0].0 >= w[1].0) {
            hists.sort_by_key(|s| s.0);
            hists.dedup_by_key(|s| s.0);
        }
        self.progress.series.fetch_add(1, Ordering::Relaxed);
        self.progress
            .samples
            .fetch_add(samples.len() as u64, Ordering::Relaxed);
        if !hists.is_empty() {
            let batch = hists
                .into_iter()
                .map(|(t, h)| (smallest.clone(), t, h))
                .collect();
            match self.hist.append(batch, None) {
                Ok((stored, refused)) => {
                    self.histograms += stored;
                    self.skipped.refused += refused;
                    self.progress
                        .histograms
                        .fetch_add(stored, Ordering::Relaxed);
                }
                Err(e) => {
                    self.failed = Some(e);
                    return None;
                }
            }
        }
        Some((smallest, encode_samples(&samples)))
    }
}

/// Decodes a Prometheus histogram chunk (`what` names it in messages):
/// its histograms go to `hists`, its stale markers to `floats` as float
/// stale markers, those `keep` refuses nowhere; what is not decodable is
/// noted as damage.
fn histogram_samples(
    enc: u8,
    data: &[u8],
    what: &str,
    keep: impl Fn(i64) -> bool,
    floats: &mut Vec<(i64, f64)>,
    hists: &mut Vec<(i64, FloatHistogram)>,
    skipped: &mut Skipped,
) {
    let Some(decoded) = phist::decode(enc, data) else {
        skipped.damage.push(format!(
            "{what}: not decodable as {}",
            pchunks::encoding_name(enc)
        ));
        return;
    };
    for (t, parts) in decoded {
        if !keep(t) {
            continue;
        }
        match parts.convert() {
            Ok(Converted::Histogram(h)) => hists.push((t, h)),
            Ok(Converted::Stale) => floats.push((t, f64::from_bits(crate::STALE_NAN_BITS))),
            Err(e) => skipped.damage.push(format!("{what}: at {t}: {e}")),
        }
    }
}

/// Samples appended per commit.
const BATCH: usize = 50_000;

/// The series and the deleted ranges a log segment names.
type SeriesAndDeletions = (Vec<(u64, Labels)>, Vec<(u64, i64, i64)>);

fn series_and_deletions(path: &Path) -> Result<SeriesAndDeletions, Error> {
    let seg = wal::read_segment(path)?;
    let (mut series, mut deletions) = (Vec::new(), Vec::new());
    for rec in &seg.records {
        if !matches!(
            rec.first(),
            Some(&wal::REC_SERIES) | Some(&wal::REC_TOMBSTONES)
        ) {
            continue;
        }
        match wal::decode(rec) {
            Some(Record::Series(v)) => series.extend(v),
            Some(Record::Tombstones(v)) => deletions.extend(v),
            _ => {}
        }
    }
    Ok((series, deletions))
}

/// What the log says about one of its series.
struct Known {
    /// Its labels (from a series record).
    labels: Option<Labels>,
    /// The series in the database, once it has a sample.
    handle: Option<crate::SeriesHandle>,
    /// The newest sample of its memory-mapped head chunks.
    mapped_max: i64,
    /// Its deleted ranges.
    deleted: Vec<(i64, i64)>,
}

impl Default for Known {
    fn default() -> Self {
        Known {
            labels: None,
            handle: None,
            mapped_max: i64::MIN,
            deleted: Vec::new(),
        }
    }
}

/// The samples of one log segment, decoded.
#[derive(Default)]
struct Decoded {
    path: PathBuf,
    damage: Option<(u64, String)>,
    samples: Vec<wal::Sample>,
    /// Histogram samples: series, time, histogram (their stale markers
    /// are float samples).
    histograms: Vec<(u64, i64, FloatHistogram)>,
    /// Histogram samples not convertible (an unknown schema, spans that
    /// do not match the buckets).
    invalid: Vec<String>,
    undecodable: usize,
}

/// Appends samples in batches, counting what the database refuses.
struct Batch<'a> {
    app: crate::Appender<'a>,
    db: &'a Db,
    appended: u64,
    histograms: u64,
    refused: u64,
}

impl<'a> Batch<'a> {
    fn add(&mut self, k: &mut Known, t: i64, v: f64) -> Result<(), Error> {
        if k.handle.is_none() {
            let labels = k.labels.as_ref().expect("series with labels only");
            k.handle = Some(self.app.series_handle(labels)?.0);
        }
        self.app
            .append_handle(k.handle.as_ref().expect("just set"), t, v);
        if self.app.len() >= BATCH {
            self.commit()?;
        }
        Ok(())
    }

    fn add_histogram(&mut self, k: &Known, t: i64, h: FloatHistogram) -> Result<(), Error> {
        let labels = k.labels.as_ref().expect("series with labels only");
        self.app.append_histogram(labels, t, h);
        if self.app.len() >= BATCH {
            self.commit()?;
        }
        Ok(())
    }

    /// Adds a sample decoded from a histogram chunk or record.
    fn add_converted(&mut self, k: &mut Known, t: i64, c: Converted) -> Result<(), Error> {
        match c {
            Converted::Histogram(h) => self.add_histogram(k, t, h),
            Converted::Stale => self.add(k, t, f64::from_bits(crate::STALE_NAN_BITS)),
        }
    }

    fn commit(&mut self) -> Result<(), Error> {
        let app = std::mem::replace(&mut self.app, self.db.appender());
        let stats = app.commit()?;
        self.appended += stats.appended;
        self.histograms += stats.histograms_appended;
        self.refused += stats.out_of_order
            + stats.duplicate_timestamp
            + stats.out_of_bounds
            + stats.too_far_in_future
            + stats.histograms_out_of_order;
        Ok(())
    }
}

/// Replays Prometheus's head (write-ahead log and head chunks) into the
/// open database. Returns what was left out.
pub fn import_head(plan: &Plan, db: &Db, progress: &Progress) -> Result<Skipped, Error> {
    let mut skipped = Skipped::default();
    let mut rep = Reporter {
        progress,
        start: Instant::now(),
        last: Instant::now(),
    };
    let segments = match &plan.layout.wal {
        Some(w) => wal::segments(w)?.1,
        None => Vec::new(),
    };
    // what is older than the newest block's end is in the blocks:
    // Prometheus's replay passes it over, and so does this one
    let mut min_valid = i64::MIN;
    for b in &plan.layout.blocks {
        min_valid = min_valid.max(prom::read_meta(b)?.max_time);
    }
    // the series and tombstones the log names (only those records are
    // decoded in this pass)
    let mut known: HashMap<u64, Known, FxBuild> = HashMap::with_hasher(FxBuild);
    // segments are read (and their records decompressed) on two threads;
    // what they name is applied in segment order
    let found: Vec<Result<SeriesAndDeletions, Error>> = std::thread::scope(|scope| {
        let half = segments.len().div_ceil(2);
        let (a, b) = segments.split_at(half);
        let worker = |part: &[PathBuf]| -> Vec<Result<SeriesAndDeletions, Error>> {
            part.iter().map(|s| series_and_deletions(s)).collect()
        };
        let other = scope.spawn(move || worker(b));
        let mut out = worker(a);
        out.extend(other.join().unwrap_or_default());
        out
    });
    for f in found {
        let (series, deletions) = f?;
        for (r, l) in series {
            known.entry(r).or_default().labels = Some(l);
        }
        for (r, a, b) in deletions {
            known.entry(r).or_default().deleted.push((a, b));
        }
    }
    progress.series.fetch_add(
        known.values().filter(|k| k.labels.is_some()).count() as u64,
        Ordering::Relaxed,
    );
    let mut batch = Batch {
        app: db.appender(),
        db,
        appended: 0,
        histograms: 0,
        refused: 0,
    };
    // the memory-mapped head chunks, in file order
    if let Some(h) = &plan.layout.chunks_head {
        for (_, p) in prom::numbered(h)? {
            let file = pchunks::read_head_chunk_file(&p)?;
            if let Some((off, what)) = &file.damage {
                skipped
                    .damage
                    .push(format!("{}: at offset {off}: {what}", p.display()));
            }
            for c in file.chunks {
                if c.encoding & pchunks::OOO_MASK != 0 {
                    skipped.out_of_order += 1;
                    continue;
                }
                if c.maxt < min_valid {
                    continue;
                }
                let hist = c.encoding == pchunks::ENC_HISTOGRAM
                    || c.encoding == pchunks::ENC_FLOAT_HISTOGRAM;
                if !hist && pchunks::is_histogram(c.encoding) {
                    skipped.histograms += 1;
                    continue;
                }
                if !hist && c.encoding != pchunks::ENC_XOR {
                    skipped.other_encodings += 1;
                    continue;
                }
                let Some(k) = known.get_mut(&c.series).filter(|k| k.labels.is_some()) else {
                    skipped.orphans += u64::from(u16::from_be_bytes([
                        c.data.first().copied().unwrap_or(0),
                        c.data.get(1).copied().unwrap_or(0),
                    ]));
                    continue;
                };
                if hist {
                    let Some(decoded) = phist::decode(c.encoding, &c.data) else {
                        skipped.damage.push(format!(
                            "{}: chunk of series {} not decodable as {}",
                            p.display(),
                            c.series,
                            pchunks::encoding_name(c.encoding)
                        ));
                        continue;
                    };
                    for (t, parts) in decoded {
                        if t < min_valid || tombstones::deleted(Some(&k.deleted), t) {
                            continue;
                        }
                        match parts.convert() {
                            Ok(x) => batch.add_converted(k, t, x)?,
                            Err(e) => skipped.damage.push(format!(
                                "{}: chunk of series {}: at {t}: {e}",
                                p.display(),
                                c.series
                            )),
                        }
                    }
                    k.mapped_max = k.mapped_max.max(c.maxt);
                    continue;
                }
                let Some(samples) = decode_xor(&c.data) else {
                    skipped.damage.push(format!(
                        "{}: chunk of series {} not decodable as XOR",
                        p.display(),
                        c.series
                    ));
                    continue;
                };
                for (t, v) in samples {
                    if t >= min_valid && !tombstones::deleted(Some(&k.deleted), t) {
                        batch.add(k, t, v)?;
                    }
                }
                k.mapped_max = k.mapped_max.max(c.maxt);
            }
            progress.done.fetch_add(file_size(&p), Ordering::Relaxed);
            rep.tick(false);
        }
    }
    // the log's samples newer than the mapped chunks: segments read and
    // decoded on another thread while these are appended
    std::thread::scope(|scope| -> Result<(), Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Decoded, Error>>(2);
        let segs = &segments;
        scope.spawn(move || {
            for s in segs {
                let seg = match wal::read_segment(s) {
                    Ok(seg) => seg,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let mut d = Decoded {
                    path: s.clone(),
                    damage: seg.damage.clone(),
                    ..Decoded::default()
                };
                for rec in &seg.records {
                    match wal::decode(rec) {
                        Some(Record::Samples(v)) => d.samples.extend(v),
                        Some(Record::Histograms(v)) => {
                            for x in v {
                                match x.h.convert() {
                                    Ok(Converted::Histogram(h)) => {
                                        d.histograms.push((x.r#ref, x.t, h))
                                    }
                                    // with the float samples, in the log's
                                    // order
                                    Ok(Converted::Stale) => d.samples.push(wal::Sample {
                                        r#ref: x.r#ref,
                                        t: x.t,
                                        v: f64::from_bits(crate::STALE_NAN_BITS),
                                    }),
                                    Err(e) => d.invalid.push(format!(
                                        "{}: histogram of series {} at {}: {e}",
                                        s.display(),
                                        x.r#ref,
                                        x.t
                                    )),
                                }
                            }
                        }
                        Some(_) => {}
                        None => d.undecodable += 1,
                    }
                }
                drop(seg);
                if tx.send(Ok(d)).is_err() {
                    return;
                }
            }
        });
        for d in rx {
            let d = d?;
            if let Some((off, what)) = &d.damage {
                skipped
                    .damage
                    .push(format!("{}: at offset {off}: {what}", d.path.display()));
            }
            for _ in 0..d.undecodable {
                skipped
                    .damage
                    .push(format!("{}: a record not decodable", d.path.display()));
            }
            skipped.damage.extend(d.invalid);
            for smp in d.samples {
                match known.get_mut(&smp.r#ref).filter(|k| k.labels.is_some()) {
                    Some(k) => {
                        if smp.t <= k.mapped_max
                            || smp.t < min_valid
                            || tombstones::deleted(Some(&k.deleted), smp.t)
                        {
                            continue;
                        }
                        batch.add(k, smp.t, smp.v)?;
                    }
                    None => skipped.orphans += 1,
                }
            }
            for (r, t, h) in d.histograms {
                match known.get_mut(&r).filter(|k| k.labels.is_some()) {
                    Some(k) => {
                        if t <= k.mapped_max
                            || t < min_valid
                            || tombstones::deleted(Some(&k.deleted), t)
                        {
                            continue;
                        }
                        batch.add_histogram(k, t, h)?;
                    }
                    None => skipped.orphans += 1,
                }
            }
            progress
                .done
                .fetch_add(file_size(&d.path), Ordering::Relaxed);
            rep.tick(false);
        }
        Ok(())
    })?;
    batch.commit()?;
    progress
        .samples
        .fetch_add(batch.appended, Ordering::Relaxed);
    progress
        .histograms
        .fetch_add(batch.histograms, Ordering::Relaxed);
    skipped.refused += batch.refused;
    if let Some(w) = &plan.layout.wbl {
        let (_, segs) = wal::segments(w)?;
        for s in segs {
            if let Ok(seg) = wal::read_segment(&s) {
                skipped.out_of_order += seg
                    .records
                    .iter()
                    .filter(|r| {
                        r.first().is_some_and(|&t| {
                            t == wal::REC_SAMPLES
                                || t == wal::REC_SAMPLES_V2
                                || wal::is_histogram_record(t)
                        })
                    })
                    .count() as u64;
            }
        }
    }
    rep.tick(true);
    Ok(skipped)
}

/// Marks the take-over done; removes `prometheus-original/` when
/// `delete_original` (its files were all read).
pub fn finish(
    plan: &Plan,
    skipped: &Skipped,
    progress: &Progress,
    delete_original: bool,
) -> Result<(), Error> {
    let summary = serde_json::json!({
        "series": progress.series.load(Ordering::Relaxed),
        "samples": progress.samples.load(Ordering::Relaxed),
        "histograms": progress.histograms.load(Ordering::Relaxed),
        "skipped_histograms": skipped.histograms,
        "skipped_out_of_order": skipped.out_of_order,
        "skipped_other_encodings": skipped.other_encodings,
        "orphans": skipped.orphans,
        "refused": skipped.refused,
        "damage": skipped.damage,
        "original_deleted": delete_original,
    });
    write_state(&plan.dir, "done", &[], summary)?;
    if delete_original {
        fs::remove_dir_all(&plan.original).map_err(|e| Error::io(&plan.original, e))?;
    }
    progress
        .done
        .store(progress.total.load(Ordering::Relaxed), Ordering::Relaxed);
    progress.finished.store(true, Ordering::Relaxed);
    Ok(())
}

impl Skipped {
    /// Adds another part's counts.
    pub fn add(&mut self, o: Skipped) {
        self.histograms += o.histograms;
        self.out_of_order += o.out_of_order;
        self.other_encodings += o.other_encodings;
        self.orphans += o.orphans;
        self.refused += o.refused;
        self.damage.extend(o.damage);
    }
}

#[cfg(test)]
mod tests;
