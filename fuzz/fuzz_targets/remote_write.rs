//! Remote write 1.0 and 2.0 bodies, decoded as the receiver does: snappy,
//! protobuf, then conversion to series. The first byte's low bit says
//! whether the rest is already snappy-compressed (else it is compressed
//! here, so that the protobuf decoders see the fuzzed bytes).
#![no_main]

use flint::remote::{self, v2};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

const MAX_DECODED: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let body = if mode & 1 == 1 {
        rest.to_vec()
    } else {
        snap::raw::Encoder::new()
            .compress_vec(rest)
            .expect("small input")
    };
    if let Ok(req) = remote::decode_write_request(&body, MAX_DECODED) {
        let _ = remote::to_series(&req);
        let _ = remote::to_series_skipping_invalid(&req);
    }
    let Ok(raw) = remote::decode_snappy(&body, MAX_DECODED) else {
        return;
    };
    if let Ok(req) = v2::Request::decode(raw.as_slice()) {
        for ts in &req.timeseries {
            if let Ok(labels) = v2::series_labels(&req.symbols, &ts.labels_refs) {
                let _ = remote::codec_notation(&labels);
            }
        }
    }
});
