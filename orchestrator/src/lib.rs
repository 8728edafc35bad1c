//! The orchestrator: runs [`VerifiedManifest`](archy_registry::verified::VerifiedManifest)s
//! under Podman and keeps them running. Apps are declarative — nothing here
//! knows any app — and only a verified manifest (or a developer's `--dev`
//! app, marked as such) can be installed.
//!
//! - [`podman`]: the podman API client, every call bounded and named;
//! - [`plan`]: manifest → podman objects, names, labels and spec hashes;
//! - [`ports`]: host-port conflicts and free-port choice;
//! - [`secrets`]: generated secrets, 0600 files;
//! - [`health`]: tcp/http/cmd probes with deadlines;
//! - [`state`]: desired state, records and the journal in redb;
//! - [`progress`]: stage events and one terminal event per operation;
//! - [`lifecycle`]: install, start, stop, restart, reinstall, update,
//!   uninstall;
//! - [`reconcile`]: the level-triggered reconciler;
//! - [`quadlet`]: Podman Quadlet units for running an app without the node.

pub mod error;
pub mod health;
mod image_load;
pub mod lifecycle;
pub mod plan;
pub mod podman;
pub mod ports;
pub mod progress;
pub mod quadlet;
pub mod reconcile;
pub mod secrets;
pub mod state;

pub use error::Error;
pub use lifecycle::{AppStatus, AppSummary, Config, Orchestrator};
pub use podman::Socket;
pub use progress::{Event, Progress, Stage};
pub use reconcile::ReconcileReport;
