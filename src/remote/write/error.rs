//! Why a remote write endpoint's sender could not be made, or a client for
//! one request (`round_robin_dns`) could not, or the `remote_write`
//! section could not be applied.

use common::httpclient::HttpClientError;
use discovery::gce::credentials::CredentialsError;

/// A sender or request client that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The endpoint's HTTP client settings cannot be used.
    #[error(transparent)]
    Client(#[from] HttpClientError),
    /// The `azuread` credentials cannot be used.
    #[error(transparent)]
    AzureAd(#[from] discovery::azure::AzureError),
    /// The `google_iam` credentials file cannot be read.
    #[error("error reading Google credentials file: {0}")]
    GoogleFileRead(CredentialsError),
    /// The `google_iam` credentials file is not one Google's libraries take.
    #[error("error parsing Google credentials file: {0}")]
    GoogleFileParse(CredentialsError),
    /// Google's application default credentials were not found, or are
    /// not usable.
    #[error("error finding default Google credentials: {0}")]
    GoogleDefault(CredentialsError),
    /// The endpoint's URL does not parse.
    #[error("{0}")]
    Url(#[from] url::ParseError),
    /// The endpoint's host could not be looked up.
    #[error("lookup {host}: {err}")]
    Lookup {
        /// The host.
        host: String,
        /// Why.
        err: std::io::Error,
    },
    /// The endpoint's host has no addresses.
    #[error("lookup {host}: no addresses")]
    NoAddresses {
        /// The host.
        host: String,
    },
}

/// Why a request could not be signed (`sigv4`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SigningError {
    /// The region or credential source could not be settled.
    #[error(transparent)]
    Aws(#[from] discovery::ec2::AwsError),
    /// No credentials could be had.
    #[error(transparent)]
    Credentials(#[from] discovery::refresh::SdError),
    /// The endpoint's URL does not parse.
    #[error("{0}")]
    Url(#[from] url::ParseError),
    /// An endpoint URL without a host.
    #[error("no host in {0}")]
    NoHost(String),
}

/// Why [`super::RemoteWrite::apply`] could not apply a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An endpoint's sender could not be made.
    #[error("remote_write {url}: {err}")]
    Queue {
        /// The endpoint's URL, its secrets redacted.
        url: String,
        /// Why.
        err: SenderError,
    },
    /// The write journal could not take the queues' readers.
    #[error("remote write journal: {0}")]
    Journal(tsdb::Error),
}
