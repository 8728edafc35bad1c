//! From raw events to the index: every event a relay hands over goes
//! through [`Ingestor::ingest`], in batches that share one redb commit.
//!
//! For each event, cheapest first: parse; drop copies already seen (from
//! this relay or another); the checks that need no signature; drop events
//! older than what is held for the same address, or deleted; then the full
//! verification ([`crate::verify`]); the publisher's flood limit; and
//! finally what the event does: a publisher profile, a catalog (root
//! pinning, [`crate::tofu`]), or a listing. A listing is believed only once
//! its publisher's root is pinned; until then it waits. A batch's catalogs
//! are taken before its other events. Every outcome is
//! counted by name, so `archy market stats` can say why events were
//! refused.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use archy_sigbatch::bip340::{Claim, XOnlyKey};
use archy_trust::Did;

use crate::note::Note;
use crate::protocol::{D_APP_PREFIX, KIND, ListingContent, MAX_FUTURE_SECS};
use crate::search::{Fields, SearchIndex};
use crate::social::{self, SocialInput};
use crate::store::{
    ListKind, ListingRecord, PinnedRoot, PublisherRecord, ReportRecord, ReviewRecord, RootConflict,
    Store, StoreError, Tables,
};
use crate::tofu::{self, RootDecision};
use crate::verify::{self, Rejection, Verified, Verifier};
use crate::wire::{self, WireEvent};

/// NIP-09 deletion.
const DELETION: u16 = 5;
/// Event ids remembered for de-duplication (two generations of half each).
const MAX_SEEN: usize = 400_000;
/// Most of one author's addresses a deletion's `e` tags are looked up in.
const MAX_ADDRESSES_SCANNED: usize = 100_000;
/// (publisher, minute) windows remembered for the flood limit.
const MAX_FLOOD_WINDOWS: usize = 200_000;

/// Limits on what one publisher may put in the index.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// Most events one publisher may have created in one minute; more are
    /// refused as a flood.
    pub per_minute: u32,
    /// Most listings of one publisher that may wait for its root.
    pub pending_per_publisher: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            per_minute: 120,
            pending_per_publisher: 1000,
        }
    }
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A listing, now searchable.
    Indexed,
    /// A listing kept until its publisher's root is pinned.
    Waiting,
    /// A publisher's profile.
    Publisher,
    /// A publisher's first root, pinned.
    RootPinned,
    /// The pinned root again (its timestamp recorded).
    RootSame,
    /// The pinned root, rotated.
    RootRotated,
    /// A different root for a DID that has one pinned: refused.
    RootConflict,
    /// A review of an app.
    Review,
    /// An author's follow list.
    FollowList,
    /// An author's mute list.
    MuteList,
    /// A report.
    Report,
    /// A NIP-09 deletion; how many listings it took down.
    Deletion(usize),
    /// A copy of an event already seen.
    Duplicate,
    /// Older than what is held for the same address.
    Superseded,
    /// Deleted by its author before it arrived.
    Deleted,
    /// Not believed.
    Rejected(&'static str),
}

impl Outcome {
    /// Whether the event now stands for its address: the newest held there.
    fn stands(&self) -> bool {
        matches!(
            self,
            Self::Indexed
                | Self::Waiting
                | Self::Publisher
                | Self::RootPinned
                | Self::RootSame
                | Self::RootRotated
                | Self::Review
                | Self::FollowList
                | Self::MuteList
        )
    }

    /// Whether the event was refused for a bad signature, which counts
    /// against the relay that sent it ([`crate::relay_gate`]).
    pub fn is_bad_signature(&self) -> bool {
        *self == Self::Rejected(Rejection::BadSignature.reason())
    }

    /// The counter it adds to.
    pub fn counter(&self) -> String {
        match self {
            Self::Indexed => "indexed".into(),
            Self::Waiting => "waiting for root".into(),
            Self::Publisher => "publisher".into(),
            Self::RootPinned => "root pinned".into(),
            Self::RootSame => "root unchanged".into(),
            Self::RootRotated => "root rotated".into(),
            Self::RootConflict => "root conflict".into(),
            Self::Review => "review".into(),
            Self::FollowList => "follow list".into(),
            Self::MuteList => "mute list".into(),
            Self::Report => "report".into(),
            Self::Deletion(_) => "deletion".into(),
            Self::Duplicate => "duplicate".into(),
            Self::Superseded => "superseded".into(),
            Self::Deleted => "deleted".into(),
            Self::Rejected(reason) => format!("rejected: {reason}"),
        }
    }
}

/// What the search index must learn once a batch is committed.
enum Change {
    Upsert(Box<ListingRecord>),
    Remove(String, String),
}

/// Event ids seen lately, in two generations so the set stays bounded.
#[derive(Default)]
struct Seen {
    current: foldhash::HashSet<[u8; 32]>,
    previous: foldhash::HashSet<[u8; 32]>,
}

impl Seen {
    fn contains(&self, id: &[u8; 32]) -> bool {
        self.previous.contains(id) || self.current.contains(id)
    }

    fn insert(&mut self, id: [u8; 32]) {
        if self.current.len() >= MAX_SEEN / 2 {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(id);
    }

    fn forget(&mut self, id: &[u8; 32]) {
        self.current.remove(id);
        self.previous.remove(id);
    }
}

/// Counts each publisher's events per minute of `created_at`, by the
/// author's Nostr key.
#[derive(Default)]
struct FloodGate {
    windows: foldhash::HashMap<([u8; 32], u64), u32>,
}

impl FloodGate {
    fn admit(&mut self, author: [u8; 32], created_at: u64, per_minute: u32) -> bool {
        if self.windows.len() >= MAX_FLOOD_WINDOWS {
            self.windows.clear();
        }
        let count = self.windows.entry((author, created_at / 60)).or_default();
        if *count >= per_minute {
            return false;
        }
        *count += 1;
        true
    }
}

/// One raw event and the relay it came from.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The relay's URL.
    pub relay: &'a str,
    /// The event's JSON as the relay sent it.
    pub raw: &'a str,
}

/// The index and everything needed to grow it.
pub struct Ingestor {
    store: Store,
    index: SearchIndex,
    verifier: Verifier,
    seen: Seen,
    flood: FloodGate,
    limits: IngestLimits,
}

impl Ingestor {
    /// Opens the index at `path` and loads its listings into the search
    /// index.
    pub fn open(path: &Path, limits: IngestLimits) -> Result<Self, StoreError> {
        let store = Store::open(path)?;
        let mut index = SearchIndex::new();
        store.each_listing(|l| index.upsert(fields(&l)))?;
        Ok(Self {
            store,
            index,
            verifier: Verifier::default(),
            seen: Seen::default(),
            flood: FloodGate::default(),
            limits,
        })
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The search index.
    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// Pins `root` (a `root.json` this node already trusts for `did`, from
    /// its own verified fetch chain) when no root is pinned for `did` yet,
    /// and moves the publisher's waiting listings into the index: discovery
    /// then starts from the same root as the node's fetches, and a
    /// different root on relays is refused as a conflict. Returns whether
    /// it pinned (false when a root was already pinned). `version` is the
    /// root's version.
    pub fn adopt_root(
        &mut self,
        did: &str,
        version: u64,
        root: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        use sha2::Digest;
        let pinned = PinnedRoot {
            version,
            sha256: hex::encode(sha2::Sha256::digest(root.as_bytes())),
            root: root.to_owned(),
            pinned_at: now,
            timestamp_version: None,
        };
        let mut promoted = Vec::new();
        let adopted = self.store.write_soon(
            |tables| {
                if tables.root(did)?.is_some() {
                    return Ok(false);
                }
                tables.put_root(did, &pinned)?;
                for mut record in tables.take_pending(did)? {
                    tables.put_listing(&mut record)?;
                    promoted.push(record);
                }
                Ok(true)
            },
            |adopted| *adopted,
        )?;
        for record in promoted {
            self.index.upsert(fields(&record));
        }
        Ok(adopted)
    }

    /// Ingests a batch at `now` (Unix seconds), in one commit; returns what
    /// became of each event.
    pub fn ingest(&mut self, batch: &[Incoming<'_>], now: u64) -> Result<Vec<Outcome>, StoreError> {
        let Self {
            store,
            index,
            verifier,
            seen,
            flood,
            limits,
        } = self;
        let prepared = prepare_all(batch, seen, verifier, now);
        let mut changes = Vec::new();
        let mut fresh = Vec::new();
        let result = store.write_soon(
            |tables| {
                let mut run = Run {
                    tables,
                    seen,
                    flood,
                    limits: *limits,
                    changes: &mut changes,
                    fresh: &mut fresh,
                    now,
                    rooted: None,
                    spoke_for: None,
                };
                // The batch's catalogs go first: relays send newest first, so a
                // publisher's listings arrive just before the (older) catalog
                // event that pins its root. Taken first, it lets them be indexed
                // at once instead of waiting for a root and being moved.
                let mut order: Vec<(usize, Prepared)> = prepared.into_iter().enumerate().collect();
                order.sort_by_key(|(_, prepared)| !prepared.is_catalog());
                let mut outcomes = Vec::with_capacity(order.len());
                for (i, prepared) in order {
                    outcomes.push((i, run.one(batch[i].relay, prepared)?));
                }
                outcomes.sort_by_key(|(i, _)| *i);
                let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, o)| o).collect();
                let mut counts: HashMap<String, u64> = HashMap::new();
                for outcome in &outcomes {
                    *counts.entry(outcome.counter()).or_default() += 1;
                }
                *counts.entry("events".into()).or_default() += outcomes.len() as u64;
                for (name, by) in counts {
                    run.tables.count(&name, by)?;
                }
                Ok(outcomes)
            },
            // A pinned root is sent to disk at once (in the background,
            // while the next batch is verified): trust on first use must
            // not forget what it first trusted.
            |outcomes| {
                outcomes.iter().any(|o| {
                    matches!(
                        o,
                        Outcome::RootPinned | Outcome::RootRotated | Outcome::RootConflict
                    )
                })
            },
        );
        match result {
            Ok(outcomes) => {
                for change in changes {
                    match change {
                        Change::Upsert(listing) => index.upsert(fields(&listing)),
                        Change::Remove(did, app) => {
                            index.remove(&did, &app);
                        }
                    }
                }
                Ok(outcomes)
            }
            Err(e) => {
                // Nothing was committed: let the same events be offered again.
                for id in &fresh {
                    seen.forget(id);
                }
                Err(e)
            }
        }
    }

    /// Records that everything `relay` holds up to `at` has been ingested.
    /// It reaches the disk with the events before it, never ahead of them.
    pub fn set_cursor(&mut self, relay: &str, at: u64) -> Result<(), StoreError> {
        self.store
            .write_soon(|t| t.set_cursor(relay, at), |_| false)
    }

    /// Writes to disk the batches that wait in memory.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.store.sync()
    }

    /// Adds to a relay-level counter (garbage, drops).
    pub fn count(&mut self, name: &str, by: u64) -> Result<(), StoreError> {
        self.store.write_soon(|t| t.count(name, by), |_| false)
    }
}

fn fields(listing: &ListingRecord) -> Fields<'_> {
    Fields {
        did: &listing.did,
        app_id: &listing.app_id,
        title: &listing.title,
        summary: &listing.summary,
        categories: &listing.categories,
    }
}

/// An event parsed and, if it is an archy event not seen before,
/// verified: the part of ingesting that needs no index, done in parallel.
struct Prepared<'a> {
    read: Result<WireEvent<'a>, &'static str>,
    checked: Option<Result<Verified, Rejection>>,
}

impl Prepared<'_> {
    fn is_catalog(&self) -> bool {
        matches!(self.checked, Some(Ok(Verified::Catalog { .. })))
    }
}

/// Batches smaller than this are verified on the calling thread.
const PARALLEL_FROM: usize = 64;
/// Most verifying threads.
const MAX_THREADS: usize = 8;

/// Parses and verifies a run of events: each is checked on its own, then
/// the events' and the listings' manifest signatures all together
/// ([`verify::settle`]).
fn prepare<'a>(
    batch: &[Incoming<'a>],
    seen: &Seen,
    verifier: &Verifier,
    now: u64,
) -> Vec<Prepared<'a>> {
    let mut events = Vec::with_capacity(batch.len());
    let mut checks = Vec::new();
    for incoming in batch {
        let read = wire::read(incoming.raw).map_err(|r| r.reason());
        let check = read.as_ref().ok().and_then(|WireEvent { note, id_holds }| {
            (note.kind == KIND && !seen.contains(&note.id))
                .then(|| verifier.check(note, *id_holds, now))
        });
        events.push((read, check.is_some()));
        checks.extend(check);
    }
    let mut settled = verify::settle(checks).into_iter();
    events
        .into_iter()
        .map(|(read, checked)| Prepared {
            read,
            checked: if checked { settled.next() } else { None },
        })
        .collect()
}

/// Parses and verifies a batch on every core (signature checks are most of
/// the cost of ingesting), keeping the batch's order.
fn prepare_all<'a>(
    batch: &[Incoming<'a>],
    seen: &Seen,
    verifier: &Verifier,
    now: u64,
) -> Vec<Prepared<'a>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS);
    if batch.len() < PARALLEL_FROM || threads == 1 {
        return prepare(batch, seen, verifier, now);
    }
    let chunk = batch.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = batch
            .chunks(chunk)
            .map(|part| scope.spawn(move || prepare(part, seen, verifier, now)))
            .collect();
        handles
            .into_iter()
            .zip(batch.chunks(chunk))
            .flat_map(|(handle, part)| {
                handle.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|_| Prepared {
                            read: Err("verifier crashed"),
                            checked: None,
                        })
                        .collect()
                })
            })
            .collect()
    })
}

/// Where an event stands: its author's key and `d` (its address), its
/// time and its id, as the heads table holds them.
struct Address<'a> {
    author: String,
    d: &'a str,
    created: u64,
    id: String,
}

/// One batch in progress.
struct Run<'a, 'tx> {
    tables: &'a mut Tables<'tx>,
    seen: &'a mut Seen,
    flood: &'a mut FloodGate,
    limits: IngestLimits,
    changes: &'a mut Vec<Change>,
    fresh: &'a mut Vec<[u8; 32]>,
    now: u64,
    /// The last DID found to have a pinned root.
    rooted: Option<String>,
    /// The last (Nostr key, DID) recorded as speaking for it.
    spoke_for: Option<(String, String)>,
}

impl Run<'_, '_> {
    fn one(&mut self, relay: &str, prepared: Prepared) -> Result<Outcome, redb::Error> {
        let Prepared { read, checked } = prepared;
        let WireEvent { note, id_holds } = match read {
            Ok(read) => read,
            Err(reason) => return Ok(Outcome::Rejected(reason)),
        };
        let id = note.id;
        if self.seen.contains(&id) {
            return Ok(Outcome::Duplicate);
        }
        let outcome = match (note.kind, checked) {
            (KIND, Some(checked)) => self.archy(&note, checked, relay)?,
            (KIND, None) => Outcome::Duplicate,
            (DELETION, _) => self.deletion(&note, id_holds)?,
            (kind, _) if social::is_social(kind) => self.social(&note, id_holds)?,
            (other, _) => Outcome::Rejected(Rejection::WrongKind(other).reason()),
        };
        // Only an event that passed its checks stands for its id: a copy
        // with a broken signature must not shut out the real one.
        if !matches!(outcome, Outcome::Rejected(_)) {
            self.seen.insert(id);
            self.fresh.push(id);
        }
        Ok(outcome)
    }

    fn archy(
        &mut self,
        note: &Note<'_>,
        checked: Result<Verified, Rejection>,
        relay: &str,
    ) -> Result<Outcome, redb::Error> {
        let verified = match checked {
            Ok(verified) => verified,
            Err(r) => return Ok(Outcome::Rejected(r.reason())),
        };
        let address = Address {
            author: hex::encode(note.author),
            d: note.tags.first("d").unwrap_or_default(),
            created: note.created_at,
            id: hex::encode(note.id),
        };
        let Address {
            author,
            d,
            created,
            id,
        } = &address;
        // The head is written at once, which reads the one it replaces, and
        // put back below unless the event stands.
        let previous = self.tables.replace_head(author, d, *created, id)?;
        let outcome = match &previous {
            // NIP-01: the newer event wins; at the same second, the lower id.
            Some((at, held)) if created < at || (created == at && id >= held) => {
                Outcome::Superseded
            }
            _ => self.decide(note, verified, relay, &address)?,
        };
        if !outcome.stands() {
            self.tables.restore_head(author, d, previous)?;
        }
        Ok(outcome)
    }

    /// What a verified archy event that is the newest for its address does.
    fn decide(
        &mut self,
        note: &Note<'_>,
        verified: Verified,
        relay: &str,
        address: &Address<'_>,
    ) -> Result<Outcome, redb::Error> {
        let Address {
            author,
            d,
            created,
            id,
        } = address;
        let created = *created;
        if self
            .tables
            .deleted_at(author, d)?
            .is_some_and(|at| at >= created)
        {
            return Ok(Outcome::Deleted);
        }
        if !self
            .flood
            .admit(note.author, created, self.limits.per_minute)
        {
            return Ok(Outcome::Rejected("flood"));
        }
        // The DID the author speaks for; a reviewer speaks for none.
        let did = match &verified {
            Verified::Publisher { binding } => Some(binding.did.to_string()),
            Verified::Catalog { did, .. } | Verified::Listing { did, .. } => Some(did.to_string()),
            Verified::Review { .. } => None,
        };
        let outcome = match verified {
            Verified::Publisher { binding } => {
                self.tables.put_publisher(&PublisherRecord {
                    did: binding.did.to_string(),
                    nostr_pubkey: author.clone(),
                    name: binding.name,
                    about: binding.about,
                    binding_expires: binding.expires,
                    created_at: created,
                })?;
                Outcome::Publisher
            }
            Verified::Catalog { did, content } => {
                let pinned = self.tables.root(did.as_str())?;
                match tofu::decide(&did, &content, pinned.as_ref(), self.now) {
                    RootDecision::Pin(root) => {
                        self.tables.put_root(did.as_str(), &root)?;
                        self.promote(&did)?;
                        Outcome::RootPinned
                    }
                    RootDecision::Same(root) => {
                        self.tables.put_root(did.as_str(), &root)?;
                        Outcome::RootSame
                    }
                    RootDecision::Rotate(root) => {
                        self.tables.put_root(did.as_str(), &root)?;
                        Outcome::RootRotated
                    }
                    RootDecision::Conflict {
                        reason,
                        version,
                        sha256,
                    } => {
                        let pinned = pinned.map(|p| (p.version, p.sha256)).unwrap_or_default();
                        tracing::warn!(
                            "REFUSED a different TUF root for {did} from {relay}: {reason} \
                             (pinned v{} {}, offered v{version} {sha256})",
                            pinned.0,
                            pinned.1
                        );
                        self.tables.put_conflict(
                            did.as_str(),
                            &RootConflict {
                                pinned,
                                offered: (version, sha256),
                                reason,
                                event_id: id.clone(),
                                relay: relay.to_owned(),
                                seen_at: self.now,
                            },
                        )?;
                        return Ok(Outcome::RootConflict);
                    }
                    RootDecision::Invalid(reason) => {
                        tracing::debug!("catalog event {id} for {did}: {reason}");
                        return Ok(Outcome::Rejected("invalid root"));
                    }
                }
            }
            Verified::Review {
                did,
                app_id,
                content,
            } => {
                let review = ReviewRecord {
                    did: did.to_string(),
                    app_id,
                    author: author.clone(),
                    rating: content.rating,
                    text: content.text,
                    created_at: created,
                    event_id: id.clone(),
                };
                self.tables.social.put_review(&note.author, &review)?;
                Outcome::Review
            }
            Verified::Listing { did, content, .. } => {
                let mut record = listing_record(did.as_str(), content, id, author, created, relay);
                // A publisher's waiting listings move into the index when its
                // root is pinned (`promote`), so none waits once it has one.
                if self.has_root(did.as_str())? {
                    self.tables.put_listing(&mut record)?;
                    self.changes.push(Change::Upsert(Box::new(record)));
                    Outcome::Indexed
                } else if self.tables.pending_count(did.as_str())?
                    < self.limits.pending_per_publisher
                {
                    self.tables.put_pending(&mut record)?;
                    Outcome::Waiting
                } else {
                    return Ok(Outcome::Rejected("too many listings waiting for a root"));
                }
            }
        };
        if let Some(did) = did {
            self.speaks_for(author, did)?;
        }
        Ok(outcome)
    }

    /// Whether `did` has a pinned root. A run of one publisher's listings
    /// asks once: a root once pinned stays pinned.
    fn has_root(&mut self, did: &str) -> Result<bool, redb::Error> {
        if self.rooted.as_deref() == Some(did) {
            return Ok(true);
        }
        let rooted = self.tables.has_root(did)?;
        if rooted {
            self.rooted = Some(did.to_owned());
        }
        Ok(rooted)
    }

    /// Records that Nostr key `author` speaks for `did`, unless that is
    /// what the last event recorded.
    fn speaks_for(&mut self, author: &str, did: String) -> Result<(), redb::Error> {
        if self
            .spoke_for
            .as_ref()
            .is_some_and(|(known, of)| known == author && *of == did)
        {
            return Ok(());
        }
        if self.tables.author(author)?.as_deref() != Some(did.as_str()) {
            self.tables.set_author(author, &did)?;
        }
        self.spoke_for = Some((author.to_owned(), did));
        Ok(())
    }

    /// Moves `did`'s waiting listings into the index.
    fn promote(&mut self, did: &Did) -> Result<(), redb::Error> {
        for mut record in self.tables.take_pending(did.as_str())? {
            self.tables.put_listing(&mut record)?;
            self.changes.push(Change::Upsert(Box::new(record)));
        }
        Ok(())
    }

    /// A NIP-09 deletion: each `a` tag naming one of the author's own
    /// archy addresses takes down what is held there, if it is not newer
    /// than the deletion, and keeps older copies out from now on. Each `e`
    /// tag naming an event of the author's that is held does the same for
    /// its address, up to that event.
    fn deletion(&mut self, note: &Note<'_>, id_holds: bool) -> Result<Outcome, redb::Error> {
        if note.content.len() > crate::protocol::MAX_CONTENT_BYTES {
            return Ok(Outcome::Rejected("too large"));
        }
        if let Some(refused) = unsigned(note, id_holds) {
            return Ok(refused);
        }
        let author = hex::encode(note.author);
        let at = note.created_at;
        let prefix = format!("{KIND}:{author}:");
        let mut targets: Vec<(String, u64)> = note
            .tags
            .values("a")
            .filter_map(|value| value.strip_prefix(&prefix))
            .map(|d| (d.to_owned(), at))
            .collect();
        let ids: HashSet<&str> = note.tags.values("e").collect();
        if !ids.is_empty() {
            targets.extend(
                self.tables
                    .heads_with_ids(&author, &ids, MAX_ADDRESSES_SCANNED)?
                    .into_iter()
                    .filter(|(_, held_at)| *held_at <= at),
            );
        }
        let mut taken = 0;
        for (d, at) in &targets {
            let (d, at) = (d.as_str(), *at);
            if self
                .tables
                .deleted_at(&author, d)?
                .is_some_and(|held| held >= at)
            {
                continue;
            }
            self.tables.put_deletion(&author, d, at)?;
            let Some((head_at, _)) = self.tables.head(&author, d)? else {
                continue;
            };
            if head_at > at {
                continue;
            }
            self.tables.remove_head(&author, d)?;
            let (Some(app), Some(did)) =
                (d.strip_prefix(D_APP_PREFIX), self.tables.author(&author)?)
            else {
                continue;
            };
            self.tables.remove_pending(&did, app)?;
            if self.tables.remove_listing(&did, app)? {
                self.changes.push(Change::Remove(did, app.to_owned()));
                taken += 1;
            }
        }
        Ok(Outcome::Deletion(taken))
    }
}

impl Run<'_, '_> {
    /// A follow list, mute list or report ([`social`]): checked alone, as
    /// deletions are (they are few beside listings). A list replaces its
    /// author's older one, as NIP-01 says of replaceable events.
    fn social(&mut self, note: &Note<'_>, id_holds: bool) -> Result<Outcome, redb::Error> {
        if note.created_at > self.now + MAX_FUTURE_SECS {
            return Ok(Outcome::Rejected(
                Rejection::FromTheFuture(note.created_at - self.now).reason(),
            ));
        }
        if let Some(refused) = unsigned(note, id_holds) {
            return Ok(refused);
        }
        let input = match social::read(note) {
            Ok(input) => input,
            Err(refused) => return Ok(Outcome::Rejected(refused.reason())),
        };
        let (kind, list, outcome) = match input {
            SocialInput::Report(targets) => {
                let record = ReportRecord {
                    author: hex::encode(note.author),
                    event_id: hex::encode(note.id),
                    created_at: note.created_at,
                    targets,
                };
                let kept = self
                    .tables
                    .social
                    .put_report(&note.author, &note.id, &record)?;
                return Ok(if kept {
                    Outcome::Report
                } else {
                    Outcome::Rejected("too many reports from one key")
                });
            }
            SocialInput::Follows(list) => (ListKind::Follows, list, Outcome::FollowList),
            SocialInput::Mutes(list) => (ListKind::Mutes, list, Outcome::MuteList),
        };
        let author = hex::encode(note.author);
        let id = hex::encode(note.id);
        let d = match kind {
            ListKind::Follows => "nostr:follows",
            ListKind::Mutes => "nostr:mutes",
        };
        let created = note.created_at;
        let previous = self.tables.replace_head(&author, d, created, &id)?;
        if let Some((at, held)) = &previous
            && (created < *at || (created == *at && id >= *held))
        {
            self.tables.restore_head(&author, d, previous)?;
            return Ok(Outcome::Superseded);
        }
        self.tables
            .social
            .put_list(kind, &note.author, created, &list)?;
        Ok(outcome)
    }
}

/// Why an event checked alone is refused: its id or its signature does
/// not hold. `None` when both hold.
fn unsigned(note: &Note<'_>, id_holds: bool) -> Option<Outcome> {
    if !id_holds {
        return Some(Outcome::Rejected(Rejection::BadId.reason()));
    }
    let signed = XOnlyKey::from_bytes(&note.author).is_some_and(|key| {
        Claim {
            key: &key,
            message: &note.id,
            signature: &note.sig,
        }
        .holds_alone()
    });
    (!signed).then(|| Outcome::Rejected(Rejection::BadSignature.reason()))
}

fn listing_record(
    did: &str,
    content: ListingContent,
    id: &str,
    author: &str,
    created_at: u64,
    relay: &str,
) -> ListingRecord {
    ListingRecord {
        did: did.to_owned(),
        app_id: content.app_id,
        title: content.title,
        summary: content.summary,
        categories: content.categories,
        icon: content.icon,
        version: content.version,
        release: content.release,
        size: content.size,
        providers: content.providers,
        manifest: content.manifest,
        event_id: id.to_owned(),
        nostr_pubkey: author.to_owned(),
        created_at,
        relay: relay.to_owned(),
    }
}
