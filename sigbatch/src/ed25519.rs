//! Many Ed25519 signatures checked at once: the manifests' signatures.
//!
//! The answer is the one ed25519-dalek's `verify_strict` gives for every
//! signature:
//!
//! - before the batch, each signature is held to what strict verification
//!   adds: a canonical `s`, an `R` that decodes, is encoded canonically and
//!   is not of small order, and a key not of small order;
//! - a batch that fails is split in two until the bad signatures are
//!   found, and single signatures get `verify_strict`.
//!
//! The equation is ed25519-dalek's `verify_batch` (random 128-bit weights
//! `z`, cofactorless: `Σz·s·B = Σz·R + Σz·k·A`), built here so that it
//! reuses the `R` points the strict checks already decoded and adds up the
//! terms of one key: a publisher's listings arrive together, so a batch
//! holds few distinct keys, and each costs one point in the sum, not one
//! per signature.
//!
//! A cofactorless equation over many signatures can disagree with single
//! checks where a point has a small torsion component (a multiple of a
//! point of order 2, 4 or 8 added to it): a signer who builds its `R` or
//! its key that way makes a signature that single verification refuses
//! (or, for a key, accepts for some messages), while the torsion parts of
//! a batch cancel out whenever their weights are multiples of their order,
//! by chance one time in two to eight. So an `R` or key that is not
//! torsion-free is never put in an equation: its claim is checked alone.
//! Honest keys and nonces are multiples of the base point, so this changes
//! no honest verdict, but it costs a multiplication by the group order per
//! `R` (and per distinct key): about half a single check, which leaves a
//! batch only a little cheaper than checking each signature alone. A
//! cheaper exact test (point halving from square roots) would be field
//! arithmetic written by hand; no maintained crate offers it.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

use crate::{Mode, Prepared, Weighed, verify_claims};

/// Signatures per batch equation. Past about 190 points the sum switches to
/// Pippenger's method, whose cost per point keeps falling with size; much
/// larger batches gain little more, and a bad signature costs more checks
/// to find in them.
const BATCH: usize = 256;

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// Who claims to have signed.
    pub key: &'a VerifyingKey,
    /// What was signed.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8; 64],
}

/// A claim that passed the strict checks, decoded for the batch equation.
struct Decoded<'a> {
    /// The signer's key.
    key: &'a VerifyingKey,
    /// The signature's `R`.
    r: EdwardsPoint,
    /// The signature's `s`.
    s: Scalar,
    /// `k = H(R || A || M)`.
    k: Scalar,
}

impl Claim<'_> {
    /// Strict verification of this one signature: what a batch falls back
    /// on, and its reference.
    pub fn holds_alone(&self) -> bool {
        self.key
            .verify_strict(self.message, &Signature::from_bytes(self.signature))
            .is_ok()
    }
}

/// Checks every claim in the process's [`crate::mode`]; `result[i]` is
/// whether `claims[i]` holds, exactly as [`Claim::holds_alone`] says.
pub fn verify_all(claims: &[Claim<'_>]) -> Vec<bool> {
    verify_all_in(claims, crate::mode())
}

/// [`verify_all`] in a given mode, whatever the process's.
pub fn verify_all_in(claims: &[Claim<'_>], mode: Mode) -> Vec<bool> {
    if mode == Mode::Single {
        return claims.iter().map(Claim::holds_alone).collect();
    }
    // Whether each distinct key is torsion-free: one multiplication by the
    // group order per key, not per signature.
    let mut keys_torsion_free: HashMap<[u8; 32], bool> = HashMap::new();
    for claim in claims {
        keys_torsion_free
            .entry(claim.key.to_bytes())
            .or_insert_with(|| torsion_free(&claim.key.to_edwards()));
    }
    verify_claims(
        claims,
        mode,
        BATCH,
        |claim| prepare(claim, keys_torsion_free[&claim.key.to_bytes()]),
        equation_holds,
        Claim::holds_alone,
    )
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
        let key = decoded.key;
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
/// and the values the equation needs: refused if it fails those demands
/// (single verification refuses it too), checked alone if its `R` or its
/// key (`key_torsion_free`) has a torsion component.
fn prepare<'a>(claim: &Claim<'a>, key_torsion_free: bool) -> Prepared<Decoded<'a>> {
    if claim.key.is_weak() {
        return Prepared::Refused;
    }
    let (r_bytes, s_bytes) = claim.signature.split_at(32);
    let (Ok(r_bytes), Ok(s_bytes)) = (<[u8; 32]>::try_from(r_bytes), <[u8; 32]>::try_from(s_bytes))
    else {
        return Prepared::Refused;
    };
    let Some(r) = strict_r(&r_bytes) else {
        return Prepared::Refused;
    };
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
        return Prepared::Refused;
    };
    if !key_torsion_free || !torsion_free(&r) {
        return Prepared::Alone;
    }
    let hash = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(claim.key.as_bytes())
        .chain_update(claim.message)
        .finalize();
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&hash);
    Prepared::Batched(Decoded {
        key: claim.key,
        r,
        s,
        k: Scalar::from_bytes_mod_order_wide(&wide),
    })
}

/// Whether `point` has no torsion component: `[ℓ]P = 0`, computed as
/// `[ℓ − 1]P + P` in variable time (the points are public), about a
/// quarter faster than curve25519-dalek's constant-time
/// `is_torsion_free`. The multiplication takes the scalar's canonical
/// integer, so it is exact for any curve point, torsion or not.
fn torsion_free(point: &EdwardsPoint) -> bool {
    let minus_one = -Scalar::ONE;
    (EdwardsPoint::vartime_multiscalar_mul([minus_one], [*point]) + point).is_identity()
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
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    type Item = (VerifyingKey, Vec<u8>, [u8; 64]);

    fn sign(seed: u8, message: &[u8]) -> Item {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let signature = key.sign(message).to_bytes();
        (key.verifying_key(), message.to_vec(), signature)
    }

    fn signed(n: usize) -> Vec<Item> {
        (0..n)
            .map(|i| sign(i as u8 + 1, format!("document {i}").as_bytes()))
            .collect()
    }

    fn claims(items: &[Item]) -> Vec<Claim<'_>> {
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

    fn signed_by_one_key(n: usize) -> Vec<Item> {
        (0..n)
            .map(|i| sign(9, format!("listing {i}").as_bytes()))
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
        let single: Vec<bool> = claims(&items).iter().map(Claim::holds_alone).collect();
        assert_eq!(verify_all(&claims(&items)), single);
    }

    /// A signature by the secret scalar `a` whose nonce point is `r·B + t`:
    /// `t` is a torsion point the signer chose to add to its `R`, or to its
    /// key when `key_torsion` is set.
    fn signed_with_torsion(i: u64, t: EdwardsPoint, key_torsion: bool) -> Item {
        let a = Scalar::from(1000 + i);
        let r = Scalar::from(77 + 3 * i);
        let key_point = a * ED25519_BASEPOINT_POINT
            + if key_torsion {
                t
            } else {
                EdwardsPoint::default()
            };
        let r_point = r * ED25519_BASEPOINT_POINT
            + if key_torsion {
                EdwardsPoint::default()
            } else {
                t
            };
        let key = VerifyingKey::from_bytes(&key_point.compress().0).expect("a curve point");
        let message = format!("manifest {i}").into_bytes();
        let r_bytes = r_point.compress().0;
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(r_bytes)
                .chain_update(key.as_bytes())
                .chain_update(&message)
                .finalize()
                .into(),
        );
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&r_bytes);
        signature[32..].copy_from_slice((r + k * a).as_bytes());
        (key, message, signature)
    }

    /// Each torsion point of order 2, 4 and 8, added to `R` or to the key,
    /// in batches of honest signatures, many times over: with weights drawn
    /// afresh each time, a cofactorless equation that let such a claim in
    /// would pass it about one time in two to eight.
    #[test]
    fn a_small_order_component_in_r_or_the_key_gets_the_single_verdict() {
        for key_torsion in [false, true] {
            for t in [EIGHT_TORSION[4], EIGHT_TORSION[2], EIGHT_TORSION[1]] {
                for round in 0..16u64 {
                    let mut items = signed_by_one_key(20);
                    items.insert(7, signed_with_torsion(round, t, key_torsion));
                    items.insert(13, signed_with_torsion(round + 100, t, key_torsion));
                    let single: Vec<bool> = claims(&items).iter().map(Claim::holds_alone).collect();
                    assert!(single.iter().filter(|&&ok| ok).count() >= 20);
                    if !key_torsion {
                        assert!(
                            !single[7] && !single[13],
                            "single checks refuse a torsion R"
                        );
                    }
                    assert_eq!(
                        verify_all_in(&claims(&items), Mode::Batch),
                        single,
                        "torsion {t:?} in {}, round {round}",
                        if key_torsion { "the key" } else { "R" }
                    );
                }
            }
        }
    }

    #[test]
    fn the_kill_switch_gives_the_same_verdicts() {
        let mut items = signed(30);
        items[4].2[9] ^= 1;
        items.push(signed_with_torsion(1, EIGHT_TORSION[4], false));
        let single: Vec<bool> = claims(&items).iter().map(Claim::holds_alone).collect();
        assert_eq!(verify_all_in(&claims(&items), Mode::Single), single);
        assert_eq!(verify_all_in(&claims(&items), Mode::Batch), single);
    }
}
