//! `archy bench signatures`: what one signature costs to check, one at a
//! time and in the batches ingesting uses.
//!
//! Every listing carries two signatures: the Nostr event's BIP-340 Schnorr
//! signature and the manifest's Ed25519 signature. A batch's cost depends
//! on how many distinct keys it holds (one term per key), so each batch is
//! measured with few keys (a publisher's events arriving together) and
//! with every signature by another key (a relay interleaving publishers).

use std::hint::black_box;
use std::time::Duration;

use archy_sigbatch::{bip340, ed25519};
use archy_trust::{Identity, PublicKey};
use nostr::SECP256K1;
use nostr::secp256k1::{Keypair, Message};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bench::measure_together;

/// Signatures per batch, as ingesting checks them.
#[derive(Debug, Clone, Copy)]
pub struct BatchSizes {
    /// BIP-340 Schnorr signatures per batch.
    pub schnorr: usize,
    /// Ed25519 signatures per batch.
    pub ed25519: usize,
    /// Keys in a batch "from few keys".
    pub few_keys: usize,
}

impl Default for BatchSizes {
    fn default() -> Self {
        Self {
            schnorr: 512,
            ed25519: 256,
            few_keys: 8,
        }
    }
}

/// One way of checking signatures and what a signature costs that way.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureFigure {
    /// How the signatures were checked.
    pub name: String,
    /// Signatures checked per second on one thread (median over slices).
    pub per_second: f64,
    /// Microseconds per signature at that rate.
    pub micros_per_signature: f64,
}

/// Bytes of each Ed25519 message: about a signed manifest's canonical form.
const MANIFEST_BYTES: usize = 1024;

/// Measures every figure for `per_figure` each, all taken slice by slice
/// over the same stretch of time.
pub fn signatures(per_figure: Duration, sizes: BatchSizes) -> Vec<SignatureFigure> {
    let schnorr_few = schnorr_signed(sizes.schnorr, sizes.few_keys);
    let schnorr_many = schnorr_signed(sizes.schnorr, sizes.schnorr);
    let ed_few = ed25519_signed(sizes.ed25519, sizes.few_keys);
    let ed_many = ed25519_signed(sizes.ed25519, sizes.ed25519);
    let single_schnorr = &schnorr_many[0];
    let single_ed = &ed_many[0];
    let [
        one_schnorr,
        batch_schnorr_few,
        batch_schnorr_many,
        one_ed,
        batch_ed_few,
        batch_ed_many,
    ] = measure_together(
        per_figure,
        [
            ("schnorr one", &mut || assert!(single_schnorr.holds())),
            ("schnorr few", &mut || schnorr_batch_holds(&schnorr_few)),
            ("schnorr many", &mut || schnorr_batch_holds(&schnorr_many)),
            ("ed25519 one", &mut || assert!(single_ed.holds())),
            ("ed25519 few", &mut || ed25519_batch_holds(&ed_few)),
            ("ed25519 many", &mut || ed25519_batch_holds(&ed_many)),
        ],
    );
    let few = sizes.few_keys;
    let (s, e) = (sizes.schnorr, sizes.ed25519);
    [
        (
            "BIP-340 Schnorr, one check (libsecp256k1)".to_owned(),
            one_schnorr.per_second,
        ),
        (
            format!("BIP-340 Schnorr, batch of {s} by {few} keys"),
            batch_schnorr_few.per_second * s as f64,
        ),
        (
            format!("BIP-340 Schnorr, batch of {s} by {s} keys"),
            batch_schnorr_many.per_second * s as f64,
        ),
        (
            format!("Ed25519 (strict), one check of {MANIFEST_BYTES} bytes"),
            one_ed.per_second,
        ),
        (
            format!("Ed25519, batch of {e} by {few} keys"),
            batch_ed_few.per_second * e as f64,
        ),
        (
            format!("Ed25519, batch of {e} by {e} keys"),
            batch_ed_many.per_second * e as f64,
        ),
    ]
    .into_iter()
    .map(|(name, per_second)| SignatureFigure {
        name,
        per_second,
        micros_per_signature: 1e6 / per_second,
    })
    .collect()
}

/// A Schnorr signature over a 32-byte message, as a Nostr event carries it.
struct SchnorrSigned {
    key: bip340::XOnlyKey,
    message: [u8; 32],
    signature: [u8; 64],
}

impl SchnorrSigned {
    fn claim(&self) -> bip340::Claim<'_> {
        bip340::Claim {
            key: &self.key,
            message: &self.message,
            signature: &self.signature,
        }
    }

    /// One check, the way a single event is checked without a batch.
    fn holds(&self) -> bool {
        black_box(self.claim()).holds_alone()
    }
}

/// `count` signatures by `keys` keys, each key's signatures together.
fn schnorr_signed(count: usize, keys: usize) -> Vec<SchnorrSigned> {
    let pairs: Vec<Keypair> = (0..keys)
        .map(|k| {
            let secret: [u8; 32] = Sha256::digest(format!("bench key {k}")).into();
            Keypair::from_seckey_slice(SECP256K1, &secret).expect("a hash is a valid secret key")
        })
        .collect();
    (0..count)
        .map(|i| {
            let pair = &pairs[i * keys / count];
            let message: [u8; 32] = Sha256::digest(format!("event {i}")).into();
            let signature =
                SECP256K1.sign_schnorr_no_aux_rand(&Message::from_digest(message), pair);
            let key = pair.x_only_public_key().0.serialize();
            SchnorrSigned {
                key: bip340::XOnlyKey::from_bytes(&key).expect("a real key decodes"),
                message,
                signature: *signature.as_ref(),
            }
        })
        .collect()
}

fn schnorr_batch_holds(signed: &[SchnorrSigned]) {
    let claims: Vec<bip340::Claim<'_>> = signed.iter().map(SchnorrSigned::claim).collect();
    assert!(bip340::verify_all(black_box(&claims)).iter().all(|&ok| ok));
}

/// An Ed25519 signature over a manifest-sized message.
struct Ed25519Signed {
    key: PublicKey,
    message: Vec<u8>,
    signature: [u8; 64],
}

impl Ed25519Signed {
    fn claim(&self) -> ed25519::Claim<'_> {
        ed25519::Claim {
            key: self.key.verifying_key(),
            message: &self.message,
            signature: &self.signature,
        }
    }

    fn holds(&self) -> bool {
        self.key.verify(black_box(&self.message), &self.signature)
    }
}

/// `count` signatures by `keys` keys, each key's signatures together.
fn ed25519_signed(count: usize, keys: usize) -> Vec<Ed25519Signed> {
    let identities: Vec<Identity> = (0..keys)
        .map(|k| Identity::from_seed(&Sha256::digest(format!("bench identity {k}")).into()))
        .collect();
    (0..count)
        .map(|i| {
            let identity = &identities[i * keys / count];
            let mut message = format!("manifest {i} ").into_bytes();
            message.resize(MANIFEST_BYTES, b'.');
            Ed25519Signed {
                key: identity.public_key(),
                signature: identity.sign(&message),
                message,
            }
        })
        .collect()
}

fn ed25519_batch_holds(signed: &[Ed25519Signed]) {
    let claims: Vec<ed25519::Claim<'_>> = signed.iter().map(Ed25519Signed::claim).collect();
    assert!(ed25519::verify_all(black_box(&claims)).iter().all(|&ok| ok));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_measured() {
        let sizes = BatchSizes {
            schnorr: 6,
            ed25519: 4,
            few_keys: 2,
        };
        let figures = signatures(Duration::from_millis(5), sizes);
        assert_eq!(figures.len(), 6);
        for figure in &figures {
            assert!(figure.per_second > 0.0, "{figure:?}");
        }
        assert!(figures[1].name.contains("batch of 6 by 2 keys"));
    }
}
