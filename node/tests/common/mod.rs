//! Helpers shared by the end-to-end tests: running the real binaries,
//! building the sample images once, and publishing a sample app under a
//! fresh key. Each test crate uses a subset, hence `dead_code` is allowed.
#![allow(dead_code)]

pub mod podman;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// `program` run under `timeout SECONDS`, so a hung child fails its test
/// instead of stalling the suite.
pub fn bounded(seconds: u32, program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("timeout");
    command.arg(seconds.to_string()).arg(program);
    command
}

/// A child process killed when the test ends, pass or fail, with the
/// process group it leads: a [`bounded`] child is `timeout`, which leads a
/// group holding the real program, and killing `timeout` alone would leave
/// that program running.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        // A child that leads no group has no group of its pid to kill.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn archy(args: &[&str]) -> Output {
    bounded(300, env!("CARGO_BIN_EXE_archy"))
        .args(args)
        .output()
        .expect("archy runs")
}

pub fn ok(args: &[&str]) -> String {
    succeeded(args, archy(args))
}

/// The stdout of a run of `archy args` that must have succeeded.
pub fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "archy {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn json(args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(&args)).unwrap()
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Builds the sample images once per test run, with real podman.
pub fn sample_images() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let apps = ["hello-web", "notes", "duo"];
        if apps
            .iter()
            .all(|a| repo().join("apps").join(a).join("image.tar").exists())
        {
            return;
        }
        let status = Command::new(repo().join("apps/build-images.sh"))
            .status()
            .expect(
                "apps/build-images.sh runs (needs podman: scripts/install-deps.sh installs it)",
            );
        assert!(status.success(), "apps/build-images.sh failed");
    });
}

/// A fresh key and a copy of a sample app published under it.
pub fn app_under_new_key(tmp: &Path, app: &str) -> (PathBuf, PathBuf, String) {
    sample_images();
    let key = tmp.join(format!("{app}.key"));
    ok(&["key", "new", "--out", s(&key)]);
    let did = json(&["key", "show", s(&key)])["did"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tmp.join(app);
    fs::create_dir(&dir).unwrap();
    let src = repo().join("apps").join(app);
    let manifest = fs::read_to_string(src.join("manifest.yml")).unwrap();
    let manifest: String = manifest
        .lines()
        .map(|l| {
            if l.starts_with("publisher:") {
                format!("publisher: {did}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(dir.join("manifest.yml"), manifest).unwrap();
    fs::copy(src.join("image.tar"), dir.join("image.tar")).unwrap();
    (dir, key, did)
}

/// `archy node run`, stopped when dropped.
pub struct NodeProcess {
    _process: Running,
    pub ticket: String,
}

impl NodeProcess {
    pub fn start(data: &Path, extra: &[&str]) -> Self {
        let ticket_file = data.join("ticket");
        let _ = std::fs::remove_file(&ticket_file);
        let process = Running(
            Command::new(env!("CARGO_BIN_EXE_archy"))
                .args(["node", "run", "--data-dir", s(data)])
                .args(["--ticket-file", s(&ticket_file)])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("archy node run starts"),
        );
        let start = Instant::now();
        loop {
            if let Ok(ticket) = std::fs::read_to_string(&ticket_file) {
                return Self {
                    _process: process,
                    ticket,
                };
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the node in {} printed no ticket",
                data.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The fields `a` and `b` of each object in the JSON array `rows`.
pub fn pairs(rows: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    let field = |row: &Value, name: &str| row[name].as_str().unwrap_or_default().to_owned();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| (field(row, a), field(row, b)))
        .collect()
}

/// A sample app under a fresh key, packed into `tmp/origin` and added to a
/// catalog in `tmp/catalog`.
pub struct PackedApp {
    pub dir: PathBuf,
    pub key: PathBuf,
    pub did: String,
    pub catalog: PathBuf,
    pub origin_data: PathBuf,
    /// `archy app pack --json` output.
    pub packed: Value,
}

pub fn packed_in_catalog(tmp: &Path, app: &str) -> PackedApp {
    let (dir, key, did) = app_under_new_key(tmp, app);
    let origin_data = tmp.join("origin");
    let packed = json(&[
        "app",
        "pack",
        s(&dir),
        "--key",
        s(&key),
        "--data-dir",
        s(&origin_data),
    ]);
    let catalog = tmp.join("catalog");
    ok(&["catalog", "init", s(&catalog), "--key", s(&key)]);
    let signed = dir.join("manifest.signed.json");
    ok(&["catalog", "add", s(&catalog), s(&signed), "--key", s(&key)]);
    PackedApp {
        dir,
        key,
        did,
        catalog,
        origin_data,
        packed,
    }
}
