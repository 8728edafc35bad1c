//! `archy fetch`, `archy blobs` and `archy app pack`: releases and blobs
//! in the node's store. Fetch, pack, `blobs ls` and `blobs share` ask the
//! node's API; `blobs gc` and `blobs get` still open the store themselves.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use archy_node::data_dir::DataDir;

use super::apps::run_operation;
use super::runtime;
use super::session::Session;
use crate::cli::{BlobsCommand, DataDirArg, FetchArgs, NetworkArg};
use crate::output::Output;
use archy_node::config::NetworkChoice;

pub(super) fn data_dir(arg: &DataDirArg) -> anyhow::Result<DataDir> {
    let root = arg.data_dir.clone().unwrap_or_else(DataDir::default_root);
    Ok(DataDir::open(&root)?)
}

pub fn fetch(args: FetchArgs, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let data = data_dir(&args.data)?;
        let internet = matches!(args.network, NetworkArg::Internet);
        let session = Session::open(&data, |config| {
            if internet {
                config.swarm.network = NetworkChoice::Internet;
            }
        })
        .await?;
        let body = serde_json::json!({
            "release": args.release,
            "origin": args.origin,
            "providers": args.providers,
        });
        let fetched =
            run_operation(session, out, async |c| c.post("/api/fetch", &body).await).await?;
        out.result(&fetched, || {
            let field = |name: &str| fetched[name].as_str().unwrap_or_default().to_owned();
            let mut text = format!(
                "fetched {} {} from {}'s catalog, verified\n  release {}\n",
                field("app"),
                field("version"),
                field("publisher"),
                field("release")
            );
            for b in fetched["blobs"].as_array().into_iter().flatten() {
                text += &format!(
                    "  {} ({} bytes) -> {}\n",
                    b["blake3"].as_str().unwrap_or_default(),
                    b["size"],
                    b["path"].as_str().unwrap_or_default()
                );
            }
            text
        });
        Ok(ExitCode::SUCCESS)
    })
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
    let session = Session::open(data, |_| {}).await?;
    let entries: anyhow::Result<Vec<serde_json::Value>> =
        session.client().get("/api/blobs").await.map_err(Into::into);
    session.close().await;
    let entries = entries?;
    out.result(&entries, || {
        let mut text = format!(
            "{} blob(s) in {}\n",
            entries.len(),
            data.blobs_dir().display()
        );
        for e in &entries {
            let size = e["size"].as_u64().map_or("?".into(), |s| s.to_string());
            let state = if e["complete"].as_bool() == Some(true) {
                String::new()
            } else {
                format!(" (partial: {} verified)", e["verified_bytes"])
            };
            let pins: Vec<&str> = e["pinned_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str())
                .collect();
            let pins = if pins.is_empty() {
                "unpinned: gc removes it".to_owned()
            } else {
                pins.join(", ")
            };
            let hash = e["hash"].as_str().unwrap_or_default();
            text += &format!("{hash} {size:>12} bytes{state}  {pins}\n");
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}

async fn gc(data: &DataDir, out: &Output) -> anyhow::Result<ExitCode> {
    let session = Session::open(data, |_| {}).await?;
    let empty = serde_json::json!({});
    let report = run_operation(session, out, async |c| {
        c.post("/api/blobs/gc", &empty).await
    })
    .await?;
    out.result(&report, || {
        format!(
            "removed {} blob(s); kept {} that a pinned release or share needs",
            report["removed"].as_array().map_or(0, Vec::len),
            report["kept"]
        )
    });
    Ok(ExitCode::SUCCESS)
}

async fn share_file(data: &DataDir, file: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let file = file
        .canonicalize()
        .with_context(|| format!("cannot find {}", file.display()))?;
    let session = Session::open(data, |_| {}).await?;
    let body = serde_json::json!({ "file": file });
    let shared: anyhow::Result<serde_json::Value> = session
        .client()
        .post("/api/blobs/share", &body)
        .await
        .map_err(Into::into);
    session.close().await;
    let shared = shared?;
    out.result(&shared, || {
        format!(
            "sharing {} as {}\nsendme receive {}",
            shared["name"].as_str().unwrap_or_default(),
            shared["hash"].as_str().unwrap_or_default(),
            shared["ticket"].as_str().unwrap_or_default()
        )
    });
    Ok(ExitCode::SUCCESS)
}

async fn get(data: &DataDir, ticket: &str, dir: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot find {}", dir.display()))?;
    let session = Session::open(data, |_| {}).await?;
    let body = serde_json::json!({ "ticket": ticket, "out": dir });
    let written = run_operation(session, out, async |c| {
        c.post("/api/blobs/get", &body).await
    })
    .await?;
    let files: Vec<&str> = written
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .collect();
    out.result(&written, || {
        let mut text = format!("received {} file(s), verified:\n", files.len());
        for path in &files {
            text += &format!("  {path}\n");
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}

pub fn pack(path: &Path, key: &Path, data: &DataDirArg, out: &Output) -> anyhow::Result<ExitCode> {
    let absolute = |p: &Path| {
        p.canonicalize()
            .with_context(|| format!("cannot find {}", p.display()))
    };
    let manifest = absolute(&super::app::manifest_path(path))?;
    let key = absolute(key)?;
    let data = data_dir(data)?;
    runtime()?.block_on(async {
        let session = Session::open(&data, |_| {}).await?;
        let body = serde_json::json!({ "manifest": manifest, "key": key });
        let packed =
            run_operation(session, out, async |c| c.post("/api/releases", &body).await).await?;
        out.result(&packed, || {
            let mut text = format!(
                "packed {} {}: release {} ({} bytes)\n  document {} ({} bytes)\n",
                packed["app"].as_str().unwrap_or_default(),
                packed["version"].as_str().unwrap_or_default(),
                packed["release"].as_str().unwrap_or_default(),
                packed["total_bytes"],
                packed["document"]["blake3"].as_str().unwrap_or_default(),
                packed["document"]["size"],
            );
            for b in packed["blobs"].as_array().into_iter().flatten() {
                text += &format!(
                    "  {} ({} bytes) from {}\n",
                    b["blake3"].as_str().unwrap_or_default(),
                    b["size"],
                    b["file"].as_str().unwrap_or_default()
                );
            }
            let signed = packed["signed_manifest_file"].as_str().unwrap_or_default();
            text += &format!(
                "  wrote {signed}\npublish it with: archy catalog add CATALOG {signed} --key KEY"
            );
            text
        });
        Ok(ExitCode::SUCCESS)
    })
}
