//! A block's index file on arbitrary bytes, read whole: an error, never a
//! panic. The first byte's low bit has the TOC and section checksums
//! recomputed first, so that changed bytes reach the record decoders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let _ = tsdb::fuzzing::block_index(dir.path(), bytes, mode & 1 == 1);
});
