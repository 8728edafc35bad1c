//! The trust score's inputs, fetched for real: a node in this process
//! follows its own embedded relay, where an owner, the people it follows
//! and theirs have published follow lists, a mute list and a report. The
//! node walks the owner's graph two hops deep and keeps exactly what that
//! reaches: the follow lists of the owner and of its follows (not of keys
//! two hops out), the owner's mute list, and the reports of every key in
//! the graph; a key three hops out is not in it.

use archy_tests as common;

use std::collections::BTreeMap;
use std::time::Duration;

use archy_discovery::market::{Answer, Query, Stats};
use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use nostr::{Event, EventBuilder, Keys, Kind, Tag};
use nostr_sdk::Client;
use tokio::runtime::Runtime;

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
    runtime.block_on(async {
        let client = Client::default();
        client.add_relay(relay.as_str()).await.unwrap();
        client.connect().await;
        for event in &events {
            tokio::time::timeout(Duration::from_secs(10), client.send_event(event))
                .await
                .expect("the relay answers")
                .expect("the relay stores the event");
        }
        client.shutdown().await;
    });

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
