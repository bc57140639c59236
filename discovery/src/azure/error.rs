//! Why an Azure credential gave no token, or an entry's discovery could
//! not be set up, in the words of Azure's SDK for Go.

use common::httpclient::{error_chain, HttpClientError};

/// An Azure credential or discovery entry that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// An `environment` flint does not know.
    #[error("there is no cloud configuration matching the name {0:?}")]
    UnknownCloud(String),
    /// An `authentication_method` flint does not know.
    #[error("unknown authentication_type {0:?}")]
    UnknownMethod(String),
    /// A workload identity setting missing from the environment.
    #[error("no {what} specified. Check pod configuration or set the {var} environment variable")]
    Unset {
        /// What is missing (`client ID`).
        what: &'static str,
        /// The environment variable that gives it.
        var: &'static str,
    },
    /// A workload identity that cannot be used.
    #[error("WorkloadIdentityCredential: {0}")]
    WorkloadIdentity(Box<AzureError>),
    /// The entry's HTTP client settings cannot be used.
    #[error(transparent)]
    Client(#[from] HttpClientError),
    /// A client that could not be built.
    #[error("building the HTTP client: {0}")]
    Build(reqwest::Error),
    /// A credential's failure, named.
    #[error("{credential}: {err}")]
    Credential {
        /// The credential's name.
        credential: &'static str,
        /// Its failure.
        err: Box<AzureError>,
    },
    /// A lone credential's failure.
    #[error("{credential}: authentication failed: {err}")]
    AuthenticationFailed {
        /// The credential's name.
        credential: &'static str,
        /// Its failure.
        err: Box<AzureError>,
    },
    /// No member of the default chain gave a token.
    #[error("DefaultAzureCredential: failed to acquire a token. Attempted credentials: {}", .0.join("; "))]
    ChainFailed(Vec<String>),
    /// A chain among the members of a chain.
    #[error("a chain within a chain")]
    NestedChain,
    /// A workload identity's token file that cannot be read.
    #[error("unable to read {file}: {err}")]
    ReadTokenFile {
        /// The file.
        file: String,
        /// Why.
        err: std::io::Error,
    },
    /// A client certificate or key file that cannot be read.
    #[error("failed to read {what} file {file}: {}", crate::gce::go_io(err))]
    ReadCertificate {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        file: String,
        /// Why.
        err: std::io::Error,
    },
    /// Client certificate data that cannot be used.
    #[error("failed to parse certificate data: {0}")]
    CertificateData(Box<AzureError>),
    /// What is wrong with a client certificate or its key.
    #[error("{0}")]
    Certificate(String),
    /// A token endpoint that did not answer.
    #[error("{}", error_chain(.0))]
    Transport(reqwest::Error),
    /// A token endpoint's refusal.
    #[error("status {status}: {detail}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// Entra ID's error and description, or the start of the body.
        detail: String,
    },
    /// A token answer that is not JSON.
    #[error("undecodable token answer: {0}")]
    Decode(serde_json::Error),
    /// A token answer without a token.
    #[error("the token answer has no access_token")]
    NoAccessToken,
}

/// An answer of the Azure API that does not hold what discovery reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// A resource ID that does not read.
    #[error("invalid ID '{id}': {why}")]
    ResourceId {
        /// The ID.
        id: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A machine whose primary interface has no private address.
    #[error("unable to find a private IP for VM {0}")]
    NoPrivateIp(String),
}
