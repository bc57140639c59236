//! AWS credentials and region as the AWS SDK's default chain finds them,
//! in its order: the configuration's `access_key`/`secret_key`; a named
//! profile (`profile`, or `AWS_PROFILE`) of the shared files
//! (`~/.aws/credentials`, `~/.aws/config`, or the files
//! `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` name); the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`); the default profile; the instance's role from
//! the instance metadata service (IMDSv2, at
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` or 169.254.169.254). With
//! `role_arn`, those credentials assume the role through STS
//! (`AssumeRole`, with `external_id`). Temporary credentials are kept
//! until five minutes before they expire.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::xml_text;
use super::AwsError;
use crate::refresh::{self, SdError};
use common::httpclient::sigv4::Credentials;
use common::httpclient::HttpClient;

/// The environment, as a function (tests pass their own).
pub type Env = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process's environment (empty values as unset).
pub fn process_env() -> Env {
    std::sync::Arc::new(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// The sections of an INI file (`[name]` → key → value).
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(name) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

/// The shared credentials and config files.
struct SharedFiles {
    credentials: HashMap<String, HashMap<String, String>>,
    config: HashMap<String, HashMap<String, String>>,
}

impl SharedFiles {
    fn read(env: &Env) -> SharedFiles {
        let home = env("HOME").map(PathBuf::from).unwrap_or_default();
        let creds = env("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".aws/credentials"));
        let config = env("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".aws/config"));
        let read = |p: &PathBuf| parse_ini(&std::fs::read_to_string(p).unwrap_or_default());
        SharedFiles {
            credentials: read(&creds),
            config: read(&config),
        }
    }

    /// A profile's settings: the credentials file's section over the
    /// config file's (`[profile name]`, or `[default]`).
    fn profile(&self, name: &str) -> Option<HashMap<String, String>> {
        let config_name = if name == "default" {
            "default".to_string()
        } else {
            format!("profile {name}")
        };
        let mut out = self.config.get(&config_name).cloned();
        if let Some(c) = self.credentials.get(name) {
            out.get_or_insert_with(HashMap::new)
                .extend(c.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }
}

fn keys_of(p: &HashMap<String, String>) -> Option<Credentials> {
    Some(Credentials {
        access_key: p
            .get("aws_access_key_id")
            .filter(|v| !v.is_empty())?
            .clone(),
        secret_key: p
            .get("aws_secret_access_key")
            .filter(|v| !v.is_empty())?
            .clone(),
        session_token: p
            .get("aws_session_token")
            .filter(|v| !v.is_empty())
            .cloned(),
    })
}

/// Where the credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    /// Fixed keys (configuration, profile, environment).
    Static(Credentials),
    /// The instance's role, from the metadata service.
    Instance,
}

/// The base source, in the SDK's order.
fn base_source(
    access_key: &str,
    secret_key: &str,
    profile: &str,
    env: &Env,
) -> Result<Source, AwsError> {
    if !access_key.is_empty() && !secret_key.is_empty() {
        return Ok(Source::Static(Credentials {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            session_token: None,
        }));
    }
    let files = SharedFiles::read(env);
    let named = (!profile.is_empty())
        .then(|| profile.to_string())
        .or_else(|| env("AWS_PROFILE"));
    if let Some(name) = named {
        let p = files
            .profile(&name)
            .ok_or_else(|| AwsError::NoProfile(name.clone()))?;
        return keys_of(&p)
            .map(Source::Static)
            .ok_or(AwsError::ProfileWithoutKeys(name));
    }
    if let (Some(a), Some(s)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Source::Static(Credentials {
            access_key: a,
            secret_key: s,
            session_token: env("AWS_SESSION_TOKEN"),
        }));
    }
    if let Some(c) = files.profile("default").as_ref().and_then(keys_of) {
        return Ok(Source::Static(c));
    }
    Ok(Source::Instance)
}

/// The instance metadata service (IMDSv2: a session token first).
struct Imds {
    base: String,
    disabled: bool,
}

impl Imds {
    fn new(env: &Env) -> Imds {
        Imds {
            base: env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .unwrap_or_else(|| "http://169.254.169.254".into())
                .trim_end_matches('/')
                .to_string(),
            disabled: env("AWS_EC2_METADATA_DISABLED")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        }
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> Result<String, SdError> {
        if self.disabled {
            return Err(SdError::Auth(
                "access disabled to EC2 IMDS via client option, or \"AWS_EC2_METADATA_DISABLED\" environment variable".into(),
            ));
        }
        let send = |r: reqwest::RequestBuilder| async move {
            let resp = r
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| SdError::transport(&e))?;
            let code = resp.status().as_u16();
            let body = resp.text().await.map_err(|e| SdError::transport(&e))?;
            if code != 200 {
                return Err(SdError::Status {
                    code,
                    body: refresh::body_excerpt(body.as_bytes()),
                });
            }
            Ok(body)
        };
        let token = send(
            client
                .put(format!("{}/latest/api/token", self.base))
                .header("X-aws-ec2-metadata-token-ttl-seconds", "21600"),
        )
        .await?;
        send(
            client
                .get(format!("{}{path}", self.base))
                .header("X-aws-ec2-metadata-token", token),
        )
        .await
    }

    /// The role's temporary credentials and when they expire (ms).
    async fn credentials(&self, client: &reqwest::Client) -> Result<(Credentials, i64), SdError> {
        let roles = self
            .get(client, "/latest/meta-data/iam/security-credentials/")
            .await?;
        let role = roles
            .lines()
            .next()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| SdError::Auth("no role attached to the instance".into()))?;
        let body = self
            .get(
                client,
                &format!("/latest/meta-data/iam/security-credentials/{role}"),
            )
            .await?;
        let v: serde_json::Value = refresh::decode(body.as_bytes())?;
        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
        if s("AccessKeyId").is_empty() {
            return Err(SdError::Decode(format!("no credentials in {body:?}")));
        }
        let expires = common::rfc3339::parse_millis(&s("Expiration")).unwrap_or(i64::MAX);
        Ok((
            Credentials {
                access_key: s("AccessKeyId"),
                secret_key: s("SecretAccessKey"),
                session_token: Some(s("Token")).filter(|t| !t.is_empty()),
            },
            expires,
        ))
    }
}

/// The region: configured, from the environment or the shared config's
/// profile, else the instance's.
pub async fn region(
    configured: &str,
    profile: &str,
    env: &Env,
    client: &reqwest::Client,
) -> Result<String, AwsError> {
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    if let Some(r) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        return Ok(r);
    }
    let name = (!profile.is_empty())
        .then(|| profile.to_string())
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    if let Some(r) = SharedFiles::read(env)
        .profile(&name)
        .and_then(|p| p.get("region").cloned())
        .filter(|r| !r.is_empty())
    {
        return Ok(r);
    }
    let r = Imds::new(env)
        .get(client, "/latest/meta-data/placement/region")
        .await
        .map_err(AwsError::RegionFromImds)?;
    if r.trim().is_empty() {
        return Err(AwsError::RegionNotFound);
    }
    Ok(r.trim().to_string())
}

/// Credentials kept until five minutes before they expire.
pub struct Provider {
    source: Source,
    role_arn: String,
    external_id: String,
    region: String,
    sts_endpoint: String,
    imds: Imds,
    cached: tokio::sync::Mutex<Option<(Credentials, i64)>>,
}

/// STS's endpoint in `region`, its FIPS one with `fips`.
fn sts_endpoint(region: &str, fips: bool) -> String {
    let fips = if fips { "-fips" } else { "" };
    format!("https://sts{fips}.{region}.amazonaws.com")
}

/// How long before expiry temporary credentials are renewed.
const EXPIRY_WINDOW_MS: i64 = 5 * 60 * 1000;

impl Provider {
    /// The provider of an entry's settings; `fips`: `role_arn` is assumed
    /// through STS's FIPS endpoint of the region.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        access_key: &str,
        secret_key: &str,
        profile: &str,
        role_arn: &str,
        external_id: &str,
        region: &str,
        fips: bool,
        env: &Env,
    ) -> Result<Provider, AwsError> {
        Ok(Provider {
            source: base_source(access_key, secret_key, profile, env)?,
            role_arn: role_arn.to_string(),
            external_id: external_id.to_string(),
            region: region.to_string(),
            sts_endpoint: sts_endpoint(region, fips),
            imds: Imds::new(env),
            cached: tokio::sync::Mutex::new(None),
        })
    }

    async fn base(&self, client: &reqwest::Client) -> Result<(Credentials, i64), SdError> {
        match &self.source {
            Source::Static(c) => Ok((c.clone(), i64::MAX)),
            Source::Instance => self
                .imds
                .credentials(client)
                .await
                .map_err(|e| e.context("no EC2 IMDS role found")),
        }
    }

    /// STS `AssumeRole` with `base`.
    async fn assume(
        &self,
        http: &HttpClient,
        base: &Credentials,
    ) -> Result<(Credentials, i64), SdError> {
        let mut form = vec![
            ("Action".to_string(), "AssumeRole".to_string()),
            ("Version".to_string(), "2011-06-15".to_string()),
            ("RoleArn".to_string(), self.role_arn.clone()),
            (
                "RoleSessionName".to_string(),
                format!("flint-{}", tsdb::time::now_ms()),
            ),
        ];
        if !self.external_id.is_empty() {
            form.push(("ExternalId".to_string(), self.external_id.clone()));
        }
        let body = super::signed_post(http, &self.sts_endpoint, &self.region, "sts", base, &form)
            .await
            .map_err(|e| {
                e.context(&format!(
                    "operation error STS: AssumeRole, role {}",
                    self.role_arn
                ))
            })?;
        let doc = roxmltree::Document::parse(&body).map_err(|e| SdError::Decode(e.to_string()))?;
        let creds = doc
            .descendants()
            .find(|n| n.tag_name().name() == "Credentials")
            .ok_or_else(|| SdError::Decode("no Credentials in AssumeRole's answer".into()))?;
        let expires = common::rfc3339::parse_millis(&xml_text(creds, "Expiration")).unwrap_or(0);
        Ok((
            Credentials {
                access_key: xml_text(creds, "AccessKeyId"),
                secret_key: xml_text(creds, "SecretAccessKey"),
                session_token: Some(xml_text(creds, "SessionToken")).filter(|t| !t.is_empty()),
            },
            expires,
        ))
    }

    /// Credentials to sign with now.
    pub async fn get(&self, http: &HttpClient) -> Result<Credentials, SdError> {
        let mut cached = self.cached.lock().await;
        if let Some((c, exp)) = &*cached {
            if tsdb::time::now_ms() < exp.saturating_sub(EXPIRY_WINDOW_MS) {
                return Ok(c.clone());
            }
        }
        let (base, base_exp) = self.base(http.client()).await?;
        let (c, exp) = if self.role_arn.is_empty() {
            (base, base_exp)
        } else {
            self.assume(http, &base).await?
        };
        *cached = Some((c.clone(), exp));
        Ok(c)
    }

    /// Forgets the credentials (after the API refused them).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_endpoints_plain_and_fips() {
        assert_eq!(
            sts_endpoint("eu-west-1", false),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            sts_endpoint("us-east-1", true),
            "https://sts-fips.us-east-1.amazonaws.com"
        );
    }

    fn env(vars: Vec<(&'static str, String)>) -> Env {
        std::sync::Arc::new(move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_chain_in_the_sdk_order() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n[ops]\naws_access_key_id=OPS\naws_secret_access_key=opssecret\naws_session_token=tok\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[profile ops]\nregion = eu-west-1\n[default]\nregion=us-east-2\n",
        )
        .unwrap();
        let files = vec![
            ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
            ("AWS_CONFIG_FILE", config.display().to_string()),
        ];
        let e = env(files.clone());
        let key = |s: Source| match s {
            Source::Static(c) => c.access_key,
            Source::Instance => "imds".into(),
        };
        assert_eq!(key(base_source("AK", "SK", "ops", &e).unwrap()), "AK");
        assert_eq!(key(base_source("", "", "ops", &e).unwrap()), "OPS");
        assert_eq!(key(base_source("", "", "", &e).unwrap()), "DEF");
        let mut with_env = files.clone();
        with_env.push(("AWS_ACCESS_KEY_ID", "ENV".into()));
        with_env.push(("AWS_SECRET_ACCESS_KEY", "envsecret".into()));
        assert_eq!(
            key(base_source("", "", "", &env(with_env.clone())).unwrap()),
            "ENV"
        );
        // a named profile wins over the environment
        with_env.push(("AWS_PROFILE", "ops".into()));
        assert_eq!(key(base_source("", "", "", &env(with_env)).unwrap()), "OPS");
        assert_eq!(
            base_source("", "", "nope", &e).unwrap_err().to_string(),
            "failed to get shared config profile, nope"
        );
        assert_eq!(key(base_source("", "", "", &env(vec![])).unwrap()), "imds");
        let p = SharedFiles::read(&e).profile("ops").unwrap();
        assert_eq!(p["region"], "eu-west-1");
        assert_eq!(p["aws_session_token"], "tok");
    }
}
