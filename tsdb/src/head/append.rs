//! Appending samples: a batch is collected by an [`Appender`] and written
//! to the series' chunk slots on commit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Head, MemSeries, OpenChunk, SeriesHandle, SeriesRef, SeriesState};
use crate::chunkenc::{ChunkIter, XorEncoder};
use crate::chunks::{
    slot_crc, DATA_SIZE, HEADER_SIZE, MAX_SAMPLES_PER_CHUNK, SLOT_SIZE, STATE_CLOSED, STATE_OPEN,
};
use crate::exemplars::Exemplar;
use crate::labels::Labels;
use crate::time::now_ms;
use crate::Error;

/// Slots waiting to be let go after which a commit flushes the
/// closed-chunk log itself rather than waiting for the periodic flush.
const MOVED_FLUSH_AT: usize = 4096;

/// What a commit did with its samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples stored.
    pub appended: u64,
    /// Samples with the newest timestamp and the same value, ignored.
    pub duplicates_ignored: u64,
    /// Samples refused as older than the series' newest sample.
    pub out_of_order: u64,
    /// Samples refused: same timestamp as the newest, other value.
    pub duplicate_timestamp: u64,
    /// Samples refused as older than the head accepts (already in blocks).
    pub out_of_bounds: u64,
    /// Samples refused as too far in the future.
    pub too_far_in_future: u64,
    /// Native histogram samples stored.
    pub histograms_appended: u64,
    /// Native histogram samples refused as not newer than their series'
    /// newest.
    pub histograms_out_of_order: u64,
    /// Exemplars stored.
    pub exemplars_appended: u64,
    /// Exemplars refused as older than their series' newest.
    pub exemplars_out_of_order: u64,
}

/// Collects samples and stores them on [`Appender::commit`]. Series are
/// created when first named (as in Prometheus, even if the batch is then
/// rolled back).
pub struct Appender<'a> {
    head: &'a Head,
    pending: Vec<(Arc<MemSeries>, i64, f64)>,
    exemplars: Vec<(Arc<MemSeries>, Exemplar)>,
    histograms: Vec<(Labels, i64, crate::histogram::FloatHistogram)>,
}

enum Outcome {
    Stored,
    Ignored,
}

impl<'a> Appender<'a> {
    pub(crate) fn new(head: &'a Head) -> Self {
        Appender {
            head,
            pending: Vec::new(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    /// The reference of the series with these labels, creating it if new;
    /// the bool says whether it was created.
    pub fn series(&mut self, labels: &Labels) -> Result<(SeriesRef, bool), Error> {
        let (s, created) = self.head.get_or_create(labels)?;
        Ok((SeriesRef(s.id), created))
    }

    /// The series with these labels, held for appending without lookups,
    /// created if new; the bool says whether it was created.
    pub fn series_handle(&mut self, labels: &Labels) -> Result<(SeriesHandle, bool), Error> {
        let (s, created) = self.head.get_or_create(labels)?;
        Ok((SeriesHandle(s), created))
    }

    /// Adds a sample for a held series.
    pub fn append_handle(&mut self, h: &SeriesHandle, t: i64, v: f64) {
        self.pending.push((Arc::clone(&h.0), t, v));
    }

    /// Adds a sample for a series reference.
    pub fn append(&mut self, r: SeriesRef, t: i64, v: f64) -> Result<(), Error> {
        let s = self.head.get(r.0).ok_or(Error::UnknownSeries(r.0))?;
        self.pending.push((s, t, v));
        Ok(())
    }

    /// Adds a sample by label set.
    pub fn append_labels(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, Error> {
        let (r, _) = self.series(labels)?;
        self.append(r, t, v)?;
        Ok(r)
    }

    /// Adds a native histogram sample for the series with these labels,
    /// stored on commit. Histogram samples are kept apart from float
    /// samples (see the histogram store); a series may have both.
    pub fn append_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: crate::histogram::FloatHistogram,
    ) {
        self.histograms.push((labels.clone(), t, h));
    }

    /// Adds a zero sample at `st`, the start (created) time of the
    /// series' next sample, when it is newer than every sample the series
    /// holds and the head takes it (otherwise the series already goes on
    /// from before it, and nothing is added); returns whether it was
    /// added. Prometheus's `created-timestamp-zero-ingestion`: the zero
    /// marks where a counter started, so a rate sees its first increase.
    pub fn append_start_zero(&mut self, h: &SeriesHandle, st: i64) -> bool {
        let fits = {
            let st_ = h.0.state.lock();
            !st_.removed()
                && st >= self.head.min_valid.load(Ordering::Relaxed)
                && st_.last_t().is_none_or(|l| st > l)
        };
        if fits {
            self.pending.push((Arc::clone(&h.0), st, 0.0));
        }
        fits
    }

    /// [`Appender::append_start_zero`] for a series reference.
    pub fn append_start_zero_ref(&mut self, r: SeriesRef, st: i64) -> bool {
        match self.head.get(r.0) {
            Some(s) => self.append_start_zero(&SeriesHandle(s), st),
            None => false,
        }
    }

    /// Adds an empty histogram at `st`, the start (created) time of the
    /// series' next histogram `like` (with its schema, zero threshold and
    /// custom bounds, marked as a counter reset), when it is newer than
    /// every histogram the series holds; returns whether it was added.
    pub fn append_histogram_start_zero(
        &mut self,
        labels: &Labels,
        st: i64,
        like: &crate::histogram::FloatHistogram,
    ) -> bool {
        let fits = st >= self.head.min_valid.load(Ordering::Relaxed)
            && self.head.hist.last_t(labels).is_none_or(|l| st > l);
        if fits {
            let zero = crate::histogram::FloatHistogram {
                schema: like.schema,
                zero_threshold: like.zero_threshold,
                custom_values: like.custom_values.clone(),
                counter_reset_hint: crate::histogram::CounterResetHint::CounterReset,
                ..Default::default()
            };
            self.histograms.push((labels.clone(), st, zero));
        }
        fits
    }

    /// Adds an exemplar for a held series, stored on commit (when the
    /// database stores exemplars; see [`crate::Options::max_exemplars`]).
    pub fn append_exemplar_handle(&mut self, h: &SeriesHandle, e: Exemplar) {
        self.exemplars.push((Arc::clone(&h.0), e));
    }

    /// Adds an exemplar for the series with these labels, if the head
    /// knows it (an exemplar alone does not create a series); returns
    /// whether it does.
    pub fn append_exemplar_labels(&mut self, labels: &Labels, e: Exemplar) -> bool {
        match self.head.find(labels, labels.hash64()) {
            Some(s) => {
                self.exemplars.push((s, e));
                true
            }
            None => false,
        }
    }

    /// Adds an exemplar for a series reference.
    pub fn append_exemplar(&mut self, r: SeriesRef, e: Exemplar) -> Result<(), Error> {
        let s = self.head.get(r.0).ok_or(Error::UnknownSeries(r.0))?;
        self.exemplars.push((s, e));
        Ok(())
    }

    /// Number of samples waiting for commit.
    pub fn len(&self) -> usize {
        self.pending.len() + self.histograms.len()
    }

    /// Whether no samples are waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.histograms.is_empty()
    }

    /// Drops the pending samples.
    pub fn rollback(self) {}

    /// Stores the pending samples. A sample refused as out of order or as a
    /// duplicate timestamp is counted and skipped; the others are stored.
    /// Only an I/O failure (allocating a chunk file) is an error.
    pub fn commit(self) -> Result<AppendStats, Error> {
        self.commit_with(&[])
    }

    /// Stores the pending samples, then `more`: like adding `more` with
    /// [`Appender::append_handle`] and committing, without taking a
    /// reference to each series (a scrape has its samples in a list of its
    /// own already).
    pub fn commit_with(self, more: &[(&SeriesHandle, i64, f64)]) -> Result<AppendStats, Error> {
        let mut stats = AppendStats::default();
        let c = &self.head.counters;
        let max_t = match self.head.max_future_ms {
            0 => i64::MAX,
            ahead => now_ms().saturating_add(ahead),
        };
        // the pending samples, then `more`, by position
        let n = self.pending.len();
        let sample_at = |i: usize| -> Option<(&MemSeries, i64, f64)> {
            match self.pending.get(i) {
                Some((s, t, v)) => Some((&**s, *t, *v)),
                None => more.get(i - n).map(|(h, t, v)| (&*h.0, *t, *v)),
            }
        };
        let series_at = |i: usize| sample_at(i).map(|(s, _, _)| s);
        // with a journal, commits take turns, so each series' samples are
        // journaled in the order they are stored
        let journal = self.head.journal.read().clone();
        let mut journaled = journal.as_ref().map(|j| j.lock());
        let mut failed = None;
        let agent = self.head.agent.load(Ordering::Relaxed);
        'samples: for i in 0..n + more.len() {
            let (s, t, v) = sample_at(i).expect("in range");
            // the series and slots a few samples on are most likely not in
            // the cache: ask for them now, the series first, then (once its
            // hint is in the cache) where its slot will be written
            if let Some(next) = series_at(i + PREFETCH_SERIES) {
                crate::fs::prefetch(&next.state);
                crate::fs::prefetch(&next.next_write);
            }
            if let Some(next) = series_at(i + PREFETCH_SLOT) {
                let at = next.next_write.load(Ordering::Relaxed);
                if at != 0 {
                    crate::fs::prefetch_addr(at & !(SLOT_SIZE - 1));
                    crate::fs::prefetch_addr(at);
                }
            }
            let mut st = s.state.lock();
            if st.removed() {
                failed = Some(Error::UnknownSeries(s.id));
                break 'samples;
            }
            if t > max_t {
                stats.too_far_in_future += 1;
                continue;
            }
            let outcome = if agent {
                append_agent(self.head, &mut st, t, v)
            } else {
                append_sample(self.head, s.id, &mut st, t, v)
            };
            let at = st.open.as_ref().filter(|o| o.addr != 0).map_or(0, |o| {
                o.addr + HEADER_SIZE + (o.bit_len as usize / 8).min(DATA_SIZE - 1)
            });
            s.next_write.store(at, Ordering::Relaxed);
            match outcome {
                Ok(Outcome::Stored) => {
                    stats.appended += 1;
                    if let Some(j) = journaled.as_mut() {
                        j.push(s.id, t, v);
                    }
                }
                Ok(Outcome::Ignored) => stats.duplicates_ignored += 1,
                Err(Error::OutOfOrder) => stats.out_of_order += 1,
                Err(Error::Duplicate) => stats.duplicate_timestamp += 1,
                Err(Error::OutOfBounds) => stats.out_of_bounds += 1,
                Err(Error::TooFarInFuture) => stats.too_far_in_future += 1,
                Err(e) => {
                    failed = Some(e);
                    break 'samples;
                }
            }
        }
        // what was stored before an error is journaled too
        if let Some(j) = journaled {
            if let Err(e) = j.write() {
                // the samples are stored; only their sending is lost
                self.head.journal_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(component = "tsdb", err = %e, "Writing to the journal failed");
            }
        }
        if let Some(e) = failed {
            c.samples_appended
                .fetch_add(stats.appended, Ordering::Relaxed);
            return Err(e);
        }
        // a burst of closed chunks (a backfill, say) would hold a slot each
        // until the periodic flush: flush now, so their slots go early; a
        // failure is reported by the periodic flush
        drop(self.pending);
        if !self.exemplars.is_empty() && !agent {
            let batch = self.exemplars.into_iter().map(|(s, e)| {
                let id = s.id;
                (id, move || s.labels.to_labels(), e)
            });
            // the stored exemplars are journaled too, for remote write
            let journal = self.head.journal.read().clone();
            let mut kept = Vec::new();
            let (stored, ooo) = self
                .head
                .exemplars
                .add(batch, journal.is_some().then_some(&mut kept));
            stats.exemplars_appended = stored;
            stats.exemplars_out_of_order = ooo;
            if let Some(j) = journal {
                if let Err(e) = j.lock().write_exemplars(&kept) {
                    self.head.journal_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(component = "tsdb", err = %e, "Writing to the journal failed");
                }
            }
        }
        if !self.histograms.is_empty() {
            let (keep, future): (Vec<_>, Vec<_>) = self
                .histograms
                .into_iter()
                .partition(|(_, t, _)| *t <= max_t);
            stats.too_far_in_future += future.len() as u64;
            // each histogram series is a head series too (counted, in the
            // postings, forgotten as the others once its samples are old)
            for (labels, t, _) in &keep {
                if let Ok((s, _)) = self.head.get_or_create(labels) {
                    let mut st = s.state.lock();
                    let newest = st.last_hist_t().map_or(*t, |l| l.max(*t));
                    st.set_last_hist_t(Some(newest));
                }
            }
            // the stored histograms are journaled too, for remote write;
            // in agent mode they are only journaled
            let journal = self.head.journal.read().clone();
            let mut kept = Vec::new();
            if agent {
                stats.histograms_appended = keep.len() as u64;
                kept = keep;
            } else {
                let (stored, ooo) = self
                    .head
                    .hist
                    .append(keep, journal.is_some().then_some(&mut kept))?;
                stats.histograms_appended = stored;
                stats.histograms_out_of_order = ooo;
                c.out_of_order.fetch_add(ooo, Ordering::Relaxed);
            }
            if let Some(j) = journal {
                if let Err(e) = j.lock().write_histograms(&kept) {
                    self.head.journal_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(component = "tsdb", err = %e, "Writing to the journal failed");
                }
            }
        }
        if self.head.moved_pending() >= MOVED_FLUSH_AT {
            let _ = self.head.flush_moved();
        }
        c.samples_appended
            .fetch_add(stats.appended, Ordering::Relaxed);
        c.out_of_order
            .fetch_add(stats.out_of_order, Ordering::Relaxed);
        c.duplicates
            .fetch_add(stats.duplicate_timestamp, Ordering::Relaxed);
        Ok(stats)
    }
}

/// How many samples ahead a commit prefetches a series, and its slot.
const PREFETCH_SERIES: usize = 8;
const PREFETCH_SLOT: usize = 4;

/// Value bits of the newest sample, decoding the newest chunk if needed.
fn last_value_bits(head: &Head, st: &SeriesState) -> Option<u64> {
    if let Some(v) = st.last_v() {
        return Some(v);
    }
    let c = match (&st.open, st.closed.last()) {
        (Some(o), _) => o.meta(),
        (None, Some(c)) => *c,
        (None, None) => return None,
    };
    let mut data = [0u8; DATA_SIZE];
    head.read_chunk(&c, &mut data);
    ChunkIter::new(c.encoding, &data, c.count, c.bit_len as usize)
        .last()
        .map(|(_, v)| v.to_bits())
}

/// Agent mode: the sample is checked for order and kept as the series'
/// newest, for the journal alone.
fn append_agent(head: &Head, st: &mut SeriesState, t: i64, v: f64) -> Result<Outcome, Error> {
    if let Some(last_t) = st.last_t() {
        if t < last_t {
            return Err(Error::OutOfOrder);
        }
        if t == last_t {
            return if st.last_v() == Some(v.to_bits()) {
                Ok(Outcome::Ignored)
            } else {
                Err(Error::Duplicate)
            };
        }
    }
    st.set_last_t(Some(t));
    st.set_last_v(Some(v.to_bits()));
    head.note_time(t);
    Ok(Outcome::Stored)
}

fn append_sample(
    head: &Head,
    id: u64,
    st: &mut SeriesState,
    t: i64,
    v: f64,
) -> Result<Outcome, Error> {
    if t < head.min_valid.load(Ordering::Relaxed) {
        return Err(Error::OutOfBounds);
    }
    if let Some(last_t) = st.last_t() {
        if t < last_t {
            return Err(Error::OutOfOrder);
        }
        if t == last_t {
            return if last_value_bits(head, st) == Some(v.to_bits()) {
                Ok(Outcome::Ignored)
            } else {
                Err(Error::Duplicate)
            };
        }
    }
    // no chunk crosses a block boundary
    if st
        .open
        .as_ref()
        .is_some_and(|o| o.count > 0 && t >= super::block_end(o.mint))
    {
        close_open(head, id, st);
    }
    for _attempt in 0..2 {
        if st.open.is_none() {
            let cref = head.chunks.allocate()?;
            head.counters.chunks_created.fetch_add(1, Ordering::Relaxed);
            st.open = Some(OpenChunk::new(cref, t, head.chunks.slot_addr(cref)));
        }
        let open = st.open.as_mut().expect("set above");
        // the encoder writes only from the byte the chunk's bits end in, so
        // with its state and that byte in memory it needs nothing of the slot
        let mut data = [0u8; DATA_SIZE];
        let old_bytes = open.bit_len as usize / 8;
        let tail = open.tail;
        let enc = match open.enc() {
            Some(enc) => {
                if let Some(b) = data.get_mut(old_bytes) {
                    *b = tail;
                }
                enc
            }
            None => {
                open.addr = head.chunks.slot_addr(open.cref);
                head.chunks.read_data(open.cref, &mut data);
                let resumed = XorEncoder::resume(&data, open.count, open.bit_len as usize).0;
                open.set_enc(resumed)
            }
        };
        if enc.append(&mut data, t, v) {
            let (bit_len, count) = (enc.bit_len(), enc.count());
            let new_bytes = bit_len.div_ceil(8);
            open.tail = if bit_len % 8 == 0 {
                0
            } else {
                data[new_bytes - 1]
            };
            open.count = count;
            open.bit_len = bit_len as u16;
            open.maxt = t;
            if count == 1 {
                open.mint = t;
            }
            head.note_time(t);
            let h = open.header(id, STATE_OPEN);
            head.chunks
                .write_append(open.cref, old_bytes, &data[old_bytes..new_bytes], &h);
            st.set_last_t(Some(t));
            st.set_last_v(Some(v.to_bits()));
            if count >= MAX_SAMPLES_PER_CHUNK {
                close_open(head, id, st);
            }
            return Ok(Outcome::Stored);
        }
        // the slot is full: close it and retry in a fresh one
        if open.count == 0 {
            break; // a single sample cannot fit an empty slot: impossible by sizes
        }
        close_open(head, id, st);
    }
    Err(Error::InvalidLabels(
        "sample does not fit an empty chunk".into(),
    ))
}

/// Closes the open chunk (its slot header marked closed, with a CRC) and
/// moves it to the closed-chunk log.
fn close_open(head: &Head, id: u64, st: &mut SeriesState) {
    let Some(open) = st.open.take() else { return };
    let mut data = [0u8; DATA_SIZE];
    head.chunks.read_data(open.cref, &mut data);
    let mut h = open.header(id, STATE_CLOSED);
    h.crc = slot_crc(&h, &data);
    head.chunks.write_header(open.cref, &h);
    let slot = open.meta();
    st.closed
        .push(head.move_to_log(id, &slot, &data).unwrap_or(slot));
}
