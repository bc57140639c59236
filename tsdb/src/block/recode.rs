//! Chunks as blocks store them. A block writer decodes each series'
//! chunks and stores its samples again: runs of decimal values in delta
//! chunks of up to [`MAX_SAMPLES`] samples, other values (NaN, stale
//! markers, infinities, long fractions) in XOR chunks.

use super::ChunkData;
use crate::chunkenc::{
    decimal_exponent, encode_delta, ChunkIter, XorEncoder, ENCODING_DELTA2, ENCODING_XOR,
};

/// Most samples in one block chunk.
pub(crate) const MAX_SAMPLES: usize = 480;

/// Most data bytes in one block chunk (its bit length is a u16).
const MAX_DATA: usize = u16::MAX as usize / 8;

/// The samples of `chunks` (sorted by `mint`), in time order, one per
/// timestamp (the first chunk's wins). A chunk whose data ends early gives
/// the samples before the break, as a query would.
pub(crate) fn samples_of(chunks: &[ChunkData]) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(chunks.iter().map(|c| c.count as usize).sum());
    for c in chunks {
        out.extend(ChunkIter::new(
            c.encoding,
            &c.data,
            c.count,
            c.bit_len as usize,
        ));
    }
    if out.windows(2).any(|w| w[0].0 >= w[1].0) {
        out.sort_by_key(|s| s.0);
        out.dedup_by_key(|s| s.0);
    }
    out
}

/// Re-encodes a series' chunks as blocks store them (standing alone).
#[cfg(test)]
pub(crate) fn recode(chunks: &[ChunkData]) -> Vec<ChunkData> {
    encode_samples(&samples_of(chunks))
}

/// Encodes samples (timestamps strictly increasing) into block chunks.
pub(crate) fn encode_samples(samples: &[(i64, f64)]) -> Vec<ChunkData> {
    let exps: Vec<Option<u8>> = samples.iter().map(|s| decimal_exponent(s.1)).collect();
    let in_delta = delta_runs(&exps);
    let mut out = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let decimal = in_delta[i];
        let mut j = i + 1;
        while j < samples.len() && in_delta[j] == decimal {
            j += 1;
        }
        if decimal {
            for (part, e) in samples[i..j]
                .chunks(MAX_SAMPLES)
                .zip(exps[i..j].chunks(MAX_SAMPLES))
            {
                delta_chunks(part, e, &mut out);
            }
        } else {
            xor_chunks(&samples[i..j], &mut out);
        }
        i = j;
    }
    out
}

/// Fewest decimal values in a row worth a delta chunk of their own
/// between values that are not decimals: a shorter run stays in the XOR
/// chunk around it (values such as a rate's, decimal now and then, would
/// otherwise cut a chunk every few samples).
const MIN_DELTA_RUN: usize = 16;

/// Which samples go into delta chunks: the decimal ones, but for short
/// runs of them next to values that are not.
fn delta_runs(exps: &[Option<u8>]) -> Vec<bool> {
    let mut out: Vec<bool> = exps.iter().map(Option::is_some).collect();
    let all_decimal = out.iter().all(|d| *d);
    if all_decimal {
        return out;
    }
    let mut i = 0;
    while i < out.len() {
        let mut j = i;
        while j < out.len() && out[j] == out[i] {
            j += 1;
        }
        if out[i] && j - i < MIN_DELTA_RUN {
            out[i..j].iter_mut().for_each(|d| *d = false);
        }
        i = j;
    }
    out
}

/// `samples` as one delta chunk, if every value is a decimal (at the
/// largest exponent any of them needs).
pub(crate) fn delta_chunk(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    let mut e = 0;
    for s in samples {
        e = e.max(decimal_exponent(s.1)?);
    }
    delta_at(samples, e)
}

/// `samples` delta-encoded at exponent `e`, if every value has a mantissa
/// there and the data fits a chunk.
fn delta_at(samples: &[(i64, f64)], e: u8) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    (encode_delta(samples, e, &mut data) && data.len() <= MAX_DATA).then_some(data)
}

/// Bytes a chunk costs beyond its data: its record header and CRC in
/// `chunks`, its entry in the series record of the index.
const CHUNK_OVERHEAD: usize = 16;

fn cost(chunks: &[ChunkData]) -> usize {
    chunks.iter().map(|c| c.data.len() + CHUNK_OVERHEAD).sum()
}

/// One delta chunk of `part` (whose values have the smallest exponents
/// `exps`) at the largest of those exponents; if some value has no
/// mantissa there or the data does not fit, the cheaper of XOR chunks
/// and the two halves each encoded so.
fn delta_chunks(part: &[(i64, f64)], exps: &[Option<u8>], out: &mut Vec<ChunkData>) {
    let e = exps.iter().flatten().copied().max().unwrap_or(0);
    if let Some(data) = delta_at(part, e) {
        out.push(ChunkData {
            mint: part[0].0,
            maxt: part[part.len() - 1].0,
            encoding: ENCODING_DELTA2,
            count: part.len() as u16,
            bit_len: (data.len() * 8) as u16,
            data,
        });
        return;
    }
    let mut xor = Vec::new();
    xor_chunks(part, &mut xor);
    if part.len() > 1 {
        let half = part.len() / 2;
        let mut halves = Vec::new();
        delta_chunks(&part[..half], &exps[..half], &mut halves);
        delta_chunks(&part[half..], &exps[half..], &mut halves);
        if cost(&halves) < cost(&xor) {
            out.extend(halves);
            return;
        }
    }
    out.extend(xor);
}

/// XOR chunks of up to [`MAX_SAMPLES`] samples and [`MAX_DATA`] bytes.
fn xor_chunks(samples: &[(i64, f64)], out: &mut Vec<ChunkData>) {
    let mut i = 0;
    while i < samples.len() {
        let mut buf = vec![0u8; MAX_DATA];
        let mut enc = XorEncoder::new();
        while i < samples.len()
            && (enc.count() as usize) < MAX_SAMPLES
            && enc.append(&mut buf, samples[i].0, samples[i].1)
        {
            i += 1;
        }
        let n = enc.count() as usize;
        buf.truncate(enc.bit_len().div_ceil(8));
        out.push(ChunkData {
            mint: samples[i - n].0,
            maxt: samples[i - 1].0,
            encoding: ENCODING_XOR,
            count: enc.count(),
            bit_len: enc.bit_len() as u16,
            data: buf,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::same_samples as same;

    #[test]
    fn runs_split_by_kind_and_size() {
        let stale = f64::from_bits(crate::STALE_NAN_BITS);
        let mut samples: Vec<(i64, f64)> =
            (0..1000).map(|i| (i * 15_000, i as f64 * 0.5)).collect();
        samples.push((1000 * 15_000, stale));
        samples.push((1001 * 15_000, std::f64::consts::SQRT_2));
        samples.extend((1002..1010).map(|i| (i * 15_000, 3.25)));
        let chunks = encode_samples(&samples);
        let kinds: Vec<(u8, u16)> = chunks.iter().map(|c| (c.encoding, c.count)).collect();
        assert_eq!(
            kinds,
            vec![
                (ENCODING_DELTA2, 480),
                (ENCODING_DELTA2, 480),
                (ENCODING_DELTA2, 40),
                // eight decimals after the two others: too few for a
                // delta chunk of their own
                (ENCODING_XOR, 10),
            ]
        );
        for c in &chunks {
            assert!(c.mint <= c.maxt);
            assert!(c.data.len() * 8 >= c.bit_len as usize);
        }
        assert!(same(&samples_of(&chunks), &samples));
        // recoding what is already recoded changes nothing
        assert_eq!(recode(&chunks), chunks);
    }

    #[test]
    fn decimals_now_and_then_stay_in_one_xor_chunk() {
        // a rate every 5 min: mostly not decimals, a short decimal now and
        // then
        let samples: Vec<(i64, f64)> = (0..120i64)
            .map(|i| {
                let v = if i % 5 == 0 {
                    0.125
                } else {
                    (i as f64).sqrt() * 1e17
                };
                (i * 300_000 + 237, v)
            })
            .collect();
        let chunks = encode_samples(&samples);
        let kinds: Vec<(u8, u16)> = chunks.iter().map(|c| (c.encoding, c.count)).collect();
        assert_eq!(kinds, vec![(ENCODING_XOR, 120)]);
        assert!(same(&samples_of(&chunks), &samples));
        // a long decimal run still gets its delta chunk
        let mut more = samples.clone();
        more.extend((120..200i64).map(|i| (i * 300_000 + 237, 0.5)));
        let chunks = encode_samples(&more);
        let kinds: Vec<(u8, u16)> = chunks.iter().map(|c| (c.encoding, c.count)).collect();
        assert_eq!(kinds, vec![(ENCODING_XOR, 120), (ENCODING_DELTA2, 80)]);
        assert!(same(&samples_of(&chunks), &more));
    }

    #[test]
    fn values_that_share_no_exponent_go_to_xor_when_cheaper() {
        // a rate: sixteen significant digits, below and above 1, so no
        // exponent gives every value a mantissa below 2^53
        let samples: Vec<(i64, f64)> = (0..120i64)
            .map(|i| (i * 300_000 + 237, (i as f64).sqrt() / 7.0))
            .collect();
        let chunks = encode_samples(&samples);
        assert!(chunks.len() <= 3, "{} chunks", chunks.len());
        let mut xor = Vec::new();
        xor_chunks(&samples, &mut xor);
        let kinds: Vec<(u8, u16, usize)> = chunks
            .iter()
            .map(|c| (c.encoding, c.count, c.data.len()))
            .collect();
        // at most a few percent over XOR alone (the runs of decimals cut it)
        assert!(
            cost(&chunks) * 100 <= cost(&xor) * 105,
            "{kinds:?} against {}",
            cost(&xor)
        );
        assert!(same(&samples_of(&chunks), &samples));
    }

    #[test]
    fn values_without_a_common_exponent_are_split() {
        // 1e15 has no mantissa at exponent 3 below 2^53, 0.001 needs it
        let samples: Vec<(i64, f64)> = (0..480i64)
            .map(|i| (i * 1000, if i < 240 { 1e15 + i as f64 } else { 0.001 }))
            .collect();
        let chunks = encode_samples(&samples);
        let kinds: Vec<(u8, u16)> = chunks.iter().map(|c| (c.encoding, c.count)).collect();
        assert_eq!(kinds, vec![(ENCODING_DELTA2, 240), (ENCODING_DELTA2, 240)]);
        assert!(same(&samples_of(&chunks), &samples));
    }

    #[test]
    fn overlapping_input_keeps_the_first_sample_per_timestamp() {
        let a = encode_samples(&[(1, 1.0), (2, 2.0), (3, 3.0)]);
        let b = encode_samples(&[(3, 30.0), (4, 4.0)]);
        let all: Vec<ChunkData> = a.into_iter().chain(b).collect();
        assert!(same(
            &samples_of(&all),
            &[(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]
        ));
    }
}
