//! Many Ed25519 signatures checked at once.
//!
//! A node ingesting a market checks one manifest signature per listing, tens
//! of thousands in a row. One batch equation over 64 signatures costs about
//! half of 64 separate checks. The answer is the one [`PublicKey::verify`]
//! gives (strict rules) for every honest signature:
//!
//! - before the batch, each signature is held to what strict verification
//!   adds: a canonical `s` (checked by the batch itself), an `R` that
//!   decodes, is encoded canonically and is not of small order; the key is
//!   never of small order ([`PublicKey`] refuses those);
//! - a batch that fails is split in two and each half checked again, down
//!   to single signatures, which get [`PublicKey::verify`]. A bad signature
//!   costs about `log2(n)` extra batches, not `n` single checks.
//!
//! The batch equation is cofactorless, like single verification. Only a
//! signer who deliberately builds its own key or `R` with a small torsion
//! component can make a signature whose batch and single verdicts differ,
//! and only over its own documents; no one can sign for a key they do not
//! hold.

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::Signature;

use crate::did::PublicKey;

/// Signatures per batch equation: larger batches gain little, and a bad
/// signature costs more checks to find in them.
const BATCH: usize = 64;

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

/// Checks every claim; `result[i]` is whether `claims[i]` holds, exactly as
/// [`PublicKey::verify`] would say for it.
pub fn verify_all(claims: &[Claim<'_>]) -> Vec<bool> {
    let mut verdicts = vec![false; claims.len()];
    let eligible: Vec<usize> = (0..claims.len())
        .filter(|&i| strict_r(claims[i].signature))
        .collect();
    for chunk in eligible.chunks(BATCH) {
        settle(claims, chunk, &mut verdicts);
    }
    verdicts
}

/// Decides the claims at `indices`: all at once if the batch holds, else
/// half by half.
fn settle(claims: &[Claim<'_>], indices: &[usize], verdicts: &mut [bool]) {
    match indices {
        [] => {}
        [one] => {
            let claim = &claims[*one];
            verdicts[*one] = claim.key.verify(claim.message, claim.signature);
        }
        _ if batch_holds(claims, indices) => {
            for &i in indices {
                verdicts[i] = true;
            }
        }
        _ => {
            let (left, right) = indices.split_at(indices.len() / 2);
            settle(claims, left, verdicts);
            settle(claims, right, verdicts);
        }
    }
}

fn batch_holds(claims: &[Claim<'_>], indices: &[usize]) -> bool {
    let messages: Vec<&[u8]> = indices.iter().map(|&i| claims[i].message).collect();
    let signatures: Vec<Signature> = indices
        .iter()
        .map(|&i| Signature::from_bytes(claims[i].signature))
        .collect();
    let keys: Vec<_> = indices
        .iter()
        .map(|&i| *claims[i].key.verifying_key())
        .collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

/// What strict verification demands of `R` beyond the equation: it decodes
/// to a point, is that point's canonical encoding, and is not of small order.
fn strict_r(signature: &[u8; 64]) -> bool {
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    let compressed = CompressedEdwardsY(r);
    compressed
        .decompress()
        .is_some_and(|point| !point.is_small_order() && point.compress() == compressed)
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
