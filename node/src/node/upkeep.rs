//! Catalog upkeep, a pass every `swarm.upkeep_every` seconds:
//!
//! - the timestamps (and any role close to expiry) of the catalogs this
//!   node publishes are re-signed when it holds their key, so followers
//!   never see them expire while the node runs;
//! - the catalog of each installed app's publisher is refreshed (an
//!   unchanged catalog costs one request) and a newer release not yanked
//!   is noted as "update available", which `GET /api/apps` and `archy app
//!   ls` show; `archy app update APP` installs it, and so does upkeep
//!   itself for the apps whose automatic update is on (off by default;
//!   each version is tried once: one that fails is rolled back and not
//!   tried again until a newer one appears or the node restarts);
//! - the catalogs of the other publishers the node fetched from are
//!   refreshed too, so the metadata it serves to peers stays current.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use archy_orchestrator::AppSummary;
use archy_orchestrator::state::Desired;
use archy_registry::catalog::Repository;
use archy_registry::tuf::time::UtcTime;
use archy_trust::keyfile;
use tokio::sync::watch;

use super::{Node, UpdateSource, Wanted};
use crate::fetching::{FetchSession, ReleaseName};

/// Longest re-signing the node's catalogs (local files) may hold a pass.
const RESIGN_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest one app's catalog refresh may take.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(60);

/// A catalog this node publishes and the key file it is signed with.
#[derive(Debug, Clone)]
pub(super) struct SignedCatalog {
    /// The catalog directory.
    pub dir: PathBuf,
    /// The key that signs its timestamp.
    pub key: PathBuf,
}

/// The catalogs among `config`'s (and the demo's) that the node holds the
/// key of.
pub(super) fn signed_catalogs(
    data: &crate::data_dir::DataDir,
    key: Option<&std::path::Path>,
    identity: &archy_trust::Identity,
    config: &crate::config::NodeConfig,
    demo: Option<&crate::demo::DemoPublisher>,
) -> Vec<SignedCatalog> {
    let node_key = key.map_or_else(|| data.root().join("node.key"), std::path::Path::to_owned);
    let did = identity.did().to_string();
    let mut signed: Vec<SignedCatalog> = config
        .swarm
        .catalogs
        .iter()
        .filter(|dir| {
            Repository::open(dir)
                .and_then(|r| r.every_key_did())
                .is_ok_and(|keys| keys.contains(&did))
        })
        .map(|dir| SignedCatalog {
            dir: dir.clone(),
            key: node_key.clone(),
        })
        .collect();
    signed.extend(demo.map(|d| SignedCatalog {
        dir: d.catalog().to_owned(),
        key: d.key_file().to_owned(),
    }));
    signed
}

/// Newer releases found for installed apps: app id → version.
pub(super) type Updates = std::sync::Mutex<BTreeMap<String, String>>;

/// Runs an upkeep pass every `every` until `stop` turns true.
pub(super) async fn upkeep_loop(node: Node, every: Duration, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        node.upkeep_pass().await;
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(every) => {}
        }
    }
}

impl Node {
    /// One pass: re-sign what is close to expiry, then look for updates.
    pub async fn upkeep_pass(&self) {
        let catalogs = self.inner.signed_catalogs.clone();
        let resigned = tokio::time::timeout(
            RESIGN_TIMEOUT,
            tokio::task::spawn_blocking(move || resign(&catalogs)),
        )
        .await;
        match resigned {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("re-signing the node's catalogs stopped: {e}"),
            Err(_) => tracing::warn!(
                "re-signing the node's catalogs took over {} s; the pass goes on without waiting",
                RESIGN_TIMEOUT.as_secs()
            ),
        }
        self.find_updates().await;
        self.refresh_trust_facts().await;
    }

    /// Newer releases found for installed apps: app id → version.
    pub fn updates_available(&self) -> BTreeMap<String, String> {
        self.inner
            .updates
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default()
    }

    async fn find_updates(&self) {
        let apps = match self.orchestrator().list() {
            Ok(apps) => apps,
            Err(e) => {
                tracing::warn!("upkeep cannot list the apps: {e}");
                return;
            }
        };
        let mut found = BTreeMap::new();
        for app in apps
            .iter()
            .filter(|a| !a.dev && a.desired != Desired::Removed)
        {
            let Ok(name) = ReleaseName::from_str(&format!("{}/{}", app.publisher, app.id)) else {
                continue;
            };
            let session = FetchSession::new(self.state().clone(), self.fetcher().clone());
            let mut request = name.request(None, self.listing_providers(&name).await);
            if let Err(e) = session.add_known_nodes(&mut request) {
                tracing::debug!("no sources for {}: {e}", app.id);
                continue;
            }
            let metadata = self.state().metadata_of(&name.publisher);
            let newest = tokio::time::timeout(
                REFRESH_TIMEOUT,
                self.fetcher()
                    .resolve_release(metadata, &request, &mut |_| {}),
            )
            .await;
            match newest {
                Ok(Ok((version, _, _))) => {
                    let newer = semver::Version::parse(&version)
                        .ok()
                        .zip(semver::Version::parse(&app.version).ok())
                        .is_some_and(|(new, old)| new > old);
                    if newer {
                        found.insert(app.id.clone(), version);
                    }
                }
                Ok(Err(e)) => tracing::debug!("{}'s catalog was not refreshed: {e}", app.id),
                Err(_) => tracing::debug!("{}'s catalog did not answer in time", app.id),
            }
        }
        self.start_auto_updates(&found, &apps);
        if let Ok(mut updates) = self.inner.updates.lock() {
            *updates = found;
        }
        let with_apps: Vec<&str> = apps
            .iter()
            .filter(|a| !a.dev && a.desired != Desired::Removed)
            .map(|a| a.publisher.as_str())
            .collect();
        self.refresh_followed(&with_apps).await;
    }

    /// Starts an update of each app whose automatic update is on and for
    /// which `found` names a newer release, once per version.
    fn start_auto_updates(&self, found: &BTreeMap<String, String>, apps: &[AppSummary]) {
        let auto = match self.state().auto_updated() {
            Ok(auto) => auto,
            Err(e) => {
                tracing::warn!("upkeep cannot read which apps update themselves: {e}");
                return;
            }
        };
        let Ok(mut attempted) = self.inner.auto_attempted.lock() else {
            return;
        };
        for (id, version) in found {
            if !auto.contains(id) || attempted.get(id) == Some(version) {
                continue;
            }
            let Some(app) = apps.iter().find(|a| &a.id == id) else {
                continue;
            };
            let Ok(name) = ReleaseName::from_str(&format!("{}/{id}@{version}", app.publisher))
            else {
                continue;
            };
            let wanted = Wanted {
                name,
                origin: None,
                providers: Vec::new(),
                matching: None,
            };
            match self.update(id, UpdateSource::Catalog(Box::new(wanted))) {
                Ok(op) => {
                    tracing::info!("updating {id} to {version} by itself (operation {op})");
                    attempted.insert(id.clone(), version.clone());
                }
                Err(e) => tracing::warn!("the automatic update of {id} did not start: {e}"),
            }
        }
    }

    /// Refreshes the catalogs of the publishers this node fetched from and
    /// has no app of (those were refreshed looking for updates).
    async fn refresh_followed(&self, done: &[&str]) {
        let followed = match self.state().publishers() {
            Ok(followed) => followed,
            Err(e) => {
                tracing::warn!("upkeep cannot list the publishers: {e}");
                return;
            }
        };
        for (did, _) in followed.iter().filter(|(d, _)| !done.contains(&d.as_str())) {
            // Any app id names the catalog; refreshing reads no target.
            let Ok(name) = ReleaseName::from_str(&format!("{did}/catalog")) else {
                continue;
            };
            let session = FetchSession::new(self.state().clone(), self.fetcher().clone());
            let mut request = name.request(None, Vec::new());
            if session.add_known_nodes(&mut request).is_err() {
                continue;
            }
            let metadata = self.state().metadata_of(&name.publisher);
            let refreshed = tokio::time::timeout(
                REFRESH_TIMEOUT,
                self.fetcher()
                    .refresh_catalog(metadata, &request, &mut |_| {}),
            )
            .await;
            match refreshed {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("{did}'s catalog was not refreshed: {e}"),
                Err(_) => tracing::debug!("{did}'s catalog did not answer in time"),
            }
        }
    }
}

/// Re-signs what is close to expiry in each catalog (always the
/// timestamp), with its key.
fn resign(catalogs: &[SignedCatalog]) {
    for catalog in catalogs {
        let signed = keyfile::load(&catalog.key)
            .map_err(|e| e.to_string())
            .and_then(|key| {
                Repository::open(&catalog.dir)
                    .and_then(|repo| repo.refresh(std::slice::from_ref(&key), UtcTime::now()))
                    .map_err(|e| e.to_string())
            });
        match signed {
            Ok(roles) if !roles.is_empty() => {
                tracing::info!(
                    "re-signed {} of {}",
                    roles.join(", "),
                    catalog.dir.display()
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("{} was not re-signed: {e}", catalog.dir.display()),
        }
    }
}
