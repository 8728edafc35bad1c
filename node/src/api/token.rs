//! The API's bearer token: 32 random bytes in hex, in `api.token` in the
//! data directory (mode 0600), made on first run. Whoever can read the
//! node's data may use its API; nobody else can guess the token.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Length of the token in bytes (64 hex digits).
const TOKEN_BYTES: usize = 32;

/// The token a request must carry.
#[derive(Clone)]
pub struct ApiToken {
    /// The token's hash: requests are compared by hash, so the comparison
    /// takes the same time wherever a guess first differs.
    hash: blake3::Hash,
}

/// The token file could not be made or read.
#[derive(Debug, thiserror::Error)]
#[error("API token {path}: {reason}")]
pub struct TokenError {
    path: String,
    reason: String,
}

impl ApiToken {
    /// Reads the token at `path`, making it first if it does not exist.
    /// Returns the token and its text.
    pub fn load_or_create(path: &Path) -> Result<(Self, String), TokenError> {
        let failed = |reason: String| TokenError {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mode = std::fs::metadata(path)
                    .map_err(|e| failed(e.to_string()))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(failed(format!(
                        "others may read it (mode {:o}); chmod 600 it",
                        mode & 0o777
                    )));
                }
                let text = text.trim().to_owned();
                if text.len() != 2 * TOKEN_BYTES || hex::decode(&text).is_err() {
                    return Err(failed(format!(
                        "is not {} hex digits; delete it and a new one is made",
                        2 * TOKEN_BYTES
                    )));
                }
                Ok((Self::of(&text), text))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; TOKEN_BYTES];
                getrandom::fill(&mut bytes).map_err(|e| failed(e.to_string()))?;
                let text = hex::encode(bytes);
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| failed(e.to_string()))?;
                file.write_all(format!("{text}\n").as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| failed(e.to_string()))?;
                Ok((Self::of(&text), text))
            }
            Err(e) => Err(failed(e.to_string())),
        }
    }

    fn of(text: &str) -> Self {
        Self {
            hash: blake3::hash(text.as_bytes()),
        }
    }

    /// Whether `presented` is the token.
    pub fn accepts(&self, presented: &str) -> bool {
        // blake3::Hash compares in constant time.
        blake3::hash(presented.as_bytes()) == self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_0600_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("api.token");
        let (token, text) = ApiToken::load_or_create(&path).expect("made");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, same) = ApiToken::load_or_create(&path).expect("read");
        assert_eq!(text, same);
        assert!(token.accepts(&text) && again.accepts(&text));
        assert!(!token.accepts(&text[1..]) && !token.accepts(""));
    }

    #[test]
    fn a_token_others_may_read_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("api.token");
        ApiToken::load_or_create(&path).expect("made");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = ApiToken::load_or_create(&path).err().expect("refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
