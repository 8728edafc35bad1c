//! Federation: nodes that pair share what they know over iroh-gossip.
//!
//! - `invite`: the signed, single-use, expiring invite a node hands out;
//! - `pairing`: the `archy/pair/1` exchange that redeems it, both ways;
//! - `gossip`: the federation's topic, signed messages, rejoining after a
//!   partition, and the gate that keeps removed peers out;
//! - `proof`: the proof that a publisher showed peers two catalogs.
//!
//! Paired peers, tombstones, invites and the topic live in the node state
//! (`crate::state`), so a restart keeps them; the node's `Federation` is
//! their one front.

pub mod gossip;
pub mod invite;
pub mod pairing;
pub mod proof;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use archy_registry::swarm::endpoint::NodeEndpoint;
use archy_trust::{Did, Identity};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::state::{NodeState, StateError};
use gossip::{GossipStatus, Told};
use pairing::unix_now;

/// Longest an invite may be valid.
pub const MAX_INVITE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How many notes to the gossip loop may wait.
pub const TOLD_CAPACITY: usize = 64;

/// A federation step that failed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The node state.
    #[error(transparent)]
    State(#[from] StateError),
    /// Joining.
    #[error(transparent)]
    Join(#[from] pairing::JoinError),
    /// Anything else, said plainly.
    #[error("{0}")]
    Other(String),
}

/// A paired peer, as `archy peer ls` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PairedPeer {
    /// Its DID.
    pub did: String,
    /// Its newest ticket.
    pub ticket: String,
    /// Whether it is a direct neighbour in the gossip overlay now.
    pub connected: bool,
}

/// The federation as the rest of the node sees it.
#[derive(Clone)]
pub struct Federation {
    identity: Identity,
    state: NodeState,
    endpoint: NodeEndpoint,
    status: Arc<Mutex<GossipStatus>>,
    told: mpsc::Sender<Told>,
}

impl Federation {
    /// The front of a node's federation: `identity` signs, `state` keeps,
    /// `endpoint` reaches; `status` and `told` are shared with its
    /// gossip loop.
    pub fn new(
        identity: Identity,
        state: NodeState,
        endpoint: NodeEndpoint,
        status: Arc<Mutex<GossipStatus>>,
        told: mpsc::Sender<Told>,
    ) -> Self {
        Self {
            identity,
            state,
            endpoint,
            status,
            told,
        }
    }

    /// A fresh invite to this node, valid for `ttl`.
    pub fn invite(&self, ttl: Duration) -> Result<(String, u64), FederationError> {
        if ttl.is_zero() || ttl > MAX_INVITE_TTL {
            return Err(FederationError::Other(format!(
                "an invite lasts between 1 second and {} days",
                MAX_INVITE_TTL.as_secs() / 86_400
            )));
        }
        let topic = self
            .state
            .federation_topic(gossip::random_topic().map_err(FederationError::Other)?)?;
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|e| FederationError::Other(format!("no randomness for a nonce: {e}")))?;
        let expires = unix_now().saturating_add(ttl.as_secs());
        let ticket = self
            .endpoint
            .ticket()
            .map_err(|e| FederationError::Other(e.to_string()))?;
        let text = invite::write(&self.identity, &ticket, topic, nonce, expires)
            .map_err(|e| FederationError::Other(e.to_string()))?;
        if !self.state.issue_invite(nonce, expires, unix_now())? {
            return Err(FederationError::Other(
                "this node has 1000 invites still open: wait for some to expire or be used".into(),
            ));
        }
        Ok((text, expires))
    }

    /// Pairs with the node that wrote `invite`, and joins its federation.
    pub async fn join(&self, invite: &str) -> Result<PairedPeer, FederationError> {
        let own = self
            .endpoint
            .ticket()
            .map_err(|e| FederationError::Other(e.to_string()))?;
        if invite::read(invite).is_ok_and(|r| r.is_from(own.did())) {
            return Err(FederationError::Other(
                "this invite is this node's own: use it on another node".into(),
            ));
        }
        let (inviter, topic) = pairing::join(&self.endpoint.endpoint, &own, invite).await?;
        self.state.set_federation_topic(topic)?;
        self.state
            .pair(inviter.did().as_str(), &inviter.to_string())?;
        self.endpoint.learn(&inviter);
        self.tell(Told::Topic);
        Ok(PairedPeer {
            did: inviter.did().to_string(),
            ticket: inviter.to_string(),
            connected: false,
        })
    }

    /// The paired peers, and which are connected now.
    pub fn peers(&self) -> Result<Vec<PairedPeer>, FederationError> {
        let neighbours = self
            .status
            .lock()
            .map(|s| s.neighbours.clone())
            .unwrap_or_default();
        Ok(self
            .state
            .paired_peers()?
            .into_iter()
            .map(|(did, ticket)| PairedPeer {
                connected: neighbours.contains(&did),
                did,
                ticket,
            })
            .collect())
    }

    /// Removes peer `did` for good (until a fresh invite): its tombstone is
    /// written with the removal, or nothing changes and the error says
    /// why. Whether it was paired.
    pub fn remove(&self, did: &Did) -> Result<bool, FederationError> {
        let was = self.state.remove_peer(did.as_str(), unix_now())?;
        self.tell(Told::Removed);
        Ok(was)
    }

    /// Tells the federation where this node is, now.
    pub fn announce(&self) {
        self.tell(Told::Hello);
    }

    /// Tells the federation that this node keeps a split-view proof
    /// against `publisher`, stored as blob `proof` of `size` bytes.
    pub fn tell_split_view(&self, publisher: &str, proof: &str, size: u64) {
        self.tell(Told::SplitView {
            publisher: publisher.to_owned(),
            proof: proof.to_owned(),
            size,
        });
    }

    /// Counts a proof from `peer` that did not hold.
    pub fn count_forged_proof(&self, peer: &Did) {
        if let Ok(mut status) = self.status.lock() {
            *status.forged_proofs.entry(peer.to_string()).or_default() += 1;
        }
    }

    /// The endpoint the federation reaches its peers on.
    pub fn endpoint(&self) -> &NodeEndpoint {
        &self.endpoint
    }

    /// What the gossip loop knows now.
    pub fn status(&self) -> GossipStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn tell(&self, told: Told) {
        if self.told.try_send(told).is_err() {
            tracing::debug!("federation: the gossip loop is busy; it catches up on its next round");
        }
    }
}
