//! What can go wrong in the swarm, each saying what and where.

use crate::tuf;

/// A swarm failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The blob store could not be opened or used.
    #[error("blob store {location}: {reason}")]
    Store {
        /// The store directory, or the blob.
        location: String,
        /// What happened.
        reason: String,
    },
    /// Another process holds the blob store.
    #[error("blob store {location}: it is in use by another archy process (a running node?)")]
    StoreBusy {
        /// The store directory.
        location: String,
    },
    /// The iroh endpoint could not start.
    #[error("cannot start the network endpoint: {0}")]
    Endpoint(String),
    /// A ticket could not be read.
    #[error("ticket '{ticket}' is not valid: {reason}")]
    Ticket {
        /// The first characters of the ticket.
        ticket: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The publisher's metadata could not be refreshed from any source.
    #[error("could not refresh {publisher}'s catalog from any source:\n{}", .attempts.join("\n"))]
    NoSource {
        /// The publisher DID.
        publisher: String,
        /// One line per source tried: who, and why it failed.
        attempts: Vec<String>,
    },
    /// The catalog has no such release.
    #[error("{0}")]
    NotInCatalog(String),
    /// TUF verification failed.
    #[error(transparent)]
    Tuf(#[from] tuf::Error),
    /// The bytes of a release did not match what the catalog names.
    #[error("release {release} of {target}: {reason}")]
    Release {
        /// The target path.
        target: String,
        /// The release root hash.
        release: String,
        /// What did not match.
        reason: String,
    },
    /// The blob transfer failed.
    #[error("download of {what} failed: {reason}")]
    Download {
        /// What was being downloaded.
        what: String,
        /// Why.
        reason: String,
    },
    /// An operation took longer than allowed.
    #[error("{what} did not finish within {seconds} s")]
    Timeout {
        /// The operation.
        what: String,
        /// The limit.
        seconds: u64,
    },
}

impl Error {
    /// A blob-store error at `location`.
    pub(crate) fn store(location: impl std::fmt::Display, reason: impl std::fmt::Display) -> Self {
        Self::Store {
            location: location.to_string(),
            reason: reason.to_string(),
        }
    }
}
