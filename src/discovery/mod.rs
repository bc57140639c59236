//! Service discovery: sources of target groups. A group is a list of
//! addresses with common labels; the scrape manager turns groups into
//! targets through the job's relabeling.

pub mod dns;
pub mod file;
pub mod http;

use std::collections::BTreeMap;

/// A group of targets with shared labels, as discovery hands them over.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels for each target (including `__meta_*` ones from discovery).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}
