//! The discovery index on disk: one redb file (`discovery.redb` in the
//! node's data directory) with the listings and publishers believed, the
//! roots pinned, the listings waiting for a root, the deletions seen, each
//! relay's cursor and the counters `archy market stats` shows. Listings'
//! manifest envelopes, most of their bytes, have a table of their own,
//! appended to in the order they come.
//!
//! Writes happen in batches ([`Store::write`] hands out every table at
//! once), so ingesting thousands of events costs one commit, not thousands.
//! Ingested batches may also be committed to memory first
//! ([`Store::write_soon`]) and reach the disk together, at most
//! [`DURABLE_EVERY`] later. Table names stay in this module.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, Table,
    TableDefinition,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::syncer::{Durable, Syncer};

mod social;

pub use social::{
    ListKind, MAX_REPORTS_PER_AUTHOR, ReportRecord, ReviewRecord, SocialTables, StoredList,
};

/// (author's Nostr key hex, `d`) → (created_at, event id hex) of the newest
/// event believed or waiting: what a later copy must beat.
const HEADS: TableDefinition<(&str, &str), (u64, &str)> = TableDefinition::new("heads");
/// (DID, app id) → [`ListingRecord`], stored as [`store_listing`] writes it.
const LISTINGS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("listings");
/// (DID, app id) → [`ListingRecord`], as in `LISTINGS`, until the DID has a
/// pinned root.
const PENDING: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("pending");
/// A number never used before → the manifest envelope of a listing in
/// `LISTINGS` or `PENDING`. Manifests are most of a listing's bytes; kept
/// apart, under numbers that only grow, they are appended at the end of
/// their table instead of splitting a page wherever a listing's (DID, app
/// id) falls, and a first ingest writes 40 % fewer bytes.
const MANIFESTS: TableDefinition<u64, &[u8]> = TableDefinition::new("manifests");
/// DID → [`PublisherRecord`] as JSON.
const PUBLISHERS: TableDefinition<&str, &[u8]> = TableDefinition::new("publishers");
/// DID → [`PinnedRoot`] as JSON.
const ROOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("roots");
/// DID → the last [`RootConflict`] as JSON.
const CONFLICTS: TableDefinition<&str, &[u8]> = TableDefinition::new("root_conflicts");
/// (author's Nostr key hex, `d`) → created_at of the newest NIP-09 deletion.
const DELETIONS: TableDefinition<(&str, &str), u64> = TableDefinition::new("deletions");
/// Author's Nostr key hex → the DID its binding names.
const AUTHORS: TableDefinition<&str, &str> = TableDefinition::new("authors");
/// Relay URL → Unix seconds up to which everything it holds has been seen.
const CURSORS: TableDefinition<&str, u64> = TableDefinition::new("cursors");
/// Counter name → count.
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// redb's page cache: enough for the hot tables of 100 k listings, and far
/// below redb's default, which would otherwise be most of a node's memory.
const CACHE_BYTES: usize = 32 << 20;
/// Longest a batch committed by [`Store::write_soon`] stays in memory only.
/// Syncing every batch would make the ingest wait for the disk once per
/// batch (a couple of milliseconds here) and write again the pages that
/// batches share; a crash loses at most this much, and what it loses
/// (events, relay cursors and counters together) is fetched again from the
/// relays.
pub const DURABLE_EVERY: Duration = Duration::from_secs(1);
/// Largest record read back (a listing carries a ≤ 64 KiB content).
const MAX_RECORD: usize = 256 * 1024;

/// A failure of the index database, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("discovery index {path}: {reason}")]
pub struct StoreError {
    path: String,
    reason: String,
}

impl StoreError {
    /// A failure around the index that is not redb's own.
    pub fn other(path: &Path, reason: String) -> Self {
        Self {
            path: path.display().to_string(),
            reason,
        }
    }
}

/// A listing believed (or waiting for its publisher's root).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListingRecord {
    /// The publisher.
    pub did: String,
    /// The app id.
    pub app_id: String,
    /// Display name.
    pub title: String,
    /// One line.
    pub summary: String,
    /// Categories.
    pub categories: Vec<String>,
    /// BLAKE3 of the icon.
    pub icon: Option<String>,
    /// Newest version.
    pub version: String,
    /// Release root hash.
    pub release: String,
    /// Bytes to fetch.
    pub size: u64,
    /// Node tickets that may serve the release.
    pub providers: Vec<String>,
    /// The signed manifest envelope, as published.
    #[serde(deserialize_with = "raw_json")]
    #[schema(value_type = Object)]
    pub manifest: Box<RawValue>,
    /// The event it came in.
    pub event_id: String,
    /// The author's Nostr key.
    pub nostr_pubkey: String,
    /// The event's `created_at`.
    pub created_at: u64,
    /// The relay it first came from.
    pub relay: String,
}

/// A publisher's binding and profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublisherRecord {
    /// The DID.
    pub did: String,
    /// The Nostr key that speaks for it.
    pub nostr_pubkey: String,
    /// Display name.
    pub name: String,
    /// A line about the publisher.
    pub about: String,
    /// When the binding expires.
    pub binding_expires: u64,
    /// The event's `created_at`.
    pub created_at: u64,
}

/// A publisher's TUF root, pinned on first sight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinnedRoot {
    /// Root version.
    pub version: u64,
    /// SHA-256 of `root.json`, hex.
    pub sha256: String,
    /// `root.json` as published.
    pub root: String,
    /// When it was pinned (Unix seconds).
    pub pinned_at: u64,
    /// The newest `timestamp.json` version announced.
    pub timestamp_version: Option<u64>,
}

/// A root refused because another is pinned for the same DID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootConflict {
    /// The pinned root's version and hash.
    pub pinned: (u64, String),
    /// The refused root's version and hash.
    pub offered: (u64, String),
    /// Why it was refused.
    pub reason: String,
    /// The event that carried it.
    pub event_id: String,
    /// The relay it came from.
    pub relay: String,
    /// When (Unix seconds).
    pub seen_at: u64,
}

/// The discovery database.
#[derive(Debug)]
pub struct Store {
    /// Makes commits durable in the background. Declared first so that it
    /// stops, and lets go of the database, before the database closes.
    syncer: Syncer,
    db: Arc<Database>,
    path: PathBuf,
    /// Which commits are on disk.
    durable: Arc<Durable>,
}

/// Every table, open in one write transaction.
pub struct Tables<'tx> {
    heads: Table<'tx, (&'static str, &'static str), (u64, &'static str)>,
    listings: Table<'tx, (&'static str, &'static str), &'static [u8]>,
    pending: Table<'tx, (&'static str, &'static str), &'static [u8]>,
    manifests: Table<'tx, u64, &'static [u8]>,
    /// The number the next manifest is stored under.
    next_manifest: u64,
    publishers: Table<'tx, &'static str, &'static [u8]>,
    roots: Table<'tx, &'static str, &'static [u8]>,
    conflicts: Table<'tx, &'static str, &'static [u8]>,
    deletions: Table<'tx, (&'static str, &'static str), u64>,
    authors: Table<'tx, &'static str, &'static str>,
    cursors: Table<'tx, &'static str, u64>,
    counters: Table<'tx, &'static str, u64>,
    /// The trust score's inputs.
    pub social: SocialTables<'tx>,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, redb::Error> {
    if bytes.len() > MAX_RECORD {
        return Err(redb::Error::Corrupted(format!(
            "a record of {} bytes is over {MAX_RECORD}",
            bytes.len()
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| redb::Error::Corrupted(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, redb::Error> {
    serde_json::to_vec(value).map_err(|e| redb::Error::Corrupted(e.to_string()))
}

/// Reads JSON text through a JSON value, which works wherever a record is
/// nested: serde buffers tagged enums such as the control socket's
/// answers, and raw text cannot be read back from that buffer.
fn raw_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Box<RawValue>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    serde_json::value::to_raw_value(&value).map_err(serde::de::Error::custom)
}

/// Writes `listing` under (DID, app id) in `table`, its manifest in
/// `manifests` under the number `next` (which moves on): the stored value
/// is that number (8 bytes, big-endian) and the record as JSON with a
/// `null` manifest. The manifest of what it replaces goes.
fn store_listing(
    table: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    manifests: &mut Table<'_, u64, &'static [u8]>,
    next: &mut u64,
    listing: &mut ListingRecord,
) -> Result<(), redb::Error> {
    let at = *next;
    manifests.insert(at, listing.manifest.get().as_bytes())?;
    *next += 1;
    let manifest = std::mem::replace(&mut listing.manifest, RawValue::NULL.to_owned());
    let mut bytes = at.to_be_bytes().to_vec();
    let written = serde_json::to_writer(&mut bytes, &*listing);
    listing.manifest = manifest;
    written.map_err(|e| redb::Error::Corrupted(e.to_string()))?;
    let key = (listing.did.as_str(), listing.app_id.as_str());
    if let Some(old) = table.insert(key, bytes.as_slice())? {
        forget_manifest(manifests, old.value())?;
    }
    Ok(())
}

/// Removes the listing under (DID, app id) from `table`, with its
/// manifest; true if there was one.
fn remove_listing_from(
    table: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    manifests: &mut Table<'_, u64, &'static [u8]>,
    did: &str,
    app: &str,
) -> Result<bool, redb::Error> {
    let Some(old) = table.remove((did, app))? else {
        return Ok(false);
    };
    forget_manifest(manifests, old.value())?;
    Ok(true)
}

/// Where a stored listing's manifest is; `None` for a record written whole,
/// as JSON, before manifests had a table of their own.
fn manifest_at(stored: &[u8]) -> Option<u64> {
    match stored.split_first_chunk::<8>() {
        Some((at, _)) if stored[0] != b'{' => Some(u64::from_be_bytes(*at)),
        _ => None,
    }
}

/// A listing as [`store_listing`] stored it, its manifest read back.
fn load_listing(
    manifests: &impl ReadableTable<u64, &'static [u8]>,
    stored: &[u8],
) -> Result<ListingRecord, redb::Error> {
    let Some(at) = manifest_at(stored) else {
        return decode(stored);
    };
    let mut listing: ListingRecord = decode(&stored[8..])?;
    let manifest = manifests.get(at)?.ok_or_else(|| {
        redb::Error::Corrupted(format!(
            "the manifest of listing {}/{} (number {at}) is missing",
            listing.did, listing.app_id
        ))
    })?;
    listing.manifest = decode(manifest.value())?;
    Ok(listing)
}

/// A head as the heads table holds it, its id copied out.
fn owned_head((at, id): (u64, &str)) -> (u64, String) {
    (at, id.to_owned())
}

/// Removes the manifest of a listing taken out of its table.
fn forget_manifest(
    manifests: &mut Table<'_, u64, &'static [u8]>,
    stored: &[u8],
) -> Result<(), redb::Error> {
    if let Some(at) = manifest_at(stored) {
        manifests.remove(at)?;
    }
    Ok(())
}

impl Tables<'_> {
    /// The newest event held for (author, `d`): (created_at, id).
    pub fn head(&self, author: &str, d: &str) -> Result<Option<(u64, String)>, redb::Error> {
        Ok(self.heads.get((author, d))?.map(|v| owned_head(v.value())))
    }

    /// Records the newest event for (author, `d`) and returns the one it
    /// replaces: one walk down the table where a read and then a write took
    /// two. [`Self::restore_head`] puts the old one back.
    pub fn replace_head(
        &mut self,
        author: &str,
        d: &str,
        at: u64,
        id: &str,
    ) -> Result<Option<(u64, String)>, redb::Error> {
        Ok(self
            .heads
            .insert((author, d), (at, id))?
            .map(|v| owned_head(v.value())))
    }

    /// Puts back the head [`Self::replace_head`] replaced, or none.
    pub fn restore_head(
        &mut self,
        author: &str,
        d: &str,
        previous: Option<(u64, String)>,
    ) -> Result<(), redb::Error> {
        match previous {
            Some((at, id)) => self.replace_head(author, d, at, &id).map(drop),
            None => self.remove_head(author, d),
        }
    }

    /// The `d` and created_at of the author's held events among `ids`,
    /// looking at no more than `limit` of the author's addresses.
    pub fn heads_with_ids(
        &self,
        author: &str,
        ids: &HashSet<&str>,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, redb::Error> {
        let mut found = Vec::new();
        for entry in self.heads.range((author, "")..)?.take(limit) {
            let (key, value) = entry?;
            let ((owner, d), (at, id)) = (key.value(), value.value());
            if owner != author {
                break;
            }
            if ids.contains(id) {
                found.push((d.to_owned(), at));
            }
        }
        Ok(found)
    }

    /// Forgets the head of (author, `d`).
    pub fn remove_head(&mut self, author: &str, d: &str) -> Result<(), redb::Error> {
        self.heads.remove((author, d))?;
        Ok(())
    }

    /// A believed listing.
    pub fn listing(&self, did: &str, app: &str) -> Result<Option<ListingRecord>, redb::Error> {
        self.listings
            .get((did, app))?
            .map(|v| load_listing(&self.manifests, v.value()))
            .transpose()
    }

    /// Stores a believed listing. (It is lent, not taken: its manifest is
    /// set aside while the rest of it is written.)
    pub fn put_listing(&mut self, listing: &mut ListingRecord) -> Result<(), redb::Error> {
        store_listing(
            &mut self.listings,
            &mut self.manifests,
            &mut self.next_manifest,
            listing,
        )
    }

    /// Removes a listing; true if there was one.
    pub fn remove_listing(&mut self, did: &str, app: &str) -> Result<bool, redb::Error> {
        remove_listing_from(&mut self.listings, &mut self.manifests, did, app)
    }

    /// Stores a listing until its publisher's root is pinned.
    pub fn put_pending(&mut self, listing: &mut ListingRecord) -> Result<(), redb::Error> {
        store_listing(
            &mut self.pending,
            &mut self.manifests,
            &mut self.next_manifest,
            listing,
        )
    }

    /// Removes a waiting listing; true if there was one.
    pub fn remove_pending(&mut self, did: &str, app: &str) -> Result<bool, redb::Error> {
        remove_listing_from(&mut self.pending, &mut self.manifests, did, app)
    }

    /// How many listings of `did` are waiting.
    pub fn pending_count(&self, did: &str) -> Result<usize, redb::Error> {
        Ok(self.pending.range((did, "")..(did, "\u{10ffff}"))?.count())
    }

    /// Takes every waiting listing of `did` out of the waiting table.
    pub fn take_pending(&mut self, did: &str) -> Result<Vec<ListingRecord>, redb::Error> {
        let mut taken = Vec::new();
        for entry in self
            .pending
            .extract_from_if((did, "")..(did, "\u{10ffff}"), |_, _| true)?
        {
            let (_, value) = entry?;
            taken.push(load_listing(&self.manifests, value.value())?);
            forget_manifest(&mut self.manifests, value.value())?;
        }
        Ok(taken)
    }

    /// Stores a publisher.
    pub fn put_publisher(&mut self, publisher: &PublisherRecord) -> Result<(), redb::Error> {
        let bytes = encode(publisher)?;
        self.publishers
            .insert(publisher.did.as_str(), bytes.as_slice())?;
        Ok(())
    }

    /// The root pinned for `did`.
    pub fn root(&self, did: &str) -> Result<Option<PinnedRoot>, redb::Error> {
        self.roots.get(did)?.map(|v| decode(v.value())).transpose()
    }

    /// Whether a root is pinned for `did`.
    pub fn has_root(&self, did: &str) -> Result<bool, redb::Error> {
        Ok(self.roots.get(did)?.is_some())
    }

    /// Pins (or moves) `did`'s root.
    pub fn put_root(&mut self, did: &str, root: &PinnedRoot) -> Result<(), redb::Error> {
        let bytes = encode(root)?;
        self.roots.insert(did, bytes.as_slice())?;
        Ok(())
    }

    /// Records a refused root.
    pub fn put_conflict(&mut self, did: &str, conflict: &RootConflict) -> Result<(), redb::Error> {
        let bytes = encode(conflict)?;
        self.conflicts.insert(did, bytes.as_slice())?;
        Ok(())
    }

    /// When (author, `d`) was last deleted.
    pub fn deleted_at(&self, author: &str, d: &str) -> Result<Option<u64>, redb::Error> {
        Ok(self.deletions.get((author, d))?.map(|v| v.value()))
    }

    /// Records a deletion of (author, `d`) at `at`.
    pub fn put_deletion(&mut self, author: &str, d: &str, at: u64) -> Result<(), redb::Error> {
        self.deletions.insert((author, d), at)?;
        Ok(())
    }

    /// Records that Nostr key `author` speaks for `did`.
    pub fn set_author(&mut self, author: &str, did: &str) -> Result<(), redb::Error> {
        self.authors.insert(author, did)?;
        Ok(())
    }

    /// The DID Nostr key `author` speaks for, if seen.
    pub fn author(&self, author: &str) -> Result<Option<String>, redb::Error> {
        Ok(self.authors.get(author)?.map(|v| v.value().to_owned()))
    }

    /// Moves `relay`'s cursor to `at`.
    pub fn set_cursor(&mut self, relay: &str, at: u64) -> Result<(), redb::Error> {
        self.cursors.insert(relay, at)?;
        Ok(())
    }

    /// Adds `by` to counter `name`.
    pub fn count(&mut self, name: &str, by: u64) -> Result<(), redb::Error> {
        let now = self.counters.get(name)?.map_or(0, |v| v.value());
        self.counters.insert(name, now + by)?;
        Ok(())
    }
}

impl Store {
    /// Opens (or creates) the index at `path`. One process at a time.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let error = |reason: String| StoreError {
            path: path.display().to_string(),
            reason,
        };
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| {
                error(if matches!(e, redb::DatabaseError::DatabaseAlreadyOpen) {
                    "it is in use by another archy process (a running node?)".to_owned()
                } else {
                    e.to_string()
                })
            })?;
        let db = Arc::new(db);
        let durable = Arc::new(Durable::new());
        let syncer =
            Syncer::start(db.clone(), durable.clone()).map_err(|e| error(e.to_string()))?;
        let store = Self {
            syncer,
            db,
            path: path.to_owned(),
            durable,
        };
        store.write(|_| Ok(()))?;
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Runs `f` with every table in one transaction, committed to disk if
    /// `f` succeeds.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Tables<'_>) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let made = self.durable.made();
        let value = self.commit(f, true)?;
        self.durable.reached_disk(made);
        Ok(value)
    }

    /// [`Self::write`] for a batch that may wait in memory. Readers see it
    /// at once; a background thread writes it to disk, together with every
    /// commit before it, right away if `must_last` says so for what `f`
    /// returned, and otherwise once [`DURABLE_EVERY`] has passed since the
    /// last commit that reached the disk, with or without more commits
    /// ([`Self::sync`] and closing the store write it at once).
    pub fn write_soon<T>(
        &self,
        f: impl FnOnce(&mut Tables<'_>) -> Result<T, redb::Error>,
        must_last: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        let value = self.commit(f, false)?;
        self.durable.committed_in_memory();
        if must_last(&value) || self.durable.since_last() >= DURABLE_EVERY {
            self.syncer.request();
        }
        Ok(value)
    }

    /// Whether a commit waits in memory for the disk.
    pub fn is_buffered(&self) -> bool {
        self.durable.is_pending()
    }

    /// Writes to disk what commits wait in memory.
    pub fn sync(&self) -> Result<(), StoreError> {
        if self.is_buffered() {
            self.write(|_| Ok(()))?;
        }
        Ok(())
    }

    fn commit<T>(
        &self,
        f: impl FnOnce(&mut Tables<'_>) -> Result<T, redb::Error>,
        durable: bool,
    ) -> Result<T, StoreError> {
        let mut tx = self.db.begin_write().map_err(|e| self.error(e))?;
        let value = {
            let manifests = tx.open_table(MANIFESTS).map_err(|e| self.error(e))?;
            let next_manifest = manifests
                .last()
                .map_err(|e| self.error(e))?
                .map_or(0, |(at, _)| at.value() + 1);
            let mut tables = Tables {
                heads: tx.open_table(HEADS).map_err(|e| self.error(e))?,
                listings: tx.open_table(LISTINGS).map_err(|e| self.error(e))?,
                pending: tx.open_table(PENDING).map_err(|e| self.error(e))?,
                manifests,
                next_manifest,
                publishers: tx.open_table(PUBLISHERS).map_err(|e| self.error(e))?,
                roots: tx.open_table(ROOTS).map_err(|e| self.error(e))?,
                conflicts: tx.open_table(CONFLICTS).map_err(|e| self.error(e))?,
                deletions: tx.open_table(DELETIONS).map_err(|e| self.error(e))?,
                authors: tx.open_table(AUTHORS).map_err(|e| self.error(e))?,
                cursors: tx.open_table(CURSORS).map_err(|e| self.error(e))?,
                counters: tx.open_table(COUNTERS).map_err(|e| self.error(e))?,
                social: SocialTables::open(&tx).map_err(|e| self.error(e))?,
            };
            f(&mut tables).map_err(|e| self.error(e))?
        };
        if !durable {
            tx.set_durability(Durability::None)
                .map_err(|e| self.error(e))?;
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(value)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.error(e))?;
        f(&tx).map_err(|e| self.error(e))
    }

    /// Every believed listing, in (DID, app) order.
    pub fn listings(&self) -> Result<Vec<ListingRecord>, StoreError> {
        let mut all = Vec::new();
        self.each_listing(|listing| all.push(listing))?;
        Ok(all)
    }

    /// Calls `f` with every believed listing, without holding them all.
    pub fn each_listing(&self, mut f: impl FnMut(ListingRecord)) -> Result<(), StoreError> {
        self.read(|tx| {
            let (table, manifests) = (tx.open_table(LISTINGS)?, tx.open_table(MANIFESTS)?);
            for entry in table.iter()? {
                f(load_listing(&manifests, entry?.1.value())?);
            }
            Ok(())
        })
    }

    /// One believed listing.
    pub fn listing(&self, did: &str, app: &str) -> Result<Option<ListingRecord>, StoreError> {
        self.read(|tx| {
            let (table, manifests) = (tx.open_table(LISTINGS)?, tx.open_table(MANIFESTS)?);
            table
                .get((did, app))?
                .map(|v| load_listing(&manifests, v.value()))
                .transpose()
        })
    }

    /// One publisher.
    pub fn publisher(&self, did: &str) -> Result<Option<PublisherRecord>, StoreError> {
        self.read(|tx| {
            let table = tx.open_table(PUBLISHERS)?;
            table.get(did)?.map(|v| decode(v.value())).transpose()
        })
    }

    /// The root pinned for `did`.
    pub fn root(&self, did: &str) -> Result<Option<PinnedRoot>, StoreError> {
        self.read(|tx| {
            let table = tx.open_table(ROOTS)?;
            table.get(did)?.map(|v| decode(v.value())).transpose()
        })
    }

    /// Every entry of a table keyed by text, each value read by `value`.
    fn all<V: redb::Value + 'static, T>(
        &self,
        table: TableDefinition<&str, V>,
        value: impl Fn(V::SelfType<'_>) -> Result<T, redb::Error>,
    ) -> Result<Vec<(String, T)>, StoreError> {
        self.read(|tx| {
            let table = tx.open_table(table)?;
            table
                .iter()?
                .map(|e| {
                    let (k, v) = e?;
                    Ok((k.value().to_owned(), value(v.value())?))
                })
                .collect()
        })
    }

    /// Every publisher whose binding was seen, by DID.
    pub fn publishers(&self) -> Result<Vec<PublisherRecord>, StoreError> {
        Ok(self
            .all(PUBLISHERS, decode)?
            .into_iter()
            .map(|(_, p)| p)
            .collect())
    }

    /// Which DID each Nostr key speaks for, by key (hex).
    pub fn authors(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.all(AUTHORS, |did| Ok(did.to_owned()))
    }

    /// Every pinned root, by DID.
    pub fn roots(&self) -> Result<Vec<(String, PinnedRoot)>, StoreError> {
        self.all(ROOTS, decode)
    }

    /// Every refused root, by DID.
    pub fn conflicts(&self) -> Result<Vec<(String, RootConflict)>, StoreError> {
        self.all(CONFLICTS, decode)
    }

    /// `relay`'s cursor.
    pub fn cursor(&self, relay: &str) -> Result<Option<u64>, StoreError> {
        self.read(|tx| {
            let table = tx.open_table(CURSORS)?;
            Ok(table.get(relay)?.map(|v| v.value()))
        })
    }

    /// Every relay's cursor.
    pub fn cursors(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.all(CURSORS, Ok)
    }

    /// Every counter.
    pub fn counters(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.all(COUNTERS, Ok)
    }

    /// How many listings, publishers, pinned roots and waiting listings.
    pub fn sizes(&self) -> Result<Sizes, StoreError> {
        self.read(|tx| {
            Ok(Sizes {
                listings: tx.open_table(LISTINGS)?.len()?,
                publishers: tx.open_table(PUBLISHERS)?.len()?,
                roots: tx.open_table(ROOTS)?.len()?,
                pending: tx.open_table(PENDING)?.len()?,
            })
        })
    }
}

/// Table sizes, for `archy market stats`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Sizes {
    /// Listings believed.
    pub listings: u64,
    /// Publishers seen.
    pub publishers: u64,
    /// Roots pinned.
    pub roots: u64,
    /// Listings waiting for their publisher's root.
    pub pending: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_batch_kept_in_memory_is_read_at_once_and_written_by_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.redb");
        let store = Store::open(&path).unwrap();
        store
            .write_soon(|t| t.set_cursor("ws://a", 7), |_| false)
            .unwrap();
        assert_eq!(store.cursor("ws://a").unwrap(), Some(7));
        store.sync().unwrap();
        assert!(!store.is_buffered());
        store
            .write_soon(|t| t.set_cursor("ws://b", 9), |_| true)
            .unwrap();
        wait_until_on_disk(
            &store,
            "must_last sends the commit to disk in the background, unasked",
        );
        store
            .write_soon(|t| t.set_cursor("ws://c", 11), |_| false)
            .unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let cursors = store.cursors().unwrap();
        assert_eq!(
            cursors,
            [
                ("ws://a".into(), 7),
                ("ws://b".into(), 9),
                ("ws://c".into(), 11)
            ],
            "closing the store writes what waited in memory"
        );
    }

    #[test]
    fn a_batch_kept_in_memory_reaches_the_disk_unasked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.redb")).unwrap();
        store
            .write_soon(|t| t.set_cursor("ws://a", 7), |_| false)
            .unwrap();
        wait_until_on_disk(&store, "the background thread syncs once the commit is due");
    }

    fn listing(app: &str, manifest: &str) -> ListingRecord {
        ListingRecord {
            did: "did:key:z6Mkexample".into(),
            app_id: app.into(),
            title: "Notes".into(),
            summary: "Plain-text notes".into(),
            categories: vec!["tools".into()],
            icon: None,
            version: "1.0.0".into(),
            release: "ab".repeat(32),
            size: 10,
            providers: vec![],
            manifest: RawValue::from_string(manifest.into()).unwrap(),
            event_id: "cd".repeat(32),
            nostr_pubkey: "ef".repeat(32),
            created_at: 7,
            relay: "ws://a".into(),
        }
    }

    fn manifests_held(store: &Store) -> u64 {
        store
            .read(|tx| Ok(tx.open_table(MANIFESTS)?.len()?))
            .unwrap()
    }

    #[test]
    fn manifests_are_kept_apart_and_follow_their_listings() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.redb")).unwrap();
        let first = r#"{"signed":{"n":1},"signatures":[]}"#;
        let second = r#"{"signed":{"n":2},"signatures":[]}"#;
        store
            .write(|t| {
                t.put_pending(&mut listing("a", first))?;
                t.put_listing(&mut listing("b", first))?;
                t.put_listing(&mut listing("b", second))
            })
            .unwrap();
        assert_eq!(manifests_held(&store), 2, "the replaced manifest is gone");
        let b = store.listing("did:key:z6Mkexample", "b").unwrap().unwrap();
        assert_eq!(b.manifest.get(), second);
        assert_eq!(store.listings().unwrap().len(), 1);
        let taken = store
            .write(|t| t.take_pending("did:key:z6Mkexample"))
            .unwrap();
        assert_eq!(
            taken[0].manifest.get(),
            first,
            "a waiting listing keeps its own"
        );
        assert_eq!(manifests_held(&store), 1);
        store
            .write(|t| t.remove_listing("did:key:z6Mkexample", "b"))
            .unwrap();
        assert_eq!(manifests_held(&store), 0);
    }

    #[test]
    fn a_listing_written_whole_before_manifests_moved_out_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.redb")).unwrap();
        let old = listing("a", r#"{"signed":{},"signatures":[]}"#);
        store
            .write(|t| {
                let bytes = encode(&old)?;
                t.listings
                    .insert((old.did.as_str(), "a"), bytes.as_slice())?;
                Ok(())
            })
            .unwrap();
        let read = store.listing(&old.did, "a").unwrap().unwrap();
        let parsed = |raw: &RawValue| serde_json::from_str::<serde_json::Value>(raw.get()).unwrap();
        assert_eq!(parsed(&read.manifest), parsed(&old.manifest));
        store.write(|t| t.put_listing(&mut old.clone())).unwrap();
        assert_eq!(manifests_held(&store), 1);
    }

    /// Waits, up to half a minute, for every commit to be on disk.
    fn wait_until_on_disk(store: &Store, why: &str) {
        let since = Instant::now();
        while store.is_buffered() {
            assert!(since.elapsed() < Duration::from_secs(30), "{why}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
