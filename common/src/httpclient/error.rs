//! Why an HTTP client could not be built or could not authorize a request,
//! and why an OAuth 2.0 token could not be had. Each message is the one
//! Prometheus's clients give (or flint's own where they have none); causes
//! are part of the message, not separate sources.

use std::path::PathBuf;

/// Any error, as a cause in a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An HTTP client's settings that cannot be used, or a credential that
/// cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// A header of proxy CONNECT requests that is not one.
    #[error("invalid proxy_connect_header {name:?}: {err}")]
    ProxyConnectHeader {
        /// The header's name.
        name: String,
        /// What is wrong with its name or value.
        err: BoxError,
    },
    /// A proxy URL (`proxy_url`, `HTTPS_PROXY`, `HTTP_PROXY`) that is not one.
    #[error("invalid {setting}: {err}")]
    ProxyUrl {
        /// Where the URL was given.
        setting: &'static str,
        /// What is wrong with it.
        err: reqwest::Error,
    },
    /// A credential, certificate or key file that cannot be read.
    #[error("unable to read {}: {err}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// A file of `http_headers` values that cannot be read.
    #[error("unable to read headers file {}: {err}", path.display())]
    ReadHeadersFile {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// A `min_version` or `max_version` flint does not know or offer.
    #[error("{0}")]
    TlsVersion(crate::config::TlsVersionError),
    /// TLS settings the TLS stack refuses.
    #[error("TLS settings: {0}")]
    TlsSettings(BoxError),
    /// A `ca`/`ca_file` that is not PEM.
    #[error("unable to load specified CA cert: {0}")]
    CaLoad(rustls_pki_types::pem::Error),
    /// A CA certificate that cannot be trusted.
    #[error("unable to use specified CA cert: {0}")]
    CaUse(rustls::Error),
    /// A `ca`/`ca_file` without a certificate.
    #[error("unable to use specified CA cert: no certificate found")]
    NoCaCert,
    /// A `server_name` that is not a DNS name.
    #[error("invalid server_name {name:?}: {err}")]
    ServerName {
        /// The name.
        name: String,
        /// Why it is not one.
        err: rustls_pki_types::InvalidDnsNameError,
    },
    /// A client certificate without a key.
    #[error("a client certificate needs a key")]
    MissingClientKey,
    /// A client certificate that is not PEM.
    #[error("unable to load client cert: {0}")]
    ClientCertLoad(rustls_pki_types::pem::Error),
    /// A client key that is not PEM.
    #[error("unable to load client key: {0}")]
    ClientKeyLoad(rustls_pki_types::pem::Error),
    /// A client certificate and key the TLS stack refuses.
    #[error("unable to use client cert: {0}")]
    ClientCertUse(rustls::Error),
    /// The client could not be built.
    #[error("building the HTTP client: {0}")]
    Build(reqwest::Error),
    /// An OAuth 2.0 token that could not be had.
    #[error(transparent)]
    OAuth2(#[from] OAuth2Error),
}

/// Why an OAuth 2.0 token could not be fetched (or its request made).
#[derive(Debug, thiserror::Error)]
pub enum OAuth2Error {
    /// The client of the token endpoint (its TLS and proxy settings).
    #[error(transparent)]
    Client(Box<HttpClientError>),
    /// A `client_secret_file` (or key file) that cannot be read.
    #[error("unable to read oauth2 client secret: unable to read {}: {err}", path.display())]
    ReadSecret {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// An `endpoint_params` entry that would replace a parameter set.
    #[error("oauth2: cannot overwrite parameter {0:?}")]
    OverwriteParameter(String),
    /// The endpoint refused, saying why (RFC 6749 §5.2).
    #[error("oauth2: {code:?}{}", description.as_ref().map(|d| format!(" {d:?}")).unwrap_or_default())]
    Refused {
        /// The `error` code.
        code: String,
        /// The `error_description`.
        description: Option<String>,
    },
    /// The endpoint refused without an error code.
    #[error("oauth2: cannot fetch token: {status}\nResponse: {body}")]
    Status {
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// The answer's body.
        body: String,
    },
    /// A JSON answer that does not parse.
    #[error("oauth2: cannot parse json: {0}")]
    Json(serde_json::Error),
    /// An answer without a token.
    #[error("oauth2: server response missing access_token")]
    MissingAccessToken,
    /// The request could not be sent or answered.
    #[error("oauth2: cannot fetch token: {}", super::error_chain(.0))]
    Send(reqwest::Error),
    /// The answer's body could not be read.
    #[error("oauth2: cannot fetch token: {0}")]
    Body(reqwest::Error),
    /// No random numbers for a JWT's `jti`.
    #[error("oauth2: no random numbers")]
    NoRandom,
    /// A client certificate key that is not PEM.
    #[error("oauth2: cannot read the client certificate key: {0}")]
    KeyRead(rustls_pki_types::pem::Error),
    /// A client certificate key of another kind than RSA.
    #[error("oauth2: the client certificate key is not an RSA key")]
    KeyNotRsa,
    /// An RSA key ring refuses.
    #[error("oauth2: the client certificate key is not a usable RSA key: {0}")]
    KeyUnusable(ring::error::KeyRejected),
    /// Signing a JWT failed.
    #[error("oauth2: signing the assertion failed")]
    Signing,
}
