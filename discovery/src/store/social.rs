//! The trust score's inputs in the discovery database: each author's
//! newest follow and mute list, reports and reviews. Written by the ingest
//! loop in its batches' transactions ([`SocialTables`]), read by the node
//! when it scores ([`Store::follow_lists`] and the others).

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, decode, encode};
use crate::social::{Key, KeyList, ReportTarget};

/// Author's Nostr key → its newest follow list, as [`encode_list`] writes it.
const FOLLOWS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("follows");
/// Author's Nostr key → its newest mute list, likewise.
const MUTES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("mutes");
/// (author's Nostr key, event id) → [`ReportRecord`] as JSON.
const REPORTS: TableDefinition<(&[u8; 32], &[u8; 32]), &[u8]> = TableDefinition::new("reports");
/// (DID, app id, author's Nostr key) → [`ReviewRecord`] as JSON.
const REVIEWS: TableDefinition<(&str, &str, &[u8; 32]), &[u8]> = TableDefinition::new("reviews");

/// Most reports kept from one author; more are refused.
pub const MAX_REPORTS_PER_AUTHOR: usize = 256;

/// A follow or mute list as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredList {
    /// The author.
    pub author: Key,
    /// The list event's `created_at`.
    pub created_at: u64,
    /// The keys, sorted.
    pub keys: Vec<Key>,
    /// Keys the list had over the cap, dropped when it was read.
    pub dropped: u32,
}

/// A report as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRecord {
    /// The reporter's Nostr key, hex.
    pub author: String,
    /// The report event's id, hex.
    pub event_id: String,
    /// Its `created_at`.
    pub created_at: u64,
    /// What it reports.
    pub targets: Vec<ReportTarget>,
}

/// A review as stored: the newest of one author for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewRecord {
    /// The publisher reviewed.
    pub did: String,
    /// The app reviewed.
    pub app_id: String,
    /// The reviewer's Nostr key, hex.
    pub author: String,
    /// 1 to 5.
    pub rating: u8,
    /// What the reviewer says.
    pub text: String,
    /// The event's `created_at`.
    pub created_at: u64,
    /// The event's id, hex.
    pub event_id: String,
}

/// The social tables, open in one write transaction.
pub struct SocialTables<'tx> {
    follows: Table<'tx, &'static [u8; 32], &'static [u8]>,
    mutes: Table<'tx, &'static [u8; 32], &'static [u8]>,
    reports: Table<'tx, (&'static [u8; 32], &'static [u8; 32]), &'static [u8]>,
    reviews: Table<'tx, (&'static str, &'static str, &'static [u8; 32]), &'static [u8]>,
}

/// Which list a replaceable event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// NIP-02.
    Follows,
    /// NIP-51.
    Mutes,
}

impl<'tx> SocialTables<'tx> {
    pub(super) fn open(tx: &'tx WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Self {
            follows: tx.open_table(FOLLOWS)?,
            mutes: tx.open_table(MUTES)?,
            reports: tx.open_table(REPORTS)?,
            reviews: tx.open_table(REVIEWS)?,
        })
    }

    /// Keeps `list` as `author`'s newest list of `kind`.
    pub fn put_list(
        &mut self,
        kind: ListKind,
        author: &Key,
        created_at: u64,
        list: &KeyList,
    ) -> Result<(), redb::Error> {
        let table = match kind {
            ListKind::Follows => &mut self.follows,
            ListKind::Mutes => &mut self.mutes,
        };
        table.insert(author, encode_list(created_at, list).as_slice())?;
        Ok(())
    }

    /// Keeps a report, unless its author has [`MAX_REPORTS_PER_AUTHOR`]
    /// already; returns whether it was kept.
    pub fn put_report(
        &mut self,
        author: &Key,
        id: &Key,
        record: &ReportRecord,
    ) -> Result<bool, redb::Error> {
        let held = self
            .reports
            .range((author, &[0u8; 32])..=(author, &[0xff; 32]))?;
        if held.count() >= MAX_REPORTS_PER_AUTHOR {
            return Ok(false);
        }
        self.reports
            .insert((author, id), encode(record)?.as_slice())?;
        Ok(true)
    }

    /// Keeps `review` as its author's newest for its app.
    pub fn put_review(&mut self, author: &Key, review: &ReviewRecord) -> Result<(), redb::Error> {
        let key = (review.did.as_str(), review.app_id.as_str(), author);
        self.reviews.insert(key, encode(review)?.as_slice())?;
        Ok(())
    }
}

/// `created_at` (8 bytes), keys dropped (4 bytes), then the keys.
fn encode_list(created_at: u64, list: &KeyList) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(12 + 32 * list.keys.len());
    bytes.extend_from_slice(&created_at.to_be_bytes());
    bytes.extend_from_slice(&list.dropped.to_be_bytes());
    for key in &list.keys {
        bytes.extend_from_slice(key);
    }
    bytes
}

fn decode_list(author: Key, bytes: &[u8]) -> Result<StoredList, redb::Error> {
    let corrupted = || redb::Error::Corrupted(format!("a stored list of {} bytes", bytes.len()));
    let (head, keys) = bytes.split_at_checked(12).ok_or_else(corrupted)?;
    if keys.len() % 32 != 0 {
        return Err(corrupted());
    }
    let (at, dropped) = head.split_at(8);
    Ok(StoredList {
        author,
        created_at: u64::from_be_bytes(at.try_into().map_err(|_| corrupted())?),
        dropped: u32::from_be_bytes(dropped.try_into().map_err(|_| corrupted())?),
        keys: keys
            .chunks_exact(32)
            .map(|k| k.try_into().map_err(|_| corrupted()))
            .collect::<Result<_, _>>()?,
    })
}

impl Store {
    /// Every author's newest list of `kind`, by author.
    pub fn lists(&self, kind: ListKind) -> Result<Vec<StoredList>, StoreError> {
        let table = match kind {
            ListKind::Follows => FOLLOWS,
            ListKind::Mutes => MUTES,
        };
        self.read(|tx| {
            tx.open_table(table)?
                .iter()?
                .map(|entry| {
                    let (author, bytes) = entry?;
                    decode_list(*author.value(), bytes.value())
                })
                .collect()
        })
    }

    /// `author`'s newest list of `kind`, if one was seen.
    pub fn list(&self, kind: ListKind, author: &Key) -> Result<Option<StoredList>, StoreError> {
        let table = match kind {
            ListKind::Follows => FOLLOWS,
            ListKind::Mutes => MUTES,
        };
        self.read(|tx| {
            tx.open_table(table)?
                .get(author)?
                .map(|bytes| decode_list(*author, bytes.value()))
                .transpose()
        })
    }

    /// Every report kept, by author and event id.
    pub fn reports(&self) -> Result<Vec<ReportRecord>, StoreError> {
        self.records(REPORTS)
    }

    /// Every review kept, by app and author.
    pub fn reviews(&self) -> Result<Vec<ReviewRecord>, StoreError> {
        self.records(REVIEWS)
    }

    /// Every value of a table of JSON records, in key order.
    fn records<K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<K, &[u8]>,
    ) -> Result<Vec<T>, StoreError> {
        self.read(|tx| {
            tx.open_table(table)?
                .iter()?
                .map(|entry| decode(entry?.1.value()))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_back_as_written_and_short_ones_are_refused() {
        let list = KeyList {
            keys: vec![[1; 32], [2; 32]],
            dropped: 3,
            malformed: 0,
        };
        let bytes = encode_list(77, &list);
        let read = decode_list([9; 32], &bytes).unwrap();
        assert_eq!(
            read,
            StoredList {
                author: [9; 32],
                created_at: 77,
                keys: list.keys,
                dropped: 3
            }
        );
        assert!(decode_list([9; 32], &bytes[..20]).is_err());
        assert!(decode_list([9; 32], &bytes[..5]).is_err());
    }
}
