//! The release document: what one TUF target of a catalog holds. It is the
//! publisher-signed manifest plus every blob the release needs (BLAKE3 hash
//! and size), so a node learns from one small verified file what to fetch
//! from the swarm.

use std::collections::BTreeSet;

use archy_trust::Did;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::BlobHash;
use crate::manifest::{FileRef, ImageRef, Manifest};
use crate::signing::{self, Signers};

use super::error::Error;

/// `type` of a release document.
pub const RELEASE_TYPE: &str = "archy/release";
/// Largest release document read: a manifest envelope plus its blob list.
pub const MAX_RELEASE_BYTES: u64 = 2 << 20;

/// One content-addressed file a release needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobRef {
    /// BLAKE3 of the bytes.
    pub blake3: BlobHash,
    /// Size in bytes.
    pub size: u64,
}

/// A verified release: its manifest and the blobs to fetch.
#[derive(Debug, Clone)]
pub struct Release {
    /// The verified, published manifest.
    pub manifest: Manifest,
    /// Every blob the manifest names (images, icon), each once.
    pub blobs: Vec<BlobRef>,
}

/// The hash that names a whole release in the swarm: BLAKE3 of an iroh-blobs
/// hash sequence (32-byte hashes back to back) whose first child is the
/// release document and whose other children are `blobs`, in order. The
/// catalog signs it, so one verified hash pins every byte of the release.
pub fn release_root(document: &[u8], blobs: &[BlobRef]) -> BlobHash {
    BlobHash::of(&hash_sequence(document, blobs))
}

/// The hash sequence [`release_root`] hashes: the bytes a node stores and
/// serves under that hash.
pub fn hash_sequence(document: &[u8], blobs: &[BlobRef]) -> Vec<u8> {
    let mut sequence = Vec::with_capacity(32 * (blobs.len() + 1));
    sequence.extend_from_slice(BlobHash::of(document).as_bytes());
    for blob in blobs {
        sequence.extend_from_slice(blob.blake3.as_bytes());
    }
    sequence
}

/// The hashes a hash sequence lists, in order: the release document, then
/// the blobs. Trailing bytes short of a whole hash are ignored.
pub fn sequence_children(sequence: &[u8]) -> impl Iterator<Item = BlobHash> + '_ {
    sequence.chunks_exact(32).map(|chunk| {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(chunk);
        BlobHash::from_bytes(hash)
    })
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "type")]
    kind: String,
    app: String,
    version: String,
    manifest: Value,
    blobs: Vec<BlobRef>,
}

/// The blobs a published manifest names, sorted, each once.
pub fn blobs_of(manifest: &Manifest) -> Vec<BlobRef> {
    let mut blobs = BTreeSet::new();
    for container in &manifest.containers {
        if let ImageRef::Published { blake3, size, .. } = &container.image {
            blobs.insert(BlobRef {
                blake3: *blake3,
                size: *size,
            });
        }
    }
    if let Some(FileRef::Blob { blake3, size }) = &manifest.icon {
        blobs.insert(BlobRef {
            blake3: *blake3,
            size: *size,
        });
    }
    blobs.into_iter().collect()
}

/// Builds the release document for a signed manifest (the bytes of
/// `manifest.signed.json`), verifying it first: its signer is its
/// publisher or one `signers` lets speak for it.
pub fn build(signed_manifest: &[u8], signers: &Signers) -> Result<(Release, Vec<u8>), Error> {
    let manifest = signing::verify_with(signed_manifest, signers)?;
    let envelope: Value = serde_json::from_slice(signed_manifest)
        .map_err(|e| Error::Release(format!("signed manifest is not JSON: {e}")))?;
    let blobs = blobs_of(&manifest);
    let document = Document {
        kind: RELEASE_TYPE.into(),
        app: manifest.id.clone(),
        version: manifest.version.to_string(),
        manifest: envelope,
        blobs: blobs.clone(),
    };
    let bytes = serde_json::to_vec(&document)
        .map_err(|e| Error::Release(format!("cannot encode the release document: {e}")))?;
    Ok((Release { manifest, blobs }, bytes))
}

/// Reads a release document (already checked against its TUF hashes) and
/// verifies the manifest inside: `publisher`'s, signed by a key `signers`
/// lets speak for it, and naming exactly the blobs the document lists.
pub fn open(bytes: &[u8], publisher: &Did, signers: &Signers) -> Result<Release, Error> {
    if bytes.len() as u64 > MAX_RELEASE_BYTES {
        return Err(Error::Release(format!(
            "{} bytes is over the {MAX_RELEASE_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let document: Document = serde_json::from_slice(bytes)
        .map_err(|e| Error::Release(format!("not a release document: {e}")))?;
    if document.kind != RELEASE_TYPE {
        return Err(Error::Release(format!(
            "type is '{}', expected '{RELEASE_TYPE}'",
            document.kind
        )));
    }
    let envelope = serde_json::to_vec(&document.manifest)
        .map_err(|e| Error::Release(format!("cannot re-encode the manifest: {e}")))?;
    let manifest = signing::verify_for(&envelope, publisher, signers)?;
    if manifest.id != document.app || manifest.version.to_string() != document.version {
        return Err(Error::Release(format!(
            "the document says {} {} but its manifest is {} {}",
            document.app, document.version, manifest.id, manifest.version
        )));
    }
    let blobs = blobs_of(&manifest);
    if blobs != document.blobs {
        return Err(Error::Release(
            "the blob list does not match the blobs the manifest names".into(),
        ));
    }
    Ok(Release { manifest, blobs })
}
