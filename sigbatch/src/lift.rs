//! BIP-340's `lift_x`: the curve point with a given x-coordinate and an
//! even y. Every Schnorr signature's `R` is lifted before a batch
//! equation, and each lift is a square root; [`lift_all`] takes sixteen at
//! a time in AVX-512 IFMA lanes ([`crate::field_ifma`]) when asked to
//! ([`crate::Mode::BatchWithLanes`]) and the CPU has them.

use k256::elliptic_curve::point::{AffineCoordinates, DecompressPoint};
use k256::elliptic_curve::subtle::Choice;
use k256::{AffinePoint, FieldBytes};

/// Fewer x-coordinates than this are lifted one by one: sixteen lanes,
/// padded or not, cost about as much as two or three single lifts.
#[cfg(target_arch = "x86_64")]
const FEWEST_FOR_LANES: usize = 4;

/// The point with x-coordinate `x` and an even y; `None` if `x` is not
/// below the field size or not on the curve.
pub(super) fn lift_x(x: &[u8; 32]) -> Option<AffinePoint> {
    AffinePoint::decompress(&FieldBytes::from(*x), Choice::from(0)).into()
}

/// [`lift_x`] of each of `xs`, in order; in IFMA lanes if `lanes` (the
/// caller checked that the CPU has them).
pub(super) fn lift_all(xs: &[[u8; 32]], lanes: bool) -> Vec<Option<AffinePoint>> {
    #[cfg(target_arch = "x86_64")]
    if lanes && xs.len() >= FEWEST_FOR_LANES && crate::field_ifma::available() {
        return lift_in_lanes(xs);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = lanes;
    xs.iter().map(lift_x).collect()
}

/// [`lift_all`] with the square roots taken in IFMA lanes. Each root is
/// believed only once k256 finds it even and on the curve at its x; any
/// other x (not on the curve, or not below the field size) is left to
/// [`lift_x`], which gives its verdict.
#[cfg(target_arch = "x86_64")]
fn lift_in_lanes(xs: &[[u8; 32]]) -> Vec<Option<AffinePoint>> {
    use crate::field_ifma::{LANES, even_root, roots};
    let mut points = Vec::with_capacity(xs.len());
    for chunk in xs.chunks(LANES) {
        let mut lanes = [[0u8; 32]; LANES];
        lanes[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: `lift_all` checked that the CPU has AVX-512F and IFMA.
        let ys = unsafe { roots(&lanes) };
        points.extend(chunk.iter().zip(&ys).map(|(x, y)| {
            let y = even_root(y);
            let point = (y[31] & 1 == 0)
                .then(|| {
                    Option::<AffinePoint>::from(AffinePoint::from_coordinates(
                        &FieldBytes::from(*x),
                        &FieldBytes::from(y),
                    ))
                })
                .flatten();
            point.or_else(|| lift_x(x))
        }));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of x-coordinates: consecutive small numbers (about half on
    /// the curve), numbers at and past the field size, and hashes.
    fn xs() -> Vec<[u8; 32]> {
        let mut xs: Vec<[u8; 32]> = (0u64..200)
            .map(|i| {
                let mut x = [0u8; 32];
                x[24..].copy_from_slice(&i.to_be_bytes());
                x
            })
            .collect();
        let p_minus = |less: u8| {
            let mut x = [0xFF; 32];
            x[27] = 0xFE;
            x[28..].copy_from_slice(&[0xFF, 0xFF, 0xFC, 0x2F - less]);
            x
        };
        xs.extend([p_minus(0), p_minus(1), p_minus(2), [0xFF; 32]]);
        xs.extend((0u32..300).map(|i| -> [u8; 32] {
            use sha2::Digest;
            sha2::Sha256::digest(i.to_be_bytes()).into()
        }));
        xs
    }

    #[test]
    fn lifting_many_gives_what_lifting_one_by_one_gives() {
        let xs = xs();
        let one_by_one: Vec<_> = xs.iter().map(lift_x).collect();
        assert!(one_by_one.iter().filter(|p| p.is_some()).count() > 200);
        for take in [xs.len(), 17, 16, 5] {
            assert_eq!(lift_all(&xs[..take], false), one_by_one[..take]);
            assert_eq!(lift_all(&xs[..take], true), one_by_one[..take]);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_lanes_find_each_root_themselves() {
        use crate::field_ifma::{LANES, even_root, lanes_here, roots};
        if !lanes_here("the_lanes_find_each_root_themselves") {
            return;
        }
        let xs = xs();
        let mut found = 0;
        for chunk in xs.chunks_exact(LANES) {
            let lanes: [[u8; 32]; LANES] = chunk.try_into().expect("a chunk of LANES");
            // SAFETY: `lanes_here` says the CPU has AVX-512F and IFMA.
            let ys = unsafe { roots(&lanes) };
            for (x, y) in chunk.iter().zip(&ys) {
                if let Some(point) = lift_x(x) {
                    let mut uncompressed = [0u8; 64];
                    uncompressed.copy_from_slice(
                        &k256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&point, false)
                            .as_bytes()[1..],
                    );
                    assert_eq!(even_root(y), uncompressed[32..], "the root at x {x:02x?}");
                    found += 1;
                }
            }
        }
        assert!(found > 200, "only {found} roots compared");
    }
}
