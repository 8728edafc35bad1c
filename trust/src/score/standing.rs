//! From PageRank mass to what people see. A key's mass is compared with
//! the mass of a typical key the owner follows (the median over the
//! owner's follows), so figures mean the same in a graph of 300 keys and
//! in one of 100 000:
//!
//! - the score, 0 to 100, on a log scale: [`SCORE_AT_TYPICAL`] for a key
//!   as trusted as the typical follow, [`SCORE_PER_DECADE`] more or less
//!   for each factor of ten;
//! - the weight of someone's claim (report, review), 0 to 1, linear in
//!   mass so that a sybil region's claims together weigh at most what its
//!   mass allows, however many keys it mints.

use super::graph::{Graph, Node};

/// The score of a key with as much mass as the median key the owner follows.
pub(crate) const SCORE_AT_TYPICAL: f64 = 70.0;
/// Score points per factor of ten in mass.
pub(crate) const SCORE_PER_DECADE: f64 = 20.0;

/// The mass of the median key the owner follows (the lower middle of an
/// even count) among those `counts` keeps; `None` when the owner follows
/// no one it keeps.
pub(crate) fn typical_mass(
    graph: &Graph,
    mass: &[f64],
    counts: impl Fn(Node) -> bool,
) -> Option<f64> {
    let mut masses: Vec<f64> = graph
        .follows(graph.owner())
        .iter()
        .filter(|&&n| counts(n))
        .map(|&n| mass[n as usize])
        .collect();
    masses.sort_unstable_by(f64::total_cmp);
    masses
        .get(masses.len().saturating_sub(1) / 2)
        .copied()
        .filter(|&m| m > 0.0)
}

/// The score of a key whose mass is `relative` times the typical follow's.
pub(crate) fn score(relative: f64) -> u8 {
    points(relative).round() as u8
}

/// The score before rounding, 0 to 100.
pub(crate) fn points(relative: f64) -> f64 {
    if relative <= 0.0 {
        return 0.0;
    }
    (SCORE_AT_TYPICAL + SCORE_PER_DECADE * relative.log10()).clamp(0.0, 100.0)
}

/// The mass below which the score is 0, when the typical follow's is
/// `typical`: precision below it never shows.
pub(crate) fn zero_score_mass(typical: f64) -> f64 {
    typical * 10f64.powf(-SCORE_AT_TYPICAL / SCORE_PER_DECADE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_is_logarithmic_around_the_typical_follow() {
        assert_eq!(score(1.0), 70);
        assert_eq!(score(10.0), 90);
        assert_eq!(score(0.1), 50);
        assert_eq!(score(0.001), 10);
        assert_eq!(score(1e-6), 0);
        assert_eq!(score(1e6), 100);
        assert_eq!(score(0.0), 0);
        let floor = zero_score_mass(1.0);
        assert_eq!(points(floor), 0.0);
        assert!(points(floor * 1.01) > 0.0);
    }
}
