//! What one signature costs to check on one core, one at a time (the
//! anchor) and in the batches ingesting uses.
//!
//! Every listing carries two signatures: the Nostr event's BIP-340 Schnorr
//! signature and the manifest's Ed25519 signature. A batch's cost depends
//! on how many distinct keys it holds (one term per key), so each batch is
//! measured with few keys (a publisher's events arriving together) and
//! with every signature by another key (a relay interleaving publishers).
//! Throughput is per signature, so a batch's figure compares directly with
//! the single check's. Each batch is measured in the default mode (`on`,
//! portable arithmetic) and in `ifma` (AVX-512 IFMA lanes, where the CPU
//! has them; elsewhere it measures `on` again).
//!
//! `cargo bench -p archy-sigbatch --bench signatures`

use std::hint::black_box;

use archy_sigbatch::{Mode, bip340, ed25519};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use nostr::SECP256K1;
use nostr::secp256k1::{Keypair, Message};
use sha2::{Digest, Sha256};

/// BIP-340 Schnorr signatures per batch, as ingesting checks them.
const SCHNORR_BATCH: usize = 512;
/// Ed25519 signatures per batch, as ingesting checks them.
const ED25519_BATCH: usize = 256;
/// Keys in a batch "from few keys".
const FEW_KEYS: usize = 8;
/// Bytes of each Ed25519 message: about a signed manifest's canonical form.
const MANIFEST_BYTES: usize = 1024;

fn schnorr(c: &mut Criterion) {
    let few = schnorr_signed(SCHNORR_BATCH, FEW_KEYS);
    let many = schnorr_signed(SCHNORR_BATCH, SCHNORR_BATCH);
    let mut group = c.benchmark_group("BIP-340 Schnorr");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one check (libsecp256k1), the anchor", |b| {
        b.iter(|| assert!(black_box(many[0].claim()).holds_alone()))
    });
    group.throughput(Throughput::Elements(SCHNORR_BATCH as u64));
    for mode in [Mode::Batch, Mode::BatchWithLanes] {
        group.bench_function(
            format!("batch of {SCHNORR_BATCH} by {FEW_KEYS} keys, mode {mode}"),
            |b| b.iter(|| schnorr_batch_holds(&few, mode)),
        );
        group.bench_function(
            format!("batch of {SCHNORR_BATCH} by {SCHNORR_BATCH} keys, mode {mode}"),
            |b| b.iter(|| schnorr_batch_holds(&many, mode)),
        );
    }
    group.finish();
}

fn ed25519(c: &mut Criterion) {
    let few = ed25519_signed(ED25519_BATCH, FEW_KEYS);
    let many = ed25519_signed(ED25519_BATCH, ED25519_BATCH);
    let one = &many[0];
    let mut group = c.benchmark_group("Ed25519");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        format!("one check (strict) of {MANIFEST_BYTES} bytes, the anchor"),
        |b| b.iter(|| assert!(black_box(one.claim()).holds_alone())),
    );
    group.throughput(Throughput::Elements(ED25519_BATCH as u64));
    group.bench_function(
        format!("batch of {ED25519_BATCH} by {FEW_KEYS} keys"),
        |b| b.iter(|| ed25519_batch_holds(&few)),
    );
    group.bench_function(
        format!("batch of {ED25519_BATCH} by {ED25519_BATCH} keys"),
        |b| b.iter(|| ed25519_batch_holds(&many)),
    );
    group.finish();
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

fn schnorr_batch_holds(signed: &[SchnorrSigned], mode: Mode) {
    let claims: Vec<bip340::Claim<'_>> = signed.iter().map(SchnorrSigned::claim).collect();
    assert!(
        bip340::verify_all_in(black_box(&claims), mode)
            .iter()
            .all(|&ok| ok)
    );
}

/// An Ed25519 signature over a manifest-sized message.
struct Ed25519Signed {
    key: VerifyingKey,
    message: Vec<u8>,
    signature: [u8; 64],
}

impl Ed25519Signed {
    fn claim(&self) -> ed25519::Claim<'_> {
        ed25519::Claim {
            key: &self.key,
            message: &self.message,
            signature: &self.signature,
        }
    }
}

/// `count` signatures by `keys` keys, each key's signatures together.
fn ed25519_signed(count: usize, keys: usize) -> Vec<Ed25519Signed> {
    let signers: Vec<SigningKey> = (0..keys)
        .map(|k| SigningKey::from_bytes(&Sha256::digest(format!("bench identity {k}")).into()))
        .collect();
    (0..count)
        .map(|i| {
            let signer = &signers[i * keys / count];
            let mut message = format!("manifest {i} ").into_bytes();
            message.resize(MANIFEST_BYTES, b'.');
            Ed25519Signed {
                key: signer.verifying_key(),
                signature: signer.sign(&message).to_bytes(),
                message,
            }
        })
        .collect()
}

fn ed25519_batch_holds(signed: &[Ed25519Signed]) {
    let claims: Vec<ed25519::Claim<'_>> = signed.iter().map(Ed25519Signed::claim).collect();
    assert!(
        ed25519::verify_all_in(black_box(&claims), Mode::Batch)
            .iter()
            .all(|&ok| ok)
    );
}

criterion_group!(benches, schnorr, ed25519);
criterion_main!(benches);
