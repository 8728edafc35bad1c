//! One running node, end to end: node A runs in this process with the demo
//! publisher; node B is the `archy node run` binary on a fresh data
//! directory, following A's relay, with real rootful podman. A user's
//! commands (`archy app install DID/APP`, no tickets) go to B while it runs.

use archy_tests as common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use archy_node::client::NodeClient;
use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use archy_node::operations::Event;
use common::podman::{Mode, Podman, containers_conf};
use common::{Running, repo, s, wait_for};
use serde_json::Value;
use tokio::runtime::Runtime;

const APP: &str = "org.archipelago.hello-web";

/// hello-web publishes host port 8080: the tests that run it take turns.
static PORT_8080: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Node A: the demo publisher, in this process, its relay on a free port.
fn demo_node(runtime: &Runtime, data: &Path) -> Node {
    let mut config = NodeConfig::default();
    config.relay.port = 0;
    config.apps.enabled = false;
    config.api.listen = Some("127.0.0.1:0".parse().unwrap());
    config.demo.enabled = true;
    config.demo.apps = repo().join("apps");
    let node = runtime
        .block_on(Node::start(DataDir::open(data).unwrap(), None, config))
        .expect("the demo node starts");
    wait_for("the demo apps in A's own market", 30, || {
        node.market().is_some_and(|m| m.indexed() == 3)
    });
    node
}

/// `archy` on B's data directory with B's podman.
fn archy(data: &Path, podman: &Podman, args: &[&str]) -> std::process::Output {
    common::bounded(300, common::archy_bin())
        .args(args)
        .args(["--data-dir", s(data)])
        .env("ARCHY_PODMAN_SOCKET", &podman.socket)
        .env("CONTAINERS_CONF", containers_conf())
        .output()
        .unwrap()
}

fn ok(data: &Path, podman: &Podman, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = archy(data, podman, &all);
    serde_json::from_str(&common::succeeded(&all, out)).unwrap()
}

/// Node B: `archy node run` on `data`, following `relay`; its API client.
fn start_b(runtime: &Runtime, data: &Path, podman: &Podman, relay: &str) -> (Running, NodeClient) {
    let _ = std::fs::remove_file(data.join("api.json"));
    let process = Running::spawn(
        Command::new(common::archy_bin())
            .args(["node", "run", "--data-dir", s(data), "--no-relay"])
            .args(["--discover-from", relay, "--api", "127.0.0.1:0"])
            .args(["--reconcile-every", "1", "--upkeep-every", "1"])
            .env("ARCHY_PODMAN_SOCKET", &podman.socket)
            .env("CONTAINERS_CONF", containers_conf())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("archy node run starts");
    let data_dir = DataDir::open(data).unwrap();
    let mut client = None;
    wait_for("B's API", 30, || {
        client = runtime.block_on(NodeClient::find(&data_dir)).ok().flatten();
        client.is_some()
    });
    (process, client.unwrap())
}

/// The publisher's node serving its catalog, with neither apps nor relay.
fn serving_origin(data: &Path, key: &Path, catalog: &Path) -> common::NodeProcess {
    let catalog = ["--catalog", s(catalog), "--no-apps", "--no-relay"];
    common::NodeProcess::start(data, &[&["--key", s(key)][..], &catalog].concat())
}

fn http_get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.take(1 << 20).read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn a_fresh_node_installs_by_name_what_discovery_found_and_keeps_its_data() {
    let _port = PORT_8080.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(Mode::Rootful, tmp.path()) else {
        return;
    };
    let runtime = Runtime::new().unwrap();
    let a = demo_node(&runtime, &tmp.path().join("a"));
    let publisher = a.publishes()[0].to_string();
    let relay = a.relay_url().unwrap().to_owned();
    let b = tmp.path().join("b");
    let (daemon, api) = start_b(&runtime, &b, &podman, &relay);

    wait_for("the listing in B's market", 30, || {
        let out = archy(&b, &podman, &["market", "search", "hello", "--json"]);
        serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|p| p["total"] == 1)
    });
    // No ticket, no origin: the listing and discovery say where to fetch.
    // B's owner follows no one, so A's demo publisher is unknown to it:
    // installing needs a confirmation, and says why.
    let name = format!("{publisher}/{APP}");
    let refused = archy(&b, &podman, &["app", "install", &name]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    for words in [
        "is unknown to you",
        "--trust-anyway",
        "its publisher is unknown",
    ] {
        assert!(said.contains(words), "{words:?} in {said}");
    }
    assert_eq!(ok(&b, &podman, &["app", "ls"]), Value::Array(Vec::new()));
    let installed = ok(&b, &podman, &["app", "install", &name, "--trust-anyway"]);
    let journal = ok(&b, &podman, &["app", "journal"]);
    let decision = journal
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["op"] == "install below known")
        .expect("the confirmed decision is journaled");
    let outcome = decision["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with("confirmed by the user at band unknown"),
        "{outcome}"
    );
    assert_eq!(
        ok(&b, &podman, &["app", "ls"])[0]["trust"]["band"],
        "unknown"
    );
    // Blocked after it was installed: flagged, and never updated from.
    ok(&b, &podman, &["trust", "block", &publisher]);
    let listed = archy(&b, &podman, &["app", "ls"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("TRUST: blocked (score 0)"), "{listed}");
    let update = archy(&b, &podman, &["app", "update", APP]);
    let said = String::from_utf8_lossy(&update.stderr);
    assert!(
        !update.status.success() && said.contains("no update: ") && said.contains("is blocked"),
        "{said}"
    );
    ok(&b, &podman, &["trust", "unblock", &publisher]);
    assert_eq!(
        (installed["id"].as_str(), installed["dev"].as_bool()),
        (Some(APP), Some(false))
    );
    let page = http_get(8080).expect("the app answers");
    assert!(page.contains("Hello from Archipelago"), "{page}");

    // Its data is kept across an uninstall without --purge.
    let marker = b.join("orchestrator/apps").join(APP).join("data/kept");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "still here").unwrap();
    ok(&b, &podman, &["app", "uninstall", APP]);
    assert_eq!(ok(&b, &podman, &["app", "ls"]), Value::Array(Vec::new()));

    // Reinstalled through the API: the progress stream never goes back
    // and ends with one terminal event.
    let started: Value = runtime
        .block_on(api.post(
            "/api/apps",
            &serde_json::json!({ "app": name, "trust_anyway": true }),
        ))
        .unwrap();
    let op = started["operation"].as_u64().unwrap();
    let mut seen = Vec::new();
    let last = runtime
        .block_on(api.follow(op, &mut |e| seen.push(e.clone())))
        .unwrap();
    assert!(matches!(last, Event::Succeeded { .. }), "{last:?}");
    let percents: Vec<u8> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Progress { percent, .. } => Some(*percent),
            _ => None,
        })
        .collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert_eq!(seen.iter().filter(|e| e.is_terminal()).count(), 1);
    let operation: Value = runtime
        .block_on(api.get(&format!("/api/operations/{op}")))
        .unwrap();
    assert_eq!(operation["status"], "succeeded");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "still here");
    assert!(http_get(8080).is_some_and(|p| p.contains("Hello from Archipelago")));

    ok(&b, &podman, &["app", "uninstall", APP, "--purge"]);
    daemon.stop();
    runtime.block_on(a.shutdown());
}

#[test]
fn killing_the_daemon_during_an_install_ends_it_as_interrupted_and_it_converges() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(Mode::Rootful, tmp.path()) else {
        return;
    };
    let runtime = Runtime::new().unwrap();
    // A dev app slow to become healthy, so the kill lands mid-install.
    let app_dir = tmp.path().join("slow");
    std::fs::create_dir(&app_dir).unwrap();
    let src = repo().join("apps/hello-web");
    let manifest = std::fs::read_to_string(src.join("manifest.yml"))
        .unwrap()
        .replace(APP, "org.test.slow")
        .replace("        host: 8080\n", "")
        .replace(
            "command: [serve, -p, \"8080\", -h, /www]",
            "command: [sh, -c, \"sleep 4; exec serve -p 8080 -h /www\"]",
        );
    std::fs::write(app_dir.join("manifest.yml"), manifest).unwrap();
    for file in ["image.tar", "icon.svg"] {
        std::fs::copy(src.join(file), app_dir.join(file)).unwrap();
    }

    let b = tmp.path().join("b");
    let relay = "ws://127.0.0.1:9"; // nothing to discover
    let (daemon, api) = start_b(&runtime, &b, &podman, relay);
    let body = serde_json::json!({ "app": s(&app_dir), "dev": true });
    let started: Value = runtime.block_on(api.post("/api/apps", &body)).unwrap();
    let op = started["operation"].as_u64().unwrap();
    wait_for("the install to reach its containers", 60, || {
        let now: Value = runtime
            .block_on(api.get(&format!("/api/operations/{op}")))
            .unwrap();
        now["percent"].as_u64().unwrap_or(0) >= 70
    });
    drop(daemon); // SIGKILL to its process group

    let (daemon, api) = start_b(&runtime, &b, &podman, relay);
    let ended: Value = runtime
        .block_on(api.get(&format!("/api/operations/{op}")))
        .unwrap();
    assert_eq!(ended["status"], "interrupted", "{ended}");
    wait_for("the reconciler to finish the install", 60, || {
        let out = archy(&b, &podman, &["app", "status", "org.test.slow", "--json"]);
        serde_json::from_slice::<Value>(&out.stdout)
            .is_ok_and(|s| s["phase"] == "installed" && s["containers"][0]["health"] == "healthy")
    });
    let apps = ok(&b, &podman, &["app", "ls"]);
    assert_eq!(apps.as_array().unwrap().len(), 1, "no duplicate: {apps}");
    let status = ok(&b, &podman, &["app", "status", "org.test.slow"]);
    assert_eq!(
        status["containers"].as_array().unwrap().len(),
        1,
        "{status}"
    );
    ok(
        &b,
        &podman,
        &["app", "uninstall", "org.test.slow", "--purge"],
    );
    daemon.stop();
}

#[test]
fn every_command_that_touches_node_state_works_while_the_node_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(Mode::Rootful, tmp.path()) else {
        return;
    };
    let runtime = Runtime::new().unwrap();
    let a = demo_node(&runtime, &tmp.path().join("a"));
    let publisher = a.publishes()[0].to_string();
    let relay = a.relay_url().unwrap().to_owned();
    let b = tmp.path().join("b");
    let (daemon, _api) = start_b(&runtime, &b, &podman, &relay);
    wait_for("the listings in B's market", 30, || {
        let out = archy(&b, &podman, &["market", "list", "--json"]);
        serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|p| p["total"] == 3)
    });

    // Market, fetch (no tickets), blobs, pack, share, apps, journal,
    // reconcile and garbage collection, each while B holds its data
    // directory.
    let shown = ok(
        &b,
        &podman,
        &[
            "market",
            "show",
            &format!("{publisher}/org.archipelago.notes"),
        ],
    );
    assert_eq!(shown["listing"]["app_id"], "org.archipelago.notes");
    assert!(ok(&b, &podman, &["market", "stats"])["sizes"]["listings"] == 3);
    let fetched = ok(
        &b,
        &podman,
        &["fetch", &format!("{publisher}/org.archipelago.notes")],
    );
    assert_eq!(fetched["version"], "1.0.0");
    let blobs = ok(&b, &podman, &["blobs", "ls"]);
    assert!(!blobs.as_array().unwrap().is_empty(), "{blobs}");
    let (dir, key, _) = common::app_under_new_key(tmp.path(), "hello-web");
    let packed = ok(&b, &podman, &["app", "pack", s(&dir), "--key", s(&key)]);
    assert_eq!(packed["app"], APP);
    assert!(dir.join("manifest.signed.json").exists());
    let shared = ok(&b, &podman, &["blobs", "share", s(&dir.join("image.tar"))]);
    assert!(
        shared["ticket"]
            .as_str()
            .is_some_and(|t| t.starts_with("blob")),
        "{shared}"
    );
    assert_eq!(ok(&b, &podman, &["app", "ls"]), Value::Array(Vec::new()));
    ok(&b, &podman, &["app", "journal"]);
    assert_eq!(ok(&b, &podman, &["app", "reconcile"])["apps"], 0);
    let operations = ok(&b, &podman, &["node", "operations"]);
    let kinds: Vec<&str> = operations
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["reconcile", "pack", "fetch"],
        "newest first: {operations}"
    );
    // The fetched and packed releases are pinned: collection keeps them.
    let collected = ok(&b, &podman, &["blobs", "gc"]);
    assert!(
        collected["kept"].as_u64().is_some_and(|k| k > 0),
        "{collected}"
    );
    // Nothing says the state is in use by another process.
    daemon.stop();
    runtime.block_on(a.shutdown());
}

/// The publisher rotates its catalog to a new key and releases 1.0.1
/// signed by that key alone; B pinned the root before the rotation. It is
/// the same publisher: upkeep shows the update and `app update` installs
/// it. With automatic update on, upkeep installs 1.0.2 itself.
#[test]
fn a_release_signed_by_a_rotated_in_key_shows_as_an_update_and_app_update_installs_it() {
    let _port = PORT_8080.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(Mode::Rootful, tmp.path()) else {
        return;
    };
    let runtime = Runtime::new().unwrap();
    let common::PackedApp {
        dir,
        key,
        did,
        catalog,
        origin_data,
        ..
    } = common::packed_in_catalog(tmp.path(), "hello-web");
    let origin = serving_origin(&origin_data, &key, &catalog);
    let b = tmp.path().join("b");
    let (daemon, _api) = start_b(&runtime, &b, &podman, "ws://127.0.0.1:9");
    let name = format!("{did}/{APP}");
    ok(
        &b,
        &podman,
        &[
            "app",
            "install",
            &name,
            "--origin",
            &origin.ticket,
            "--trust-anyway",
        ],
    );

    // The publisher rotates its catalog's key, then releases 1.0.1 signed
    // by the new key only: packed on its running node, added to its
    // catalog. The manifest still names the DID of the first root.
    let new_key = tmp.path().join("rotated.key");
    common::ok(&["key", "new", "--out", s(&new_key)]);
    common::ok(&[
        "catalog",
        "rotate-key",
        s(&catalog),
        "--old-key",
        s(&key),
        "--new-key",
        s(&new_key),
    ]);
    let manifest = dir.join("manifest.yml");
    let release = |from: &str, to: &str| {
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(&manifest, text.replace(from, to)).unwrap();
        let pack = ["app", "pack", s(&dir), "--key", s(&new_key), "--data-dir"];
        common::ok(&[&pack[..], &[s(&origin_data)]].concat());
        let signed = dir.join("manifest.signed.json");
        let add = ["catalog", "add", s(&catalog), s(&signed), "--key"];
        common::ok(&[&add[..], &[s(&new_key)]].concat());
    };
    let refused = common::archy(&["app", "sign", s(&dir), "--key", s(&new_key)]);
    assert!(
        !refused.status.success(),
        "without the catalog the new key does not speak for {did}"
    );
    release("version: 1.0.0", "version: 1.0.1");

    wait_for("B's upkeep to find 1.0.1", 60, || {
        ok(&b, &podman, &["app", "ls"])[0]["update_available"] == "1.0.1"
    });
    // B's trust in the publisher shows the rotation, since B installed
    // under root 1.
    let explained = |b: &Path| -> Vec<String> {
        ok(b, &podman, &["trust", "explain", did.as_str()])["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["text"].as_str().map(str::to_owned))
            .collect()
    };
    wait_for("the rotation among the publisher's reasons", 30, || {
        explained(&b)
            .iter()
            .any(|r| r == "signing root changed since you installed it")
    });
    let updated = ok(&b, &podman, &["app", "update", APP]);
    assert_eq!(updated["version"], "1.0.1", "{updated}");
    wait_for("the update to be no longer offered", 30, || {
        ok(&b, &podman, &["app", "ls"])[0]["update_available"].is_null()
    });
    assert!(http_get(8080).is_some_and(|p| p.contains("Hello from Archipelago")));

    // With automatic update on, 1.0.2 is installed by upkeep itself.
    ok(&b, &podman, &["app", "auto-update", APP, "on"]);
    assert_eq!(ok(&b, &podman, &["app", "ls"])[0]["auto_update"], true);
    release("version: 1.0.1", "version: 1.0.2");
    wait_for("B to update itself to 1.0.2", 120, || {
        let listed = &ok(&b, &podman, &["app", "ls"])[0];
        listed["version"] == "1.0.2" && listed["phase"] == "installed"
    });
    assert!(http_get(8080).is_some_and(|p| p.contains("Hello from Archipelago")));

    // A release the publisher yanks shows among its reasons once B's
    // upkeep has refreshed the catalog.
    common::ok(&[
        "catalog",
        "yank",
        s(&catalog),
        APP,
        "1.0.0",
        "--reason",
        "broken",
        "--key",
        s(&new_key),
    ]);
    wait_for(
        "the yanked release among the publisher's reasons",
        60,
        || explained(&b).iter().any(|r| r == "has yanked 1 release"),
    );
    ok(&b, &podman, &["app", "uninstall", APP, "--purge"]);
    daemon.stop();
}

#[test]
fn upkeep_re_signs_the_timestamp_of_a_catalog_whose_key_the_node_holds() {
    let tmp = tempfile::tempdir().unwrap();
    common::sample_images();
    let runtime = Runtime::new().unwrap();
    let data = tmp.path().join("a");
    let node = demo_node(&runtime, &data);
    let catalog = data.join("demo/catalog");
    let timestamp = || {
        let repo = archy_registry::catalog::Repository::open(&catalog).unwrap();
        let status = repo.status().unwrap();
        status
            .roles
            .iter()
            .find(|r| r.role == "timestamp")
            .map(|r| r.version)
            .unwrap()
    };
    // Made (1) and refreshed as the demo starts (2); the first upkeep pass
    // signs it again.
    wait_for("upkeep to re-sign the demo catalog's timestamp", 30, || {
        timestamp() >= 3
    });
    runtime.block_on(node.shutdown());
}

/// A copy of the app at `dir` as app `id`, needing `needs` (app id, range).
fn variant(dir: &Path, id: &str, needs: (&str, &str)) -> std::path::PathBuf {
    let to = dir.with_file_name(id);
    std::fs::create_dir(&to).unwrap();
    for file in ["image.tar", "icon.svg"] {
        std::fs::copy(dir.join(file), to.join(file)).unwrap();
    }
    let text = std::fs::read_to_string(dir.join("manifest.yml")).unwrap();
    let text = text.replace("id: org.archipelago.notes", &format!("id: {id}"));
    let (app, range) = needs;
    std::fs::write(
        to.join("manifest.yml"),
        format!("{text}\ndependencies:\n  - id: {app}\n    version: \"{range}\"\n"),
    )
    .unwrap();
    to
}

/// An app that needs another: installing it by name installs what it
/// needs first, from the publisher's catalog; one whose dependency no
/// catalog offers is refused with a message naming it; stopping or
/// removing the needed app asks for --force and names who needs it.
#[test]
fn dependencies_are_installed_first_and_guard_stop_and_uninstall() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(Mode::Rootful, tmp.path()) else {
        return;
    };
    let runtime = Runtime::new().unwrap();
    let common::PackedApp {
        dir,
        key,
        did,
        catalog,
        origin_data,
        ..
    } = common::packed_in_catalog(tmp.path(), "notes");
    let needy = variant(&dir, "org.test.jotter", ("org.archipelago.notes", "^1"));
    let orphan = variant(&dir, "org.test.orphan", ("org.test.absent", ">=1"));
    for app in [&needy, &orphan] {
        let signed = app.join("manifest.signed.json");
        let pack = ["app", "pack", s(app), "--key", s(&key), "--data-dir"];
        common::ok(&[&pack[..], &[s(&origin_data)]].concat());
        common::ok(&["catalog", "add", s(&catalog), s(&signed), "--key", s(&key)]);
    }
    let origin = serving_origin(&origin_data, &key, &catalog);
    let b = tmp.path().join("b");
    let (daemon, _api) = start_b(&runtime, &b, &podman, "ws://127.0.0.1:9");

    let refused = archy(
        &b,
        &podman,
        &[
            "app",
            "install",
            &format!("{did}/org.test.orphan"),
            "--origin",
            &origin.ticket,
            "--trust-anyway",
        ],
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("org.test.absent"),
        "{said}"
    );

    ok(
        &b,
        &podman,
        &[
            "app",
            "install",
            &format!("{did}/org.test.jotter"),
            "--origin",
            &origin.ticket,
            "--trust-anyway",
        ],
    );
    let installed = ok(&b, &podman, &["app", "ls"]);
    let ids: Vec<&str> = installed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["org.archipelago.notes", "org.test.jotter"],
        "{installed}"
    );
    // The dependency was judged like any install: below known, it came in
    // on the user's confirmation of the app that needs it, and says so.
    let journal = ok(&b, &podman, &["app", "journal"]);
    let mut confirmed: Vec<&str> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["op"] == "install below known")
        .filter_map(|e| e["app"].as_str())
        .collect();
    confirmed.sort_unstable();
    // (The orphan's confirmation was journaled before its dependency was
    // found missing.)
    assert_eq!(
        confirmed,
        [
            "org.archipelago.notes",
            "org.test.jotter",
            "org.test.orphan"
        ],
        "{journal}"
    );

    for verb in [&["app", "stop"][..], &["app", "uninstall"][..]] {
        let args = [verb, &["org.archipelago.notes"][..]].concat();
        let refused = archy(&b, &podman, &args);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success()
                && said.contains("org.test.jotter")
                && said.contains("--force"),
            "{args:?}: {said}"
        );
    }
    ok(
        &b,
        &podman,
        &["app", "stop", "org.archipelago.notes", "--force"],
    );
    ok(
        &b,
        &podman,
        &["app", "uninstall", "org.test.jotter", "--purge"],
    );
    ok(
        &b,
        &podman,
        &["app", "uninstall", "org.archipelago.notes", "--purge"],
    );
    daemon.stop();
}
