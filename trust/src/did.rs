//! `did:key` for Ed25519: the public name of every node and publisher.
//!
//! A did:key is `did:key:` + multibase base58btc (`z`) of the multicodec
//! prefix for an Ed25519 public key (`0xed 0x01`) followed by the 32 key
//! bytes. We implement it here rather than pull in a DID crate: the format is
//! small, and the common crate drags in an old, advisory-laden dalek.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex, PoisonError};

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::canonical::to_canonical_json;
use crate::error::{DidProblem, Error};

const DID_KEY_PREFIX: &str = "did:key:";
const MULTIBASE_BASE58BTC: char = 'z';
const MULTICODEC_ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Longest did:key text we try to decode; a valid one has 56 characters.
/// Base58 decoding is quadratic, so huge inputs are refused before it.
const MAX_DID_LEN: usize = 128;
/// Most parsed DIDs remembered; the memory is cleared when it is full.
const PARSED_CACHE_LIMIT: usize = 4096;

/// DIDs parsed recently. Parsing decompresses an Ed25519 point (several µs,
/// as much as a tenth of a signature check), and a node meets the same few
/// publishers over and over. Only valid DIDs are remembered.
static PARSED: LazyLock<Mutex<HashMap<String, Did>>> = LazyLock::new(Default::default);

/// An Ed25519 public key that has been checked to be a usable point.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads 32 raw bytes, refusing invalid and small-order points, which
    /// would let anyone forge signatures that "verify".
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, DidProblem> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| DidProblem::InvalidKey)?;
        if key.is_weak() {
            return Err(DidProblem::InvalidKey);
        }
        Ok(Self(key))
    }

    /// The dalek key, for checks done many at a time
    /// ([`archy_sigbatch::ed25519`]).
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// The 32 raw key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Checks `signature` over `message` with strict Ed25519 rules (no
    /// malleable or small-order signatures). Returns false on any failure.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }

    /// This key as TUF metadata lists it (securesystemslib's encoding):
    /// `{"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": hex}}`.
    pub fn tuf_key(&self) -> serde_json::Value {
        serde_json::json!({
            "keytype": "ed25519",
            "keyval": { "public": hex::encode(self.to_bytes()) },
            "scheme": "ed25519",
        })
    }

    /// The TUF key id of this key: SHA-256 of the canonical JSON of its TUF
    /// key object. The same id names the key in envelopes and in catalogs.
    pub fn tuf_keyid(&self) -> String {
        let canonical = to_canonical_json(&self.tuf_key())
            .expect("an object of ASCII strings always has a canonical form");
        hex::encode(Sha256::digest(canonical))
    }

    pub(crate) fn from_verifying_key(key: VerifyingKey) -> Self {
        Self(key)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.to_bytes()))
    }
}

/// A valid `did:key` naming an Ed25519 public key. Only valid DIDs can be
/// built, so holding a `Did` means holding a usable key.
#[derive(Clone)]
pub struct Did {
    key: PublicKey,
    text: String,
    tuf_keyid: String,
}

impl PartialEq for Did {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Did {}

impl Did {
    /// The DID that names `key`.
    pub fn from_public_key(key: PublicKey) -> Self {
        let mut bytes = Vec::with_capacity(34);
        bytes.extend_from_slice(&MULTICODEC_ED25519_PUB);
        bytes.extend_from_slice(&key.to_bytes());
        let text = format!(
            "{DID_KEY_PREFIX}{MULTIBASE_BASE58BTC}{}",
            bs58::encode(bytes).into_string()
        );
        Self::new(key, text)
    }

    fn new(key: PublicKey, text: String) -> Self {
        Self {
            tuf_keyid: key.tuf_keyid(),
            key,
            text,
        }
    }

    /// The TUF key id of this DID's key, computed once.
    pub fn tuf_keyid(&self) -> &str {
        &self.tuf_keyid
    }

    /// The public key this DID names.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The DID text, `did:key:z6Mk…`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Did {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let remembered = PARSED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(text)
            .cloned();
        if let Some(did) = remembered {
            return Ok(did);
        }
        let did = parse(text).map_err(|problem| Error::InvalidDid {
            did: shorten(text),
            problem,
        })?;
        let mut cache = PARSED.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= PARSED_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(text.to_owned(), did.clone());
        Ok(did)
    }
}

fn parse(text: &str) -> Result<Did, DidProblem> {
    if text.len() > MAX_DID_LEN {
        return Err(DidProblem::TooLong(text.len()));
    }
    let encoded = text
        .strip_prefix(DID_KEY_PREFIX)
        .ok_or(DidProblem::WrongPrefix)?;
    let base58 = encoded
        .strip_prefix(MULTIBASE_BASE58BTC)
        .ok_or(DidProblem::NotBase58Btc)?;
    let bytes = bs58::decode(base58)
        .into_vec()
        .map_err(|e| DidProblem::BadBase58(e.to_string()))?;
    if bytes.len() < 2 || bytes[..2] != MULTICODEC_ED25519_PUB {
        let codec = bytes.iter().take(2).map(|b| format!("{b:02x}")).collect();
        return Err(DidProblem::WrongCodec(codec));
    }
    let key: [u8; 32] = bytes[2..]
        .try_into()
        .map_err(|_| DidProblem::WrongLength(bytes.len() - 2))?;
    let key = PublicKey::from_bytes(&key)?;
    // Base58 spells each number once, except that leading '1's encode
    // leading zero bytes. The bytes start with 0xed, so a canonical spelling
    // has no leading '1': one key, exactly one DID.
    if base58.starts_with('1') {
        return Err(DidProblem::BadBase58("not the canonical encoding".into()));
    }
    Ok(Did::new(key, text.to_owned()))
}

/// Keeps error messages readable when someone feeds in a huge string.
fn shorten(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Did({})", self.text)
    }
}

impl Serialize for Did {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Did {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Identity;

    /// W3C CCG did:key test vectors for Ed25519 (w3c-ccg/did-method-key,
    /// test-vectors/ed25519-x25519.json): seed, DID, publicKeyBase58.
    const W3C_VECTORS: [(&str, &str, &str); 5] = [
        (
            "0000000000000000000000000000000000000000000000000000000000000000",
            "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
            "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000001",
            "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
            "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000002",
            "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf",
            "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000003",
            "did:key:z6MkvqoYXQfDDJRv8L4wKzxYeuKyVZBfi9Qo6Ro8MiLH3kDQ",
            "HPYVwAQmskwT1qEEeRzhoomyfyupJGASQQtCXSNG8XS2",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000004",
            "did:key:z6MkwW6aqMnjgrhJXFUko3NnZPGzVpkNzhYK7yEhnsibmLwL",
            "J3qYF7YJMKCqQke47UQwiHizgFUXapHxRxKmxbkar89x",
        ),
    ];

    fn seed(hex_seed: &str) -> [u8; 32] {
        hex::decode(hex_seed).unwrap().try_into().unwrap()
    }

    #[test]
    fn w3c_vectors_encode_from_seed() {
        for (seed_hex, did, _) in W3C_VECTORS {
            let identity = Identity::from_seed(&seed(seed_hex));
            assert_eq!(identity.did().as_str(), did);
        }
    }

    #[test]
    fn w3c_vectors_parse_to_their_public_key() {
        for (_, did, key_b58) in W3C_VECTORS {
            let parsed: Did = did.parse().unwrap();
            let expected = bs58::decode(key_b58).into_vec().unwrap();
            assert_eq!(parsed.public_key().to_bytes().as_slice(), expected);
            assert_eq!(parsed.to_string(), did);
        }
    }

    fn problem(text: &str) -> DidProblem {
        match text.parse::<Did>() {
            Err(Error::InvalidDid { problem, .. }) => problem,
            other => panic!("expected InvalidDid for {text}, got {other:?}"),
        }
    }

    #[test]
    fn wrong_prefix_is_named() {
        assert_eq!(
            problem("did:web:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"),
            DidProblem::WrongPrefix
        );
    }

    #[test]
    fn other_multibase_is_named() {
        assert_eq!(problem("did:key:f00ed01"), DidProblem::NotBase58Btc);
    }

    #[test]
    fn bad_base58_is_named() {
        // '0', 'O', 'I' and 'l' are not in the bitcoin alphabet.
        assert!(matches!(
            problem("did:key:z6Mk0OIl"),
            DidProblem::BadBase58(_)
        ));
    }

    #[test]
    fn wrong_codec_is_named() {
        // secp256k1-pub (0xe7 0x01) from the W3C secp256k1 vectors.
        let secp = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
        assert_eq!(problem(secp), DidProblem::WrongCodec("e701".into()));
    }

    #[test]
    fn wrong_length_is_named() {
        let mut bytes = vec![0xed, 0x01];
        bytes.extend_from_slice(&[7u8; 31]);
        let text = format!("did:key:z{}", bs58::encode(bytes).into_string());
        assert_eq!(problem(&text), DidProblem::WrongLength(31));
    }

    #[test]
    fn small_order_key_is_refused() {
        // The identity point (y = 1) is small-order.
        let mut key = [0u8; 32];
        key[0] = 1;
        let mut bytes = vec![0xed, 0x01];
        bytes.extend_from_slice(&key);
        let text = format!("did:key:z{}", bs58::encode(bytes).into_string());
        assert_eq!(problem(&text), DidProblem::InvalidKey);
    }

    #[test]
    fn leading_zero_digits_are_not_a_second_spelling() {
        let did = W3C_VECTORS[0].1;
        let padded = did.replacen("did:key:z", "did:key:z1", 1);
        assert!(matches!(
            problem(&padded),
            DidProblem::BadBase58(_) | DidProblem::WrongCodec(_)
        ));
    }

    #[test]
    fn huge_input_is_refused_before_decoding() {
        let text = format!("did:key:z{}", "1".repeat(10_000));
        assert_eq!(problem(&text), DidProblem::TooLong(text.len()));
    }

    #[test]
    fn tuf_keyid_is_sha256_of_the_canonical_tuf_key_object() {
        // securesystemslib's key id: SHA-256 over the canonical JSON of
        // {"keytype", "keyval": {"public": hex}, "scheme"}.
        let key = Identity::from_seed(&[0; 32]).public_key();
        let object = serde_json::json!({
            "scheme": "ed25519",
            "keyval": {"public": hex::encode(key.to_bytes())},
            "keytype": "ed25519",
        });
        let canonical = crate::canonical::to_canonical_json(&object).unwrap();
        assert_eq!(key.tuf_keyid(), hex::encode(Sha256::digest(&canonical)));
    }
}
