//! Content addresses: the BLAKE3 hash that names every blob, and the OCI
//! image id that names a loaded container image.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The BLAKE3 hash of a blob's bytes. Blobs are fetched and checked by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// Wraps a finished BLAKE3 hash.
    pub fn from_blake3(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }

    /// The hash whose bytes are `bytes` (as read from a hash sequence).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for BlobHash {
    type Err = String;

    /// Parses 64 lowercase hex digits, the only spelling we write.
    fn from_str(text: &str) -> Result<Self, String> {
        parse_lower_hex32(text)
            .map(Self)
            .ok_or_else(|| format!("'{text}' is not a BLAKE3 hash (64 lowercase hex digits)"))
    }
}

fn parse_lower_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

/// An OCI image id, `sha256:<hex>`: the digest of the image's config. Podman
/// reports it after loading an archive, so the orchestrator can refer to the
/// image by content rather than by a mutable tag.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageId([u8; 32]);

impl ImageId {
    /// The id of an image whose config blob has this SHA-256 digest.
    pub fn from_config_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }
}

impl FromStr for ImageId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.strip_prefix("sha256:")
            .and_then(parse_lower_hex32)
            .map(Self)
            .ok_or_else(|| {
                format!("'{text}' is not an image id ('sha256:' and 64 lowercase hex digits)")
            })
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageId({self})")
    }
}

macro_rules! serde_via_string {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_via_string!(BlobHash);
serde_via_string!(ImageId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_hash_round_trips_through_text() {
        let hash = BlobHash::of(b"hello");
        assert_eq!(hash.to_string(), blake3::hash(b"hello").to_hex().as_str());
        assert_eq!(hash.to_string().parse::<BlobHash>().unwrap(), hash);
    }

    #[test]
    fn uppercase_or_short_hex_is_not_a_hash() {
        let upper = BlobHash::of(b"x").to_string().to_uppercase();
        assert!(upper.parse::<BlobHash>().is_err());
        assert!("abcd".parse::<BlobHash>().is_err());
    }

    #[test]
    fn image_id_needs_its_algorithm_prefix() {
        let hex = "a".repeat(64);
        assert!(hex.parse::<ImageId>().is_err());
        assert_eq!(
            format!("sha256:{hex}")
                .parse::<ImageId>()
                .unwrap()
                .to_string(),
            format!("sha256:{hex}")
        );
    }
}
