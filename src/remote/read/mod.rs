//! Remote read: answering `POST /api/v1/read` ([`server`]) and reading
//! from `remote_read` endpoints into queries ([`client`]).

pub mod client;
pub mod error;
pub mod proto;
pub mod server;
