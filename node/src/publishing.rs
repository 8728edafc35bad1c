//! `archy app publish` as a library: the three events that announce a
//! signed app (publisher binding, catalog state, listing), built from the
//! app directory and, optionally, the publisher's catalog.

use std::path::Path;

use archy_discovery::protocol::{CatalogContent, ListingContent, binding_expiry};
use archy_discovery::publish::{self, PublishError};
use archy_registry::catalog::release::{build, release_root};
use archy_registry::manifest::FileRef;
use archy_registry::signing::SIGNED_MANIFEST_FILE;
use archy_registry::tuf::metadata::signed_version;
use archy_registry::{Error as RegistryError, files};
use archy_trust::Identity;
use archy_trust::envelope::MAX_ENVELOPE_BYTES;
use nostr::{Event, Timestamp};
use sha2::{Digest, Sha256};

/// Largest catalog metadata file read.
const MAX_METADATA_BYTES: u64 = 1 << 20;

/// Why the events could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PublishingError {
    /// A file could not be read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The signed manifest does not verify, or is not this identity's.
    #[error(transparent)]
    Manifest(#[from] RegistryError),
    /// The release document cannot be built from the signed manifest.
    #[error(transparent)]
    Release(#[from] archy_registry::catalog::Error),
    /// Building an event failed.
    #[error(transparent)]
    Event(#[from] PublishError),
}

/// What goes into a listing beyond the signed manifest.
#[derive(Debug, Clone, Default)]
pub struct ListingExtras {
    /// Categories (`t` tags).
    pub categories: Vec<String>,
    /// Node tickets that serve the release.
    pub providers: Vec<String>,
    /// The publisher's display name.
    pub name: String,
    /// A line about the publisher.
    pub about: String,
}

fn read(path: &Path, limit: u64) -> Result<Vec<u8>, PublishingError> {
    files::read_bounded(path, limit).map_err(|e| PublishingError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The publisher, (with `catalog`) catalog, and listing events for the
/// signed app in `app_dir` (its `manifest.signed.json`), at `now`.
pub fn app_events(
    identity: &Identity,
    app_dir: &Path,
    catalog: Option<&Path>,
    extras: &ListingExtras,
    now: u64,
) -> Result<Vec<Event>, PublishingError> {
    let signed_path = app_dir.join(SIGNED_MANIFEST_FILE);
    let signed = read(&signed_path, MAX_ENVELOPE_BYTES as u64)?;
    let (release, document) = build(&signed, &Default::default())?;
    if release.manifest.publisher != identity.did() {
        return Err(RegistryError::PublisherMismatch {
            publisher: release.manifest.publisher.to_string(),
            signer: identity.did().to_string(),
        }
        .into());
    }
    let created = Timestamp::from_secs(now);
    let binding = publish::binding(identity, &extras.name, &extras.about, binding_expiry(now))?;
    let mut events = vec![publish::publisher_event(identity, &binding, created)?];
    if let Some(dir) = catalog {
        let meta = dir.join("metadata");
        let root = read(&meta.join("root.json"), MAX_METADATA_BYTES)?;
        let timestamp = read(&meta.join("timestamp.json"), MAX_METADATA_BYTES)?;
        let bad = |path: &Path, reason: String| PublishingError::File {
            path: path.display().to_string(),
            reason,
        };
        let content = CatalogContent {
            binding: binding.clone(),
            root_version: signed_version(&root).map_err(|e| bad(&meta.join("root.json"), e))?,
            root_sha256: hex::encode(Sha256::digest(&root)),
            root: String::from_utf8(root.clone())
                .map_err(|e| bad(&meta.join("root.json"), e.to_string()))?,
            timestamp: serde_json::from_slice(&timestamp)
                .map_err(|e| bad(&meta.join("timestamp.json"), e.to_string()))?,
        };
        events.push(publish::catalog_event(identity, &content, created)?);
    }
    let manifest = &release.manifest;
    let encode = |reason: serde_json::Error| PublishError::Encode {
        what: "listing",
        reason: reason.to_string(),
    };
    // Through a JSON value, so the event carries the envelope compact
    // whatever the file's layout.
    let signed_value: serde_json::Value =
        serde_json::from_slice(&signed).map_err(|e| PublishingError::File {
            path: signed_path.display().to_string(),
            reason: e.to_string(),
        })?;
    let content = ListingContent {
        binding: serde_json::value::to_raw_value(&binding).map_err(encode)?,
        app_id: manifest.id.clone(),
        title: manifest.title.clone(),
        summary: manifest.summary.clone(),
        categories: extras.categories.clone(),
        icon: match &manifest.icon {
            Some(FileRef::Blob { blake3, .. }) => Some(blake3.to_string()),
            _ => None,
        },
        version: manifest.version.to_string(),
        release: release_root(&document, &release.blobs).to_string(),
        size: document.len() as u64 + release.blobs.iter().map(|b| b.size).sum::<u64>(),
        manifest: serde_json::value::to_raw_value(&signed_value).map_err(encode)?,
        providers: extras.providers.clone(),
    };
    events.push(publish::listing_event(identity, &content, created)?);
    Ok(events)
}
