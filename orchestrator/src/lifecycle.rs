//! The lifecycle of apps: install, start, stop, restart, reinstall, update
//! and uninstall. Each operation writes what the user wants to the state
//! file before it touches podman, so a node killed half-way leaves a record
//! the reconciler can finish from; each is journalled and reports progress.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use archy_registry::manifest::ImageRef;
use archy_registry::verified::VerifiedManifest;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast};

use crate::error::Error;
use crate::health;
use crate::plan::{self, AppPlan, ContainerPlan, LABEL_APP, LABEL_INSTANCE, PlanInput};
use crate::podman::{Listed, Podman, Socket};
use crate::ports::{self, TakenPorts};
use crate::progress::{CHANNEL_CAPACITY, Progress, Reporter, Stage};
use crate::secrets;
use crate::state::{AppRecord, Desired, ImageBlob, Phase, RecordedRelease, State, now};

/// Longest a verified archive may take to re-hash before loading.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the orchestrator keeps its files and which podman it drives.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its directory: `orchestrator.redb` and `apps/ID/{data,secrets}`.
    pub dir: PathBuf,
    /// The name its podman objects carry, so several nodes can share one
    /// podman without touching each other's apps.
    pub instance: String,
    /// The podman socket.
    pub socket: Socket,
}

/// Runs verified apps under podman.
pub struct Orchestrator {
    pub(crate) podman: Podman,
    pub(crate) state: State,
    pub(crate) dir: PathBuf,
    pub(crate) instance: String,
    events: broadcast::Sender<Progress>,
    /// One operation (or reconcile pass) at a time.
    pub(crate) busy: Mutex<()>,
}

/// An app as `archy app ls` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppSummary {
    /// The app id.
    pub id: String,
    /// The version that should run.
    pub version: String,
    /// What the user wants.
    pub desired: Desired,
    /// Where its lifecycle is.
    pub phase: Phase,
    /// A developer's unpublished app.
    pub dev: bool,
    /// The publisher's DID.
    pub publisher: String,
    /// Host ports, by `container/port/protocol`.
    pub host_ports: BTreeMap<String, u16>,
}

impl AppSummary {
    fn of(record: &AppRecord) -> Self {
        Self {
            id: record.id.clone(),
            version: record.current.version(),
            desired: record.desired,
            phase: record.phase,
            dev: record.current.dev,
            publisher: record.current.publisher.clone(),
            host_ports: record.host_ports.clone(),
        }
    }
}

/// One container's state, for `archy app status`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContainerStatus {
    /// Its name in the manifest.
    pub name: String,
    /// Its podman name.
    pub podman_name: String,
    /// podman's state, or "missing".
    pub state: String,
    /// "healthy", "unhealthy: …", "no check" or "not running".
    pub health: String,
}

/// An app with the state of each container.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppStatus {
    /// The app.
    #[serde(flatten)]
    pub app: AppSummary,
    /// Its containers in start order.
    pub containers: Vec<ContainerStatus>,
}

impl Orchestrator {
    /// Opens the state. Podman is not needed for that (listing apps and
    /// the journal work without it); each operation, status and reconcile
    /// pass checks that podman answers first. Operations cut short by a
    /// crash are marked "interrupted" in the journal; call
    /// [`Orchestrator::reconcile`] next to finish them.
    pub async fn open(config: Config) -> Result<Self, Error> {
        let podman = Podman::new(&config.socket);
        let state = State::open(&config.dir.join("orchestrator.redb"))?;
        for entry in state.close_interrupted()? {
            tracing::warn!(app = %entry.app, op = %entry.op, "an operation was interrupted; the reconciler finishes it");
        }
        let (events, _) = broadcast::channel(CHANNEL_CAPACITY);
        Ok(Self {
            podman,
            state,
            dir: config.dir,
            instance: config.instance,
            events,
            busy: Mutex::new(()),
        })
    }

    /// Progress events of every operation from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Progress> {
        self.events.subscribe()
    }

    /// The podman client.
    pub fn podman(&self) -> &Podman {
        &self.podman
    }

    /// The journal, oldest first.
    pub fn journal(&self) -> Result<Vec<crate::state::JournalEntry>, Error> {
        self.state.journal()
    }

    /// Records a decision about `app` that is not an operation (an install
    /// the user confirmed against the node's policy, say), ended at once.
    pub fn journal_note(&self, app: &str, op: &str, outcome: &str) -> Result<(), Error> {
        let seq = self.state.journal_start(app, op)?;
        self.state.journal_finish(seq, outcome)
    }

    /// The directory holding an app's data (`data/`) and secrets (`secrets/`).
    pub fn app_dir(&self, app: &str) -> PathBuf {
        self.dir.join("apps").join(app)
    }

    pub(crate) fn plan_of(
        &self,
        record: &AppRecord,
        release: &RecordedRelease,
    ) -> Result<AppPlan, Error> {
        let app_dir = self.app_dir(&record.id);
        plan::plan(
            &release.manifest()?,
            &PlanInput {
                instance: &self.instance,
                app_dir: &app_dir,
                host_ports: &record.host_ports,
                dev: release.dev,
            },
        )
    }

    /// A reporter for work the reconciler does on its own (sequence 0).
    pub(crate) fn reporter(&self, app: &str, op: &str) -> Reporter {
        Reporter::new(self.events.clone(), 0, op, app)
    }

    /// Runs one journalled operation: one at a time, with its progress
    /// reporter, ending in exactly one terminal event and journal outcome.
    async fn operation<T>(
        &self,
        app: &str,
        op: &str,
        work: impl AsyncFnOnce(&mut Reporter) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let _busy = self.busy.lock().await;
        self.podman.check().await?;
        let seq = self.state.journal_start(app, op)?;
        let mut reporter = Reporter::new(self.events.clone(), seq, op, app);
        let result = work(&mut reporter).await;
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        if let Err(e) = self.state.journal_finish(seq, &outcome) {
            tracing::warn!("journal: {e}");
        }
        reporter.finish(&result);
        result
    }

    fn record(&self, app: &str) -> Result<AppRecord, Error> {
        self.state
            .app(app)?
            .filter(|r| r.desired != Desired::Removed)
            .ok_or_else(|| Error::NotInstalled(app.to_owned()))
    }

    /// The containers of `app` that this instance owns, in any state.
    pub async fn containers(&self, app: &str) -> Result<Vec<Listed>, Error> {
        let listed = self.podman.containers_labelled(LABEL_APP, app).await?;
        Ok(listed
            .into_iter()
            .filter(|l| l.labels.get(LABEL_INSTANCE) == Some(&self.instance))
            .collect())
    }

    /// Every installed app.
    pub fn list(&self) -> Result<Vec<AppSummary>, Error> {
        Ok(self.state.apps()?.iter().map(AppSummary::of).collect())
    }

    /// The installed apps whose release declares `app` as a dependency,
    /// sorted: stopping or removing `app` would leave them without it.
    pub fn dependents(&self, app: &str) -> Result<Vec<String>, Error> {
        let mut dependents = Vec::new();
        for record in self.state.apps()? {
            let manifest = record.current.manifest()?;
            if record.id != app && manifest.dependencies.iter().any(|d| d.id == app) {
                dependents.push(record.id.clone());
            }
        }
        dependents.sort();
        Ok(dependents)
    }

    /// One app with the state and health of each container.
    pub async fn status(&self, app: &str) -> Result<AppStatus, Error> {
        let record = self.record(app)?;
        self.podman.check().await?;
        let plan = self.plan_of(&record, &record.current)?;
        let listed = self.containers(app).await?;
        let mut containers = Vec::new();
        for c in &plan.containers {
            let found = listed.iter().find(|l| l.name == c.podman_name);
            let health = match (found, &c.health) {
                (Some(l), _) if !l.is_alive() => "not running".to_owned(),
                (None, _) => "not running".to_owned(),
                (Some(_), None) => "no check".to_owned(),
                (Some(_), Some(h)) => match health::probe(&self.podman, c, h).await {
                    Ok(()) => "healthy".to_owned(),
                    Err(reason) => format!("unhealthy: {reason}"),
                },
            };
            containers.push(ContainerStatus {
                name: c.name.clone(),
                podman_name: c.podman_name.clone(),
                state: found.map_or("missing".to_owned(), |l| {
                    if l.state == "running" && !l.is_alive() {
                        "running (process gone)".to_owned()
                    } else {
                        l.state.clone()
                    }
                }),
                health,
            });
        }
        Ok(AppStatus {
            app: AppSummary::of(&record),
            containers,
        })
    }

    /// Installs a verified app and waits until it is healthy. A failed
    /// install removes what it created (data and secrets stay) and forgets
    /// the app, so nothing half-installed is left to resurrect.
    pub async fn install(&self, verified: &VerifiedManifest) -> Result<AppSummary, Error> {
        let app = &verified.manifest().id;
        self.operation(app, "install", async |reporter| {
            self.install_inner(verified, reporter).await
        })
        .await
    }

    async fn install_inner(
        &self,
        verified: &VerifiedManifest,
        reporter: &mut Reporter,
    ) -> Result<AppSummary, Error> {
        let manifest = verified.manifest();
        if let Some(existing) = self.state.app(&manifest.id)? {
            if existing.desired != Desired::Removed {
                return Err(Error::AlreadyInstalled {
                    app: manifest.id.clone(),
                    version: existing.current.version(),
                });
            }
            // An uninstall that did not finish: finish it (keeping data).
            self.teardown(&existing, reporter).await?;
            self.state.remove_app(&manifest.id)?;
        }
        let release = recorded_release(verified)?;
        let taken = self.taken_ports(&manifest.id).await?;
        let app_dir = self.app_dir(&manifest.id);
        let host_ports = ports::choose(manifest, &ports::kept(&app_dir), &taken)?;
        ports::keep(&app_dir, &host_ports)?;
        let record = AppRecord {
            id: manifest.id.clone(),
            current: release,
            previous: None,
            host_ports,
            desired: Desired::Running,
            phase: Phase::Installing,
            purge: false,
            installed_at: now(),
        };
        self.state.put_app(&record)?;
        let mut record = record;
        if let Err(e) = self.finish_install(&mut record, reporter).await {
            reporter.stage(Stage::Remove, 95);
            if let Err(cleanup) = self.teardown(&record, reporter).await {
                tracing::warn!(app = %record.id, "cleaning up a failed install: {cleanup}");
            }
            self.state.remove_app(&record.id)?;
            return Err(e);
        }
        Ok(AppSummary::of(&record))
    }

    /// From a recorded install to a healthy, settled app.
    pub(crate) async fn finish_install(
        &self,
        record: &mut AppRecord,
        reporter: &mut Reporter,
    ) -> Result<(), Error> {
        self.bring_up(record, &record.current, reporter).await?;
        record.phase = Phase::Installed;
        self.state.put_app(record)
    }

    /// Ports other apps and other containers hold.
    async fn taken_ports(&self, app: &str) -> Result<TakenPorts, Error> {
        let mut taken = TakenPorts::default();
        for record in self.state.apps()? {
            if record.id == app {
                continue;
            }
            for (key, port) in &record.host_ports {
                let protocol = key.rsplit('/').next().unwrap_or("tcp");
                taken.add(*port, protocol, format!("app {}", record.id));
            }
        }
        for listed in self.podman.all_containers().await? {
            let own = listed.labels.get(LABEL_APP).is_some_and(|a| a == app)
                && listed.labels.get(LABEL_INSTANCE) == Some(&self.instance);
            for (port, protocol) in &listed.host_ports {
                if own {
                    taken.add_own(*port, protocol);
                } else {
                    taken.add(*port, protocol, format!("container {}", listed.name));
                }
            }
        }
        Ok(taken)
    }

    /// Everything from image load to healthy, for `release` of `record`.
    /// Objects that already exist with the right spec are kept, so this is
    /// also how an interrupted install or a start finishes.
    pub(crate) async fn bring_up(
        &self,
        record: &AppRecord,
        release: &RecordedRelease,
        reporter: &mut Reporter,
    ) -> Result<(), Error> {
        // A release being installed or updated to is checked in full; after
        // that, an archive is re-checked only when podman needs it loaded.
        let new_release = matches!(record.phase, Phase::Installing | Phase::Updating);
        reporter.stage(Stage::Verify, 0);
        if new_release {
            verify_images(&release.images).await?;
        }
        reporter.stage(Stage::LoadImage, 10);
        for image in &release.images {
            if !self.podman.image_exists(&image.id).await? {
                if !new_release {
                    verify_images(std::slice::from_ref(image)).await?;
                }
                self.podman.load_image(&image.path).await?;
                if !self.podman.image_exists(&image.id).await? {
                    return Err(Error::BlobMismatch {
                        path: image.path.clone(),
                        reason: format!("podman loaded it, but no image {} appeared", image.id),
                    });
                }
            }
        }
        let plan = self.plan_of(record, release)?;
        let manifest = release.manifest()?;
        reporter.stage(Stage::DataDirs, 40);
        for dir in &plan.data_dirs {
            std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        }
        reporter.stage(Stage::Secrets, 50);
        secrets::ensure(&self.app_dir(&record.id), &manifest.generated_secrets)?;
        reporter.stage(Stage::Network, 55);
        self.podman
            .ensure_network(&plan.network, &plan.labels)
            .await?;
        reporter.stage(Stage::Create, 60);
        let listed = self.containers(&record.id).await?;
        for stale in listed
            .iter()
            .filter(|l| !plan.containers.iter().any(|c| c.podman_name == l.name))
        {
            self.podman.remove(&stale.name).await?;
        }
        for c in &plan.containers {
            self.ensure_created(c, &plan, listed.iter().find(|l| l.name == c.podman_name))
                .await?;
        }
        let count = plan.containers.len().max(1) as u8;
        for (i, c) in plan.containers.iter().enumerate() {
            reporter.stage(Stage::Start, 70 + 15 * i as u8 / count);
            self.podman.start(&c.podman_name).await?;
            if let Some(h) = &c.health {
                reporter.stage(Stage::Healthy, 85 + 15 * i as u8 / count);
                health::wait_healthy(&self.podman, c, h)
                    .await
                    .map_err(|(after, reason)| Error::Unhealthy {
                        app: record.id.clone(),
                        container: c.name.clone(),
                        after,
                        reason,
                    })?;
            }
        }
        Ok(())
    }

    /// Creates a container unless one with the same spec exists; one with
    /// another spec, or whose process is gone, is replaced.
    pub(crate) async fn ensure_created(
        &self,
        c: &ContainerPlan,
        plan: &AppPlan,
        found: Option<&Listed>,
    ) -> Result<bool, Error> {
        if let Some(l) = found {
            let same_spec = l.labels.get(plan::LABEL_SPEC) == Some(&c.spec_hash);
            let ghost = l.state == "running" && !l.is_alive();
            if same_spec && !ghost {
                return Ok(false);
            }
            self.podman.remove(&l.name).await?;
        }
        self.podman
            .create(&c.podman_name, &c.create_opts(&plan.labels))
            .await?;
        Ok(true)
    }

    /// Stops and removes the app's containers (reverse start order) and its
    /// network. Data and secrets stay.
    pub(crate) async fn teardown(
        &self,
        record: &AppRecord,
        reporter: &mut Reporter,
    ) -> Result<(), Error> {
        let plan = self.plan_of(record, &record.current)?;
        reporter.stage(Stage::Stop, 10);
        self.stop_containers(&plan).await?;
        reporter.stage(Stage::Remove, 60);
        for l in &self.containers(&record.id).await? {
            self.podman.remove(&l.name).await?;
        }
        self.podman.remove_network(&plan.network).await
    }

    async fn stop_containers(&self, plan: &AppPlan) -> Result<(), Error> {
        for c in plan.containers.iter().rev() {
            self.podman.stop(&c.podman_name, c.grace).await?;
        }
        Ok(())
    }

    /// Starts a stopped app (recreating anything missing) and waits for it
    /// to be healthy.
    pub async fn start(&self, app: &str) -> Result<(), Error> {
        self.operation(app, "start", async |reporter| {
            let mut record = self.record(app)?;
            record.desired = Desired::Running;
            self.state.put_app(&record)?;
            self.bring_up(&record, &record.current, reporter).await
        })
        .await
    }

    /// Stops an app, honouring each container's grace; the reconciler will
    /// not start it again.
    pub async fn stop(&self, app: &str) -> Result<(), Error> {
        self.operation(app, "stop", async |reporter| {
            let mut record = self.record(app)?;
            record.desired = Desired::Stopped;
            self.state.put_app(&record)?;
            reporter.stage(Stage::Stop, 10);
            self.stop_containers(&self.plan_of(&record, &record.current)?)
                .await
        })
        .await
    }

    /// Stops then starts an app.
    pub async fn restart(&self, app: &str) -> Result<(), Error> {
        self.operation(app, "restart", async |reporter| {
            let mut record = self.record(app)?;
            reporter.stage(Stage::Stop, 5);
            self.stop_containers(&self.plan_of(&record, &record.current)?)
                .await?;
            record.desired = Desired::Running;
            self.state.put_app(&record)?;
            self.bring_up(&record, &record.current, reporter).await
        })
        .await
    }

    /// Removes the app's containers and network and creates them afresh
    /// from the same release; data and secrets stay.
    pub async fn reinstall(&self, app: &str) -> Result<(), Error> {
        self.operation(app, "reinstall", async |reporter| {
            let mut record = self.record(app)?;
            self.teardown(&record, reporter).await?;
            record.desired = Desired::Running;
            self.state.put_app(&record)?;
            self.bring_up(&record, &record.current, reporter).await
        })
        .await
    }

    /// Uninstalls an app. Its data and secrets stay unless `purge`, so a
    /// later install finds them.
    pub async fn uninstall(&self, app: &str, purge: bool) -> Result<(), Error> {
        let op = if purge {
            "uninstall --purge"
        } else {
            "uninstall"
        };
        self.operation(app, op, async |reporter| {
            let mut record = self
                .state
                .app(app)?
                .ok_or_else(|| Error::NotInstalled(app.to_owned()))?;
            record.desired = Desired::Removed;
            record.phase = Phase::Removing;
            record.purge |= purge;
            self.state.put_app(&record)?;
            self.finish_removal(&record, reporter).await
        })
        .await
    }

    /// The rest of an uninstall, from any point it was cut at.
    pub(crate) async fn finish_removal(
        &self,
        record: &AppRecord,
        reporter: &mut Reporter,
    ) -> Result<(), Error> {
        self.teardown(record, reporter).await?;
        if record.purge {
            reporter.stage(Stage::Purge, 90);
            let dir = self.app_dir(&record.id);
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::file(&dir, e));
                }
                _ => {}
            }
        }
        self.state.remove_app(&record.id)
    }

    /// Replaces an installed app with a new verified release, keeping its
    /// data. If the new one does not become healthy, the previous release
    /// runs again and the error says so.
    pub async fn update(&self, verified: &VerifiedManifest) -> Result<AppSummary, Error> {
        let app = &verified.manifest().id;
        self.operation(app, "update", async |reporter| {
            self.update_inner(verified, reporter).await
        })
        .await
    }

    async fn update_inner(
        &self,
        verified: &VerifiedManifest,
        reporter: &mut Reporter,
    ) -> Result<AppSummary, Error> {
        let manifest = verified.manifest();
        let old = self.record(&manifest.id)?;
        let release = recorded_release(verified)?;
        let taken = self.taken_ports(&manifest.id).await?;
        let host_ports = ports::choose(manifest, &old.host_ports, &taken)?;
        ports::keep(&self.app_dir(&manifest.id), &host_ports)?;
        let mut record = AppRecord {
            current: release,
            previous: Some(old.current.clone()),
            host_ports,
            desired: Desired::Running,
            phase: Phase::Updating,
            ..old.clone()
        };
        self.state.put_app(&record)?;
        self.teardown(&old, reporter).await?;
        match self.bring_up(&record, &record.current, reporter).await {
            Ok(()) => {
                record.previous = None;
                record.phase = Phase::Installed;
                self.state.put_app(&record)?;
                Ok(AppSummary::of(&record))
            }
            Err(e) => {
                reporter.stage(Stage::Rollback, 90);
                let to = record.current.version();
                self.roll_back(&mut record, reporter).await?;
                Err(Error::RolledBack {
                    app: record.id.clone(),
                    from: record.current.version(),
                    to,
                    reason: e.to_string(),
                })
            }
        }
    }

    /// Puts `record.previous` back as the running release.
    pub(crate) async fn roll_back(
        &self,
        record: &mut AppRecord,
        reporter: &mut Reporter,
    ) -> Result<(), Error> {
        let Some(previous) = record.previous.take() else {
            return Ok(());
        };
        self.teardown(record, reporter).await?;
        record.current = previous;
        record.phase = Phase::Installed;
        self.state.put_app(record)?;
        self.bring_up(record, &record.current, reporter).await
    }
}

/// The release as the state file records it: the manifest, and each image
/// archive with its verified path (re-hashed before podman loads it).
fn recorded_release(verified: &VerifiedManifest) -> Result<RecordedRelease, Error> {
    let manifest = verified.manifest();
    let mut images: Vec<ImageBlob> = Vec::new();
    for container in &manifest.containers {
        let ImageRef::Published { blake3, size, id } = container.image.clone() else {
            return Err(Error::plan(
                &manifest.id,
                "a verified manifest names an unpublished image",
            ));
        };
        if images.iter().any(|i| i.blake3 == blake3.to_string()) {
            continue;
        }
        let path = verified.path_of(blake3).ok_or_else(|| {
            Error::plan(
                &manifest.id,
                format!("the verified release has no blob {blake3}"),
            )
        })?;
        images.push(ImageBlob {
            blake3: blake3.to_string(),
            size,
            id: id.to_string(),
            path: path.to_owned(),
        });
    }
    Ok(RecordedRelease {
        manifest: serde_json::to_value(manifest)
            .map_err(|e| Error::plan(&manifest.id, e.to_string()))?,
        release: verified.release().to_string(),
        publisher: verified.publisher().to_string(),
        dev: verified.is_dev(),
        images,
    })
}

/// Re-hashes each archive: a blob changed on disk since it was verified
/// never reaches podman.
pub(crate) async fn verify_images(images: &[ImageBlob]) -> Result<(), Error> {
    for image in images {
        let path = image.path.clone();
        let hashing = tokio::task::spawn_blocking(move || hash_file(&path));
        let (hash, size) = tokio::time::timeout(VERIFY_TIMEOUT, hashing)
            .await
            .map_err(|_| {
                Error::file(
                    &image.path,
                    format!("hashing took longer than {} s", VERIFY_TIMEOUT.as_secs()),
                )
            })?
            .map_err(|e| Error::file(&image.path, e))??;
        if size != image.size || hash != image.blake3 {
            return Err(Error::BlobMismatch {
                path: image.path.clone(),
                reason: format!(
                    "expected {} bytes with BLAKE3 {}, found {size} bytes with BLAKE3 {hash}",
                    image.size, image.blake3
                ),
            });
        }
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<(String, u64), Error> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::file(path, e))?;
    let mut hasher = blake3::Hasher::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(|e| Error::file(path, e))?;
    Ok((hasher.finalize().to_hex().to_string(), size))
}
