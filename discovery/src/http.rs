//! `http_sd_configs`: target groups fetched as JSON from a URL every
//! `refresh_interval`, with `__meta_url` added.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{HttpSdError, TargetGroup};
use common::config::http::HttpClientConfig;
use common::config::{CheckError, PromDuration};

/// One `http_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct HttpSdConfig {
    /// The URL serving the target groups.
    pub url: String,
    /// How often to fetch (1m).
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// Authentication, TLS, proxy.
    #[serde(flatten)]
    pub http: HttpClientConfig,
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}

impl HttpSdConfig {
    /// Checks the URL and client settings.
    pub fn validate(&self) -> Result<(), CheckError> {
        let u = url::Url::parse(&self.url).map_err(|err| CheckError::Url {
            what: "url",
            url: self.url.clone(),
            err,
        })?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err("URL scheme must be 'http' or 'https'".into());
        }
        if u.host_str().is_none() {
            return Err("host is missing in URL".into());
        }
        self.http.validate()
    }
}

/// Decodes a response body into groups, checking what Prometheus checks.
pub fn decode(
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<TargetGroup>, HttpSdError> {
    let ct = content_type.unwrap_or("");
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/json")
    {
        return Err(HttpSdError::ContentType(ct.to_string()));
    }
    let mut groups: Vec<TargetGroup> = serde_json::from_slice(body).map_err(HttpSdError::Decode)?;
    for g in &mut groups {
        g.labels.insert("__meta_url".into(), url.to_string());
    }
    Ok(groups)
}

/// Fetches the groups once.
pub async fn fetch(
    client: &common::httpclient::HttpClient,
    cfg: &HttpSdConfig,
    timeout: Duration,
) -> Result<Vec<TargetGroup>, HttpSdError> {
    let req = client
        .client()
        .get(&cfg.url)
        .header(
            "X-Prometheus-Refresh-Interval-Seconds",
            cfg.refresh_interval.0.as_secs().to_string(),
        )
        .timeout(timeout);
    let resp = client
        .authorize(req)
        .await?
        .send()
        .await
        .map_err(HttpSdError::Request)?;
    if !resp.status().is_success() {
        return Err(HttpSdError::Status(resp.status()));
    }
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await.map_err(HttpSdError::Request)?;
    decode(&cfg.url, ct.as_deref(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_groups() {
        let g = decode(
            "http://sd/x",
            Some("application/json; charset=utf-8"),
            br#"[{"targets":["a:1"],"labels":{"l":"v"}}]"#,
        )
        .unwrap();
        assert_eq!(g[0].targets, vec!["a:1"]);
        assert_eq!(g[0].labels["__meta_url"], "http://sd/x");
        assert!(decode("u", Some("text/plain"), b"[]").is_err());
        assert!(decode("u", Some("application/json"), b"{").is_err());
    }
}
