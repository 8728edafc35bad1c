//! Real podman for the end-to-end tests, rootful and rootless: a `podman
//! system service` per test on a socket of its own, the `podman` CLI on the
//! same storage, and commands run as the user that podman belongs to.
//!
//! Rootless is podman as a user has it: a dedicated account,
//! [`ROOTLESS_USER`], with subordinate ids, a runtime directory and its own
//! service. The tests run as root (as in CI) and set that account up here,
//! idempotently. Where it cannot be set up, a test prints `SKIPPED: …` —
//! or fails, when `CI=true`, since CI must run both.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{bounded, repo, sample_images};

/// The account rootless podman runs as in the tests.
pub const ROOTLESS_USER: &str = "archy-rootless";
/// Subordinate ids given to that account when it has none.
const SUBID_COUNT: u64 = 65536;
/// The lowest subordinate id handed out (Debian's `SUB_UID_MIN`).
const SUBID_MIN: u64 = 100_000;
/// How long a podman service may take to open its socket.
const SERVICE_START: Duration = Duration::from_secs(30);
/// How long a podman service may take to stop after SIGTERM.
const SERVICE_STOP: Duration = Duration::from_secs(10);

/// Whose podman a test drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The system podman, as root.
    Rootful,
    /// A user's own podman, in a user namespace.
    Rootless,
}

/// A user account podman runs as.
#[derive(Debug)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// `XDG_RUNTIME_DIR`: `/run/user/UID`.
    pub runtime_dir: PathBuf,
}

/// Why rootless podman cannot run on this machine (a skip, not a failure,
/// outside CI).
#[derive(Debug)]
pub struct Unavailable(String);

/// The rootless test user, set up once per test process.
pub fn rootless_user() -> Result<&'static User, &'static Unavailable> {
    static USER: OnceLock<Result<User, Unavailable>> = OnceLock::new();
    USER.get_or_init(set_up_rootless_user).as_ref()
}

fn set_up_rootless_user() -> Result<User, Unavailable> {
    if uid_of(Path::new("/proc/self")) != 0 {
        return Err(Unavailable(format!(
            "not root, so the {ROOTLESS_USER} account cannot be set up"
        )));
    }
    if !Path::new("/dev/net/tun").exists() {
        return Err(Unavailable("no /dev/net/tun (slirp4netns needs it)".into()));
    }
    for tool in [
        "newuidmap",
        "newgidmap",
        "slirp4netns",
        "useradd",
        "usermod",
    ] {
        if !on_path(tool) {
            return Err(Unavailable(format!(
                "no {tool} on PATH (scripts/install-deps.sh installs it)"
            )));
        }
    }
    if lookup_user(ROOTLESS_USER).is_none() {
        run(bounded(60, "useradd").args([
            "--create-home",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "archy rootless podman tests",
            ROOTLESS_USER,
        ]));
    }
    let mut user = lookup_user(ROOTLESS_USER)
        .unwrap_or_else(|| panic!("{ROOTLESS_USER} was created but getent does not list it"));
    for (file, flag) in [
        ("/etc/subuid", "--add-subuids"),
        ("/etc/subgid", "--add-subgids"),
    ] {
        if let Some(range) = subid_range_to_add(Path::new(file), ROOTLESS_USER) {
            run(bounded(60, "usermod").args([flag, &range, ROOTLESS_USER]));
        }
    }
    // slirp4netns opens /dev/net/tun, and fuse-overlayfs /dev/fuse, inside
    // the user namespace, where root's own files are nobody's: they need the
    // world read-write mode Debian's udev gives them (some hosts and
    // container runtimes create them 0600).
    for device in ["/dev/net/tun", "/dev/fuse"] {
        let device = Path::new(device);
        if let Ok(meta) = fs::metadata(device)
            && meta.permissions().mode() & 0o666 != 0o666
        {
            fs::set_permissions(device, fs::Permissions::from_mode(0o666))
                .unwrap_or_else(|e| panic!("chmod 0666 {}: {e}", device.display()));
        }
    }
    user.runtime_dir = PathBuf::from(format!("/run/user/{}", user.uid));
    fs::create_dir_all(&user.runtime_dir).unwrap();
    user.own(&user.runtime_dir);
    fs::set_permissions(&user.runtime_dir, fs::Permissions::from_mode(0o700)).unwrap();
    clear_stale_rootless_netns(&user);
    Ok(user)
}

/// podman 4 can be left with its rootless network namespace file while the
/// mounts behind it are gone (after a failed start, say); every container
/// on a network then fails with "failed to mount runtime directory for
/// rootless netns". With no container of the user running, nothing uses
/// that namespace, so its leftovers are removed and podman makes a new one.
fn clear_stale_rootless_netns(user: &User) {
    let running = run(as_user(user, 60, "podman")
        .args(["ps", "-q"])
        .env("CONTAINERS_CONF", containers_conf()));
    if !running.trim().is_empty() {
        return;
    }
    if let Ok(entries) = fs::read_dir(user.runtime_dir.join("netns")) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("rootless-netns-")
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let _ = fs::remove_dir_all(user.runtime_dir.join("libpod/tmp/rootless-netns"));
}

/// `NAME:START:COUNT` lines: the range (`FIRST-LAST`) to give `name`, after
/// every range already handed out, or `None` when it has one.
fn subid_range_to_add(file: &Path, name: &str) -> Option<String> {
    let text = fs::read_to_string(file).unwrap_or_default();
    let mut next = SUBID_MIN;
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(owner), Some(start), Some(count)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if owner == name {
            return None;
        }
        if let (Ok(start), Ok(count)) = (start.parse::<u64>(), count.parse::<u64>()) {
            next = next.max(start + count);
        }
    }
    Some(format!("{next}-{}", next + SUBID_COUNT - 1))
}

fn lookup_user(name: &str) -> Option<User> {
    let out = bounded(30, "getent").args(["passwd", name]).output().ok()?;
    let line = String::from_utf8(out.stdout).ok()?;
    let fields: Vec<&str> = line.trim().split(':').collect();
    let [_, _, uid, gid, _, home, ..] = fields[..] else {
        return None;
    };
    let uid = uid.parse().ok()?;
    Some(User {
        name: name.to_owned(),
        uid,
        gid: gid.parse().ok()?,
        home: PathBuf::from(home),
        runtime_dir: PathBuf::from(format!("/run/user/{uid}")),
    })
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn uid_of(path: &Path) -> u32 {
    fs::metadata(path).map_or(u32::MAX, |m| m.uid())
}

/// The stdout of a command that must succeed.
fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `program` under `timeout SECONDS`, run as `user`.
fn as_user(user: &User, seconds: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = bounded(seconds, program);
    user.login(&mut command);
    command
}

impl User {
    /// Makes `command` run as this user, in a login-like environment (its
    /// home, runtime directory and name, none of root's XDG directories).
    fn login(&self, command: &mut Command) {
        command
            .uid(self.uid)
            .gid(self.gid)
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CACHE_HOME");
    }

    /// Gives `path` to this user.
    fn own(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

/// The project's podman settings (`CONTAINERS_CONF`, else the checkout's).
pub fn containers_conf() -> PathBuf {
    std::env::var_os("CONTAINERS_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("scripts/containers.conf"))
}

/// A process started in a process group of its own, whose whole group is
/// stopped (SIGTERM, then SIGKILL) when it is dropped, so nothing it
/// started in that group outlives the test.
pub struct Group(Child);

impl Group {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> Self {
        let child = command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        Self(child)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = bounded(10, "kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + SERVICE_STOP;
        while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left in the group, the leader included.
        let _ = bounded(10, "kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// A podman API service on a socket of its own, stopped with the test.
pub struct Podman {
    pub socket: PathBuf,
    user: Option<&'static User>,
    _service: Group,
}

impl Podman {
    /// Starts podman's service in `mode` on `tmp/podman.sock`. Rootless,
    /// `tmp` is handed to the rootless user, as a user's own files would be.
    /// `None`, after a `SKIPPED:` line, when rootless podman cannot run
    /// here (a failure instead when `CI=true`).
    pub fn start(mode: Mode, tmp: &Path) -> Option<Self> {
        sample_images();
        let user = match mode {
            Mode::Rootful => None,
            Mode::Rootless => match rootless_user() {
                Ok(user) => Some(user),
                Err(Unavailable(reason)) => {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "rootless podman cannot run here, and CI runs it: {reason}"
                    );
                    eprintln!("SKIPPED: rootless podman: {reason}");
                    return None;
                }
            },
        };
        let socket = tmp.join("podman.sock");
        let mut service = Command::new("podman");
        if let Some(user) = user {
            user.own(tmp);
            user.login(&mut service);
        }
        service
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .env("CONTAINERS_CONF", containers_conf())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let service = Group::spawn(&mut service);
        let deadline = Instant::now() + SERVICE_START;
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "the {mode:?} podman service did not open {} within {SERVICE_START:?}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Self {
            socket,
            user,
            _service: service,
        })
    }

    /// Gives `path` to the user podman runs as (nothing to do rootful).
    pub fn own(&self, path: &Path) {
        if let Some(user) = self.user {
            user.own(path);
        }
    }

    /// `program` under `timeout SECONDS`, run as the user podman runs as.
    pub fn as_owner(&self, seconds: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match self.user {
            Some(user) => as_user(user, seconds, program),
            None => bounded(seconds, program),
        }
    }

    /// The `podman` CLI on this service's storage, bounded to 60 s.
    pub fn cli(&self) -> Command {
        let mut command = self.as_owner(60, "podman");
        command.env("CONTAINERS_CONF", containers_conf());
        command
    }
}
