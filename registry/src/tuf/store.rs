//! The trusted local metadata. The client keeps every role's newest
//! verified file, byte-identical to what was verified, and replaces each
//! atomically. [`MetadataStore`] says what a store must do; [`DirStore`]
//! keeps one file per role (`root.json`, `timestamp.json`, `snapshot.json`,
//! `targets.json`, `ROLE.json` for a delegated role, percent-encoded), and a
//! node keeps its publishers' metadata in its database instead.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::error::Error;
use super::transport::encode_role;
use crate::files;

/// Where a client keeps the metadata it trusts.
pub trait MetadataStore: Send + Sync {
    /// The stored bytes of `role`, if present and not over `max_len` (an
    /// oversized entry is treated as absent, to be downloaded anew).
    fn load(&self, role: &str, max_len: u64) -> Result<Option<Vec<u8>>, Error>;

    /// Stores `bytes` as `role`, atomically: readers see the old value or
    /// the new one, never a mix. Each accepted root version is saved in
    /// turn, oldest first.
    fn save(&self, role: &str, bytes: &[u8]) -> Result<(), Error>;

    /// Where `role` is kept, for error messages.
    fn location(&self, role: &str) -> String;
}

/// A directory of trusted metadata files.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// The store in `dir` (which must exist to be read; it is created on
    /// the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file that holds `role`.
    pub fn path_of(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{}.json", encode_role(role)))
    }
}

impl MetadataStore for DirStore {
    fn load(&self, role: &str, max_len: u64) -> Result<Option<Vec<u8>>, Error> {
        let path = self.path_of(role);
        match files::read_bounded(&path, max_len) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::FileTooLarge) => Ok(None),
            Err(e) => Err(store_error(&path, e)),
        }
    }

    fn save(&self, role: &str, bytes: &[u8]) -> Result<(), Error> {
        fs::create_dir_all(&self.dir).map_err(|e| store_error(&self.dir, e))?;
        let path = self.path_of(role);
        files::write_atomically(&path, bytes).map_err(|e| store_error(&path, e))
    }

    fn location(&self, role: &str) -> String {
        self.path_of(role).display().to_string()
    }
}

fn store_error(path: &Path, err: std::io::Error) -> Error {
    Error::Store {
        location: path.display().to_string(),
        reason: err.to_string(),
    }
}
