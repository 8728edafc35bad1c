//! `archy fetch` as a library: a release fetched into a node's data
//! directory, with what was learnt (the publisher's origin, the providers,
//! the release held) recorded in the node's state.
//!
//! When no node is named, the publisher's remembered origin and every peer
//! met before are asked.

use archy_registry::swarm::endpoint::{EndpointOptions, Network, NodeEndpoint};
use archy_registry::swarm::{self, BlobStore, FetchEvent, FetchRequest, Fetcher, NodeTicket};
use archy_registry::verified::VerifiedManifest;
use archy_trust::Identity;

use crate::data_dir::DataDir;
use crate::state::{HeldRelease, NodeState, Publisher, StateError};

/// A fetch that could not complete.
#[derive(Debug, thiserror::Error)]
pub enum FetchFailed {
    /// The node's state.
    #[error(transparent)]
    State(#[from] StateError),
    /// The swarm: metadata, blobs, verification.
    #[error(transparent)]
    Swarm(#[from] swarm::Error),
}

/// An open data directory with an endpoint to fetch over.
#[derive(Debug)]
pub struct FetchSession {
    state: NodeState,
    fetcher: Fetcher,
}

impl FetchSession {
    /// Opens `data` and binds an endpoint as `identity`.
    pub async fn open(
        data: &DataDir,
        identity: &Identity,
        network: Network,
    ) -> Result<Self, FetchFailed> {
        let state = NodeState::open(&data.state_file())?;
        let blobs = BlobStore::open(&data.blobs_dir()).await?;
        let endpoint = NodeEndpoint::bind(
            identity,
            &EndpointOptions {
                network,
                bind: None,
            },
        )
        .await?;
        let fetcher = Fetcher::new(endpoint, blobs, data.releases_dir());
        Ok(Self { state, fetcher })
    }

    /// Fills in remembered nodes when `request` names none.
    pub fn with_known_nodes(&self, mut request: FetchRequest) -> Result<FetchRequest, FetchFailed> {
        if request.origin.is_some() || !request.providers.is_empty() {
            return Ok(request);
        }
        let publisher = self.state.publisher(request.publisher.as_str())?;
        request.origin = publisher
            .and_then(|p| p.origin)
            .and_then(|t| t.parse::<NodeTicket>().ok());
        request.providers = self
            .state
            .peers()?
            .into_iter()
            .filter_map(|(_, ticket)| ticket.parse().ok())
            .collect();
        Ok(request)
    }

    /// Fetches and verifies `request`, then records the release, the
    /// publisher and the nodes asked.
    pub async fn fetch(
        &self,
        request: &FetchRequest,
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<VerifiedManifest, FetchFailed> {
        let mut pinned = None;
        let verified = {
            let mut events = |event: FetchEvent| {
                if let FetchEvent::PinnedRoot { version, .. } = &event {
                    pinned = Some(*version);
                }
                on_event(event);
            };
            self.fetcher
                .fetch(
                    self.state.metadata_of(&request.publisher),
                    request,
                    &mut events,
                )
                .await?
        };
        self.record(request, &verified, pinned)?;
        Ok(verified)
    }

    fn record(
        &self,
        request: &FetchRequest,
        verified: &VerifiedManifest,
        pinned: Option<u64>,
    ) -> Result<(), FetchFailed> {
        let key = request.publisher.as_str();
        let known = self.state.publisher(key)?;
        let origin = request
            .origin
            .iter()
            .chain(&request.providers)
            .find(|t| t.did() == &request.publisher)
            .map(ToString::to_string)
            .or_else(|| known.as_ref().and_then(|p| p.origin.clone()));
        let pinned_root = pinned.or_else(|| known.map(|p| p.pinned_root)).unwrap_or(1);
        self.state.set_publisher(
            key,
            &Publisher {
                origin,
                pinned_root,
            },
        )?;
        for ticket in request.origin.iter().chain(&request.providers) {
            self.state
                .add_peer(ticket.did().as_str(), &ticket.to_string())?;
        }
        let manifest = verified.manifest();
        self.state.add_release(&HeldRelease {
            publisher: key.to_owned(),
            app: manifest.id.clone(),
            version: manifest.version.to_string(),
            release: verified.release(),
            target: verified.target_path().unwrap_or_default().to_owned(),
        })?;
        Ok(())
    }

    /// The fetcher, for plain blob tickets ([`Fetcher::receive_ticket`]).
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Closes the endpoint and flushes the store.
    pub async fn close(self) {
        self.fetcher.close().await;
    }
}
