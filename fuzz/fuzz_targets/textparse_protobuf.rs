//! The protobuf exposition format (delimited `MetricFamily` messages)
//! decoded with every combination of histogram options, then read entry
//! by entry as a scrape reads it: errors, never panics.
#![no_main]

use textparse::protobuf::{decode, HistogramOptions, ProtoParser};
use textparse::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for bits in 0..8u8 {
        let opts = HistogramOptions {
            native: bits & 1 != 0,
            always_classic: bits & 2 != 0,
            convert_to_nhcb: bits & 4 != 0,
        };
        let Ok(d) = decode(data, opts) else { continue };
        let mut p = ProtoParser::new(&d);
        let mut out = Vec::new();
        while let Ok(Some(e)) = p.next() {
            match e {
                Entry::Series => {
                    let _ = p.series();
                    p.labels(&mut out);
                    let _ = p.exemplar();
                }
                Entry::Histogram => {
                    let _ = p.histogram();
                    let _ = p.histogram_exemplars();
                }
                Entry::Help => {
                    let _ = p.help();
                }
                Entry::Type => {
                    let _ = p.metric_type();
                }
                Entry::Unit => {
                    let _ = p.unit();
                }
                _ => {}
            }
        }
    }
});
