//! The trusted local metadata: one file per role (`root.json`,
//! `timestamp.json`, `snapshot.json`, `targets.json`, `ROLE.json` for a
//! delegated role, percent-encoded), each byte-identical to what was
//! verified, each replaced atomically.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::Error;
use super::transport::encode_role;

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
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_error(&path, e)),
        };
        let mut bytes = Vec::new();
        file.take(max_len + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| store_error(&path, e))?;
        Ok((bytes.len() as u64 <= max_len).then_some(bytes))
    }

    /// Stores `bytes` as `role`, atomically: readers see the old file or the
    /// new one, never a mix.
    pub fn save(&self, role: &str, bytes: &[u8]) -> Result<(), Error> {
        fs::create_dir_all(&self.dir).map_err(|e| store_error(&self.dir, e))?;
        let path = self.path_of(role);
        let mut temp =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| store_error(&self.dir, e))?;
        temp.write_all(bytes)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| store_error(temp.path(), e))?;
        temp.persist(&path)
            .map_err(|e| store_error(&path, e.error))?;
        Ok(())
    }
}

fn store_error(path: &Path, err: std::io::Error) -> Error {
    Error::Store {
        path: path.to_owned(),
        reason: err.to_string(),
    }
}
