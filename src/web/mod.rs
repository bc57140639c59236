//! Everything the server answers over HTTP: the routing table and its
//! dispatcher ([`router`]), the reply helpers ([`reply`]), `/-/*`
//! ([`lifecycle`]), `/federate`, the server's own `/metrics`, the web UI,
//! what is answered while starting, and the web configuration file. The
//! `/api/v1/*` handlers are in [`crate::api`].

pub mod federate;
pub mod lifecycle;
mod metrics;
pub mod reply;
pub mod router;
pub mod starting;
pub mod ui;
pub mod webconfig;

pub use metrics::{render as self_metrics, Exposition};
pub use router::handle;

/// Buckets of `prometheus_http_request_duration_seconds`, as Prometheus's.
pub const HTTP_DURATION_BUCKETS: [f64; 9] = [0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0];

/// A cumulative histogram for self-metrics.
#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram with these upper bounds (`+Inf` is implied).
    pub fn new(bounds: &[f64]) -> Self {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records one observation.
    pub fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    /// The sum of the observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines with extra labels
    /// (`a="b"` text, may be empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        use std::fmt::Write as _;
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{}\"}} {c}",
                crate::gofmt::go_float(*b)
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(
            out,
            "{name}_sum{} {}",
            braces(labels),
            crate::gofmt::go_float(self.sum)
        );
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}
