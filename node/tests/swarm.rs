//! End-to-end: releases move between real nodes (`archy node run`
//! processes, iroh endpoints on loopback, redb state files) and every
//! fetch is checked against the origin publisher's catalog.

use archy_tests as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use archy_registry::swarm::endpoint::{EndpointOptions, Network, NodeEndpoint};
use archy_registry::swarm::tuf_protocol::{self, CatalogFile, CatalogSource, Served, TufProtocol};
use archy_synthetic::write_app;
use archy_trust::Did;
use common::{NodeProcess, Running, bounded, copy_dir, json, ok, s};
use serde_json::Value;

/// A publisher with a catalog and a synthetic app packed into its node's
/// data directory.
struct Publisher {
    root: PathBuf,
    key: PathBuf,
    did: String,
    catalog: PathBuf,
    data: PathBuf,
}

impl Publisher {
    fn new(root: &Path) -> Self {
        std::fs::create_dir_all(root).unwrap();
        let key = root.join("publisher.key");
        ok(&["key", "new", "--out", s(&key)]);
        let did = json(&["key", "show", s(&key)])["did"]
            .as_str()
            .unwrap()
            .to_owned();
        let catalog = root.join("catalog");
        ok(&["catalog", "init", s(&catalog), "--key", s(&key)]);
        Self {
            root: root.to_owned(),
            key,
            did,
            catalog,
            data: root.join("origin"),
        }
    }

    /// Writes, packs and publishes `app` `version` with images of `sizes`.
    fn release(&self, app: &str, version: &str, sizes: &[u64]) -> PathBuf {
        let dir = self.root.join(format!("{app}-{version}"));
        let did: Did = self.did.parse().unwrap();
        write_app(&dir, &did, app, version, sizes).unwrap();
        self.pack(&dir, &self.data);
        ok(&[
            "catalog",
            "add",
            s(&self.catalog),
            s(&dir.join("manifest.signed.json")),
            "--key",
            s(&self.key),
        ]);
        dir
    }

    fn pack(&self, app_dir: &Path, data: &Path) -> Value {
        json(&[
            "app",
            "pack",
            s(app_dir),
            "--key",
            s(&self.key),
            "--data-dir",
            s(data),
        ])
    }

    /// The publisher's own node, serving its catalog.
    fn origin(&self, extra: &[&str]) -> NodeProcess {
        let mut args = vec!["--key", s(&self.key), "--catalog", s(&self.catalog)];
        args.extend_from_slice(extra);
        NodeProcess::start(&self.data, &args)
    }

    fn app(&self, app: &str) -> String {
        format!("{}/{app}", self.did)
    }

    /// Starts the origin, fetches `app` into `data` from it, stops it.
    fn fetch_from_origin(&self, app: &str, data: &Path) -> Value {
        let origin = self.origin(&[]);
        fetched(&fetch(
            &self.app(app),
            data,
            &[("--origin", &origin.ticket)],
        ))
    }
}

/// An endpoint on loopback under a new identity, for in-test nodes.
async fn test_endpoint() -> (archy_trust::Identity, NodeEndpoint) {
    let identity = archy_trust::Identity::generate().unwrap();
    let options = EndpointOptions {
        network: Network::Local,
        bind: None,
    };
    let endpoint = NodeEndpoint::bind(&identity, &options).await.unwrap();
    (identity, endpoint)
}

fn fetch(release: &str, data: &Path, nodes: &[(&str, &str)]) -> Output {
    let mut command = bounded(120, env!("CARGO_BIN_EXE_archy"));
    command.args(["fetch", release, "--data-dir", s(data), "--json"]);
    for (flag, ticket) in nodes {
        command.args([flag, ticket]);
    }
    command.output().expect("archy fetch runs")
}

fn fetched(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "archy fetch failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn refused(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "archy fetch should have failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every fetched blob is byte-identical to the image archive it came from.
fn assert_same_images(result: &Value, app_dir: &Path) {
    let blobs = result["blobs"].as_array().unwrap();
    for (n, blob) in blobs.iter().enumerate() {
        let got = std::fs::read(blob["path"].as_str().unwrap()).unwrap();
        let hash = blake3::hash(&got).to_hex().to_string();
        assert_eq!(hash, blob["blake3"].as_str().unwrap(), "blob {n}");
        let source_matches = std::fs::read_dir(app_dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tar"))
            .any(|e| std::fs::read(e.path()).unwrap() == got);
        assert!(source_matches, "blob {n} is none of the app's archives");
    }
}

#[test]
fn a_fresh_node_fetches_from_a_peer_after_the_origin_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(tmp.path());
    let app_dir = publisher.release("org.example.three", "1.0.0", &[300_000, 40_000]);
    let origin = publisher.origin(&[]);
    let peer_data = tmp.path().join("peer");
    let first = fetched(&fetch(
        &publisher.app("org.example.three"),
        &peer_data,
        &[("--origin", &origin.ticket)],
    ));
    assert_same_images(&first, &app_dir);
    let peer = NodeProcess::start(&peer_data, &[]);
    let origin_ticket = origin.ticket.clone();
    drop(origin);

    let fresh = tmp.path().join("fresh");
    let output = fetch(
        &publisher.app("org.example.three"),
        &fresh,
        &[("--origin", &origin_ticket), ("--provider", &peer.ticket)],
    );
    let second = fetched(&output);
    assert_eq!(second["release"], first["release"]);
    assert_eq!(second["version"], "1.0.0");
    assert_same_images(&second, &app_dir);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains(&format!("{} could not give the catalog", publisher.did))
            && log.contains("did not answer within 1000 ms"),
        "the dead origin is reported with its 1 s dial limit: {log}"
    );
    assert!(
        log.contains("pinned the publisher's root"),
        "the root came from the peer, checked against the publisher's DID: {log}"
    );

    // The fresh node remembers where it got the release; a second fetch
    // with no tickets finds the same nodes and has everything already.
    let again = fetched(&fetch(&publisher.app("org.example.three"), &fresh, &[]));
    assert_eq!(again["already_held_bytes"], again["total_bytes"]);
}

#[test]
fn a_peer_offering_older_metadata_cannot_roll_a_node_back() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(tmp.path());
    publisher.release("org.example.roll", "1.0.0", &[20_000]);
    let stale_copy = tmp.path().join("stale-catalog");
    copy_dir(&publisher.catalog, &stale_copy);
    publisher.release("org.example.roll", "1.1.0", &[20_000]);

    let node = tmp.path().join("node");
    let newest = publisher.fetch_from_origin("org.example.roll", &node);
    assert_eq!(newest["version"], "1.1.0");
    // A peer serves the publisher's genuine but older catalog.
    let stale = NodeProcess::start(
        &tmp.path().join("stale-peer"),
        &["--catalog", s(&stale_copy)],
    );
    let output = fetch(
        &publisher.app("org.example.roll"),
        &node,
        &[("--provider", &stale.ticket)],
    );
    let message = refused(&output);
    assert!(
        message.contains("rollback") || message.contains("older"),
        "the stale peer is refused as a rollback: {message}"
    );
    // The node's trusted metadata did not move back: with the stale peer
    // alone, the newest version it knows is still 1.1.0's catalog.
    let message = refused(&fetch(
        &format!("{}@1.0.0", publisher.app("org.example.roll")),
        &node,
        &[("--provider", &stale.ticket)],
    ));
    assert!(
        message.contains("rollback") || message.contains("older"),
        "{message}"
    );
}

/// A lying node: serves one catalog directory as the catalog of any
/// publisher asked for.
#[derive(Debug)]
struct AnyPublisher(PathBuf);

impl CatalogSource for AnyPublisher {
    fn read(&self, _publisher: &Did, file: &CatalogFile) -> Result<Option<Served>, String> {
        let path = match file {
            CatalogFile::Metadata(name) => self.0.join("metadata").join(name),
            CatalogFile::Target(path) => self.0.join("targets").join(path),
        };
        Ok(std::fs::read(path).ok().map(|bytes| Served {
            bytes,
            newest_root: None,
        }))
    }
}

/// Runs a lying node in this process until the returned guard drops.
fn lying_node(catalog: PathBuf) -> (tokio::runtime::Runtime, iroh::protocol::Router, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (router, ticket) = runtime.block_on(async {
        let (_identity, endpoint) = test_endpoint().await;
        let router = iroh::protocol::Router::builder(endpoint.endpoint.clone())
            .accept(
                tuf_protocol::ALPN,
                TufProtocol::new(Arc::new(AnyPublisher(catalog))),
            )
            .spawn();
        (router, endpoint.ticket().unwrap().to_string())
    });
    (runtime, router, ticket)
}

#[test]
fn a_peer_offering_metadata_signed_by_its_own_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(tmp.path());
    publisher.release("org.example.forge", "1.0.0", &[20_000]);

    // The attacker's catalog: same app id, its own key.
    let forger = Publisher::new(&tmp.path().join("forger"));
    forger.release("org.example.forge", "6.6.6", &[20_000]);
    let (_runtime, _router, liar) = lying_node(forger.catalog.clone());

    // First contact: the root it offers does not list the publisher.
    let message = refused(&fetch(
        &publisher.app("org.example.forge"),
        &tmp.path().join("fresh"),
        &[("--provider", &liar)],
    ));
    assert!(
        message.contains("does not list") && message.contains(&publisher.did),
        "{message}"
    );

    // A node that pinned the real root: the forged timestamp fails.
    let node = tmp.path().join("node");
    publisher.fetch_from_origin("org.example.forge", &node);
    let message = refused(&fetch(
        &publisher.app("org.example.forge"),
        &node,
        &[("--provider", &liar)],
    ));
    assert!(
        message.contains("signature") || message.contains("threshold"),
        "{message}"
    );
    assert!(!message.contains("6.6.6 from"), "{message}");
}

#[test]
fn a_peer_cannot_make_a_node_fetch_a_hash_the_origin_does_not_name() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(tmp.path());
    publisher.release("org.example.swap", "1.0.0", &[50_000]);
    // The publisher also signed another build of 1.0.0 but never put it
    // in the catalog. A peer holds and offers only that build.
    let other = tmp.path().join("other-build");
    let did: Did = publisher.did.parse().unwrap();
    write_app(&other, &did, "org.example.swap", "1.0.0", &[50_001]).unwrap();
    let peer_data = tmp.path().join("peer");
    let packed = publisher.pack(&other, &peer_data);
    let other_hashes: Vec<String> = packed["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["blake3"].as_str().unwrap().to_owned())
        .chain([packed["release"].as_str().unwrap().to_owned()])
        .collect();
    let peer = NodeProcess::start(&peer_data, &[]);
    let origin = publisher.origin(&[]);

    let node = tmp.path().join("node");
    let result = fetched(&fetch(
        &publisher.app("org.example.swap"),
        &node,
        &[("--provider", &peer.ticket), ("--origin", &origin.ticket)],
    ));
    assert_ne!(result["release"].as_str().unwrap(), packed["release"]);
    let held = json(&["blobs", "ls", "--data-dir", s(&node)]);
    for entry in held.as_array().unwrap() {
        let hash = entry["hash"].as_str().unwrap();
        assert!(
            !other_hashes.iter().any(|h| h == hash),
            "{hash} was fetched"
        );
    }

    // With the origin gone, the peer's build is still not taken.
    drop(origin);
    let message = refused(&fetch(
        &publisher.app("org.example.swap"),
        &tmp.path().join("fresh"),
        &[("--provider", &peer.ticket)],
    ));
    assert!(
        message.contains("not found")
            || message.contains("does not exist")
            || message.contains("could not supply"),
        "{message}"
    );
}

/// The byte of the image the corrupting peer flips.
const FLIPPED: usize = 1_000_003;

/// A peer that answers every blob request honestly from a copy of a
/// store, except for one blob: its bytes go out with one data byte
/// flipped and every hash of the tree intact, as a malicious peer would
/// send them (an honest store refuses to send data that does not match
/// its own hash tree, so this needs a handler of its own).
#[derive(Debug, Clone)]
struct Corrupting {
    store: archy_registry::swarm::BlobStore,
    target: iroh_blobs::Hash,
    corrupted: Arc<Vec<u8>>,
}

impl iroh::protocol::ProtocolHandler for Corrupting {
    async fn accept(
        &self,
        connection: iroh::endpoint::Connection,
    ) -> Result<(), iroh::protocol::AcceptError> {
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            let Ok(request) = recv.read_to_end(4096).await else {
                break;
            };
            let asks_for =
                |hash: &iroh_blobs::Hash| request.windows(32).any(|w| w == hash.as_bytes());
            let answer = if asks_for(&self.target) {
                self.corrupted.as_ref().clone()
            } else {
                let hashes = self.store.api().blobs().list().hashes().await.unwrap();
                let Some(hash) = hashes.into_iter().find(asks_for) else {
                    break;
                };
                encoded(&self.store, hash).await
            };
            if send.write_all(&answer).await.is_err() || send.finish().is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// The whole of `hash` as it goes on the wire: size, then the hash tree's
/// parents and 16 KiB leaves in pre-order.
async fn encoded(store: &archy_registry::swarm::BlobStore, hash: iroh_blobs::Hash) -> Vec<u8> {
    store
        .api()
        .export_bao(hash, iroh_blobs::protocol::ChunkRanges::all())
        .bao_to_vec()
        .await
        .unwrap()
}

/// The wire form of `hash` with the data byte at `offset` flipped and
/// every tree hash left as it was. Found by encoding the flipped data too:
/// the leaf byte is the one lone difference (changed hashes differ in runs
/// of 32 bytes).
async fn corrupted(
    store: &archy_registry::swarm::BlobStore,
    hash: iroh_blobs::Hash,
    offset: usize,
) -> Vec<u8> {
    let mut honest = encoded(store, hash).await;
    let mut data = store.api().blobs().get_bytes(hash).await.unwrap().to_vec();
    data[offset] ^= 0x40;
    let other = iroh_blobs::store::mem::MemStore::new();
    let flipped = other.add_bytes(data).await.unwrap().hash;
    let theirs = other
        .export_bao(flipped, iroh_blobs::protocol::ChunkRanges::all())
        .bao_to_vec()
        .await
        .unwrap();
    assert_eq!(honest.len(), theirs.len());
    let differs = |i: usize| i < honest.len() && honest[i] != theirs[i];
    let lone: Vec<usize> = (1..honest.len() - 1)
        .filter(|&i| differs(i) && !differs(i - 1) && !differs(i + 1))
        .collect();
    assert_eq!(lone.len(), 1, "one lone differing byte: {lone:?}");
    honest[lone[0]] ^= 0x40;
    honest
}

#[test]
fn a_peer_serving_corrupted_bytes_is_caught_and_the_fetch_completes_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(tmp.path());
    let app_dir = publisher.release("org.example.rot", "1.0.0", &[2_000_000]);
    let good_data = tmp.path().join("good");
    publisher.fetch_from_origin("org.example.rot", &good_data);
    let image: iroh_blobs::Hash = json(&["blobs", "ls", "--data-dir", s(&good_data)])
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["size"].as_u64().unwrap_or_default() > 1_000_000)
        .map(|e| e["hash"].as_str().unwrap().parse().unwrap())
        .unwrap();
    // The corrupting peer starts from a copy of the good peer's store and
    // serves the publisher's genuine metadata.
    let evil_blobs = tmp.path().join("evil-blobs");
    copy_dir(&good_data.join("blobs"), &evil_blobs);
    let good = NodeProcess::start(&good_data, &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (router, evil_ticket, evil_did) = runtime.block_on(async {
        let store = archy_registry::swarm::BlobStore::open(&evil_blobs)
            .await
            .unwrap();
        let corrupting = Corrupting {
            corrupted: Arc::new(corrupted(&store, image, FLIPPED).await),
            store,
            target: image,
        };
        let (identity, endpoint) = test_endpoint().await;
        let router = iroh::protocol::Router::builder(endpoint.endpoint.clone())
            .accept(iroh_blobs::ALPN, corrupting)
            .accept(
                tuf_protocol::ALPN,
                TufProtocol::new(Arc::new(AnyPublisher(publisher.catalog.clone()))),
            )
            .spawn();
        (
            router,
            endpoint.ticket().unwrap().to_string(),
            identity.did(),
        )
    });

    // On the wire: read chunk group by chunk group, the first item that
    // fails its hash is the 16 KiB group holding the flipped byte.
    let (accepted, error) = read_until_mismatch(&evil_ticket, image);
    assert!(
        (FLIPPED as u64 - 16 * 1024..=FLIPPED as u64).contains(&accepted),
        "{accepted} bytes verified before the mismatch ({error})"
    );

    // archy fetch asks the corrupting peer first for the image, drops it
    // at the bad chunk group and completes from the good peer.
    let output = fetch(
        &publisher.app("org.example.rot"),
        &tmp.path().join("node"),
        &[("--provider", &evil_ticket), ("--provider", &good.ticket)],
    );
    let result = fetched(&output);
    assert_same_images(&result, &app_dir);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains(&format!("provider {evil_did} failed on {image}")),
        "the corrupting peer is named: {log}"
    );
    runtime.block_on(router.shutdown()).ok();
}

#[test]
fn a_fetch_killed_mid_transfer_resumes_without_fetching_again_what_it_had() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(tmp.path());
    let app_dir = publisher.release("org.example.slow", "1.0.0", &[12_000_000, 12_000_000]);
    // 24 MB at 6 MB/s: about four seconds, time enough to stop it halfway.
    let origin = publisher.origin(&["--max-upload", "6MB"]);
    let node = tmp.path().join("node");
    let mut child = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_archy"))
            .args([
                "fetch",
                &publisher.app("org.example.slow"),
                "--data-dir",
                s(&node),
            ])
            .args(["--origin", &origin.ticket, "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap();
    let start = Instant::now();
    while dir_bytes(&node.join("blobs/data")) < 4_000_000 {
        assert!(start.elapsed() < Duration::from_secs(60), "no progress");
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the fetch ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(child);

    let result = fetched(&fetch(
        &publisher.app("org.example.slow"),
        &node,
        &[("--origin", &origin.ticket)],
    ));
    let held = result["already_held_bytes"].as_u64().unwrap();
    let total = result["total_bytes"].as_u64().unwrap();
    assert!(
        held >= 3_000_000 && held < total,
        "the second run starts from what the first verified: {held} of {total}"
    );
    assert_same_images(&result, &app_dir);
}

#[test]
fn gc_keeps_pinned_releases_and_removes_what_nothing_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(tmp.path());
    let did: Did = publisher.did.parse().unwrap();
    let dir = tmp.path().join("app");
    write_app(&dir, &did, "org.example.gc", "1.0.0", &[30_000]).unwrap();
    let first = publisher.pack(&dir, &publisher.data);
    // Re-packing 1.0.0 with a new image moves the pin to the new build.
    write_app(&dir, &did, "org.example.gc", "1.0.0", &[30_001]).unwrap();
    let second = publisher.pack(&dir, &publisher.data);
    let old_image = first["blobs"][0]["blake3"].as_str().unwrap();
    let new_image = second["blobs"][0]["blake3"].as_str().unwrap();
    assert_ne!(old_image, new_image);

    let report = json(&["blobs", "gc", "--data-dir", s(&publisher.data)]);
    let removed: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(removed.contains(&old_image), "{report}");
    let left = json(&["blobs", "ls", "--data-dir", s(&publisher.data)]);
    let left: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["hash"].as_str().unwrap())
        .collect();
    assert!(
        left.contains(&new_image) && !left.contains(&old_image),
        "{left:?}"
    );
    assert!(left.contains(&second["release"].as_str().unwrap()));
}

/// Reads `hash` from the node of `ticket` with iroh-blobs' get state
/// machine, stopping at the first item that fails verification. Returns
/// the payload bytes verified before it, and the error.
fn read_until_mismatch(ticket: &str, hash: iroh_blobs::Hash) -> (u64, String) {
    use iroh_blobs::get::fsm::{self, BlobContentNext, ConnectedNext};

    let ticket: archy_registry::swarm::NodeTicket = ticket.parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (_identity, endpoint) = test_endpoint().await;
        let connection = endpoint
            .endpoint
            .connect(ticket.addr().clone(), iroh_blobs::ALPN)
            .await
            .unwrap();
        let request = iroh_blobs::protocol::GetRequest::blob(hash);
        let connected = fsm::start(connection, request, Default::default())
            .next()
            .await
            .unwrap();
        let Ok(ConnectedNext::StartRoot(root)) = connected.next().await else {
            panic!("the peer did not answer with the blob");
        };
        let (mut content, _size) = root.next().next().await.unwrap();
        let outcome = loop {
            match content.next().await {
                BlobContentNext::More((next, Ok(_))) => content = next,
                BlobContentNext::More((next, Err(e))) => {
                    break (next.stats().payload_bytes_read, e.to_string());
                }
                BlobContentNext::Done(_) => panic!("the corrupted blob verified"),
            }
        };
        endpoint.close().await;
        outcome
    })
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
