//! [`Node`]: one running node, the single owner of a data directory's
//! parts: its identity, state, blob store, iroh endpoint and protocols, the
//! embedded Nostr relay, discovery, the orchestrator with its reconcile
//! loop, the operations it runs on request, and the HTTP API.
//!
//! `archy node run` is a thin call into [`Node::start`]; tests and, later,
//! the simulator start several in one process, each with its own data
//! directory and ports.

mod app_work;
mod dependencies;
mod heads;
mod maintenance;
mod pins;
mod swarm_work;
mod trust_facts;
mod trust_gate;
mod upkeep;

pub use app_work::{AppAction, InstallSource, UpdateSource, Wanted};
pub use pins::{PublisherPins, RootPin};
pub use swarm_work::{Fetched, FetchedBlob};
pub use trust_gate::{TrustList, TrustRefused};

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use archy_discovery::graph_sync::GraphOptions;
use archy_discovery::ingest::IngestLimits;
use archy_discovery::market::Market;
use archy_discovery::relay_gate::BadSignatureLimit;
use archy_discovery::service::{Discovery, DiscoveryOptions};
use archy_discovery::store::StoreError;
use archy_orchestrator::Orchestrator;
use archy_registry::catalog::release_targets::{AppVersion, app_versions};
use archy_registry::swarm::endpoint::Network;
use archy_registry::swarm::{self, BlobStore, Fetcher, NodeTicket};
use archy_trust::Did;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;

use crate::api::token::ApiToken;
use crate::api::{self, ApiServer, ApiStartError};
use crate::apps::{self, PodmanChoice};
use crate::catalog_source::NodeCatalogs;
use crate::client::Advert;
use crate::config::{NetworkChoice, NodeConfig};
use crate::daemon::{DaemonError, NodeOptions, RunningNode};
use crate::data_dir::{DataDir, DataDirError};
use crate::demo::{DemoError, DemoPublisher};
use crate::embedded_relay::EmbeddedRelay;
use crate::federation::Federation;
use crate::federation::gossip::GossipLoop;
use crate::operations::{Failure, Operations, OperationsError, Reporter};
use crate::state::NodeState;
use crate::trust::Trust;

/// Longest the node waits at start for a command run without it to let
/// go of the orchestrator's state.
const APPS_OPEN_WAIT: Duration = Duration::from_secs(30);
/// Longest a reconcile pass in progress is waited for when the node stops;
/// each of its podman calls has its own deadline well inside this.
const RECONCILE_STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Heads heard and not yet followed, at most.
const HEARD_CAPACITY: usize = 256;
/// How long the gossip loop may take to stop.
const GOSSIP_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A node that could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The data directory or the node key.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The state, blob store, endpoint or a published catalog.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    /// The discovery index.
    #[error(transparent)]
    Discovery(#[from] StoreError),
    /// The endpoint's ticket.
    #[error(transparent)]
    Swarm(#[from] swarm::Error),
    /// The HTTP API.
    #[error(transparent)]
    Api(#[from] ApiStartError),
    /// The orchestrator's state.
    #[error(transparent)]
    Apps(#[from] archy_orchestrator::Error),
    /// The operations kept in the node's state.
    #[error(transparent)]
    Operations(#[from] OperationsError),
    /// The demo publisher.
    #[error(transparent)]
    Demo(#[from] DemoError),
}

/// A running node. Cloning gives another handle to the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

/// The work of one operation, borrowing the node and its reporter.
pub(super) type Work<'a> =
    Pin<Box<dyn Future<Output = Result<serde_json::Value, Failure>> + Send + 'a>>;

struct Inner {
    data: DataDir,
    config: NodeConfig,
    ticket: NodeTicket,
    publishes: Vec<Did>,
    /// The catalog directories it serves (config's and the demo's).
    catalogs: Vec<PathBuf>,
    /// What it serves of them, and of the publishers it follows.
    served: Arc<NodeCatalogs>,
    relay_url: Option<String>,
    api_addr: Option<SocketAddr>,
    market: Option<Market>,
    /// The owner's trust in publishers and apps.
    trust: Trust,
    /// The paired peers and the federation's gossip.
    federation: Federation,
    state: NodeState,
    blobs: BlobStore,
    orchestrator: Arc<Orchestrator>,
    /// The catalogs upkeep re-signs.
    signed_catalogs: Vec<upkeep::SignedCatalog>,
    /// Newer releases upkeep found for installed apps.
    updates: upkeep::Updates,
    /// The version each app's automatic update last tried.
    auto_attempted: upkeep::Updates,
    /// App operations run one at a time ([`app_work`]).
    apps_lock: Mutex<()>,
    operations: Operations,
    fetcher: Fetcher,
    /// What [`Node::shutdown`] stops; `None` once stopped.
    parts: Mutex<Option<Parts>>,
}

/// The parts that run tasks, in the order they are stopped.
struct Parts {
    api: Option<ApiServer>,
    stop: watch::Sender<bool>,
    reconciler: Option<JoinHandle<()>>,
    upkeep: Option<JoinHandle<()>>,
    trust: Option<JoinHandle<()>>,
    /// The federation's gossip loop.
    gossip: Option<JoinHandle<()>>,
    /// What follows the heads peers say.
    heads: Option<JoinHandle<()>>,
    discovery: Option<Discovery>,
    relay: Option<EmbeddedRelay>,
    swarm: RunningNode,
}

impl Node {
    /// Starts every part `config` asks for on `data`, with the key `key`
    /// (else the data directory's `node.key`, made on first run).
    ///
    /// The embedded relay is a convenience: if it cannot start (its port
    /// is taken), the node runs without it and says so in the log.
    /// Everything else must start.
    pub async fn start(
        data: DataDir,
        key: Option<&Path>,
        config: NodeConfig,
    ) -> Result<Self, NodeError> {
        let identity = data.identity(key)?;
        // The API's address and token first: a node that cannot serve the
        // API it was told to fails before it starts anything else.
        let api = if config.api.enabled {
            let (token, _) =
                ApiToken::load_or_create(&data.api_token_file()).map_err(ApiStartError::from)?;
            Some((api::bind(&config.api).await?, token))
        } else {
            None
        };
        let demo = if config.demo.enabled {
            Some(DemoPublisher::prepare(&data, &config.demo.apps).await?)
        } else {
            None
        };
        let mut options = NodeOptions {
            network: match config.swarm.network {
                NetworkChoice::Local => Network::Local,
                NetworkChoice::Internet => Network::Internet,
            },
            bind: config.swarm.bind,
            catalogs: config.swarm.catalogs.clone(),
            max_upload: config.swarm.max_upload,
        };
        if let Some(demo) = &demo {
            options.catalogs.push(demo.catalog().to_owned());
        }
        let mut swarm = RunningNode::start(&data, &identity, &options).await?;
        let ticket = swarm.ticket()?;
        let relay = if config.relay.enabled {
            match EmbeddedRelay::start(config.relay.port, &data.relay_dir()).await {
                Ok(relay) => Some(relay),
                Err(e) => {
                    tracing::warn!("the embedded Nostr relay is off: {e}");
                    None
                }
            }
        } else {
            None
        };
        let discovery = if config.discovery.enabled {
            let mut relays = config.discovery.relays.clone();
            relays.extend(relay.as_ref().map(|r| r.url().to_owned()));
            let options = DiscoveryOptions {
                relays,
                limits: IngestLimits {
                    per_minute: config.discovery.flood_limit,
                    ..IngestLimits::default()
                },
                bad_signatures: BadSignatureLimit {
                    share: config.discovery.max_bad_signatures / 100.0,
                    ..BadSignatureLimit::default()
                },
                graph: GraphOptions {
                    owner: Some(config.trust.owner_key(&identity)),
                    depth: config.trust.depth,
                    max_keys: config.trust.max_keys,
                    every: Duration::from_secs(config.trust.graph_every),
                },
            };
            Some(Discovery::start(&data.discovery_file(), &options)?)
        } else {
            None
        };
        let market = discovery.as_ref().map(|d| d.market().clone());
        // A node trusts the publishers whose catalogs it serves with their
        // key, and a demo node its demo publisher; other nodes judge them
        // like any other.
        let pinned = swarm
            .publishes()
            .iter()
            .cloned()
            .chain(demo.iter().map(DemoPublisher::did))
            .collect();
        let limits = archy_trust::score::Limits {
            depth: config.trust.depth,
            max_keys: config.trust.max_keys,
            max_edges: config.trust.max_edges,
            keys_per_list: config.trust.keys_per_list,
            claims_per_key: config.trust.claims_per_key,
        };
        let trust = Trust::new(config.trust.owner_key(&identity), limits, pinned);
        let signed_catalogs =
            upkeep::signed_catalogs(&data, key, &identity, &config, demo.as_ref());
        if let (Some(demo), Some(relay)) = (demo, &relay) {
            let (url, ticket) = (relay.url().to_owned(), ticket.to_string());
            tokio::spawn(async move {
                match demo.announce(&url, &ticket).await {
                    Ok(n) => tracing::info!("demo: {n} listing(s) on {url}"),
                    Err(e) => tracing::warn!("demo listings were not announced: {e}"),
                }
            });
        }
        let choice = PodmanChoice {
            socket: config.apps.podman_socket.clone(),
            rootful: config.apps.rootful,
        };
        let orchestrator =
            Arc::new(apps::open(&apps::config(&data, &choice)?, APPS_OPEN_WAIT).await?);
        let (stop, stopped) = watch::channel(false);
        let stopped_upkeep = stop.subscribe();
        match orchestrator.list() {
            Ok(installed) => match trust_facts::gather(swarm.state(), &installed) {
                Ok(facts) => trust.set_facts(facts),
                Err(e) => tracing::warn!("trust: the node's facts were not read: {e}"),
            },
            Err(e) => tracing::warn!("trust: the installed apps were not read: {e}"),
        }
        if let Some(market) = market.clone() {
            // Answers from the start reflect what discovery already holds.
            let first = trust.clone();
            match tokio::task::spawn_blocking(move || first.refresh(&market)).await {
                Ok(Err(e)) => tracing::warn!("trust: discovery's inputs unreadable: {e}"),
                Err(e) => tracing::warn!("trust: the first build failed: {e}"),
                Ok(Ok(_)) => {}
            }
        }
        let trust_task = market
            .clone()
            .map(|market| tokio::spawn(trust.clone().refresh_loop(market, stop.subscribe())));
        let reconciler = if config.apps.enabled {
            let every = Duration::from_secs(config.apps.reconcile_every.max(1));
            Some(tokio::spawn(apps::reconcile_loop(
                orchestrator.clone(),
                every,
                stopped,
            )))
        } else {
            None
        };
        let (gossip, told, told_by) = swarm.gossip();
        let gossip_status = Arc::default();
        let federation = Federation::new(
            identity.clone(),
            swarm.state().clone(),
            swarm.endpoint().clone(),
            Arc::clone(&gossip_status),
            told,
        );
        let (heard, heard_by) = mpsc::channel(HEARD_CAPACITY);
        let node_heads = heads::NodeHeads {
            state: swarm.state().clone(),
            served: swarm.catalogs(),
        };
        let gossip_task = told_by.map(|told_by| {
            let gossip_loop = GossipLoop::new(
                identity.clone(),
                swarm.endpoint().clone(),
                gossip,
                swarm.state().clone(),
                gossip_status,
                Arc::new(node_heads),
                heard,
            );
            tokio::spawn(gossip_loop.run(told_by, stop.subscribe()))
        });
        let stopped_heads = stop.subscribe();
        let operations = Operations::open(swarm.state().clone())?;
        let fetcher = Fetcher::new(
            swarm.endpoint().clone(),
            swarm.blobs().clone(),
            data.releases_dir(),
        )
        .with_own_catalogs(swarm.catalogs());
        let inner = Inner {
            ticket,
            publishes: swarm.publishes().to_vec(),
            catalogs: options.catalogs.clone(),
            served: swarm.catalogs(),
            relay_url: relay.as_ref().map(|r| r.url().to_owned()),
            api_addr: api
                .as_ref()
                .and_then(|(listener, _)| listener.local_addr().ok()),
            market,
            trust,
            federation,
            state: swarm.state().clone(),
            blobs: swarm.blobs().clone(),
            orchestrator,
            signed_catalogs,
            updates: upkeep::Updates::default(),
            auto_attempted: upkeep::Updates::default(),
            apps_lock: Mutex::new(()),
            operations,
            fetcher,
            data,
            config,
            parts: Mutex::new(Some(Parts {
                api: None,
                stop,
                reconciler,
                upkeep: None,
                trust: trust_task,
                gossip: gossip_task,
                heads: None,
                discovery,
                relay,
                swarm,
            })),
        };
        let node = Self {
            inner: Arc::new(inner),
        };
        node.share_fetch_roots();
        let heads_task = tokio::spawn(node.clone().follow_peers(heard_by, stopped_heads));
        if let Some(parts) = node.inner.parts.lock().await.as_mut() {
            parts.heads = Some(heads_task);
        }
        if let Err(e) = node.load_trust_lists() {
            tracing::warn!("the owner's allow and block lists were not read: {e}");
        }
        if node.inner.config.swarm.upkeep_every > 0 {
            let every = Duration::from_secs(node.inner.config.swarm.upkeep_every);
            let task = tokio::spawn(upkeep::upkeep_loop(node.clone(), every, stopped_upkeep));
            if let Some(parts) = node.inner.parts.lock().await.as_mut() {
                parts.upkeep = Some(task);
            }
        }
        if let Some((listener, token)) = api {
            let server = ApiServer::start(node.clone(), listener, token);
            match server {
                Ok(server) => {
                    if let Some(parts) = node.inner.parts.lock().await.as_mut() {
                        parts.api = Some(server);
                    }
                    if let Some(addr) = node.api_addr()
                        && let Err(e) = Advert::write(&node.inner.data, addr)
                    {
                        tracing::warn!("commands will not find this node's API: {e}");
                    }
                }
                Err(e) => {
                    node.shutdown().await;
                    return Err(e.into());
                }
            }
        }
        Ok(node)
    }

    /// The node's DID (its endpoint key).
    pub fn did(&self) -> &Did {
        self.inner.ticket.did()
    }

    /// The ticket other nodes reach this one with.
    pub fn ticket(&self) -> &NodeTicket {
        &self.inner.ticket
    }

    /// Begins operation `kind` on `subject` and runs `work` for it in the
    /// background; returns its id.
    pub(super) fn spawn_operation(
        &self,
        kind: &str,
        subject: &str,
        work: impl for<'a> FnOnce(&'a Node, &'a Reporter) -> Work<'a> + Send + 'static,
    ) -> Result<u64, OperationsError> {
        let reporter = self.operations().begin(kind, subject)?;
        let op = reporter.id();
        let node = self.clone();
        tokio::spawn(async move {
            let outcome = work(&node, &reporter).await;
            reporter.finish(outcome);
        });
        Ok(op)
    }

    /// The data directory the node owns.
    pub fn data_dir(&self) -> &DataDir {
        &self.inner.data
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// The DIDs whose catalogs it publishes.
    pub fn publishes(&self) -> &[Did] {
        &self.inner.publishes
    }

    /// The embedded relay's `ws://` URL, if it runs.
    pub fn relay_url(&self) -> Option<&str> {
        self.inner.relay_url.as_deref()
    }

    /// The HTTP API's address, if it runs.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.inner.api_addr
    }

    /// Every version of `app` that `publisher`'s catalog lists, newest
    /// first: from its own catalog if this node publishes it, else as far
    /// as the node has read that catalog (empty before the first read).
    pub fn app_versions(&self, publisher: &Did, app: &str) -> Result<Vec<AppVersion>, String> {
        match self.inner.served.targets_of(publisher)? {
            Some(targets) => app_versions(&targets, app),
            None => Ok(Vec::new()),
        }
    }

    /// The discovered apps, if discovery runs.
    pub fn market(&self) -> Option<&Market> {
        self.inner.market.as_ref()
    }

    /// The paired peers and the federation's gossip.
    pub fn federation(&self) -> &Federation {
        &self.inner.federation
    }

    /// The owner's trust in publishers and apps.
    pub fn trust(&self) -> &Trust {
        &self.inner.trust
    }

    /// The node's state database.
    pub fn state(&self) -> &NodeState {
        &self.inner.state
    }

    /// The node's blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// The orchestrator of the node's apps, open while the node runs.
    pub fn orchestrator(&self) -> &Arc<Orchestrator> {
        &self.inner.orchestrator
    }

    /// The node's operations: running, and kept from before.
    pub fn operations(&self) -> &Operations {
        &self.inner.operations
    }

    /// Held by the app operation that runs.
    fn apps_lock(&self) -> &Mutex<()> {
        &self.inner.apps_lock
    }

    /// Fetches over the node's own endpoint into its own store.
    pub fn fetcher(&self) -> &Fetcher {
        &self.inner.fetcher
    }

    /// Stops the parts in order (API, reconcile loop, discovery,
    /// relay, then the endpoint and blob store), each bounded.
    /// A second call, from any handle, does nothing.
    pub async fn shutdown(&self) {
        let Some(parts) = self.inner.parts.lock().await.take() else {
            return;
        };
        if let Some(api) = parts.api {
            Advert::remove_own(&self.inner.data);
            api.shutdown().await;
        }
        let _ = parts.stop.send(true);
        if let Some(upkeep) = parts.upkeep {
            // A pass waits on the network within its own deadlines; a
            // stopping node does not wait for it.
            upkeep.abort();
        }
        if let Some(gossip) = parts.gossip
            && tokio::time::timeout(GOSSIP_STOP_TIMEOUT, gossip)
                .await
                .is_err()
        {
            tracing::debug!("the federation's gossip loop did not stop in time");
        }
        if let Some(heads) = parts.heads {
            // A refresh in progress is bounded; a stopping node does not
            // wait for it.
            heads.abort();
        }
        if let Some(trust) = parts.trust {
            // A rebuild in progress finishes on its blocking thread; its
            // result is not needed.
            trust.abort();
        }
        if let Some(reconciler) = parts.reconciler
            && tokio::time::timeout(RECONCILE_STOP_TIMEOUT, reconciler)
                .await
                .is_err()
        {
            tracing::warn!("a reconcile pass was still running when the node stopped");
        }
        if let Some(discovery) = parts.discovery {
            discovery.shutdown().await;
        }
        drop(parts.relay);
        parts.swarm.shutdown().await;
    }
}
