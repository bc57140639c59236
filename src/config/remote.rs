//! `remote_write` and `remote_read` entries of prometheus.yml, with
//! Prometheus 3's defaults and checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PromDuration;
use common::config::http::{HttpClientConfig, Secret};
use common::config::CheckError;
use relabel::RelabelConfig;

/// The remote write message of protocol 1.0.
pub const PROTO_V1: &str = "prometheus.WriteRequest";
/// The remote write message of protocol 2.0.
pub const PROTO_V2: &str = "io.prometheus.write.v2.Request";

fn dur(secs: u64) -> PromDuration {
    PromDuration(std::time::Duration::from_secs(secs))
}

fn ms(ms: u64) -> PromDuration {
    PromDuration(std::time::Duration::from_millis(ms))
}

fn yes() -> bool {
    true
}

/// `queue_config`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples buffered per shard.
    pub capacity: u64,
    /// Most shards.
    pub max_shards: u64,
    /// Fewest shards, and the number to start with.
    pub min_shards: u64,
    /// Samples in one request.
    pub max_samples_per_send: u64,
    /// Longest a partial request waits.
    pub batch_send_deadline: PromDuration,
    /// First wait before a retry, doubled each time.
    pub min_backoff: PromDuration,
    /// Longest wait before a retry.
    pub max_backoff: PromDuration,
    /// Whether a 429 answer is retried.
    pub retry_on_http_429: bool,
    /// Samples older than this are not sent (0: no limit).
    pub sample_age_limit: PromDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: dur(5),
            min_backoff: ms(30),
            max_backoff: dur(5),
            retry_on_http_429: false,
            sample_age_limit: PromDuration::default(),
        }
    }
}

/// `metadata_config`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataConfig {
    /// Whether metric metadata is sent.
    pub send: bool,
    /// How often.
    pub send_interval: PromDuration,
    /// Entries in one request.
    pub max_samples_per_send: u64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: dur(60),
            max_samples_per_send: 2000,
        }
    }
}

/// One `remote_write` entry. Keys not listed are collected in `unknown`
/// and refused by [`RemoteWriteConfig::validate`].
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct RemoteWriteConfig {
    /// Where to send.
    pub url: String,
    /// The queue's name (default: from a hash of the entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Timeout of one request.
    #[serde(default = "thirty_seconds")]
    pub remote_timeout: PromDuration,
    /// Headers added to every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Relabeling of each series before sending (after external labels).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// `prometheus.WriteRequest` (1.0) or `io.prometheus.write.v2.Request`.
    #[serde(default = "proto_v1")]
    pub protobuf_message: String,
    /// Whether exemplars are sent.
    #[serde(default)]
    pub send_exemplars: bool,
    /// Whether native histograms are sent.
    #[serde(default)]
    pub send_native_histograms: bool,
    /// Whether each request picks one of the host's addresses at random.
    #[serde(default)]
    pub round_robin_dns: bool,
    /// Sharding, batching and retries.
    #[serde(default)]
    pub queue_config: QueueConfig,
    /// Metric metadata sending (protocol 1.0).
    #[serde(default)]
    pub metadata_config: MetadataConfig,
    /// Requests signed with AWS Signature Version 4 (Amazon Managed
    /// Service for Prometheus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<SigV4Config>,
    /// Requests with a Microsoft Entra ID token (Azure Monitor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azuread: Option<AzureAdConfig>,
    /// Requests with a Google Cloud token for Cloud Monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_iam: Option<GoogleIamConfig>,
    /// Authentication, TLS, proxy and redirect settings.
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Keys flint does not know or support.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

/// `sigv4`: how remote write requests are signed for AWS.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SigV4Config {
    /// The region (default: from the environment, the shared config or
    /// the instance).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// Access key ID (with `secret_key`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access_key: String,
    /// Secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<Secret>,
    /// Profile of the shared credentials and config files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// Role to assume with STS.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
    /// External ID of the role.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub external_id: String,
    /// Use the FIPS endpoint of STS.
    #[serde(default)]
    pub use_fips_sts_endpoint: bool,
    /// The signing service (default `aps`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
}

/// `google_iam`: a Google Cloud token for Cloud Monitoring with each
/// request, from a credentials file or Google's application default
/// credentials.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GoogleIamConfig {
    /// A service account's key (or a user's credentials) file; none: the
    /// application default credentials.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credentials_file: String,
}

/// `azuread`: a Microsoft Entra ID token with each request, for Azure
/// Monitor's ingestion (or `scope`), by exactly one of the methods.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct AzureAdConfig {
    /// A managed identity (optionally a user-assigned one's client ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<AzureManagedIdentity>,
    /// A workload identity's federated token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<AzureWorkloadIdentity>,
    /// An application's client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<AzureOAuth>,
    /// The Azure SDK's default chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<AzureSdk>,
    /// An application's client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<AzureCertificate>,
    /// `AzurePublic` (default), `AzureChina` or `AzureGovernment`.
    #[serde(default = "azure_public")]
    pub cloud: String,
    /// The scope asked for (default: Azure Monitor's of the cloud).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Keys flint does not know or support.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

fn azure_public() -> String {
    "AzurePublic".into()
}

/// `azuread.managed_identity`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AzureManagedIdentity {
    /// A user-assigned identity's client ID (none: the system-assigned
    /// identity).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
}

/// `azuread.workload_identity`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AzureWorkloadIdentity {
    /// The application's or identity's client ID.
    #[serde(default)]
    pub client_id: String,
    /// Its tenant.
    #[serde(default)]
    pub tenant_id: String,
    /// The federated token's file (default: `AZURE_FEDERATED_TOKEN_FILE`,
    /// else the workload identity webhook's path).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_file_path: String,
}

/// `azuread.oauth`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AzureOAuth {
    /// The application's client ID.
    #[serde(default)]
    pub client_id: String,
    /// Its secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Its tenant.
    #[serde(default)]
    pub tenant_id: String,
}

/// `azuread.certificate`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AzureCertificate {
    /// The application's client ID.
    #[serde(default)]
    pub client_id: String,
    /// Its tenant.
    #[serde(default)]
    pub tenant_id: String,
    /// The PEM file of the certificate (and its key, unless
    /// `certificate_key_path` names another).
    #[serde(default)]
    pub certificate_path: String,
    /// The PEM file of the key, when apart from the certificate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate_key_path: String,
    /// The password of a PKCS #12 file (such files are not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_password: Option<Secret>,
    /// Whether assertions carry the certificates (`x5c`).
    #[serde(default)]
    pub send_certificate_chain: bool,
}

/// `azuread.sdk`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AzureSdk {
    /// The tenant (over `AZURE_TENANT_ID` for the workload identity).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant_id: String,
}

/// Whether `s` is a UUID as Go's `uuid.Parse` takes one (dashed, bare,
/// braced or `urn:uuid:`).
fn is_uuid(s: &str) -> bool {
    let s = s
        .strip_prefix("urn:uuid:")
        .or_else(|| s.strip_prefix('{').and_then(|r| r.strip_suffix('}')))
        .unwrap_or(s);
    let hex = |p: &str| p.bytes().all(|b| b.is_ascii_hexdigit());
    match s.len() {
        32 => hex(s),
        36 => {
            let parts: Vec<&str> = s.split('-').collect();
            parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| hex(p))
        }
        _ => false,
    }
}

impl AzureAdConfig {
    /// Prometheus's checks, with its messages; methods flint lacks are
    /// refused by name.
    pub fn validate(&self) -> Result<(), CheckError> {
        if let Some(k) = self.unknown.keys().next() {
            return Err(CheckError::UnknownField {
                key: k.clone(),
                ty: "azuread.plain",
            });
        }
        if !matches!(
            self.cloud.as_str(),
            "AzurePublic" | "AzureChina" | "AzureGovernment"
        ) {
            return Err("must provide a cloud in the Azure AD config".into());
        }
        let methods = [
            self.managed_identity.is_some(),
            self.workload_identity.is_some(),
            self.oauth.is_some(),
            self.sdk.is_some(),
            self.certificate.is_some(),
        ]
        .iter()
        .filter(|m| **m)
        .count();
        if methods == 0 {
            return Err("must provide an Azure Managed Identity, Azure Workload Identity, Azure OAuth, Azure Certificate or Azure SDK in the Azure AD config".into());
        }
        if methods > 1 {
            return Err(
                "cannot provide multiple authentication methods in the Azure AD config".into(),
            );
        }
        if let Some(m) = &self.managed_identity {
            if !m.client_id.is_empty() && !is_uuid(&m.client_id) {
                return Err("the provided Azure Managed Identity client_id is invalid".into());
            }
        }
        if let Some(w) = &self.workload_identity {
            if w.client_id.is_empty() {
                return Err(
                    "must provide an Azure Workload Identity client_id in the Azure AD config"
                        .into(),
                );
            }
            if w.tenant_id.is_empty() {
                return Err(
                    "must provide an Azure Workload Identity tenant_id in the Azure AD config"
                        .into(),
                );
            }
            if !is_uuid(&w.client_id) {
                return Err("the provided Azure Workload Identity client_id is invalid".into());
            }
            if !is_uuid(&w.tenant_id) {
                return Err("the provided Azure Workload Identity tenant_id is invalid".into());
            }
        }
        if let Some(o) = &self.oauth {
            if o.client_id.is_empty() {
                return Err("must provide an Azure OAuth client_id in the Azure AD config".into());
            }
            if o.client_secret.as_ref().is_none_or(|s| s.0.is_empty()) {
                return Err(
                    "must provide an Azure OAuth client_secret in the Azure AD config".into(),
                );
            }
            if o.tenant_id.is_empty() {
                return Err("must provide an Azure OAuth tenant_id in the Azure AD config".into());
            }
            if !is_uuid(&o.client_id) {
                return Err("the provided Azure OAuth client_id is invalid".into());
            }
        }
        if let Some(c) = &self.certificate {
            if c.client_id.is_empty() {
                return Err(
                    "must provide an Azure Certificate client_id in the Azure AD config".into(),
                );
            }
            if c.tenant_id.is_empty() {
                return Err(
                    "must provide an Azure Certificate tenant_id in the Azure AD config".into(),
                );
            }
            if c.certificate_path.is_empty() {
                return Err(
                    "must provide an Azure Certificate certificate_path in the Azure AD config"
                        .into(),
                );
            }
            if !is_uuid(&c.client_id) {
                return Err("the provided Azure Certificate client_id is invalid".into());
            }
        }
        if !self.scope.is_empty()
            && !self
                .scope
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c.is_whitespace() || ":/.-".contains(c))
        {
            return Err("the provided scope contains invalid characters".into());
        }
        Ok(())
    }
}

fn thirty_seconds() -> PromDuration {
    dur(30)
}

fn one_minute() -> PromDuration {
    dur(60)
}

fn proto_v1() -> String {
    PROTO_V1.to_string()
}

/// Headers a configuration may not set, as Prometheus lists them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), CheckError> {
    for h in headers.keys() {
        let l = h.to_ascii_lowercase();
        if l == "authorization" {
            return Err("authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter".into());
        }
        if RESERVED_HEADERS.contains(&l.as_str()) {
            return Err(format!("{h} is a reserved header. It must not be changed").into());
        }
    }
    Ok(())
}

fn check_unknown(
    unknown: &BTreeMap<String, serde_yaml::Value>,
    ty: &'static str,
) -> Result<(), CheckError> {
    if let Some(k) = unknown.keys().next() {
        return Err(CheckError::UnknownField { key: k.clone(), ty });
    }
    Ok(())
}

impl RemoteWriteConfig {
    /// Prometheus's checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        check_unknown(&self.unknown, "config.plain")?;
        if self.url.is_empty() {
            return Err("url for remote_write is empty".into());
        }
        let u = url::Url::parse(&self.url).map_err(|err| CheckError::Url {
            what: "remote_write url",
            url: self.url.clone(),
            err,
        })?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err(format!("unsupported scheme {:?} for remote_write url", u.scheme()).into());
        }
        check_headers(&self.headers)?;
        if let Some(a) = &self.azuread {
            a.validate()?;
        }
        if let Some(v4) = &self.sigv4 {
            let has_secret = v4.secret_key.as_ref().is_some_and(|s| !s.0.is_empty());
            if v4.access_key.is_empty() == has_secret {
                return Err("must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config".into());
            }
        }
        self.check_one_auth()?;
        for r in &self.write_relabel_configs {
            r.validate()?;
        }
        if self.protobuf_message != PROTO_V1 && self.protobuf_message != PROTO_V2 {
            return Err(format!(
                "invalid protobuf_message value: unknown type for remote write protobuf message {}, supported: {PROTO_V1}, {PROTO_V2}",
                self.protobuf_message
            ).into());
        }
        let q = &self.queue_config;
        if q.max_shards == 0 {
            return Err("remote write queue max_shards must be positive".into());
        }
        if q.min_shards == 0 {
            return Err("remote write queue min_shards must be positive".into());
        }
        if q.min_shards > q.max_shards {
            return Err("remote write queue min_shards must not be greater than max_shards".into());
        }
        if q.max_samples_per_send == 0 {
            return Err("remote write queue max_samples_per_send must be positive".into());
        }
        if q.capacity == 0 {
            return Err("remote write queue capacity must be positive".into());
        }
        if q.max_backoff < q.min_backoff {
            return Err("remote write queue max_backoff must not be less than min_backoff".into());
        }
        self.http.validate()
    }

    /// At most one way of authenticating, as Prometheus checks it (a
    /// bearer token counts as `authorization`).
    fn check_one_auth(&self) -> Result<(), CheckError> {
        let h = &self.http;
        let configured: Vec<&str> = [
            ("basic_auth", h.basic_auth.is_some()),
            (
                "authorization",
                h.authorization.is_some()
                    || h.bearer_token.is_some()
                    || h.bearer_token_file.is_some(),
            ),
            ("oauth2", h.oauth2.is_some()),
            ("sigv4", self.sigv4.is_some()),
            ("azuread", self.azuread.is_some()),
            ("google_iam", self.google_iam.is_some()),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
        if configured.len() > 1 {
            return Err(format!(
                "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [{}]",
                configured.join(" ")
            ).into());
        }
        Ok(())
    }

    /// The queue's name: `name`, or the first 6 hex digits of the MD5 of
    /// the entry written as YAML (secrets as `<secret>`).
    pub fn queue_name(&self) -> String {
        if let Some(n) = self.name.as_ref().filter(|n| !n.is_empty()) {
            return n.clone();
        }
        self.hash()[..6].to_string()
    }

    /// The MD5 of the entry written as YAML, in hex.
    pub fn hash(&self) -> String {
        use md5::Digest as _;
        let yaml = serde_yaml::to_string(self).unwrap_or_default();
        md5::Md5::digest(yaml.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The HTTP client settings with remote write's default: HTTP/2 only
    /// when `enable_http2` is set, as in Prometheus.
    pub fn http_client(&self) -> HttpClientConfig {
        let mut h = self.http.clone();
        h.enable_http2 = Some(h.http2(false));
        h
    }

    /// The URL with any password replaced, for labels and logs.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// A URL with its password shown as `xxxxx`, as Go's `URL.Redacted` does.
pub fn redact(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut p) if p.password().is_some() => {
            let _ = p.set_password(Some("xxxxx"));
            p.to_string()
        }
        _ => u.to_string(),
    }
}

/// One `remote_read` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct RemoteReadConfig {
    /// Where to read.
    pub url: String,
    /// A name for metrics and logs (default: from a hash of the entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Timeout of one request.
    #[serde(default = "one_minute")]
    pub remote_timeout: PromDuration,
    /// Headers added to every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Whether to read for time ranges the local storage has too.
    #[serde(default)]
    pub read_recent: bool,
    /// Label values a selector must match exactly for this remote to be
    /// asked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub required_matchers: BTreeMap<String, String>,
    /// Whether the external labels are added as matchers and removed
    /// from the answers.
    #[serde(default = "yes")]
    pub filter_external_labels: bool,
    /// Largest frame of a streamed answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunked_read_limit: Option<u64>,
    /// Authentication, TLS, proxy and redirect settings.
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Keys flint does not know or support.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_yaml::Value>,
}

impl RemoteReadConfig {
    /// Prometheus's checks, with its messages.
    pub fn validate(&self) -> Result<(), CheckError> {
        check_unknown(&self.unknown, "config.plain")?;
        if self.url.is_empty() {
            return Err("url for remote_read is empty".into());
        }
        url::Url::parse(&self.url).map_err(|err| CheckError::Url {
            what: "remote_read url",
            url: self.url.clone(),
            err,
        })?;
        check_headers(&self.headers)?;
        self.http.validate()
    }

    /// The name: `name`, or the first 6 hex digits of the entry's MD5.
    pub fn remote_name(&self) -> String {
        use md5::Digest as _;
        if let Some(n) = self.name.as_ref().filter(|n| !n.is_empty()) {
            return n.clone();
        }
        let yaml = serde_yaml::to_string(self).unwrap_or_default();
        md5::Md5::digest(yaml.as_bytes())[..3]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Checks every entry and that names are unique, as Prometheus does.
pub fn validate_all(
    writes: &[RemoteWriteConfig],
    reads: &[RemoteReadConfig],
) -> Result<(), CheckError> {
    let mut names = std::collections::HashSet::new();
    let mut hashes = std::collections::HashSet::new();
    for w in writes {
        w.validate()?;
        if !hashes.insert(w.hash()) {
            return Err(format!(
                "duplicate remote write configs are not allowed, found duplicate for URL: {}",
                w.redacted_url()
            )
            .into());
        }
        if let Some(n) = w.name.as_ref().filter(|n| !n.is_empty()) {
            if !names.insert(n.clone()) {
                return Err(
                    format!("found multiple remote write configs with job name {n:?}").into(),
                );
            }
        }
    }
    let mut names = std::collections::HashSet::new();
    for r in reads {
        r.validate()?;
        if let Some(n) = r.name.as_ref().filter(|n| !n.is_empty()) {
            if !names.insert(n.clone()) {
                return Err(
                    format!("found multiple remote read configs with job name {n:?}").into(),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(y: &str) -> RemoteWriteConfig {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn defaults_names_and_checks() {
        let c = rw("url: http://vm:8428/api/v1/write\n");
        assert_eq!(c.remote_timeout.to_string(), "30s");
        assert_eq!(c.protobuf_message, PROTO_V1);
        assert_eq!(c.queue_config, QueueConfig::default());
        assert_eq!(c.queue_config.max_samples_per_send, 2000);
        assert!(c.metadata_config.send);
        assert!(c.validate().is_ok());
        // HTTP/2 off unless asked for, unlike other sections
        assert_eq!(c.http.enable_http2, None);
        assert_eq!(c.http_client().enable_http2, Some(false));
        assert!(!c.http_client().http2(true));
        let h2 = rw("url: https://vm/api/v1/write\nenable_http2: true\n");
        assert_eq!(h2.http_client().enable_http2, Some(true));
        let name = c.queue_name();
        assert_eq!(name.len(), 6);
        assert_eq!(name, rw("url: http://vm:8428/api/v1/write\n").queue_name());
        assert_ne!(name, rw("url: http://vm:8428/other\n").queue_name());
        assert_eq!(rw("url: http://x/\nname: prod\n").queue_name(), "prod");
        assert_eq!(redact("http://u:secret@h:1/p"), "http://u:xxxxx@h:1/p");
        for (y, want) in [
            ("url: ''\n", "url for remote_write is empty"),
            (
                "url: http://x/\nheaders: {Authorization: x}\n",
                "authorization header",
            ),
            (
                "url: http://x/\nheaders: {User-Agent: x}\n",
                "User-Agent is a reserved header",
            ),
            (
                "url: http://x/\nprotobuf_message: foo\n",
                "invalid protobuf_message value",
            ),
            (
                "url: http://x/\nqueue_config: {min_shards: 5, max_shards: 2}\n",
                "min_shards must not be greater",
            ),
            (
                "url: http://x/\nqueue_config: {min_backoff: 10s, max_backoff: 1s}\n",
                "max_backoff must not be less",
            ),
            (
                "url: http://x/\nazuread: {cloud: AzurePublic}\n",
                "must provide an Azure Managed Identity, Azure Workload Identity, Azure OAuth, Azure Certificate or Azure SDK in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {certificate: {client_id: c, tenant_id: t, certificate_path: p}}\n",
                "the provided Azure Certificate client_id is invalid",
            ),
            (
                "url: http://x/\nazuread: {certificate: {client_id: 5e4d3c2b-2222-4333-8444-0123456789ab, certificate_path: p}}\n",
                "must provide an Azure Certificate tenant_id in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {certificate: {client_id: 5e4d3c2b-2222-4333-8444-0123456789ab, tenant_id: t}}\n",
                "must provide an Azure Certificate certificate_path in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {certificate: {tenant_id: t, certificate_path: p}}\n",
                "must provide an Azure Certificate client_id in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {oauth: {client_id: c, client_secret: s, tenant_id: t}, certificate: {client_id: c}}\n",
                "cannot provide multiple authentication methods in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {cloud: Mars, sdk: {}}\n",
                "must provide a cloud in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {sdk: {}, managed_identity: {}}\n",
                "cannot provide multiple authentication methods in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {managed_identity: {client_id: me}}\n",
                "the provided Azure Managed Identity client_id is invalid",
            ),
            (
                "url: http://x/\nazuread: {oauth: {client_id: 5e4d3c2b-2222-4333-8444-0123456789ab, tenant_id: t}}\n",
                "must provide an Azure OAuth client_secret in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {workload_identity: {client_id: 5e4d3c2b-2222-4333-8444-0123456789ab}}\n",
                "must provide an Azure Workload Identity tenant_id in the Azure AD config",
            ),
            (
                "url: http://x/\nazuread: {sdk: {}, scope: 'a;b'}\n",
                "the provided scope contains invalid characters",
            ),
            (
                "url: http://x/\nazuread: {sdk: {}}\nbearer_token: x\n",
                "at most one of basic_auth, authorization, oauth2, sigv4, azuread",
            ),
            (
                "url: http://x/\ngoogle_iam: {}\nbasic_auth: {username: u}\n",
                "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [basic_auth google_iam]",
            ),
            (
                "url: http://x/\ngoogle_iam: {credentials_file: k.json}\nsigv4: {region: x}\n",
                "Currently configured: [sigv4 google_iam]",
            ),

            (
                "url: http://x/\nsigv4: {region: x, access_key: a}\n",
                "must provide a AWS SigV4 Access key and Secret Key",
            ),
            (
                "url: http://x/\nsigv4: {region: x}\nbasic_auth: {username: u}\n",
                "at most one of basic_auth, authorization, oauth2, sigv4",
            ),
            (
                "url: http://x/\nbogus: 1\n",
                "field bogus not found in type config.plain",
            ),
        ] {
            let e = rw(y).validate().unwrap_err().to_string();
            assert!(e.contains(want), "{y}: {e}");
        }
        for y in [
            "url: http://x/\nazuread: {managed_identity: {}}\n",
            "url: http://x/\nazuread: {cloud: AzureChina, managed_identity: {client_id: 1a2b3c4d-4444-4555-8666-0123456789ef}}\n",
            "url: http://x/\nazuread: {oauth: {client_id: 5e4d3c2b22224333844401234567890a, client_secret: s, tenant_id: t}}\n",
            "url: http://x/\nazuread: {sdk: {tenant_id: t}, scope: 'https://example.org/.default'}\n",
            "url: http://x/\nazuread: {cloud: AzureGovernment, certificate: {client_id: 5e4d3c2b-2222-4333-8444-0123456789ab, tenant_id: t, certificate_path: app.pem, certificate_key_path: app.key, send_certificate_chain: true}}\n",
        ] {
            assert_eq!(rw(y).validate(), Ok(()), "{y}");
        }
        assert_eq!(
            rw("url: http://x/\nazuread: {sdk: {}}\n")
                .azuread
                .unwrap()
                .cloud,
            "AzurePublic"
        );
        let g = rw("url: http://x/\ngoogle_iam: {credentials_file: /etc/sa.json}\n");
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.google_iam.unwrap().credentials_file, "/etc/sa.json");
        assert_eq!(
            rw("url: http://x/\ngoogle_iam: {}\n").google_iam,
            Some(GoogleIamConfig::default())
        );
        let e = serde_yaml::from_str::<RemoteWriteConfig>(
            "url: http://x/\ngoogle_iam: {credentials: k}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `credentials`"), "{e}");
        assert!(is_uuid("{5e4d3c2b-2222-4333-8444-0123456789ab}"));
        assert!(is_uuid("urn:uuid:5e4d3c2b-2222-4333-8444-0123456789ab"));
        assert!(!is_uuid("5e4d3c2b-2222-4333-8444-0123456789a"));
        let same = [rw("url: http://x/\n"), rw("url: http://x/\n")];
        assert!(validate_all(&same, &[])
            .unwrap_err()
            .to_string()
            .contains("duplicate remote write configs"));
        let names = [
            rw("url: http://x/\nname: a\n"),
            rw("url: http://y/\nname: a\n"),
        ];
        assert!(validate_all(&names, &[])
            .unwrap_err()
            .to_string()
            .contains("job name \"a\""));
    }
}
