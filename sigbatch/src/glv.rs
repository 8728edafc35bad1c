//! secp256k1's endomorphism, which halves the scalars of the batch
//! equation (Gallant, Lambert and Vanstone's method).
//!
//! `λ·(x, y) = (β·x, y)` for fixed constants `λ` and `β`, so `λ·P` costs
//! one field multiplication. Every scalar `k` is `k1 + k2·λ` with `k1` and
//! `k2` below 2^128 in size, so `k·P = k1·P + k2·(λ·P)`: two terms of half
//! the size, which is what the bucket sum's cost depends on. The split is
//! libsecp256k1's (`secp256k1_scalar_split_lambda`): `k2` comes from
//! rounding `k·g1` and `k·g2` down by 2^384.

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::scalar::IsHigh;
use k256::{FieldBytes, Scalar};

/// `−λ`.
const MINUS_LAMBDA: [u8; 32] =
    hex_literal("ac9c52b33fa3cf1f5ad9e3fd77ed9ba4a880b9fc8ec739c2e0cfc810b51283cf");
/// `−b1` of the lattice basis.
const MINUS_B1: [u8; 32] =
    hex_literal("00000000000000000000000000000000e4437ed6010e88286f547fa90abfe4c3");
/// `−b2` of the lattice basis.
const MINUS_B2: [u8; 32] =
    hex_literal("fffffffffffffffffffffffffffffffe8a280ac50774346dd765cda83db1562c");
/// `g1 = round(2^384·b2/n)`.
const G1: [u8; 32] =
    hex_literal("3086d221a7d46bcde86c90e49284eb153daa8a1471e8ca7fe893209a45dbb031");
/// `g2 = round(2^384·(−b1)/n)`.
const G2: [u8; 32] =
    hex_literal("e4437ed6010e88286f547fa90abfe4c4221208ac9df506c61571b4ae8ac47f71");

/// One half of a split scalar: a size below 2^128, and whether the half
/// is its negation (then the point it multiplies is negated instead).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Half {
    /// Below 2^128.
    pub size: Scalar,
    /// Whether the half is `−size`.
    pub negative: bool,
}

/// `k = k1 + k2·λ (mod n)`: `[k1, k2]`, each below 2^128 in size.
pub fn split(k: &Scalar) -> [Half; 2] {
    let k_limbs = limbs(&k.to_bytes());
    let c1 = rounded_product(&k_limbs, &limbs(&G1.into())) * constant(&MINUS_B1);
    let c2 = rounded_product(&k_limbs, &limbs(&G2.into())) * constant(&MINUS_B2);
    let k2 = c1 + c2;
    let k1 = *k + k2 * constant(&MINUS_LAMBDA);
    [half(k1), half(k2)]
}

fn half(value: Scalar) -> Half {
    if bool::from(value.is_high()) {
        Half {
            size: -value,
            negative: true,
        }
    } else {
        Half {
            size: value,
            negative: false,
        }
    }
}

/// `round(a·b / 2^384)` of two 256-bit numbers, which is below 2^128.
fn rounded_product(a: &[u64; 4], b: &[u64; 4]) -> Scalar {
    let mut wide = [0u64; 8];
    for (i, &a) in a.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &b) in b.iter().enumerate() {
            let sum = u128::from(wide[i + j]) + u128::from(a) * u128::from(b) + carry;
            wide[i + j] = sum as u64;
            carry = sum >> 64;
        }
        wide[i + 4] = carry as u64;
    }
    let shifted = (u128::from(wide[7]) << 64) | u128::from(wide[6]);
    // Bit 383, the first one shifted out, rounds.
    Scalar::from(shifted + u128::from(wide[5] >> 63))
}

/// A big-endian 256-bit number as four 64-bit limbs, least significant
/// first.
pub fn limbs(bytes: &FieldBytes) -> [u64; 4] {
    let mut limbs = [0u64; 4];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[32 - 8 * (i + 1)..32 - 8 * i]);
        *limb = u64::from_be_bytes(word);
    }
    limbs
}

/// One of the constants above as a scalar; each is below the group order.
fn constant(bytes: &[u8; 32]) -> Scalar {
    Option::from(Scalar::from_repr(FieldBytes::from(*bytes))).unwrap_or(Scalar::ZERO)
}

/// 64 hex digits as 32 bytes, at compile time.
const fn hex_literal(text: &str) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let text = text.as_bytes();
    assert!(text.len() == 64, "not 64 hex digits");
    let mut bytes = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        bytes[i] = digit(text[2 * i]) << 4 | digit(text[2 * i + 1]);
        i += 1;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use k256::ProjectivePoint;
    use k256::elliptic_curve::ops::Reduce;
    use sha2::{Digest, Sha256};

    use super::*;

    fn lambda() -> Scalar {
        -constant(&MINUS_LAMBDA)
    }

    #[test]
    fn lambda_times_a_point_is_the_endomorphism() {
        let point = ProjectivePoint::GENERATOR * Scalar::from(12345u64);
        assert_eq!(point * lambda(), point.endomorphism());
        assert_eq!(
            ProjectivePoint::GENERATOR * lambda(),
            ProjectivePoint::GENERATOR.endomorphism()
        );
    }

    #[test]
    fn the_halves_are_small_and_add_back_up() {
        let two_to_128 = Scalar::from(u128::MAX) + Scalar::ONE;
        let mut scalars = vec![
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            two_to_128,
            -two_to_128,
            lambda(),
            -lambda(),
            Scalar::from(u128::MAX),
        ];
        scalars.extend((0..2000u32).map(|i| {
            let hash: [u8; 32] = Sha256::digest(i.to_le_bytes()).into();
            <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(hash))
        }));
        for k in scalars {
            let [k1, k2] = split(&k);
            for half in [k1, k2] {
                assert!(limbs(&half.size.to_bytes())[2..] == [0, 0], "{k:?}");
            }
            let signed = |h: Half| if h.negative { -h.size } else { h.size };
            assert_eq!(signed(k1) + signed(k2) * lambda(), k);
        }
    }
}
