//! [`NostrKey`]: how a person or a publisher appears in the follow graph.
//!
//! Follow lists, mutes, reports and reviews are all Nostr events, so the
//! graph speaks in Nostr public keys (BIP-340 x-only, 32 bytes). A
//! publisher, named by its DID, enters the graph through the Nostr key its
//! verified binding names.

use std::fmt;

use nostr::ToBech32;
use serde::{Serialize, Serializer};

/// A Nostr public key: the 32 bytes of a BIP-340 x-only key. It is only a
/// name here; events signed by it were checked by the caller. Ordered by
/// its bytes, the order node ids follow.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NostrKey(pub [u8; 32]);

impl NostrKey {
    /// The key as `npub1…` (NIP-19), the form people know.
    pub fn npub(&self) -> String {
        nostr::PublicKey::from_byte_array(self.0)
            .to_bech32()
            .unwrap_or_else(|infallible| match infallible {})
    }

    /// A short form for sentences, `npub1abcdefg…wxyz`: enough to tell
    /// keys apart by eye where no display name is known.
    pub fn short(&self) -> String {
        let npub = self.npub();
        // npub text is ASCII, so byte offsets are character offsets.
        format!("{}…{}", &npub[..12], &npub[npub.len() - 4..])
    }
}

impl From<nostr::PublicKey> for NostrKey {
    fn from(key: nostr::PublicKey) -> Self {
        Self(key.to_bytes())
    }
}

/// Lowercase hex, as Nostr events carry keys.
impl fmt::Display for NostrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for NostrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NostrKey({self})")
    }
}

/// Serialized as its hex text, as in Nostr events.
impl Serialize for NostrKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The x-only key of secret key 1: the generator's x coordinate.
    const GENERATOR_X: &str = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    fn generator() -> NostrKey {
        NostrKey(hex::decode(GENERATOR_X).unwrap().try_into().unwrap())
    }

    #[test]
    fn displays_as_lowercase_hex_and_serializes_the_same() {
        assert_eq!(generator().to_string(), GENERATOR_X);
        assert_eq!(
            serde_json::to_string(&generator()).unwrap(),
            format!("\"{GENERATOR_X}\"")
        );
    }

    #[test]
    fn npub_round_trips_through_nostr() {
        let npub = generator().npub();
        assert!(npub.starts_with("npub1"), "{npub}");
        let parsed = nostr::PublicKey::parse(&npub).unwrap();
        assert_eq!(NostrKey::from(parsed), generator());
    }

    #[test]
    fn short_form_keeps_both_ends_of_the_npub() {
        let npub = generator().npub();
        let short = generator().short();
        assert!(short.starts_with(&npub[..12]) && short.ends_with(&npub[npub.len() - 4..]));
        assert_eq!(short.chars().count(), 17);
    }
}
