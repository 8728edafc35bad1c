//! The four TUF metadata documents, read strictly enough to be safe and
//! loosely enough to be compatible: every field the specification requires
//! is checked for type and range, unknown fields are kept out of the way
//! (they are still covered by the signature), as python-tuf does.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::glob::glob_match;
use super::keys::Verifier;
use super::time::UtcTime;

/// The `signed.version` of a metadata file, read without parsing the rest:
/// for stores and servers that index files they have already verified.
pub fn signed_version(bytes: &[u8]) -> Result<u64, String> {
    #[derive(Deserialize)]
    struct Outer {
        signed: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        version: u64,
    }
    serde_json::from_slice::<Outer>(bytes)
        .map(|o| o.signed.version)
        .map_err(|e| format!("no version: {e}"))
}

/// The four top-level roles, whose names no delegation may reuse.
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

/// The major version of the TUF specification this client implements.
const SPEC_MAJOR: &str = "1";

/// Fields every signed document shares.
#[derive(Debug, Clone)]
pub struct Common {
    /// `spec_version`, checked to be `1.x` or `1.x.y`.
    pub spec_version: String,
    /// The document's version, at least 1.
    pub version: u64,
    /// When the document stops being trustworthy.
    pub expires: UtcTime,
}

/// A public key as TUF lists it. Keys of unsupported types are kept (so a
/// root naming them still loads) but never count towards a threshold.
#[derive(Debug, Clone)]
pub struct Key {
    /// `keytype`, such as `ed25519`.
    pub keytype: String,
    /// `scheme`, such as `ed25519`.
    pub scheme: String,
    /// `keyval.public` as written.
    pub public: Option<String>,
    verifier: Option<Verifier>,
}

impl Key {
    /// Whether this key made `sig_hex` over `message`; false for keys this
    /// client cannot use.
    pub fn verify(&self, message: &[u8], sig_hex: &str) -> bool {
        self.verifier
            .as_ref()
            .is_some_and(|v| v.verify(message, sig_hex))
    }

    /// Whether `other` is this same key, perhaps under another key id;
    /// false when either is a key this client cannot use.
    pub fn is_same_key_as(&self, other: &Key) -> bool {
        matches!((&self.verifier, &other.verifier), (Some(a), Some(b)) if a == b)
    }
}

/// Which keys may sign for a role, and how many must.
#[derive(Debug, Clone)]
pub struct Role {
    /// Key ids allowed to sign, without repeats.
    pub keyids: Vec<String>,
    /// How many distinct allowed keys must sign (at least 1): keys, not
    /// key ids, so one key listed under two ids counts once.
    pub threshold: u64,
}

/// `root.json`: the keys of every top-level role.
#[derive(Debug, Clone)]
pub struct Root {
    /// Shared fields.
    pub common: Common,
    /// Whether metadata and targets are fetched by version or hash prefix.
    pub consistent_snapshot: bool,
    /// Keys by key id.
    pub keys: HashMap<String, Key>,
    /// The four top-level roles by name.
    pub roles: HashMap<String, Role>,
}

/// What a snapshot or timestamp says about one metadata file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaFile {
    /// The file's version.
    pub version: u64,
    /// Its length in bytes, when given.
    pub length: Option<u64>,
    /// Its hashes, when given, in the order written.
    pub hashes: Option<Hashes>,
}

/// Hash algorithm → hex digest, in the order the document lists them (the
/// first one names a consistent-snapshot target file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes(pub Vec<(String, String)>);

/// `timestamp.json`: the current snapshot version.
#[derive(Debug, Clone)]
pub struct Timestamp {
    /// Shared fields.
    pub common: Common,
    /// The `snapshot.json` entry.
    pub snapshot: MetaFile,
}

/// `snapshot.json`: the version of every targets metadata file.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Shared fields.
    pub common: Common,
    /// File name (`targets.json`, `ROLE.json`) → its meta.
    pub meta: HashMap<String, MetaFile>,
}

/// One target file as a targets role describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct TargetFile {
    /// Exact length in bytes.
    pub length: u64,
    /// At least one hash, in the order written.
    pub hashes: Hashes,
    /// Application data (`custom`), if any, kept as the JSON text received:
    /// a catalog holds thousands of entries, and few are ever read.
    pub custom: Option<Box<RawValue>>,
}

/// A role delegated by name, with the paths it may sign for.
#[derive(Debug, Clone)]
pub struct DelegatedRole {
    /// The role's name (also its metadata file's name).
    pub name: String,
    /// Keys and threshold.
    pub role: Role,
    /// Whether a miss here ends the search.
    pub terminating: bool,
    /// Which target paths this role is trusted for.
    pub scope: Scope,
}

/// The target paths a delegated role is trusted for.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Glob patterns per path segment: `*` never matches `/`.
    Paths(Vec<String>),
    /// Hex prefixes of the SHA-256 of the target path.
    HashPrefixes(Vec<String>),
    /// Neither was given: no paths at all.
    Nothing,
}

/// Hash-bin delegation (TAP 15): `2^bit_length` roles named
/// `PREFIX-xx`, each trusted for the targets whose hash falls in its bin.
#[derive(Debug, Clone)]
pub struct SuccinctRoles {
    /// Keys and threshold shared by every bin.
    pub role: Role,
    /// Bits of the path hash that pick the bin (1 to 32).
    pub bit_length: u32,
    /// Role name prefix.
    pub name_prefix: String,
}

/// A targets role's delegations.
#[derive(Debug, Clone)]
pub struct Delegations {
    /// Keys by key id.
    pub keys: HashMap<String, Key>,
    /// Either explicit roles, in priority order…
    pub roles: Vec<DelegatedRole>,
    /// …or hash bins.
    pub succinct: Option<SuccinctRoles>,
}

/// `targets.json` or a delegated role's metadata.
#[derive(Debug, Clone)]
pub struct Targets {
    /// Shared fields.
    pub common: Common,
    /// Target path → file.
    pub targets: HashMap<String, TargetFile>,
    /// Roles this one delegates to, if any.
    pub delegations: Option<Delegations>,
}

/// A document type the client reads: its `_type` and how it is parsed.
pub trait Document: Sized {
    /// The `_type` value.
    const TYPE: &'static str;
    /// Reads the `signed` object (its `_type` has been checked) from the
    /// exact text received, in one pass; the text also keeps the order of
    /// hash algorithms, which a parsed object would forget.
    fn from_signed(text: &str) -> Result<Self, String>;
    /// The shared fields.
    fn common(&self) -> &Common;
}

impl Document for Root {
    const TYPE: &'static str = "root";

    fn from_signed(text: &str) -> Result<Self, String> {
        let raw: RawRoot = from_text(text)?;
        let roles = raw
            .roles
            .into_iter()
            .map(|(name, role)| Ok((name, role.check()?)))
            .collect::<Result<HashMap<_, _>, String>>()?;
        let mut names: Vec<&str> = roles.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut expected = TOP_LEVEL_ROLES;
        expected.sort_unstable();
        if names != expected {
            return Err(format!(
                "'roles' must name exactly root, timestamp, snapshot and targets, found {}",
                names.join(", ")
            ));
        }
        Ok(Self {
            common: RawCommon::of(raw.spec_version, raw.version, raw.expires).check()?,
            consistent_snapshot: raw.consistent_snapshot.unwrap_or(false),
            keys: check_keys(raw.keys),
            roles,
        })
    }

    fn common(&self) -> &Common {
        &self.common
    }
}

impl Root {
    /// A top-level role (always present: checked when read).
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }
}

impl Document for Timestamp {
    const TYPE: &'static str = "timestamp";

    fn from_signed(text: &str) -> Result<Self, String> {
        let mut raw: RawTimestamp = from_text(text)?;
        let snapshot = raw
            .meta
            .remove("snapshot.json")
            .ok_or("'meta' has no 'snapshot.json' entry")?;
        Ok(Self {
            common: RawCommon::of(raw.spec_version, raw.version, raw.expires).check()?,
            snapshot: snapshot.check("snapshot.json")?,
        })
    }

    fn common(&self) -> &Common {
        &self.common
    }
}

impl Document for Snapshot {
    const TYPE: &'static str = "snapshot";

    fn from_signed(text: &str) -> Result<Self, String> {
        let raw: RawSnapshot = from_text(text)?;
        let meta = raw
            .meta
            .into_iter()
            .map(|(name, file)| {
                let file = file.check(&name)?;
                Ok((name, file))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            common: RawCommon::of(raw.spec_version, raw.version, raw.expires).check()?,
            meta,
        })
    }

    fn common(&self) -> &Common {
        &self.common
    }
}

impl Document for Targets {
    const TYPE: &'static str = "targets";

    fn from_signed(text: &str) -> Result<Self, String> {
        let raw: RawTargets = from_text(text)?;
        if let Some((path, _)) = raw.targets.iter().find(|(_, t)| t.hashes.0.is_empty()) {
            return Err(format!("target '{path}' has no hashes"));
        }
        Ok(Self {
            common: RawCommon::of(raw.spec_version, raw.version, raw.expires).check()?,
            targets: raw.targets,
            delegations: raw.delegations.map(RawDelegations::check).transpose()?,
        })
    }

    fn common(&self) -> &Common {
        &self.common
    }
}

impl Delegations {
    /// The roles trusted for `target_path`, in priority order, each with
    /// whether it is terminating.
    pub fn roles_for_target(&self, target_path: &str) -> Vec<(String, bool)> {
        if let Some(bins) = &self.succinct {
            return vec![(bins.role_for_target(target_path), true)];
        }
        self.roles
            .iter()
            .filter(|r| r.scope.covers(target_path))
            .map(|r| (r.name.clone(), r.terminating))
            .collect()
    }

    /// The keys and threshold of a role delegated here, by name.
    pub fn role(&self, name: &str) -> Option<&Role> {
        match &self.succinct {
            Some(bins) => bins.is_bin(name).then_some(&bins.role),
            None => self.roles.iter().find(|r| r.name == name).map(|r| &r.role),
        }
    }
}

impl Scope {
    /// Whether `target_path` is within this scope.
    pub fn covers(&self, target_path: &str) -> bool {
        match self {
            Scope::Paths(patterns) => patterns.iter().any(|p| path_matches(target_path, p)),
            Scope::HashPrefixes(prefixes) => {
                let digest = hex::encode(Sha256::digest(target_path.as_bytes()));
                prefixes.iter().any(|p| digest.starts_with(p.as_str()))
            }
            Scope::Nothing => false,
        }
    }
}

/// A delegation pattern matches when it has as many `/`-separated parts as
/// the path and each part matches as a shell glob, so `*` stays inside one
/// directory level.
fn path_matches(target_path: &str, pattern: &str) -> bool {
    let target_parts = target_path.split('/');
    let pattern_parts = pattern.split('/');
    target_parts.clone().count() == pattern_parts.clone().count()
        && target_parts
            .zip(pattern_parts)
            .all(|(t, p)| glob_match(p, t))
}

impl SuccinctRoles {
    fn suffix_len(&self) -> usize {
        let bins: u64 = 1 << self.bit_length;
        format!("{:x}", bins - 1).len()
    }

    /// The bin role for `target_path`.
    pub fn role_for_target(&self, target_path: &str) -> String {
        let digest = Sha256::digest(target_path.as_bytes());
        let first = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        let bin = u64::from(first) >> (32 - self.bit_length);
        format!(
            "{}-{:0width$x}",
            self.name_prefix,
            bin,
            width = self.suffix_len()
        )
    }

    /// Whether `name` is one of the bin roles.
    pub fn is_bin(&self, name: &str) -> bool {
        let Some(suffix) = name
            .strip_prefix(self.name_prefix.as_str())
            .and_then(|s| s.strip_prefix('-'))
        else {
            return false;
        };
        suffix.len() == self.suffix_len()
            && u64::from_str_radix(suffix, 16).is_ok_and(|bin| bin < (1u64 << self.bit_length))
    }
}

fn from_text<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

fn check_keys(keys: HashMap<String, RawKey>) -> HashMap<String, Key> {
    keys.into_iter()
        .map(|(id, raw)| {
            let public = raw.keyval.get("public").and_then(Value::as_str);
            let verifier = public.and_then(|p| Verifier::from_tuf(&raw.keytype, &raw.scheme, p));
            let key = Key {
                keytype: raw.keytype,
                scheme: raw.scheme,
                public: public.map(str::to_owned),
                verifier,
            };
            (id, key)
        })
        .collect()
}

struct RawCommon {
    spec_version: String,
    version: u64,
    expires: String,
}

impl RawCommon {
    fn of(spec_version: String, version: u64, expires: String) -> Self {
        Self {
            spec_version,
            version,
            expires,
        }
    }

    fn check(self) -> Result<Common, String> {
        let parts: Vec<&str> = self.spec_version.split('.').collect();
        if !(2..=3).contains(&parts.len())
            || !parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "spec_version '{}' is not a version number",
                self.spec_version
            ));
        }
        if parts[0] != SPEC_MAJOR {
            return Err(format!(
                "spec_version {} is not supported (this client implements TUF {SPEC_MAJOR}.x)",
                self.spec_version
            ));
        }
        if self.version == 0 {
            return Err("version must be at least 1".into());
        }
        let expires = UtcTime::parse(&self.expires).ok_or_else(|| {
            format!(
                "expires '{}' is not of the form 2030-01-01T00:00:00Z",
                self.expires
            )
        })?;
        Ok(Common {
            spec_version: self.spec_version,
            version: self.version,
            expires,
        })
    }
}

#[derive(Deserialize)]
struct RawKey {
    keytype: String,
    scheme: String,
    keyval: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct RawRole {
    keyids: Vec<String>,
    threshold: u64,
}

impl RawRole {
    fn check(self) -> Result<Role, String> {
        if self.threshold == 0 {
            return Err("threshold must be at least 1".into());
        }
        let unique: HashSet<&String> = self.keyids.iter().collect();
        if unique.len() != self.keyids.len() {
            return Err("keyids lists the same key twice".into());
        }
        Ok(Role {
            keyids: self.keyids,
            threshold: self.threshold,
        })
    }
}

#[derive(Deserialize)]
struct RawRoot {
    spec_version: String,
    version: u64,
    expires: String,
    consistent_snapshot: Option<bool>,
    keys: HashMap<String, RawKey>,
    roles: HashMap<String, RawRole>,
}

#[derive(Deserialize)]
struct RawMetaFile {
    version: u64,
    length: Option<u64>,
    hashes: Option<Hashes>,
}

impl RawMetaFile {
    fn check(self, name: &str) -> Result<MetaFile, String> {
        if self.version == 0 {
            return Err(format!("meta '{name}': version must be at least 1"));
        }
        if self.hashes.as_ref().is_some_and(|h| h.0.is_empty()) {
            return Err(format!("meta '{name}': hashes is empty"));
        }
        Ok(MetaFile {
            version: self.version,
            length: self.length,
            hashes: self.hashes,
        })
    }
}

#[derive(Deserialize)]
struct RawTimestamp {
    spec_version: String,
    version: u64,
    expires: String,
    meta: HashMap<String, RawMetaFile>,
}

#[derive(Deserialize)]
struct RawSnapshot {
    spec_version: String,
    version: u64,
    expires: String,
    meta: HashMap<String, RawMetaFile>,
}

#[derive(Deserialize)]
struct RawTargets {
    spec_version: String,
    version: u64,
    expires: String,
    targets: HashMap<String, TargetFile>,
    delegations: Option<RawDelegations>,
}

#[derive(Deserialize)]
struct RawDelegatedRole {
    name: String,
    keyids: Vec<String>,
    threshold: u64,
    terminating: bool,
    paths: Option<Vec<String>>,
    path_hash_prefixes: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawSuccinctRoles {
    keyids: Vec<String>,
    threshold: u64,
    bit_length: u32,
    name_prefix: String,
}

#[derive(Deserialize)]
struct RawDelegations {
    keys: HashMap<String, RawKey>,
    roles: Option<Vec<RawDelegatedRole>>,
    succinct_roles: Option<RawSuccinctRoles>,
}

impl RawDelegations {
    fn check(self) -> Result<Delegations, String> {
        let keys = check_keys(self.keys);
        match (self.roles, self.succinct_roles) {
            (Some(_), Some(_)) | (None, None) => {
                Err("delegations must have exactly one of 'roles' and 'succinct_roles'".into())
            }
            (None, Some(bins)) => {
                if !(1..=32).contains(&bins.bit_length) {
                    return Err("succinct_roles.bit_length must be 1 to 32".into());
                }
                let role = RawRole {
                    keyids: bins.keyids,
                    threshold: bins.threshold,
                }
                .check()?;
                Ok(Delegations {
                    keys,
                    roles: Vec::new(),
                    succinct: Some(SuccinctRoles {
                        role,
                        bit_length: bins.bit_length,
                        name_prefix: bins.name_prefix,
                    }),
                })
            }
            (Some(raw_roles), None) => {
                let mut seen = HashSet::new();
                let mut roles = Vec::with_capacity(raw_roles.len());
                for raw in raw_roles {
                    if raw.name.is_empty() || TOP_LEVEL_ROLES.contains(&raw.name.as_str()) {
                        return Err(format!("a delegated role may not be named '{}'", raw.name));
                    }
                    if !seen.insert(raw.name.clone()) {
                        return Err(format!("role '{}' is delegated twice", raw.name));
                    }
                    let scope = match (raw.paths, raw.path_hash_prefixes) {
                        (Some(_), Some(_)) => {
                            return Err(format!(
                                "role '{}' has both 'paths' and 'path_hash_prefixes'",
                                raw.name
                            ));
                        }
                        (Some(paths), None) => Scope::Paths(paths),
                        (None, Some(prefixes)) => Scope::HashPrefixes(prefixes),
                        (None, None) => Scope::Nothing,
                    };
                    let role = RawRole {
                        keyids: raw.keyids,
                        threshold: raw.threshold,
                    }
                    .check()
                    .map_err(|e| format!("role '{}': {e}", raw.name))?;
                    roles.push(DelegatedRole {
                        name: raw.name,
                        role,
                        terminating: raw.terminating,
                        scope,
                    });
                }
                Ok(Delegations {
                    keys,
                    roles,
                    succinct: None,
                })
            }
        }
    }
}

impl<'de> Deserialize<'de> for Hashes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Hashes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of algorithm → hex digest")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Hashes, A::Error> {
                let mut pairs: Vec<(String, String)> = Vec::new();
                while let Some((algorithm, digest)) = map.next_entry::<String, String>()? {
                    if pairs.iter().any(|(a, _)| *a == algorithm) {
                        return Err(de::Error::custom(format!(
                            "hash '{algorithm}' is listed twice"
                        )));
                    }
                    pairs.push((algorithm, digest));
                }
                Ok(Hashes(pairs))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}
