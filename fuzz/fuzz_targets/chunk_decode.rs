//! Chunk decoders on arbitrary bytes: a header (encoding, count, bit
//! length) then the data. They must stop, never panic, and yield at most
//! `count` samples.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use tsdb::chunkenc::{self, prom, ChunkIter, SharedChunk, XorEncoder};

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let encoding = data[0];
    let count = u16::from_le_bytes([data[1], data[2]]);
    let bit_len = usize::from(u16::from_le_bytes([data[3], data[4]]));
    let body = &data[5..];
    for enc in [
        encoding,
        chunkenc::ENCODING_XOR,
        chunkenc::ENCODING_DELTA,
        chunkenc::ENCODING_DELTA2,
    ] {
        assert!(ChunkIter::new(enc, body, count, bit_len).count() <= usize::from(count));
    }
    let (_, got) = XorEncoder::resume(body, count, bit_len);
    assert!(got.len() <= usize::from(count));
    let _ = prom::decode_xor(body);
    let (_, ts, ms) = chunkenc::decode_mantissas(body, count);
    assert!(ts.len() == ms.len() && ts.len() <= usize::from(count));
    let _ = chunkenc::chunk_exponent(body);
    // a chunk stored against another: the two halves
    let (a, b) = body.split_at(body.len() / 2);
    let base = Arc::new(SharedChunk::new(a, count));
    assert!(ChunkIter::shared(Arc::clone(&base), None).count() <= usize::from(count));
    let _ = ChunkIter::shared(base, Some((b, count))).count();
});
