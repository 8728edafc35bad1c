//! Packing: an app directory becomes a release in the blob store. The
//! manifest is signed (as `archy app sign` does), its image archives and
//! icon are imported as blobs, and the release document is stored with a
//! hash sequence over all of them, so one hash names the whole release.
//! `archy catalog add` computes the same document from the same signed
//! manifest, so the hash it signs is the one the store holds.

use std::path::{Path, PathBuf};

use archy_trust::Identity;
use serde::Serialize;

use super::error::Error;
use super::store::{BlobStore, RELEASE_PIN_PREFIX};
use crate::BlobHash;
use crate::catalog::release::{self, BlobRef};
use crate::manifest::{FileRef, Form, ImageRef, Manifest};
use crate::signing::{self, Signers};

/// What packing stored.
#[derive(Debug, Clone, Serialize)]
pub struct Packed {
    /// The publisher the manifest names (the signer, or the publisher a
    /// rotated-in signer speaks for).
    pub publisher: String,
    /// The app id.
    pub app: String,
    /// The version.
    pub version: String,
    /// The hash naming the whole release (document + blobs).
    pub release: BlobHash,
    /// The release document's hash and size.
    pub document: BlobRef,
    /// Every blob of the release, with the file it came from.
    pub blobs: Vec<PackedBlob>,
    /// Bytes in the release, document included.
    pub total_bytes: u64,
    /// The pin that keeps the release in the store.
    pub pin: String,
    /// The signed manifest, for `archy catalog add`.
    #[serde(skip)]
    pub signed_manifest: Vec<u8>,
}

/// One blob of a packed release.
#[derive(Debug, Clone, Serialize)]
pub struct PackedBlob {
    /// Hash and size.
    #[serde(flatten)]
    pub blob: BlobRef,
    /// The file it was read from.
    pub file: PathBuf,
}

/// Signs the source manifest at `manifest_path` as `identity` (the
/// publisher, or a key `signers` lets speak for it) and stores the release
/// in `store`, pinned.
pub async fn pack(
    store: &BlobStore,
    manifest_path: &Path,
    identity: &Identity,
    signers: &Signers,
) -> Result<Packed, Error> {
    let source = Manifest::load(manifest_path, Form::Source).map_err(packing(manifest_path))?;
    let signed =
        signing::sign_for(manifest_path, identity, signers).map_err(packing(manifest_path))?;
    let (release, document) =
        release::build(&signed.envelope, signers).map_err(packing(manifest_path))?;
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    let files = files_of(&source, &signed.manifest, base);
    let mut blobs = Vec::with_capacity(release.blobs.len());
    for blob in &release.blobs {
        let file = files
            .iter()
            .find(|(r, _)| r == blob)
            .map(|(_, f)| f.clone())
            .ok_or_else(|| {
                Error::store(
                    manifest_path.display(),
                    format!("no file of the manifest hashes to blob {}", blob.blake3),
                )
            })?;
        blobs.push((blob.clone(), file));
    }
    let m = &signed.manifest;
    let pin = format!("{RELEASE_PIN_PREFIX}{}/{}/{}", m.publisher, m.id, m.version);
    let root = store.add_release(&pin, &document, &blobs).await?;
    let document_ref = BlobRef {
        blake3: BlobHash::of(&document),
        size: document.len() as u64,
    };
    let total_bytes = document_ref.size + blobs.iter().map(|(b, _)| b.size).sum::<u64>();
    Ok(Packed {
        publisher: m.publisher.to_string(),
        app: m.id.clone(),
        version: m.version.to_string(),
        release: root,
        document: document_ref,
        blobs: blobs
            .into_iter()
            .map(|(blob, file)| PackedBlob { blob, file })
            .collect(),
        total_bytes,
        pin,
        signed_manifest: signed.envelope,
    })
}

/// Pairs each file the source manifest names with the hash the published
/// one gives it. Signing rewrites containers and icon in place, so the
/// two manifests line up field by field.
fn files_of(source: &Manifest, published: &Manifest, base: &Path) -> Vec<(BlobRef, PathBuf)> {
    let mut files = Vec::new();
    for (src, publ) in source.containers.iter().zip(&published.containers) {
        if let (ImageRef::Archive(rel), ImageRef::Published { blake3, size, .. }) =
            (&src.image, &publ.image)
        {
            let blob = BlobRef {
                blake3: *blake3,
                size: *size,
            };
            files.push((blob, base.join(rel)));
        }
    }
    if let (Some(FileRef::Path(rel)), Some(FileRef::Blob { blake3, size })) =
        (&source.icon, &published.icon)
    {
        let blob = BlobRef {
            blake3: *blake3,
            size: *size,
        };
        files.push((blob, base.join(rel)));
    }
    files
}

/// Names the manifest in a signing or reading failure.
fn packing<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| Error::store(path.display(), e)
}
