//! End-to-end: the real `archy` binary on real files, with sample images
//! built by podman from busybox-static (apps/build-images.sh).

use archy_tests as common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{Running, app_under_new_key, archy, bounded, json, ok, repo, s};
use serde_json::Value;

#[test]
fn key_new_writes_a_0600_key_whose_show_gives_did_and_npub() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("me.key");
    let created = json(&["key", "new", "--out", s(&key)]);
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let shown = json(&["key", "show", s(&key)]);
    assert_eq!(shown["did"], created["did"]);
    assert!(shown["did"].as_str().unwrap().starts_with("did:key:z6Mk"));
    assert!(shown["npub"].as_str().unwrap().starts_with("npub1"));
}

#[test]
fn key_new_never_overwrites_an_existing_key() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("me.key");
    ok(&["key", "new", "--out", s(&key)]);
    let before = fs::read(&key).unwrap();
    let out = archy(&["key", "new", "--out", s(&key)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(fs::read(&key).unwrap(), before);
}

#[test]
fn key_readable_by_others_is_refused_like_ssh() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("me.key");
    ok(&["key", "new", "--out", s(&key)]);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let out = archy(&["key", "show", s(&key)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("too open") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn an_unknown_signature_batch_mode_is_refused_with_the_modes_named() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("me.key");
    ok(&["key", "new", "--out", s(&key)]);
    let by_flag = archy(&["--signature-batch", "fast", "key", "show", s(&key)]);
    let by_env = bounded(30, env!("CARGO_BIN_EXE_archy"))
        .args(["key", "show", s(&key)])
        .env("ARCHY_SIGNATURE_BATCH", "fast")
        .output()
        .unwrap();
    for out in [by_flag, by_env] {
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("'fast' is not a signature-batch mode"),
            "{stderr}"
        );
        assert!(stderr.contains("off, on, ifma"), "{stderr}");
    }
    for mode in ["off", "on", "ifma"] {
        ok(&["--signature-batch", mode, "key", "show", s(&key)]);
    }
}

#[test]
fn app_init_scaffolds_a_manifest_that_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("me.key");
    ok(&["key", "new", "--out", s(&key)]);
    let dir = tmp.path().join("My App");
    ok(&["app", "init", s(&dir), "--key", s(&key)]);
    let report = json(&["app", "validate", s(&dir)]);
    assert_eq!(report["valid"], true);
    assert_eq!(report["app"]["id"], "org.example.my-app");
    // Never overwrites.
    assert!(
        !archy(&["app", "init", s(&dir), "--key", s(&key)])
            .status
            .success()
    );
}

#[test]
fn validate_lists_every_problem_with_file_line_column_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = tmp.path().join("manifest.yml");
    let text = fs::read_to_string(repo().join("apps/notes/manifest.yml"))
        .unwrap()
        .replace("version: 1.0.0", "version: 1.0")
        .replace("- name: data", "- name: data\n        path: ../../etc")
        .replace(
            "    secrets: [notes-token]",
            "    secrets: [notes-token]\n    privileged: true",
        );
    fs::write(&manifest, text).unwrap();
    let out = archy(&["app", "validate", s(&manifest)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = s(&manifest);
    assert!(err.contains(&format!("{file}:5:10: version:")), "{err}");
    assert!(
        err.contains("containers[0].volumes[0].path: '../../etc' escapes the app's data dir"),
        "{err}"
    );
    assert!(
        err.contains("containers[0].privileged: privileged mode is never allowed"),
        "{err}"
    );
    assert!(err.contains("3 problem(s)"), "{err}");

    let out = archy(&["app", "validate", s(&manifest), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"].as_array().unwrap().len(), 3);
    assert_eq!(report["problems"][0]["line"], 5);
}

#[test]
fn every_sample_app_validates() {
    for app in ["hello-web", "notes", "duo"] {
        let report = json(&["app", "validate", s(&repo().join("apps").join(app))]);
        assert_eq!(report["valid"], true, "{app}: {report}");
    }
}

#[test]
fn sample_apps_sign_and_verify_under_their_publisher() {
    let tmp = tempfile::tempdir().unwrap();
    for app in ["hello-web", "notes", "duo"] {
        let (dir, key, did) = app_under_new_key(tmp.path(), app);
        let signed = json(&["app", "sign", s(&dir), "--key", s(&key)]);
        let envelope = dir.join("manifest.signed.json");
        assert_eq!(signed["signed_manifest"], s(&envelope));
        let verified = json(&["app", "verify", s(&envelope), "--publisher", &did]);
        assert_eq!(verified["valid"], true);
        assert_eq!(verified["app"]["publisher"], did);
    }
}

#[test]
fn signed_image_id_is_the_one_podman_reports_on_load() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, key, _) = app_under_new_key(tmp.path(), "hello-web");
    let signed = json(&["app", "sign", s(&dir), "--key", s(&key)]);
    let image_id = signed["images"][0]["image_id"].as_str().unwrap().to_owned();
    let load = bounded(120, "podman")
        .args(["load", "--quiet", "-i", s(&dir.join("image.tar"))])
        .env("CONTAINERS_CONF", repo().join("scripts/containers.conf"))
        .output()
        .expect("podman runs");
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let loaded = String::from_utf8_lossy(&load.stdout);
    // podman prints "Loaded image: <name>"; ask for the id of what it loaded.
    let name = loaded.trim().rsplit(": ").next().unwrap().to_owned();
    let inspect = bounded(30, "podman")
        .args(["image", "inspect", "--format", "{{.Id}}", &name])
        .env("CONTAINERS_CONF", repo().join("scripts/containers.conf"))
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&inspect.stdout).trim().to_owned();
    assert_eq!(image_id, format!("sha256:{id}"));
}

#[test]
fn tampered_or_resigned_manifests_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, key, did) = app_under_new_key(tmp.path(), "hello-web");
    ok(&["app", "sign", s(&dir), "--key", s(&key)]);
    let envelope = dir.join("manifest.signed.json");
    let original = fs::read_to_string(&envelope).unwrap();
    let refused = |text: &str, publisher: Option<&str>, why: &str| {
        let path = tmp.path().join("candidate.json");
        fs::write(&path, text).unwrap();
        let mut args = vec!["app", "verify", s(&path)];
        if let Some(p) = publisher {
            args.extend(["--publisher", p]);
        }
        let out = archy(&args);
        assert_eq!(out.status.code(), Some(1), "{why} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused(
        &original.replace("\"Hello web\"", "\"Hello w3b\""),
        None,
        "a changed title",
    );
    assert!(err.contains("bad signature"), "{err}");
    let signed: Value = serde_json::from_str(&original).unwrap();
    let hash = signed["signed"]["payload"]["containers"][0]["image"]["blake3"]
        .as_str()
        .unwrap();
    refused(
        &original.replace(hash, &"0".repeat(64)),
        None,
        "a swapped image hash",
    );

    // Another key re-signs the same manifest: valid signature, wrong publisher.
    let (_, other_key, other_did) = app_under_new_key(tmp.path(), "notes");
    let mallory_dir = tmp.path().join("mallory");
    fs::create_dir(&mallory_dir).unwrap();
    for file in ["image.tar", "icon.svg"] {
        fs::copy(dir.join(file), mallory_dir.join(file)).unwrap();
    }
    fs::write(
        mallory_dir.join("manifest.yml"),
        fs::read_to_string(dir.join("manifest.yml"))
            .unwrap()
            .replace(&did, &other_did),
    )
    .unwrap();
    ok(&["app", "sign", s(&mallory_dir), "--key", s(&other_key)]);
    let resigned = fs::read_to_string(mallory_dir.join("manifest.signed.json")).unwrap();
    let err = refused(&resigned, Some(&did), "a manifest re-signed by another key");
    assert!(err.contains("expected"), "{err}");
}

/// The processes `pid` started, from /proc.
fn children_of(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Whether `pid` still runs (a zombie waiting to be reaped does not).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .starts_with('Z')
    })
}

/// Polls `check` until it holds; fails the test after `seconds`.
fn wait_until(what: &str, seconds: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stopped_test_process_takes_what_it_started_along() {
    let running = Running::spawn(bounded(60, "sleep").arg("300")).unwrap();
    let timeout = running.0.id();
    wait_until("timeout to start sleep", 20, || {
        !children_of(timeout).is_empty()
    });
    let sleep = children_of(timeout)[0];
    drop(running);
    wait_until("sleep to die with its timeout wrapper", 20, || {
        !alive(sleep)
    });
}

#[test]
fn node_config_lays_variables_and_flags_over_archy_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(
        data.join("archy.toml"),
        "signature_batch = \"off\"\n[discovery]\nflood_limit = 5\nmax_bad_signatures = 20.0\n[apps]\nreconcile_every = 9\n",
    )
    .unwrap();
    let out = bounded(60, env!("CARGO_BIN_EXE_archy"))
        .args(["node", "config", "--json", "--data-dir", s(&data)])
        .args(["--reconcile-every", "3"])
        .env("ARCHY_FLOOD_LIMIT", "7")
        .env("ARCHY_RECONCILE_EVERY", "4")
        .env_remove("ARCHY_SIGNATURE_BATCH")
        .output()
        .unwrap();
    let shown: Value = serde_json::from_str(&common::succeeded(&["node", "config"], out)).unwrap();
    assert_eq!(shown["source"]["kind"], "file");
    let config = &shown["config"];
    // The file alone.
    assert_eq!(config["signature_batch"], "off");
    assert_eq!(config["discovery"]["max_bad_signatures"], 20.0);
    // A variable over the file.
    assert_eq!(config["discovery"]["flood_limit"], 7);
    // A flag over both.
    assert_eq!(config["apps"]["reconcile_every"], 3);
    // Neither: the default.
    assert_eq!(config["relay"]["port"], 7447);
}

#[test]
fn a_misspelled_key_in_archy_toml_stops_the_node_naming_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("archy.toml"),
        "[relay]\nport = 0\nprot = 1\n",
    )
    .unwrap();
    let out = archy(&["node", "run", "--data-dir", s(tmp.path())]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("archy.toml") && err.contains("line 3") && err.contains("prot"),
        "{err}"
    );
}

#[test]
fn peer_commands_without_a_running_node_list_nothing_and_refuse_an_invite() {
    let tmp = tempfile::tempdir().unwrap();
    let data = s(tmp.path());
    let listed = json(&["peer", "ls", "--data-dir", data]);
    assert_eq!(listed, serde_json::json!([]));
    let out = archy(&["peer", "invite", "--data-dir", data]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("start it first"), "{err}");
    let out = archy(&["peer", "join", "archyinvite1111", "--data-dir", data]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invite"), "{err}");
}
