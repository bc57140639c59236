//! The PromQL parser, the printers and the JSON form of the tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(e) = promql::parse(src) {
        let _ = e.to_string();
        let _ = e.pretty();
        let _ = e.to_json();
    }
    let _ = promql::parser::parse_metric_selector(src);
});
