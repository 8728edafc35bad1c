//! `archy-bench fetch`: the swarm's transfer figures, each from real
//! processes on loopback.
//!
//! 1. One provider, one fetcher: `archy fetch` of a release holding one
//!    image archive of `--size` bytes (catalog refresh, download, BLAKE3
//!    check, export to a file), against `sendme send/receive` and a plain
//!    HTTP GET (busybox httpd + curl) of the same file.
//! 2. One release of two blobs from one provider, then from two, each
//!    provider capped by `archy node run --max-upload`.
//!
//! Wall time is measured around each fetching process; its peak RSS is
//! the largest VmHWM read from /proc while it runs (getrusage would carry
//! this process's own high-water mark into the child).

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use archy_synthetic::write_app;
use archy_trust::{Identity, keyfile};
use serde::Serialize;

use crate::output::Output;

/// Longest any one step may take.
const STEP_LIMIT: Duration = Duration::from_secs(900);
/// Bytes of a failed step's stderr shown.
const MAX_SHOWN_ERROR: u64 = 16 << 10;
/// How often the fetcher's memory is sampled.
const SAMPLE: Duration = Duration::from_millis(20);

/// Settings of one benchmark run.
pub struct FetchBench {
    pub size: u64,
    pub cap: u64,
    pub capped_size: u64,
    pub dir: Option<PathBuf>,
}

#[derive(Serialize)]
struct Measured {
    tool: String,
    seconds: f64,
    megabytes_per_second: f64,
    peak_rss_kib: Option<u64>,
}

#[derive(Serialize)]
struct Figures {
    size_bytes: u64,
    single: Vec<Measured>,
    archy_vs_sendme: Option<f64>,
    archy_vs_http: Option<f64>,
    cap_bytes_per_second: u64,
    release_bytes: u64,
    one_provider: Measured,
    two_providers: Measured,
    two_vs_one: f64,
}

/// Runs every figure with `archy` and prints them.
pub fn run(archy: &Path, bench: FetchBench, out: &Output) -> anyhow::Result<()> {
    ensure!(
        bench.size > 0 && bench.capped_size > 0,
        "sizes must be more than zero"
    );
    let temp;
    let root = match &bench.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("archy-bench-fetch")
                .tempdir()?;
            temp.path().to_owned()
        }
    };
    std::fs::create_dir_all(&root)?;
    let key = root.join("publisher.key");
    let identity = Identity::generate()?;
    if !key.exists() {
        keyfile::create(&key, &identity)?;
    }
    let identity = keyfile::load(&key)?;
    let did = identity.did();
    let cat = root.join("catalog");
    if !cat.exists() {
        archy_ok(archy, &["catalog", "init", s(&cat), "--key", s(&key)])?;
    }

    eprintln!("making a {} byte app …", bench.size);
    let big = root.join("big");
    write_app(&big, &did, "org.bench.big", "1.0.0", &[bench.size])?;
    let origin = root.join("origin");
    archy_ok(
        archy,
        &[
            "app",
            "pack",
            s(&big),
            "--key",
            s(&key),
            "--data-dir",
            s(&origin),
        ],
    )?;
    archy_ok(
        archy,
        &[
            "catalog",
            "add",
            s(&cat),
            s(&big.join("manifest.signed.json")),
            "--key",
            s(&key),
        ],
    )?;
    let file = big.join("image-0.tar");
    let file_size = std::fs::metadata(&file)?.len();

    let mut single = Vec::new();
    {
        let node = Node::start(archy, &origin, &["--key", s(&key), "--catalog", s(&cat)])?;
        eprintln!("archy fetch …");
        let fetch_dir = root.join("fetch-single");
        let _ = std::fs::remove_dir_all(&fetch_dir);
        single.push(measure("archy fetch", file_size, {
            let mut c = Command::new(archy);
            c.args([
                "fetch",
                &format!("{did}/org.bench.big"),
                "--origin",
                &node.ticket,
            ]);
            c.args(["--data-dir", s(&fetch_dir), "--json"]);
            c
        })?);
    }
    match which("sendme") {
        Some(sendme) => {
            eprintln!("sendme …");
            single.push(sendme_run(&sendme, &root, &file, file_size)?);
        }
        None => eprintln!("sendme is not on PATH (cargo install sendme@0.37.1): skipped"),
    }
    match (which("busybox"), which("curl")) {
        (Some(busybox), Some(curl)) => {
            eprintln!("HTTP …");
            single.push(http_run(&busybox, &curl, &root, &file, file_size)?);
        }
        _ => eprintln!("busybox or curl is missing: HTTP skipped"),
    }
    let rate = |tool: &str| {
        single
            .iter()
            .find(|m| m.tool == tool)
            .map(|m| m.megabytes_per_second)
    };
    let archy_rate = rate("archy fetch").unwrap_or_default();

    eprintln!("two providers capped at {} B/s …", bench.cap);
    let pair = root.join("pair");
    write_app(
        &pair,
        &did,
        "org.bench.pair",
        "1.0.0",
        &[bench.capped_size, bench.capped_size],
    )?;
    let (p1, p2) = (root.join("provider-1"), root.join("provider-2"));
    for provider in [&p1, &p2] {
        let args = ["app", "pack", s(&pair), "--key", s(&key), "--data-dir"];
        archy_ok(archy, &[&args[..], &[s(provider)]].concat())?;
    }
    archy_ok(
        archy,
        &[
            "catalog",
            "add",
            s(&cat),
            s(&pair.join("manifest.signed.json")),
            "--key",
            s(&key),
        ],
    )?;
    let release_bytes: u64 = (0..2)
        .map(|n| std::fs::metadata(pair.join(format!("image-{n}.tar"))).map(|m| m.len()))
        .sum::<Result<u64, _>>()?;
    let cap = bench.cap.to_string();
    let n1 = Node::start(
        archy,
        &p1,
        &["--key", s(&key), "--catalog", s(&cat), "--max-upload", &cap],
    )?;
    let n2 = Node::start(archy, &p2, &["--max-upload", &cap])?;
    let capped_fetch = |name: &str, extra: &[&str]| {
        let dir = root.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let mut c = Command::new(archy);
        c.args([
            "fetch",
            &format!("{did}/org.bench.pair"),
            "--origin",
            &n1.ticket,
        ]);
        c.args(extra).args(["--data-dir", s(&dir), "--json"]);
        measure(name, release_bytes, c)
    };
    let one_provider = capped_fetch("one-provider", &[])?;
    let two_providers = capped_fetch("two-providers", &["--provider", &n2.ticket])?;
    drop((n1, n2));

    let figures = Figures {
        size_bytes: file_size,
        archy_vs_sendme: rate("sendme").map(|r| archy_rate / r),
        archy_vs_http: rate("http get").map(|r| archy_rate / r),
        single,
        cap_bytes_per_second: bench.cap,
        release_bytes,
        two_vs_one: one_provider.seconds / two_providers.seconds,
        one_provider,
        two_providers,
    };
    out.result(&figures, || {
        let mut text = format!("one provider -> one fetcher, {} bytes on loopback\n", figures.size_bytes);
        for m in &figures.single {
            text += &line(m);
        }
        if let Some(r) = figures.archy_vs_sendme {
            text += &format!("archy / sendme speed: {r:.2}x\n");
        }
        if let Some(r) = figures.archy_vs_http {
            text += &format!("archy / HTTP speed:   {r:.2}x\n");
        }
        text += &format!(
            "\nrelease of 2 blobs ({} bytes), providers capped at {} B/s each (archy node run --max-upload)\n",
            figures.release_bytes, figures.cap_bytes_per_second
        );
        text += &line(&figures.one_provider);
        text += &line(&figures.two_providers);
        text += &format!("two / one provider speed: {:.2}x\n", figures.two_vs_one);
        text
    });
    Ok(())
}

fn line(m: &Measured) -> String {
    let rss = m
        .peak_rss_kib
        .map(|k| format!("{:.1} MB", k as f64 * 1024.0 / 1e6))
        .unwrap_or_else(|| "?".into());
    format!(
        "{:<16} {:>8.2} s {:>9.1} MB/s  peak RSS {rss}\n",
        m.tool, m.seconds, m.megabytes_per_second
    )
}

pub fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// `tool` on `PATH`, if it is there.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.is_file())
}

/// Runs `archy args…`, which must succeed.
pub fn archy_ok(archy: &Path, args: &[&str]) -> anyhow::Result<()> {
    let mut command = Command::new(archy);
    command.args(args);
    run_watched(&format!("archy {}", args.join(" ")), command).map(|_| ())
}

/// Runs `command` to the end, timing it and sampling its peak RSS.
fn measure(tool: &str, bytes: u64, command: Command) -> anyhow::Result<Measured> {
    let (seconds, peak) = run_watched(tool, command)?;
    Ok(Measured {
        tool: tool.to_owned(),
        seconds,
        megabytes_per_second: bytes as f64 / 1e6 / seconds,
        peak_rss_kib: peak,
    })
}

/// Runs `command` for at most [`STEP_LIMIT`]: seconds taken and the peak
/// RSS seen. Its stderr goes to a file, not a pipe, so a chatty child
/// never blocks on a full pipe; the end of it is shown if it fails.
pub fn run_watched(tool: &str, mut command: Command) -> anyhow::Result<(f64, Option<u64>)> {
    let mut stderr = tempfile::tempfile()?;
    command.stdout(Stdio::null()).stderr(stderr.try_clone()?);
    let start = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {tool}"))?;
    let mut peak = None;
    let status = loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = Some(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > STEP_LIMIT {
            child.kill().ok();
            child.wait().ok();
            bail!("{tool} took longer than {} s", STEP_LIMIT.as_secs());
        }
        std::thread::sleep(SAMPLE);
    };
    let seconds = start.elapsed().as_secs_f64();
    if !status.success() {
        let size = stderr.seek(SeekFrom::End(0))?;
        stderr.seek(SeekFrom::Start(size.saturating_sub(MAX_SHOWN_ERROR)))?;
        let mut err = String::new();
        stderr.read_to_string(&mut err).ok();
        bail!("{tool} failed: {err}");
    }
    Ok((seconds, peak))
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A background process, stopped with SIGINT (then killed) when dropped.
struct Background {
    child: Child,
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// An `archy node run` and its ticket.
pub struct Node {
    pub ticket: String,
    _process: Background,
}

impl Node {
    /// Runs `archy node run` on `data` with `extra` flags until dropped.
    pub fn start(archy: &Path, data: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let ticket_file = data.join("ticket");
        let _ = std::fs::remove_file(&ticket_file);
        let child = Command::new(archy)
            .args([
                "node",
                "run",
                "--data-dir",
                s(data),
                "--ticket-file",
                s(&ticket_file),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let process = Background { child };
        let ticket = wait_for(|| std::fs::read_to_string(&ticket_file).ok())
            .context("the node did not print its ticket within 30 s")?;
        Ok(Self {
            ticket,
            _process: process,
        })
    }
}

fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Some(v) = probe() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn sendme_run(sendme: &Path, root: &Path, file: &Path, size: u64) -> anyhow::Result<Measured> {
    let send_dir = root.join("sendme-send");
    let recv_dir = root.join("sendme-recv");
    for dir in [&send_dir, &recv_dir] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
    }
    let mut child = Command::new(sendme)
        .args(["send", s(file), "--relay", "disabled", "--no-progress"])
        .current_dir(&send_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("sendme has no stdout")?;
    let _sender = Background { child };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(ticket) = line.strip_prefix("sendme receive ") {
                tx.send(ticket.trim().to_owned()).ok();
            }
        }
    });
    let ticket = rx
        .recv_timeout(STEP_LIMIT)
        .context("sendme send printed no ticket")?;
    let mut receive = Command::new(sendme);
    receive
        .args(["receive", &ticket, "--relay", "disabled", "--no-progress"])
        .current_dir(&recv_dir)
        .stdin(Stdio::null());
    measure("sendme", size, receive)
}

fn http_run(
    busybox: &Path,
    curl: &Path,
    root: &Path,
    file: &Path,
    size: u64,
) -> anyhow::Result<Measured> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = file.parent().context("the file has no directory")?;
    let child = Command::new(busybox)
        .args([
            "httpd",
            "-f",
            "-p",
            &format!("127.0.0.1:{port}"),
            "-h",
            s(dir),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _server = Background { child };
    wait_for(|| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .context("busybox httpd did not start")?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let mut get = Command::new(curl);
    get.args(["-sSf", "-o", s(&root.join("http.out"))])
        .arg(format!("http://127.0.0.1:{port}/{name}"));
    let measured = measure("http get", size, get);
    let _ = std::fs::remove_file(root.join("http.out"));
    measured
}
