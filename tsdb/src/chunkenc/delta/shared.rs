//! Reading chunks stored against a shared reference chunk
//! ([`ENCODING_DELTA_REF`](super::ENCODING_DELTA_REF)): the reference,
//! a second-layout delta chunk, is decoded to timestamps and mantissas at
//! most once and shared by all its readers; each chunk stored against it
//! is read by adding its differences, a group at a time, to the
//! reference's mantissas.

use super::{decode_mantissas, value_of, DeltaIterator, Groups, GROUP_MAX};

/// A second-layout delta chunk that other chunks of the same select are
/// stored against: decoded (to timestamps and mantissas) at most once, by
/// whichever of its readers comes first, and shared by all of them.
pub struct SharedChunk<'a> {
    data: &'a [u8],
    count: u16,
    decoded: std::sync::OnceLock<Decoded>,
}

/// A chunk's timestamps and mantissas, and their exponent.
struct Decoded {
    e: u8,
    ts: Vec<i64>,
    ms: Vec<i64>,
}

impl<'a> SharedChunk<'a> {
    /// The second-layout chunk `data` of `count` samples, not decoded yet.
    pub fn new(data: &'a [u8], count: u16) -> Self {
        SharedChunk {
            data,
            count,
            decoded: std::sync::OnceLock::new(),
        }
    }

    fn decoded(&self) -> &Decoded {
        self.decoded.get_or_init(|| {
            let (e, ts, ms) = decode_mantissas(self.data, self.count);
            Decoded { e, ts, ms }
        })
    }
}

impl std::fmt::Debug for SharedChunk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedChunk")
            .field("bytes", &self.data.len())
            .field("count", &self.count)
            .field("decoded", &self.decoded.get().is_some())
            .finish()
    }
}

/// Iterates a [`SharedChunk`]'s samples, or those of a chunk stored
/// against it (with its differences), a group at a time.
pub struct SharedIterator<'a> {
    base: std::sync::Arc<SharedChunk<'a>>,
    diffs: Option<DeltaIterator<'a>>,
    /// Next sample of the base.
    next: usize,
    e: u8,
    ts: [i64; GROUP_MAX],
    ms: [i64; GROUP_MAX],
    at: usize,
    len: usize,
}

impl<'a> SharedIterator<'a> {
    /// The samples of `base` itself (`diffs` `None`), or of the chunk of
    /// `count` samples stored against it whose body is `diffs`.
    pub fn new(base: std::sync::Arc<SharedChunk<'a>>, diffs: Option<(&'a [u8], u16)>) -> Self {
        SharedIterator {
            base,
            diffs: diffs.map(|(d, n)| DeltaIterator::v2(d, n)),
            next: 0,
            e: 0,
            ts: [0; GROUP_MAX],
            ms: [0; GROUP_MAX],
            at: 0,
            len: 0,
        }
    }

    fn refill(&mut self) -> Option<()> {
        let d = self.base.decoded();
        let left = d.ts.len().checked_sub(self.next).filter(|&n| n > 0)?;
        let n = match &mut self.diffs {
            None => {
                let n = left.min(GROUP_MAX);
                self.ms[..n].copy_from_slice(&d.ms[self.next..self.next + n]);
                n
            }
            Some(it) => {
                let (_, dm, e) = it.next_group()?;
                let n = dm.len();
                if n > left || e != d.e {
                    return None;
                }
                let bm = &d.ms[self.next..self.next + n];
                for ((m, b), x) in self.ms[..n].iter_mut().zip(bm).zip(dm) {
                    *m = b.wrapping_add(*x);
                }
                n
            }
        };
        self.ts[..n].copy_from_slice(&d.ts[self.next..self.next + n]);
        self.e = d.e;
        self.next += n;
        (self.at, self.len) = (0, n);
        Some(())
    }
}

impl Groups for SharedIterator<'_> {
    fn next_group(&mut self) -> Option<(&[i64], &[i64], u8)> {
        if self.at == self.len && self.refill().is_none() {
            self.len = 0;
            return None;
        }
        let (a, b) = (self.at, self.len);
        self.at = b;
        Some((&self.ts[a..b], &self.ms[a..b], self.e))
    }
}

impl Iterator for SharedIterator<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.at == self.len && self.refill().is_none() {
            self.len = 0;
            return None;
        }
        let j = self.at;
        self.at += 1;
        Some((self.ts[j], value_of(self.ms[j], self.e)))
    }
}
