//! Non-API endpoints: `/-/healthy`, `/-/ready`, and the server's own
//! `/metrics`.

pub mod federate;
mod metrics;
pub mod ui;
pub mod webconfig;

pub use metrics::render as self_metrics;

/// Body of `/-/healthy`.
pub const HEALTHY: &str = "Prometheus Server is Healthy.\n";
/// Body of `/-/ready` once ready.
pub const READY: &str = "Prometheus Server is Ready.\n";
/// Body of `/-/ready` before that.
pub const NOT_READY: &str = "Service Unavailable";
