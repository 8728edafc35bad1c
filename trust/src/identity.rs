//! The secret side of an actor: an Ed25519 signing key built from a 32-byte
//! seed. The seed is the one secret; the DID, the Nostr key and (later) the
//! iroh endpoint key all follow from it.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};

use crate::did::{Did, PublicKey};
use crate::error::Error;

/// A node's or publisher's secret Ed25519 key. It zeroes itself on drop and
/// never prints its secret.
#[derive(Clone)]
pub struct Identity {
    signing: SigningKey,
}

impl Identity {
    /// The identity whose Ed25519 secret is `seed` (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// A fresh identity from the operating system's random source.
    pub fn generate() -> Result<Self, Error> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    /// The 32-byte seed. Only key files and key derivation may see it.
    pub(crate) fn seed(&self) -> &[u8; 32] {
        self.signing.as_bytes()
    }

    /// The secret for the node's iroh endpoint: the same Ed25519 key, so
    /// the endpoint id is the DID's key and a ticket can be checked against
    /// its DID. Only the endpoint may be given it.
    pub fn endpoint_secret(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(*self.seed())
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_verifying_key(self.signing.verifying_key())
    }

    /// The public name, `did:key:z6Mk…`.
    pub fn did(&self) -> Did {
        Did::from_public_key(self.public_key())
    }

    /// An Ed25519 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.did())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_under_own_public_key_only() {
        let alice = Identity::from_seed(&[1; 32]);
        let bob = Identity::from_seed(&[2; 32]);
        let sig = alice.sign(b"hello");
        assert!(alice.public_key().verify(b"hello", &sig));
        assert!(!alice.public_key().verify(b"hellO", &sig));
        assert!(!bob.public_key().verify(b"hello", &sig));
    }

    #[test]
    fn generated_identities_differ() {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        assert_ne!(a.did(), b.did());
    }

    #[test]
    fn debug_output_hides_the_seed() {
        let id = Identity::from_seed(&[0xab; 32]);
        let shown = format!("{id:?}");
        assert!(shown.starts_with("Identity(did:key:z6Mk"));
        assert!(!shown.contains("abab"));
    }
}
