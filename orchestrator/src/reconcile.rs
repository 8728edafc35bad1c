//! The reconciler: level-triggered, so each pass compares what the state
//! file wants with what podman has and closes the gap, whatever led to it —
//! a crash mid-operation, a container removed behind the node's back, a
//! process that died while podman still says "running", or a spec that
//! changed. It never starts what the user stopped, never brings back what
//! was uninstalled, and only touches objects labelled with its instance.

use serde::Serialize;

use crate::error::Error;
use crate::lifecycle::Orchestrator;
use crate::plan::{LABEL_APP, LABEL_INSTANCE, Names};
use crate::podman::Listed;
use crate::state::{AppRecord, Desired, Phase};

/// What one pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ReconcileReport {
    /// Apps looked at.
    pub apps: usize,
    /// Containers found as they should be.
    pub adopted: usize,
    /// Containers created because they were missing.
    pub created: Vec<String>,
    /// Containers replaced: spec drift, or a process gone.
    pub recreated: Vec<String>,
    /// Containers started because they had stopped on their own.
    pub started: Vec<String>,
    /// Containers and networks removed: uninstalled or unknown apps.
    pub removed: Vec<String>,
    /// Apps whose interrupted operation was finished.
    pub resumed: Vec<String>,
    /// Apps that could not be converged, with why.
    pub failed: Vec<(String, String)>,
}

impl ReconcileReport {
    /// Whether the pass changed nothing.
    pub fn is_quiet(&self) -> bool {
        self.created.is_empty()
            && self.recreated.is_empty()
            && self.started.is_empty()
            && self.removed.is_empty()
            && self.resumed.is_empty()
            && self.failed.is_empty()
    }
}

impl Orchestrator {
    /// One reconcile pass over every app.
    pub async fn reconcile(&self) -> Result<ReconcileReport, Error> {
        let _busy = self.busy.lock().await;
        self.podman.check().await?;
        let mut report = ReconcileReport::default();
        let listed = self
            .podman
            .containers_labelled(LABEL_INSTANCE, &self.instance)
            .await?;
        let records = self.state.apps()?;
        report.apps = records.len();
        for record in &records {
            let mine: Vec<&Listed> = listed
                .iter()
                .filter(|l| l.labels.get(LABEL_APP) == Some(&record.id))
                .collect();
            if let Err(e) = self.reconcile_app(record.clone(), &mine, &mut report).await {
                tracing::warn!(app = %record.id, "reconcile: {e}");
                report.failed.push((record.id.clone(), e.to_string()));
            }
        }
        for ghost in listed.iter().filter(|l| {
            !l.labels
                .get(LABEL_APP)
                .is_some_and(|app| records.iter().any(|r| &r.id == app))
        }) {
            self.podman.remove(&ghost.name).await?;
            report.removed.push(ghost.name.clone());
        }
        for network in self
            .podman
            .networks_labelled(LABEL_INSTANCE, &self.instance)
            .await?
        {
            let owned = records
                .iter()
                .any(|r| Names::new(&self.instance, &r.id).network() == network);
            if !owned {
                self.podman.remove_network(&network).await?;
                report.removed.push(network);
            }
        }
        Ok(report)
    }

    async fn reconcile_app(
        &self,
        mut record: AppRecord,
        listed: &[&Listed],
        report: &mut ReconcileReport,
    ) -> Result<(), Error> {
        match (record.desired, record.phase) {
            (Desired::Stopped, Phase::Installed) => return Ok(()),
            (Desired::Running, Phase::Installed) => {}
            (desired, phase) => {
                // An operation was cut short: finish it, reporting as any
                // operation does.
                let mut reporter = self.reporter(&record.id, "resume");
                let result = if desired == Desired::Removed || phase == Phase::Removing {
                    self.finish_removal(&record, &mut reporter).await
                } else if phase == Phase::Updating {
                    // The new release was never seen healthy, so the
                    // previous one runs again.
                    self.roll_back(&mut record, &mut reporter).await
                } else {
                    self.finish_install(&mut record, &mut reporter).await
                };
                reporter.finish(&result);
                result?;
                report.resumed.push(record.id.clone());
                return Ok(());
            }
        }
        let plan = self.plan_of(&record, &record.current)?;
        let missing: Vec<String> = plan
            .containers
            .iter()
            .filter(|c| !listed.iter().any(|l| l.name == c.podman_name))
            .map(|c| c.podman_name.clone())
            .collect();
        if !missing.is_empty() {
            // The install path creates what is missing (image, network,
            // containers) and keeps what is there.
            let mut reporter = self.reporter(&record.id, "recreate");
            let result = self.bring_up(&record, &record.current, &mut reporter).await;
            reporter.finish(&result);
            result?;
            report.created.extend(missing);
            return Ok(());
        }
        for stale in listed
            .iter()
            .filter(|l| !plan.containers.iter().any(|c| c.podman_name == l.name))
        {
            self.podman.remove(&stale.name).await?;
            report.removed.push(stale.name.clone());
        }
        for c in &plan.containers {
            let Some(found) = listed.iter().find(|l| l.name == c.podman_name) else {
                continue;
            };
            if self.ensure_created(c, &plan, Some(found)).await? {
                self.podman.start(&c.podman_name).await?;
                report.recreated.push(c.podman_name.clone());
            } else if !found.is_alive() {
                self.podman.start(&c.podman_name).await?;
                report.started.push(c.podman_name.clone());
            } else {
                report.adopted += 1;
            }
        }
        Ok(())
    }
}
