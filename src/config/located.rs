//! Errors of a configuration file with the line and the key they are
//! about, in Prometheus's words (`field K not found in type T` for an
//! unknown key, its value messages for a bad value).

/// The message of a YAML decoding error: `line N: ` and, for a bad value,
/// its key, before Prometheus's wording.
pub(super) fn yaml_error(text: &str, e: &serde_yaml::Error) -> String {
    let full = e.to_string();
    let Some(loc) = e.location() else {
        return full;
    };
    let msg = full
        .rfind(" at line ")
        .map(|i| &full[..i])
        .unwrap_or(full.as_str());
    let (path, rest) = split_path(msg);
    if let Some(r) = rest.strip_prefix("unknown field `") {
        let key = r.split('`').next().unwrap_or_default();
        let line = line_of_key_from(text, key, loc.line()).unwrap_or(loc.line());
        return format!("line {line}: {}", not_found(key, path));
    }
    if let Some(value) = quoted(rest) {
        if let Some((line, key)) = key_with_value(text, loc.line(), loc.column(), value) {
            return format!("line {line}: {key}: {rest}");
        }
    }
    format!("line {}: {rest}", loc.line())
}

/// `field K not found in type T`, with Prometheus's name of the section's
/// type.
fn not_found(key: &str, path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or_default();
    let last = last.split('[').next().unwrap_or_default();
    let ty = match last {
        "" | "global" => "config.plain",
        "scrape_configs" => "config.ScrapeConfig",
        "relabel_configs"
        | "metric_relabel_configs"
        | "write_relabel_configs"
        | "alert_relabel_configs" => "relabel.plain",
        "alerting" => "config.AlertingConfig",
        "alertmanagers" => "config.AlertmanagerConfig",
        "remote_write" => "config.RemoteWriteConfig",
        "remote_read" => "config.RemoteReadConfig",
        "storage" => "config.StorageConfig",
        "tsdb" => "config.TSDBConfig",
        "basic_auth" => "config.BasicAuth",
        "tls_config" => "config.TLSConfig",
        "authorization" => "config.Authorization",
        "oauth2" => "config.OAuth2",
        _ => return format!("field {key} not found in {path}"),
    };
    format!("field {key} not found in type {ty}")
}

/// Adds `line N: ` to a check's message about an unknown key (`field K
/// not found ...`) that has none.
pub(super) fn with_line(text: &str, msg: String) -> String {
    if msg.starts_with("line ") {
        return msg;
    }
    let Some(i) = msg.find("field ") else {
        return msg;
    };
    let rest = &msg[i + "field ".len()..];
    let Some((key, tail)) = rest.split_once(' ') else {
        return msg;
    };
    if !tail.starts_with("not found") {
        return msg;
    }
    // a section named before the field (`alerting: field ...`) gives way
    // to the line, as in every other section's message
    let prefix = &msg[..i];
    let shown = match prefix.strip_suffix(": ") {
        Some(p) if !p.contains(' ') => &msg[i..],
        _ => msg.as_str(),
    };
    match line_of_key_from(text, key, 1) {
        Some(n) => format!("line {n}: {shown}"),
        None => msg,
    }
}

/// Splits serde's `a.b[0]: message` into the path and the message.
fn split_path(msg: &str) -> (&str, &str) {
    match msg.split_once(": ") {
        Some((p, rest)) if !p.is_empty() && !p.contains(' ') && !p.contains('`') => (p, rest),
        _ => ("", msg),
    }
}

/// The first `"..."` of a message.
fn quoted(msg: &str) -> Option<&str> {
    let start = msg.find('"')? + 1;
    let len = msg[start..].find('"')?;
    Some(&msg[start..start + len])
}

/// `key` and `value` of a `key: value` line (after a list's `- `).
fn key_value(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let (k, v) = t.split_once(':')?;
    let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
    if k.is_empty() || k.contains(' ') {
        return None;
    }
    let v = v.split(" #").next().unwrap_or_default().trim();
    Some((k, v.trim_matches(|c| c == '"' || c == '\'')))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The line (1-based) and key of the first `key: value` in the mapping
/// that starts at `line`:`column`.
fn key_with_value(text: &str, line: usize, column: usize, value: &str) -> Option<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let min_indent = column.saturating_sub(1);
    for (i, l) in lines.iter().enumerate().skip(line.saturating_sub(1)) {
        if i + 1 > line && !l.trim().is_empty() && indent(l) < min_indent {
            break;
        }
        if let Some((k, v)) = key_value(l) {
            if v == value {
                return Some((i + 1, k.to_string()));
            }
        }
    }
    None
}

/// The first line at or after `from` (1-based) where `key:` is a key.
fn line_of_key_from(text: &str, key: &str, from: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| key_value(l).is_some_and(|(k, _)| k == key))
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::super::load_str;

    /// Bad configurations, the line and the words their error must have.
    #[test]
    fn errors_name_the_line_and_the_key() {
        let cases: &[(&str, &str)] = &[
            // a bad duration inside a job: its own line, not the job's
            (
                "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x:1]\n    scrape_interval: 5x\n",
                "line 7: scrape_interval: not a valid duration string: \"5x\"",
            ),
            (
                "scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_timeout: 1q\n",
                "line 4: scrape_timeout: not a valid duration string: \"1q\"",
            ),
            (
                "global:\n  evaluation_interval: 15s\n  scrape_interval: 1x\n",
                "line 3: scrape_interval: not a valid duration string: \"1x\"",
            ),
            // unknown keys, one style in every section
            (
                "global:\n  scrape_interval: 15s\nbogus_key: 1\n",
                "line 3: field bogus_key not found in type config.plain",
            ),
            (
                "global:\n  scrape_interval: 15s\n  bogus: 1\n",
                "line 3: field bogus not found in type config.plain",
            ),
            (
                "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x:1]\n    bogus: 1\n",
                "line 5: field bogus not found in type config.ScrapeConfig",
            ),
            (
                "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [a]\n        bogus: 1\n",
                "line 5: field bogus not found in type relabel.plain",
            ),
            (
                "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - action: drop\n        source_labels: [a]\n        regexp: x\n",
                "line 6: field regexp not found in type relabel.plain",
            ),
            (
                "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [x:1]\n      bogus: 1\n",
                "line 5: field bogus not found in type config.AlertmanagerConfig",
            ),
            (
                "alerting:\n  alert_relabel_configs:\n    - action: keep\n      bogus: 1\n",
                "line 4: field bogus not found in type relabel.plain",
            ),
        ];
        for (text, want) in cases {
            let err = load_str(text, "f.yml").unwrap_err().to_string();
            assert!(
                err.starts_with("parsing YAML file f.yml: ") && err.contains(want),
                "{text:?}\n  got:  {err}\n  want: {want}"
            );
        }
    }
}
