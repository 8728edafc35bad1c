//! [`TrustModel`]: the one owner of the scoring state. It holds the inputs
//! (lists, claims, publishers, the node's policy), the graph built from
//! them and the mass computed on it, and keeps the two in step:
//!
//! - `add_*` and `set_*` only record an input, and note whether it changes
//!   the graph (a list read by the search, the mutes);
//! - [`TrustModel::recompute`] rebuilds the graph and solves from scratch:
//!   the canonical result, bit-identical for the same inputs;
//! - [`TrustModel::update`] rebuilds the graph if an input changed it and
//!   refines the previous mass from there: within `nodes × 1e-13 / ε` (L1)
//!   of a recompute, in a fraction of its time.
//!
//! Verdicts are worked out when asked ([`explain`](super::explain)), so a
//! new report or review needs no recompute at all.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::graph::{Graph, Node};
use super::input::{
    FollowList, MuteList, Policy, Publisher, Report, ReportKind, ReportTarget, Review,
};
use super::key::NostrKey;
use super::known_keys;
use super::ledger::{Dated, Ledger};
use super::limits::{Limits, Truncation};
use super::pagerank::{self, Solved};
use super::standing;
use super::store::{Kid, Store};
use crate::error::Error;

/// What a claim is about, as the ledgers key it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Subject {
    /// A Nostr key.
    Key(NostrKey),
    /// An app: its publisher's DID text and its id.
    App(String, String),
}

/// A review as the ledger holds it: rating, then text.
pub(super) type HeldReview = (u8, String);

/// The node's policy as sets of DID text.
#[derive(Debug, Clone, Default)]
pub(super) struct PolicySets {
    pub(super) pinned: BTreeSet<String>,
    pub(super) allowed: BTreeSet<String>,
    pub(super) blocked: BTreeSet<String>,
}

/// Everything the owner's trust is computed from, and the result.
#[derive(Debug, Clone)]
pub struct TrustModel {
    pub(super) owner: NostrKey,
    owner_kid: Kid,
    limits: Limits,
    pub(super) store: Store,
    pub(super) reports: Ledger<Subject, ReportKind>,
    pub(super) reviews: Ledger<Subject, HeldReview>,
    pub(super) publishers: BTreeMap<String, Publisher>,
    pub(super) policy: PolicySets,
    pub(super) graph: Graph,
    pub(super) mass: Vec<f64>,
    /// The mass of the median key the owner follows.
    pub(super) typical: Option<f64>,
    /// An input changed the graph since it was last built.
    stale: bool,
}

/// What a [`TrustModel::recompute`] or [`TrustModel::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Computed {
    /// Whether the graph was rebuilt.
    pub rebuilt: bool,
    /// Power-iteration steps (recompute) or pushes (update).
    pub steps: u64,
    /// The L1 change of the last step (recompute) or the L1 residual left
    /// (update): how far from exact the mass may be, times at most 1/ε.
    pub change: f64,
}

/// The graph's size and what the caps left out, for `archy trust graph stats`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GraphStats {
    /// Keys in the graph, the owner included.
    pub keys: usize,
    /// Follows in the graph.
    pub edges: usize,
    /// Keys the owner follows.
    pub follows: usize,
    /// The depth the graph reaches.
    pub depth: u8,
    /// Keys the model has seen in any list.
    pub keys_seen: usize,
    /// Keys the owner mutes.
    pub muted: usize,
    /// What the caps left out.
    pub truncation: Truncation,
}

impl TrustModel {
    /// An empty model for `owner` within `limits`: everyone is unknown
    /// until lists arrive and [`recompute`](Self::recompute) runs.
    pub fn new(owner: NostrKey, limits: Limits) -> Self {
        let mut store = Store::new(limits.keys_per_list);
        let owner_kid = store.intern(owner);
        let graph = Graph::build(&store, owner_kid, &[false], &limits);
        Self {
            owner,
            owner_kid,
            limits,
            store,
            reports: Ledger::new(limits.claims_per_key),
            reviews: Ledger::new(limits.claims_per_key),
            publishers: BTreeMap::new(),
            policy: PolicySets::default(),
            graph,
            mass: vec![1.0],
            typical: None,
            stale: false,
        }
    }

    /// Records a follow list (the newest per author counts); true when it
    /// replaced what was held.
    pub fn add_follow_list(&mut self, list: FollowList) -> bool {
        let author = list.author;
        if !self.store.insert_follow_list(list) {
            return false;
        }
        // Only a list the search reads changes the graph.
        let read = self
            .store
            .lookup(&author)
            .and_then(|kid| self.graph.node(kid))
            .is_some_and(|node| self.graph.dist(node) < self.limits.depth);
        self.stale |= read;
        true
    }

    /// Records the owner's mute list (the newest counts); true when it
    /// replaced what was held.
    pub fn set_mute_list(&mut self, list: MuteList) -> bool {
        let changed = self.store.set_mutes(list);
        self.stale |= changed;
        changed
    }

    /// Records a report; true when it changed what is held. Verdicts read
    /// reports when asked, so nothing needs recomputing.
    pub fn add_report(&mut self, report: Report) -> bool {
        let subject = match report.target {
            ReportTarget::Key(key) => Subject::Key(key),
            ReportTarget::App { publisher, app_id } => {
                Subject::App(publisher.as_str().to_owned(), app_id)
            }
        };
        let claim = Dated {
            created_at: report.created_at,
            claim: report.kind,
        };
        self.reports.insert(report.author, subject, claim)
    }

    /// Records a review; true when it changed what is held. A rating
    /// outside 1 to 5 is refused.
    pub fn add_review(&mut self, review: Review) -> Result<bool, Error> {
        if !(1..=5).contains(&review.rating) {
            return Err(Error::InvalidRating {
                author: review.author.to_string(),
                publisher: review.publisher.to_string(),
                app_id: review.app_id,
                rating: review.rating,
            });
        }
        let subject = Subject::App(review.publisher.as_str().to_owned(), review.app_id);
        let claim = Dated {
            created_at: review.created_at,
            claim: (review.rating, review.text),
        };
        Ok(self.reviews.insert(review.author, subject, claim))
    }

    /// Records (or replaces) what the node knows of a publisher.
    pub fn set_publisher(&mut self, publisher: Publisher) {
        self.publishers
            .insert(publisher.did.as_str().to_owned(), publisher);
    }

    /// Replaces the node's policy: pinned publishers and the live allow and
    /// block lists. Takes effect at the next verdict.
    pub fn set_policy(&mut self, policy: Policy) {
        let texts = |dids: Vec<crate::Did>| dids.iter().map(|d| d.as_str().to_owned()).collect();
        self.policy = PolicySets {
            pinned: texts(policy.pinned),
            allowed: texts(policy.allowed),
            blocked: texts(policy.blocked),
        };
    }

    /// Rebuilds the graph and solves from the owner alone: the canonical
    /// result, the same bits for the same inputs in any order.
    pub fn recompute(&mut self) -> Computed {
        self.graph = self.build_graph();
        let (mass, solved) = pagerank::solve(&self.graph);
        self.mass = mass;
        self.settle(solved)
    }

    /// Brings the result up to date after a few inputs: rebuilds the graph
    /// if they changed it and refines the previous mass on it. Nothing to
    /// do (no list read by the search, no mute changed) costs nothing.
    pub fn update(&mut self) -> Computed {
        if !self.stale {
            return Computed {
                rebuilt: false,
                steps: 0,
                change: 0.0,
            };
        }
        let graph = self.build_graph();
        let mut mass = vec![0.0; graph.len()];
        for (node, m) in mass.iter_mut().enumerate() {
            if let Some(old) = self.graph.node(graph.kid(node as Node)) {
                *m = self.mass[old as usize];
            }
        }
        let solved = pagerank::refine(&graph, &mut mass);
        self.graph = graph;
        self.mass = mass;
        self.settle(solved)
    }

    /// The graph's size and what the caps left out.
    pub fn stats(&self) -> GraphStats {
        let (lists_cut, list_keys_cut) = self.store.cuts();
        let (keys_left_out, edges_left_out) = self.graph.left_out();
        GraphStats {
            keys: self.graph.len(),
            edges: self.graph.edges(),
            follows: self.graph.follows(self.graph.owner()).len(),
            depth: self.limits.depth,
            keys_seen: self.store.len(),
            muted: self.store.muted().len(),
            truncation: Truncation {
                lists_cut,
                list_keys_cut,
                claims_dropped: self.reports.dropped() + self.reviews.dropped(),
                keys_left_out,
                edges_left_out,
            },
        }
    }

    /// What the caps left out: the part of [`stats`](Self::stats) a caller
    /// shows as a warning.
    pub fn truncation(&self) -> Truncation {
        self.stats().truncation
    }

    /// The owner's key.
    pub fn owner(&self) -> NostrKey {
        self.owner
    }

    /// The graph from the stored lists, with muted and publicly known keys
    /// silenced (in the graph, but their lists unread).
    fn build_graph(&self) -> Graph {
        let mut silenced = vec![false; self.store.len()];
        let known = known_keys::nostr_keys().copied();
        for key in self.store.muted().iter().copied().chain(known) {
            if let Some(kid) = self.store.lookup(&key) {
                silenced[kid as usize] = true;
            }
        }
        Graph::build(&self.store, self.owner_kid, &silenced, &self.limits)
    }

    /// Records the typical follow's mass for a new result.
    fn settle(&mut self, solved: Solved) -> Computed {
        self.typical = standing::typical_mass(&self.graph, &self.mass, |n| {
            !self.store.is_muted(&self.store.key(self.graph.kid(n)))
        });
        self.stale = false;
        Computed {
            rebuilt: true,
            steps: solved.steps,
            change: solved.change,
        }
    }
}
