//! `archy node run --demo`: a demo publisher that populates the node's
//! marketplace within seconds. It has its own key (`demo/publisher.key` in
//! the data directory), signs and packs each sample app under it into the
//! node's blob store, adds the releases to its own catalog
//! (`demo/catalog`, which the node then serves), and announces them on the
//! node's embedded relay with this node as provider, so the node's own
//! discovery lists them and other nodes can install them by name.
//!
//! Every step is idempotent: a release already in the catalog is kept, an
//! unchanged listing is not sent again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use archy_discovery::relays;
use archy_registry::catalog::{Expiries, Repository};
use archy_registry::signing::SIGNED_MANIFEST_FILE;
use archy_registry::swarm::{self, BlobStore};
use archy_registry::tuf::time::UtcTime;
use archy_trust::{Identity, keyfile};

use crate::data_dir::DataDir;
use crate::publishing::{ListingExtras, app_events};
use crate::state::{HeldRelease, NodeState};

/// Longest preparing the demo (keys, catalog, packing the samples) may
/// take; its file steps are small, packing is the bulk.
pub const PREPARE_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest each relay step of the announcement may take.
const RELAY_STEP: Duration = Duration::from_secs(5);
/// Largest manifest copied from a sample app.
const MAX_MANIFEST: u64 = 1 << 20;

/// Categories of the sample apps, by directory name (others get none).
const CATEGORIES: [(&str, &str); 3] = [
    ("hello-web", "web"),
    ("notes", "productivity"),
    ("duo", "developer"),
];

/// The demo publisher, once its releases are packed and in its catalog.
pub struct DemoPublisher {
    identity: Identity,
    key_file: PathBuf,
    catalog: PathBuf,
    /// Staged app directories (each with its `manifest.signed.json`), with
    /// their sample directory names.
    apps: Vec<(String, PathBuf)>,
}

/// The demo could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file of the demo.
    #[error("demo: {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The sample apps directory has no app with an image archive.
    #[error(
        "demo: no sample app with a built image in {0} (each needs manifest.yml and image.tar; apps/build-images.sh builds them)"
    )]
    NoApps(String),
    /// The catalog.
    #[error("demo catalog: {0}")]
    Catalog(#[from] archy_registry::catalog::Error),
    /// Packing a release.
    #[error(transparent)]
    Swarm(#[from] swarm::Error),
    /// The node's state.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The key.
    #[error("demo key: {0}")]
    Key(#[from] archy_trust::Error),
    /// Preparing took too long (a stuck disk).
    #[error("demo: preparing the sample apps took over {} s", PREPARE_TIMEOUT.as_secs())]
    TimedOut,
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> DemoError {
    DemoError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl DemoPublisher {
    /// The demo publisher's DID, which a demo node pins as trusted.
    pub fn did(&self) -> archy_trust::Did {
        self.identity.did()
    }

    /// The demo's catalog directory, which the node serves.
    pub fn catalog(&self) -> &Path {
        &self.catalog
    }

    /// The demo publisher's key file, which signs its catalog.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// Makes the demo publisher's key and catalog if missing, and packs
    /// and publishes in its catalog every sample app in `samples` that has
    /// a built image. Runs before the node opens its state and store, for
    /// at most [`PREPARE_TIMEOUT`].
    pub async fn prepare(data: &DataDir, samples: &Path) -> Result<Self, DemoError> {
        tokio::time::timeout(PREPARE_TIMEOUT, Self::prepare_unbounded(data, samples))
            .await
            .map_err(|_| DemoError::TimedOut)?
    }

    async fn prepare_unbounded(data: &DataDir, samples: &Path) -> Result<Self, DemoError> {
        let root = data.root().join("demo");
        std::fs::create_dir_all(root.join("apps")).map_err(|e| file_error(&root, e))?;
        let key = root.join("publisher.key");
        if !key.exists() {
            keyfile::create(&key, &Identity::generate()?)?;
        }
        let identity = keyfile::load(&key)?;
        let catalog = root.join("catalog");
        let now = UtcTime::now();
        let repo = if catalog.join("metadata").exists() {
            Repository::open(&catalog)?
        } else {
            Repository::init(
                &catalog,
                std::slice::from_ref(&identity),
                1,
                Expiries::default(),
                now,
            )?
        };
        let published: Vec<String> = repo
            .status()?
            .releases
            .into_iter()
            .map(|r| r.target)
            .collect();
        let state = NodeState::open(&data.state_file())?;
        let store = BlobStore::open(&data.blobs_dir()).await?;
        let staged = stage_all(samples, &root.join("apps"), &identity);
        let mut apps = Vec::new();
        let result = async {
            for (name, dir) in staged? {
                let packed = swarm::pack(
                    &store,
                    &dir.join("manifest.yml"),
                    &identity,
                    &Default::default(),
                )
                .await?;
                let signed = dir.join(SIGNED_MANIFEST_FILE);
                archy_registry::files::write_atomically(&signed, &packed.signed_manifest)
                    .map_err(|e| file_error(&signed, e))?;
                let target = format!("apps/{}/{}.json", packed.app, packed.version);
                if !published.contains(&target) {
                    repo.add_release(
                        std::slice::from_ref(&identity),
                        &packed.signed_manifest,
                        now,
                    )?;
                }
                state.add_release(&HeldRelease {
                    publisher: identity.did().to_string(),
                    app: packed.app,
                    version: packed.version,
                    release: packed.release,
                    target,
                })?;
                apps.push((name, dir));
            }
            // The timestamp lasts a day: re-sign what is close to expiry.
            repo.refresh(std::slice::from_ref(&identity), now)?;
            Ok::<_, DemoError>(())
        }
        .await;
        store.shutdown().await;
        result?;
        Ok(Self {
            identity,
            key_file: key,
            catalog,
            apps,
        })
    }

    /// Announces every app on `relay`, with `ticket` (this node) as its
    /// provider. Returns how many listings the relay took.
    pub async fn announce(&self, relay: &str, ticket: &str) -> Result<usize, DemoError> {
        let now = u64::try_from(UtcTime::now().unix()).unwrap_or(0);
        let mut events = Vec::new();
        for (name, dir) in &self.apps {
            let extras = ListingExtras {
                categories: CATEGORIES
                    .iter()
                    .filter(|(app, _)| app == name)
                    .map(|(_, c)| (*c).to_owned())
                    .collect(),
                providers: vec![ticket.to_owned()],
                name: "Archipelago demo".into(),
                about: "Sample apps published by this node's demo publisher".into(),
            };
            let mut app = app_events(&self.identity, dir, Some(&self.catalog), &extras, now)
                .map_err(|e| file_error(dir, e))?;
            // The publisher and catalog events are the same for every app.
            if !events.is_empty() {
                app.drain(..app.len().saturating_sub(1));
            }
            events.extend(app);
        }
        let author = self.identity.nostr_keys().public_key();
        let reports = relays::publish(&events, author, &[relay.to_owned()], RELAY_STEP)
            .await
            .map_err(|e| file_error(Path::new(relay), e))?;
        Ok(reports
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    relays::Outcome::Accepted | relays::Outcome::Unchanged
                )
            })
            .count())
    }
}

/// Copies each sample app with a built image into `staging` under
/// `identity` as publisher; (directory name, staged directory).
fn stage_all(
    samples: &Path,
    staging: &Path,
    identity: &Identity,
) -> Result<Vec<(String, PathBuf)>, DemoError> {
    let entries = std::fs::read_dir(samples).map_err(|e| file_error(samples, e))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("manifest.yml").is_file() && e.path().join("image.tar").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(DemoError::NoApps(samples.display().to_string()));
    }
    names
        .into_iter()
        .map(|name| {
            let dir = staging.join(&name);
            stage(&samples.join(&name), &dir, identity)?;
            Ok((name, dir))
        })
        .collect()
}

/// Copies the files of one sample app (not its build inputs) into `dir`,
/// naming `identity` as publisher.
fn stage(sample: &Path, dir: &Path, identity: &Identity) -> Result<(), DemoError> {
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    for entry in std::fs::read_dir(sample).map_err(|e| file_error(sample, e))? {
        let entry = entry.map_err(|e| file_error(sample, e))?;
        let from = entry.path();
        if !from.is_file() || entry.file_name() == "manifest.yml" {
            continue;
        }
        std::fs::copy(&from, dir.join(entry.file_name())).map_err(|e| file_error(&from, e))?;
    }
    let manifest_path = sample.join("manifest.yml");
    let manifest = archy_registry::files::read_bounded(&manifest_path, MAX_MANIFEST)
        .map_err(|e| file_error(&manifest_path, e))?;
    let manifest = String::from_utf8(manifest).map_err(|e| file_error(&manifest_path, e))?;
    // The publisher line names the demo publisher; everything else stays.
    let staged: String = manifest
        .lines()
        .map(|line| {
            if line.starts_with("publisher:") {
                format!("publisher: {}\n", identity.did())
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let target = dir.join("manifest.yml");
    archy_registry::files::write_atomically(&target, staged.as_bytes())
        .map_err(|e| file_error(&target, e))
}
