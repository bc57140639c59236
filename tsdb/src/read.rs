//! What a query engine sees of storage: the read seam.
//!
//! [`Queryable`] opens a [`Querier`] over a time range; the querier selects
//! series by matchers and answers label-name and label-value questions. The
//! PromQL engine depends only on this module and [`crate::labels`], so it can
//! be tested against [`MemQueryable`] without a database.

use std::sync::Arc;

use crate::histogram::FloatHistogram;
use crate::labels::{Labels, Matcher};
use crate::packed::PackedLabels;

/// An error while reading storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Stored data failed a check while being read.
    #[error("corrupted data in {what}: {detail}")]
    Corruption {
        /// What was being read.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// Reading was cancelled by the caller (timeout).
    #[error("query was canceled")]
    Canceled,
}

/// A sample: timestamp in milliseconds and value.
pub type Sample = (i64, f64);

/// Iterates one series' samples in time order.
pub trait SampleIterator {
    /// The next sample, or `None` at the end.
    fn next(&mut self) -> Option<Sample>;

    /// Advances to the first sample with timestamp `>= t` and returns it.
    /// Never moves backwards: if the current position is already past `t`
    /// the next sample is returned.
    fn seek(&mut self, t: i64) -> Option<Sample> {
        loop {
            let s = self.next()?;
            if s.0 >= t {
                return Some(s);
            }
        }
    }

    /// The samples from the first with timestamp `>= mint` (as [`seek`]
    /// finds it) up to, not including, the first with timestamp `> maxt`.
    /// The iterator is left somewhere after them. Iterators over owned
    /// vectors override this to hand their vector over without copying.
    ///
    /// [`seek`]: SampleIterator::seek
    fn collect_between(&mut self, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut out = Vec::with_capacity(self.max_len().unwrap_or(0));
        self.collect_into(mint, maxt, &mut out);
        out
    }

    /// Appends the remaining samples with `mint <= t <= maxt` to `out`,
    /// consuming the iterator: a caller decoding many series into one
    /// buffer in turn allocates once.
    fn collect_into(&mut self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        let mut next = self.seek(mint);
        while let Some(s) = next {
            if s.0 > maxt {
                break;
            }
            out.push(s);
            next = self.next();
        }
    }

    /// At most this many samples remain, when the iterator knows without
    /// decoding them.
    fn max_len(&self) -> Option<usize> {
        None
    }
}

/// A native histogram sample: timestamp in milliseconds and histogram.
pub type HistogramSample = (i64, Arc<FloatHistogram>);

/// One series' float samples: decoded already (a series with a few
/// samples in the head, or a querier's answer built in memory), or read
/// through an iterator that decodes them when asked. The first needs no
/// allocation beside its vector, which matters when a query meets a
/// million such series.
pub enum Samples<'a> {
    /// Samples in time order.
    Decoded(VecIterator),
    /// Samples still to be read.
    Iter(Box<dyn SampleIterator + Send + 'a>),
}

impl Samples<'_> {
    /// Samples already decoded, in time order.
    pub fn decoded(samples: Vec<Sample>) -> Self {
        Samples::Decoded(VecIterator::new(samples))
    }
}

impl<'a> From<Box<dyn SampleIterator + Send + 'a>> for Samples<'a> {
    fn from(it: Box<dyn SampleIterator + Send + 'a>) -> Self {
        Samples::Iter(it)
    }
}

impl SampleIterator for Samples<'_> {
    fn next(&mut self) -> Option<Sample> {
        match self {
            Samples::Decoded(v) => v.next(),
            Samples::Iter(it) => it.next(),
        }
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        match self {
            Samples::Decoded(v) => v.seek(t),
            Samples::Iter(it) => it.seek(t),
        }
    }

    fn collect_between(&mut self, mint: i64, maxt: i64) -> Vec<Sample> {
        match self {
            Samples::Decoded(v) => v.collect_between(mint, maxt),
            Samples::Iter(it) => it.collect_between(mint, maxt),
        }
    }

    fn collect_into(&mut self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        match self {
            Samples::Decoded(v) => v.collect_into(mint, maxt, out),
            Samples::Iter(it) => it.collect_into(mint, maxt, out),
        }
    }

    fn max_len(&self) -> Option<usize> {
        match self {
            Samples::Decoded(v) => v.max_len(),
            Samples::Iter(it) => it.max_len(),
        }
    }
}

/// One selected series: its labels and its samples in the selected range.
pub struct Series<'a> {
    /// The series' labels (including `__name__`).
    pub labels: Labels,
    /// Its float samples within the querier's time range, in time order.
    pub samples: Samples<'a>,
    /// Its native histogram samples within the querier's time range, in
    /// time order (never at a timestamp that has a float sample).
    pub histograms: Vec<HistogramSample>,
}

impl<'a> Series<'a> {
    /// A series of float samples only.
    pub fn floats(labels: Labels, samples: impl Into<Samples<'a>>) -> Self {
        Series {
            labels,
            samples: samples.into(),
            histograms: Vec::new(),
        }
    }
}

/// Reads series over one time range.
pub trait Querier: Send {
    /// Series matching all `matchers`, with their samples in `[mint, maxt]`
    /// of the querier, sorted by labels.
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError>;

    /// As [`Querier::select`], but the samples may be decoded only when
    /// they are first read, so a caller can decode series one at a time
    /// (and on several threads) instead of holding them all at once. A
    /// series may then turn out to have no samples in range.
    fn select_lazy(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        self.select(matchers)
    }

    /// As [`Querier::select_lazy`], for a caller that reads the samples
    /// only, never the labels (an aggregation of a selector into one
    /// group): a store may leave a series' labels empty where finding them
    /// is work. The series, their order and samples are those
    /// `select_lazy` gives.
    fn select_lazy_unlabelled(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        self.select_lazy(matchers)
    }

    /// Sorted, unique label names of series that match all `matchers`
    /// (all series when `matchers` is empty).
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, ReadError>;

    /// Sorted, unique values of label `name` among series matching all
    /// `matchers` (all series when empty).
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, ReadError>;

    /// Label sets of the series matching all `matchers` that have samples
    /// in the querier's range, sorted, each once, packed (one allocation
    /// each). Stores that can answer without decoding samples override
    /// this.
    fn series_labels(&self, matchers: &[Matcher]) -> Result<Vec<PackedLabels>, ReadError> {
        Ok(self
            .select(matchers)?
            .into_iter()
            .filter_map(|mut s| {
                (s.samples.next().is_some() || !s.histograms.is_empty())
                    .then(|| PackedLabels::new(&s.labels))
            })
            .collect())
    }
}

/// Opens queriers over time ranges.
pub trait Queryable: Send + Sync {
    /// A querier for samples with `mint <= t <= maxt` (milliseconds).
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, ReadError>;
}

/// A sample iterator over an owned vector.
pub struct VecIterator {
    samples: Vec<Sample>,
    pos: usize,
}

impl VecIterator {
    /// Iterates `samples`, which must be in time order.
    pub fn new(samples: Vec<Sample>) -> Self {
        VecIterator { samples, pos: 0 }
    }
}

impl SampleIterator for VecIterator {
    fn next(&mut self) -> Option<Sample> {
        let s = self.samples.get(self.pos).copied();
        if s.is_some() {
            self.pos += 1;
        }
        s
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        let rest = &self.samples[self.pos..];
        let i = rest.partition_point(|s| s.0 < t);
        self.pos += i;
        self.next()
    }

    fn collect_between(&mut self, mint: i64, maxt: i64) -> Vec<Sample> {
        let rest = &self.samples[self.pos..];
        if self.pos == 0
            && rest.first().is_some_and(|s| s.0 >= mint)
            && rest.last().is_some_and(|s| s.0 <= maxt)
        {
            // all of them (the vector is in time order)
            return std::mem::take(&mut self.samples);
        }
        let lo = rest.partition_point(|s| s.0 < mint);
        let hi = rest.partition_point(|s| s.0 <= maxt).max(lo);
        let out = if self.pos == 0 && lo == 0 && hi == self.samples.len() {
            std::mem::take(&mut self.samples)
        } else {
            rest[lo..hi].to_vec()
        };
        self.pos = self.samples.len();
        out
    }

    fn collect_into(&mut self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        let rest = &self.samples[self.pos..];
        let lo = rest.partition_point(|s| s.0 < mint);
        let hi = rest.partition_point(|s| s.0 <= maxt).max(lo);
        out.extend_from_slice(&rest[lo..hi]);
        self.pos = self.samples.len();
    }

    fn max_len(&self) -> Option<usize> {
        Some(self.samples.len() - self.pos)
    }
}

/// Whether a label set satisfies every matcher.
pub fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

/// A histogram sample of [`MemQueryable`]: time, the histogram as read
/// back, the histogram as added.
type HistogramAdded = (i64, Arc<FloatHistogram>, FloatHistogram);

/// A small in-memory store, for tests of anything that reads through
/// [`Queryable`].
#[derive(Default, Clone)]
pub struct MemQueryable {
    series: Vec<(Labels, Vec<Sample>)>,
    /// Per series: time, histogram as read back, histogram as added.
    histograms: Vec<(Labels, Vec<HistogramAdded>)>,
    /// Samples in each histogram series' current chunk.
    chunk_lens: Vec<usize>,
}

impl MemQueryable {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sample; samples of one series must be added in time order.
    pub fn add(&mut self, labels: &Labels, t: i64, v: f64) {
        match self.series.iter_mut().find(|(l, _)| l == labels) {
            Some((_, s)) => s.push((t, v)),
            None => {
                self.series.push((labels.clone(), vec![(t, v)]));
                self.series.sort_by(|a, b| a.0.cmp(&b.0));
            }
        }
    }

    /// Adds a native histogram sample; samples of one series must be
    /// added in time order. Its counter reset hint becomes what a
    /// Prometheus chunk would give back (see
    /// [`crate::histogram::read_back_hint`]).
    pub fn add_histogram(&mut self, labels: &Labels, t: i64, mut h: FloatHistogram) {
        let last_float = self
            .series
            .iter()
            .find(|(l, _)| l == labels)
            .and_then(|(_, s)| s.last().map(|s| s.0));
        let i = match self.histograms.iter().position(|(l, _)| l == labels) {
            Some(i) => i,
            None => {
                self.histograms.push((labels.clone(), Vec::new()));
                self.chunk_lens.push(0);
                self.histograms.len() - 1
            }
        };
        let first = match (self.histograms[i].1.last(), last_float) {
            (None, _) => true,
            (Some(p), Some(f)) if f > p.0 => true,
            (Some(p), _) => {
                crate::histogram::starts_new_chunk(&p.2, &h)
                    || self.chunk_lens[i] >= crate::histogram::SAMPLES_PER_CHUNK
            }
        };
        self.chunk_lens[i] = if first { 1 } else { self.chunk_lens[i] + 1 };
        let original = h.clone();
        h.counter_reset_hint = crate::histogram::read_back_hint(&h, first);
        self.histograms[i].1.push((t, Arc::new(h), original));
        if !self.series.iter().any(|(l, _)| l == labels) {
            self.series.push((labels.clone(), Vec::new()));
            self.series.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
}

struct MemQuerier<'a> {
    store: &'a MemQueryable,
    mint: i64,
    maxt: i64,
}

impl Queryable for MemQueryable {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, ReadError> {
        Ok(Box::new(MemQuerier {
            store: self,
            mint,
            maxt,
        }))
    }
}

impl MemQuerier<'_> {
    fn matching<'b>(&'b self, matchers: &'b [Matcher]) -> impl Iterator<Item = &'b Labels> + 'b {
        self.store
            .series
            .iter()
            .filter(move |(l, _)| matches_all(l, matchers))
            .map(|(l, _)| l)
    }
}

impl Querier for MemQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        Ok(self
            .store
            .series
            .iter()
            .filter(|(l, _)| matches_all(l, matchers))
            .map(|(l, s)| {
                let in_range: Vec<Sample> = s
                    .iter()
                    .copied()
                    .filter(|(t, _)| *t >= self.mint && *t <= self.maxt)
                    .collect();
                let histograms = self
                    .store
                    .histograms
                    .iter()
                    .find(|(hl, _)| hl == l)
                    .map(|(_, hs)| {
                        hs.iter()
                            .filter(|(t, _, _)| *t >= self.mint && *t <= self.maxt)
                            .map(|(t, h, _)| (*t, h.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                Series {
                    labels: l.clone(),
                    samples: Samples::decoded(in_range),
                    histograms,
                }
            })
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        let names = self
            .matching(matchers)
            .flat_map(|l| l.iter().map(|l| l.name.to_string()))
            .collect();
        Ok(crate::reader::sorted_unique(names))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        let values = self
            .matching(matchers)
            .filter_map(|l| l.get(name).map(str::to_string))
            .collect();
        Ok(crate::reader::sorted_unique(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_select_and_seek() {
        let mut m = MemQueryable::new();
        let a = Labels::from_pairs(&[("__name__", "x"), ("i", "a")]);
        let b = Labels::from_pairs(&[("__name__", "x"), ("i", "b")]);
        for t in 0..10 {
            m.add(&a, t * 10, t as f64);
            m.add(&b, t * 10, -(t as f64));
        }
        let q = m.querier(20, 60).unwrap();
        let sel = q.select(&[Matcher::equal("i", "b")]).unwrap();
        assert_eq!(sel.len(), 1);
        let mut it = sel.into_iter().next().unwrap().samples;
        assert_eq!(it.next(), Some((20, -2.0)));
        assert_eq!(it.seek(45), Some((50, -5.0)));
        assert_eq!(it.next(), Some((60, -6.0)));
        assert_eq!(it.next(), None);
        let v: Vec<Sample> = (0..10).map(|t| (t * 10, t as f64)).collect();
        for (mint, maxt) in [
            (0, 90),
            (-5, 100),
            (15, 45),
            (20, 20),
            (21, 29),
            (95, 200),
            (50, 10),
        ] {
            let want: Vec<Sample> = v
                .iter()
                .copied()
                .filter(|s| s.0 >= mint && s.0 <= maxt)
                .collect();
            assert_eq!(
                VecIterator::new(v.clone()).collect_between(mint, maxt),
                want
            );
            let mut it = VecIterator::new(v.clone());
            it.next();
            let want: Vec<Sample> = want.into_iter().filter(|s| s.0 > 0).collect();
            assert_eq!(it.collect_between(mint, maxt), want);
        }
        assert_eq!(q.label_values("i", &[]).unwrap(), vec!["a", "b"]);
        assert_eq!(q.label_names(&[]).unwrap(), vec!["__name__", "i"]);
    }
}
