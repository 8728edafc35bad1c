//! Many Ed25519 signatures checked at once: the manifests' signatures.
//!
//! The answer is the one [`PublicKey::verify`] gives (strict rules) for
//! every honest signature:
//!
//! - before the batch, each signature is held to what strict verification
//!   adds: a canonical `s`, an `R` that decodes, is encoded canonically and
//!   is not of small order; the key is never of small order ([`PublicKey`]
//!   refuses those);
//! - a batch that fails is split in two until the bad signatures are
//!   found, and single signatures get [`PublicKey::verify`].
//!
//! The equation is ed25519-dalek's `verify_batch` (random 128-bit weights
//! `z`, cofactorless: `Σz·s·B = Σz·R + Σz·k·A`), built here so that it
//! reuses the `R` points the strict checks already decoded and adds up the
//! terms of one key: a publisher's listings arrive together, so a batch
//! holds few distinct keys, and each costs one point in the sum, not one
//! per signature.
//!
//! Being cofactorless, like single verification, only a signer who
//! deliberately builds its own key or `R` with a small torsion component
//! can make a signature whose batch and single verdicts differ, and only
//! over its own documents; no one can sign for a key they do not hold.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use super::{Weighed, verify_claims};
use crate::did::PublicKey;

/// Signatures per batch equation. Past about 190 points the sum switches to
/// Pippenger's method, whose cost per point keeps falling with size; much
/// larger batches gain little more, and a bad signature costs more checks
/// to find in them.
const BATCH: usize = 256;

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// Who claims to have signed.
    pub key: &'a PublicKey,
    /// What was signed.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8; 64],
}

/// A claim that passed the strict checks, decoded for the batch equation.
struct Decoded<'a> {
    /// The signer's key.
    key: &'a PublicKey,
    /// The signature's `R`.
    r: EdwardsPoint,
    /// The signature's `s`.
    s: Scalar,
    /// `k = H(R || A || M)`.
    k: Scalar,
}

/// Checks every claim; `result[i]` is whether `claims[i]` holds, exactly as
/// [`PublicKey::verify`] would say for it.
pub fn verify_all(claims: &[Claim<'_>]) -> Vec<bool> {
    verify_claims(claims, BATCH, decode, equation_holds, |claim| {
        claim.key.verify(claim.message, claim.signature)
    })
}

/// `Σz·s·B − Σz·R − Σ_A (Σz·k)·A = 0`, with the terms of each key added up
/// before the multiplication.
fn equation_holds(batch: &[Weighed<Decoded<'_>>]) -> bool {
    let mut key_slots: HashMap<[u8; 32], usize> = HashMap::new();
    let mut key_points: Vec<EdwardsPoint> = Vec::new();
    let mut key_weights: Vec<Scalar> = Vec::new();
    let mut base_weight = Scalar::ZERO;
    for item in batch {
        let (z, decoded) = (Scalar::from(item.weight), &item.decoded);
        base_weight += z * decoded.s;
        let key = decoded.key.verifying_key();
        let slot = *key_slots.entry(key.to_bytes()).or_insert_with(|| {
            key_points.push(key.to_edwards());
            key_weights.push(Scalar::ZERO);
            key_points.len() - 1
        });
        key_weights[slot] -= z * decoded.k;
    }
    let scalars = std::iter::once(base_weight)
        .chain(batch.iter().map(|item| -Scalar::from(item.weight)))
        .chain(key_weights);
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(batch.iter().map(|item| item.decoded.r))
        .chain(key_points);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

/// What strict verification demands of a signature beyond the equation,
/// and the values the equation needs; `None` if it fails those demands
/// (single verification refuses it too).
fn decode<'a>(claim: &Claim<'a>) -> Option<Decoded<'a>> {
    let (r_bytes, s_bytes) = claim.signature.split_at(32);
    let r_bytes: [u8; 32] = r_bytes.try_into().ok()?;
    let s_bytes: [u8; 32] = s_bytes.try_into().ok()?;
    let r = strict_r(&r_bytes)?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
    let hash = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(claim.key.verifying_key().as_bytes())
        .chain_update(claim.message)
        .finalize();
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&hash);
    Some(Decoded {
        key: claim.key,
        r,
        s,
        k: Scalar::from_bytes_mod_order_wide(&wide),
    })
}

/// `R` as strict verification demands it: it decodes to a point, is that
/// point's canonical encoding, and is not of small order.
///
/// An encoding is canonical unless its `y` is not reduced (`y ≥ p`, which
/// decoding silently reduces) or it names `x = 0` with the sign bit set;
/// the points with `x = 0` are of small order, so only `y` needs a look,
/// which spares compressing the point again (a field inversion).
fn strict_r(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !y_is_reduced(bytes) {
        return None;
    }
    let point = CompressedEdwardsY(*bytes).decompress()?;
    (!point.is_small_order()).then_some(point)
}

/// Whether the 255-bit `y` of an encoded point is below `p = 2^255 − 19`.
fn y_is_reduced(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    let all_ones_between = bytes[1..31].iter().all(|&b| b == 0xff);
    !(top == 0x7f && all_ones_between && bytes[0] >= 0xed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Identity;

    fn signed(n: usize) -> Vec<(PublicKey, Vec<u8>, [u8; 64])> {
        (0..n)
            .map(|i| {
                let identity = Identity::from_seed(&[i as u8 + 1; 32]);
                let message = format!("document {i}").into_bytes();
                let signature = identity.sign(&message);
                (identity.public_key(), message, signature)
            })
            .collect()
    }

    fn claims(items: &[(PublicKey, Vec<u8>, [u8; 64])]) -> Vec<Claim<'_>> {
        items
            .iter()
            .map(|(key, message, signature)| Claim {
                key,
                message,
                signature,
            })
            .collect()
    }

    #[test]
    fn a_batch_of_good_signatures_holds() {
        let items = signed(150);
        assert!(verify_all(&claims(&items)).iter().all(|&ok| ok));
    }

    #[test]
    fn bad_signatures_are_found_among_good_ones() {
        let mut items = signed(150);
        items[3].1.push(b'!');
        items[70].2[40] ^= 1;
        items[149].0 = items[0].0;
        let verdicts = verify_all(&claims(&items));
        for (i, ok) in verdicts.iter().enumerate() {
            assert_eq!(*ok, ![3, 70, 149].contains(&i), "claim {i}");
        }
    }

    #[test]
    fn a_small_order_r_is_refused_as_strict_verification_does() {
        let mut items = signed(2);
        // The identity point, of order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        items[1].2[..32].copy_from_slice(&identity);
        assert_eq!(verify_all(&claims(&items)), vec![true, false]);
    }

    #[test]
    fn a_non_canonical_s_is_refused() {
        let mut items = signed(3);
        items[2].2[63] |= 0xf0;
        assert_eq!(verify_all(&claims(&items)), vec![true, true, false]);
    }

    fn signed_by_one_key(n: usize) -> Vec<(PublicKey, Vec<u8>, [u8; 64])> {
        let identity = Identity::from_seed(&[9; 32]);
        (0..n)
            .map(|i| {
                let message = format!("listing {i}").into_bytes();
                let signature = identity.sign(&message);
                (identity.public_key(), message, signature)
            })
            .collect()
    }

    #[test]
    fn one_key_many_signatures_holds_and_a_bad_one_is_found() {
        let mut items = signed_by_one_key(300);
        assert!(verify_all(&claims(&items)).iter().all(|&ok| ok));
        items[257].1 = b"another listing".to_vec();
        let verdicts = verify_all(&claims(&items));
        for (i, ok) in verdicts.iter().enumerate() {
            assert_eq!(*ok, i != 257, "claim {i}");
        }
    }

    #[test]
    fn errors_that_cancel_out_in_an_unweighted_sum_are_caught() {
        let mut items = signed_by_one_key(4);
        let shift = |signature: &mut [u8; 64], by: Scalar| {
            let mut s = [0u8; 32];
            s.copy_from_slice(&signature[32..]);
            let moved = Scalar::from_canonical_bytes(s).unwrap() + by;
            signature[32..].copy_from_slice(moved.as_bytes());
        };
        shift(&mut items[1].2, Scalar::ONE);
        shift(&mut items[2].2, -Scalar::ONE);
        assert_eq!(verify_all(&claims(&items)), vec![true, false, false, true]);
    }

    #[test]
    fn an_unreduced_r_is_refused_as_strict_verification_does() {
        for low in 0xedu8..=0xff {
            for sign in [0u8, 0x80] {
                let mut bytes = [0xffu8; 32];
                bytes[0] = low;
                bytes[31] = 0x7f | sign;
                assert!(!y_is_reduced(&bytes));
                assert!(strict_r(&bytes).is_none());
                if let Some(point) = CompressedEdwardsY(bytes).decompress() {
                    assert_ne!(point.compress().0, bytes, "{bytes:?} is not canonical");
                }
            }
        }
        let mut below = [0xffu8; 32];
        below[0] = 0xec;
        below[31] = 0x7f;
        assert!(y_is_reduced(&below));
        for (_, _, signature) in signed(50) {
            let mut r = [0u8; 32];
            r.copy_from_slice(&signature[..32]);
            let point = strict_r(&r).expect("an honest R passes");
            assert_eq!(point.compress().0, r);
        }
    }

    #[test]
    fn verdicts_match_single_verification() {
        let mut items = signed(40);
        for (i, item) in items.iter_mut().enumerate() {
            if i % 5 == 0 {
                item.2[i % 64] ^= 0x10;
            }
        }
        let single: Vec<bool> = items.iter().map(|(k, m, s)| k.verify(m, s)).collect();
        assert_eq!(verify_all(&claims(&items)), single);
    }
}
