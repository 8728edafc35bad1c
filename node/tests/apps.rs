//! The orchestrator end to end, against real podman (a `podman system
//! service` per test on its own socket), each test once rootful and once
//! rootless (`rootful::…`, `rootless::…`), and the sample apps'
//! offline busybox-static images: install, reachability, stop/start/restart,
//! data kept and purged, multi-container order and names, the reconciler,
//! kill -9 in the middle of operations, update rollback, port conflicts and
//! a tampered image that never reaches podman.

use archy_tests as common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::podman::{Mode, Podman, containers_conf};
use common::{Running, repo, s, sample_images, wait_for};
use serde_json::Value;

/// Tests that install the real hello-web (host port 8080) take turns.
static PORT_8080: Mutex<()> = Mutex::new(());

/// A node's data dir and the podman it drives. Whatever the test leaves
/// in podman under the node's instance is removed when it ends.
struct Node<'a> {
    data: PathBuf,
    podman: &'a Podman,
    instance: String,
}

impl<'a> Node<'a> {
    fn new(tmp: &Path, name: &str, podman: &'a Podman) -> Self {
        let data = tmp.join(name);
        fs::create_dir_all(&data).unwrap();
        let key = data.join("node.key");
        common::ok(&["key", "new", "--out", s(&key)]);
        podman.own(&data);
        podman.own(&key);
        let did = common::json(&["key", "show", s(&key)])["did"]
            .as_str()
            .unwrap()
            .to_owned();
        // The orchestrator's instance name: the first 4 bytes of BLAKE3(DID).
        let instance = hex::encode(&blake3::hash(did.as_bytes()).as_bytes()[..4]);
        Self {
            data,
            podman,
            instance,
        }
    }

    /// This node's containers of `app`, any state.
    fn containers(&self, app: &str) -> Vec<String> {
        containers_of(self.podman, &self.instance, app)
    }

    /// `archy args` on this node, as the user its podman runs as.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.podman.as_owner(300, env!("CARGO_BIN_EXE_archy"));
        command
            .args(args)
            .args(["--data-dir", s(&self.data)])
            .env("ARCHY_PODMAN_SOCKET", &self.podman.socket)
            .env("CONTAINERS_CONF", containers_conf());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("archy runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        common::succeeded(args, self.run(args))
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "archy {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn status(&self, app: &str) -> Value {
        self.json(&["app", "status", app])
    }

    fn port(&self, app: &str) -> u16 {
        let status = self.status(app);
        let ports = status["host_ports"].as_object().unwrap();
        ports.values().next().unwrap().as_u64().unwrap() as u16
    }

    fn app_dir(&self, app: &str) -> PathBuf {
        self.data.join("orchestrator/apps").join(app)
    }
}

/// `podman args` on the storage of `podman`'s service, bounded.
fn podman_cli(podman: &Podman, args: &[&str]) -> String {
    let out = podman.cli().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Drop for Node<'_> {
    fn drop(&mut self) {
        let label = format!("label=archy.instance={}", self.instance);
        let podman = self.podman;
        let names = podman_cli(
            podman,
            &["ps", "-a", "--filter", &label, "--format", "{{.Names}}"],
        );
        for name in names.lines() {
            let _ = podman.cli().args(["rm", "-f", name]).output();
        }
        let networks = podman_cli(
            podman,
            &["network", "ls", "--filter", &label, "--format", "{{.Name}}"],
        );
        for name in networks.lines() {
            let _ = podman.cli().args(["network", "rm", name]).output();
        }
    }
}

/// The podman names of an instance's containers of `app`, any state.
fn containers_of(podman: &Podman, instance: &str, app: &str) -> Vec<String> {
    let all = podman_cli(
        podman,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("label=archy.app={app}"),
            "--filter",
            &format!("label=archy.instance={instance}"),
            "--format",
            "{{.Names}}",
        ],
    );
    all.lines().map(str::to_owned).collect()
}

fn container_states(node: &Node<'_>, app: &str) -> Vec<(String, String)> {
    common::pairs(&node.status(app)["containers"], "state", "health")
}

fn http(port: u16, method: &str, path: &str, headers: &str, body: &str) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(3)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.take(1 << 20).read_to_string(&mut answer).ok()?;
    Some(answer)
}

fn get(port: u16, path: &str) -> Option<String> {
    http(port, "GET", path, "", "")
}

/// A copy of a sample app with its manifest edited by `edit`.
fn app_copy(tmp: &Path, app: &str, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    sample_images();
    let dir = tmp.join(name);
    fs::create_dir_all(&dir).unwrap();
    let src = repo().join("apps").join(app);
    let manifest = fs::read_to_string(src.join("manifest.yml")).unwrap();
    fs::write(dir.join("manifest.yml"), edit(manifest)).unwrap();
    for file in ["image.tar", "icon.svg"] {
        fs::copy(src.join(file), dir.join(file)).unwrap();
    }
    dir
}

/// hello-web under another id, on a free port instead of 8080.
fn web_app(tmp: &Path, id: &str, edit: impl Fn(String) -> String) -> PathBuf {
    app_copy(tmp, "hello-web", id, |m| {
        edit(
            m.replace("org.archipelago.hello-web", &format!("org.test.{id}"))
                .replace("        host: 8080\n", ""),
        )
    })
}

fn hello_web_answers_over_http_through_stop_start_and_restart(mode: Mode) {
    let _port = PORT_8080.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    let app = "org.archipelago.hello-web";
    let out = node.ok(&["app", "install", s(&repo().join("apps/hello-web")), "--dev"]);
    assert!(out.contains("[dev: unpublished"), "{out}");
    let page = get(8080, "/").expect("hello-web answers on 8080");
    assert!(
        page.contains("200 OK") && page.contains("Hello from Archipelago"),
        "{page}"
    );
    assert_eq!(
        container_states(&node, app),
        [("running".into(), "healthy".into())]
    );

    node.ok(&["app", "stop", app]);
    assert!(get(8080, "/").is_none(), "a stopped app does not answer");
    assert_eq!(container_states(&node, app)[0].0, "exited");
    node.ok(&["app", "start", app]);
    assert!(get(8080, "/").unwrap().contains("Hello from Archipelago"));
    node.ok(&["app", "restart", app]);
    assert!(get(8080, "/").unwrap().contains("Hello from Archipelago"));
    let listed = node.json(&["app", "ls"]);
    assert_eq!(listed[0]["id"], app);
    assert_eq!(listed[0]["dev"], true);
    node.ok(&["app", "uninstall", app, "--purge"]);
    assert!(node.containers(app).is_empty());
}

fn uninstall_keeps_data_for_reinstall_and_purge_removes_it(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    let app = "org.archipelago.notes";
    let notes = repo().join("apps/notes");
    node.ok(&["app", "install", s(&notes), "--dev"]);
    let port = node.port(app);
    let secret = node.app_dir(app).join("secrets/notes-token");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&secret).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "secrets are 0600");
    let token = fs::read_to_string(&secret).unwrap();
    let refused = http(port, "POST", "/cgi-bin/notes", "X-Token: wrong\r\n", "x").unwrap();
    assert!(refused.contains("403"), "{refused}");
    let saved = http(
        port,
        "POST",
        "/cgi-bin/notes",
        &format!("X-Token: {token}\r\n"),
        "remember the milk",
    )
    .unwrap();
    assert!(saved.contains("201"), "{saved}");

    node.ok(&["app", "uninstall", app]);
    assert!(node.containers(app).is_empty());
    assert!(node.json(&["app", "ls"]).as_array().unwrap().is_empty());
    assert!(
        node.app_dir(app).join("data/data/notes.txt").exists(),
        "uninstall keeps data"
    );

    node.ok(&["app", "install", s(&notes), "--dev"]);
    assert_eq!(node.port(app), port, "a reinstall gets its port back");
    let listed = get(port, "/cgi-bin/notes").unwrap();
    assert!(
        listed.contains("remember the milk"),
        "reinstall sees the old data: {listed}"
    );
    assert_eq!(
        fs::read_to_string(&secret).unwrap(),
        token,
        "and the same secret"
    );

    node.ok(&["app", "uninstall", app, "--purge"]);
    assert!(
        !node.app_dir(app).exists(),
        "purge removes data and secrets"
    );
    node.ok(&["app", "install", s(&notes), "--dev"]);
    let fresh = get(node.port(app), "/cgi-bin/notes").unwrap();
    assert!(!fresh.contains("remember the milk"), "{fresh}");
    node.ok(&["app", "uninstall", app, "--purge"]);
}

fn duo_starts_in_dependency_order_and_its_containers_talk_by_name(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    let app = "org.archipelago.duo";
    node.ok(&["app", "install", s(&repo().join("apps/duo")), "--dev"]);
    let page = get(node.port(app), "/cgi-bin/hello").unwrap();
    assert!(
        page.contains("web says: api answered: Hello from the api container"),
        "{page}"
    );
    let status = node.status(app);
    let names: Vec<&str> = status["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["podman_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        status["containers"][0]["name"], "api",
        "api is listed (and started) first"
    );
    let started = |name: &str| -> u128 {
        podman_cli(
            &podman,
            &["inspect", "--format", "{{.State.StartedAt.UnixNano}}", name],
        )
        .trim()
        .parse()
        .unwrap()
    };
    assert!(
        started(names[0]) < started(names[1]),
        "api started before web"
    );
    node.ok(&["app", "uninstall", app, "--purge"]);
}

fn the_reconciler_recreates_what_was_removed_but_never_restarts_a_user_stopped_app(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    let dir = web_app(tmp.path(), "recon", |m| m);
    let app = "org.test.recon";
    node.ok(&["app", "install", s(&dir), "--dev"]);
    let name = node.containers(app).pop().unwrap();

    // Removed behind the node's back: the running node's periodic pass
    // brings it back.
    podman_cli(&podman, &["rm", "-f", &name]);
    let mut daemon = node.command(&["node", "run", "--reconcile-every", "1"]);
    let daemon = Running(
        daemon
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the container to be recreated", 60, || {
        node.containers(app) == [name.clone()]
    });
    drop(daemon);
    wait_for("the app to answer", 30, || {
        get(node.port(app), "/").is_some()
    });

    // A container whose process died while podman still says "running".
    let pids = podman_cli(
        &podman,
        &[
            "inspect",
            "--format",
            "{{.State.Pid}} {{.State.ConmonPid}}",
            &name,
        ],
    );
    let pids: Vec<&str> = pids.split_whitespace().collect();
    Command::new("kill").args(["-9", pids[1]]).status().unwrap();
    Command::new("kill").args(["-9", pids[0]]).status().unwrap();
    wait_for("the process to be gone", 30, || {
        !Path::new(&format!("/proc/{}", pids[0])).exists()
    });
    // With its conmon dead, podman may go on saying "running" (the node
    // sees through it: "running (process gone)") or may notice on its own.
    let seen = container_states(&node, app);
    assert_ne!(seen[0].1, "healthy", "{seen:?}");
    let report = node.json(&["app", "reconcile"]);
    if seen[0].0 == "running (process gone)" {
        assert_eq!(report["recreated"][0], name.as_str(), "{report}");
    } else {
        let replaced =
            report["recreated"][0] == name.as_str() || report["started"][0] == name.as_str();
        assert!(replaced, "{report}");
    }
    // The pass starts the container without waiting for its health check
    // (slower to pass under rootless podman, whose ports go through
    // rootlessport).
    wait_for("the replaced container to be healthy", 30, || {
        container_states(&node, app) == [("running".into(), "healthy".into())]
    });

    // Stopped by the user: reconcile leaves it alone.
    node.ok(&["app", "stop", app]);
    let report = node.json(&["app", "reconcile"]);
    assert!(report["started"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(container_states(&node, app)[0].0, "exited");
    node.ok(&["app", "uninstall", app, "--purge"]);
}

fn kill_9_during_install_then_restart_converges_to_one_healthy_app(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    // Slow to become healthy, so the kill lands in the health wait.
    let dir = web_app(tmp.path(), "slowstart", |m| {
        m.replace(
            "command: [serve, -p, \"8080\", -h, /www]",
            "command: [sh, -c, \"sleep 4; exec serve -p 8080 -h /www\"]",
        )
        .replace("interval_secs: 5", "interval_secs: 2")
        .replace("retries: 3", "retries: 10")
    });
    let app = "org.test.slowstart";
    let mut install = node.command(&["app", "install", s(&dir), "--dev"]);
    let mut install = Running(
        install
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the container to exist", 60, || {
        !node.containers(app).is_empty()
    });
    // `timeout` runs archy as its child: kill both at once.
    Command::new("pkill")
        .args(["-9", "-P", &install.0.id().to_string()])
        .status()
        .unwrap();
    let _ = install.0.kill();
    let _ = install.0.wait();

    let report = node.json(&["app", "reconcile"]);
    assert_eq!(report["resumed"][0], app, "{report}");
    let listed = node.json(&["app", "ls"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["phase"], "installed");
    assert_eq!(node.containers(app).len(), 1, "no duplicate container");
    assert_eq!(
        container_states(&node, app),
        [("running".into(), "healthy".into())]
    );
    let journal = node.json(&["app", "journal"]);
    let install = journal
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["op"] == "install")
        .unwrap();
    assert_eq!(install["outcome"], "interrupted", "{journal}");
    let journal_quiet = node.json(&["app", "reconcile"]);
    assert_eq!(
        journal_quiet["adopted"], 1,
        "a second pass changes nothing: {journal_quiet}"
    );
    node.ok(&["app", "uninstall", app, "--purge"]);
}

fn kill_9_during_uninstall_then_restart_leaves_no_ghost(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    // Ignores SIGTERM, so a stop waits out its 8 s grace.
    let dir = web_app(tmp.path(), "stubborn", |m| {
        m.replace(
            "command: [serve, -p, \"8080\", -h, /www]",
            "command: [sh, -c, \"trap '' TERM; httpd -f -p 8080 -h /www\"]",
        )
        .replace("stop_grace_secs: 5", "stop_grace_secs: 8")
    });
    let app = "org.test.stubborn";
    node.ok(&["app", "install", s(&dir), "--dev"]);
    let mut uninstall = node.command(&["app", "uninstall", app]);
    let mut uninstall = Running(
        uninstall
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Killed while podman waits out the grace: the uninstall is under way.
    wait_for("the uninstall to stop the app", 30, || {
        node.containers(app).iter().any(|c| {
            podman_cli(
                node.podman,
                &["inspect", "--format", "{{.State.Status}}", c],
            )
            .trim()
                == "stopping"
        })
    });
    Command::new("pkill")
        .args(["-9", "-P", &uninstall.0.id().to_string()])
        .status()
        .unwrap();
    let _ = uninstall.0.kill();
    let _ = uninstall.0.wait();

    let report = node.json(&["app", "reconcile"]);
    assert_eq!(report["resumed"][0], app, "{report}");
    assert!(
        node.json(&["app", "ls"]).as_array().unwrap().is_empty(),
        "no ghost app"
    );
    assert!(node.containers(app).is_empty(), "no container left");
    assert!(
        !podman_cli(&podman, &["network", "ls", "--format", "{{.Name}}"]).contains(app),
        "no network left"
    );
    assert!(
        node.app_dir(app).exists(),
        "uninstall without --purge keeps the app's dir"
    );
}

fn an_update_that_never_becomes_healthy_rolls_back(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    let app = "org.test.upd";
    let v1 = web_app(tmp.path(), "upd", |m| m);
    node.ok(&["app", "install", s(&v1), "--dev"]);
    let port = node.port(app);
    let v2 = app_copy(tmp.path(), "hello-web", "upd-2", |m| {
        m.replace("org.archipelago.hello-web", app)
            .replace("        host: 8080\n", "")
            .replace("version: 1.0.0", "version: 1.1.0")
            .replace("        path: /\n", "        path: /no-such-page\n")
            .replace("interval_secs: 5", "interval_secs: 1")
            .replace("retries: 3", "retries: 2")
    });
    let err = node.fails(&["app", "update", s(&v2), "--dev"]);
    assert!(
        err.contains("update of org.test.upd to 1.1.0 failed")
            && err.contains("rolled back to 1.0.0"),
        "{err}"
    );
    assert!(err.contains("answered 404"), "the reason is given: {err}");
    let status = node.status(app);
    assert_eq!(status["version"], "1.0.0");
    assert_eq!(status["phase"], "installed");
    assert_eq!(
        container_states(&node, app),
        [("running".into(), "healthy".into())]
    );
    assert!(
        get(port, "/").unwrap().contains("Hello from Archipelago"),
        "same port, old version answers"
    );
    node.ok(&["app", "uninstall", app, "--purge"]);
}

fn a_taken_host_port_is_refused_before_any_container_is_created(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    let dir = app_copy(tmp.path(), "hello-web", "portclash", |m| {
        m.replace("org.archipelago.hello-web", "org.test.portclash")
            .replace("host: 8080", &format!("host: {taken}"))
    });
    let err = node.fails(&["app", "install", s(&dir), "--dev"]);
    assert!(
        err.contains(&format!(
            "host port {taken}/tcp is already used by another program on this host"
        )),
        "{err}"
    );
    assert!(node.containers("org.test.portclash").is_empty());
    assert!(node.json(&["app", "ls"]).as_array().unwrap().is_empty());
}

fn a_tampered_image_archive_never_reaches_podman(mode: Mode) {
    use archy_orchestrator::{Config, Event, Orchestrator, Socket, Stage};
    use archy_registry::verified::VerifiedManifest;

    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let dir = web_app(tmp.path(), "tampered", |m| m);
    let verified = VerifiedManifest::from_dev_dir(&dir.join("manifest.yml")).unwrap();
    // After verification, one byte of the archive changes on disk.
    let archive = dir.join("image.tar");
    let mut bytes = fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    fs::write(&archive, bytes).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let orchestrator = Orchestrator::open(Config {
            dir: tmp.path().join("orchestrator"),
            instance: "tampertest".into(),
            socket: Socket(podman.socket.clone()),
        })
        .await
        .unwrap();
        let mut events = orchestrator.subscribe();
        let err = orchestrator.install(&verified).await.unwrap_err();
        assert!(
            matches!(err, archy_orchestrator::Error::BlobMismatch { .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("no longer matches the verified manifest"),
            "{err}"
        );
        let mut seen = Vec::new();
        while let Ok(p) = events.try_recv() {
            seen.push(p.event);
        }
        assert!(
            matches!(seen.last(), Some(Event::Failed { .. })),
            "{seen:?}"
        );
        assert!(
            !seen.iter().any(|e| matches!(
                e,
                Event::Stage {
                    stage: Stage::LoadImage,
                    ..
                }
            )),
            "nothing was loaded: {seen:?}"
        );
        assert!(orchestrator.list().unwrap().is_empty());
    });
    assert!(containers_of(&podman, "tampertest", "org.test.tampered").is_empty());
}

fn every_sample_app_passes_the_lifecycle_matrix(mode: Mode) {
    let _port = PORT_8080.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    for app in ["hello-web", "notes", "duo"] {
        let steps = node.json(&["app", "test", s(&repo().join("apps").join(app))]);
        let steps = steps.as_array().unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "install",
                "reachable",
                "stop",
                "start",
                "restart",
                "write data",
                "uninstall",
                "reinstall",
                "data survives",
                "uninstall --purge"
            ]
        );
        for step in steps {
            assert_eq!(step["result"], "pass", "{app}: {step}");
        }
    }
}

fn a_cmd_health_check_that_fails_fails_the_install(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    // duo's api, checked (from inside, by `cmd`) on a port nothing serves.
    let dir = app_copy(tmp.path(), "duo", "badcheck", |m| {
        let m = m.replace("org.archipelago.duo", "org.test.badcheck");
        let checked = "nc -w 2 127.0.0.1 8081 | grep -q '200 OK'\"]\n";
        assert!(m.contains(checked), "duo's api has a cmd check");
        m.replace(
            checked,
            "nc -w 2 127.0.0.1 8089 | grep -q '200 OK'\"]\n      interval_secs: 1\n      retries: 2\n",
        )
    });
    let err = node.fails(&["app", "install", s(&dir), "--dev"]);
    assert!(
        err.contains("container api did not become healthy") && err.contains("exited with 1"),
        "{err}"
    );
    assert!(node.containers("org.test.badcheck").is_empty(), "{err}");
}

#[test]
fn render_writes_quadlet_units() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("units");
    let rendered = common::json(&[
        "app",
        "render",
        s(&repo().join("apps/notes")),
        "--quadlet",
        "--out",
        s(&out),
    ]);
    assert_eq!(
        rendered["units"],
        serde_json::json!([
            "org.archipelago.notes.network",
            "org.archipelago.notes-data.volume",
            "org.archipelago.notes-notes.container"
        ])
    );
    let unit = fs::read_to_string(out.join("org.archipelago.notes-notes.container")).unwrap();
    assert!(
        unit.contains("Network=org.archipelago.notes.network"),
        "{unit}"
    );
    assert!(
        unit.contains("Secret=notes-token,type=mount,target=/run/secrets/notes-token"),
        "{unit}"
    );
}

fn a_release_fetched_from_its_publisher_installs_verified_and_runs(mode: Mode) {
    let _port = PORT_8080.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let common::PackedApp {
        dir,
        key,
        did,
        catalog,
        origin_data,
        ..
    } = common::packed_in_catalog(tmp.path(), "hello-web");
    let signed = dir.join("manifest.signed.json");
    let origin = common::NodeProcess::start(
        &origin_data,
        &["--key", s(&key), "--catalog", s(&catalog), "--no-apps"],
    );

    let node = Node::new(tmp.path(), "node", &podman);
    let app = "org.archipelago.hello-web";
    let release = format!("{did}/{app}");
    let installed = node.json(&[
        "app",
        "install",
        &release,
        "--origin",
        &origin.ticket,
        "--trust-anyway",
    ]);
    assert_eq!(installed["dev"], false, "{installed}");
    assert_eq!(installed["publisher"], did.as_str());
    let page = get(8080, "/").expect("the fetched app answers");
    assert!(page.contains("Hello from Archipelago"), "{page}");
    let image = podman_cli(
        &podman,
        &[
            "inspect",
            "--format",
            "{{.Image}}",
            &node.containers(app)[0],
        ],
    );
    let manifest: Value = serde_json::from_str(&fs::read_to_string(&signed).unwrap()).unwrap();
    let id = manifest["signed"]["payload"]["containers"][0]["image"]["id"]
        .as_str()
        .unwrap();
    assert_eq!(
        format!("sha256:{}", image.trim()),
        id,
        "the container runs the image the signed manifest names, by id"
    );
    node.ok(&["app", "uninstall", app, "--purge"]);
}

fn spec_drift_is_replaced_once_and_then_left_alone(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    let dir = web_app(tmp.path(), "drift", |m| m);
    let app = "org.test.drift";
    node.ok(&["app", "install", s(&dir), "--dev"]);
    let name = node.containers(app).pop().unwrap();
    let image = podman_cli(&podman, &["inspect", "--format", "{{.Image}}", &name]);
    // Someone replaces the container with one of another spec (another
    // command), keeping the node's labels but not its spec hash.
    podman_cli(&podman, &["rm", "-f", &name]);
    podman_cli(
        &podman,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &format!("archy.instance={}", node.instance),
            "--label",
            &format!("archy.app={app}"),
            "--label",
            "archy.container=web",
            "--label",
            "archy.spec=somebody-else",
            image.trim(),
            "sleep",
            "1000",
        ],
    );
    let first = node.json(&["app", "reconcile"]);
    assert_eq!(first["recreated"][0], name.as_str(), "{first}");
    let second = node.json(&["app", "reconcile"]);
    assert!(
        second["recreated"].as_array().unwrap().is_empty(),
        "no recreate loop: {second}"
    );
    assert_eq!(second["adopted"], 1, "{second}");
    assert_eq!(
        container_states(&node, app),
        [("running".into(), "healthy".into())]
    );
    node.ok(&["app", "uninstall", app, "--purge"]);
}

fn kill_9_during_an_update_then_restart_rolls_back_to_the_running_version(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(mode, tmp.path()) else {
        return;
    };
    let node = Node::new(tmp.path(), "node", &podman);
    let app = "org.test.updkill";
    let v1 = web_app(tmp.path(), "updkill", |m| m);
    node.ok(&["app", "install", s(&v1), "--dev"]);
    let v2 = app_copy(tmp.path(), "hello-web", "updkill-2", |m| {
        m.replace("org.archipelago.hello-web", app)
            .replace("        host: 8080\n", "")
            .replace("version: 1.0.0", "version: 2.0.0")
            .replace(
                "command: [serve, -p, \"8080\", -h, /www]",
                "command: [sh, -c, \"sleep 4; exec serve -p 8080 -h /www\"]",
            )
    });
    let mut update = node.command(&["app", "update", s(&v2), "--dev"]);
    let mut update = Running(
        update
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the new version's container", 60, || {
        let label = format!("label=archy.instance={}", node.instance);
        let v2 = podman_cli(
            &podman,
            &[
                "ps",
                "-a",
                "--filter",
                &label,
                "--filter",
                "label=archy.version=2.0.0",
                "--format",
                "{{.Names}}",
            ],
        );
        !v2.trim().is_empty()
    });
    Command::new("pkill")
        .args(["-9", "-P", &update.0.id().to_string()])
        .status()
        .unwrap();
    let _ = update.0.kill();
    let _ = update.0.wait();

    let report = node.json(&["app", "reconcile"]);
    assert_eq!(report["resumed"][0], app, "{report}");
    let status = node.status(app);
    assert_eq!(
        status["version"], "1.0.0",
        "an update never seen healthy is rolled back"
    );
    assert_eq!(status["phase"], "installed");
    assert_eq!(node.containers(app).len(), 1);
    assert_eq!(
        container_states(&node, app),
        [("running".into(), "healthy".into())]
    );
    node.ok(&["app", "uninstall", app, "--purge"]);
}

/// Each end-to-end test above, once against rootful podman and once
/// against a user's rootless podman.
macro_rules! in_both_modes {
    ($($test:ident),* $(,)?) => {
        mod rootful {
            $(#[test]
            fn $test() {
                super::$test(super::Mode::Rootful);
            })*
        }
        mod rootless {
            $(#[test]
            fn $test() {
                super::$test(super::Mode::Rootless);
            })*
        }
    };
}

in_both_modes!(
    hello_web_answers_over_http_through_stop_start_and_restart,
    uninstall_keeps_data_for_reinstall_and_purge_removes_it,
    duo_starts_in_dependency_order_and_its_containers_talk_by_name,
    the_reconciler_recreates_what_was_removed_but_never_restarts_a_user_stopped_app,
    kill_9_during_install_then_restart_converges_to_one_healthy_app,
    kill_9_during_uninstall_then_restart_leaves_no_ghost,
    an_update_that_never_becomes_healthy_rolls_back,
    a_taken_host_port_is_refused_before_any_container_is_created,
    a_tampered_image_archive_never_reaches_podman,
    every_sample_app_passes_the_lifecycle_matrix,
    a_release_fetched_from_its_publisher_installs_verified_and_runs,
    spec_drift_is_replaced_once_and_then_left_alone,
    kill_9_during_an_update_then_restart_rolls_back_to_the_running_version,
    a_cmd_health_check_that_fails_fails_the_install,
);
