//! `archy app test`: the generic lifecycle matrix every app must pass —
//! install, reachable, stop, start, restart, uninstall, reinstall, data
//! survives, uninstall with purge. It knows no app: "reachable" means every
//! container is running and passes its own health check and every published
//! port accepts a connection; "data survives" means a marker written into
//! each volume, and each secret, are still there after a reinstall.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use archy_orchestrator::{AppStatus, Orchestrator};
use archy_registry::files;
use archy_registry::verified::VerifiedManifest;
use serde::Serialize;

/// How long a published port may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The marker file written into each volume.
const MARKER: &str = ".archy-app-test";
/// Largest marker or secret file read back.
const MAX_CHECKED_BYTES: u64 = 64 * 1024;

fn read_checked(path: &Path) -> Result<Vec<u8>, String> {
    files::read_bounded(path, MAX_CHECKED_BYTES).map_err(|e| format!("{}: {e}", path.display()))
}

/// One row of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What was checked.
    pub step: &'static str,
    /// "pass", "fail" or "skipped".
    pub result: &'static str,
    /// How long it took.
    pub seconds: f64,
    /// Why it failed, or what it saw.
    pub detail: String,
}

/// The rows so far; once a step fails, the rest are skipped.
#[derive(Default)]
struct Matrix {
    steps: Vec<Step>,
    failed: bool,
}

impl Matrix {
    /// Whether the next step should run.
    fn go(&self) -> bool {
        !self.failed
    }

    /// Records a step; `None` means it was skipped.
    fn push(
        &mut self,
        step: &'static str,
        started: Instant,
        outcome: Option<Result<String, String>>,
    ) {
        let (result, detail) = match outcome {
            None => ("skipped", "an earlier step failed".to_owned()),
            Some(Ok(detail)) => ("pass", detail),
            Some(Err(reason)) => {
                self.failed = true;
                ("fail", reason)
            }
        };
        self.steps.push(Step {
            step,
            result,
            seconds: started.elapsed().as_secs_f64(),
            detail,
        });
    }
}

/// Runs the matrix on `app` (normally a `--dev` app) and cleans up after
/// itself, purging the app's data at the end whatever happened before.
pub async fn run(orchestrator: &Orchestrator, app: &VerifiedManifest) -> Vec<Step> {
    let o = orchestrator;
    let id = app.manifest().id.as_str();
    let mut m = Matrix::default();
    let mut kept = Vec::new();

    let t = Instant::now();
    let r = o
        .install(app)
        .await
        .map(|s| format!("{} {}", s.id, s.version));
    m.push("install", t, Some(r.map_err(|e| e.to_string())));

    let t = Instant::now();
    let r = if m.go() {
        Some(reachable(o, id).await)
    } else {
        None
    };
    m.push("reachable", t, r);

    let t = Instant::now();
    let r = if m.go() {
        Some(stopped(o, o.stop(id).await.map_err(|e| e.to_string()), id).await)
    } else {
        None
    };
    m.push("stop", t, r);

    let t = Instant::now();
    let r = if m.go() {
        Some(after(o.start(id).await, reachable(o, id)).await)
    } else {
        None
    };
    m.push("start", t, r);

    let t = Instant::now();
    let r = if m.go() {
        Some(after(o.restart(id).await, reachable(o, id)).await)
    } else {
        None
    };
    m.push("restart", t, r);

    let t = Instant::now();
    let r = m.go().then(|| {
        kept = write_markers(o, id)?;
        Ok(format!("{} file(s) to check", kept.len()))
    });
    m.push("write data", t, r);

    let t = Instant::now();
    let r = if m.go() {
        Some(after(o.uninstall(id, false).await, gone(o, id)).await)
    } else {
        None
    };
    m.push("uninstall", t, r);

    let t = Instant::now();
    let r = if m.go() {
        Some(after(o.install(app).await.map(drop), reachable(o, id)).await)
    } else {
        None
    };
    m.push("reinstall", t, r);

    let t = Instant::now();
    let r = m.go().then(|| files_unchanged(&kept));
    m.push("data survives", t, r);

    let t = Instant::now();
    let r = match o.uninstall(id, true).await {
        Err(e) if !matches!(e, archy_orchestrator::Error::NotInstalled(_)) => Err(e.to_string()),
        _ if o.app_dir(id).exists() => Err(format!("{} is still there", o.app_dir(id).display())),
        _ => gone(o, id).await.map(|d| format!("{d}; data removed")),
    };
    m.push("uninstall --purge", t, Some(r));
    m.steps
}

/// `check` once `op` succeeded.
async fn after<T>(
    op: Result<T, archy_orchestrator::Error>,
    check: impl Future<Output = Result<String, String>>,
) -> Result<String, String> {
    op.map_err(|e| e.to_string())?;
    check.await
}

async fn status(orchestrator: &Orchestrator, id: &str) -> Result<AppStatus, String> {
    orchestrator.status(id).await.map_err(|e| e.to_string())
}

async fn reachable(orchestrator: &Orchestrator, id: &str) -> Result<String, String> {
    let status = status(orchestrator, id).await?;
    for c in &status.containers {
        if c.state != "running" || !(c.health == "healthy" || c.health == "no check") {
            return Err(format!(
                "container {} is {} ({})",
                c.name, c.state, c.health
            ));
        }
    }
    for port in status.app.host_ports.values() {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
        TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|e| format!("port {port}: {e}"))?;
    }
    Ok(format!(
        "{} container(s) healthy, port(s) {:?} answer",
        status.containers.len(),
        status.app.host_ports.values().collect::<Vec<_>>()
    ))
}

async fn stopped(
    orchestrator: &Orchestrator,
    stop: Result<(), String>,
    id: &str,
) -> Result<String, String> {
    stop?;
    let status = status(orchestrator, id).await?;
    match status.containers.iter().find(|c| c.state == "running") {
        Some(c) => Err(format!("container {} still runs", c.name)),
        None => Ok("every container stopped".into()),
    }
}

async fn gone(orchestrator: &Orchestrator, id: &str) -> Result<String, String> {
    if orchestrator
        .list()
        .map_err(|e| e.to_string())?
        .iter()
        .any(|a| a.id == id)
    {
        return Err("the app is still listed".into());
    }
    let left = orchestrator
        .containers(id)
        .await
        .map_err(|e| e.to_string())?;
    match left.first() {
        Some(c) => Err(format!("container {} is still there", c.name)),
        None => Ok("no container left".into()),
    }
}

/// Writes a marker into every volume dir; returns each marker and secret
/// file with its contents, to compare after the reinstall.
fn write_markers(orchestrator: &Orchestrator, id: &str) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let app_dir = orchestrator.app_dir(id);
    let mut files = Vec::new();
    for sub in ["data", "secrets"] {
        let Ok(entries) = std::fs::read_dir(app_dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if sub == "data" && path.is_dir() {
                let marker = path.join(MARKER);
                let text =
                    format!("written by archy app test into {}", path.display()).into_bytes();
                std::fs::write(&marker, &text).map_err(|e| format!("{}: {e}", marker.display()))?;
                files.push((marker, text));
            } else if sub == "secrets" && path.is_file() {
                let bytes = read_checked(&path)?;
                files.push((path, bytes));
            }
        }
    }
    Ok(files)
}

fn files_unchanged(files: &[(PathBuf, Vec<u8>)]) -> Result<String, String> {
    for (path, bytes) in files {
        if &read_checked(path)? != bytes {
            return Err(format!("{} changed", path.display()));
        }
    }
    Ok(if files.is_empty() {
        "the app keeps no data or secrets".into()
    } else {
        format!("{} volume marker(s) and secret(s) unchanged", files.len())
    })
}
