//! Writing signed metadata: the publisher's editor and test repositories
//! both sign through here.

use archy_trust::Identity;
use archy_trust::canonical::value_to_canonical_json;
use serde_json::{Value, json};

/// The `signatures`/`signed` file for `signed`, signed by each of `signers`.
/// `signed` is written in its canonical form, so the file's bytes are what
/// was signed; unless that form holds a control character (a newline in a
/// release's notes), which OLPC writes raw and JSON forbids: then `signed`
/// is written as plain JSON, and readers check the signature over the
/// canonical form they compute.
pub fn sign_metadata(signed: &Value, signers: &[&Identity]) -> Result<Vec<u8>, archy_trust::Error> {
    let canonical = value_to_canonical_json(signed)?;
    let signatures: Vec<Value> = signers
        .iter()
        .map(|id| {
            json!({
                "keyid": id.public_key().tuf_keyid(),
                "sig": hex::encode(id.sign(&canonical)),
            })
        })
        .collect();
    let mut bytes = br#"{"signatures":"#.to_vec();
    bytes.extend_from_slice(&value_to_canonical_json(&Value::Array(signatures))?);
    bytes.extend_from_slice(br#","signed":"#);
    if canonical.iter().any(|b| *b < 0x20) {
        let plain = serde_json::to_vec(signed).map_err(|e| {
            archy_trust::Error::Canonical(format!("metadata does not write as JSON: {e}"))
        })?;
        bytes.extend_from_slice(&plain);
    } else {
        bytes.extend_from_slice(&canonical);
    }
    bytes.push(b'}');
    Ok(bytes)
}
