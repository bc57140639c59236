//! Why Google's application default credentials were not found or gave
//! no token, in the words of Google's client libraries.

use std::path::PathBuf;

use common::httpclient::{error_chain, OAuth2Error};

use super::credentials::NOT_FOUND;

/// An I/O error as Go words the common ones.
pub(crate) fn go_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Credentials not found, not readable, or refused a token.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A credentials file that is not JSON.
    #[error("{0}")]
    FileJson(serde_json::Error),
    /// A credentials file without its `type`.
    #[error("missing 'type' field in credentials")]
    MissingType,
    /// A credentials file of a type flint does not read.
    #[error("unknown credential type: {0:?}")]
    UnknownType(String),
    /// A file that cannot be opened.
    #[error("open {path}: {}", go_io(err))]
    Open {
        /// The file, as named.
        path: String,
        /// Why.
        err: std::io::Error,
    },
    /// A certificate of `SSL_CERT_FILE` that cannot be read.
    #[error("reading {file}: {err}")]
    ReadCert {
        /// The file.
        file: String,
        /// Why.
        err: common::httpclient::BoxError,
    },
    /// The named file of `GOOGLE_APPLICATION_CREDENTIALS`.
    #[error("google: error getting credentials using GOOGLE_APPLICATION_CREDENTIALS environment variable: {0}")]
    ApplicationCredentials(Box<CredentialsError>),
    /// gcloud's well-known file.
    #[error("google: error getting credentials using well-known file ({}): {err}", path.display())]
    WellKnownFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        err: Box<CredentialsError>,
    },
    /// No file, and not on Compute Engine.
    #[error("{NOT_FOUND}")]
    NotFound,
    /// A proxy of the environment that is not a URL.
    #[error("invalid {setting}: {err}")]
    ProxyUrl {
        /// The variable.
        setting: &'static str,
        /// What is wrong with it.
        err: reqwest::Error,
    },
    /// A client that could not be built.
    #[error("building the HTTP client: {0}")]
    Build(reqwest::Error),
    /// A service account's key that is not PEM or not RSA.
    #[error("private key should be a PEM or plain PKCS1 or PKCS8; parse error: {0}")]
    Key(String),
    /// A service account's key of another kind.
    #[error("private key is invalid")]
    KeyInvalid,
    /// A token endpoint's refusal or answer, or a failed request to it.
    #[error(transparent)]
    OAuth2(#[from] OAuth2Error),
    /// A token endpoint's answer that is not JSON.
    #[error("oauth2: cannot fetch token: {0}")]
    TokenJson(serde_json::Error),
    /// A token request that could not be sent.
    #[error("oauth2: cannot fetch token: Post {url:?}: {}", error_chain(err))]
    Post {
        /// The token endpoint.
        url: String,
        /// Why.
        err: reqwest::Error,
    },
    /// A metadata server that did not answer.
    #[error("Get {url:?}: {}", error_chain(err))]
    Metadata {
        /// The URL asked.
        url: String,
        /// Why.
        err: reqwest::Error,
    },
    /// A metadata server without the token path.
    #[error("metadata: GCE metadata {0:?} not defined")]
    MetadataNotDefined(String),
    /// A metadata server's other refusal.
    #[error("compute: Received {status} `{body}`")]
    MetadataStatus {
        /// The HTTP status.
        status: u16,
        /// The answer's body, trimmed.
        body: String,
    },
    /// A metadata token that is not JSON.
    #[error("oauth2/google: invalid token JSON from metadata: {0}")]
    MetadataJson(serde_json::Error),
    /// A metadata token without a token or expiry.
    #[error("oauth2/google: incomplete token received from metadata")]
    MetadataIncomplete,
}
