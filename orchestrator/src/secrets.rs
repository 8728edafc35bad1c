//! Generated secrets: made at install as the manifest declares, stored 0600
//! in the app's secrets dir, mounted read-only into the containers that name
//! them. A secret that already exists is kept, so a reinstall finds the data
//! it protects still usable. Values are never logged: nothing here formats
//! one into a message.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use archy_registry::manifest::{Charset, GeneratedSecret};

use crate::error::Error;
use crate::plan::secret_file;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// A random secret of `length` characters from `charset`, without modulo
/// bias (bytes past the largest multiple of the alphabet size are redrawn).
pub fn generate(length: usize, charset: Charset) -> Result<String, Error> {
    let alphabet = match charset {
        Charset::Alphanumeric => ALPHANUMERIC,
        Charset::Hex => HEX,
    };
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 64];
    while out.len() < length {
        getrandom::fill(&mut buf).map_err(|e| Error::File {
            path: "/dev/urandom".into(),
            reason: format!("no randomness for a secret: {e}"),
        })?;
        for &b in buf.iter().filter(|&&b| usize::from(b) < limit) {
            if out.len() == length {
                break;
            }
            out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
        }
    }
    Ok(out)
}

/// Makes sure every declared secret exists in `app_dir/secrets`, 0600, in a
/// 0700 directory. Returns how many were created.
pub fn ensure(app_dir: &Path, declared: &[GeneratedSecret]) -> Result<usize, Error> {
    let dir = app_dir.join("secrets");
    std::fs::create_dir_all(&dir).map_err(|e| Error::file(&dir, e))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::file(&dir, e))?;
    let mut created = 0;
    for secret in declared {
        let path = secret_file(app_dir, &secret.name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::file(&path, e))?;
            continue;
        }
        let value = generate(secret.length.into(), secret.charset)?;
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::file(&tmp, e))?;
        file.write_all(value.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::file(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::file(&path, e))?;
        created += 1;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_declared_shape_and_differ() {
        let a = generate(32, Charset::Alphanumeric).unwrap();
        let b = generate(32, Charset::Alphanumeric).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        let h = generate(100, Charset::Hex).unwrap();
        assert!(
            h.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn files_are_0600_and_kept_across_calls() {
        let dir = tempfile::tempdir().unwrap();
        let declared = [GeneratedSecret {
            name: "token".into(),
            length: 20,
            charset: Charset::Hex,
        }];
        assert_eq!(ensure(dir.path(), &declared).unwrap(), 1);
        let path = dir.path().join("secrets/token");
        let first = std::fs::read_to_string(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(dir.path().join("secrets"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(ensure(dir.path(), &declared).unwrap(), 0);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    }
}
