//! The federation's gossip, over iroh-gossip: one topic per federation,
//! every message an envelope signed by its author's DID (iroh-gossip's
//! `delivered_from` is only the neighbour that passed it on).
//!
//! What is said: `hello`, a node's current ticket, so peers can reach it
//! at its new addresses; and `heads`, the TUF timestamp and snapshot a
//! node holds for each publisher (version and SHA-256 of the signed file),
//! so a peer that holds an older one refreshes that catalog, verifying it
//! against its own pinned root (a gossiped head never replaces anything
//! by itself). A message is taken only if it verifies, names this
//! federation's topic, and its author is not tombstoned; a tombstoned node
//! cannot even connect (see [`GossipGate`]).
//!
//! The loop rejoins on its own: when it has no neighbour left (its peers
//! restarted, or a partition healed) it dials its paired peers again every
//! round, since iroh-gossip's overlay does not re-merge by itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archy_registry::swarm::NodeTicket;
use archy_registry::swarm::endpoint::NodeEndpoint;
use archy_registry::swarm::ticket::endpoint_id_of;
use archy_trust::envelope::{Payload, Signed};
use archy_trust::{Did, Identity, PublicKey};
use iroh::EndpointId;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use iroh_gossip::api::{Event, GossipReceiver, GossipSender};
use iroh_gossip::{Gossip, TopicId};
use n0_future::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::pairing::unix_now;
use crate::state::NodeState;

/// Largest gossip message, the same on every node: larger data travels over
/// the swarm by hash.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// How often the loop checks its neighbours and says hello.
const ROUND: Duration = Duration::from_secs(2);
/// Longest a call to the gossip actor (subscribe, dial, broadcast) may
/// take.
const GOSSIP_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Rounds between two dials of the paired peers that are not neighbours.
const REDIAL_EVERY_ROUNDS: u32 = 5;
/// Rounds between two hellos.
const HELLO_EVERY_ROUNDS: u32 = 30;

/// One message, as its author signed it. (Unknown fields are let be:
/// serde cannot refuse them beside a flattened field.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// The federation's topic, hex: a message is not replayed into another.
    pub topic: String,
    /// When it was said (Unix seconds).
    pub at: u64,
    /// What.
    #[serde(flatten)]
    pub what: What,
}

/// What a node says to its federation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum What {
    /// Where the author can be reached now.
    Hello {
        /// Its ticket.
        ticket: String,
    },
    /// The catalog heads the author holds.
    Heads {
        /// At most [`HEADS_PER_MESSAGE`].
        heads: Vec<Head>,
    },
    /// The author holds a proof that `publisher` showed peers two
    /// catalogs: a blob too large for a message, fetched from the author
    /// by hash.
    SplitView {
        /// The publisher's DID.
        publisher: String,
        /// BLAKE3 of the proof (JSON).
        proof: String,
        /// Its size in bytes.
        size: u64,
    },
}

/// The newest timestamp and snapshot a node holds for one publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// The publisher's DID.
    pub publisher: String,
    /// The timestamp's version.
    pub timestamp: u64,
    /// SHA-256 of the timestamp file, hex.
    pub timestamp_sha256: String,
    /// The snapshot's version.
    pub snapshot: u64,
    /// SHA-256 of the snapshot file, hex.
    pub snapshot_sha256: String,
}

/// Heads per message: each is about 250 bytes, so ten stay well under
/// [`MAX_MESSAGE_BYTES`].
pub const HEADS_PER_MESSAGE: usize = 10;
/// Most heads a node says in one round.
const MAX_HEADS: usize = 1000;

/// The heads this node holds, read each round.
pub trait HeadSource: Send + Sync + 'static {
    /// One head per publisher this node publishes or follows.
    fn heads(&self) -> Vec<Head>;
}

/// What a paired peer said that the node acts on.
#[derive(Debug, Clone)]
pub enum Heard {
    /// A catalog head.
    Head {
        /// What it said.
        head: Head,
        /// Who said it: a source to refresh the catalog from.
        from: NodeTicket,
    },
    /// A split-view proof it holds.
    SplitView {
        /// The publisher.
        publisher: String,
        /// The proof's blob.
        proof: String,
        /// Its size.
        size: u64,
        /// Who said it: where to fetch the proof.
        from: NodeTicket,
    },
}

impl Payload for Said {
    const TYPE: &'static str = "archy/federation";
}

/// What the federation's gossip knows now, for `archy peer ls`.
#[derive(Debug, Clone, Default)]
pub struct GossipStatus {
    /// The DIDs of the direct neighbours in the overlay.
    pub neighbours: BTreeSet<String>,
    /// Messages refused: not verifying, another topic, or a tombstoned
    /// author.
    pub refused: u64,
    /// Messages taken.
    pub taken: u64,
    /// Split-view proofs announced by each peer that did not hold.
    pub forged_proofs: BTreeMap<String, u64>,
}

/// What the loop is told by the rest of the node.
#[derive(Debug)]
pub enum Told {
    /// A peer was paired: reach it.
    Paired(Box<NodeTicket>),
    /// The federation's topic changed (this node joined another): rejoin.
    Topic,
    /// A peer was removed: leave the overlay and rejoin it through the
    /// peers still paired.
    Removed,
    /// Say hello now (the node's addresses changed, or a caller asks).
    Hello,
    /// Tell the federation of a split-view proof this node keeps.
    SplitView {
        /// The publisher.
        publisher: String,
        /// The proof's blob.
        proof: String,
        /// Its size.
        size: u64,
    },
}

/// Refuses gossip connections from tombstoned nodes, then hands the rest
/// to iroh-gossip.
#[derive(Debug, Clone)]
pub struct GossipGate {
    gossip: Gossip,
    state: NodeState,
}

impl GossipGate {
    /// Gates `gossip` by the tombstones in `state`.
    pub fn new(gossip: Gossip, state: NodeState) -> Self {
        Self { gossip, state }
    }
}

impl ProtocolHandler for GossipGate {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let removed = did_of(conn.remote_id())
            .is_none_or(|did| self.state.is_tombstoned(did.as_str()).unwrap_or(true));
        if removed {
            tracing::debug!(peer = %conn.remote_id().fmt_short(), "gossip: refused a removed peer");
            conn.close(1u32.into(), b"removed");
            return Ok(());
        }
        self.gossip
            .handle_connection(conn)
            .await
            .map_err(AcceptError::from_err)
    }

    async fn shutdown(&self) {
        if let Err(e) = self.gossip.shutdown().await {
            tracing::debug!("federation: gossip did not stop cleanly: {e}");
        }
    }
}

/// The DID whose key is endpoint `id`.
fn did_of(id: EndpointId) -> Option<Did> {
    PublicKey::from_bytes(id.as_bytes())
        .ok()
        .map(Did::from_public_key)
}

/// The gossip loop of one node.
pub struct GossipLoop {
    identity: Identity,
    endpoint: NodeEndpoint,
    gossip: Gossip,
    state: NodeState,
    status: Arc<Mutex<GossipStatus>>,
    heads: Arc<dyn HeadSource>,
    heard: mpsc::Sender<Heard>,
}

impl GossipLoop {
    /// The loop of the node `identity` on `endpoint`, gossiping with
    /// `gossip`, keeping in `state` and reporting in `status`.
    pub fn new(
        identity: Identity,
        endpoint: NodeEndpoint,
        gossip: Gossip,
        state: NodeState,
        status: Arc<Mutex<GossipStatus>>,
        heads: Arc<dyn HeadSource>,
        heard: mpsc::Sender<Heard>,
    ) -> Self {
        Self {
            identity,
            endpoint,
            gossip,
            state,
            status,
            heads,
            heard,
        }
    }

    /// Runs until `stop` turns true, following what it is `told`.
    pub async fn run(self, mut told: mpsc::Receiver<Told>, mut stop: watch::Receiver<bool>) {
        loop {
            let topic = match random_topic().and_then(|fresh| {
                self.state
                    .federation_topic(fresh)
                    .map_err(|e| e.to_string())
            }) {
                Ok(topic) => topic,
                Err(e) => {
                    tracing::warn!("federation: the topic was not read: {e}");
                    if wait_or_stop(&mut stop, ROUND * 5).await {
                        return;
                    }
                    continue;
                }
            };
            let bootstrap = self.reachable_peers();
            let subscribed =
                bounded(self.gossip.subscribe(TopicId::from_bytes(topic), bootstrap)).await;
            let (sender, receiver) = match subscribed {
                Ok(topic) => topic.split(),
                Err(e) => {
                    tracing::warn!("federation: cannot follow the gossip topic: {e}");
                    if wait_or_stop(&mut stop, ROUND * 5).await {
                        return;
                    }
                    continue;
                }
            };
            match self
                .follow(topic, sender, receiver, &mut told, &mut stop)
                .await
            {
                Next::Stop => return,
                Next::Resubscribe => continue,
            }
        }
    }

    /// Follows one subscription to its end.
    async fn follow(
        &self,
        topic: [u8; 32],
        sender: GossipSender,
        mut receiver: GossipReceiver,
        told: &mut mpsc::Receiver<Told>,
        stop: &mut watch::Receiver<bool>,
    ) -> Next {
        self.set_neighbours(BTreeSet::new());
        self.hello(&sender, topic).await;
        let mut round = tokio::time::interval(ROUND);
        let mut rounds: u32 = 0;
        // The heads said last, by publisher: a changed one is said at once.
        let mut said: BTreeMap<String, Head> = BTreeMap::new();
        loop {
            tokio::select! {
                _ = stop.changed() => return Next::Stop,
                event = receiver.next() => match event {
                    Some(Ok(event)) => self.on_event(topic, event),
                    Some(Err(e)) => {
                        tracing::debug!("federation: the gossip subscription ended: {e}");
                        return Next::Resubscribe;
                    }
                    None => return Next::Resubscribe,
                },
                message = told.recv() => match message {
                    Some(Told::Paired(ticket)) => {
                        let ticket = *ticket;
                        self.endpoint.learn(&ticket);
                        if let Ok(id) = endpoint_id_of(ticket.did())
                            && let Err(e) = bounded(sender.join_peers(vec![id])).await
                        {
                            tracing::debug!("federation: could not reach the new peer: {e}");
                        }
                    }
                    Some(Told::Topic) => return Next::Resubscribe,
                    Some(Told::Removed) => return Next::Resubscribe,
                    Some(Told::Hello) => self.hello(&sender, topic).await,
                    Some(Told::SplitView { publisher, proof, size }) => {
                        self.say(&sender, topic, What::SplitView { publisher, proof, size }).await;
                    }
                    None => return Next::Stop,
                },
                _ = round.tick() => {
                    rounds = rounds.wrapping_add(1);
                    let neighbours = self.status.lock().map(|s| s.neighbours.clone()).unwrap_or_default();
                    // Alone, every round; else now and then, the paired
                    // peers that are not neighbours are dialled again.
                    if neighbours.is_empty() || rounds.is_multiple_of(REDIAL_EVERY_ROUNDS) {
                        let missing: Vec<EndpointId> = self
                            .reachable_peers()
                            .into_iter()
                            .filter(|id| did_of(*id).is_some_and(|did| !neighbours.contains(did.as_str())))
                            .collect();
                        if !missing.is_empty()
                            && let Err(e) = bounded(sender.join_peers(missing)).await
                        {
                            tracing::debug!("federation: rejoining failed: {e}");
                        }
                    }
                    let every = rounds.is_multiple_of(HELLO_EVERY_ROUNDS);
                    if every {
                        self.hello(&sender, topic).await;
                    }
                    self.say_heads(&sender, topic, &mut said, every).await;
                }
            }
        }
    }

    /// The paired peers' endpoint ids, their addresses learnt.
    fn reachable_peers(&self) -> Vec<EndpointId> {
        let peers = match self.state.paired_peers() {
            Ok(peers) => peers,
            Err(e) => {
                tracing::warn!("federation: the paired peers were not read: {e}");
                return Vec::new();
            }
        };
        peers
            .into_iter()
            .filter_map(|(did, ticket)| match ticket.parse::<NodeTicket>() {
                Ok(ticket) => {
                    self.endpoint.learn(&ticket);
                    endpoint_id_of(ticket.did()).ok()
                }
                Err(e) => {
                    tracing::warn!("federation: the ticket kept for {did} does not read: {e}");
                    None
                }
            })
            .collect()
    }

    /// Says the heads that changed since last said (all of them when
    /// `all`), [`HEADS_PER_MESSAGE`] to a message.
    async fn say_heads(
        &self,
        sender: &GossipSender,
        topic: [u8; 32],
        said: &mut BTreeMap<String, Head>,
        all: bool,
    ) {
        let source = Arc::clone(&self.heads);
        let Ok(mut heads) = tokio::task::spawn_blocking(move || source.heads()).await else {
            return;
        };
        heads.truncate(MAX_HEADS);
        let changed: Vec<Head> = heads
            .into_iter()
            .filter(|h| all || said.get(&h.publisher) != Some(h))
            .collect();
        for chunk in changed.chunks(HEADS_PER_MESSAGE) {
            self.say(
                sender,
                topic,
                What::Heads {
                    heads: chunk.to_vec(),
                },
            )
            .await;
        }
        for head in changed {
            said.insert(head.publisher.clone(), head);
        }
    }

    async fn hello(&self, sender: &GossipSender, topic: [u8; 32]) {
        let ticket = match self.endpoint.ticket() {
            Ok(ticket) => ticket.to_string(),
            Err(e) => {
                tracing::debug!("federation: no ticket to say hello with: {e}");
                return;
            }
        };
        self.say(sender, topic, What::Hello { ticket }).await;
    }

    /// Signs and broadcasts `what`.
    async fn say(&self, sender: &GossipSender, topic: [u8; 32], what: What) {
        let said = Said {
            topic: hex::encode(topic),
            at: unix_now(),
            what,
        };
        let bytes = match Signed::sign(&said, &self.identity) {
            Ok(bytes) if bytes.len() <= MAX_MESSAGE_BYTES => bytes,
            Ok(bytes) => {
                tracing::warn!(
                    "federation: a message of {} bytes is over the {MAX_MESSAGE_BYTES}-byte limit; not sent",
                    bytes.len()
                );
                return;
            }
            Err(e) => {
                tracing::warn!("federation: a message was not signed: {e}");
                return;
            }
        };
        if let Err(e) = bounded(sender.broadcast(bytes.into())).await {
            tracing::debug!("federation: a broadcast failed: {e}");
        }
    }

    fn on_event(&self, topic: [u8; 32], event: Event) {
        match event {
            Event::NeighborUp(id) => self.neighbour(id, true),
            Event::NeighborDown(id) => self.neighbour(id, false),
            Event::Received(message) => {
                let taken = self.take(topic, &message.content);
                if let Ok(mut status) = self.status.lock() {
                    match taken {
                        Ok(()) => status.taken += 1,
                        Err(reason) => {
                            status.refused += 1;
                            tracing::debug!("federation: a message was refused: {reason}");
                        }
                    }
                }
            }
            Event::Lagged => tracing::debug!("federation: messages were missed (lagging)"),
        }
    }

    /// Checks one message and acts on it.
    fn take(&self, topic: [u8; 32], bytes: &[u8]) -> Result<(), String> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(format!("{} bytes, over the limit", bytes.len()));
        }
        let signed = Signed::<Said>::verify(bytes, None).map_err(|e| e.to_string())?;
        let author = signed.signer().clone();
        let said = signed.into_payload();
        if said.topic != hex::encode(topic) {
            return Err(format!("{author} said it for another federation"));
        }
        if self
            .state
            .is_tombstoned(author.as_str())
            .map_err(|e| e.to_string())?
        {
            return Err(format!("{author} was removed"));
        }
        match said.what {
            What::Hello { ticket } => {
                let ticket: NodeTicket = ticket.parse().map_err(|e| format!("{author}: {e}"))?;
                if ticket.did() != &author {
                    return Err(format!("{author} said hello with another node's ticket"));
                }
                // Only a paired peer's ticket is kept: a hello never pairs.
                if self
                    .state
                    .refresh_peer(author.as_str(), &ticket.to_string())
                    .map_err(|e| e.to_string())?
                {
                    self.endpoint.learn(&ticket);
                }
                Ok(())
            }
            What::Heads { heads } => {
                if heads.len() > HEADS_PER_MESSAGE {
                    return Err(format!(
                        "{author} said {} heads in one message",
                        heads.len()
                    ));
                }
                // A peer's heads lead to a refresh from it: only a paired
                // peer's ticket is known.
                let Some(from) = self.paired_ticket(&author)? else {
                    return Ok(());
                };
                for head in heads {
                    self.hand_on(Heard::Head {
                        head,
                        from: from.clone(),
                    });
                }
                Ok(())
            }
            What::SplitView {
                publisher,
                proof,
                size,
            } => {
                let Some(from) = self.paired_ticket(&author)? else {
                    return Ok(());
                };
                self.hand_on(Heard::SplitView {
                    publisher,
                    proof,
                    size,
                    from,
                });
                Ok(())
            }
        }
    }

    /// The ticket of `author` if it is a paired peer.
    fn paired_ticket(&self, author: &Did) -> Result<Option<NodeTicket>, String> {
        Ok(self
            .state
            .paired_peers()
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|(did, _)| did == author.as_str())
            .and_then(|(_, ticket)| ticket.parse::<NodeTicket>().ok()))
    }

    /// Hands what a peer said on to the node.
    fn hand_on(&self, heard: Heard) {
        if self.heard.try_send(heard).is_err() {
            tracing::debug!("federation: peers say more than the node follows; some is dropped");
        }
    }

    fn neighbour(&self, id: EndpointId, up: bool) {
        let Some(did) = did_of(id).map(|d| d.to_string()) else {
            return;
        };
        if let Ok(mut status) = self.status.lock() {
            if up {
                status.neighbours.insert(did);
            } else {
                status.neighbours.remove(&did);
            }
        }
    }

    fn set_neighbours(&self, neighbours: BTreeSet<String>) {
        if let Ok(mut status) = self.status.lock() {
            status.neighbours = neighbours;
        }
    }
}

enum Next {
    Stop,
    Resubscribe,
}

/// Runs a call to the gossip actor within [`GOSSIP_CALL_TIMEOUT`]; its
/// failure in words.
async fn bounded<T, E: std::fmt::Display>(
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    tokio::time::timeout(GOSSIP_CALL_TIMEOUT, call)
        .await
        .map_err(|_| format!("gossip did not answer within {GOSSIP_CALL_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())
}

/// Waits `pause`, or until `stop`; whether to stop.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    tokio::select! {
        _ = stop.changed() => true,
        () = tokio::time::sleep(pause) => *stop.borrow(),
    }
}

/// A fresh federation topic, from the system's randomness.
pub(super) fn random_topic() -> Result<[u8; 32], String> {
    let mut topic = [0u8; 32];
    getrandom::fill(&mut topic).map_err(|e| format!("no randomness for a topic: {e}"))?;
    Ok(topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_message_reads_back_as_signed_and_stays_under_the_limit() {
        let alice = Identity::from_seed(&[3; 32]);
        let head = Head {
            publisher: alice.did().to_string(),
            timestamp: u64::MAX,
            timestamp_sha256: "ab".repeat(32),
            snapshot: u64::MAX,
            snapshot_sha256: "cd".repeat(32),
        };
        for what in [
            What::Hello {
                ticket: "archy".repeat(100),
            },
            What::Heads {
                heads: vec![head; HEADS_PER_MESSAGE],
            },
        ] {
            let said = Said {
                topic: "ef".repeat(32),
                at: 1,
                what,
            };
            let bytes = Signed::sign(&said, &alice).unwrap();
            assert!(bytes.len() <= MAX_MESSAGE_BYTES, "{} bytes", bytes.len());
            let read = Signed::<Said>::verify(&bytes, Some(&alice.did())).unwrap();
            assert_eq!(read.payload(), &said);
        }
    }
}
