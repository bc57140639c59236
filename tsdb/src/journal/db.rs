//! The journal as the database offers it: turned on and off by naming its
//! readers, read and acknowledged by them, synced and truncated with the
//! database's flush, holding back the head's forgetting of series a reader
//! still has to send.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Journal, JournalPosition, JournalRead, ReaderState};
use crate::labels::{Labels, Matcher};
use crate::read::{Queryable as _, SampleIterator as _};
use crate::{Db, Error, SeriesRef};

/// The journal's folder under the data folder.
pub(crate) const JOURNAL_DIR: &str = "journal";

impl Db {
    /// Opens the journal left by a previous run if it has readers; deletes
    /// it if it has none.
    pub(crate) fn open_journal(&self) -> Result<(), Error> {
        let dir = self.dir.join(JOURNAL_DIR);
        if !dir.exists() {
            return Ok(());
        }
        let j = Journal::open(
            &dir,
            self.opts.journal_max_bytes,
            self.opts.journal_segment_bytes,
        )?;
        if j.reader_names().is_empty() {
            return j.remove();
        }
        *self.head.journal.write() = Some(Arc::new(j));
        Ok(())
    }

    /// Makes `names` the journal's readers: a new one starts at the end of
    /// what is written, one not named is deleted. With no names the
    /// journal is turned off and its files deleted; with names it is
    /// turned on, and every sample stored from then on is written to it.
    pub fn journal_set_readers(&self, names: &[String]) -> Result<(), Error> {
        let mut slot = self.head.journal.write();
        if names.is_empty() {
            if let Some(j) = slot.take() {
                match Arc::try_unwrap(j) {
                    Ok(j) => j.remove()?,
                    // a commit still holds it: its files go at the next start
                    Err(j) => j.set_readers(&[])?,
                }
            }
            return Ok(());
        }
        if slot.is_none() {
            let j = Journal::open(
                &self.dir.join(JOURNAL_DIR),
                self.opts.journal_max_bytes,
                self.opts.journal_segment_bytes,
            )?;
            *slot = Some(Arc::new(j));
        }
        slot.as_ref().expect("set above").set_readers(names)
    }

    fn journal(&self) -> Option<Arc<Journal>> {
        self.head.journal.read().clone()
    }

    /// A reader's state: its position, generation and catch-up list.
    pub fn journal_reader(&self, name: &str) -> Option<ReaderState> {
        self.journal()?.reader(name)
    }

    /// Reads at least `max` samples (when written) from `from`, for the
    /// reader `name` in `generation`.
    pub fn journal_read(
        &self,
        name: &str,
        generation: u64,
        from: JournalPosition,
        max: usize,
    ) -> Result<JournalRead, Error> {
        match self.journal() {
            Some(j) => j.read(name, generation, from, max),
            None => Ok(JournalRead::Moved),
        }
    }

    /// Records what reader `name` has sent (see [`ReaderState`]).
    pub fn journal_ack(
        &self,
        name: &str,
        generation: u64,
        position: JournalPosition,
        catch_up_done: usize,
    ) -> Result<(), Error> {
        match self.journal() {
            Some(j) => j.ack(name, generation, position, catch_up_done),
            None => Ok(()),
        }
    }

    /// The end of what the journal holds (`None` when it is off).
    pub fn journal_end(&self) -> Option<JournalPosition> {
        self.journal().map(|j| j.end())
    }

    /// Bytes of the journal's segments (0 when it is off).
    pub fn journal_bytes(&self) -> u64 {
        self.journal().map_or(0, |j| j.bytes())
    }

    /// Commits whose samples could not be journaled, since start.
    pub fn journal_failures(&self) -> u64 {
        self.head.journal_failures.load(Ordering::Relaxed)
    }

    /// Syncs the journal and deletes the segments its readers are done
    /// with (part of [`Db::flush`]).
    pub(crate) fn flush_journal(&self) -> Result<(), Error> {
        if let Some(j) = self.journal() {
            j.sync()?;
            j.truncate(&|l| self.head.find(l, l.hash64()).map(|s| s.id))?;
        }
        Ok(())
    }

    /// Keeps the head from forgetting series a reader still has to send
    /// (before a head compaction).
    pub(crate) fn pin_journal_series(&self) {
        let pin = self.journal().map_or(i64::MAX, |j| j.oldest_unsent());
        self.head.gc_pin.store(pin, Ordering::Relaxed);
    }

    /// Agent mode's truncation: journal segments whose samples are all
    /// older than `now - max_age_ms` are deleted, sent or not (their
    /// readers move on), and series with no sample since
    /// `max(oldest unsent - min_age_ms, now - max_age_ms)` are forgotten.
    /// Returns (segments deleted, series forgotten).
    pub fn agent_truncate(
        &self,
        now_ms: i64,
        min_age_ms: i64,
        max_age_ms: i64,
    ) -> Result<(usize, usize), Error> {
        let floor = now_ms.saturating_sub(max_age_ms);
        let deleted = match self.journal() {
            Some(j) => j.drop_older(floor)?,
            None => 0,
        };
        let pin = self.journal().map_or(i64::MAX, |j| j.oldest_unsent());
        let cutoff = pin.saturating_sub(min_age_ms).min(now_ms).max(floor);
        let forgotten = self.head.forget_idle(cutoff);
        Ok((deleted, forgotten))
    }

    /// The labels of a series the head holds.
    pub fn series_labels(&self, r: SeriesRef) -> Option<Labels> {
        self.head.get(r.0).map(|s| s.labels.to_labels())
    }

    /// A series' labels, its float samples and its native histogram
    /// samples with timestamps in `mint..=maxt`, from the blocks, the head
    /// and the histogram store (`None` when the head no longer knows the
    /// series).
    #[allow(clippy::type_complexity)]
    pub fn series_samples(
        &self,
        r: SeriesRef,
        mint: i64,
        maxt: i64,
    ) -> Result<Option<(Labels, Vec<(i64, f64)>, Vec<crate::read::HistogramSample>)>, Error> {
        let Some(labels) = self.series_labels(r) else {
            return Ok(None);
        };
        let matchers: Vec<Matcher> = labels
            .iter()
            .map(|l| Matcher::equal(&l.name, &l.value))
            .collect();
        let q = self
            .querier(mint, maxt)
            .map_err(|e| Error::InvalidLabels(e.to_string()))?;
        let series = q
            .select(&matchers)
            .map_err(|e| Error::InvalidLabels(e.to_string()))?;
        let mut out = Vec::new();
        let mut hists = Vec::new();
        for mut s in series {
            if s.labels != labels {
                continue;
            }
            while let Some((t, v)) = s.samples.next() {
                if t >= mint && t <= maxt {
                    out.push((t, v));
                }
            }
            hists.extend(
                s.histograms
                    .into_iter()
                    .filter(|h| h.0 >= mint && h.0 <= maxt),
            );
        }
        Ok(Some((labels, out, hists)))
    }
}
