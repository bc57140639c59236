//! Access tokens for Azure Resource Manager (discovery) and Azure Monitor
//! (remote write's `azuread`), as the Azure SDK's credentials obtain them:
//!
//! - `OAuth`: a client secret sent to Microsoft Entra ID (Azure AD) at the
//!   cloud's authority (`https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`
//!   for the public cloud);
//! - `WorkloadIdentity`: the federated token of the file named by
//!   `AZURE_FEDERATED_TOKEN_FILE` sent as a client assertion, with
//!   `AZURE_CLIENT_ID` and `AZURE_TENANT_ID`;
//! - `ManagedIdentity`: the identity endpoint of the App Service family
//!   (`IDENTITY_ENDPOINT` with `IDENTITY_HEADER`) when those are set, else
//!   the instance metadata service (`http://169.254.169.254`, or the
//!   address in `AZURE_POD_IDENTITY_AUTHORITY_HOST`), optionally for a
//!   user-assigned identity's client ID;
//! - `ClientCertificate` (remote write's `certificate`): a client
//!   assertion signed with the key of a certificate registered with the
//!   application ([`super::certificate`]);
//! - `SDK`: the first of these that gives a token: a client secret from
//!   `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, the
//!   workload identity, the managed identity (`AZURE_CLIENT_ID` naming a
//!   user-assigned one).
//!
//! Tokens are kept until shortly before they expire. Requests to Entra ID
//! go through the entry's HTTP client (its proxy and TLS settings); those
//! to a managed identity endpoint go straight to it, never through a
//! proxy.

use super::AzureError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The endpoints of one Azure cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cloud {
    /// Microsoft Entra ID's authority host, with a trailing slash.
    pub authority: &'static str,
    /// Azure Resource Manager.
    pub resource_manager: &'static str,
    /// The audience of Resource Manager tokens.
    pub audience: &'static str,
}

/// The public cloud.
pub const AZURE_PUBLIC: Cloud = Cloud {
    authority: "https://login.microsoftonline.com/",
    resource_manager: "https://management.azure.com",
    audience: "https://management.core.windows.net/",
};
/// Azure operated by 21Vianet.
pub const AZURE_CHINA: Cloud = Cloud {
    authority: "https://login.chinacloudapi.cn/",
    resource_manager: "https://management.chinacloudapi.cn",
    audience: "https://management.core.chinacloudapi.cn",
};
/// Azure Government.
pub const AZURE_GOVERNMENT: Cloud = Cloud {
    authority: "https://login.microsoftonline.us/",
    resource_manager: "https://management.usgovcloudapi.net",
    audience: "https://management.core.usgovcloudapi.net",
};

impl Cloud {
    /// The cloud of an `environment` name, as Prometheus names them (any
    /// case; the retired German cloud maps to the public one, as there).
    pub fn from_name(name: &str) -> Result<Cloud, AzureError> {
        let upper = name.to_uppercase();
        match upper.as_str() {
            "AZURECLOUD" | "AZUREPUBLICCLOUD" | "AZUREGERMANCLOUD" => Ok(AZURE_PUBLIC),
            "AZURECHINACLOUD" => Ok(AZURE_CHINA),
            "AZUREUSGOVERNMENT" | "AZUREUSGOVERNMENTCLOUD" => Ok(AZURE_GOVERNMENT),
            _ => Err(AzureError::UnknownCloud(upper)),
        }
    }

    /// The scope asked of Entra ID for Resource Manager.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.audience)
    }
}

/// The default address of the instance metadata service.
const IMDS_HOST: &str = "http://169.254.169.254";
/// The metadata service's API version for tokens.
const IMDS_API_VERSION: &str = "2018-02-01";
/// The App Service identity endpoint's API version.
const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// How long before its expiry a token is replaced (at most).
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// How long a request for a token may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a chain waits for a managed identity endpoint before it tries
/// the next way (outside Azure nothing answers at the metadata service's
/// address).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Reads an environment variable (empty counts as unset); tests pass
/// their own.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process's environment.
pub fn process_env() -> Env {
    Arc::new(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// One way to obtain a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A client secret (`OAuth`, or the SDK's environment credential).
    ClientSecret {
        /// The tenant.
        tenant: String,
        /// The application's client ID.
        client_id: String,
        /// Its secret.
        secret: String,
        /// Which credential this is, for messages.
        name: &'static str,
    },
    /// A federated token read from a file at each request.
    WorkloadIdentity {
        /// The tenant.
        tenant: String,
        /// The application's client ID.
        client_id: String,
        /// The file holding the federated token.
        token_file: String,
    },
    /// A client assertion signed with a certificate's key.
    ClientCertificate {
        /// The tenant.
        tenant: String,
        /// The application's client ID.
        client_id: String,
        /// The certificate and its key.
        certificate: Arc<super::certificate::ClientCertificate>,
    },
    /// A managed identity.
    ManagedIdentity {
        /// A user-assigned identity's client ID (none: the system one).
        client_id: Option<String>,
        /// Where to ask.
        endpoint: ManagedIdentityEndpoint,
    },
    /// The first of several that gives a token (the SDK's default chain);
    /// the names of those that could not be set up, with why.
    Chain(Vec<Credential>, Vec<String>),
}

/// The endpoint a managed identity's token comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagedIdentityEndpoint {
    /// The instance metadata service at this base URL.
    Imds(String),
    /// An App Service identity endpoint and its header's secret.
    AppService {
        /// `IDENTITY_ENDPOINT`.
        url: String,
        /// `IDENTITY_HEADER`.
        header: String,
    },
}

impl ManagedIdentityEndpoint {
    /// The endpoint the environment names.
    pub fn from_env(env: &Env) -> ManagedIdentityEndpoint {
        match (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")) {
            (Some(url), Some(header)) => ManagedIdentityEndpoint::AppService { url, header },
            _ => ManagedIdentityEndpoint::Imds(
                env("AZURE_POD_IDENTITY_AUTHORITY_HOST")
                    .map(|h| h.trim_end_matches('/').to_string())
                    .unwrap_or_else(|| IMDS_HOST.to_string()),
            ),
        }
    }
}

/// The workload identity of the environment, with `tenant` over
/// `AZURE_TENANT_ID` when given.
fn workload_identity(env: &Env, tenant: &str) -> Result<Credential, AzureError> {
    let get = |what, var| env(var).ok_or(AzureError::Unset { what, var });
    let client_id = get("client ID", "AZURE_CLIENT_ID")?;
    let tenant = if tenant.is_empty() {
        get("tenant ID", "AZURE_TENANT_ID")?
    } else {
        tenant.to_string()
    };
    let token_file = get("token file", "AZURE_FEDERATED_TOKEN_FILE")?;
    Ok(Credential::WorkloadIdentity {
        tenant,
        client_id,
        token_file,
    })
}

impl Credential {
    /// The credential of an `authentication_method` with the entry's
    /// tenant, client ID and secret, reading the environment as the Azure
    /// SDK does.
    pub fn new(
        method: &str,
        tenant: &str,
        client_id: &str,
        secret: &str,
        env: &Env,
    ) -> Result<Credential, AzureError> {
        match method {
            "OAuth" => Ok(Credential::ClientSecret {
                tenant: tenant.to_string(),
                client_id: client_id.to_string(),
                secret: secret.to_string(),
                name: "ClientSecretCredential",
            }),
            "ManagedIdentity" => Ok(Credential::ManagedIdentity {
                client_id: Some(client_id.to_string()).filter(|c| !c.is_empty()),
                endpoint: ManagedIdentityEndpoint::from_env(env),
            }),
            "WorkloadIdentity" => {
                workload_identity(env, "").map_err(|e| AzureError::WorkloadIdentity(Box::new(e)))
            }
            "SDK" => {
                let mut chain = Vec::new();
                let mut skipped = Vec::new();
                match (
                    env("AZURE_TENANT_ID"),
                    env("AZURE_CLIENT_ID"),
                    env("AZURE_CLIENT_SECRET"),
                ) {
                    (Some(t), Some(c), Some(s)) => chain.push(Credential::ClientSecret {
                        tenant: t,
                        client_id: c,
                        secret: s,
                        name: "EnvironmentCredential",
                    }),
                    _ => skipped.push(
                        "EnvironmentCredential: missing environment variables AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
                            .to_string(),
                    ),
                }
                match workload_identity(env, tenant) {
                    Ok(w) => chain.push(w),
                    Err(e) => skipped.push(AzureError::WorkloadIdentity(Box::new(e)).to_string()),
                }
                chain.push(Credential::ManagedIdentity {
                    client_id: env("AZURE_CLIENT_ID"),
                    endpoint: ManagedIdentityEndpoint::from_env(env),
                });
                Ok(Credential::Chain(chain, skipped))
            }
            other => Err(AzureError::UnknownMethod(other.to_string())),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Credential::ClientSecret { name, .. } => name,
            Credential::WorkloadIdentity { .. } => "WorkloadIdentityCredential",
            Credential::ClientCertificate { .. } => "ClientCertificateCredential",
            Credential::ManagedIdentity { .. } => "ManagedIdentityCredential",
            Credential::Chain(..) => "DefaultAzureCredential",
        }
    }
}

/// A token and when to replace it.
#[derive(Clone)]
struct Cached {
    token: String,
    renew_at: Instant,
}

/// Obtains tokens of one credential for one cloud and scope and keeps
/// them.
pub struct TokenSource {
    credential: Credential,
    cloud: Cloud,
    scope: String,
    /// Replace tokens halfway through their lifetime (else shortly before
    /// they expire).
    at_half_life: bool,
    /// For Entra ID: the entry's proxy and TLS settings.
    client: reqwest::Client,
    /// For managed identity endpoints: no proxy.
    direct: reqwest::Client,
    cached: tokio::sync::Mutex<Option<Cached>>,
    /// The member of a chain that last gave a token.
    chosen: parking_lot::Mutex<Option<usize>>,
}

/// A token answer's lifetime: `expires_in` (a number or a string of one),
/// else `expires_on` (seconds since the epoch) from now.
fn lifetime(v: &Value) -> Duration {
    let num = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok()))
    };
    if let Some(s) = num(&v["expires_in"]) {
        return Duration::from_secs_f64(s.max(0.0));
    }
    if let Some(on) = num(&v["expires_on"]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        return Duration::from_secs_f64((on - now).max(0.0));
    }
    Duration::from_secs(300)
}

/// The error of a token endpoint's answer: Entra ID's
/// `error`/`error_description`, or the start of the body.
fn token_error(status: u16, body: &[u8]) -> AzureError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let detail = v
        .as_ref()
        .and_then(|v| {
            let code = v["error"].as_str()?;
            let desc = v["error_description"]
                .as_str()
                .or_else(|| v["message"].as_str())
                .unwrap_or("");
            Some(if desc.is_empty() {
                code.to_string()
            } else {
                format!("{code}: {desc}")
            })
        })
        .unwrap_or_else(|| super::super::refresh::body_excerpt(body));
    AzureError::Status { status, detail }
}

impl TokenSource {
    /// A source of Resource Manager tokens for `credential` in `cloud`;
    /// `client` is used for Entra ID.
    pub fn new(
        credential: Credential,
        cloud: Cloud,
        client: reqwest::Client,
    ) -> Result<TokenSource, AzureError> {
        let scope = cloud.scope();
        Self::for_scope(credential, cloud, scope, false, client)
    }

    /// A source of tokens for `scope`, replaced halfway through their
    /// lifetime when `at_half_life`, else 5 minutes before they expire.
    pub fn for_scope(
        credential: Credential,
        cloud: Cloud,
        scope: String,
        at_half_life: bool,
        client: reqwest::Client,
    ) -> Result<TokenSource, AzureError> {
        let direct = reqwest::Client::builder()
            .user_agent(concat!("flint/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .build()
            .map_err(AzureError::Build)?;
        Ok(TokenSource {
            credential,
            cloud,
            scope,
            at_half_life,
            client,
            direct,
            cached: tokio::sync::Mutex::new(None),
            chosen: parking_lot::Mutex::new(None),
        })
    }

    /// A token: the kept one, or a new one.
    pub async fn token(&self) -> Result<String, AzureError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if Instant::now() < c.renew_at {
                return Ok(c.token.clone());
            }
        }
        let (token, life) = self.fetch().await?;
        let margin = if self.at_half_life {
            life / 2
        } else {
            REFRESH_BEFORE.min(life / 2)
        };
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + life - margin,
        });
        Ok(token)
    }

    /// Forgets the kept token (the server refused it).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<(String, Duration), AzureError> {
        match &self.credential {
            Credential::Chain(members, skipped) => {
                let first = *self.chosen.lock();
                if let Some(i) = first {
                    return self
                        .fetch_one(&members[i], TOKEN_TIMEOUT)
                        .await
                        .map_err(|e| AzureError::Credential {
                            credential: members[i].name(),
                            err: Box::new(e),
                        });
                }
                let mut errors = skipped.clone();
                for (i, m) in members.iter().enumerate() {
                    match self.fetch_one(m, PROBE_TIMEOUT).await {
                        Ok(t) => {
                            *self.chosen.lock() = Some(i);
                            return Ok(t);
                        }
                        Err(e) => errors.push(format!("{}: {e}", m.name())),
                    }
                }
                Err(AzureError::ChainFailed(errors))
            }
            c => self.fetch_one(c, TOKEN_TIMEOUT).await.map_err(|e| {
                AzureError::AuthenticationFailed {
                    credential: c.name(),
                    err: Box::new(e),
                }
            }),
        }
    }

    /// A token from one credential; `mi_timeout` bounds a managed
    /// identity request.
    async fn fetch_one(
        &self,
        c: &Credential,
        mi_timeout: Duration,
    ) -> Result<(String, Duration), AzureError> {
        let scope = self.scope.clone();
        let resp = match c {
            Credential::ClientSecret {
                tenant,
                client_id,
                secret,
                ..
            } => {
                let form = [
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                    ("grant_type", "client_credentials"),
                    ("scope", scope.as_str()),
                ];
                self.client
                    .post(self.token_url(tenant))
                    .form(&form)
                    .timeout(TOKEN_TIMEOUT)
                    .send()
                    .await
            }
            Credential::WorkloadIdentity {
                tenant,
                client_id,
                token_file,
            } => {
                let assertion = std::fs::read_to_string(token_file).map_err(|err| {
                    AzureError::ReadTokenFile {
                        file: token_file.clone(),
                        err,
                    }
                })?;
                let form = [
                    ("client_id", client_id.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.trim()),
                    ("grant_type", "client_credentials"),
                    ("scope", scope.as_str()),
                ];
                self.client
                    .post(self.token_url(tenant))
                    .form(&form)
                    .timeout(TOKEN_TIMEOUT)
                    .send()
                    .await
            }
            Credential::ClientCertificate {
                tenant,
                client_id,
                certificate,
            } => {
                let url = self.token_url(tenant);
                let assertion = certificate.assertion(client_id, &url)?;
                let form = [
                    ("client_id", client_id.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                    ("grant_type", "client_credentials"),
                    ("scope", scope.as_str()),
                ];
                self.client
                    .post(url)
                    .form(&form)
                    .timeout(TOKEN_TIMEOUT)
                    .send()
                    .await
            }
            Credential::ManagedIdentity {
                client_id,
                endpoint,
            } => {
                let resource = scope.trim_end_matches("/.default");
                let req = match endpoint {
                    ManagedIdentityEndpoint::Imds(base) => self
                        .direct
                        .get(format!("{base}/metadata/identity/oauth2/token"))
                        .query(&[("api-version", IMDS_API_VERSION), ("resource", resource)])
                        .header("Metadata", "true"),
                    ManagedIdentityEndpoint::AppService { url, header } => self
                        .direct
                        .get(url)
                        .query(&[
                            ("api-version", APP_SERVICE_API_VERSION),
                            ("resource", resource),
                        ])
                        .header("X-IDENTITY-HEADER", header),
                };
                let req = match client_id {
                    Some(id) => req.query(&[("client_id", id)]),
                    None => req,
                };
                req.timeout(mi_timeout).send().await
            }
            Credential::Chain(..) => return Err(AzureError::NestedChain),
        };
        let resp = resp.map_err(AzureError::Transport)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(AzureError::Transport)?;
        if status != 200 {
            return Err(token_error(status, &body));
        }
        let v: Value = serde_json::from_slice(&body).map_err(AzureError::Decode)?;
        let token = v["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or(AzureError::NoAccessToken)?;
        Ok((token.to_string(), lifetime(&v)))
    }

    fn token_url(&self, tenant: &str) -> String {
        format!("{}{tenant}/oauth2/v2.0/token", self.cloud.authority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Arc::new(move |k| m.get(k).cloned())
    }

    #[test]
    fn clouds_by_name() {
        assert_eq!(Cloud::from_name("AzurePublicCloud").unwrap(), AZURE_PUBLIC);
        assert_eq!(Cloud::from_name("azurecloud").unwrap(), AZURE_PUBLIC);
        assert_eq!(Cloud::from_name("AzureGermanCloud").unwrap(), AZURE_PUBLIC);
        assert_eq!(Cloud::from_name("AzureChinaCloud").unwrap(), AZURE_CHINA);
        assert_eq!(
            Cloud::from_name("AzureUSGovernment").unwrap(),
            AZURE_GOVERNMENT
        );
        assert_eq!(
            Cloud::from_name("mars").unwrap_err().to_string(),
            "there is no cloud configuration matching the name \"MARS\""
        );
        assert_eq!(
            AZURE_PUBLIC.scope(),
            "https://management.core.windows.net//.default"
        );
    }

    #[test]
    fn lifetimes_from_either_field() {
        assert_eq!(
            lifetime(&json!({"expires_in": 3599})),
            Duration::from_secs(3599)
        );
        assert_eq!(
            lifetime(&json!({"expires_in": "86399"})),
            Duration::from_secs(86399)
        );
        let on = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let l = lifetime(&json!({"expires_on": on.to_string()}));
        assert!(l > Duration::from_secs(590) && l <= Duration::from_secs(600));
    }

    #[test]
    fn managed_identity_endpoints_from_the_environment() {
        assert_eq!(
            ManagedIdentityEndpoint::from_env(&env(&[])),
            ManagedIdentityEndpoint::Imds("http://169.254.169.254".into())
        );
        assert_eq!(
            ManagedIdentityEndpoint::from_env(&env(&[(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                "http://127.0.0.1:9/"
            )])),
            ManagedIdentityEndpoint::Imds("http://127.0.0.1:9".into())
        );
        assert_eq!(
            ManagedIdentityEndpoint::from_env(&env(&[
                ("IDENTITY_ENDPOINT", "http://localhost:8081/msi/token"),
                ("IDENTITY_HEADER", "h")
            ])),
            ManagedIdentityEndpoint::AppService {
                url: "http://localhost:8081/msi/token".into(),
                header: "h".into()
            }
        );
    }

    #[test]
    fn the_sdk_chain_takes_what_the_environment_offers() {
        let e = env(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]);
        let Credential::Chain(members, skipped) = Credential::new("SDK", "", "", "", &e).unwrap()
        else {
            panic!("not a chain")
        };
        assert_eq!(members.len(), 2);
        assert!(matches!(&members[0], Credential::ClientSecret { tenant, .. } if tenant == "t"));
        assert!(
            matches!(&members[1], Credential::ManagedIdentity { client_id: Some(c), .. } if c == "c")
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].starts_with("WorkloadIdentityCredential"));

        let e = env(&[
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
        ]);
        let Credential::Chain(members, _) = Credential::new("SDK", "other", "", "", &e).unwrap()
        else {
            panic!("not a chain")
        };
        assert!(
            matches!(&members[0], Credential::WorkloadIdentity { tenant, .. } if tenant == "other")
        );
        assert_eq!(
            Credential::new("WorkloadIdentity", "", "", "", &env(&[]))
                .unwrap_err()
                .to_string(),
            "WorkloadIdentityCredential: no client ID specified. Check pod configuration or set the AZURE_CLIENT_ID environment variable"
        );
    }

    #[test]
    fn token_errors_in_entra_ids_words() {
        assert_eq!(
            token_error(
                401,
                br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#
            )
            .to_string(),
            "status 401: invalid_client: AADSTS7000215: Invalid client secret provided."
        );
        assert_eq!(token_error(500, b"oops").to_string(), "status 500: oops");
    }
}
