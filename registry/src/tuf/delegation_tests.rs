//! Delegation search: preorder depth-first order, terminating roles, path
//! patterns, and trust that follows the delegation path actually taken.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use archy_trust::Identity;
use archy_trust::canonical::value_to_canonical_json;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::test_support::{Recording, block_on};
use super::{
    DirStore, Error, Limits, LocalTransport, MetadataStore, Updater, UtcTime, sign_metadata,
};

/// One delegation: child role, path patterns, terminating, and its key.
struct Delegate<'a>(&'a str, &'a [&'a str], bool, &'a Identity);

/// A targets role: its name, its signing key, the target paths it lists
/// (each with a length, to tell which role answered), its delegations.
struct RoleSpec<'a> {
    name: &'a str,
    signer: &'a Identity,
    targets: &'a [(&'a str, u64)],
    delegates: Vec<Delegate<'a>>,
}

fn key_entry(key: &Identity) -> (String, Value) {
    (key.public_key().tuf_keyid(), key.public_key().tuf_key())
}

const EXPIRES: &str = "2100-01-01T00:00:00Z";

/// Writes a whole repository: root and top-level roles signed by `top`,
/// the roles in `specs` (the first is `targets`), snapshot and timestamp.
fn write_repository(dir: &Path, top: &Identity, specs: &[RoleSpec<'_>]) {
    let meta = dir.join("metadata");
    fs::create_dir_all(&meta).unwrap();
    let (keyid, key) = key_entry(top);
    let role = json!({"keyids": [keyid], "threshold": 1});
    let root = json!({
        "_type": "root", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
        "consistent_snapshot": true, "keys": {keyid.clone(): key},
        "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role},
    });
    fs::write(
        meta.join("1.root.json"),
        sign_metadata(&root, &[top]).unwrap(),
    )
    .unwrap();
    let mut snapshot_meta = Map::new();
    for spec in specs {
        let mut targets = Map::new();
        for (path, length) in spec.targets {
            let digest = hex::encode(Sha256::digest(path.as_bytes()));
            targets.insert(
                (*path).to_owned(),
                json!({"length": length, "hashes": {"sha256": digest}}),
            );
        }
        let mut doc = json!({
            "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
            "targets": targets,
        });
        if !spec.delegates.is_empty() {
            let keys: Map<String, Value> = spec.delegates.iter().map(|d| key_entry(d.3)).collect();
            let roles: Vec<Value> = spec
                .delegates
                .iter()
                .map(|Delegate(name, paths, terminating, key)| {
                    json!({"name": name, "keyids": [key.public_key().tuf_keyid()],
                           "threshold": 1, "terminating": terminating, "paths": paths})
                })
                .collect();
            doc["delegations"] = json!({"keys": keys, "roles": roles});
        }
        let file = super::transport::encode_role(spec.name);
        fs::write(
            meta.join(format!("1.{file}.json")),
            sign_metadata(&doc, &[spec.signer]).unwrap(),
        )
        .unwrap();
        snapshot_meta.insert(format!("{}.json", spec.name), json!({"version": 1}));
    }
    let snapshot = json!({"_type": "snapshot", "spec_version": "1.0.31", "version": 1,
                          "expires": EXPIRES, "meta": snapshot_meta});
    fs::write(
        meta.join("1.snapshot.json"),
        sign_metadata(&snapshot, &[top]).unwrap(),
    )
    .unwrap();
    let timestamp = json!({"_type": "timestamp", "spec_version": "1.0.31", "version": 1,
                           "expires": EXPIRES, "meta": {"snapshot.json": {"version": 1}}});
    fs::write(
        meta.join("timestamp.json"),
        sign_metadata(&timestamp, &[top]).unwrap(),
    )
    .unwrap();
}

/// Looks up each of `paths` in one client; returns the last answer and the
/// delegated roles fetched, in order.
fn search(
    specs: &[RoleSpec<'_>],
    top: &Identity,
    paths: &[&str],
) -> (Result<Option<u64>, Error>, Vec<String>) {
    search_edited(specs, top, paths, |_| {})
}

/// As [`search`], with `edit` changing the metadata directory first.
fn search_edited(
    specs: &[RoleSpec<'_>],
    top: &Identity,
    paths: &[&str],
    edit: impl FnOnce(&Path),
) -> (Result<Option<u64>, Error>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_repository(&repo, top, specs);
    edit(&repo.join("metadata"));
    let store = Arc::new(DirStore::new(dir.path().join("client")));
    store
        .save(
            "root",
            &fs::read(repo.join("metadata/1.root.json")).unwrap(),
        )
        .unwrap();
    let transport = Recording::new(LocalTransport::new(&repo));
    let fetched = transport.fetched.clone();
    let mut updater =
        Updater::at_time(store, transport, Limits::default(), UtcTime::now()).unwrap();
    let mut answer = Ok(None);
    for path in paths {
        answer = block_on(updater.target_info(path)).map(|found| found.map(|t| t.length));
        if answer.is_err() {
            break;
        }
    }
    let delegated = fetched
        .lock()
        .unwrap()
        .iter()
        .filter_map(|name| {
            let role = name.strip_prefix("1.")?.strip_suffix(".json")?;
            (!["snapshot", "targets"].contains(&role)).then(|| role.to_owned())
        })
        .collect();
    (answer, delegated)
}

fn role<'a>(name: &'a str, signer: &'a Identity, delegates: Vec<Delegate<'a>>) -> RoleSpec<'a> {
    RoleSpec {
        name,
        signer,
        targets: &[],
        delegates,
    }
}

#[test]
fn search_is_preorder_depth_first_in_listed_order() {
    let k = Identity::from_seed(&[1; 32]);
    let specs = [
        role(
            "targets",
            &k,
            vec![
                Delegate("A", &["*"], false, &k),
                Delegate("B", &["*"], false, &k),
            ],
        ),
        role(
            "A",
            &k,
            vec![
                Delegate("C", &["*"], false, &k),
                Delegate("D", &["*"], false, &k),
            ],
        ),
        role("B", &k, vec![]),
        role("C", &k, vec![]),
        role("D", &k, vec![]),
    ];
    let (answer, fetched) = search(&specs, &k, &["missing"]);
    assert_eq!(answer.unwrap(), None);
    assert_eq!(fetched, ["A", "C", "D", "B"]);
}

#[test]
fn a_terminating_role_ends_the_search_after_its_own_subtree() {
    let k = Identity::from_seed(&[1; 32]);
    let specs = [
        role(
            "targets",
            &k,
            vec![
                Delegate("A", &["*"], true, &k),
                Delegate("B", &["*"], false, &k),
            ],
        ),
        role("A", &k, vec![Delegate("C", &["*"], false, &k)]),
        role("B", &k, vec![]),
        role("C", &k, vec![]),
    ];
    let (answer, fetched) = search(&specs, &k, &["missing"]);
    assert_eq!(answer.unwrap(), None);
    assert_eq!(fetched, ["A", "C"]);
}

#[test]
fn the_first_role_in_search_order_answers() {
    let k = Identity::from_seed(&[1; 32]);
    let mut a = role("A", &k, vec![]);
    a.targets = &[("app/x", 1)];
    let mut b = role("B", &k, vec![]);
    b.targets = &[("app/x", 2)];
    let specs = [
        role(
            "targets",
            &k,
            vec![
                Delegate("A", &["app/*"], false, &k),
                Delegate("B", &["app/*"], false, &k),
            ],
        ),
        a,
        b,
    ];
    let (answer, fetched) = search(&specs, &k, &["app/x"]);
    assert_eq!(answer.unwrap(), Some(1));
    assert_eq!(fetched, ["A"]);
}

#[test]
fn a_star_stays_within_one_directory_level() {
    let k = Identity::from_seed(&[1; 32]);
    let mut a = role("A", &k, vec![]);
    a.targets = &[("releases/x/y", 1)];
    let specs = [
        role(
            "targets",
            &k,
            vec![Delegate("A", &["releases/*"], false, &k)],
        ),
        a,
    ];
    let (answer, fetched) = search(&specs, &k, &["releases/x/y"]);
    assert_eq!(answer.unwrap(), None, "A is not trusted for a deeper path");
    assert!(fetched.is_empty());
}

#[test]
fn a_role_reached_again_is_checked_against_the_new_delegator() {
    let top = Identity::from_seed(&[1; 32]);
    let team_a = Identity::from_seed(&[2; 32]);
    let team_b = Identity::from_seed(&[3; 32]);
    let mut release = role("release", &team_a, vec![]);
    release.targets = &[("a/x", 1), ("b/x", 2)];
    let specs = [
        role(
            "targets",
            &top,
            vec![
                Delegate("parent-a", &["a/*"], false, &top),
                Delegate("parent-b", &["b/*"], false, &top),
            ],
        ),
        role(
            "parent-a",
            &top,
            vec![Delegate("release", &["a/*"], false, &team_a)],
        ),
        role(
            "parent-b",
            &top,
            vec![Delegate("release", &["b/*"], false, &team_b)],
        ),
        release,
    ];
    let (answer, _) = search(&specs, &top, &["a/x"]);
    assert_eq!(answer.unwrap(), Some(1), "team a's path is trusted");
    let (answer, _) = search(&specs, &top, &["a/x", "b/x"]);
    let err = answer.unwrap_err();
    assert!(
        matches!(&err, Error::Unsigned { role, .. } if role == "release"),
        "release is not signed by team b's key: {err}"
    );
}

/// Makes `targets` (signed by `top`) delegate `release` to one more key,
/// `key` under `keyid`, with a threshold of two, and adds `signer`'s
/// signature over `release` under `keyid`.
fn add_second_signer(meta: &Path, top: &Identity, keyid: &str, key: Value, signer: &Identity) {
    let path = meta.join("1.targets.json");
    let mut targets: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let delegations = &mut targets["signed"]["delegations"];
    delegations["keys"][keyid] = key;
    let role = &mut delegations["roles"][0];
    assert_eq!(role["name"], "release");
    role["keyids"].as_array_mut().unwrap().push(json!(keyid));
    role["threshold"] = json!(2);
    fs::write(&path, sign_metadata(&targets["signed"], &[top]).unwrap()).unwrap();

    let path = meta.join("1.release.json");
    let mut release: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let message = value_to_canonical_json(&release["signed"]).unwrap();
    let sig = hex::encode(signer.sign(&message));
    release["signatures"]
        .as_array_mut()
        .unwrap()
        .push(json!({"keyid": keyid, "sig": sig}));
    fs::write(&path, serde_json::to_vec(&release).unwrap()).unwrap();
}

#[test]
fn one_key_under_two_ids_does_not_meet_a_delegated_threshold_of_two() {
    let top = Identity::from_seed(&[1; 32]);
    let team = Identity::from_seed(&[2; 32]);
    let other = Identity::from_seed(&[3; 32]);
    let mut release = role("release", &team, vec![]);
    release.targets = &[("app/x", 1)];
    let specs = [
        role(
            "targets",
            &top,
            vec![Delegate("release", &["app/*"], false, &team)],
        ),
        release,
    ];

    let (answer, _) = search_edited(&specs, &top, &["app/x"], |meta| {
        let (keyid, key) = key_entry(&other);
        add_second_signer(meta, &top, &keyid, key, &other);
    });
    assert_eq!(answer.unwrap(), Some(1), "two distinct keys meet it");

    let (answer, _) = search_edited(&specs, &top, &["app/x"], |meta| {
        // The team's own key again, written in upper-case hex under an id
        // of its own.
        let (_, mut again) = key_entry(&team);
        again["keyval"]["public"] = json!(hex::encode_upper(team.public_key().to_bytes()));
        add_second_signer(meta, &top, "team-key-again", again, &team);
    });
    let err = answer.unwrap_err();
    assert!(
        matches!(&err, Error::Unsigned { role, signed: 1, threshold: 2 } if role == "release"),
        "{err}"
    );
}
