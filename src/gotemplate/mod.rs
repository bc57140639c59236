//! The subset of Go's `text/template` that Prometheus's rule templates
//! use, with Prometheus's template functions: [`parse`] turns the text
//! into a [`Template`] once (at rule load), [`exec`] runs it against
//! [`value`]s (an alert's [`AlertData`], query results) with Go's
//! semantics, and [`format`] prints as Go's `fmt` and Prometheus's
//! `humanize*` do.
//!
//! ```text
//! let t = Template::parse("summary", "{{ $labels.job }} is {{ $value | humanize }}")?;
//! let text = t.execute(&data, &Env { query: &run, external_url })?;
//! ```

mod error;
pub mod exec;
pub mod format;
pub mod parse;
pub mod value;

pub use error::TemplateError;
pub use exec::Env;
pub use parse::Template;
pub use value::{AlertData, Sample, Value};

#[cfg(test)]
mod tests;
