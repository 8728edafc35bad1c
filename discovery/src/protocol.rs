//! The wire format: every archy event is kind 30078 (NIP-78, addressable),
//! names its protocol version in a `v` tag, carries `t` = `archy`, and says
//! what it is in its `d` tag. The content is JSON; every event carries the
//! DID binding, so each one verifies on its own, whatever order relays
//! deliver them in.

use archy_trust::{Did, Payload};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// NIP-78 application-specific data, addressable.
pub const KIND: u16 = 30078;
/// The protocol version this build reads and writes (`v` tag).
pub const PROTOCOL_VERSION: &str = "archy/1";
/// The `t` tag on every archy event, so relays can filter for them.
pub const TOPIC: &str = "archy";
/// `d` of a publisher's binding event.
pub const D_PUBLISHER: &str = "archy:publisher";
/// `d` of a publisher's catalog event.
pub const D_CATALOG: &str = "archy:catalog";
/// `d` prefix of a listing: `archy:app:<app-id>`.
pub const D_APP_PREFIX: &str = "archy:app:";
/// `d` prefix of a review: `archy:review:<did>/<app-id>`. Anyone may
/// review; how much a review counts is the trust score's business.
pub const D_REVIEW_PREFIX: &str = "archy:review:";
/// NIP-02 follow list (replaceable): the `p` tags name whom the author
/// follows. An input of the trust score.
pub const FOLLOWS_KIND: u16 = 3;
/// NIP-51 mute list (replaceable): its public `p` tags name whom the
/// author mutes.
pub const MUTES_KIND: u16 = 10000;
/// NIP-56 report: a `p` tag with a report type reports a key, an `a` tag
/// with one reports an app listing (`30078:<author>:archy:app:<id>`).
pub const REPORT_KIND: u16 = 1984;
/// Most keys of one follow or mute list kept; the rest are dropped and
/// counted.
pub const MAX_LIST_KEYS: usize = 10_000;
/// Most targets one report names.
pub const MAX_REPORT_TARGETS: usize = 16;
/// Largest review text, in bytes.
pub const MAX_REVIEW_TEXT: usize = 4000;
/// Largest content accepted.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// How far in the future `created_at` may be (clock skew).
pub const MAX_FUTURE_SECS: u64 = 600;
/// Most categories a listing may have.
pub const MAX_CATEGORIES: usize = 8;
/// Most provider tickets a listing may carry.
pub const MAX_PROVIDERS: usize = 16;
/// Bindings are renewed in steps of this many seconds (30 days).
const BINDING_STEP: u64 = 30 * 24 * 3600;

/// When a binding made at `now` expires: 12 to 13 months ahead, on a
/// 30-day grid, so publishing an unchanged app again within a month yields
/// the same binding (and so the same events).
pub fn binding_expiry(now: u64) -> u64 {
    (now / BINDING_STEP + 13) * BINDING_STEP
}

/// "Nostr key `nostr_pubkey` speaks for `did` until `expires`": signed by
/// the DID, so an event from another Nostr key cannot claim the DID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// The publisher.
    pub did: Did,
    /// The Nostr public key (32-byte x-only, hex) that speaks for it.
    pub nostr_pubkey: String,
    /// Display name.
    pub name: String,
    /// A line about the publisher.
    pub about: String,
    /// Unix seconds after which the binding is void.
    pub expires: u64,
}

impl Payload for Binding {
    const TYPE: &'static str = "archy/nostr-binding";
}

/// Content of the `archy:publisher` event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherContent {
    /// The binding envelope (a signed [`Binding`]), as JSON.
    pub binding: serde_json::Value,
}

/// Content of the `archy:catalog` event: where the publisher's TUF
/// catalog stands, so nodes learn of a release within seconds (and still
/// verify it with the TUF client).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogContent {
    /// The binding envelope.
    pub binding: serde_json::Value,
    /// The newest root's version.
    pub root_version: u64,
    /// SHA-256 of that `root.json`, hex.
    pub root_sha256: String,
    /// That `root.json`, byte for byte, so a node can pin it on first
    /// sight after checking it lists the publisher's DID.
    pub root: String,
    /// The current `timestamp.json`, as published.
    pub timestamp: serde_json::Value,
}

/// Content of an `archy:app:<id>` listing. The two envelopes stay the
/// text received: they are checked from those bytes, and the manifest is
/// stored and shown as published, with no JSON tree built and written out
/// again (a tenth of the cost of ingesting a listing).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingContent {
    /// The binding envelope.
    pub binding: Box<RawValue>,
    /// The app id (also in `d`).
    pub app_id: String,
    /// Display name.
    pub title: String,
    /// One line.
    pub summary: String,
    /// Categories (also `t` tags).
    pub categories: Vec<String>,
    /// BLAKE3 of the icon, hex, if the app has one.
    pub icon: Option<String>,
    /// The newest version.
    pub version: String,
    /// Its release root hash (BLAKE3, hex).
    pub release: String,
    /// Bytes to fetch.
    pub size: u64,
    /// The signed manifest envelope, as JSON.
    pub manifest: Box<RawValue>,
    /// Node tickets that may serve the release.
    pub providers: Vec<String>,
}

/// Content of an `archy:review:<did>/<app-id>` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewContent {
    /// 1 to 5 stars.
    pub rating: u8,
    /// What the reviewer says, at most [`MAX_REVIEW_TEXT`] bytes.
    pub text: String,
}
