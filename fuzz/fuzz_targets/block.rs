//! A whole block folder, one of its files from the input (the first byte
//! picks `meta.json`, `index` or `chunks`), the others from a valid test
//! block; opened, selected from and verified: an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const BLOCK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tsdb/testdata/block_v3/01M8AG1J1R5QSEH4394SDN1342"
);

const FILES: [&str; 3] = ["meta.json", "index", "chunks"];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let fuzzed = FILES[usize::from(mode) % FILES.len()];
    for f in FILES {
        let to = dir.path().join(f);
        if f == fuzzed {
            std::fs::write(to, bytes).expect("write");
        } else {
            std::fs::copy(format!("{BLOCK}/{f}"), to).expect("copy");
        }
    }
    let _ = tsdb::fuzzing::block(dir.path());
});
