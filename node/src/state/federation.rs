//! The federation's part of the node state: the topic this node's
//! federation gossips on, the peers it paired with (each with its newest
//! ticket), the tombstones of removed peers, and the invites it issued.
//!
//! A removal deletes the peer and writes its tombstone in one transaction:
//! if the tombstone cannot be written, the peer stays and the caller is
//! told. A tombstoned peer is paired again only through a fresh invite.
//! The tombstone table is opened only when a peer is removed, so a node
//! whose tombstones cannot be written still starts, and says so then.

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, TableError};

use super::{NodeState, StateError};

/// `topic` → the federation's 32-byte gossip topic.
const FEDERATION: TableDefinition<&str, &[u8]> = TableDefinition::new("federation");
/// Paired peer DID → its newest ticket.
const PAIRED: TableDefinition<&str, &str> = TableDefinition::new("federation_peers");
/// Removed peer DID → when it was removed (Unix seconds).
const TOMBSTONES: TableDefinition<&str, u64> = TableDefinition::new("federation_tombstones");
/// Invite nonce → (expiry in Unix seconds, redeemed).
const INVITES: TableDefinition<&[u8; 16], (u64, bool)> = TableDefinition::new("federation_invites");
/// Publisher DID → the proof (JSON) that it showed peers two different
/// catalogs: installs and updates from it stop.
const SPLIT_VIEWS: TableDefinition<&str, &str> = TableDefinition::new("federation_split_views");
/// Invites kept: past this many, redeemed and expired ones are dropped,
/// and a node with this many open invites issues no more.
const MAX_INVITES: u64 = 1000;

/// What redeeming an invite found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeemed {
    /// It was issued here, unused and unexpired; it is used now.
    Fresh,
    /// This node never issued it.
    Unknown,
    /// It was used before: invites are single-use.
    Used,
    /// Its time ran out.
    Expired,
}

impl NodeState {
    /// The federation's gossip topic: the one kept, else `fresh`, kept
    /// from now on.
    pub fn federation_topic(&self, fresh: [u8; 32]) -> Result<[u8; 32], StateError> {
        self.write(|tx| {
            let mut table = tx.open_table(FEDERATION)?;
            let kept = table
                .get("topic")?
                .and_then(|v| <[u8; 32]>::try_from(v.value()).ok());
            match kept {
                Some(topic) => Ok(topic),
                None => {
                    table.insert("topic", fresh.as_slice())?;
                    Ok(fresh)
                }
            }
        })
    }

    /// Joins the federation of `topic` (a node is in one federation).
    pub fn set_federation_topic(&self, topic: [u8; 32]) -> Result<(), StateError> {
        self.write(|tx| {
            tx.open_table(FEDERATION)?
                .insert("topic", topic.as_slice())?;
            Ok(())
        })
    }

    /// Records an invite this node issued at `now`. Past [`MAX_INVITES`],
    /// the redeemed and expired ones are dropped first; whether it was
    /// recorded (not when that many are still open).
    pub fn issue_invite(
        &self,
        nonce: [u8; 16],
        expires: u64,
        now: u64,
    ) -> Result<bool, StateError> {
        self.write(|tx| {
            let mut table = tx.open_table(INVITES)?;
            if table.len()? >= MAX_INVITES {
                let mut spent = Vec::new();
                for row in table.iter()? {
                    let (key, value) = row?;
                    let (until, used) = value.value();
                    if used || until <= now {
                        spent.push(*key.value());
                    }
                }
                for key in &spent {
                    table.remove(key)?;
                }
                if table.len()? >= MAX_INVITES {
                    return Ok(false);
                }
            }
            table.insert(&nonce, (expires, false))?;
            Ok(true)
        })
    }

    /// Uses up the invite `nonce` at `now`, if it is fresh.
    pub fn redeem_invite(&self, nonce: [u8; 16], now: u64) -> Result<Redeemed, StateError> {
        self.write(|tx| {
            let mut table = tx.open_table(INVITES)?;
            let found = table.get(&nonce)?.map(|v| v.value());
            Ok(match found {
                None => Redeemed::Unknown,
                Some((_, true)) => Redeemed::Used,
                Some((expires, false)) if expires <= now => Redeemed::Expired,
                Some((expires, false)) => {
                    table.insert(&nonce, (expires, true))?;
                    Redeemed::Fresh
                }
            })
        })
    }

    /// Pairs with `did` (or keeps its newer `ticket`), lifting any
    /// tombstone: only an invite leads here.
    pub fn pair(&self, did: &str, ticket: &str) -> Result<(), StateError> {
        self.write(|tx| {
            tx.open_table(PAIRED)?.insert(did, ticket)?;
            tx.open_table(TOMBSTONES)?.remove(did)?;
            Ok(())
        })
    }

    /// Keeps the newer `ticket` of a paired peer; a peer not paired (or
    /// removed) is not added. Whether it was paired.
    pub fn refresh_peer(&self, did: &str, ticket: &str) -> Result<bool, StateError> {
        self.write(|tx| {
            let mut table = tx.open_table(PAIRED)?;
            let paired = table.get(did)?.is_some();
            if paired {
                table.insert(did, ticket)?;
            }
            Ok(paired)
        })
    }

    /// Removes peer `did` and writes its tombstone, in one transaction.
    /// Whether it was paired.
    pub fn remove_peer(&self, did: &str, now: u64) -> Result<bool, StateError> {
        self.write(|tx| {
            let was = tx.open_table(PAIRED)?.remove(did)?.is_some();
            tx.open_table(TOMBSTONES)?.insert(did, now)?;
            Ok(was)
        })
    }

    /// Every paired peer: (DID, ticket).
    pub fn paired_peers(&self) -> Result<Vec<(String, String)>, StateError> {
        self.read(|tx| text_rows(tx, PAIRED))
    }

    /// Keeps the first proof of a split view by `publisher`; whether it
    /// is new.
    pub fn put_split_view(&self, publisher: &str, proof: &str) -> Result<bool, StateError> {
        self.write(|tx| {
            let mut table = tx.open_table(SPLIT_VIEWS)?;
            if table.get(publisher)?.is_some() {
                return Ok(false);
            }
            table.insert(publisher, proof)?;
            Ok(true)
        })
    }

    /// Every proof kept: (publisher DID, proof JSON).
    pub fn split_views(&self) -> Result<Vec<(String, String)>, StateError> {
        self.read(|tx| text_rows(tx, SPLIT_VIEWS))
    }

    /// The proof kept against `publisher`, if any.
    pub fn split_view(&self, publisher: &str) -> Result<Option<String>, StateError> {
        self.read(|tx| match tx.open_table(SPLIT_VIEWS) {
            Ok(table) => Ok(table.get(publisher)?.map(|v| v.value().to_owned())),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    /// Whether `did` was removed (and not paired again since).
    pub fn is_tombstoned(&self, did: &str) -> Result<bool, StateError> {
        self.read(|tx| match tx.open_table(TOMBSTONES) {
            Ok(table) => Ok(table.get(did)?.is_some()),
            Err(TableError::TableDoesNotExist(_)) => Ok(false),
            Err(e) => Err(e.into()),
        })
    }
}

/// Every row of a text-to-text table, none if it was never written.
fn text_rows(
    tx: &redb::ReadTransaction,
    definition: TableDefinition<&str, &str>,
) -> Result<Vec<(String, String)>, redb::Error> {
    let table = match tx.open_table(definition) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut rows = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        rows.push((k.value().to_owned(), v.value().to_owned()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, NodeState) {
        let dir = tempfile::tempdir().unwrap();
        let state = NodeState::open(&dir.path().join("state.redb")).unwrap();
        (dir, state)
    }

    #[test]
    fn an_invite_is_used_once_and_not_after_it_expires() {
        let (_dir, state) = state();
        assert!(state.issue_invite([1; 16], 100, 0).unwrap());
        assert!(state.issue_invite([2; 16], 100, 0).unwrap());
        assert_eq!(state.redeem_invite([1; 16], 50).unwrap(), Redeemed::Fresh);
        assert_eq!(state.redeem_invite([1; 16], 50).unwrap(), Redeemed::Used);
        assert_eq!(
            state.redeem_invite([2; 16], 100).unwrap(),
            Redeemed::Expired
        );
        assert_eq!(state.redeem_invite([3; 16], 50).unwrap(), Redeemed::Unknown);
    }

    #[test]
    fn a_removed_peer_is_tombstoned_until_paired_again() {
        let (_dir, state) = state();
        state.pair("did:a", "t1").unwrap();
        assert!(state.refresh_peer("did:a", "t2").unwrap());
        assert_eq!(
            state.paired_peers().unwrap(),
            [("did:a".into(), "t2".into())]
        );
        assert!(state.remove_peer("did:a", 7).unwrap());
        assert!(state.is_tombstoned("did:a").unwrap());
        assert!(!state.refresh_peer("did:a", "t3").unwrap(), "not re-added");
        assert!(state.paired_peers().unwrap().is_empty());
        state.pair("did:a", "t4").unwrap();
        assert!(!state.is_tombstoned("did:a").unwrap());
        assert_eq!(state.paired_peers().unwrap().len(), 1);
    }

    #[test]
    fn a_tombstone_that_cannot_be_written_keeps_the_peer_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        NodeState::open(&path).unwrap().pair("did:a", "t1").unwrap();
        {
            // The tombstones' table replaced by one of another type:
            // writing a tombstone fails.
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            tx.delete_table(TOMBSTONES).unwrap();
            let wrong: TableDefinition<u64, u64> = TableDefinition::new("federation_tombstones");
            tx.open_table(wrong).unwrap();
            tx.commit().unwrap();
        }
        let state = NodeState::open(&path).unwrap();
        let err = state.remove_peer("did:a", 1).unwrap_err().to_string();
        assert!(err.contains("federation_tombstones"), "{err}");
        assert_eq!(state.paired_peers().unwrap().len(), 1, "the peer stays");
    }
}
