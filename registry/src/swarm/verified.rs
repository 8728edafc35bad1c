//! [`VerifiedManifest`]: a release that went all the way through the
//! registry's verification path. It can only be built there (its
//! constructor is private to this crate), so a component that accepts one,
//! like the orchestrator, runs only what the publisher's catalog names and
//! whose bytes were checked.

use std::path::{Path, PathBuf};

use archy_trust::Did;

use crate::BlobHash;
use crate::catalog::release::BlobRef;
use crate::manifest::Manifest;
use crate::tuf::metadata::TargetFile;

/// A blob of a verified release, on local disk.
#[derive(Debug, Clone)]
pub struct VerifiedBlob {
    /// Its hash and size, as the signed manifest names them.
    pub blob: BlobRef,
    /// Where its verified bytes are.
    pub path: PathBuf,
}

/// A manifest verified against its publisher's TUF catalog, with every
/// blob it names fetched, checked against BLAKE3 and on local disk.
#[derive(Debug, Clone)]
pub struct VerifiedManifest {
    manifest: Manifest,
    publisher: Did,
    target_path: String,
    target: TargetFile,
    release: BlobHash,
    blobs: Vec<VerifiedBlob>,
}

impl VerifiedManifest {
    /// Only the fetch path builds one, after every check.
    pub(crate) fn new(
        manifest: Manifest,
        publisher: Did,
        target_path: String,
        target: TargetFile,
        release: BlobHash,
        blobs: Vec<VerifiedBlob>,
    ) -> Self {
        Self {
            manifest,
            publisher,
            target_path,
            target,
            release,
            blobs,
        }
    }

    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The publisher whose catalog names this release.
    pub fn publisher(&self) -> &Did {
        &self.publisher
    }

    /// The TUF target path (`apps/ID/VERSION.json`).
    pub fn target_path(&self) -> &str {
        &self.target_path
    }

    /// The TUF target entry: length, hashes, custom data.
    pub fn target(&self) -> &TargetFile {
        &self.target
    }

    /// The hash naming the whole release.
    pub fn release(&self) -> BlobHash {
        self.release
    }

    /// Every blob of the release, verified and on disk.
    pub fn blobs(&self) -> &[VerifiedBlob] {
        &self.blobs
    }

    /// The local path of the verified blob `hash`, if the release has it.
    pub fn path_of(&self, hash: BlobHash) -> Option<&Path> {
        self.blobs
            .iter()
            .find(|b| b.blob.blake3 == hash)
            .map(|b| b.path.as_path())
    }
}
