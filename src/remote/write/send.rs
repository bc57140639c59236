//! Sending one request body to a remote write receiver, as Prometheus's
//! sender does: the 1.0 or 2.0 headers, snappy, and what an answer means
//! (2xx sent; 5xx, 429 with `retry_on_http_429`, and network errors
//! retried after a backoff or `Retry-After`; other 4xx dropped). A 2.0
//! receiver that answers 415, or answers 2xx without saying what it wrote
//! (a 1.0-only receiver that decoded nothing), makes the queue speak 1.0.
//!
//! Authentication besides the HTTP client's own: `sigv4` signatures,
//! `azuread` tokens of Microsoft Entra ID, and `google_iam` tokens of
//! Google Cloud for Cloud Monitoring (from `credentials_file`, else
//! Google's application default credentials: the file of
//! `GOOGLE_APPLICATION_CREDENTIALS` or gcloud's well-known file, read when
//! the sender is made, else the metadata server, looked for at the first
//! send).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::error::{SenderError, SigningError};
use crate::config::remote::{AzureAdConfig, AzureCertificate, GoogleIamConfig, RemoteWriteConfig};
use common::httpclient::{sigv4, HttpClient};
use discovery::azure::credentials::TokenSource;
use discovery::azure::AzureError;
use discovery::ec2::credentials;
use discovery::gce::credentials as google;

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Written; for 2.0, the samples the receiver says it wrote.
    Sent {
        /// `X-Prometheus-Remote-Write-Samples-Written`, when answered.
        written: Option<u64>,
    },
    /// Worth trying again, after `retry_after` when the receiver said.
    Retry {
        /// Why, for the log.
        reason: String,
        /// The receiver's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// Dropped: the receiver refused it for good.
    Refused {
        /// Status and the receiver's message.
        reason: String,
    },
    /// The receiver does not take 2.0: send again as 1.0.
    NotV2 {
        /// What it answered.
        reason: String,
    },
}

/// The client of one remote write entry.
pub struct Sender {
    cfg: RemoteWriteConfig,
    http: HttpClient,
    base_dir: std::path::PathBuf,
    /// Whether requests are 2.0 (until the receiver turns out not to take it).
    v2: AtomicBool,
    /// With `sigv4`: the region and credentials, found at the first send.
    sigv4: Option<SigV4>,
    /// With `azuread`: Microsoft Entra ID tokens.
    azuread: Option<TokenSource>,
    /// With `google_iam`: Google Cloud tokens.
    google_iam: Option<GoogleIam>,
}

/// The scope of `google_iam` tokens: writing to Cloud Monitoring.
pub const MONITORING_WRITE: &str = "https://www.googleapis.com/auth/monitoring.write";

/// The Google credentials of a `google_iam` entry: those of its file, or
/// the application default credentials (the metadata server's looked for
/// at the first request when no file names them).
struct GoogleIam {
    env: google::Env,
    found: tokio::sync::Mutex<Option<std::sync::Arc<google::Credentials>>>,
}

impl GoogleIam {
    /// Reads `credentials_file` (against `base_dir`), else the files of
    /// the default credentials.
    fn new(cfg: &GoogleIamConfig, base_dir: &std::path::Path) -> Result<GoogleIam, SenderError> {
        let env = google::process_env();
        let found = if cfg.credentials_file.is_empty() {
            google::Credentials::find_in_files(&env, MONITORING_WRITE)
                .map_err(SenderError::GoogleDefault)?
        } else {
            let path = base_dir.join(&cfg.credentials_file);
            let data = std::fs::read(&path).map_err(|err| {
                SenderError::GoogleFileRead(google::CredentialsError::Open {
                    path: path.display().to_string(),
                    err,
                })
            })?;
            Some(
                google::Credentials::from_json(&data, &env, MONITORING_WRITE)
                    .map_err(SenderError::GoogleFileParse)?,
            )
        };
        Ok(GoogleIam {
            env,
            found: tokio::sync::Mutex::new(found.map(std::sync::Arc::new)),
        })
    }

    /// The `Authorization` header value.
    async fn authorization(&self) -> Result<String, SenderError> {
        let creds = {
            let mut found = self.found.lock().await;
            match &*found {
                Some(c) => std::sync::Arc::clone(c),
                None => {
                    let c = google::Credentials::find(&self.env, MONITORING_WRITE)
                        .await
                        .map_err(SenderError::GoogleDefault)?;
                    tracing::info!(component = "remote", credentials = %c.kind.describe(), "Found Google credentials");
                    let c = std::sync::Arc::new(c);
                    *found = Some(std::sync::Arc::clone(&c));
                    c
                }
            }
        };
        creds
            .authorization()
            .await
            .map_err(SenderError::GoogleDefault)
    }

    /// Drops the token kept (the receiver refused it).
    async fn forget(&self) {
        if let Some(c) = &*self.found.lock().await {
            c.forget().await;
        }
    }
}

/// The token source of an `azuread` entry: its cloud's Entra ID, Azure
/// Monitor's scope (or the configured one), tokens replaced halfway
/// through their lifetime as Prometheus replaces them.
fn azuread_tokens(
    a: &AzureAdConfig,
    client: &reqwest::Client,
    base_dir: &std::path::Path,
) -> Result<TokenSource, AzureError> {
    use discovery::azure::credentials::{
        process_env, Credential, ManagedIdentityEndpoint, AZURE_CHINA, AZURE_GOVERNMENT,
        AZURE_PUBLIC,
    };
    let (cloud, audience) = match a.cloud.as_str() {
        "AzureChina" => (AZURE_CHINA, "https://monitor.azure.cn//.default"),
        "AzureGovernment" => (AZURE_GOVERNMENT, "https://monitor.azure.us//.default"),
        _ => (AZURE_PUBLIC, "https://monitor.azure.com//.default"),
    };
    let env = process_env();
    let credential = if let Some(m) = &a.managed_identity {
        Credential::ManagedIdentity {
            client_id: Some(m.client_id.clone()).filter(|c| !c.is_empty()),
            endpoint: ManagedIdentityEndpoint::from_env(&env),
        }
    } else if let Some(w) = &a.workload_identity {
        let token_file = if w.token_file_path.is_empty() {
            env("AZURE_FEDERATED_TOKEN_FILE")
                .unwrap_or_else(|| "/var/run/secrets/azure/tokens/azure-identity-token".into())
        } else {
            w.token_file_path.clone()
        };
        Credential::WorkloadIdentity {
            tenant: w.tenant_id.clone(),
            client_id: w.client_id.clone(),
            token_file,
        }
    } else if let Some(c) = &a.certificate {
        Credential::ClientCertificate {
            tenant: c.tenant_id.clone(),
            client_id: c.client_id.clone(),
            certificate: std::sync::Arc::new(client_certificate(c, base_dir)?),
        }
    } else if let Some(o) = &a.oauth {
        Credential::new(
            "OAuth",
            &o.tenant_id,
            &o.client_id,
            o.client_secret.as_ref().map_or("", |s| s.0.as_str()),
            &env,
        )?
    } else {
        let tenant = a.sdk.as_ref().map_or("", |s| s.tenant_id.as_str());
        Credential::new("SDK", tenant, "", "", &env)?
    };
    let scope = if a.scope.is_empty() {
        audience.to_string()
    } else {
        a.scope.clone()
    };
    TokenSource::for_scope(credential, cloud, scope, true, client.clone())
}

/// The certificate and key of `azuread`'s `certificate` (files against
/// `base_dir`), as PEM.
fn client_certificate(
    c: &AzureCertificate,
    base_dir: &std::path::Path,
) -> Result<discovery::azure::certificate::ClientCertificate, AzureError> {
    let read = |what, file: &str| {
        let path = base_dir.join(file);
        std::fs::read(&path).map_err(|err| AzureError::ReadCertificate {
            what,
            file: path.display().to_string(),
            err,
        })
    };
    let mut data = read("certificate", &c.certificate_path)?;
    if !c.certificate_key_path.is_empty() {
        data.push(b'\n');
        data.extend(read("private key", &c.certificate_key_path)?);
    }
    if c.certificate_password
        .as_ref()
        .is_some_and(|p| !p.0.is_empty())
    {
        return Err(AzureError::CertificateData(Box::new(AzureError::Certificate(
            "certificate_password is for PKCS #12 (PFX) files, which flint does not read: give the certificate and its key as PEM, without a password".into(),
        ))));
    }
    discovery::azure::certificate::ClientCertificate::from_pem(&data, c.send_certificate_chain)
        .map_err(|e| AzureError::CertificateData(Box::new(e)))
}

/// Signing requests with AWS Signature Version 4.
struct SigV4 {
    cfg: crate::config::remote::SigV4Config,
    env: credentials::Env,
    found: tokio::sync::Mutex<Option<(String, std::sync::Arc<credentials::Provider>)>>,
}

impl SigV4 {
    /// The headers that sign a request to `url` with `headers` and `body`.
    async fn sign(
        &self,
        http: &HttpClient,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, SigningError> {
        let (region, provider) = {
            let mut found = self.found.lock().await;
            if found.is_none() {
                let region = credentials::region(
                    &self.cfg.region,
                    &self.cfg.profile,
                    &self.env,
                    http.client(),
                )
                .await?;
                let secret = self
                    .cfg
                    .secret_key
                    .as_ref()
                    .map(|s| s.0.as_str())
                    .unwrap_or("");
                let provider = credentials::Provider::new(
                    &self.cfg.access_key,
                    secret,
                    &self.cfg.profile,
                    &self.cfg.role_arn,
                    &self.cfg.external_id,
                    &region,
                    self.cfg.use_fips_sts_endpoint,
                    &self.env,
                )?;
                *found = Some((region, std::sync::Arc::new(provider)));
            }
            found.clone().expect("just found")
        };
        let creds = provider.get(http).await?;
        let u = url::Url::parse(url)?;
        let host = match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return Err(SigningError::NoHost(url.to_string())),
        };
        let query: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        let service = if self.cfg.service_name.is_empty() {
            "aps"
        } else {
            self.cfg.service_name.as_str()
        };
        Ok(sigv4::sign(
            &sigv4::Request {
                method: "POST",
                path: u.path(),
                query: &query,
                host: &host,
                headers,
                body,
            },
            &creds,
            &region,
            service,
            &sigv4::amz_date(crate::app::now_ms()),
        ))
    }

    /// Forgets the credentials (after the receiver refused them).
    async fn forget(&self) {
        if let Some((_, p)) = &*self.found.lock().await {
            p.forget().await;
        }
    }
}

/// `Retry-After`: whole seconds or an HTTP date.
fn retry_after(h: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let v = h?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = common::rfc3339::parse_http_date(v)?;
    let now = crate::app::now_ms();
    (when > now).then(|| Duration::from_millis((when - now) as u64))
}

impl Sender {
    /// The client for `cfg` (relative files against `base_dir`).
    pub fn new(cfg: &RemoteWriteConfig, base_dir: &std::path::Path) -> Result<Sender, SenderError> {
        let http = HttpClient::new(&cfg.http_client(), base_dir, false)?;
        let azuread = match &cfg.azuread {
            Some(a) => Some(azuread_tokens(a, http.client(), base_dir)?),
            None => None,
        };
        let google_iam = match &cfg.google_iam {
            Some(g) => Some(GoogleIam::new(g, base_dir)?),
            None => None,
        };
        Ok(Sender {
            azuread,
            google_iam,
            http,
            base_dir: base_dir.to_path_buf(),
            v2: AtomicBool::new(cfg.protobuf_message == crate::config::remote::PROTO_V2),
            sigv4: cfg.sigv4.clone().map(|c| SigV4 {
                cfg: c,
                env: credentials::process_env(),
                found: tokio::sync::Mutex::new(None),
            }),
            cfg: cfg.clone(),
        })
    }

    /// Whether requests are 2.0 now.
    pub fn is_v2(&self) -> bool {
        self.v2.load(Ordering::Relaxed)
    }

    /// Makes requests 1.0 from now on.
    pub fn fall_back_to_v1(&self) {
        self.v2.store(false, Ordering::Relaxed);
    }

    /// The client to use for one request: with `round_robin_dns`, one made
    /// to connect to an address of the host picked at random.
    async fn client(&self) -> Result<HttpClient, SenderError> {
        let u = url::Url::parse(&self.cfg.url)?;
        let host = u.host_str().unwrap_or_default().to_string();
        let port = u.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|err| SenderError::Lookup {
                host: host.clone(),
                err,
            })?
            .collect();
        if addrs.is_empty() {
            return Err(SenderError::NoAddresses { host });
        }
        let pick = addrs[(crate::app::now_ms() as usize) % addrs.len()];
        Ok(HttpClient::new_resolved(
            &self.cfg.http_client(),
            &self.base_dir,
            &host,
            pick,
        )?)
    }

    /// Sends `body` (a snappy-compressed request of the given version) once.
    pub async fn attempt(&self, body: Vec<u8>, v2: bool, retry: u32) -> Attempt {
        let own;
        let http = if self.cfg.round_robin_dns {
            match self.client().await {
                Ok(c) => {
                    own = c;
                    &own
                }
                Err(e) => {
                    return Attempt::Retry {
                        reason: e.to_string(),
                        retry_after: None,
                    }
                }
            }
        } else {
            &self.http
        };
        let content_type = if v2 {
            "application/x-protobuf;proto=io.prometheus.write.v2.Request"
        } else {
            "application/x-protobuf"
        };
        let version = if v2 { "2.0.0" } else { "0.1.0" };
        let mut req = http
            .client()
            .post(&self.cfg.url)
            .timeout(self.cfg.remote_timeout.0)
            .header("Content-Encoding", "snappy")
            .header("User-Agent", concat!("flint/", env!("CARGO_PKG_VERSION")))
            .header("Content-Type", content_type)
            .header("X-Prometheus-Remote-Write-Version", version);
        if retry > 0 {
            req = req.header("Retry-Attempt", retry.to_string());
        }
        for (k, v) in &self.cfg.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = match &self.sigv4 {
            Some(s) => {
                let signed = [
                    ("Content-Encoding", "snappy"),
                    ("Content-Type", content_type),
                    ("X-Prometheus-Remote-Write-Version", version),
                ];
                match s.sign(http, &self.cfg.url, &signed, &body).await {
                    Ok(headers) => headers.into_iter().fold(req, |r, (k, v)| r.header(k, v)),
                    Err(e) => {
                        return Attempt::Retry {
                            reason: format!("signing the request: {e}"),
                            retry_after: None,
                        }
                    }
                }
            }
            None => match http.authorize(req).await {
                Ok(r) => r,
                Err(e) => {
                    return Attempt::Retry {
                        reason: e.to_string(),
                        retry_after: None,
                    }
                }
            },
        };
        let req = match &self.azuread {
            Some(tokens) => match tokens.token().await {
                Ok(t) => req.header(reqwest::header::AUTHORIZATION, format!("Bearer {t}")),
                Err(e) => {
                    return Attempt::Retry {
                        reason: format!("Failed to get access token: {e}"),
                        retry_after: None,
                    }
                }
            },
            None => req,
        };
        let req = match &self.google_iam {
            Some(g) => match g.authorization().await {
                Ok(h) => req.header(reqwest::header::AUTHORIZATION, h),
                Err(e) => {
                    return Attempt::Retry {
                        reason: format!("getting a Google token: {}", error_chain(&e)),
                        retry_after: None,
                    }
                }
            },
            None => req,
        };
        let resp = match req.body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    reason: error_chain(&e),
                    retry_after: None,
                }
            }
        };
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let written = header("X-Prometheus-Remote-Write-Samples-Written");
        let any_written = written.is_some()
            || header("X-Prometheus-Remote-Write-Histograms-Written").is_some()
            || header("X-Prometheus-Remote-Write-Exemplars-Written").is_some();
        let after = retry_after(resp.headers().get("Retry-After"));
        let text = || async {
            let b = resp.bytes().await.unwrap_or_default();
            let s = String::from_utf8_lossy(&b[..b.len().min(1024)]);
            s.trim().to_string()
        };
        if status.is_success() {
            if v2 && !any_written {
                return Attempt::NotV2 {
                    reason: format!(
                        "the receiver answered {status} without saying what it wrote: it takes only remote write 1.0"
                    ),
                };
            }
            return Attempt::Sent { written };
        }
        let reason = format!("server returned HTTP status {status}: {}", text().await);
        if matches!(status.as_u16(), 401 | 403) {
            // temporary credentials may have run out: fetch them again
            if let Some(s) = &self.sigv4 {
                s.forget().await;
            }
            if let Some(t) = &self.azuread {
                t.forget().await;
            }
            if let Some(g) = &self.google_iam {
                g.forget().await;
            }
        }
        if status.as_u16() == 415 && v2 {
            return Attempt::NotV2 { reason };
        }
        if status.is_server_error()
            || (status.as_u16() == 429 && self.cfg.queue_config.retry_on_http_429)
        {
            return Attempt::Retry {
                reason,
                retry_after: after,
            };
        }
        Attempt::Refused { reason }
    }
}

/// An error with its causes, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
