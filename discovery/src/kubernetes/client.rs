//! Talking to the Kubernetes API server: where it is and how to
//! authenticate (an explicit `api_server` with the entry's HTTP settings,
//! a kubeconfig file, or the service account of the pod flint runs in),
//! and the two requests discovery makes: list a collection, and watch it
//! from a resource version as a stream of JSON events.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::config::KubernetesSdConfig;
use crate::KubeClientError;
use common::config::http::{Authorization, BasicAuth, HttpClientConfig, Secret, TlsConfig};
use common::httpclient::HttpClient;

/// Where a pod's service account is mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// The resource version is too old (410 Gone, as an HTTP status or as
    /// an ERROR event): list again.
    Gone,
    /// The server answered an error status, with its message.
    Status(u16, String),
    /// No answer (connection refused, timeout, …).
    Transport(String),
    /// The answer was not what the API returns.
    Decode(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Gone => f.write_str("resource version too old (410 Gone)"),
            ApiError::Status(code, msg) => write!(f, "server answered {code}: {msg}"),
            ApiError::Transport(e) => f.write_str(e),
            ApiError::Decode(e) => write!(f, "undecodable answer: {e}"),
        }
    }
}

/// A client of one API server with one set of credentials.
pub struct ApiClient {
    base: String,
    http: HttpClient,
    /// What identifies the server and credentials, for sharing watches.
    pub identity: String,
}

fn kube_err(e: impl std::fmt::Display) -> KubeClientError {
    KubeClientError::Kubeconfig(e.to_string())
}

/// The parts of a kubeconfig file used: the current context's server and
/// user.
fn from_kubeconfig(path: &Path) -> Result<(String, HttpClientConfig), KubeClientError> {
    let text = std::fs::read_to_string(path).map_err(|err| KubeClientError::ReadKubeconfig {
        path: path.to_path_buf(),
        err,
    })?;
    let v: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(KubeClientError::KubeconfigYaml)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let current = v["current-context"]
        .as_str()
        .ok_or_else(|| kube_err("no current-context"))?;
    let named =
        |list: &str, name: &str, field: &str| -> Result<serde_yaml::Value, KubeClientError> {
            v[list]
                .as_sequence()
                .and_then(|s| s.iter().find(|e| e["name"].as_str() == Some(name)))
                .map(|e| e[field].clone())
                .ok_or_else(|| kube_err(format!("{list} has no entry named {name:?}")))
        };
    let ctx = named("contexts", current, "context")?;
    let cluster = named(
        "clusters",
        ctx["cluster"].as_str().unwrap_or_default(),
        "cluster",
    )?;
    let user = match ctx["user"].as_str() {
        Some(u) if !u.is_empty() => named("users", u, "user")?,
        _ => serde_yaml::Value::Null,
    };
    let server = cluster["server"]
        .as_str()
        .ok_or_else(|| kube_err("the cluster has no server"))?
        .trim_end_matches('/')
        .to_string();
    let s = |v: &serde_yaml::Value, k: &str| v[k].as_str().map(str::to_string);
    let data = |v: &serde_yaml::Value, k: &str| -> Result<Option<String>, KubeClientError> {
        match s(v, k) {
            None => Ok(None),
            Some(b64) => {
                let raw = common::base64::decode(b64.trim())
                    .ok_or_else(|| kube_err(format!("{k} is not base64")))?;
                Ok(Some(String::from_utf8_lossy(&raw).into_owned()))
            }
        }
    };
    let file = |v: &serde_yaml::Value, k: &str| s(v, k).map(|p| dir.join(p).display().to_string());
    for (pathk, datak) in [
        ("certificate-authority", "certificate-authority-data"),
        ("client-certificate", "client-certificate-data"),
        ("client-key", "client-key-data"),
    ] {
        let holder = if pathk.starts_with("client") {
            &user
        } else {
            &cluster
        };
        if s(holder, pathk).is_some() && s(holder, datak).is_some() {
            return Err(kube_err(format!(
                "{pathk} and {datak} are both specified; only one is allowed"
            )));
        }
    }
    let mut http = HttpClientConfig::default();
    let tls = TlsConfig {
        ca: data(&cluster, "certificate-authority-data")?,
        ca_file: file(&cluster, "certificate-authority"),
        cert: data(&user, "client-certificate-data")?,
        cert_file: file(&user, "client-certificate"),
        key: data(&user, "client-key-data")?.map(Secret),
        key_file: file(&user, "client-key"),
        server_name: s(&cluster, "tls-server-name"),
        insecure_skip_verify: cluster["insecure-skip-tls-verify"]
            .as_bool()
            .unwrap_or(false),
        ..TlsConfig::default()
    };
    if tls != TlsConfig::default() {
        http.tls_config = Some(tls);
    }
    if let Some(p) = s(&cluster, "proxy-url") {
        http.proxy_url = Some(p);
    }
    let token = s(&user, "token");
    let token_file = file(&user, "tokenFile");
    let basic = s(&user, "username");
    if (token.is_some() || token_file.is_some()) && basic.is_some() {
        return Err(kube_err(
            "more than one authentication method found; found [token basicAuth], only one is allowed",
        ));
    }
    if token.is_some() || token_file.is_some() {
        http.authorization = Some(Authorization {
            kind: None,
            credentials: token.map(Secret),
            credentials_file: token_file,
        });
    }
    if let Some(u) = basic {
        http.basic_auth = Some(BasicAuth {
            username: u,
            password: s(&user, "password").map(Secret),
            ..BasicAuth::default()
        });
    }
    Ok((server, http))
}

/// The server and credentials of the pod flint runs in, from
/// `KUBERNETES_SERVICE_HOST`/`_PORT` and the service account in `sa_dir`.
pub fn in_cluster(sa_dir: &Path) -> Result<(String, HttpClientConfig), KubeClientError> {
    let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
    if host.is_empty() || port.is_empty() {
        return Err(KubeClientError::NotInCluster);
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let token = sa_dir.join("token");
    std::fs::metadata(&token).map_err(|err| KubeClientError::Token {
        path: token.clone(),
        err,
    })?;
    let ca = sa_dir.join("ca.crt");
    let http = HttpClientConfig {
        authorization: Some(Authorization {
            kind: None,
            credentials: None,
            credentials_file: Some(token.display().to_string()),
        }),
        tls_config: ca.exists().then(|| TlsConfig {
            ca_file: Some(ca.display().to_string()),
            ..TlsConfig::default()
        }),
        ..HttpClientConfig::default()
    };
    Ok((format!("https://{host}:{port}"), http))
}

/// The namespace of the pod flint runs in (for `own_namespace`).
pub fn own_namespace(sa_dir: &Path) -> Result<String, KubeClientError> {
    let p = sa_dir.join("namespace");
    let ns = std::fs::read_to_string(&p).map_err(KubeClientError::Namespace)?;
    if ns.is_empty() {
        return Err(KubeClientError::EmptyNamespace);
    }
    Ok(ns)
}

impl ApiClient {
    /// The client for an entry (relative files against `base_dir`).
    pub fn new(cfg: &KubernetesSdConfig, base_dir: &Path) -> Result<ApiClient, KubeClientError> {
        let (base, http) = if let Some(k) = &cfg.kubeconfig_file {
            let p: PathBuf = base_dir.join(k);
            from_kubeconfig(&p)?
        } else if let Some(a) = &cfg.api_server {
            (a.trim_end_matches('/').to_string(), cfg.http.clone())
        } else {
            tracing::info!(
                component = "discovery manager",
                discovery = "kubernetes",
                "Using pod service account via in-cluster config"
            );
            in_cluster(Path::new(SERVICE_ACCOUNT_DIR))?
        };
        let identity = format!(
            "{base}\u{0}{}",
            serde_yaml::to_string(&http).unwrap_or_default()
        );
        // kubeconfig files name paths relative to themselves: resolved above
        let client = HttpClient::new(&http, base_dir, true)?;
        Ok(ApiClient {
            base,
            http: client,
            identity,
        })
    }

    async fn request(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let mut url = url::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| ApiError::Transport(format!("bad URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                if !v.is_empty() {
                    q.append_pair(k, v);
                }
            }
        }
        let req = self
            .http
            .client()
            .get(url)
            .header("Accept", "application/json")
            .header("User-Agent", concat!("flint/", env!("CARGO_PKG_VERSION")));
        self.http
            .authorize(req)
            .await
            .map_err(|e| ApiError::Transport(e.to_string()))
    }

    /// Lists a collection: its items and the resource version to watch
    /// from.
    pub async fn list(
        &self,
        path: &str,
        label: &str,
        field: &str,
    ) -> Result<(Vec<Value>, String), ApiError> {
        let req = self
            .request(
                path,
                &[
                    ("labelSelector", label.into()),
                    ("fieldSelector", field.into()),
                ],
            )
            .await?
            .timeout(Duration::from_secs(60));
        let resp = req
            .send()
            .await
            .map_err(|e| ApiError::Transport(chain(&e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(chain(&e)))?;
        if status == 410 {
            return Err(ApiError::Gone);
        }
        if status != 200 {
            return Err(ApiError::Status(status, status_message(&body)));
        }
        let v: Value =
            serde_json::from_slice(&body).map_err(|e| ApiError::Decode(e.to_string()))?;
        let items = v["items"]
            .as_array()
            .cloned()
            .ok_or_else(|| ApiError::Decode("a list without items".into()))?;
        let rv = v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok((items, rv))
    }

    /// Starts watching a collection from `rv`; the answer's body is the
    /// event stream (see [`EventReader`]).
    pub async fn watch(
        &self,
        path: &str,
        label: &str,
        field: &str,
        rv: &str,
        timeout: Duration,
    ) -> Result<reqwest::Response, ApiError> {
        let req = self
            .request(
                path,
                &[
                    ("allowWatchBookmarks", "true".into()),
                    ("fieldSelector", field.into()),
                    ("labelSelector", label.into()),
                    ("resourceVersion", rv.into()),
                    ("timeoutSeconds", timeout.as_secs().to_string()),
                    ("watch", "true".into()),
                ],
            )
            .await?;
        // the server ends the stream itself; this only bounds a dead one
        let req = req.timeout(timeout + Duration::from_secs(30));
        let resp = req
            .send()
            .await
            .map_err(|e| ApiError::Transport(chain(&e)))?;
        let status = resp.status().as_u16();
        if status == 410 {
            return Err(ApiError::Gone);
        }
        if status != 200 {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(ApiError::Status(status, status_message(&body)));
        }
        Ok(resp)
    }
}

/// The `message` of a `Status` body, or the body's start.
fn status_message(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v["message"].is_string() => v["message"].as_str().unwrap_or_default().to_string(),
        _ => String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_string(),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
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

/// One watch event.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// An object was added.
    Added(Value),
    /// An object changed.
    Modified(Value),
    /// An object was deleted (its last state).
    Deleted(Value),
    /// Only the resource version moved on.
    Bookmark(String),
}

/// Reads the events of a watch answer, one JSON object after another.
pub struct EventReader {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl EventReader {
    /// Reads `resp`'s events.
    pub fn new(resp: reqwest::Response) -> EventReader {
        EventReader {
            resp,
            buf: Vec::new(),
        }
    }

    /// The next event; `Ok(None)` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, ApiError> {
        loop {
            if let Some(ev) = self.take()? {
                return Ok(Some(ev));
            }
            match self.resp.chunk().await {
                Ok(Some(c)) => self.buf.extend_from_slice(&c),
                Ok(None) => {
                    if self.buf.iter().all(u8::is_ascii_whitespace) {
                        return Ok(None);
                    }
                    return Err(ApiError::Decode("the stream ended inside an event".into()));
                }
                Err(e) => return Err(ApiError::Transport(chain(&e))),
            }
        }
    }

    /// An event, if a whole one is buffered.
    fn take(&mut self) -> Result<Option<Event>, ApiError> {
        let start = match self.buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(s) => s,
            None => {
                self.buf.clear();
                return Ok(None);
            }
        };
        let mut stream =
            serde_json::Deserializer::from_slice(&self.buf[start..]).into_iter::<Value>();
        let v = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) if e.is_eof() => return Ok(None),
            Some(Err(e)) => return Err(ApiError::Decode(e.to_string())),
            None => return Ok(None),
        };
        let used = start + stream.byte_offset();
        self.buf.drain(..used);
        let object = v["object"].clone();
        match v["type"].as_str() {
            Some("ADDED") => Ok(Some(Event::Added(object))),
            Some("MODIFIED") => Ok(Some(Event::Modified(object))),
            Some("DELETED") => Ok(Some(Event::Deleted(object))),
            Some("BOOKMARK") => Ok(Some(Event::Bookmark(
                object["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ))),
            Some("ERROR") => {
                let code = object["code"].as_u64().unwrap_or(0) as u16;
                if code == 410 {
                    Err(ApiError::Gone)
                } else {
                    Err(ApiError::Status(
                        code,
                        object["message"].as_str().unwrap_or_default().to_string(),
                    ))
                }
            }
            other => Err(ApiError::Decode(format!("unknown event type {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let ca = common::base64::decode("LS0tLS1CRUdJTg==").unwrap();
        assert_eq!(ca, b"-----BEGIN");
        std::fs::write(
            dir.path().join("kc"),
            "apiVersion: v1\nkind: Config\ncurrent-context: b\nclusters:\n- name: c1\n  cluster:\n    server: https://one:6443/\n- name: c2\n  cluster:\n    server: https://two:6443\n    certificate-authority-data: LS0tLS1CRUdJTg==\n    tls-server-name: k8s\ncontexts:\n- name: a\n  context: {cluster: c1, user: u1}\n- name: b\n  context: {cluster: c2, user: u2}\nusers:\n- name: u1\n  user: {token: one}\n- name: u2\n  user:\n    tokenFile: tok\n",
        )
        .unwrap();
        let (server, http) = from_kubeconfig(&dir.path().join("kc")).unwrap();
        assert_eq!(server, "https://two:6443");
        let tls = http.tls_config.unwrap();
        assert_eq!(tls.ca.as_deref(), Some("-----BEGIN"));
        assert_eq!(tls.server_name.as_deref(), Some("k8s"));
        let auth = http.authorization.unwrap();
        assert_eq!(
            auth.credentials_file.unwrap(),
            dir.path().join("tok").display().to_string()
        );
        std::fs::write(
            dir.path().join("bad"),
            "current-context: a\nclusters:\n- name: c\n  cluster: {server: 'https://x'}\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: t, username: x}\n",
        )
        .unwrap();
        let e = from_kubeconfig(&dir.path().join("bad")).unwrap_err();
        assert!(matches!(e, KubeClientError::Kubeconfig(_)), "{e}");
        assert!(
            e.to_string()
                .contains("more than one authentication method"),
            "{e}"
        );
    }

    #[test]
    fn in_cluster_needs_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("namespace"), "monitoring").unwrap();
        assert_eq!(own_namespace(dir.path()).unwrap(), "monitoring");
        std::fs::write(dir.path().join("namespace"), "").unwrap();
        assert!(matches!(
            own_namespace(dir.path()),
            Err(KubeClientError::EmptyNamespace)
        ));
    }
}
