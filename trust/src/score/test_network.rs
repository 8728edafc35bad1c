//! The honest network the scoring tests run on: 400 keys around the owner
//! (the synthetic graph the benchmarks use, at a small size), and the
//! moves tests make on it.

use super::input::{FollowList, Publisher, PublisherFacts};
use super::key::NostrKey;
use super::limits::Limits;
use super::model::TrustModel;
use super::pagerank::RESTART;
use super::reason::Names;
use super::synthetic::{self, Spec};
use crate::{Did, Identity};

/// The time verdicts are asked at.
pub(crate) const NOW: u64 = 1_750_000_000;
/// The honest network.
pub(crate) const HONEST: Spec = Spec {
    keys: 400,
    edges: 6000,
    seed: 1,
};
/// The owner's rank in it: follows about 28 keys.
pub(crate) const OWNER_RANK: usize = 30;

/// The owner's honest network, as the model holds it.
pub(crate) struct Network {
    pub(crate) model: TrustModel,
    lists: Vec<FollowList>,
}

impl Network {
    /// The honest network, to `depth`, solved.
    pub(crate) fn new(depth: u8) -> Self {
        let lists: Vec<FollowList> = synthetic::follow_lists(HONEST).collect();
        let owner = synthetic::key(HONEST.seed, OWNER_RANK);
        let limits = Limits {
            depth,
            ..Limits::default()
        };
        let mut model = TrustModel::new(owner, limits);
        for list in lists.iter().cloned() {
            model.add_follow_list(list);
        }
        model.recompute();
        Self { model, lists }
    }

    /// The keys the owner follows, in key order.
    pub(crate) fn owner_follows(&self) -> Vec<NostrKey> {
        let mut follows = self.list(&self.model.owner()).follows.clone();
        follows.sort_unstable();
        follows
    }

    /// The newest list `author` published.
    pub(crate) fn list(&self, author: &NostrKey) -> &FollowList {
        self.lists
            .iter()
            .find(|l| l.author == *author)
            .expect("every honest key has a list")
    }

    /// `author` publishes a newer list that also follows `target`.
    pub(crate) fn also_follow(&mut self, author: &NostrKey, target: NostrKey) {
        let mut list = self.list(author).clone();
        list.follows.push(target);
        list.created_at += 1;
        assert!(self.model.add_follow_list(list.clone()));
        let held = self
            .lists
            .iter_mut()
            .find(|l| l.author == *author)
            .expect("the list was found above");
        *held = list;
    }

    /// The strongest attack edges the owner's follows can give: the
    /// follows passing on the most mass per follow each follow one of
    /// `targets`. Recomputes, and returns the attackers.
    pub(crate) fn attack(&mut self, targets: &[NostrKey]) -> Vec<NostrKey> {
        let mut attackers = self.owner_follows();
        let per_follow = |k: &NostrKey| self.mass_of(k) / self.list(k).follows.len() as f64;
        attackers.sort_by(|a, b| per_follow(b).total_cmp(&per_follow(a)).then(a.cmp(b)));
        attackers.truncate(targets.len());
        for (attacker, target) in attackers.iter().zip(targets) {
            self.also_follow(attacker, *target);
        }
        self.model.recompute();
        attackers
    }

    /// A publisher whose binding names `key`.
    pub(crate) fn publisher(&mut self, seed: u8, key: NostrKey) -> Did {
        let did = Identity::from_seed(&[seed; 32]).did();
        self.model.set_publisher(Publisher {
            did: did.clone(),
            nostr_key: Some(key),
            facts: PublisherFacts::default(),
        });
        did
    }

    /// `key`'s mass (0 outside the graph).
    pub(crate) fn mass_of(&self, key: &NostrKey) -> f64 {
        let kid = self.model.store.lookup(key).expect("a key the model saw");
        self.model
            .graph
            .node(kid)
            .map_or(0.0, |n| self.model.mass[n as usize])
    }

    /// The personalized PageRank bound on the mass a region can hold when
    /// `attack` are the honest keys with one follow into it: (1 − ε)/ε
    /// times the sum of π(u)/outdeg(u) over those follows.
    pub(crate) fn sybil_bound(&self, attack: &[NostrKey]) -> f64 {
        let through: f64 = attack
            .iter()
            .map(|u| {
                let kid = self.model.store.lookup(u).expect("an honest key");
                let node = self.model.graph.node(kid).expect("in the graph");
                self.model.mass[node as usize] / self.model.graph.follows(node).len() as f64
            })
            .sum();
        (1.0 - RESTART) / RESTART * through
    }
}

/// A stranger's key: in no honest list.
pub(crate) fn stranger(n: usize) -> NostrKey {
    synthetic::key(0x5757, n)
}

/// No display names: sentences show short npubs.
pub(crate) fn nobody() -> Names {
    Names::new()
}
