//! Integration tests: each starts the real `flint` binary.

mod alertmanager;
mod api;
mod common;
mod consul;
mod crash;
mod differential;
mod docker;
mod eureka;
mod flags;
mod grafana;
mod hetzner;
mod kube;
mod kubernetes;
mod oauth2;
mod peers;
mod relabel;
mod remote_read;
mod remote_write;
mod rules;
mod scrape;
mod seed;
mod server;
mod takeover;
mod standin;
mod ui;
mod webconfig;
