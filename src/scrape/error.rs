//! Why a scrape failed: its target's body could not be fetched
//! ([`FetchError`]) or its samples could not be stored ([`StoreError`]).
//! The messages are the targets page's and the logs'.

use std::sync::Arc;
use std::time::Duration;

use common::httpclient::HttpClientError;

/// Why a job has no HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JobClientError {
    /// The job's HTTP client settings cannot be used.
    #[error("{0}")]
    Build(Arc<HttpClientError>),
    /// A job the manager made no client for.
    #[error("no HTTP client for the job")]
    Missing,
}

/// Why a target's body was not fetched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The manager's verdict on the target (its pool's `target_limit`).
    #[error("{0}")]
    Forced(String),
    /// The job has no client.
    #[error(transparent)]
    NoClient(#[from] JobClientError),
    /// The request's credentials could not be read or obtained.
    #[error(transparent)]
    Authorize(#[from] HttpClientError),
    /// No answer, worded as Go's HTTP client words it.
    #[error("{0}")]
    Transport(String),
    /// An answer other than 200.
    #[error("server returned HTTP status {} {}", .0.as_u16(), .0.canonical_reason().unwrap_or(""))]
    Status(reqwest::StatusCode),
    /// A body over the `body_size_limit`.
    #[error("body size limit exceeded")]
    BodyLimit,
}

/// Why a scrape's samples were not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The head forgot a series the loop's cache holds (its data all went
    /// into blocks): the scrape is stored again with the series resolved
    /// anew.
    #[error("{}", tsdb::Error::UnknownSeries(0))]
    UnknownSeries,
    /// The fallback protocol is not one known.
    #[error(transparent)]
    Protocol(#[from] crate::config::ProtocolError),
    /// No Content-Type and no fallback protocol.
    #[error("non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target")]
    BlankContentType,
    /// A Content-Type not known and no fallback protocol.
    #[error("received unsupported Content-Type {0:?} and no fallback_scrape_protocol specified for target")]
    UnsupportedContentType(String),
    /// A series over the job's label limits.
    #[error(transparent)]
    LabelLimit(#[from] LabelLimitError),
    /// A native histogram that cannot be merged down to the job's
    /// `native_histogram_bucket_limit`.
    #[error("histogram bucket limit exceeded")]
    BucketLimit,
    /// Anything else, as the targets page shows it.
    #[error("{0}")]
    Other(String),
}

/// A scraped series over one of the job's label limits (its metric name
/// cut to 50 characters, as are the label's name and value).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LabelLimitError {
    /// More labels than `label_limit`.
    #[error("label_limit exceeded (metric: {metric}, number of labels: {count}, limit: {limit})")]
    Count {
        /// The metric name.
        metric: String,
        /// The series' labels.
        count: usize,
        /// `label_limit`.
        limit: u64,
    },
    /// A label name longer than `label_name_length_limit`.
    #[error("label_name_length_limit exceeded (metric: {metric}, label name: {name}, length: {length}, limit: {limit})")]
    NameLength {
        /// The metric name.
        metric: String,
        /// The label's name.
        name: String,
        /// Its length in bytes.
        length: usize,
        /// `label_name_length_limit`.
        limit: u64,
    },
    /// A label value longer than `label_value_length_limit`.
    #[error("label_value_length_limit exceeded (metric: {metric}, label name: {name}, value: {value:?}, length: {length}, limit: {limit})")]
    ValueLength {
        /// The metric name.
        metric: String,
        /// The label's name.
        name: String,
        /// The label's value.
        value: String,
        /// Its length in bytes.
        length: usize,
        /// `label_value_length_limit`.
        limit: u64,
    },
}

impl From<String> for StoreError {
    fn from(e: String) -> Self {
        StoreError::Other(e)
    }
}

impl From<&str> for StoreError {
    fn from(e: &str) -> Self {
        StoreError::Other(e.to_string())
    }
}

impl From<tsdb::Error> for StoreError {
    fn from(e: tsdb::Error) -> Self {
        match e {
            tsdb::Error::UnknownSeries(_) => StoreError::UnknownSeries,
            e => StoreError::Other(e.to_string()),
        }
    }
}

/// Words a fetch error as Go's HTTP client does, which is what users grep
/// their logs for: `Get "URL": dial tcp ADDR: connect: connection refused`.
pub(super) fn go_style_error(url: &str, e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!(
            "Get {url:?}: context deadline exceeded (timeout {}s)",
            timeout.as_secs_f64()
        );
    }
    // find the innermost io::Error
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut io: Option<&std::io::Error> = None;
    while let Some(s) = src {
        if let Some(x) = s.downcast_ref::<std::io::Error>() {
            io = Some(x);
        }
        src = s.source();
    }
    let addr = url::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_default();
    if e.is_connect() {
        let what = match io.map(|x| x.kind()) {
            Some(std::io::ErrorKind::ConnectionRefused) => {
                "connect: connection refused".to_string()
            }
            Some(std::io::ErrorKind::TimedOut) => "i/o timeout".to_string(),
            Some(_) => format!(
                "connect: {}",
                strip_os_error(&io.map(|x| x.to_string()).unwrap_or_default())
            ),
            None => format!(
                "lookup {}: no such host",
                addr.rsplit_once(':').map_or(addr.as_str(), |x| x.0)
            ),
        };
        return format!("Get {url:?}: dial tcp {addr}: {what}");
    }
    let inner = io
        .map(|x| strip_os_error(&x.to_string()))
        .unwrap_or_else(|| e.to_string());
    format!("Get {url:?}: {inner}")
}

fn strip_os_error(s: &str) -> String {
    // "Connection reset by peer (os error 104)" -> "connection reset by peer"
    let s = s.split(" (os error").next().unwrap_or(s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_connection_reads_like_go() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/metrics");
        let e = reqwest::Client::new().get(&url).send().await.unwrap_err();
        let msg = go_style_error(&url, &e, Duration::from_secs(1));
        assert_eq!(
            msg,
            format!("Get \"{url}\": dial tcp 127.0.0.1:{port}: connect: connection refused")
        );
    }
}
