//! The querier over the whole database: the readers of the blocks
//! overlapping the range, then of the head, merged series by series,
//! whatever each reader is ([`crate::reader::Reader`]). Blocks and head
//! hold disjoint time ranges (the head refuses samples older than the
//! newest block), so merging is concatenation in time order, with equal
//! timestamps dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::block::Block;
use crate::db::Db;
use crate::head::Head;
use crate::labels::{Labels, Matcher};
use crate::packed::PackedLabels;
use crate::parallel::on_threads;
use crate::read::{
    HistogramSample, Querier, ReadError, Sample, SampleIterator, Samples, Series, VecIterator,
};
use crate::reader::{sorted_unique, Chunks, HistogramReader, Reader};

/// Where one series' samples come from, before decoding: its chunks in
/// each reader holding some, in time order. Mostly one reader holds a
/// series in range: that needs no allocation of its own.
enum Parts<'b> {
    One(Chunks<'b>),
    Many(Vec<Chunks<'b>>),
}

impl<'b> Parts<'b> {
    fn iter(&self) -> std::slice::Iter<'_, Chunks<'b>> {
        match self {
            Parts::One(c) => std::slice::from_ref(c).iter(),
            Parts::Many(v) => v.iter(),
        }
    }
}

impl Default for Parts<'_> {
    fn default() -> Self {
        Parts::Many(Vec::new())
    }
}

impl<'b> IntoIterator for Parts<'b> {
    type Item = Chunks<'b>;
    type IntoIter =
        std::iter::Chain<std::option::IntoIter<Chunks<'b>>, std::vec::IntoIter<Chunks<'b>>>;

    fn into_iter(self) -> Self::IntoIter {
        match self {
            Parts::One(c) => Some(c).into_iter().chain(Vec::new()),
            Parts::Many(v) => None.into_iter().chain(v),
        }
    }
}

/// One list of each label set's items, in label order, from `lists`
/// each in label order with each label set once: a label set's items in
/// the order of the lists holding it.
/// Sorted lists joined into one sorted list holding each item once: a
/// merge of the lists rather than a sort of them all.
fn union_sorted<T: Ord>(lists: Vec<Vec<T>>) -> Vec<T> {
    debug_assert!(lists.iter().all(|l| l.is_sorted()), "a list is not sorted");
    let mut lists: Vec<Vec<T>> = lists.into_iter().filter(|l| !l.is_empty()).collect();
    if lists.len() <= 1 {
        let mut one = lists.pop().unwrap_or_default();
        one.dedup();
        return one;
    }
    let cap = lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut iters: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut heads: Vec<Option<T>> = iters.iter_mut().map(Iterator::next).collect();
    let mut out = Vec::with_capacity(cap);
    loop {
        let mut least: Option<usize> = None;
        for (j, h) in heads.iter().enumerate() {
            let Some(x) = h else { continue };
            if least.is_none_or(|k| heads[k].as_ref().is_some_and(|m| x < m)) {
                least = Some(j);
            }
        }
        let Some(k) = least else { break };
        let Some(item) = std::mem::replace(&mut heads[k], iters[k].next()) else {
            break;
        };
        for (h, it) in heads.iter_mut().zip(iters.iter_mut()) {
            while h.as_ref() == Some(&item) {
                *h = it.next();
            }
        }
        out.push(item);
    }
    out
}

fn merge_sorted<T>(lists: Vec<Vec<(Labels, T)>>) -> Vec<(Labels, Vec<T>)> {
    let cap = lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut iters: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut heads: Vec<Option<(Labels, T)>> = iters.iter_mut().map(Iterator::next).collect();
    let mut out = Vec::with_capacity(cap);
    loop {
        // the first list whose next label set is the smallest
        let mut least: Option<usize> = None;
        for (j, h) in heads.iter().enumerate() {
            let Some((l, _)) = h else { continue };
            if least.is_none_or(|k| heads[k].as_ref().is_some_and(|(m, _)| l < m)) {
                least = Some(j);
            }
        }
        let Some(k) = least else { break };
        let Some((labels, item)) = std::mem::replace(&mut heads[k], iters[k].next()) else {
            break;
        };
        let mut items = vec![item];
        for j in k + 1..heads.len() {
            if heads[j].as_ref().is_some_and(|(l, _)| *l == labels) {
                if let Some((_, item)) = std::mem::replace(&mut heads[j], iters[j].next()) {
                    items.push(item);
                }
            }
        }
        out.push((labels, items));
    }
    out
}

/// Fewest samples worth decoding on more than one thread.
const PARALLEL_MIN_SAMPLES: usize = 1_000_000;

/// Decodes every series with `f`, in order; on several threads when there
/// are many samples.
fn decode_all<'b, F>(items: Vec<(Labels, Parts<'b>)>, f: F) -> Vec<(Labels, Vec<Sample>)>
where
    F: Fn(Parts<'b>) -> Vec<Sample> + Sync,
{
    let total: usize = items
        .iter()
        .map(|(_, p)| p.iter().map(Chunks::count).sum::<usize>())
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
    let mut runs: Vec<Vec<(Labels, Parts<'b>)>> = vec![Vec::new()];
    let mut in_run = 0usize;
    for item in items {
        let n: usize = item.1.iter().map(Chunks::count).sum();
        if in_run >= per && runs.len() < threads {
            runs.push(Vec::new());
            in_run = 0;
        }
        in_run += n;
        runs.last_mut().expect("a run").push(item);
    }
    let work = |run: Vec<(Labels, Parts<'b>)>| -> Vec<(Labels, Vec<Sample>)> {
        run.into_iter()
            .map(|(l, parts)| {
                let v = f(parts);
                (l, v)
            })
            .collect()
    };
    on_threads(runs, work).into_iter().flatten().collect()
}

/// Decodes one series' `parts` within `[mint, maxt]`, appending to `out`
/// (empty or holding older samples of the same series). Blocks and head
/// hold disjoint time ranges, so the parts follow one another in time; a
/// sample of a block, or of the head `merged` with blocks, not newer than
/// the one before it is dropped.
fn decode_parts(parts: Parts<'_>, mint: i64, maxt: i64, merged: bool, out: &mut Vec<Sample>) {
    for p in parts {
        let from = out.len();
        match p {
            Chunks::Mapped(chunks) => {
                for c in chunks {
                    let from = out.len();
                    c.it.decode_into(mint, maxt, out);
                    keep_increasing(out, from);
                }
                continue;
            }
            Chunks::Copied(copies) => Head::decode_copies_into(&copies, mint, maxt, out),
            Chunks::Decoded(samples) => out.extend(samples),
        }
        // from one reader alone, the head's samples as they are
        if merged {
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
    parts: Parts<'b>,
    mint: i64,
    maxt: i64,
    /// Whether the parts come from more than one reader.
    merged: bool,
    /// The decoded samples, once something was read one at a time.
    decoded: Option<VecIterator>,
}

impl LazySamples<'_> {
    fn decoded(&mut self) -> &mut VecIterator {
        self.decoded.get_or_insert_with(|| {
            let parts = std::mem::take(&mut self.parts);
            let mut v = Vec::with_capacity(parts.iter().map(Chunks::count).sum());
            decode_parts(parts, self.mint, self.maxt, self.merged, &mut v);
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
        let n = parts.iter().map(Chunks::count).sum();
        if out.is_empty() {
            out.reserve(n);
            decode_parts(parts, lo, hi, self.merged, out);
        } else {
            // samples already in `out` are not this series' to merge with
            let mut v = Vec::with_capacity(n);
            decode_parts(parts, lo, hi, self.merged, &mut v);
            out.append(&mut v);
        }
    }

    fn max_len(&self) -> Option<usize> {
        match &self.decoded {
            Some(d) => d.max_len(),
            None => Some(self.parts.iter().map(Chunks::count).sum()),
        }
    }
}

/// Series from float samples and histogram samples, both in label order,
/// merged by label set.
fn with_histograms<'b>(
    floats: impl Iterator<Item = (Labels, Samples<'b>)>,
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
                (l, Samples::decoded(Vec::new()), h)
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
    /// Keeps the head from letting go of a block's range while this
    /// querier, which may not know the block, is open.
    _reading: Arc<()>,
    head: &'a Head,
    /// The blocks overlapping the range, oldest first.
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

fn hist_err(e: crate::Error) -> ReadError {
    ReadError::Corruption {
        what: "histograms".into(),
        detail: e.to_string(),
    }
}

impl<'a> DbQuerier<'a> {
    pub(crate) fn new(db: &'a Db, mint: i64, maxt: i64) -> Self {
        // taken before the blocks are listed
        let reading = Arc::clone(&db.readers.lock());
        let blocks = db
            .blocks
            .read()
            .iter()
            .filter(|b| b.overlaps(mint, maxt))
            .cloned()
            .collect();
        DbQuerier {
            _reading: reading,
            head: &db.head,
            blocks,
            mint,
            maxt,
        }
    }

    /// The readers, in time order: the blocks, then the head.
    fn readers(&self) -> impl Iterator<Item = &dyn Reader> {
        let blocks = self.blocks.iter().map(|b| &**b as &dyn Reader);
        blocks.chain(std::iter::once(self.head as &dyn Reader))
    }

    /// Whether series come from more than one reader.
    fn merged(&self) -> bool {
        self.readers().nth(1).is_some()
    }

    /// The readers' native histograms, in time order.
    fn hist_readers(&self) -> impl Iterator<Item = &dyn HistogramReader> {
        self.readers().filter_map(|r| r.histograms())
    }

    /// Label sets of the series with histogram samples in range.
    fn hist_series(&self, matchers: &[Matcher]) -> Vec<Labels> {
        union_sorted(
            self.hist_readers()
                .map(|h| h.series(matchers, self.mint, self.maxt))
                .collect(),
        )
    }

    /// The histogram samples in range of the series matching all
    /// `matchers`, in label order: the readers' merged per series in time
    /// order, one per timestamp (the older reader's).
    fn hist_select(
        &self,
        matchers: &[Matcher],
    ) -> Result<Vec<(Labels, Vec<HistogramSample>)>, ReadError> {
        let mut found = Vec::new();
        for h in self.hist_readers() {
            found.push(h.select(matchers, self.mint, self.maxt).map_err(hist_err)?);
        }
        if found.len() == 1 {
            return Ok(found.pop().unwrap_or_default());
        }
        let mut by: BTreeMap<Labels, Vec<HistogramSample>> = BTreeMap::new();
        for (l, v) in found.into_iter().flatten() {
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

    /// The float chunks of each series matching all `matchers` in range,
    /// in label order, not decoded yet.
    fn float_parts(&self, matchers: &[Matcher]) -> Result<Vec<(Labels, Parts<'_>)>, ReadError> {
        let mut readers = self.readers();
        if !self.merged() {
            // one reader's series come in label order, each label set once
            let Some(only) = readers.next() else {
                return Ok(Vec::new());
            };
            let selected = only.select(matchers, self.mint, self.maxt);
            return Ok(selected
                .map_err(block_err)?
                .into_iter()
                .map(|(l, c)| (l, Parts::One(c)))
                .collect());
        }
        let readers: Vec<&dyn Reader> = readers.collect();
        let mut lists = Vec::with_capacity(readers.len());
        for list in select_each(&readers, matchers, self.mint, self.maxt) {
            lists.push(list.map_err(block_err)?);
        }
        Ok(merge_sorted(lists)
            .into_iter()
            .map(|(l, v)| (l, Parts::Many(v)))
            .collect())
    }

    /// The samples of each series' parts, left to decode when first read.
    fn lazy_samples<'b>(
        &'b self,
        items: impl IntoIterator<Item = (Labels, Parts<'b>)>,
    ) -> impl Iterator<Item = (Labels, Samples<'b>)> {
        let (mint, maxt, merged) = (self.mint, self.maxt, self.merged());
        items.into_iter().map(move |(l, parts)| {
            let samples = match parts {
                // decoded already, within the range, from the one reader:
                // no box around them (a million series are a million boxes)
                Parts::One(Chunks::Decoded(v)) => Samples::decoded(v),
                parts => Samples::Iter(Box::new(LazySamples {
                    parts,
                    mint,
                    maxt,
                    merged,
                    decoded: None,
                })),
            };
            (l, samples)
        })
    }

    /// The sorted union of what `f` finds in each reader holding data in
    /// range and of what `hist` finds in the histogram series.
    fn union(
        &self,
        f: impl Fn(&dyn Reader) -> Result<Vec<String>, crate::Error>,
        matchers: &[Matcher],
        hist: impl FnOnce(&[Labels]) -> Vec<String>,
    ) -> Result<Vec<String>, ReadError> {
        let mut all = hist(&self.hist_series(matchers));
        for r in self.readers().filter(|r| r.overlaps(self.mint, self.maxt)) {
            all.extend(f(r).map_err(block_err)?);
        }
        Ok(sorted_unique(all))
    }
}

/// What each of `readers` selects, in their order: the readers split
/// into runs, each looked up on a thread of its own, up to one per core,
/// as they hold disjoint data and the caller waits for all of them.
fn select_each<'b>(
    readers: &[&'b dyn Reader],
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
) -> Vec<Result<Vec<(Labels, Chunks<'b>)>, crate::Error>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(readers.len())
        .max(1);
    let runs: Vec<_> = readers
        .chunks(readers.len().div_ceil(threads).max(1))
        .collect();
    let select = |run: &[&'b dyn Reader]| -> Vec<_> {
        run.iter().map(|r| r.select(matchers, mint, maxt)).collect()
    };
    on_threads(runs, select).into_iter().flatten().collect()
}

impl Querier for DbQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        // find the chunks of every series first, decode them after (in
        // parallel when there are many)
        let items = self.float_parts(matchers)?;
        let (mint, maxt, merged) = (self.mint, self.maxt, self.merged());
        let decoded = decode_all(items, |parts| {
            let mut v = Vec::with_capacity(parts.iter().map(Chunks::count).sum());
            decode_parts(parts, mint, maxt, merged, &mut v);
            v
        });
        let floats = decoded
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(l, v)| (l, Samples::decoded(v)));
        Ok(with_histograms(floats, self.hist_select(matchers)?))
    }

    fn select_lazy(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        let floats = self.lazy_samples(self.float_parts(matchers)?);
        Ok(with_histograms(floats, self.hist_select(matchers)?))
    }

    fn select_lazy_unlabelled(&self, matchers: &[Matcher]) -> Result<Vec<Series<'_>>, ReadError> {
        let hists = self.hist_select(matchers)?;
        // from several readers the parts of a series are joined by label,
        // as are its floats and histograms
        if self.merged() || !hists.is_empty() {
            let floats = self.lazy_samples(self.float_parts(matchers)?);
            return Ok(with_histograms(floats, hists));
        }
        let chunks = self.head.select_unlabelled(matchers, self.mint, self.maxt);
        let parts = chunks.into_iter().map(|c| (Labels::empty(), Parts::One(c)));
        Ok(self
            .lazy_samples(parts)
            .map(|(labels, samples)| Series {
                labels,
                samples,
                histograms: Vec::new(),
            })
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.union(
            |r| r.label_names(matchers),
            matchers,
            |hs| {
                hs.iter()
                    .flat_map(|l| l.iter().map(|l| l.name.to_string()))
                    .collect()
            },
        )
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, ReadError> {
        self.union(
            |r| r.label_values(name, matchers),
            matchers,
            |hs| {
                hs.iter()
                    .filter_map(|l| l.get(name).map(str::to_string))
                    .collect()
            },
        )
    }

    fn series_labels(&self, matchers: &[Matcher]) -> Result<Vec<PackedLabels>, ReadError> {
        let hist = self.hist_series(matchers);
        let mut lists = vec![hist.iter().map(PackedLabels::new).collect()];
        for r in self.readers() {
            lists.push(
                r.series(matchers, self.mint, self.maxt)
                    .map_err(block_err)?,
            );
        }
        Ok(union_sorted(lists))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(v: &str) -> Labels {
        Labels::from_pairs(&[("__name__", "m"), ("k", v)])
    }

    /// Sorted lists come out as one, each item once.
    #[test]
    fn union_sorted_merges_and_drops_repeats() {
        assert_eq!(union_sorted::<u32>(vec![]), Vec::<u32>::new());
        assert_eq!(union_sorted(vec![vec![1, 1, 2]]), [1, 2]);
        let lists = vec![vec![2, 4, 9], vec![], vec![1, 2, 3, 9], vec![4, 5, 5]];
        assert_eq!(union_sorted(lists), [1, 2, 3, 4, 5, 9]);
        let lists = vec![vec![l("b"), l("d")], vec![l("a"), l("b")], vec![l("d")]];
        assert_eq!(union_sorted(lists), [l("a"), l("b"), l("d")]);
    }

    /// Label sets come out once each, in label order, with their items in
    /// the order of the lists holding them.
    #[test]
    fn merge_sorted_joins_lists_in_label_order() {
        let lists = vec![
            vec![(l("b"), 1), (l("d"), 2)],
            vec![(l("a"), 3), (l("b"), 4), (l("e"), 5)],
            vec![],
            vec![(l("b"), 6), (l("c"), 7), (l("e"), 8)],
        ];
        let got = merge_sorted(lists);
        let want = vec![
            (l("a"), vec![3]),
            (l("b"), vec![1, 4, 6]),
            (l("c"), vec![7]),
            (l("d"), vec![2]),
            (l("e"), vec![5, 8]),
        ];
        assert_eq!(got, want);
        assert!(merge_sorted::<u8>(vec![vec![], vec![]]).is_empty());
    }
}
