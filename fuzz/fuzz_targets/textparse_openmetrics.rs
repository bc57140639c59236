//! The OpenMetrics parser (full and syntax-only), driven to the end of the
//! body with every accessor called on each entry.
#![no_main]

use textparse::{Entry, OpenMetricsParser};
use libfuzzer_sys::fuzz_target;

fn drive(mut p: OpenMetricsParser<'_>, len: usize) {
    let mut labels = Vec::new();
    // each entry consumes at least one byte; `# EOF` may end an empty body
    for _ in 0..=len + 1 {
        match p.next() {
            Ok(Some(Entry::Series)) => {
                let _ = p.series();
                p.labels(&mut labels);
                let _ = p.exemplar();
            }
            Ok(Some(Entry::Help)) => {
                let _ = p.help();
            }
            Ok(Some(Entry::Type)) => {
                let _ = p.metric_type();
            }
            Ok(Some(Entry::Unit)) => {
                let _ = p.unit();
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("more entries than bytes");
}

fuzz_target!(|data: &[u8]| {
    drive(OpenMetricsParser::new(data), data.len());
    drive(OpenMetricsParser::syntax_only(data), data.len());
});
