//! The Nostr (secp256k1) key that speaks for an identity.
//!
//! Nostr events are Schnorr-signed with secp256k1, so an Ed25519 identity
//! cannot sign them directly. Rather than keep a second secret, we derive the
//! Nostr key from the same seed with HKDF-SHA256 under a label used for
//! nothing else (see `docs/identity.md`):
//!
//! ```text
//! okm = HKDF-SHA256(ikm = seed, salt = "archy/v1", info = "archy/v1/nostr-secp256k1" || counter)
//! ```
//!
//! `counter` is one byte, starting at 0 and incremented in the (about 2^-128
//! likely) case that `okm` is not a valid secp256k1 scalar. Losing the Nostr
//! key never exposes the Ed25519 seed: HKDF is one-way.

use hkdf::Hkdf;
use nostr::{Keys, SecretKey, ToBech32};
use sha2::Sha256;

use crate::Identity;

/// HKDF salt: names the scheme and its version.
pub const HKDF_SALT: &[u8] = b"archy/v1";
/// HKDF info prefix: names what the output key is for.
pub const HKDF_INFO: &[u8] = b"archy/v1/nostr-secp256k1";

impl Identity {
    /// The Nostr keys derived from this identity's seed.
    pub fn nostr_keys(&self) -> Keys {
        derive(self.seed())
    }

    /// The derived Nostr public key as `npub1…`.
    pub fn npub(&self) -> String {
        let public = self.nostr_keys().public_key();
        public
            .to_bech32()
            .unwrap_or_else(|infallible| match infallible {})
    }
}

fn derive(seed: &[u8; 32]) -> Keys {
    let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), seed);
    for counter in 0..=u8::MAX {
        let mut okm = zeroize::Zeroizing::new([0u8; 32]);
        let info = [HKDF_INFO, &[counter]].concat();
        hkdf.expand(&info, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        if let Ok(secret) = SecretKey::from_slice(okm.as_ref()) {
            return Keys::new(secret);
        }
    }
    unreachable!("256 consecutive HKDF outputs were all invalid secp256k1 scalars")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_stable() {
        // Pinned so a refactor can never silently change every node's npub.
        let keys = derive(&[0; 32]);
        assert_eq!(
            hex::encode(keys.secret_key().as_secret_bytes()),
            derive_reference(&[0; 32])
        );
        assert_eq!(
            Identity::from_seed(&[0; 32]).npub(),
            "npub1wzvj8j3rm84a4p23za80rranxt620s66xm6x984v0mvgraf2kncsf0dhaa"
        );
    }

    /// The documented recipe, written out with the HKDF primitives directly.
    fn derive_reference(seed: &[u8; 32]) -> String {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"archy/v1"), seed)
            .expand(b"archy/v1/nostr-secp256k1\x00", &mut okm)
            .unwrap();
        hex::encode(okm)
    }

    #[test]
    fn different_seeds_give_different_nostr_keys() {
        assert_ne!(derive(&[0; 32]).public_key(), derive(&[1; 32]).public_key());
    }

    #[test]
    fn nostr_key_is_not_the_ed25519_seed() {
        let seed = [9u8; 32];
        assert_ne!(derive(&seed).secret_key().as_secret_bytes(), &seed);
    }

    #[test]
    fn npub_is_bech32() {
        let npub = Identity::from_seed(&[3; 32]).npub();
        assert!(npub.starts_with("npub1"), "{npub}");
        assert_eq!(npub.len(), 63);
    }
}
