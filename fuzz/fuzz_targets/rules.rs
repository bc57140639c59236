//! Rule files: YAML, the rules' PromQL and their templates.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = flint::rules::file::parse_rules("fuzz.yml", text);
});
