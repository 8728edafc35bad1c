//! The batch equation's sum `Σ k·P` by Pippenger's bucket method, with
//! the buckets in AVX-512 IFMA lanes ([`crate::field_ifma`]): one lane for
//! each digit position.
//!
//! Each scalar is cut into sixteen signed digits of 8 bits. A term's point
//! goes into one bucket of every position at once: lane `j` adds `±P` to
//! the bucket of the term's digit `j`. Each position has buckets of its
//! own, so the sixteen additions never meet. Buckets are projective points
//! `(X:Y:Z)`, added to by the complete formulas of Renes, Costello and
//! Batina (2015, algorithms 7 and 8), the ones k256 uses, so neither the
//! identity nor a doubling needs a case of its own.
//!
//! Each lane then adds up its buckets, weighted by their digits, as running
//! sums. The sixteen sums come out of the lanes through one shared
//! inversion, as affine points that k256 checks are on the curve, and k256
//! puts them together. The scalars are below 2^128 in size, so what is
//! left past the sixteenth digit (the carry out of it) is a small number
//! of whole points, which k256 adds too.
//!
//! [`sum`] gives no answer, and the caller sums without the lanes, where
//! the CPU has no IFMA, where a scalar reaches past what the lanes and
//! that carry cover, or where a lane's sum is not a curve point.

use std::arch::x86_64::{
    __m512i, _mm512_add_epi64, _mm512_i64gather_epi64, _mm512_i64scatter_epi64, _mm512_loadu_epi64,
    _mm512_mask_blend_epi64, _mm512_set1_epi64, _mm512_setr_epi64,
};

use k256::elliptic_curve::bigint::Odd;
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::sec1::ToSec1Point;
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, U256};

use crate::bip340::signed_digits;
use crate::field_ifma::{
    Fe, LANES, MODULUS, VECTOR, add, canonical, limbs_of, mul, sub, times, unload,
};

/// Bits per digit.
const WIDTH: usize = 8;
/// Buckets of one position: digits lie in `[-128, 128)`, and `|d|` goes
/// in bucket `|d| - 1`.
const BUCKETS: usize = 1 << (WIDTH - 1);
/// The bucket a lane with a zero digit adds to, and never reads back.
const SPARE: usize = BUCKETS;
/// Limbs of a bucket: X, Y and Z.
const COORDINATES: usize = 15;
/// Limbs of all buckets, the spare included, of every lane.
const BUCKET_LIMBS: usize = (BUCKETS + 1) * COORDINATES * LANES;
/// Digit positions past the lanes' sixteen, as `signed_digits` writes them.
const ALL_POSITIONS: usize = 256 / WIDTH + 1;
/// Most whole points the carry past the lanes may add per term.
const MOST_CARRIED: i64 = 4;
/// β, a cube root of 1 mod p: `(β·x, y) = λ·(x, y)`.
const BETA: U256 =
    U256::from_be_hex("7AE96A2B657C07106E64479EAC3434E99CF0497512F58995C1396C28719501EE");
/// `3b` of the curve `y² = x³ + b`, b = 7.
const B3: u32 = 21;

/// One term of the sum: an affine point, other than the identity, and its
/// scalar.
pub(super) struct Term {
    /// x, 32 bytes big-endian, below p.
    x: [u8; 32],
    /// y, likewise.
    y: [u8; 32],
    /// The point, for k256 to add where a scalar carries past the lanes.
    point: ProjectivePoint,
    /// The multiple of the point taken.
    scalar: Scalar,
}

impl Term {
    /// `scalar·point`, for a point other than the identity.
    pub(super) fn of(point: &AffinePoint, scalar: Scalar) -> Self {
        let encoded = point.to_sec1_point(false);
        let bytes = encoded.as_bytes();
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        x.copy_from_slice(&bytes[1..33]);
        y.copy_from_slice(&bytes[33..65]);
        Self {
            x,
            y,
            point: ProjectivePoint::from(*point),
            scalar,
        }
    }

    /// This term with its point `(x, y)` taken to `(β·x, y)`, which is
    /// `λ·(x, y)` by the curve's endomorphism.
    pub(super) fn endomorphism(self) -> Self {
        let x = U256::from_be_slice(&self.x).mul_mod(&BETA, &MODULUS);
        Self {
            x: bytes(&x),
            point: self.point.endomorphism(),
            ..self
        }
    }
}

/// A term as the lanes take it: x, y and −y as limbs, and its digits.
struct Laned {
    x: [u64; 5],
    y: [u64; 5],
    neg_y: [u64; 5],
    digits: [i16; LANES],
}

/// `Σ scalar·point` over `terms`; `None` where the lanes cannot answer
/// (see the module's notes), and the caller must sum without them.
///
/// # Safety
///
/// The CPU must have AVX-512F and AVX-512 IFMA
/// ([`crate::field_ifma::available`]).
pub(super) unsafe fn sum(terms: &[Term]) -> Option<ProjectivePoint> {
    let p = MODULUS;
    let mut laned = Vec::with_capacity(terms.len());
    let mut carried = ProjectivePoint::IDENTITY;
    let mut row = [0i16; ALL_POSITIONS];
    for term in terms {
        signed_digits(&term.scalar, WIDTH, &mut row);
        let (low, high) = row.split_at(LANES);
        let carry = high.iter().rev().try_fold(0i64, |sum, &d| {
            sum.checked_mul(1 << WIDTH)?.checked_add(i64::from(d))
        })?;
        if carry.abs() > MOST_CARRIED {
            return None;
        }
        for _ in 0..carry.abs() {
            carried += if carry < 0 { -term.point } else { term.point };
        }
        let neg_y = p.as_ref().wrapping_sub(&U256::from_be_slice(&term.y));
        laned.push(Laned {
            x: limbs_of(&term.x),
            y: limbs_of(&term.y),
            neg_y: limbs_of(&bytes(&neg_y)),
            digits: low.try_into().ok()?,
        });
    }
    let mut buckets = vec![0u64; BUCKET_LIMBS];
    for slot in 0..=BUCKETS {
        for lane in 0..LANES {
            // Y's first limb: every bucket starts as the identity (0:1:0).
            buckets[(slot * COORDINATES + 5) * LANES + lane] = 1;
        }
    }
    // SAFETY: the caller has made sure the CPU has AVX-512F and IFMA.
    let sums = unsafe {
        accumulate(&mut buckets, &laned);
        bucket_sums(&buckets)
    };
    let mut total = carried;
    for position_sum in affine_sums(&sums)?.iter().rev() {
        for _ in 0..WIDTH {
            total = total.double();
        }
        if let Some(point) = position_sum {
            total += point;
        }
    }
    Some(total)
}

/// A number below 2^256 as 32 bytes big-endian.
fn bytes(value: &U256) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(value.to_be_bytes().as_ref());
    out
}

/// The lanes' projective sums `(X:Y:Z)` as affine points, `None` for the
/// identity, through one inversion for all (Montgomery's trick); `None`
/// overall if one is not a curve point.
fn affine_sums(sums: &[[u64; COORDINATES]; LANES]) -> Option<[Option<AffinePoint>; LANES]> {
    let p = MODULUS;
    let value = |limbs: &[u64]| {
        let mut five = [0u64; 5];
        five.copy_from_slice(limbs);
        U256::from_be_slice(&canonical(&five))
    };
    let coordinates: Vec<[U256; 3]> = sums
        .iter()
        .map(|s| [value(&s[..5]), value(&s[5..10]), value(&s[10..])])
        .collect();
    // Running products of the Zs that are not zero, then their inverse.
    let mut products = Vec::with_capacity(LANES);
    let mut running = U256::ONE;
    for [_, _, z] in &coordinates {
        if !bool::from(z.is_zero()) {
            running = running.mul_mod(z, &p);
        }
        products.push(running);
    }
    let odd = Odd::new(*p.as_ref()).into_option()?;
    let mut inverse = running.invert_odd_mod_vartime(&odd).into_option()?;
    let mut points = [None; LANES];
    for (lane, [x, y, z]) in coordinates.iter().enumerate().rev() {
        if bool::from(z.is_zero()) {
            // The identity is (0:Y:0) with Y not zero; anything else with
            // Z = 0 is no point at all.
            if bool::from(x.is_zero()) && !bool::from(y.is_zero()) {
                continue;
            }
            return None;
        }
        let before = if lane == 0 {
            U256::ONE
        } else {
            products[lane - 1]
        };
        let z_inverse = inverse.mul_mod(&before, &p);
        inverse = inverse.mul_mod(z, &p);
        let affine = AffinePoint::from_coordinates(
            &FieldBytes::from(bytes(&x.mul_mod(&z_inverse, &p))),
            &FieldBytes::from(bytes(&y.mul_mod(&z_inverse, &p))),
        );
        points[lane] = Some(Option::<AffinePoint>::from(affine)?);
    }
    Some(points)
}

/// A projective point in eight lanes.
#[derive(Clone, Copy)]
struct Projective {
    x: Fe,
    y: Fe,
    z: Fe,
}

/// Adds every term to one bucket of each position.
#[target_feature(enable = "avx512f,avx512ifma")]
fn accumulate(buckets: &mut [u64], terms: &[Laned]) {
    // With every slot at most `SPARE`, checked below, this keeps the
    // gathers and scatters inside `buckets`.
    assert_eq!(buckets.len(), BUCKET_LIMBS, "the buckets of every lane");
    for term in terms {
        let x = broadcast(&term.x);
        let y = broadcast(&term.y);
        let neg_y = broadcast(&term.neg_y);
        for half in 0..LANES / VECTOR {
            let digits = &term.digits[half * VECTOR..][..VECTOR];
            let negative = digits
                .iter()
                .enumerate()
                .fold(0u8, |mask, (lane, &d)| mask | (u8::from(d < 0) << lane));
            let signed_y = Fe(std::array::from_fn(|i| {
                _mm512_mask_blend_epi64(negative, y.0[i], neg_y.0[i])
            }));
            let slot = |lane: usize| {
                let d = digits[lane];
                let slot = if d == 0 {
                    SPARE
                } else {
                    usize::from(d.unsigned_abs()) - 1
                };
                assert!(slot <= SPARE, "a digit of {WIDTH} bits");
                (slot * COORDINATES * LANES + half * VECTOR + lane) as i64
            };
            let at = _mm512_setr_epi64(
                slot(0),
                slot(1),
                slot(2),
                slot(3),
                slot(4),
                slot(5),
                slot(6),
                slot(7),
            );
            // SAFETY: `buckets` is `BUCKET_LIMBS` long and every slot at
            // most `SPARE` (both checked), so each lane's limbs lie inside.
            let bucket = unsafe { gather(buckets, at) };
            let sum = add_affine(&bucket, &x, &signed_y);
            // SAFETY: as for the gather.
            unsafe { scatter(buckets, at, &sum) };
        }
    }
}

/// The same element in every lane.
#[target_feature(enable = "avx512f,avx512ifma")]
fn broadcast(limbs: &[u64; 5]) -> Fe {
    Fe(limbs.map(|limb| _mm512_set1_epi64(limb as i64)))
}

/// The projective points at `at` (the index of each lane's X's first limb).
///
/// # Safety
///
/// Each lane of `at`, plus up to `(COORDINATES - 1) · LANES`, must index
/// into `buckets`, and the CPU must have AVX-512F and IFMA.
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn gather(buckets: &[u64], at: __m512i) -> Projective {
    let limb = |c: usize| {
        let offsets = _mm512_add_epi64(at, _mm512_set1_epi64((c * LANES) as i64));
        // SAFETY: the caller keeps every offset inside `buckets`.
        unsafe { _mm512_i64gather_epi64::<8>(offsets, buckets.as_ptr().cast()) }
    };
    Projective {
        x: Fe(std::array::from_fn(limb)),
        y: Fe(std::array::from_fn(|i| limb(5 + i))),
        z: Fe(std::array::from_fn(|i| limb(10 + i))),
    }
}

/// Writes the projective points back at `at`; the lanes' places are apart.
///
/// # Safety
///
/// As for [`gather`].
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn scatter(buckets: &mut [u64], at: __m512i, point: &Projective) {
    let limbs = point.x.0.iter().chain(&point.y.0).chain(&point.z.0);
    for (c, limb) in limbs.enumerate() {
        let offsets = _mm512_add_epi64(at, _mm512_set1_epi64((c * LANES) as i64));
        // SAFETY: the caller keeps every offset inside `buckets`.
        unsafe { _mm512_i64scatter_epi64::<8>(buckets.as_mut_ptr().cast(), offsets, *limb) };
    }
}

/// Each lane's `Σ (b+1)·bucket[b]`, as running sums from the top bucket
/// down: the X, Y and Z limbs of each of the sixteen lanes.
#[target_feature(enable = "avx512f,avx512ifma")]
fn bucket_sums(buckets: &[u64]) -> [[u64; COORDINATES]; LANES] {
    let mut out = [[0u64; COORDINATES]; LANES];
    for half in 0..LANES / VECTOR {
        let load = |slot: usize| {
            let limb = |c: usize| {
                let start = (slot * COORDINATES + c) * LANES + half * VECTOR;
                let lanes = &buckets[start..start + VECTOR];
                // SAFETY: `lanes` holds the eight limbs read.
                unsafe { _mm512_loadu_epi64(lanes.as_ptr().cast()) }
            };
            Projective {
                x: Fe(std::array::from_fn(limb)),
                y: Fe(std::array::from_fn(|i| limb(5 + i))),
                z: Fe(std::array::from_fn(|i| limb(10 + i))),
            }
        };
        let identity = Projective {
            x: broadcast(&[0; 5]),
            y: broadcast(&[1, 0, 0, 0, 0]),
            z: broadcast(&[0; 5]),
        };
        let mut running = identity;
        let mut total = identity;
        for slot in (0..BUCKETS).rev() {
            running = add_projective(&running, &load(slot));
            total = add_projective(&total, &running);
        }
        let coordinates = [unload(&total.x), unload(&total.y), unload(&total.z)];
        for (lane, limbs) in out[half * VECTOR..][..VECTOR].iter_mut().enumerate() {
            for (c, coordinate) in coordinates.iter().enumerate() {
                limbs[c * 5..][..5].copy_from_slice(&coordinate[lane]);
            }
        }
    }
    out
}

/// `p + (x, y)` for an affine `(x, y)`: Renes–Costello–Batina algorithm 8.
#[target_feature(enable = "avx512f,avx512ifma")]
fn add_affine(p: &Projective, x: &Fe, y: &Fe) -> Projective {
    let xx = mul(&p.x, x);
    let yy = mul(&p.y, y);
    let xy_pairs = sub(&mul(&add(&p.x, &p.y), &add(x, y)), &add(&xx, &yy));
    let yz_pairs = add(&mul(y, &p.z), &p.y);
    let xz_pairs = add(&mul(x, &p.z), &p.x);
    finish(&xx, &yy, &times(&p.z, B3), &xy_pairs, &yz_pairs, &xz_pairs)
}

/// `p + q`: Renes–Costello–Batina algorithm 7.
#[target_feature(enable = "avx512f,avx512ifma")]
fn add_projective(p: &Projective, q: &Projective) -> Projective {
    let xx = mul(&p.x, &q.x);
    let yy = mul(&p.y, &q.y);
    let zz = mul(&p.z, &q.z);
    let xy_pairs = sub(&mul(&add(&p.x, &p.y), &add(&q.x, &q.y)), &add(&xx, &yy));
    let yz_pairs = sub(&mul(&add(&p.y, &p.z), &add(&q.y, &q.z)), &add(&yy, &zz));
    let xz_pairs = sub(&mul(&add(&p.x, &p.z), &add(&q.x, &q.z)), &add(&xx, &zz));
    finish(&xx, &yy, &times(&zz, B3), &xy_pairs, &yz_pairs, &xz_pairs)
}

/// The common end of algorithms 7 and 8, from `3b·zz`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn finish(xx: &Fe, yy: &Fe, bzz3: &Fe, xy_pairs: &Fe, yz_pairs: &Fe, xz_pairs: &Fe) -> Projective {
    let yy_m_bzz3 = sub(yy, bzz3);
    let yy_p_bzz3 = add(yy, bzz3);
    let byz3 = times(yz_pairs, B3);
    let xx3 = times(xx, 3);
    let bxx9 = times(&xx3, B3);
    Projective {
        x: sub(&mul(xy_pairs, &yy_m_bzz3), &mul(&byz3, xz_pairs)),
        y: add(&mul(&yy_p_bzz3, &yy_m_bzz3), &mul(&bxx9, xz_pairs)),
        z: add(&mul(yz_pairs, &yy_p_bzz3), &mul(&xx3, xy_pairs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_ifma::lanes_here;

    /// Points `i·G` and 128-bit scalars from a simple generator, with the
    /// smallest and largest scalars among them.
    fn terms(count: u64) -> Vec<(AffinePoint, Scalar)> {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (1..=count)
            .map(|i| {
                let point = (ProjectivePoint::GENERATOR * Scalar::from(next())).to_affine();
                let scalar = match i {
                    1 => Scalar::ZERO,
                    2 => Scalar::ONE,
                    3 => Scalar::from(u128::MAX),
                    _ => Scalar::from(u128::from(next()) << 64 | u128::from(next())),
                };
                (point, scalar)
            })
            .collect()
    }

    fn plain(terms: &[(AffinePoint, Scalar)]) -> ProjectivePoint {
        terms
            .iter()
            .fold(ProjectivePoint::IDENTITY, |sum, (point, scalar)| {
                sum + ProjectivePoint::from(*point) * scalar
            })
    }

    /// The lanes' sum, for tests that have checked `lanes_here`.
    fn in_lanes(terms: &[(AffinePoint, Scalar)]) -> Option<ProjectivePoint> {
        let laned: Vec<Term> = terms.iter().map(|(p, s)| Term::of(p, *s)).collect();
        // SAFETY: every caller has checked `lanes_here`.
        unsafe { sum(&laned) }
    }

    #[test]
    fn the_lanes_sum_what_plain_multiplication_sums() {
        if !lanes_here("the_lanes_sum_what_plain_multiplication_sums") {
            return;
        }
        for count in [1, 2, 3, 40, 300] {
            let terms = terms(count);
            let lanes = in_lanes(&terms).expect("128-bit scalars are the lanes' to sum");
            assert_eq!(lanes, plain(&terms), "{count} terms");
        }
    }

    #[test]
    fn a_sum_that_cancels_out_is_the_identity_and_one_that_does_not_is_not() {
        if !lanes_here("a_sum_that_cancels_out_is_the_identity_and_one_that_does_not_is_not") {
            return;
        }
        let mut terms = terms(50);
        let negated: Vec<(AffinePoint, Scalar)> = terms
            .iter()
            .map(|(point, scalar)| (-*point, *scalar))
            .collect();
        terms.extend(negated);
        let sum = in_lanes(&terms).expect("128-bit scalars are the lanes' to sum");
        assert_eq!(sum, ProjectivePoint::IDENTITY);
        terms[7].1 += Scalar::ONE;
        let sum = in_lanes(&terms).expect("128-bit scalars are the lanes' to sum");
        assert_eq!(sum, ProjectivePoint::from(terms[7].0));
    }

    #[test]
    fn the_endomorphism_is_lambda_times_the_point() {
        let point = (ProjectivePoint::GENERATOR * Scalar::from(12345u64)).to_affine();
        let term = Term::of(&point, Scalar::ONE).endomorphism();
        let expected = Term::of(
            &ProjectivePoint::from(point).endomorphism().to_affine(),
            Scalar::ONE,
        );
        assert_eq!((term.x, term.y), (expected.x, expected.y));
    }

    #[test]
    fn scalars_past_the_lanes_are_left_to_the_caller() {
        if !lanes_here("scalars_past_the_lanes_are_left_to_the_caller") {
            return;
        }
        let terms = [(AffinePoint::GENERATOR, -Scalar::ONE)];
        assert!(in_lanes(&terms).is_none());
    }
}
