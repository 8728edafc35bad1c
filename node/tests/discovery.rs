//! Publishing to real Nostr relays: nostr-relay-builder's relay started in
//! the test, and the one `archy node run` embeds. What a relay holds after
//! `archy app publish` is read back with nostr-sdk and verified with the
//! node's own verifier.

use archy_tests as common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use archy_discovery::verify::{Verified, verify};
use common::{NodeProcess, archy, json, s};
use nostr::{Filter, Kind};
use nostr_relay_builder::{LocalRelay, RelayBuilder};
use nostr_sdk::Client;
use serde_json::Value;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn publish(dir: &Path, key: &Path, relay: &str, catalog: &Path) -> Value {
    json(&[
        "app",
        "publish",
        s(dir),
        "--key",
        s(key),
        "--relay",
        relay,
        "--catalog",
        s(catalog),
        "--category",
        "web",
    ])
}

/// The signed manifest `archy app sign` wrote into `dir`.
fn signed_manifest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.signed.json")).unwrap())
        .unwrap()
}

fn outcomes(report: &Value) -> Vec<(String, String)> {
    common::pairs(report, "d", "outcome")
}

async fn read_back(relay: &str) -> Vec<nostr::Event> {
    let client = Client::default();
    client.add_relay(relay).await.unwrap();
    client.connect().await;
    let filter = Filter::new().kind(Kind::Custom(30078));
    let events = client
        .fetch_events(filter, Duration::from_secs(5))
        .await
        .unwrap();
    client.shutdown().await;
    events.into_iter().collect()
}

#[test]
fn published_events_reach_a_relay_and_verify_and_republishing_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let common::PackedApp {
        dir,
        key,
        did,
        packed,
        catalog,
        ..
    } = common::packed_in_catalog(tmp.path(), "hello-web");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = runtime.block_on(async {
        let relay = LocalRelay::new(RelayBuilder::default());
        relay.run().await.unwrap();
        relay
    });
    let url = runtime.block_on(relay.url()).to_string();

    let first = publish(&dir, &key, &url, &catalog);
    let d_app = "archy:app:org.archipelago.hello-web";
    assert_eq!(
        outcomes(&first),
        [
            ("archy:publisher".into(), "accepted".into()),
            ("archy:catalog".into(), "accepted".into()),
            (d_app.into(), "accepted".into())
        ]
    );

    let events = runtime.block_on(read_back(&url));
    assert_eq!(events.len(), 3);
    let signed = signed_manifest(&dir);
    for event in &events {
        match verify(event, now()).unwrap() {
            Verified::Publisher { binding } => assert_eq!(binding.did.to_string(), did),
            Verified::Catalog { did: d, content } => {
                assert_eq!(d.to_string(), did);
                assert_eq!(content.root_version, 1);
            }
            Verified::Listing {
                did: d,
                content,
                manifest,
            } => {
                assert_eq!(d.to_string(), did);
                assert_eq!(manifest.id, "org.archipelago.hello-web");
                assert_eq!(
                    serde_json::from_str::<serde_json::Value>(content.manifest.get()).unwrap(),
                    signed,
                    "the listing carries the signed manifest as signed"
                );
                assert_eq!(
                    content.release,
                    packed["release"].as_str().unwrap(),
                    "and the release hash pack stored"
                );
                assert_eq!(content.categories, ["web"]);
            }
            Verified::Review { .. } => panic!("publishing an app sent a review"),
        }
    }

    let again = publish(&dir, &key, &url, &catalog);
    assert!(
        outcomes(&again).iter().all(|(_, o)| o == "unchanged"),
        "{again}"
    );
    assert_eq!(runtime.block_on(read_back(&url)).len(), 3);
}

#[test]
fn the_node_embeds_a_relay_and_an_unreachable_relay_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let common::PackedApp {
        dir, key, catalog, ..
    } = common::packed_in_catalog(tmp.path(), "hello-web");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let args = ["--relay-port", &port.to_string(), "--no-apps"];
    let node = NodeProcess::start(&tmp.path().join("node"), &args);
    let url = format!("ws://127.0.0.1:{port}");
    let report = publish(&dir, &key, &url, &catalog);
    assert!(
        outcomes(&report).iter().all(|(_, o)| o == "accepted"),
        "{report}"
    );
    // The embedded relay keeps its events across a restart.
    drop(node);
    let _node = NodeProcess::start(&tmp.path().join("node"), &args);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(runtime.block_on(read_back(&url)).len(), 3);

    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = archy(&[
        "app",
        "publish",
        s(&dir),
        "--key",
        s(&key),
        "--relay",
        &format!("ws://127.0.0.1:{dead}"),
        "--timeout",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "nothing landed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        outcomes(&report).iter().all(|(_, o)| o == "unreachable"),
        "{report}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Asks `archy market` on `data` until `done` holds for its JSON answer.
fn market_until(data: &Path, args: &[&str], done: impl Fn(&Value) -> bool) -> Value {
    let start = std::time::Instant::now();
    loop {
        let mut full = vec!["market"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--data-dir", s(data), "--json"]);
        let out = archy(&full);
        if let Ok(answer) = serde_json::from_slice::<Value>(&out.stdout) {
            if done(&answer) {
                return answer;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "archy {full:?} never satisfied the test; last answer {answer}"
            );
        } else {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "archy {full:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_second_node_discovers_indexes_and_finds_a_published_app() {
    let tmp = tempfile::tempdir().unwrap();
    let common::PackedApp {
        dir,
        key,
        did,
        catalog,
        ..
    } = common::packed_in_catalog(tmp.path(), "hello-web");
    let port = free_port();
    let _publisher = NodeProcess::start(
        &tmp.path().join("publisher"),
        &["--relay-port", &port.to_string(), "--no-apps"],
    );
    let url = format!("ws://127.0.0.1:{port}");
    let browser = tmp.path().join("browser");
    // The browsing node checks every signature alone (the operators' kill
    // switch), so the whole walk also holds without batches.
    let node = NodeProcess::start(
        &browser,
        &[
            "--no-relay",
            "--discover-from",
            &url,
            "--no-apps",
            "--signature-batch",
            "off",
        ],
    );
    let report = publish(&dir, &key, &url, &catalog);
    assert!(
        outcomes(&report).iter().all(|(_, o)| o == "accepted"),
        "{report}"
    );

    let found = market_until(&browser, &["search", "hello"], |a| a["total"] == 1);
    let hit = &found["listings"][0];
    assert_eq!(hit["did"], did.as_str());
    assert_eq!(hit["app_id"], "org.archipelago.hello-web");
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert_eq!(
        market_until(&browser, &["search", "no-such-words"], |_| true)["total"],
        0
    );

    let shown = market_until(
        &browser,
        &["show", &format!("{did}/org.archipelago.hello-web")],
        |_| true,
    );
    let signed = signed_manifest(&dir);
    assert_eq!(
        shown["listing"]["manifest"], signed,
        "show gives the signed manifest"
    );
    assert_eq!(
        shown["root"]["version"], 1,
        "the publisher's root is pinned"
    );
    assert_eq!(shown["listing"]["categories"], serde_json::json!(["web"]));

    let stats = market_until(&browser, &["stats"], |_| true);
    assert_eq!(stats["sizes"]["listings"], 1);
    assert_eq!(stats["counters"]["root pinned"], 1);
    assert_eq!(stats["relays"][0]["status"]["phase"], "live");

    // The index outlives the node: with it stopped, the CLI reads the file.
    node.stop();
    let offline = market_until(&browser, &["list"], |_| true);
    assert_eq!(offline["total"], 1);

    // A NIP-09 deletion yanks the listing, on the relay and in the index;
    // the restarted node backfills it from its cursor.
    let _node = NodeProcess::start(
        &browser,
        &["--no-relay", "--discover-from", &url, "--no-apps"],
    );
    let withdrawn = json(&[
        "app",
        "unpublish",
        "org.archipelago.hello-web",
        "--key",
        s(&key),
        "--relay",
        &url,
    ]);
    assert_eq!(
        outcomes(&withdrawn),
        [(
            "delete archy:app:org.archipelago.hello-web".into(),
            "accepted".into()
        )]
    );
    market_until(&browser, &["search", "hello"], |a| a["total"] == 0);
    let stats = market_until(&browser, &["stats"], |_| true);
    assert_eq!(stats["sizes"]["listings"], 0);
    assert_eq!(stats["counters"]["deletion"], 1);
}

/// nostr-rs-relay 0.8 (a relay nobody here wrote), built by
/// `scripts/install-deps.sh` into `.cache/nostr-rs-relay`, on a free port
/// with its database in `dir`; killed when dropped.
struct NostrRsRelay {
    _process: common::Running,
    url: String,
}

impl NostrRsRelay {
    fn start(dir: &Path) -> Self {
        let binary = std::env::var_os("ARCHY_NOSTR_RS_RELAY")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| common::repo().join(".cache/nostr-rs-relay/bin/nostr-rs-relay"));
        assert!(
            binary.exists(),
            "{} is missing: scripts/install-deps.sh builds it",
            binary.display()
        );
        let port = free_port();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[info]\nrelay_url = \"ws://127.0.0.1:{port}/\"\nname = \"interop\"\n\
                 [network]\naddress = \"127.0.0.1\"\nport = {port}\n"
            ),
        )
        .unwrap();
        let process = common::Running::spawn(
            std::process::Command::new(binary)
                .args(["--config", s(&config), "--db", s(dir)])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        )
        .expect("nostr-rs-relay starts");
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "nostr-rs-relay did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            _process: process,
            url: format!("ws://127.0.0.1:{port}"),
        }
    }
}

#[test]
fn interop_with_nostr_rs_relay_publish_discover_and_withdraw() {
    let tmp = tempfile::tempdir().unwrap();
    let common::PackedApp {
        dir,
        key,
        did,
        catalog,
        ..
    } = common::packed_in_catalog(tmp.path(), "notes");
    let relay_dir = tmp.path().join("relay");
    std::fs::create_dir(&relay_dir).unwrap();
    let relay = NostrRsRelay::start(&relay_dir);

    let report = publish(&dir, &key, &relay.url, &catalog);
    assert!(
        outcomes(&report).iter().all(|(_, o)| o == "accepted"),
        "{report}"
    );
    let again = publish(&dir, &key, &relay.url, &catalog);
    assert!(
        outcomes(&again).iter().all(|(_, o)| o == "unchanged"),
        "nostr-rs-relay hands back what it stored: {again}"
    );

    let browser = tmp.path().join("browser");
    let _node = NodeProcess::start(
        &browser,
        &["--no-relay", "--discover-from", &relay.url, "--no-apps"],
    );
    let found = market_until(&browser, &["search", "notes"], |a| a["total"] == 1);
    assert_eq!(found["listings"][0]["did"], did.as_str());
    let app = found["listings"][0]["app_id"].as_str().unwrap().to_owned();
    let shown = market_until(&browser, &["show", &format!("{did}/{app}")], |_| true);
    let signed = signed_manifest(&dir);
    assert_eq!(shown["listing"]["manifest"], signed);
    assert_eq!(shown["listing"]["relay"], relay.url.as_str());

    let withdrawn = json(&[
        "app",
        "unpublish",
        &app,
        "--key",
        s(&key),
        "--relay",
        &relay.url,
    ]);
    assert_eq!(outcomes(&withdrawn)[0].1, "accepted", "{withdrawn}");
    market_until(&browser, &["search", "notes"], |a| a["total"] == 0);
    let stats = market_until(&browser, &["stats"], |_| true);
    assert!(stats["rejected"].as_object().unwrap().is_empty(), "{stats}");
}
