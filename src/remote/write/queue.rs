//! One remote write queue: reads the journal from its own position, spreads
//! the samples over shards by series (so each series stays in order),
//! sends batches, and records as sent what the receiver took or refused
//! for good. What was skipped when the journal outgrew its limit is read
//! from the blocks and head first. The number of shards follows the rate
//! in and out, as Prometheus computes it.

mod shards;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tsdb::labels::{Label, Labels};
use tsdb::{Db, JournalRead, SeriesRef};

use super::error::SenderError;
use super::metrics::QueueMetrics;
use super::send::{Attempt, Sender};
use crate::config::remote::RemoteWriteConfig;
use crate::remote::wire::{self, FamilyMetadata, SeriesSamples};
use shards::{Rates, Shards, Tracker};

/// Metric metadata by family name, refreshed from the scrape targets.
pub type MetadataMap = Arc<parking_lot::RwLock<Arc<HashMap<String, FamilyMetadata>>>>;

/// How a queue is told to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Keep running.
    Run,
    /// Send what is read, then end.
    Flush,
}

/// How often resharding is considered, and the weight of the newest rate.
const SHARD_UPDATE: Duration = Duration::from_secs(10);
const EWMA_WEIGHT: f64 = 0.2;
/// How long an idle reader waits before looking at the journal again.
const POLL: Duration = Duration::from_millis(100);

/// A sample on its way to a shard, with the journal record it came from.
#[derive(Clone)]
struct Pending {
    series: SeriesRef,
    t: i64,
    v: f64,
    seq: u64,
    /// An exemplar of the series (`t` and `v` are its own), not a sample.
    ex: Option<Arc<tsdb::Exemplar>>,
    /// A native histogram sample (`v` unused), with its series' labels
    /// (`series` is then a number made from them, for the shard).
    h: Option<Arc<(Labels, Arc<tsdb::histogram::FloatHistogram>)>>,
}

/// The shard key of a histogram series: its labels' hash, with the top
/// bit set so that it is never a series reference.
fn histogram_key(labels: &Labels) -> SeriesRef {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut h);
    SeriesRef(h.finish() | 1 << 63)
}

/// One queue.
pub struct Queue {
    /// Its name (`remote_name`).
    pub name: String,
    /// Its configuration.
    pub cfg: RemoteWriteConfig,
    ext: Labels,
    db: Arc<Db>,
    sender: Sender,
    /// Its metrics.
    pub metrics: Arc<QueueMetrics>,
    metadata: MetadataMap,
    flush_deadline: Duration,
}

/// Why a series' samples are not sent.
#[derive(Clone, Copy)]
enum Skip {
    Unknown,
    Relabeled,
}

/// A series' labels as sent: as 1.0 label fields when the queue speaks
/// 1.0 (smaller, and written as they are), else as a label set.
enum Cached {
    V1(Box<[u8]>),
    Labels(Labels),
}

/// A series' labels as the cache holds them: ready to send, or why the
/// series is not sent.
type Resolved = Result<Arc<Cached>, Skip>;

/// Each shard's labels of the series it sends (a series always goes to
/// the same shard), resolved once; entries not used for ten minutes go.
struct LabelCache {
    /// Per series: its labels, and the epoch it was last used in.
    map: HashMap<SeriesRef, (Resolved, u32), RefHash>,
    epoch: u32,
    epoch_started: Instant,
    /// Lookups since the epoch was last checked.
    calls: u32,
}

/// A hash for series references (they are numbers already): one
/// multiplication.
#[derive(Clone, Copy, Default)]
struct RefHash;

impl std::hash::BuildHasher for RefHash {
    type Hasher = RefHasher;
    fn build_hasher(&self) -> RefHasher {
        RefHasher(0)
    }
}

struct RefHasher(u64);

impl std::hash::Hasher for RefHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// How long an epoch of [`LabelCache`] lasts, and how many unused epochs
/// an entry survives.
const CACHE_EPOCH: Duration = Duration::from_secs(60);
const CACHE_EPOCHS_KEPT: u32 = 10;

impl LabelCache {
    fn new() -> LabelCache {
        LabelCache {
            map: HashMap::with_hasher(RefHash),
            epoch: 0,
            epoch_started: Instant::now(),
            calls: 0,
        }
    }

    fn get(&mut self, q: &Queue, r: SeriesRef) -> Result<Arc<Cached>, Skip> {
        self.calls += 1;
        if self.calls >= 4096 && {
            self.calls = 0;
            self.epoch_started.elapsed() >= CACHE_EPOCH
        } {
            self.epoch += 1;
            self.epoch_started = Instant::now();
            let keep_from = self.epoch.saturating_sub(CACHE_EPOCHS_KEPT);
            self.map.retain(|_, (_, used)| *used >= keep_from);
        }
        let epoch = self.epoch;
        if let Some((c, used)) = self.map.get_mut(&r) {
            *used = epoch;
            return c.clone();
        }
        let c = q.resolve(r).map(|labels| {
            Arc::new(if q.sender.is_v2() {
                Cached::Labels(labels)
            } else {
                Cached::V1(wire::encode_labels_v1(&labels).into_boxed_slice())
            })
        });
        // an unknown series may become known (a commit in flight): not kept
        if !matches!(c, Err(Skip::Unknown)) {
            self.map.insert(r, (c.clone(), epoch));
        }
        c
    }
}

impl Queue {
    /// A queue for `cfg`.
    pub fn new(
        cfg: &RemoteWriteConfig,
        ext: Labels,
        db: Arc<Db>,
        base_dir: &std::path::Path,
        metadata: MetadataMap,
        flush_deadline: Duration,
    ) -> Result<Queue, SenderError> {
        let metrics = QueueMetrics::default();
        metrics.shards_desired.store(
            (cfg.queue_config.min_shards as f64).to_bits(),
            Ordering::Relaxed,
        );
        Ok(Queue {
            name: cfg.queue_name(),
            sender: Sender::new(cfg, base_dir)?,
            cfg: cfg.clone(),
            ext,
            db,
            metrics: Arc::new(metrics),
            metadata,
            flush_deadline,
        })
    }

    fn age_limit_ms(&self) -> Option<i64> {
        let l = self.cfg.queue_config.sample_age_limit.as_millis();
        (l > 0).then(|| crate::app::now_ms() - l)
    }

    /// The labels a series is sent with: external labels it lacks added,
    /// then `write_relabel_configs`.
    fn labels_for(&self, labels: Labels) -> Option<Labels> {
        let mut labels = labels;
        if !self.ext.is_empty() {
            let mut all: Vec<Label> = labels.iter().cloned().collect();
            for l in self.ext.iter() {
                if labels.get(&l.name).is_none() {
                    all.push(l.clone());
                }
            }
            labels = Labels::new(all);
        }
        if self.cfg.write_relabel_configs.is_empty() {
            return Some(labels);
        }
        relabel::relabel_owned(labels, &self.cfg.write_relabel_configs)
    }

    fn resolve(&self, r: SeriesRef) -> Result<Labels, Skip> {
        let labels = self.db.series_labels(r).ok_or(Skip::Unknown)?;
        self.labels_for(labels).ok_or(Skip::Relabeled)
    }

    /// Sends the request for `series` until the receiver takes or refuses
    /// it (or the queue stops). Counts what it sends.
    async fn send(&self, series: &[SeriesSamples<'_>], stop: &watch::Receiver<Stop>) {
        let n: u64 = series.iter().map(|s| s.samples.len() as u64).sum();
        let nx: u64 = series.iter().map(|s| s.exemplars.len() as u64).sum();
        let nh: u64 = series.iter().map(|s| s.histograms.len() as u64).sum();
        if n == 0 && nx == 0 && nh == 0 {
            return;
        }
        let newest = series
            .iter()
            .flat_map(|s| s.samples.iter().map(|x| x.0))
            .max()
            .unwrap_or(0);
        let m = &self.metrics;
        let q = &self.cfg.queue_config;
        let mut backoff = q.min_backoff.0;
        let mut retry = 0u32;
        loop {
            let v2 = self.sender.is_v2();
            let raw = if v2 {
                let meta = self.metadata.read().clone();
                wire::request_v2(series, &|f: &str| meta.get(f).cloned())
            } else {
                wire::write_request_v1(series)
            };
            let body = match snap::raw::Encoder::new().compress_vec(&raw) {
                Ok(b) => b,
                Err(e) => {
                    m.failed.fetch_add(n, Ordering::Relaxed);
                    m.exemplars_failed.fetch_add(nx, Ordering::Relaxed);
                    m.histograms_failed.fetch_add(nh, Ordering::Relaxed);
                    log_refused(&self.name, &self.cfg.redacted_url(), &e.to_string());
                    return;
                }
            };
            m.samples.fetch_add(n, Ordering::Relaxed);
            m.exemplars.fetch_add(nx, Ordering::Relaxed);
            m.histograms.fetch_add(nh, Ordering::Relaxed);
            let started = Instant::now();
            let outcome = self.sender.attempt(body.clone(), v2, retry).await;
            m.batch_duration
                .lock()
                .observe(started.elapsed().as_secs_f64());
            match outcome {
                Attempt::Sent { written } => {
                    let took = written.unwrap_or(n).min(n);
                    m.failed.fetch_add(n - took, Ordering::Relaxed);
                    m.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    m.highest_sent_ms.fetch_max(newest, Ordering::Relaxed);
                    return;
                }
                Attempt::NotV2 { reason } => {
                    tracing::warn!(component = "remote", remote_name = %self.name, url = %self.cfg.redacted_url(), err = %reason, "The receiver does not take remote write 2.0: sending 1.0 from now on");
                    self.sender.fall_back_to_v1();
                    continue;
                }
                Attempt::Refused { reason } => {
                    m.failed.fetch_add(n, Ordering::Relaxed);
                    m.exemplars_failed.fetch_add(nx, Ordering::Relaxed);
                    m.histograms_failed.fetch_add(nh, Ordering::Relaxed);
                    log_refused(&self.name, &self.cfg.redacted_url(), &reason);
                    return;
                }
                Attempt::Retry {
                    reason,
                    retry_after,
                } => {
                    m.retried.fetch_add(n, Ordering::Relaxed);
                    m.exemplars_retried.fetch_add(nx, Ordering::Relaxed);
                    m.histograms_retried.fetch_add(nh, Ordering::Relaxed);
                    let wait = retry_after.filter(|d| !d.is_zero()).unwrap_or(backoff);
                    if retry == 0 {
                        tracing::warn!(component = "remote", remote_name = %self.name, url = %self.cfg.redacted_url(), err = %reason, "Failed to send batch, retrying");
                    } else {
                        tracing::debug!(component = "remote", remote_name = %self.name, err = %reason, retry, "Failed to send batch, retrying");
                    }
                    let mut stop = stop.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {
                            // a stop during a retry: the samples stay in
                            // the journal, unacknowledged, for next time
                            if *stop.borrow() != Stop::Run { return; }
                        }
                    }
                    backoff = (wait * 2).min(q.max_backoff.0);
                    retry += 1;
                }
            }
        }
    }

    /// Sends the samples of `batch` (one shard's), with the labels of each
    /// series as `cache` keeps them (resolved once), dropping what must
    /// not go; returns per journal record how many of its samples are done.
    async fn send_batch(
        &self,
        batch: &[Pending],
        cache: &mut LabelCache,
        stop: &watch::Receiver<Stop>,
    ) -> Vec<(u64, usize)> {
        let m = &self.metrics;
        let oldest_ok = self.age_limit_ms();
        // the batch's samples by series (a stable sort keeps each series'
        // samples in time order), then one run per series
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| batch[i].series);
        let mut samples: Vec<(i64, f64)> = Vec::with_capacity(batch.len());
        let mut exemplars: Vec<tsdb::Exemplar> = Vec::new();
        let mut runs: Vec<(Arc<Cached>, usize, usize, usize, usize)> = Vec::new();
        // histogram series: labels as sent, and their samples' range
        let mut hists: Vec<(i64, Arc<tsdb::histogram::FloatHistogram>)> = Vec::new();
        let mut hist_runs: Vec<(Labels, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let r = batch[order[i]].series;
            let mut j = i;
            while j < order.len() && batch[order[j]].series == r {
                j += 1;
            }
            if let Some(first) = &batch[order[i]].h {
                let from = hists.len();
                for &k in &order[i..j] {
                    let p = &batch[k];
                    let Some(h) = &p.h else { continue };
                    if oldest_ok.is_some_and(|o| p.t < o) {
                        m.dropped_too_old.fetch_add(1, Ordering::Relaxed);
                    } else {
                        hists.push((p.t, Arc::clone(&h.1)));
                    }
                }
                if hists.len() > from {
                    match self.labels_for(first.0.clone()) {
                        Some(l) => hist_runs.push((l, from, hists.len())),
                        None => {
                            m.dropped_relabel
                                .fetch_add((hists.len() - from) as u64, Ordering::Relaxed);
                            hists.truncate(from);
                        }
                    }
                }
                i = j;
                continue;
            }
            let from = samples.len();
            let xfrom = exemplars.len();
            for &k in &order[i..j] {
                let p = &batch[k];
                if oldest_ok.is_some_and(|o| p.t < o) {
                    m.dropped_too_old.fetch_add(1, Ordering::Relaxed);
                } else if let Some(e) = &p.ex {
                    exemplars.push((**e).clone());
                } else {
                    samples.push((p.t, p.v));
                }
            }
            let n = (samples.len() - from) as u64;
            let nx = (exemplars.len() - xfrom) as u64;
            if n + nx > 0 {
                match cache.get(self, r) {
                    Ok(c) => runs.push((c, from, samples.len(), xfrom, exemplars.len())),
                    Err(skip) => {
                        samples.truncate(from);
                        exemplars.truncate(xfrom);
                        let counter = match skip {
                            Skip::Unknown => &m.dropped_unknown,
                            Skip::Relabeled => &m.dropped_relabel,
                        };
                        counter.fetch_add(n, Ordering::Relaxed);
                    }
                }
            }
            i = j;
        }
        let none = Labels::empty();
        let mut views: Vec<SeriesSamples<'_>> = runs
            .iter()
            .map(|(c, a, b, xa, xb)| match &**c {
                Cached::V1(bytes) => SeriesSamples {
                    labels: &none,
                    encoded: Some(bytes),
                    samples: &samples[*a..*b],
                    exemplars: &exemplars[*xa..*xb],
                    histograms: &[],
                },
                Cached::Labels(l) => SeriesSamples {
                    labels: l,
                    encoded: None,
                    samples: &samples[*a..*b],
                    exemplars: &exemplars[*xa..*xb],
                    histograms: &[],
                },
            })
            .collect();
        views.extend(hist_runs.iter().map(|(l, a, b)| SeriesSamples {
            labels: l,
            encoded: None,
            samples: &[],
            exemplars: &[],
            histograms: &hists[*a..*b],
        }));
        self.send(&views, stop).await;
        let mut done: Vec<(u64, usize)> = Vec::new();
        for p in batch {
            match done.last_mut() {
                Some((seq, n)) if *seq == p.seq => *n += 1,
                _ => done.push((p.seq, 1)),
            }
        }
        self.metrics
            .pending
            .fetch_sub(batch.len() as i64, Ordering::Relaxed);
        done
    }

    /// Sends the catch-up list's entries from `done` on, acknowledging each
    /// group; false when stopped first.
    async fn catch_up(
        self: &Arc<Self>,
        st: &tsdb::ReaderState,
        stop: &watch::Receiver<Stop>,
    ) -> bool {
        let max = self.cfg.queue_config.max_samples_per_send.max(1) as usize;
        let mut i = st.catch_up_done;
        let list = &st.catch_up;
        self.metrics
            .catch_up_series
            .store((list.len() - i.min(list.len())) as u64, Ordering::Relaxed);
        while i < list.len() {
            if *stop.borrow() != Stop::Run {
                return false;
            }
            // read entries until a request's worth of samples
            #[allow(clippy::type_complexity)]
            let mut group: Vec<(
                Labels,
                Vec<(i64, f64)>,
                Vec<tsdb::read::HistogramSample>,
            )> = Vec::new();
            let mut count = 0;
            let start = i;
            while i < list.len() && count < max {
                let c = list[i];
                let db = Arc::clone(&self.db);
                let got = tokio::task::spawn_blocking(move || {
                    db.series_samples(c.series, c.mint, c.maxt)
                })
                .await
                .ok()
                .and_then(Result::ok)
                .flatten();
                i += 1;
                let Some((labels, mut samples, mut hists)) = got else {
                    self.metrics.dropped_unknown.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                if !self.cfg.send_native_histograms {
                    hists.clear();
                }
                if let Some(o) = self.age_limit_ms() {
                    let before = samples.len() + hists.len();
                    samples.retain(|s| s.0 >= o);
                    hists.retain(|s| s.0 >= o);
                    self.metrics.dropped_too_old.fetch_add(
                        (before - samples.len() - hists.len()) as u64,
                        Ordering::Relaxed,
                    );
                }
                let Some(labels) = self.labels_for(labels) else {
                    self.metrics
                        .dropped_relabel
                        .fetch_add((samples.len() + hists.len()) as u64, Ordering::Relaxed);
                    continue;
                };
                let newest = samples
                    .iter()
                    .map(|s| s.0)
                    .chain(hists.iter().map(|h| h.0))
                    .max();
                if let Some(newest) = newest {
                    self.metrics
                        .highest_enqueued_ms
                        .fetch_max(newest, Ordering::Relaxed);
                }
                count += samples.len() + hists.len();
                group.push((labels, samples, hists));
            }
            // a series with more samples than a request takes goes in parts
            // (its floats, then its histograms)
            let mut parts: Vec<Vec<SeriesSamples<'_>>> = vec![Vec::new()];
            let mut in_part = 0;
            for (l, s, h) in &group {
                let floats = s.chunks(max).map(|c| (c, &[][..]));
                let hists = h.chunks(max).map(|c| (&[][..], c));
                for (samples, histograms) in floats.chain(hists) {
                    let n = samples.len() + histograms.len();
                    if in_part + n > max && in_part > 0 {
                        parts.push(Vec::new());
                        in_part = 0;
                    }
                    parts.last_mut().expect("one").push(SeriesSamples {
                        labels: l,
                        encoded: None,
                        samples,
                        exemplars: &[],
                        histograms,
                    });
                    in_part += n;
                }
            }
            for p in &parts {
                self.send(p, stop).await;
                if *stop.borrow() != Stop::Run {
                    return false;
                }
            }
            let _ = self
                .db
                .journal_ack(&self.name, st.generation, st.position, i);
            self.metrics
                .catch_up_series
                .store((list.len() - i) as u64, Ordering::Relaxed);
            tracing::debug!(component = "remote", remote_name = %self.name, from = start, to = i, "Caught up on series skipped by the journal");
        }
        true
    }

    /// Runs until told to stop.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<Stop>) {
        let q = &self.cfg.queue_config;
        let mut shards_n = q.min_shards.max(1) as usize;
        'reader: loop {
            if *stop.borrow() != Stop::Run {
                return;
            }
            let db = Arc::clone(&self.db);
            let name = self.name.clone();
            let Ok(Some(st)) = tokio::task::spawn_blocking(move || db.journal_reader(&name)).await
            else {
                tokio::time::sleep(POLL).await;
                continue;
            };
            if !self.catch_up(&st, &stop).await {
                return;
            }
            let mut shards = Shards::start(&self, shards_n, &stop);
            let mut tracker = Tracker::new();
            let mut pos = st.position;
            let mut rates = Rates::new();
            let mut last_update = Instant::now();
            let capacity = (q.capacity as usize).max(1);
            loop {
                // record what the shards finished
                while let Ok(done) = shards.acks.try_recv() {
                    for (seq, n) in done {
                        tracker.ack(seq, n);
                    }
                }
                if let Some(p) = tracker.advance() {
                    let _ = self
                        .db
                        .journal_ack(&self.name, st.generation, p, st.catch_up.len());
                }
                if *stop.borrow() != Stop::Run {
                    shards.finish(self.flush_deadline, &mut tracker).await;
                    if let Some(p) = tracker.advance() {
                        let _ =
                            self.db
                                .journal_ack(&self.name, st.generation, p, st.catch_up.len());
                    }
                    return;
                }
                if last_update.elapsed() >= SHARD_UPDATE {
                    last_update = Instant::now();
                    let want = rates.desired(&self, shards_n);
                    if want != shards_n && rates.recent_send() {
                        tracing::info!(component = "remote", remote_name = %self.name, from = shards_n, to = want, "Remote storage resharding");
                        shards.finish(Duration::MAX, &mut tracker).await;
                        if let Some(p) = tracker.advance() {
                            let _ = self.db.journal_ack(
                                &self.name,
                                st.generation,
                                p,
                                st.catch_up.len(),
                            );
                        }
                        shards_n = want;
                        shards = Shards::start(&self, shards_n, &stop);
                    }
                }
                // do not read further ahead than the shards can hold
                if tracker.in_flight() >= capacity * shards_n {
                    tokio::select! {
                        Some(done) = shards.acks.recv() => {
                            for (seq, n) in done { tracker.ack(seq, n); }
                        }
                        _ = stop.changed() => {}
                    }
                    continue;
                }
                let db = Arc::clone(&self.db);
                let name = self.name.clone();
                let gen = st.generation;
                let max = q.max_samples_per_send as usize * shards_n;
                let read =
                    tokio::task::spawn_blocking(move || db.journal_read(&name, gen, pos, max))
                        .await;
                let batch = match read {
                    Ok(Ok(JournalRead::Batch(b))) => b,
                    Ok(Ok(JournalRead::Moved)) => {
                        shards.finish(Duration::MAX, &mut tracker).await;
                        continue 'reader;
                    }
                    Ok(Err(e)) => {
                        tracing::error!(component = "remote", remote_name = %self.name, err = %e, "Reading the journal failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    Err(_) => continue,
                };
                if batch.records.is_empty() {
                    tokio::select! {
                        _ = tokio::time::sleep(POLL) => {}
                        Some(done) = shards.acks.recv() => {
                            for (seq, n) in done { tracker.ack(seq, n); }
                        }
                        _ = stop.changed() => {}
                    }
                    continue;
                }
                let oldest_ok = self.age_limit_ms();
                let mut from = 0;
                let mut exemplars = batch.exemplars.iter().peekable();
                let mut histograms = batch.histograms.iter().peekable();
                for (k, &(upto, end)) in batch.records.iter().enumerate() {
                    // the record's exemplars and histograms, when the
                    // queue sends them
                    let mut ex = Vec::new();
                    while let Some(e) = exemplars.next_if(|e| e.record == k) {
                        if self.cfg.send_exemplars {
                            ex.push(e);
                        }
                    }
                    let mut hs = Vec::new();
                    while let Some(h) = histograms.next_if(|h| h.record == k) {
                        if self.cfg.send_native_histograms {
                            hs.push(h);
                        }
                    }
                    let seq = tracker.push(upto - from + ex.len() + hs.len(), end);
                    for h in hs {
                        self.metrics.histograms_in.fetch_add(1, Ordering::Relaxed);
                        self.metrics
                            .highest_enqueued_ms
                            .fetch_max(h.t, Ordering::Relaxed);
                        let p = Pending {
                            series: histogram_key(&h.labels),
                            t: h.t,
                            v: 0.0,
                            seq,
                            ex: None,
                            h: Some(Arc::new((h.labels.clone(), Arc::clone(&h.h)))),
                        };
                        self.metrics.pending.fetch_add(1, Ordering::Relaxed);
                        shards.enqueue(p);
                    }
                    for e in ex {
                        self.metrics.exemplars_in.fetch_add(1, Ordering::Relaxed);
                        let p = Pending {
                            series: e.series,
                            t: e.exemplar.ts,
                            v: e.exemplar.value,
                            seq,
                            ex: Some(Arc::new(e.exemplar.clone())),
                            h: None,
                        };
                        self.metrics.pending.fetch_add(1, Ordering::Relaxed);
                        shards.enqueue(p);
                    }
                    for s in &batch.samples[from..upto] {
                        self.metrics
                            .highest_enqueued_ms
                            .fetch_max(s.t, Ordering::Relaxed);
                        rates.samples_in += 1;
                        if oldest_ok.is_some_and(|o| s.t < o) {
                            self.metrics.dropped_too_old.fetch_add(1, Ordering::Relaxed);
                            tracker.ack(seq, 1);
                            continue;
                        }
                        let p = Pending {
                            series: s.series,
                            t: s.t,
                            v: s.v,
                            seq,
                            ex: None,
                            h: None,
                        };
                        self.metrics.pending.fetch_add(1, Ordering::Relaxed);
                        shards.enqueue(p);
                    }
                    from = upto;
                }
                shards.flush(&self.metrics).await;
                pos = batch.end(pos);
            }
        }
    }

    /// Sends the metric metadata of the scraped targets every
    /// `send_interval` (protocol 1.0 only; 2.0 carries it with each series).
    pub async fn run_metadata(self: Arc<Self>, mut stop: watch::Receiver<Stop>) {
        let mc = &self.cfg.metadata_config;
        if !mc.send {
            return;
        }
        let mut tick = tokio::time::interval(mc.send_interval.0.max(Duration::from_secs(1)));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if self.sender.is_v2() {
                continue;
            }
            let meta = self.metadata.read().clone();
            let all: Vec<(String, FamilyMetadata)> =
                meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for part in all.chunks(mc.max_samples_per_send.max(1) as usize) {
                let raw = wire::metadata_request_v1(part);
                let Ok(body) = snap::raw::Encoder::new().compress_vec(&raw) else {
                    continue;
                };
                let n = part.len() as u64;
                let mut backoff = self.cfg.queue_config.min_backoff.0;
                for retry in 0.. {
                    match self.sender.attempt(body.clone(), false, retry).await {
                        Attempt::Sent { .. } => {
                            self.metrics.metadata.fetch_add(n, Ordering::Relaxed);
                            self.metrics
                                .metadata_bytes
                                .fetch_add(body.len() as u64, Ordering::Relaxed);
                            break;
                        }
                        Attempt::Retry { .. } if retry < 10 => {
                            self.metrics
                                .metadata_retried
                                .fetch_add(n, Ordering::Relaxed);
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(self.cfg.queue_config.max_backoff.0);
                        }
                        _ => {
                            self.metrics.metadata_failed.fetch_add(n, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Logs a refused batch once per distinct reason a minute.
fn log_refused(name: &str, url: &str, reason: &str) {
    static SEEN: parking_lot::Mutex<Option<HashMap<String, Instant>>> =
        parking_lot::Mutex::new(None);
    let key = format!("{name}\u{0}{reason}");
    let mut seen = SEEN.lock();
    let map = seen.get_or_insert_with(HashMap::new);
    if map
        .get(&key)
        .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
    {
        return;
    }
    map.insert(key, Instant::now());
    tracing::error!(component = "remote", remote_name = %name, url = %url, err = %reason, "non-recoverable error: the batch is dropped");
}
