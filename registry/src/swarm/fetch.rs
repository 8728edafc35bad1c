//! Fetching a release: the publisher's TUF metadata first (origin first,
//! then any provider, always verified against the pinned root), then the
//! release's blobs over iroh-blobs from the origin and the providers, each
//! byte checked against BLAKE3 as it arrives. What comes out is a
//! [`VerifiedManifest`].

use std::collections::HashMap;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use archy_trust::Did;
use iroh::EndpointId;
use iroh_blobs::HashAndFormat;
use iroh_blobs::api::downloader::{DownloadProgressItem, Downloader};
use n0_future::StreamExt;

use super::endpoint::NodeEndpoint;
use super::error::Error;
use super::providers::Providers;
use super::store::{BlobStore, MAX_IN_MEMORY, RELEASE_PIN_PREFIX, to_iroh};
use super::ticket::NodeTicket;
use super::tuf_protocol::{CatalogSource, PeerTransport};
use crate::BlobHash;
use crate::catalog::release::{self, BlobRef, MAX_RELEASE_BYTES, sequence_children};
use crate::catalog::release_targets::{ReleaseCustom, read_custom};
use crate::signing::Signers;
use crate::tuf::metadata::{Role, Root, TargetFile};
use crate::tuf::signed::Envelope;
use crate::tuf::trusted::TrustedSet;
use crate::tuf::{Limits, MetadataStore, Transport, Updater, UtcTime, check_length_and_hashes};
use crate::verified::{VerifiedBlob, VerifiedManifest};

/// What to fetch, and from whom.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// The publisher whose catalog names the release.
    pub publisher: Did,
    /// The app id.
    pub app: String,
    /// The version; the newest one not yanked when absent.
    pub version: Option<semver::Version>,
    /// Without `version`: only versions this requirement accepts (an app
    /// dependency's range); any when absent.
    pub matching: Option<semver::VersionReq>,
    /// The publisher's own node, asked first.
    pub origin: Option<NodeTicket>,
    /// Other nodes that may have the release.
    pub providers: Vec<NodeTicket>,
}

/// What a fetch is doing, for progress displays and logs.
#[derive(Debug, Clone)]
pub enum FetchEvent {
    /// The publisher's root was pinned on first contact: it lists the
    /// publisher's key and is signed by it.
    PinnedRoot {
        /// Root version pinned.
        version: u64,
        /// Node it came from.
        from: Did,
    },
    /// Metadata was refreshed from this node.
    MetadataFrom {
        /// The node.
        node: Did,
    },
    /// A node could not give verified metadata; the next is tried.
    SourceFailed {
        /// The node.
        node: Did,
        /// Why.
        reason: String,
    },
    /// The release to fetch is known.
    Resolved {
        /// TUF target path.
        target: String,
        /// Its version.
        version: String,
        /// Hash of the whole release.
        release: BlobHash,
        /// Bytes in the release.
        total_bytes: u64,
        /// Verified bytes of it already held (from an interrupted fetch,
        /// or another release sharing blobs); only the rest is fetched.
        already_held: u64,
    },
    /// Verified bytes of the release held so far (from any provider).
    Progress {
        /// Bytes.
        bytes: u64,
    },
    /// A provider failed (unreachable, or sent bytes that did not verify);
    /// its part goes to the next provider.
    ProviderFailed {
        /// The provider's DID, when it was given by ticket.
        node: String,
        /// The blob it was asked for.
        blob: BlobHash,
    },
}

/// Progress items queued from the concurrent downloads.
const PROGRESS_QUEUE: usize = 64;

/// What the downloads of one release share: who is asked, who failed,
/// and the first error.
struct Parts {
    names: HashMap<EndpointId, String>,
    providers: Providers,
    /// Bytes held before these parts (the hash sequence).
    base: u64,
    /// Which provider the first of these parts starts with.
    first: usize,
    error: Option<String>,
}

/// Fetches releases into a blob store over an endpoint.
#[derive(Debug, Clone)]
pub struct Fetcher {
    endpoint: NodeEndpoint,
    blobs: BlobStore,
    downloader: Downloader,
    export_dir: PathBuf,
    /// What this node serves to others: read in place when a source is
    /// the node itself (an endpoint cannot dial itself).
    own: Option<Arc<dyn CatalogSource>>,
}

impl Fetcher {
    /// A fetcher storing into `blobs` and writing verified blobs as files
    /// into `export_dir`.
    pub fn new(endpoint: NodeEndpoint, blobs: BlobStore, export_dir: PathBuf) -> Self {
        let downloader = Downloader::new(blobs.api(), &endpoint.endpoint);
        Self {
            endpoint,
            blobs,
            downloader,
            export_dir,
            own: None,
        }
    }

    /// The same fetcher, reading `own` (what this node serves) in place
    /// when a source is this node itself: a node installs from a catalog
    /// it publishes without dialling itself.
    pub fn with_own_catalogs(self, own: Arc<dyn CatalogSource>) -> Self {
        Self {
            own: Some(own),
            ..self
        }
    }

    /// Whether `source` is this node.
    fn is_self(&self, source: &NodeTicket) -> bool {
        source.endpoint_id() == self.endpoint.endpoint.id()
    }

    /// Downloads what an iroh blob ticket names (one from `sendme send`,
    /// say) and writes its files into `out`; see [`super::share::receive`].
    pub async fn receive_ticket(
        &self,
        ticket: &str,
        out: &Path,
        on_progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<Vec<PathBuf>, Error> {
        super::share::receive(
            &self.blobs,
            &self.endpoint,
            &self.downloader,
            ticket,
            out,
            on_progress,
        )
        .await
    }

    /// Downloads blob `hash` from the node of `source` into the store,
    /// within `timeout`, and returns it if it is at most `max` bytes: for
    /// small documents a peer announced by hash.
    pub async fn fetch_small_blob(
        &self,
        hash: BlobHash,
        source: &NodeTicket,
        max: u64,
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, Error> {
        self.endpoint.learn(source);
        let failed = |reason: String| Error::Download {
            what: format!("blob {hash}"),
            reason,
        };
        let download = self.downloader.download(
            HashAndFormat::raw(to_iroh(hash)),
            vec![source.endpoint_id()],
        );
        tokio::time::timeout(timeout, download.into_future())
            .await
            .map_err(|_| failed(format!("{} did not send it in time", source.did())))?
            .map_err(|e| failed(e.to_string()))?;
        self.blobs.get_bytes(hash, max).await
    }

    /// Closes the endpoint and flushes the store.
    pub async fn close(self) {
        self.endpoint.close().await;
        self.blobs.shutdown().await;
    }

    /// Fetches `request`, keeping the publisher's trusted metadata in
    /// `metadata`. Interrupted fetches resume: what is already stored and
    /// verified is not fetched again.
    pub async fn fetch(
        &self,
        metadata: Arc<dyn MetadataStore>,
        request: &FetchRequest,
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<VerifiedManifest, Error> {
        let transports = self.transports(request);
        let mut updater = self
            .updated(metadata, request, &transports, on_event)
            .await?;
        // A node that could not be dialled for metadata is not asked for
        // blobs either: each dead node costs one connect timeout in all.
        let reachable: Vec<NodeTicket> = transports
            .iter()
            .filter(|t| !t.is_unreachable() && !self.is_self(t.peer()))
            .map(|t| t.peer().clone())
            .collect();
        let (target_path, target, custom) = resolve(&mut updater, request).await?;
        let release_root = custom.release.ok_or_else(|| {
            Error::NotInCatalog(format!(
                "{target_path} names no release hash: the publisher made it with an archy older than the swarm; ask them to publish it again"
            ))
        })?;
        let total: u64 = custom.blobs.iter().map(|b| b.size).sum::<u64>()
            + target.length
            + 32 * (custom.blobs.len() as u64 + 1);
        let pin = format!(
            "{RELEASE_PIN_PREFIX}{}/{}/{}",
            request.publisher, request.app, custom.version
        );
        self.blobs.pin(&pin, release_root, true).await?;
        let already_held = self.blobs.held_bytes(release_root).await?;
        on_event(FetchEvent::Resolved {
            target: target_path.clone(),
            version: custom.version.clone(),
            release: release_root,
            total_bytes: total,
            already_held,
        });
        if already_held < total {
            self.download(release_root, &reachable, on_event).await?;
        }
        on_event(FetchEvent::Progress { bytes: total });
        let signers = signers_of(updater.trusted());
        self.verify(request, &signers, target_path, target, custom, release_root)
            .await
    }

    /// Refreshes the publisher's catalog from `request`'s sources (an
    /// unchanged catalog costs one request) and names the release it
    /// would fetch, without fetching it: `request.version`, or the newest
    /// not yanked. Returns (version, TUF target path, release hash).
    pub async fn resolve_release(
        &self,
        metadata: Arc<dyn MetadataStore>,
        request: &FetchRequest,
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<(String, String, Option<BlobHash>), Error> {
        let transports = self.transports(request);
        let mut updater = self
            .updated(metadata, request, &transports, on_event)
            .await?;
        let (path, _, custom) = resolve(&mut updater, request).await?;
        Ok((custom.version, path, custom.release))
    }

    /// Refreshes the publisher's catalog from `request`'s sources (an
    /// unchanged catalog costs one request), pinning its root on first
    /// contact; `request.app` and `version` are not read.
    pub async fn refresh_catalog(
        &self,
        metadata: Arc<dyn MetadataStore>,
        request: &FetchRequest,
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<(), Error> {
        let transports = self.transports(request);
        self.updated(metadata, request, &transports, on_event)
            .await
            .map(|_| ())
    }

    /// A transport to each of `request`'s sources, in the order they are
    /// asked; the endpoint learns their addresses.
    fn transports(&self, request: &FetchRequest) -> Vec<PeerTransport> {
        let sources = sources(request);
        for source in &sources {
            self.endpoint.learn(source);
        }
        sources
            .iter()
            .filter_map(|source| {
                let (endpoint, peer) = (self.endpoint.endpoint.clone(), source.clone());
                let publisher = request.publisher.clone();
                match (&self.own, self.is_self(source)) {
                    (Some(own), true) => {
                        Some(PeerTransport::own(endpoint, peer, publisher, own.clone()))
                    }
                    // This node, without what it serves: nothing to ask.
                    (None, true) => None,
                    (_, false) => Some(PeerTransport::new(endpoint, peer, publisher)),
                }
            })
            .collect()
    }

    /// The publisher's catalog, refreshed: its root pinned on first
    /// contact, then the newest metadata that verifies.
    async fn updated(
        &self,
        metadata: Arc<dyn MetadataStore>,
        request: &FetchRequest,
        transports: &[PeerTransport],
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<Updater<PeerTransport>, Error> {
        let limits = Limits::default();
        if metadata.load("root", limits.root_max_length)?.is_none() {
            self.pin_root(metadata.as_ref(), request, transports, on_event)
                .await?;
        }
        self.refresh(metadata, request, transports, &limits, on_event)
            .await
    }

    /// First contact: take root version 1 from the first source that has
    /// one listing the publisher's key and signed by it.
    async fn pin_root(
        &self,
        metadata: &dyn MetadataStore,
        request: &FetchRequest,
        transports: &[PeerTransport],
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<(), Error> {
        let limits = Limits::default();
        let mut attempts = Vec::new();
        for transport in transports {
            let source = transport.peer();
            let result = match transport
                .fetch_metadata("1.root.json", limits.root_max_length)
                .await
            {
                Ok(bytes) => check_root_signed_by(&bytes, &request.publisher).map(|v| (v, bytes)),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok((version, bytes)) => {
                    metadata.save("root", &bytes)?;
                    on_event(FetchEvent::PinnedRoot {
                        version,
                        from: source.did().clone(),
                    });
                    return Ok(());
                }
                Err(reason) => {
                    on_event(FetchEvent::SourceFailed {
                        node: source.did().clone(),
                        reason: reason.clone(),
                    });
                    attempts.push(format!("  {}: {reason}", source.did()));
                }
            }
        }
        Err(no_source(request, attempts))
    }

    /// Refreshes from the sources in order until one gives metadata that
    /// verifies. A source that is down, stale or lying is skipped.
    async fn refresh(
        &self,
        metadata: Arc<dyn MetadataStore>,
        request: &FetchRequest,
        transports: &[PeerTransport],
        limits: &Limits,
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<Updater<PeerTransport>, Error> {
        let mut attempts = Vec::new();
        for transport in transports {
            let source = transport.peer();
            let mut updater = Updater::new(metadata.clone(), transport.clone(), limits.clone())?;
            match updater.refresh().await {
                Ok(()) => {
                    on_event(FetchEvent::MetadataFrom {
                        node: source.did().clone(),
                    });
                    return Ok(updater);
                }
                Err(e) => {
                    on_event(FetchEvent::SourceFailed {
                        node: source.did().clone(),
                        reason: e.to_string(),
                    });
                    attempts.push(format!("  {}: {e}", source.did()));
                }
            }
        }
        Err(no_source(request, attempts))
    }

    /// Downloads the release's hash sequence, then every child at once,
    /// each from the next provider in turn with the others as fallback.
    /// (iroh-blobs' own split strategy runs the children one after
    /// another, so two providers were no faster than one.)
    async fn download(
        &self,
        root: BlobHash,
        sources: &[NodeTicket],
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<(), Error> {
        let mut parts = Parts {
            names: sources
                .iter()
                .map(|s| (s.endpoint_id(), s.did().to_string()))
                .collect(),
            providers: Providers::new(sources.iter().map(NodeTicket::endpoint_id).collect()),
            base: 0,
            first: 0,
            error: None,
        };
        let failed = |reason: String| Error::Download {
            what: format!("release {root}"),
            reason: format!(
                "{reason}; what was fetched is kept, and the next fetch resumes from it"
            ),
        };
        self.download_parts(&[root], &mut parts, on_event).await;
        if let Some(reason) = parts.error.take() {
            return Err(failed(reason));
        }
        let sequence = self.blobs.get_bytes(root, MAX_IN_MEMORY).await?;
        let children: Vec<BlobHash> = sequence_children(&sequence).collect();
        parts.base = sequence.len() as u64;
        parts.first = 1;
        self.download_parts(&children, &mut parts, on_event).await;
        match parts.error {
            Some(reason) => Err(failed(reason)),
            None => Ok(()),
        }
    }

    /// Downloads `hashes` concurrently, reporting the verified bytes held
    /// of all of them together.
    async fn download_parts(
        &self,
        hashes: &[BlobHash],
        parts: &mut Parts,
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(PROGRESS_QUEUE);
        // Dropping the set (a cancelled fetch) aborts every download.
        let mut tasks = tokio::task::JoinSet::new();
        for (index, hash) in hashes.iter().enumerate() {
            let progress = self.downloader.download(
                HashAndFormat::raw(to_iroh(*hash)),
                parts.providers.starting_at(parts.first + index),
            );
            let tx = tx.clone();
            tasks.spawn(async move {
                match progress.stream().await {
                    Ok(mut stream) => {
                        while let Some(item) = stream.next().await {
                            if tx.send((index, Ok(item))).await.is_err() {
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        tx.send((index, Err(e.to_string()))).await.ok();
                    }
                }
            });
        }
        drop(tx);
        let mut held = vec![0u64; hashes.len()];
        while let Some((index, item)) = rx.recv().await {
            match item {
                Ok(DownloadProgressItem::Progress(bytes)) => {
                    held[index] = bytes;
                    on_event(FetchEvent::Progress {
                        bytes: parts.base + held.iter().sum::<u64>(),
                    });
                }
                Ok(DownloadProgressItem::ProviderFailed { id, .. }) => {
                    parts.providers.mark_failed(id);
                    on_event(FetchEvent::ProviderFailed {
                        node: parts
                            .names
                            .get(&id)
                            .cloned()
                            .unwrap_or_else(|| id.fmt_short().to_string()),
                        blob: hashes[index],
                    });
                }
                Ok(DownloadProgressItem::DownloadError) => {
                    parts.error = Some(format!("no provider could supply {}", hashes[index]));
                }
                Ok(DownloadProgressItem::Error(e)) => parts.error = Some(e.to_string()),
                Err(e) => parts.error = Some(e),
                Ok(DownloadProgressItem::TryProvider { id, request }) => {
                    tracing::debug!(provider = %id.fmt_short(), ?request, "asking");
                }
                Ok(DownloadProgressItem::PartComplete { request }) => {
                    tracing::debug!(?request, "part complete");
                }
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Checks the stored release against the catalog: the sequence names
    /// exactly the catalog's blobs, the release document matches the TUF
    /// target's length and hashes, and the manifest inside is the
    /// publisher's and names the same blobs. Then writes each blob out.
    async fn verify(
        &self,
        request: &FetchRequest,
        signers: &Signers,
        target_path: String,
        target: TargetFile,
        custom: ReleaseCustom,
        root: BlobHash,
    ) -> Result<VerifiedManifest, Error> {
        let mismatch = |reason: String| Error::Release {
            target: target_path.clone(),
            release: root.to_string(),
            reason,
        };
        let sequence = self.blobs.get_bytes(root, MAX_IN_MEMORY).await?;
        let mut children = sequence_children(&sequence);
        let document_hash = children.next();
        let lists_catalog_blobs = sequence.len() == 32 * (custom.blobs.len() + 1)
            && children.eq(custom.blobs.iter().map(|b| b.blake3));
        let Some(document_hash) = document_hash.filter(|_| lists_catalog_blobs) else {
            return Err(mismatch(
                "the hash sequence does not list the blobs the catalog names".into(),
            ));
        };
        let document = self
            .blobs
            .get_bytes(document_hash, MAX_RELEASE_BYTES)
            .await?;
        check_length_and_hashes(
            &target_path,
            Some(target.length),
            Some(&target.hashes),
            &document,
        )?;
        let opened = release::open(&document, &request.publisher, signers)
            .map_err(|e| mismatch(e.to_string()))?;
        if opened.blobs != custom.blobs || opened.manifest.id != request.app {
            return Err(mismatch(
                "the release document does not match its catalog entry".into(),
            ));
        }
        let mut blobs = Vec::with_capacity(custom.blobs.len());
        for blob in &custom.blobs {
            let path = self.export(blob).await?;
            blobs.push(VerifiedBlob {
                blob: blob.clone(),
                path,
            });
        }
        Ok(VerifiedManifest::new(
            opened.manifest,
            request.publisher.clone(),
            target_path,
            target,
            root,
            blobs,
        ))
    }

    /// Puts a verified blob at `export_dir/HASH` unless it is there. The
    /// store hands over its own file rather than copying it, so a release
    /// takes its size on disk once.
    async fn export(&self, blob: &BlobRef) -> Result<PathBuf, Error> {
        let path = self.export_dir.join(blob.blake3.to_string());
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == blob.size) {
            return Ok(path);
        }
        std::fs::create_dir_all(&self.export_dir)
            .map_err(|e| Error::store(self.export_dir.display(), e))?;
        self.blobs.export_in_place(blob.blake3, &path).await?;
        Ok(path)
    }
}

/// Origin first, then providers; a provider whose DID is the publisher's
/// is its origin. Each node once.
fn sources(request: &FetchRequest) -> Vec<NodeTicket> {
    let mut ordered: Vec<NodeTicket> = Vec::new();
    let publisher_node = request
        .providers
        .iter()
        .find(|t| t.did() == &request.publisher);
    for ticket in request
        .origin
        .iter()
        .chain(publisher_node)
        .chain(&request.providers)
    {
        if !ordered.iter().any(|t| t.did() == ticket.did()) {
            ordered.push(ticket.clone());
        }
    }
    ordered
}

fn no_source(request: &FetchRequest, attempts: Vec<String>) -> Error {
    Error::NoSource {
        publisher: request.publisher.to_string(),
        attempts: if attempts.is_empty() {
            vec!["  no node to ask: the request names no origin and no provider".into()]
        } else {
            attempts
        },
    }
}

/// Finds the release: the version asked for, or the newest not yanked.
async fn resolve<T: Transport>(
    updater: &mut Updater<T>,
    request: &FetchRequest,
) -> Result<(String, TargetFile, ReleaseCustom), Error> {
    let prefix = format!("apps/{}/", request.app);
    let path = match &request.version {
        Some(version) => format!("{prefix}{version}.json"),
        None => newest_release(updater, &prefix, request)?,
    };
    let target = updater.target_info(&path).await?.ok_or_else(|| {
        Error::NotInCatalog(format!(
            "{}'s catalog has no {path}{}",
            request.publisher,
            if request.version.is_some() {
                " (leave out @VERSION for the newest)"
            } else {
                ""
            }
        ))
    })?;
    let custom = read_custom(&path, &target).map_err(Error::NotInCatalog)?;
    if let Some(yanked) = &custom.yanked {
        return Err(Error::NotInCatalog(format!(
            "{path} was yanked by its publisher: {}",
            yanked["reason"].as_str().unwrap_or("no reason given")
        )));
    }
    Ok((path, target, custom))
}

fn newest_release<T: Transport>(
    updater: &Updater<T>,
    prefix: &str,
    request: &FetchRequest,
) -> Result<String, Error> {
    let targets = updater
        .trusted()
        .targets("targets")
        .ok_or_else(|| Error::NotInCatalog("the catalog's targets are not loaded".into()))?;
    targets
        .doc
        .targets
        .iter()
        .filter(|(path, _)| path.starts_with(prefix))
        .filter_map(|(path, file)| {
            let custom = read_custom(path, file).ok()?;
            let version = semver::Version::parse(&custom.version).ok()?;
            let accepted = request
                .matching
                .as_ref()
                .is_none_or(|m| m.matches(&version));
            (custom.yanked.is_none() && accepted).then(|| (version, path.clone()))
        })
        .max()
        .map(|(_, path)| path)
        .ok_or_else(|| {
            Error::NotInCatalog(format!(
                "{}'s catalog has no release of {}{} that is not yanked",
                request.publisher,
                request.app,
                request
                    .matching
                    .as_ref()
                    .map_or_else(String::new, |m| format!(" in {m}"))
            ))
        })
}

/// The keys that speak for the publisher: those its current verified root
/// lists, so a release signed by a rotated-in key is still its own.
fn signers_of(trusted: &TrustedSet) -> Signers {
    Signers::with_root_keys(trusted.root().doc.keys.keys().cloned())
}

/// Checks a root met on first contact: it meets its own threshold, and
/// the publisher's key is one of its root keys and signed it. Returns its
/// version.
pub fn check_root_signed_by(bytes: &[u8], publisher: &Did) -> Result<u64, String> {
    let trusted = TrustedSet::new(bytes.to_vec(), UtcTime::now()).map_err(|e| e.to_string())?;
    let root: &Root = &trusted.root().doc;
    let keyid = publisher.tuf_keyid().to_owned();
    let listed = root
        .roles
        .get("root")
        .is_some_and(|role| role.keyids.contains(&keyid));
    if !listed {
        return Err(format!(
            "the catalog's root does not list {publisher} as a root key: this is not that publisher's catalog"
        ));
    }
    let envelope: Envelope<Root> = Envelope::parse(bytes)?;
    let only_publisher = Role {
        keyids: vec![keyid],
        threshold: 1,
    };
    if envelope.count_signers(bytes, &root.keys, &only_publisher) < 1 {
        return Err(format!(
            "the catalog's root is not signed by {publisher}: refused"
        ));
    }
    Ok(root.common.version)
}
