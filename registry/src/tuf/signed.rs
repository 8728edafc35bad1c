//! Reading a metadata file's envelope and checking role signatures over the
//! canonical form of the `signed` object received.

use std::collections::HashMap;

use archy_trust::canonical::{may_be_canonical, value_to_canonical_json};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::metadata::{Document, Key, Role};

/// A metadata file whose signatures are yet to be checked.
pub struct Envelope<T> {
    /// The document, read from `signed`.
    pub doc: T,
    /// What the signatures cover.
    pub signed: SignedBytes,
    /// Signature hex by key id.
    pub signatures: HashMap<String, String>,
}

/// The bytes signatures are checked over: the canonical form of `signed`.
///
/// Catalogs are written with `signed` already in canonical form, so the
/// text received is tried first, without parsing it a second time; a
/// threshold of valid signatures over exactly those bytes proves they are
/// what the keys signed. Only when that fails (pretty-printed metadata, or a
/// forgery) is the canonical form computed from the parsed text and the
/// signatures counted again, over it alone: the two counts are never added.
pub struct SignedBytes {
    bytes: Vec<u8>,
    as_received: bool,
}

impl SignedBytes {
    fn of(text: &str) -> Result<Self, String> {
        if may_be_canonical(text) {
            Ok(Self {
                bytes: text.as_bytes().to_vec(),
                as_received: true,
            })
        } else {
            Ok(Self {
                bytes: canonical_of(text)?,
                as_received: false,
            })
        }
    }

    /// How many distinct keys of `role` (looked up in `keys`) validly
    /// signed, stopping once the threshold is reached.
    pub fn count_signers(
        &self,
        keys: &HashMap<String, Key>,
        role: &Role,
        signatures: &HashMap<String, String>,
    ) -> u64 {
        let count = count_over(keys, role, &self.bytes, signatures);
        if count >= role.threshold || !self.as_received {
            return count;
        }
        match std::str::from_utf8(&self.bytes).map(canonical_of) {
            Ok(Ok(canonical)) if canonical != self.bytes => {
                count_over(keys, role, &canonical, signatures)
            }
            _ => count,
        }
    }
}

fn canonical_of(text: &str) -> Result<Vec<u8>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    value_to_canonical_json(&value).map_err(|e| e.to_string())
}

#[derive(Deserialize)]
struct Outer<'a> {
    #[serde(borrow)]
    signed: &'a RawValue,
    signatures: Vec<Signature>,
}

#[derive(Deserialize)]
struct Signature {
    keyid: String,
    sig: String,
}

/// Just `_type`, read before the document itself.
#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "_type")]
    kind: String,
}

impl<T: Document> Envelope<T> {
    /// Reads `bytes` as a `T` document. Errors say what is malformed.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let outer: Outer<'_> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let mut signatures = HashMap::with_capacity(outer.signatures.len());
        for s in outer.signatures {
            if signatures.contains_key(&s.keyid) {
                return Err(format!("two signatures carry key id {}", s.keyid));
            }
            signatures.insert(s.keyid, s.sig);
        }
        let text = outer.signed.get();
        let kind = serde_json::from_str::<TypeOnly>(text)
            .map_err(|_| "'signed._type' is missing or not a string".to_owned())?
            .kind;
        if kind != T::TYPE {
            return Err(format!("it is '{kind}' metadata"));
        }
        Ok(Self {
            doc: T::from_signed(text)?,
            signed: SignedBytes::of(text)?,
            signatures,
        })
    }
}

impl<T> Envelope<T> {
    /// How many distinct keys of `role` validly signed this document.
    pub fn count_signers(&self, keys: &HashMap<String, Key>, role: &Role) -> u64 {
        self.signed.count_signers(keys, role, &self.signatures)
    }
}

fn count_over(
    keys: &HashMap<String, Key>,
    role: &Role,
    message: &[u8],
    signatures: &HashMap<String, String>,
) -> u64 {
    let mut count = 0;
    for keyid in &role.keyids {
        if count >= role.threshold {
            break;
        }
        let (Some(key), Some(sig)) = (keys.get(keyid), signatures.get(keyid)) else {
            continue;
        };
        if key.verify(message, sig) {
            count += 1;
        }
    }
    count
}
