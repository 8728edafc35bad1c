//! The trust score's inputs, fetched for real: a node in this process
//! follows its own embedded relay, where an owner, the people it follows
//! and theirs have published follow lists, a mute list and a report. The
//! node walks the owner's graph two hops deep and keeps exactly what that
//! reaches: the follow lists of the owner and of its follows (not of keys
//! two hops out), the owner's mute list, and the reports of every key in
//! the graph; a key three hops out is not in it. From those inputs the node
//! scores publishers: one followed by three of the owner's follows is
//! `known`, and `archy trust explain` names them.

use archy_tests as common;

use std::collections::BTreeMap;

use archy_discovery::market::{Answer, Query, Stats};
use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use archy_synthetic::SyntheticPublisher;
use archy_trust::Identity;
use archy_trust::score::{Band, Reason};
use nostr::{Event, EventBuilder, Keys, Kind, Tag};
use tokio::runtime::Runtime;

/// The app the publisher in these tests lists.
const APP: &str = "org.example.any";
/// The app a stranger's publisher lists to lure searches for it.
const LURE: &str = "org.example.lure";

fn follows(who: &Keys, whom: &[&Keys]) -> Event {
    EventBuilder::new(Kind::ContactList, "")
        .tags(whom.iter().map(|k| Tag::public_key(k.public_key())))
        .sign_with_keys(who)
        .unwrap()
}

fn stats(node: &Node) -> Stats {
    match node.market().unwrap().answer(&Query::Stats) {
        Answer::Stats(stats) => *stats,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_owners_graph_is_fetched_two_hops_deep_and_no_further() {
    let runtime = Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let [owner, bob, carol, dave, stranger] = std::array::from_fn(|_| Keys::generate());
    let mut config = NodeConfig::default();
    config.relay.port = 0;
    config.apps.enabled = false;
    config.api.enabled = false;
    config.trust.owner = Some(owner.public_key().to_hex());
    config.trust.graph_every = 1;
    let node = runtime
        .block_on(Node::start(
            DataDir::open(&tmp.path().join("node")).unwrap(),
            None,
            config,
        ))
        .expect("the node starts");
    let relay = node
        .relay_url()
        .expect("the embedded relay runs")
        .to_owned();

    let report = |by: &Keys, of: &Keys| {
        let tag = Tag::parse(["p", &of.public_key().to_hex(), "malware"]).unwrap();
        EventBuilder::new(Kind::Reporting, "")
            .tags([tag])
            .sign_with_keys(by)
            .unwrap()
    };
    let mutes = EventBuilder::new(Kind::MuteList, "")
        .tags([Tag::public_key(stranger.public_key())])
        .sign_with_keys(&owner)
        .unwrap();
    let events = [
        follows(&owner, &[&bob]),
        follows(&bob, &[&carol]),
        follows(&carol, &[&dave]),
        mutes,
        report(&carol, &stranger),
        report(&dave, &stranger),
        report(&stranger, &bob),
    ];
    runtime.block_on(common::send_events(&relay, &events));

    let counted = |stats: &Stats, name: &str| stats.counters.get(name).copied().unwrap_or(0);
    let stats = common::wait_until("a round that reached carol", 60, || {
        let stats = stats(&node);
        (stats.graph.keys == 3 && counted(&stats, "report") == 1).then_some(stats)
    });
    assert_eq!(stats.graph.follow_lists, 2, "the owner's and bob's lists");
    assert!(!stats.graph.capped);
    let kept: BTreeMap<&str, u64> = ["follow list", "mute list", "report"]
        .into_iter()
        .map(|name| (name, counted(&stats, name)))
        .collect();
    assert_eq!(
        kept,
        BTreeMap::from([("follow list", 2), ("mute list", 1), ("report", 1)]),
        "carol's list, dave's and the stranger's reports are outside the graph"
    );
    runtime.block_on(node.shutdown());
}

#[test]
fn a_publisher_followed_by_three_of_the_owners_follows_is_known_and_explain_names_them() {
    let runtime = Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let [owner, ann, ben, cat, stranger] = std::array::from_fn(|_| Keys::generate());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let alice =
        SyntheticPublisher::new(Identity::generate().unwrap(), "Alice", now + 86_400).unwrap();
    let mallory =
        SyntheticPublisher::new(Identity::generate().unwrap(), "Mallory", now + 86_400).unwrap();
    let alice_key = alice.identity.nostr_keys();
    let mallory_key = mallory.identity.nostr_keys();
    // Reviewers write with key files, as a user would: one the owner
    // follows, one no one follows.
    let friend_file = tmp.path().join("friend.key");
    let stranger_file = tmp.path().join("stranger.key");
    for file in [&friend_file, &stranger_file] {
        common::ok(&["key", "new", "--out", common::s(file)]);
    }
    let friend = archy_trust::keyfile::load(&friend_file)
        .unwrap()
        .nostr_keys();
    let mut config = NodeConfig::default();
    config.relay.port = 0;
    config.apps.enabled = false;
    config.api.listen = Some("127.0.0.1:0".parse().unwrap());
    config.trust.owner = Some(owner.public_key().to_hex());
    config.trust.graph_every = 1;
    let node = runtime
        .block_on(Node::start(DataDir::open(&data).unwrap(), None, config))
        .expect("the node starts");
    let relay = node.relay_url().unwrap().to_owned();
    let events = [
        follows(&owner, &[&ann, &ben, &cat, &friend]),
        follows(&ann, &[&alice_key]),
        follows(&ben, &[&alice_key]),
        follows(&cat, &[&alice_key]),
        follows(&stranger, &[&mallory_key]),
        alice.publisher_event(now - 10).unwrap(),
        alice.catalog_event(now - 10).unwrap(),
        alice
            .listing_event(
                &alice.listing(APP, "Any", "An app", &["tools"]).unwrap(),
                now - 10,
            )
            .unwrap(),
        mallory.publisher_event(now - 10).unwrap(),
        mallory.catalog_event(now - 10).unwrap(),
        // Written to match a search for "any" better than alice's app.
        mallory
            .listing_event(
                &mallory
                    .listing(LURE, "Any Any", "Any app, any time", &["tools"])
                    .unwrap(),
                now - 10,
            )
            .unwrap(),
    ];
    runtime.block_on(common::send_events(&relay, &events));

    let did = alice.identity.did();
    let verdict = common::wait_until("alice known", 60, || {
        let verdict = node.trust().publisher(&did);
        (verdict.band == Band::Known).then_some(verdict)
    });
    let followed = verdict
        .reasons
        .iter()
        .find_map(|r| match r {
            Reason::FollowedByYourFollows { count, people } => Some((*count, people.len())),
            _ => None,
        })
        .expect("a reason names the follows");
    assert_eq!(followed, (3, 3));
    let stranger_only = node.trust().publisher(&mallory.identity.did());
    assert!(
        stranger_only.band <= Band::Unknown,
        "followed by a stranger only: {stranger_only:?}"
    );

    // The CLI says the same through the running node's API.
    let args = ["trust", "explain", did.as_str(), "--data-dir"];
    let explained = common::json(&[&args[..], &[common::s(&data)]].concat());
    assert_eq!(explained["band"], "known");
    let said: Vec<&str> = explained["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["text"].as_str())
        .collect();
    assert!(
        said.iter()
            .any(|s| s.starts_with("followed by 3 people you follow: ")),
        "{said:?}"
    );

    // The graph's stats count publishers by band and keys by score.
    let graph = common::wait_until("alice known and mallory unknown in the stats", 30, || {
        let graph = common::json(&["trust", "graph", "stats", "--data-dir", common::s(&data)]);
        let bands = &graph["graph"]["publishers"];
        let counts = (bands["known"].as_u64(), bands["unknown"].as_u64());
        (counts == (Some(1), Some(1))).then_some(graph)
    });
    let scores = graph["graph"]["scores"].as_array().unwrap();
    let counted: u64 = scores.iter().filter_map(serde_json::Value::as_u64).sum();
    assert_eq!(Some(counted), graph["graph"]["keys"].as_u64(), "{graph}");
    let shown = common::archy(&["trust", "graph", "stats", "--data-dir", common::s(&data)]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("publishers: 0 trusted, 1 known, 1 unknown"),
        "{shown}"
    );
    assert!(shown.contains("keys by score:"), "{shown}");

    // The market carries the verdict, with its reasons.
    let dir = common::s(&data);
    let app = format!("{did}/{APP}");
    let shown = common::wait_until("the app in the market", 30, || {
        let out = common::archy(&["market", "show", &app, "--data-dir", dir, "--json"]);
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        out.status.success().then_some(shown)
    });
    assert_eq!(shown["trust"]["band"], "known", "{shown}");
    // Ranking uses the score: by relevance alone the stranger's lure comes
    // first; ranked by the owner's trust, alice's known app does.
    let found = common::wait_until("both apps found", 30, || {
        let found = common::json(&["market", "search", "any", "--data-dir", dir]);
        (found["total"] == 2).then_some(found)
    });
    let search = Query::Search {
        text: "any".into(),
        category: None,
        offset: 0,
        limit: 10,
    };
    let Answer::Page(unranked) = node.market().unwrap().answer(&search) else {
        panic!("a page");
    };
    let first = |page: &serde_json::Value| page["listings"][0]["app_id"].clone();
    assert_eq!(unranked.listings[0].app_id, LURE, "{unranked:?}");
    assert_eq!(first(&found), APP, "{found}");
    assert_eq!(found["listings"][1]["trust"]["band"], "unknown", "{found}");
    let listed = &found["listings"][0]["trust"];
    assert_eq!(listed["band"], "known", "{found}");
    assert!(
        listed["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("followed by 3 people you follow")),
        "{listed}"
    );

    // Reviews, sent with `archy review` to the node's relay, weigh by
    // their authors' standing: the friend's counts, the stranger's does not.
    for (file, rating, text) in [(&friend_file, "5", "great"), (&stranger_file, "1", "awful")] {
        common::ok(&[
            "review",
            &app,
            "--rating",
            rating,
            "--text",
            text,
            "--key",
            common::s(file),
            "--relay",
            &relay,
        ]);
    }
    let explained = common::wait_until("both reviews weighed", 30, || {
        let e = common::json(&["trust", "explain", &app, "--data-dir", dir]);
        (e["reviews"]["reviews"].as_array().map_or(0, Vec::len) == 2).then_some(e)
    });
    let reviews = &explained["reviews"];
    assert_eq!(reviews["average"], 5.0, "{reviews}");
    let stranger_said = reviews["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["text"] == "awful")
        .unwrap();
    assert_eq!(stranger_said["weight"], 0.0);
    assert_eq!(
        stranger_said["note"],
        "its author is outside your network, so it counts for nothing"
    );

    // The owner's own word, live: blocked, nothing of it installs, even
    // confirmed; allowed, a stranger's publisher is trusted.
    let blocked = common::json(&["trust", "block", did.as_str(), "--data-dir", dir]);
    assert_eq!(blocked["band"], "blocked");
    assert_eq!(node.trust().publisher(&did).band, Band::Blocked);
    let install = ["app", "install", &app, "--trust-anyway", "--data-dir", dir];
    let refused = common::archy(&install);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("is blocked: it is never installed"),
        "{said}"
    );
    let unblocked = common::json(&["trust", "unblock", did.as_str(), "--data-dir", dir]);
    assert_eq!(unblocked["band"], "known");
    let mallory_did = mallory.identity.did();
    let allowed = common::json(&["trust", "allow", mallory_did.as_str(), "--data-dir", dir]);
    assert_eq!(allowed["band"], "trusted");
    // Now trusted, mallory's app leads both the search and the list.
    let found = common::json(&["market", "search", "any", "--data-dir", dir]);
    assert_eq!(first(&found), LURE, "{found}");
    let listed = common::json(&["market", "list", "--data-dir", dir]);
    assert_eq!(first(&listed), LURE, "{listed}");
    runtime.block_on(node.shutdown());
}
