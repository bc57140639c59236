//! PromQL: parsing and evaluating Prometheus's query language over the
//! storage read seam of [`tsdb::read`].
//!
//! ```
//! use promql::{Engine, EngineOptions, Value};
//! use tsdb::labels::Labels;
//! use tsdb::read::MemQueryable;
//!
//! let mut store = MemQueryable::new();
//! let series = Labels::from_pairs(&[("__name__", "requests_total"), ("job", "api")]);
//! for i in 0..=10 {
//!     store.add(&series, i * 15_000, (i * 30) as f64); // +2/s
//! }
//! let engine = Engine::new(EngineOptions::default());
//! let res = engine
//!     .instant_query(&store, "sum by (job) (rate(requests_total[1m]))", 150_000)
//!     .unwrap();
//! let Value::Vector(v) = res.value else { panic!("expected a vector") };
//! assert_eq!(v.len(), 1);
//! assert_eq!(v[0].metric.get("job"), Some("api"));
//! assert!((v[0].v - 2.0).abs() < 1e-9);
//!
//! let err = engine.instant_query(&store, "rate(requests_total)", 0).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
//! );
//! ```
//!
//! The engine loads every selector's samples once per query, then
//! evaluates the expression at each step. Limits on held samples and on
//! running time come from [`EngineOptions`].

mod engine;
pub mod error;
mod functions;
pub mod gofmt;
pub mod parser;
mod value;

pub use engine::{ColumnBuffers, Engine, EngineOptions};
pub use error::{Error, ErrorKind};
pub use parser::parse;
pub use value::{
    is_stale, MatrixSeries, QueryResult, QueryStats, Value, VectorSample, STALE_NAN_BITS,
};

/// Parses `query` and formats it as Prometheus's `/api/v1/format_query`
/// does (the `data` string): see [`parser::Expr::pretty`].
///
/// ```
/// assert_eq!(
///     promql::format_query("sum(rate(foo{b='x',a=\"y\"}[90s])) by (job)").unwrap(),
///     "sum by (job) (rate(foo{a=\"y\",b=\"x\"}[1m30s]))"
/// );
/// ```
pub fn format_query(query: &str) -> Result<String, Error> {
    engine::with_big_stack(|| Ok(parse(query)?.pretty()))
}

/// Parses `query` and returns its syntax tree as the JSON text of
/// Prometheus's `/api/v1/parse_query` (the `data` member): see
/// [`parser::json`] for the shape.
///
/// ```
/// assert_eq!(
///     promql::parse_query_json("up").unwrap(),
///     r#"{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":0,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"}"#
/// );
/// ```
pub fn parse_query_json(query: &str) -> Result<String, Error> {
    engine::with_big_stack(|| Ok(parse(query)?.to_json()))
}
