//! Trust on first use of a publisher's TUF root, from its `archy:catalog`
//! event: the first root seen for a DID is pinned if it is signed by a
//! threshold of its own root keys and lists the DID's key. After that the
//! root moves only by TUF rotation (version N+1 signed by a threshold of
//! root N's keys and of its own); any other root for the DID is refused.

use archy_registry::tuf::UtcTime;
use archy_registry::tuf::metadata::signed_version;
use archy_registry::tuf::trusted::TrustedSet;
use archy_trust::Did;
use sha2::{Digest, Sha256};

use crate::protocol::CatalogContent;
use crate::store::PinnedRoot;

/// What a catalog event does to the pin.
#[derive(Debug, Clone, PartialEq)]
pub enum RootDecision {
    /// No root was pinned; this one is now.
    Pin(PinnedRoot),
    /// The pinned root, again (its timestamp may be newer).
    Same(PinnedRoot),
    /// A valid rotation of the pinned root.
    Rotate(PinnedRoot),
    /// A root that does not replace the pinned one: refused loudly.
    Conflict {
        /// Why.
        reason: String,
        /// Its version.
        version: u64,
        /// Its SHA-256.
        sha256: String,
    },
    /// The root in the event is not a valid root for this DID.
    Invalid(String),
}

/// Decides what the root in `content` does, given what is pinned for
/// `did`, at `now` (Unix seconds).
pub fn decide(
    did: &Did,
    content: &CatalogContent,
    pinned: Option<&PinnedRoot>,
    now: u64,
) -> RootDecision {
    let bytes = content.root.as_bytes();
    let sha256 = hex::encode(Sha256::digest(bytes));
    if sha256 != content.root_sha256 {
        return RootDecision::Invalid(format!(
            "root_sha256 is {} but the root hashes to {sha256}",
            content.root_sha256
        ));
    }
    match signed_version(bytes) {
        Ok(v) if v == content.root_version => {}
        Ok(v) => {
            return RootDecision::Invalid(format!(
                "root_version is {} but the root is version {v}",
                content.root_version
            ));
        }
        Err(e) => return RootDecision::Invalid(format!("root: {e}")),
    }
    let clock = UtcTime::from_unix(i64::try_from(now).unwrap_or(i64::MAX));
    let set = match TrustedSet::new(bytes.to_vec(), clock) {
        Ok(set) => set,
        Err(e) => return RootDecision::Invalid(format!("root: {e}")),
    };
    if !set.root().doc.keys.contains_key(did.tuf_keyid()) {
        return RootDecision::Invalid(format!("the root does not list {did}'s key"));
    }
    let timestamp_version =
        signed_version(&serde_json::to_vec(&content.timestamp).unwrap_or_default()).ok();
    let offered = PinnedRoot {
        version: content.root_version,
        sha256: sha256.clone(),
        root: content.root.clone(),
        pinned_at: now,
        timestamp_version,
    };
    let Some(pinned) = pinned else {
        return RootDecision::Pin(offered);
    };
    let newer_timestamp = timestamp_version.max(pinned.timestamp_version);
    if pinned.sha256 == sha256 {
        return RootDecision::Same(PinnedRoot {
            timestamp_version: newer_timestamp,
            ..pinned.clone()
        });
    }
    let conflict = |reason: String| RootDecision::Conflict {
        reason,
        version: content.root_version,
        sha256: sha256.clone(),
    };
    if content.root_version != pinned.version + 1 {
        return conflict(format!(
            "root version {} is not the next after the pinned version {}",
            content.root_version, pinned.version
        ));
    }
    let mut chain = match TrustedSet::new(pinned.root.as_bytes().to_vec(), clock) {
        Ok(chain) => chain,
        Err(e) => return conflict(format!("the pinned root no longer loads: {e}")),
    };
    match chain.update_root(bytes.to_vec()) {
        Ok(()) => RootDecision::Rotate(PinnedRoot {
            pinned_at: pinned.pinned_at,
            ..offered
        }),
        Err(e) => conflict(format!("not a rotation of the pinned root: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_trust::Identity;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn root(version: u64, keys: &[&Identity], signers: &[&Identity]) -> String {
        archy_synthetic::root_json(version, keys, signers).unwrap()
    }

    fn content(root: &str) -> CatalogContent {
        CatalogContent {
            binding: json!({}),
            root_version: signed_version(root.as_bytes()).unwrap(),
            root_sha256: hex::encode(Sha256::digest(root.as_bytes())),
            root: root.to_owned(),
            timestamp: json!({"signed": {"version": 3}}),
        }
    }

    #[test]
    fn the_first_root_is_pinned_and_the_same_root_kept() {
        let alice = Identity::generate().unwrap();
        let r1 = content(&root(1, &[&alice], &[&alice]));
        let RootDecision::Pin(pinned) = decide(&alice.did(), &r1, None, NOW) else {
            panic!("not pinned")
        };
        assert_eq!((pinned.version, pinned.timestamp_version), (1, Some(3)));
        assert!(matches!(
            decide(&alice.did(), &r1, Some(&pinned), NOW),
            RootDecision::Same(_)
        ));
    }

    #[test]
    fn a_root_that_does_not_list_the_did_is_invalid() {
        let alice = Identity::generate().unwrap();
        let mallory = Identity::generate().unwrap();
        let r1 = content(&root(1, &[&mallory], &[&mallory]));
        assert!(matches!(
            decide(&alice.did(), &r1, None, NOW),
            RootDecision::Invalid(reason) if reason.contains("does not list")
        ));
    }

    #[test]
    fn a_root_not_signed_by_its_own_keys_is_invalid() {
        let alice = Identity::generate().unwrap();
        let mallory = Identity::generate().unwrap();
        let r1 = content(&root(1, &[&alice], &[&mallory]));
        assert!(matches!(
            decide(&alice.did(), &r1, None, NOW),
            RootDecision::Invalid(_)
        ));
    }

    #[test]
    fn a_rotation_moves_the_pin_and_a_different_root_is_a_conflict() {
        let alice = Identity::generate().unwrap();
        let bob = Identity::generate().unwrap();
        let mallory = Identity::generate().unwrap();
        let RootDecision::Pin(pinned) = decide(
            &alice.did(),
            &content(&root(1, &[&alice], &[&alice])),
            None,
            NOW,
        ) else {
            panic!("not pinned")
        };
        // Version 2 adds bob, signed by alice (old) and both (new).
        let r2 = content(&root(2, &[&alice, &bob], &[&alice, &bob]));
        assert!(matches!(
            decide(&alice.did(), &r2, Some(&pinned), NOW),
            RootDecision::Rotate(p) if p.version == 2
        ));
        // Another version 1 for alice, made by mallory with alice listed.
        let forged = content(&root(1, &[&alice, &mallory], &[&mallory]));
        assert!(matches!(
            decide(&alice.did(), &forged, Some(&pinned), NOW),
            RootDecision::Conflict { version: 1, .. }
        ));
        // A version 2 signed only by keys the pinned root does not trust.
        let hijack = content(&root(2, &[&alice, &mallory], &[&mallory]));
        assert!(matches!(
            decide(&alice.did(), &hijack, Some(&pinned), NOW),
            RootDecision::Conflict { reason, .. } if reason.contains("not a rotation")
        ));
        // A version jump cannot be checked from one event.
        let r3 = content(&root(3, &[&alice], &[&alice]));
        assert!(matches!(
            decide(&alice.did(), &r3, Some(&pinned), NOW),
            RootDecision::Conflict { .. }
        ));
    }
}
