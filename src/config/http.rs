//! HTTP client settings shared by scrape jobs (and later remote write and
//! Alertmanager): authentication, TLS, proxy, redirects. Secrets are shown
//! as `<secret>` when the configuration is printed.

use serde::{Deserialize, Serialize};

/// A secret string: read from the file as written, printed as `<secret>`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

/// `basic_auth`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// File holding the user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_file: Option<String>,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password (read at every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// `authorization`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme word (`Bearer` by default).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// File holding the credentials (read at every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

/// `tls_config`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificate (PEM text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// CA certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Client certificate (PEM text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// Client certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Client key (PEM text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    /// Client key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// Name the server certificate is checked against (and sent as SNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skip checking the server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Lowest TLS version: TLS12 or TLS13 (TLS10, TLS11 are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// Highest TLS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
}

/// The HTTP client part of a scrape config (flattened into it, as in
/// Prometheus).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct HttpClientConfig {
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Bearer token (older form of `authorization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// File holding a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// HTTP proxy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Whether redirects are followed (true).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Whether HTTP/2 may be used (true; HTTP/1.1 is what flint speaks).
    #[serde(default = "yes")]
    pub enable_http2: bool,
}

fn yes() -> bool {
    true
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: None,
            proxy_url: None,
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

/// TLS version names Prometheus accepts.
pub fn tls_version(v: &str) -> Result<&'static rustls::SupportedProtocolVersion, String> {
    match v {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS10" | "TLS11" => Err(format!(
            "TLS version {v} is not supported by flint (its TLS stack offers TLS12 and TLS13)"
        )),
        _ => Err(format!("unknown TLS version: {v}")),
    }
}

impl HttpClientConfig {
    /// Prometheus's consistency checks, with its messages.
    pub fn validate(&self) -> Result<(), String> {
        let n_auth = [
            self.basic_auth.is_some(),
            self.authorization.is_some(),
            self.bearer_token.is_some() || self.bearer_token_file.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if n_auth > 1 {
            return Err("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".into());
        }
        if let Some(b) = &self.basic_auth {
            if b.password.is_some() && b.password_file.is_some() {
                return Err(
                    "at most one of basic_auth password & password_file must be configured".into(),
                );
            }
            if !b.username.is_empty() && b.username_file.is_some() {
                return Err(
                    "at most one of basic_auth username & username_file must be configured".into(),
                );
            }
        }
        if let Some(a) = &self.authorization {
            if a.kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("basic"))
            {
                return Err(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                );
            }
            if a.credentials.is_some() && a.credentials_file.is_some() {
                return Err("at most one of authorization credentials & credentials_file must be configured".into());
            }
        }
        if let Some(t) = &self.tls_config {
            for (a, b, what) in [
                (t.ca.is_some(), t.ca_file.is_some(), "ca"),
                (t.cert.is_some(), t.cert_file.is_some(), "cert"),
                (t.key.is_some(), t.key_file.is_some(), "key"),
            ] {
                if a && b {
                    return Err(format!(
                        "at most one of {what} and {what}_file must be configured"
                    ));
                }
            }
            let has_cert = t.cert.is_some() || t.cert_file.is_some();
            let has_key = t.key.is_some() || t.key_file.is_some();
            if has_cert && !has_key {
                return Err("exactly one of key or key_file must be configured when a client certificate is configured".into());
            }
            if has_key && !has_cert {
                return Err("exactly one of cert or cert_file must be configured when a client key is configured".into());
            }
            for v in [&t.min_version, &t.max_version].into_iter().flatten() {
                tls_version(v)?;
            }
        }
        if let Some(p) = &self.proxy_url {
            url::Url::parse(p).map_err(|e| format!("invalid proxy_url {p:?}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> HttpClientConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn checks_and_secret_masking() {
        assert!(parse("basic_auth: {username: u, password: p}\n")
            .validate()
            .is_ok());
        let bad = [
            (
                "basic_auth: {username: u, password: p, password_file: f}\n",
                "password & password_file",
            ),
            (
                "bearer_token: a\nbearer_token_file: b\n",
                "bearer_token & bearer_token_file",
            ),
            (
                "basic_auth: {username: u}\nbearer_token: a\n",
                "at most one of basic_auth",
            ),
            (
                "authorization: {type: Basic, credentials: x}\n",
                "use \"basic_auth\"",
            ),
            ("tls_config: {cert_file: c}\n", "key or key_file"),
            ("tls_config: {min_version: TLS9}\n", "unknown TLS version"),
        ];
        for (y, want) in bad {
            let e = parse(y).validate().unwrap_err();
            assert!(e.contains(want), "{y}: {e}");
        }
        let c = parse("basic_auth: {username: u, password: hunter2}\n");
        let out = serde_yaml::to_string(&c).unwrap();
        assert!(
            out.contains("<secret>") && !out.contains("hunter2"),
            "{out}"
        );
    }
}
