//! Catalog heads and the federation: what this node tells its peers it
//! holds (for the catalogs it publishes, the files it serves; for those it
//! follows, the metadata its TUF client verified and kept), and what it
//! does with a peer's head: a newer timestamp makes it refresh that
//! publisher's catalog, the origin asked first and the peer after it, each
//! file verified against the root this node pinned. A head never replaces
//! anything by being gossiped.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use archy_registry::swarm::tuf_protocol::{CatalogFile, CatalogSource, PeerTransport};
use archy_registry::tuf::Transport;
use archy_trust::Did;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

use super::Node;
use crate::catalog_source::NodeCatalogs;
use crate::federation::gossip::{Head, HeadSource, HeardHead};
use crate::federation::proof::SplitViewProof;
use crate::fetching::{FetchSession, ReleaseName};
use crate::state::NodeState;

/// Largest timestamp read from a peer.
const MAX_TIMESTAMP_BYTES: u64 = 64 * 1024;
/// Longest a refresh that a peer's head started may take.
const HEAD_REFRESH_TIMEOUT: Duration = Duration::from_secs(60);

/// The heads of one node.
pub(super) struct NodeHeads {
    pub(super) state: NodeState,
    pub(super) served: Arc<NodeCatalogs>,
}

impl HeadSource for NodeHeads {
    fn heads(&self) -> Vec<Head> {
        let own = self.served.publishers();
        let mut heads: Vec<Head> = own
            .iter()
            .filter_map(|did| own_head(&self.served, did))
            .collect();
        match self.state.publishers() {
            Ok(followed) => heads.extend(
                followed
                    .iter()
                    .filter(|(did, _)| !own.iter().any(|o| o.as_str() == did))
                    .filter_map(|(did, _)| held_head(&self.state, did)),
            ),
            Err(e) => tracing::debug!("federation: the followed publishers were not read: {e}"),
        }
        heads
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The head of a catalog this node follows.
fn held_head(state: &NodeState, did: &str) -> Option<Head> {
    let (timestamp, timestamp_bytes) = state.metadata(did, "timestamp").ok()??;
    let (snapshot, snapshot_bytes) = state.metadata(did, "snapshot").ok()??;
    Some(Head {
        publisher: did.to_owned(),
        timestamp,
        timestamp_sha256: sha256_hex(&timestamp_bytes),
        snapshot,
        snapshot_sha256: sha256_hex(&snapshot_bytes),
    })
}

/// The head of a catalog this node publishes.
fn own_head(served: &NodeCatalogs, did: &Did) -> Option<Head> {
    let read = |name: String| {
        served
            .read(did, &CatalogFile::Metadata(name))
            .ok()
            .flatten()
            .map(|s| s.bytes)
    };
    let timestamp_bytes = read("timestamp.json".into())?;
    let file: serde_json::Value = serde_json::from_slice(&timestamp_bytes).ok()?;
    let timestamp = file["signed"]["version"].as_u64()?;
    let snapshot = file["signed"]["meta"]["snapshot.json"]["version"].as_u64()?;
    let snapshot_bytes = read(format!("{snapshot}.snapshot.json"))?;
    Some(Head {
        publisher: did.to_string(),
        timestamp,
        timestamp_sha256: sha256_hex(&timestamp_bytes),
        snapshot,
        snapshot_sha256: sha256_hex(&snapshot_bytes),
    })
}

impl Node {
    /// Follows the heads peers say until `stop`.
    pub(super) async fn follow_heads(
        self,
        mut heard: mpsc::Receiver<HeardHead>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let next = tokio::select! {
                _ = stop.changed() => return,
                next = heard.recv() => next,
            };
            let Some(HeardHead { head, from }) = next else {
                return;
            };
            let Ok(publisher) = head.publisher.parse::<Did>() else {
                continue;
            };
            // This node is the origin: its own catalog wins.
            if self.publishes().contains(&publisher) {
                continue;
            }
            let held = match self.state().metadata(&head.publisher, "timestamp") {
                Ok(Some(held)) => held,
                // Not followed here: nothing to refresh.
                Ok(None) => continue,
                Err(e) => {
                    tracing::debug!(
                        "federation: {}'s timestamp was not read: {e}",
                        head.publisher
                    );
                    continue;
                }
            };
            if head.timestamp > held.0 {
                self.refresh_from(&publisher, from).await;
            } else if head.timestamp == held.0 && head.timestamp_sha256 != sha256_hex(&held.1) {
                self.check_split_view(&publisher, held, from).await;
            }
        }
    }

    /// A peer holds another timestamp of the same version as `held`: reads
    /// it from the peer and, if the publisher's keys signed both, keeps the
    /// proof (installs and updates from the publisher stop).
    async fn check_split_view(
        &self,
        publisher: &Did,
        held: (u64, Vec<u8>),
        from: archy_registry::swarm::NodeTicket,
    ) {
        let did = publisher.as_str();
        if self.state().split_view(did).ok().flatten().is_some() {
            return;
        }
        let theirs = PeerTransport::new(
            self.federation().endpoint().endpoint.clone(),
            from.clone(),
            publisher.clone(),
        );
        let fetched = tokio::time::timeout(
            HEAD_REFRESH_TIMEOUT,
            theirs.fetch_metadata("timestamp.json", MAX_TIMESTAMP_BYTES),
        )
        .await;
        let Ok(Ok(theirs)) = fetched else {
            tracing::debug!(
                "federation: {}'s timestamp of {did} was not read",
                from.did()
            );
            return;
        };
        let root = self
            .state()
            .newest_root(did)
            .ok()
            .flatten()
            .and_then(|v| self.state().root(did, v).ok().flatten());
        let (Some(root), Ok(first), Ok(second)) = (
            root.map(String::from_utf8),
            String::from_utf8(held.1),
            String::from_utf8(theirs),
        ) else {
            return;
        };
        let Ok(root) = root else { return };
        let proof = SplitViewProof {
            publisher: did.to_owned(),
            role: "timestamp".into(),
            version: held.0,
            root,
            first,
            second,
        };
        match proof.verify() {
            Ok(()) => {
                let json = serde_json::to_string(&proof).unwrap_or_default();
                match self.state().put_split_view(did, &json) {
                    Ok(true) => tracing::error!("{}", proof.alarm()),
                    Ok(false) => {}
                    Err(e) => tracing::warn!("a split view of {did} was not kept: {e}"),
                }
            }
            Err(e) => tracing::warn!(
                "{} said a head of {did} that does not make a proof: {e}",
                from.did()
            ),
        }
    }

    /// Refuses a publisher that showed peers two catalogs.
    pub(super) fn not_split(&self, publisher: &Did) -> Result<(), crate::operations::Failure> {
        let kept = self
            .state()
            .split_view(publisher.as_str())
            .map_err(|e| crate::operations::Failure::of(&e))?;
        let Some(json) = kept else {
            return Ok(());
        };
        let alarm = serde_json::from_str::<SplitViewProof>(&json)
            .map(|p| p.alarm())
            .unwrap_or_else(|_| format!("{publisher} showed peers two different catalogs"));
        Err(crate::operations::Failure::message(alarm))
    }

    /// Refreshes `publisher`'s catalog, its origin asked first and `from`
    /// after it.
    async fn refresh_from(&self, publisher: &Did, from: archy_registry::swarm::NodeTicket) {
        // Any app id names the catalog; refreshing reads no target.
        let Ok(name) = ReleaseName::from_str(&format!("{publisher}/catalog")) else {
            return;
        };
        let session = FetchSession::new(self.state().clone(), self.fetcher().clone());
        let mut request = name.request(None, vec![from]);
        if let Err(e) = session.add_known_nodes(&mut request) {
            tracing::debug!("federation: the nodes known for {publisher} were not read: {e}");
            return;
        }
        let metadata = self.state().metadata_of(publisher);
        let refreshed = tokio::time::timeout(
            HEAD_REFRESH_TIMEOUT,
            self.fetcher()
                .refresh_catalog(metadata, &request, &mut |_| {}),
        )
        .await;
        match refreshed {
            Ok(Ok(())) => tracing::info!("{publisher}'s catalog refreshed on a peer's newer head"),
            Ok(Err(e)) => tracing::debug!("{publisher}'s catalog was not refreshed: {e}"),
            Err(_) => tracing::debug!("{publisher}'s catalog did not answer in time"),
        }
    }
}
