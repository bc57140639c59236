//! Why a discovery mechanism could not read its targets, for the
//! mechanisms whose failures are not an API's answers ([`SdError`]):
//! files, HTTP endpoints, DNS names, and setting up the Kubernetes client.
//! Each is logged as it reads.
//!
//! [`SdError`]: super::refresh::SdError

use common::config::DockerConfigError;

use std::path::PathBuf;

use common::config::CheckError;
use common::httpclient::HttpClientError;

/// A file of `file_sd_configs` that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileSdError {
    /// The file could not be read.
    #[error("{}: {err}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// A `.json` file that is not a list of groups.
    #[error("{}: {err}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        err: serde_json::Error,
    },
    /// A YAML file that is not a list of groups.
    #[error("{}: {err}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// Why.
        err: serde_yaml::Error,
    },
}

/// An `http_sd_configs` endpoint that gave no groups.
#[derive(Debug, thiserror::Error)]
pub enum HttpSdError {
    /// The request could not be authorized (credentials files, OAuth 2).
    #[error(transparent)]
    Client(#[from] HttpClientError),
    /// No answer, or a body that could not be read.
    #[error("{0}")]
    Request(reqwest::Error),
    /// An answer with a status other than success.
    #[error("server returned HTTP status {0}")]
    Status(reqwest::StatusCode),
    /// An answer that is not JSON.
    #[error("unsupported content type {0:?}")]
    ContentType(String),
    /// A JSON answer that is not a list of groups.
    #[error("{0}")]
    Decode(serde_json::Error),
}

/// A `dns_sd_configs` entry whose names could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum DnsSdError {
    /// A name whose lookup failed.
    #[error("{name}: {err}")]
    Lookup {
        /// The name.
        name: String,
        /// Why.
        err: hickory_resolver::error::ResolveError,
    },
    /// A record type DNS-SD does not look up.
    #[error("invalid DNS-SD records type {0}")]
    RecordType(String),
}

/// Why the Kubernetes API client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KubeClientError {
    /// The kubeconfig file could not be read.
    #[error("reading kubeconfig {}: {err}", path.display())]
    ReadKubeconfig {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// A kubeconfig file that is not YAML.
    #[error("kubeconfig: {0}")]
    KubeconfigYaml(serde_yaml::Error),
    /// A kubeconfig file without what is needed, or with too much.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// In-cluster configuration without the service's address.
    #[error("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined")]
    NotInCluster,
    /// The service account's token could not be read.
    #[error("reading the service account token {}: {err}", path.display())]
    Token {
        /// The token's file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// The pod's namespace file could not be read.
    #[error("could not determine the pod's namespace: {0}")]
    Namespace(std::io::Error),
    /// The pod's namespace file is empty.
    #[error("could not read own namespace name (empty file)")]
    EmptyNamespace,
    /// The HTTP client could not be made.
    #[error(transparent)]
    Client(#[from] HttpClientError),
}

/// A Docker or Docker Swarm entry whose daemon cannot be reached as
/// configured.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// A host that is not `PROTOCOL://ADDRESS`.
    #[error("unable to parse docker host `{0}`")]
    Host(String),
    /// A protocol Docker offers on another system (`npipe`).
    #[error("protocol {proto} of docker host `{host}` is not available on this system")]
    ProtocolHere {
        /// The protocol.
        proto: String,
        /// The host.
        host: String,
    },
    /// A protocol Docker does not know.
    #[error("protocol not available: {0}")]
    Protocol(String),
    /// A host or role refused when the configuration is loaded.
    #[error(transparent)]
    Config(#[from] DockerConfigError),
    /// The HTTP client could not be made.
    #[error(transparent)]
    Client(#[from] HttpClientError),
}

/// A discovery client (Consul, OpenStack) that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SdClientError {
    /// The entry's server address, as loading the configuration refuses it.
    #[error(transparent)]
    Config(#[from] CheckError),
    /// OpenStack credentials missing from the environment.
    #[error(transparent)]
    OpenStackAuth(#[from] OpenStackAuthError),
    /// The HTTP client could not be made.
    #[error(transparent)]
    Client(#[from] HttpClientError),
}

/// OpenStack credentials that cannot authenticate, as gophercloud words
/// it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenStackAuthError {
    /// A required environment variable is not set.
    #[error("Missing environment variable [{0}]")]
    MissingVariable(&'static str),
    /// Neither `OS_USERID` nor `OS_USERNAME` is set.
    #[error("Missing one of the following environment variables [OS_USERID, OS_USERNAME]")]
    MissingUser,
    /// Neither a user name nor a user id.
    #[error("You must provide exactly one of Username or UserID")]
    UserOrId,
    /// A user name without exactly one of its domain's id and name.
    #[error("You must provide exactly one of DomainID or DomainName to authenticate by Username")]
    UserDomain,
    /// A project name without exactly one of its domain's id and name.
    #[error("You must provide exactly one of DomainID or DomainName in a Scope with ProjectName")]
    ScopeDomain,
}
