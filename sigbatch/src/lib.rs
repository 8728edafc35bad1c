//! Many signatures checked at once, with the same verdicts as one at a time.
//!
//! A node ingesting a market checks two signatures per listing, tens of
//! thousands in a row: the Nostr event's BIP-340 Schnorr signature
//! ([`bip340`]) and the manifest's Ed25519 signature ([`ed25519`]). One
//! equation over many signatures, each weighted by a random number, costs a
//! fraction of as many separate checks, and gives every signature the
//! verdict a single check gives.
//!
//! Both schemes share the three things here:
//!
//! - the random weights, drawn from the operating system once the claims
//!   are fixed, so a forger cannot aim at them;
//! - the search for a bad signature when an equation fails: the batch is
//!   split in two and each half checked again, until a part is smaller
//!   than [`SINGLE_BELOW`], whose claims are then checked one by one. A bad
//!   signature costs a few extra equations, not a check of every claim, and
//!   a batch full of bad signatures (a hostile relay) costs at most about
//!   one single check per claim plus the equations above the cut;
//! - the operator's [`Mode`]: batches on (the default), off everywhere (the
//!   kill switch), or on with the Schnorr equation's sum in AVX-512 IFMA
//!   lanes. Set once at start ([`set_mode`]), for example from
//!   `ARCHY_SIGNATURE_BATCH` ([`Mode::from_name`]).
//!
//! The crate depends on nothing else of the project, so the `unsafe` vector
//! code (`field_ifma`, `sum_ifma`) is reviewed, fuzzed and benchmarked on
//! its own.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

pub mod bip340;
pub mod ed25519;
#[cfg(target_arch = "x86_64")]
mod field_ifma;
mod glv;
mod lift;
#[cfg(target_arch = "x86_64")]
mod sum_ifma;

/// Parts of a failed equation at most this large are not split further:
/// their claims get single checks. Splitting a small part costs about as
/// much as checking its claims, and a hostile relay's batch full of bad
/// signatures would otherwise cost two equations per claim on top.
pub const SINGLE_BELOW: usize = 16;

/// How signatures are checked, chosen by the node's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every signature checked alone (libsecp256k1, ed25519-dalek): the
    /// kill switch, for an operator who distrusts the batch code.
    Single,
    /// Batch equations in portable arithmetic only (k256,
    /// curve25519-dalek); no IFMA lanes. The default.
    #[default]
    Batch,
    /// As [`Mode::Batch`], and the Schnorr equation's `R` lifts and bucket
    /// sum run in AVX-512 IFMA lanes where the CPU has them (about five
    /// times as fast; k256 checks every root the lanes give, but a wrong
    /// bucket sum that is a curve point would not be caught, so it is off
    /// unless asked for).
    BatchWithLanes,
}

impl Mode {
    /// The names an operator writes: `off`, `on` and `ifma`.
    pub const NAMES: [&'static str; 3] = ["off", "on", "ifma"];

    /// Reads an operator's name for a mode (`off`, `on`, `ifma`); `None`
    /// for anything else, which the caller reports with its own context.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Self::Single),
            "on" => Some(Self::Batch),
            "ifma" => Some(Self::BatchWithLanes),
            _ => None,
        }
    }

    /// The name an operator writes for this mode.
    pub fn name(self) -> &'static str {
        match self {
            Self::Single => "off",
            Self::Batch => "on",
            Self::BatchWithLanes => "ifma",
        }
    }

    /// Whether the Schnorr bucket sum may use IFMA lanes: asked for, and
    /// the CPU has them.
    #[cfg(target_arch = "x86_64")]
    fn sums_in_lanes(self) -> bool {
        self == Self::BatchWithLanes && field_ifma::available()
    }
}

/// A name that is not a mode's, with the names that are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a signature-batch mode: use one of {}",
            self.0,
            Mode::NAMES.join(", ")
        )
    }
}

impl std::error::Error for UnknownMode {}

/// Reads an operator's name for a mode, as command lines and the
/// environment give it.
impl std::str::FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(text: &str) -> Result<Self, UnknownMode> {
        Self::from_name(text).ok_or_else(|| UnknownMode(text.to_owned()))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The process's mode, as a [`Mode`]'s index; [`Mode::Batch`] until set.
static MODE: AtomicU8 = AtomicU8::new(1);

/// Sets how every later check in this process is made. A process-wide
/// setting, since it answers an operator's question about this machine's
/// CPU and this build's code, not about one node.
pub fn set_mode(mode: Mode) {
    let index = match mode {
        Mode::Single => 0,
        Mode::Batch => 1,
        Mode::BatchWithLanes => 2,
    };
    MODE.store(index, Ordering::Relaxed);
}

/// How checks are made now ([`set_mode`]).
pub fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        0 => Mode::Single,
        2 => Mode::BatchWithLanes,
        _ => Mode::Batch,
    }
}

/// Whether the AVX-512 IFMA lanes can run on this CPU, for tests that must
/// say they were skipped where they cannot.
pub fn lanes_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        field_ifma::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
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

/// What the checks before a batch equation made of one claim.
enum Prepared<T> {
    /// Single verification refuses it too, for a reason seen before any
    /// equation (a point that does not decode, an unreduced scalar).
    Refused,
    /// It must be checked alone: a batch equation could give it another
    /// verdict than a single check does (an Ed25519 point with a small
    /// torsion component).
    Alone,
    /// Decoded for the batch equation.
    Batched(T),
}

/// A claim decoded for a batch equation, with its index among the claims
/// and its random weight.
struct Weighed<T> {
    claim: usize,
    weight: u128,
    decoded: T,
}

/// Decides every claim: in [`Mode::Single`] each by `single`; otherwise
/// refused or sent to `single` as `prepare` says, and the rest weighed and
/// put, `size` at a time, to the equation `holds` checks. `single` also
/// decides where no randomness can be had to weigh with.
fn verify_claims<C, T>(
    claims: &[C],
    mode: Mode,
    size: usize,
    prepare: impl Fn(&C) -> Prepared<T>,
    holds: impl Fn(&[Weighed<T>]) -> bool,
    single: impl Fn(&C) -> bool,
) -> Vec<bool> {
    if mode == Mode::Single {
        return claims.iter().map(single).collect();
    }
    let mut verdicts = vec![false; claims.len()];
    let mut decoded: Vec<(usize, T)> = Vec::with_capacity(claims.len());
    for (i, claim) in claims.iter().enumerate() {
        match prepare(claim) {
            Prepared::Refused => {}
            Prepared::Alone => verdicts[i] = single(claim),
            Prepared::Batched(d) => decoded.push((i, d)),
        }
    }
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
/// says their equation holds; else, for a part of at most
/// [`SINGLE_BELOW`] claims, each by `single`, and for a larger one half by
/// half.
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
        _ if batch.len() <= SINGLE_BELOW => {
            for item in batch {
                verdicts[item.claim] = single(&claims[item.claim]);
            }
        }
        _ => {
            let (left, right) = batch.split_at(batch.len() / 2);
            settle(claims, left, verdicts, holds, single);
            settle(claims, right, verdicts, holds, single);
        }
    }
}

/// Says on the test output that `test` skipped a part, and why. Written to
/// the standard error stream itself, which the test harness does not
/// capture, so `cargo test` shows it even when the test passes.
#[cfg(test)]
fn say_skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A claim is a number; it holds when even. An equation holds when all
    /// its claims do, and counts how often it was asked.
    fn decide(
        claims: &[u32],
        mode: Mode,
        equations: &Cell<usize>,
        singles: &Cell<usize>,
    ) -> Vec<bool> {
        verify_claims(
            claims,
            mode,
            512,
            |&c| {
                if c == 1 {
                    Prepared::Refused
                } else if c == 3 {
                    Prepared::Alone
                } else {
                    Prepared::Batched(c)
                }
            },
            |batch: &[Weighed<u32>]| {
                equations.set(equations.get() + 1);
                batch.iter().all(|w| w.decoded % 2 == 0)
            },
            |&c| {
                singles.set(singles.get() + 1);
                c % 2 == 0
            },
        )
    }

    #[test]
    fn a_failed_part_of_sixteen_or_fewer_goes_to_single_checks_not_pairs() {
        let mut claims = vec![2u32; 64];
        claims[5] = 5;
        let (equations, singles) = (Cell::new(0), Cell::new(0));
        let verdicts = decide(&claims, Mode::Batch, &equations, &singles);
        assert!(verdicts.iter().enumerate().all(|(i, &ok)| ok == (i != 5)));
        // 64, then 32 + 32, then 16 + 16 (the halves of the bad 32): five
        // equations in all, then the failed 16 checked alone.
        assert_eq!(equations.get(), 5);
        assert_eq!(singles.get(), SINGLE_BELOW);
    }

    #[test]
    fn a_batch_of_bad_claims_costs_about_one_single_check_each() {
        let claims = vec![7u32; 512];
        let (equations, singles) = (Cell::new(0), Cell::new(0));
        let verdicts = decide(&claims, Mode::Batch, &equations, &singles);
        assert!(verdicts.iter().all(|&ok| !ok));
        assert_eq!(singles.get(), 512);
        // 1 + 2 + 4 + 8 + 16 + 32 equations down to parts of 16.
        assert_eq!(equations.get(), 63);
    }

    #[test]
    fn refused_claims_are_not_checked_and_claims_kept_apart_are_checked_alone() {
        let (equations, singles) = (Cell::new(0), Cell::new(0));
        let verdicts = decide(&[2, 1, 3, 4], Mode::Batch, &equations, &singles);
        assert_eq!(verdicts, vec![true, false, false, true]);
        assert_eq!((equations.get(), singles.get()), (1, 1));
    }

    #[test]
    fn the_kill_switch_checks_every_claim_alone() {
        let (equations, singles) = (Cell::new(0), Cell::new(0));
        let verdicts = decide(&[2, 1, 3, 4, 6], Mode::Single, &equations, &singles);
        assert_eq!(verdicts, vec![true, false, false, true, true]);
        assert_eq!((equations.get(), singles.get()), (0, 5));
    }

    #[test]
    fn operators_name_the_modes_off_on_and_ifma() {
        for name in Mode::NAMES {
            let mode = Mode::from_name(name).expect("a listed name");
            assert_eq!(mode.name(), name);
        }
        assert_eq!(Mode::from_name(" OFF "), Some(Mode::Single));
        assert_eq!(Mode::from_name("fast"), None);
        assert_eq!(
            "fast".parse::<Mode>().unwrap_err().to_string(),
            "'fast' is not a signature-batch mode: use one of off, on, ifma"
        );
    }
}
