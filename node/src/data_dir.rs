//! Where a node keeps everything: one directory, by default
//! `$ARCHY_DATA_DIR`, else `$XDG_DATA_HOME/archy`, else
//! `~/.local/share/archy`.
//!
//! ```text
//! archy.toml          the node's configuration (optional; see `config`)
//! node.key            the node identity (0600), made on first use
//! api.token           the API's bearer token (0600), made on first run
//! api.json            where the running node's API listens (while it runs)
//! state.redb          publishers, trusted metadata, releases held, peers
//! discovery.redb      the market: listings, publishers, pinned roots,
//!                     relay cursors, counters
//! relay/              the embedded Nostr relay's event store (LMDB)
//! blobs/              the iroh-blobs store
//! releases/           verified blobs as plain files, named by BLAKE3 hash
//! orchestrator/
//!   orchestrator.redb installed apps, desired states, operation journal
//!   apps/APP/data/    each app's volumes (kept on uninstall unless purged)
//!   apps/APP/secrets/ each app's generated secrets (0600)
//! ```

use std::path::{Path, PathBuf};

use archy_trust::{Identity, keyfile};

/// A node's data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// The data directory could not be used.
#[derive(Debug, thiserror::Error)]
#[error("data directory {path}: {reason}")]
pub struct DataDirError {
    path: String,
    reason: String,
}

impl DataDir {
    /// The directory `root`, created if missing.
    pub fn open(root: &Path) -> Result<Self, DataDirError> {
        std::fs::create_dir_all(root).map_err(|e| DataDirError {
            path: root.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The default location, when no `--data-dir` is given.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("ARCHY_DATA_DIR") {
            return PathBuf::from(dir);
        }
        if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
            return PathBuf::from(dir).join("archy");
        }
        std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".local/share/archy"))
            .unwrap_or_else(|| PathBuf::from(".archy"))
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The redb state file.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.redb")
    }

    /// The discovery index (listings, publishers, pinned roots, cursors).
    pub fn discovery_file(&self) -> PathBuf {
        self.root.join("discovery.redb")
    }

    /// The embedded Nostr relay's event store.
    pub fn relay_dir(&self) -> PathBuf {
        self.root.join("relay")
    }

    /// The API's bearer token.
    pub fn api_token_file(&self) -> PathBuf {
        self.root.join("api.token")
    }

    /// Where the running node says its API listens.
    pub fn api_advert_file(&self) -> PathBuf {
        self.root.join("api.json")
    }

    /// The blob store directory.
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// Where verified blobs are written as files.
    pub fn releases_dir(&self) -> PathBuf {
        self.root.join("releases")
    }

    /// The node key: `key` if given, else `node.key` here, made on first
    /// use.
    pub fn identity(&self, key: Option<&Path>) -> Result<Identity, DataDirError> {
        let path = key
            .map(Path::to_owned)
            .unwrap_or_else(|| self.root.join("node.key"));
        let failed = |e: archy_trust::Error| DataDirError {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if key.is_none() && !path.exists() {
            let identity = Identity::generate().map_err(failed)?;
            keyfile::create(&path, &identity).map_err(failed)?;
            return Ok(identity);
        }
        keyfile::load(&path).map_err(failed)
    }
}
