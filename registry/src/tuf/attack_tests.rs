//! Each attack of the TUF specification's threat list (section 1.5.2),
//! mounted against a real catalog and the client: every one must be
//! refused with an error that names it.

use std::fs;

use archy_trust::Identity;
use serde_json::{Value, json};

use super::test_support::{Setup, block_on};
use super::{Error, UtcTime, sign_metadata};
use crate::catalog::Expiries;

fn signed_of(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes).unwrap()["signed"].clone()
}

fn resign(path: &std::path::Path, signers: &[&Identity], edit: impl FnOnce(&mut Value)) {
    let mut signed = signed_of(&fs::read(path).unwrap());
    edit(&mut signed);
    fs::write(path, sign_metadata(&signed, signers).unwrap()).unwrap();
}

#[test]
fn a_fresh_client_follows_releases_and_rotations() {
    let s = Setup::single();
    let target = s.publish("1.0.0");
    s.refresh().unwrap();
    let new_key = Identity::from_seed(&[8; 32]);
    s.repo
        .rotate_keys(&s.keys, std::slice::from_ref(&new_key), 1, s.now)
        .unwrap();
    let mut client = s.client();
    let info = block_on(client.target_info(&target)).unwrap().unwrap();
    let bytes = block_on(client.download_target(&target, &info)).unwrap();
    crate::catalog::release::open(&bytes, &s.keys[0].did(), &Default::default()).unwrap();
    assert_eq!(client.trusted().root().doc.common.version, 2);
}

#[test]
fn a_release_signed_by_a_rotated_in_key_is_still_the_publishers() {
    let s = Setup::single();
    s.publish("1.0.0");
    let mut client = s.client();
    block_on(client.refresh()).unwrap();
    let new_key = Identity::from_seed(&[8; 32]);
    s.repo
        .rotate_keys(&s.keys, std::slice::from_ref(&new_key), 1, s.now)
        .unwrap();
    let target = s.publish_as("1.0.1", &new_key, std::slice::from_ref(&new_key));
    // The client pinned root 1 and follows the rotation to root 2.
    block_on(client.refresh()).unwrap();
    let info = block_on(client.target_info(&target)).unwrap().unwrap();
    let bytes = block_on(client.download_target(&target, &info)).unwrap();
    let publisher = s.keys[0].did();
    let signers =
        crate::signing::Signers::with_root_keys(client.trusted().root().doc.keys.keys().cloned());
    let release = crate::catalog::release::open(&bytes, &publisher, &signers).unwrap();
    assert_eq!(release.manifest.publisher, publisher);
    // Without the root's word the new key speaks only for itself.
    let err = crate::catalog::release::open(&bytes, &publisher, &Default::default()).unwrap_err();
    assert!(err.to_string().contains("neither that DID"), "{err}");
}

#[test]
fn arbitrary_installation_substituted_target_is_refused() {
    let s = Setup::single();
    let target = s.publish("1.0.0");
    let dir = s.repo.targets_dir().join("apps/org.example.web");
    let stored = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let mut bytes = fs::read(&stored).unwrap();
    bytes[10] ^= 1;
    fs::write(&stored, bytes).unwrap();
    let mut client = s.client();
    let info = block_on(client.target_info(&target)).unwrap().unwrap();
    let err = block_on(client.download_target(&target, &info)).unwrap_err();
    assert!(matches!(err, Error::LengthOrHash { .. }), "{err}");
}

#[test]
fn rollback_of_timestamp_is_refused() {
    let s = Setup::single();
    let old = fs::read(s.meta("timestamp.json")).unwrap();
    s.publish("1.0.0");
    s.refresh().unwrap();
    fs::write(s.meta("timestamp.json"), old).unwrap();
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(&err, Error::Rollback { role, trusted: 2, offered: 1 } if role == "timestamp"),
        "{err}"
    );
    assert!(err.to_string().contains("rollback"), "{err}");
}

#[test]
fn rollback_of_snapshot_through_a_new_timestamp_is_refused() {
    let s = Setup::single();
    s.publish("1.0.0");
    s.refresh().unwrap();
    // A timestamp signed with the real key but naming an older snapshot.
    resign(&s.meta("timestamp.json"), &[&s.keys[0]], |t| {
        t["version"] = json!(3);
        t["meta"]["snapshot.json"] = json!({"version": 1});
    });
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(&err, Error::Rollback { role, .. } if role == "snapshot"),
        "{err}"
    );
}

#[test]
fn fast_forward_recovery_after_timestamp_key_rotation() {
    let s = Setup::single();
    s.refresh().unwrap();
    // The timestamp key leaks; the attacker pushes version 1000 to clients.
    let genuine = fs::read(s.meta("timestamp.json")).unwrap();
    resign(&s.meta("timestamp.json"), &[&s.keys[0]], |t| {
        t["version"] = json!(1000);
    });
    s.refresh().unwrap();
    assert_eq!(client_timestamp_version(&s), 1000);
    fs::write(s.meta("timestamp.json"), genuine).unwrap();
    // The publisher rotates keys; versions continue from its own count.
    let new_key = Identity::from_seed(&[9; 32]);
    s.repo
        .rotate_keys(&s.keys, std::slice::from_ref(&new_key), 1, s.now)
        .unwrap();
    s.refresh().unwrap();
    assert_eq!(
        client_timestamp_version(&s),
        2,
        "the client recovered to the publisher's timestamp"
    );
}

fn client_timestamp_version(s: &Setup) -> u64 {
    let bytes = fs::read(s.dir.path().join("client/timestamp.json")).unwrap();
    signed_of(&bytes)["version"].as_u64().unwrap()
}

#[test]
fn indefinite_freeze_is_refused_with_advice() {
    let s = Setup::single();
    s.refresh().unwrap();
    let later = UtcTime::from_unix(s.now.unix() + 2 * 86_400 + 3 * 3600);
    let err = block_on(s.client_at(later).0.refresh()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::Expired { role, .. } if role == "timestamp"),
        "{text}"
    );
    assert!(
        text.starts_with("timestamp expired 27 h ago") && text.contains("freeze protection"),
        "{text}"
    );
}

/// One day more than `seconds` after `now`.
fn a_day_past(now: UtcTime, seconds: u64) -> UtcTime {
    now.plus_seconds(i64::try_from(seconds).unwrap() + 86_400)
}

#[test]
fn freeze_of_an_unchanged_catalog_is_refused_by_a_client_that_stays_alive() {
    let s = Setup::single();
    let target = s.publish("1.0.0");
    let (mut client, _) = s.client_at(s.now);
    block_on(client.refresh()).unwrap();
    // The catalog is never updated again (or an attacker keeps replaying
    // it); the client runs on past the timestamp's expiry.
    client.set_time(a_day_past(s.now, Expiries::default().timestamp));
    let err = block_on(client.refresh()).unwrap_err();
    assert!(
        matches!(&err, Error::Expired { role, .. } if role == "timestamp"),
        "{err}"
    );
    let err = block_on(client.target_info(&target)).unwrap_err();
    assert!(
        matches!(&err, Error::Expired { role, .. } if role == "timestamp"),
        "{err}"
    );
}

/// Re-signs the catalog's timestamp as a new version that expires a day
/// after `now`, naming the same snapshot: what a publisher that only
/// renews its timestamp serves.
fn renew_timestamp(s: &Setup, now: UtcTime) {
    resign(&s.meta("timestamp.json"), &[&s.keys[0]], |t| {
        t["version"] = json!(t["version"].as_u64().unwrap() + 1);
        t["expires"] = json!(now.plus_seconds(86_400).to_string());
    });
}

#[test]
fn freeze_of_a_kept_snapshot_is_refused_by_a_client_that_stays_alive() {
    let s = Setup::single();
    s.publish("1.0.0");
    let (mut client, _) = s.client_at(s.now);
    block_on(client.refresh()).unwrap();
    let later = a_day_past(s.now, Expiries::default().snapshot);
    renew_timestamp(&s, later);
    client.set_time(later);
    let err = block_on(client.refresh()).unwrap_err();
    assert!(
        matches!(&err, Error::Expired { role, .. } if role == "snapshot"),
        "{err}"
    );
}

#[test]
fn freeze_of_kept_targets_is_refused_by_a_client_that_stays_alive() {
    let mut expiries = Expiries::default();
    expiries.targets = expiries.snapshot / 2;
    let s = Setup::with_expiries(vec![Identity::from_seed(&[7; 32])], 1, expiries);
    s.publish("1.0.0");
    let (mut client, _) = s.client_at(s.now);
    block_on(client.refresh()).unwrap();
    let later = a_day_past(s.now, expiries.targets);
    renew_timestamp(&s, later);
    client.set_time(later);
    let err = block_on(client.refresh()).unwrap_err();
    assert!(
        matches!(&err, Error::Expired { role, .. } if role == "targets"),
        "{err}"
    );
}

#[test]
fn mix_and_match_of_targets_versions_is_refused() {
    let s = Setup::single();
    s.publish("1.0.0");
    s.publish("2.0.0");
    // An attacker serves the older targets file under the current name.
    fs::copy(s.meta("2.targets.json"), s.meta("3.targets.json")).unwrap();
    let err = s.refresh().unwrap_err();
    assert!(matches!(err, Error::LengthOrHash { .. }), "{err}");
}

#[test]
fn mix_and_match_without_hashes_is_caught_by_version() {
    let s = Setup::single();
    s.publish("1.0.0");
    // The snapshot lists targets by version only (hashes are optional).
    resign(&s.meta("2.snapshot.json"), &[&s.keys[0]], |snap| {
        snap["meta"]["targets.json"] = json!({"version": 2});
    });
    let snapshot = fs::read(s.meta("2.snapshot.json")).unwrap();
    resign(&s.meta("timestamp.json"), &[&s.keys[0]], |t| {
        t["meta"]["snapshot.json"] = json!({"version": 2, "length": snapshot.len()});
    });
    fs::copy(s.meta("1.targets.json"), s.meta("2.targets.json")).unwrap();
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionMismatch {
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn endless_data_is_cut_off() {
    let s = Setup::single();
    let mut bytes = fs::read(s.meta("timestamp.json")).unwrap();
    bytes.extend(std::iter::repeat_n(b' ', 1 << 20));
    fs::write(s.meta("timestamp.json"), bytes).unwrap();
    let err = s.refresh().unwrap_err();
    assert!(err.to_string().contains("endless-data"), "{err}");
}

#[test]
fn endless_target_is_cut_off() {
    let s = Setup::single();
    let target = s.publish("1.0.0");
    let dir = s.repo.targets_dir().join("apps/org.example.web");
    let stored = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let mut bytes = fs::read(&stored).unwrap();
    bytes.extend(std::iter::repeat_n(b' ', 1 << 20));
    fs::write(&stored, bytes).unwrap();
    let mut client = s.client();
    let info = block_on(client.target_info(&target)).unwrap().unwrap();
    let err = block_on(client.download_target(&target, &info)).unwrap_err();
    assert!(err.to_string().contains("endless-data"), "{err}");
}

#[test]
fn wrong_signer_is_refused() {
    let s = Setup::single();
    let stranger = Identity::from_seed(&[66; 32]);
    resign(&s.meta("timestamp.json"), &[&stranger], |t| {
        t["version"] = json!(5);
    });
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(&err, Error::Unsigned { role, signed: 0, threshold: 1 } if role == "timestamp"),
        "{err}"
    );
}

#[test]
fn below_threshold_is_refused() {
    let keys = vec![Identity::from_seed(&[1; 32]), Identity::from_seed(&[2; 32])];
    let s = Setup::new(keys, 2);
    s.refresh().unwrap();
    resign(&s.meta("timestamp.json"), &[&s.keys[0]], |t| {
        t["version"] = json!(5);
    });
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Unsigned {
                signed: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn after_rotation_the_old_key_alone_is_refused() {
    let s = Setup::single();
    let new_key = Identity::from_seed(&[9; 32]);
    s.repo
        .rotate_keys(&s.keys, std::slice::from_ref(&new_key), 1, s.now)
        .unwrap();
    s.refresh().unwrap();
    let old = &s.keys[0];
    // The old key signs a timestamp: no longer a timestamp key.
    resign(&s.meta("timestamp.json"), &[old], |t| {
        t["version"] = json!(50);
    });
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(&err, Error::Unsigned { role, .. } if role == "timestamp"),
        "{err}"
    );
    // The old key signs a root 3 that hands the catalog back to it.
    let mut root = signed_of(&fs::read(s.meta("1.root.json")).unwrap());
    root["version"] = json!(3);
    fs::write(s.meta("3.root.json"), sign_metadata(&root, &[old]).unwrap()).unwrap();
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(&err, Error::Unsigned { role, signed: 0, .. } if role == "root"),
        "{err}"
    );
}

#[test]
fn a_rotation_signed_only_by_the_new_key_is_refused() {
    let s = Setup::single();
    let attacker = Identity::from_seed(&[13; 32]);
    let mut root = signed_of(&fs::read(s.meta("1.root.json")).unwrap());
    let keyid = attacker.public_key().tuf_keyid();
    root["version"] = json!(2);
    root["keys"] = json!({ keyid.clone(): attacker.public_key().tuf_key() });
    for role in ["root", "targets", "snapshot", "timestamp"] {
        root["roles"][role] = json!({"keyids": [keyid], "threshold": 1});
    }
    fs::write(
        s.meta("2.root.json"),
        sign_metadata(&root, &[&attacker]).unwrap(),
    )
    .unwrap();
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(&err, Error::Unsigned { role, .. } if role == "root"),
        "{err}"
    );
}

#[test]
fn one_key_under_two_ids_does_not_meet_a_root_threshold_of_two() {
    let s = Setup::single();
    let key = &s.keys[0];
    let keyid = key.public_key().tuf_keyid();
    // The same key again, written in upper-case hex under an id of its own.
    let again_id = "root-key-again";
    let mut again = key.public_key().tuf_key();
    again["keyval"]["public"] = json!(hex::encode_upper(key.public_key().to_bytes()));
    let mut root = signed_of(&fs::read(s.meta("1.root.json")).unwrap());
    root["version"] = json!(2);
    root["keys"][again_id] = again;
    root["roles"]["root"] = json!({"keyids": [keyid, again_id], "threshold": 2});
    let mut file: Value = serde_json::from_slice(&sign_metadata(&root, &[key]).unwrap()).unwrap();
    let sig = file["signatures"][0]["sig"].clone();
    file["signatures"]
        .as_array_mut()
        .unwrap()
        .push(json!({"keyid": again_id, "sig": sig}));
    fs::write(s.meta("2.root.json"), serde_json::to_vec(&file).unwrap()).unwrap();
    let err = s.refresh().unwrap_err();
    assert!(
        matches!(&err, Error::Unsigned { role, signed: 1, threshold: 2 } if role == "root"),
        "{err}"
    );
}

#[test]
fn a_same_version_timestamp_with_new_content_is_ignored() {
    let s = Setup::single();
    s.refresh().unwrap();
    let trusted = fs::read(s.dir.path().join("client/timestamp.json")).unwrap();
    resign(&s.meta("timestamp.json"), &[&s.keys[0]], |t| {
        t["meta"]["snapshot.json"] = json!({"version": 100});
    });
    s.refresh().unwrap();
    let after = fs::read(s.dir.path().join("client/timestamp.json")).unwrap();
    assert_eq!(
        after, trusted,
        "the trusted timestamp was kept byte for byte"
    );
}
