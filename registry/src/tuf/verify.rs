//! Length and hash checks on downloaded bytes.

use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::error::Error;
use super::metadata::Hashes;

/// Checks `bytes` against an expected length and hashes (each optional).
/// Every listed hash must match; an algorithm this client does not know
/// fails the check rather than being skipped.
pub fn check_length_and_hashes(
    what: &str,
    length: Option<u64>,
    hashes: Option<&Hashes>,
    bytes: &[u8],
) -> Result<(), Error> {
    let fail = |reason: String| Error::LengthOrHash {
        what: what.to_owned(),
        reason,
    };
    if let Some(length) = length
        && bytes.len() as u64 != length
    {
        return Err(fail(format!(
            "is {} bytes but should be {length}: the download is corrupt or was tampered with",
            bytes.len()
        )));
    }
    for (algorithm, expected) in hashes.map(|h| h.0.as_slice()).unwrap_or_default() {
        let actual = digest(algorithm, bytes).ok_or_else(|| {
            fail(format!(
                "hash algorithm '{algorithm}' is not supported (sha224, sha256, sha384, sha512 are)"
            ))
        })?;
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(fail(format!(
                "{algorithm} is {actual} but should be {expected}: the download is corrupt or was tampered with"
            )));
        }
    }
    Ok(())
}

fn digest(algorithm: &str, bytes: &[u8]) -> Option<String> {
    Some(match algorithm {
        "sha224" => hex::encode(Sha224::digest(bytes)),
        "sha256" => hex::encode(Sha256::digest(bytes)),
        "sha384" => hex::encode(Sha384::digest(bytes)),
        "sha512" => hex::encode(Sha512::digest(bytes)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(pairs: &[(&str, &str)]) -> Hashes {
        Hashes(
            pairs
                .iter()
                .map(|(a, d)| ((*a).to_owned(), (*d).to_owned()))
                .collect(),
        )
    }

    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn matching_bytes_pass() {
        let h = hashes(&[("sha256", ABC_SHA256)]);
        check_length_and_hashes("x", Some(3), Some(&h), b"abc").unwrap();
        check_length_and_hashes("x", None, None, b"anything").unwrap();
    }

    #[test]
    fn wrong_length_hash_or_algorithm_fail() {
        let h = hashes(&[("sha256", ABC_SHA256)]);
        assert!(check_length_and_hashes("x", Some(4), Some(&h), b"abc").is_err());
        assert!(check_length_and_hashes("x", None, Some(&h), b"abd").is_err());
        let unknown = hashes(&[("md5", "900150983cd24fb0d6963f7d28e17f72")]);
        assert!(check_length_and_hashes("x", None, Some(&unknown), b"abc").is_err());
    }
}
