//! The head's two ways to a series: by reference and by label hash (one
//! series per hash but for rare collisions). Both are striped so that
//! appenders on different series seldom meet on a lock. Ids are handed out
//! in order, so a stripe keeps its series in pages of slots indexed by the
//! id's quotient by the stripe count (a page whose series are all gone is
//! freed); label hashes are hashes already and key a map as they are.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use parking_lot::RwLock;

use super::MemSeries;
use crate::labels::Labels;

const STRIPES: usize = 32;

/// Passes a key that is already a hash (of labels) or a dense id through.
/// The table finds a slot by the low bits and tells keys in a group apart
/// by the top seven, so the low seven are copied up there: consecutive ids
/// then sit side by side with distinct tags, instead of sharing tag 0.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n ^ (n << 57);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The series of one label hash.
enum Bucket {
    One(Arc<MemSeries>),
    // boxed, so a bucket is two words: almost every hash has one series
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Arc<MemSeries>>>),
}

type HashStripe = HashMap<u64, Bucket, BuildHasherDefault<PassThrough>>;

/// Slots per page of an id stripe.
const PAGE: usize = 256;

/// One stripe's series by id: `pages[key / PAGE].slots[key % PAGE]`.
#[derive(Default)]
struct IdStripe {
    pages: Vec<Option<Box<Page>>>,
}

struct Page {
    live: usize,
    slots: Box<[Option<Arc<MemSeries>>]>,
}

impl IdStripe {
    fn get(&self, key: u64) -> Option<&Arc<MemSeries>> {
        let key = key as usize;
        self.pages.get(key / PAGE)?.as_ref()?.slots[key % PAGE].as_ref()
    }

    fn insert(&mut self, key: u64, s: Arc<MemSeries>) {
        let key = key as usize;
        let p = key / PAGE;
        if self.pages.len() <= p {
            self.pages.resize_with(p + 1, || None);
        }
        let page = self.pages[p].get_or_insert_with(|| {
            Box::new(Page {
                live: 0,
                slots: (0..PAGE).map(|_| None).collect(),
            })
        });
        if page.slots[key % PAGE].replace(s).is_none() {
            page.live += 1;
        }
    }

    fn remove(&mut self, key: u64) -> Option<Arc<MemSeries>> {
        let key = key as usize;
        let slot = self.pages.get_mut(key / PAGE)?;
        let page = slot.as_mut()?;
        let s = page.slots[key % PAGE].take()?;
        page.live -= 1;
        if page.live == 0 {
            *slot = None;
        }
        Some(s)
    }

    fn values(&self) -> impl Iterator<Item = &Arc<MemSeries>> {
        self.pages
            .iter()
            .flatten()
            .flat_map(|p| p.slots.iter().flatten())
    }
}

pub(crate) struct SeriesIndex {
    by_id: Vec<RwLock<IdStripe>>,
    by_hash: Vec<RwLock<HashStripe>>,
}

/// The stripe of a label hash: from its high half, leaving the low bits
/// (which the stripe's table indexes by) varied within a stripe.
fn hash_stripe(h: u64) -> usize {
    (h >> 32) as usize % STRIPES
}

/// The stripe of an id and its key there.
fn id_slot(id: u64) -> (usize, u64) {
    (id as usize % STRIPES, id / STRIPES as u64)
}

/// Adds a series under its label hash in its stripe.
fn insert_hash(stripe: &mut HashStripe, hash: u64, s: Arc<MemSeries>) {
    match stripe.entry(hash) {
        Entry::Vacant(e) => {
            e.insert(Bucket::One(s));
        }
        Entry::Occupied(mut e) => match e.get_mut() {
            Bucket::One(first) => {
                let first = Arc::clone(first);
                e.insert(Bucket::Many(Box::new(vec![first, s])));
            }
            Bucket::Many(v) => v.push(s),
        },
    }
}

impl SeriesIndex {
    pub(crate) fn new() -> SeriesIndex {
        SeriesIndex {
            by_id: (0..STRIPES).map(|_| RwLock::default()).collect(),
            by_hash: (0..STRIPES).map(|_| RwLock::default()).collect(),
        }
    }

    pub(crate) fn insert(&self, s: Arc<MemSeries>, hash: u64) {
        insert_hash(
            &mut self.by_hash[hash_stripe(hash)].write(),
            hash,
            Arc::clone(&s),
        );
        let (stripe, key) = id_slot(s.id);
        self.by_id[stripe].write().insert(key, s);
    }

    /// Adds series read at start-up to the tables by id, a batch at a
    /// time in id order: ids fill their pages in order.
    pub(crate) fn load_ids<'a>(&self, batch: impl Iterator<Item = &'a Arc<MemSeries>>) {
        let mut by_id: Vec<_> = self.by_id.iter().map(|st| st.write()).collect();
        for s in batch {
            let (stripe, key) = id_slot(s.id);
            by_id[stripe].insert(key, Arc::clone(s));
        }
    }

    /// Puts the series read at start-up under their label hashes, each
    /// given with its hash (and a handle of its own for the tables, so that
    /// its count is not touched again here). Inserting a million series
    /// one by one at random places in the tables waits on memory at every
    /// step; here they are sorted by stripe and by the table position they
    /// will take, so each table is filled in a few sweeps, on two threads
    /// (the other core is idle at this point of start-up) by halves of the
    /// stripes.
    pub(crate) fn load_hashes(&self, mut series: Vec<(u64, Arc<MemSeries>)>) {
        let per_stripe = series.len() / STRIPES + 1;
        // a table of this size indexes by about this many low bits; a
        // wrong guess costs only locality
        let bits = (per_stripe * 8 / 7).next_power_of_two().trailing_zeros();
        let low = (1u64 << bits) - 1;
        series.sort_unstable_by_key(|(h, _)| ((hash_stripe(*h) as u64) << 32) | (h & low));
        let fill = |stripes: std::ops::Range<usize>, sorted: Vec<(u64, Arc<MemSeries>)>| {
            let mut sorted = sorted.into_iter().peekable();
            for n in stripes {
                let mut st = self.by_hash[n].write();
                st.reserve(per_stripe);
                while let Some((h, s)) = sorted.next_if(|(h, _)| hash_stripe(*h) == n) {
                    insert_hash(&mut st, h, s);
                }
            }
            debug_assert!(sorted.next().is_none());
        };
        let half = series.partition_point(|(h, _)| hash_stripe(*h) < STRIPES / 2);
        let (high_half, low_half) = (series.split_off(half), series);
        std::thread::scope(|scope| {
            scope.spawn(|| fill(STRIPES / 2..STRIPES, high_half));
            fill(0..STRIPES / 2, low_half);
        });
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<MemSeries>> {
        let (stripe, key) = id_slot(id);
        self.by_id[stripe].read().get(key).cloned()
    }

    /// The series with exactly these labels, whose hash is `hash`.
    pub(crate) fn find(&self, labels: &Labels, hash: u64) -> Option<Arc<MemSeries>> {
        match self.by_hash[hash_stripe(hash)].read().get(&hash)? {
            Bucket::One(s) => s.labels.eq_labels(labels).then(|| Arc::clone(s)),
            Bucket::Many(v) => v.iter().find(|s| s.labels.eq_labels(labels)).cloned(),
        }
    }

    /// Removes a series; `None` if it is not there.
    pub(crate) fn remove(&self, id: u64) -> Option<Arc<MemSeries>> {
        let (stripe, key) = id_slot(id);
        let s = self.by_id[stripe].write().remove(key)?;
        let hash = s.labels.hash64();
        let mut stripe = self.by_hash[hash_stripe(hash)].write();
        let keep = match stripe.remove(&hash) {
            Some(Bucket::Many(mut v)) => {
                v.retain(|x| x.id != id);
                match v.len() {
                    0 => None,
                    1 => v.pop().map(Bucket::One),
                    _ => Some(Bucket::Many(v)),
                }
            }
            _ => None,
        };
        if let Some(b) = keep {
            stripe.insert(hash, b);
        }
        Some(s)
    }

    /// Calls `f` on every series (stripe by stripe, under its read lock).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Arc<MemSeries>)) {
        for stripe in &self.by_id {
            for s in stripe.read().values() {
                f(s);
            }
        }
    }

    /// Every series.
    pub(crate) fn all(&self) -> Vec<Arc<MemSeries>> {
        let mut out = Vec::new();
        self.for_each(|s| out.push(Arc::clone(s)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(id: u64, name: &str) -> Arc<MemSeries> {
        let labels = Labels::from_pairs(&[("__name__", name)]);
        Arc::new(MemSeries::new(
            id,
            crate::packed::PackedLabels::new(&labels),
        ))
    }

    #[test]
    fn colliding_hashes_and_removal() {
        let ix = SeriesIndex::new();
        // three series under one (forced) hash, one under another
        for (id, name) in [(1, "a"), (2, "b"), (3, "c")] {
            ix.insert(series(id, name), 42);
        }
        ix.insert(series(40, "d"), 7);
        let la = Labels::from_pairs(&[("__name__", "a")]);
        let lc = Labels::from_pairs(&[("__name__", "c")]);
        assert_eq!(ix.find(&la, 42).unwrap().id, 1);
        assert_eq!(ix.find(&lc, 42).unwrap().id, 3);
        assert!(ix.find(&la, 7).is_none());
        assert_eq!(ix.get(40).unwrap().id, 40);
        assert!(ix.get(41).is_none());
        let mut n = 0;
        ix.for_each(|_| n += 1);
        assert_eq!(n, 4);
        // removal finds a series by its real label hash: insert a real one
        let e = series(5, "e");
        let he = e.labels.hash64();
        ix.insert(e, he);
        assert_eq!(ix.remove(5).unwrap().id, 5);
        assert!(ix.get(5).is_none());
        assert!(ix
            .find(&Labels::from_pairs(&[("__name__", "e")]), he)
            .is_none());
        assert!(ix.remove(5).is_none());
        assert_eq!(ix.all().len(), 4);
    }

    #[test]
    fn load_finds_what_insert_finds_and_emptied_pages_go() {
        let n = 20_000u64;
        let all: Vec<Arc<MemSeries>> = (1..=n).map(|id| series(id, &format!("m{id}"))).collect();
        let ix = SeriesIndex::new();
        for batch in all.chunks(4096) {
            ix.load_ids(batch.iter());
        }
        ix.load_hashes(
            all.iter()
                .map(|s| (s.labels.hash64(), Arc::clone(s)))
                .collect(),
        );
        let one_by_one = SeriesIndex::new();
        for s in &all {
            one_by_one.insert(Arc::clone(s), s.labels.hash64());
        }
        for ix in [&ix, &one_by_one] {
            for id in 1..=n {
                let l = Labels::from_pairs(&[("__name__", format!("m{id}"))]);
                assert_eq!(ix.find(&l, l.hash64()).unwrap().id, id);
                assert_eq!(ix.get(id).unwrap().id, id);
            }
            assert!(ix.get(n + 1).is_none());
            let mut ids: Vec<u64> = ix.all().iter().map(|s| s.id).collect();
            ids.sort_unstable();
            assert_eq!(ids, (1..=n).collect::<Vec<_>>());
        }
        // remove the first 10k: their pages are freed, the rest stay
        for id in 1..=10_000 {
            assert_eq!(ix.remove(id).unwrap().id, id);
        }
        let (freed, kept): (usize, usize) = ix.by_id.iter().fold((0, 0), |(f, k), st| {
            let st = st.read();
            let freed = st.pages.iter().filter(|p| p.is_none()).count();
            (f + freed, k + st.pages.len() - freed)
        });
        assert!(freed > 0 && kept > 0, "freed {freed}, kept {kept}");
        assert!(ix.get(10_000).is_none());
        assert_eq!(ix.get(10_001).unwrap().id, 10_001);
        assert_eq!(ix.all().len(), 10_000);
        // an id in a freed page can come back
        ix.insert(series(3, "again"), 1);
        assert_eq!(ix.get(3).unwrap().id, 3);
    }
}
