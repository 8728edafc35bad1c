//! OLPC canonical JSON: the one byte form that signatures cover.
//!
//! TUF signs the canonical form of its metadata; we sign every document the
//! same way, with the `olpc-cjson` formatter that TUF tooling uses, so the
//! project has one canonical form. Numbers must be integers (OLPC has no
//! floats).

use olpc_cjson::CanonicalFormatter;
use serde::Serialize;

use crate::Error;

/// The canonical JSON bytes of `value`.
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut bytes, CanonicalFormatter::new());
    value
        .serialize(&mut serializer)
        .map_err(|e| Error::Canonical(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_whitespace_dropped() {
        let value = json!({"b": 1, "a": {"d": [1, 2], "c": "x"}});
        assert_eq!(
            to_canonical_json(&value).unwrap(),
            br#"{"a":{"c":"x","d":[1,2]},"b":1}"#
        );
    }

    #[test]
    fn floats_are_refused() {
        assert!(to_canonical_json(&json!({"x": 1.5})).is_err());
    }

    #[test]
    fn only_quote_and_backslash_are_escaped() {
        let value = json!("a\"b\\c\u{e9}");
        assert_eq!(
            to_canonical_json(&value).unwrap(),
            "\"a\\\"b\\\\c\u{e9}\"".as_bytes()
        );
    }
}
