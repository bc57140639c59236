//! Exemplars: a bounded store of the newest exemplars of all series, in
//! insertion order, with each series' exemplars linked oldest to newest.
//!
//! It holds at most `max` exemplars (`storage.exemplars.max_exemplars`);
//! a new one overwrites the oldest of all, as Prometheus's circular
//! exemplar storage does. With `max` 0 nothing is stored. What is stored
//! is also written to the exemplar log ([`log`], format in
//! `docs/format/exemplars.md`), read back at open.

mod log;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::labels::{Labels, Matcher};
use crate::Error;

/// The most UTF-8 characters an exemplar's label names and values may
/// have together (OpenMetrics' limit, as Prometheus applies it).
pub const MAX_LABEL_SET_CHARS: usize = 128;

/// An exemplar: a sample of a trace (or other) reference attached to a
/// series' sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The exemplar's own labels (e.g. `trace_id`).
    pub labels: Labels,
    /// Its value.
    pub value: f64,
    /// Its timestamp (ms); the sample's when it had none.
    pub ts: i64,
    /// Whether the timestamp was given with the exemplar.
    pub has_ts: bool,
}

impl Exemplar {
    /// Prometheus's equality: same labels and value, and the same
    /// timestamp unless neither was given one (a scrape stamps an
    /// exemplar without one with the scrape's time, yet it is the same
    /// exemplar scrape after scrape).
    fn same(&self, o: &Exemplar) -> bool {
        self.labels == o.labels
            && (!(self.has_ts || o.has_ts) || self.ts == o.ts)
            && self.value == o.value
    }

    /// Whether it belongs before `newest` in a series: earlier, or at the
    /// same time with a smaller value (or, equal in both, smaller labels),
    /// as Prometheus orders a series' exemplars.
    fn before(&self, newest: &Exemplar) -> bool {
        self.ts < newest.ts
            || self.ts == newest.ts
                && (self.value < newest.value
                    || self.value == newest.value && self.labels < newest.labels)
    }
}

/// Why an exemplar was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExemplarError {
    /// Exemplar storage is off (`max_exemplars` 0).
    #[error("exemplar storage is disabled or max exemplars is less than or equal to 0")]
    Disabled,
    /// The labels are longer than [`MAX_LABEL_SET_CHARS`].
    #[error("exemplar label set is longer than 128 UTF-8 characters")]
    LabelLength,
    /// The same as the series' newest exemplar (not an error to report).
    #[error("duplicate exemplar")]
    Duplicate,
    /// Older than the series' newest exemplar.
    #[error("out of order exemplar")]
    OutOfOrder,
}

/// One series' exemplars in a time range, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesExemplars {
    /// The series' labels.
    pub series: Labels,
    /// Its exemplars.
    pub exemplars: Vec<Exemplar>,
}

/// The exemplar store's counters, as Prometheus's
/// `prometheus_tsdb_exemplar_*` metrics report them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExemplarStats {
    /// Exemplars stored since start.
    pub appended: u64,
    /// Exemplars refused as out of order since start.
    pub out_of_order: u64,
    /// Exemplars held now.
    pub stored: u64,
    /// Series with exemplars held now.
    pub series: u64,
    /// The oldest held exemplar's timestamp (ms; 0 with none).
    pub oldest_ts: i64,
    /// How many may be held.
    pub max: u64,
}

const NONE: u32 = u32::MAX;

struct Slot {
    series: u64,
    ex: Exemplar,
    /// The series' next (newer) exemplar's slot, or [`NONE`].
    next: u32,
}

struct Entry {
    labels: Labels,
    oldest: u32,
    newest: u32,
}

/// The ring: `slots[next]` is overwritten next (the oldest of all once
/// the ring is full).
#[derive(Default)]
struct Ring {
    slots: Vec<Option<Slot>>,
    next: usize,
    index: HashMap<u64, Entry>,
    stored: usize,
}

impl Ring {
    fn with_capacity(n: usize) -> Ring {
        let mut slots = Vec::new();
        slots.resize_with(n, || None);
        Ring {
            slots,
            ..Ring::default()
        }
    }

    fn check(&self, series: u64, e: &Exemplar) -> Result<(), ExemplarError> {
        if self.slots.is_empty() {
            return Err(ExemplarError::Disabled);
        }
        let chars: usize = e
            .labels
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if chars > MAX_LABEL_SET_CHARS {
            return Err(ExemplarError::LabelLength);
        }
        let Some(entry) = self.index.get(&series) else {
            return Ok(());
        };
        let newest = &self.slots[entry.newest as usize]
            .as_ref()
            .expect("an entry's newest slot is held")
            .ex;
        if e.same(newest) {
            return Err(ExemplarError::Duplicate);
        }
        if e.before(newest) {
            return Err(ExemplarError::OutOfOrder);
        }
        Ok(())
    }

    /// Stores `e` for `series` (checked), overwriting the oldest of all
    /// when full.
    fn push(&mut self, series: u64, labels: impl FnOnce() -> Labels, e: Exemplar) {
        let at = self.next;
        if let Some(old) = self.slots[at].take() {
            let entry = self
                .index
                .get_mut(&old.series)
                .expect("a held slot's series is indexed");
            debug_assert_eq!(entry.oldest as usize, at);
            if old.next == NONE {
                self.index.remove(&old.series);
            } else {
                entry.oldest = old.next;
            }
            self.stored -= 1;
        }
        match self.index.get_mut(&series) {
            Some(entry) => {
                let prev = entry.newest as usize;
                self.slots[prev].as_mut().expect("held").next = at as u32;
                entry.newest = at as u32;
            }
            None => {
                self.index.insert(
                    series,
                    Entry {
                        labels: labels(),
                        oldest: at as u32,
                        newest: at as u32,
                    },
                );
            }
        }
        self.slots[at] = Some(Slot {
            series,
            ex: e,
            next: NONE,
        });
        self.stored += 1;
        self.next = (at + 1) % self.slots.len();
    }

    /// Every held exemplar, oldest first, with its series' labels.
    fn drain_in_order(&mut self) -> Vec<(u64, Labels, Exemplar)> {
        let n = self.slots.len();
        let mut out = Vec::with_capacity(self.stored);
        for i in 0..n {
            let at = (self.next + i) % n;
            if let Some(s) = self.slots[at].take() {
                let labels = self.index[&s.series].labels.clone();
                out.push((s.series, labels, s.ex));
            }
        }
        out
    }

    /// The oldest held exemplar's timestamp: the ring fills from slot 0,
    /// so until it is full the oldest is there.
    fn oldest_ts(&self) -> i64 {
        match self.slots.get(self.next) {
            Some(Some(s)) => s.ex.ts,
            _ => self
                .slots
                .first()
                .and_then(Option::as_ref)
                .map_or(0, |s| s.ex.ts),
        }
    }
}

/// The exemplar store of a database.
pub(crate) struct Exemplars {
    ring: RwLock<Ring>,
    /// The log, once the store has held a capacity above 0.
    log: Mutex<Option<log::ExemplarLog>>,
    dir: Mutex<Option<PathBuf>>,
    appended: AtomicU64,
    out_of_order: AtomicU64,
}

/// The folder of the exemplar log, in the data folder.
pub(crate) const EXEMPLARS_DIR: &str = "exemplars";

impl Exemplars {
    /// A store holding nothing until [`Exemplars::open`].
    pub(crate) fn disabled() -> Exemplars {
        Exemplars {
            ring: RwLock::new(Ring::default()),
            log: Mutex::new(None),
            dir: Mutex::new(None),
            appended: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
        }
    }

    /// Holds up to `max` exemplars, kept in `dir`; with `max` above 0 the
    /// log there is read back, each exemplar's series found by
    /// `series_labels` (exemplars of series no longer known are dropped).
    /// Returns the number read back.
    pub(crate) fn open(
        &self,
        dir: &Path,
        max: usize,
        series_labels: &dyn Fn(u64) -> Option<Labels>,
    ) -> Result<usize, Error> {
        *self.dir.lock() = Some(dir.to_path_buf());
        self.resize(max, series_labels)
    }

    /// Changes how many exemplars are held (a configuration reload),
    /// keeping the newest. Going from 0 to more opens the log and reads
    /// it back. Returns the number read back.
    pub(crate) fn resize(
        &self,
        max: usize,
        series_labels: &dyn Fn(u64) -> Option<Labels>,
    ) -> Result<usize, Error> {
        let max = max.min(NONE as usize - 1);
        let mut log = self.log.lock();
        let mut ring = self.ring.write();
        if max == ring.slots.len() {
            return Ok(0);
        }
        let kept = ring.drain_in_order();
        *ring = Ring::with_capacity(max);
        let skip = kept.len().saturating_sub(max);
        for (series, labels, e) in kept.into_iter().skip(skip) {
            ring.push(series, || labels, e);
        }
        let mut read_back = 0;
        if max > 0 && log.is_none() {
            if let Some(dir) = self.dir.lock().clone() {
                let (l, records) = log::ExemplarLog::open(&dir)?;
                for (series, e) in records {
                    let Some(labels) = series_labels(series) else {
                        continue;
                    };
                    if ring.check(series, &e).is_ok() {
                        ring.push(series, || labels, e);
                        read_back += 1;
                    }
                }
                *log = Some(l);
            }
        }
        if let Some(l) = log.as_mut() {
            l.set_capacity(max);
        }
        Ok(read_back)
    }

    /// Whether exemplars are stored at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.ring.read().slots.is_empty()
    }

    /// Stores a commit's exemplars (series id, its labels when first seen,
    /// exemplar) and logs them. Returns (stored, refused as out of order).
    pub(crate) fn add<L: FnOnce() -> Labels>(
        &self,
        batch: impl Iterator<Item = (u64, L, Exemplar)>,
        kept: Option<&mut Vec<(u64, Exemplar)>>,
    ) -> (u64, u64) {
        let mut log = self.log.lock();
        let mut ring = self.ring.write();
        let (mut stored, mut ooo) = (0, 0);
        let mut logged = Vec::new();
        let keep = kept.is_some();
        for (series, labels, e) in batch {
            match ring.check(series, &e) {
                Ok(()) => {
                    if log.is_some() || keep {
                        logged.push((series, e.clone()));
                    }
                    ring.push(series, labels, e);
                    stored += 1;
                }
                Err(ExemplarError::OutOfOrder) => ooo += 1,
                Err(_) => {}
            }
        }
        drop(ring);
        if let Some(l) = log.as_mut() {
            if !logged.is_empty() {
                if let Err(e) = l.append(&logged) {
                    tracing::error!(component = "tsdb", err = %e, "Writing exemplars to their log failed");
                }
            }
        }
        if let Some(k) = kept {
            *k = logged;
        }
        self.appended.fetch_add(stored, Ordering::Relaxed);
        self.out_of_order.fetch_add(ooo, Ordering::Relaxed);
        (stored, ooo)
    }

    /// The exemplars in `mint..=maxt` of the series matching any of the
    /// matcher sets, sorted by series labels.
    pub(crate) fn select(
        &self,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Vec<SeriesExemplars> {
        let ring = self.ring.read();
        let mut out = Vec::new();
        for entry in ring.index.values() {
            let slot = |i: u32| ring.slots[i as usize].as_ref().expect("held");
            if slot(entry.oldest).ex.ts > maxt || slot(entry.newest).ex.ts < mint {
                continue;
            }
            if !matcher_sets
                .iter()
                .any(|ms| ms.iter().all(|m| m.matches_labels(&entry.labels)))
            {
                continue;
            }
            let mut exemplars = Vec::new();
            let mut at = entry.oldest;
            while at != NONE {
                let s = slot(at);
                if s.ex.ts > maxt {
                    break;
                }
                if s.ex.ts >= mint {
                    exemplars.push(s.ex.clone());
                }
                at = s.next;
            }
            if !exemplars.is_empty() {
                out.push(SeriesExemplars {
                    series: entry.labels.clone(),
                    exemplars,
                });
            }
        }
        out.sort_by(|a, b| a.series.cmp(&b.series));
        out
    }

    /// Syncs the log to disk.
    pub(crate) fn sync(&self) -> Result<(), Error> {
        match self.log.lock().as_mut() {
            Some(l) => l.sync(),
            None => Ok(()),
        }
    }

    pub(crate) fn stats(&self) -> ExemplarStats {
        let ring = self.ring.read();
        ExemplarStats {
            appended: self.appended.load(Ordering::Relaxed),
            out_of_order: self.out_of_order.load(Ordering::Relaxed),
            stored: ring.stored as u64,
            series: ring.index.len() as u64,
            oldest_ts: ring.oldest_ts(),
            max: ring.slots.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests;
