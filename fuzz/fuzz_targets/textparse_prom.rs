//! The Prometheus text format parser, driven to the end of the body with
//! every accessor called on each entry.
#![no_main]

use textparse::{Entry, PromParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut p = PromParser::new(data);
    let mut labels = Vec::new();
    // each entry consumes at least one byte
    for _ in 0..=data.len() {
        match p.next() {
            Ok(Some(Entry::Series)) => {
                let _ = p.series();
                p.labels(&mut labels);
            }
            Ok(Some(Entry::Help)) => {
                let _ = p.help();
            }
            Ok(Some(Entry::Type)) => {
                let _ = p.metric_type();
            }
            Ok(Some(Entry::Comment)) => {
                let _ = p.comment();
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("more entries than bytes");
});
