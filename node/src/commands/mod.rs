//! One module per command group. Each returns the process exit code: 0 for
//! success, 1 when the input was checked and found wanting (an invalid
//! manifest, a bad signature); other failures are errors.

mod app;
mod apps;
mod catalog;
mod key;
mod market;
mod node;
mod peer;
mod publish;
mod session;
mod swarm;
mod trust;

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::Command;
use crate::output::Output;

/// Runs `command`; `signature_batch` is the mode given on the command line
/// or in the environment, if any (the node's configuration may set one).
pub fn run(
    command: Command,
    signature_batch: Option<archy_sigbatch::Mode>,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    match command {
        Command::Key(cmd) => key::run(cmd, out),
        Command::App(cmd) => app::run(cmd, out),
        Command::Catalog(cmd) => catalog::run(cmd, out),
        Command::Node(cmd) => node::run(cmd, signature_batch, out),
        Command::Fetch(args) => swarm::fetch(args, out),
        Command::Blobs(cmd) => swarm::blobs(cmd, out),
        Command::Market(cmd) => market::run(cmd, out),
        Command::Trust(cmd) => trust::run(cmd, out),
        Command::Peer(cmd) => peer::run(cmd, out),
        Command::Review(args) => publish::review(args, out),
        Command::VerifyProof(args) => peer::verify_proof(&args, out),
    }
}

/// The async runtime a command that serves or talks to the network runs on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}
