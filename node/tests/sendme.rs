//! Interop with n0's own tool: `sendme receive` fetches a file our node
//! shares, and our node fetches a file `sendme send` offers. sendme 0.37
//! comes from crates.io (scripts/install-deps.sh installs it).

use archy_tests as common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Running, bounded, json, ok, s};
use iroh_blobs::ticket::BlobTicket;

/// sendme: `$ARCHY_SENDME`, else `sendme` on PATH, else cargo's bin dir.
fn sendme() -> PathBuf {
    let found = std::env::var_os("ARCHY_SENDME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("sendme"))
                    .find(|p| p.is_file())
            })
        })
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cargo/bin/sendme"))
                .filter(|p| p.is_file())
        });
    found.expect(
        "sendme is missing: run scripts/install-deps.sh (cargo install --locked sendme@0.37.1)",
    )
}

/// The same ticket with only its loopback addresses, so no test traffic
/// goes to any other interface of the machine.
fn loopback_only(ticket: &str) -> String {
    let ticket: BlobTicket = ticket.parse().expect("a blob ticket");
    let (addr, hash, format) = ticket.into_parts();
    let mut local = iroh::EndpointAddr::new(addr.id);
    for ip in addr.ip_addrs().filter(|a| a.ip().is_loopback()) {
        local = local.with_ip_addr(*ip);
    }
    assert!(
        local.ip_addrs().next().is_some(),
        "the ticket has no loopback address: {addr:?}"
    );
    BlobTicket::new(local, hash, format).to_string()
}

fn random_file(path: &Path, size: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; size];
    blake3::Hasher::new()
        .update(path.to_string_lossy().as_bytes())
        .finalize_xof()
        .fill(&mut bytes);
    std::fs::write(path, &bytes).unwrap();
    bytes
}

#[test]
fn sendme_receives_a_file_our_node_shares() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("shared.bin");
    let bytes = random_file(&file, 3_000_000);
    let data = tmp.path().join("node");
    ok(&["blobs", "share", s(&file), "--data-dir", s(&data)]);

    let mut node = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_archy"))
            .args(["node", "run", "--data-dir", s(&data), "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
    .unwrap();
    let stdout = node.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            text.push_str(&line);
            if line == "}" {
                tx.send(text.clone()).ok();
            }
        }
    });
    let info: serde_json::Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(30)).unwrap()).unwrap();
    let ticket = info["shares"][0]["ticket"].as_str().unwrap();

    let out_dir = tmp.path().join("received");
    std::fs::create_dir(&out_dir).unwrap();
    let received = bounded(120, sendme())
        .args(["receive", ticket, "--relay", "disabled", "--no-progress"])
        .current_dir(&out_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        received.status.success(),
        "sendme receive failed: {}{}",
        String::from_utf8_lossy(&received.stdout),
        String::from_utf8_lossy(&received.stderr)
    );
    assert_eq!(std::fs::read(out_dir.join("shared.bin")).unwrap(), bytes);
}

#[test]
fn our_node_fetches_a_file_sendme_sends() {
    let tmp = tempfile::tempdir().unwrap();
    let send_dir = tmp.path().join("send");
    std::fs::create_dir(&send_dir).unwrap();
    let file = tmp.path().join("offered.bin");
    let bytes = random_file(&file, 3_000_000);

    let mut sender = Running::spawn(
        Command::new(sendme())
            .args(["send", s(&file), "--relay", "disabled", "--no-progress"])
            .args(["--magic-ipv4-addr", "127.0.0.1:0"])
            .current_dir(&send_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let stdout = sender.0.stdout.take().unwrap();
    let mut stderr = sender.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(ticket) = line.strip_prefix("sendme receive ") {
                tx.send(ticket.trim().to_owned()).ok();
            }
        }
    });
    let ticket = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            let mut err = String::new();
            stderr.read_to_string(&mut err).ok();
            panic!("sendme send printed no ticket: {err}")
        });

    let out_dir = tmp.path().join("got");
    let data = tmp.path().join("node");
    let written = json(&[
        "blobs",
        "get",
        &loopback_only(&ticket),
        "--out",
        s(&out_dir),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(
        written[0].as_str().unwrap(),
        s(&out_dir.join("offered.bin"))
    );
    assert_eq!(std::fs::read(out_dir.join("offered.bin")).unwrap(), bytes);
}
