//! How the client reaches a repository. The update workflow only asks for
//! files by name; an HTTP server, an iroh peer or a test fixture answers.

use std::future::Future;

/// Where metadata and target files come from. Implementations must refuse
/// to return more than `max_len` bytes and must bound every call in time.
pub trait Transport: Send + Sync {
    /// A metadata file by name: `timestamp.json`, `3.root.json`,
    /// `12.snapshot.json`, `5.my%2Frole.json`.
    fn fetch_metadata(
        &self,
        file_name: &str,
        max_len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;

    /// `timestamp.json`, with the newest root version the source has when
    /// it can say so in the same answer (`archy catalog serve` does, in the
    /// [`ROOT_VERSION_HEADER`] header). Knowing it spares the separate probe
    /// for root N+1 and is no weaker: a source that withholds a newer root
    /// could as well answer that probe with 404.
    fn fetch_timestamp(
        &self,
        max_len: u64,
    ) -> impl Future<Output = Result<Timestamped, FetchError>> + Send {
        async move {
            Ok(Timestamped {
                bytes: self.fetch_metadata("timestamp.json", max_len).await?,
                newest_root: None,
            })
        }
    }

    /// A target file by its path under the targets base, already including
    /// any consistent-snapshot hash prefix (`apps/HASH.release.json`).
    fn fetch_target(
        &self,
        path: &str,
        max_len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

/// HTTP header on `timestamp.json` naming the newest root version served.
pub const ROOT_VERSION_HEADER: &str = "x-archy-root-version";

/// `timestamp.json` and, when the source says, its newest root version.
#[derive(Debug, Clone)]
pub struct Timestamped {
    /// The timestamp file as received.
    pub bytes: Vec<u8>,
    /// The newest root version the source has, if it told.
    pub newest_root: Option<u64>,
}

/// Why a file could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The source does not have the file (HTTP 403/404). For the next root
    /// version this is the normal "no newer root" answer.
    #[error("{0} does not exist on the server")]
    NotFound(String),
    /// The file is longer than it may be (endless-data protection).
    #[error(
        "{url} is longer than the {limit} bytes allowed; stopped reading (endless-data protection)"
    )]
    TooLong {
        /// Where.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// Any other failure: connection, timeout, unexpected status.
    #[error("{url}: {reason}")]
    Failed {
        /// Where.
        url: String,
        /// What happened.
        reason: String,
    },
}

/// A role name as it appears in file names and URLs: percent-encoded with
/// nothing left unescaped but `A-Z a-z 0-9 _ . - ~`, as python-tuf does, so
/// `a/b` cannot climb directories.
pub fn encode_role(role: &str) -> String {
    let mut out = String::with_capacity(role.len());
    for b in role.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_role;

    #[test]
    fn role_names_are_percent_encoded() {
        assert_eq!(encode_role("targets"), "targets");
        assert_eq!(encode_role("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_role("../x"), "..%2Fx");
        assert_eq!(encode_role("é"), "%C3%A9");
    }
}
