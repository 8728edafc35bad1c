//! Streams an image archive into podman's `images/load`.
//!
//! podman-api's `Images::load` takes the archive as one in-memory buffer and
//! copies it again into the request, so a 1 GiB image cost the node 2 GiB of
//! memory. This sends the same request through the same HTTP client
//! (containers-api, which podman-api is built on) with the file as a
//! streamed body read in [`CHUNK`]-byte pieces: the node's memory stays flat
//! whatever the image's size.

use std::path::Path;
use std::time::Duration;

use containers_api::conn::hyper::{self, Body, Method, Request, StatusCode, body::Bytes};
use containers_api::conn::{Transport, get_unix_connector};
use futures_util::stream;
use tokio::io::AsyncReadExt;

use crate::error::Error;

/// Bytes read from the archive per piece of the request body.
const CHUNK: usize = 256 * 1024;
/// Most of podman's answer read: its report, or its error.
const MAX_ANSWER: usize = 64 * 1024;
/// The API path, with the version podman-api speaks.
const ENDPOINT: &str = "/v4.3.1/libpod/images/load";

/// Loads the `podman save` archive at `archive` through the podman socket
/// `socket`, within `limit`.
pub async fn load(socket: &Path, archive: &Path, limit: Duration) -> Result<(), Error> {
    let op = format!("load image {}", archive.display());
    match tokio::time::timeout(limit, send(socket, archive, &op)).await {
        Ok(result) => result,
        Err(_) => Err(Error::PodmanTimeout { op, after: limit }),
    }
}

async fn send(socket: &Path, archive: &Path, op: &str) -> Result<(), Error> {
    let file = tokio::fs::File::open(archive)
        .await
        .map_err(|e| Error::file(archive, e))?;
    let transport = Transport::Unix {
        client: hyper::Client::builder().build(get_unix_connector()),
        path: socket.to_owned(),
    };
    let failed = |status: Option<u16>, reason: String| Error::Podman {
        op: op.to_owned(),
        status,
        reason,
    };
    let uri = transport
        .make_uri(ENDPOINT)
        .map_err(|e| failed(None, e.to_string()))?;
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(hyper::header::CONTENT_TYPE, "application/x-tar")
        .body(Body::wrap_stream(pieces(file)))
        .map_err(|e| failed(None, e.to_string()))?;
    let answer = transport
        .request(request)
        .await
        .map_err(|e| failed(None, e.to_string()))?;
    let status = answer.status();
    let body = read_bounded(answer.into_body()).await;
    if status == StatusCode::OK {
        return Ok(());
    }
    Err(failed(Some(status.as_u16()), podman_message(&body)))
}

/// The archive as a stream of [`CHUNK`]-byte pieces.
fn pieces(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    stream::try_unfold(file, |mut file| async move {
        let mut buf = Vec::with_capacity(CHUNK);
        let read = (&mut file).take(CHUNK as u64).read_to_end(&mut buf).await?;
        Ok((read > 0).then(|| (Bytes::from(buf), file)))
    })
}

/// At most [`MAX_ANSWER`] bytes of podman's answer; a broken answer reads
/// as what arrived of it.
async fn read_bounded(mut body: Body) -> Vec<u8> {
    use hyper::body::HttpBody;
    let mut out = Vec::new();
    while let Some(Ok(piece)) = body.data().await {
        out.extend_from_slice(&piece[..piece.len().min(MAX_ANSWER - out.len())]);
        if out.len() >= MAX_ANSWER {
            break;
        }
    }
    out
}

/// podman's error message (`{"cause", "message", "response"}`), or the
/// answer as text when it is not that.
fn podman_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Fault {
        message: String,
    }
    match serde_json::from_slice::<Fault>(body) {
        Ok(fault) => fault.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn the_archive_is_sent_whole_in_bounded_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        let bytes: Vec<u8> = (0..CHUNK * 2 + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = tokio::fs::File::open(&path).await.unwrap();
        let got: Vec<Bytes> = pieces(file).try_collect().await.unwrap();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|p| p.len() <= CHUNK));
        assert_eq!(got.concat(), bytes);
    }

    #[test]
    fn podman_faults_read_as_their_message() {
        let fault = br#"{"cause":"x","message":"payload does not match any of the supported image formats","response":500}"#;
        assert_eq!(
            podman_message(fault),
            "payload does not match any of the supported image formats"
        );
        assert_eq!(podman_message(b"  plain text\n"), "plain text");
    }

    #[tokio::test]
    async fn a_missing_socket_is_a_podman_error_naming_the_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        std::fs::write(&path, b"x").unwrap();
        let err = load(&dir.path().join("none.sock"), &path, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("load image"), "{err}");
    }
}
