//! Integration tests: each starts the real `flint` binary.

mod common;
mod seed;
mod server;
