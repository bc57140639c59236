//! The HTTP client of one set of `HttpClientConfig` settings (a scrape job,
//! an HTTP discovery endpoint, an Alertmanager): TLS (own CA, client
//! certificate, server name, versions, insecure mode), proxy, redirects,
//! HTTP/2 (offered by ALPN over TLS with `enable_http2`, HTTP/1.1
//! otherwise and for plain HTTP, as Prometheus's Go clients do), and the
//! authentication header, whose files are read at every request as
//! Prometheus reads them (OAuth 2.0 tokens in [`oauth2`]).

mod error;
pub mod oauth2;
pub mod sigv4;
pub mod unix;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::config::http::{tls_version, HttpClientConfig, ProxyConfig, TlsConfig};

pub use error::{BoxError, HttpClientError, OAuth2Error};

/// A client and the credentials it adds to each request.
pub struct HttpClient {
    client: reqwest::Client,
    http: HttpClientConfig,
    base_dir: PathBuf,
    oauth2: Option<oauth2::TokenSource>,
}

/// An error with its causes, `: `-separated (reqwest's own message names
/// only the outermost one).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

/// The value of an environment variable by its upper- or lower-case name.
fn env_either(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .or_else(|| std::env::var(name.to_ascii_lowercase()).ok())
        .filter(|v| !v.is_empty())
}

/// Applies proxy settings: none unless configured (the environment's only
/// with `proxy_from_environment`, as in Prometheus), `no_proxy`
/// exclusions, and the headers of CONNECT requests.
fn apply_proxy(
    mut b: reqwest::ClientBuilder,
    p: &ProxyConfig,
) -> Result<reqwest::ClientBuilder, HttpClientError> {
    b = b.no_proxy();
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, vs) in &p.proxy_connect_header {
        for v in vs {
            headers.append(
                reqwest::header::HeaderName::from_bytes(k.as_bytes())
                    .map_err(|e| bad_header(k, e.into()))?,
                reqwest::header::HeaderValue::from_str(&v.0)
                    .map_err(|e| bad_header(k, e.into()))?,
            );
        }
    }
    let bad_url = |setting| move |err| HttpClientError::ProxyUrl { setting, err };
    let finish = |proxy: reqwest::Proxy, no: Option<reqwest::NoProxy>| {
        let proxy = proxy.no_proxy(no);
        if headers.is_empty() {
            proxy
        } else {
            proxy.headers(headers.clone())
        }
    };
    if let Some(u) = &p.proxy_url {
        let proxy = reqwest::Proxy::all(u).map_err(bad_url("proxy_url"))?;
        let no = p
            .no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string);
        b = b.proxy(finish(proxy, no));
    } else if p.proxy_from_environment {
        let no = env_either("NO_PROXY").and_then(|n| reqwest::NoProxy::from_string(&n));
        if let Some(u) = env_either("HTTPS_PROXY") {
            let proxy = reqwest::Proxy::https(&u).map_err(bad_url("HTTPS_PROXY"))?;
            b = b.proxy(finish(proxy, no.clone()));
        }
        if let Some(u) = env_either("HTTP_PROXY") {
            let proxy = reqwest::Proxy::http(&u).map_err(bad_url("HTTP_PROXY"))?;
            b = b.proxy(finish(proxy, no));
        }
    }
    Ok(b)
}

fn bad_header(name: &str, err: Box<dyn std::error::Error + Send + Sync>) -> HttpClientError {
    HttpClientError::ProxyConnectHeader {
        name: name.to_string(),
        err,
    }
}

fn read(base: &Path, file: &str) -> Result<Vec<u8>, HttpClientError> {
    let path = base.join(file);
    std::fs::read(&path).map_err(|err| HttpClientError::ReadFile { path, err })
}

fn read_trimmed(base: &Path, file: &str) -> Result<String, HttpClientError> {
    let b = read(base, file)?;
    Ok(String::from_utf8_lossy(&b).trim().to_string())
}

/// Accepts any server certificate (`insecure_skip_verify`), still checking
/// handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks the certificate against `server_name` instead of the URL's host.
#[derive(Debug)]
struct NamedVerify {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedVerify {
    fn verify_server_cert(
        &self,
        end: &CertificateDer<'_>,
        mid: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end, mid, &self.name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn tls_client_config(t: &TlsConfig, base: &Path) -> Result<rustls::ClientConfig, HttpClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> =
        vec![&rustls::version::TLS12, &rustls::version::TLS13];
    if let Some(min) = &t.min_version {
        if std::ptr::eq(
            tls_version(min).map_err(HttpClientError::TlsVersion)?,
            &rustls::version::TLS13,
        ) {
            versions.retain(|v| v.version == rustls::ProtocolVersion::TLSv1_3);
        }
    }
    if let Some(max) = &t.max_version {
        if std::ptr::eq(
            tls_version(max).map_err(HttpClientError::TlsVersion)?,
            &rustls::version::TLS12,
        ) {
            versions.retain(|v| v.version == rustls::ProtocolVersion::TLSv1_2);
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| HttpClientError::TlsSettings(e.into()))?;
    let mut roots = rustls::RootCertStore::empty();
    let ca_pem = match (&t.ca, &t.ca_file) {
        (Some(pem), _) => Some(pem.as_bytes().to_vec()),
        (None, Some(f)) => Some(read(base, f)?),
        (None, None) => None,
    };
    match ca_pem {
        Some(pem) => {
            let mut n = 0;
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(HttpClientError::CaLoad)?;
                roots.add(c).map_err(HttpClientError::CaUse)?;
                n += 1;
            }
            if n == 0 {
                return Err(HttpClientError::NoCaCert);
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let roots = Arc::new(roots);
    let verifier: Arc<dyn ServerCertVerifier> = if t.insecure_skip_verify {
        Arc::new(NoVerify(Arc::clone(&provider)))
    } else {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::clone(&roots),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| HttpClientError::TlsSettings(e.into()))?;
        match &t.server_name {
            Some(name) => Arc::new(NamedVerify {
                inner,
                name: ServerName::try_from(name.clone()).map_err(|err| {
                    HttpClientError::ServerName {
                        name: name.clone(),
                        err,
                    }
                })?,
            }),
            None => inner,
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let cert_pem = match (&t.cert, &t.cert_file) {
        (Some(p), _) => Some(p.as_bytes().to_vec()),
        (None, Some(f)) => Some(read(base, f)?),
        _ => None,
    };
    let cfg = match cert_pem {
        Some(cert_pem) => {
            let key_pem = match (&t.key, &t.key_file) {
                (Some(k), _) => k.0.as_bytes().to_vec(),
                (None, Some(f)) => read(base, f)?,
                _ => return Err(HttpClientError::MissingClientKey),
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<_, _>>()
                .map_err(HttpClientError::ClientCertLoad)?;
            let key =
                PrivateKeyDer::from_pem_slice(&key_pem).map_err(HttpClientError::ClientKeyLoad)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(HttpClientError::ClientCertUse)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(cfg)
}

impl HttpClient {
    /// Builds the client; relative file names are resolved against
    /// `base_dir` (the configuration file's folder). `gzip` lets the client
    /// ask for and decode gzip bodies.
    pub fn new(
        http: &HttpClientConfig,
        base_dir: &Path,
        gzip: bool,
    ) -> Result<HttpClient, HttpClientError> {
        Self::build(http, base_dir, gzip, None)
    }

    /// Like [`HttpClient::new`], connecting to `addr` for `host`.
    pub fn new_resolved(
        http: &HttpClientConfig,
        base_dir: &Path,
        host: &str,
        addr: std::net::SocketAddr,
    ) -> Result<HttpClient, HttpClientError> {
        Self::build(http, base_dir, false, Some((host, addr)))
    }

    fn build(
        http: &HttpClientConfig,
        base_dir: &Path,
        gzip: bool,
        resolve: Option<(&str, std::net::SocketAddr)>,
    ) -> Result<HttpClient, HttpClientError> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("flint/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(1)
            .connect_timeout(Duration::from_secs(30));
        if !gzip {
            b = b.no_gzip();
        }
        if let Some((host, addr)) = resolve {
            b = b.resolve(host, addr);
        }
        b = b.redirect(if http.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        });
        b = apply_proxy(b, &http.proxy())?;
        // HTTP/2 only by ALPN over TLS, as Go's transport offers it; plain
        // HTTP is always HTTP/1.1
        let http2 = http.http2(true);
        if !http2 {
            b = b.http1_only();
        }
        if let Some(t) = &http.tls_config {
            let mut tls = tls_client_config(t, base_dir)?;
            tls.alpn_protocols = if http2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            };
            b = b.use_preconfigured_tls(tls);
        }
        let client = b.build().map_err(HttpClientError::Build)?;
        let oauth2 = match &http.oauth2 {
            Some(o) => Some(oauth2::TokenSource::new(o, base_dir)?),
            None => None,
        };
        Ok(HttpClient {
            client,
            http: http.clone(),
            base_dir: base_dir.to_path_buf(),
            oauth2,
        })
    }

    /// The underlying client (TLS, proxy and redirect settings applied).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Adds the configured credentials (`basic_auth`, `authorization`,
    /// `bearer_token[_file]`, an `oauth2` token) to a request, reading
    /// their files now.
    pub async fn authorize(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, HttpClientError> {
        for (name, h) in &self.http.http_headers {
            for v in &h.values {
                req = req.header(name.as_str(), v.as_str());
            }
            for v in &h.secrets {
                req = req.header(name.as_str(), v.0.as_str());
            }
            for f in &h.files {
                let path = self.base_dir.join(f);
                let v = std::fs::read_to_string(&path)
                    .map_err(|err| HttpClientError::ReadHeadersFile { path, err })?;
                req = req.header(name.as_str(), v.trim());
            }
        }
        if let Some(o) = &self.oauth2 {
            let value = o.authorization().await?;
            return Ok(req.header(reqwest::header::AUTHORIZATION, value));
        }
        let h = &self.http;
        if let Some(b) = &h.basic_auth {
            let user = match &b.username_file {
                Some(f) => read_trimmed(&self.base_dir, f)?,
                None => b.username.clone(),
            };
            let pass = match (&b.password, &b.password_file) {
                (Some(p), _) => Some(p.0.clone()),
                (None, Some(f)) => Some(read_trimmed(&self.base_dir, f)?),
                _ => None,
            };
            req = req.basic_auth(user, pass);
        }
        let bearer = |kind: &str, cred: String| format!("{kind} {cred}");
        if let Some(a) = &h.authorization {
            let kind = a.kind.clone().unwrap_or_else(|| "Bearer".into());
            let cred = match (&a.credentials, &a.credentials_file) {
                (Some(c), _) => c.0.clone(),
                (None, Some(f)) => read_trimmed(&self.base_dir, f)?,
                _ => String::new(),
            };
            req = req.header(reqwest::header::AUTHORIZATION, bearer(&kind, cred));
        } else if let Some(t) = &h.bearer_token {
            req = req.header(
                reqwest::header::AUTHORIZATION,
                bearer("Bearer", t.0.clone()),
            );
        } else if let Some(f) = &h.bearer_token_file {
            req = req.header(
                reqwest::header::AUTHORIZATION,
                bearer("Bearer", read_trimmed(&self.base_dir, f)?),
            );
        }
        Ok(req)
    }
}
