//! A transport over a catalog directory on this machine (`metadata/` and
//! `targets/` side by side, as `archy catalog` writes them): for reading a
//! catalog from a mirror on disk, and for tests.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::transport::{FetchError, Transport};

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
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FetchError::NotFound(shown.to_owned()));
        }
        Err(e) => {
            return Err(FetchError::Failed {
                url: shown.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    let mut bytes = Vec::new();
    file.take(max_len + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FetchError::Failed {
            url: shown.to_owned(),
            reason: e.to_string(),
        })?;
    if bytes.len() as u64 > max_len {
        return Err(FetchError::TooLong {
            url: shown.to_owned(),
            limit: max_len,
        });
    }
    Ok(bytes)
}

impl Transport for LocalTransport {
    async fn fetch_metadata(&self, file_name: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.read("metadata", file_name, max_len)
    }

    async fn fetch_target(&self, path: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.read("targets", path, max_len)
    }
}
