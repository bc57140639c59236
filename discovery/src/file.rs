//! `file_sd_configs`: target groups read from JSON or YAML files matched by
//! patterns, re-read when a file changes (checked every second) and every
//! `refresh_interval`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{FileSdError, TargetGroup};
use common::config::{CheckError, PromDuration};

/// One `file_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// File patterns; `*` may appear in the last path component.
    pub files: Vec<String>,
    /// How often to re-read the files even if unchanged (5m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}

impl FileSdConfig {
    /// Checks the patterns as Prometheus does.
    pub fn validate(&self) -> Result<(), CheckError> {
        if self.files.is_empty() {
            return Err("file service discovery config must contain at least one path name".into());
        }
        for f in &self.files {
            let name = Path::new(f)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            let ok_ext = [".json", ".yml", ".yaml"].iter().any(|e| name.ends_with(e));
            if !ok_ext {
                return Err(format!("path name {f:?} is not valid for file discovery").into());
            }
            if let Some(parent) = Path::new(f).parent() {
                if parent.to_string_lossy().contains('*') {
                    return Err(format!("path name {f:?} is not valid for file discovery").into());
                }
            }
        }
        Ok(())
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first)
        || !name[first.len()..].ends_with(last)
        || name.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The files that the patterns match now, sorted.
pub fn matched_files(patterns: &[String], base: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in patterns {
        let path = base.join(p);
        let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        else {
            continue;
        };
        if !name.contains('*') {
            if path.is_file() {
                out.push(path.clone());
            }
            continue;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            if let Some(n) = e.file_name().to_str() {
                if wildcard(name, n) && e.path().is_file() {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Reads one file's groups, adding `__meta_filepath`.
pub fn read_groups(path: &Path) -> Result<Vec<TargetGroup>, FileSdError> {
    let text = std::fs::read_to_string(path).map_err(|err| FileSdError::Read {
        path: path.to_path_buf(),
        err,
    })?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    let mut groups: Vec<TargetGroup> = if is_json {
        serde_json::from_str(&text).map_err(|err| FileSdError::Json {
            path: path.to_path_buf(),
            err,
        })?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_yaml::from_str(&text).map_err(|err| FileSdError::Yaml {
            path: path.to_path_buf(),
            err,
        })?
    };
    for g in &mut groups {
        g.labels
            .insert("__meta_filepath".into(), path.display().to_string());
    }
    Ok(groups)
}

/// A snapshot of the matched files and their modification times, to tell
/// whether anything changed since the last read.
pub type Fingerprint = BTreeMap<PathBuf, Option<SystemTime>>;

/// The current fingerprint of the patterns.
pub fn fingerprint(patterns: &[String], base: &Path) -> Fingerprint {
    matched_files(patterns, base)
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
            (p, m)
        })
        .collect()
}

/// Reads every matched file. A file that fails to parse keeps its previous
/// groups (`previous`), as Prometheus keeps the last good state, and the
/// error is returned for logging.
pub fn read_all(
    patterns: &[String],
    base: &Path,
    previous: &BTreeMap<PathBuf, Vec<TargetGroup>>,
) -> (BTreeMap<PathBuf, Vec<TargetGroup>>, Vec<FileSdError>) {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for f in matched_files(patterns, base) {
        match read_groups(&f) {
            Ok(g) => {
                out.insert(f, g);
            }
            Err(e) => {
                errors.push(e);
                if let Some(g) = previous.get(&f) {
                    out.insert(f, g.clone());
                }
            }
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*.json", "a.json"));
        assert!(wildcard("t-*-x.yml", "t-1-x.yml"));
        assert!(!wildcard("*.json", "a.yml"));
        assert!(!wildcard("a*b*c", "ac"));
        assert!(wildcard("a*b*c", "abc"));
    }

    #[test]
    fn reads_json_and_yaml() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("a.json"),
            r#"[{"targets":["h:1"],"labels":{"env":"x"}}]"#,
        )
        .unwrap();
        std::fs::write(d.path().join("b.yml"), "- targets: ['h:2', 'h:3']\n").unwrap();
        std::fs::write(d.path().join("c.txt"), "ignored").unwrap();
        let pats = vec![
            format!("{}/*.json", d.path().display()),
            format!("{}/*.yml", d.path().display()),
        ];
        let (groups, errs) = read_all(&pats, Path::new("/"), &BTreeMap::new());
        assert!(errs.is_empty(), "{errs:?}");
        let all: Vec<&TargetGroup> = groups.values().flatten().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].labels["env"], "x");
        assert!(all[0].labels["__meta_filepath"].ends_with("a.json"));
        assert_eq!(all[1].targets.len(), 2);
        // a broken file keeps its last good groups
        std::fs::write(d.path().join("a.json"), "[{").unwrap();
        let (again, errs) = read_all(&pats, Path::new("/"), &groups);
        assert_eq!(errs.len(), 1);
        assert_eq!(again, groups);
        let cfg = FileSdConfig {
            files: vec!["x/*.txt".into()],
            refresh_interval: default_refresh(),
        };
        assert!(cfg.validate().is_err());
    }
}
