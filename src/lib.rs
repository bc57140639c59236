//! flint: a single-binary, Prometheus-compatible time-series server.
//!
//! The binary (`main.rs`) parses [`flags`], installs [`logging`] and runs
//! [`server::run`]. Scraping ([`scrape`], with the `discovery`,
//! `textparse` and `relabel` crates) appends to the `tsdb` crate; the
//! [`api`] answers queries through the `promql` crate; [`rules`] expand
//! alerts' labels and annotations with the `gotemplate` crate. Every
//! outgoing request goes through the `common` crate's HTTP client.
#![deny(missing_docs)]

pub mod api;
pub mod app;
pub mod buildinfo;
pub mod check;
pub mod config;
pub mod expfmt;
pub mod flags;
pub mod gofmt;
pub mod logging;
pub mod otlp;
pub mod remote;
pub mod rules;
pub mod scrape;
pub mod server;
pub mod tsdbcmd;
pub mod web;
