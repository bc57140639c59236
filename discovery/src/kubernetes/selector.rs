//! Checking Kubernetes label and field selectors before they are sent to
//! the API server (which applies them): the syntax of `app=web,tier!=db`,
//! `env in (a, b)`, `!legacy`, and of field selectors `spec.nodeName=n1`.

use common::config::SelectorError;

fn valid_key(k: &str) -> bool {
    // an optional DNS-subdomain prefix and a name of alphanumerics, '-',
    // '_' and '.', starting and ending alphanumeric
    let name = k.rsplit_once('/').map_or(k, |(_, n)| n);
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn valid_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}

/// Splits at commas outside parentheses.
fn requirements(s: &str) -> Result<Vec<&str>, &'static str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced ')'");
                }
            }
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unclosed '('");
    }
    out.push(s[start..].trim());
    Ok(out)
}

/// Checks a label selector; the error says what is wrong.
pub fn parse_label_selector(s: &str) -> Result<(), SelectorError> {
    if s.trim().is_empty() {
        return Ok(());
    }
    let bad = |why: String| SelectorError::Label {
        selector: s.to_string(),
        why,
    };
    for r in requirements(s).map_err(|e| bad(e.to_string()))? {
        if r.is_empty() {
            return Err(bad("empty requirement".into()));
        }
        if let Some(k) = r.strip_prefix('!') {
            if !valid_key(k.trim()) {
                return Err(bad(format!("invalid key {:?}", k.trim())));
            }
            continue;
        }
        let set = [" notin ", " in "]
            .iter()
            .find_map(|op| r.split_once(op).map(|(k, v)| (k.trim(), v.trim())));
        if let Some((k, vals)) = set {
            if !valid_key(k) {
                return Err(bad(format!("invalid key {k:?}")));
            }
            let inner = vals
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(|| bad("a set needs parentheses".into()))?;
            for v in inner.split(',') {
                if !valid_value(v.trim()) {
                    return Err(bad(format!("invalid value {:?}", v.trim())));
                }
            }
            continue;
        }
        let op = ["==", "!=", "=", ">", "<"]
            .iter()
            .find_map(|op| r.split_once(op).map(|(k, v)| (k.trim(), v.trim())));
        match op {
            Some((k, v)) => {
                if !valid_key(k) {
                    return Err(bad(format!("invalid key {k:?}")));
                }
                if !valid_value(v) || v.contains('=') {
                    return Err(bad(format!("invalid value {v:?}")));
                }
            }
            None => {
                if !valid_key(r) {
                    return Err(bad(format!("invalid key {r:?}")));
                }
            }
        }
    }
    Ok(())
}

/// Checks a field selector (`field=value`, `==`, `!=`, comma-separated).
pub fn parse_field_selector(s: &str) -> Result<(), SelectorError> {
    if s.trim().is_empty() {
        return Ok(());
    }
    for r in s.split(',') {
        let r = r.trim();
        let ok = ["==", "!=", "="].iter().any(|op| {
            r.split_once(op)
                .is_some_and(|(k, v)| !k.trim().is_empty() && !v.contains('=') && !k.contains('!'))
        });
        if !ok {
            return Err(SelectorError::Field {
                selector: s.to_string(),
                requirement: r.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        for ok in [
            "",
            "app=web",
            "app==web,tier!=db",
            "env in (prod, staging),!legacy",
            "app.kubernetes.io/name=web",
            "release notin (a)",
            "has",
        ] {
            assert!(parse_label_selector(ok).is_ok(), "{ok}");
        }
        for bad in ["a b", "env in (a", "=x", "a=b=c", "a==", ",", "-a=b"] {
            if bad == "a==" {
                // an empty value is a value
                assert!(parse_label_selector(bad).is_ok());
                continue;
            }
            assert!(parse_label_selector(bad).is_err(), "{bad}");
        }
        assert!(parse_field_selector("spec.nodeName=n1,metadata.name!=x").is_ok());
        assert!(parse_field_selector("spec.nodeName").is_err());
    }
}
