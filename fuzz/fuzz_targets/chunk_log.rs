//! The closed-chunk log reader on arbitrary file bytes: an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let _ = tsdb::fuzzing::chunk_log(dir.path(), data);
});
