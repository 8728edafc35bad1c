//! Identities on disk.
//!
//! A key file is a short text file:
//!
//! ```text
//! # archy identity: did:key:z6Mk…
//! archy-ed25519-seed-v1 <64 hex digits>
//! ```
//!
//! Lines starting with `#` are comments for people. Files are created with
//! mode 0600 and never overwritten; loading a file that group or others can
//! read is refused, as ssh refuses a private key with open permissions.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::{Error, Identity};

const SEED_TAG: &str = "archy-ed25519-seed-v1";
/// A key file is under 200 bytes; anything far larger is not one.
const MAX_KEY_FILE_BYTES: u64 = 4096;

fn key_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::KeyFile {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Writes `identity` to a new file at `path` with mode 0600. Refuses to
/// replace an existing file, so a key is never lost by a slip of the hand.
pub fn create(path: &Path, identity: &Identity) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => key_error(
                path,
                "already exists; refusing to overwrite a key (move it away first)",
            ),
            _ => key_error(path, format!("cannot create: {e}")),
        })?;
    let text = Zeroizing::new(format!(
        "# archy identity: {}\n# keep this file secret: whoever holds it can sign as this identity\n{SEED_TAG} {}\n",
        identity.did(),
        hex::encode(identity.seed())
    ));
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| key_error(path, format!("cannot write: {e}")))
}

/// Reads the identity in `path`, refusing files that group or others may read.
pub fn load(path: &Path) -> Result<Identity, Error> {
    let file = fs::File::open(path).map_err(|e| key_error(path, format!("cannot open: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| key_error(path, format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(key_error(path, "is not a regular file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(key_error(
            path,
            format!(
                "permissions {mode:04o} are too open: a private key must not be readable by others. \
                 Run: chmod 600 {}",
                path.display()
            ),
        ));
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| key_error(path, format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(key_error(
            path,
            format!("larger than {MAX_KEY_FILE_BYTES} bytes: not an archy key file"),
        ));
    }
    parse(&text).map_err(|reason| key_error(path, reason))
}

fn parse(text: &str) -> Result<Identity, String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (index, line) = lines
        .next()
        .ok_or_else(|| format!("no '{SEED_TAG}' line: not an archy key file"))?;
    let lineno = index + 1;
    let seed_hex = line
        .strip_prefix(SEED_TAG)
        .map(str::trim)
        .ok_or_else(|| format!("line {lineno}: expected '{SEED_TAG} <64 hex digits>'"))?;
    let bytes = Zeroizing::new(
        hex::decode(seed_hex).map_err(|e| format!("line {lineno}: seed is not hex: {e}"))?,
    );
    let seed: &[u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("line {lineno}: seed has {} bytes, expected 32", bytes.len()))?;
    if let Some((extra, _)) = lines.next() {
        return Err(format!(
            "line {}: unexpected content after the seed",
            extra + 1
        ));
    }
    Ok(Identity::from_seed(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_0600_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.key");
        let id = Identity::generate().unwrap();
        create(&path, &id).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load(&path).unwrap().did(), id.did());
    }

    #[test]
    fn existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.key");
        create(&path, &Identity::generate().unwrap()).unwrap();
        let err = create(&path, &Identity::generate().unwrap()).unwrap_err();
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    }

    #[test]
    fn group_or_world_readable_file_is_refused_like_ssh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.key");
        create(&path, &Identity::generate().unwrap()).unwrap();
        for mode in [0o640, 0o604, 0o644] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = load(&path).unwrap_err().to_string();
            assert!(err.contains("too open"), "{err}");
            assert!(err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        assert!(parse("").unwrap_err().contains("not an archy key file"));
        assert!(parse("ssh-ed25519 AAAA").unwrap_err().contains("line 1"));
        assert!(
            parse("archy-ed25519-seed-v1 zz")
                .unwrap_err()
                .contains("not hex")
        );
        assert!(
            parse("archy-ed25519-seed-v1 abcd")
                .unwrap_err()
                .contains("2 bytes")
        );
        let two = format!("{SEED_TAG} {}\nmore", "00".repeat(32));
        assert!(parse(&two).unwrap_err().contains("line 2"));
    }
}
