//! Pairing, on its own ALPN (`archy/pair/1`): the joining node dials the
//! inviting one and presents the invite and its own ticket; the QUIC
//! handshake has already proved that it holds the key of the endpoint id it
//! dials from, and its ticket must name that same key. The inviting node
//! redeems the invite (single use, unexpired, issued by itself), pairs with
//! the joiner and answers with the federation's topic. Both ends keep the
//! other as a paired peer, which lifts any tombstone: only an invite does.

use std::time::Duration;

use archy_registry::swarm::NodeTicket;
use archy_registry::swarm::ticket::endpoint_id_of;
use iroh::Endpoint;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::gossip::Told;
use super::invite;
use crate::state::{NodeState, Redeemed};

/// The pairing ALPN.
pub const ALPN: &[u8] = b"archy/pair/1";
/// Longest a pairing exchange may take, each way.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request or answer read.
const MAX_MESSAGE: usize = 16 * 1024;

/// What the joining node sends.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    invite: String,
    ticket: String,
}

/// What the inviting node answers.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
enum Answer {
    Paired { topic: String },
    Refused { reason: String },
}

/// The inviting side: redeems invites and pairs with who presents them.
#[derive(Debug, Clone)]
pub struct PairingProtocol {
    state: NodeState,
    own: archy_trust::Did,
    /// Tells gossip of every new peer, so it reaches it at once.
    told: mpsc::Sender<Told>,
}

impl PairingProtocol {
    /// Pairs on behalf of the node `own`, recording in `state` and telling
    /// `paired` of each new peer.
    pub fn new(state: NodeState, own: archy_trust::Did, told: mpsc::Sender<Told>) -> Self {
        Self { state, own, told }
    }

    async fn answer(&self, conn: &Connection) -> Result<(), String> {
        let (mut send, mut recv) = tokio::time::timeout(EXCHANGE_TIMEOUT, conn.accept_bi())
            .await
            .map_err(|_| "no request in time".to_owned())?
            .map_err(|e| e.to_string())?;
        let request = tokio::time::timeout(EXCHANGE_TIMEOUT, recv.read_to_end(MAX_MESSAGE))
            .await
            .map_err(|_| "the request did not arrive in time".to_owned())?
            .map_err(|e| e.to_string())?;
        let answer = match self.pair(conn, &request).await {
            Ok(topic) => Answer::Paired { topic },
            Err(reason) => Answer::Refused { reason },
        };
        let bytes = serde_json::to_vec(&answer).map_err(|e| e.to_string())?;
        let write = async {
            send.write_all(&bytes).await.map_err(|e| e.to_string())?;
            send.finish().map_err(|e| e.to_string())
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, write)
            .await
            .map_err(|_| "the answer was not taken in time".to_owned())??;
        // The joiner closes once it has read the answer; closing first
        // could drop the answer unsent.
        let _ = tokio::time::timeout(EXCHANGE_TIMEOUT, conn.closed()).await;
        Ok(())
    }

    async fn pair(&self, conn: &Connection, request: &[u8]) -> Result<String, String> {
        let request: Request =
            serde_json::from_slice(request).map_err(|e| format!("a malformed request: {e}"))?;
        let invite = invite::read(&request.invite).map_err(|e| e.to_string())?;
        if !invite.is_from(&self.own) {
            return Err("this invite is another node's".into());
        }
        let joiner: NodeTicket = request
            .ticket
            .parse()
            .map_err(|e| format!("the joiner's ticket: {e}"))?;
        let dialled_from = conn.remote_id();
        if endpoint_id_of(joiner.did()).ok() != Some(dialled_from) {
            return Err("the joiner's ticket names another key than the one it dials from".into());
        }
        let now = unix_now();
        let state = self.state.clone();
        let nonce = invite.nonce;
        let redeemed = tokio::task::spawn_blocking(move || state.redeem_invite(nonce, now))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        match redeemed {
            Redeemed::Fresh => {}
            Redeemed::Used => return Err("this invite was used already: ask for a new one".into()),
            Redeemed::Expired => return Err("this invite expired: ask for a new one".into()),
            Redeemed::Unknown => return Err("this node did not issue this invite".into()),
        }
        let topic = self
            .state
            .federation_topic(invite.topic)
            .map_err(|e| e.to_string())?;
        self.state
            .pair(joiner.did().as_str(), &joiner.to_string())
            .map_err(|e| e.to_string())?;
        if self.told.try_send(Told::Paired(Box::new(joiner))).is_err() {
            tracing::debug!(
                "gossip was not told of the new peer at once; it finds it on its next round"
            );
        }
        Ok(hex::encode(topic))
    }
}

impl ProtocolHandler for PairingProtocol {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        if let Err(reason) = self.answer(&conn).await {
            tracing::debug!(peer = %conn.remote_id().fmt_short(), "pairing: {reason}");
        }
        Ok(())
    }
}

/// A pairing that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The invite does not read.
    #[error(transparent)]
    Invite(#[from] invite::InviteError),
    /// The inviting node was not reached, or did not answer.
    #[error("the inviting node {node} {reason}")]
    Unreached {
        /// Its DID.
        node: String,
        /// What happened.
        reason: String,
    },
    /// The inviting node refused.
    #[error("the inviting node refused: {0}")]
    Refused(String),
}

/// Presents `invite` to the node it names, as the node of `own` on
/// `endpoint`. The inviting node's ticket and the federation's topic.
pub async fn join(
    endpoint: &Endpoint,
    own: &NodeTicket,
    invite: &str,
) -> Result<(NodeTicket, [u8; 32]), JoinError> {
    let read = invite::read(invite)?;
    let inviter = read.inviter.clone();
    let unreached = |reason: String| JoinError::Unreached {
        node: inviter.did().to_string(),
        reason,
    };
    let request = serde_json::to_vec(&Request {
        invite: invite.trim().to_owned(),
        ticket: own.to_string(),
    })
    .map_err(|e| unreached(e.to_string()))?;
    let exchange = async {
        let conn = endpoint
            .connect(inviter.addr().clone(), ALPN)
            .await
            .map_err(|e| format!("cannot be reached: {e}"))?;
        let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
        send.write_all(&request).await.map_err(|e| e.to_string())?;
        send.finish().map_err(|e| e.to_string())?;
        let answer = recv
            .read_to_end(MAX_MESSAGE)
            .await
            .map_err(|e| format!("did not answer: {e}"))?;
        conn.close(0u32.into(), b"paired");
        Ok::<_, String>(answer)
    };
    let answer = tokio::time::timeout(EXCHANGE_TIMEOUT * 2, exchange)
        .await
        .map_err(|_| unreached(format!("did not answer within {:?}", EXCHANGE_TIMEOUT * 2)))?
        .map_err(unreached)?;
    match serde_json::from_slice(&answer) {
        Ok(Answer::Paired { topic }) => {
            let topic = hex::decode(&topic)
                .ok()
                .and_then(|t| <[u8; 32]>::try_from(t).ok())
                .ok_or_else(|| unreached("answered a topic that is not 32 bytes of hex".into()))?;
            Ok((inviter, topic))
        }
        Ok(Answer::Refused { reason }) => Err(JoinError::Refused(reason)),
        Err(e) => Err(unreached(format!("answered something unreadable: {e}"))),
    }
}

/// Now, in Unix seconds.
pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
