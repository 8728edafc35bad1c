//! End-to-end: `archy catalog` makes a TUF repository that python-tuf's
//! reference client reads over `archy catalog serve --http`, and our client
//! (`archy-tuf-client`) reads a repository made by python-tuf.

use archy_tests as common;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs};

use common::{Running, app_under_new_key, archy, bounded, json, ok, repo, s};
use serde_json::Value;

/// The Python with python-tuf installed (scripts/install-deps.sh makes it).
fn python() -> PathBuf {
    let path = env::var_os("ARCHY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/python/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-deps.sh, which installs python-tuf for the interop tests",
        path.display()
    );
    path
}

fn interop_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

/// `archy catalog serve DIR --http 127.0.0.1:0`; returns it and its base URL.
fn serve_catalog(dir: &Path) -> (Running, String) {
    let mut server = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_archy"))
            .args(["catalog", "serve", s(dir), "--http", "127.0.0.1:0"])
            .stdout(Stdio::piped()),
    )
    .expect("archy catalog serve starts");
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // Keep reading, so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    (server, url)
}

/// Python's static file server on DIR; returns it and its base URL.
fn serve_static(dir: &Path) -> (Running, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Running::spawn(
        Command::new(python())
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("python http.server starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, format!("http://127.0.0.1:{port}"))
}

fn ngclient(md: &Path, root: &Path, base: &str, td: &Path, targets: &[&str]) -> Value {
    let out = bounded(120, python())
        .arg(interop_script("ngclient_download.py"))
        .args([s(md), s(root)])
        .arg(format!("{base}/metadata/"))
        .arg(format!("{base}/targets/"))
        .arg(td)
        .args(targets)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python-tuf failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tuf_client(md: &Path, base: &str, rest: &[&str]) -> std::process::Output {
    bounded(120, env!("CARGO_BIN_EXE_archy-tuf-client"))
        .args(["--metadata-dir", s(md)])
        .args(["--metadata-url", &format!("{base}/metadata/")])
        .args(rest)
        .output()
        .unwrap()
}

fn tuf_client_ok(md: &Path, base: &str, rest: &[&str]) {
    let out = tuf_client(md, base, rest);
    assert!(
        out.status.success(),
        "archy-tuf-client {rest:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn signed_version(file: &Path) -> u64 {
    let doc: Value = serde_json::from_slice(&fs::read(file).unwrap()).unwrap();
    doc["signed"]["version"].as_u64().unwrap()
}

/// The one release document stored under `targets/apps/APP/`.
fn stored_release(catalog: &Path, app: &str) -> Vec<u8> {
    let dir = catalog.join("targets/apps").join(app);
    let file = fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
    fs::read(file).unwrap()
}

#[test]
fn an_archy_catalog_is_read_by_python_tuf_and_by_our_client() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, key, did) = app_under_new_key(tmp.path(), "hello-web");
    ok(&["app", "sign", s(&app), "--key", s(&key)]);
    let catalog = tmp.path().join("catalog");
    let init = json(&[
        "catalog",
        "init",
        s(&catalog),
        "--key",
        s(&key),
        "--timestamp-expiry",
        "2h",
    ]);
    assert_eq!(init["keys"][0], did.as_str());
    let added = json(&[
        "catalog",
        "add",
        s(&catalog),
        s(&app.join("manifest.signed.json")),
        "--key",
        s(&key),
    ]);
    let target = added["target"].as_str().unwrap().to_owned();
    assert_eq!(target, "apps/org.archipelago.hello-web/1.0.0.json");
    let (_server, base) = serve_catalog(&catalog);
    let root = catalog.join("metadata/root.json");

    let py_md = tmp.path().join("py-md");
    let py = ngclient(&py_md, &root, &base, &tmp.path().join("py-td"), &[&target]);
    let downloaded = fs::read(py["targets"][&target]["path"].as_str().unwrap()).unwrap();
    let release = stored_release(&catalog, "org.archipelago.hello-web");
    assert_eq!(downloaded, release);
    let blobs = &py["targets"][&target]["custom"]["blobs"];
    assert_eq!(
        blobs, &added["blobs"],
        "the BLAKE3 hashes are in the target's custom field"
    );
    assert_eq!(blobs[0]["blake3"].as_str().unwrap().len(), 64);

    let our_md = tmp.path().join("our-md");
    let our_td = tmp.path().join("our-td");
    tuf_client_ok(&our_md, &base, &["init", s(&root)]);
    let target_base = format!("{base}/targets/");
    tuf_client_ok(
        &our_md,
        &base,
        &[
            "--target-name",
            &target,
            "--target-base-url",
            &target_base,
            "--target-dir",
            s(&our_td),
            "download",
        ],
    );
    let ours = fs::read_dir(&our_td)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(fs::read(ours).unwrap(), release);

    // Rotate to a new key and yank: both clients follow the new root.
    let new_key = tmp.path().join("new.key");
    ok(&["key", "new", "--out", s(&new_key)]);
    ok(&[
        "catalog",
        "rotate-key",
        s(&catalog),
        "--old-key",
        s(&key),
        "--new-key",
        s(&new_key),
    ]);
    ok(&[
        "catalog",
        "yank",
        s(&catalog),
        "org.archipelago.hello-web",
        "1.0.0",
        "--reason",
        "broken",
        "--key",
        s(&new_key),
    ]);
    let py = ngclient(&py_md, &root, &base, &tmp.path().join("py-td"), &[&target]);
    assert_eq!(py["root_version"], 2);
    assert_eq!(
        py["targets"][&target]["custom"]["yanked"]["reason"],
        "broken"
    );
    tuf_client_ok(&our_md, &base, &["refresh"]);
    assert_eq!(signed_version(&our_md.join("root.json")), 2);
}

#[test]
fn a_python_tuf_repository_is_read_by_our_client() {
    let tmp = tempfile::tempdir().unwrap();
    let made = tmp.path().join("repo");
    let status = bounded(120, python())
        .arg(interop_script("make_repository.py"))
        .arg(&made)
        .status()
        .unwrap();
    assert!(status.success(), "make_repository.py failed");
    let (_server, base) = serve_static(&made);
    let md = tmp.path().join("md");
    let td = tmp.path().join("td");
    tuf_client_ok(&md, &base, &["init", s(&made.join("metadata/root.json"))]);
    let target_base = format!("{base}/targets/");
    tuf_client_ok(
        &md,
        &base,
        &[
            "--target-name",
            "docs/hello.txt",
            "--target-name",
            "team/app.bin",
            "--target-base-url",
            &target_base,
            "--target-dir",
            s(&td),
            "download",
        ],
    );
    assert_eq!(
        fs::read(td.join("docs%2Fhello.txt")).unwrap(),
        b"hello from python-tuf\n"
    );
    assert_eq!(
        fs::read(td.join("team%2Fapp.bin")).unwrap(),
        b"\x00delegated bytes\xff"
    );
    for role in ["root", "timestamp", "snapshot", "targets", "team"] {
        let stored = fs::read(md.join(format!("{role}.json"))).unwrap();
        let served = fs::read(made.join("metadata").join(match role {
            "root" | "timestamp" => format!("{role}.json"),
            _ => format!("1.{role}.json"),
        }))
        .unwrap();
        assert_eq!(
            stored, served,
            "{role}.json is stored byte for byte as served"
        );
    }
    // A target outside the delegated role's paths is not found.
    let out = tuf_client(
        &md,
        &base,
        &[
            "--target-name",
            "elsewhere/app.bin",
            "--target-base-url",
            &target_base,
            "--target-dir",
            s(&td),
            "download",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no trusted role lists target"));
}

/// Yanks hello-web `version` from `catalog` with `key`; returns stderr.
fn yank(catalog: &Path, version: &str, key: &Path) -> String {
    let out = archy(&[
        "catalog",
        "yank",
        s(catalog),
        "org.archipelago.hello-web",
        version,
        "--reason",
        "x",
        "--key",
        s(key),
    ]);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn catalog_mistakes_get_messages_a_person_can_act_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, key, _) = app_under_new_key(tmp.path(), "hello-web");
    ok(&["app", "sign", s(&app), "--key", s(&key)]);
    let catalog = tmp.path().join("catalog");
    ok(&["catalog", "init", s(&catalog), "--key", s(&key)]);
    let signed = app.join("manifest.signed.json");
    ok(&["catalog", "add", s(&catalog), s(&signed), "--key", s(&key)]);

    let again = archy(&["catalog", "init", s(&catalog), "--key", s(&key)]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a catalog"));
    let twice = archy(&["catalog", "add", s(&catalog), s(&signed), "--key", s(&key)]);
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already published"));
    let stranger = tmp.path().join("stranger.key");
    ok(&["key", "new", "--out", s(&stranger)]);
    let wrong = yank(&catalog, "1.0.0", &stranger);
    assert!(
        wrong.contains("hint: pass the catalog's key file"),
        "{wrong}"
    );
    let missing = yank(&catalog, "9.9.9", &key);
    assert!(missing.contains("is not in this catalog"), "{missing}");
    assert!(
        missing.contains("hint: see `archy catalog show`"),
        "{missing}"
    );
    let nowhere = archy(&["catalog", "show", s(&tmp.path().join("nowhere"))]);
    let nowhere = String::from_utf8_lossy(&nowhere.stderr);
    assert!(nowhere.contains("is this a catalog?"), "{nowhere}");
    assert!(
        nowhere.contains("hint: create one with `archy catalog init`"),
        "{nowhere}"
    );
    let bad_expiry = archy(&[
        "catalog",
        "init",
        s(&tmp.path().join("c2")),
        "--key",
        s(&key),
        "--timestamp-expiry",
        "3",
    ]);
    assert!(String::from_utf8_lossy(&bad_expiry.stderr).contains("needs a unit"));

    let show = json(&["catalog", "show", s(&catalog)]);
    assert_eq!(
        show["releases"][0]["target"],
        "apps/org.archipelago.hello-web/1.0.0.json"
    );
    let versions: Vec<u64> = show["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 2, 2], "root, targets, snapshot, timestamp");
}
