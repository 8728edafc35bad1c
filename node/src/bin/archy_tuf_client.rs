//! `archy-tuf-client`: the client-under-test command line of the TUF
//! conformance suite (theupdateframework/tuf-conformance), backed by the
//! same client code the node uses (`archy_registry::tuf`).
//!
//! It exits 0 on success and 1 on any failure, usage errors included, as
//! the suite requires.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use archy_registry::files;
use archy_registry::tuf::metadata::TargetFile;
use archy_registry::tuf::transport::encode_role;
use archy_registry::tuf::{
    DirStore, HttpTransport, Limits, MetadataStore, Updater, check_length_and_hashes,
};
use clap::{Parser, Subcommand};

/// A TUF client for conformance testing: keeps trusted metadata in
/// METADATA_DIR and follows the specification's update workflow.
#[derive(Debug, Parser)]
#[command(name = "archy-tuf-client", version)]
struct Cli {
    /// Directory of trusted metadata (root.json, timestamp.json, …).
    #[arg(long, global = true, value_name = "DIR")]
    metadata_dir: Option<PathBuf>,
    /// Base URL of the repository's metadata.
    #[arg(long, global = true, value_name = "URL")]
    metadata_url: Option<String>,
    /// A target to download; repeat for several, fetched in order.
    #[arg(long = "target-name", global = true, value_name = "NAME")]
    target_names: Vec<String>,
    /// Base URL of the repository's targets.
    #[arg(long, global = true, value_name = "URL")]
    target_base_url: Option<String>,
    /// Where downloaded targets are written.
    #[arg(long, global = true, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Print this process's peak RSS to stderr at the end (for `archy-bench
    /// catalog`: a parent's getrusage figure includes its own pages).
    #[arg(long, global = true, hide = true)]
    print_peak_rss: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trust ROOT as the initial root (copied into the metadata directory).
    Init {
        /// The trusted root.json.
        root: PathBuf,
    },
    /// Update the trusted metadata from the repository.
    Refresh,
    /// Refresh, then download each --target-name into --target-dir.
    Download,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let print_peak_rss = cli.print_peak_rss;
    let code = match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    };
    if print_peak_rss {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
            eprintln!("peak RSS: {}", line.trim_start_matches("VmHWM:").trim());
        }
    }
    code
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let metadata_dir = cli
        .metadata_dir
        .clone()
        .context("--metadata-dir is required")?;
    match &cli.command {
        Command::Init { root } => {
            std::fs::create_dir_all(&metadata_dir)
                .with_context(|| format!("cannot create {}", metadata_dir.display()))?;
            let bytes =
                std::fs::read(root).with_context(|| format!("cannot read {}", root.display()))?;
            DirStore::new(&metadata_dir).save("root", &bytes)?;
            Ok(())
        }
        Command::Refresh => {
            let runtime = runtime()?;
            let mut updater = updater(&cli, &metadata_dir)?;
            runtime.block_on(updater.refresh())?;
            Ok(())
        }
        Command::Download => {
            let target_dir = cli.target_dir.clone().context("--target-dir is required")?;
            let runtime = runtime()?;
            let mut updater = updater(&cli, &metadata_dir)?;
            runtime.block_on(async {
                for name in &cli.target_names {
                    let info = updater
                        .target_info(name)
                        .await?
                        .with_context(|| format!("no trusted role lists target '{name}'"))?;
                    let path = target_dir.join(encode_role(name));
                    if is_cached(&path, name, &info) {
                        continue;
                    }
                    let bytes = updater.download_target(name, &info).await?;
                    write_atomically(&target_dir, &path, &bytes)?;
                }
                Ok(())
            })
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn updater(cli: &Cli, metadata_dir: &Path) -> anyhow::Result<Updater<HttpTransport>> {
    let Some(metadata_url) = &cli.metadata_url else {
        bail!("--metadata-url is required");
    };
    let target_base = cli.target_base_url.as_deref().unwrap_or(metadata_url);
    let transport = HttpTransport::new(metadata_url, target_base)?;
    Ok(Updater::new(
        Arc::new(DirStore::new(metadata_dir)),
        transport,
        Limits::default(),
    )?)
}

/// Whether `path` already holds the target with the right length and
/// hashes; then it is neither downloaded nor touched.
fn is_cached(path: &Path, name: &str, info: &TargetFile) -> bool {
    files::read_bounded(path, info.length).is_ok_and(|bytes| {
        check_length_and_hashes(name, Some(info.length), Some(&info.hashes), &bytes).is_ok()
    })
}

/// Writes through a hidden temporary file renamed into place, so a failed
/// download never leaves a partial or unverified file behind.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    files::write_atomically(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
