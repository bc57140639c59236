//! What the discoveries that ask an HTTP API share: a typed error, a log
//! that names each cause once a minute, tasks stopped with their owner,
//! JSON requests, and the loop of the discoveries that list everything
//! every `refresh_interval` (Docker, Eureka, Hetzner, OpenStack).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::{Sink, TargetGroup};
use common::httpclient::{error_chain, HttpClient};

/// Why a request to a discovery's API failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdError {
    /// The server answered with a status other than the one expected.
    Status {
        /// The HTTP status.
        code: u16,
        /// The start of the answer's body, trimmed.
        body: String,
    },
    /// An error answer the API words itself, shown as the API's client
    /// library shows it (`googleapi: Error 403: …`).
    Api {
        /// The HTTP status.
        code: u16,
        /// The message.
        message: String,
    },
    /// No answer: connection refused, reset, timed out, TLS failure.
    Transport(String),
    /// An answer that is not what the API sends.
    Decode(String),
    /// Credentials could not be read or obtained.
    Auth(String),
    /// A failure in a step of a refresh (`what` the step was).
    Context {
        /// What was being done (`error while listing containers`).
        what: String,
        /// The failure.
        source: Box<SdError>,
    },
}

impl SdError {
    /// A short name of the cause, for logging each cause once a minute.
    pub fn cause(&self) -> String {
        match self {
            SdError::Status { code, .. } | SdError::Api { code, .. } => format!("status {code}"),
            SdError::Transport(_) => "transport".into(),
            SdError::Decode(_) => "decode".into(),
            SdError::Auth(_) => "auth".into(),
            SdError::Context { source, .. } => source.cause(),
        }
    }

    /// The error with what was being done before it.
    pub fn context(self, what: &str) -> SdError {
        SdError::Context {
            what: what.to_string(),
            source: Box::new(self),
        }
    }

    /// A transport error from reqwest, with its causes.
    pub fn transport(e: &reqwest::Error) -> SdError {
        SdError::Transport(error_chain(e))
    }
}

impl fmt::Display for SdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdError::Status { code, body } => {
                write!(f, "server returned HTTP status {code}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            SdError::Api { message, .. } => write!(f, "{message}"),
            SdError::Transport(e) => write!(f, "{e}"),
            SdError::Decode(e) => write!(f, "undecodable answer: {e}"),
            SdError::Auth(e) => write!(f, "{e}"),
            SdError::Context { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for SdError {}

impl From<common::httpclient::HttpClientError> for SdError {
    /// A request's credentials that could not be read or obtained.
    fn from(e: common::httpclient::HttpClientError) -> SdError {
        SdError::Auth(e.to_string())
    }
}

/// The start of a body for an error message (at most 512 bytes, trimmed).
pub fn body_excerpt(body: &[u8]) -> String {
    let end = body.len().min(512);
    String::from_utf8_lossy(&body[..end]).trim().to_string()
}

/// Remembers when each cause was last logged, so that a failing API costs
/// one log line a minute per cause and not one per attempt.
#[derive(Default)]
pub struct ErrorLog {
    last: HashMap<String, Instant>,
}

/// How often one cause is logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

impl ErrorLog {
    /// Whether an error of `cause` is to be logged now (and, if so, notes
    /// that it was).
    pub fn should_log(&mut self, cause: &str) -> bool {
        if self
            .last
            .get(cause)
            .is_some_and(|t| t.elapsed() < LOG_EVERY)
        {
            return false;
        }
        self.last.insert(cause.to_string(), Instant::now());
        true
    }
}

/// A task aborted when this handle is dropped: discoveries that start
/// tasks of their own keep them here, so that stopping a discovery (its
/// task aborted on reload) stops them too.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends a GET built by `req` with the client's credentials and returns
/// the body when the status is 200, else [`SdError::Status`].
pub async fn get_ok(
    client: &HttpClient,
    req: reqwest::RequestBuilder,
) -> Result<(reqwest::header::HeaderMap, bytes::Bytes), SdError> {
    let resp = client
        .authorize(req)
        .await?
        .send()
        .await
        .map_err(|e| SdError::transport(&e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(|e| SdError::transport(&e))?;
    if status != 200 {
        return Err(SdError::Status {
            code: status,
            body: body_excerpt(&body),
        });
    }
    Ok((headers, body))
}

/// Decodes a JSON body.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, SdError> {
    serde_json::from_slice(body).map_err(|e| SdError::Decode(e.to_string()))
}

/// Runs a discovery that lists everything at once: `refresh` now and then
/// every `interval`, its groups handed to `sink` under `key` when they
/// change; on error the last groups stay and the error is logged (once a
/// minute per cause). Ends when the sink is gone.
pub async fn poll<F, Fut>(
    mechanism: &'static str,
    key: String,
    interval: Duration,
    sink: Sink,
    mut refresh: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Vec<TargetGroup>, SdError>>,
{
    let mut log = ErrorLog::default();
    let mut last: Option<Vec<TargetGroup>> = None;
    loop {
        let started = Instant::now();
        match refresh().await {
            Ok(groups) => {
                if last.as_ref() != Some(&groups) {
                    if !sink(&key, vec![(key.clone(), groups.clone())]) {
                        return;
                    }
                    last = Some(groups);
                }
            }
            Err(e) => {
                if log.should_log(&e.cause()) {
                    tracing::error!(component = "discovery manager", discovery = mechanism, err = %e, "Unable to refresh target groups");
                }
            }
        }
        let next = started + interval.max(Duration::from_millis(100));
        tokio::time::sleep_until(next.into()).await;
    }
}

/// `host:port`, with brackets around an IPv6 host (Go's `JoinHostPort`).
pub fn join_host_port(host: &str, port: impl fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_a_cause_once_a_minute() {
        let mut l = ErrorLog::default();
        assert!(l.should_log("status 500"));
        assert!(!l.should_log("status 500"));
        assert!(l.should_log("decode"));
    }

    #[test]
    fn joins_hosts_as_go_does() {
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("::1", 80), "[::1]:80");
        assert_eq!(join_host_port("", 80), ":80");
    }

    #[test]
    fn errors_name_their_cause() {
        let e = SdError::Status {
            code: 500,
            body: "no leader".into(),
        };
        assert_eq!(e.to_string(), "server returned HTTP status 500: no leader");
        assert_eq!(e.cause(), "status 500");
    }
}
