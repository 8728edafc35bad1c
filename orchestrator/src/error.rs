//! What can go wrong in the orchestrator, each error naming the app,
//! container or podman operation it is about.

use std::path::PathBuf;
use std::time::Duration;

/// An orchestrator error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A podman API call failed.
    #[error("podman {op}: {reason}")]
    Podman {
        /// The operation, such as `create container archy_x_app_web`.
        op: String,
        /// The HTTP status podman answered with, if it answered.
        status: Option<u16>,
        /// What podman said.
        reason: String,
    },
    /// A podman API call did not answer in time.
    #[error("podman {op} did not answer within {} s", after.as_secs_f32())]
    PodmanTimeout {
        /// The operation that timed out.
        op: String,
        /// How long it was given.
        after: Duration,
    },
    /// The podman socket cannot be reached at all.
    #[error(
        "cannot reach podman at {}: {reason}. Start it with `podman system service --time=0 unix://{}` (or `systemctl --user start podman.socket`)",
        socket.display(),
        socket.display()
    )]
    PodmanUnreachable {
        /// The socket tried.
        socket: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// The orchestrator's state file failed.
    #[error("orchestrator state {}: {reason}", path.display())]
    State {
        /// The redb file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Another process (a command, or the node's reconcile pass) holds the
    /// state file.
    #[error("orchestrator state {} is in use by another archy process (a running node or another command)", path.display())]
    StateBusy {
        /// The redb file.
        path: PathBuf,
    },
    /// A file or directory of an app could not be read or written.
    #[error("{}: {reason}", path.display())]
    File {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A verified blob on disk no longer matches its hash.
    #[error("image archive {} no longer matches the verified manifest: {reason}; refusing to load it", path.display())]
    BlobMismatch {
        /// The blob file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// The manifest cannot be run as written.
    #[error("app {app}: {reason}")]
    Plan {
        /// The app id.
        app: String,
        /// What is wrong.
        reason: String,
    },
    /// A host port the app needs is taken.
    #[error("app {app}: host port {port}/{protocol} is already used by {by}")]
    PortConflict {
        /// The app being installed.
        app: String,
        /// The port.
        port: u16,
        /// tcp or udp.
        protocol: &'static str,
        /// Who holds it.
        by: String,
    },
    /// No app of that id is installed.
    #[error("no app '{0}' is installed")]
    NotInstalled(String),
    /// The app is already installed; use update or reinstall.
    #[error(
        "app {app} is already installed at version {version}: update it, or uninstall it first"
    )]
    AlreadyInstalled {
        /// The app id.
        app: String,
        /// The installed version.
        version: String,
    },
    /// A container did not become healthy in time.
    #[error("app {app}: container {container} did not become healthy within {} s: {reason}", after.as_secs())]
    Unhealthy {
        /// The app id.
        app: String,
        /// The container name from the manifest.
        container: String,
        /// How long it was given.
        after: Duration,
        /// The last probe's failure.
        reason: String,
    },
    /// An update failed and the previous version runs again.
    #[error("update of {app} to {to} failed ({reason}); rolled back to {from}")]
    RolledBack {
        /// The app id.
        app: String,
        /// The version that runs again.
        from: String,
        /// The version that failed.
        to: String,
        /// Why it failed.
        reason: String,
    },
}

impl Error {
    pub(crate) fn state(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::State {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    }

    pub(crate) fn file(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    }

    pub(crate) fn plan(app: &str, reason: impl Into<String>) -> Self {
        Self::Plan {
            app: app.to_owned(),
            reason: reason.into(),
        }
    }
}
