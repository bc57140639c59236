//! The sparse buckets `(index, count)` of a histogram to and from the
//! layout of the wire and chunk formats: spans `(offset, length)` that
//! cover runs of consecutive indexes, and integer counts as deltas, each
//! from the bucket before.

use super::error::SpansError;

/// Absolute bucket counts from the deltas of an integer histogram (each
/// bucket's count as the change from the one before); an error naming
/// `side` for a negative count.
pub fn counts_from_deltas(deltas: &[i64], side: &str) -> Result<Vec<f64>, SpansError> {
    let mut acc = 0i64;
    let mut out = Vec::with_capacity(deltas.len());
    for (i, d) in deltas.iter().enumerate() {
        acc = acc.wrapping_add(*d);
        if acc < 0 {
            return Err(SpansError::NegativeCount {
                side: side.to_string(),
                bucket: i + 1,
                count: acc,
            });
        }
        out.push(acc as f64);
    }
    Ok(out)
}

/// Spans `(offset, length)` covering buckets `(index, count)` (in index
/// order): consecutive indexes in one span, each span's offset the gap
/// after the one before (the first's the first index).
pub fn spans_of(buckets: &[(i32, f64)]) -> Vec<(i32, u32)> {
    let mut out: Vec<(i32, u32)> = Vec::new();
    let mut next: Option<i32> = None;
    for &(i, _) in buckets {
        match next {
            Some(n) if n == i => out.last_mut().expect("a span").1 += 1,
            Some(n) => out.push((i - n, 1)),
            None => out.push((i, 1)),
        }
        next = Some(i + 1);
    }
    out
}

/// Integer bucket counts as deltas, each from the bucket before (the
/// first from 0).
pub fn deltas_of(buckets: &[(i32, f64)]) -> Vec<i64> {
    let mut prev = 0i64;
    buckets
        .iter()
        .map(|b| {
            let c = b.1 as i64;
            let d = c - prev;
            prev = c;
            d
        })
        .collect()
}

/// Buckets `(index, count)` from spans `(offset, length)` (the first
/// offset the first index, each next one the gap after the span before)
/// and the counts they cover; an error naming `side` when the spans do not
/// cover exactly the counts or a later span goes back.
pub fn buckets_from_spans(
    spans: &[(i32, u32)],
    counts: &[f64],
    side: &str,
) -> Result<Vec<(i32, f64)>, SpansError> {
    let need: u64 = spans.iter().map(|s| u64::from(s.1)).sum();
    if need != counts.len() as u64 {
        return Err(SpansError::Length {
            side: side.to_string(),
            need,
            have: counts.len(),
        });
    }
    let mut out = Vec::with_capacity(counts.len());
    let mut idx: i64 = 0;
    let mut k = 0;
    for (n, &(offset, length)) in spans.iter().enumerate() {
        if n > 0 && offset < 0 {
            return Err(SpansError::NegativeOffset {
                side: side.to_string(),
                span: n + 1,
                offset,
            });
        }
        idx += i64::from(offset);
        for _ in 0..length {
            let i = i32::try_from(idx).map_err(|_| SpansError::IndexRange {
                side: side.to_string(),
                index: idx,
            })?;
            out.push((i, counts[k]));
            k += 1;
            idx += 1;
        }
    }
    Ok(out)
}
