//! What a node serves on the catalog ALPN (`archy/tuf/1`): the catalogs it
//! publishes (directories made by `archy catalog`, served file by file as
//! `archy catalog serve` does) and, for publishers it follows, the trusted
//! metadata kept in its database. A follower serves metadata only; release
//! documents travel as blobs, inside the release's hash sequence.

use std::path::PathBuf;

use archy_registry::catalog::Repository;
use archy_registry::swarm::tuf_protocol::{CatalogFile, CatalogSource, Served};
use archy_trust::Did;

use crate::catalog_server::read_served;
use crate::state::NodeState;

/// A catalog this node publishes, and the DIDs whose catalog it is.
#[derive(Debug, Clone)]
struct OwnCatalog {
    dir: PathBuf,
    publishers: Vec<Did>,
}

/// The node's catalogs and followed publishers' metadata.
#[derive(Debug)]
pub struct NodeCatalogs {
    own: Vec<OwnCatalog>,
    state: NodeState,
}

/// A catalog directory could not be served.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve catalog {dir}: {reason}")]
pub struct CatalogSourceError {
    dir: String,
    reason: String,
}

impl NodeCatalogs {
    /// Serves the catalogs in `dirs` (as publisher) and what `state`
    /// holds (as follower). A catalog is served for every key any of its
    /// root versions lists, so nodes that pinned it before a key rotation
    /// still find it. Keys added while the node runs are seen on restart.
    pub fn new(dirs: &[PathBuf], state: NodeState) -> Result<Self, CatalogSourceError> {
        let mut own = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let failed = |reason: String| CatalogSourceError {
                dir: dir.display().to_string(),
                reason,
            };
            let keys = Repository::open(dir)
                .and_then(|r| r.every_key_did())
                .map_err(|e| failed(e.to_string()))?;
            let publishers = keys
                .iter()
                .map(|k| {
                    k.parse::<Did>()
                        .map_err(|e| failed(format!("key {k}: {e}")))
                })
                .collect::<Result<_, _>>()?;
            own.push(OwnCatalog {
                dir: dir.clone(),
                publishers,
            });
        }
        Ok(Self { own, state })
    }

    /// The DIDs whose catalogs this node publishes.
    pub fn publishers(&self) -> Vec<Did> {
        self.own
            .iter()
            .flat_map(|c| c.publishers.iter().cloned())
            .collect()
    }

    /// `publisher`'s current `targets.json`: its own catalog's if this
    /// node publishes it, else the one its TUF client verified and kept
    /// (`None` before it first read that publisher's catalog).
    pub fn targets_of(&self, publisher: &Did) -> Result<Option<Vec<u8>>, String> {
        match self.own.iter().find(|c| c.publishers.contains(publisher)) {
            Some(own) => Repository::open(&own.dir)
                .and_then(|r| r.targets_bytes())
                .map(Some)
                .map_err(|e| e.to_string()),
            None => Ok(self
                .state
                .metadata(publisher.as_str(), "targets")
                .map_err(|e| e.to_string())?
                .map(|(_, bytes)| bytes)),
        }
    }

    fn own_file(dir: &std::path::Path, file: &CatalogFile) -> Result<Option<Served>, String> {
        let path = match file {
            CatalogFile::Metadata(name) => dir.join("metadata").join(name),
            CatalogFile::Target(path) => dir.join("targets").join(path),
        };
        let served =
            read_served(dir, &path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(served.map(|(bytes, newest_root)| Served { bytes, newest_root }))
    }

    fn held_metadata(&self, publisher: &Did, file: &CatalogFile) -> Result<Option<Served>, String> {
        let CatalogFile::Metadata(name) = file else {
            return Ok(None);
        };
        let key = publisher.as_str();
        let err = |e: crate::state::StateError| e.to_string();
        if name == "timestamp.json" {
            let newest_root = self.state.newest_root(key).map_err(err)?;
            return Ok(self
                .state
                .metadata(key, "timestamp")
                .map_err(err)?
                .map(|(_, bytes)| Served { bytes, newest_root }));
        }
        let Some((version, role)) = versioned_name(name) else {
            let role = name.strip_suffix(".json").map(decode_role);
            return Ok(match role {
                Some(role) => self.state.metadata(key, &role).map_err(err)?,
                None => None,
            }
            .map(|(_, bytes)| Served {
                bytes,
                newest_root: None,
            }));
        };
        let bytes = if role == "root" {
            self.state.root(key, version).map_err(err)?
        } else {
            self.state
                .metadata(key, &role)
                .map_err(err)?
                .filter(|(held, _)| *held == version)
                .map(|(_, bytes)| bytes)
        };
        Ok(bytes.map(|bytes| Served {
            bytes,
            newest_root: None,
        }))
    }
}

impl CatalogSource for NodeCatalogs {
    fn read(&self, publisher: &Did, file: &CatalogFile) -> Result<Option<Served>, String> {
        match self.own.iter().find(|c| c.publishers.contains(publisher)) {
            Some(own) => Self::own_file(&own.dir, file),
            None => self.held_metadata(publisher, file),
        }
    }
}

/// `7.targets.json` → (7, "targets"); the role name percent-decoded.
fn versioned_name(name: &str) -> Option<(u64, String)> {
    let stem = name.strip_suffix(".json")?;
    let (version, role) = stem.split_once('.')?;
    Some((version.parse().ok()?, decode_role(role)))
}

/// Undoes the TUF client's percent-encoding of a role name.
fn decode_role(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_metadata_names_split_into_version_and_role() {
        assert_eq!(
            versioned_name("7.targets.json"),
            Some((7, "targets".into()))
        );
        assert_eq!(versioned_name("2.a%2Fb.json"), Some((2, "a/b".into())));
        assert_eq!(versioned_name("timestamp.json"), None);
        assert_eq!(versioned_name("root.json"), None);
        assert_eq!(decode_role("bad%zz%"), "bad%zz%");
    }
}
