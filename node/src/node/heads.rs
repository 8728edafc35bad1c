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
use crate::federation::gossip::{Head, HeadSource, Heard};
use crate::federation::proof::{MAX_PROOF_BYTES, SplitViewProof};
use crate::fetching::{FetchSession, ReleaseName};
use crate::state::NodeState;

/// Longest a peer may take to send a split-view proof.
const PROOF_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Where a split-view proof is pinned in the blob store.
const SPLIT_VIEW_PIN_PREFIX: &str = "split-view/";
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
    /// Follows what peers say (heads, split views) until `stop`.
    pub(super) async fn follow_peers(
        self,
        mut heard: mpsc::Receiver<Heard>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let next = tokio::select! {
                _ = stop.changed() => return,
                next = heard.recv() => next,
            };
            match next {
                None => return,
                Some(Heard::Head { head, from }) => self.follow_head(head, from).await,
                Some(Heard::SplitView {
                    publisher,
                    proof,
                    size,
                    from,
                }) => self.take_split_view(&publisher, &proof, size, &from).await,
            }
        }
    }

    /// A peer's head: a newer timestamp refreshes the catalog, the same
    /// version with another hash is checked for a split view.
    async fn follow_head(&self, head: Head, from: archy_registry::swarm::NodeTicket) {
        let Ok(publisher) = head.publisher.parse::<Did>() else {
            return;
        };
        // This node is the origin: its own catalog wins.
        if self.publishes().contains(&publisher) {
            return;
        }
        let held = match self.state().metadata(&head.publisher, "timestamp") {
            Ok(Some(held)) => held,
            // Not followed here: nothing to refresh.
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(
                    "federation: {}'s timestamp was not read: {e}",
                    head.publisher
                );
                return;
            }
        };
        if head.timestamp > held.0 {
            self.refresh_from(&publisher, from).await;
        } else if head.timestamp == held.0 && head.timestamp_sha256 != sha256_hex(&held.1) {
            self.check_split_view(&publisher, held, from).await;
        }
    }

    /// A peer holds a split-view proof: fetched from it by hash and checked
    /// before it is believed (then said again, as this node's); one that
    /// does not hold counts against the peer.
    async fn take_split_view(
        &self,
        publisher: &str,
        proof: &str,
        size: u64,
        from: &archy_registry::swarm::NodeTicket,
    ) {
        if self.state().split_view(publisher).ok().flatten().is_some() {
            return;
        }
        let checked = async {
            if size > MAX_PROOF_BYTES as u64 {
                return Err(format!("a proof of {size} bytes, over the limit"));
            }
            let hash = proof
                .parse::<archy_registry::BlobHash>()
                .map_err(|e| format!("proof hash: {e}"))?;
            let bytes = self
                .fetcher()
                .fetch_small_blob(hash, from, MAX_PROOF_BYTES as u64, PROOF_FETCH_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?;
            let proof: SplitViewProof =
                serde_json::from_slice(&bytes).map_err(|e| format!("not a proof: {e}"))?;
            if proof.publisher != publisher {
                return Err(format!(
                    "a proof about {}, announced as about {publisher}",
                    proof.publisher
                ));
            }
            proof.verify()?;
            Ok((proof, bytes))
        };
        match checked.await {
            Ok((proof, bytes)) => {
                let json = String::from_utf8_lossy(&bytes).into_owned();
                match self.state().put_split_view(publisher, &json) {
                    Ok(true) => {
                        tracing::error!("{} (proof from {})", proof.alarm(), from.did());
                        // Said again, as this node's: its own paired peers
                        // take it from it, so it travels along pairings.
                        self.announce_split_view(publisher, bytes).await;
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!("a split view of {publisher} was not kept: {e}"),
                }
            }
            Err(e) => {
                tracing::warn!(
                    "{} announced a split-view proof that does not hold: {e}",
                    from.did()
                );
                self.federation().count_forged_proof(from.did());
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
                    Ok(true) => {
                        tracing::error!("{}", proof.alarm());
                        self.announce_split_view(did, json.into_bytes()).await;
                    }
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

    /// Keeps the proof as a blob (pinned, so peers can fetch it) and tells
    /// the federation.
    async fn announce_split_view(&self, publisher: &str, proof: Vec<u8>) {
        let size = proof.len() as u64;
        let hash = match self.blobs().import_bytes(proof).await {
            Ok(hash) => hash,
            Err(e) => {
                tracing::warn!("the split-view proof of {publisher} was not stored: {e}");
                return;
            }
        };
        if let Err(e) = self
            .blobs()
            .pin(&format!("{SPLIT_VIEW_PIN_PREFIX}{publisher}"), hash, false)
            .await
        {
            tracing::warn!("the split-view proof of {publisher} was not pinned: {e}");
        }
        self.federation()
            .tell_split_view(publisher, &hash.to_string(), size);
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
