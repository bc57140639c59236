//! The configuration types every subsystem's settings use: the HTTP
//! client's settings as `prometheus.yml` writes them, Prometheus's
//! duration syntax, and the errors of loading and checking a
//! configuration.

mod duration;
mod error;
pub mod http;

pub use duration::PromDuration;
pub use error::{
    ByteSizeError, CheckError, ConfigError, DockerConfigError, DurationError, ProtocolError,
    SelectorError, TlsVersionError,
};
