//! `archy-bench memory`: the running node's memory while it fetches (or,
//! with `--install`, installs under podman) a large release by name, and
//! where that memory is.
//!
//! An origin node (`archy node run --key --catalog`, the publisher's own)
//! holds a release of one image archive of `--size` bytes, made as the
//! fetch benchmark makes it, and lists it on its embedded relay (`archy app
//! publish --provider TICKET`). Each run starts a fresh daemon (`archy node
//! run` on an empty data directory, as the daemon benchmark runs it:
//! embedded relay, discovery, here following the origin's relay, reconcile
//! loop, API), waits until the listing is in its market, lets it idle, then
//! asks it for the release by name with `archy fetch DID/APP --data-dir`:
//! a client of the daemon's API in a process of its own, so the daemon
//! does the work (catalog refresh, download, verification, export). With
//! `--install` the release's image also holds a static busybox, the daemon
//! is given a podman socket, and the work is `archy app install DID/APP`:
//! fetch, verification, the image's load into podman, its container's
//! start. The app is purged and its image removed after each run, so every
//! run loads it.
//!
//! The anchor is the daemon's own resident memory after its idle time. Its
//! high-water mark (`VmHWM`) is then reset (`/proc/PID/clear_refs`), so
//! the peak is the work's alone. While the fetch runs, `/proc/PID/status`
//! is read every 20 ms, and at each new peak (at most every 250 ms)
//! `/proc/PID/smaps_rollup` and `/proc/PID/smaps`, whose mappings are put
//! in groups (anonymous memory, redb files, the blob store's files, the
//! relay's LMDB map, the binary). The split is the peak's sample less the
//! idle one, group by group.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use archy_orchestrator::Socket;
use archy_orchestrator::podman::Podman;
use archy_synthetic::{write_app, write_runnable_app};
use archy_trust::{Identity, keyfile};
use serde::Serialize;

use crate::daemon;
use crate::fetch::{self, archy_ok, s};
use crate::http;
use crate::output::Output;

/// The app id of the release fetched.
const APP: &str = "org.bench.memory";
/// How often the daemon's status is read during the work.
const SAMPLE: Duration = Duration::from_millis(20);
/// Least time between two reads of its mappings.
const MAPS_EVERY: Duration = Duration::from_millis(250);
/// How long the daemon may take to find the listing.
const LISTING_LIMIT: Duration = Duration::from_secs(60);
/// How long after the work the memory is read again.
const AFTER: Duration = Duration::from_secs(2);
/// The tag of the synthetic image (its archive's `RepoTags`).
const IMAGE_TAG: &str = "localhost/synthetic:latest";
/// The budget over idle the target allows, MB.
pub const TARGET_OVER_IDLE_MB: f64 = 64.0;

/// Settings of one benchmark.
pub struct MemoryBench {
    pub size: u64,
    pub runs: usize,
    pub idle: u64,
    pub dir: Option<PathBuf>,
    /// Install under the podman on this socket instead of fetching.
    pub install: Option<Socket>,
}

/// Lines of `/proc/PID/status`: memory in KiB, and threads.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Status {
    pub vm_rss: u64,
    pub vm_hwm: u64,
    pub rss_anon: u64,
    pub rss_file: u64,
    pub rss_shmem: u64,
    pub threads: u64,
}

/// Lines of `/proc/PID/smaps_rollup`, KiB.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rollup {
    pub rss: u64,
    pub anonymous: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    /// Anonymous memory in transparent huge pages.
    pub anon_huge_pages: u64,
}

/// Resident memory of one group of mappings, KiB.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Region {
    pub rss: u64,
    pub anonymous: u64,
    pub mappings: u64,
}

/// The daemon's memory at one moment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub status: Status,
    pub rollup: Rollup,
    /// Groups of mappings from `/proc/PID/smaps`.
    pub regions: BTreeMap<String, Region>,
}

/// One run: a fresh daemon, idle, then the fetch.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryRun {
    /// Seconds the work (`archy fetch` or `archy app install`) took.
    pub work_seconds: f64,
    /// After the idle time: the anchor.
    pub idle: Snapshot,
    /// `VmHWM` at the end of the work, reset to the idle RSS before it
    /// (or, where the reset is refused, the largest `VmRSS` read).
    pub peak_kib: u64,
    /// The sample with the largest `VmRSS` during the work.
    pub at_peak: Snapshot,
    /// [`AFTER`] after the fetch ended.
    pub after: Snapshot,
}

#[derive(Debug, Serialize)]
struct Figures {
    /// `fetch` or `install`.
    work: &'static str,
    size_bytes: u64,
    runs: Vec<MemoryRun>,
    idle_median_mb: f64,
    peak_median_mb: f64,
    over_idle_median_mb: f64,
    target_over_idle_mb: f64,
}

/// Runs the benchmark with `archy` and prints its figures.
pub fn run(archy: &Path, bench: MemoryBench, out: &Output) -> anyhow::Result<()> {
    ensure!(bench.size > 0, "--size must be more than zero");
    ensure!(bench.runs >= 1, "--runs must be at least 1");
    let temp;
    let root = match &bench.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("archy-bench-memory")
                .tempdir()?;
            temp.path().to_owned()
        }
    };
    std::fs::create_dir_all(&root)?;
    let key = root.join("publisher.key");
    if !key.exists() {
        keyfile::create(&key, &Identity::generate()?)?;
    }
    let did = keyfile::load(&key)?.did();
    // A runnable release differs from a plain one: each is kept apart.
    let kind = if bench.install.is_some() {
        "runnable"
    } else {
        "plain"
    };
    let cat = root.join(kind).join("catalog");
    let app = root.join(kind).join("app");
    let origin = root.join(kind).join("origin");
    if !cat.exists() {
        eprintln!("making a {} byte release …", bench.size);
        std::fs::create_dir_all(root.join(kind))?;
        archy_ok(archy, &["catalog", "init", s(&cat), "--key", s(&key)])?;
        match &bench.install {
            Some(_) => {
                let busybox = std::env::var_os("BUSYBOX").unwrap_or("/bin/busybox".into());
                write_runnable_app(&app, &did, APP, "1.0.0", bench.size, Path::new(&busybox))
                    .with_context(|| format!("writing a runnable app with {busybox:?}"))?;
            }
            None => {
                write_app(&app, &did, APP, "1.0.0", &[bench.size])?;
            }
        }
        let pack = ["app", "pack", s(&app), "--key", s(&key), "--data-dir"];
        archy_ok(archy, &[&pack[..], &[s(&origin)]].concat())?;
        let signed = app.join("manifest.signed.json");
        archy_ok(
            archy,
            &["catalog", "add", s(&cat), s(&signed), "--key", s(&key)],
        )?;
    }
    let size = std::fs::metadata(app.join("image-0.tar"))?.len();

    let relay_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let relay = format!("ws://127.0.0.1:{relay_port}");
    let port = relay_port.to_string();
    let origin_node = fetch::Node::start(
        archy,
        &origin,
        &[
            "--key",
            s(&key),
            "--catalog",
            s(&cat),
            "--relay-port",
            &port,
            "--api",
            "127.0.0.1:0",
            "--no-apps",
        ],
    )?;
    publish(archy, &app, &key, &cat, &relay, &origin_node.ticket)?;

    let runtime = crate::runtime()?;
    let work = match &bench.install {
        None => Work::Fetch,
        Some(socket) => {
            let podman = Podman::new(socket);
            runtime
                .block_on(podman.check())
                .context("--install needs podman's service on that socket")?;
            Work::Install {
                socket: socket.0.clone(),
                podman: Box::new(podman),
            }
        }
    };
    let mut runs = Vec::new();
    for n in 1..=bench.runs {
        eprintln!("run {n} of {}…", bench.runs);
        let data = root.join(format!("daemon-{n}"));
        let _ = std::fs::remove_dir_all(&data);
        let run = one_run(archy, &runtime, &work, &data, &did, &relay, bench.idle);
        let _ = std::fs::remove_dir_all(&data);
        runs.push(run?);
    }
    drop(origin_node);

    let mb = |kib: u64| kib as f64 / 1024.0;
    let idle: Vec<f64> = runs.iter().map(|r| mb(r.idle.status.vm_rss)).collect();
    let peak: Vec<f64> = runs.iter().map(|r| mb(r.peak_kib)).collect();
    let over: Vec<f64> = idle.iter().zip(&peak).map(|(i, p)| p - i).collect();
    let figures = Figures {
        work: work.name(),
        size_bytes: size,
        idle_median_mb: daemon::median(&idle),
        peak_median_mb: daemon::median(&peak),
        over_idle_median_mb: daemon::median(&over),
        target_over_idle_mb: TARGET_OVER_IDLE_MB,
        runs,
    };
    out.result(&figures, || report(&figures));
    Ok(())
}

/// Lists the release on `relay` with the origin's ticket as provider.
fn publish(
    archy: &Path,
    app: &Path,
    key: &Path,
    cat: &Path,
    relay: &str,
    ticket: &str,
) -> anyhow::Result<()> {
    let args = [
        "app",
        "publish",
        s(app),
        "--key",
        s(key),
        "--catalog",
        s(cat),
        "--relay",
        relay,
        "--provider",
        ticket,
    ];
    // The origin's relay may need a moment after the node printed its ticket.
    let began = Instant::now();
    loop {
        match archy_ok(archy, &args) {
            Ok(()) => return Ok(()),
            Err(e) if began.elapsed() > Duration::from_secs(30) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// What each run asks of the daemon.
enum Work {
    /// `archy fetch DID/APP`.
    Fetch,
    /// `archy app install DID/APP`, with the daemon on this podman.
    Install {
        socket: PathBuf,
        podman: Box<Podman>,
    },
}

impl Work {
    fn name(&self) -> &'static str {
        match self {
            Work::Fetch => "fetch",
            Work::Install { .. } => "install",
        }
    }

    /// The daemon's arguments for this work.
    fn daemon_args<'a>(&'a self, relay: &'a str) -> Vec<&'a str> {
        let mut args = vec!["--discover-from", relay];
        if let Work::Install { socket, .. } = self {
            args.extend(["--podman-socket", s(socket)]);
        }
        args
    }

    /// The client command that makes the daemon do the work.
    fn command(&self, archy: &Path, data: &Path, did: &archy_trust::Did) -> Command {
        let name = format!("{did}/{APP}");
        let mut command = Command::new(archy);
        match self {
            Work::Fetch => command.args(["fetch", &name]),
            Work::Install { .. } => command.args(["app", "install", &name]),
        };
        // Without --json, so that a failure's reason is on stderr.
        command.arg("--data-dir").arg(data);
        command
    }

    /// Removes the image from podman, so the next install loads it.
    fn forget_image(&self, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
        if let Work::Install { podman, .. } = self {
            runtime
                .block_on(podman.remove_image(IMAGE_TAG))
                .context("removing the benchmark's image from podman")?;
        }
        Ok(())
    }

    /// Purges the installed app from the daemon on `data`.
    fn undo(&self, archy: &Path, data: &Path) -> anyhow::Result<()> {
        if let Work::Install { .. } = self {
            let dir = s(data);
            archy_ok(
                archy,
                &["app", "uninstall", APP, "--purge", "--data-dir", dir],
            )?;
        }
        Ok(())
    }
}

fn one_run(
    archy: &Path,
    runtime: &tokio::runtime::Runtime,
    work: &Work,
    data: &Path,
    did: &archy_trust::Did,
    relay: &str,
    idle: u64,
) -> anyhow::Result<MemoryRun> {
    work.forget_image(runtime)?;
    let (child, _) = daemon::start(archy, data, &work.daemon_args(relay))?;
    let pid = child.id();
    let measured = (|| {
        let addr = daemon::advertised(&data.join("api.json")).context("no api.json")?;
        let token = std::fs::read_to_string(data.join("api.token"))?;
        runtime.block_on(wait_for_listing(addr, token.trim()))?;
        std::thread::sleep(Duration::from_secs(idle));
        let idle = snapshot(pid, data).context("cannot read the daemon's memory")?;
        let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let sampler = Sampler::start(pid, data.to_owned());
        let done = fetch::run_watched(work.name(), work.command(archy, data, did));
        let (at_peak, max_rss) = sampler.finish();
        let (work_seconds, _) = done?;
        let hwm = read_status(pid).map_or(0, |s| s.vm_hwm);
        std::thread::sleep(AFTER);
        let after = snapshot(pid, data).unwrap_or_default();
        work.undo(archy, data)?;
        Ok(MemoryRun {
            work_seconds,
            peak_kib: if reset { hwm.max(max_rss) } else { max_rss },
            idle,
            at_peak,
            after,
        })
    })();
    daemon::stop(child)?;
    work.forget_image(runtime)?;
    measured
}

/// Waits until the daemon's market holds a listing.
async fn wait_for_listing(addr: SocketAddr, token: &str) -> anyhow::Result<()> {
    let began = Instant::now();
    loop {
        if let Ok(body) = http::get(addr, "/api/market", token).await {
            let page: serde_json::Value = serde_json::from_slice(&body)?;
            if page["total"].as_u64().unwrap_or(0) >= 1 {
                return Ok(());
            }
        }
        if began.elapsed() > LISTING_LIMIT {
            bail!(
                "the daemon did not find the listing within {} s",
                LISTING_LIMIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads the daemon's memory in a thread of its own while the work runs.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Snapshot, u64)>,
}

impl Sampler {
    fn start(pid: u32, data: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let told = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = Snapshot::default();
            let mut maps_read: Option<Instant> = None;
            loop {
                let done = told.load(Ordering::Relaxed);
                if let Some(status) = read_status(pid)
                    && status.vm_rss > peak.status.vm_rss
                {
                    peak.status = status;
                    let due = maps_read.is_none_or(|at| at.elapsed() >= MAPS_EVERY);
                    if due && let Some(maps) = snapshot(pid, &data) {
                        peak.rollup = maps.rollup;
                        peak.regions = maps.regions;
                        maps_read = Some(Instant::now());
                    }
                }
                if done {
                    break;
                }
                std::thread::sleep(SAMPLE);
            }
            let max = peak.status.vm_rss;
            (peak, max)
        });
        Self { stop, thread }
    }

    /// The sample with the largest RSS, and that RSS.
    fn finish(self) -> (Snapshot, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The memory of process `pid`, whose data directory is `data`.
pub fn snapshot(pid: u32, data: &Path) -> Option<Snapshot> {
    Some(Snapshot {
        status: read_status(pid)?,
        rollup: read_rollup(pid).unwrap_or_default(),
        regions: read_regions(pid, data).unwrap_or_default(),
    })
}

/// `name: N kB` lines of a /proc file, in KiB.
fn kib_lines(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|line| {
        let (name, value) = line.split_once(':')?;
        let kib = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some((name, kib))
    })
}

pub fn read_status(pid: u32) -> Option<Status> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut status = Status::default();
    for (name, kib) in kib_lines(&text) {
        match name {
            "VmRSS" => status.vm_rss = kib,
            "VmHWM" => status.vm_hwm = kib,
            "RssAnon" => status.rss_anon = kib,
            "RssFile" => status.rss_file = kib,
            "RssShmem" => status.rss_shmem = kib,
            _ => {}
        }
    }
    status.threads = text
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (status.vm_rss > 0).then_some(status)
}

fn read_rollup(pid: u32) -> Option<Rollup> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let mut rollup = Rollup::default();
    for (name, kib) in kib_lines(&text) {
        match name {
            "Rss" => rollup.rss = kib,
            "Anonymous" => rollup.anonymous = kib,
            "Shared_Clean" => rollup.shared_clean = kib,
            "Shared_Dirty" => rollup.shared_dirty = kib,
            "Private_Clean" => rollup.private_clean = kib,
            "Private_Dirty" => rollup.private_dirty = kib,
            "AnonHugePages" => rollup.anon_huge_pages = kib,
            _ => {}
        }
    }
    Some(rollup)
}

/// `/proc/PID/smaps`, mapping by mapping, summed by [`group`].
fn read_regions(pid: u32, data: &Path) -> Option<BTreeMap<String, Region>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let data = data.canonicalize().unwrap_or_else(|_| data.to_owned());
    let mut regions: BTreeMap<String, Region> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: range, perms, offset, dev, inode, path.
            let path = line.split_whitespace().nth(5).unwrap_or_default();
            let name = group(path, &data);
            regions.entry(name.clone()).or_default().mappings += 1;
            current = Some(name);
        } else if let Some(name) = &current
            && let Some((field, kib)) = kib_lines(line).next()
        {
            let region = regions.entry(name.clone()).or_default();
            match field {
                "Rss" => region.rss += kib,
                "Anonymous" => region.anonymous += kib,
                _ => {}
            }
        }
    }
    Some(regions)
}

/// The group a mapping of `path` belongs to.
fn group(path: &str, data: &Path) -> String {
    let within = |dir: &str| Path::new(path).starts_with(data.join(dir));
    if path.is_empty() || path == "[heap]" || path.starts_with("[anon") {
        "anonymous (heap, allocator, buffers)".into()
    } else if path.starts_with("[stack") {
        "main stack".into()
    } else if path.starts_with('[') {
        "kernel ([vdso], [vvar])".into()
    } else if path.ends_with(".mdb") || within("relay") {
        "relay LMDB map".into()
    } else if path.ends_with(".redb") || path.ends_with("blobs.db") {
        "redb files".into()
    } else if within("blobs") || within("releases") {
        "blob files".into()
    } else if path.contains("/archy") && !path.ends_with(".so") {
        "the archy binary".into()
    } else {
        "other files (libraries)".into()
    }
}

fn report(f: &Figures) -> String {
    let mb = |kib: u64| kib as f64 / 1024.0;
    let signed = |kib: i64| format!("{:+.1}", kib as f64 / 1024.0);
    let diff = |a: u64, b: u64| a as i64 - b as i64;
    let command = match f.work {
        "install" => "archy app install DID/APP",
        _ => "archy fetch DID/APP",
    };
    let mut text = format!(
        "the daemon (archy node run) asked to {} a release of {} bytes by name ({command} against it)\n",
        f.work, f.size_bytes
    );
    for (i, run) in f.runs.iter().enumerate() {
        let (idle, peak) = (&run.idle, &run.at_peak);
        text += &format!(
            "run {}: idle {:.1} MB, peak {:.1} MB ({} over idle), {:.1} MB {} s after; {} {:.1} s; \
             threads {} idle, {} at the peak\n",
            i + 1,
            mb(idle.status.vm_rss),
            mb(run.peak_kib),
            signed(diff(run.peak_kib, idle.status.vm_rss)),
            mb(run.after.status.vm_rss),
            AFTER.as_secs(),
            f.work,
            run.work_seconds,
            idle.status.threads,
            peak.status.threads,
        );
        text += &format!(
            "    at the peak sample ({:.1} MB) over idle: RssAnon {} MB, RssFile {} MB, RssShmem {} MB; \
             smaps_rollup Anonymous {} MB (huge pages {} MB), Private_Dirty {} MB, Private_Clean {} MB, Shared {} MB\n",
            mb(peak.status.vm_rss),
            signed(diff(peak.status.rss_anon, idle.status.rss_anon)),
            signed(diff(peak.status.rss_file, idle.status.rss_file)),
            signed(diff(peak.status.rss_shmem, idle.status.rss_shmem)),
            signed(diff(peak.rollup.anonymous, idle.rollup.anonymous)),
            signed(diff(
                peak.rollup.anon_huge_pages,
                idle.rollup.anon_huge_pages
            )),
            signed(diff(peak.rollup.private_dirty, idle.rollup.private_dirty)),
            signed(diff(peak.rollup.private_clean, idle.rollup.private_clean)),
            signed(diff(
                peak.rollup.shared_clean + peak.rollup.shared_dirty,
                idle.rollup.shared_clean + idle.rollup.shared_dirty
            )),
        );
        let groups: std::collections::BTreeSet<&String> =
            idle.regions.keys().chain(peak.regions.keys()).collect();
        for name in groups {
            let (a, b) = (
                idle.regions.get(name).copied().unwrap_or_default(),
                peak.regions.get(name).copied().unwrap_or_default(),
            );
            text += &format!(
                "      {name}: {:.1} MB idle, {:.1} MB at the peak ({}), {} mappings at the peak\n",
                mb(a.rss),
                mb(b.rss),
                signed(diff(b.rss, a.rss)),
                b.mappings,
            );
        }
    }
    text += &format!(
        "median of {} runs: idle {:.1} MB, peak {:.1} MB, {:+.1} MB over idle (target: within {:.0} MB)",
        f.runs.len(),
        f.idle_median_mb,
        f.peak_median_mb,
        f.over_idle_median_mb,
        f.target_over_idle_mb,
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_grouped_by_what_they_hold() {
        let data = Path::new("/d");
        assert_eq!(group("", data), "anonymous (heap, allocator, buffers)");
        assert_eq!(group("/d/state.redb", data), "redb files");
        assert_eq!(group("/d/blobs/blobs.db", data), "redb files");
        assert_eq!(group("/d/relay/data.mdb", data), "relay LMDB map");
        assert_eq!(group("/d/blobs/data/ab.data", data), "blob files");
        assert_eq!(group("/usr/lib/libc.so.6", data), "other files (libraries)");
    }

    #[test]
    fn proc_lines_are_read_in_kib() {
        let lines: Vec<_> = kib_lines("VmRSS:\t  1234 kB\nName: archy\nRss: 5 kB").collect();
        assert_eq!(lines, [("VmRSS", 1234), ("Rss", 5)]);
    }
}
