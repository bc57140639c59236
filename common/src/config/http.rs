//! HTTP client settings shared by scrape jobs (and later remote write and
//! Alertmanager): authentication, TLS, proxy, redirects. Secrets are shown
//! as `<secret>` when the configuration is printed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{CheckError, TlsVersionError};

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

/// The grant of RFC 7523: a signed JWT instead of a client secret.
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `oauth2`: a token fetched from `token_url` (client credentials, or a
/// JWT signed with `client_certificate_key`) sent as the `Authorization`
/// header, fetched again when it expires or the secret changes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct OAuth2Config {
    /// Client identifier.
    #[serde(default)]
    pub client_id: String,
    /// Client secret (client credentials grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// File holding the client secret (read at every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    /// `kid` of the signed JWT (JWT bearer grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_key_id: Option<String>,
    /// RSA private key (PEM) the JWT is signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_key: Option<Secret>,
    /// File holding that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_key_file: Option<String>,
    /// `client_credentials` (default) or the JWT bearer grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// RS256 (default), RS384 or RS512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    /// The JWT's issuer (default: `client_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The JWT's audience (default: `token_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// More claims of the JWT.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, serde_yaml::Value>,
    /// Scopes asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Where tokens come from.
    #[serde(default)]
    pub token_url: String,
    /// More form parameters of the token request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings of the token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Proxy of the token request.
    #[serde(flatten)]
    pub proxy: ProxyConfig,
    /// Keys that are none of the above (refused by `validate`).
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

/// One `http_headers` entry: the values of a header, given, secret, or
/// read from files at each request.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeaderValues {
    /// Values as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Values shown as `<secret>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Files holding values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// Headers an HTTP client sets itself, which `http_headers` may not.
const RESERVED_HEADERS: &[&str] = &[
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

/// A header name as Go writes it (`x-foo-bar` → `X-Foo-Bar`).
pub fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// The proxy settings of an HTTP client.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ProxyConfig {
    /// HTTP proxy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Hosts (names, IPs, CIDRs, with ports or not) the proxy is not used for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Whether the proxy comes from `HTTP(S)_PROXY`/`NO_PROXY`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy with CONNECT.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

impl ProxyConfig {
    /// Prometheus's checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(p) = &self.proxy_url {
            url::Url::parse(p).map_err(|err| CheckError::Url {
                what: "proxy_url",
                url: p.clone(),
                err,
            })?;
        }
        if self.no_proxy.is_some() && self.proxy_url.is_none() {
            return Err("if no_proxy is configured, proxy_url must also be configured".into());
        }
        if self.proxy_from_environment && (self.proxy_url.is_some() || self.no_proxy.is_some()) {
            return Err("if proxy_from_environment is configured, proxy_url and no_proxy must not be configured".into());
        }
        if !self.proxy_connect_header.is_empty()
            && self.proxy_url.is_none()
            && !self.proxy_from_environment
        {
            return Err("if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured".into());
        }
        Ok(())
    }
}

impl OAuth2Config {
    /// Whether the JWT bearer grant is used.
    pub fn jwt(&self) -> bool {
        self.grant_type.as_deref() == Some(GRANT_JWT_BEARER)
    }

    /// Prometheus's checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "config.OAuth2",
            });
        }
        if self.client_id.is_empty() {
            return Err("oauth2 client_id must be configured".into());
        }
        if self.token_url.is_empty() {
            return Err("oauth2 token_url must be configured".into());
        }
        if self.jwt() {
            if self.client_certificate_key.is_some() && self.client_certificate_key_file.is_some() {
                return Err(format!("at most one of oauth2 client_certificate_key, client_certificate_key_file & client_certificate_key_ref must be configured using grant-type={GRANT_JWT_BEARER}").into());
            }
            if let Some(a) = self.signature_algorithm.as_deref() {
                if !a.is_empty() && !["RS256", "RS384", "RS512"].contains(&a) {
                    return Err("valid signature algorithms are RS256, RS384 and RS512".into());
                }
            }
        } else if self.client_secret.is_some() && self.client_secret_file.is_some() {
            return Err("at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured using grant-type=client_credentials".into());
        }
        url::Url::parse(&self.token_url).map_err(|err| CheckError::Url {
            what: "oauth2 token_url",
            url: self.token_url.clone(),
            err,
        })?;
        self.proxy.validate()?;
        if let Some(t) = &self.tls_config {
            HttpClientConfig {
                tls_config: Some(t.clone()),
                ..HttpClientConfig::default()
            }
            .validate()?;
        }
        Ok(())
    }
}

/// The HTTP client part of a scrape config (flattened into it, as in
/// Prometheus).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct HttpClientConfig {
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// OAuth 2.0 tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Config>,
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
    /// Hosts the proxy is not used for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Whether the proxy comes from `HTTP(S)_PROXY`/`NO_PROXY`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy with CONNECT.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    /// Headers added to every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, HeaderValues>,
    /// Whether redirects are followed (true).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Whether HTTP/2 may be negotiated over TLS (unset: true, but false
    /// for remote write, as in Prometheus; see [`HttpClientConfig::http2`]).
    #[serde(default, serialize_with = "http2_or_default")]
    pub enable_http2: Option<bool>,
}

/// An unset `enable_http2` written as the default of most sections.
fn http2_or_default<S: serde::Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(v.unwrap_or(true))
}

fn yes() -> bool {
    true
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: None,
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            http_headers: BTreeMap::new(),
            follow_redirects: true,
            enable_http2: None,
        }
    }
}

/// TLS version names Prometheus accepts.
pub fn tls_version(v: &str) -> Result<&'static rustls::SupportedProtocolVersion, TlsVersionError> {
    match v {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS10" | "TLS11" => Err(TlsVersionError::NotOffered(v.to_string())),
        _ => Err(TlsVersionError::Unknown(v.to_string())),
    }
}

impl HttpClientConfig {
    /// Whether HTTP/2 may be negotiated: `enable_http2`, else `default`
    /// (true but for remote write).
    pub fn http2(&self, default: bool) -> bool {
        self.enable_http2.unwrap_or(default)
    }

    /// Prometheus's consistency checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        let bearer = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && bearer {
            return Err("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".into());
        }
        if self.authorization.is_some() && bearer {
            return Err(
                "authorization is not compatible with bearer_token & bearer_token_file".into(),
            );
        }
        if [
            self.basic_auth.is_some(),
            self.oauth2.is_some(),
            self.authorization.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count()
            > 1
        {
            return Err(
                "at most one of basic_auth, oauth2 & authorization must be configured".into(),
            );
        }
        if let Some(o) = &self.oauth2 {
            o.validate()?;
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
                    )
                    .into());
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
        self.proxy().validate()?;
        for name in self.http_headers.keys() {
            let c = canonical_header(name);
            if RESERVED_HEADERS.contains(&c.as_str()) {
                return Err(format!("setting header {c:?} is not allowed").into());
            }
        }
        Ok(())
    }

    /// The proxy settings (kept as separate keys here: a nested flattened
    /// struct would hide the client's keys from the configurations that
    /// flatten this one beside a map of unknown keys).
    pub fn proxy(&self) -> ProxyConfig {
        ProxyConfig {
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            proxy_connect_header: self.proxy_connect_header.clone(),
        }
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
            let e = parse(y).validate().unwrap_err().to_string();
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
