//! A journal segment on arbitrary bytes, opened and read to its end
//! through a reader: an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let _ = tsdb::fuzzing::journal(dir.path(), data);
});
