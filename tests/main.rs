//! Integration tests: each starts the real `flint` binary.

mod alertmanager;
mod api;
mod common;
mod crash;
mod rules;
mod scrape;
mod seed;
mod relabel;
mod server;
mod ui;
mod webconfig;
mod differential;
mod grafana;
mod peers;
