//! A synthetic follow graph, the same for the same [`Spec`] on every
//! machine: for the benchmarks (`archy-bench trust`, `cargo bench -p
//! archy-trust`) and the tests' honest networks. Built only with the
//! `synthetic` feature (and in this crate's tests); never in `archy`.
//!
//! Key `i` follows about `edges / (2·√keys) / √(i + 1)` keys: a few keys
//! follow thousands, most follow a dozen or two (a power law with exponent
//! 1/2 over the rank). Whom it follows is drawn with density falling as
//! 1/√rank, so low ranks are also the most followed. Keys are SHA-256
//! hashes of the seed and the rank, so key order says nothing of rank.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::input::FollowList;
use super::key::NostrKey;
use super::limits::Limits;
use super::model::TrustModel;

/// The shape of a synthetic graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Keys, each with one follow list.
    pub keys: usize,
    /// Follows over all lists (fewer if a list would need more than half
    /// of all keys).
    pub edges: usize,
    /// Names the graph: another seed, other keys and follows.
    pub seed: u64,
}

/// The key of rank `rank` in the graph named `seed`.
pub fn key(seed: u64, rank: usize) -> NostrKey {
    let digest = Sha256::new()
        .chain_update(b"archy synthetic follow graph")
        .chain_update(seed.to_le_bytes())
        .chain_update((rank as u64).to_le_bytes())
        .finalize();
    NostrKey(digest.into())
}

/// Every key's follow list, by rank, each made when asked (a 100 000-key
/// graph is never held twice).
pub fn follow_lists(spec: Spec) -> impl Iterator<Item = FollowList> {
    let total = total_weight(&spec);
    let keys = keys(&spec);
    (0..spec.keys).map(move |rank| follow_list(&spec, total, &keys, rank))
}

/// Every rank's key, hashed once.
fn keys(spec: &Spec) -> Vec<NostrKey> {
    (0..spec.keys).map(|rank| key(spec.seed, rank)).collect()
}

/// The follow list of the key of rank `rank`.
fn follow_list(spec: &Spec, total: f64, keys: &[NostrKey], rank: usize) -> FollowList {
    FollowList {
        author: keys[rank],
        created_at: 1,
        follows: targets(spec, total, rank)
            .into_iter()
            .map(|target| keys[target])
            .collect(),
    }
}

/// The ranks the key of rank `rank` follows, as drawn.
fn targets(spec: &Spec, total: f64, rank: usize) -> Vec<usize> {
    let degree = degree(spec, total, rank);
    // Each rank's stream starts from a hash of the seed and the rank: seeds
    // that differ by a few steps of the generator would give streams that
    // repeat each other, shifted.
    let mut random = SplitMix(SplitMix(spec.seed).next() ^ SplitMix(rank as u64).next());
    let mut chosen = HashSet::with_capacity(degree);
    let mut targets = Vec::with_capacity(degree);
    while targets.len() < degree {
        let u = random.unit();
        let target = ((spec.keys as f64 * u * u) as usize).min(spec.keys - 1);
        if target != rank && chosen.insert(target) {
            targets.push(target);
        }
    }
    targets
}

/// A model of a synthetic graph, every list added but nothing computed,
/// with the two lists a benchmark changes.
pub struct Fed {
    /// The model, seen from the owner.
    pub model: TrustModel,
    /// The owner's follow list.
    pub owner: FollowList,
    /// The list of the first key the owner's list names (the owner's own
    /// list if it names none).
    pub followed: FollowList,
}

/// `spec`'s graph seen from the key of rank `owner_rank`, within `limits`.
pub fn feed(spec: Spec, owner_rank: usize, limits: Limits) -> Fed {
    let total = total_weight(&spec);
    let keys = keys(&spec);
    let owner = follow_list(&spec, total, &keys, owner_rank);
    let first = targets(&spec, total, owner_rank).first().copied();
    let followed = follow_list(&spec, total, &keys, first.unwrap_or(owner_rank));
    drop(keys);
    let mut model = TrustModel::new(owner.author, limits);
    for list in follow_lists(spec) {
        model.add_follow_list(list);
    }
    Fed {
        model,
        owner,
        followed,
    }
}

/// `list` republished: version `version` (newer than any before it), with
/// five more follows in odd versions and without them in even ones, so
/// each version changes the graph.
pub fn changed(list: &FollowList, version: u64) -> FollowList {
    let mut follows = list.follows.clone();
    if version % 2 == 1 {
        follows.extend((0..5).map(|n| key(0x0c4a_96ed, n)));
    }
    FollowList {
        author: list.author,
        created_at: list.created_at + version,
        follows,
    }
}

/// How many keys the key of rank `rank` follows, `total` being the sum of
/// all ranks' weights.
fn degree(spec: &Spec, total: f64, rank: usize) -> usize {
    let share = spec.edges as f64 * weight(rank) / total;
    (share.round() as usize).min(spec.keys.saturating_sub(1) / 2)
}

/// The sum of all ranks' weights.
fn total_weight(spec: &Spec) -> f64 {
    (0..spec.keys).map(weight).sum()
}

/// The rank's share of all follows, before scaling.
fn weight(rank: usize) -> f64 {
    1.0 / ((rank + 1) as f64).sqrt()
}

/// SplitMix64: a small, fast generator, enough for shaping test data.
struct SplitMix(u64);

impl SplitMix {
    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn almost_every_key_is_followed() {
        let spec = Spec {
            keys: 2000,
            edges: 40_000,
            seed: 1,
        };
        let mut followed = std::collections::HashSet::new();
        for list in follow_lists(spec) {
            followed.extend(list.follows);
        }
        assert!(
            followed.len() > 1990,
            "only {} keys followed",
            followed.len()
        );
    }

    #[test]
    fn the_graph_has_the_size_asked_and_is_the_same_every_time() {
        let spec = Spec {
            keys: 1000,
            edges: 15_000,
            seed: 7,
        };
        let lists: Vec<FollowList> = follow_lists(spec).collect();
        let edges: usize = lists.iter().map(|l| l.follows.len()).sum();
        assert_eq!(lists.len(), 1000);
        assert!((14_900..=15_100).contains(&edges), "{edges}");
        assert_eq!(lists, follow_lists(spec).collect::<Vec<_>>());
        // Power-law-ish: the top rank follows far more than the median.
        assert!(lists[0].follows.len() > 10 * lists[500].follows.len());
    }
}
