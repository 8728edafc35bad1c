//! The podman client: every call the orchestrator makes to podman, each
//! bounded by a timeout and named, so a stuck podman is an error that says
//! which operation hung, never a hang.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use podman_api::opts::{
    ContainerCreateOpts, ContainerDeleteOpts, ContainerListFilter, ContainerListOpts,
    ContainerStopOpts, ExecCreateOpts, ExecStartOpts, NetworkCreateOpts, NetworkListFilter,
    NetworkListOpts,
};

use crate::error::Error;

/// The deadline of an ordinary call (inspect, create, start, list, …).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The deadline of an image load, which copies the whole archive.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// Time allowed past a container's stop grace for podman to report it.
pub const STOP_MARGIN: Duration = Duration::from_secs(10);
/// Largest image archive loaded: podman copies it to its temporary
/// directory before unpacking it.
pub const MAX_IMAGE_BYTES: u64 = 2 << 30;

/// Where podman listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket(pub PathBuf);

impl Socket {
    /// The user's rootless socket: `$XDG_RUNTIME_DIR/podman/podman.sock`,
    /// or `/run/user/UID/podman/podman.sock` when the variable is unset.
    pub fn rootless() -> Self {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", current_uid())));
        Self(runtime.join("podman/podman.sock"))
    }

    /// The system (rootful) socket, an explicit choice.
    pub fn rootful() -> Self {
        Self(PathBuf::from("/run/podman/podman.sock"))
    }
}

fn current_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| std::os::unix::fs::MetadataExt::uid(&m))
}

/// A container as podman lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its podman name.
    pub name: String,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// podman's state: created, running, exited, …
    pub state: String,
    /// The host PID of its main process while running.
    pub pid: Option<i64>,
    /// The host ports it publishes, as (port, protocol).
    pub host_ports: Vec<(u16, String)>,
}

impl Listed {
    /// Running by podman's account, and its process really exists. A
    /// container whose process died while podman missed it (a killed conmon,
    /// say) still says "running" — this check sees through that.
    pub fn is_alive(&self) -> bool {
        self.state == "running" && self.pid.is_some_and(process_exists)
    }
}

/// Whether a host process exists and is not a zombie waiting to be reaped.
fn process_exists(pid: i64) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the command name, which ends in ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// A podman connection.
#[derive(Clone)]
pub struct Podman {
    api: podman_api::Podman,
    socket: PathBuf,
}

async fn bounded<T>(
    op: impl Into<String>,
    after: Duration,
    call: impl Future<Output = Result<T, podman_api::Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(after, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Error::Podman {
            op: op.into(),
            status: match &e {
                podman_api::Error::Fault { code, .. } => Some(code.as_u16()),
                _ => None,
            },
            reason: e.to_string(),
        }),
        Err(_) => Err(Error::PodmanTimeout {
            op: op.into(),
            after,
        }),
    }
}

fn is_not_found(e: &Error) -> bool {
    matches!(
        e,
        Error::Podman {
            status: Some(404),
            ..
        }
    )
}

/// podman's answer to starting a running or stopping a stopped container.
fn is_not_modified(e: &Error) -> bool {
    matches!(
        e,
        Error::Podman {
            status: Some(304),
            ..
        }
    )
}

impl Podman {
    /// A client of `socket`. Nothing is sent yet: an orchestrator opens
    /// without podman (listing apps and the journal need only its state),
    /// and each operation checks podman first ([`Podman::check`]).
    pub fn new(socket: &Socket) -> Self {
        Self {
            api: podman_api::Podman::unix(&socket.0),
            socket: socket.0.clone(),
        }
    }

    /// Checks that podman answers on the socket.
    pub async fn check(&self) -> Result<(), Error> {
        let unreachable = |reason: String| Error::PodmanUnreachable {
            socket: self.socket.clone(),
            reason,
        };
        if !self.socket.exists() {
            return Err(unreachable("no socket there".into()));
        }
        bounded("ping", CALL_TIMEOUT, self.api.ping())
            .await
            .map(|_| ())
            .map_err(|e| unreachable(e.to_string()))
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether an image with this id is in podman's store.
    pub async fn image_exists(&self, id: &str) -> Result<bool, Error> {
        bounded(
            format!("image exists {id}"),
            CALL_TIMEOUT,
            self.api.images().get(id).exists(),
        )
        .await
    }

    /// Removes an image no container uses; returns whether it was there.
    /// One in use stays, and that is not an error.
    pub async fn remove_image(&self, id: &str) -> Result<bool, Error> {
        if !self.image_exists(id).await? {
            return Ok(false);
        }
        let removed = bounded(
            format!("remove image {id}"),
            CALL_TIMEOUT,
            self.api.images().get(id).remove(),
        )
        .await;
        Ok(removed.is_ok())
    }

    /// Loads a `podman save` archive (`images load`), streamed from disk.
    pub async fn load_image(&self, archive: &Path) -> Result<(), Error> {
        let size = std::fs::metadata(archive)
            .map_err(|e| Error::file(archive, e))?
            .len();
        if size > MAX_IMAGE_BYTES {
            return Err(Error::file(
                archive,
                format!("image archive is {size} bytes, more than the {MAX_IMAGE_BYTES} loaded"),
            ));
        }
        crate::image_load::load(&self.socket, archive, LOAD_TIMEOUT).await
    }

    /// Creates a bridge network with DNS, so containers find each other by
    /// name. An existing network of that name is left as it is.
    pub async fn ensure_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<(), Error> {
        let op = format!("network exists {name}");
        if bounded(op, CALL_TIMEOUT, self.api.networks().get(name).exists()).await? {
            return Ok(());
        }
        let opts = NetworkCreateOpts::builder()
            .name(name)
            .driver("bridge")
            .dns_enabled(true)
            .labels(labels.clone())
            .build();
        bounded(
            format!("create network {name}"),
            CALL_TIMEOUT,
            self.api.networks().create(&opts),
        )
        .await
        .map(drop)
    }

    /// Removes a network; a missing one is not an error.
    pub async fn remove_network(&self, name: &str) -> Result<(), Error> {
        let result = bounded(
            format!("remove network {name}"),
            CALL_TIMEOUT,
            self.api.networks().get(name).remove(),
        )
        .await;
        match result {
            Err(e) if !is_not_found(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// The names of networks carrying `label=value`.
    pub async fn networks_labelled(&self, label: &str, value: &str) -> Result<Vec<String>, Error> {
        let opts = NetworkListOpts::builder()
            .filter([NetworkListFilter::LabelKeyVal(label.into(), value.into())])
            .build();
        let networks = bounded(
            "list networks",
            CALL_TIMEOUT,
            self.api.networks().list(&opts),
        )
        .await?;
        Ok(networks.into_iter().filter_map(|n| n.name).collect())
    }

    /// Creates a container.
    pub async fn create(&self, name: &str, opts: &ContainerCreateOpts) -> Result<(), Error> {
        bounded(
            format!("create container {name}"),
            CALL_TIMEOUT,
            self.api.containers().create(opts),
        )
        .await
        .map(drop)
    }

    /// Starts a container; one already running is not an error (podman
    /// answers 304 Not Modified).
    pub async fn start(&self, name: &str) -> Result<(), Error> {
        let result = bounded(
            format!("start container {name}"),
            CALL_TIMEOUT,
            self.api.containers().get(name).start(None),
        )
        .await;
        match result {
            Err(e) if is_not_modified(&e) => Ok(()),
            other => other,
        }
    }

    /// Stops a container: SIGTERM, then SIGKILL after `grace`. The call's
    /// deadline is the grace plus [`STOP_MARGIN`]. A stopped or missing
    /// container is not an error.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<(), Error> {
        let opts = ContainerStopOpts::builder()
            .timeout(grace.as_secs() as usize)
            .ignore(true)
            .build();
        let result = bounded(
            format!("stop container {name}"),
            grace + STOP_MARGIN,
            self.api.containers().get(name).stop(&opts),
        )
        .await;
        match result {
            Err(e) if !is_not_found(&e) && !is_not_modified(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes a container, stopping it first if it runs; a missing one is
    /// not an error.
    pub async fn remove(&self, name: &str) -> Result<(), Error> {
        let opts = ContainerDeleteOpts::builder().force(true).build();
        let result = bounded(
            format!("remove container {name}"),
            CALL_TIMEOUT,
            self.api.containers().get(name).delete(&opts),
        )
        .await;
        match result {
            Err(e) if !is_not_found(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Every container (running or not) carrying `label=value`.
    pub async fn containers_labelled(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<Listed>, Error> {
        let opts = ContainerListOpts::builder()
            .all(true)
            .filter([ContainerListFilter::LabelKeyVal(label.into(), value.into())])
            .build();
        self.list(opts).await
    }

    /// Every container podman has, for port-conflict checks.
    pub async fn all_containers(&self) -> Result<Vec<Listed>, Error> {
        self.list(ContainerListOpts::builder().all(true).build())
            .await
    }

    async fn list(&self, opts: ContainerListOpts) -> Result<Vec<Listed>, Error> {
        let listed = bounded(
            "list containers",
            CALL_TIMEOUT,
            self.api.containers().list(&opts),
        )
        .await?;
        Ok(listed
            .into_iter()
            .map(|c| Listed {
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default(),
                labels: c.labels.unwrap_or_default(),
                state: c.state.unwrap_or_default(),
                pid: c.pid,
                host_ports: c
                    .ports
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| {
                        Some((p.host_port?, p.protocol.unwrap_or_else(|| "tcp".into())))
                    })
                    .collect(),
            })
            .collect())
    }

    /// Whether a container runs and its process exists (see
    /// [`Listed::is_alive`]); a missing container does not run.
    pub async fn is_alive(&self, name: &str) -> Result<bool, Error> {
        let result = bounded(
            format!("inspect container {name}"),
            CALL_TIMEOUT,
            self.api.containers().get(name).inspect(),
        )
        .await;
        let inspect = match result {
            Err(e) if is_not_found(&e) => return Ok(false),
            other => other?,
        };
        let Some(state) = inspect.state else {
            return Ok(false);
        };
        Ok(Listed {
            name: name.to_owned(),
            labels: HashMap::new(),
            state: state.status.unwrap_or_default(),
            pid: state.pid,
            host_ports: Vec::new(),
        }
        .is_alive())
    }

    /// The IP address of a running container on `network`.
    pub async fn address_on(&self, name: &str, network: &str) -> Result<Option<String>, Error> {
        let inspect = bounded(
            format!("inspect container {name}"),
            CALL_TIMEOUT,
            self.api.containers().get(name).inspect(),
        )
        .await?;
        Ok(inspect
            .network_settings
            .and_then(|s| s.networks)
            .and_then(|mut n| n.remove(network))
            .and_then(|n| n.ip_address)
            .filter(|ip| !ip.is_empty()))
    }

    /// Runs `command` inside a running container and returns its exit code,
    /// within `after`. The session is attached (its output read and
    /// dropped), so the call ends when the command does: podman 4 never
    /// marks a detached exec session as ended, so polling one runs out the
    /// deadline even for a command that exited at once.
    pub async fn exec(
        &self,
        name: &str,
        command: &[String],
        after: Duration,
    ) -> Result<i64, Error> {
        let op = format!("exec in container {name}");
        let container = self.api.containers().get(name);
        let opts = ExecCreateOpts::builder()
            .command(command.to_vec())
            .attach_stdout(true)
            .attach_stderr(true)
            .build();
        let exec = bounded(op.clone(), CALL_TIMEOUT, container.create_exec(&opts)).await?;
        let start = ExecStartOpts::builder().build();
        let run = async {
            if let Some(mut output) = exec.start(&start).await? {
                while let Some(chunk) = output.next().await {
                    chunk?;
                }
            }
            Ok(())
        };
        bounded(op.clone(), after, run).await?;
        let info = bounded(op, CALL_TIMEOUT, exec.inspect()).await?;
        Ok(info.get("ExitCode").and_then(|c| c.as_i64()).unwrap_or(-1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_exists_and_pid_zero_does_not() {
        assert!(process_exists(i64::from(std::process::id())));
        assert!(!process_exists(0));
        assert!(!process_exists(i64::from(i32::MAX)));
    }
}
