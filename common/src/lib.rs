//! What the server's subsystems share, as Prometheus's `common` module
//! serves its own: the HTTP client every outgoing request goes through
//! (scrapes, discovery, notifications, remote read and write) and its
//! settings (TLS, proxies, authentication, OAuth 2.0, SigV4), Prometheus's
//! duration syntax, the errors the configuration's checks give, RFC 3339
//! times and base64.
//!
//! It sits below the `discovery` crate and the server: it knows nothing of
//! either.

pub mod base64;
pub mod config;
pub mod httpclient;
pub mod rfc3339;
