//! The querier over the whole database: the blocks overlapping the range,
//! then the head, merged series by series. Blocks and head hold disjoint
//! time ranges (the head refuses samples older than the newest block), so
//! merging is concatenation in time order, with equal timestamps dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::block::Block;
use crate::chunkenc::ChunkIter;
use crate::db::Db;
use crate::head::{ChunkCopies, Head, HeadQuerier, MemSeries};
use crate::labels::{Labels, Matcher};
use crate::read::{
    HistogramSample, Querier, ReadError, Sample, SampleIterator, Series, VecIterator,
};

/// A block chunk: its decoder and sample count.
struct BlockChunk<'b> {
    it: ChunkIter<'b>,
    count: u16,
}

/// Where one series' samples come from, before decoding.
enum Part<'b> {
    Block(Vec<BlockChunk<'b>>),
    Head(ChunkCopies),
    /// A few head samples, decoded at once: smaller than their chunk
    /// copies, which matters when a query meets a million short series.
    Decoded(Vec<Sample>),
}

/// Most head samples of a series decoded as soon as they are copied.
const DECODE_AT_ONCE: usize = 32;

impl Part<'_> {
    /// Samples in the chunks (an upper bound of those in range).
    fn count(&self) -> usize {
        match self {
            Part::Block(c) => c.iter().map(|c| c.count as usize).sum(),
            Part::Head(c) => c.iter().map(|c| c.count as usize).sum(),
            Part::Decoded(v) => v.len(),
        }
    }
}

/// Fewest samples worth decoding on more than one thread.
const PARALLEL_MIN_SAMPLES: usize = 1_000_000;

/// Decodes every series with `f`, in order; on several threads when there
/// are many samples.
fn decode_all<'b, F>(items: Vec<(Labels, Vec<Part<'b>>)>, f: F) -> Vec<(Labels, Vec<Sample>)>
where
    F: Fn(Vec<Part<'b>>) -> Vec<Sample> + Sync,
{
    let total: usize = items
        .iter()
        .map(|(_, p)| p.iter().map(Part::count).sum::<usize>())
        .sum();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
        .min(total / PARALLEL_MIN_SAMPLES * 2 + 1);
    if threads <= 1 || items.len() < 2 {
        return items
            .into_iter()
            .map(|(l, parts)| {
                let v = f(parts);
                (l, v)
            })
            .collect();
    }
    // contiguous runs of about equal sample counts
    let per = total.div_ceil(threads);
    let mut runs: Vec<Vec<(Labels, Vec<Part<'b>>)>> = vec![Vec::new()];
    let mut in_run = 0usize;
    for item in items {
        let n: usize = item.1.iter().map(Part::count).sum();
        if in_run >= per && runs.len() < threads {
            runs.push(Vec::new());
            in_run = 0;
        }
        in_run += n;
        runs.last_mut().expect("a run").push(item);
    }
    let f = &f;
    let work = |run: Vec<(Labels, Vec<Part<'b>>)>| -> Vec<(Labels, Vec<Sample>)> {
        run.into_iter()
            .map(|(l, parts)| {
                let v = f(parts);
                (l, v)
            })
            .collect()
    };
    std::thread::scope(|scope| {
        let mut runs = runs.into_iter();
        let first = runs.next().unwrap_or_default();
        let handles: Vec<_> = runs.map(|run| scope.spawn(move || work(run))).collect();
        let mut out = work(first);
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        out
    })
}

/// Decodes one series' `parts` within `[mint, maxt]`, appending to `out`
/// (empty or holding older samples of the same series). Blocks and head
/// hold disjoint time ranges, so the parts follow one another in time;
/// after blocks, a sample not newer than the one before it is dropped.
fn decode_parts(
    parts: Vec<Part<'_>>,
    mint: i64,
    maxt: i64,
    head_only: bool,
    out: &mut Vec<Sample>,
) {
    for p in parts {
        let from = out.len();
        match p {
            Part::Block(chunks) => {
                for c in chunks {
                    let from = out.len();
                    c.it.decode_into(mint, maxt, out);
                    keep_increasing(out, from);
                }
                continue;
            }
            Part::Head(copies) => Head::decode_copies_into(&copies, mint, maxt, out),
            Part::Decoded(samples) => out.extend(samples),
        }
        // without blocks, the head's samples as they are
        if !head_only {
            keep_increasing(out, from);
        }
    }
}

/// Drops the samples of `out[from..]` not newer than the one kept before
/// them.
fn keep_increasing(out: &mut Vec<Sample>, from: usize) {
    let before = from.checked_sub(1).map(|i| out[i].0);
    let mut last = before;
    let sorted = out[from..].iter().all(|s| {
        let newer = last.is_none_or(|l| s.0 > l);
        last = Some(s.0);
        newer
    });
    if sorted {
        return;
    }
    let (mut w, mut last) = (from, before);
    for r in from..out.len() {
        let s = out[r];
        if last.is_none_or(|l| s.0 > l) {
            out[w] = s;
            w += 1;
            last = Some(s.0);
        }
    }
    out.truncate(w);
}

/// One series' samples, decoded when first read.
struct LazySamples<'b> {
    parts: Vec<Part<'b>>,
    mint: i64,
    maxt: i64,
    head_only: bool,
    /// The decoded samples, once something was read one at a time.
    decoded: Option<VecIterator>,
}

impl LazySamples<'_> {
    fn decoded(&mut self) -> &mut VecIterator {
        self.decoded.get_or_insert_with(|| {
            let parts = std::mem::take(&mut self.parts);
            let mut v = Vec::with_capacity(parts.iter().map(Part::count).sum());
            decode_parts(parts, self.mint, self.maxt, self.head_only, &mut v);
            VecIterator::new(v)
        })
    }
}

impl SampleIterator for LazySamples<'_> {
    fn next(&mut self) -> Option<Sample> {
        self.decoded().next()
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        self.decoded().seek(t)
    }

    fn collect_between(&mut self, mint: i64, maxt: i64) -> Vec<Sample> {
        self.decoded().collect_between(mint, maxt)
    }

    fn collect_into(&mut self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        if let Some(d) = &mut self.decoded {
            return d.collect_into(mint, maxt, out);
        }
        let parts = std::mem::take(&mut self.parts);
        let (lo, hi) = (mint.max(self.mint), maxt.min(self.maxt));
        if lo > hi {
            return;
        }
        let n = parts.iter().map(Part::count).sum();
        if out.is_empty() {
            out.reserve(n);
            decode_parts(parts, lo, hi, self.head_only, out);
        } else {
            // samples already in `out` are not this series' to merge with
            let mut v = Vec::with_capacity(n);
            decode_parts(parts, lo, hi, self.head_only, &mut v);
            out.append(&mut v);
        }
    }

    fn max_len(&self) -> Option<usize> {
        match &self.decoded {
            Some(d) => d.max_len(),
            None => Some(self.parts.iter().map(Part::count).sum()),
        }
    }
}

/// Series from float samples and histogram samples, both in label order,
/// merged by label set.
fn with_histograms<'b>(
    floats: impl Iterator<Item = (Labels, Box<dyn SampleIterator + Send + 'b>)>,
    hists: Vec<(Labels, Vec<HistogramSample>)>,
) -> Vec<Series<'b>> {
    let mut out = Vec::new();
    let mut fl = floats.peekable();
    let mut hl = hists.into_iter().peekable();
    loop {
        let order = match (fl.peek(), hl.peek()) {
            (Some(f), Some(h)) => f.0.cmp(&h.0),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => break,
        };
        let (labels, samples, histograms) = match order {
            std::cmp::Ordering::Less => {
                let (l, v) = fl.next().expect("peeked");
                (l, v, Vec::new())
            }
            std::cmp::Ordering::Greater => {
                let (l, h) = hl.next().expect("peeked");
                let none: Box<dyn SampleIterator + Send + 'b> =
                    Box::new(VecIterator::new(Vec::new()));
                (l, none, h)
            }
            std::cmp::Ordering::Equal => {
                let (l, v) = fl.next().expect("peeked");
                let (_, h) = hl.next().expect("peeked");
                (l, v, h)
            }
        };
        out.push(Series {
            labels,
            samples,
            histograms,
        });
    }
    out
}

pub(crate) struct DbQuerier<'a> {
    head: HeadQuerier<'a>,
    blocks: Vec<Arc<Block>>,
    mint: i64,
    maxt: i64,
}

fn block_err(e: crate::Error) -> ReadError {
    ReadError::Corruption {
        what: "block".into(),
        detail: e.to_string(),
    }
}

impl<'a> DbQuerier<'a> {
    pub(crate) fn new(db: &'a Db, mint: i64, maxt: i64) -> Self {
        let blocks = db
            .blocks
            .read()
            .iter()
            .filter(|b| b.meta().min_time <= maxt && b.meta().max_time > mint)
            .cloned()
            .collect();
        DbQuerier {
            head: HeadQuerier {
                head: &db.head,
                mint,
                maxt,
            },
            blocks,
            mint,
            maxt,
        }
    }

    /// Label sets of the series with histogram samples in range (in the
    /// histogram store or the blocks' histogram files).
    fn hist_series(&self, matchers: &[Matcher]) -> Vec<Labels> {
        let mut all = self.head.head.hist.series(matchers, self.mint, self.maxt);
        for h in self.blocks.iter().filter_map(|b| b.histograms()) {
            all.extend(h.series(matchers, self.mint, self.maxt));
        }
        all.sort();
        all.dedup();
        all
    }

    /// The histogram samples in range of the series matching all
    /// `matchers`, in label order: the blocks' and the store's, merged per
    /// series in time order, one per timestamp.
    fn hist_select(
        &self,
        matchers: &[Matcher],
    ) -> Result<Vec<(Labels, Vec<HistogramSample>)>, ReadError> {
        let bad = |e: crate::Error| ReadError::Corruption {
            what: "histograms".into(),
            detail: e.to_string(),
        };
        let store = self
            .head
            .head
            .hist
            .select(matchers, self.mint, self.maxt)
            .map_err(bad)?;
        let files: Vec<_> = self.blocks.iter().filter_map(|b| b.histograms()).collect();
        if files.is_empty() {
            return Ok(store);
        }
        let mut by: BTreeMap<Labels, Vec<HistogramSample>> = BTreeMap::new();
        for h in files {
            for (l, v) in h.select(matchers, self.mint, self.maxt).map_err(bad)? {
                by.entry(l).or_default().extend(v);
            }
        }
        for (l, v) in store {
            by.entry(l).or_default().extend(v);
        }
        Ok(by
            .into_iter()
            .map(|(l, mut v)| {
                v.sort_by_key(|s| s.0);
                v.dedup_by_key(|s| s.0);
                (l, v)
            })
            .collect())
    }

    /// The float chunks (or few decoded head samples) of each series
    /// matching all `matchers` in range, in label order, not decoded yet.
    fn float_parts(&self, matchers: &[Matcher]) -> Result<Vec<(Labels, Vec<Part<'_>>)>, ReadError> {
        let head = self.head.head;
        let head_only = self.blocks.is_empty();
        let head_part = |s: &MemSeries| {
            let copies = head.chunk_copies(s, self.mint, self.maxt);
            if copies.is_empty() {
                None
            } else if copies.iter().map(|c| c.count as usize).sum::<usize>() <= DECODE_AT_ONCE {
                Some(Part::Decoded(Head::decode_copies(
                    &copies, self.mint, self.maxt,
                )))
            } else {
                Some(Part::Head(copies))
            }
        };
        Ok(if head_only {
            // the head's series come in label order, each label set once
            head.matching(matchers)
                .into_iter()
                .filter_map(|s| Some((s.labels.to_labels(), vec![head_part(&s)?])))
                .collect()
        } else {
            let mut merged: BTreeMap<Labels, Vec<Part<'_>>> = BTreeMap::new();
            for b in &self.blocks {
                for (labels, chunks) in b
                    .select(matchers, self.mint, self.maxt)
                    .map_err(block_err)?
                {
                    let chunks = chunks
                        .into_iter()
                        .map(|c| BlockChunk {
                            it: c.iter(),
                            count: c.count,
                        })
                        .collect();
                    merged.entry(labels).or_default().push(Part::Block(chunks));
                }
            }
            for s in head.matching(matchers) {
                if let Some(part) = head_part(&s) {
                    merged.entry(s.labels.to_labels()).or_default().push(part);
                }
            }
            merged.into_iter().collect()
        })
    }

    fn union(
        &self,
        mut f: impl FnMut(&dyn Querier, Option<&Block>) -> Result<Vec<String>, ReadError>,
        matchers: &[Matcher],
        hist: impl FnOnce(&[Labels]) -> Vec<String>,
    ) -> Result<Vec<String>, ReadError> {
        let mut all = f(&self.head, None)?;
        all.extend(hist(&self.hist_series(matchers)));
        for b in &self.blocks {
            all.extend(f(&self.head, Some(b))?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }
}

impl Querier for DbQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        // find the chunks of every series first, decode them after (in
        // parallel when there are many)
        let items = self.float_parts(matchers)?;
        let (mint, maxt, head_only) = (self.mint, self.maxt, self.blocks.is_empty());
        let decoded = decode_all(items, |parts| {
            let mut v = Vec::with_capacity(parts.iter().map(Part::count).sum());
            decode_parts(parts, mint, maxt, head_only, &mut v);
            v
        });
        let floats = decoded
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(l, v)| {
                let it: Box<dyn SampleIterator + Send + '_> = Box::new(VecIterator::new(v));
                (l, it)
            });
        Ok(with_histograms(floats, self.hist_select(matchers)?))
    }

    fn select_lazy(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        let items = self.float_parts(matchers)?;
        let (mint, maxt, head_only) = (self.mint, self.maxt, self.blocks.is_empty());
        let floats = items.into_iter().map(|(l, parts)| {
            let it: Box<dyn SampleIterator + Send + '_> = Box::new(LazySamples {
                parts,
                mint,
                maxt,
                head_only,
                decoded: None,
            });
            (l, it)
        });
        Ok(with_histograms(floats, self.hist_select(matchers)?))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.union(
            |head, b| match b {
                None => head.label_names(matchers),
                Some(b) => b.label_names(matchers).map_err(block_err),
            },
            matchers,
            |hs| {
                hs.iter()
                    .flat_map(|l| l.iter().map(|l| l.name.clone()))
                    .collect()
            },
        )
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.union(
            |head, b| match b {
                None => head.label_values(name, matchers),
                Some(b) => b.label_values(name, matchers).map_err(block_err),
            },
            matchers,
            |hs| {
                hs.iter()
                    .filter_map(|l| l.get(name).map(str::to_string))
                    .collect()
            },
        )
    }

    fn series_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, ReadError> {
        let mut all = self.head.series_labels(matchers)?;
        all.extend(self.hist_series(matchers));
        for b in &self.blocks {
            all.extend(
                b.select(matchers, self.mint, self.maxt)
                    .map_err(block_err)?
                    .into_iter()
                    .map(|(l, _)| l),
            );
        }
        all.sort();
        all.dedup();
        Ok(all)
    }
}
