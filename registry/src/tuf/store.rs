//! The trusted local metadata: one file per role (`root.json`,
//! `timestamp.json`, `snapshot.json`, `targets.json`, `ROLE.json` for a
//! delegated role, percent-encoded), each byte-identical to what was
//! verified, each replaced atomically.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::error::Error;
use super::transport::encode_role;
use crate::files;

/// A directory of trusted metadata files.
#[derive(Debug, Clone)]
pub struct MetadataStore {
    dir: PathBuf,
}

impl MetadataStore {
    /// The store in `dir` (which must exist to be read; it is created on
    /// the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file that holds `role`.
    pub fn path_of(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{}.json", encode_role(role)))
    }

    /// The stored bytes of `role`, if present and not over `max_len`
    /// (an oversized local file is treated as absent, to be downloaded anew).
    pub fn load(&self, role: &str, max_len: u64) -> Result<Option<Vec<u8>>, Error> {
        let path = self.path_of(role);
        match files::read_bounded(&path, max_len) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::FileTooLarge) => Ok(None),
            Err(e) => Err(store_error(&path, e)),
        }
    }

    /// Stores `bytes` as `role`, atomically: readers see the old file or the
    /// new one, never a mix.
    pub fn save(&self, role: &str, bytes: &[u8]) -> Result<(), Error> {
        fs::create_dir_all(&self.dir).map_err(|e| store_error(&self.dir, e))?;
        let path = self.path_of(role);
        files::write_atomically(&path, bytes).map_err(|e| store_error(&path, e))
    }
}

fn store_error(path: &Path, err: std::io::Error) -> Error {
    Error::Store {
        path: path.to_owned(),
        reason: err.to_string(),
    }
}
