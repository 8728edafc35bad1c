//! `archy node run`: a node's iroh endpoint and the protocols it answers.
//!
//! - the standard iroh-blobs ALPN serves every blob in the node's store
//!   (content-addressed, so serving is safe: a fetcher checks each byte);
//! - `archy/tuf/1` serves the node's own catalogs and the metadata it holds
//!   for publishers it follows ([`crate::catalog_source`]);
//! - `archy/pair/1` pairs with a node that presents this node's invite,
//!   and iroh-gossip carries the federation's messages, closed to removed
//!   peers ([`crate::federation`]).
//!
//! The endpoint's key is the node identity, so its ticket names its DID.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use archy_registry::swarm::endpoint::{EndpointOptions, Network, NodeEndpoint};
use archy_registry::swarm::tuf_protocol::{self, TufProtocol};
use archy_registry::swarm::{self, BlobStore, NodeTicket, upload_cap};
use archy_trust::{Did, Identity};
use iroh::protocol::Router;
use iroh_blobs::BlobsProtocol;
use iroh_gossip::Gossip;
use tokio::sync::mpsc;

use crate::catalog_source::NodeCatalogs;
use crate::data_dir::DataDir;
use crate::federation::gossip::{GossipGate, MAX_MESSAGE_BYTES, Told};
use crate::federation::{TOLD_CAPACITY, pairing};
use crate::state::NodeState;

/// How long stopping the protocols and closing the endpoint may take.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// How a node starts.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Networks the endpoint uses.
    pub network: Network,
    /// Address to bind; port 0 (the default) picks a free one.
    pub bind: Option<SocketAddr>,
    /// Catalog directories this node publishes.
    pub catalogs: Vec<PathBuf>,
    /// Cap on the bytes per second served to peers.
    pub max_upload: Option<u64>,
}

/// A node that could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state database.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The blob store or endpoint.
    #[error(transparent)]
    Swarm(#[from] swarm::Error),
    /// A catalog directory.
    #[error(transparent)]
    Catalog(#[from] crate::catalog_source::CatalogSourceError),
}

/// A running node.
#[derive(Debug)]
pub struct RunningNode {
    router: Router,
    endpoint: NodeEndpoint,
    blobs: BlobStore,
    state: NodeState,
    publishes: Vec<Did>,
    catalogs: Arc<NodeCatalogs>,
    gossip: Gossip,
    told: mpsc::Sender<Told>,
    /// Taken by the federation's gossip loop.
    told_by: Option<mpsc::Receiver<Told>>,
}

impl RunningNode {
    /// Opens the data directory's state and blobs, binds the endpoint with
    /// `identity`, and starts answering.
    pub async fn start(
        data: &DataDir,
        identity: &Identity,
        options: &NodeOptions,
    ) -> Result<Self, DaemonError> {
        let state = NodeState::open(&data.state_file())?;
        let blobs = BlobStore::open(&data.blobs_dir()).await?;
        let catalogs = Arc::new(NodeCatalogs::new(&options.catalogs, state.clone())?);
        let publishes = catalogs.publishers();
        let endpoint = NodeEndpoint::bind(
            identity,
            &EndpointOptions {
                network: options.network,
                bind: options.bind,
            },
        )
        .await?;
        let events = options.max_upload.map(upload_cap::capped);
        let gossip = Gossip::builder()
            .max_message_size(MAX_MESSAGE_BYTES)
            .spawn(endpoint.endpoint.clone());
        let (told, told_by) = mpsc::channel(TOLD_CAPACITY);
        let pairing = pairing::PairingProtocol::new(state.clone(), identity.did(), told.clone());
        let router = Router::builder(endpoint.endpoint.clone())
            .accept(iroh_blobs::ALPN, BlobsProtocol::new(blobs.api(), events))
            .accept(tuf_protocol::ALPN, TufProtocol::new(catalogs.clone()))
            .accept(pairing::ALPN, pairing)
            .accept(
                iroh_gossip::ALPN,
                GossipGate::new(gossip.clone(), state.clone()),
            )
            .spawn();
        Ok(Self {
            router,
            endpoint,
            blobs,
            state,
            publishes,
            catalogs,
            gossip,
            told,
            told_by: Some(told_by),
        })
    }

    /// The federation's gossip, what tells its loop, and (once) what its
    /// loop hears.
    pub fn gossip(&mut self) -> (Gossip, mpsc::Sender<Told>, Option<mpsc::Receiver<Told>>) {
        (self.gossip.clone(), self.told.clone(), self.told_by.take())
    }

    /// What the node serves to others: its catalogs and the metadata it
    /// holds for the publishers it follows.
    pub fn catalogs(&self) -> Arc<NodeCatalogs> {
        self.catalogs.clone()
    }

    /// The ticket other nodes use to reach this one.
    pub fn ticket(&self) -> Result<NodeTicket, swarm::Error> {
        self.endpoint.ticket()
    }

    /// The DIDs whose catalogs this node publishes.
    pub fn publishes(&self) -> &[Did] {
        &self.publishes
    }

    /// The node's state.
    pub fn state(&self) -> &NodeState {
        &self.state
    }

    /// The node's endpoint.
    pub fn endpoint(&self) -> &NodeEndpoint {
        &self.endpoint
    }

    /// The node's blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Stops answering, closes the endpoint (the router does) and flushes
    /// the store.
    pub async fn shutdown(self) {
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, self.router.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("stopping the protocols: {e}"),
            Err(_) => tracing::debug!("peers did not acknowledge the close in time"),
        }
        // The router closes the endpoint, unless a protocol was slow to
        // stop: its sockets are released either way, so a node started
        // again on the same port can bind it.
        self.endpoint.close().await;
        self.blobs.shutdown().await;
    }
}
