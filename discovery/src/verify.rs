//! Every event a relay hands over passes these checks before anything is
//! indexed, cheapest first: kind, size, protocol version, time, id,
//! Schnorr signature, JSON shape, the DID binding (signed by the DID, for
//! this Nostr key, not expired) and, for a listing, the manifest envelope
//! (signed by the same DID, for the app the `d` tag names). A failure is a
//! [`Rejection`] whose [`Rejection::reason`] is a short, countable label.
//!
//! Ingesting checks in two steps: [`Verifier::check`] does everything but
//! the events' Schnorr signatures and the manifests' Ed25519 signatures,
//! and [`settle`] checks those of a whole batch in one go
//! ([`archy_sigbatch`]), two to three times as fast as one by one. An
//! event whose Schnorr signature fails is rejected for that, whatever else
//! was wrong with it, as if it had been checked first.

use std::sync::{Arc, Mutex};

use archy_registry::{Manifest, signing};
use archy_sigbatch::bip340::{self, XOnlyKey};
use archy_trust::envelope::{self, Unchecked};
use archy_trust::{Did, Payload, Signed};
use nostr::Event;

use crate::note::Note;
use crate::protocol::{
    Binding, CatalogContent, D_APP_PREFIX, D_CATALOG, D_PUBLISHER, D_REVIEW_PREFIX, KIND,
    ListingContent, MAX_CATEGORIES, MAX_CONTENT_BYTES, MAX_FUTURE_SECS, MAX_PROVIDERS,
    MAX_REVIEW_TEXT, PROTOCOL_VERSION, PublisherContent, ReviewContent,
};

/// Largest raw event accepted (content plus tags and envelope overhead).
pub const MAX_EVENT_BYTES: usize = MAX_CONTENT_BYTES + 16 * 1024;

/// Why an event was not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not kind 30078.
    #[error("kind {0} is not {KIND}")]
    WrongKind(u16),
    /// Larger than the limit.
    #[error("{bytes} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a Nostr event, or content that is not the JSON it should be.
    #[error("malformed: {0}")]
    Malformed(String),
    /// No `v` tag of a version this build reads.
    #[error("protocol version {0:?} is not {PROTOCOL_VERSION}")]
    UnknownVersion(String),
    /// `created_at` too far ahead.
    #[error("created {0} s in the future (more than {MAX_FUTURE_SECS} s)")]
    FromTheFuture(u64),
    /// Past its NIP-40 `expiration`.
    #[error("expired at {0}")]
    Expired(u64),
    /// The id is not the hash of the event.
    #[error("the event id does not match its contents")]
    BadId,
    /// The Schnorr signature does not verify.
    #[error("the Schnorr signature does not verify")]
    BadSignature,
    /// A `d` tag this build does not know.
    #[error("unknown d tag {0:?}")]
    UnknownType(String),
    /// The binding envelope does not verify.
    #[error("DID binding: {0}")]
    Binding(String),
    /// The binding is signed by a DID other than the one it names.
    #[error("DID binding for {did} is signed by {signer}")]
    BindingSigner {
        /// The DID it names.
        did: String,
        /// Who signed it.
        signer: String,
    },
    /// The binding is for another Nostr key.
    #[error("DID binding is for Nostr key {bound}, but the event is from {author}")]
    BindingKey {
        /// The key in the binding.
        bound: String,
        /// The event's author.
        author: String,
    },
    /// The binding has expired.
    #[error("DID binding expired at {0}")]
    BindingExpired(u64),
    /// The listing's manifest envelope is not signed by the listing's DID.
    #[error("manifest: {0}")]
    Manifest(String),
    /// The listing contradicts its own manifest or tags.
    #[error("listing: {0}")]
    Listing(String),
    /// A review that names no app or breaks the review format.
    #[error("review: {0}")]
    Review(String),
}

impl Rejection {
    /// A short label to count rejections by.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::WrongKind(_) => "wrong kind",
            Self::TooLarge { .. } => "too large",
            Self::Malformed(_) => "malformed",
            Self::UnknownVersion(_) => "unknown protocol version",
            Self::FromTheFuture(_) => "from the future",
            Self::Expired(_) => "expired",
            Self::BadId => "bad id",
            Self::BadSignature => "bad signature",
            Self::UnknownType(_) => "unknown type",
            Self::Binding(_) => "bad binding",
            Self::BindingSigner { .. } => "binding signed by another DID",
            Self::BindingKey { .. } => "binding for another Nostr key",
            Self::BindingExpired(_) => "binding expired",
            Self::Manifest(_) => "manifest not signed by the listing's DID",
            Self::Listing(_) => "listing contradicts its manifest",
            Self::Review(_) => "bad review",
        }
    }
}

/// A verified event, by what it says.
#[derive(Debug, Clone)]
pub enum Verified {
    /// A publisher's binding and profile.
    Publisher {
        /// The verified binding.
        binding: Binding,
    },
    /// Where a publisher's catalog stands.
    Catalog {
        /// The publisher.
        did: Did,
        /// What the event says.
        content: CatalogContent,
    },
    /// A review of an app, by any Nostr key.
    Review {
        /// The publisher reviewed.
        did: Did,
        /// The app reviewed.
        app_id: String,
        /// What the event says.
        content: ReviewContent,
    },
    /// An app listing, with its verified manifest.
    Listing {
        /// The publisher.
        did: Did,
        /// What the event says.
        content: ListingContent,
        /// The manifest in it, signed by `did`.
        manifest: Box<Manifest>,
    },
}

/// An event checked but for its signatures, which [`settle`] checks
/// together with other events'.
#[derive(Debug)]
pub struct Checked {
    /// The event's Schnorr signature, unless the checks before it failed.
    signature: Option<EventSignature>,
    /// What the checks after the signature found.
    found: Result<Found, Rejection>,
}

impl Checked {
    /// Refused before its signature mattered.
    fn refused(rejection: Rejection) -> Self {
        Self {
            signature: None,
            found: Err(rejection),
        }
    }
}

/// An event's Schnorr signature over its id, with its author's key.
#[derive(Debug)]
struct EventSignature {
    key: XOnlyKey,
    id: [u8; 32],
    signature: [u8; 64],
}

impl EventSignature {
    fn claim(&self) -> bip340::Claim<'_> {
        bip340::Claim {
            key: &self.key,
            message: &self.id,
            signature: &self.signature,
        }
    }
}

/// What the checks that need no batch found.
#[derive(Debug)]
enum Found {
    /// Nothing left to check but the event's signature.
    Done(Box<Verified>),
    /// A listing whose manifest signature is still to be checked.
    Listing(Box<PendingListing>),
}

/// A listing waiting for its manifest signature to be checked.
#[derive(Debug)]
struct PendingListing {
    did: Did,
    content: ListingContent,
    app_id: String,
    envelope: Unchecked,
}

/// Finishes what [`Verifier::check`] started: the events' Schnorr
/// signatures and the manifest signatures of every listing among
/// `checked`, checked in batches, then what each listing says against its
/// manifest. The answers keep the input's order.
pub fn settle(checked: Vec<Checked>) -> Vec<Result<Verified, Rejection>> {
    let claims: Vec<bip340::Claim<'_>> = checked
        .iter()
        .filter_map(|item| item.signature.as_ref().map(EventSignature::claim))
        .collect();
    let mut signed = bip340::verify_all(&claims).into_iter();
    let mut envelopes = Vec::new();
    let slots: Vec<Slot> = checked
        .into_iter()
        .map(|Checked { signature, found }| {
            if signature.is_some() && !signed.next().unwrap_or(false) {
                return Slot::Done(Err(Rejection::BadSignature));
            }
            match found {
                Ok(Found::Listing(pending)) => {
                    let PendingListing {
                        did,
                        content,
                        app_id,
                        envelope,
                    } = *pending;
                    envelopes.push(envelope);
                    Slot::Listing(did, content, app_id)
                }
                Ok(Found::Done(verified)) => Slot::Done(Ok(*verified)),
                Err(rejection) => Slot::Done(Err(rejection)),
            }
        })
        .collect();
    let mut opened = envelope::check_all(envelopes).into_iter();
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Done(answer) => answer,
            Slot::Listing(did, content, app_id) => {
                let (signer, payload) = opened
                    .next()
                    .ok_or_else(|| Rejection::Manifest("not checked".into()))?
                    .map_err(|e| Rejection::Manifest(e.to_string()))?;
                listing(content, did, &app_id, &signer, &payload)
            }
        })
        .collect()
}

/// [`settle`] for one event.
fn settle_one(checked: Checked) -> Result<Verified, Rejection> {
    settle(vec![checked])
        .pop()
        .unwrap_or_else(|| Err(Rejection::Manifest("not checked".into())))
}

/// One answer of [`settle`] in the making: known, or a listing whose
/// manifest envelope (the next one in line) is being checked.
enum Slot {
    Done(Result<Verified, Rejection>),
    Listing(Did, ListingContent, String),
}

/// Bindings, and authors' decoded keys, a [`Verifier`] remembers before it
/// starts afresh.
const MAX_REMEMBERED: usize = 10_000;

/// Answers worked out once per 32-byte key, shared by the verifying
/// threads; bounded by forgetting everything when full. Only answers that
/// were worked out successfully are kept, one per key: an answer that does
/// not fit the question asked is worked out again and takes its place.
#[derive(Debug)]
struct Memo<V>(Mutex<foldhash::HashMap<[u8; 32], V>>);

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<V: Clone> Memo<V> {
    fn get_or_try<E>(
        &self,
        key: [u8; 32],
        fits: impl Fn(&V) -> bool,
        work: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let known = self.0.lock().ok().and_then(|memo| {
            let value = memo.get(&key)?;
            fits(value).then(|| value.clone())
        });
        if let Some(known) = known {
            return Ok(known);
        }
        let value = work()?;
        if let Ok(mut memo) = self.0.lock() {
            if memo.len() >= MAX_REMEMBERED {
                memo.clear();
            }
            memo.insert(key, value.clone());
        }
        Ok(value)
    }
}

/// Checks events one after another, remembering what repeats from one
/// event of a publisher to the next: its binding, whose Ed25519 signature
/// need not be checked for each listing, and its Nostr key decoded to a
/// curve point (a square root each time otherwise).
/// It is shared by the threads that verify one batch.
#[derive(Debug, Default)]
pub struct Verifier {
    /// By the author's key: the binding its last events carried.
    bindings: Memo<Arc<KnownBinding>>,
    authors: Memo<XOnlyKey>,
}

/// A binding whose signature holds, with the bytes it came in: a later
/// event carrying the same bytes carries the same binding.
#[derive(Debug)]
struct KnownBinding {
    bytes: Box<[u8]>,
    binding: Binding,
}

/// Verifies an event at `now` (Unix seconds).
pub fn verify(event: &Event, now: u64) -> Result<Verified, Rejection> {
    Verifier::default().verify(event, now)
}

/// The checks that need no signature: kind, size, protocol version, time
/// and NIP-40 expiration. Cheap, so they run before anything is looked up.
pub fn precheck(note: &Note<'_>, now: u64) -> Result<(), Rejection> {
    if note.kind != KIND {
        return Err(Rejection::WrongKind(note.kind));
    }
    if note.content.len() > MAX_CONTENT_BYTES {
        return Err(Rejection::TooLarge {
            bytes: note.content.len(),
            limit: MAX_CONTENT_BYTES,
        });
    }
    let version = note.tags.value("v").unwrap_or_default();
    if version != PROTOCOL_VERSION {
        return Err(Rejection::UnknownVersion(version.to_owned()));
    }
    let created = note.created_at;
    if created > now + MAX_FUTURE_SECS {
        return Err(Rejection::FromTheFuture(created - now));
    }
    if let Some(expiration) = note.tags.value("expiration") {
        let at = expiration.parse::<u64>().map_err(|_| {
            Rejection::Malformed(format!("expiration {expiration:?} is not a number"))
        })?;
        if at <= now {
            return Err(Rejection::Expired(at));
        }
    }
    Ok(())
}

impl Verifier {
    /// Verifies an event at `now` (Unix seconds).
    pub fn verify(&self, event: &Event, now: u64) -> Result<Verified, Rejection> {
        settle_one(self.check(&Note::of(event), event.verify_id(), now))
    }

    /// Checks an event at `now` (Unix seconds), all but its signatures:
    /// [`settle`] finishes. `id_holds` is whether its id is the hash of its
    /// contents (as [`crate::wire::read`] found for an event as a relay
    /// sent it).
    pub fn check(&self, note: &Note<'_>, id_holds: bool, now: u64) -> Checked {
        if let Err(rejection) = precheck(note, now) {
            return Checked::refused(rejection);
        }
        if !id_holds {
            return Checked::refused(Rejection::BadId);
        }
        let author = note.author;
        let Ok(key) =
            self.authors
                .get_or_try(author, |_| true, || XOnlyKey::from_bytes(&author).ok_or(()))
        else {
            // Not a curve point: no signature can hold.
            return Checked::refused(Rejection::BadSignature);
        };
        Checked {
            signature: Some(EventSignature {
                key,
                id: note.id,
                signature: note.sig,
            }),
            found: self.content(note, now),
        }
    }

    /// The checks of what a signed event says.
    fn content(&self, note: &Note<'_>, now: u64) -> Result<Found, Rejection> {
        let d = note.tags.first("d").unwrap_or_default();
        match d {
            D_PUBLISHER => {
                let content: PublisherContent = parse(&note.content)?;
                let known = self.binding(&to_bytes(&content.binding)?, note, now)?;
                Ok(Found::Done(Box::new(Verified::Publisher {
                    binding: known.binding.clone(),
                })))
            }
            D_CATALOG => {
                let content: CatalogContent = parse(&note.content)?;
                let did = self
                    .binding(&to_bytes(&content.binding)?, note, now)?
                    .binding
                    .did
                    .clone();
                if !is_hex64(&content.root_sha256) {
                    return Err(Rejection::Malformed(
                        "root_sha256 is not 64 hex digits".into(),
                    ));
                }
                Ok(Found::Done(Box::new(Verified::Catalog { did, content })))
            }
            _ if d.starts_with(D_APP_PREFIX) => {
                let content: ListingContent = parse(&note.content)?;
                let did = self
                    .binding(content.binding.get().as_bytes(), note, now)?
                    .binding
                    .did
                    .clone();
                let envelope = envelope::read(
                    content.manifest.get().as_bytes(),
                    Manifest::TYPE,
                    Some(&did),
                )
                .map_err(|e| Rejection::Manifest(e.to_string()))?;
                Ok(Found::Listing(Box::new(PendingListing {
                    did,
                    content,
                    app_id: d[D_APP_PREFIX.len()..].to_owned(),
                    envelope,
                })))
            }
            _ if d.starts_with(D_REVIEW_PREFIX) => review(&d[D_REVIEW_PREFIX.len()..], note),
            other => Err(Rejection::UnknownType(other.to_owned())),
        }
    }

    /// Checks the binding: signed by the DID it names, for this event's
    /// author, not expired. The signature is checked once per binding: an
    /// author's events carry the same bytes until it renews its binding.
    fn binding(
        &self,
        bytes: &[u8],
        note: &Note<'_>,
        now: u64,
    ) -> Result<Arc<KnownBinding>, Rejection> {
        let known = self.bindings.get_or_try(
            note.author,
            |known| *known.bytes == *bytes,
            || {
                signed_binding(bytes).map(|binding| {
                    Arc::new(KnownBinding {
                        bytes: bytes.into(),
                        binding,
                    })
                })
            },
        )?;
        let binding = &known.binding;
        let mut author = [0u8; 64];
        let same_key = hex::encode_to_slice(note.author, &mut author).is_ok()
            && binding.nostr_pubkey.as_bytes() == author;
        if !same_key {
            return Err(Rejection::BindingKey {
                bound: binding.nostr_pubkey.clone(),
                author: hex::encode(note.author),
            });
        }
        if binding.expires <= now {
            return Err(Rejection::BindingExpired(binding.expires));
        }
        Ok(known)
    }
}

/// A review of `target` (`<did>/<app-id>`, its `d` after the prefix).
fn review(target: &str, note: &Note<'_>) -> Result<Found, Rejection> {
    let bad = |why: String| Rejection::Review(why);
    let (did, app_id) = target
        .split_once('/')
        .ok_or_else(|| bad(format!("d names {target:?}, not <did>/<app-id>")))?;
    let did: Did = did
        .parse()
        .map_err(|e| bad(format!("d names {did:?}, not a DID: {e}")))?;
    if app_id.is_empty() || app_id.len() > 255 {
        return Err(bad(format!("d names the app {app_id:?}")));
    }
    let content: ReviewContent = parse(&note.content)?;
    if !(1..=5).contains(&content.rating) {
        return Err(bad(format!("rating {} is not 1 to 5", content.rating)));
    }
    if content.text.len() > MAX_REVIEW_TEXT {
        return Err(bad(format!(
            "text of {} bytes is over {MAX_REVIEW_TEXT}",
            content.text.len()
        )));
    }
    Ok(Found::Done(Box::new(Verified::Review {
        did,
        app_id: app_id.to_owned(),
        content,
    })))
}

/// A binding envelope's bytes, for events that carry it as parsed JSON.
fn to_bytes(envelope: &serde_json::Value) -> Result<Vec<u8>, Rejection> {
    serde_json::to_vec(envelope).map_err(|e| Rejection::Binding(e.to_string()))
}

/// Whether `text` is 64 hex digits (a 32-byte hash).
fn is_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse<'a, T: serde::Deserialize<'a>>(content: &'a str) -> Result<T, Rejection> {
    serde_json::from_str(content).map_err(|e| Rejection::Malformed(e.to_string()))
}

/// A binding envelope signed by the DID it names.
fn signed_binding(bytes: &[u8]) -> Result<Binding, Rejection> {
    let signed =
        Signed::<Binding>::verify(bytes, None).map_err(|e| Rejection::Binding(e.to_string()))?;
    let signer = signed.signer().clone();
    let binding = signed.into_payload();
    if signer != binding.did {
        return Err(Rejection::BindingSigner {
            did: binding.did.to_string(),
            signer: signer.to_string(),
        });
    }
    Ok(binding)
}

/// A listing whose manifest envelope `signer` signed: the manifest, and
/// what the listing says against it.
fn listing(
    content: ListingContent,
    did: Did,
    app_id: &str,
    signer: &Did,
    payload: &str,
) -> Result<Verified, Rejection> {
    let manifest = signing::manifest_signed_by(signer, payload, &signing::Signers::default())
        .map_err(|e| Rejection::Manifest(e.to_string()))?;
    let contradiction = if content.app_id != app_id || manifest.id != app_id {
        Some(format!(
            "d names {app_id}, the listing {}, the manifest {}",
            content.app_id, manifest.id
        ))
    } else if content.version != manifest.version.to_string() {
        Some(format!(
            "version {} but the manifest is {}",
            content.version, manifest.version
        ))
    } else if content.categories.len() > MAX_CATEGORIES || content.providers.len() > MAX_PROVIDERS {
        Some(format!(
            "more than {MAX_CATEGORIES} categories or {MAX_PROVIDERS} providers"
        ))
    } else if !is_hex64(&content.release) {
        Some("release is not a 64-hex-digit hash".into())
    } else {
        None
    };
    if let Some(reason) = contradiction {
        return Err(Rejection::Listing(reason));
    }
    Ok(Verified::Listing {
        did,
        content,
        manifest: Box::new(manifest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ListingContent;
    use crate::publish::{binding as make_binding, catalog_event, listing_event, publisher_event};
    use archy_trust::Identity;
    use nostr::{EventBuilder, JsonUtil, Kind, Tag, TagKind, Timestamp};

    const NOW: u64 = 1_800_000_000;
    const YEAR: u64 = 365 * 24 * 3600;

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn signed_manifest(identity: &Identity, id: &str) -> Box<serde_json::value::RawValue> {
        archy_synthetic::signed_manifest(identity, id, "Notes", "Plain-text notes").unwrap()
    }

    fn listing(
        binding: serde_json::Value,
        manifest: Box<serde_json::value::RawValue>,
    ) -> ListingContent {
        ListingContent {
            binding: serde_json::value::to_raw_value(&binding).unwrap(),
            app_id: "org.example.notes".into(),
            title: "Notes".into(),
            summary: "Plain-text notes".into(),
            categories: vec!["productivity".into()],
            icon: None,
            version: "1.0.0".into(),
            release: "ab".repeat(32),
            size: 10,
            manifest,
            providers: vec![],
        }
    }

    fn valid_listing(alice: &Identity) -> Event {
        let binding = make_binding(alice, "Alice", "apps", NOW + YEAR).unwrap();
        let content = listing(binding, signed_manifest(alice, "org.example.notes"));
        listing_event(alice, &content, at(NOW)).unwrap()
    }

    fn rejected(event: &Event) -> Rejection {
        verify(event, NOW).unwrap_err()
    }

    #[test]
    fn publisher_catalog_and_listing_events_verify() {
        let alice = Identity::generate().unwrap();
        let binding = make_binding(&alice, "Alice", "apps", NOW + YEAR).unwrap();
        match verify(&publisher_event(&alice, &binding, at(NOW)).unwrap(), NOW).unwrap() {
            Verified::Publisher { binding } => assert_eq!(binding.did, alice.did()),
            other => panic!("{other:?}"),
        }
        let catalog = CatalogContent {
            binding,
            root_version: 2,
            root_sha256: "cd".repeat(32),
            root: "{}".into(),
            timestamp: serde_json::json!({"signed": {"version": 7}}),
        };
        assert!(matches!(
            verify(&catalog_event(&alice, &catalog, at(NOW)).unwrap(), NOW).unwrap(),
            Verified::Catalog { did, .. } if did == alice.did()
        ));
        match verify(&valid_listing(&alice), NOW).unwrap() {
            Verified::Listing {
                did,
                manifest,
                content,
            } => {
                assert_eq!(did, alice.did());
                assert_eq!(manifest.id, "org.example.notes");
                assert_eq!(content.categories, ["productivity"]);
            }
            other => panic!("{other:?}"),
        }
        let event = valid_listing(&alice);
        let tags: Vec<Vec<String>> = event.tags.iter().map(|t| t.as_slice().to_vec()).collect();
        for tag in [
            ["d", "archy:app:org.example.notes"],
            ["v", "archy/1"],
            ["t", "archy"],
            ["t", "productivity"],
        ] {
            assert!(tags.contains(&tag.map(String::from).to_vec()), "{tags:?}");
        }
    }

    #[test]
    fn a_wrong_id_is_rejected() {
        let alice = Identity::generate().unwrap();
        let mut event = valid_listing(&alice);
        event.content = event
            .content
            .replace("Plain-text notes\",\"title", "Other notes\",\"title");
        event.content.push(' ');
        assert_eq!(rejected(&event), Rejection::BadId);
    }

    #[test]
    fn a_bad_signature_is_rejected() {
        let alice = Identity::generate().unwrap();
        let mut event = valid_listing(&alice);
        // A valid signature by the same key, over another event.
        let binding = make_binding(&alice, "Alice", "", NOW + YEAR).unwrap();
        event.sig = publisher_event(&alice, &binding, at(NOW)).unwrap().sig;
        assert_eq!(rejected(&event), Rejection::BadSignature);
    }

    #[test]
    fn a_bad_signature_is_the_reason_even_when_the_content_is_wrong_too() {
        // Signatures are checked last, in a batch, yet win as if first.
        let alice = Identity::generate().unwrap();
        let mut event = raw_event(&alice, "not json".into(), archy_tags(), NOW);
        assert!(matches!(rejected(&event), Rejection::Malformed(_)));
        event.sig = valid_listing(&alice).sig;
        assert_eq!(rejected(&event), Rejection::BadSignature);
    }

    #[test]
    fn bad_event_signatures_are_found_inside_a_batch() {
        let alice = Identity::generate().unwrap();
        let bob = Identity::generate().unwrap();
        let verifier = Verifier::default();
        let events: Vec<Event> = (0..90)
            .map(|i| {
                let who = if i < 45 { &alice } else { &bob };
                let binding = make_binding(who, "Someone", "", NOW + YEAR).unwrap();
                publisher_event(who, &binding, at(NOW - i)).unwrap()
            })
            .collect();
        let forged = [0, 44, 45, 89];
        let checked = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                let mut event = event.clone();
                if forged.contains(&i) {
                    event.sig = events[(i + 1) % events.len()].sig;
                }
                verifier.check(&Note::of(&event), event.verify_id(), NOW)
            })
            .collect();
        for (i, answer) in settle(checked).into_iter().enumerate() {
            match answer {
                Err(Rejection::BadSignature) => assert!(forged.contains(&i), "event {i}"),
                Ok(Verified::Publisher { .. }) => assert!(!forged.contains(&i), "event {i}"),
                other => panic!("event {i}: {other:?}"),
            }
        }
    }

    /// A binding by which Mallory claims Alice's DID for Mallory's Nostr
    /// key, signed by Mallory.
    fn claim_of_alices_did(alice: &Identity, mallory: &Identity) -> serde_json::Value {
        let claim = Binding {
            did: alice.did(),
            nostr_pubkey: mallory.nostr_keys().public_key().to_hex(),
            name: "Alice".into(),
            about: String::new(),
            expires: NOW + YEAR,
        };
        serde_json::from_slice(&Signed::sign(&claim, mallory).unwrap()).unwrap()
    }

    #[test]
    fn a_binding_signed_by_another_did_is_rejected() {
        let alice = Identity::generate().unwrap();
        let mallory = Identity::generate().unwrap();
        let envelope = claim_of_alices_did(&alice, &mallory);
        let event = publisher_event(&mallory, &envelope, at(NOW)).unwrap();
        assert!(matches!(rejected(&event), Rejection::BindingSigner { .. }));
        assert_eq!(rejected(&event).reason(), "binding signed by another DID");
    }

    #[test]
    fn a_binding_is_remembered_only_for_the_same_bytes() {
        let alice = Identity::generate().unwrap();
        let mallory = Identity::generate().unwrap();
        let verifier = Verifier::default();
        let verified = |binding: &serde_json::Value| {
            verifier.verify(&publisher_event(&mallory, binding, at(NOW)).unwrap(), NOW)
        };
        let own = make_binding(&mallory, "Mallory", "", NOW + YEAR).unwrap();
        assert!(matches!(verified(&own), Ok(Verified::Publisher { .. })));
        let expired = make_binding(&mallory, "Mallory", "", NOW - 1).unwrap();
        assert_eq!(
            verified(&expired).unwrap_err(),
            Rejection::BindingExpired(NOW - 1)
        );
        assert!(matches!(
            verified(&claim_of_alices_did(&alice, &mallory)),
            Err(Rejection::BindingSigner { .. })
        ));
        match verified(&own) {
            Ok(Verified::Publisher { binding }) => assert_eq!(binding.did, mallory.did()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_binding_copied_to_another_nostr_key_is_rejected() {
        let alice = Identity::generate().unwrap();
        let mallory = Identity::generate().unwrap();
        let alices = make_binding(&alice, "Alice", "", NOW + YEAR).unwrap();
        let event = publisher_event(&mallory, &alices, at(NOW)).unwrap();
        assert!(matches!(rejected(&event), Rejection::BindingKey { .. }));
    }

    #[test]
    fn an_expired_binding_is_rejected() {
        let alice = Identity::generate().unwrap();
        let old = make_binding(&alice, "Alice", "", NOW - 1).unwrap();
        assert_eq!(
            rejected(&publisher_event(&alice, &old, at(NOW)).unwrap()),
            Rejection::BindingExpired(NOW - 1)
        );
    }

    #[test]
    fn a_manifest_signed_by_another_did_is_rejected() {
        let alice = Identity::generate().unwrap();
        let bob = Identity::generate().unwrap();
        let binding = make_binding(&alice, "Alice", "", NOW + YEAR).unwrap();
        let content = listing(binding, signed_manifest(&bob, "org.example.notes"));
        let event = listing_event(&alice, &content, at(NOW)).unwrap();
        assert!(
            matches!(rejected(&event), Rejection::Manifest(_)),
            "{:?}",
            rejected(&event)
        );
    }

    #[test]
    fn a_listing_for_another_app_than_its_manifest_is_rejected() {
        let alice = Identity::generate().unwrap();
        let binding = make_binding(&alice, "Alice", "", NOW + YEAR).unwrap();
        let content = listing(binding, signed_manifest(&alice, "org.example.other"));
        let event = listing_event(&alice, &content, at(NOW)).unwrap();
        assert!(matches!(rejected(&event), Rejection::Listing(_)));
    }

    fn raw_event(alice: &Identity, content: String, tags: Vec<Tag>, created: u64) -> Event {
        EventBuilder::new(Kind::Custom(KIND), content)
            .tags(tags)
            .custom_created_at(at(created))
            .sign_with_keys(&alice.nostr_keys())
            .unwrap()
    }

    fn archy_tags() -> Vec<Tag> {
        vec![
            Tag::identifier(D_PUBLISHER),
            Tag::custom(TagKind::custom("v"), [PROTOCOL_VERSION]),
        ]
    }

    #[test]
    fn content_over_64_kib_is_rejected() {
        let alice = Identity::generate().unwrap();
        let event = raw_event(&alice, "x".repeat(MAX_CONTENT_BYTES + 1), archy_tags(), NOW);
        assert!(matches!(rejected(&event), Rejection::TooLarge { .. }));
        let raw = event.as_json();
        assert!(matches!(
            crate::wire::read(&raw)
                .and_then(|w| settle_one(Verifier::default().check(&w.note, w.id_holds, NOW)))
                .unwrap_err(),
            Rejection::TooLarge { .. }
        ));
    }

    #[test]
    fn malformed_json_is_rejected() {
        let alice = Identity::generate().unwrap();
        let event = raw_event(&alice, "{\"binding\": ".into(), archy_tags(), NOW);
        assert!(matches!(rejected(&event), Rejection::Malformed(_)));
        assert!(matches!(
            crate::wire::read("not an event").unwrap_err(),
            Rejection::Malformed(_)
        ));
        assert!(matches!(
            crate::wire::read("{\"id\": 7}").unwrap_err(),
            Rejection::Malformed(_)
        ));
    }

    #[test]
    fn an_unknown_protocol_version_is_rejected() {
        let alice = Identity::generate().unwrap();
        let tags = vec![
            Tag::identifier(D_PUBLISHER),
            Tag::custom(TagKind::custom("v"), ["archy/2"]),
        ];
        let event = raw_event(&alice, "{}".into(), tags, NOW);
        assert_eq!(
            rejected(&event),
            Rejection::UnknownVersion("archy/2".into())
        );
        let event = raw_event(&alice, "{}".into(), vec![Tag::identifier(D_PUBLISHER)], NOW);
        assert_eq!(rejected(&event), Rejection::UnknownVersion(String::new()));
    }

    #[test]
    fn created_at_more_than_ten_minutes_ahead_is_rejected() {
        let alice = Identity::generate().unwrap();
        let binding = make_binding(&alice, "Alice", "", NOW + YEAR).unwrap();
        let soon = publisher_event(&alice, &binding, at(NOW + MAX_FUTURE_SECS)).unwrap();
        assert!(verify(&soon, NOW).is_ok(), "within the allowed skew");
        let later = publisher_event(&alice, &binding, at(NOW + MAX_FUTURE_SECS + 1)).unwrap();
        assert_eq!(
            rejected(&later),
            Rejection::FromTheFuture(MAX_FUTURE_SECS + 1)
        );
    }

    #[test]
    fn a_nip40_expiration_in_the_past_is_honoured() {
        let alice = Identity::generate().unwrap();
        let mut tags = archy_tags();
        tags.push(Tag::expiration(at(NOW - 5)));
        let event = raw_event(&alice, "{}".into(), tags, NOW - 100);
        assert_eq!(rejected(&event), Rejection::Expired(NOW - 5));
    }

    #[test]
    fn other_kinds_and_unknown_types_are_rejected() {
        let alice = Identity::generate().unwrap();
        let note = EventBuilder::new(Kind::TextNote, "hi")
            .sign_with_keys(&alice.nostr_keys())
            .unwrap();
        assert_eq!(rejected(&note), Rejection::WrongKind(1));
        let tags = vec![
            Tag::identifier("archy:something"),
            Tag::custom(TagKind::custom("v"), [PROTOCOL_VERSION]),
        ];
        let event = raw_event(&alice, "{}".into(), tags, NOW);
        assert_eq!(
            rejected(&event),
            Rejection::UnknownType("archy:something".into())
        );
    }
}
