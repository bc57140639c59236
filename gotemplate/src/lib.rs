//! The subset of Go's `text/template` that Prometheus's rule templates
//! use, with Prometheus's template functions: [`parse`] turns the text
//! into a [`Template`] once (at rule load), [`exec`] runs it against
//! [`value`]s (an alert's [`AlertData`], query results) with Go's
//! semantics, and [`format`] prints as Go's `fmt` and Prometheus's
//! `humanize*` do; [`gofmt`] holds the Go spellings of floats, quoted
//! strings and times they need beyond [`promql::gofmt`].
//!
//! The crate sees `tsdb`'s labels and `promql`'s Go formatting only; what
//! a template reaches of the server (the `query` function, the external
//! URL, Prometheus's duration syntax for `parseDuration`) comes in its
//! [`Env`].
//!
//! ```text
//! let t = Template::parse("summary", "{{ $labels.job }} is {{ $value | humanize }}")?;
//! let text = t.execute(&data, &Env { query: &run, external_url, parse_duration })?;
//! ```
#![deny(missing_docs)]

mod error;
pub mod exec;
pub mod format;
pub mod gofmt;
pub mod parse;
pub mod value;

pub use error::{ExecError, ParseError, TemplateError, ValueError};
pub use exec::Env;
pub use parse::Template;
pub use value::{AlertData, Sample, Value};

#[cfg(test)]
mod tests;
