//! secp256k1's field sixteen elements at a time, with AVX-512 IFMA: the
//! square roots that lift signatures' `R` points ([`crate::lift`]).
//!
//! A square root is a power, 253 squarings and 13 multiplications in a
//! row, and lifting each event's `R` was a fifth of a one-core ingest.
//! IFMA multiplies eight 52-bit numbers at once (`vpmadd52luq` and
//! `vpmadd52huq` add the low or the high 52 bits of each 104-bit product),
//! so an element here is five limbs of 52 bits, one lane of five vectors.
//! Two such vectors of eight are worked side by side, so that one's
//! multiplications fill the other's waits.
//!
//! IFMA reads only the low 52 bits of what it multiplies, so between
//! operations every limb is kept below 2^52. The value itself stays below
//! 2^257, not reduced: [`even_root`] reduces it once, at the end.
//!
//! What comes out is a candidate, not a verdict. [`crate::lift`] accepts a
//! root only after k256 has checked that it is on the curve with an even
//! y, so a mistake here could cost time, never a wrong point.

use std::arch::x86_64::{
    __m512i, _mm_cvtsi32_si128, _mm512_add_epi64, _mm512_and_si512, _mm512_madd52hi_epu64,
    _mm512_madd52lo_epu64, _mm512_set_epi64, _mm512_set1_epi64, _mm512_setzero_si512,
    _mm512_sll_epi64, _mm512_slli_epi64, _mm512_srli_epi64, _mm512_storeu_epi64, _mm512_sub_epi64,
};

use k256::U256;
use k256::elliptic_curve::bigint::NonZero;

/// Elements worked at once: two vectors of eight lanes.
pub(super) const LANES: usize = 16;
/// Lanes in one vector.
pub(super) const VECTOR: usize = 8;
/// The low 52 bits.
const MASK: i64 = (1 << 52) - 1;
/// 2^260 mod p: what a unit just past the fifth limb is worth.
const R260: i64 = 0x10_0000_3D10;
/// 2^256 mod p.
const R256: u64 = 0x1_0000_03D1;
/// 4p in five limbs of 52 bits, each at least 2^52 but the fifth.
const FOUR_P: [i64; 5] = [
    0xF_FFFE_FFFF_FC2F * 4,
    0xF_FFFF_FFFF_FFFF * 4,
    0xF_FFFF_FFFF_FFFF * 4,
    0xF_FFFF_FFFF_FFFF * 4,
    0xFFFF_FFFF_FFFF * 4,
];
/// p for crypto-bigint, which takes the lanes' results out of the field
/// ([`crate::sum_ifma`]).
pub(super) const MODULUS: NonZero<U256> = NonZero::<U256>::new_unwrap(U256::from_be_hex(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F",
));
/// The field size p = 2^256 - 2^32 - 977, least significant word first.
const P: [u64; 4] = [0xFFFF_FFFE_FFFF_FC2F, u64::MAX, u64::MAX, u64::MAX];

/// Whether this CPU can run the vector path.
pub(super) fn available() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512ifma")
}

/// Whether the lanes can be tested on this CPU; where they cannot, says
/// that the test was skipped, on the test's output itself (not captured,
/// so it shows in `cargo test`'s output).
#[cfg(test)]
pub(super) fn lanes_here(test: &str) -> bool {
    let here = available();
    if !here {
        crate::say_skipped(test, "this CPU has no AVX-512 IFMA");
    }
    here
}

/// An element in each of eight lanes: `Σ limb[i]·2^(52i)`, every limb
/// below 2^52 and the fifth at most 2^48.
#[derive(Clone, Copy)]
pub(super) struct Fe(pub(super) [__m512i; 5]);

/// The square roots of `x³ + 7` for sixteen x-coordinates (given as
/// 32-byte big-endian numbers), as five limbs of 52 bits each, least
/// significant first: the y of the curve point at x where there is one
/// (either of the two), and a number of no meaning where there is not.
///
/// # Safety
///
/// The CPU must have AVX-512F and AVX-512 IFMA ([`available`]).
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) unsafe fn roots(xs: &[[u8; 32]; LANES]) -> [[u64; 5]; LANES] {
    let limbs = xs.each_ref().map(limbs_of);
    let x = [load(&limbs[..VECTOR]), load(&limbs[VECTOR..])];
    let x3 = mul2(&square2(&x), &x);
    let alpha = x3.map(|v| add_small(&v, 7));
    let y = sqrt2(&alpha);
    let [low, high] = y.map(|v| unload(&v));
    std::array::from_fn(|e| if e < VECTOR { low[e] } else { high[e - VECTOR] })
}

/// Eight lanes' limbs out of the vectors.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn unload(fe: &Fe) -> [[u64; 5]; VECTOR] {
    let mut out = [[0u64; 5]; VECTOR];
    for (limb, vector) in fe.0.iter().enumerate() {
        let mut lanes = [0i64; VECTOR];
        // SAFETY: `lanes` holds eight i64s, the 64 bytes written.
        unsafe { _mm512_storeu_epi64(lanes.as_mut_ptr(), *vector) };
        for (element, lane) in out.iter_mut().zip(lanes) {
            element[limb] = lane as u64;
        }
    }
    out
}

/// A 32-byte big-endian number as five limbs of 52 bits.
pub(super) fn limbs_of(bytes: &[u8; 32]) -> [u64; 5] {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[24 - 8 * i..32 - 8 * i]);
        u64::from_be_bytes(w)
    };
    let [w0, w1, w2, w3] = [word(0), word(1), word(2), word(3)];
    let mask = MASK as u64;
    [
        w0 & mask,
        (w0 >> 52 | w1 << 12) & mask,
        (w1 >> 40 | w2 << 24) & mask,
        (w2 >> 28 | w3 << 36) & mask,
        w3 >> 16,
    ]
}

/// Five limbs below 2^52 (so a value below 2^260) as the number mod p,
/// 32 bytes big-endian.
pub(super) fn canonical(limbs: &[u64; 5]) -> [u8; 32] {
    to_bytes(&reduced(limbs))
}

/// Five limbs below 2^52 (so a value below 2^260) as the number mod p
/// with an even y: the root itself or p minus it, 32 bytes big-endian.
pub(super) fn even_root(limbs: &[u64; 5]) -> [u8; 32] {
    let mut words = reduced(limbs);
    if words[0] & 1 == 1 {
        let mut borrow = false;
        for (word, p) in words.iter_mut().zip(P) {
            let (difference, under) = p.overflowing_sub(*word);
            let (difference, under_again) = difference.overflowing_sub(u64::from(borrow));
            *word = difference;
            borrow = under || under_again;
        }
    }
    to_bytes(&words)
}

/// Five limbs below 2^52 as the number mod p, in four 64-bit words, least
/// significant first.
fn reduced(limbs: &[u64; 5]) -> [u64; 4] {
    let [l0, l1, l2, l3, l4] = *limbs;
    let mut words = [
        l0 | l1 << 52,
        l1 >> 12 | l2 << 40,
        l2 >> 24 | l3 << 28,
        l3 >> 36 | l4 << 16,
    ];
    let mut above = l4 >> 48;
    // What lies past 2^256 is worth `R256` a unit; adding it may carry past
    // 2^256 once more, but by less each time.
    while above != 0 {
        let mut carry = u128::from(above) * u128::from(R256);
        for word in &mut words {
            let sum = u128::from(*word) + carry;
            *word = sum as u64;
            carry = sum >> 64;
        }
        above = carry as u64;
    }
    let at_least_p = words[1..].iter().all(|&w| w == u64::MAX) && words[0] >= P[0];
    if at_least_p {
        words[0] -= P[0];
        words[1..].fill(0);
    }
    words
}

/// Four words, least significant first, as 32 bytes big-endian.
fn to_bytes(words: &[u64; 4]) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (chunk, word) in bytes.rchunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    bytes
}

/// Eight elements' limbs into vectors.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn load(elements: &[[u64; 5]]) -> Fe {
    let lane = |e: usize, limb: usize| elements[e][limb] as i64;
    Fe(std::array::from_fn(|limb| {
        _mm512_set_epi64(
            lane(7, limb),
            lane(6, limb),
            lane(5, limb),
            lane(4, limb),
            lane(3, limb),
            lane(2, limb),
            lane(1, limb),
            lane(0, limb),
        )
    }))
}

/// `limb` and `next` with the bits of `limb` past 52 moved into `next`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn carry(limb: __m512i, next: __m512i) -> (__m512i, __m512i) {
    (
        _mm512_and_si512(limb, _mm512_set1_epi64(MASK)),
        _mm512_add_epi64(next, _mm512_srli_epi64::<52>(limb)),
    )
}

/// Carries through limbs 0 to 4, leaving 0 to 3 below 2^52.
#[target_feature(enable = "avx512f,avx512ifma")]
fn carry_through(d: &mut [__m512i; 5]) {
    for i in 0..4 {
        (d[i], d[i + 1]) = carry(d[i], d[i + 1]);
    }
}

/// Ten columns of a product (column `k` worth `2^(52k)`, each below 2^58,
/// their sum below 2^520) reduced mod p to five limbs below 2^52.
#[target_feature(enable = "avx512f,avx512ifma")]
fn reduce(mut c: [__m512i; 10]) -> Fe {
    // The upper columns become limbs below 2^52, so that IFMA can multiply
    // them; nothing carries out of the last, since the sum is below 2^520.
    for k in 5..9 {
        (c[k], c[k + 1]) = carry(c[k], c[k + 1]);
    }
    // Column k ≥ 5 is worth 2^260·2^(52(k-5)), and 2^260 is R260 mod p:
    // the product's low 52 bits go to column k-5, its high bits to k-4.
    let r = _mm512_set1_epi64(R260);
    let mut d = [c[0], c[1], c[2], c[3], c[4]];
    for k in 5..10 {
        d[k - 5] = _mm512_madd52lo_epu64(d[k - 5], c[k], r);
        if k < 9 {
            d[k - 4] = _mm512_madd52hi_epu64(d[k - 4], c[k], r);
        }
    }
    // Below 2^37, worth 2^260.
    let top = _mm512_madd52hi_epu64(_mm512_setzero_si512(), c[9], r);
    carry_through(&mut d);
    // Everything from 2^256 up, below 2^42: limb 4's bits past 48 and the
    // top, worth 2^256·16.
    let above = _mm512_add_epi64(_mm512_srli_epi64::<48>(d[4]), _mm512_slli_epi64::<4>(top));
    d[4] = _mm512_and_si512(d[4], _mm512_set1_epi64((1 << 48) - 1));
    let k = _mm512_set1_epi64(R256 as i64);
    d[0] = _mm512_madd52lo_epu64(d[0], above, k);
    d[1] = _mm512_madd52hi_epu64(d[1], above, k);
    carry_through(&mut d);
    Fe(d)
}

/// `a·b` mod p.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn mul(a: &Fe, b: &Fe) -> Fe {
    let mut lo = [_mm512_setzero_si512(); 10];
    let mut hi = [_mm512_setzero_si512(); 10];
    for i in 0..5 {
        for j in 0..5 {
            lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a.0[i], b.0[j]);
            hi[i + j + 1] = _mm512_madd52hi_epu64(hi[i + j + 1], a.0[i], b.0[j]);
        }
    }
    reduce(std::array::from_fn(|k| _mm512_add_epi64(lo[k], hi[k])))
}

/// `a²` mod p: each cross product once, doubled.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn square(a: &Fe) -> Fe {
    let mut cross = [_mm512_setzero_si512(); 10];
    for i in 0..5 {
        for j in i + 1..5 {
            cross[i + j] = _mm512_madd52lo_epu64(cross[i + j], a.0[i], a.0[j]);
            cross[i + j + 1] = _mm512_madd52hi_epu64(cross[i + j + 1], a.0[i], a.0[j]);
        }
    }
    let mut c = cross.map(|x| _mm512_add_epi64(x, x));
    for i in 0..5 {
        c[2 * i] = _mm512_madd52lo_epu64(c[2 * i], a.0[i], a.0[i]);
        c[2 * i + 1] = _mm512_madd52hi_epu64(c[2 * i + 1], a.0[i], a.0[i]);
    }
    reduce(c)
}

/// `a + small` mod p, for `small` below 2^52.
#[target_feature(enable = "avx512f,avx512ifma")]
fn add_small(a: &Fe, small: i64) -> Fe {
    let mut d = a.0;
    d[0] = _mm512_add_epi64(d[0], _mm512_set1_epi64(small));
    carry_through(&mut d);
    Fe(d)
}

/// Limbs below 2^62 brought back below 2^52 (the fifth to at most 2^48),
/// the value unchanged mod p.
#[target_feature(enable = "avx512f,avx512ifma")]
fn norm(mut d: [__m512i; 5]) -> Fe {
    carry_through(&mut d);
    let above = _mm512_srli_epi64::<48>(d[4]);
    d[4] = _mm512_and_si512(d[4], _mm512_set1_epi64((1 << 48) - 1));
    // Below 2^14 times R256, so the low 52 bits are the whole product.
    d[0] = _mm512_madd52lo_epu64(d[0], above, _mm512_set1_epi64(R256 as i64));
    carry_through(&mut d);
    Fe(d)
}

/// `a + b` mod p.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn add(a: &Fe, b: &Fe) -> Fe {
    norm(std::array::from_fn(|i| _mm512_add_epi64(a.0[i], b.0[i])))
}

/// `a − b` mod p, as `a + 4p − b`: 4p's limbs are at least 2^52 (the
/// fifth at least 2^50), so no limb goes below zero.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn sub(a: &Fe, b: &Fe) -> Fe {
    norm(std::array::from_fn(|i| {
        _mm512_sub_epi64(
            _mm512_add_epi64(a.0[i], _mm512_set1_epi64(FOUR_P[i])),
            b.0[i],
        )
    }))
}

/// `k·a` mod p for a small `k` (below 2^9), by shifts and additions: each
/// limb stays below 2^61.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn times(a: &Fe, k: u32) -> Fe {
    let mut sum = [_mm512_setzero_si512(); 5];
    for bit in (0..9).filter(|bit| k >> bit & 1 == 1) {
        for (total, limb) in sum.iter_mut().zip(a.0) {
            *total = _mm512_add_epi64(*total, _mm512_sll_epi64(limb, _mm_cvtsi32_si128(bit)));
        }
    }
    norm(sum)
}

/// Both vectors squared.
#[target_feature(enable = "avx512f,avx512ifma")]
fn square2(a: &[Fe; 2]) -> [Fe; 2] {
    [square(&a[0]), square(&a[1])]
}

/// Both vectors multiplied.
#[target_feature(enable = "avx512f,avx512ifma")]
fn mul2(a: &[Fe; 2], b: &[Fe; 2]) -> [Fe; 2] {
    [mul(&a[0], &b[0]), mul(&a[1], &b[1])]
}

/// Both vectors squared `n` times.
#[target_feature(enable = "avx512f,avx512ifma")]
fn pow2k(a: &[Fe; 2], n: usize) -> [Fe; 2] {
    let mut x = *a;
    for _ in 0..n {
        x = square2(&x);
    }
    x
}

/// `a^((p+1)/4)`, a square root of `a` where it has one, by k256's
/// addition chain: (p+1)/4 has runs of 1s 2, 22 and 223 long.
#[target_feature(enable = "avx512f,avx512ifma")]
fn sqrt2(a: &[Fe; 2]) -> [Fe; 2] {
    let x2 = mul2(&square2(a), a);
    let x3 = mul2(&square2(&x2), a);
    let x6 = mul2(&pow2k(&x3, 3), &x3);
    let x9 = mul2(&pow2k(&x6, 3), &x3);
    let x11 = mul2(&pow2k(&x9, 2), &x2);
    let x22 = mul2(&pow2k(&x11, 11), &x11);
    let x44 = mul2(&pow2k(&x22, 22), &x22);
    let x88 = mul2(&pow2k(&x44, 44), &x44);
    let x176 = mul2(&pow2k(&x88, 88), &x88);
    let x220 = mul2(&pow2k(&x176, 44), &x44);
    let x223 = mul2(&pow2k(&x220, 3), &x3);
    let t = mul2(&pow2k(&x223, 23), &x22);
    let t = mul2(&pow2k(&t, 6), &x2);
    pow2k(&t, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Σ limb[i]·2^(52i)` mod p, by crypto-bigint.
    fn value(limbs: &[u64; 5]) -> U256 {
        let p = MODULUS;
        let radix = U256::from_u64(1 << 52);
        limbs.iter().rev().fold(U256::ZERO, |acc, &limb| {
            acc.mul_mod(&radix, &p).add_mod(&U256::from_u64(limb), &p)
        })
    }

    /// Sixteen elements of limbs, every limb below 2^52: all limbs at the
    /// top, all but one zero, and a spread of numbers from a simple
    /// generator.
    fn elements(seed: u64) -> [[u64; 5]; LANES] {
        let top = MASK as u64;
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state & top
        };
        std::array::from_fn(|e| match e {
            0 => [top; 5],
            1 => [0, 0, 0, 0, top],
            2 => [top, 0, 0, 0, 0],
            3 => [0; 5],
            _ => std::array::from_fn(|_| next()),
        })
    }

    #[test]
    fn the_lanes_arithmetic_matches_crypto_bigint_with_limbs_below_2_52() {
        if !lanes_here("the_lanes_arithmetic_matches_crypto_bigint_with_limbs_below_2_52") {
            return;
        }
        let p = MODULUS;
        for seed in [1u64, 0x9E37_79B9_7F4A_7C15, 42] {
            let a = elements(seed);
            let b = elements(seed.rotate_left(17) ^ 0xDEAD_BEEF);
            // SAFETY: `lanes_here` says the CPU has AVX-512F and IFMA.
            let [products, squares, sums, differences, multiples] = unsafe {
                let (fa, fb) = (load(&a[..VECTOR]), load(&b[..VECTOR]));
                let outputs = [mul(&fa, &fb), square(&fa)];
                // Sums and differences take what operations give: the fifth
                // limb at most 2^48.
                let [fa, fb] = outputs;
                [
                    outputs[0],
                    outputs[1],
                    add(&fa, &fb),
                    sub(&fa, &fb),
                    times(&fa, 511),
                ]
                .map(|v| unload(&v))
            };
            for e in 0..VECTOR {
                let (va, vb) = (value(&a[e]), value(&b[e]));
                let (product, square) = (va.mul_mod(&vb, &p), va.mul_mod(&va, &p));
                for (got, want) in [
                    (products[e], product),
                    (squares[e], square),
                    (sums[e], product.add_mod(&square, &p)),
                    (differences[e], product.sub_mod(&square, &p)),
                    (multiples[e], product.mul_mod(&U256::from_u64(511), &p)),
                ] {
                    assert!(got.iter().all(|&limb| limb <= MASK as u64), "{got:x?}");
                    assert_eq!(value(&got), want, "element {e} of seed {seed}");
                }
            }
        }
    }

    #[test]
    fn even_root_reduces_and_picks_the_even_one() {
        let p = MODULUS;
        for limbs in elements(7) {
            let bytes = even_root(&limbs);
            let got = U256::from_be_slice(&bytes);
            assert!(got < *p.as_ref());
            assert_eq!(bytes[31] & 1, 0);
            let want = value(&limbs);
            assert!(got == want || got.add_mod(&want, &p) == U256::ZERO);
        }
    }
}
