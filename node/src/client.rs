//! A client of a node's HTTP API: what the CLI (and tests, and later the
//! simulator) use to ask a running node, over loopback, with its token.
//!
//! A running node says where its API is in `api.json` in its data
//! directory ([`Advert`]); [`NodeClient::find`] reads it and checks that
//! the node answers.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data_dir::DataDir;
use crate::operations::Event;

/// Longest a plain request may take (the API cuts handlers at 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
/// Longest a health check may take before the node is taken for gone.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a progress stream may stay silent (the API sends a keep-alive
/// every 15 s).
const STREAM_IDLE: Duration = Duration::from_secs(60);
/// Largest answer read.
const MAX_ANSWER: usize = 32 << 20;

/// Where a running node's API is: `api.json` in its data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Advert {
    /// The API's address.
    pub addr: SocketAddr,
    /// The node's process.
    pub pid: u32,
}

impl Advert {
    /// Writes the advert for `addr` into `data`.
    pub fn write(data: &DataDir, addr: SocketAddr) -> std::io::Result<()> {
        let advert = Self {
            addr,
            pid: std::process::id(),
        };
        let json = serde_json::to_vec(&advert).map_err(std::io::Error::other)?;
        archy_registry::files::write_atomically(&data.api_advert_file(), &json)
    }

    /// Reads the advert in `data`, if there is a readable one.
    pub fn read(data: &DataDir) -> Option<Self> {
        let text = std::fs::read(data.api_advert_file()).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Removes the advert from `data` if it is this process's.
    pub fn remove_own(data: &DataDir) {
        if Self::read(data).is_some_and(|a| a.pid == std::process::id()) {
            let _ = std::fs::remove_file(data.api_advert_file());
        }
    }
}

/// A request to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node did not answer.
    #[error("the node's API at {addr} did not answer: {reason}")]
    Unreachable {
        /// Its address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The node answered with an error.
    #[error("{}", join(.error, .causes))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The node's message.
        error: String,
        /// The causes under it.
        causes: Vec<String>,
    },
    /// The node's answer was not what this client expects.
    #[error("the node's answer to {path} is not readable: {reason}")]
    Answer {
        /// What was asked.
        path: String,
        /// Why.
        reason: String,
    },
    /// The token file.
    #[error(transparent)]
    Token(#[from] crate::api::token::TokenError),
}

fn join(error: &str, causes: &[String]) -> String {
    std::iter::once(error)
        .chain(causes.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(": ")
}

/// How a failed request answers.
#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    causes: Vec<String>,
}

/// A client of one node's API.
#[derive(Clone)]
pub struct NodeClient {
    addr: SocketAddr,
    token: String,
    http: reqwest::Client,
}

impl NodeClient {
    /// A client of the API at `addr`, with `token`.
    pub fn new(addr: SocketAddr, token: String) -> Result<Self, ClientError> {
        // reqwest wants a TLS provider even for plain HTTP on loopback;
        // installing ring's twice (another crate may have) is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(HEALTH_TIMEOUT)
            .user_agent(concat!("archy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable {
                addr,
                reason: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(Self { addr, token, http })
    }

    /// The running node of `data`, if its advert names an API that
    /// answers; `None` if no node runs there.
    pub async fn find(data: &DataDir) -> Result<Option<Self>, ClientError> {
        let Some(advert) = Advert::read(data) else {
            return Ok(None);
        };
        let (_, token) = crate::api::token::ApiToken::load_or_create(&data.api_token_file())?;
        let client = Self::new(advert.addr, token)?;
        Ok(client.healthy().await.then_some(client))
    }

    /// The API's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the node answers its health check.
    pub async fn healthy(&self) -> bool {
        let url = self.url("/api/health");
        matches!(
            self.http.get(url).timeout(HEALTH_TIMEOUT).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(path, self.http.get(self.url(path))).await
    }

    /// `GET path?query`, the query made from `query`'s fields.
    pub async fn get_query<Q: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, ClientError> {
        self.send(path, self.http.get(self.url(path)).query(query))
            .await
    }

    /// `POST path` with `body` as JSON.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(path, self.http.post(self.url(path)).json(body))
            .await
    }

    /// `PUT path` with `body` as JSON.
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(path, self.http.put(self.url(path)).json(body))
            .await
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(path, self.http.delete(self.url(path))).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = request
            .bearer_auth(&self.token)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if bytes.len() > MAX_ANSWER {
            return Err(ClientError::Answer {
                path: path.to_owned(),
                reason: format!("{} bytes, more than {MAX_ANSWER}", bytes.len()),
            });
        }
        if !status.is_success() {
            let answer: ErrorAnswer =
                serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorAnswer {
                    error: format!("{status}: {}", String::from_utf8_lossy(&bytes)),
                    causes: Vec::new(),
                });
            return Err(ClientError::Api {
                status: status.as_u16(),
                error: answer.error,
                causes: answer.causes,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Answer {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            addr: self.addr,
            reason: e.to_string(),
        }
    }

    /// Follows operation `id`'s progress, calling `on_event` for each
    /// event, until its terminal event, which it returns.
    pub async fn follow(
        &self,
        id: u64,
        on_event: &mut (dyn FnMut(&Event) + Send),
    ) -> Result<Event, ClientError> {
        let path = format!("/api/operations/{id}/events");
        let response = self
            .http
            .get(self.url(&path))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if !response.status().is_success() {
            let status = response.status();
            let answer: ErrorAnswer = response.json().await.unwrap_or_else(|_| ErrorAnswer {
                error: status.to_string(),
                causes: Vec::new(),
            });
            return Err(ClientError::Api {
                status: status.as_u16(),
                error: answer.error,
                causes: answer.causes,
            });
        }
        let mut events = eventsource_stream::EventStream::new(response.bytes_stream());
        loop {
            let next = tokio::time::timeout(STREAM_IDLE, events.next())
                .await
                .map_err(|_| ClientError::Unreachable {
                    addr: self.addr,
                    reason: format!(
                        "the progress of operation {id} stopped for {} s",
                        STREAM_IDLE.as_secs()
                    ),
                })?;
            let Some(next) = next else {
                return Err(ClientError::Answer {
                    path,
                    reason: "the stream ended before the operation did".into(),
                });
            };
            let message = next.map_err(|e| ClientError::Answer {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let event: Event =
                serde_json::from_str(&message.data).map_err(|e| ClientError::Answer {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            on_event(&event);
            if event.is_terminal() {
                return Ok(event);
            }
        }
    }
}
