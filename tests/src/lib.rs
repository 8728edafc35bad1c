//! Helpers shared by the end-to-end tests (this crate's own, which span
//! crates, and `node`'s): running the real binaries, building the sample
//! images once, and publishing a sample app under a fresh key.

pub mod podman;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Whether `pid` is a child of this process that has not been reaped: its
/// /proc entry names this process as its parent.
fn is_unreaped_child(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // After the command name in parentheses: state, parent, group, ...
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok())
            == Some(std::process::id())
    })
}

/// `program` run under `timeout SECONDS`, so a hung child fails its test
/// instead of stalling the suite. It leads a process group of its own, so
/// that [`Running`] stops `program` along with `timeout`.
pub fn bounded(seconds: u32, program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("timeout");
    command
        .arg(seconds.to_string())
        .arg(program)
        .process_group(0);
    command
}

/// Polls `check` until it gives a value, failing the test after `seconds`
/// with what was awaited: tests wait for conditions, never for a fixed time.
pub fn wait_until<T>(what: &str, seconds: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// [`wait_until`] for a condition with no value.
pub fn wait_for(what: &str, seconds: u64, mut check: impl FnMut() -> bool) {
    wait_until(what, seconds, || check().then_some(()));
}

/// A child process killed, with every process in its group, when the test
/// ends, pass or fail: a SIGKILL to `timeout` (or to a script) alone would
/// leave what it started running.
pub struct Running(pub Child);

impl Running {
    /// Spawns `command` as the leader of a process group of its own.
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        command.process_group(0).spawn().map(Self)
    }

    /// Stops the child as a user would (SIGTERM), so that it flushes what
    /// it holds, and waits for it; fails the test if it takes longer than
    /// half a minute. Dropping it kills it instead, losing unflushed work.
    pub fn stop(mut self) {
        let pid = libc::pid_t::try_from(self.0.id()).unwrap();
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.0.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "process {pid} did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_group(&self.0);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGKILL to the process group `child` leads. Only while `child` is
/// not yet reaped (running, or a zombie) does its id surely name its group:
/// once reaped, the id may be given to another process, so the group is
/// left alone then (as is a child that leads no group: no group bears its id).
pub fn kill_group(child: &Child) {
    if !is_unreaped_child(child.id()) {
        return;
    }
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

pub fn archy(args: &[&str]) -> Output {
    bounded(300, archy_bin())
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

/// The `archy` binary of this build: `ARCHY_BIN` if set, else the one
/// cargo built next to the running test (`target/<profile>/archy`;
/// `cargo test --workspace` builds it with the node's own tests).
pub fn archy_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("ARCHY_BIN") {
        return bin.into();
    }
    let test = std::env::current_exe().expect("the test knows its own path");
    let profile = test
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let bin = profile.join("archy");
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build -p archy-node --bin archy` (or the whole workspace's tests), or set ARCHY_BIN",
        bin.display()
    );
    bin
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
    for file in ["image.tar", "icon.svg"] {
        fs::copy(src.join(file), dir.join(file)).unwrap();
    }
    (dir, key, did)
}

/// `archy node run`, killed when dropped.
pub struct NodeProcess {
    process: Running,
    pub ticket: String,
}

impl NodeProcess {
    /// Stops the node with SIGTERM and waits until it has flushed and
    /// exited.
    pub fn stop(self) {
        self.process.stop();
    }

    pub fn start(data: &Path, extra: &[&str]) -> Self {
        let ticket_file = data.join("ticket");
        let _ = std::fs::remove_file(&ticket_file);
        let process = Running::spawn(
            Command::new(archy_bin())
                .args(["node", "run", "--data-dir", s(data)])
                .args(["--ticket-file", s(&ticket_file)])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("archy node run starts");
        let start = Instant::now();
        loop {
            if let Ok(ticket) = std::fs::read_to_string(&ticket_file) {
                return Self { process, ticket };
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

/// Sends `events` to the relay at `relay` with a real Nostr client, each
/// stored within 10 s or the test fails.
pub async fn send_events(relay: &str, events: &[nostr::Event]) {
    let client = nostr_sdk::Client::default();
    client.add_relay(relay).await.expect("a relay URL");
    client.connect().await;
    for event in events {
        tokio::time::timeout(Duration::from_secs(10), client.send_event(event))
            .await
            .expect("the relay answers")
            .expect("the relay stores the event");
    }
    client.shutdown().await;
}

/// Copies directory `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}
