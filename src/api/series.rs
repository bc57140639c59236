//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`.

use tsdb::labels::Matcher;
use tsdb::packed::PackedLabels;
use tsdb::read::Queryable;

use super::params::{time_param, Params, MAX_TIME_MS, MIN_TIME_MS};
use super::response::{json_str, write_pairs, ApiError, ErrorType};
use super::Answer;
use crate::app::App;

/// Parses every `match[]` selector into its matchers.
pub fn match_params(p: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    p.all("match[]")
        .iter()
        .map(|s| match promql::parse(s) {
            Ok(promql::parser::Expr::VectorSelector(vs)) => Ok(vs.matchers),
            Ok(_) => Err(ApiError::bad_data(format!(
                "invalid parameter \"match[]\": 1:1: parse error: expected vector selector, got {s:?}"
            ))),
            Err(e) => Err(ApiError::bad_data(format!("invalid parameter \"match[]\": {e}"))),
        })
        .collect()
}

fn limit_param(p: &Params) -> Result<usize, ApiError> {
    match p.get("limit") {
        None | Some("") => Ok(0),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n as usize),
            _ => Err(ApiError::bad_data(
                "invalid parameter \"limit\": limit must be non-negative",
            )),
        },
    }
}

fn range(p: &Params) -> Result<(i64, i64), ApiError> {
    Ok((
        time_param(p, "start", MIN_TIME_MS)?,
        time_param(p, "end", MAX_TIME_MS)?,
    ))
}

fn storage_error(e: tsdb::read::ReadError) -> ApiError {
    ApiError {
        kind: ErrorType::Internal,
        msg: e.to_string(),
    }
}

const TRUNCATED: &str = "results truncated due to limit";

fn string_list(mut items: Vec<String>, limit: usize) -> Answer {
    let mut warnings = Vec::new();
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        warnings.push(TRUNCATED.to_string());
    }
    let mut s = String::from("[");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_str(&mut s, v);
    }
    s.push(']');
    Answer {
        data: s,
        warnings,
        infos: Vec::new(),
        no_content: false,
    }
}

/// Union over selectors of `f(matchers)`, sorted and unique.
fn union(
    sets: &[Vec<Matcher>],
    mut f: impl FnMut(&[Matcher]) -> Result<Vec<String>, ApiError>,
) -> Result<Vec<String>, ApiError> {
    if sets.is_empty() {
        return f(&[]);
    }
    let mut all = Vec::new();
    for m in sets {
        all.extend(f(m)?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

/// `GET/POST /api/v1/labels`.
pub fn labels(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let (start, end) = range(p)?;
    let sets = match_params(p)?;
    let limit = limit_param(p)?;
    let q = app.db.querier(start, end).map_err(storage_error)?;
    let names = union(&sets, |m| q.label_names(m).map_err(storage_error))?;
    Ok(string_list(names, limit))
}

/// `GET /api/v1/label/<name>/values`.
pub fn label_values(app: &App, p: &Params, name: &str) -> Result<Answer, ApiError> {
    let name = decode_label_name(name)?;
    let (start, end) = range(p)?;
    let sets = match_params(p)?;
    let limit = limit_param(p)?;
    let q = app.db.querier(start, end).map_err(storage_error)?;
    let values = union(&sets, |m| q.label_values(&name, m).map_err(storage_error))?;
    Ok(string_list(values, limit))
}

/// Label names in the path may be written in Prometheus 3's `U__` escaping
/// for UTF-8 names: `U__` then `_xx_` hex code points and `__` for `_`.
fn decode_label_name(raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_data(format!("invalid label name: {raw:?}"));
    let Some(rest) = raw.strip_prefix("U__") else {
        if raw.is_empty() {
            return Err(bad());
        }
        return Ok(raw.to_string());
    };
    let mut out = String::new();
    let mut it = rest.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if rest[i + 1..].starts_with('_') {
            it.next();
            out.push('_');
            continue;
        }
        let end = rest[i + 1..].find('_').ok_or_else(bad)? + i + 1;
        let code = u32::from_str_radix(&rest[i + 1..end], 16).map_err(|_| bad())?;
        out.push(char::from_u32(code).ok_or_else(bad)?);
        while it.peek().is_some_and(|(j, _)| *j <= end) {
            it.next();
        }
    }
    Ok(out)
}

/// `GET/POST /api/v1/series`.
pub fn series(app: &App, p: &Params) -> Result<Answer, ApiError> {
    let (start, end) = range(p)?;
    let sets = match_params(p)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let limit = limit_param(p)?;
    let q = app.db.querier(start, end).map_err(storage_error)?;
    let mut all: Vec<PackedLabels> = Vec::new();
    for m in &sets {
        all.extend(q.series_labels(m).map_err(storage_error)?);
    }
    // one selector's series come sorted and unique
    if sets.len() > 1 {
        all.sort();
        all.dedup();
    }
    let mut warnings = Vec::new();
    if limit > 0 && all.len() > limit {
        all.truncate(limit);
        warnings.push(TRUNCATED.to_string());
    }
    let mut s = String::from("[");
    for (i, l) in all.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        write_pairs(&mut s, l.iter());
    }
    s.push(']');
    Ok(Answer {
        data: s,
        warnings,
        infos: Vec::new(),
        no_content: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_label_names_in_paths() {
        assert_eq!(decode_label_name("job").unwrap(), "job");
        assert_eq!(decode_label_name("U__my_2e_label").unwrap(), "my.label");
        assert_eq!(decode_label_name("U__a__b").unwrap(), "a_b");
        assert!(decode_label_name("U__bad_zz_").is_err());
        assert!(decode_label_name("").is_err());
    }

    #[test]
    fn match_selectors() {
        let mut p = Params::default();
        p.add_urlencoded(b"match[]=up%7Bjob%3D%22a%22%7D&match[]=%7B__name__%3D~%22x.*%22%7D");
        let sets = match_params(&p).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].len(), 2);
        let mut p = Params::default();
        p.add_urlencoded(b"match[]=sum(up)");
        assert!(match_params(&p).is_err());
    }
}
