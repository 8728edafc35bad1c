//! [`VerifiedManifest`]: a release that went all the way through the
//! registry's verification path. It can only be built there (its
//! constructors are private to this crate), so a component that accepts one,
//! like the orchestrator, runs only what the publisher's catalog names and
//! whose bytes were checked.
//!
//! The one other way in is [`VerifiedManifest::from_dev_dir`], for a
//! developer's own unpublished app: it passes every manifest rule and its
//! image archives are hashed, but no catalog names it, and its
//! [`Provenance::Dev`] says so wherever it is shown.

use std::path::{Path, PathBuf};

use archy_trust::Did;

use crate::catalog::release::BlobRef;
use crate::manifest::{Form, ImageRef, Manifest};
use crate::tuf::metadata::TargetFile;
use crate::{BlobHash, Error, signing};

/// A blob of a verified release, on local disk.
#[derive(Debug, Clone)]
pub struct VerifiedBlob {
    /// Its hash and size, as the signed manifest names them.
    pub blob: BlobRef,
    /// Where its verified bytes are.
    pub path: PathBuf,
}

/// Where a verified manifest came from.
#[derive(Debug, Clone)]
pub enum Provenance {
    /// Named by the publisher's TUF catalog and fetched over the swarm.
    Catalog {
        /// The TUF target path (`apps/ID/VERSION.json`).
        target_path: String,
        /// The TUF target entry: length, hashes, custom data.
        target: TargetFile,
    },
    /// A developer's local, unpublished app directory (`--dev`): valid and
    /// hashed, but signed by no one.
    Dev {
        /// The app directory it was read from.
        source: PathBuf,
    },
}

/// A manifest verified against its publisher's TUF catalog, with every
/// blob it names fetched, checked against BLAKE3 and on local disk.
///
/// Nothing outside this crate can make one up, so a manifest whose image
/// blob was not checked against its hash cannot reach the orchestrator:
///
/// ```compile_fail,E0624
/// use archy_registry::verified::{VerifiedBlob, VerifiedManifest};
/// use archy_registry::tuf::metadata::TargetFile;
/// use archy_registry::{BlobHash, Manifest};
/// use archy_trust::Did;
///
/// fn forge(
///     manifest: Manifest,
///     publisher: Did,
///     target_path: String,
///     target: TargetFile,
///     release: BlobHash,
///     blobs: Vec<VerifiedBlob>,
/// ) -> VerifiedManifest {
///     VerifiedManifest::new(manifest, publisher, target_path, target, release, blobs)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedManifest {
    manifest: Manifest,
    publisher: Did,
    provenance: Provenance,
    release: BlobHash,
    blobs: Vec<VerifiedBlob>,
}

impl VerifiedManifest {
    /// Only the fetch path builds one, after every check.
    #[cfg(feature = "swarm")]
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
            provenance: Provenance::Catalog {
                target_path,
                target,
            },
            release,
            blobs,
        }
    }

    /// A developer's app directory (or its `manifest.yml`), for `archy app
    /// install --dev`: the source manifest passes every rule, each image
    /// archive is hashed and its image id read, exactly as signing would.
    /// Nothing is signed, so the result is marked [`Provenance::Dev`]. Its
    /// `release` is the BLAKE3 of the published-form manifest JSON, so two
    /// dev builds with different bytes never share a name.
    pub fn from_dev_dir(manifest_path: &Path) -> Result<Self, Error> {
        let source = Manifest::load(manifest_path, Form::Source)?;
        let base = manifest_path.parent().unwrap_or(Path::new("."));
        let archive_paths: Vec<Option<PathBuf>> = source
            .containers
            .iter()
            .map(|c| match &c.image {
                ImageRef::Archive(rel) => Some(base.join(rel)),
                ImageRef::Published { .. } => None,
            })
            .collect();
        let manifest = signing::publish_form(source, base, &manifest_path.display().to_string())?;
        // Publishing keeps the containers in order, so the n-th published
        // image is the n-th source archive.
        let mut blobs: Vec<VerifiedBlob> = Vec::new();
        for (container, path) in manifest.containers.iter().zip(archive_paths) {
            if let (ImageRef::Published { blake3, size, .. }, Some(path)) = (&container.image, path)
                && !blobs.iter().any(|b| b.blob.blake3 == *blake3)
            {
                blobs.push(VerifiedBlob {
                    blob: BlobRef {
                        blake3: *blake3,
                        size: *size,
                    },
                    path,
                });
            }
        }
        let json =
            serde_json::to_vec(&manifest).map_err(|e| archy_trust::Error::InvalidPayload {
                kind: "archy/manifest",
                reason: e.to_string(),
            })?;
        Ok(Self {
            publisher: manifest.publisher.clone(),
            release: BlobHash::of(&json),
            provenance: Provenance::Dev {
                source: base.to_owned(),
            },
            manifest,
            blobs,
        })
    }

    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The publisher whose catalog names this release.
    pub fn publisher(&self) -> &Did {
        &self.publisher
    }

    /// Where it came from: a catalog target, or a developer's directory.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// The TUF target path (`apps/ID/VERSION.json`); `None` for a dev app.
    pub fn target_path(&self) -> Option<&str> {
        match &self.provenance {
            Provenance::Catalog { target_path, .. } => Some(target_path),
            Provenance::Dev { .. } => None,
        }
    }

    /// Whether this is a developer's unpublished app.
    pub fn is_dev(&self) -> bool {
        matches!(self.provenance, Provenance::Dev { .. })
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
