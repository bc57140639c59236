//! Google's application default credentials, looked for where Google's
//! client libraries look, first found first used:
//!
//! 1. the JSON file named by `GOOGLE_APPLICATION_CREDENTIALS`;
//! 2. gcloud's well-known file, `application_default_credentials.json` in
//!    `$CLOUDSDK_CONFIG` or `~/.config/gcloud`;
//! 3. the metadata server of the Compute Engine instance flint runs on
//!    (at `GCE_METADATA_HOST`, else 169.254.169.254, when one answers
//!    there or the machine says it is a Google one).
//!
//! A file holds a service account's key (`"type": "service_account"`: a
//! JWT signed RS256 with the key is exchanged for a token at its
//! `token_uri`) or a user's refresh token (`"type": "authorized_user"`,
//! what `gcloud auth application-default login` writes). Tokens are for the
//! scope the caller names (Compute read-only for discovery, Cloud
//! Monitoring write for remote write's `google_iam`) and are reused until
//! ten seconds before they expire; one the API refused is dropped.
//!
//! Token endpoints and Google's APIs are asked as Go's default HTTP client
//! asks them: through the environment's proxy (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `NO_PROXY`, upper or lower case; never for loopback
//! addresses), trusting the CAs of the file `SSL_CERT_FILE` names besides
//! the usual roots (a file that cannot be read is ignored, with a
//! warning). The metadata server is asked directly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::CredentialsError as E;
use common::httpclient::OAuth2Error;

pub use super::error::CredentialsError;

/// The scope of discovery: reading Compute Engine resources.
pub const SCOPE: &str = "https://www.googleapis.com/auth/compute.readonly";
/// Where a service account's token is asked for when its key names no
/// `token_uri`, and a user's.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The metadata server's usual address.
pub const METADATA_IP: &str = "169.254.169.254";
/// How long before its expiry a token is no longer used.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// The grant of a JWT assertion (RFC 7523).
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// What is said when nothing is found.
pub(super) const NOT_FOUND: &str = "google: could not find default credentials. See https://cloud.google.com/docs/authentication/external/set-up-adc for more information";

/// The environment variables the search reads.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    pub application_credentials: Option<String>,
    /// `CLOUDSDK_CONFIG`.
    pub cloudsdk_config: Option<String>,
    /// `HOME`.
    pub home: Option<String>,
    /// `GCE_METADATA_HOST`.
    pub metadata_host: Option<String>,
    /// `SSL_CERT_FILE`.
    pub ssl_cert_file: Option<String>,
    /// `HTTPS_PROXY` or `https_proxy`.
    pub https_proxy: Option<String>,
    /// `HTTP_PROXY` or `http_proxy`.
    pub http_proxy: Option<String>,
    /// `NO_PROXY` or `no_proxy`.
    pub no_proxy: Option<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn var_either(name: &str) -> Option<String> {
    var(name).or_else(|| var(&name.to_ascii_lowercase()))
}

/// The process's environment.
pub fn process_env() -> Env {
    Env {
        application_credentials: var("GOOGLE_APPLICATION_CREDENTIALS"),
        cloudsdk_config: var("CLOUDSDK_CONFIG"),
        home: var("HOME"),
        metadata_host: var("GCE_METADATA_HOST"),
        ssl_cert_file: var("SSL_CERT_FILE"),
        https_proxy: var_either("HTTPS_PROXY"),
        http_proxy: var_either("HTTP_PROXY"),
        no_proxy: var_either("NO_PROXY"),
    }
}

/// The fields of a credentials file that matter here.
#[derive(Deserialize, Default)]
struct CredentialsFile {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    token_uri: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
}

/// Where tokens come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A service account's key.
    ServiceAccount {
        /// The account (`client_email`), the assertion's issuer.
        email: String,
        /// The private key, PEM.
        key: String,
        /// The key's ID (`private_key_id`), the assertion's `kid`.
        key_id: String,
        /// Where the assertion is exchanged for a token.
        token_uri: String,
    },
    /// A user's refresh token.
    User {
        /// The OAuth client's ID.
        client_id: String,
        /// The OAuth client's secret.
        client_secret: String,
        /// The user's refresh token.
        refresh_token: String,
        /// Where the refresh token is exchanged for a token.
        token_uri: String,
    },
    /// The metadata server.
    Metadata {
        /// Its `host[:port]`.
        host: String,
    },
}

impl Kind {
    /// What the credentials are, for the log.
    pub fn describe(&self) -> String {
        match self {
            Kind::ServiceAccount { email, .. } => format!("service account {email}"),
            Kind::User { .. } => "user credentials".into(),
            Kind::Metadata { host } => format!("metadata server {host}"),
        }
    }
}

/// The credentials of a file's contents.
fn parse_file(data: &[u8]) -> Result<Kind, E> {
    let f: CredentialsFile = serde_json::from_slice(data).map_err(E::FileJson)?;
    let uri = |u: &str| {
        if u.is_empty() {
            DEFAULT_TOKEN_URI.to_string()
        } else {
            u.to_string()
        }
    };
    match f.kind.as_str() {
        "service_account" => Ok(Kind::ServiceAccount {
            email: f.client_email,
            key: f.private_key,
            key_id: f.private_key_id,
            token_uri: uri(&f.token_uri),
        }),
        "authorized_user" => Ok(Kind::User {
            client_id: f.client_id,
            client_secret: f.client_secret,
            refresh_token: f.refresh_token,
            token_uri: uri(&f.token_uri),
        }),
        "" => Err(E::MissingType),
        other => Err(E::UnknownType(other.to_string())),
    }
}

fn read_file(path: &Path) -> Result<Kind, E> {
    let data = std::fs::read(path).map_err(|err| E::Open {
        path: path.display().to_string(),
        err,
    })?;
    parse_file(&data)
}

/// gcloud's well-known file.
fn well_known_file(env: &Env) -> Option<PathBuf> {
    let dir = match (&env.cloudsdk_config, &env.home) {
        (Some(d), _) => PathBuf::from(d),
        (None, Some(h)) => Path::new(h).join(".config").join("gcloud"),
        (None, None) => return None,
    };
    Some(dir.join("application_default_credentials.json"))
}

/// The metadata server's host.
fn metadata_host(env: &Env) -> String {
    env.metadata_host
        .clone()
        .unwrap_or_else(|| METADATA_IP.to_string())
}

/// Whether flint runs on Compute Engine: told so by `GCE_METADATA_HOST`,
/// or the metadata server answering as Google's, or its name resolving to
/// it; the first answer counts, unless the machine's product name is
/// Google's, when either answer saying yes does.
async fn on_gce(env: &Env, client: &reqwest::Client) -> bool {
    if env.metadata_host.is_some() {
        return true;
    }
    let probe = async {
        client
            .get(format!("http://{METADATA_IP}"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()
            .and_then(|r| {
                r.headers()
                    .get("Metadata-Flavor")
                    .map(|v| v.as_bytes() == b"Google")
            })
            .unwrap_or(false)
    };
    let lookup = async {
        tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host("metadata.google.internal.:80"),
        )
        .await
        .ok()
        .and_then(|r| r.ok())
        .is_some_and(|mut addrs| addrs.any(|a| a.ip().to_string() == METADATA_IP))
    };
    let product = std::fs::read_to_string("/sys/class/dmi/id/product_name").unwrap_or_default();
    let google = matches!(product.trim(), "Google" | "Google Compute Engine");
    tokio::pin!(probe, lookup);
    let (first, other_probe) = tokio::select! {
        a = &mut probe => (a, true),
        b = &mut lookup => (b, false),
    };
    if first || !google {
        return first;
    }
    if other_probe {
        lookup.await
    } else {
        probe.await
    }
}

/// A client as Go's default one: the environment's proxy (not for
/// loopback addresses), the usual roots and those of `SSL_CERT_FILE`.
fn api_client(env: &Env) -> Result<reqwest::Client, E> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("flint/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(1)
        .connect_timeout(Duration::from_secs(30))
        .no_proxy();
    let mut no = env.no_proxy.clone().unwrap_or_default();
    if !no.is_empty() {
        no.push(',');
    }
    no.push_str("localhost,127.0.0.0/8,::1");
    let no = reqwest::NoProxy::from_string(&no);
    if let Some(u) = &env.https_proxy {
        let p = reqwest::Proxy::https(u).map_err(|err| E::ProxyUrl {
            setting: "HTTPS_PROXY",
            err,
        })?;
        b = b.proxy(p.no_proxy(no.clone()));
    }
    if let Some(u) = &env.http_proxy {
        let p = reqwest::Proxy::http(u).map_err(|err| E::ProxyUrl {
            setting: "HTTP_PROXY",
            err,
        })?;
        b = b.proxy(p.no_proxy(no));
    }
    if let Some(f) = &env.ssl_cert_file {
        // as Go, a file that cannot be read leaves the usual roots alone
        match extra_roots(f) {
            Ok(certs) => {
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            Err(e) => {
                tracing::warn!(component = "discovery manager", discovery = "gce", err = %e, "Ignoring SSL_CERT_FILE");
            }
        }
    }
    b.build().map_err(E::Build)
}

/// The certificates of a PEM file.
fn extra_roots(f: &str) -> Result<Vec<reqwest::Certificate>, E> {
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(f).map_err(|err| E::Open {
        path: f.to_string(),
        err,
    })?;
    let bad = |err: common::httpclient::BoxError| E::ReadCert {
        file: f.to_string(),
        err,
    };
    let mut out = Vec::new();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|e| bad(e.into()))?;
        out.push(reqwest::Certificate::from_der(&c).map_err(|e| bad(e.into()))?);
    }
    Ok(out)
}

struct Token {
    /// The `Authorization` header value.
    header: String,
    expires: Option<Instant>,
}

impl Token {
    fn fresh(&self) -> bool {
        match self.expires {
            Some(e) => Instant::now() + EXPIRY_MARGIN < e,
            None => true,
        }
    }
}

/// Found credentials and the token they last gave.
pub struct Credentials {
    /// Where tokens come from.
    pub kind: Kind,
    /// The scope tokens are asked for.
    scope: String,
    api: reqwest::Client,
    metadata: reqwest::Client,
    token: tokio::sync::Mutex<Option<Token>>,
}

/// A token endpoint's answer (JSON with `access_token`, `token_type`,
/// `expires_in`).
fn parse_token(v: &Value) -> Result<Token, E> {
    let access = v["access_token"].as_str().unwrap_or_default();
    if access.is_empty() {
        return Err(OAuth2Error::MissingAccessToken.into());
    }
    let expires_in = match &v["expires_in"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let kind = common::httpclient::oauth2::token_type(v["token_type"].as_str().unwrap_or(""));
    Ok(Token {
        header: format!("{kind} {access}"),
        expires: expires_in
            .filter(|s| *s > 0)
            .map(|s| Instant::now() + Duration::from_secs(s as u64)),
    })
}

/// An RSA key from PEM (PKCS #8, as Google writes them, or PKCS #1).
fn rsa_key(pem: &str) -> Result<ring::rsa::KeyPair, E> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::PrivateKeyDer;
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| E::Key(e.to_string()))?;
    common::httpclient::oauth2::rsa_key_pair(&key)
        .ok_or(E::KeyInvalid)?
        .map_err(|e| E::Key(e.to_string()))
}

/// The signed assertion of a service account: issued by its email for
/// `scope` and the token endpoint, valid an hour from ten seconds ago.
pub fn assertion(
    email: &str,
    key: &str,
    key_id: &str,
    token_uri: &str,
    scope: &str,
) -> Result<String, E> {
    let pair = rsa_key(key)?;
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .saturating_sub(10);
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if !key_id.is_empty() {
        header["kid"] = json!(key_id);
    }
    let claims = json!({
        "iss": email,
        "scope": scope,
        "aud": token_uri,
        "exp": iat + 3600,
        "iat": iat,
    });
    Ok(common::httpclient::oauth2::sign_jwt_with(
        &pair, "RS256", &header, &claims,
    )?)
}

/// The client of the metadata server: never through a proxy.
fn metadata_client() -> Result<reqwest::Client, E> {
    reqwest::Client::builder()
        .user_agent("gcloud-golang/0.1")
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .map_err(E::Build)
}

impl Credentials {
    /// Credentials of `kind` giving tokens for `scope`.
    pub fn new(kind: Kind, env: &Env, scope: &str) -> Result<Credentials, E> {
        Ok(Credentials {
            kind,
            scope: scope.to_string(),
            api: api_client(env)?,
            metadata: metadata_client()?,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The credentials of a file's contents (a service account's key or a
    /// user's refresh token), for `scope`.
    pub fn from_json(data: &[u8], env: &Env, scope: &str) -> Result<Credentials, E> {
        Self::new(parse_file(data)?, env, scope)
    }

    /// The first two steps of the search, which read files only: the
    /// credentials they find, or none when the metadata server is next.
    pub fn find_in_files(env: &Env, scope: &str) -> Result<Option<Credentials>, E> {
        match Self::file_kind(env)? {
            Some(kind) => Ok(Some(Self::new(kind, env, scope)?)),
            None => Ok(None),
        }
    }

    /// Looks for credentials as Google's libraries do, for `scope`.
    pub async fn find(env: &Env, scope: &str) -> Result<Credentials, E> {
        let metadata = metadata_client()?;
        let kind = Self::find_kind(env, &metadata).await?;
        Self::new(kind, env, scope)
    }

    fn file_kind(env: &Env) -> Result<Option<Kind>, E> {
        if let Some(f) = &env.application_credentials {
            return read_file(Path::new(f))
                .map(Some)
                .map_err(|e| E::ApplicationCredentials(Box::new(e)));
        }
        if let Some(path) = well_known_file(env) {
            if let Ok(data) = std::fs::read(&path) {
                return parse_file(&data).map(Some).map_err(|e| E::WellKnownFile {
                    path,
                    err: Box::new(e),
                });
            }
        }
        Ok(None)
    }

    async fn find_kind(env: &Env, metadata: &reqwest::Client) -> Result<Kind, E> {
        if let Some(kind) = Self::file_kind(env)? {
            return Ok(kind);
        }
        if on_gce(env, metadata).await {
            return Ok(Kind::Metadata {
                host: metadata_host(env),
            });
        }
        Err(E::NotFound)
    }

    /// The client for Google's APIs (the environment's proxy and CAs).
    pub fn api_client(&self) -> &reqwest::Client {
        &self.api
    }

    /// The `Authorization` header value: the token kept, or a new one.
    pub async fn authorization(&self) -> Result<String, E> {
        let mut t = self.token.lock().await;
        if let Some(tok) = t.as_ref().filter(|t| t.fresh()) {
            return Ok(tok.header.clone());
        }
        let tok = self.fetch().await?;
        let h = tok.header.clone();
        *t = Some(tok);
        Ok(h)
    }

    /// Drops the token kept (the API refused it).
    pub async fn forget(&self) {
        *self.token.lock().await = None;
    }

    async fn fetch(&self) -> Result<Token, E> {
        match &self.kind {
            Kind::ServiceAccount {
                email,
                key,
                key_id,
                token_uri,
            } => {
                let a = assertion(email, key, key_id, token_uri, &self.scope)?;
                let (status, body) = self
                    .post_form(token_uri, &[("grant_type", JWT_GRANT), ("assertion", &a)])
                    .await?;
                if !status.is_success() {
                    return Err(refused(status, &body, None));
                }
                let v: Value = serde_json::from_slice(&body).map_err(E::TokenJson)?;
                parse_token(&v)
            }
            Kind::User {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => {
                let (status, body) = self
                    .post_form(
                        token_uri,
                        &[
                            ("client_id", client_id),
                            ("client_secret", client_secret),
                            ("grant_type", "refresh_token"),
                            ("refresh_token", refresh_token),
                        ],
                    )
                    .await?;
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if !status.is_success() {
                    return Err(refused(status, &body, Some(&v)));
                }
                parse_token(&v)
            }
            Kind::Metadata { host } => {
                let suffix = format!(
                    "instance/service-accounts/default/token?{}",
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("scopes", &self.scope)
                        .finish()
                );
                let url = format!("http://{host}/computeMetadata/v1/{suffix}");
                let resp = self
                    .metadata
                    .get(&url)
                    .header("Metadata-Flavor", "Google")
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map_err(|err| E::Metadata {
                        url: url.clone(),
                        err,
                    })?;
                let status = resp.status().as_u16();
                let body = resp.bytes().await.map_err(|err| E::Metadata { url, err })?;
                if status == 404 {
                    return Err(E::MetadataNotDefined(suffix));
                }
                if status != 200 {
                    return Err(E::MetadataStatus {
                        status,
                        body: String::from_utf8_lossy(&body).trim().to_string(),
                    });
                }
                let v: Value = serde_json::from_slice(&body).map_err(E::MetadataJson)?;
                let expires = v["expires_in"].as_i64().unwrap_or(0);
                if expires == 0 || v["access_token"].as_str().unwrap_or("").is_empty() {
                    return Err(E::MetadataIncomplete);
                }
                parse_token(&v)
            }
        }
    }

    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), E> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let resp = self
            .api
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|err| E::Post {
                url: url.to_string(),
                err,
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(OAuth2Error::Send)?;
        Ok((status, body))
    }
}

/// A token endpoint's refusal: its error code and description when its
/// JSON answer `v` has them, else the status and body.
fn refused(status: reqwest::StatusCode, body: &[u8], v: Option<&Value>) -> E {
    if let Some(code) = v.and_then(|v| v["error"].as_str()) {
        return OAuth2Error::Refused {
            code: code.to_string(),
            description: v.and_then(|v| v["error_description"].as_str().map(str::to_string)),
        }
        .into();
    }
    OAuth2Error::Status {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_as_google_reads_them() {
        let k = parse_file(
            br#"{"type": "service_account", "project_id": "p", "private_key_id": "k1",
                 "private_key": "PEM", "client_email": "sd@p.iam.gserviceaccount.com",
                 "client_id": "1"}"#,
        )
        .unwrap();
        assert_eq!(
            k,
            Kind::ServiceAccount {
                email: "sd@p.iam.gserviceaccount.com".into(),
                key: "PEM".into(),
                key_id: "k1".into(),
                token_uri: DEFAULT_TOKEN_URI.into(),
            }
        );
        let k = parse_file(
            br#"{"type": "authorized_user", "client_id": "c", "client_secret": "s",
                 "refresh_token": "r", "token_uri": "https://example.test/token"}"#,
        )
        .unwrap();
        assert!(
            matches!(k, Kind::User { ref token_uri, .. } if token_uri == "https://example.test/token")
        );
        assert_eq!(
            parse_file(br#"{"type": "external_account"}"#)
                .unwrap_err()
                .to_string(),
            "unknown credential type: \"external_account\""
        );
        assert_eq!(
            parse_file(b"{}").unwrap_err().to_string(),
            "missing 'type' field in credentials"
        );
    }

    #[tokio::test]
    async fn the_chain_in_google_order() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir
            .path()
            .join("gcloud/application_default_credentials.json");
        std::fs::create_dir_all(user.parent().unwrap()).unwrap();
        std::fs::write(
            &user,
            r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#,
        )
        .unwrap();
        let key = dir.path().join("key.json");
        std::fs::write(
            &key,
            r#"{"type": "service_account", "client_email": "a@b"}"#,
        )
        .unwrap();
        let client = reqwest::Client::new();
        let mut env = Env {
            cloudsdk_config: Some(dir.path().join("gcloud").display().to_string()),
            metadata_host: Some("127.0.0.1:1".into()),
            ..Env::default()
        };
        // the well-known file before the metadata server
        let k = Credentials::find_kind(&env, &client).await.unwrap();
        assert!(matches!(k, Kind::User { .. }), "{k:?}");
        // the named file before both
        env.application_credentials = Some(key.display().to_string());
        let k = Credentials::find_kind(&env, &client).await.unwrap();
        assert!(matches!(k, Kind::ServiceAccount { .. }), "{k:?}");
        // a named file that is missing is an error, not a step further
        env.application_credentials = Some(dir.path().join("nope.json").display().to_string());
        let e = Credentials::find_kind(&env, &client).await.unwrap_err();
        assert!(
            matches!(&e, E::ApplicationCredentials(inner) if matches!(**inner, E::Open { .. })),
            "{e}"
        );
        let e = e.to_string();
        assert!(
            e.starts_with("google: error getting credentials using GOOGLE_APPLICATION_CREDENTIALS environment variable: open ")
                && e.ends_with("nope.json: no such file or directory"),
            "{e}"
        );
        // nothing but GCE_METADATA_HOST: the metadata server there
        env.application_credentials = None;
        env.cloudsdk_config = Some(dir.path().join("empty").display().to_string());
        let k = Credentials::find_kind(&env, &client).await.unwrap();
        assert_eq!(
            k,
            Kind::Metadata {
                host: "127.0.0.1:1".into()
            }
        );
        // ~/.config/gcloud when CLOUDSDK_CONFIG is not set
        std::fs::create_dir_all(dir.path().join(".config")).unwrap();
        std::fs::rename(dir.path().join("gcloud"), dir.path().join(".config/gcloud")).unwrap();
        env.cloudsdk_config = None;
        env.home = Some(dir.path().display().to_string());
        let k = Credentials::find_kind(&env, &client).await.unwrap();
        assert!(matches!(k, Kind::User { .. }), "{k:?}");
    }

    #[test]
    fn token_answers() {
        let t = parse_token(
            &json!({"access_token": "ya29.x", "expires_in": 3599, "token_type": "Bearer"}),
        )
        .unwrap();
        assert_eq!(t.header, "Bearer ya29.x");
        assert!(t.fresh());
        let t = parse_token(&json!({"access_token": "a", "expires_in": 5})).unwrap();
        assert!(!t.fresh(), "within ten seconds of its expiry");
        assert!(parse_token(&json!({"expires_in": 5})).is_err());
    }
}
