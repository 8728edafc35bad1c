//! `archy fetch`, `archy blobs` and `archy app pack`: the commands that
//! use the node's data directory and the iroh swarm.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use archy_node::data_dir::DataDir;
use archy_node::fetching::{FetchSession, ReleaseName};
use archy_node::state::{HeldRelease, NodeState};
use archy_registry::files;
use archy_registry::swarm::endpoint::Network;
use archy_registry::swarm::{self, BlobStore, FetchEvent, FetchRequest, NodeTicket, share};
use archy_registry::verified::VerifiedManifest;
use archy_trust::keyfile;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::runtime;
use crate::cli::{BlobsCommand, DataDirArg, FetchArgs, NetworkArg};
use crate::output::Output;

pub(super) fn data_dir(arg: &DataDirArg) -> anyhow::Result<DataDir> {
    let root = arg.data_dir.clone().unwrap_or_else(DataDir::default_root);
    Ok(DataDir::open(&root)?)
}

/// Runs `work` on the data directory's blob store and closes the store
/// whether or not it succeeded, so its database is always flushed.
async fn with_store<T>(
    data: &DataDir,
    work: impl AsyncFnOnce(&BlobStore) -> Result<T, swarm::Error>,
) -> anyhow::Result<T> {
    let store = BlobStore::open(&data.blobs_dir()).await?;
    let result = work(&store).await;
    store.shutdown().await;
    Ok(result?)
}

fn network(arg: NetworkArg) -> Network {
    match arg {
        NetworkArg::Local => Network::Local,
        NetworkArg::Internet => Network::Internet,
    }
}

pub fn fetch(args: FetchArgs, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(fetch_release(args, out))
}

#[derive(Serialize)]
struct Fetched {
    publisher: String,
    app: String,
    version: String,
    target: String,
    release: String,
    total_bytes: u64,
    already_held_bytes: u64,
    blobs: Vec<FetchedBlob>,
}

#[derive(Serialize)]
struct FetchedBlob {
    blake3: String,
    size: u64,
    path: String,
}

/// Fetches and verifies a release, drawing progress unless `--json`;
/// returns it with (total bytes, bytes already held).
pub(super) async fn fetch_verified(
    args: &FetchArgs,
    out: &Output,
) -> anyhow::Result<(VerifiedManifest, (u64, u64))> {
    let request = parse_release(args)?;
    let data = data_dir(&args.data)?;
    let identity = data.identity(None)?;
    let session = FetchSession::open(&data, &identity, network(args.network)).await?;
    let request = session.with_known_nodes(request)?;
    let bar = progress_bar(out);
    let mut sizes = (0, 0);
    let result = session
        .fetch(&request, &mut |event| {
            if let FetchEvent::Resolved {
                total_bytes,
                already_held,
                ..
            } = &event
            {
                sizes = (*total_bytes, *already_held);
            }
            show(&bar, event)
        })
        .await;
    bar.finish_and_clear();
    session.close().await;
    Ok((result?, sizes))
}

async fn fetch_release(args: FetchArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let (verified, sizes) = fetch_verified(&args, out).await?;
    let manifest = verified.manifest();
    let fetched = Fetched {
        publisher: verified.publisher().to_string(),
        app: manifest.id.clone(),
        version: manifest.version.to_string(),
        target: verified.target_path().unwrap_or_default().to_owned(),
        release: verified.release().to_string(),
        total_bytes: sizes.0,
        already_held_bytes: sizes.1,
        blobs: verified
            .blobs()
            .iter()
            .map(|b| FetchedBlob {
                blake3: b.blob.blake3.to_string(),
                size: b.blob.size,
                path: b.path.display().to_string(),
            })
            .collect(),
    };
    out.result(&fetched, || {
        let mut text = format!(
            "fetched {} {} from {}'s catalog, verified\n  release {}\n",
            fetched.app, fetched.version, fetched.publisher, fetched.release
        );
        for b in &fetched.blobs {
            text += &format!("  {} ({} bytes) -> {}\n", b.blake3, b.size, b.path);
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}

fn parse_release(args: &FetchArgs) -> anyhow::Result<FetchRequest> {
    let name: ReleaseName = args.release.parse()?;
    let ticket = |t: &String| -> anyhow::Result<NodeTicket> {
        t.parse::<NodeTicket>().map_err(anyhow::Error::from)
    };
    Ok(name.request(
        args.origin.as_ref().map(ticket).transpose()?,
        args.providers
            .iter()
            .map(ticket)
            .collect::<Result<_, _>>()?,
    ))
}

fn progress_bar(out: &Output) -> ProgressBar {
    if out.is_json() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints a line above the bar, or to stderr when no bar is drawn (no
/// terminal, or --json), so failures are always seen.
fn say(bar: &ProgressBar, text: String) {
    if bar.is_hidden() {
        eprintln!("{text}");
    } else {
        bar.println(text);
    }
}

fn show(bar: &ProgressBar, event: FetchEvent) {
    match event {
        FetchEvent::PinnedRoot { version, from } => {
            say(
                bar,
                format!("pinned the publisher's root (version {version}) from {from}"),
            );
        }
        FetchEvent::MetadataFrom { node } => {
            say(bar, format!("catalog refreshed from {node}"));
        }
        FetchEvent::SourceFailed { node, reason } => {
            say(bar, format!("{node} could not give the catalog: {reason}"));
        }
        FetchEvent::Resolved {
            target,
            total_bytes,
            already_held,
            ..
        } => {
            if already_held > 0 {
                say(
                    bar,
                    format!(
                        "resuming: {already_held} of {total_bytes} bytes already here, verified"
                    ),
                );
            }
            bar.set_length(total_bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(target);
        }
        FetchEvent::Progress { bytes } => bar.set_position(bytes),
        FetchEvent::ProviderFailed { node, blob } => {
            say(
                bar,
                format!(
                    "provider {node} failed on {blob} (unreachable, or its bytes did not verify); the others are asked"
                ),
            );
        }
    }
}

pub fn blobs(cmd: BlobsCommand, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        match cmd {
            BlobsCommand::Ls { data } => list(&data_dir(&data)?, out).await,
            BlobsCommand::Gc { data } => gc(&data_dir(&data)?, out).await,
            BlobsCommand::Share { file, data } => share_file(&data_dir(&data)?, &file, out).await,
            BlobsCommand::Get {
                ticket,
                out: dir,
                data,
            } => get(&data_dir(&data)?, &ticket, &dir, out).await,
        }
    })
}

async fn list(data: &DataDir, out: &Output) -> anyhow::Result<ExitCode> {
    let entries = with_store(data, async |store| store.list().await).await?;
    out.result(&entries, || {
        let mut text = format!(
            "{} blob(s) in {}\n",
            entries.len(),
            data.blobs_dir().display()
        );
        for e in &entries {
            let size = e.size.map(|s| s.to_string()).unwrap_or_else(|| "?".into());
            let state = if e.complete {
                String::new()
            } else {
                format!(" (partial: {} verified)", e.verified_bytes)
            };
            let pins = if e.pinned_by.is_empty() {
                "unpinned: gc removes it".to_owned()
            } else {
                e.pinned_by.join(", ")
            };
            text += &format!("{} {:>12} bytes{state}  {pins}\n", e.hash, size);
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}

async fn gc(data: &DataDir, out: &Output) -> anyhow::Result<ExitCode> {
    let report = BlobStore::collect_garbage(&data.blobs_dir()).await?;
    out.result(&report, || {
        format!(
            "removed {} blob(s); kept {} that a pinned release or share needs",
            report.removed.len(),
            report.kept
        )
    });
    Ok(ExitCode::SUCCESS)
}

async fn share_file(data: &DataDir, file: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let shared = with_store(data, async |store| share::share_file(store, file).await).await?;
    out.result(&shared, || {
        format!(
            "sharing {} as {}\n`archy node run` prints the ticket for `sendme receive`",
            shared.name, shared.hash
        )
    });
    Ok(ExitCode::SUCCESS)
}

async fn get(data: &DataDir, ticket: &str, dir: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let identity = data.identity(None)?;
    let session = FetchSession::open(data, &identity, Network::Local).await?;
    let bar = progress_bar(out);
    let written = session
        .fetcher()
        .receive_ticket(ticket, dir, &mut |bytes| bar.set_position(bytes))
        .await;
    bar.finish_and_clear();
    session.close().await;
    let written = written?;
    out.result(&written, || {
        let mut text = format!("received {} file(s), verified:\n", written.len());
        for path in &written {
            text += &format!("  {}\n", path.display());
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}

pub fn pack(path: &Path, key: &Path, data: &DataDirArg, out: &Output) -> anyhow::Result<ExitCode> {
    let identity = keyfile::load(key)?;
    let file = super::app::manifest_path(path);
    let data = data_dir(data)?;
    let packed = runtime()?.block_on(with_store(&data, async |store| {
        swarm::pack(store, &file, &identity).await
    }))?;
    NodeState::open(&data.state_file())?.add_release(&HeldRelease {
        publisher: identity.did().to_string(),
        app: packed.app.clone(),
        version: packed.version.clone(),
        release: packed.release,
        target: format!("apps/{}/{}.json", packed.app, packed.version),
    })?;
    let signed_path = file.with_file_name(archy_registry::signing::SIGNED_MANIFEST_FILE);
    files::write_atomically(&signed_path, &packed.signed_manifest)
        .with_context(|| format!("cannot write {}", signed_path.display()))?;
    out.result(&packed, || {
        let mut text = format!(
            "packed {} {}: release {} ({} bytes)\n  document {} ({} bytes)\n",
            packed.app,
            packed.version,
            packed.release,
            packed.total_bytes,
            packed.document.blake3,
            packed.document.size
        );
        for b in &packed.blobs {
            text += &format!(
                "  {} ({} bytes) from {}\n",
                b.blob.blake3,
                b.blob.size,
                b.file.display()
            );
        }
        text += &format!(
            "  wrote {}\npublish it with: archy catalog add CATALOG {} --key KEY",
            signed_path.display(),
            signed_path.display()
        );
        text
    });
    Ok(ExitCode::SUCCESS)
}
