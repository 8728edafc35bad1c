//! `archy/tuf/1`: the ALPN on which a node serves the TUF metadata (and
//! release documents) of the catalogs it holds, and the client
//! [`Transport`] over it.
//!
//! One bidirectional stream per file. The client sends one JSON request,
//! `{"publisher": DID, "path": "metadata/NAME" | "targets/PATH"}`, and
//! finishes its side. The server answers with one JSON header line,
//! `{"status": "ok", "length": N, "newest_root": V}` (or `"not-found"`,
//! or `"error"` with a `reason`), then the N bytes, and finishes. A
//! serving node is only a mirror: the client verifies everything it gets
//! against the publisher's pinned root.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use archy_trust::Did;
use iroh::Endpoint;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::store::bounded;
use super::ticket::NodeTicket;
use crate::tuf::{FetchError, Timestamped, Transport};

/// The ALPN of the catalog protocol.
pub const ALPN: &[u8] = b"archy/tuf/1";
/// How long dialling a node may take before the next source is tried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one request may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request a server reads.
const MAX_REQUEST: usize = 4096;
/// Largest header line.
const MAX_HEADER: usize = 1024;
/// Longest path asked for.
const MAX_PATH: usize = 1024;
/// Requests served on one connection before it is closed.
const MAX_REQUESTS_PER_CONNECTION: usize = 1024;

/// A file of a catalog, as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogFile {
    /// `metadata/NAME`: `timestamp.json`, `3.root.json`, `7.targets.json`.
    Metadata(String),
    /// `targets/PATH`, consistent-snapshot prefix included.
    Target(String),
}

impl CatalogFile {
    /// Reads a request path, refusing anything that could leave the
    /// catalog (`..`, empty or hidden segments, absolute paths).
    pub fn parse(path: &str) -> Result<Self, String> {
        if path.len() > MAX_PATH {
            return Err(format!("path longer than {MAX_PATH} bytes"));
        }
        let (base, rest) = path
            .split_once('/')
            .ok_or_else(|| format!("'{path}' is not under metadata/ or targets/"))?;
        if rest
            .split('/')
            .any(|part| part.is_empty() || part.starts_with('.') || part.contains('\\'))
        {
            return Err(format!("'{path}' has an empty, hidden or '..' segment"));
        }
        match base {
            "metadata" if !rest.contains('/') => Ok(Self::Metadata(rest.to_owned())),
            "targets" => Ok(Self::Target(rest.to_owned())),
            _ => Err(format!("'{path}' is not under metadata/ or targets/")),
        }
    }

    fn path(&self) -> String {
        match self {
            Self::Metadata(name) => format!("metadata/{name}"),
            Self::Target(path) => format!("targets/{path}"),
        }
    }
}

/// A file a node serves, and the newest root version it has for that
/// publisher (sent with `timestamp.json`, sparing the client a probe).
#[derive(Debug, Clone)]
pub struct Served {
    /// The file.
    pub bytes: Vec<u8>,
    /// Newest root version held.
    pub newest_root: Option<u64>,
}

/// What a node serves: the catalogs it publishes and the metadata it holds
/// for publishers it follows.
pub trait CatalogSource: Send + Sync + fmt::Debug + 'static {
    /// `file` of `publisher`'s catalog; `Ok(None)` if not held.
    fn read(&self, publisher: &Did, file: &CatalogFile) -> Result<Option<Served>, String>;
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    publisher: String,
    path: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
enum Header {
    Ok {
        length: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        newest_root: Option<u64>,
    },
    NotFound,
    Error {
        reason: String,
    },
}

/// The server side: answers requests from a [`CatalogSource`].
#[derive(Debug, Clone)]
pub struct TufProtocol {
    source: Arc<dyn CatalogSource>,
}

impl TufProtocol {
    /// Serves `source`.
    pub fn new(source: Arc<dyn CatalogSource>) -> Self {
        Self { source }
    }

    async fn answer(&self, conn: &Connection) -> Result<bool, String> {
        let (mut send, mut recv) = match conn.accept_bi().await {
            Ok(streams) => streams,
            Err(_) => return Ok(false),
        };
        let request = bounded(
            "reading a request",
            REQUEST_TIMEOUT,
            recv.read_to_end(MAX_REQUEST),
        )
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("reading a request: {e}"))?;
        let (header, body) = match self.lookup(&request) {
            Ok(Some(served)) => (
                Header::Ok {
                    length: served.bytes.len() as u64,
                    newest_root: served.newest_root,
                },
                served.bytes,
            ),
            Ok(None) => (Header::NotFound, Vec::new()),
            Err(reason) => (Header::Error { reason }, Vec::new()),
        };
        let mut line = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let write = async {
            send.write_all(&line).await?;
            send.write_all(&body).await?;
            send.finish().map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>(())
        };
        bounded("sending an answer", REQUEST_TIMEOUT, write)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("sending an answer: {e}"))?;
        Ok(true)
    }

    fn lookup(&self, request: &[u8]) -> Result<Option<Served>, String> {
        let request: Request =
            serde_json::from_slice(request).map_err(|e| format!("bad request: {e}"))?;
        let publisher: Did = request
            .publisher
            .parse()
            .map_err(|e| format!("bad publisher DID '{}': {e}", request.publisher))?;
        let file = CatalogFile::parse(&request.path)?;
        self.source.read(&publisher, &file)
    }
}

impl ProtocolHandler for TufProtocol {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        for _ in 0..MAX_REQUESTS_PER_CONNECTION {
            match self.answer(&conn).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(reason) => {
                    tracing::debug!(peer = %conn.remote_id().fmt_short(), "catalog request: {reason}");
                }
            }
        }
        Ok(())
    }
}

/// The client side: a [`Transport`] reading one publisher's catalog from
/// one node. The connection is made on first use and reused; clones share
/// it. A node that could not be reached once in a transport's life is not
/// dialled again, so a dead source costs one connect timeout per fetch.
#[derive(Debug, Clone)]
pub struct PeerTransport {
    endpoint: Endpoint,
    peer: NodeTicket,
    publisher: Did,
    connection: Arc<Mutex<Option<Connection>>>,
    unreachable: Arc<AtomicBool>,
    /// When the peer is this node itself: what it serves, read in place
    /// (an endpoint cannot dial itself).
    own: Option<Arc<dyn CatalogSource>>,
}

impl PeerTransport {
    /// Reads `publisher`'s catalog from the node of `peer`.
    pub fn new(endpoint: Endpoint, peer: NodeTicket, publisher: Did) -> Self {
        Self {
            endpoint,
            peer,
            publisher,
            connection: Arc::new(Mutex::new(None)),
            unreachable: Arc::new(AtomicBool::new(false)),
            own: None,
        }
    }

    /// The same, for a peer that is this node itself: its files are read
    /// from `own`, what the node serves to others, without dialling.
    pub fn own(
        endpoint: Endpoint,
        peer: NodeTicket,
        publisher: Did,
        own: Arc<dyn CatalogSource>,
    ) -> Self {
        Self {
            own: Some(own),
            ..Self::new(endpoint, peer, publisher)
        }
    }

    /// Whether connecting to the node failed.
    pub fn is_unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Relaxed)
    }

    /// The node asked.
    pub fn peer(&self) -> &NodeTicket {
        &self.peer
    }

    fn shown(&self, file: &CatalogFile) -> String {
        format!("{} from node {}", file.path(), self.peer.did())
    }

    async fn connection(&self, shown: &str) -> Result<Connection, FetchError> {
        let mut cached = self.connection.lock().await;
        if let Some(conn) = cached.as_ref()
            && conn.close_reason().is_none()
        {
            return Ok(conn.clone());
        }
        if self.is_unreachable() {
            return Err(FetchError::Failed {
                url: shown.to_owned(),
                reason: "the node could not be reached earlier in this fetch".into(),
            });
        }
        let unreachable = |e: FetchError| {
            self.unreachable.store(true, Ordering::Relaxed);
            e
        };
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.endpoint.connect(self.peer.addr().clone(), ALPN),
        )
        .await
        .map_err(|_| FetchError::Failed {
            url: shown.to_owned(),
            reason: format!(
                "the node did not answer within {} ms",
                CONNECT_TIMEOUT.as_millis()
            ),
        })
        .map_err(unreachable)?
        .map_err(|e| FetchError::Failed {
            url: shown.to_owned(),
            reason: format!("cannot connect: {e}"),
        })
        .map_err(unreachable)?;
        *cached = Some(conn.clone());
        Ok(conn)
    }

    async fn get(&self, file: CatalogFile, max_len: u64) -> Result<Served, FetchError> {
        let shown = self.shown(&file);
        let failed = |reason: String| FetchError::Failed {
            url: shown.clone(),
            reason,
        };
        if let Some(own) = &self.own {
            return match own.read(&self.publisher, &file) {
                Ok(Some(served)) if served.bytes.len() as u64 > max_len => {
                    Err(FetchError::TooLong {
                        url: shown,
                        limit: max_len,
                    })
                }
                Ok(Some(served)) => Ok(served),
                Ok(None) => Err(FetchError::NotFound(shown)),
                Err(reason) => Err(failed(reason)),
            };
        }
        let conn = self.connection(&shown).await?;
        let request = serde_json::to_vec(&Request {
            publisher: self.publisher.to_string(),
            path: file.path(),
        })
        .map_err(|e| failed(e.to_string()))?;
        let limit = usize::try_from(max_len)
            .unwrap_or(usize::MAX)
            .saturating_add(MAX_HEADER);
        let exchange = async {
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
            send.write_all(&request).await.map_err(|e| e.to_string())?;
            send.finish().map_err(|e| e.to_string())?;
            recv.read_to_end(limit).await.map_err(|e| e.to_string())
        };
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| failed(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))?
            .map_err(|e| {
                if e.contains("too long") || e.contains("TooLong") {
                    FetchError::TooLong {
                        url: shown.clone(),
                        limit: max_len,
                    }
                } else {
                    failed(e)
                }
            })?;
        let end = answer
            .iter()
            .take(MAX_HEADER)
            .position(|&b| b == b'\n')
            .ok_or_else(|| failed("the answer has no header line".into()))?;
        let header: Header = serde_json::from_slice(&answer[..end])
            .map_err(|e| failed(format!("unreadable answer header: {e}")))?;
        let body = &answer[end + 1..];
        match header {
            Header::NotFound => Err(FetchError::NotFound(shown)),
            Header::Error { reason } => Err(failed(format!("the node refused: {reason}"))),
            Header::Ok { length, .. } if length > max_len => Err(FetchError::TooLong {
                url: shown,
                limit: max_len,
            }),
            Header::Ok { length, .. } if length != body.len() as u64 => Err(failed(format!(
                "the node announced {length} bytes and sent {}",
                body.len()
            ))),
            Header::Ok { newest_root, .. } => Ok(Served {
                bytes: body.to_vec(),
                newest_root,
            }),
        }
    }
}

impl Transport for PeerTransport {
    async fn fetch_metadata(&self, file_name: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        Ok(self
            .get(CatalogFile::Metadata(file_name.to_owned()), max_len)
            .await?
            .bytes)
    }

    async fn fetch_timestamp(&self, max_len: u64) -> Result<Timestamped, FetchError> {
        let served = self
            .get(CatalogFile::Metadata("timestamp.json".into()), max_len)
            .await?;
        Ok(Timestamped {
            bytes: served.bytes,
            newest_root: served.newest_root,
        })
    }

    async fn fetch_target(&self, path: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        Ok(self
            .get(CatalogFile::Target(path.to_owned()), max_len)
            .await?
            .bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::CatalogFile;

    #[test]
    fn paths_that_leave_the_catalog_are_refused() {
        assert_eq!(
            CatalogFile::parse("metadata/3.root.json"),
            Ok(CatalogFile::Metadata("3.root.json".into()))
        );
        assert_eq!(
            CatalogFile::parse("targets/apps/x/ab.1.0.0.json"),
            Ok(CatalogFile::Target("apps/x/ab.1.0.0.json".into()))
        );
        for bad in [
            "metadata/../keys",
            "targets/apps/../../etc",
            "targets//x",
            "metadata/a/b",
            "keys/x",
            "metadata",
            "targets/.hidden",
        ] {
            assert!(CatalogFile::parse(bad).is_err(), "{bad}");
        }
    }
}
