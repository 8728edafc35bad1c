//! `archy-bench apps`: what the orchestrator costs, measured against real
//! podman. Three figures:
//!
//! - install → healthy of one app from local verified blobs, per stage
//!   (the first run with the image removed from podman, so its load is
//!   measured, the others with it loaded);
//! - one reconcile pass over many running apps;
//! - an install + uninstall cycle through the orchestrator against the
//!   podman calls that create and remove the same objects, made directly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use archy_node::apps::PodmanChoice;

use archy_orchestrator::plan::{self, PlanInput};
use archy_orchestrator::podman::Podman;
use archy_orchestrator::{Config, Event, Orchestrator, Stage};
use archy_registry::verified::VerifiedManifest;
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::cli::PodmanArgs;
use crate::output::Output;

/// The time one stage took.
#[derive(Debug, Clone, Serialize)]
pub struct StageTime {
    /// The stage.
    pub stage: &'static str,
    /// Milliseconds until the next stage (or the end).
    pub ms: f64,
}

/// One install, stage by stage.
#[derive(Debug, Clone, Serialize)]
pub struct InstallRun {
    /// Whether the image had to be loaded.
    pub image_loaded: bool,
    /// Install → healthy, in all.
    pub total_ms: f64,
    /// Each stage.
    pub stages: Vec<StageTime>,
}

/// Everything `archy-bench apps` prints.
#[derive(Debug, Clone, Serialize)]
pub struct AppsFigures {
    /// The app measured.
    pub app: String,
    /// Installs, one per run.
    pub installs: Vec<InstallRun>,
    /// Apps running during the reconcile passes.
    pub reconcile_apps: usize,
    /// Containers they have.
    pub reconcile_containers: usize,
    /// Passes timed.
    pub reconcile_passes: usize,
    /// Median pass time.
    pub reconcile_median_ms: f64,
    /// Slowest pass.
    pub reconcile_max_ms: f64,
    /// Cycles timed for the overhead figure.
    pub cycles: usize,
    /// Median install + uninstall through the orchestrator (no health check).
    pub orchestrated_cycle_ms: f64,
    /// Median of the same objects created and removed by direct podman calls.
    pub direct_cycle_ms: f64,
    /// `orchestrated / direct - 1`.
    pub overhead: f64,
}

/// What to measure with.
pub struct AppsBench {
    /// The app directory (a `--dev` app, like apps/hello-web).
    pub app_dir: PathBuf,
    /// The podman socket.
    pub socket: archy_orchestrator::Socket,
    /// Where to keep the bench's data (a fresh temporary dir).
    pub work: PathBuf,
    /// Install runs.
    pub runs: usize,
    /// Apps running for the reconcile figure.
    pub apps: usize,
    /// Reconcile passes.
    pub passes: usize,
    /// Cycles for the overhead figure.
    pub cycles: usize,
}

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// A copy of the app under another id, its manifest edited: host ports
/// dropped (each copy gets a free one) and, with `no_health`, no checks.
fn variant(src: &Path, dst: &Path, id: &str, no_health: bool) -> BenchResult<VerifiedManifest> {
    std::fs::create_dir_all(dst)?;
    let text = std::fs::read_to_string(src.join("manifest.yml"))?;
    let mut out = String::new();
    let mut skipping_health: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(level) = skipping_health {
            if indent > level || line.trim().is_empty() {
                continue;
            }
            skipping_health = None;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("id:") && indent == 0 {
            out += &format!("id: {id}\n");
        } else if trimmed.starts_with("host:") {
            continue;
        } else if no_health && trimmed.starts_with("health:") {
            skipping_health = Some(indent);
        } else {
            out += line;
            out.push('\n');
        }
    }
    std::fs::write(dst.join("manifest.yml"), out)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        if entry.file_name() != "manifest.yml" && entry.path().is_file() {
            let target = dst.join(entry.file_name());
            if std::fs::hard_link(entry.path(), &target).is_err() {
                std::fs::copy(entry.path(), &target)?;
            }
        }
    }
    Ok(VerifiedManifest::from_dev_dir(&dst.join("manifest.yml"))?)
}

/// Collects one operation's stage events with their times.
fn collect(
    mut events: broadcast::Receiver<archy_orchestrator::Progress>,
) -> tokio::task::JoinHandle<Vec<(Instant, Option<Stage>)>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(p) = events.recv().await {
            match p.event {
                Event::Stage { stage, .. } => seen.push((Instant::now(), Some(stage))),
                _ => {
                    seen.push((Instant::now(), None));
                    break;
                }
            }
        }
        seen
    })
}

async fn orchestrator(bench: &AppsBench, name: &str) -> BenchResult<Orchestrator> {
    Ok(Orchestrator::open(Config {
        dir: bench.work.join(name),
        instance: format!("bench{name}"),
        socket: bench.socket.clone(),
    })
    .await?)
}

/// Runs every measurement and cleans up what it created.
pub async fn run(bench: &AppsBench, progress: &dyn Fn(&str)) -> BenchResult<AppsFigures> {
    let o = orchestrator(bench, "install").await?;
    let app = variant(
        &bench.app_dir,
        &bench.work.join("app"),
        "org.bench.install",
        false,
    )?;
    let images: Vec<String> = app
        .manifest()
        .containers
        .iter()
        .filter_map(|c| match &c.image {
            archy_registry::manifest::ImageRef::Published { id, .. } => Some(id.to_string()),
            archy_registry::manifest::ImageRef::Archive(_) => None,
        })
        .collect();
    let mut installs = Vec::new();
    for run in 0..bench.runs {
        progress(&format!("install {}/{}", run + 1, bench.runs));
        let mut image_loaded = false;
        if run == 0 {
            for id in &images {
                image_loaded |= o.podman().remove_image(id).await.unwrap_or(false);
            }
        }
        let events = collect(o.subscribe());
        let started = Instant::now();
        o.install(&app).await?;
        let total = started.elapsed();
        let seen = events.await?;
        let stages = seen
            .windows(2)
            .filter_map(|w| {
                w[0].1.map(|stage| StageTime {
                    stage: stage.label(),
                    ms: ms(w[1].0 - w[0].0),
                })
            })
            .collect();
        installs.push(InstallRun {
            image_loaded,
            total_ms: ms(total),
            stages,
        });
        o.uninstall("org.bench.install", true).await?;
    }
    drop(o);

    let o = orchestrator(bench, "reconcile").await?;
    let mut ids = Vec::new();
    let mut containers = 0;
    for i in 0..bench.apps {
        progress(&format!(
            "installing app {}/{} for the reconcile figure",
            i + 1,
            bench.apps
        ));
        let id = format!("org.bench.r{i}");
        let app = variant(&bench.app_dir, &bench.work.join(&id), &id, false)?;
        containers += app.manifest().containers.len();
        o.install(&app).await?;
        ids.push(id);
    }
    let mut passes = Vec::new();
    for pass in 0..bench.passes {
        progress(&format!("reconcile pass {}/{}", pass + 1, bench.passes));
        let started = Instant::now();
        let report = o.reconcile().await?;
        passes.push(ms(started.elapsed()));
        if !report.is_quiet() {
            return Err(format!(
                "a reconcile pass over settled apps changed something: {report:?}"
            )
            .into());
        }
    }
    for (i, id) in ids.iter().enumerate() {
        progress(&format!("removing app {}/{}", i + 1, ids.len()));
        o.uninstall(id, true).await?;
    }
    drop(o);

    let o = orchestrator(bench, "cycle").await?;
    let app = variant(
        &bench.app_dir,
        &bench.work.join("cycle"),
        "org.bench.cycle",
        true,
    )?;
    let mut orchestrated = Vec::new();
    let mut direct = Vec::new();
    let instance = "benchdirect";
    let app_dir = bench.work.join("direct");
    let host_ports = archy_orchestrator::ports::choose(
        app.manifest(),
        &Default::default(),
        &Default::default(),
    )?;
    let plan = plan::plan(
        app.manifest(),
        &PlanInput {
            instance,
            app_dir: &app_dir,
            host_ports: &host_ports,
            dev: true,
        },
    )?;
    for dir in &plan.data_dirs {
        std::fs::create_dir_all(dir)?;
    }
    archy_orchestrator::secrets::ensure(&app_dir, &app.manifest().generated_secrets)?;
    for cycle in 0..bench.cycles {
        progress(&format!("cycle {}/{}", cycle + 1, bench.cycles));
        let started = Instant::now();
        o.install(&app).await?;
        o.uninstall("org.bench.cycle", true).await?;
        orchestrated.push(ms(started.elapsed()));
        let started = Instant::now();
        direct_cycle(o.podman(), &plan).await?;
        direct.push(ms(started.elapsed()));
    }
    let orchestrated_cycle_ms = median(orchestrated);
    let direct_cycle_ms = median(direct);
    Ok(AppsFigures {
        app: bench.app_dir.display().to_string(),
        installs,
        reconcile_apps: ids.len(),
        reconcile_containers: containers,
        reconcile_passes: passes.len(),
        reconcile_max_ms: passes.iter().copied().fold(0.0, f64::max),
        reconcile_median_ms: median(passes),
        cycles: bench.cycles,
        orchestrated_cycle_ms,
        direct_cycle_ms,
        overhead: orchestrated_cycle_ms / direct_cycle_ms - 1.0,
    })
}

/// The podman calls that create, start, stop and remove the app's objects,
/// with nothing around them.
async fn direct_cycle(podman: &Podman, plan: &plan::AppPlan) -> BenchResult<()> {
    for c in &plan.containers {
        if !podman.image_exists(&c.image).await? {
            return Err(format!("image {} is not loaded", c.image).into());
        }
    }
    podman.ensure_network(&plan.network, &plan.labels).await?;
    for c in &plan.containers {
        podman
            .create(&c.podman_name, &c.create_opts(&plan.labels))
            .await?;
    }
    for c in &plan.containers {
        podman.start(&c.podman_name).await?;
    }
    for c in plan.containers.iter().rev() {
        podman.stop(&c.podman_name, c.grace).await?;
        podman.remove(&c.podman_name).await?;
    }
    podman.remove_network(&plan.network).await?;
    Ok(())
}

/// Runs the apps benchmark in a fresh temporary directory and prints its
/// figures, with a spinner naming the step while it runs.
pub fn bench(
    app_dir: PathBuf,
    runs: usize,
    apps: usize,
    passes: usize,
    cycles: usize,
    podman: &PodmanArgs,
    out: &Output,
) -> anyhow::Result<()> {
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let bench = AppsBench {
        app_dir,
        socket: PodmanChoice {
            socket: podman.podman_socket.clone(),
            rootful: podman.rootful,
        }
        .socket(),
        work: work.path().to_owned(),
        runs,
        apps,
        passes,
        cycles,
    };
    let spinner = if out.is_json() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    spinner.enable_steady_tick(Duration::from_millis(120));
    let figures = crate::runtime()?
        .block_on(run(&bench, &|step: &str| {
            spinner.set_message(step.to_owned())
        }))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    spinner.finish_and_clear();
    out.result(&figures, || {
        let mut text = format!("app {}
install → healthy from local verified blobs:
", figures.app);
        for run in &figures.installs {
            let stages: Vec<String> = run.stages.iter().map(|s| format!("{} {:.1}", s.stage, s.ms)).collect();
            text += &format!(
                "  {:>7.1} ms{}  [{}] ms
",
                run.total_ms,
                if run.image_loaded { " (image loaded)" } else { "" },
                stages.join(", ")
            );
        }
        text += &format!(
            "reconcile pass over {} running apps ({} containers): median {:.1} ms, max {:.1} ms over {} passes
",
            figures.reconcile_apps, figures.reconcile_containers, figures.reconcile_median_ms, figures.reconcile_max_ms, figures.reconcile_passes
        );
        text += &format!(
            "install + uninstall, median of {}: orchestrator {:.1} ms, the same podman calls directly {:.1} ms: overhead {:+.1}%",
            figures.cycles, figures.orchestrated_cycle_ms, figures.direct_cycle_ms, figures.overhead * 100.0
        );
        text
    });
    Ok(())
}
