//! `archy`: the command line of an Archipelago registry node.
//!
//! This file parses flags and dispatches; each command group lives in its
//! own module under `commands/` and presents results through [`output`].

mod cli;
mod commands;
mod hint;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system's allocator: ingesting a market builds
/// and drops many small JSON values per event, and glibc's allocator spent
/// a seventh of the ingest's time on them (measured with the discovery
/// benchmark, `archy-bench discovery`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
    if let Some(mode) = cli.signature_batch {
        archy_sigbatch::set_mode(mode);
    }
    let out = output::Output::new(cli.json);
    match commands::run(cli.command, cli.signature_batch, &out) {
        Ok(code) => code,
        Err(err) => {
            out.error(&err, hint::for_error(&err));
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr and are quiet unless asked for with `-v` or `RUST_LOG`.
fn init_tracing(verbose: u8) {
    // Quiet by default: iroh reports an endpoint closed while a dial to a
    // dead peer was still pending as an error, though nothing was lost.
    let default = match verbose {
        0 => "warn,iroh::socket=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
