//! Questions about the index (`archy market list|search|show|stats`) and
//! their answers, as plain data: the node's API asks them and serves the
//! answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use archy_registry::catalog::release_targets::AppVersion;
use archy_trust::score::Band;

use crate::graph_sync::{GraphStatus, SharedGraphStatus};
use crate::ingest::Ingestor;
use crate::relay_client::{RelayStatus, Statuses};
use crate::search::{MAX_RESULTS, Rank};
use crate::store::{
    ListKind, ListingRecord, PinnedRoot, PublisherRecord, ReportRecord, ReviewRecord, RootConflict,
    Sizes, StoreError, StoredList,
};

/// A question.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case")]
pub enum Query {
    /// Every listing, by title (by the asker's ranking, then title, when
    /// it ranks).
    List {
        /// Only listings in this category, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// Listings skipped.
        offset: usize,
        /// Listings returned.
        limit: usize,
    },
    /// Listings matching `text`, best first.
    Search {
        /// The words.
        text: String,
        /// Only listings in this category, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// Listings skipped.
        offset: usize,
        /// Listings returned.
        limit: usize,
    },
    /// One listing in full.
    Show {
        /// Publisher DID.
        did: String,
        /// App id.
        app_id: String,
    },
    /// Counters and relay states.
    Stats,
}

/// A listing in a list of results.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListingSummary {
    /// Publisher DID.
    pub did: String,
    /// Publisher's display name, if its profile was seen.
    pub publisher: Option<String>,
    /// App id.
    pub app_id: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Newest version.
    pub version: String,
    /// Categories.
    pub categories: Vec<String>,
    /// Relevance (search only).
    pub score: Option<f32>,
    /// How far the node's owner trusts the app, as the node judges it
    /// (discovery leaves it empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustBrief>,
}

/// A trust verdict in brief, for lists of apps.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrustBrief {
    /// The band.
    #[schema(value_type = String)]
    pub band: Band,
    /// 0 to 100.
    pub score: u8,
    /// The most decisive reasons, as sentences.
    pub reasons: Vec<String>,
}

/// A page of results.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page {
    /// How many matched in all.
    pub total: usize,
    /// Skipped.
    pub offset: usize,
    /// This page.
    pub listings: Vec<ListingSummary>,
}

/// The root a publisher is pinned to, in short.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RootSummary {
    /// Root version.
    pub version: u64,
    /// SHA-256 of `root.json`.
    pub sha256: String,
    /// When it was pinned.
    pub pinned_at: u64,
    /// Newest `timestamp.json` version announced.
    pub timestamp_version: Option<u64>,
}

/// One listing in full.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListingDetail {
    /// The listing.
    pub listing: ListingRecord,
    /// Its publisher's profile.
    pub publisher: Option<PublisherRecord>,
    /// Its publisher's pinned root.
    pub root: Option<RootSummary>,
    /// How far the node's owner trusts the app, as the node judges it
    /// (discovery leaves it empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustBrief>,
    /// Every version its publisher's catalog lists, newest first, as far
    /// as the node has read that catalog (discovery leaves it empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<AppVersion>,
    /// Why nothing is installed from its publisher, if the node holds a
    /// proof that the publisher showed peers two catalogs (discovery
    /// leaves it empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
}

/// One relay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelayStats {
    /// URL.
    pub url: String,
    /// Cursor (Unix seconds).
    pub cursor: Option<u64>,
    /// Live state, if this process follows it.
    pub status: Option<RelayStatus>,
}

/// The trust score's inputs as discovery holds them.
#[derive(Debug, Clone, Default)]
pub struct SocialSnapshot {
    /// Every author's newest follow list.
    pub follows: Vec<StoredList>,
    /// Every author's newest mute list.
    pub mutes: Vec<StoredList>,
    /// Every report kept.
    pub reports: Vec<ReportRecord>,
    /// Every review kept.
    pub reviews: Vec<ReviewRecord>,
    /// Every publisher whose binding was seen.
    pub publishers: Vec<PublisherRecord>,
    /// Which DID each Nostr key (hex) speaks for.
    pub authors: BTreeMap<String, String>,
    /// DIDs for which a different root was refused.
    pub conflicts: Vec<String>,
}

/// Counters and states.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    /// Table sizes.
    pub sizes: Sizes,
    /// Outcome counters other than rejections.
    pub counters: BTreeMap<String, u64>,
    /// Rejections by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Relays.
    pub relays: Vec<RelayStats>,
    /// Roots refused, by DID.
    pub root_conflicts: Vec<(String, RootConflict)>,
    /// The walk of the owner's follow graph.
    #[serde(default)]
    pub graph: GraphStatus,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// For list and search.
    Page(Page),
    /// For show; None if not indexed.
    Listing {
        /// The listing.
        detail: Option<Box<ListingDetail>>,
    },
    /// For stats.
    Stats(Box<Stats>),
    /// The question could not be answered.
    Error {
        /// Why.
        reason: String,
    },
}

/// The counter of listings whose release hash disagrees with the TUF
/// target of the same version in their publisher's catalog.
pub const LISTING_DISAGREES: &str = "rejected: listing disagrees with its catalog";

/// The roots discovery pinned and refused.
#[derive(Debug, Clone)]
pub struct Pins {
    /// Pinned roots, by DID.
    pub pinned: Vec<(String, PinnedRoot)>,
    /// Refused roots, by DID.
    pub refused: Vec<(String, RootConflict)>,
}

/// The index after its ingest loop panicked holding it.
fn unavailable() -> StoreError {
    StoreError::other(
        std::path::Path::new("discovery index"),
        "unavailable after a crash of the ingest loop".into(),
    )
}

/// Answers questions from an index.
#[derive(Clone)]
pub struct Market {
    ingestor: Arc<Mutex<Ingestor>>,
    statuses: Statuses,
    graph: SharedGraphStatus,
}

impl Market {
    /// Questions over `ingestor`'s index; `statuses` of the relays
    /// followed, and `graph`, the walk of the owner's follow graph.
    pub fn new(
        ingestor: Arc<Mutex<Ingestor>>,
        statuses: Statuses,
        graph: SharedGraphStatus,
    ) -> Self {
        Self {
            ingestor,
            statuses,
            graph,
        }
    }

    /// Everything the trust score reads from discovery, at one moment.
    pub fn social(&self) -> Result<SocialSnapshot, StoreError> {
        let ingestor = self.ingestor.lock().map_err(|_| unavailable())?;
        let store = ingestor.store();
        Ok(SocialSnapshot {
            follows: store.lists(ListKind::Follows)?,
            mutes: store.lists(ListKind::Mutes)?,
            reports: store.reports()?,
            reviews: store.reviews()?,
            publishers: store.publishers()?,
            authors: store.authors()?.into_iter().collect(),
            conflicts: store.conflicts()?.into_iter().map(|(did, _)| did).collect(),
        })
    }

    /// A number that changes whenever an input of the trust score is kept
    /// (a list, report, review, binding or refused root): cheap, so a
    /// caller can ask often and rebuild only on a change.
    pub fn social_generation(&self) -> u64 {
        const KINDS: [&str; 6] = [
            "follow list",
            "mute list",
            "report",
            "review",
            "publisher",
            "root conflict",
        ];
        let Ok(ingestor) = self.ingestor.lock() else {
            return 0;
        };
        ingestor.store().counters().map_or(0, |counters| {
            counters
                .iter()
                .filter(|(name, _)| KINDS.contains(&name.as_str()))
                .map(|(_, count)| count)
                .sum()
        })
    }

    /// Where the walk of the owner's follow graph stands.
    pub fn graph_status(&self) -> GraphStatus {
        self.graph.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Every category of the listings, with how many are in it, the
    /// fullest first.
    pub fn categories(&self) -> Vec<(String, usize)> {
        self.ingestor
            .lock()
            .map_or_else(|_| Vec::new(), |i| i.index().categories())
    }

    /// How many listings are searchable now: cheap, for progress displays.
    pub fn indexed(&self) -> usize {
        self.ingestor.lock().map_or(0, |i| i.index().len())
    }

    /// The roots discovery pinned, by DID (with `root.json` as published),
    /// and the roots it refused: what a node compares its other pins with.
    pub fn pins(&self) -> Result<Pins, StoreError> {
        let ingestor = self.ingestor.lock().map_err(|_| unavailable())?;
        Ok(Pins {
            pinned: ingestor.store().roots()?,
            refused: ingestor.store().conflicts()?,
        })
    }

    /// Counts a listing found to disagree with its publisher's catalog
    /// (the counter `market stats` shows as "rejected: listing disagrees
    /// with its catalog").
    pub fn count_disagreeing_listing(&self) -> Result<(), StoreError> {
        let ingestor = self.ingestor.lock().map_err(|_| unavailable())?;
        ingestor
            .store()
            .write_soon(|t| t.count(LISTING_DISAGREES, 1), |()| false)
    }

    /// Pins `root`, which the node already trusts for `did`, unless a root
    /// is pinned for it ([`Ingestor::adopt_root`]).
    pub fn adopt_root(&self, did: &str, version: u64, root: &str) -> Result<bool, StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut ingestor = self.ingestor.lock().map_err(|_| unavailable())?;
        ingestor.adopt_root(did, version, root, now)
    }

    /// The root discovery pinned for `did`, if any.
    pub fn pinned_root(&self, did: &str) -> Result<Option<PinnedRoot>, StoreError> {
        let ingestor = self.ingestor.lock().map_err(|_| unavailable())?;
        ingestor.store().root(did)
    }

    /// Answers `query`.
    pub fn answer(&self, query: &Query) -> Answer {
        self.answer_ranked(query, None)
    }

    /// Answers `query`, a list or search ordered with `rank`'s weight of
    /// each listing when given (see [`SearchIndex::search_ranked`]).
    ///
    /// [`SearchIndex::search_ranked`]: crate::search::SearchIndex::search_ranked
    pub fn answer_ranked(&self, query: &Query, rank: Option<Rank<'_>>) -> Answer {
        let Ok(ingestor) = self.ingestor.lock() else {
            return Answer::Error {
                reason: "the index is unavailable after a crash of the ingest loop".into(),
            };
        };
        match self.answer_with(&ingestor, query, rank) {
            Ok(answer) => answer,
            Err(e) => Answer::Error {
                reason: e.to_string(),
            },
        }
    }

    fn answer_with(
        &self,
        ingestor: &Ingestor,
        query: &Query,
        rank: Option<Rank<'_>>,
    ) -> Result<Answer, StoreError> {
        Ok(match query {
            Query::List {
                category,
                offset,
                limit,
            } => page(
                ingestor,
                &ingestor
                    .index()
                    .search_ranked("", category.as_deref(), *offset, *limit, rank),
                *offset,
                false,
            )?,
            Query::Search {
                text,
                category,
                offset,
                limit,
            } => page(
                ingestor,
                &ingestor
                    .index()
                    .search_ranked(text, category.as_deref(), *offset, *limit, rank),
                *offset,
                true,
            )?,
            Query::Show { did, app_id } => {
                let store = ingestor.store();
                let detail = match store.listing(did, app_id)? {
                    Some(listing) => Some(Box::new(ListingDetail {
                        publisher: store.publisher(did)?,
                        root: store.root(did)?.map(|r| RootSummary {
                            version: r.version,
                            sha256: r.sha256,
                            pinned_at: r.pinned_at,
                            timestamp_version: r.timestamp_version,
                        }),
                        listing,
                        trust: None,
                        versions: Vec::new(),
                        alarm: None,
                    })),
                    None => None,
                };
                Answer::Listing { detail }
            }
            Query::Stats => Answer::Stats(Box::new(self.stats(ingestor)?)),
        })
    }

    fn stats(&self, ingestor: &Ingestor) -> Result<Stats, StoreError> {
        let store = ingestor.store();
        let mut counters = BTreeMap::new();
        let mut rejected = BTreeMap::new();
        for (name, count) in store.counters()? {
            match name.strip_prefix("rejected: ") {
                Some(reason) => rejected.insert(reason.to_owned(), count),
                None => counters.insert(name, count),
            };
        }
        let statuses = self.statuses.lock().map(|s| s.clone()).unwrap_or_default();
        let mut relays: BTreeMap<String, RelayStats> = store
            .cursors()?
            .into_iter()
            .map(|(url, cursor)| {
                let stats = RelayStats {
                    url: url.clone(),
                    cursor: Some(cursor),
                    status: None,
                };
                (url, stats)
            })
            .collect();
        for (url, status) in statuses {
            relays
                .entry(url.clone())
                .or_insert(RelayStats {
                    url,
                    cursor: None,
                    status: None,
                })
                .status = Some(status);
        }
        Ok(Stats {
            sizes: store.sizes()?,
            counters,
            rejected,
            relays: relays.into_values().collect(),
            root_conflicts: store.conflicts()?,
            graph: self.graph_status(),
        })
    }
}

fn page(
    ingestor: &Ingestor,
    results: &crate::search::Results,
    offset: usize,
    scored: bool,
) -> Result<Answer, StoreError> {
    let store = ingestor.store();
    let mut names: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut listings = Vec::with_capacity(results.hits.len().min(MAX_RESULTS));
    for hit in &results.hits {
        let Some(listing) = store.listing(&hit.did, &hit.app_id)? else {
            continue;
        };
        if !names.contains_key(&hit.did) {
            let name = store.publisher(&hit.did)?.map(|p| p.name);
            names.insert(hit.did.clone(), name);
        }
        listings.push(ListingSummary {
            publisher: names.get(&hit.did).cloned().flatten(),
            did: listing.did,
            app_id: listing.app_id,
            title: listing.title,
            summary: listing.summary,
            version: listing.version,
            categories: listing.categories,
            score: scored.then_some(hit.score),
            trust: None,
        });
    }
    Ok(Answer::Page(Page {
        total: results.total,
        offset,
        listings,
    }))
}
