//! The crate's one error type.

use std::path::PathBuf;

use crate::manifest::Diagnostics;

/// Everything that can go wrong reading, packing, signing or verifying a
/// manifest. Each variant names the file or field and the reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest breaks the schema or its rules; every problem is listed.
    #[error("{0}")]
    Manifest(#[from] Diagnostics),
    /// A `podman save` archive is missing, unreadable or not an image archive.
    #[error("image archive {}: {reason}", path.display())]
    Archive {
        /// The archive file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file the manifest names (its icon) cannot be read.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A signature, DID or key problem.
    #[error(transparent)]
    Trust(#[from] archy_trust::Error),
    /// The manifest's signer does not speak for its `publisher`.
    #[error(
        "manifest publisher is {publisher} but it is signed by {signer}, which is neither that DID nor a key of its catalog's current root: sign with the publisher's key (or a key its catalog rotated in), or fix 'publisher'"
    )]
    PublisherMismatch {
        /// The manifest's `publisher` field.
        publisher: String,
        /// The signing DID.
        signer: String,
    },
    /// A manifest taken as one publisher's names another.
    #[error("the manifest names publisher {named}, not {expected} whose release it was taken as")]
    WrongPublisher {
        /// The manifest's `publisher` field.
        named: String,
        /// The publisher it was fetched or opened for.
        expected: String,
    },
}
