//! Recording and alerting rules: rule files ([`file`], their annotations
//! and labels parsed as [`gotemplate`] templates), the alert state machine
//! ([`alerting`]), group evaluation ([`group`]), the [`Manager`] that runs
//! groups on their intervals, and the Alertmanager [`notifier`]. Their
//! API (`/api/v1/rules`, `alerts`, `alertmanagers`) is
//! [`crate::api::rules`].
//!
//! ```text
//! let m = rules::Manager::new(db, rules::ManagerOptions { .. });
//! m.apply(&cfg.rule_files, config_dir, eval_interval, &alerting)?;
//! let data = api::rules::rules_json(&m.groups(), &filter)?;
//! ```

pub mod alerting;
pub mod error;
pub mod file;
pub mod group;
pub mod manager;
pub mod metrics;
pub mod notifier;

pub use error::{ApplyError, EvalError};
pub use file::{check_rule_files, GroupDef, RuleDef};
pub use manager::{Manager, ManagerOptions};
pub use notifier::AlertingConfig;

#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_file;
pub mod unittest;
