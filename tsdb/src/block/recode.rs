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
    let mut out = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let decimal = exps[i].is_some();
        let mut j = i + 1;
        while j < samples.len() && exps[j].is_some() == decimal {
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

/// One delta chunk of `part` (whose values have the smallest exponents
/// `exps`) at the largest of those exponents; halves if some value has no
/// mantissa there or the data does not fit.
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
    } else if part.len() > 1 {
        let half = part.len() / 2;
        delta_chunks(&part[..half], &exps[..half], out);
        delta_chunks(&part[half..], &exps[half..], out);
    } else {
        xor_chunks(part, out);
    }
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
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
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
                (ENCODING_XOR, 2),
                (ENCODING_DELTA2, 8),
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
