//! Request parameters as Prometheus parses them. Times become i64
//! milliseconds here, once.

use std::collections::HashMap;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{header, Method, Request};

use super::response::ApiError;
use crate::config::PromDuration;

/// Largest form body accepted (POST queries).
const MAX_BODY: usize = 16 << 20;

/// The parameters of a request: its query string and, for a POST, its
/// form body, read within `timeout` (`--web.read-timeout`).
pub async fn read(
    req: Request<Incoming>,
    timeout: std::time::Duration,
) -> Result<Params, ApiError> {
    let mut p = Params::default();
    if let Some(q) = req.uri().query() {
        p.add_urlencoded(q.as_bytes());
    }
    if req.method() == Method::POST {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let read = tokio::time::timeout(timeout, Limited::new(req.into_body(), MAX_BODY).collect());
        match read.await {
            Ok(Ok(body)) if is_form => p.add_urlencoded(&body.to_bytes()),
            Ok(Ok(_)) => {}
            Err(_) => {
                return Err(ApiError::bad_data(
                    "error reading request body: timed out (--web.read-timeout)",
                ))
            }
            Ok(Err(e)) => {
                return Err(ApiError::bad_data(format!(
                    "error reading request body: {e}"
                )))
            }
        }
    }
    Ok(p)
}

/// Form and query-string parameters; repeated keys keep every value.
#[derive(Default, Debug)]
pub struct Params(HashMap<String, Vec<String>>);

impl Params {
    /// Parses `a=b&c=d` pairs, adding to what is there.
    pub fn add_urlencoded(&mut self, s: &[u8]) {
        for (k, v) in url::form_urlencoded::parse(s) {
            self.0
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
    }

    /// The first value of `k`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every value of `k`.
    pub fn all(&self, k: &str) -> &[String] {
        self.0.get(k).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The earliest and latest times Prometheus accepts (Go's min/max time).
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974;
/// See [`MIN_TIME_MS`].
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974;

fn invalid(param: &str, detail: String) -> ApiError {
    ApiError::bad_data(format!("invalid parameter \"{param}\": {detail}"))
}

/// Parses a time: float Unix seconds or RFC 3339.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return None;
        }
        let secs = f.trunc();
        let frac = ((f - secs) * 1000.0).round();
        let ms = secs * 1000.0 + frac;
        if !(MIN_TIME_MS as f64..=MAX_TIME_MS as f64).contains(&ms) {
            return None;
        }
        return Some(ms as i64);
    }
    common::rfc3339::parse_millis(s)
}

/// A time parameter, or `default` when absent or empty.
pub fn time_param(p: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match p.get(name) {
        None | Some("") => Ok(default),
        Some(s) => parse_time(s)
            .ok_or_else(|| invalid(name, format!("cannot parse {s:?} to a valid timestamp"))),
    }
}

/// Parses a duration: float seconds or Prometheus's duration syntax, in ms.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        let ms = (f * 1000.0).round();
        if !ms.is_finite() || ms >= i64::MAX as f64 {
            return None;
        }
        return Some(ms as i64);
    }
    PromDuration::parse(s).ok().map(|d| d.as_millis())
}

/// A duration parameter in ms, `None` when absent or empty.
pub fn duration_param(p: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match p.get(name) {
        None | Some("") => Ok(None),
        Some(s) => parse_duration(s)
            .map(Some)
            .ok_or_else(|| invalid(name, format!("cannot parse {s:?} to a valid duration"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1700000000.123"), Some(1_700_000_000_123));
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_time("-1.5"), Some(-1500));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("NaN"), None);
        assert_eq!(parse_duration("15s"), Some(15_000));
        assert_eq!(parse_duration("0.5"), Some(500));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("abc"), None);
        let mut p = Params::default();
        p.add_urlencoded(b"time=abc&match[]=a&match[]=b");
        let e = time_param(&p, "time", 0).unwrap_err();
        assert_eq!(
            e.msg,
            "invalid parameter \"time\": cannot parse \"abc\" to a valid timestamp"
        );
        assert_eq!(p.all("match[]").len(), 2);
    }
}
