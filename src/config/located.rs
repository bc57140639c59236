//! Errors of a configuration file with the line and the key they are
//! about, in Prometheus's words (`field K not found in type T` for an
//! unknown key, its value messages for a bad value).

use common::config::CheckError;

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
    let (_, rest) = split_path(msg);
    if let Some(r) = rest.strip_prefix("unknown field `") {
        let key = r.split('`').next().unwrap_or_default();
        let line = line_of_key_from(text, key, loc.line()).unwrap_or(loc.line());
        return format!("line {line}: {}", not_found(text, key, line));
    }
    let found = match KEY_OF_MESSAGE.iter().find(|(p, _)| rest.starts_with(p)) {
        Some((_, key)) => key_in_block(text, loc.line(), loc.column(), |k, _| k == *key),
        None => quoted(rest)
            .and_then(|value| key_in_block(text, loc.line(), loc.column(), |_, v| v == value)),
    };
    let rest = go_words(rest);
    match found {
        Some((line, key)) => format!("line {line}: {key}: {rest}"),
        None => format!("line {}: {rest}", loc.line()),
    }
}

/// Messages that name no value, and the key they are about.
const KEY_OF_MESSAGE: &[(&str, &str)] = &[("error parsing regexp", "regex")];

/// serde's `invalid type: string "x", expected u64` in the words of Go's
/// YAML decoder (`cannot unmarshal !!str `x` into uint`).
fn go_words(msg: &str) -> String {
    let Some(r) = msg.strip_prefix("invalid type: string \"") else {
        return msg.to_string();
    };
    let Some((value, expected)) = r.split_once("\", expected ") else {
        return msg.to_string();
    };
    let go = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "uint",
        "i8" | "i16" | "i32" | "i64" | "isize" => "int",
        "f32" | "f64" => "float64",
        "a boolean" => "bool",
        _ => return msg.to_string(),
    };
    format!("cannot unmarshal !!str `{value}` into {go}")
}

/// `field K not found in type T`, with Prometheus's name of the type of
/// the section the key at `line` is in.
fn not_found(text: &str, key: &str, line: usize) -> String {
    let parent = parent_key(text, line);
    let ty = match parent.as_deref().unwrap_or_default() {
        "" | "global" | "alerting" | "remote_write" | "remote_read" | "tsdb" | "retention"
        | "tls_config" | "basic_auth" => "config.plain",
        "scrape_configs" => "config.ScrapeConfig",
        "relabel_configs"
        | "metric_relabel_configs"
        | "write_relabel_configs"
        | "alert_relabel_configs" => "relabel.plain",
        "alertmanagers" => "config.AlertmanagerConfig",
        "storage" => "config.StorageConfig",
        "queue_config" => "config.QueueConfig",
        "metadata_config" => "config.MetadataConfig",
        "authorization" => "config.Authorization",
        "oauth2" => "config.OAuth2",
        "static_configs" => {
            "struct { Targets []string \"yaml:\\\"targets\\\"\"; Labels model.LabelSet \"yaml:\\\"labels\\\"\" }"
        }
        "file_sd_configs" => "file.plain",
        "http_sd_configs" => "http.plain",
        "dns_sd_configs" => "dns.plain",
        p => return format!("field {key} not found in {p}"),
    };
    format!("field {key} not found in type {ty}")
}

/// The key whose mapping (or list of mappings) holds the key at `line`
/// (1-based); `None` at the top level.
fn parent_key(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let own = lines.get(line.saturating_sub(1))?;
    // the column of the key's own text, after a list's "- "
    let key_col = |l: &str| {
        let t = l.trim_start();
        indent(l)
            + match t.strip_prefix("- ") {
                Some(rest) => 2 + rest.len() - rest.trim_start().len(),
                None => 0,
            }
    };
    let col = key_col(own);
    let mut item_dash = own.trim_start().starts_with("- ").then(|| indent(own));
    for l in lines[..line.saturating_sub(1)].iter().rev() {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let t = l.trim_start();
        if item_dash.is_none() && t.starts_with("- ") && key_col(l) == col {
            // a sibling key opens this list item
            item_dash = Some(indent(l));
            continue;
        }
        let limit = item_dash.unwrap_or(col);
        // a list may start at its key's own column (`key:` then `- a: 1`)
        let list_key = item_dash == Some(indent(l)) && !t.starts_with("- ");
        if indent(l) < limit || list_key || (item_dash.is_none() && key_col(l) < col) {
            return key_value(l).map(|(k, _)| k.to_string());
        }
    }
    None
}

/// The line of the unknown key a check names (`field K not found ...`)
/// when the message has no line yet.
pub(super) fn line_of_unknown_key(text: &str, err: &CheckError) -> Option<usize> {
    line_of_key_from(text, err.unknown_key()?, 1)
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
/// that starts at `line`:`column` for which `wanted(key, value)`.
fn key_in_block(
    text: &str,
    line: usize,
    column: usize,
    wanted: impl Fn(&str, &str) -> bool,
) -> Option<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let min_indent = column.saturating_sub(1);
    for (i, l) in lines.iter().enumerate().skip(line.saturating_sub(1)) {
        if i + 1 > line && !l.trim().is_empty() && indent(l) < min_indent {
            break;
        }
        if let Some((k, v)) = key_value(l) {
            if wanted(k, v) {
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
            (
                "scrape_configs:\n- job_name: a\n  bogus: 1\n",
                "line 3: field bogus not found in type config.ScrapeConfig",
            ),
            (
                "scrape_configs:\n- job_name: a\n  relabel_configs:\n  - action: keep\n    bogus: 1\n",
                "line 5: field bogus not found in type relabel.plain",
            ),
            (
                "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x:1]\nbogus: 1\n",
                "line 5: field bogus not found in type config.plain",
            ),
            (
                "alerting:\n  bogus: 1\n",
                "line 2: field bogus not found in type config.plain",
            ),
            (
                "scrape_configs:\n  - job_name: a\n    tls_config:\n      bogus: 1\n",
                "line 4: field bogus not found in type config.plain",
            ),
            (
                "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x:1]\n        bogus: 1\n",
                "line 5: field bogus not found in type struct { Targets []string",
            ),
            (
                "remote_write:\n  - url: http://x/\n    queue_config:\n      bogus: 1\n",
                "line 4: field bogus not found in type config.QueueConfig",
            ),
            // values of other kinds
            (
                "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [a]\n        regex: \"(\"\n",
                "line 5: regex: error parsing regexp",
            ),
            (
                "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [a]\n        action: bogus\n",
                "line 5: action: unknown relabel action \"bogus\"",
            ),
            (
                "scrape_configs:\n  - job_name: a\n    sample_limit: abc\n",
                "line 3: sample_limit: cannot unmarshal !!str `abc` into uint",
            ),
            (
                "remote_write:\n  - url: http://x/\n    remote_timeout: 3q\n",
                "line 3: remote_timeout: not a valid duration string: \"3q\"",
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
