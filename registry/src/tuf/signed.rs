//! Reading a metadata file's envelope and checking role signatures over the
//! canonical form of the `signed` object received.

use std::collections::HashMap;
use std::ops::Range;

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
/// text received is tried first, where it lies in the file, without parsing
/// or copying it again; a threshold of valid signatures over exactly those
/// bytes proves they are what the keys signed. Only when that fails
/// (pretty-printed metadata, or a forgery) is the canonical form computed
/// from the parsed text and the signatures counted again, over it alone:
/// the two counts are never added.
pub enum SignedBytes {
    /// `signed` as received: this range of the file.
    AsReceived(Range<usize>),
    /// `signed` was not in canonical form; this is its canonical form.
    Canonical(Vec<u8>),
}

impl SignedBytes {
    fn of(file: &[u8], text: &str) -> Result<Self, String> {
        if !may_be_canonical(text) {
            return canonical_of(text).map(Self::Canonical);
        }
        // `text` borrows from `file` (serde's RawValue points into its input).
        let start = (text.as_ptr() as usize).wrapping_sub(file.as_ptr() as usize);
        let range = start..start + text.len();
        if file.get(range.clone()) != Some(text.as_bytes()) {
            return Err("'signed' is not part of the file read".into());
        }
        Ok(Self::AsReceived(range))
    }

    /// How many distinct keys of `role` (looked up in `keys`) validly
    /// signed, stopping once the threshold is reached. `file` is the
    /// metadata file these bytes were read from.
    pub fn count_signers(
        &self,
        file: &[u8],
        keys: &HashMap<String, Key>,
        role: &Role,
        signatures: &HashMap<String, String>,
    ) -> u64 {
        let received = match self {
            Self::Canonical(canonical) => return count_over(keys, role, canonical, signatures),
            Self::AsReceived(range) => &file[range.clone()],
        };
        let count = count_over(keys, role, received, signatures);
        if count >= role.threshold {
            return count;
        }
        match std::str::from_utf8(received).map(canonical_of) {
            Ok(Ok(canonical)) if canonical != received => {
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
            signed: SignedBytes::of(bytes, text)?,
            signatures,
        })
    }
}

impl<T> Envelope<T> {
    /// How many distinct keys of `role` validly signed this document, read
    /// from `file`.
    pub fn count_signers(&self, file: &[u8], keys: &HashMap<String, Key>, role: &Role) -> u64 {
        self.signed
            .count_signers(file, keys, role, &self.signatures)
    }
}

/// How many distinct keys of `role` validly signed `message`, up to the
/// threshold. A key listed again under another key id adds nothing: a
/// threshold of two needs two keys, not one key named twice.
fn count_over(
    keys: &HashMap<String, Key>,
    role: &Role,
    message: &[u8],
    signatures: &HashMap<String, String>,
) -> u64 {
    let mut signers: Vec<&Key> = Vec::new();
    for keyid in &role.keyids {
        if signers.len() as u64 >= role.threshold {
            break;
        }
        let (Some(key), Some(sig)) = (keys.get(keyid), signatures.get(keyid)) else {
            continue;
        };
        if signers.iter().any(|signer| signer.is_same_key_as(key)) {
            continue;
        }
        if key.verify(message, sig) {
            signers.push(key);
        }
    }
    signers.len() as u64
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
        assert!(matches!(env.signed, SignedBytes::AsReceived(_)));
        assert_eq!(env.count_signers(&signed, &keys, &role), 1);

        // Same document, keys in another order and no whitespace: not the
        // canonical bytes, so only the fallback can verify it.
        let mut file: Value = serde_json::from_slice(&signed).unwrap();
        let reordered = format!(
            r#"{{"signed":{{"version":3,"_type":"timestamp","spec_version":"1.0","expires":"2100-01-01T00:00:00Z","meta":{{"snapshot.json":{{"version":2}}}}}},"signatures":{}}}"#,
            file["signatures"]
        );
        let env: Envelope<Timestamp> = Envelope::parse(reordered.as_bytes()).unwrap();
        assert!(matches!(env.signed, SignedBytes::AsReceived(_)));
        assert_eq!(env.count_signers(reordered.as_bytes(), &keys, &role), 1);

        // Pretty-printed: canonicalized up front.
        let pretty = serde_json::to_vec_pretty(&file).unwrap();
        let env: Envelope<Timestamp> = Envelope::parse(&pretty).unwrap();
        assert!(matches!(env.signed, SignedBytes::Canonical(_)));
        assert_eq!(env.count_signers(&pretty, &keys, &role), 1);

        // Text with a newline: the canonical form is not JSON, so the file
        // carries plain JSON and the signature is checked over the
        // canonical form computed from it.
        let mut noted = timestamp();
        noted["notes"] = json!("two\nlines");
        let written = sign_metadata(&noted, &[&id]).unwrap();
        let env: Envelope<Timestamp> = Envelope::parse(&written).unwrap();
        assert!(matches!(env.signed, SignedBytes::Canonical(_)));
        assert_eq!(env.count_signers(&written, &keys, &role), 1);

        // A changed document fails both ways.
        file["signed"]["version"] = json!(4);
        let forged = serde_json::to_vec(&file).unwrap();
        let env: Envelope<Timestamp> = Envelope::parse(&forged).unwrap();
        assert_eq!(env.count_signers(&forged, &keys, &role), 0);
    }
}
