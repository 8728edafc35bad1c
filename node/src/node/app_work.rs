//! What a running node does to its apps on request: install by name (or
//! from a local dev directory), update, start, stop, restart, reinstall and
//! uninstall, each an operation ([`crate::operations`]) that answers at
//! once with its id and runs in the background.
//!
//! App operations run one at a time (the orchestrator does one at a time
//! anyway); while one runs, every event the orchestrator sends for a
//! journalled operation is this one's, and is forwarded as its progress.

use std::path::Path;
use std::str::FromStr;

use archy_discovery::market::{Answer, Query};
use archy_discovery::store::ListingRecord;
use archy_orchestrator::{Event as AppEvent, Orchestrator};
use archy_registry::swarm::{FetchEvent, FetchRequest, NodeTicket};
use archy_registry::verified::VerifiedManifest;
use serde::Serialize;

use super::{Node, TrustRefused};
use crate::fetching::{FetchSession, ReleaseName};
use crate::operations::{Failure, OperationsError, Reporter};

/// The share of an install's progress the fetch takes; the orchestrator's
/// stages take the rest.
const FETCH_SHARE: u8 = 50;

/// What to install.
#[derive(Debug, Clone)]
pub enum InstallSource {
    /// A published release.
    Published(Box<Wanted>),
    /// A local, unpublished app directory (or its manifest) on this
    /// machine, marked as dev.
    Dev(std::path::PathBuf),
}

/// What to update an installed app to.
#[derive(Debug, Clone)]
pub enum UpdateSource {
    /// A release in the app's publisher's catalog: `version`, or the
    /// newest not yanked.
    Catalog(Box<Wanted>),
    /// A local app directory (or its manifest), for a dev install.
    Dev(std::path::PathBuf),
}

/// A published release, and the nodes the user named for it (asked
/// first, before every node the node knows for it).
#[derive(Debug, Clone)]
pub struct Wanted {
    /// The release; for an update, the publisher and app are the installed
    /// app's and only the version is read.
    pub name: ReleaseName,
    /// The publisher's own node, if the user named it.
    pub origin: Option<NodeTicket>,
    /// Nodes that may have it, if the user named some.
    pub providers: Vec<NodeTicket>,
    /// Without a version: only versions this requirement accepts (a
    /// dependency's range).
    pub matching: Option<semver::VersionReq>,
}

/// An operation on one installed app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAction {
    /// Start it if stopped.
    Start,
    /// Stop it until started again.
    Stop,
    /// Stop and start it.
    Restart,
    /// Recreate its containers from the same release.
    Reinstall,
    /// Remove it; its data too if `purge`.
    Uninstall {
        /// Also delete its data and secrets.
        purge: bool,
    },
}

impl AppAction {
    /// The operation's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Reinstall => "reinstall",
            Self::Uninstall { .. } => "uninstall",
        }
    }
}

/// The result of an operation on one app.
#[derive(Serialize)]
struct Done {
    app: String,
    operation: &'static str,
}

impl Node {
    /// Starts installing `source`; returns the operation's id.
    /// A published app installs only as far as the owner's trust allows
    /// ([`Node::judge_install`]); `confirmed` lets one below `known`
    /// through, and that decision is journaled.
    pub fn install(&self, source: InstallSource, confirmed: bool) -> Result<u64, OperationsError> {
        let shown = match &source {
            InstallSource::Published(wanted) => name_text(&wanted.name),
            InstallSource::Dev(path) => path.display().to_string(),
        };
        self.spawn_operation("install", &shown, move |node, reporter| {
            Box::pin(async move {
                let (verified, share) = match &source {
                    InstallSource::Published(wanted) => {
                        let (did, app) = (&wanted.name.publisher, &wanted.name.app);
                        let refused = |r: TrustRefused| Failure {
                            causes: r.reasons(),
                            error: r.to_string(),
                        };
                        if let Some(verdict) =
                            node.judge_install(did, app, confirmed).map_err(refused)?
                        {
                            node.journal_confirmed(app, &verdict);
                        }
                        (
                            node.fetch_by_name(wanted, reporter, FETCH_SHARE).await?.0,
                            FETCH_SHARE,
                        )
                    }
                    InstallSource::Dev(path) => (dev_release(path)?, 0),
                };
                node.meet_dependencies(verified.manifest(), reporter, share, confirmed)
                    .await?;
                let done = node
                    .run_app_operation(reporter, (share, 100), async |o| o.install(&verified).await)
                    .await?;
                if let InstallSource::Published(wanted) = &source {
                    node.record_install_root(&wanted.name.app, &wanted.name.publisher);
                    node.refresh_trust_facts().await;
                }
                Ok(done)
            })
        })
    }

    /// Starts updating installed app `id` from `source`; returns the
    /// operation's id. If the new release does not become healthy, the old
    /// one runs again.
    pub fn update(&self, id: &str, source: UpdateSource) -> Result<u64, OperationsError> {
        let id = id.to_owned();
        self.spawn_operation("update", &id.clone(), move |node, reporter| {
            Box::pin(async move {
                let installed = node
                    .orchestrator()
                    .list()
                    .map_err(|e| Failure::of(&e))?
                    .into_iter()
                    .find(|a| a.id == id)
                    .ok_or_else(|| Failure::message(format!("{id} is not installed")))?;
                let (verified, share) = match source {
                    UpdateSource::Dev(path) => (dev_release(&path)?, 0),
                    UpdateSource::Catalog(wanted) => {
                        if installed.dev {
                            return Err(Failure::message(format!(
                                "{id} is a dev install from a local directory; update it from its directory"
                            )));
                        }
                        let name =
                            ReleaseName::from_str(&format!("{}/{}", installed.publisher, id))
                                .map_err(|e| Failure::of(&e))?;
                        // An installed app updates whatever its band, but
                        // never from a blocked publisher.
                        if let Err(refused) = node.judge_install(&name.publisher, &id, true) {
                            return Err(Failure {
                                causes: refused.reasons(),
                                error: format!("no update: {refused}"),
                            });
                        }
                        let wanted = Wanted {
                            name: ReleaseName {
                                version: wanted.name.version.clone(),
                                ..name
                            },
                            ..*wanted
                        };
                        (node.fetch_by_name(&wanted, reporter, FETCH_SHARE).await?.0, FETCH_SHARE)
                    }
                };
                if verified.manifest().id != id {
                    return Err(Failure::message(format!(
                        "the release is of {}, not of {id}",
                        verified.manifest().id
                    )));
                }
                // New dependencies of an update need `known` or better:
                // nobody confirmed them.
                node.meet_dependencies(verified.manifest(), reporter, share, false)
                    .await?;
                let done = node
                    .run_app_operation(reporter, (share, 100), async |o| {
                        o.update(&verified).await
                    })
                    .await?;
                node.refresh_trust_facts().await;
                Ok(done)
            })
        })
    }

    /// Starts `action` on installed app `id`; returns the operation's id.
    pub fn act(&self, id: &str, action: AppAction) -> Result<u64, OperationsError> {
        let id = id.to_owned();
        self.spawn_operation(action.name(), &id.clone(), move |node, reporter| {
            Box::pin(node.run_app_operation(reporter, (0, 100), async move |o| {
                match action {
                    AppAction::Start => o.start(&id).await,
                    AppAction::Stop => o.stop(&id).await,
                    AppAction::Restart => o.restart(&id).await,
                    AppAction::Reinstall => o.reinstall(&id).await,
                    AppAction::Uninstall { purge } => o.uninstall(&id, purge).await,
                }?;
                if let AppAction::Uninstall { .. } = action
                    && let Err(e) = node.state().set_auto_update(&id, false)
                {
                    tracing::warn!("{id}'s automatic update setting stays: {e}");
                }
                Ok(Done {
                    app: id,
                    operation: action.name(),
                })
            }))
        })
    }

    /// Runs one orchestrator operation, alone, forwarding its stages as
    /// progress within `span` (from, to) percent.
    pub(super) async fn run_app_operation<T: Serialize>(
        &self,
        reporter: &Reporter,
        (from, to): (u8, u8),
        work: impl AsyncFnOnce(&Orchestrator) -> Result<T, archy_orchestrator::Error>,
    ) -> Result<serde_json::Value, Failure> {
        let _alone = self.apps_lock().lock().await;
        let orchestrator = self.orchestrator();
        let mut events = orchestrator.subscribe();
        let forward = async {
            // Reconcile passes report as operation 0; every other event is
            // this operation's, since it runs alone.
            while let Ok(progress) = events.recv().await {
                if let (false, AppEvent::Stage { stage, percent }) =
                    (progress.op == 0, progress.event)
                {
                    let scaled = u16::from(from)
                        + u16::from(percent) * u16::from(to.saturating_sub(from)) / 100;
                    reporter.progress(u8::try_from(scaled).unwrap_or(100), stage.label());
                }
            }
        };
        let work = work(orchestrator);
        tokio::pin!(work);
        let result = tokio::select! {
            result = &mut work => result,
            // The channel closed (it cannot while the node holds the
            // orchestrator): the work goes on without progress.
            () = forward => work.await,
        };
        let value = result.map_err(|e| Failure::of(&e))?;
        serde_json::to_value(value).map_err(|e| Failure::of(&e))
    }

    /// Fetches and verifies a release by name, from every source the node
    /// knows: the providers of its verified listing, the publisher's
    /// remembered origin and the peers met before, after the nodes the
    /// user named. Progress takes 0 to `share` percent. Returns the
    /// release and its (total bytes, bytes already held before).
    pub(super) async fn fetch_by_name(
        &self,
        wanted: &Wanted,
        reporter: &Reporter,
        share: u8,
    ) -> Result<(VerifiedManifest, (u64, u64)), Failure> {
        reporter.progress(1, "finding sources");
        let name = &wanted.name;
        self.not_split(&name.publisher)?;
        self.one_root_pin(&name.publisher, reporter)?;
        let session = FetchSession::new(self.state().clone(), self.fetcher().clone());
        let mut request = name.request(wanted.origin.clone(), wanted.providers.clone());
        request.matching = wanted.matching.clone();
        session
            .add_known_nodes(&mut request)
            .map_err(|e| Failure::of(&e))?;
        if let Some(listing) = self.listing(name).await {
            self.use_listing(&listing, &mut request, reporter).await;
        }
        if request.origin.is_none() && request.providers.is_empty() {
            return Err(Failure::message(format!(
                "no node is known to serve {}: its listing names none and no earlier fetch met one",
                name_text(name)
            )));
        }
        let (mut total, mut held) = (0u64, 0u64);
        let result = session
            .fetch(&request, &mut |event| match event {
                FetchEvent::PinnedRoot { version, from } => reporter.notice(format!(
                    "pinned the publisher's root (version {version}) from {from}"
                )),
                FetchEvent::MetadataFrom { node } => {
                    reporter.notice(format!("catalog refreshed from {node}"));
                    reporter.progress(3, "catalog verified");
                }
                FetchEvent::SourceFailed { node, reason } => {
                    reporter.notice(format!("{node} could not give the catalog: {reason}"));
                }
                FetchEvent::ProviderFailed { node, blob } => reporter.notice(format!(
                    "provider {node} failed on {blob} (unreachable, or its bytes did not verify); the others are asked"
                )),
                FetchEvent::Resolved {
                    total_bytes,
                    already_held,
                    ..
                } => {
                    if already_held > 0 {
                        reporter.notice(format!(
                            "resuming: {already_held} of {total_bytes} bytes already here, verified"
                        ));
                    }
                    (total, held) = (total_bytes, already_held);
                    reporter.progress(fetch_percent(already_held, total, share), "fetching");
                }
                FetchEvent::Progress { bytes } => {
                    reporter.progress(fetch_percent(bytes, total, share), "fetching");
                }
            })
            .await;
        let verified = result.map_err(|e| Failure::of(&e))?;
        self.check_pins_after_fetch(&name.publisher)?;
        Ok((verified, (total, held)))
    }

    /// `name`'s verified listing in the market, if any.
    async fn listing(&self, name: &ReleaseName) -> Option<ListingRecord> {
        let market = self.market().cloned()?;
        let query = Query::Show {
            did: name.publisher.to_string(),
            app_id: name.app.clone(),
        };
        match tokio::task::spawn_blocking(move || market.answer(&query)).await {
            Ok(Answer::Listing {
                detail: Some(detail),
            }) => Some(detail.listing),
            _ => None,
        }
    }

    /// The provider tickets of `name`'s listing in the market, if any.
    /// They are hints: what is fetched is what the publisher's catalog
    /// names, checked hash by hash.
    pub(super) async fn listing_providers(&self, name: &ReleaseName) -> Vec<NodeTicket> {
        self.listing(name)
            .await
            .map(|l| providers_of(&l))
            .unwrap_or_default()
    }

    /// Adds a listing's providers to `request` as hints, unless the
    /// listing names another release for the version the catalog would
    /// give: then the listing is ignored, said, and counted.
    async fn use_listing(
        &self,
        listing: &ListingRecord,
        request: &mut FetchRequest,
        reporter: &Reporter,
    ) {
        let mut probe = request.clone();
        add_new(&mut probe.providers, providers_of(listing));
        if probe.origin.is_none() && probe.providers.is_empty() {
            return;
        }
        let metadata = self.state().metadata_of(&request.publisher);
        let resolved = self
            .fetcher()
            .resolve_release(metadata, &probe, &mut |_| {})
            .await;
        if let Ok((version, _, release)) = resolved
            && version == listing.version
            && release.map(|r| r.to_string()).as_deref() != Some(listing.release.as_str())
        {
            reporter.notice(format!(
                "the listing of {}/{} names release {} for {version}, but the publisher's catalog names {}: the listing is ignored",
                listing.did,
                listing.app_id,
                listing.release,
                release.map_or_else(|| "none".to_owned(), |r| r.to_string()),
            ));
            if let Some(market) = self.market()
                && let Err(e) = market.count_disagreeing_listing()
            {
                tracing::warn!("a disagreeing listing was not counted: {e}");
            }
            return;
        }
        // The listing agrees (or the catalog cannot be read now, which the
        // fetch then reports): its providers are hints.
        add_new(&mut request.providers, providers_of(listing));
    }
}

/// A listing's provider tickets that parse.
fn providers_of(listing: &ListingRecord) -> Vec<NodeTicket> {
    listing
        .providers
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// Appends the tickets of nodes not in `providers` yet.
fn add_new(providers: &mut Vec<NodeTicket>, more: Vec<NodeTicket>) {
    for ticket in more {
        if !providers.iter().any(|p| p.did() == ticket.did()) {
            providers.push(ticket);
        }
    }
}

/// Scales fetched bytes into 5 to `share` percent.
fn fetch_percent(bytes: u64, total: u64, share: u8) -> u8 {
    let done = bytes.min(total) * u64::from(share.saturating_sub(5)) / total.max(1);
    5 + u8::try_from(done).unwrap_or(share.saturating_sub(5))
}

fn name_text(name: &ReleaseName) -> String {
    match &name.version {
        Some(v) => format!("{}/{}@{v}", name.publisher, name.app),
        None => format!("{}/{}", name.publisher, name.app),
    }
}

/// A local app directory (or its manifest) as a dev release.
fn dev_release(path: &Path) -> Result<VerifiedManifest, Failure> {
    let manifest = if path.is_dir() {
        path.join("manifest.yml")
    } else {
        path.to_owned()
    };
    VerifiedManifest::from_dev_dir(&manifest).map_err(|e| Failure {
        error: format!("reading the dev app at {}", manifest.display()),
        causes: vec![e.to_string()],
    })
}
