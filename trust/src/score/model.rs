//! [`TrustModel`]: the one owner of the scoring state. It holds the inputs
//! (lists, claims, publishers, the node's policy), the graph built from
//! them and the mass computed on it, and keeps the two in step:
//!
//! - `add_*` and `set_*` only record an input, and note whether it changes
//!   the graph (a list read by the search, the mutes);
//! - [`TrustModel::recompute`] rebuilds the graph and solves from scratch:
//!   the canonical result, bit-identical for the same inputs;
//! - [`TrustModel::update`] patches the changed lists into the graph (or
//!   searches again where a patch cannot tell) and iterates on from the
//!   previous mass until no key's mass moves by more than 0.1 % in a step:
//!   each score within a few hundredths of a point of a recompute's (not
//!   bit-identical to it), in a fraction of its time.
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
use super::verdict::Band;
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
    /// Authors whose new list the graph reads, since it was last built.
    changed: Vec<Kid>,
    /// An input changed the graph in a way only a new search can follow.
    stale: bool,
}

/// Lists changed since the last build that an update patches into the
/// graph one by one; more are read by a new search. A patch copies the
/// rows once, a build reads them about four times.
const MAX_PATCHES: usize = 3;

/// What a [`TrustModel::recompute`] or [`TrustModel::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Computed {
    /// What became of the graph.
    pub graph: GraphWork,
    /// Power-iteration steps.
    pub steps: u64,
    /// The L1 change of the last step (after a recompute the mass is
    /// within (1 − ε)/ε times this of exact).
    pub change: f64,
}

/// How the graph was brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphWork {
    /// Nothing changed it: the graph and the mass were kept.
    Kept,
    /// The changed lists were patched into its rows.
    Patched,
    /// A new search from the owner built it again.
    Searched,
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
    /// Keys in the graph by score: `[i]` counts scores from `10 i` to
    /// `10 i + 9` (100 counts in the last), the owner included.
    pub scores: [usize; 10],
    /// Publishers the model knows, by band.
    pub publishers: PublisherBands,
    /// What the caps left out.
    pub truncation: Truncation,
}

/// How many publishers are in each band.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PublisherBands {
    /// Trusted.
    pub trusted: usize,
    /// Known.
    pub known: usize,
    /// Unknown.
    pub unknown: usize,
    /// Suspicious.
    pub suspicious: usize,
    /// Blocked.
    pub blocked: usize,
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
            changed: Vec::new(),
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
        let silenced = self.store.is_muted(&author) || known_keys::nostr_source(&author).is_some();
        let read = self
            .node_of(&author)
            .filter(|&node| !silenced && self.graph.dist(node) < self.limits.depth);
        if let Some(node) = read {
            let kid = self.graph.kid(node);
            if !self.changed.contains(&kid) {
                self.changed.push(kid);
            }
        }
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
        self.settle(solved, GraphWork::Searched)
    }

    /// Brings the result up to date after a few inputs: patches the lists
    /// they changed into the graph (or searches again where a patch cannot
    /// tell, and after a mute changed) and refines the previous mass on it.
    /// Nothing to do (no list read by the search, no mute changed) costs
    /// nothing.
    pub fn update(&mut self) -> Computed {
        if !self.stale && self.changed.is_empty() {
            return Computed {
                graph: GraphWork::Kept,
                steps: 0,
                change: 0.0,
            };
        }
        // Without a typical follow there is no scale to refine to: the
        // owner followed no one, and the first list is solved in full.
        let Some(typical) = self.typical else {
            return self.recompute();
        };
        let (graph, work) = match self.patched_graph() {
            Some(graph) => (graph, GraphWork::Patched),
            None => (self.build_graph(), GraphWork::Searched),
        };
        let mut mass = vec![0.0; graph.len()];
        for (node, m) in mass.iter_mut().enumerate() {
            if let Some(old) = self.graph.node(graph.kid(node as Node)) {
                *m = self.mass[old as usize];
            }
        }
        let solved = pagerank::refine(&graph, &mut mass, standing::zero_score_mass(typical));
        self.graph = graph;
        self.mass = mass;
        self.settle(solved, work)
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
            scores: self.score_counts(),
            publishers: self.publisher_bands(),
            truncation: Truncation {
                lists_cut,
                list_keys_cut,
                claims_dropped: self.reports.dropped() + self.reviews.dropped(),
                keys_left_out,
                edges_left_out,
            },
        }
    }

    /// The L1 distance between this model's mass and `other`'s, key by
    /// key (a key in one graph only counts its whole mass): how far an
    /// [`update`](Self::update) drifted from a [`recompute`](Self::recompute).
    pub fn mass_distance(&self, other: &TrustModel) -> f64 {
        let mass_in = |model: &TrustModel, key: &NostrKey| {
            model.node_of(key).map_or(0.0, |n| model.mass[n as usize])
        };
        let mut distance = 0.0;
        for (n, &mass) in self.mass.iter().enumerate() {
            let key = self.store.key(self.graph.kid(n as Node));
            distance += (mass - mass_in(other, &key)).abs();
        }
        for (n, &mass) in other.mass.iter().enumerate() {
            let key = other.store.key(other.graph.kid(n as Node));
            if self.node_of(&key).is_none() {
                distance += mass;
            }
        }
        distance
    }

    /// The node of `key`, if it is in the graph.
    pub(super) fn node_of(&self, key: &NostrKey) -> Option<Node> {
        self.store.lookup(key).and_then(|kid| self.graph.node(kid))
    }

    /// The owner's key.
    pub fn owner(&self) -> NostrKey {
        self.owner
    }

    /// The graph from the stored lists, by a new search.
    fn build_graph(&self) -> Graph {
        Graph::build(&self.store, self.owner_kid, &self.silenced(), &self.limits)
    }

    /// The graph with each changed list patched in, when there are few
    /// changes and each can be patched (see [`Graph::patched`]).
    fn patched_graph(&self) -> Option<Graph> {
        if self.stale || self.changed.len() > MAX_PATCHES {
            return None;
        }
        let silenced = self.silenced();
        let mut graph: Option<Graph> = None;
        for &author in &self.changed {
            let base = graph.as_ref().unwrap_or(&self.graph);
            graph = Some(base.patched(&self.store, author, &silenced, &self.limits)?);
        }
        graph
    }

    /// By store number: the keys whose lists are never read, muted and
    /// publicly known ones (they stay in the graph).
    fn silenced(&self) -> Vec<bool> {
        let mut silenced = vec![false; self.store.len()];
        let known = known_keys::nostr_keys().copied();
        for key in self.store.muted().iter().copied().chain(known) {
            if let Some(kid) = self.store.lookup(&key) {
                silenced[kid as usize] = true;
            }
        }
        silenced
    }

    /// Records the typical follow's mass for a new result.
    /// Keys in the graph by score, ten points to a bucket.
    fn score_counts(&self) -> [usize; 10] {
        let mut counts = [0; 10];
        for node in 0..self.graph.len() as Node {
            let score = if node == self.graph.owner() {
                100
            } else {
                match self.typical {
                    Some(typical) => standing::score(self.mass[node as usize] / typical),
                    None => 0,
                }
            };
            counts[usize::from(score / 10).min(9)] += 1;
        }
        counts
    }

    /// Publishers by band (a band does not depend on the time, only the
    /// sentences do).
    fn publisher_bands(&self) -> PublisherBands {
        let mut bands = PublisherBands::default();
        for publisher in self.publishers.values() {
            let count = match self.publisher_standing(&publisher.did, 0).band {
                Band::Trusted => &mut bands.trusted,
                Band::Known => &mut bands.known,
                Band::Unknown => &mut bands.unknown,
                Band::Suspicious => &mut bands.suspicious,
                Band::Blocked => &mut bands.blocked,
            };
            *count += 1;
        }
        bands
    }

    fn settle(&mut self, solved: Solved, work: GraphWork) -> Computed {
        self.typical = standing::typical_mass(&self.graph, &self.mass, |n| {
            !self.store.is_muted(&self.store.key(self.graph.kid(n)))
        });
        self.stale = false;
        self.changed.clear();
        Computed {
            graph: work,
            steps: solved.steps,
            change: solved.change,
        }
    }
}
