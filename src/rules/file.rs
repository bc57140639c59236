//! Rule files in Prometheus's format: parsing, validation with
//! Prometheus's messages, glob expansion, and `check rules`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gotemplate::Template;
use serde::{Deserialize, Deserializer};
use tsdb::labels::{Label, Labels};

use super::error::NotAString;
use crate::config::PromDuration;

/// A rule as loaded and validated.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDef {
    /// `record` or `alert` name.
    pub name: String,
    /// Alerting (`alert:`) rather than recording (`record:`).
    pub alerting: bool,
    /// The expression as written (trimmed).
    pub expr: String,
    /// `for` (alerting rules).
    pub hold: Duration,
    /// `keep_firing_for` (alerting rules).
    pub keep_firing_for: Duration,
    /// The rule's labels, group labels merged in (rule labels win).
    pub labels: Labels,
    /// Annotations, sorted by name (alerting rules).
    pub annotations: Labels,
    /// Parsed templates of label values, by label name (alerting rules).
    pub label_templates: Vec<(String, Template)>,
    /// Parsed templates of annotations, by name (alerting rules).
    pub annotation_templates: Vec<(String, Template)>,
}

/// A rule group as loaded and validated.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupDef {
    /// The file the group came from (the path after glob expansion).
    pub file: String,
    /// The group name.
    pub name: String,
    /// `interval`, if set.
    pub interval: Option<Duration>,
    /// `query_offset`, if set.
    pub query_offset: Option<Duration>,
    /// `limit` (0: none).
    pub limit: usize,
    /// The rules, in order.
    pub rules: Vec<RuleDef>,
}

/// Deserializes a YAML scalar (string, number, bool) as a string, as Go's
/// YAML decoder does for `string` fields.
fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_yaml::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_yaml::Value::Null) => None,
        Some(v) => Some(scalar_value(v).map_err(serde::de::Error::custom)?),
    })
}

pub(super) fn scalar_value(v: serde_yaml::Value) -> Result<String, NotAString> {
    match v {
        serde_yaml::Value::String(s) => Ok(s),
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        serde_yaml::Value::Null => Ok(String::new()),
        _ => Err(NotAString),
    }
}

fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let v = Option::<BTreeMap<String, serde_yaml::Value>>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in v.unwrap_or_default() {
        out.insert(k, scalar_value(v).map_err(serde::de::Error::custom)?);
    }
    Ok(out)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match scalar(d)? {
        None => Ok(None),
        Some(s) => PromDuration::parse(&s)
            .map(|d| Some(d.0))
            .map_err(serde::de::Error::custom),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Option<Vec<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default, deserialize_with = "scalar")]
    name: Option<String>,
    #[serde(default, deserialize_with = "duration")]
    interval: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    query_offset: Option<Duration>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    rules: Option<Vec<RawRule>>,
    #[serde(default, deserialize_with = "scalar_map")]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, deserialize_with = "scalar")]
    record: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    alert: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    expr: Option<String>,
    #[serde(default, rename = "for", deserialize_with = "duration")]
    hold: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    keep_firing_for: Option<Duration>,
    #[serde(default, deserialize_with = "scalar_map")]
    labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "scalar_map")]
    annotations: BTreeMap<String, String>,
}

fn invalid_label_name(k: &str) -> bool {
    k.is_empty() || k == tsdb::labels::METRIC_NAME
}

fn validate_rule(r: &RawRule) -> Vec<String> {
    let mut errs = Vec::new();
    let record = r.record.as_deref().unwrap_or("");
    let alert = r.alert.as_deref().unwrap_or("");
    if !record.is_empty() && !alert.is_empty() {
        errs.push("only one of 'record' and 'alert' must be set".to_string());
    }
    if record.is_empty() && alert.is_empty() {
        errs.push("one of 'record' or 'alert' must be set".to_string());
    }
    match r.expr.as_deref().unwrap_or("") {
        "" => errs.push("field 'expr' must be set in rule".to_string()),
        e => {
            if let Err(err) = promql::parse(e) {
                errs.push(format!("could not parse expression: {err}"));
            }
        }
    }
    if !record.is_empty() {
        if !r.annotations.is_empty() {
            errs.push("invalid field 'annotations' in recording rule".into());
        }
        if r.hold.is_some_and(|d| !d.is_zero()) {
            errs.push("invalid field 'for' in recording rule".into());
        }
        if r.keep_firing_for.is_some_and(|d| !d.is_zero()) {
            errs.push("invalid field 'keep_firing_for' in recording rule".into());
        }
        if record.contains('{') || record.contains('}') {
            errs.push(format!(
                "braces present in the recording rule name; should it be in expr?: {record}"
            ));
        }
    }
    for k in r.labels.keys() {
        if invalid_label_name(k) {
            errs.push(format!("invalid label name: {k}"));
        }
    }
    for k in r.annotations.keys() {
        if k.is_empty() {
            errs.push(format!("invalid annotation name: {k}"));
        }
    }
    if !alert.is_empty() {
        let tname = format!("__alert_{alert}");
        for (k, v) in &r.labels {
            if let Err(e) = Template::parse(&tname, v) {
                errs.push(format!("label {k:?}: {e}"));
            }
        }
        for (k, v) in &r.annotations {
            if let Err(e) = Template::parse(&tname, v) {
                errs.push(format!("annotation {k:?}: {e}"));
            }
        }
    }
    errs
}

fn to_labels(m: &BTreeMap<String, String>) -> Labels {
    Labels::new(
        m.iter()
            .map(|(k, v)| Label::new(k.clone(), v.clone()))
            .collect(),
    )
}

fn templates(name: &str, m: &BTreeMap<String, String>) -> Vec<(String, Template)> {
    let tname = format!("__alert_{name}");
    m.iter()
        .filter_map(|(k, v)| Template::parse(&tname, v).ok().map(|t| (k.clone(), t)))
        .collect()
}

/// Parses and validates the text of a rule file. Errors are prefixed with
/// `file`, one per problem, in Prometheus's wording.
pub fn parse_rules(file: &str, content: &str) -> Result<Vec<GroupDef>, Vec<String>> {
    let raw: RawFile = if content.trim().is_empty() {
        RawFile::default()
    } else {
        serde_yaml::from_str(content).map_err(|e| vec![format!("{file}: {e}")])?
    };
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for g in raw.groups.unwrap_or_default() {
        let gname = g.name.clone().unwrap_or_default();
        if gname.is_empty() {
            errs.push(format!("{file}: Groupname must not be empty"));
        }
        if !seen.insert(gname.clone()) {
            errs.push(format!(
                "{file}: groupname: \"{gname}\" is repeated in the same file"
            ));
        }
        for k in g.labels.keys() {
            if invalid_label_name(k) {
                errs.push(format!("{file}: invalid label name: {k}"));
            }
        }
        let mut rules = Vec::new();
        for (i, r) in g.rules.unwrap_or_default().iter().enumerate() {
            let rname = r
                .alert
                .clone()
                .filter(|s| !s.is_empty())
                .or_else(|| r.record.clone())
                .unwrap_or_default();
            let rerrs = validate_rule(r);
            if !rerrs.is_empty() {
                for e in rerrs {
                    errs.push(format!(
                        "{file}: group {gname:?}, rule {}, {rname:?}: {e}",
                        i + 1
                    ));
                }
                continue;
            }
            let mut labels = g.labels.clone();
            labels.extend(r.labels.clone());
            let alerting = r.alert.as_deref().is_some_and(|a| !a.is_empty());
            rules.push(RuleDef {
                name: rname.clone(),
                alerting,
                expr: r.expr.clone().unwrap_or_default().trim().to_string(),
                hold: r.hold.unwrap_or_default(),
                keep_firing_for: r.keep_firing_for.unwrap_or_default(),
                labels: to_labels(&labels),
                annotations: to_labels(&r.annotations),
                label_templates: if alerting {
                    templates(&rname, &labels)
                } else {
                    Vec::new()
                },
                annotation_templates: if alerting {
                    templates(&rname, &r.annotations)
                } else {
                    Vec::new()
                },
            });
        }
        out.push(GroupDef {
            file: file.to_string(),
            name: gname,
            interval: g.interval.filter(|d| !d.is_zero()),
            query_offset: g.query_offset,
            limit: g.limit.unwrap_or(0).max(0) as usize,
            rules,
        });
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// Reads, parses and validates one rule file.
pub fn parse_file(path: &Path) -> Result<Vec<GroupDef>, Vec<String>> {
    let file = path.display().to_string();
    let content = std::fs::read_to_string(path).map_err(|e| vec![format!("{file}: {e}")])?;
    parse_rules(&file, &content)
}

/// Matches one path component against a Go `filepath.Match` pattern
/// (`*`, `?`, `[...]`, `\` escapes).
fn component_match(pat: &[char], name: &[char]) -> bool {
    match pat.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|i| component_match(&pat[1..], &name[i..])),
        Some('?') => !name.is_empty() && component_match(&pat[1..], &name[1..]),
        Some('[') => {
            let Some(c) = name.first() else { return false };
            let mut i = 1;
            let negate = pat.get(1) == Some(&'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            let mut first = true;
            while i < pat.len() && (first || pat[i] != ']') {
                first = false;
                let lo = pat[i];
                if pat.get(i + 1) == Some(&'-') && pat.get(i + 2).is_some_and(|&h| h != ']') {
                    if lo <= *c && *c <= pat[i + 2] {
                        matched = true;
                    }
                    i += 3;
                } else {
                    if lo == *c {
                        matched = true;
                    }
                    i += 1;
                }
            }
            if i >= pat.len() {
                return false;
            }
            matched != negate && component_match(&pat[i + 1..], &name[1..])
        }
        Some('\\') if pat.len() > 1 => {
            name.first() == Some(&pat[1]) && component_match(&pat[2..], &name[1..])
        }
        Some(p) => name.first() == Some(p) && component_match(&pat[1..], &name[1..]),
    }
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Expands a pattern like Go's `filepath.Glob`: sorted matches; a pattern
/// without wildcards matches itself if it exists.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::new()];
    for comp in pattern.components() {
        let s = comp.as_os_str().to_string_lossy().to_string();
        let mut next = Vec::new();
        for base in &out {
            if !has_meta(&s) {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let pat: Vec<char> = s.chars().collect();
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| component_match(&pat, &n.chars().collect::<Vec<_>>()))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        out = next;
    }
    out.into_iter().filter(|p| p.exists()).collect()
}

/// The files the `rule_files` patterns name, relative patterns taken from
/// `base_dir`, in pattern order, each file once.
pub fn expand_rule_files(patterns: &[String], base_dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in patterns {
        let full = if Path::new(p).is_absolute() {
            PathBuf::from(p)
        } else {
            base_dir.join(p)
        };
        for f in glob(&full) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

/// `flint check rules FILE...`: checks each file as `promtool check rules`
/// does. `Ok` holds the report when every file passes; `Err` holds the
/// report (including the failures) otherwise.
pub fn check_rule_files<P: AsRef<Path>>(paths: &[P]) -> Result<String, String> {
    let mut out = String::new();
    let mut failed = false;
    for p in paths {
        let p = p.as_ref();
        let _ = writeln!(out, "Checking {}", p.display());
        match parse_file(p) {
            Ok(groups) => {
                let n: usize = groups.iter().map(|g| g.rules.len()).sum();
                let _ = writeln!(out, "  SUCCESS: {n} rules found");
            }
            Err(errs) => {
                failed = true;
                let _ = writeln!(out, "  FAILED:");
                for e in errs {
                    let _ = writeln!(out, "{e}");
                }
            }
        }
        out.push('\n');
    }
    if failed {
        Err(out)
    } else {
        Ok(out)
    }
}
