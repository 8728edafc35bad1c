//! Federation between real nodes (the `Node` library) in this process, on
//! loopback: pairing by invite, gossip that connects the federation, a
//! catalog update that reaches every peer through gossiped heads, a
//! release fetched from a peer while the origin is down, and a
//! removed peer that stays removed through gossip and restarts until a
//! fresh invite pairs it again.

use archy_tests as common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use common::{copy_dir, wait_for, wait_until};
use tokio::runtime::Runtime;

/// A node of the test: its data directory and its fixed swarm address, so
/// a restart comes back where its peers know it.
struct Member {
    data: PathBuf,
    bind: SocketAddr,
    /// The node's key file, when not its data directory's own.
    key: Option<PathBuf>,
    /// Catalogs it publishes.
    catalogs: Vec<PathBuf>,
    node: Option<Node>,
}

impl Member {
    fn new(runtime: &Runtime, root: &Path, name: &str) -> Self {
        Self::publishing(runtime, root.join(name), None, Vec::new())
    }

    /// A node on `data` with `key`, publishing `catalogs`.
    fn publishing(
        runtime: &Runtime,
        data: PathBuf,
        key: Option<PathBuf>,
        catalogs: Vec<PathBuf>,
    ) -> Self {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut member = Self {
            data,
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            key,
            catalogs,
            node: None,
        };
        member.start(runtime);
        member
    }

    fn start(&mut self, runtime: &Runtime) {
        let mut config = NodeConfig::default();
        config.relay.enabled = false;
        config.discovery.relays.clear();
        config.apps.enabled = false;
        config.api.enabled = false;
        config.swarm.upkeep_every = 0;
        config.swarm.bind = Some(self.bind);
        config.swarm.catalogs.clone_from(&self.catalogs);
        let node = runtime
            .block_on(Node::start(
                DataDir::open(&self.data).unwrap(),
                self.key.as_deref(),
                config,
            ))
            .expect("the node starts");
        self.node = Some(node);
    }

    fn node(&self) -> &Node {
        self.node.as_ref().expect("the node runs")
    }

    fn did(&self) -> String {
        self.node().did().to_string()
    }

    fn stop(&mut self, runtime: &Runtime) {
        if let Some(node) = self.node.take() {
            runtime.block_on(node.shutdown());
        }
        // The endpoint's socket is released as its last tasks end, a
        // moment after the node stopped.
        let bind = self.bind;
        wait_for("the node's port to be free again", 30, || {
            std::net::UdpSocket::bind(bind).is_ok()
        });
    }

    fn invite(&self) -> String {
        self.node()
            .federation()
            .invite(Duration::from_secs(600))
            .unwrap()
            .0
    }

    fn join(&self, runtime: &Runtime, invite: &str) -> Result<String, String> {
        runtime
            .block_on(self.node().federation().join(invite))
            .map(|p| p.did)
            .map_err(|e| e.to_string())
    }

    /// The paired peers' DIDs, and which of them are connected.
    fn peers(&self) -> Vec<(String, bool)> {
        let mut peers: Vec<_> = self
            .node()
            .federation()
            .peers()
            .unwrap()
            .into_iter()
            .map(|p| (p.did, p.connected))
            .collect();
        peers.sort();
        peers
    }

    fn paired(&self) -> Vec<String> {
        self.peers().into_iter().map(|(did, _)| did).collect()
    }

    fn connected_to(&self, other: &Member) -> bool {
        self.peers()
            .iter()
            .any(|(did, connected)| *did == other.did() && *connected)
    }
}

fn sorted(mut dids: Vec<String>) -> Vec<String> {
    dids.sort();
    dids
}

#[test]
fn nodes_pair_by_a_single_use_invite_and_gossip_connects_them() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let mut a = Member::new(&runtime, tmp.path(), "a");
    let mut b = Member::new(&runtime, tmp.path(), "b");
    let mut c = Member::new(&runtime, tmp.path(), "c");

    let for_b = a.invite();
    assert_eq!(b.join(&runtime, &for_b), Ok(a.did()));
    // Single use: the same invite does not pair C.
    let err = c.join(&runtime, &for_b).unwrap_err();
    assert!(err.contains("used already"), "{err}");
    // A node cannot use its own invite.
    let err = a.join(&runtime, &a.invite()).unwrap_err();
    assert!(err.contains("own"), "{err}");
    assert_eq!(c.join(&runtime, &a.invite()), Ok(a.did()));

    assert_eq!(a.paired(), sorted(vec![b.did(), c.did()]));
    assert_eq!(b.paired(), [a.did()]);
    assert_eq!(c.paired(), [a.did()]);
    wait_for("gossip connects A with B and C", 60, || {
        a.connected_to(&b) && a.connected_to(&c) && b.connected_to(&a) && c.connected_to(&a)
    });

    // An expired invite pairs no one.
    let (short, expires) = a
        .node()
        .federation()
        .invite(Duration::from_secs(1))
        .unwrap();
    wait_for("the short invite to expire", 10, || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            > expires
    });
    let err = c.join(&runtime, &short).unwrap_err();
    assert!(err.contains("expired"), "{err}");

    for member in [&mut a, &mut b, &mut c] {
        member.stop(&runtime);
    }
}

/// The timestamp version `member` holds for `publisher`, if any.
fn held_timestamp(member: &Member, publisher: &str) -> Option<u64> {
    member
        .node()
        .state()
        .metadata(publisher, "timestamp")
        .unwrap()
        .map(|(version, _)| version)
}

/// hello-web packed into a catalog under a fresh key, and its publisher's
/// own node serving that catalog.
fn published(runtime: &Runtime, root: &Path) -> (common::PackedApp, Member) {
    let app = common::packed_in_catalog(root, "hello-web");
    let origin = Member::publishing(
        runtime,
        app.origin_data.clone(),
        Some(app.key.clone()),
        vec![app.catalog.clone()],
    );
    (app, origin)
}

/// Starts fetching hello-web of `app`'s publisher on `member`, from
/// `origin` if named (else from the nodes it knows); the operation's id.
fn fetch_hello_web(
    runtime: &Runtime,
    member: &Member,
    app: &common::PackedApp,
    origin: Option<&Member>,
) -> u64 {
    use archy_node::fetching::ReleaseName;
    use archy_node::node::Wanted;
    let wanted = Wanted {
        name: format!("{}/org.archipelago.hello-web", app.did)
            .parse::<ReleaseName>()
            .unwrap(),
        origin: origin.map(|o| o.node().ticket().clone()),
        providers: Vec::new(),
        matching: None,
    };
    // The operation runs on the runtime's threads.
    let _in_runtime = runtime.enter();
    member.node().fetch(wanted).unwrap()
}

/// Waits for operation `id` on `member` to end: its error, if it failed.
fn outcome(member: &Member, id: u64) -> Result<(), String> {
    use archy_node::operations::Status;
    wait_until("the fetch to end", 120, || {
        let op = member.node().operations().get(id).ok().flatten()?;
        match op.status {
            Status::Running => None,
            Status::Succeeded => Some(Ok(())),
            Status::Failed | Status::Interrupted => Some(Err(format!(
                "{}: {:?}",
                op.error.unwrap_or_default(),
                op.causes
            ))),
        }
    })
}

#[test]
fn a_release_one_peer_fetched_is_fetched_by_the_others_from_it_with_the_origin_down() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let (app, mut origin) = published(&runtime, tmp.path());
    let mut a = Member::new(&runtime, tmp.path(), "a");
    let mut b = Member::new(&runtime, tmp.path(), "b");
    let mut c = Member::new(&runtime, tmp.path(), "c");
    b.join(&runtime, &a.invite()).unwrap();
    c.join(&runtime, &a.invite()).unwrap();
    let id = fetch_hello_web(&runtime, &a, &app, Some(&origin));
    assert_eq!(outcome(&a, id), Ok(()), "A fetches from the origin");
    origin.stop(&runtime);
    for member in [&b, &c] {
        let id = fetch_hello_web(&runtime, member, &app, None);
        assert_eq!(
            outcome(member, id),
            Ok(()),
            "fetched from A, the origin down"
        );
        // Pinned from the publisher's own root, which A served.
        let pins = member.node().state().newest_root(&app.did).unwrap();
        assert_eq!(pins, Some(1));
    }
    for member in [&mut a, &mut b, &mut c] {
        member.stop(&runtime);
    }
}

#[test]
fn a_catalog_update_on_the_origin_reaches_every_paired_node_through_gossiped_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let (app, mut origin) = published(&runtime, tmp.path());
    let mut b = Member::new(&runtime, tmp.path(), "b");
    let mut c = Member::new(&runtime, tmp.path(), "c");
    b.join(&runtime, &origin.invite()).unwrap();
    c.join(&runtime, &origin.invite()).unwrap();
    // B and C follow the publisher once they fetched from it.
    for member in [&b, &c] {
        fetch_hello_web(&runtime, member, &app, Some(&origin));
    }
    let before = wait_until("B and C hold the catalog", 60, || {
        held_timestamp(&b, &app.did).zip(held_timestamp(&c, &app.did))
    })
    .0;

    // The publisher yanks a release: new targets, snapshot and timestamp,
    // served by the origin at once.
    common::ok(&[
        "catalog",
        "yank",
        common::s(&app.catalog),
        "org.archipelago.hello-web",
        "1.0.0",
        "--reason",
        "superseded",
        "--key",
        common::s(&app.key),
    ]);
    let status = common::json(&["catalog", "show", common::s(&app.catalog)]);
    let now = status["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "timestamp")
        .and_then(|r| r["version"].as_u64())
        .unwrap();
    assert!(now > before);
    wait_for("the new head reaches B and C, who refresh", 60, || {
        held_timestamp(&b, &app.did) == Some(now) && held_timestamp(&c, &app.did) == Some(now)
    });
    for member in [&mut origin, &mut b, &mut c] {
        member.stop(&runtime);
    }
}

#[test]
fn a_publisher_showing_two_timestamps_of_one_version_is_caught_and_frozen() {
    use archy_registry::catalog::Repository;
    use archy_registry::tuf::UtcTime;
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let app = common::packed_in_catalog(tmp.path(), "hello-web");
    // Two copies of the publisher's catalog and store, each re-signed at
    // another moment: two timestamps of the same version that differ.
    let (second_catalog, second_data) = (tmp.path().join("catalog2"), tmp.path().join("origin2"));
    copy_dir(&app.catalog, &second_catalog);
    copy_dir(&app.origin_data, &second_data);
    let _ = std::fs::remove_file(second_data.join("node.key"));
    let key = archy_trust::keyfile::load(&app.key).unwrap();
    let now = UtcTime::now();
    for (catalog, at) in [(&app.catalog, now), (&second_catalog, now.plus_seconds(60))] {
        Repository::open(catalog)
            .unwrap()
            .refresh(std::slice::from_ref(&key), at)
            .unwrap();
    }
    let mut first_origin = Member::publishing(
        &runtime,
        app.origin_data.clone(),
        None,
        vec![app.catalog.clone()],
    );
    let mut second_origin = Member::publishing(&runtime, second_data, None, vec![second_catalog]);
    let mut a = Member::new(&runtime, tmp.path(), "a");
    let mut b = Member::new(&runtime, tmp.path(), "b");
    let mut c = Member::new(&runtime, tmp.path(), "c");
    b.join(&runtime, &a.invite()).unwrap();
    c.join(&runtime, &a.invite()).unwrap();
    // A and B are each shown one of them; C follows no catalog of the
    // publisher.
    let id = fetch_hello_web(&runtime, &a, &app, Some(&first_origin));
    assert_eq!(outcome(&a, id), Ok(()));
    let id = fetch_hello_web(&runtime, &b, &app, Some(&second_origin));
    assert_eq!(outcome(&b, id), Ok(()));
    assert_eq!(held_timestamp(&a, &app.did), held_timestamp(&b, &app.did));

    // Comparing heads, both find out and keep the proof; C learns it from
    // them, checking it before believing it.
    let proofs = wait_until("A and B hold the proof", 60, || {
        let proof = |m: &Member| m.node().state().split_view(&app.did).unwrap();
        proof(&a).zip(proof(&b))
    });
    wait_for("C holds the proof", 60, || {
        c.node().state().split_view(&app.did).unwrap().is_some()
    });
    let id = fetch_hello_web(&runtime, &c, &app, Some(&first_origin));
    let err = outcome(&c, id).unwrap_err();
    assert!(err.contains("split view"), "{err}");
    // Nothing more is fetched (so installed or updated) from the publisher.
    let id = fetch_hello_web(&runtime, &a, &app, Some(&first_origin));
    let err = outcome(&a, id).unwrap_err();
    assert!(err.contains("split view"), "{err}");

    // Anyone checks the proof offline; a doctored one is refused.
    for proof in [&proofs.0, &proofs.1] {
        let file = tmp.path().join("proof.json");
        std::fs::write(&file, proof).unwrap();
        common::ok(&["verify-proof", common::s(&file)]);
        let mut doctored: serde_json::Value = serde_json::from_str(proof).unwrap();
        doctored["second"] = doctored["first"].clone();
        std::fs::write(&file, doctored.to_string()).unwrap();
        let out = common::archy(&["verify-proof", common::s(&file)]);
        assert_eq!(out.status.code(), Some(1));
        // A second timestamp the publisher never signed: its body changed
        // under the same signature.
        let mut forged: serde_json::Value = serde_json::from_str(proof).unwrap();
        let mut second: serde_json::Value =
            serde_json::from_str(forged["second"].as_str().unwrap()).unwrap();
        second["signed"]["expires"] = serde_json::json!("2099-01-01T00:00:00Z");
        forged["second"] = serde_json::Value::String(second.to_string());
        std::fs::write(&file, forged.to_string()).unwrap();
        let out = common::archy(&["verify-proof", common::s(&file)]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("not signed by the publisher"), "{said}");
        assert_eq!(out.status.code(), Some(1), "a forged timestamp is refused");
    }
    for member in [
        &mut first_origin,
        &mut second_origin,
        &mut a,
        &mut b,
        &mut c,
    ] {
        member.stop(&runtime);
    }
}

#[test]
fn a_removed_peer_stays_removed_through_gossip_and_restarts_until_invited_again() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let mut a = Member::new(&runtime, tmp.path(), "a");
    let mut b = Member::new(&runtime, tmp.path(), "b");
    let mut c = Member::new(&runtime, tmp.path(), "c");
    b.join(&runtime, &a.invite()).unwrap();
    c.join(&runtime, &a.invite()).unwrap();
    // B also pairs with C, so it can still reach the federation through C.
    b.join(&runtime, &c.invite()).unwrap();
    wait_for("the federation connected", 60, || {
        a.connected_to(&b) && a.connected_to(&c) && c.connected_to(&b)
    });

    let b_did: archy_trust::Did = b.did().parse().unwrap();
    assert!(a.node().federation().remove(&b_did).unwrap());
    assert_eq!(a.paired(), [c.did()]);

    // A takes what C says (messages read), and B keeps saying hello to
    // A's federation, through C: refused.
    wait_for("A takes C's messages", 60, || {
        c.node().federation().announce();
        a.node().federation().status().taken > 0
    });
    let refused_before = a.node().federation().status().refused;
    for _ in 0..100 {
        b.node().federation().announce();
    }
    wait_for("B's hellos reach A and are refused", 60, || {
        b.node().federation().announce();
        a.node().federation().status().refused > refused_before
    });
    assert_eq!(a.paired(), [c.did()], "gossip did not re-add B");

    // Two restarts of every node: B stays removed at A.
    for _ in 0..2 {
        for member in [&mut a, &mut b, &mut c] {
            member.stop(&runtime);
        }
        for member in [&mut a, &mut b, &mut c] {
            member.start(&runtime);
        }
        wait_for("A and C reconnect after the restart", 60, || {
            a.connected_to(&c) && c.connected_to(&a)
        });
        b.node().federation().announce();
        assert_eq!(a.paired(), [c.did()], "a restart did not re-add B");
        assert!(!a.connected_to(&b));
    }

    // A fresh invite pairs B again.
    assert_eq!(b.join(&runtime, &a.invite()), Ok(a.did()));
    assert_eq!(a.paired(), sorted(vec![b.did(), c.did()]));
    wait_for("A and B reconnect", 60, || a.connected_to(&b));
    for member in [&mut a, &mut b, &mut c] {
        member.stop(&runtime);
    }
}

/// A removal whose tombstone cannot be written fails, says so, and
/// leaves the peer paired.
#[test]
fn a_failed_tombstone_write_fails_the_removal() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let mut a = Member::new(&runtime, tmp.path(), "a");
    let mut b = Member::new(&runtime, tmp.path(), "b");
    b.join(&runtime, &a.invite()).unwrap();
    a.stop(&runtime);
    {
        // The tombstones' table replaced by one of another type.
        let db = redb::Database::create(a.data.join("state.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        let kept: redb::TableDefinition<&str, u64> =
            redb::TableDefinition::new("federation_tombstones");
        tx.delete_table(kept).unwrap();
        let wrong: redb::TableDefinition<u64, u64> =
            redb::TableDefinition::new("federation_tombstones");
        tx.open_table(wrong).unwrap();
        tx.commit().unwrap();
    }
    a.start(&runtime);
    let b_did: archy_trust::Did = b.did().parse().unwrap();
    let err = a
        .node()
        .federation()
        .remove(&b_did)
        .unwrap_err()
        .to_string();
    assert!(err.contains("federation_tombstones"), "{err}");
    assert_eq!(a.paired(), [b.did()], "nothing changed");
    a.stop(&runtime);
    b.stop(&runtime);
}
