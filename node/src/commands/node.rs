//! `archy node run` and `archy node config`: the node's configuration laid
//! together (archy.toml, then `ARCHY_*` variables and flags, which clap
//! reads together), and the node started on it.

use std::process::ExitCode;

use anyhow::Context;
use archy_node::api::token::ApiToken;
use archy_node::config::{ConfigSource, NetworkChoice, NodeConfig};
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use archy_node::operations::Operation;
use archy_node::shutdown::stop_requested;
use archy_registry::files;
use archy_registry::swarm::share;
use serde::Serialize;

use super::runtime;
use super::session::Session;
use super::swarm::data_dir;
use crate::cli::{NetworkArg, NodeCommand, NodeRunArgs};
use crate::output::Output;

pub fn run(
    cmd: NodeCommand,
    signature_batch: Option<archy_sigbatch::Mode>,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    match cmd {
        NodeCommand::Run(args) => {
            let (data, config, _) = configure(&args, signature_batch)?;
            archy_sigbatch::set_mode(config.signature_batch);
            runtime()?.block_on(run_node(data, config, &args, out))
        }
        NodeCommand::Token { data } => {
            let data = data_dir(&data)?;
            let path = data.api_token_file();
            let (_, token) = ApiToken::load_or_create(&path)?;
            let shown = TokenInfo {
                token: &token,
                file: path.display().to_string(),
            };
            out.result(&shown, || token.clone());
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Operations { limit, data } => {
            runtime()?.block_on(operations(&data_dir(&data)?, limit, out))
        }
        NodeCommand::Config(args) => {
            let (_, config, source) = configure(&args, signature_batch)?;
            show_config(&config, &source, out);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The data directory and the configuration `args` make: the file, then
/// the variables and flags over it.
fn configure(
    args: &NodeRunArgs,
    signature_batch: Option<archy_sigbatch::Mode>,
) -> anyhow::Result<(DataDir, NodeConfig, ConfigSource)> {
    let data = data_dir(&args.data)?;
    let (mut config, source) = NodeConfig::load(data.root(), args.config.as_deref())?;
    if let Some(mode) = signature_batch {
        config.signature_batch = mode;
    }
    let swarm = &mut config.swarm;
    if let Some(network) = args.network {
        swarm.network = match network {
            NetworkArg::Local => NetworkChoice::Local,
            NetworkArg::Internet => NetworkChoice::Internet,
        };
    }
    swarm.bind = args.bind.or(swarm.bind);
    swarm.max_upload = args.max_upload.or(swarm.max_upload);
    swarm.upkeep_every = args.upkeep_every.unwrap_or(swarm.upkeep_every);
    if !args.catalogs.is_empty() {
        swarm.catalogs.clone_from(&args.catalogs);
    }
    let relay = &mut config.relay;
    relay.port = args.relay_port.unwrap_or(relay.port);
    relay.enabled &= !args.no_relay;
    let discovery = &mut config.discovery;
    discovery.enabled &= !args.no_discovery;
    if !args.discover_from.is_empty() {
        discovery.relays.clone_from(&args.discover_from);
    }
    discovery.flood_limit = args.flood_limit.unwrap_or(discovery.flood_limit);
    discovery.max_bad_signatures = args
        .max_bad_signatures
        .unwrap_or(discovery.max_bad_signatures);
    config.trust.owner = args.owner.clone().or(config.trust.owner.take());
    config.demo.enabled |= args.demo;
    if let Some(apps) = &args.demo_apps {
        config.demo.apps.clone_from(apps);
    }
    let api = &mut config.api;
    api.listen = args.api.or(api.listen);
    api.enabled &= !args.no_api;
    let apps = &mut config.apps;
    apps.enabled &= !args.no_apps;
    apps.reconcile_every = args.reconcile_every.unwrap_or(apps.reconcile_every);
    if args.podman_socket.is_some() {
        apps.podman_socket.clone_from(&args.podman_socket);
        apps.rootful = false;
    }
    if args.rootful {
        apps.rootful = true;
        apps.podman_socket = None;
    }
    Ok((data, config, source))
}

#[derive(Serialize)]
struct TokenInfo<'a> {
    token: &'a str,
    file: String,
}

#[derive(Serialize)]
struct EffectiveConfig<'a> {
    source: &'a ConfigSource,
    config: &'a NodeConfig,
}

fn show_config(config: &NodeConfig, source: &ConfigSource, out: &Output) {
    let shown = EffectiveConfig { source, config };
    out.result(&shown, || {
        let origin = match source {
            ConfigSource::File(path) => format!("# read from {}", path.display()),
            ConfigSource::Defaults(path) => {
                format!("# {} does not exist: defaults", path.display())
            }
        };
        format!(
            "{origin}, then ARCHY_* variables and flags\n{}",
            config.to_toml()
        )
    });
}

#[derive(Serialize)]
struct NodeInfo {
    did: String,
    ticket: String,
    data_dir: String,
    publishes: Vec<String>,
    provides: Vec<String>,
    relay: Option<String>,
    api: Option<String>,
    api_token_file: Option<String>,
    discovers_from: Vec<String>,
    shares: Vec<SharedTicket>,
}

#[derive(Serialize)]
struct SharedTicket {
    name: String,
    hash: String,
    ticket: String,
}

async fn run_node(
    data: DataDir,
    config: NodeConfig,
    args: &NodeRunArgs,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let node = Node::start(data, args.key.as_deref(), config).await?;
    let result = announce(&node, args, out).await;
    if result.is_ok() {
        stop_requested().await;
    }
    node.shutdown().await;
    result.map(|()| ExitCode::SUCCESS)
}

/// Writes the ticket file if asked and prints what the node is doing.
async fn announce(node: &Node, args: &NodeRunArgs, out: &Output) -> anyhow::Result<()> {
    let ticket = node.ticket();
    let shares = share::shares(node.blobs())
        .await?
        .into_iter()
        .map(|s| SharedTicket {
            ticket: share::ticket(ticket.addr().clone(), s.hash),
            hash: s.hash.to_string(),
            name: s.name,
        })
        .collect();
    let info = NodeInfo {
        did: node.did().to_string(),
        ticket: ticket.to_string(),
        data_dir: node.data_dir().root().display().to_string(),
        publishes: node.publishes().iter().map(ToString::to_string).collect(),
        provides: node
            .state()
            .releases()?
            .iter()
            .map(|r| format!("{}/{}@{}", r.publisher, r.app, r.version))
            .collect(),
        shares,
        relay: node.relay_url().map(str::to_owned),
        api: node.api_addr().map(|a| format!("http://{a}")),
        api_token_file: node
            .api_addr()
            .map(|_| node.data_dir().api_token_file().display().to_string()),
        discovers_from: node.config().discovery.relays.clone(),
    };
    if let Some(path) = &args.ticket_file {
        files::write_atomically(path, info.ticket.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    out.result(&info, || {
        let mut text = format!(
            "node {} is up (data in {})\nticket: {}\n",
            info.did, info.data_dir, info.ticket
        );
        for did in &info.publishes {
            text += &format!("publishing the catalog of {did}\n");
        }
        for release in &info.provides {
            text += &format!("providing {release}\n");
        }
        if let Some(relay) = &info.relay {
            text += &format!("Nostr relay: {relay}\n");
        }
        if let (Some(api), Some(token)) = (&info.api, &info.api_token_file) {
            text += &format!("API: {api}/api (token in {token}; `archy node token` prints it)\n");
        }
        for relay in &info.discovers_from {
            text += &format!("discovering apps from {relay}\n");
        }
        for s in &info.shares {
            text += &format!("sharing {}: sendme receive {}\n", s.name, s.ticket);
        }
        text += "Ctrl-C to stop";
        text
    });
    Ok(())
}

/// `archy node operations`.
async fn operations(data: &DataDir, limit: usize, out: &Output) -> anyhow::Result<ExitCode> {
    let session = Session::open(data, |_| {}).await?;
    let listed: anyhow::Result<Vec<Operation>> = session
        .client()
        .get(&format!("/api/operations?limit={limit}"))
        .await
        .map_err(Into::into);
    session.close().await;
    let listed = listed?;
    out.result(&listed, || {
        if listed.is_empty() {
            return "no operations yet".into();
        }
        let mut text = format!(
            "{:>5} {:<10} {:<12} {:>4}  APP\n",
            "ID", "KIND", "STATUS", "%"
        );
        for op in &listed {
            let status = format!("{:?}", op.status).to_lowercase();
            text += &format!(
                "{:>5} {:<10} {:<12} {:>4}  {}{}\n",
                op.id,
                op.kind,
                status,
                op.percent,
                op.app,
                op.error
                    .as_ref()
                    .map(|e| format!("\n      {e}"))
                    .unwrap_or_default()
            );
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}
