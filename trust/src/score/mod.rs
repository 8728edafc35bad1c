//! How far to trust a publisher or an app, from the point of view of the
//! node's owner, with the reasons why. `docs/trust-model.md` states the
//! model: the algorithm, its parameters, the bound on what a sybil ring
//! gains, the bands' rules and the caps.
//!
//! The owner is a Nostr key. Its follow lists, and those of the keys it
//! reaches, make a graph; personalized PageRank from the owner gives each
//! key a share of the owner's trust. A publisher (a DID) stands where its
//! Nostr key stands. Reports, reviews, the node's policy (pinned, allowed,
//! blocked) and its own facts about publishers are weighed on top.
//!
//! - [`key`]: [`NostrKey`], how people appear in the graph;
//! - [`input`]: the plain, already verified data the model is fed;
//! - [`limits`]: the caps on that data and the account of what they cut;
//! - `store`, `ledger`: the lists and claims held, order-independent;
//! - `graph`: the search from the owner, in compressed sparse rows, with
//!   the reverse index;
//! - `pagerank`: the full solve and the incremental refinement;
//! - `standing`: mass to score, and the weight of a claim;
//! - `known_keys`: keys whose secrets are published;
//! - [`verdict`]: the bands and their rules; [`reason`]: the evidence;
//! - [`model`]: [`TrustModel`], the one owner of the state;
//!   `explain` and [`reviews`]: what it answers;
//! - `synthetic` (feature `synthetic`): a deterministic synthetic graph
//!   for benchmarks and tests.

mod explain;
mod graph;
pub mod input;
pub mod key;
mod known_keys;
mod ledger;
pub mod limits;
pub mod model;
mod pagerank;
pub mod reason;
pub mod reviews;
mod standing;
mod store;
#[cfg(any(test, feature = "synthetic"))]
pub mod synthetic;
pub mod verdict;

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod test_network;

pub use explain::PublisherStanding;
pub use input::{
    AppAsks, FollowList, MuteList, Policy, Publisher, PublisherFacts, Report, ReportKind,
    ReportTarget, Review,
};
pub use key::NostrKey;
pub use limits::{Limits, Truncation};
pub use model::{Computed, GraphStats, GraphWork, PublisherBands, TrustModel};
pub use reason::{Names, Person, Reason};
pub use reviews::{Reviews, Unweighted, WeightedReview};
pub use verdict::{AppVerdict, Band, Verdict};
