//! A long-running client refreshing the same catalog again and again.

use archy_trust::Identity;

use super::UtcTime;
use super::test_support::{Setup, block_on};

#[test]
fn an_unchanged_catalog_costs_the_root_probe_and_the_timestamp() {
    let s = Setup::single();
    s.publish("1.0.0");
    let (mut client, fetched) = s.client_at(s.now);
    block_on(client.refresh()).unwrap();
    fetched.lock().unwrap().clear();
    block_on(client.refresh()).unwrap();
    assert_eq!(*fetched.lock().unwrap(), ["2.root.json", "timestamp.json"]);
}

#[test]
fn a_changed_catalog_is_seen_by_the_next_refresh() {
    let s = Setup::single();
    let (mut client, fetched) = s.client_at(s.now);
    block_on(client.refresh()).unwrap();
    let target = s.publish("1.0.0");
    fetched.lock().unwrap().clear();
    let found = block_on(async {
        client.refresh().await?;
        client.target_info(&target).await
    })
    .unwrap();
    assert!(found.is_some());
    assert_eq!(
        *fetched.lock().unwrap(),
        [
            "2.root.json",
            "timestamp.json",
            "2.snapshot.json",
            "2.targets.json"
        ]
    );
}

#[test]
fn a_stored_snapshot_past_its_expiry_is_replaced() {
    let s = Setup::single();
    s.refresh().unwrap();
    // 40 days on, the stored snapshot (30 days) has expired; the publisher
    // has re-signed, and the client must move to the new snapshot.
    let later = UtcTime::from_unix(s.now.unix() + 40 * 86_400);
    s.repo.refresh(&s.keys, later).unwrap();
    let (mut client, _) = s.client_at(later);
    block_on(client.refresh()).unwrap();
    let snapshot = client.trusted().snapshot().unwrap();
    assert!(snapshot.doc.common.expires > later);
}

#[test]
fn a_source_that_names_its_newest_root_costs_one_request() {
    let s = Setup::single();
    let (mut client, fetched) = s.client_with(s.now, true);
    block_on(client.refresh()).unwrap();
    assert_eq!(
        *fetched.lock().unwrap(),
        [
            "2.root.json",
            "timestamp.json",
            "1.snapshot.json",
            "1.targets.json"
        ],
        "the first refresh probes as the specification says"
    );
    fetched.lock().unwrap().clear();
    block_on(client.refresh()).unwrap();
    assert_eq!(*fetched.lock().unwrap(), ["timestamp.json"]);
}

#[test]
fn a_source_that_names_a_newer_root_leads_the_client_through_the_rotation() {
    let s = Setup::single();
    let (mut client, fetched) = s.client_with(s.now, true);
    block_on(client.refresh()).unwrap();
    let new_key = Identity::from_seed(&[21; 32]);
    s.repo
        .rotate_keys(&s.keys, std::slice::from_ref(&new_key), 1, s.now)
        .unwrap();
    fetched.lock().unwrap().clear();
    block_on(client.refresh()).unwrap();
    assert_eq!(client.trusted().root().doc.common.version, 2);
    assert_eq!(
        fetched.lock().unwrap()[..4],
        [
            "timestamp.json",
            "2.root.json",
            "3.root.json",
            "timestamp.json"
        ]
    );
}
