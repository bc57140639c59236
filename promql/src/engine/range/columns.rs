//! Writing a [`RangeVec`] from parts of the series on several threads:
//! each part fills its own stretch of the whole's buffers, so the parts'
//! columns need no copying once done (unless a part left some out).

use std::sync::{Arc, Mutex};

use tsdb::labels::Labels;
use tsdb::parallel::on_threads;

use super::super::selector::{part_len, LoadedSeries};
use super::RangeVec;
use crate::error::Error;

/// The columns one part of the series writes, in its stretch of the
/// whole's `vals` and `present` (room for a column per series).
pub(super) struct Part<'a> {
    vals: &'a mut [f64],
    present: &'a mut [bool],
    /// Values written: the kept columns' and the open one's.
    len: usize,
    steps: usize,
    labels: Vec<Labels>,
    /// Samples the step-wise path would count at each step.
    pub queried: Vec<u64>,
    /// The most samples a range selector holds at each step.
    pub held: Vec<usize>,
    /// Samples decoded from storage.
    pub decoded: usize,
}

/// What a part wrote, without its borrow of the buffers.
struct Written {
    labels: Vec<Labels>,
    len: usize,
    queried: Vec<u64>,
    held: Vec<usize>,
    decoded: usize,
}

impl<'a> Part<'a> {
    fn new(vals: &'a mut [f64], present: &'a mut [bool], steps: usize) -> Self {
        Part {
            vals,
            present,
            len: 0,
            steps,
            labels: Vec::new(),
            queried: vec![0; steps],
            held: vec![0; steps],
            decoded: 0,
        }
    }

    /// Appends the open column's value at its next step (absent: `None`).
    #[inline]
    pub fn push(&mut self, v: Option<f64>) {
        self.vals[self.len] = v.unwrap_or(0.0);
        self.present[self.len] = v.is_some();
        self.len += 1;
    }

    /// Whether the open column has a value at some step.
    pub fn any_in_open_column(&self) -> bool {
        self.present[self.len - self.steps..self.len]
            .iter()
            .any(|&p| p)
    }

    /// Closes the open column: kept under `labels` when it has a value at
    /// some step, dropped otherwise.
    pub fn end_column(&mut self, labels: &Labels, any: bool) {
        if any {
            self.labels.push(labels.clone());
        } else {
            self.len -= self.steps;
        }
    }

    fn done(self) -> Written {
        Written {
            labels: self.labels,
            len: self.len,
            queried: self.queried,
            held: self.held,
            decoded: self.decoded,
        }
    }
}

/// `f` over contiguous parts of `series` (on several threads when there
/// are many samples), each writing a column per series it keeps, joined
/// in order into one [`RangeVec`] of `steps` steps.
pub(super) fn in_parallel<F>(
    buffers: &Arc<ColumnBuffers>,
    series: &mut [LoadedSeries],
    steps: usize,
    f: F,
) -> Result<RangeVec, Error>
where
    F: Fn(&mut [LoadedSeries], &mut Part<'_>) -> Result<(), Error> + Sync,
{
    let per = part_len(series);
    let room = series.len() * steps;
    let (mut vals, mut present) = buffers.take();
    // what is there from an earlier query is written over before it is
    // read: every value up to a part's length is pushed, the rest cut off
    vals.truncate(room);
    vals.resize(room, 0.0);
    present.truncate(room);
    present.resize(room, false);
    let stretch = (per * steps).max(1);
    let jobs: Vec<_> = series
        .chunks_mut(per)
        .zip(vals.chunks_mut(stretch).zip(present.chunks_mut(stretch)))
        .collect();
    let parts: Vec<Result<Written, Error>> = on_threads(jobs, |(s, (v, p))| {
        let mut part = Part::new(v, p, steps);
        f(s, &mut part)?;
        Ok(part.done())
    });
    let mut rv = RangeVec::empty(steps, buffers);
    let mut at = 0;
    for (k, part) in parts.into_iter().enumerate() {
        let part = part?;
        // a part that left columns out has a gap after its own
        let from = k * stretch;
        if from != at {
            vals.copy_within(from..from + part.len, at);
            present.copy_within(from..from + part.len, at);
        }
        at += part.len;
        rv.labels.extend(part.labels);
        for (a, b) in rv.queried.iter_mut().zip(&part.queried) {
            *a += b;
        }
        for (a, b) in rv.held.iter_mut().zip(&part.held) {
            *a += b;
        }
        rv.decoded += part.decoded;
    }
    vals.truncate(at);
    present.truncate(at);
    (rv.vals, rv.present) = (vals, present);
    Ok(rv)
}

/// Column buffers of finished queries, kept for the next query to write
/// into: memory the system gave once stays with the engines sharing them,
/// rather than being handed back by the allocator at a query's end and
/// faulted in again, page by page, by the next. The server makes one for
/// all its engines (a query's own and the rules'); an [`Engine`] made
/// alone has its own.
///
/// [`Engine`]: crate::Engine
#[derive(Default)]
pub struct ColumnBuffers(Mutex<Option<(Vec<f64>, Vec<bool>)>>);

impl std::fmt::Debug for ColumnBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnBuffers")
            .field("kept", &self.kept())
            .finish()
    }
}

/// Most values a kept buffer holds (36 MiB of values and flags): a range
/// query over 10,000 series and 400 steps, or an instant one over four
/// million series.
const KEPT_MAX: usize = 4 << 20;

impl ColumnBuffers {
    /// How many values the kept buffers have room for (0: none kept).
    pub(crate) fn kept(&self) -> usize {
        self.0
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|(v, p)| v.capacity().min(p.capacity())))
            .unwrap_or(0)
    }

    fn take(&self) -> (Vec<f64>, Vec<bool>) {
        self.0
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .unwrap_or_default()
    }

    /// Keeps `vals` and `present` for the next query when they are larger
    /// than what is kept already, and not too large.
    pub(super) fn give(&self, vals: Vec<f64>, present: Vec<bool>) {
        let room = vals.capacity().min(present.capacity());
        if room == 0 || room > KEPT_MAX {
            return;
        }
        if let Ok(mut kept) = self.0.lock() {
            if kept
                .as_ref()
                .is_none_or(|(v, p)| v.capacity().min(p.capacity()) < room)
            {
                *kept = Some((vals, present));
            }
        }
    }
}
