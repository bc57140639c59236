//! Integration tests: each starts the real `flint` binary.

mod api;
mod common;
mod crash;
mod rules;
mod scrape;
mod seed;
mod relabel;
mod server;
mod webconfig;
mod differential;
mod grafana;
mod peers;
mod ui;
mod alertmanager;
