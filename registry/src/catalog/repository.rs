//! A publisher's catalog on disk, and every edit of it.
//!
//! Layout of a catalog directory:
//!
//! ```text
//! catalog.json                     expiry settings (not served)
//! metadata/1.root.json …           every root version, kept forever
//! metadata/root.json               the newest root (what clients start from)
//! metadata/N.targets.json          targets versions (consistent snapshots)
//! metadata/N.snapshot.json         snapshot versions
//! metadata/timestamp.json          the one unversioned file
//! targets/apps/ID/HASH.VERSION.json   release documents
//! ```
//!
//! All four top-level roles are held by the publisher's keys with one
//! threshold. Files are written as compact canonical JSON, so the bytes on
//! disk are exactly the bytes signed; versioned files are never overwritten,
//! and the two unversioned files are replaced atomically, timestamp last.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use archy_trust::{Did, Identity, PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::Error;
use super::release::{self, BlobRef};
use crate::BlobHash;
use crate::files;
use crate::signing::Signers;
use crate::tuf::{UtcTime, sign_metadata};

const CONFIG_FILE: &str = "catalog.json";
const CONFIG_FORMAT: &str = "archy-catalog-v1";
const SPEC_VERSION: &str = "1.0.31";
/// Largest metadata file this editor reads back.
const MAX_METADATA_BYTES: u64 = 16 << 20;

/// How long each role's metadata stays valid after it is signed, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiries {
    /// Root: long, it changes only with keys.
    pub root: u64,
    /// Targets: the release list.
    pub targets: u64,
    /// Snapshot.
    pub snapshot: u64,
    /// Timestamp: short, so a frozen catalog is noticed quickly.
    pub timestamp: u64,
}

impl Default for Expiries {
    fn default() -> Self {
        const DAY: u64 = 86_400;
        Self {
            root: 365 * DAY,
            targets: 90 * DAY,
            snapshot: 30 * DAY,
            timestamp: DAY,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    format: String,
    expiries: Expiries,
}

/// A catalog repository on disk.
#[derive(Debug)]
pub struct Repository {
    dir: PathBuf,
    config: Config,
}

/// The `signed` part of each current top-level document.
struct State {
    root: Value,
    targets: Value,
    snapshot: Value,
    timestamp: Value,
}

/// One role's version and expiry, for `show`.
#[derive(Debug, Clone, Serialize)]
pub struct RoleStatus {
    /// Role name.
    pub role: String,
    /// Current version.
    pub version: u64,
    /// Expiry, `YYYY-MM-DDTHH:MM:SSZ`.
    pub expires: String,
}

/// One published release, for `show`.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseStatus {
    /// TUF target path.
    pub target: String,
    /// Release document size.
    pub length: u64,
    /// Blobs the release needs.
    pub blobs: Vec<BlobRef>,
    /// Why it was yanked, if it was.
    pub yanked: Option<String>,
}

/// A summary of the catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The catalog directory.
    pub dir: String,
    /// DIDs of the publisher keys.
    pub keys: Vec<String>,
    /// Signatures required for each role.
    pub threshold: u64,
    /// Root, targets, snapshot, timestamp.
    pub roles: Vec<RoleStatus>,
    /// Every release, by target path.
    pub releases: Vec<ReleaseStatus>,
}

/// What adding a release did.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// TUF target path of the release document.
    pub target: String,
    /// Its size.
    pub length: u64,
    /// Its SHA-256 (the TUF hash).
    pub sha256: String,
    /// The blobs it needs.
    pub blobs: Vec<BlobRef>,
    /// The hash that names the whole release in the swarm.
    pub release_root: BlobHash,
    /// The new targets version.
    pub targets_version: u64,
}

impl Repository {
    /// Creates a catalog in `dir` (which must not hold one) whose four roles
    /// are held by `keys` with `threshold`, signed by all of them.
    pub fn init(
        dir: &Path,
        keys: &[Identity],
        threshold: u64,
        expiries: Expiries,
        now: UtcTime,
    ) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::Invalid("a catalog needs at least one key".into()));
        }
        if threshold == 0 || threshold > keys.len() as u64 {
            return Err(Error::Invalid(format!(
                "threshold {threshold} is impossible with {} key(s): use 1 to {}",
                keys.len(),
                keys.len()
            )));
        }
        let config_path = dir.join(CONFIG_FILE);
        if config_path.exists() || dir.join("metadata").exists() {
            return Err(Error::Invalid(format!(
                "{} already holds a catalog; use another directory",
                dir.display()
            )));
        }
        for sub in ["metadata", "targets"] {
            create_dir(&dir.join(sub))?;
        }
        let config = Config {
            format: CONFIG_FORMAT.into(),
            expiries,
        };
        let config_bytes = serde_json::to_vec_pretty(&config)
            .map_err(|e| Error::Invalid(format!("cannot encode the catalog settings: {e}")))?;
        write_new(&config_path, &config_bytes)?;
        let repo = Self {
            dir: dir.to_owned(),
            config,
        };
        let publics: Vec<PublicKey> = keys.iter().map(Identity::public_key).collect();
        let root = repo.root_document(1, &publics, threshold, now);
        repo.write_root(&root, &[keys], &[&root])?;
        let targets = json!({
            "_type": "targets",
            "spec_version": SPEC_VERSION,
            "version": 0,
            "expires": "",
            "targets": {},
        });
        let state = State {
            root,
            targets,
            snapshot: json!({"version": 0}),
            timestamp: json!({"version": 0}),
        };
        repo.commit(&state, state.targets.clone(), keys, now)?;
        Ok(repo)
    }

    /// Opens the catalog in `dir`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(CONFIG_FILE);
        let bytes = fs::read(&path).map_err(|e| Error::NoCatalog {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let config: Config = serde_json::from_slice(&bytes).map_err(|e| Error::File {
            path: path.clone(),
            reason: format!("not a catalog settings file: {e}"),
        })?;
        if config.format != CONFIG_FORMAT {
            return Err(Error::File {
                path,
                reason: format!("format '{}' is not {CONFIG_FORMAT}", config.format),
            });
        }
        Ok(Self {
            dir: dir.to_owned(),
            config,
        })
    }

    /// The directory served to clients: `metadata/` and `targets/` are in it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The metadata directory.
    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.join("metadata")
    }

    /// The targets directory.
    pub fn targets_dir(&self) -> PathBuf {
        self.dir.join("targets")
    }

    /// Publishes a release: the signed manifest (bytes of
    /// `manifest.signed.json`, signed by a key of this catalog) becomes the
    /// target `apps/ID/VERSION.json`. Published versions never change.
    pub fn add_release(
        &self,
        keys: &[Identity],
        signed_manifest: &[u8],
        now: UtcTime,
    ) -> Result<Added, Error> {
        let state = self.load()?;
        let (release, document) = release::build(signed_manifest, &self.signers_of(&state.root)?)?;
        let publisher = &release.manifest.publisher;
        if !self.every_key_did()?.contains(&publisher.to_string()) {
            return Err(Error::Invalid(format!(
                "the manifest is published by {publisher}, which is not a key of this catalog ({}); sign it with the catalog's key",
                self.key_dids(&state.root)?.join(", ")
            )));
        }
        let m = &release.manifest;
        let target = format!("apps/{}/{}.json", m.id, m.version);
        let sha256 = hex::encode(Sha256::digest(&document));
        if let Some(existing) = state.targets["targets"].get(&target) {
            let same = existing["hashes"]["sha256"] == json!(sha256);
            return Err(Error::Invalid(if same {
                format!("{target} is already published, with these exact bytes")
            } else {
                format!(
                    "{target} is already published with other content; published versions never change: bump the version"
                )
            }));
        }
        let stored = self
            .targets_dir()
            .join(format!("apps/{}/{sha256}.{}.json", m.id, m.version));
        create_dir(stored.parent().expect("a target file has a directory"))?;
        write_new(&stored, &document)?;
        let release_root = release::release_root(&document, &release.blobs);
        let mut targets = state.targets.clone();
        targets["targets"][&target] = json!({
            "length": document.len(),
            "hashes": {"sha256": sha256},
            "custom": {
                "app": m.id,
                "version": m.version.to_string(),
                "blobs": release.blobs,
                "release": release_root,
            },
        });
        if let Some(notes) = &m.release_notes {
            targets["targets"][&target]["custom"]["notes"] = json!(notes);
        }
        let targets_version = self.commit(&state, targets, keys, now)?;
        Ok(Added {
            target,
            length: document.len() as u64,
            sha256,
            blobs: release.blobs,
            release_root,
            targets_version,
        })
    }

    /// Marks a release yanked: it stays listed (so nodes running it learn
    /// why) but is no longer offered for new installs.
    pub fn yank(
        &self,
        keys: &[Identity],
        app: &str,
        version: &str,
        reason: &str,
        now: UtcTime,
    ) -> Result<String, Error> {
        let state = self.load()?;
        let target = format!("apps/{app}/{version}.json");
        let mut targets = state.targets.clone();
        let Some(entry) = targets["targets"].get_mut(&target) else {
            return Err(Error::NoSuchRelease {
                app: app.to_owned(),
                version: version.to_owned(),
            });
        };
        entry["custom"]["yanked"] = json!({"reason": reason, "at": now.to_string()});
        self.commit(&state, targets, keys, now)?;
        Ok(target)
    }

    /// Replaces the publisher keys: root N+1 lists `new_keys` with
    /// `threshold` for every role and is signed by a threshold of the old
    /// root keys and of the new ones; targets, snapshot and timestamp are
    /// then re-signed with the new keys. Returns the new root version.
    pub fn rotate_keys(
        &self,
        old_keys: &[Identity],
        new_keys: &[Identity],
        threshold: u64,
        now: UtcTime,
    ) -> Result<u64, Error> {
        if threshold == 0 || threshold > new_keys.len() as u64 {
            return Err(Error::Invalid(format!(
                "threshold {threshold} is impossible with {} new key(s)",
                new_keys.len()
            )));
        }
        let state = self.load()?;
        let version = version_of(&state.root)? + 1;
        let publics: Vec<PublicKey> = new_keys.iter().map(Identity::public_key).collect();
        let root = self.root_document(version, &publics, threshold, now);
        self.write_root(&root, &[old_keys, new_keys], &[&state.root, &root])?;
        let rotated = State {
            root: root.clone(),
            ..state
        };
        self.commit(&rotated, rotated.targets.clone(), new_keys, now)?;
        Ok(version)
    }

    /// Re-signs whatever expires within half its lifetime (always the
    /// timestamp), so a catalog stays fresh. Returns the roles re-signed.
    pub fn refresh(&self, keys: &[Identity], now: UtcTime) -> Result<Vec<String>, Error> {
        let state = self.load()?;
        let mut resigned = Vec::new();
        let e = self.config.expiries;
        let state = if expires_soon(&state.root, e.root, now)? {
            let version = version_of(&state.root)? + 1;
            let mut root = state.root.clone();
            root["version"] = json!(version);
            root["expires"] = json!(now.plus_seconds(to_i64(e.root)).to_string());
            self.write_root(&root, &[keys, keys], &[&state.root, &root])?;
            resigned.push("root".to_owned());
            State { root, ..state }
        } else {
            state
        };
        let targets_too = expires_soon(&state.targets, e.targets, now)?
            || expires_soon(&state.snapshot, e.snapshot, now)?;
        if targets_too {
            self.commit(&state, state.targets.clone(), keys, now)?;
            resigned.extend(["targets".to_owned(), "snapshot".to_owned()]);
        } else {
            self.write_timestamp(&state, keys, now, version_of(&state.snapshot)?)?;
        }
        resigned.push("timestamp".to_owned());
        Ok(resigned)
    }

    /// The current `targets.json`, as signed: what a client verifies.
    pub fn targets_bytes(&self) -> Result<Vec<u8>, Error> {
        let state = self.load()?;
        let version = version_of(&state.targets)?;
        read_limited(&self.metadata_dir().join(format!("{version}.targets.json")))
    }

    /// Versions, expiries, keys and releases.
    pub fn status(&self) -> Result<Status, Error> {
        let state = self.load()?;
        let mut roles = Vec::new();
        for (name, doc) in [
            ("root", &state.root),
            ("targets", &state.targets),
            ("snapshot", &state.snapshot),
            ("timestamp", &state.timestamp),
        ] {
            roles.push(RoleStatus {
                role: name.into(),
                version: version_of(doc)?,
                expires: doc["expires"].as_str().unwrap_or_default().to_owned(),
            });
        }
        let mut releases = Vec::new();
        if let Some(targets) = state.targets["targets"].as_object() {
            for (target, entry) in targets {
                releases.push(ReleaseStatus {
                    target: target.clone(),
                    length: entry["length"].as_u64().unwrap_or_default(),
                    blobs: serde_json::from_value(entry["custom"]["blobs"].clone())
                        .unwrap_or_default(),
                    yanked: entry["custom"]["yanked"]["reason"]
                        .as_str()
                        .map(str::to_owned),
                });
            }
        }
        Ok(Status {
            dir: self.dir.display().to_string(),
            keys: self.key_dids(&state.root)?,
            threshold: state.root["roles"]["root"]["threshold"]
                .as_u64()
                .unwrap_or_default(),
            roles,
            releases,
        })
    }

    /// The keys that speak for this catalog's publisher: those its current
    /// root lists (a rotated-in key signs releases of the publisher its
    /// first root named).
    pub fn signers(&self) -> Result<Signers, Error> {
        self.signers_of(&self.load()?.root)
    }

    fn signers_of(&self, root: &Value) -> Result<Signers, Error> {
        let keys = root["keys"].as_object().ok_or_else(|| Error::Corrupt {
            dir: self.dir.clone(),
            reason: "the root lists no keys".into(),
        })?;
        Ok(Signers::with_root_keys(keys.keys().cloned()))
    }

    /// Every key any root version has listed, as DIDs, oldest first: the
    /// names under which nodes that pinned an older root ask for this
    /// catalog.
    pub fn every_key_did(&self) -> Result<Vec<String>, Error> {
        let meta = self.metadata_dir();
        let newest = version_of(&signed_of(&read_limited(&meta.join("root.json"))?, &meta)?)?;
        let mut dids = Vec::new();
        for version in 1..=newest {
            let root = signed_of(
                &read_limited(&meta.join(format!("{version}.root.json")))?,
                &meta,
            )?;
            for did in self.key_dids(&root)? {
                if !dids.contains(&did) {
                    dids.push(did);
                }
            }
        }
        Ok(dids)
    }

    fn root_document(
        &self,
        version: u64,
        keys: &[PublicKey],
        threshold: u64,
        now: UtcTime,
    ) -> Value {
        let keyids: Vec<String> = keys.iter().map(PublicKey::tuf_keyid).collect();
        let key_objects: BTreeMap<String, Value> =
            keys.iter().map(|k| (k.tuf_keyid(), k.tuf_key())).collect();
        let role = json!({"keyids": keyids, "threshold": threshold});
        json!({
            "_type": "root",
            "spec_version": SPEC_VERSION,
            "version": version,
            "expires": now.plus_seconds(to_i64(self.config.expiries.root)).to_string(),
            "consistent_snapshot": true,
            "keys": key_objects,
            "roles": {
                "root": role,
                "targets": role,
                "snapshot": role,
                "timestamp": role,
            },
        })
    }

    /// Writes a root version signed for every (keys, root) pair: a new root
    /// must satisfy the root role of the previous root and its own.
    fn write_root(
        &self,
        root: &Value,
        key_sets: &[&[Identity]],
        authorities: &[&Value],
    ) -> Result<(), Error> {
        let mut signers: Vec<&Identity> = Vec::new();
        for (keys, authority) in key_sets.iter().zip(authorities) {
            let chosen = signers_for(authority, "root", keys)?;
            for key in chosen {
                if !signers.iter().any(|s| s.did() == key.did()) {
                    signers.push(key);
                }
            }
        }
        for authority in authorities {
            let allowed = role_keyids(authority, "root")?;
            let threshold = threshold_of(authority, "root")?;
            let given = signers
                .iter()
                .filter(|s| allowed.contains(&s.public_key().tuf_keyid()))
                .count() as u64;
            if given < threshold {
                return Err(Error::NotEnoughKeys {
                    role: "root".into(),
                    threshold,
                    given,
                });
            }
        }
        let bytes = sign_metadata(root, &signers)?;
        let version = version_of(root)?;
        write_new(
            &self.metadata_dir().join(format!("{version}.root.json")),
            &bytes,
        )?;
        write_replace(&self.metadata_dir().join("root.json"), &bytes)
    }

    /// Publishes `targets` as the next targets version, then a snapshot and
    /// a timestamp naming it. Returns the new targets version.
    fn commit(
        &self,
        state: &State,
        mut targets: Value,
        keys: &[Identity],
        now: UtcTime,
    ) -> Result<u64, Error> {
        let e = self.config.expiries;
        let targets_version = version_of(&state.targets)? + 1;
        targets["version"] = json!(targets_version);
        targets["expires"] = json!(now.plus_seconds(to_i64(e.targets)).to_string());
        let targets_bytes = sign_metadata(&targets, &signers_for(&state.root, "targets", keys)?)?;
        write_new(
            &self
                .metadata_dir()
                .join(format!("{targets_version}.targets.json")),
            &targets_bytes,
        )?;
        let snapshot_version = version_of(&state.snapshot)? + 1;
        let snapshot = json!({
            "_type": "snapshot",
            "spec_version": SPEC_VERSION,
            "version": snapshot_version,
            "expires": now.plus_seconds(to_i64(e.snapshot)).to_string(),
            "meta": {"targets.json": meta_entry(targets_version, &targets_bytes)},
        });
        let snapshot_bytes =
            sign_metadata(&snapshot, &signers_for(&state.root, "snapshot", keys)?)?;
        write_new(
            &self
                .metadata_dir()
                .join(format!("{snapshot_version}.snapshot.json")),
            &snapshot_bytes,
        )?;
        let state = State {
            root: state.root.clone(),
            targets,
            snapshot,
            timestamp: state.timestamp.clone(),
        };
        self.write_timestamp_of(&state, keys, now, snapshot_version, &snapshot_bytes)?;
        Ok(targets_version)
    }

    fn write_timestamp(
        &self,
        state: &State,
        keys: &[Identity],
        now: UtcTime,
        snapshot_version: u64,
    ) -> Result<(), Error> {
        let path = self
            .metadata_dir()
            .join(format!("{snapshot_version}.snapshot.json"));
        let snapshot_bytes = read_limited(&path)?;
        self.write_timestamp_of(state, keys, now, snapshot_version, &snapshot_bytes)
    }

    fn write_timestamp_of(
        &self,
        state: &State,
        keys: &[Identity],
        now: UtcTime,
        snapshot_version: u64,
        snapshot_bytes: &[u8],
    ) -> Result<(), Error> {
        let timestamp = json!({
            "_type": "timestamp",
            "spec_version": SPEC_VERSION,
            "version": version_of(&state.timestamp)? + 1,
            "expires": now.plus_seconds(to_i64(self.config.expiries.timestamp)).to_string(),
            "meta": {"snapshot.json": meta_entry(snapshot_version, snapshot_bytes)},
        });
        let bytes = sign_metadata(&timestamp, &signers_for(&state.root, "timestamp", keys)?)?;
        write_replace(&self.metadata_dir().join("timestamp.json"), &bytes)
    }

    /// Reads the current documents, following timestamp → snapshot → targets.
    fn load(&self) -> Result<State, Error> {
        let meta = self.metadata_dir();
        let root = signed_of(&read_limited(&meta.join("root.json"))?, &meta)?;
        let timestamp = signed_of(&read_limited(&meta.join("timestamp.json"))?, &meta)?;
        let snapshot_version = timestamp["meta"]["snapshot.json"]["version"]
            .as_u64()
            .ok_or_else(|| self.corrupt("timestamp.json names no snapshot version"))?;
        let snapshot = signed_of(
            &read_limited(&meta.join(format!("{snapshot_version}.snapshot.json")))?,
            &meta,
        )?;
        let targets_version = snapshot["meta"]["targets.json"]["version"]
            .as_u64()
            .ok_or_else(|| self.corrupt("the snapshot names no targets version"))?;
        let targets = signed_of(
            &read_limited(&meta.join(format!("{targets_version}.targets.json")))?,
            &meta,
        )?;
        Ok(State {
            root,
            targets,
            snapshot,
            timestamp,
        })
    }

    fn key_dids(&self, root: &Value) -> Result<Vec<String>, Error> {
        let mut dids = Vec::new();
        for keyid in role_keyids(root, "root")? {
            let public = root["keys"][&keyid]["keyval"]["public"]
                .as_str()
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .and_then(|b| PublicKey::from_bytes(&b).ok())
                .ok_or_else(|| self.corrupt(&format!("key {keyid} is not an Ed25519 key")))?;
            dids.push(Did::from_public_key(public).to_string());
        }
        Ok(dids)
    }

    fn corrupt(&self, reason: &str) -> Error {
        Error::Corrupt {
            dir: self.dir.clone(),
            reason: reason.into(),
        }
    }
}

/// The keys among `keys` that hold `role` in `root`, checked against the
/// role's threshold.
fn signers_for<'a>(
    root: &Value,
    role: &str,
    keys: &'a [Identity],
) -> Result<Vec<&'a Identity>, Error> {
    let allowed = role_keyids(root, role)?;
    let chosen: Vec<&Identity> = keys
        .iter()
        .filter(|k| allowed.contains(&k.public_key().tuf_keyid()))
        .collect();
    let threshold = threshold_of(root, role)?;
    if (chosen.len() as u64) < threshold {
        return Err(Error::NotEnoughKeys {
            role: role.into(),
            threshold,
            given: chosen.len() as u64,
        });
    }
    Ok(chosen)
}

fn role_keyids(root: &Value, role: &str) -> Result<Vec<String>, Error> {
    serde_json::from_value(root["roles"][role]["keyids"].clone())
        .map_err(|e| Error::Invalid(format!("root role '{role}' has no key list: {e}")))
}

fn threshold_of(root: &Value, role: &str) -> Result<u64, Error> {
    root["roles"][role]["threshold"]
        .as_u64()
        .ok_or_else(|| Error::Invalid(format!("root role '{role}' has no threshold")))
}

fn version_of(doc: &Value) -> Result<u64, Error> {
    doc["version"]
        .as_u64()
        .ok_or_else(|| Error::Invalid("metadata without a version".into()))
}

fn expires_soon(doc: &Value, lifetime: u64, now: UtcTime) -> Result<bool, Error> {
    let expires = doc["expires"]
        .as_str()
        .and_then(UtcTime::parse)
        .ok_or_else(|| Error::Invalid("metadata without a valid expiry".into()))?;
    Ok(expires.unix() - now.unix() < to_i64(lifetime / 2))
}

fn meta_entry(version: u64, bytes: &[u8]) -> Value {
    json!({
        "version": version,
        "length": bytes.len(),
        "hashes": {"sha256": hex::encode(Sha256::digest(bytes))},
    })
}

fn to_i64(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

fn signed_of(bytes: &[u8], dir: &Path) -> Result<Value, Error> {
    let mut file: Value = serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        dir: dir.to_owned(),
        reason: format!("a metadata file is not JSON: {e}"),
    })?;
    Ok(file["signed"].take())
}

fn read_limited(path: &Path) -> Result<Vec<u8>, Error> {
    files::read_bounded(path, MAX_METADATA_BYTES).map_err(|e| Error::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn create_dir(path: &Path) -> Result<(), Error> {
    fs::create_dir_all(path).map_err(|e| Error::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Writes a file that must not exist yet: published versions are immutable.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::File {
            path: path.to_owned(),
            reason: format!("{e} (published files are never overwritten)"),
        })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// Replaces a file atomically.
fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    files::write_atomically(path, bytes).map_err(|e| Error::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
