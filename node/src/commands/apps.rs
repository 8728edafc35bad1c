//! `archy app install|update|start|stop|restart|reinstall|uninstall|ls|
//! status|reconcile|render|test`: running apps under podman through the
//! orchestrator, with a progress bar for every operation.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use archy_discovery::market::TrustBrief;
use archy_node::client::{ClientError, NodeClient};
use archy_node::config::NetworkChoice;
use archy_node::fetching::ReleaseName;
use archy_node::operations::Event as OpEvent;
use archy_orchestrator::lifecycle::ContainerStatus;
use archy_orchestrator::state::JournalEntry;
use archy_orchestrator::{AppSummary, quadlet};
use archy_registry::tuf::time::UtcTime;
use archy_registry::{Form, Manifest};
use archy_trust::score::Band;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::app::manifest_path;
use super::runtime;
use super::session::Session;
use super::swarm::data_dir;
use crate::cli::{AppRef, AppsArgs, InstallArgs, NetworkArg};
use crate::output::Output;

fn summary_text(verb: &str, s: &AppSummary) -> String {
    let dev = if s.dev {
        " [dev: unpublished, not verified by a catalog]"
    } else {
        ""
    };
    let mut text = format!("{verb} {} {}{dev}\n", s.id, s.version);
    for (key, port) in &s.host_ports {
        text += &format!("  {key} -> host port {port}\n");
    }
    text
}

/// The node this app command asks: the running one, or one started here
/// with the command's podman choice.
async fn session(args: &AppsArgs, network: Option<NetworkArg>) -> anyhow::Result<Session> {
    let data = data_dir(&args.data)?;
    let podman = args.podman.clone();
    Session::open(&data, |config| {
        if podman.podman_socket.is_some() || podman.rootful {
            config.apps.podman_socket.clone_from(&podman.podman_socket);
            config.apps.rootful = podman.rootful;
        }
        if let Some(NetworkArg::Internet) = network {
            config.swarm.network = NetworkChoice::Internet;
        }
    })
    .await
}

/// Follows operation `id` with a progress bar; its result, or its failure
/// as an error.
async fn follow(client: &NodeClient, id: u64, out: &Output) -> anyhow::Result<serde_json::Value> {
    let bar = if out.is_json() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(100)
    };
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let terminal = client
        .follow(id, &mut |event| {
            match event {
                OpEvent::Progress { percent, stage } => {
                    bar.set_position(u64::from(*percent));
                    bar.set_message(stage.clone());
                }
                // Above the bar, or on stderr when none is drawn.
                OpEvent::Notice { message } if bar.is_hidden() => eprintln!("{message}"),
                OpEvent::Notice { message } => bar.println(message),
                OpEvent::Succeeded { .. } | OpEvent::Failed { .. } => {}
            }
        })
        .await;
    bar.finish_and_clear();
    match terminal? {
        OpEvent::Succeeded { result } => Ok(result),
        OpEvent::Failed { error, causes } => Err(ClientError::Api {
            status: 0,
            error,
            causes,
        }
        .into()),
        OpEvent::Progress { .. } | OpEvent::Notice { .. } => {
            anyhow::bail!("operation {id} ended without an outcome")
        }
    }
}

/// Starts an operation with `start`, follows it, and closes the session.
pub(super) async fn run_operation(
    session: Session,
    out: &Output,
    start: impl AsyncFnOnce(&NodeClient) -> Result<Started, ClientError>,
) -> anyhow::Result<serde_json::Value> {
    let result = async {
        let started = start(session.client()).await?;
        follow(session.client(), started.operation, out).await
    }
    .await;
    session.close().await;
    result
}

#[derive(serde::Deserialize)]
pub(super) struct Started {
    operation: u64,
}

/// An absolute path for the node, which may run in another directory.
fn absolute(path: &str) -> anyhow::Result<String> {
    let path = Path::new(path);
    let path = path
        .canonicalize()
        .with_context(|| format!("cannot find {}", path.display()))?;
    Ok(path.display().to_string())
}

/// `archy app install` and `archy app update`.
pub fn install(args: InstallArgs, update: bool, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let session = session(&args.apps, Some(args.network)).await?;
        let result = if update {
            let (id, body) = update_request(&args)?;
            run_operation(session, out, async |c| {
                c.post(&format!("/api/apps/{id}/update"), &body).await
            })
            .await?
        } else {
            let app = if args.dev {
                absolute(&args.app)?
            } else {
                args.app.clone()
            };
            let body = serde_json::json!({
                "app": app,
                "dev": args.dev,
                "origin": args.origin,
                "providers": args.providers,
                "trust_anyway": args.trust_anyway,
            });
            run_operation(session, out, async |c| {
                c.post("/api/apps", &body).await.map_err(|e| match e {
                    // The node asks for a confirmation: say how to give it.
                    ClientError::Api {
                        status: 403,
                        error,
                        causes,
                    } if error.ends_with("needs an explicit confirmation") => ClientError::Api {
                        status: 403,
                        error: format!("{error}: repeat with --trust-anyway to install it anyway"),
                        causes,
                    },
                    other => other,
                })
            })
            .await?
        };
        let summary: AppSummary =
            serde_json::from_value(result.clone()).context("the node's answer is not an app")?;
        out.result(&result, || {
            summary_text(if update { "updated to" } else { "installed" }, &summary)
        });
        Ok(ExitCode::SUCCESS)
    })
}

/// The app id and request body of `archy app update`: a dev directory,
/// an app id (the catalog's newest), or `DID/APP@VERSION`.
fn update_request(args: &InstallArgs) -> anyhow::Result<(String, serde_json::Value)> {
    let mut body = serde_json::json!({ "origin": args.origin, "providers": args.providers });
    if args.dev {
        let file = manifest_path(Path::new(&args.app));
        let manifest = Manifest::load(&file, Form::Source)?;
        body["dev"] = absolute(&args.app)?.into();
        return Ok((manifest.id, body));
    }
    if args.app.contains('/') {
        let name: ReleaseName = args.app.parse()?;
        if let Some(version) = &name.version {
            body["version"] = version.to_string().into();
        }
        return Ok((name.app, body));
    }
    Ok((args.app.clone(), body))
}

/// The single-app operations.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    Start,
    /// `force`: even though other installed apps depend on it.
    Stop {
        force: bool,
    },
    Restart,
    Reinstall,
    /// `force`: even though other installed apps depend on it.
    Uninstall {
        purge: bool,
        force: bool,
    },
}

/// `archy app start|stop|restart|reinstall|uninstall`.
pub fn operate(app: AppRef, op: Operation, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let session = session(&app.apps, None).await?;
        let id = app.id.as_str();
        let word = match op {
            Operation::Start => "started",
            Operation::Stop { .. } => "stopped",
            Operation::Restart => "restarted",
            Operation::Reinstall => "reinstalled",
            Operation::Uninstall { purge: false, .. } => {
                "uninstalled (data kept; --purge deletes it)"
            }
            Operation::Uninstall { purge: true, .. } => "uninstalled, data deleted",
        };
        let empty = serde_json::json!({});
        let result = run_operation(session, out, async |c| match op {
            Operation::Start => c.post(&format!("/api/apps/{id}/start"), &empty).await,
            Operation::Stop { force } => {
                c.post(&format!("/api/apps/{id}/stop?force={force}"), &empty)
                    .await
            }
            Operation::Restart => c.post(&format!("/api/apps/{id}/restart"), &empty).await,
            Operation::Reinstall => c.post(&format!("/api/apps/{id}/reinstall"), &empty).await,
            Operation::Uninstall { purge, force } => {
                c.delete(&format!("/api/apps/{id}?purge={purge}&force={force}"))
                    .await
            }
        })
        .await?;
        out.result(&result, || format!("{id} {word}"));
        Ok(ExitCode::SUCCESS)
    })
}

/// Asks the node `path` and closes the session.
async fn ask<T: serde::de::DeserializeOwned>(session: Session, path: &str) -> anyhow::Result<T> {
    let answer = session.client().get(path).await;
    session.close().await;
    Ok(answer?)
}

/// `archy app auto-update APP on|off`.
pub fn auto_update(app: &AppRef, on: bool, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let session = session(&app.apps, None).await?;
        let body = serde_json::json!({ "enabled": on });
        let answer: anyhow::Result<serde_json::Value> = session
            .client()
            .put(&format!("/api/apps/{}/auto-update", app.id), &body)
            .await
            .map_err(Into::into);
        session.close().await;
        let answer = answer?;
        out.result(&answer, || {
            if on {
                format!(
                    "{} now updates itself when its publisher releases a newer version",
                    app.id
                )
            } else {
                format!("{} updates only when you run archy app update", app.id)
            }
        });
        Ok(ExitCode::SUCCESS)
    })
}

/// `archy app ls`.
pub fn list(args: AppsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let apps: Vec<Listed> = ask(session(&args, None).await?, "/api/apps").await?;
        out.result(&apps, || {
            if apps.is_empty() {
                return "no apps installed".into();
            }
            let mut text = format!(
                "{:<36} {:<10} {:<8} {:<10} PORTS\n",
                "APP", "VERSION", "WANTED", "PHASE"
            );
            for listed in &apps {
                let a = &listed.app;
                let ports: Vec<String> = a.host_ports.values().map(u16::to_string).collect();
                let dev = if a.dev { " (dev)" } else { "" };
                let update = listed
                    .update_available
                    .as_ref()
                    .map(|v| format!("  update available: {v}"))
                    .unwrap_or_default();
                let auto = if listed.auto_update {
                    " (updates itself)"
                } else {
                    ""
                };
                // Flagged once your trust in it drops (`archy trust explain`
                // says why).
                let flag = listed
                    .trust
                    .as_ref()
                    .filter(|t| t.band <= Band::Suspicious)
                    .map(|t| format!("  TRUST: {} (score {})", t.band, t.score))
                    .unwrap_or_default();
                text += &format!(
                    "{:<36} {:<10} {:<8} {:<10} {}{dev}{auto}{update}{flag}\n",
                    a.id,
                    a.version,
                    format!("{:?}", a.desired).to_lowercase(),
                    format!("{:?}", a.phase).to_lowercase(),
                    ports.join(",")
                );
            }
            text
        });
        Ok(ExitCode::SUCCESS)
    })
}

/// An installed app as `GET /api/apps` lists it.
#[derive(Serialize, serde::Deserialize)]
struct Listed {
    #[serde(flatten)]
    app: AppSummary,
    update_available: Option<String>,
    #[serde(default)]
    auto_update: bool,
    #[serde(default)]
    trust: Option<TrustBrief>,
}

/// An app and its containers, as `GET /api/apps/{id}` answers.
#[derive(Serialize, serde::Deserialize)]
struct Detail {
    app: AppSummary,
    containers: Option<Vec<ContainerStatus>>,
    podman: Option<String>,
}

/// `archy app status`.
pub fn status(app: AppRef, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let detail: Detail = ask(
            session(&app.apps, None).await?,
            &format!("/api/apps/{}", app.id),
        )
        .await?;
        let Some(containers) = &detail.containers else {
            anyhow::bail!(
                "podman did not answer, so {}'s containers are unknown: {}",
                app.id,
                detail.podman.as_deref().unwrap_or("no reason given")
            );
        };
        // The app's fields, then its containers: as before the API.
        let mut shown = serde_json::to_value(&detail.app)?;
        shown["containers"] = serde_json::to_value(containers)?;
        out.result(&shown, || {
            let mut text = summary_text("app", &detail.app);
            text += &format!(
                "  wanted {}, {}\n",
                format!("{:?}", detail.app.desired).to_lowercase(),
                format!("{:?}", detail.app.phase).to_lowercase()
            );
            for c in containers {
                text += &format!("  {:<16} {:<24} {}\n", c.name, c.state, c.health);
            }
            text
        });
        Ok(ExitCode::SUCCESS)
    })
}

/// `archy app journal`.
pub fn journal(limit: usize, args: AppsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let limit = limit.clamp(1, 1000);
        let shown: Vec<JournalEntry> = ask(
            session(&args, None).await?,
            &format!("/api/journal?limit={limit}"),
        )
        .await?;
        out.result(&shown, || {
            let mut text = format!(
                "{:>6} {:<20} {:<22} {:<36} OUTCOME\n",
                "SEQ", "STARTED", "OPERATION", "APP"
            );
            for e in &shown {
                text += &format!(
                    "{:>6} {:<20} {:<22} {:<36} {}\n",
                    e.seq,
                    UtcTime::from_unix(i64::try_from(e.started_at).unwrap_or(i64::MAX)).to_string(),
                    e.op,
                    e.app,
                    e.outcome.as_deref().unwrap_or("running")
                );
            }
            text
        });
        Ok(ExitCode::SUCCESS)
    })
}

/// `archy app reconcile`.
pub fn reconcile(args: AppsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let session = session(&args, None).await?;
        let empty = serde_json::json!({});
        let report =
            run_operation(session, out, async |c| c.post("/api/reconcile", &empty).await).await?;
        let names = |field: &str| report[field].as_array().map_or(0, Vec::len);
        out.result(&report, || {
            format!(
                "{} app(s): {} container(s) as they should be; created {}, recreated {}, started {}, removed {}, resumed {}, failed {}{}",
                report["apps"],
                report["adopted"],
                report["created"],
                report["recreated"],
                report["started"],
                report["removed"],
                report["resumed"],
                report["failed"],
                if names("failed") > 0 { " (see archy app status)" } else { "" }
            )
        });
        Ok(if names("failed") == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

#[derive(Serialize)]
struct Rendered {
    dir: String,
    units: Vec<String>,
}

/// `archy app render --quadlet`.
pub fn render(path: &Path, out_dir: Option<&Path>, out: &Output) -> anyhow::Result<ExitCode> {
    let manifest_file = manifest_path(path);
    let manifest = Manifest::load(&manifest_file, Form::Source)?;
    let base = manifest_file
        .parent()
        .unwrap_or(Path::new("."))
        .canonicalize()?;
    let dir = out_dir.map_or_else(|| base.join("quadlet"), Path::to_owned);
    let data = base.join("data");
    let units = quadlet::render(&manifest, &base, &data)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for unit in &units {
        let file = dir.join(&unit.name);
        std::fs::write(&file, &unit.text).with_context(|| format!("writing {}", file.display()))?;
    }
    let rendered = Rendered {
        dir: dir.display().to_string(),
        units: units.iter().map(|u| u.name.clone()).collect(),
    };
    out.result(&rendered, || {
        format!(
            "wrote {} Quadlet unit(s) to {}:\n  {}\nCopy them to ~/.config/containers/systemd/ and run `systemctl --user daemon-reload`.",
            rendered.units.len(),
            rendered.dir,
            rendered.units.join("\n  ")
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// `archy app test`.
pub fn test(path: &Path, args: AppsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let manifest_file = manifest_path(path);
        let body = serde_json::json!({ "app": absolute(&manifest_file.display().to_string())? });
        let session = session(&args, None).await?;
        let matrix =
            run_operation(session, out, async |c| c.post("/api/tests", &body).await).await?;
        let steps = matrix.as_array().cloned().unwrap_or_default();
        let text_of =
            |s: &serde_json::Value, field: &str| s[field].as_str().unwrap_or_default().to_owned();
        let passed = !steps.is_empty() && steps.iter().all(|s| s["result"] == "pass");
        out.result(&matrix, || {
            let mut text = format!("lifecycle matrix for {}\n", manifest_file.display());
            text += &format!("{:<18} {:<8} {:>7}  DETAIL\n", "STEP", "RESULT", "SECONDS");
            for s in &steps {
                text += &format!(
                    "{:<18} {:<8} {:>7.2}  {}\n",
                    text_of(s, "step"),
                    text_of(s, "result"),
                    s["seconds"].as_f64().unwrap_or_default(),
                    text_of(s, "detail")
                );
            }
            text += if passed { "all steps passed" } else { "FAILED" };
            text
        });
        Ok(if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
