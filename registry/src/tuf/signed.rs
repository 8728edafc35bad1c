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

#[cfg(test)]
mod tests {
    use archy_trust::Identity;
    use serde_json::json;

    use super::*;
    use crate::tuf::metadata::{Root, Timestamp};
    use crate::tuf::sign_metadata;

    fn keys_and_role(id: &Identity) -> (HashMap<String, Key>, Role) {
        let text = format!(
            r#"{{"signatures":[],"signed":{{"_type":"root","spec_version":"1.0","version":1,"expires":"2100-01-01T00:00:00Z","keys":{{"{k}":{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{p}"}}}}}},"roles":{{"root":{r},"targets":{r},"snapshot":{r},"timestamp":{r}}}}}}}"#,
            k = id.public_key().tuf_keyid(),
            p = hex::encode(id.public_key().to_bytes()),
            r = format!(
                r#"{{"keyids":["{}"],"threshold":1}}"#,
                id.public_key().tuf_keyid()
            ),
        );
        let root: Envelope<Root> = Envelope::parse(text.as_bytes()).unwrap();
        let role = root.doc.roles["timestamp"].clone();
        (root.doc.keys, role)
    }

    fn timestamp() -> serde_json::Value {
        json!({"_type": "timestamp", "spec_version": "1.0", "version": 3,
               "expires": "2100-01-01T00:00:00Z", "meta": {"snapshot.json": {"version": 2}}})
    }

    #[test]
    fn canonical_bytes_verify_as_received_and_other_spellings_by_their_canonical_form() {
        let id = Identity::from_seed(&[5; 32]);
        let (keys, role) = keys_and_role(&id);
        let signed = sign_metadata(&timestamp(), &[&id]).unwrap();
        let env: Envelope<Timestamp> = Envelope::parse(&signed).unwrap();
        assert!(env.signed.as_received);
        assert_eq!(env.count_signers(&keys, &role), 1);

        // Same document, keys in another order and no whitespace: not the
        // canonical bytes, so only the fallback can verify it.
        let mut file: Value = serde_json::from_slice(&signed).unwrap();
        let reordered = format!(
            r#"{{"signed":{{"version":3,"_type":"timestamp","spec_version":"1.0","expires":"2100-01-01T00:00:00Z","meta":{{"snapshot.json":{{"version":2}}}}}},"signatures":{}}}"#,
            file["signatures"]
        );
        let env: Envelope<Timestamp> = Envelope::parse(reordered.as_bytes()).unwrap();
        assert!(env.signed.as_received);
        assert_eq!(env.count_signers(&keys, &role), 1);

        // Pretty-printed: canonicalized up front.
        let pretty = serde_json::to_vec_pretty(&file).unwrap();
        let env: Envelope<Timestamp> = Envelope::parse(&pretty).unwrap();
        assert!(!env.signed.as_received);
        assert_eq!(env.count_signers(&keys, &role), 1);

        // A changed document fails both ways.
        file["signed"]["version"] = json!(4);
        let forged = serde_json::to_vec(&file).unwrap();
        let env: Envelope<Timestamp> = Envelope::parse(&forged).unwrap();
        assert_eq!(env.count_signers(&keys, &role), 0);
    }
}
