//! The node a command talks to. Commands that touch a node's state are
//! clients of its API: the node running on the data directory if there is
//! one, else the same `Node` started in this process for the command's
//! duration (no relay, no reconcile loop, its API on a free loopback
//! port). Either way the command asks over HTTP, so it behaves alike and
//! never finds the state "in use by another process".

use std::time::{Duration, Instant};

use anyhow::Context;
use archy_node::client::NodeClient;
use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::{Node, NodeError};

/// Longest a command waits for a node another command is starting.
const STARTING_WAIT: Duration = Duration::from_secs(30);

/// A node to ask, and the node this command started, if it did.
pub struct Session {
    client: NodeClient,
    own: Option<Node>,
}

impl Session {
    /// The running node of `data`, or a node started here on it with
    /// `adjust` applied to its configuration (podman and network flags).
    pub async fn open(
        data: &DataDir,
        adjust: impl FnOnce(&mut NodeConfig),
    ) -> anyhow::Result<Self> {
        if let Some(client) = NodeClient::find(data).await? {
            return Ok(Self { client, own: None });
        }
        let (mut config, _) = NodeConfig::load(data.root(), None)?;
        config.relay.enabled = false;
        config.discovery.relays.clear();
        config.apps.enabled = false;
        config.swarm.upkeep_every = 0;
        config.api.enabled = true;
        config.api.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        adjust(&mut config);
        match Node::start(data.clone(), None, config).await {
            Ok(node) => {
                let addr = node
                    .api_addr()
                    .context("the node started without its API")?;
                let (_, token) =
                    archy_node::api::token::ApiToken::load_or_create(&data.api_token_file())?;
                Ok(Self {
                    client: NodeClient::new(addr, token)?,
                    own: Some(node),
                })
            }
            Err(e) if is_busy(&e) => Self::wait_for_other(data).await.map_err(|_| {
                anyhow::Error::from(e).context(format!(
                    "another archy process holds {} and serves no API this command can ask                      (a node run with --no-api, or one still starting); stop it, or run it with its API",
                    data.root().display()
                ))
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Another process holds the state: a node it is starting will soon
    /// advertise its API.
    async fn wait_for_other(data: &DataDir) -> anyhow::Result<Self> {
        let deadline = Instant::now() + STARTING_WAIT;
        while Instant::now() < deadline {
            if let Some(client) = NodeClient::find(data).await? {
                return Ok(Self { client, own: None });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!("no node answered")
    }

    /// Whether the node was started by this command (and stops with it).
    pub fn started_here(&self) -> bool {
        self.own.is_some()
    }

    /// The client to ask.
    pub fn client(&self) -> &NodeClient {
        &self.client
    }

    /// Stops the node this command started, if it did.
    pub async fn close(self) {
        if let Some(node) = self.own {
            node.shutdown().await;
        }
    }
}

fn is_busy(e: &NodeError) -> bool {
    match e {
        NodeError::Daemon(archy_node::daemon::DaemonError::State(s)) => s.is_busy(),
        NodeError::Apps(archy_orchestrator::Error::StateBusy { .. }) => true,
        _ => false,
    }
}
