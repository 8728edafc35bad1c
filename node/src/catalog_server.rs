//! `archy catalog serve --http`: a catalog's `metadata/` and `targets/`
//! over plain HTTP, the way TUF clients (ours, python-tuf's) expect them.
//!
//! `timestamp.json` comes with the newest root version in the
//! `x-archy-root-version` header, so our clients can skip the separate probe
//! for a newer root (see `archy_registry::tuf::Transport::fetch_timestamp`).
//!
//! URL paths map to file names without percent-decoding, because TUF file
//! names already are percent-encoded role names. Hidden files, empty
//! segments and `..` are refused, so nothing outside the two directories
//! can be read.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use archy_registry::files;
use archy_registry::tuf::ROOT_VERSION_HEADER;
use archy_registry::tuf::metadata::signed_version;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

/// Largest file served: release documents (≤ 2 MiB) and metadata (a
/// targets file is read by clients up to 5 MB) are small.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Files read at once; more requests wait, so memory stays bounded.
const MAX_CONCURRENT_READS: usize = 16;
/// Longest a request may wait for its turn and read its file.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What every request shares: the catalog and the read permits.
#[derive(Clone)]
struct Served {
    dir: Arc<PathBuf>,
    reads: Arc<Semaphore>,
}

/// The router serving the catalog in `dir`.
pub fn router(dir: PathBuf) -> Router {
    let served = Served {
        dir: Arc::new(dir),
        reads: Arc::new(Semaphore::new(MAX_CONCURRENT_READS)),
    };
    Router::new().fallback(serve_file).with_state(served)
}

async fn serve_file(State(served): State<Served>, uri: Uri) -> Response {
    let Some(path) = file_for(&served.dir, uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let read = async {
        let _permit = served
            .reads
            .acquire()
            .await
            .map_err(std::io::Error::other)?;
        let (dir, file) = (served.dir.clone(), path.clone());
        tokio::task::spawn_blocking(move || read_served(&dir, &file))
            .await
            .map_err(std::io::Error::other)?
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(Some((bytes, newest_root)))) => {
            let kind = if path.extension().is_some_and(|e| e == "json") {
                "application/json"
            } else {
                "application/octet-stream"
            };
            let mut response = ([(header::CONTENT_TYPE, kind)], Body::from(bytes)).into_response();
            if let Some(version) = newest_root {
                response
                    .headers_mut()
                    .insert(ROOT_VERSION_HEADER, version.into());
            }
            response
        }
        Ok(Ok(None)) => StatusCode::NOT_FOUND.into_response(),
        Ok(Err(e)) => {
            tracing::warn!(path = %path.display(), "cannot serve: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A catalog file as served: its bytes (at most [`MAX_FILE_BYTES`]) and,
/// with `metadata/timestamp.json`, the version of `metadata/root.json`, the
/// newest root served. `None` when there is no such file. The HTTP server
/// and the catalog ALPN ([`crate::catalog_source`]) both serve through it.
pub fn read_served(dir: &Path, path: &Path) -> std::io::Result<Option<(Vec<u8>, Option<u64>)>> {
    let Some(bytes) = read_if_exists(path)? else {
        return Ok(None);
    };
    let newest_root = if path == dir.join("metadata/timestamp.json") {
        read_if_exists(&dir.join("metadata/root.json"))
            .ok()
            .flatten()
            .and_then(|root| signed_version(&root).ok())
    } else {
        None
    };
    Ok(Some((bytes, newest_root)))
}

/// The file a URL path names, if it is inside `metadata/` or `targets/`.
fn file_for(dir: &Path, url_path: &str) -> Option<PathBuf> {
    let relative = url_path.strip_prefix('/')?;
    let mut parts = relative.split('/');
    let top = parts.next()?;
    if top != "metadata" && top != "targets" {
        return None;
    }
    let mut path = dir.join(top);
    let mut any = false;
    for part in parts {
        if part.is_empty() || part.starts_with('.') {
            return None;
        }
        path.push(part);
        any = true;
    }
    any.then_some(path)
}

/// The bytes of `path` (at most [`MAX_FILE_BYTES`]), or `None` when no
/// such file exists.
fn read_if_exists(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match files::read_bounded(path, MAX_FILE_BYTES) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::file_for;
    use std::path::Path;

    #[test]
    fn only_files_under_metadata_and_targets_are_served() {
        let dir = Path::new("/repo");
        assert_eq!(
            file_for(dir, "/metadata/1.root.json"),
            Some(dir.join("metadata/1.root.json"))
        );
        assert_eq!(
            file_for(dir, "/targets/apps/x/ab.1.0.0.json"),
            Some(dir.join("targets/apps/x/ab.1.0.0.json"))
        );
        assert_eq!(
            file_for(dir, "/metadata/1.a%2Fb.json"),
            Some(dir.join("metadata/1.a%2Fb.json"))
        );
        for bad in [
            "/catalog.json",
            "/metadata/",
            "/metadata/../catalog.json",
            "/targets//x",
            "/metadata/.hidden",
            "/metadata",
        ] {
            assert_eq!(file_for(dir, bad), None, "{bad}");
        }
    }
}
