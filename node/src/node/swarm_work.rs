//! What a running node does with releases on request, as operations:
//! fetch one by name into its store (`archy fetch`), and pack a local app
//! into its store as a release it serves (`archy app pack`).

use std::path::PathBuf;

use archy_registry::catalog::Repository;
use archy_registry::signing::{SIGNED_MANIFEST_FILE, Signers};
use archy_registry::swarm;
use archy_trust::{Did, keyfile};
use serde::Serialize;

use super::{Node, Wanted};
use crate::operations::{Failure, OperationsError};
use crate::state::HeldRelease;

/// A release fetched and verified, as `archy fetch` reports it.
#[derive(Serialize)]
pub struct Fetched {
    /// The publisher's DID.
    pub publisher: String,
    /// The app id.
    pub app: String,
    /// The version.
    pub version: String,
    /// The TUF target naming the release.
    pub target: String,
    /// The hash naming the whole release.
    pub release: String,
    /// Bytes in the release.
    pub total_bytes: u64,
    /// Bytes that were already here, verified, before this fetch.
    pub already_held_bytes: u64,
    /// Each blob, verified, and the file it was written to.
    pub blobs: Vec<FetchedBlob>,
}

/// One blob of a fetched release.
#[derive(Serialize)]
pub struct FetchedBlob {
    /// Its BLAKE3 hash.
    pub blake3: String,
    /// Its size.
    pub size: u64,
    /// Where it was written.
    pub path: String,
}

impl Node {
    /// Starts fetching `wanted` into the node's store; returns the
    /// operation's id. Its result is a [`Fetched`].
    pub fn fetch(&self, wanted: Wanted) -> Result<u64, OperationsError> {
        let shown = match &wanted.name.version {
            Some(v) => format!("{}/{}@{v}", wanted.name.publisher, wanted.name.app),
            None => format!("{}/{}", wanted.name.publisher, wanted.name.app),
        };
        self.spawn_operation("fetch", &shown, move |node, reporter| {
            Box::pin(async move {
                let (verified, (total_bytes, already_held_bytes)) =
                    node.fetch_by_name(&wanted, reporter, 100).await?;
                let manifest = verified.manifest();
                let fetched = Fetched {
                    publisher: verified.publisher().to_string(),
                    app: manifest.id.clone(),
                    version: manifest.version.to_string(),
                    target: verified.target_path().unwrap_or_default().to_owned(),
                    release: verified.release().to_string(),
                    total_bytes,
                    already_held_bytes,
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
                serde_json::to_value(fetched).map_err(|e| Failure::of(&e))
            })
        })
    }

    /// Starts packing the app at `manifest` (a source manifest.yml on this
    /// machine), signed with the key file `key`, into the node's store as a
    /// release it holds and serves; writes `manifest.signed.json` beside
    /// it. Returns the operation's id; its result is the packed release.
    pub fn pack(&self, manifest: PathBuf, key: PathBuf) -> Result<u64, OperationsError> {
        let subject = manifest.display().to_string();
        self.spawn_operation("pack", &subject, move |node, reporter| {
            Box::pin(async move {
                let identity = keyfile::load(&key).map_err(|e| Failure {
                    error: format!("cannot read the key {}", key.display()),
                    causes: vec![e.to_string()],
                })?;
                reporter.progress(10, "hashing and storing");
                let signers = node.signers_for(&identity.did());
                let packed = swarm::pack(node.blobs(), &manifest, &identity, &signers)
                    .await
                    .map_err(|e| Failure::of(&e))?;
                node.state()
                    .add_release(&HeldRelease {
                        publisher: packed.publisher.clone(),
                        app: packed.app.clone(),
                        version: packed.version.clone(),
                        release: packed.release,
                        target: format!("apps/{}/{}.json", packed.app, packed.version),
                    })
                    .map_err(|e| Failure::of(&e))?;
                let signed = manifest.with_file_name(SIGNED_MANIFEST_FILE);
                archy_registry::files::write_atomically(&signed, &packed.signed_manifest).map_err(
                    |e| Failure {
                        error: format!("cannot write {}", signed.display()),
                        causes: vec![e.to_string()],
                    },
                )?;
                let mut value = serde_json::to_value(&packed).map_err(|e| Failure::of(&e))?;
                value["signed_manifest_file"] = signed.display().to_string().into();
                Ok(value)
            })
        })
    }

    /// The keys that speak for the publisher of a catalog this node serves
    /// whose current root lists `signer`: a key rotated into a catalog packs
    /// releases of the publisher its first root named. Otherwise only the
    /// signer's own DID.
    fn signers_for(&self, signer: &Did) -> Signers {
        self.inner
            .catalogs
            .iter()
            .filter_map(|dir| Repository::open(dir).and_then(|r| r.signers()).ok())
            .find(|signers| signers.lists(signer))
            .unwrap_or_default()
    }
}
