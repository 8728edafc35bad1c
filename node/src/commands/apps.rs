//! `archy app install|update|start|stop|restart|reinstall|uninstall|ls|
//! status|reconcile|render|test`: running apps under podman through the
//! orchestrator, with a progress bar for every operation.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use archy_node::app_test;
use archy_node::apps::{self, PodmanChoice};
use archy_orchestrator::{AppStatus, AppSummary, Event, Orchestrator, Progress, quadlet};
use archy_registry::tuf::time::UtcTime;
use archy_registry::verified::VerifiedManifest;
use archy_registry::{Form, Manifest};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::sync::broadcast;

use super::app::manifest_path;
use super::runtime;
use super::swarm::{data_dir, fetch_verified};
use crate::cli::{AppRef, AppsArgs, FetchArgs, InstallArgs, PodmanArgs};
use crate::output::Output;

/// How long a command waits for the orchestrator's state while another
/// process (the node's reconcile pass, another command) holds it.
const OPEN_WAIT: Duration = Duration::from_secs(60);

fn choice(args: &PodmanArgs) -> PodmanChoice {
    PodmanChoice {
        socket: args.podman_socket.clone(),
        rootful: args.rootful,
    }
}

async fn open(args: &AppsArgs) -> anyhow::Result<Orchestrator> {
    let data = data_dir(&args.data)?;
    let config = apps::config(&data, &choice(&args.podman))?;
    Ok(apps::open(&config, OPEN_WAIT).await?)
}

/// Draws one operation's events as a bar until its terminal event.
fn draw(mut events: broadcast::Receiver<Progress>, out: &Output) -> tokio::task::JoinHandle<()> {
    let bar = if out.is_json() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(100)
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    tokio::spawn(async move {
        while let Ok(Progress {
            operation,
            app,
            event,
            ..
        }) = events.recv().await
        {
            bar.set_prefix(operation);
            match event {
                Event::Stage { stage, percent } => {
                    bar.set_position(percent.into());
                    bar.set_message(format!("{app}: {}", stage.label()));
                }
                Event::Succeeded | Event::Failed { .. } => break,
            }
        }
        bar.finish_and_clear();
    })
}

/// Runs one orchestrator operation with a progress bar.
async fn with_bar<T>(
    orchestrator: &Orchestrator,
    out: &Output,
    operation: impl AsyncFnOnce(&Orchestrator) -> Result<T, archy_orchestrator::Error>,
) -> anyhow::Result<T> {
    let drawing = draw(orchestrator.subscribe(), out);
    let result = operation(orchestrator).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), drawing).await;
    Ok(result?)
}

async fn verified(args: &InstallArgs, out: &Output) -> anyhow::Result<VerifiedManifest> {
    if args.dev {
        let path = manifest_path(Path::new(&args.app));
        return VerifiedManifest::from_dev_dir(&path)
            .with_context(|| format!("reading the dev app at {}", path.display()));
    }
    let fetch = FetchArgs {
        release: args.app.clone(),
        origin: args.origin.clone(),
        providers: args.providers.clone(),
        data: args.apps.data.clone(),
        network: args.network,
    };
    Ok(fetch_verified(&fetch, out).await?.0)
}

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

/// `archy app install` and `archy app update`.
pub fn install(args: InstallArgs, update: bool, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let app = verified(&args, out).await?;
        let orchestrator = open(&args.apps).await?;
        let summary = if update {
            with_bar(&orchestrator, out, async |o| o.update(&app).await).await?
        } else {
            with_bar(&orchestrator, out, async |o| o.install(&app).await).await?
        };
        out.result(&summary, || {
            summary_text(if update { "updated to" } else { "installed" }, &summary)
        });
        Ok(ExitCode::SUCCESS)
    })
}

/// The single-app operations.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    Start,
    Stop,
    Restart,
    Reinstall,
    Uninstall { purge: bool },
}

#[derive(Serialize)]
struct Done<'a> {
    app: &'a str,
    operation: &'static str,
}

/// `archy app start|stop|restart|reinstall|uninstall`.
pub fn operate(app: AppRef, op: Operation, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let orchestrator = open(&app.apps).await?;
        let id = app.id.as_str();
        let word = match op {
            Operation::Start => "started",
            Operation::Stop => "stopped",
            Operation::Restart => "restarted",
            Operation::Reinstall => "reinstalled",
            Operation::Uninstall { purge: false } => "uninstalled (data kept; --purge deletes it)",
            Operation::Uninstall { purge: true } => "uninstalled, data deleted",
        };
        with_bar(&orchestrator, out, async |o| match op {
            Operation::Start => o.start(id).await,
            Operation::Stop => o.stop(id).await,
            Operation::Restart => o.restart(id).await,
            Operation::Reinstall => o.reinstall(id).await,
            Operation::Uninstall { purge } => o.uninstall(id, purge).await,
        })
        .await?;
        out.result(
            &Done {
                app: id,
                operation: word,
            },
            || format!("{id} {word}"),
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `archy app ls`.
pub fn list(args: AppsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let apps = open(&args).await?.list()?;
        out.result(&apps, || {
            if apps.is_empty() {
                return "no apps installed".into();
            }
            let mut text = format!(
                "{:<36} {:<10} {:<8} {:<10} PORTS\n",
                "APP", "VERSION", "WANTED", "PHASE"
            );
            for a in &apps {
                let ports: Vec<String> = a.host_ports.values().map(u16::to_string).collect();
                let dev = if a.dev { " (dev)" } else { "" };
                text += &format!(
                    "{:<36} {:<10} {:<8} {:<10} {}{dev}\n",
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

/// `archy app status`.
pub fn status(app: AppRef, out: &Output) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let status: AppStatus = open(&app.apps).await?.status(&app.id).await?;
        out.result(&status, || {
            let mut text = summary_text("app", &status.app);
            text += &format!(
                "  wanted {}, {}\n",
                format!("{:?}", status.app.desired).to_lowercase(),
                format!("{:?}", status.app.phase).to_lowercase()
            );
            for c in &status.containers {
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
        let journal = open(&args).await?.journal()?;
        let shown = &journal[journal.len().saturating_sub(limit)..];
        out.result(&shown, || {
            let mut text = format!(
                "{:>6} {:<20} {:<22} {:<36} OUTCOME\n",
                "SEQ", "STARTED", "OPERATION", "APP"
            );
            for e in shown {
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
        let report = open(&args).await?.reconcile().await?;
        out.result(&report, || {
            format!(
                "{} app(s): {} container(s) as they should be; created {:?}, recreated {:?}, started {:?}, removed {:?}, resumed {:?}, failed {:?}",
                report.apps, report.adopted, report.created, report.recreated, report.started, report.removed, report.resumed, report.failed
            )
        });
        Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
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
        let app = VerifiedManifest::from_dev_dir(&manifest_file)
            .with_context(|| format!("reading the app at {}", manifest_file.display()))?;
        let orchestrator = open(&args).await?;
        let drawing = draw_all(orchestrator.subscribe(), out);
        let steps = app_test::run(&orchestrator, &app).await;
        drawing.abort();
        let passed = steps.iter().all(|s| s.result == "pass");
        out.result(&steps, || {
            let mut text = format!(
                "lifecycle matrix for {} {}\n",
                app.manifest().id,
                app.manifest().version
            );
            text += &format!("{:<18} {:<8} {:>7}  DETAIL\n", "STEP", "RESULT", "SECONDS");
            for s in &steps {
                text += &format!(
                    "{:<18} {:<8} {:>7.2}  {}\n",
                    s.step, s.result, s.seconds, s.detail
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

/// Shows the current stage of whichever operation runs, for the matrix.
fn draw_all(
    mut events: broadcast::Receiver<Progress>,
    out: &Output,
) -> tokio::task::JoinHandle<()> {
    let spinner = if out.is_json() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    spinner.enable_steady_tick(Duration::from_millis(120));
    tokio::spawn(async move {
        while let Ok(p) = events.recv().await {
            if let Event::Stage { stage, percent } = p.event {
                spinner.set_message(format!(
                    "{} {}: {} ({percent}%)",
                    p.operation,
                    p.app,
                    stage.label()
                ));
            }
        }
        spinner.finish_and_clear();
    })
}
