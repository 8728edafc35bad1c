//! Many BIP-340 Schnorr signatures checked at once: the Nostr events'.
//!
//! This is the batch verification BIP-340 itself specifies. A signature
//! `(r, s)` by key `P` over message `m` holds when `s·G = R + e·P`, where
//! `R` is the point with x-coordinate `r` and an even y, and
//! `e = H(r || P || m)` is the tagged challenge hash. With a random weight
//! `a` for each signature, one equation checks them all:
//!
//! `(Σ a·s)·G = Σ a·R + Σ_P (Σ a·e)·P`
//!
//! The terms of one key are added up before the multiplication. A
//! publisher's events arrive together, so a batch holds few distinct keys,
//! and each costs one point in the sum, not one per signature.
//!
//! Before the equation, each signature is held to the rules single
//! verification also applies: `r` below the field size and the x of a
//! curve point, `s` below the group order, and the key the x of a curve
//! point ([`XOnlyKey`]). When all of them hold, the equation holds exactly
//! when every signature does. The one exception is chance: a random 128-bit
//! weight lets a batch with a bad signature pass with probability 2⁻¹²⁸.
//! The curve has prime order, so there is no cofactor to leave a gap
//! between batch and single verdicts.
//!
//! Single signatures, and the bad ones a failed batch is split down to,
//! are checked by libsecp256k1, the implementation the rest of Nostr uses.
//! The points are k256's. The sum is Pippenger's bucket method with signed
//! digits, whose cost per point falls as the batch grows; the keys' and
//! `G`'s full-size scalars are split in halves by the curve's endomorphism
//! (the `glv` module), so every digit position past bit 128 is left out.
//! In [`Mode::BatchWithLanes`], on a CPU with AVX-512 IFMA, the `R`s are
//! lifted (the `lift` module) and the buckets added to (the `sum_ifma`
//! module) sixteen at a time.

use std::collections::HashMap;
use std::sync::LazyLock;

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::group::Group;
use k256::elliptic_curve::ops::Reduce;
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use nostr::SECP256K1;
use nostr::secp256k1::schnorr::Signature;
use nostr::secp256k1::{Message, XOnlyPublicKey};
use sha2::{Digest, Sha256};

use crate::{Mode, Prepared, Weighed, glv, lift, verify_claims};
#[cfg(target_arch = "x86_64")]
use crate::{
    field_ifma,
    sum_ifma::{self, Term},
};

/// Signatures per equation. Pippenger's cost per point keeps falling with
/// size, but slowly past a few hundred, while a bad signature costs more
/// equations to find in a larger batch.
const BATCH: usize = 512;

/// A Nostr public key: the x-coordinate of a curve point whose y is even,
/// decoded once (a square root) for the batch equation and for single
/// checks.
#[derive(Debug, Clone)]
pub struct XOnlyKey {
    /// The 32 bytes of x.
    bytes: [u8; 32],
    /// The point, for the batch equation.
    point: AffinePoint,
    /// The key as libsecp256k1 takes it, for single checks.
    single: XOnlyPublicKey,
}

impl XOnlyKey {
    /// Decodes a key; `None` if the bytes are not the x-coordinate of a
    /// curve point, which no signature can verify under.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let single = XOnlyPublicKey::from_slice(bytes).ok()?;
        let point = lift::lift_x(bytes)?;
        Some(Self {
            bytes: *bytes,
            point,
            single,
        })
    }
}

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// Who claims to have signed.
    pub key: &'a XOnlyKey,
    /// The 32-byte message signed (a Nostr event's id).
    pub message: &'a [u8; 32],
    /// The signature, `r || s`.
    pub signature: &'a [u8; 64],
}

impl Claim<'_> {
    /// BIP-340 verification of this one signature, by libsecp256k1: what a
    /// batch falls back on, and what checking one event without a batch
    /// costs.
    pub fn holds_alone(&self) -> bool {
        Signature::from_slice(self.signature).is_ok_and(|signature| {
            SECP256K1
                .verify_schnorr(
                    &signature,
                    &Message::from_digest(*self.message),
                    &self.key.single,
                )
                .is_ok()
        })
    }
}

/// A claim that passed the checks on `r` and `s`, decoded for the batch
/// equation.
struct Decoded<'a> {
    /// The signer's key.
    key: &'a XOnlyKey,
    /// The point `R`.
    r: AffinePoint,
    /// `s`.
    s: Scalar,
    /// The challenge `e = H(r || P || m)`.
    e: Scalar,
}

/// Checks every claim in the process's [`crate::mode`]; `result[i]` is
/// whether `claims[i]` holds, as single BIP-340 verification says.
pub fn verify_all(claims: &[Claim<'_>]) -> Vec<bool> {
    verify_all_in(claims, crate::mode())
}

/// [`verify_all`] in a given mode, whatever the process's.
pub fn verify_all_in(claims: &[Claim<'_>], mode: Mode) -> Vec<bool> {
    if mode == Mode::Single {
        return claims.iter().map(Claim::holds_alone).collect();
    }
    #[cfg(target_arch = "x86_64")]
    let lanes = mode.sums_in_lanes();
    #[cfg(not(target_arch = "x86_64"))]
    let lanes = false;
    let rs: Vec<[u8; 32]> = claims.iter().map(|claim| r_of(claim.signature)).collect();
    let lifted: Vec<(&Claim<'_>, Option<AffinePoint>)> =
        claims.iter().zip(lift::lift_all(&rs, lanes)).collect();
    verify_claims(
        &lifted,
        mode,
        BATCH,
        |(claim, r)| decode(claim, *r).map_or(Prepared::Refused, Prepared::Batched),
        |batch| equation_holds(batch, lanes),
        |(claim, _)| claim.holds_alone(),
    )
}

/// A signature's `r`: the x-coordinate of its point `R`.
fn r_of(signature: &[u8; 64]) -> [u8; 32] {
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    r
}

/// `Σ a·R + Σ_P (Σ a·e)·P − (Σ a·s)·G = 0`, with the terms of each key
/// added up before the multiplication.
///
/// The weights are 128-bit, and the full-size scalars of the keys and of
/// `G` are split in two 128-bit halves ([`glv`]), so no term needs digits
/// past bit 128. `lanes`: whether the sum may run in IFMA lanes
/// ([`Mode::BatchWithLanes`] on a CPU that has them).
fn equation_holds(batch: &[Weighed<Decoded<'_>>], lanes: bool) -> bool {
    let mut rs: Vec<(AffinePoint, Scalar)> = Vec::with_capacity(batch.len());
    let mut keys: Vec<(AffinePoint, Scalar)> = Vec::new();
    let mut key_slots: HashMap<[u8; 32], usize> = HashMap::new();
    let mut base_weight = Scalar::ZERO;
    for item in batch {
        let a = Scalar::from(item.weight);
        let decoded = &item.decoded;
        let key = decoded.key;
        base_weight -= a * decoded.s;
        rs.push((decoded.r, a));
        let slot = *key_slots.entry(key.bytes).or_insert_with(|| {
            keys.push((key.point, Scalar::ZERO));
            keys.len() - 1
        });
        keys[slot].1 += a * decoded.e;
    }
    keys.push((AffinePoint::GENERATOR, base_weight));
    #[cfg(target_arch = "x86_64")]
    if lanes && let Some(sum) = sum_in_lanes(&rs, &keys) {
        return sum.is_identity().into();
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = lanes;
    let mut terms: Vec<(Point, Scalar)> =
        rs.into_iter().map(|(r, a)| (Point::Affine(r), a)).collect();
    for (point, weight) in keys {
        let [k1, k2] = glv::split(&weight);
        let point_k1 = if k1.negative { -point } else { point };
        let lambda_point = ProjectivePoint::from(point).endomorphism();
        let point_k2 = if k2.negative {
            -lambda_point
        } else {
            lambda_point
        };
        terms.push((Point::Affine(point_k1), k1.size));
        terms.push((Point::Projective(point_k2), k2.size));
    }
    sum_of_multiples(&terms).is_identity().into()
}

/// The equation's sum with the buckets in IFMA lanes
/// ([`sum_ifma`]); `None` where the CPU has no IFMA or the lanes give no
/// answer.
#[cfg(target_arch = "x86_64")]
fn sum_in_lanes(
    rs: &[(AffinePoint, Scalar)],
    keys: &[(AffinePoint, Scalar)],
) -> Option<ProjectivePoint> {
    if !field_ifma::available() {
        return None;
    }
    let mut terms: Vec<Term> = rs.iter().map(|(r, a)| Term::of(r, *a)).collect();
    for (point, weight) in keys {
        let [k1, k2] = glv::split(weight);
        let signed = |negative: bool| if negative { -*point } else { *point };
        terms.push(Term::of(&signed(k1.negative), k1.size));
        terms.push(Term::of(&signed(k2.negative), k2.size).endomorphism());
    }
    // SAFETY: `available` says the CPU has AVX-512F and IFMA.
    unsafe { sum_ifma::sum(&terms) }
}

/// A point of the bucket sum: the signatures' `R`s and the keys are
/// affine, which makes adding them cheaper; a key's `λ·P` is projective,
/// since making it affine would cost an inversion.
#[derive(Debug, Clone, Copy)]
enum Point {
    Affine(AffinePoint),
    Projective(ProjectivePoint),
}

impl Point {
    /// Adds this point, or its negation, to `bucket`.
    fn add_to(&self, bucket: &mut ProjectivePoint, negate: bool) {
        match (self, negate) {
            (Self::Affine(p), false) => *bucket += p,
            (Self::Affine(p), true) => *bucket += &-*p,
            (Self::Projective(p), false) => *bucket += p,
            (Self::Projective(p), true) => *bucket += &-*p,
        }
    }

    /// This point, or its negation.
    fn signed(&self, negate: bool) -> ProjectivePoint {
        let point = match self {
            Self::Affine(p) => ProjectivePoint::from(*p),
            Self::Projective(p) => *p,
        };
        if negate { -point } else { point }
    }
}

/// The checks single verification makes on `r` and `s` before its
/// equation, and the values the batch equation needs; `None` if they fail
/// (single verification refuses the signature too). `r` is the claim's
/// `R`, lifted ([`lift::lift_all`]); `None` if its x is not on the curve.
fn decode<'a>(claim: &Claim<'a>, r: Option<AffinePoint>) -> Option<Decoded<'a>> {
    let r = r?;
    let r_bytes = r_of(claim.signature);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&claim.signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(s_bytes)))?;
    let hash: [u8; 32] = CHALLENGE
        .clone()
        .chain_update(r_bytes)
        .chain_update(claim.key.bytes)
        .chain_update(claim.message)
        .finalize()
        .into();
    let e = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(hash));
    Some(Decoded {
        key: claim.key,
        r,
        s,
        e,
    })
}

/// SHA-256 primed with BIP-340's "BIP0340/challenge" tag, twice.
static CHALLENGE: LazyLock<Sha256> = LazyLock::new(|| {
    let tag = Sha256::digest(b"BIP0340/challenge");
    Sha256::new().chain_update(tag).chain_update(tag)
});

/// `Σ k·P` over `terms`, by Pippenger's bucket method: the scalars are cut
/// into signed digits of a few bits, and for each digit position every
/// point goes into the bucket of its digit, so one addition per point and
/// position does the work of a multiplication.
fn sum_of_multiples(terms: &[(Point, Scalar)]) -> ProjectivePoint {
    let width = digit_width(terms.len());
    let positions = 256usize.div_ceil(width) + 1;
    let mut digits = vec![0i16; positions * terms.len()];
    for ((_, scalar), row) in terms.iter().zip(digits.chunks_exact_mut(positions)) {
        signed_digits(scalar, width, row);
    }
    let top = (0..positions)
        .rev()
        .find(|&p| digits.iter().skip(p).step_by(positions).any(|&d| d != 0));
    let Some(top) = top else {
        return ProjectivePoint::IDENTITY;
    };
    let mut buckets = vec![ProjectivePoint::IDENTITY; 1 << (width - 1)];
    let mut filled = vec![false; buckets.len()];
    let mut total = ProjectivePoint::IDENTITY;
    for position in (0..=top).rev() {
        for _ in 0..width {
            total = total.double();
        }
        filled.fill(false);
        for ((point, _), row) in terms.iter().zip(digits.chunks_exact(positions)) {
            let digit = row[position];
            if digit == 0 {
                continue;
            }
            let slot = usize::from(digit.unsigned_abs()) - 1;
            if filled[slot] {
                point.add_to(&mut buckets[slot], digit < 0);
            } else {
                buckets[slot] = point.signed(digit < 0);
                filled[slot] = true;
            }
        }
        total += bucket_sum(&buckets, &filled);
    }
    total
}

/// `Σ (j+1)·buckets[j]` over the filled buckets, as running sums from the
/// top: two additions per bucket, none for the empty ones above the
/// highest filled.
fn bucket_sum(buckets: &[ProjectivePoint], filled: &[bool]) -> ProjectivePoint {
    let mut running: Option<ProjectivePoint> = None;
    let mut sum: Option<ProjectivePoint> = None;
    for (bucket, &full) in buckets.iter().zip(filled).rev() {
        if full {
            running = Some(running.map_or(*bucket, |r| r + bucket));
        }
        if let Some(r) = running {
            sum = Some(sum.map_or(r, |s| s + r));
        }
    }
    sum.unwrap_or(ProjectivePoint::IDENTITY)
}

/// Bits per digit for a sum of `terms` points: wider digits mean fewer
/// positions but more buckets to add up at each.
fn digit_width(terms: usize) -> usize {
    match terms {
        0..=15 => 3,
        16..=63 => 4,
        64..=191 => 5,
        192..=447 => 6,
        448..=1279 => 7,
        _ => 8,
    }
}

/// Writes `scalar` as digits `d` in `[-2^(width-1), 2^(width-1))`, least
/// significant first, with `scalar = Σ d·2^(width·i)`.
pub(super) fn signed_digits(scalar: &Scalar, width: usize, digits: &mut [i16]) {
    let limbs = glv::limbs(&scalar.to_bytes());
    let radix = 1i16 << width;
    let mask = (1u64 << width) - 1;
    let mut carry = 0i16;
    for (position, digit) in digits.iter_mut().enumerate() {
        let bit = position * width;
        let (limb, offset) = (bit / 64, bit % 64);
        let mut bits = limbs.get(limb).map_or(0, |l| l >> offset);
        if offset + width > 64 {
            bits |= limbs.get(limb + 1).map_or(0, |l| l << (64 - offset));
        }
        // At most 2^width, so it fits.
        let value = (bits & mask) as i16 + carry;
        if value >= radix / 2 {
            *digit = value - radix;
            carry = 1;
        } else {
            *digit = value;
            carry = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nostr::secp256k1::Keypair;

    /// BIP-340's own test vectors 0–14 (bip-0340/test-vectors.csv): public
    /// key, message, signature, verdict, and what each is about.
    const VECTORS: [(&str, &str, &str, bool, &str); 15] = [
        (
            "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA821525F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0",
            true,
            "valid",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE33418906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A",
            true,
            "valid",
        ),
        (
            "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8",
            "7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C",
            "5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1BAB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7",
            true,
            "valid",
        ),
        (
            "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517",
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3",
            true,
            "test fails if msg is reduced modulo p or n",
        ),
        (
            "D69C3509BB99E412E68B0FE8544E72837DFA30746D8BE2AA65975F29D22DC7B9",
            "4DF3C3F68FCC83B27E9D42C90431A72499F17875C81A599B566C9889B9696703",
            "00000000000000000000003B78CE563F89A0ED9414F5AA28AD0D96D6795F9C6376AFB1548AF603B3EB45C9F8207DEE1060CB71C04E80F593060B07D28308D7F4",
            true,
            "valid",
        ),
        (
            "EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E17776969E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
            false,
            "public key not on the curve",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "FFF97BD5755EEEA420453A14355235D382F6472F8568A18B2F057A14602975563CC27944640AC607CD107AE10923D9EF7A73C643E166BE5EBEAFA34B1AC553E2",
            false,
            "has_even_y(R) is false",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "1FA62E331EDBC21C394792D2AB1100A7B432B013DF3F6FF4F99FCB33E0E1515F28890B3EDB6E7189B630448B515CE4F8622A954CFE545735AAEA5134FCCDB2BD",
            false,
            "negated message",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769961764B3AA9B2FFCB6EF947B6887A226E8D7C93E00C5ED0C1834FF0D0C2E6DA6",
            false,
            "negated s value",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "0000000000000000000000000000000000000000000000000000000000000000123DDA8328AF9C23A94C1FEECFD123BA4FB73476F0D594DCB65C6425BD186051",
            false,
            "sG - eP is infinite. Test fails in single verification if has_even_y(inf) is defined as true and x(inf) as 0",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "00000000000000000000000000000000000000000000000000000000000000017615FBAF5AE28864013C099742DEADB4DBA87F11AC6754F93780D5A1837CF197",
            false,
            "sG - eP is infinite. Test fails in single verification if has_even_y(inf) is defined as true and x(inf) as 1",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "4A298DACAE57395A15D0795DDBFD1DCB564DA82B0F269BC70A74F8220429BA1D69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
            false,
            "sig[0:32] is not an X coordinate on the curve",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
            false,
            "sig[0:32] is equal to field size",
        ),
        (
            "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
            false,
            "sig[32:64] is equal to curve order",
        ),
        (
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30",
            "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
            "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E17776969E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
            false,
            "public key is not a valid X coordinate because it exceeds the field size",
        ),
    ];

    fn bytes<const N: usize>(hex: &str) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&hex::decode(hex).unwrap());
        out
    }

    /// A signature with what it is over and by whom, owned.
    struct Item {
        key: XOnlyKey,
        message: [u8; 32],
        signature: [u8; 64],
    }

    impl Item {
        fn claim(&self) -> Claim<'_> {
            Claim {
                key: &self.key,
                message: &self.message,
                signature: &self.signature,
            }
        }
    }

    /// `n` signatures by `keys` keys, each key's in one run, as a
    /// publisher's events arrive.
    fn signed(n: usize, keys: usize) -> Vec<Item> {
        let pairs: Vec<Keypair> = (0..keys)
            .map(|k| Keypair::from_seckey_slice(SECP256K1, &[k as u8 + 1; 32]).unwrap())
            .collect();
        (0..n)
            .map(|i| {
                let pair = &pairs[i * keys / n];
                let message: [u8; 32] = Sha256::digest(format!("event {i}")).into();
                let signature =
                    SECP256K1.sign_schnorr_no_aux_rand(&Message::from_digest(message), pair);
                let key = XOnlyKey::from_bytes(&pair.x_only_public_key().0.serialize()).unwrap();
                Item {
                    key,
                    message,
                    signature: *signature.as_ref(),
                }
            })
            .collect()
    }

    fn claims(items: &[Item]) -> Vec<Claim<'_>> {
        items.iter().map(Item::claim).collect()
    }

    /// Runs `check` with `verify_all_in` in each mode: single checks, the
    /// plain k256 batch, and the batch in IFMA lanes where the CPU has them
    /// (said to be skipped where it has not).
    fn in_every_mode(test: &str, check: impl Fn(&dyn Fn(&[Claim<'_>]) -> Vec<bool>)) {
        for mode in [Mode::Single, Mode::Batch, Mode::BatchWithLanes] {
            if mode == Mode::BatchWithLanes && !crate::lanes_available() {
                crate::say_skipped(test, "lanes: this CPU has no AVX-512 IFMA");
                continue;
            }
            check(&|claims| verify_all_in(claims, mode));
        }
    }

    #[test]
    fn the_bip340_vectors_get_their_verdicts_alone_and_in_a_batch() {
        in_every_mode(
            "the_bip340_vectors_get_their_verdicts_alone_and_in_a_batch",
            |verify| {
                for (i, (key, message, signature, verdict, about)) in
                    VECTORS.into_iter().enumerate()
                {
                    let Some(key) = XOnlyKey::from_bytes(&bytes(key)) else {
                        assert!(!verdict, "vector {i} ({about}): its key should decode");
                        continue;
                    };
                    let vector = Item {
                        key,
                        message: bytes(message),
                        signature: bytes(signature),
                    };
                    let alone = verify(&claims(std::slice::from_ref(&vector)));
                    assert_eq!(alone, vec![verdict], "vector {i} alone ({about})");
                    let mut items = signed(40, 3);
                    let at = (i * 7) % items.len();
                    items.insert(at, vector);
                    let verdicts = verify(&claims(&items));
                    for (j, held) in verdicts.into_iter().enumerate() {
                        let expected = if j == at { verdict } else { true };
                        assert_eq!(
                            held, expected,
                            "vector {i} ({about}), claim {j} of the batch"
                        );
                    }
                }
            },
        );
    }

    #[test]
    fn many_signatures_by_few_keys_hold_and_bad_ones_are_found() {
        in_every_mode(
            "many_signatures_by_few_keys_hold_and_bad_ones_are_found",
            |verify| {
                let mut items = signed(700, 5);
                assert!(verify(&claims(&items)).iter().all(|&ok| ok));
                items[3].message[0] ^= 1;
                items[400].signature[50] ^= 1;
                items[699].key = items[0].key.clone();
                let verdicts = verify(&claims(&items));
                for (i, ok) in verdicts.iter().enumerate() {
                    assert_eq!(*ok, ![3, 400, 699].contains(&i), "claim {i}");
                }
            },
        );
    }

    #[test]
    fn errors_that_cancel_out_in_an_unweighted_sum_are_caught() {
        in_every_mode(
            "errors_that_cancel_out_in_an_unweighted_sum_are_caught",
            |verify| {
                let mut items = signed(4, 1);
                let shift = |signature: &mut [u8; 64], by: Scalar| {
                    let s: [u8; 32] = signature[32..].try_into().unwrap();
                    let moved = Scalar::from_repr(FieldBytes::from(s)).unwrap() + by;
                    signature[32..].copy_from_slice(&moved.to_bytes());
                };
                shift(&mut items[1].signature, Scalar::ONE);
                shift(&mut items[2].signature, -Scalar::ONE);
                assert_eq!(verify(&claims(&items)), vec![true, false, false, true]);
            },
        );
    }

    #[test]
    fn verdicts_match_single_verification() {
        in_every_mode("verdicts_match_single_verification", |verify| {
            let mut items = signed(60, 6);
            for (i, item) in items.iter_mut().enumerate() {
                if i % 4 == 0 {
                    item.signature[i % 64] ^= 0x20;
                }
            }
            let single: Vec<bool> = claims(&items).iter().map(Claim::holds_alone).collect();
            assert_eq!(verify(&claims(&items)), single);
            assert_eq!(single.iter().filter(|&&ok| !ok).count(), 15);
        });
    }

    /// Scalars of every shape the equation uses: small, 128-bit weights,
    /// full-size sums, and the extremes.
    fn scalar(i: usize) -> Scalar {
        let hash: [u8; 32] = Sha256::digest(i.to_le_bytes()).into();
        match i % 5 {
            0 => Scalar::from(i as u64),
            1 => Scalar::from(u128::from_le_bytes(hash[..16].try_into().unwrap())),
            2 => <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(hash)),
            3 => -Scalar::ONE,
            _ => -Scalar::from(i as u64),
        }
    }

    #[test]
    fn the_bucket_sum_equals_plain_multiplication() {
        for size in [1, 2, 5, 20, 70, 300, 600] {
            let terms: Vec<(Point, Scalar)> = (0..size)
                .map(|i| {
                    let point = ProjectivePoint::GENERATOR * scalar(i + 11);
                    let point = if i % 3 == 0 {
                        Point::Projective(point)
                    } else {
                        Point::Affine(point.to_affine())
                    };
                    (point, scalar(i))
                })
                .collect();
            let plain: ProjectivePoint = terms.iter().map(|(p, k)| p.signed(false) * k).sum();
            assert_eq!(sum_of_multiples(&terms), plain, "{size} terms");
        }
        assert_eq!(sum_of_multiples(&[]), ProjectivePoint::IDENTITY);
    }

    #[test]
    fn signed_digits_add_back_up_to_the_scalar() {
        for width in 3..=8 {
            let positions = 256usize.div_ceil(width) + 1;
            let radix = Scalar::from(1u64 << width);
            for i in 0..40 {
                let mut digits = vec![0i16; positions];
                signed_digits(&scalar(i), width, &mut digits);
                let mut sum = Scalar::ZERO;
                for &digit in digits.iter().rev() {
                    assert!((-(1 << (width - 1))..(1 << (width - 1))).contains(&digit));
                    let magnitude = Scalar::from(u64::from(digit.unsigned_abs()));
                    sum = sum * radix + if digit < 0 { -magnitude } else { magnitude };
                }
                assert_eq!(sum, scalar(i), "width {width}, scalar {i}");
            }
        }
    }
}
