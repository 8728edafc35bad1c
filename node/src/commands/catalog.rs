//! `archy catalog`: a publisher's signed catalog (a TUF repository).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use archy_registry::catalog::{Expiries, Repository};
use archy_registry::files;
use archy_registry::tuf::UtcTime;
use archy_trust::{Identity, keyfile};

use crate::cli::{CatalogCommand, ExpiryArgs};
use crate::output::Output;

pub fn run(cmd: CatalogCommand, out: &Output) -> anyhow::Result<ExitCode> {
    let now = UtcTime::now();
    match cmd {
        CatalogCommand::Init {
            dir,
            keys,
            threshold,
            expiries,
        } => {
            let keys = load_keys(&keys)?;
            let repo = Repository::init(&dir, &keys, threshold, expiries_of(&expiries), now)?;
            let status = repo.status()?;
            out.result(&status, || {
                format!(
                    "created catalog {}\nkeys ({} of {} must sign):\n  {}\nserve it with: archy catalog serve {} --http 127.0.0.1:8080",
                    dir.display(),
                    status.threshold,
                    status.keys.len(),
                    status.keys.join("\n  "),
                    dir.display()
                )
            });
        }
        CatalogCommand::Add {
            dir,
            signed_manifest,
            keys,
        } => {
            let repo = Repository::open(&dir)?;
            let bytes = read_limited(&signed_manifest)?;
            let added = repo
                .add_release(&load_keys(&keys)?, &bytes, now)
                .with_context(|| format!("cannot publish {}", signed_manifest.display()))?;
            out.result(&added, || {
                format!(
                    "published {} ({} bytes, {} blob(s)); targets is now version {}\n  release {} (what nodes fetch; `archy app pack` stores it)",
                    added.target,
                    added.length,
                    added.blobs.len(),
                    added.targets_version,
                    added.release_root
                )
            });
        }
        CatalogCommand::Yank {
            dir,
            app,
            app_version,
            reason,
            keys,
        } => {
            let repo = Repository::open(&dir)?;
            let target = repo.yank(&load_keys(&keys)?, &app, &app_version, &reason, now)?;
            out.result(
                &serde_json::json!({"yanked": target, "reason": reason}),
                || format!("yanked {target}: {reason}"),
            );
        }
        CatalogCommand::RotateKey {
            dir,
            old_keys,
            new_keys,
            threshold,
        } => {
            let repo = Repository::open(&dir)?;
            let version = repo.rotate_keys(
                &load_keys(&old_keys)?,
                &load_keys(&new_keys)?,
                threshold,
                now,
            )?;
            let status = repo.status()?;
            out.result(&status, || {
                format!(
                    "root version {version} now lists:\n  {}\nit is signed by the old and the new keys, so clients follow the rotation",
                    status.keys.join("\n  ")
                )
            });
        }
        CatalogCommand::Refresh { dir, keys } => {
            let repo = Repository::open(&dir)?;
            let roles = repo.refresh(&load_keys(&keys)?, now)?;
            out.result(&serde_json::json!({"resigned": roles}), || {
                format!("re-signed: {}", roles.join(", "))
            });
        }
        CatalogCommand::Show { dir } => {
            let status = Repository::open(&dir)?.status()?;
            out.result(&status, || {
                let mut text = format!(
                    "catalog {}\nkeys ({} of {} must sign):\n",
                    status.dir,
                    status.threshold,
                    status.keys.len()
                );
                for key in &status.keys {
                    text.push_str(&format!("  {key}\n"));
                }
                for role in &status.roles {
                    text.push_str(&format!(
                        "{:<10} version {:<5} expires {}\n",
                        role.role, role.version, role.expires
                    ));
                }
                text.push_str(&format!("{} release(s)\n", status.releases.len()));
                for release in &status.releases {
                    let yanked = release
                        .yanked
                        .as_ref()
                        .map(|r| format!("  YANKED: {r}"))
                        .unwrap_or_default();
                    text.push_str(&format!(
                        "  {}  {} bytes, {} blob(s){yanked}\n",
                        release.target,
                        release.length,
                        release.blobs.len()
                    ));
                }
                text
            });
        }
        CatalogCommand::Serve { dir, http } => serve(dir, http, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(dir: PathBuf, addr: std::net::SocketAddr, out: &Output) -> anyhow::Result<()> {
    Repository::open(&dir)?;
    super::runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let info = serde_json::json!({
            "metadata_url": format!("http://{local}/metadata/"),
            "targets_url": format!("http://{local}/targets/"),
        });
        out.result(&info, || {
            format!(
                "serving {} on http://{local}\n  metadata: http://{local}/metadata/\n  targets:  http://{local}/targets/\nCtrl-C to stop",
                dir.display()
            )
        });
        axum::serve(listener, archy_node::catalog_server::router(dir))
            .with_graceful_shutdown(archy_node::shutdown::stop_requested())
            .await
            .context("the HTTP server stopped")
    })
}

fn expiries_of(args: &ExpiryArgs) -> Expiries {
    Expiries {
        root: args.root_expiry,
        targets: args.targets_expiry,
        snapshot: args.snapshot_expiry,
        timestamp: args.timestamp_expiry,
    }
}

fn load_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<Identity>> {
    paths
        .iter()
        .map(|p| keyfile::load(p).with_context(|| format!("cannot use key {}", p.display())))
        .collect()
}

fn read_limited(path: &Path) -> anyhow::Result<Vec<u8>> {
    files::read_bounded(path, archy_trust::envelope::MAX_ENVELOPE_BYTES as u64)
        .with_context(|| format!("cannot read {}", path.display()))
}
