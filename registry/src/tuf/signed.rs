//! Reading a metadata file's envelope and checking role signatures over the
//! canonical form of the `signed` object received.

use std::collections::HashMap;

use archy_trust::canonical::value_to_canonical_json;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::metadata::{Document, Key, Role};

/// A metadata file whose signatures are yet to be checked.
pub struct Envelope<T> {
    /// The document, read from `signed`.
    pub doc: T,
    /// The canonical bytes of `signed`: what the signatures cover.
    pub canonical: Vec<u8>,
    /// Signature hex by key id.
    pub signatures: HashMap<String, String>,
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
        let signed: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match signed.get("_type").and_then(Value::as_str) {
            Some(t) if t == T::TYPE => {}
            Some(t) => return Err(format!("it is '{t}' metadata")),
            None => return Err("'signed._type' is missing or not a string".into()),
        }
        let doc = T::from_signed(&signed, text)?;
        let canonical = value_to_canonical_json(&signed).map_err(|e| e.to_string())?;
        Ok(Self {
            doc,
            canonical,
            signatures,
        })
    }
}

/// How many distinct keys of `role` (looked up in `keys`) validly signed
/// `canonical`, stopping once the threshold is reached.
pub fn count_signers(
    keys: &HashMap<String, Key>,
    role: &Role,
    canonical: &[u8],
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
        if key.verify(canonical, sig) {
            count += 1;
        }
    }
    count
}
