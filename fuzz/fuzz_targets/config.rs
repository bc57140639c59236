//! The `prometheus.yml` loader, and printing what it loaded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = flint::config::load_str(text, "fuzz.yml") {
        let _ = cfg.check_agent();
        let _ = cfg.to_yaml();
    }
});
