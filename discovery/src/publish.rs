//! Building archy events, signed with the Nostr key derived from the
//! publisher's identity, each carrying the DID binding.

use archy_trust::{Identity, Signed};
use nostr::{Event, EventBuilder, Kind, Tag, TagKind, Timestamp};
use serde::Serialize;

use crate::protocol::{
    Binding, CatalogContent, D_APP_PREFIX, D_CATALOG, D_PUBLISHER, D_REVIEW_PREFIX, KIND,
    ListingContent, PROTOCOL_VERSION, PublisherContent, ReviewContent, TOPIC,
};

/// Building an event failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Signing the binding failed.
    #[error("signing the DID binding: {0}")]
    Binding(#[from] archy_trust::Error),
    /// The content does not encode.
    #[error("encoding the {what} event: {reason}")]
    Encode {
        /// Which event.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The Nostr signature failed.
    #[error("signing the {what} event: {reason}")]
    Sign {
        /// Which event.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// The binding envelope for `identity`: its derived Nostr key speaks for its
/// DID until `expires` (Unix seconds).
pub fn binding(
    identity: &Identity,
    name: &str,
    about: &str,
    expires: u64,
) -> Result<serde_json::Value, PublishError> {
    let binding = Binding {
        did: identity.did(),
        nostr_pubkey: identity.nostr_keys().public_key().to_hex(),
        name: name.to_owned(),
        about: about.to_owned(),
        expires,
    };
    let envelope = Signed::sign(&binding, identity)?;
    serde_json::from_slice(&envelope).map_err(|e| PublishError::Encode {
        what: "binding",
        reason: e.to_string(),
    })
}

fn event(
    identity: &Identity,
    what: &'static str,
    d: &str,
    content: &impl Serialize,
    extra: Vec<Tag>,
    created_at: Timestamp,
) -> Result<Event, PublishError> {
    let content = serde_json::to_string(content).map_err(|e| PublishError::Encode {
        what,
        reason: e.to_string(),
    })?;
    let mut tags = vec![
        Tag::identifier(d),
        Tag::custom(TagKind::custom("v"), [PROTOCOL_VERSION]),
        Tag::hashtag(TOPIC),
    ];
    tags.extend(extra);
    EventBuilder::new(Kind::Custom(KIND), content)
        .tags(tags)
        .custom_created_at(created_at)
        .sign_with_keys(&identity.nostr_keys())
        .map_err(|e| PublishError::Sign {
            what,
            reason: e.to_string(),
        })
}

/// The `archy:publisher` event.
pub fn publisher_event(
    identity: &Identity,
    binding: &serde_json::Value,
    created_at: Timestamp,
) -> Result<Event, PublishError> {
    let content = PublisherContent {
        binding: binding.clone(),
    };
    event(
        identity,
        "publisher",
        D_PUBLISHER,
        &content,
        vec![],
        created_at,
    )
}

/// The `archy:catalog` event.
pub fn catalog_event(
    identity: &Identity,
    content: &CatalogContent,
    created_at: Timestamp,
) -> Result<Event, PublishError> {
    event(identity, "catalog", D_CATALOG, content, vec![], created_at)
}

/// A NIP-09 deletion of the listing of `app_id`: relays drop the listing,
/// and nodes take it out of their index (and keep older copies out). It
/// names the listing by address (`a`), carries `k` = 30078 and `t` =
/// `archy` so nodes can subscribe to it, and `reason` as content.
pub fn deletion_event(
    identity: &Identity,
    app_id: &str,
    reason: &str,
    created_at: Timestamp,
) -> Result<Event, PublishError> {
    let keys = identity.nostr_keys();
    let address = format!(
        "{KIND}:{}:{D_APP_PREFIX}{app_id}",
        keys.public_key().to_hex()
    );
    let tags = vec![
        Tag::custom(TagKind::a(), [address]),
        Tag::custom(TagKind::k(), [KIND.to_string()]),
        Tag::custom(TagKind::custom("v"), [PROTOCOL_VERSION]),
        Tag::hashtag(TOPIC),
    ];
    EventBuilder::new(Kind::EventDeletion, reason)
        .tags(tags)
        .custom_created_at(created_at)
        .sign_with_keys(&keys)
        .map_err(|e| PublishError::Sign {
            what: "deletion",
            reason: e.to_string(),
        })
}

/// The `archy:app:<id>` listing; its categories become `t` tags too.
pub fn listing_event(
    identity: &Identity,
    content: &ListingContent,
    created_at: Timestamp,
) -> Result<Event, PublishError> {
    let d = format!("{D_APP_PREFIX}{}", content.app_id);
    let tags = content.categories.iter().map(Tag::hashtag).collect();
    event(identity, "listing", &d, content, tags, created_at)
}

/// A review of `did`'s app `app_id` by `identity` (anyone may review):
/// `d` = `archy:review:<did>/<app-id>`, so a reviewer's newer review of the
/// same app replaces the older one.
pub fn review_event(
    identity: &Identity,
    did: &archy_trust::Did,
    app_id: &str,
    content: &ReviewContent,
    created_at: Timestamp,
) -> Result<Event, PublishError> {
    let d = format!("{D_REVIEW_PREFIX}{did}/{app_id}");
    event(identity, "review", &d, content, vec![], created_at)
}
