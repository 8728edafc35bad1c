//! The node's persistent blob store (iroh-blobs' file store) and what keeps
//! blobs alive in it.
//!
//! A blob stays while a *pin* reaches it: a named tag on a hash sequence
//! (a release) or on one blob. Garbage collection removes only what no pin
//! reaches, so a pinned release and, later, an installed app's release are
//! never collected.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use iroh_blobs::api::Store;
use iroh_blobs::api::blobs::{AddPathOptions, ExportMode, ExportOptions, ImportMode};
use iroh_blobs::api::proto::BlobStatus;
use iroh_blobs::store::fs::FsStore;
use iroh_blobs::store::fs::options::Options;
use iroh_blobs::store::{GcConfig, ProtectOutcome};
use iroh_blobs::{BlobFormat, Hash, HashAndFormat};
use n0_future::StreamExt;
use serde::Serialize;

use super::error::Error;
use crate::BlobHash;
use crate::catalog::release::{BlobRef, hash_sequence, sequence_children};

/// How long a small store operation (open, tag, status) may take.
pub(crate) const SMALL_OP: Duration = Duration::from_secs(30);
/// How long importing or exporting one file may take.
const FILE_OP: Duration = Duration::from_secs(30 * 60);
/// Largest blob read into memory whole (release documents, hash sequences).
pub const MAX_IN_MEMORY: u64 = 4 << 20;
/// Tag prefix of pinned releases.
pub const RELEASE_PIN_PREFIX: &str = "release/";

/// One blob in the store.
#[derive(Debug, Clone, Serialize)]
pub struct BlobEntry {
    /// Its BLAKE3 hash.
    pub hash: BlobHash,
    /// Its size, when known.
    pub size: Option<u64>,
    /// Whether every byte is present and verified.
    pub complete: bool,
    /// Bytes held and verified against the hash (all of them when
    /// complete; for a partial blob, what an interrupted fetch kept).
    pub verified_bytes: u64,
    /// The pins that keep it, directly or through a release.
    pub pinned_by: Vec<String>,
}

/// A named pin.
#[derive(Debug, Clone, Serialize)]
pub struct Pin {
    /// Its name, like `release/DID/APP/VERSION`.
    pub name: String,
    /// The pinned hash.
    pub hash: BlobHash,
    /// Whether it pins a hash sequence and all its children.
    pub sequence: bool,
}

/// What a garbage collection did.
#[derive(Debug, Clone, Serialize)]
pub struct GcReport {
    /// Blobs removed.
    pub removed: Vec<BlobHash>,
    /// Blobs kept, because a pin reaches them.
    pub kept: usize,
}

/// The blob store under a node's data directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: FsStore,
    dir: PathBuf,
    gc: Arc<GcGate>,
}

/// How often the store's collector asks whether to run: a requested
/// collection starts within this.
const GC_TICK: Duration = Duration::from_secs(1);
/// Longest a requested collection is waited for.
const GC_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Lets the store's garbage collector run only when asked. iroh-blobs
/// runs its collector on a timer and asks a callback before each run;
/// the gate answers "skip" unless a collection was requested, and tells
/// the requesters when the run they started has finished (the next ask).
#[derive(Debug, Default)]
struct GcGate {
    waiting: std::sync::Mutex<GcWaiters>,
}

#[derive(Debug, Default)]
struct GcWaiters {
    /// Asked for a run that has not started.
    asked: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Waiting for the run in progress.
    running: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl GcGate {
    /// Called before each collector run: finishes the previous run's
    /// waiters, and lets a run through if one was asked for.
    fn before_run(&self) -> ProtectOutcome {
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for done in waiting.running.drain(..) {
            done.send(()).ok();
        }
        if waiting.asked.is_empty() {
            return ProtectOutcome::Abort;
        }
        waiting.running = std::mem::take(&mut waiting.asked);
        ProtectOutcome::Continue
    }

    fn ask(&self) -> tokio::sync::oneshot::Receiver<()> {
        let (done, finished) = tokio::sync::oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .asked
            .push(done);
        finished
    }
}

impl BlobStore {
    /// Opens (or creates) the store in `dir`. Only one process may have a
    /// store open at a time.
    pub async fn open(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::store(dir.display(), e))?;
        let gc = Arc::new(GcGate::default());
        let mut options = Options::new(dir);
        options.gc = Some(GcConfig {
            interval: GC_TICK,
            add_protected: Some(Arc::new({
                let gc = gc.clone();
                move |_live: &mut HashSet<Hash>| {
                    let outcome = gc.before_run();
                    Box::pin(async move { outcome })
                }
            })),
        });
        let store = bounded(
            dir.display(),
            SMALL_OP,
            FsStore::load_with_opts(dir.join("blobs.db"), options),
        )
        .await?
        .map_err(|e| {
            let text = e.to_string();
            if text.contains("already open") || text.contains("Database already open") {
                Error::StoreBusy {
                    location: dir.display().to_string(),
                }
            } else {
                Error::store(dir.display(), text)
            }
        })?;
        Ok(Self {
            store,
            dir: dir.to_owned(),
            gc,
        })
    }

    /// The iroh-blobs API, for serving and downloading.
    pub fn api(&self) -> &Store {
        &self.store
    }

    /// Imports the file at `path` and returns its hash and size. The blob
    /// is unpinned until a pin reaches it.
    pub async fn import_file(&self, path: &Path) -> Result<BlobRef, Error> {
        let absolute = std::path::absolute(path).map_err(|e| Error::store(path.display(), e))?;
        let tag = bounded(
            path.display(),
            FILE_OP,
            self.store
                .add_path_with_opts(AddPathOptions {
                    path: absolute,
                    format: BlobFormat::Raw,
                    mode: ImportMode::Copy,
                })
                .temp_tag(),
        )
        .await?
        .map_err(|e| Error::store(path.display(), e))?;
        let hash = BlobHash::from_bytes(*tag.hash().as_bytes());
        let size = self.size_of(hash).await?;
        Ok(BlobRef { blake3: hash, size })
    }

    /// Stores `bytes` as a blob and returns its hash.
    pub async fn import_bytes(&self, bytes: Vec<u8>) -> Result<BlobHash, Error> {
        let tag = bounded("new blob", SMALL_OP, self.store.add_bytes(bytes).temp_tag())
            .await?
            .map_err(|e| Error::store("new blob", e))?;
        Ok(BlobHash::from_bytes(*tag.hash().as_bytes()))
    }

    /// Stores a release: its document, its blobs (files that must hash to
    /// `blobs`, in order) and the hash sequence over them, pinned as `pin`.
    /// Returns the release root hash.
    pub async fn add_release(
        &self,
        pin: &str,
        document: &[u8],
        blobs: &[(BlobRef, PathBuf)],
    ) -> Result<BlobHash, Error> {
        let refs: Vec<BlobRef> = blobs.iter().map(|(r, _)| r.clone()).collect();
        let sequence = hash_sequence(document, &refs);
        self.import_bytes(document.to_vec()).await?;
        for (expected, path) in blobs {
            let got = self.import_file(path).await?;
            if got != *expected {
                return Err(Error::store(
                    path.display(),
                    format!(
                        "the file changed since it was signed: it hashes to {} ({} bytes), the manifest says {} ({} bytes)",
                        got.blake3, got.size, expected.blake3, expected.size
                    ),
                ));
            }
        }
        let root = self.import_bytes(sequence).await?;
        self.pin(pin, root, true).await?;
        Ok(root)
    }

    /// Pins `hash` (and, for a sequence, every child) under `name`,
    /// replacing any pin of that name.
    pub async fn pin(&self, name: &str, hash: BlobHash, sequence: bool) -> Result<(), Error> {
        let hash = to_iroh(hash);
        let value = if sequence {
            HashAndFormat::hash_seq(hash)
        } else {
            HashAndFormat::raw(hash)
        };
        bounded(name, SMALL_OP, self.store.tags().set(name, value))
            .await?
            .map_err(|e| Error::store(name, e))
    }

    /// Removes the pin `name`; returns whether it existed.
    pub async fn unpin(&self, name: &str) -> Result<bool, Error> {
        let removed = bounded(name, SMALL_OP, self.store.tags().delete(name))
            .await?
            .map_err(|e| Error::store(name, e))?;
        Ok(removed > 0)
    }

    /// Every pin, by name.
    pub async fn pins(&self) -> Result<Vec<Pin>, Error> {
        let location = self.dir.display().to_string();
        let fut = async {
            let mut out = Vec::new();
            let mut tags = self.store.tags().list().await?;
            while let Some(tag) = tags.next().await {
                let tag = tag?;
                out.push(Pin {
                    name: String::from_utf8_lossy(tag.name.as_ref()).into_owned(),
                    hash: from_iroh(tag.hash),
                    sequence: tag.format == BlobFormat::HashSeq,
                });
            }
            Ok::<_, iroh_blobs::api::Error>(out)
        };
        bounded(&location, SMALL_OP, fut)
            .await?
            .map_err(|e| Error::store(&location, e))
    }

    /// Every blob in the store, with what pins it.
    pub async fn list(&self) -> Result<Vec<BlobEntry>, Error> {
        let reached = self.reached_by_pins().await?;
        let location = self.dir.display().to_string();
        let hashes = bounded(&location, SMALL_OP, self.store.blobs().list().hashes())
            .await?
            .map_err(|e| Error::store(&location, e))?;
        let mut out = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let blob = from_iroh(hash);
            let (size, complete) = self.status(blob).await?;
            let verified_bytes = match (complete, size) {
                (true, Some(size)) => size,
                _ => self.verified_bytes(HashAndFormat::raw(hash)).await?,
            };
            out.push(BlobEntry {
                hash: blob,
                size,
                complete,
                verified_bytes,
                pinned_by: reached.get(&blob).cloned().unwrap_or_default(),
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.size));
        Ok(out)
    }

    /// For each blob a pin reaches, the names of those pins.
    async fn reached_by_pins(&self) -> Result<BTreeMap<BlobHash, Vec<String>>, Error> {
        let mut reached: BTreeMap<BlobHash, Vec<String>> = BTreeMap::new();
        for pin in self.pins().await? {
            reached.entry(pin.hash).or_default().push(pin.name.clone());
            if pin.sequence && self.status(pin.hash).await?.1 {
                let bytes = self.get_bytes(pin.hash, MAX_IN_MEMORY).await?;
                for child in sequence_children(&bytes) {
                    reached.entry(child).or_default().push(pin.name.clone());
                }
            }
        }
        Ok(reached)
    }

    /// Verified bytes held of the hash sequence `root` and its children.
    pub async fn held_bytes(&self, root: BlobHash) -> Result<u64, Error> {
        self.verified_bytes(HashAndFormat::hash_seq(to_iroh(root)))
            .await
    }

    async fn verified_bytes(&self, content: HashAndFormat) -> Result<u64, Error> {
        let local = bounded(content.hash, SMALL_OP, self.store.remote().local(content))
            .await?
            .map_err(|e| Error::store(content.hash, e))?;
        Ok(local.local_bytes())
    }

    /// The size (when known) of `hash` and whether it is complete.
    pub async fn status(&self, hash: BlobHash) -> Result<(Option<u64>, bool), Error> {
        let status = bounded(hash, SMALL_OP, self.store.blobs().status(to_iroh(hash)))
            .await?
            .map_err(|e| Error::store(hash, e))?;
        Ok(match status {
            BlobStatus::Complete { size } => (Some(size), true),
            BlobStatus::Partial { size } => (size, false),
            BlobStatus::NotFound => (None, false),
        })
    }

    async fn size_of(&self, hash: BlobHash) -> Result<u64, Error> {
        match self.status(hash).await? {
            (Some(size), true) => Ok(size),
            _ => Err(Error::store(hash, "the blob is not complete")),
        }
    }

    /// The whole of a complete blob of at most `max` bytes.
    pub async fn get_bytes(&self, hash: BlobHash, max: u64) -> Result<Vec<u8>, Error> {
        let size = self.size_of(hash).await?;
        if size > max {
            return Err(Error::store(
                hash,
                format!("{size} bytes is more than the {max} bytes read into memory"),
            ));
        }
        let bytes = bounded(hash, SMALL_OP, self.store.blobs().get_bytes(to_iroh(hash)))
            .await?
            .map_err(|e| Error::store(hash, e))?;
        Ok(bytes.to_vec())
    }

    /// Copies a complete blob to `target` (created or replaced).
    pub async fn export(&self, hash: BlobHash, target: &Path) -> Result<(), Error> {
        self.export_with(hash, target, ExportMode::Copy).await
    }

    /// Puts a complete blob at `target` without a second copy: the store
    /// moves its data file there (when on the same file system) and from
    /// then on reads the blob from it. For files the node itself keeps,
    /// like verified release blobs: the store checks the bytes against
    /// their hash tree each time it serves them, so a file changed behind
    /// its back is refused, never served.
    pub async fn export_in_place(&self, hash: BlobHash, target: &Path) -> Result<(), Error> {
        self.export_with(hash, target, ExportMode::TryReference)
            .await
    }

    async fn export_with(
        &self,
        hash: BlobHash,
        target: &Path,
        mode: ExportMode,
    ) -> Result<(), Error> {
        let absolute =
            std::path::absolute(target).map_err(|e| Error::store(target.display(), e))?;
        bounded(
            target.display(),
            FILE_OP,
            self.store
                .blobs()
                .export_with_opts(ExportOptions {
                    hash: to_iroh(hash),
                    mode,
                    target: absolute,
                })
                .finish(),
        )
        .await?
        .map_err(|e| Error::store(target.display(), e))?;
        Ok(())
    }

    /// Removes every blob no pin reaches, while the store stays open and
    /// serving: one run of the store's collector, waited for.
    pub async fn collect_garbage(&self) -> Result<GcReport, Error> {
        let before = self.list().await?;
        let finished = self.gc.ask();
        bounded("garbage collection", GC_TIMEOUT, finished)
            .await?
            .map_err(|_| Error::store(self.dir.display(), "garbage collection stopped early"))?;
        let remaining: HashSet<BlobHash> = self.list().await?.into_iter().map(|e| e.hash).collect();
        let removed: Vec<BlobHash> = before
            .iter()
            .map(|e| e.hash)
            .filter(|h| !remaining.contains(h))
            .collect();
        Ok(GcReport {
            removed,
            kept: remaining.len(),
        })
    }

    /// Flushes and closes the store.
    pub async fn shutdown(self) {
        if let Err(e) = bounded("store shutdown", SMALL_OP, self.store.shutdown()).await {
            tracing::warn!("{e}");
        }
    }
}

/// The iroh-blobs hash of a [`BlobHash`].
pub fn to_iroh(hash: BlobHash) -> Hash {
    Hash::from_bytes(*hash.as_bytes())
}

/// The [`BlobHash`] of an iroh-blobs hash.
pub fn from_iroh(hash: Hash) -> BlobHash {
    BlobHash::from_bytes(*hash.as_bytes())
}

/// Runs `fut` for at most `limit`, naming `what` if it takes longer.
pub(crate) async fn bounded<T>(
    what: impl std::fmt::Display,
    limit: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, Error> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| Error::Timeout {
            what: what.to_string(),
            seconds: limit.as_secs(),
        })
}
