//! The HTTP(S) transport: metadata under one base URL, targets under
//! another, each response read in bounded chunks.

use std::time::Duration;

use super::transport::{FetchError, ROOT_VERSION_HEADER, Timestamped, Transport};

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence while reading a response.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest any one request may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Fetches from a repository served over HTTP(S), such as `archy catalog
/// serve --http` or any static web server.
#[derive(Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    metadata_base: String,
    targets_base: String,
}

impl HttpTransport {
    /// A transport for metadata at `metadata_base` and targets at
    /// `targets_base` (both URLs; a missing trailing `/` is added).
    pub fn new(metadata_base: &str, targets_base: &str) -> Result<Self, FetchError> {
        // Several crates may link rustls; installing ours twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("archy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Failed {
                url: metadata_base.to_owned(),
                reason: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            metadata_base: with_slash(metadata_base),
            targets_base: with_slash(targets_base),
        })
    }

    async fn get(&self, url: String, max_len: u64) -> Result<Vec<u8>, FetchError> {
        Ok(self.get_with_root_hint(url, max_len).await?.bytes)
    }

    /// Fetches `url`, also reading the newest-root header if present.
    async fn get_with_root_hint(
        &self,
        url: String,
        max_len: u64,
    ) -> Result<Timestamped, FetchError> {
        let failed = |reason: String| FetchError::Failed {
            url: url.clone(),
            reason,
        };
        let mut response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| failed(describe(&e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            return Err(FetchError::NotFound(url));
        }
        if !status.is_success() {
            return Err(failed(format!("the server answered {status}")));
        }
        let newest_root = response
            .headers()
            .get(ROOT_VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let too_long = || FetchError::TooLong {
            url: url.clone(),
            limit: max_len,
        };
        if response.content_length().is_some_and(|n| n > max_len) {
            return Err(too_long());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(describe(&e)))? {
            if body.len() as u64 + chunk.len() as u64 > max_len {
                return Err(too_long());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Timestamped {
            bytes: body,
            newest_root,
        })
    }
}

impl Transport for HttpTransport {
    async fn fetch_metadata(&self, file_name: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.get(format!("{}{file_name}", self.metadata_base), max_len)
            .await
    }

    async fn fetch_timestamp(&self, max_len: u64) -> Result<Timestamped, FetchError> {
        self.get_with_root_hint(format!("{}timestamp.json", self.metadata_base), max_len)
            .await
    }

    async fn fetch_target(&self, path: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.get(format!("{}{path}", self.targets_base), max_len)
            .await
    }
}

fn with_slash(base: &str) -> String {
    if base.ends_with('/') {
        base.to_owned()
    } else {
        format!("{base}/")
    }
}

/// reqwest's error text, with its cause chain (the useful part: "connection
/// refused", "timed out").
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
