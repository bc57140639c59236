//! The head's two ways to a series: by reference and by label hash (one
//! series per hash but for rare collisions). Both are striped so that
//! appenders on different series seldom meet on a lock, and neither hashes
//! its key again: ids are handed out in order, so their quotient by the
//! stripe count spreads evenly, and label hashes are hashes already.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use parking_lot::RwLock;

use super::MemSeries;
use crate::labels::Labels;

const STRIPES: usize = 32;

/// Passes a key that is already a hash (of labels) through.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The series of one label hash.
enum Bucket {
    One(Arc<MemSeries>),
    Many(Box<Vec<Arc<MemSeries>>>),
}

type HashStripe = HashMap<u64, Bucket, BuildHasherDefault<PassThrough>>;
type IdStripe = HashMap<u64, Arc<MemSeries>, BuildHasherDefault<PassThrough>>;

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

impl SeriesIndex {
    pub(crate) fn new() -> SeriesIndex {
        SeriesIndex {
            by_id: (0..STRIPES).map(|_| RwLock::default()).collect(),
            by_hash: (0..STRIPES).map(|_| RwLock::default()).collect(),
        }
    }

    /// Makes room for about `n` series (at load).
    pub(crate) fn reserve(&self, n: usize) {
        for s in &self.by_hash {
            s.write().reserve(n / STRIPES + 1);
        }
        for s in &self.by_id {
            s.write().reserve(n / STRIPES + 1);
        }
    }

    pub(crate) fn insert(&self, s: Arc<MemSeries>, hash: u64) {
        {
            let mut stripe = self.by_hash[hash_stripe(hash)].write();
            match stripe.remove(&hash) {
                None => stripe.insert(hash, Bucket::One(Arc::clone(&s))),
                Some(Bucket::One(first)) => {
                    stripe.insert(hash, Bucket::Many(Box::new(vec![first, Arc::clone(&s)])))
                }
                Some(Bucket::Many(mut v)) => {
                    v.push(Arc::clone(&s));
                    stripe.insert(hash, Bucket::Many(v))
                }
            };
        }
        let (stripe, key) = id_slot(s.id);
        self.by_id[stripe].write().insert(key, s);
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<MemSeries>> {
        let (stripe, key) = id_slot(id);
        self.by_id[stripe].read().get(&key).cloned()
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
        let s = self.by_id[stripe].write().remove(&key)?;
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
    use crate::head::SeriesState;
    use parking_lot::Mutex;

    fn series(id: u64, name: &str) -> Arc<MemSeries> {
        Arc::new(MemSeries {
            id,
            labels: crate::packed::PackedLabels::new(&Labels::from_pairs(&[("__name__", name)])),
            state: Mutex::new(SeriesState {
                closed: Vec::new(),
                open: None,
                last_t: None,
                last_v: None,
            }),
        })
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
}
