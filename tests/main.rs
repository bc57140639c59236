//! Integration tests: each starts the real `flint` binary.

mod api;
mod common;
mod scrape;
mod seed;
mod server;
mod webconfig;
