//! `--web.config.file`: Prometheus's web configuration format, for TLS and
//! basic authentication on every endpoint.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # optional
//!   client_ca_file: ca.crt                          # optional
//!   min_version: TLS12                              # optional
//! basic_auth_users:
//!   alice: $2y$10$…   # bcrypt hash
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

/// The file's contents.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Serve HTTPS with these settings.
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    /// User name → bcrypt hash of the password.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    /// Extra response headers (accepted and applied).
    #[serde(default)]
    pub http_server_config: Option<HttpServerConfig>,
}

/// `http_server_config`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Whether HTTP/2 is offered (flint serves HTTP/1.1 either way).
    #[serde(default)]
    pub http2: Option<bool>,
    /// Headers added to every response.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `tls_server_config`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// Server certificate chain (PEM).
    pub cert_file: String,
    /// Server key (PEM).
    pub key_file: String,
    /// `NoClientCert` (default), `RequestClientCert`, `RequireAnyClientCert`,
    /// `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`.
    #[serde(default)]
    pub client_auth_type: Option<String>,
    /// CA for client certificates.
    #[serde(default)]
    pub client_ca_file: Option<String>,
    /// Lowest TLS version (TLS12, TLS13).
    #[serde(default)]
    pub min_version: Option<String>,
    /// Highest TLS version.
    #[serde(default)]
    pub max_version: Option<String>,
    /// Accepted for compatibility; rustls picks its own secure suites.
    #[serde(default)]
    pub cipher_suites: Option<Vec<String>>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub curve_preferences: Option<Vec<String>>,
}

/// Why the web configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file cannot be read.
    #[error("{path}: {err}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        err: std::io::Error,
    },
    /// The file is not valid YAML of the expected shape.
    #[error("{path}: {err}")]
    Yaml {
        /// The file.
        path: String,
        /// Why.
        err: serde_yaml::Error,
    },
    /// A user's password that is not a bcrypt hash.
    #[error("{path}: the password of user {user:?} is not a bcrypt hash")]
    NotBcrypt {
        /// The file.
        path: String,
        /// The user.
        user: String,
    },
    /// The `tls_server_config` cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Why a `tls_server_config` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// No certificate or no key.
    #[error("missing cert_file or key_file in tls_server_config")]
    MissingCertOrKey,
    /// A file cannot be read.
    #[error("{file}: {err}")]
    Read {
        /// The file, as configured.
        file: String,
        /// Why.
        err: std::io::Error,
    },
    /// A file is not PEM of what it should hold.
    #[error("{file}: {err}")]
    Pem {
        /// The file, as configured.
        file: String,
        /// Why.
        err: rustls::pki_types::pem::Error,
    },
    /// A client CA certificate that cannot be used.
    #[error("{file}: {err}")]
    ClientCa {
        /// The file, as configured.
        file: String,
        /// Why.
        err: rustls::Error,
    },
    /// `min_version` or `max_version` is not a TLS version.
    #[error(transparent)]
    Version(#[from] crate::config::TlsVersionError),
    /// The TLS versions cannot be had.
    #[error(transparent)]
    Versions(rustls::Error),
    /// Client certificates are to be verified without a CA.
    #[error("client_ca_file is required for verifying client certificates")]
    NoClientCa,
    /// The client certificate verifier cannot be made.
    #[error(transparent)]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// A `client_auth_type` not known.
    #[error("invalid ClientAuth {0:?}")]
    ClientAuth(String),
    /// The server certificate and key cannot be used.
    #[error("server certificate: {0}")]
    Certificate(rustls::Error),
}

/// Loads and checks the file; relative paths are resolved against its folder.
pub fn load(path: &Path) -> Result<(WebConfig, Option<Arc<rustls::ServerConfig>>), WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| WebConfigError::Read {
        path: path.display().to_string(),
        err,
    })?;
    let cfg: WebConfig = serde_yaml::from_str(&text).map_err(|err| WebConfigError::Yaml {
        path: path.display().to_string(),
        err,
    })?;
    for (user, hash) in &cfg.basic_auth_users {
        if !hash.starts_with("$2") {
            return Err(WebConfigError::NotBcrypt {
                path: path.display().to_string(),
                user: user.clone(),
            });
        }
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let tls = match &cfg.tls_server_config {
        Some(t) => Some(Arc::new(server_tls(t, base)?)),
        None => None,
    };
    Ok((cfg, tls))
}

fn server_tls(t: &TlsServerConfig, base: &Path) -> Result<rustls::ServerConfig, TlsError> {
    if t.cert_file.is_empty() || t.key_file.is_empty() {
        return Err(TlsError::MissingCertOrKey);
    }
    let read = |f: &str| {
        std::fs::read(base.join(f)).map_err(|err| TlsError::Read {
            file: f.to_string(),
            err,
        })
    };
    let pem = |file: &str| {
        let file = file.to_string();
        move |err: rustls::pki_types::pem::Error| TlsError::Pem { file, err }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(&t.cert_file)?)
        .collect::<Result<_, _>>()
        .map_err(pem(&t.cert_file))?;
    let key = PrivateKeyDer::from_pem_slice(&read(&t.key_file)?).map_err(pem(&t.key_file))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> =
        vec![&rustls::version::TLS12, &rustls::version::TLS13];
    if let Some(v) = &t.min_version {
        if std::ptr::eq(
            common::config::http::tls_version(v)?,
            &rustls::version::TLS13,
        ) {
            versions.retain(|x| x.version == rustls::ProtocolVersion::TLSv1_3);
        }
    }
    if let Some(v) = &t.max_version {
        if std::ptr::eq(
            common::config::http::tls_version(v)?,
            &rustls::version::TLS12,
        ) {
            versions.retain(|x| x.version == rustls::ProtocolVersion::TLSv1_2);
        }
    }
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(TlsError::Versions)?;
    let kind = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match kind {
        "NoClientCert" | "RequestClientCert" | "RequireAnyClientCert" => {
            builder.with_no_client_auth()
        }
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let ca = t.client_ca_file.as_deref().ok_or(TlsError::NoClientCa)?;
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&read(ca)?) {
                roots
                    .add(c.map_err(pem(ca))?)
                    .map_err(|err| TlsError::ClientCa {
                        file: ca.to_string(),
                        err,
                    })?;
            }
            let mut v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            if kind == "VerifyClientCertIfGiven" {
                v = v.allow_unauthenticated();
            }
            builder.with_client_cert_verifier(v.build()?)
        }
        other => return Err(TlsError::ClientAuth(other.to_string())),
    };
    builder
        .with_single_cert(certs, key)
        .map_err(TlsError::Certificate)
}

/// Checks `Authorization: Basic` headers against the configured users,
/// remembering pairs already verified (bcrypt is deliberately slow).
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verified: Mutex<HashMap<[u8; 16], bool>>,
}

impl BasicAuth {
    /// An authenticator for `users` (none configured: everything passes).
    pub fn new(users: BTreeMap<String, String>) -> Self {
        BasicAuth {
            users,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any user is configured.
    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether the request's `Authorization` header value is acceptable.
    pub fn allows(&self, header: Option<&str>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some(b64) = header.and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        }) else {
            return false;
        };
        let Some(raw) = common::base64::decode(b64.trim()) else {
            return false;
        };
        let Ok(pair) = String::from_utf8(raw) else {
            return false;
        };
        let Some((user, pass)) = pair.split_once(':') else {
            return false;
        };
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        use md5::Digest;
        let key: [u8; 16] = md5::Md5::new_with_prefix(pair.as_bytes()).finalize().into();
        if let Some(ok) = self.verified.lock().get(&key) {
            return *ok;
        }
        let ok = bcrypt::verify(pass, hash).unwrap_or(false);
        let mut cache = self.verified.lock();
        if cache.len() > 1000 {
            cache.clear();
        }
        cache.insert(key, ok);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_with_bcrypt() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let a = BasicAuth::new([("alice".to_string(), hash)].into_iter().collect());
        assert!(a.allows(Some("Basic YWxpY2U6cHc="))); // alice:pw
        assert!(a.allows(Some("Basic YWxpY2U6cHc="))); // cached
        assert!(!a.allows(Some("Basic YWxpY2U6eHg="))); // alice:xx
        assert!(!a.allows(None));
        assert!(!a.allows(Some("Bearer x")));
        assert!(BasicAuth::new(BTreeMap::new()).allows(None));
        assert_eq!(common::base64::decode("YWxpY2U6cHc=").unwrap(), b"alice:pw");
    }
}
