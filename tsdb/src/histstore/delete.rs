//! Deleting histogram samples by matchers and time range, at once, as the
//! float head and blocks delete theirs (`crate::delete`): a chunk holding
//! deleted samples is encoded again with the samples kept; range files
//! holding such chunks are rewritten, and the log when an open chunk
//! changed, so a restart does not bring the samples back.

use std::collections::{HashMap, HashSet};

use super::{
    chunk, decode_chunk, encode_chunk, frame, range_start, records, replace_file, HistChunk,
    HistStore, Meta, Open, Range, HEADER, PART_MAGIC,
};
use crate::histogram::FloatHistogram;
use crate::labels::{Labels, Matcher};
use crate::read::matches_all;
use crate::Error;

/// What is left of a chunk after a deletion, encoded again.
struct Kept {
    enc: chunk::Encoder,
    mint: i64,
    maxt: i64,
    /// The last sample kept.
    last: FloatHistogram,
}

/// A chunk's samples outside `mint..=maxt` (`None` when no sample is
/// left), and how many samples went. `None` when the chunk does not
/// decode.
fn without(
    data: &[u8],
    bits: usize,
    count: u32,
    mint: i64,
    maxt: i64,
) -> Option<(Option<Kept>, u64)> {
    let samples = chunk::decode(data, bits, count)?;
    let total = samples.len() as u64;
    let mut kept: Option<Kept> = None;
    for (t, h) in samples.into_iter().filter(|(t, _)| *t < mint || *t > maxt) {
        let k = kept.get_or_insert_with(|| Kept {
            enc: chunk::Encoder::default(),
            mint: t,
            maxt: t,
            last: FloatHistogram::default(),
        });
        k.enc.append(t, &h);
        k.maxt = t;
        k.last = h;
    }
    let left = kept.as_ref().map_or(0, |k| u64::from(k.enc.count()));
    Some((kept, total - left))
}

impl HistChunk {
    /// A block chunk of this series without its samples in `mint..=maxt`
    /// (`None` when none is left), and how many samples went.
    pub(crate) fn without(&self, mint: i64, maxt: i64) -> Option<(Option<HistChunk>, u64)> {
        if self.maxt < mint || self.mint > maxt {
            return Some((Some(self.clone()), 0));
        }
        let (kept, removed) = without(&self.data, self.bits, self.count, mint, maxt)?;
        let kept = kept.map(|k| HistChunk::encoded(&k.enc, k.mint, k.maxt));
        Some((kept, removed))
    }
}

impl HistStore {
    /// Deletes the histogram samples of the series matching all
    /// `matchers` with timestamps in `mint..=maxt`; returns the series
    /// touched and the samples removed.
    pub(crate) fn delete(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<(usize, u64), Error> {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let mut touched = HashSet::new();
        let mut removed = 0u64;
        let del = Deletion {
            matchers,
            mint,
            maxt,
        };
        let hit = |labels: &Labels, a: i64, b: i64| del.hits(labels, a, b);
        let doomed: Vec<i64> = inner
            .ranges
            .range(range_start(mint)..=maxt)
            .filter(|(_, r)| {
                r.series
                    .iter()
                    .any(|(l, ms)| ms.iter().any(|m| hit(l, m.mint, m.maxt)))
            })
            .map(|(k, _)| *k)
            .collect();
        for start in doomed {
            let r = inner.ranges.get_mut(&start).expect("listed");
            removed += rewrite_range(r, &del, &mut touched)?;
        }
        let mut log_changed = false;
        for (labels, st) in inner.series.iter_mut() {
            let Some(o) = &st.open else { continue };
            if !hit(labels, o.mint, o.maxt) {
                continue;
            }
            let (bytes, bits) = o.enc.bytes();
            let (kept, n) = without(bytes, bits, o.enc.count(), mint, maxt).ok_or_else(|| {
                Error::Corruption {
                    path: self.dir.join("log"),
                    offset: 0,
                    detail: "an open histogram chunk does not decode".into(),
                }
            })?;
            let range = o.range;
            st.open = kept.map(|k| Open {
                enc: k.enc,
                range,
                mint: k.mint,
                maxt: k.maxt,
                last: k.last,
            });
            removed += n;
            touched.insert(labels.clone());
            log_changed = true;
        }
        if log_changed && (inner.log.is_some() || self.dir.join("log").exists()) {
            Self::rewrite_log(inner, &self.dir)?;
        }
        Ok((touched.len(), removed))
    }
}

/// What is deleted.
struct Deletion<'a> {
    matchers: &'a [Matcher],
    mint: i64,
    maxt: i64,
}

impl Deletion<'_> {
    /// Whether a chunk of `labels` spanning `a..=b` holds deleted samples.
    fn hits(&self, labels: &Labels, a: i64, b: i64) -> bool {
        a <= self.maxt && b >= self.mint && matches_all(labels, self.matchers)
    }
}

/// Rewrites a range file without the deleted samples; returns how many
/// went.
fn rewrite_range(
    r: &mut Range,
    del: &Deletion<'_>,
    touched: &mut HashSet<Labels>,
) -> Result<u64, Error> {
    let data = std::fs::read(&r.path).map_err(|e| Error::io(&r.path, e))?;
    let good = data.get(..r.len as usize).unwrap_or(&data);
    let mut out = Vec::with_capacity(good.len());
    let mut series: HashMap<Labels, Vec<Meta>> = HashMap::new();
    let mut removed = 0;
    for (off, payload) in records(good).0 {
        let bad = || Error::Corruption {
            path: r.path.clone(),
            offset: off,
            detail: "malformed histogram chunk record".into(),
        };
        let c = decode_chunk(payload).ok_or_else(bad)?;
        let (p, span) = if del.hits(&c.labels, c.mint, c.maxt) {
            let (kept, n) =
                without(&c.data, c.bits, c.count, del.mint, del.maxt).ok_or_else(bad)?;
            removed += n;
            touched.insert(c.labels.clone());
            let Some(k) = kept else { continue };
            let mut p = Vec::new();
            encode_chunk(&c.labels, k.mint, k.maxt, &k.enc, &mut p);
            (p, (k.mint, k.maxt))
        } else {
            (payload.to_vec(), (c.mint, c.maxt))
        };
        let rec = frame(&p);
        series.entry(c.labels).or_default().push(Meta {
            offset: HEADER + out.len() as u64,
            len: rec.len() as u32,
            mint: span.0,
            maxt: span.1,
        });
        out.extend_from_slice(&rec);
    }
    r.file = replace_file(&r.path, PART_MAGIC, &out)?;
    r.len = HEADER + out.len() as u64;
    r.series = series;
    Ok(removed)
}
