//! The node's side of running apps: where the orchestrator keeps its files
//! in the data directory, which podman it talks to, and how it is opened by
//! commands and by the running node in turn.
//!
//! A running node keeps the orchestrator open for as long as it runs
//! (its state file has one owner); a command run without a node opens it
//! for its own duration, waiting while another process holds it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use archy_orchestrator::{Config, Error, Orchestrator, Socket};

use crate::data_dir::{DataDir, DataDirError};

/// How often an opener retries a state file another process holds.
const BUSY_RETRY: Duration = Duration::from_millis(250);

/// Which podman the node drives.
#[derive(Debug, Clone, Default)]
pub struct PodmanChoice {
    /// An explicit socket path.
    pub socket: Option<PathBuf>,
    /// The system socket instead of the user's.
    pub rootful: bool,
}

impl PodmanChoice {
    /// The socket: the explicit one, else rootful if asked, else the
    /// user's rootless socket (the default).
    pub fn socket(&self) -> Socket {
        match (&self.socket, self.rootful) {
            (Some(path), _) => Socket(path.clone()),
            (None, true) => Socket::rootful(),
            (None, false) => Socket::rootless(),
        }
    }
}

/// The orchestrator's configuration for a data directory: files in
/// `DATA/orchestrator`, and an instance name made from the node's DID, so
/// two nodes on one podman never touch each other's containers.
pub fn config(data: &DataDir, podman: &PodmanChoice) -> Result<Config, DataDirError> {
    let did = data.identity(None)?.did().to_string();
    let instance = hex::encode(&blake3::hash(did.as_bytes()).as_bytes()[..4]);
    Ok(Config {
        dir: data.root().join("orchestrator"),
        instance,
        socket: podman.socket(),
    })
}

/// Opens the orchestrator, waiting up to `wait` while another process
/// (the node's reconcile loop, another command) holds its state.
pub async fn open(config: &Config, wait: Duration) -> Result<Orchestrator, Error> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match Orchestrator::open(config.clone()).await {
            Err(Error::StateBusy { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(BUSY_RETRY).await;
            }
            other => return other,
        }
    }
}

/// The running node's reconciler: every `every`, reconciles, until `stop`
/// turns true. A podman that cannot be reached is reported once, then
/// retried quietly each pass.
pub async fn reconcile_loop(
    orchestrator: Arc<Orchestrator>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut reported = false;
    while !*stop.borrow() {
        match orchestrator.reconcile().await {
            Ok(report) => {
                reported = false;
                if !report.is_quiet() {
                    tracing::info!(?report, "reconciled apps");
                }
            }
            Err(e @ Error::PodmanUnreachable { .. }) if !reported => {
                tracing::warn!("apps are not reconciled: {e}");
                reported = true;
            }
            Err(e @ Error::PodmanUnreachable { .. }) => {
                tracing::debug!("apps are not reconciled: {e}");
            }
            Err(e) => tracing::warn!("reconcile: {e}"),
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(every) => {}
        }
    }
}
