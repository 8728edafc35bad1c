//! What can go wrong updating a catalog, said so a person can act on it.

use super::time::{UtcTime, human_duration};
use super::transport::FetchError;

/// A failed catalog update or download. Every message names the role or
/// file, what was wrong and, where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A metadata file could not be read as what it claims to be.
    #[error("{role} metadata is malformed: {reason}")]
    Malformed {
        /// The role (`root`, `timestamp`, a delegated role…).
        role: String,
        /// What is wrong.
        reason: String,
    },
    /// Too few of the role's keys signed the file.
    #[error(
        "{role} metadata carries {signed} valid signature(s) from its trusted keys but needs {threshold}: it was not signed by the publisher's current keys, so it is refused (forged or tampered metadata, or a key rotation the publisher did not sign with the old keys)"
    )]
    Unsigned {
        /// The role.
        role: String,
        /// Valid signatures from distinct trusted keys.
        signed: u64,
        /// Signatures required.
        threshold: u64,
    },
    /// The file's expiry has passed.
    #[error("{role} expired {} ago ({expires}): {}", human_duration(now.unix() - expires.unix()), expiry_advice(role))]
    Expired {
        /// The role.
        role: String,
        /// When it expired.
        expires: UtcTime,
        /// The client's reference time.
        now: UtcTime,
    },
    /// A newer version than this was already trusted.
    #[error(
        "{role} version {offered} is older than version {trusted}, which this node already trusts: refusing a rollback (a mirror or attacker is replaying old metadata)"
    )]
    Rollback {
        /// The role.
        role: String,
        /// The version already trusted.
        trusted: u64,
        /// The version offered.
        offered: u64,
    },
    /// The version is not the one its referrer names.
    #[error(
        "{role} is version {found} but {referrer} says version {expected}: the catalog is inconsistent (mix-and-match of metadata from different moments)"
    )]
    VersionMismatch {
        /// The role.
        role: String,
        /// Which document named the version (`timestamp`, `snapshot`, `root`).
        referrer: &'static str,
        /// The version named.
        expected: u64,
        /// The version received.
        found: u64,
    },
    /// A role the trusted snapshot listed is missing from the new one.
    #[error("the new snapshot no longer lists {file}, which the trusted one did: refusing it")]
    RemovedFromSnapshot {
        /// The metadata file name.
        file: String,
    },
    /// A delegated role is not in the snapshot.
    #[error(
        "role {role} is delegated but the snapshot does not list it: the publisher's catalog is incomplete"
    )]
    NotInSnapshot {
        /// The role.
        role: String,
    },
    /// Downloaded bytes do not match the length or hashes they must have.
    #[error("{what}: {reason}")]
    LengthOrHash {
        /// The file.
        what: String,
        /// Which check failed.
        reason: String,
    },
    /// A download failed.
    #[error("cannot download {what}: {source}")]
    Fetch {
        /// The file.
        what: String,
        /// Why.
        source: FetchError,
    },
    /// The local trusted-metadata store failed.
    #[error("trusted metadata store {location}: {reason}")]
    Store {
        /// The file, directory or database entry.
        location: String,
        /// What went wrong.
        reason: String,
    },
}

fn expiry_advice(role: &str) -> &'static str {
    match role {
        "root" => {
            "the publisher's root of trust is out of date (freeze protection); ask them to sign a new root version"
        }
        _ => "the publisher's catalog is stale (freeze protection); ask them to re-sign or wait",
    }
}
