//! `archy-bench federation`: how fast a catalog update reaches paired
//! nodes through gossiped heads. One publisher's node and `nodes` nodes
//! paired with it (the `Node` library, in this process, on loopback); each
//! follows the publisher's catalog. Each run re-signs the catalog's
//! timestamp on disk and times until every node holds the new one: the
//! publisher's node noticing it (it looks every 2 s), the gossip, and each
//! node's verified refresh from the publisher.

use std::time::{Duration, Instant};

use anyhow::Context;
use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use archy_registry::catalog::{Expiries, Repository};
use archy_registry::swarm::FetchRequest;
use archy_registry::tuf::UtcTime;
use archy_trust::Identity;
use serde::Serialize;

/// Longest one run may take before the benchmark gives up.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// The figures.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Paired nodes following the catalog.
    pub nodes: usize,
    /// Milliseconds from the timestamp written to every node holding it,
    /// one per run, sorted.
    pub all_hold_ms: Vec<f64>,
    /// Median of them.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

fn config() -> NodeConfig {
    let mut config = NodeConfig::default();
    config.relay.enabled = false;
    config.discovery.relays.clear();
    config.apps.enabled = false;
    config.api.enabled = false;
    config.swarm.upkeep_every = 0;
    config
}

async fn start(
    data: &std::path::Path,
    key: Option<&std::path::Path>,
    catalogs: Vec<std::path::PathBuf>,
) -> anyhow::Result<Node> {
    let mut config = config();
    config.swarm.catalogs = catalogs;
    Node::start(DataDir::open(data)?, key, config)
        .await
        .with_context(|| format!("a node on {} did not start", data.display()))
}

/// Runs the benchmark: `runs` updates to `nodes` paired nodes.
pub async fn run(nodes: usize, runs: usize) -> anyhow::Result<Figures> {
    let tmp = tempfile::tempdir()?;
    let key = Identity::generate()?;
    let key_file = tmp.path().join("publisher.key");
    archy_trust::keyfile::create(&key_file, &key)?;
    let catalog = tmp.path().join("catalog");
    let repo = Repository::init(
        &catalog,
        std::slice::from_ref(&key),
        1,
        Expiries::default(),
        UtcTime::now(),
    )?;
    let origin = start(&tmp.path().join("origin"), Some(&key_file), vec![catalog]).await?;
    let mut followers = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let node = start(&tmp.path().join(format!("node{i}")), None, Vec::new()).await?;
        let (invite, _) = origin.federation().invite(Duration::from_secs(600))?;
        node.federation().join(&invite).await?;
        let request = FetchRequest {
            publisher: key.did(),
            app: "catalog".into(),
            version: None,
            matching: None,
            origin: Some(origin.ticket().clone()),
            providers: Vec::new(),
        };
        node.fetcher()
            .refresh_catalog(node.state().metadata_of(&key.did()), &request, &mut |_| {})
            .await
            .context("a node did not read the publisher's catalog")?;
        followers.push(node);
    }
    let did = key.did().to_string();
    let held = |node: &Node| {
        node.state()
            .metadata(&did, "timestamp")
            .ok()
            .flatten()
            .map_or(0, |(version, _)| version)
    };
    let mut all_hold_ms = Vec::with_capacity(runs);
    for run in 0..runs {
        let at = UtcTime::now().plus_seconds(i64::try_from(run).unwrap_or(0) + 1);
        let started = Instant::now();
        repo.refresh(std::slice::from_ref(&key), at)?;
        let version = repo
            .status()?
            .roles
            .into_iter()
            .find(|r| r.role == "timestamp")
            .map_or(0, |r| r.version);
        while !followers.iter().all(|n| held(n) >= version) {
            anyhow::ensure!(
                started.elapsed() < RUN_DEADLINE,
                "run {run}: not every node held timestamp {version} within {RUN_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        all_hold_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    for node in followers {
        node.shutdown().await;
    }
    origin.shutdown().await;
    all_hold_ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let index = ((all_hold_ms.len() as f64 - 1.0) * q).round() as usize;
        all_hold_ms.get(index).copied().unwrap_or(0.0)
    };
    Ok(Figures {
        nodes,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        all_hold_ms,
    })
}

/// The figures, for a person.
pub fn report(f: &Figures) -> String {
    format!(
        "a timestamp re-signed on disk, held (verified) by all {} paired nodes: p50 {:.0} ms, p99 {:.0} ms over {} runs\n(the publisher's node looks at its catalog every 2 s; the rest is gossip and each node's refresh)",
        f.nodes,
        f.p50_ms,
        f.p99_ms,
        f.all_hold_ms.len()
    )
}
