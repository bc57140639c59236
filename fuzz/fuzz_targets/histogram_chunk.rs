//! The native histogram chunk decoder (both encoding versions) on
//! arbitrary bytes: it must stop, never panic, yield at most the count it
//! is given, and what it yields must survive encoding again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tsdb::fuzzing::histogram_chunk(data);
});
