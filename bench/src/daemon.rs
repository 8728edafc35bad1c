//! `archy-bench daemon`: the running node's cold start and idle memory.
//!
//! On one data directory, made by a first run that is not counted (the key,
//! the token, empty stores), `archy node run` is started again `runs`
//! times. Cold start is the time from spawning the process until
//! `GET /api/health` answers 200 on the address the node advertises in
//! `api.json`. Idle RSS is the process's resident memory `idle` seconds
//! after that, with the embedded relay, discovery and the reconcile loop
//! running and no apps.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::output::Output;

/// Longest a start may take before the run is called failed.
const START_LIMIT: Duration = Duration::from_secs(30);

#[derive(Serialize)]
struct Figures {
    cold_start_ms: Vec<f64>,
    cold_start_median_ms: f64,
    idle_rss_mb: Vec<f64>,
    idle_rss_median_mb: f64,
}

/// Runs the benchmark with the `archy` binary at `archy`.
pub fn run(archy: &Path, runs: usize, idle: u64, out: &Output) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
    let data = tmp.path().join("node");
    // The first run makes the key, the token and the stores.
    let (child, _) = start(archy, &data, &[])?;
    stop(child)?;
    let mut starts = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let (child, took) = start(archy, &data, &[])?;
        starts.push(took.as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_secs(idle));
        rss.push(rss_mb(child.id())?);
        stop(child)?;
    }
    let figures = Figures {
        cold_start_median_ms: median(&starts),
        cold_start_ms: starts,
        idle_rss_median_mb: median(&rss),
        idle_rss_mb: rss,
    };
    out.result(&figures, || {
        format!(
            "cold start to GET /api/health answering, {runs} runs: median {:.0} ms (all: {})\n\
             idle resident memory after {idle} s (relay, discovery, reconcile loop, no apps): median {:.1} MB (all: {})",
            figures.cold_start_median_ms,
            list(&figures.cold_start_ms, "ms"),
            figures.idle_rss_median_mb,
            list(&figures.idle_rss_mb, "MB"),
        )
    });
    Ok(())
}

fn list(values: &[f64], unit: &str) -> String {
    values
        .iter()
        .map(|v| format!("{v:.1} {unit}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The middle value (the upper one of an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// Spawns `archy node run` on `data` (embedded relay on a free port, API
/// on a free loopback port, then `extra` flags) and waits until its health
/// check answers; the child and how long that took.
pub fn start(archy: &Path, data: &Path, extra: &[&str]) -> anyhow::Result<(Child, Duration)> {
    let advert = data.join("api.json");
    let _ = std::fs::remove_file(&advert);
    let began = Instant::now();
    let mut child = Command::new(archy)
        .args(["node", "run", "--data-dir"])
        .arg(data)
        .args(["--relay-port", "0", "--api", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", archy.display()))?;
    loop {
        if let Some(addr) = advertised(&advert)
            && healthy(addr)
        {
            return Ok((child, began.elapsed()));
        }
        if began.elapsed() > START_LIMIT {
            let _ = child.kill();
            bail!("the node did not answer its health check within {START_LIMIT:?}");
        }
        if let Some(status) = child.try_wait()? {
            bail!("the node exited with {status} before answering");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The API address a node advertises in `api.json` at `path`.
pub fn advertised(path: &Path) -> Option<SocketAddr> {
    let text = std::fs::read(path).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
    value["addr"].as_str()?.parse().ok()
}

fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read the memory of process {pid}"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")?;
    Ok(kib / 1024.0)
}

/// Stops the node as a user would (SIGTERM) and waits for it.
pub fn stop(mut child: Child) -> anyhow::Result<()> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .context("cannot run kill")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("the node did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
