//! A transport over a catalog directory on this machine (`metadata/` and
//! `targets/` side by side, as `archy catalog` writes them): for reading a
//! catalog from a mirror on disk, and for tests.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::transport::{FetchError, Transport};
use crate::files;

/// Reads metadata from `DIR/metadata/` and targets from `DIR/targets/`.
#[derive(Debug, Clone)]
pub struct LocalTransport {
    dir: PathBuf,
}

impl LocalTransport {
    /// A transport over the catalog directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn read(&self, base: &str, relative: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        let shown = format!("{base}/{relative}");
        if relative
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(FetchError::NotFound(shown));
        }
        let path = self.dir.join(base).join(relative);
        read_bounded(&path, max_len, &shown)
    }
}

fn read_bounded(path: &Path, max_len: u64, shown: &str) -> Result<Vec<u8>, FetchError> {
    files::read_bounded(path, max_len).map_err(|e| match e.kind() {
        ErrorKind::NotFound => FetchError::NotFound(shown.to_owned()),
        ErrorKind::FileTooLarge => FetchError::TooLong {
            url: shown.to_owned(),
            limit: max_len,
        },
        _ => FetchError::Failed {
            url: shown.to_owned(),
            reason: e.to_string(),
        },
    })
}

impl Transport for LocalTransport {
    async fn fetch_metadata(&self, file_name: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.read("metadata", file_name, max_len)
    }

    async fn fetch_target(&self, path: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.read("targets", path, max_len)
    }
}
