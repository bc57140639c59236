//! Chunk encoders and decoders round trip: samples built from the input
//! (16 bytes each: a timestamp step and the value's bits) are encoded as
//! flint XOR (into a head chunk's slot), Prometheus XOR and delta, and
//! must decode to the same timestamps and bit-identical values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsdb::chunkenc::{self, prom, DeltaIterator, SharedChunk, SharedIterator, XorEncoder};

fn same(what: &str, got: &[(i64, f64)], want: &[(i64, f64)]) {
    let bits = |s: &[(i64, f64)]| s.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(got), bits(want), "{what}");
}

fuzz_target!(|data: &[u8]| {
    let mut samples: Vec<(i64, f64)> = Vec::new();
    for rec in data.chunks_exact(16) {
        let a = i64::from_le_bytes(rec[..8].try_into().unwrap());
        let v = f64::from_bits(u64::from_le_bytes(rec[8..].try_into().unwrap()));
        let t = match samples.last() {
            None => a,
            // strictly increasing
            Some(&(prev, _)) => match prev.checked_add((a & i64::MAX).max(1)) {
                Some(t) => t,
                None => break,
            },
        };
        samples.push((t, v));
    }

    // flint XOR, in a slot of the head's size and in a larger buffer
    for size in [216, 4096] {
        let mut buf = vec![0u8; size];
        let mut enc = XorEncoder::new();
        let mut n = 0;
        while n < samples.len() && enc.append(&mut buf, samples[n].0, samples[n].1) {
            n += 1;
        }
        let got: Vec<_> = chunkenc::XorIterator::new(&buf, enc.count(), enc.bit_len()).collect();
        same("xor", &got, &samples[..n]);
        let (resumed, got) = XorEncoder::resume(&buf, enc.count(), enc.bit_len());
        same("xor resume", &got, &samples[..n]);
        assert_eq!(resumed, enc, "resumed encoder state");
    }

    // Prometheus XOR
    if !samples.is_empty() {
        let chunk = prom::encode_xor(&samples);
        let got = prom::decode_xor(&chunk).expect("encoded chunk decodes");
        same("prometheus xor", &got, &samples);
    }

    // delta, at the smallest exponent that holds every value
    let e = samples
        .iter()
        .map(|s| chunkenc::decimal_exponent(s.1))
        .try_fold(0u8, |m, e| e.map(|e| m.max(e)));
    if let Some(e) = e {
        let mut out = Vec::new();
        if chunkenc::encode_delta(&samples, e, &mut out) {
            let n = samples.len() as u16;
            let got: Vec<_> = DeltaIterator::v2(&out, n).collect();
            same("delta", &got, &samples);
            let base = std::sync::Arc::new(SharedChunk::new(&out, n));
            let got: Vec<_> = SharedIterator::new(base, None).collect();
            same("delta shared", &got, &samples);
        }
    }
});
