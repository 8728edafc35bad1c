//! Many signatures checked at once.
//!
//! A node ingesting a market checks two signatures per listing, tens of
//! thousands in a row: the Nostr event's BIP-340 Schnorr signature
//! ([`bip340`]) and the manifest's Ed25519 signature ([`ed25519`]). One
//! equation over many signatures, each weighted by a random number, costs a
//! fraction of as many separate checks, and gives every honest signature
//! the verdict a single check gives.
//!
//! Both schemes share the two things here: the random weights, drawn from
//! the operating system once the claims are fixed, so a forger cannot aim
//! at them; and the search for a bad signature when an equation fails,
//! which splits the batch in two and checks each half again, down to single
//! signatures. A bad signature costs about `log2(n)` extra equations, not
//! `n` single checks.

pub mod bip340;
pub mod ed25519;
#[cfg(target_arch = "x86_64")]
mod field_ifma;
mod glv;
mod lift;
#[cfg(target_arch = "x86_64")]
mod sum_ifma;

/// One random 128-bit weight per claim; `None` if the system has no
/// randomness to give, and the claims must be checked one by one.
fn weights(count: usize) -> Option<Vec<u128>> {
    let mut random = vec![0u8; 16 * count];
    getrandom::fill(&mut random).ok()?;
    Some(
        random
            .chunks_exact(16)
            .map(|bytes| {
                let mut weight = [0u8; 16];
                weight.copy_from_slice(bytes);
                u128::from_le_bytes(weight)
            })
            .collect(),
    )
}

/// A claim decoded for a batch equation, with its index among the claims
/// and its random weight.
struct Weighed<T> {
    claim: usize,
    weight: u128,
    decoded: T,
}

/// Decides every claim: refused if `decode` refuses it, else weighed and
/// put, `size` at a time, to the equation `holds` checks; `single` decides
/// where the equation cannot (one claim, or no randomness to weigh with).
fn verify_claims<C, T>(
    claims: &[C],
    size: usize,
    decode: impl Fn(&C) -> Option<T>,
    holds: impl Fn(&[Weighed<T>]) -> bool,
    single: impl Fn(&C) -> bool,
) -> Vec<bool> {
    let mut verdicts = vec![false; claims.len()];
    let decoded: Vec<(usize, T)> = claims
        .iter()
        .enumerate()
        .filter_map(|(i, claim)| decode(claim).map(|d| (i, d)))
        .collect();
    let Some(weights) = weights(decoded.len()) else {
        for (claim, _) in decoded {
            verdicts[claim] = single(&claims[claim]);
        }
        return verdicts;
    };
    let weighed: Vec<Weighed<T>> = decoded
        .into_iter()
        .zip(weights)
        .map(|((claim, decoded), weight)| Weighed {
            claim,
            weight,
            decoded,
        })
        .collect();
    for chunk in weighed.chunks(size) {
        settle(claims, chunk, &mut verdicts, &holds, &single);
    }
    verdicts
}

/// Decides the claims in `batch` into `verdicts`: all at once if `holds`
/// says their equation holds, else half by half, down to one claim, which
/// `single` decides.
fn settle<C, T>(
    claims: &[C],
    batch: &[Weighed<T>],
    verdicts: &mut [bool],
    holds: &impl Fn(&[Weighed<T>]) -> bool,
    single: &impl Fn(&C) -> bool,
) {
    match batch {
        [] => {}
        [one] => verdicts[one.claim] = single(&claims[one.claim]),
        _ if holds(batch) => {
            for item in batch {
                verdicts[item.claim] = true;
            }
        }
        _ => {
            let (left, right) = batch.split_at(batch.len() / 2);
            settle(claims, left, verdicts, holds, single);
            settle(claims, right, verdicts, holds, single);
        }
    }
}
