//! The HTTP client of one scrape job: the shared client settings plus the
//! scrape's own headers (`Accept` from the scrape protocols, the timeout
//! header, compression).

use std::path::Path;
use std::time::Duration;

use crate::config::{GlobalConfig, ScrapeConfig};
use common::httpclient::{HttpClient, HttpClientError};

/// A job's client and request settings.
pub struct JobClient {
    http: HttpClient,
    accept: String,
    compression: bool,
}

impl JobClient {
    /// Builds the client of a job; files are resolved against `base_dir`.
    pub fn new(
        sc: &ScrapeConfig,
        g: &GlobalConfig,
        base_dir: &Path,
    ) -> Result<JobClient, HttpClientError> {
        Ok(JobClient {
            http: HttpClient::new(&sc.http, base_dir, sc.enable_compression)?,
            accept: sc.accept_header(g),
            compression: sc.enable_compression,
        })
    }

    /// A GET of `url` with the job's headers and credentials.
    pub async fn get(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, HttpClientError> {
        let mut req = self
            .http
            .client()
            .get(url)
            .header(reqwest::header::ACCEPT, &self.accept)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", timeout.as_secs_f64()),
            )
            .timeout(timeout);
        if !self.compression {
            req = req.header(reqwest::header::ACCEPT_ENCODING, "identity");
        }
        self.http.authorize(req).await
    }
}
