//! What a publisher's `targets.json` (as it signed it, and as a node's TUF
//! client verified and kept it) says of its app releases: each target
//! `apps/ID/VERSION.json` carries, in `custom`, the release's version, its
//! blobs, its release root, its notes and whether it was yanked.

use serde::{Deserialize, Serialize};

use crate::BlobHash;
use crate::catalog::release::BlobRef;
use crate::tuf::metadata::{TargetFile, Targets};
use crate::tuf::signed::Envelope;

/// The `custom` part of an app release's target.
#[derive(Deserialize)]
pub struct ReleaseCustom {
    /// The release's version.
    pub version: String,
    /// The blobs it needs.
    pub blobs: Vec<BlobRef>,
    /// Its release root (the hash sequence of document and blobs).
    pub release: Option<BlobHash>,
    /// What changed in it.
    #[serde(default)]
    pub notes: Option<String>,
    /// Why and when its publisher yanked it, if it did.
    #[serde(default)]
    pub yanked: Option<serde_json::Value>,
}

/// Reads the release facts of target `path`; the error says why it is not
/// an app release.
pub fn read_custom(path: &str, target: &TargetFile) -> Result<ReleaseCustom, String> {
    let raw = target
        .custom
        .as_ref()
        .ok_or_else(|| format!("{path} is not an app release"))?;
    serde_json::from_str(raw.get()).map_err(|e| format!("{path} is not an app release: {e}"))
}

/// How many app releases `targets` marks yanked: a fact the owner's trust
/// shows about the publisher.
pub fn yanked_releases(targets: &[u8]) -> Result<u32, String> {
    let targets = Envelope::<Targets>::parse(targets)?;
    let yanked = targets
        .doc
        .targets
        .iter()
        .filter(|(path, file)| {
            path.starts_with("apps/") && read_custom(path, file).is_ok_and(|c| c.yanked.is_some())
        })
        .count();
    Ok(u32::try_from(yanked).unwrap_or(u32::MAX))
}

/// One published version of an app, for the versions list a user reads
/// before installing or updating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppVersion {
    /// Its semantic version.
    pub version: String,
    /// What changed in it, as its publisher wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Why its publisher yanked it, if it did (a yanked version is not
    /// offered for new installs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
}

/// Every version of app `app` that `targets` lists, newest first (by
/// semantic version; a target whose version does not parse is left out).
pub fn app_versions(targets: &[u8], app: &str) -> Result<Vec<AppVersion>, String> {
    let targets = Envelope::<Targets>::parse(targets)?;
    let prefix = format!("apps/{app}/");
    let mut versions: Vec<(semver::Version, AppVersion)> = targets
        .doc
        .targets
        .iter()
        .filter(|(path, _)| path.starts_with(&prefix))
        .filter_map(|(path, file)| {
            let custom = read_custom(path, file).ok()?;
            let parsed = semver::Version::parse(&custom.version).ok()?;
            let yanked = custom
                .yanked
                .map(|y| y["reason"].as_str().unwrap_or("no reason given").to_owned());
            Some((
                parsed,
                AppVersion {
                    version: custom.version,
                    notes: custom.notes,
                    yanked,
                },
            ))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(versions.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<u8> {
        let release = |version: &str, yanked: bool, notes: Option<&str>| {
            let mut custom = serde_json::json!({"version": version, "blobs": []});
            if yanked {
                custom["yanked"] =
                    serde_json::json!({"reason": "broken", "at": "2026-01-01T00:00:00Z"});
            }
            if let Some(notes) = notes {
                custom["notes"] = serde_json::json!(notes);
            }
            serde_json::json!({"length": 1, "hashes": {"sha256": "00".repeat(32)}, "custom": custom})
        };
        let targets = serde_json::json!({
            "signed": {
                "_type": "targets",
                "spec_version": "1.0.31",
                "version": 3,
                "expires": "2030-01-01T00:00:00Z",
                "targets": {
                    "apps/notes/1.0.0.json": release("1.0.0", true, None),
                    "apps/notes/1.0.1.json": release("1.0.1", false, Some("Fixes saving.")),
                    "apps/notes/1.0.10.json": release("1.0.10", false, None),
                    "apps/wiki/2.0.0.json": release("2.0.0", true, None),
                    "icons/notes.png": {"length": 1, "hashes": {"sha256": "00".repeat(32)}},
                }
            },
            "signatures": []
        });
        serde_json::to_vec(&targets).unwrap()
    }

    #[test]
    fn yanked_releases_counts_the_app_releases_marked_yanked() {
        assert_eq!(yanked_releases(&targets()), Ok(2));
        assert!(yanked_releases(b"{}").is_err());
    }

    #[test]
    fn app_versions_lists_one_app_newest_first_with_notes_and_yanks() {
        let versions = app_versions(&targets(), "notes").unwrap();
        let listed: Vec<_> = versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(listed, ["1.0.10", "1.0.1", "1.0.0"]);
        assert_eq!(versions[1].notes.as_deref(), Some("Fixes saving."));
        assert_eq!(versions[2].yanked.as_deref(), Some("broken"));
        assert!(app_versions(&targets(), "note").unwrap().is_empty());
    }
}
