//! Flags and subcommands of `archy`, with the help text users see.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A peer of the Archipelago app registry: identities, app manifests,
/// signing and verification.
#[derive(Debug, Parser)]
#[command(
    name = "archy",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log more (-v info, -vv debug, -vvv trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and inspect identity keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Scaffold, validate, sign and verify app manifests.
    #[command(subcommand)]
    App(AppCommand),
    /// Measure performance and print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new identity key file (mode 0600; never overwrites).
    New {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Show a key's public identity: DID, Nostr npub and TUF key id.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Write a valid starter manifest.yml into DIR.
    Init(InitArgs),
    /// Check a manifest; exit 1 listing every problem if it is invalid.
    Validate {
        /// A manifest.yml, or the app directory holding one.
        path: PathBuf,
        /// Expect the published form (images named by hash) instead of the source form.
        #[arg(long)]
        published: bool,
    },
    /// Hash the app's image archives and sign its manifest, writing manifest.signed.json.
    Sign {
        /// A manifest.yml, or the app directory holding one.
        path: PathBuf,
        /// The publisher's key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Where to write the signed manifest [default: manifest.signed.json next to the manifest].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verify a signed manifest; exit 1 if it is not authentic and valid.
    Verify {
        /// The signed manifest (manifest.signed.json).
        signed: PathBuf,
        /// Require this publisher DID.
        #[arg(long, value_name = "DID")]
        publisher: Option<String>,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Publisher {
    /// The publisher's key file (its DID becomes the manifest's publisher).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The publisher's DID, when the key is kept elsewhere.
    #[arg(long, value_name = "DID")]
    pub publisher: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create the app in (created if missing).
    pub dir: PathBuf,
    /// Reverse-DNS app id [default: org.example.<directory name>].
    #[arg(long)]
    pub id: Option<String>,
    /// Display title [default: the directory name].
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub publisher: Publisher,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Signed-manifest verification and manifest parsing rates on one core.
    Manifest {
        /// Seconds to run each figure.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
}
