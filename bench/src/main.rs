//! `archy-bench`: the system benchmarks of archy, kept out of the shipping
//! binary. Each drives the real `archy` binary (or the libraries it is made
//! of) where a user would, on loopback, and prints figures; none asserts
//! one. `docs/benchmarks.md` holds the current figures.

mod apps;
mod archy_bin;
mod catalog;
mod cli;
mod daemon;
mod discovery;
mod discovery_run;
mod federation;
mod fetch;
mod http;
mod market;
mod memory;
mod output;
mod trust;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, ensure};
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::output::Output;

/// mimalloc, as `archy` itself uses: the discovery benchmark ingests in
/// this process and must allocate the way the node does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    archy_sigbatch::set_mode(cli.signature_batch);
    let out = Output::new(cli.json);
    match run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, out: &Output) -> anyhow::Result<()> {
    match cli.command {
        Command::Apps {
            app,
            runs,
            apps,
            passes,
            cycles,
            podman,
        } => {
            ensure!(
                runs >= 1 && passes >= 1 && cycles >= 1,
                "--runs, --passes and --cycles must be at least 1"
            );
            debug_build_note();
            apps::bench(app, runs, apps, passes, cycles, &podman, out)
        }
        Command::Daemon { runs, idle } => {
            ensure!(runs >= 1, "--runs must be at least 1");
            debug_build_note();
            daemon::run(&archy_bin::locate(cli.archy)?, runs, idle, out)
        }
        Command::Fetch {
            size,
            cap,
            capped_size,
            dir,
        } => {
            debug_build_note();
            let archy = archy_bin::locate(cli.archy)?;
            fetch::run(
                &archy,
                fetch::FetchBench {
                    size,
                    cap,
                    capped_size,
                    dir,
                },
                out,
            )
        }
        Command::Discovery {
            listings,
            publishers,
            queries,
            deadline,
            one_core,
            runs,
            alongside,
        } => {
            ensure!(
                listings >= 1 && publishers >= 1 && queries >= 1 && runs >= 1,
                "--listings, --publishers, --queries and --runs must be at least 1"
            );
            debug_build_note();
            let plan = discovery::Plan {
                listings,
                publishers,
                queries,
                runs,
                alongside,
                deadline: Duration::from_secs(deadline),
            };
            discovery_run::run(plan, one_core, out)
        }
        Command::DiscoveryRelay {
            listings,
            publishers,
            cpu,
        } => discovery_run::relay(listings, publishers, cpu),
        Command::Market {
            listings,
            publishers,
            path,
            rate,
            seconds,
            warmup,
            connections,
            runs,
            deadline,
            oha,
        } => {
            debug_build_note();
            let oha = market::locate_oha(oha)?;
            market::run(
                market::MarketBench {
                    listings,
                    publishers,
                    path,
                    rate,
                    seconds,
                    warmup,
                    connections,
                    runs,
                    deadline: Duration::from_secs(deadline),
                    oha,
                },
                out,
            )
        }
        Command::Memory {
            size,
            runs,
            idle,
            dir,
            install,
            podman,
        } => {
            debug_build_note();
            let archy = archy_bin::locate(cli.archy)?;
            memory::run(
                &archy,
                memory::MemoryBench {
                    size,
                    runs,
                    idle,
                    dir,
                    install: install.then(|| {
                        archy_node::apps::PodmanChoice {
                            socket: podman.podman_socket,
                            rootful: podman.rootful,
                        }
                        .socket()
                    }),
                },
                out,
            )
        }
        Command::Trust {
            keys,
            edges,
            owner_rank,
            runs,
        } => {
            ensure!(
                runs >= 1 && keys >= 2 && edges >= 1,
                "--runs and --edges must be at least 1, --keys at least 2"
            );
            debug_build_note();
            trust::run(
                trust::TrustBench {
                    keys,
                    edges,
                    owner_rank,
                    runs,
                },
                out,
            )
        }
        Command::Federation { nodes, runs } => {
            debug_build_note();
            let f = runtime()?.block_on(federation::run(nodes, runs))?;
            out.result(&f, || federation::report(&f));
            Ok(())
        }
        Command::Catalog { targets, refreshes } => {
            debug_build_note();
            let archy = archy_bin::locate(cli.archy)?;
            let f = catalog::run(
                &archy_bin::beside(&archy, "archy-tuf-client")?,
                targets,
                refreshes,
            )?;
            out.result(&f, || catalog::report(&f));
            Ok(())
        }
    }
}

/// The async runtime a benchmark that serves or talks to the network runs on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

/// Figures from a debug build mislead; says so.
fn debug_build_note() {
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; build with --release for meaningful figures");
    }
}
