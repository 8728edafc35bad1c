//! `archy-bench catalog`: TUF client figures against a catalog served over
//! HTTP on loopback: a first refresh of a large catalog (time and the
//! client's peak RSS, measured in a separate `archy-tuf-client` process),
//! and repeated refreshes of an unchanged one (requests and local time).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use archy_node::catalog_server;
use archy_registry::tuf::{
    DirStore, FetchError, HttpTransport, Limits, MetadataStore, Timestamped, Transport, Updater,
    UtcTime, sign_metadata,
};
use archy_trust::Identity;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// What the benchmark measured.
#[derive(Debug, Serialize)]
pub struct CatalogFigures {
    pub targets: usize,
    pub targets_json_bytes: usize,
    pub first_refresh_process_ms: f64,
    pub first_refresh_process_peak_rss_kib: i64,
    pub first_refresh_in_process_ms: f64,
    pub first_refresh_requests: u64,
    pub unchanged_refreshes: usize,
    pub unchanged_requests_per_refresh: f64,
    pub unchanged_refresh_median_us: f64,
    pub unchanged_local_median_us: f64,
}

/// Counts requests and the time spent waiting on them.
struct Counting {
    inner: HttpTransport,
    requests: AtomicU64,
    nanos: AtomicU64,
}

impl Counting {
    async fn timed<T>(&self, fetch: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let result = fetch.await;
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        result
    }

    fn take(&self) -> (u64, Duration) {
        (
            self.requests.swap(0, Ordering::Relaxed),
            Duration::from_nanos(self.nanos.swap(0, Ordering::Relaxed)),
        )
    }
}

impl Transport for Counting {
    async fn fetch_metadata(&self, file_name: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.timed(self.inner.fetch_metadata(file_name, max_len))
            .await
    }

    async fn fetch_timestamp(&self, max_len: u64) -> Result<Timestamped, FetchError> {
        self.timed(self.inner.fetch_timestamp(max_len)).await
    }

    async fn fetch_target(&self, path: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.timed(self.inner.fetch_target(path, max_len)).await
    }
}

/// Measures the TUF client against a catalog of `targets` releases, its
/// first refresh also in a separate `client_exe` (`archy-tuf-client`) process.
pub fn run(client_exe: &Path, targets: usize, refreshes: usize) -> anyhow::Result<CatalogFigures> {
    ensure!(
        (1..=1_000_000).contains(&targets),
        "--targets must be 1 to 1000000"
    );
    ensure!(
        (1..=100_000).contains(&refreshes),
        "--refreshes must be 1 to 100000"
    );
    let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
    let repo = tmp.path().join("catalog");
    let targets_json_bytes = write_catalog(&repo, targets)?;
    crate::runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(
            async move { axum::serve(listener, catalog_server::router(repo.clone())).await },
        );
        let root = tmp.path().join("catalog/metadata/root.json");
        let (process_ms, peak_rss) =
            first_refresh_in_a_process(client_exe, &root, &base, tmp.path()).await?;
        let (mut updater, counting_first_ms) =
            first_refresh_in_process(&root, &base, tmp.path()).await?;
        let first_requests = updater_requests(&updater).0;
        let mut totals = Vec::with_capacity(refreshes);
        let mut locals = Vec::with_capacity(refreshes);
        let mut requests = 0;
        for _ in 0..refreshes {
            let start = Instant::now();
            updater.refresh().await?;
            let total = start.elapsed();
            let (n, waiting) = updater_requests(&updater);
            requests += n;
            totals.push(total.as_secs_f64() * 1e6);
            locals.push(total.saturating_sub(waiting).as_secs_f64() * 1e6);
        }
        Ok(CatalogFigures {
            targets,
            targets_json_bytes,
            first_refresh_process_ms: process_ms,
            first_refresh_process_peak_rss_kib: peak_rss,
            first_refresh_in_process_ms: counting_first_ms,
            first_refresh_requests: first_requests,
            unchanged_refreshes: refreshes,
            unchanged_requests_per_refresh: requests as f64 / refreshes as f64,
            unchanged_refresh_median_us: median(&mut totals),
            unchanged_local_median_us: median(&mut locals),
        })
    })
}

/// The figures, for people.
pub fn report(f: &CatalogFigures) -> String {
    [
        format!(
            "catalog of {} targets (targets.json {} bytes), served over HTTP on loopback",
            f.targets, f.targets_json_bytes
        ),
        format!(
            "first refresh, archy-tuf-client process: {:.1} ms, peak RSS {} KiB",
            f.first_refresh_process_ms, f.first_refresh_process_peak_rss_kib
        ),
        format!(
            "first refresh, in process:               {:.1} ms, {} requests",
            f.first_refresh_in_process_ms, f.first_refresh_requests
        ),
        format!(
            "refresh of the unchanged catalog ({} runs): {:.2} requests each, median {:.0} µs in all, {:.0} µs of local work",
            f.unchanged_refreshes,
            f.unchanged_requests_per_refresh,
            f.unchanged_refresh_median_us,
            f.unchanged_local_median_us
        ),
    ]
    .join("\n")
}

fn updater_requests(updater: &Updater<Counting>) -> (u64, Duration) {
    updater.transport().take()
}

async fn first_refresh_in_a_process(
    exe: &Path,
    root: &Path,
    base: &str,
    tmp: &Path,
) -> anyhow::Result<(f64, i64)> {
    let md = tmp.join("process-client");
    let status = tokio::process::Command::new(exe)
        .arg("--metadata-dir")
        .arg(&md)
        .arg("init")
        .arg(root)
        .status()
        .await
        .with_context(|| format!("cannot run {}", exe.display()))?;
    ensure!(status.success(), "archy-tuf-client init failed");
    let mut refresh = tokio::process::Command::new(exe);
    refresh
        .arg("--metadata-dir")
        .arg(&md)
        .arg("--metadata-url")
        .arg(format!("{base}/metadata/"))
        .arg("--print-peak-rss")
        .arg("refresh");
    let start = Instant::now();
    let out = refresh
        .output()
        .await
        .context("cannot run archy-tuf-client")?;
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success(),
        "archy-tuf-client refresh failed: {stderr}"
    );
    let peak_rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS: "))
        .and_then(|v| v.trim_end_matches(" kB").trim().parse().ok())
        .context("archy-tuf-client did not report its peak RSS")?;
    Ok((elapsed.as_secs_f64() * 1e3, peak_rss))
}

async fn first_refresh_in_process(
    root: &Path,
    base: &str,
    tmp: &Path,
) -> anyhow::Result<(Updater<Counting>, f64)> {
    let store = Arc::new(DirStore::new(tmp.join("in-process-client")));
    store.save("root", &std::fs::read(root)?)?;
    let transport = Counting {
        inner: HttpTransport::new(&format!("{base}/metadata/"), &format!("{base}/targets/"))?,
        requests: AtomicU64::new(0),
        nanos: AtomicU64::new(0),
    };
    let mut updater = Updater::new(store, transport, Limits::default())?;
    let start = Instant::now();
    updater.refresh().await?;
    Ok((updater, start.elapsed().as_secs_f64() * 1e3))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Writes a catalog whose top-level targets lists `count` releases, as
/// `archy catalog` lays it out; returns the size of its targets file.
fn write_catalog(dir: &Path, count: usize) -> anyhow::Result<usize> {
    let key = Identity::generate()?;
    let meta = dir.join("metadata");
    std::fs::create_dir_all(&meta)?;
    let expires = UtcTime::now().plus_seconds(86_400).to_string();
    let keyid = key.public_key().tuf_keyid();
    let role = json!({"keyids": [keyid], "threshold": 1});
    let root = json!({
        "_type": "root", "spec_version": "1.0.31", "version": 1, "expires": expires,
        "consistent_snapshot": true,
        "keys": {keyid.clone(): key.public_key().tuf_key()},
        "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role},
    });
    let root = sign_metadata(&root, &[&key])?;
    std::fs::write(meta.join("1.root.json"), &root)?;
    std::fs::write(meta.join("root.json"), &root)?;
    let mut entries = Map::new();
    for i in 0..count {
        let app = format!("org.example.app{i}");
        let digest = |salt: &str| hex::encode(Sha256::digest(format!("{salt}{i}")));
        entries.insert(
            format!("apps/{app}/1.0.0.json"),
            json!({
                "length": 1400 + i % 100,
                "hashes": {"sha256": digest("release")},
                "custom": {"app": app, "version": "1.0.0",
                           "blobs": [{"blake3": digest("blob"), "size": 2_137_088}]},
            }),
        );
    }
    let targets = json!({"_type": "targets", "spec_version": "1.0.31", "version": 1,
                         "expires": expires, "targets": Value::Object(entries)});
    let targets = sign_metadata(&targets, &[&key])?;
    std::fs::write(meta.join("1.targets.json"), &targets)?;
    let meta_entry = |bytes: &[u8]| {
        json!({"version": 1, "length": bytes.len(),
               "hashes": {"sha256": hex::encode(Sha256::digest(bytes))}})
    };
    let snapshot = json!({"_type": "snapshot", "spec_version": "1.0.31", "version": 1,
                          "expires": expires, "meta": {"targets.json": meta_entry(&targets)}});
    let snapshot = sign_metadata(&snapshot, &[&key])?;
    std::fs::write(meta.join("1.snapshot.json"), &snapshot)?;
    let timestamp = json!({"_type": "timestamp", "spec_version": "1.0.31", "version": 1,
                           "expires": expires, "meta": {"snapshot.json": meta_entry(&snapshot)}});
    std::fs::write(
        meta.join("timestamp.json"),
        sign_metadata(&timestamp, &[&key])?,
    )?;
    Ok(targets.len())
}
