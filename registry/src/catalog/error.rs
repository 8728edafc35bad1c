//! What can go wrong editing a publisher's catalog.

use std::path::PathBuf;

/// A failed catalog edit. Messages say what is wrong; the variants a front
/// end can advise on (no catalog, no such release, too few keys) are their
/// own, so that it can add the command that helps.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the repository could not be read or written.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The directory holds no catalog: its settings file cannot be read.
    #[error("{}: {reason} (is this a catalog?)", path.display())]
    NoCatalog {
        /// The settings file looked for.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// The repository's files are not what `archy catalog` writes.
    #[error("catalog {}: {reason}", dir.display())]
    Corrupt {
        /// The repository.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Not enough of a role's keys were given to sign it.
    #[error(
        "signing {role} needs {threshold} of its keys but only {given} of the keys given belong to it"
    )]
    NotEnoughKeys {
        /// The role.
        role: String,
        /// Signatures needed.
        threshold: u64,
        /// Matching keys given.
        given: u64,
    },
    /// The catalog lists no such release.
    #[error("{app} {version} is not in this catalog")]
    NoSuchRelease {
        /// The app id.
        app: String,
        /// The version asked for.
        version: String,
    },
    /// A request that makes no sense for this catalog.
    #[error("{0}")]
    Invalid(String),
    /// A release document or its manifest is not acceptable.
    #[error("release: {0}")]
    Release(String),
    /// The manifest failed verification.
    #[error(transparent)]
    Manifest(#[from] crate::Error),
    /// A signing or canonical-form problem.
    #[error(transparent)]
    Trust(#[from] archy_trust::Error),
}
