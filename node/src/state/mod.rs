//! The node's durable state in one redb file (`state.redb` in the data
//! directory): the publishers it follows with their pinned roots and
//! trusted TUF metadata, the releases it holds, and the peers it has met;
//! and (`federation`) the federation's topic, paired peers, tombstones
//! and invites.
//!
//! Every write is one redb transaction, so a crash leaves the old state or
//! the new one. Table names stay in this module and its child.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use archy_registry::BlobHash;
use archy_registry::tuf::{self, MetadataStore};
use archy_trust::Did;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

mod federation;

pub use federation::Redeemed;

/// (publisher DID, role) → (version, bytes as verified).
const METADATA: TableDefinition<(&str, &str), (u64, &[u8])> = TableDefinition::new("tuf_metadata");
/// (publisher DID, version) → every root version accepted, for serving
/// the chain to nodes that pinned an older one.
const ROOTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("tuf_roots");
/// Publisher DID → [`Publisher`] as JSON.
const PUBLISHERS: TableDefinition<&str, &str> = TableDefinition::new("publishers");
/// (publisher DID, app, version) → [`HeldRelease`] as JSON.
const RELEASES: TableDefinition<(&str, &str, &str), &str> = TableDefinition::new("releases");
/// Node DID → last ticket seen.
const PEERS: TableDefinition<&str, &str> = TableDefinition::new("peers");
/// Operation id → the operation as JSON (`crate::operations`).
const OPERATIONS: TableDefinition<u64, &str> = TableDefinition::new("operations");
/// Installed app id → () for the apps the user let update themselves.
const AUTO_UPDATE: TableDefinition<&str, ()> = TableDefinition::new("auto_update");
/// Publisher DID → `allow` or `block`: the owner's lists, which the trust
/// score reads.
const TRUST_LISTS: TableDefinition<&str, &str> = TableDefinition::new("trust_lists");
/// Installed app id → (publisher DID, newest root version held for it when
/// the app was installed): how the trust score tells that a publisher's
/// signing root changed since.
const INSTALL_ROOTS: TableDefinition<&str, (&str, u64)> = TableDefinition::new("install_roots");
/// BLAKE3 of a browser session's cookie → (its CSRF token, last use in
/// Unix seconds): the pages' logins, kept across restarts.
const SESSIONS: TableDefinition<&[u8; 32], (&str, u64)> = TableDefinition::new("sessions");
/// Operations kept; older ones are dropped as new ones start.
const MAX_OPERATIONS: usize = 1000;

/// Largest single value read back (a targets file of a large catalog).
const MAX_VALUE: u64 = 16 << 20;

/// A state failure, naming the database.
#[derive(Debug, thiserror::Error)]
#[error("node state {path}: {reason}")]
pub struct StateError {
    path: String,
    reason: String,
    busy: bool,
}

impl StateError {
    /// Whether another process holds the database, so that a front end can
    /// say what to do about it.
    pub fn is_busy(&self) -> bool {
        self.busy
    }
}

/// A publisher this node follows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Publisher {
    /// The publisher's node, asked first for metadata and blobs.
    pub origin: Option<String>,
    /// The root version pinned on first contact.
    pub pinned_root: u64,
}

/// A release whose blobs this node holds and serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldRelease {
    /// Publisher DID.
    pub publisher: String,
    /// App id.
    pub app: String,
    /// Version.
    pub version: String,
    /// The hash naming the whole release.
    pub release: BlobHash,
    /// TUF target path.
    pub target: String,
}

/// The node's database.
#[derive(Debug, Clone)]
pub struct NodeState {
    db: Arc<Database>,
    path: PathBuf,
}

impl NodeState {
    /// Opens (or creates) the state at `path`. One process at a time.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let db = Database::create(path).map_err(|e| {
            let busy = matches!(e, redb::DatabaseError::DatabaseAlreadyOpen);
            let reason = if busy {
                "it is in use by another archy process (a running node?)".to_owned()
            } else {
                e.to_string()
            };
            StateError {
                path: path.display().to_string(),
                reason,
                busy,
            }
        })?;
        let state = Self {
            db: Arc::new(db),
            path: path.to_owned(),
        };
        state.write(|tx| {
            tx.open_table(METADATA)?;
            tx.open_table(ROOTS)?;
            tx.open_table(PUBLISHERS)?;
            tx.open_table(RELEASES)?;
            tx.open_table(PEERS)?;
            tx.open_table(OPERATIONS)?;
            tx.open_table(AUTO_UPDATE)?;
            tx.open_table(TRUST_LISTS)?;
            tx.open_table(INSTALL_ROOTS)?;
            tx.open_table(SESSIONS)?;
            Ok(())
        })?;
        Ok(state)
    }

    fn error(&self, e: impl std::fmt::Display) -> StateError {
        StateError {
            path: self.path.display().to_string(),
            reason: e.to_string(),
            busy: false,
        }
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StateError> {
        let tx = self.db.begin_write().map_err(|e| self.error(e))?;
        let value = f(&tx).map_err(|e| self.error(e))?;
        tx.commit().map_err(|e| self.error(e))?;
        Ok(value)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StateError> {
        let tx = self.db.begin_read().map_err(|e| self.error(e))?;
        f(&tx).map_err(|e| self.error(e))
    }

    /// The trusted-metadata store of `publisher`, for the TUF client.
    pub fn metadata_of(&self, publisher: &Did) -> Arc<dyn MetadataStore> {
        Arc::new(PublisherMetadata {
            state: self.clone(),
            publisher: publisher.to_string(),
        })
    }

    /// The stored `role` of `publisher`: (version, bytes).
    pub fn metadata(
        &self,
        publisher: &str,
        role: &str,
    ) -> Result<Option<(u64, Vec<u8>)>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(METADATA)?;
            Ok(table
                .get((publisher, role))?
                .map(|v| (v.value().0, v.value().1.to_vec())))
        })
    }

    /// Root version `version` of `publisher`, if accepted once.
    pub fn root(&self, publisher: &str, version: u64) -> Result<Option<Vec<u8>>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(ROOTS)?;
            Ok(table.get((publisher, version))?.map(|v| v.value().to_vec()))
        })
    }

    /// The newest root version held for `publisher`.
    pub fn newest_root(&self, publisher: &str) -> Result<Option<u64>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(ROOTS)?;
            let last = table
                .range((publisher, 0)..=(publisher, u64::MAX))?
                .next_back()
                .transpose()?;
            Ok(last.map(|(k, _)| k.value().1))
        })
    }

    /// Records that this node follows `publisher`.
    pub fn set_publisher(&self, did: &str, publisher: &Publisher) -> Result<(), StateError> {
        let json = serde_json::to_string(publisher).map_err(|e| self.error(e))?;
        self.write(|tx| {
            tx.open_table(PUBLISHERS)?.insert(did, json.as_str())?;
            Ok(())
        })
    }

    /// The publisher `did`, if followed.
    pub fn publisher(&self, did: &str) -> Result<Option<Publisher>, StateError> {
        let json = self.read(|tx| {
            let table = tx.open_table(PUBLISHERS)?;
            Ok(table.get(did)?.map(|v| v.value().to_owned()))
        })?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| self.error(e)))
            .transpose()
    }

    /// Records a release this node holds.
    pub fn add_release(&self, release: &HeldRelease) -> Result<(), StateError> {
        let json = serde_json::to_string(release).map_err(|e| self.error(e))?;
        self.write(|tx| {
            tx.open_table(RELEASES)?.insert(
                (
                    release.publisher.as_str(),
                    release.app.as_str(),
                    release.version.as_str(),
                ),
                json.as_str(),
            )?;
            Ok(())
        })
    }

    /// Every release this node holds.
    pub fn releases(&self) -> Result<Vec<HeldRelease>, StateError> {
        let rows = self.read(|tx| {
            let table = tx.open_table(RELEASES)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                rows.push(row?.1.value().to_owned());
            }
            Ok(rows)
        })?;
        rows.iter()
            .map(|j| serde_json::from_str(j).map_err(|e| self.error(e)))
            .collect()
    }

    /// Every publisher this node has fetched from: (DID, record).
    pub fn publishers(&self) -> Result<Vec<(String, Publisher)>, StateError> {
        let rows = self.read(|tx| {
            let table = tx.open_table(PUBLISHERS)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                rows.push((k.value().to_owned(), v.value().to_owned()));
            }
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(did, json)| Ok((did, serde_json::from_str(&json).map_err(|e| self.error(e))?)))
            .collect()
    }

    /// Records the newest ticket of a peer.
    pub fn add_peer(&self, did: &str, ticket: &str) -> Result<(), StateError> {
        self.write(|tx| {
            tx.open_table(PEERS)?.insert(did, ticket)?;
            Ok(())
        })
    }

    /// Every peer met: (DID, ticket).
    pub fn peers(&self) -> Result<Vec<(String, String)>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(PEERS)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                rows.push((k.value().to_owned(), v.value().to_owned()));
            }
            Ok(rows)
        })
    }
}

impl NodeState {
    /// Writes operation `id` as `json`, dropping the oldest past the most
    /// kept.
    pub fn put_operation(&self, id: u64, json: &str) -> Result<(), StateError> {
        self.write(|tx| {
            let mut table = tx.open_table(OPERATIONS)?;
            table.insert(id, json)?;
            let excess = usize::try_from(table.len()?).unwrap_or(usize::MAX);
            for _ in MAX_OPERATIONS..excess {
                table.pop_first()?;
            }
            Ok(())
        })
    }

    /// Operation `id` as JSON, if it is kept.
    pub fn operation(&self, id: u64) -> Result<Option<String>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(OPERATIONS)?;
            Ok(table.get(id)?.map(|v| v.value().to_owned()))
        })
    }

    /// Lets installed app `app` update itself when upkeep finds a newer
    /// release in its publisher's catalog (`on`), or stops it.
    pub fn set_auto_update(&self, app: &str, on: bool) -> Result<(), StateError> {
        self.write(|tx| {
            let mut table = tx.open_table(AUTO_UPDATE)?;
            if on {
                table.insert(app, ())?;
            } else {
                table.remove(app)?;
            }
            Ok(())
        })
    }

    /// The apps that update themselves, sorted.
    pub fn auto_updated(&self) -> Result<Vec<String>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(AUTO_UPDATE)?;
            let mut apps = Vec::new();
            for row in table.iter()? {
                apps.push(row?.0.value().to_owned());
            }
            Ok(apps)
        })
    }

    /// Puts `did` on the owner's `list` (`allow` or `block`), off the
    /// other; `None` takes it off both.
    pub fn set_trust_list(&self, did: &str, list: Option<&str>) -> Result<(), StateError> {
        self.write(|tx| {
            let mut table = tx.open_table(TRUST_LISTS)?;
            match list {
                Some(list) => {
                    table.insert(did, list)?;
                }
                None => {
                    table.remove(did)?;
                }
            }
            Ok(())
        })
    }

    /// The owner's allow and block lists: (DID, list), by DID.
    pub fn trust_lists(&self) -> Result<Vec<(String, String)>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(TRUST_LISTS)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                rows.push((k.value().to_owned(), v.value().to_owned()));
            }
            Ok(rows)
        })
    }

    /// Records that app `app` was installed from `publisher` while the
    /// newest root held for it was `root_version`.
    pub fn set_install_root(
        &self,
        app: &str,
        publisher: &str,
        root_version: u64,
    ) -> Result<(), StateError> {
        self.write(|tx| {
            tx.open_table(INSTALL_ROOTS)?
                .insert(app, (publisher, root_version))?;
            Ok(())
        })
    }

    /// Every app's record of [`Self::set_install_root`]: (app, publisher,
    /// root version), by app.
    pub fn install_roots(&self) -> Result<Vec<(String, String, u64)>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(INSTALL_ROOTS)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                let (publisher, version) = v.value();
                rows.push((k.value().to_owned(), publisher.to_owned(), version));
            }
            Ok(rows)
        })
    }

    /// Keeps a browser session: the hash of its cookie, its CSRF token and
    /// when it was last used (Unix seconds).
    pub fn put_session(
        &self,
        hash: &[u8; 32],
        csrf: &str,
        last_used: u64,
    ) -> Result<(), StateError> {
        self.write(|tx| {
            tx.open_table(SESSIONS)?.insert(hash, (csrf, last_used))?;
            Ok(())
        })
    }

    /// Forgets a browser session.
    pub fn remove_session(&self, hash: &[u8; 32]) -> Result<(), StateError> {
        self.write(|tx| {
            tx.open_table(SESSIONS)?.remove(hash)?;
            Ok(())
        })
    }

    /// Every browser session kept: (cookie hash, CSRF token, last use).
    pub fn sessions(&self) -> Result<Vec<([u8; 32], String, u64)>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(SESSIONS)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                let (csrf, last_used) = v.value();
                rows.push((*k.value(), csrf.to_owned(), last_used));
            }
            Ok(rows)
        })
    }

    /// Every operation kept, oldest first: (id, JSON).
    pub fn operations(&self) -> Result<Vec<(u64, String)>, StateError> {
        self.read(|tx| {
            let table = tx.open_table(OPERATIONS)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                rows.push((k.value(), v.value().to_owned()));
            }
            Ok(rows)
        })
    }
}

/// One publisher's trusted metadata, as the TUF client's store.
struct PublisherMetadata {
    state: NodeState,
    publisher: String,
}

impl MetadataStore for PublisherMetadata {
    fn load(&self, role: &str, max_len: u64) -> Result<Option<Vec<u8>>, tuf::Error> {
        let found = self
            .state
            .metadata(&self.publisher, role)
            .map_err(|e| self.store_error(role, e))?;
        Ok(found
            .map(|(_, bytes)| bytes)
            .filter(|b| b.len() as u64 <= max_len.min(MAX_VALUE)))
    }

    fn save(&self, role: &str, bytes: &[u8]) -> Result<(), tuf::Error> {
        let version =
            tuf::metadata::signed_version(bytes).map_err(|e| self.store_error(role, e))?;
        self.state
            .write(|tx| {
                tx.open_table(METADATA)?
                    .insert((self.publisher.as_str(), role), (version, bytes))?;
                if role == "root" {
                    tx.open_table(ROOTS)?
                        .insert((self.publisher.as_str(), version), bytes)?;
                }
                Ok(())
            })
            .map_err(|e| self.store_error(role, e))
    }

    fn location(&self, role: &str) -> String {
        format!("{}#{}/{role}", self.state.path.display(), self.publisher)
    }
}

impl PublisherMetadata {
    fn store_error(&self, role: &str, e: impl std::fmt::Display) -> tuf::Error {
        tuf::Error::Store {
            location: self.location(role),
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(version: u64) -> Vec<u8> {
        format!(r#"{{"signatures":[],"signed":{{"_type":"root","version":{version}}}}}"#)
            .into_bytes()
    }

    #[test]
    fn metadata_and_every_root_version_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let did = archy_trust::Identity::from_seed(&[7; 32]).did();
        {
            let state = NodeState::open(&path).unwrap();
            let store = state.metadata_of(&did);
            store.save("root", &signed(1)).unwrap();
            store.save("root", &signed(2)).unwrap();
            store.save("timestamp", &signed(9)).unwrap();
        }
        let state = NodeState::open(&path).unwrap();
        let store = state.metadata_of(&did);
        assert_eq!(store.load("root", 1 << 20).unwrap(), Some(signed(2)));
        assert_eq!(
            store.load("root", 10).unwrap(),
            None,
            "over the limit reads as absent"
        );
        let key = did.to_string();
        assert_eq!(state.root(&key, 1).unwrap(), Some(signed(1)));
        assert_eq!(state.newest_root(&key).unwrap(), Some(2));
        assert_eq!(state.metadata(&key, "timestamp").unwrap().unwrap().0, 9);
    }

    #[test]
    fn a_second_opener_is_told_the_state_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let _first = NodeState::open(&path).unwrap();
        let err = NodeState::open(&path).unwrap_err();
        assert!(err.is_busy());
        let err = err.to_string();
        assert!(err.contains("in use by another archy process"), "{err}");
    }
}
