//! The node's control socket, `node.sock` in the data directory: while
//! `archy node run` holds the discovery index open, `archy market …` asks
//! it instead of opening the file. One JSON question per line, one JSON
//! answer per line. The socket is a file under the data directory, so only
//! whoever may read the node's data may ask.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use archy_discovery::market::{Answer, Market, Query};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

/// Longest question accepted.
const MAX_QUESTION: u64 = 64 * 1024;
/// Longest answer read back (a page of 1000 listings, or one manifest).
const MAX_ANSWER: u64 = 32 << 20;
/// Longest one exchange may take, either side.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Questions answered at once.
const MAX_CONCURRENT: usize = 16;

/// A failure of the control socket.
#[derive(Debug, thiserror::Error)]
#[error("control socket {path}: {reason}")]
pub struct ControlError {
    path: String,
    reason: String,
}

fn error(path: &Path, reason: impl std::fmt::Display) -> ControlError {
    ControlError {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Answers questions on `path` until dropped.
pub struct ControlServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// Listens on `path`, replacing a socket left by a node that is gone.
    pub async fn start(path: &Path, market: Market) -> Result<Self, ControlError> {
        if path.exists() {
            if matches!(connect(path).await, Ok(Some(_))) {
                return Err(error(path, "another node is answering on it"));
            }
            std::fs::remove_file(path).map_err(|e| error(path, e))?;
        }
        let listener = UnixListener::bind(path).map_err(|e| error(path, e))?;
        let limit = std::sync::Arc::new(Semaphore::new(MAX_CONCURRENT));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    return;
                };
                let market = market.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(EXCHANGE_TIMEOUT, serve(stream, market)).await;
                    drop(permit);
                });
            }
        });
        Ok(Self {
            path: path.to_owned(),
            task,
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(stream: UnixStream, market: Market) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read.take(MAX_QUESTION))
        .read_line(&mut line)
        .await?;
    let answer = match serde_json::from_str::<Query>(&line) {
        Ok(query) => tokio::task::spawn_blocking(move || market.answer(&query))
            .await
            .unwrap_or_else(|e| Answer::Error {
                reason: format!("the question failed: {e}"),
            }),
        Err(e) => Answer::Error {
            reason: format!("not a question: {e}"),
        },
    };
    let mut text = serde_json::to_string(&answer).unwrap_or_default();
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

/// A connection to the node answering on `path`, within
/// [`EXCHANGE_TIMEOUT`]; None if no node is.
async fn connect(path: &Path) -> Result<Option<UnixStream>, ControlError> {
    match tokio::time::timeout(EXCHANGE_TIMEOUT, UnixStream::connect(path)).await {
        Err(_) => Err(error(
            path,
            format!("no answer within {} s", EXCHANGE_TIMEOUT.as_secs()),
        )),
        Ok(Ok(stream)) => Ok(Some(stream)),
        Ok(Err(e)) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            Ok(None)
        }
        Ok(Err(e)) => Err(error(path, e)),
    }
}

/// Asks the node answering on `path`; None if no node is.
pub async fn ask(path: &Path, query: &Query) -> Result<Option<Answer>, ControlError> {
    let Some(stream) = connect(path).await? else {
        return Ok(None);
    };
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let mut question = serde_json::to_string(query).map_err(|e| error(path, e))?;
        question.push('\n');
        write
            .write_all(question.as_bytes())
            .await
            .map_err(|e| error(path, e))?;
        let mut line = String::new();
        BufReader::new(read.take(MAX_ANSWER))
            .read_line(&mut line)
            .await
            .map_err(|e| error(path, e))?;
        serde_json::from_str::<Answer>(&line)
            .map(Some)
            .map_err(|e| error(path, format!("the node's answer is not JSON: {e}")))
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            error(
                path,
                format!(
                    "the node did not answer within {} s",
                    EXCHANGE_TIMEOUT.as_secs()
                ),
            )
        })?
}
