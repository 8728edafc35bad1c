//! What a running node does on request to look after its own parts, as
//! operations: a reconcile pass of its apps now (`archy app reconcile`),
//! the lifecycle matrix on a local app (`archy app test`), a garbage
//! collection of its blob store (`archy blobs gc`), and receiving what an
//! iroh blob ticket names (`archy blobs get`).

use std::path::PathBuf;

use archy_registry::verified::VerifiedManifest;

use super::Node;
use crate::app_test;
use crate::operations::{Failure, OperationsError};

/// Bytes between two progress reports of a ticket download.
const RECEIVE_REPORT_EVERY: u64 = 1 << 20;

impl Node {
    /// Starts a reconcile pass of every app now; the result is the pass's
    /// report (apps whose containers failed to converge are in `failed`).
    pub fn reconcile_now(&self) -> Result<u64, OperationsError> {
        self.spawn_operation("reconcile", "apps", |node, reporter| {
            Box::pin(node.run_app_operation(reporter, (0, 100), async |o| o.reconcile().await))
        })
    }

    /// Starts the lifecycle matrix on the local app at `manifest` (a
    /// source manifest.yml): install, reachable, stop, start, restart,
    /// uninstall, reinstall, data survives, purge. The result is the
    /// matrix's rows; the operation succeeds even when a row fails.
    pub fn lifecycle_test(&self, manifest: PathBuf) -> Result<u64, OperationsError> {
        let subject = manifest.display().to_string();
        self.spawn_operation("test", &subject, |node, reporter| {
            Box::pin(async move {
                let app = VerifiedManifest::from_dev_dir(&manifest).map_err(|e| Failure {
                    error: format!("reading the app at {}", manifest.display()),
                    causes: vec![e.to_string()],
                })?;
                node.run_app_operation(reporter, (0, 100), async |o| {
                    Ok(app_test::run(o, &app).await)
                })
                .await
            })
        })
    }

    /// Starts one garbage collection of the node's blob store, which
    /// keeps serving meanwhile: every blob no pin reaches is removed.
    pub fn collect_garbage(&self) -> Result<u64, OperationsError> {
        self.spawn_operation("gc", "blobs", |node, reporter| {
            Box::pin(async move {
                reporter.progress(10, "collecting");
                let report = node
                    .blobs()
                    .collect_garbage()
                    .await
                    .map_err(|e| Failure::of(&e))?;
                serde_json::to_value(report).map_err(|e| Failure::of(&e))
            })
        })
    }

    /// Starts receiving what an iroh blob ticket names (from `sendme send`
    /// or a node's share) into the directory `out`, verified; the result
    /// lists the files written.
    pub fn receive_ticket(&self, ticket: String, out: PathBuf) -> Result<u64, OperationsError> {
        let subject = format!("ticket into {}", out.display());
        self.spawn_operation("get", &subject, |node, reporter| {
            Box::pin(async move {
                let mut reported = 0;
                let written = node
                    .fetcher()
                    .receive_ticket(&ticket, &out, &mut |bytes| {
                        if bytes >= reported + RECEIVE_REPORT_EVERY {
                            reported = bytes;
                            reporter.progress(50, &format!("received {} MiB", bytes >> 20));
                        }
                    })
                    .await
                    .map_err(|e| Failure::of(&e))?;
                serde_json::to_value(written).map_err(|e| Failure::of(&e))
            })
        })
    }
}
