//! OLPC canonical JSON: the one byte form that signatures cover.
//!
//! TUF signs the canonical form of its metadata; we sign every document the
//! same way, with the `olpc-cjson` formatter that TUF tooling uses, so the
//! project has one canonical form. Numbers must be integers (OLPC has no
//! floats).

use olpc_cjson::CanonicalFormatter;
use serde::Serialize;
use serde_json::Value;

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

/// The canonical JSON bytes of an already-parsed JSON value, written
/// directly: sorted keys, no whitespace, only `"` and `\` escaped, integers
/// only. It is byte for byte what python-tuf's `securesystemslib` signs and,
/// for text in Unicode NFC form, what [`to_canonical_json`] writes, at a
/// small fraction of the cost (TUF metadata runs to megabytes).
pub fn value_to_canonical_json(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) if n.is_f64() => {
            return Err(Error::Canonical(format!(
                "{n} is not an integer; canonical JSON has no fractions"
            )));
        }
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // serde_json's map is a BTreeMap (the workspace never enables
            // `preserve_order`), so iteration is already in byte order.
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s.as_bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// A cheap scan that rules out text which cannot be OLPC canonical JSON:
/// whitespace outside strings, or escapes other than `\"` and `\\`. It only
/// chooses which bytes to verify first; the signature decides.
pub fn may_be_canonical(json: &str) -> bool {
    let mut in_string = false;
    let mut bytes = json.bytes();
    while let Some(b) = bytes.next() {
        match (in_string, b) {
            (false, b' ' | b'\n' | b'\r' | b'\t') => return false,
            (_, b'"') => in_string = !in_string,
            (true, b'\\') if !matches!(bytes.next(), Some(b'"' | b'\\')) => return false,
            _ => {}
        }
    }
    true
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
        assert!(value_to_canonical_json(&json!({"x": 1.5})).is_err());
    }

    #[test]
    fn the_direct_writer_matches_olpc_cjson() {
        let values = [
            json!({"b": 1, "a": {"d": [1, -2, true, null], "c": "x"}, "": false}),
            json!("a\"b\\c\u{e9}\n\t\u{1}\u{7f}"),
            json!({"z\u{e9}": "\u{1F600}", "Z": [], "e": {}}),
            json!(u64::MAX),
            json!(i64::MIN),
        ];
        for value in values {
            assert_eq!(
                value_to_canonical_json(&value).unwrap(),
                to_canonical_json(&value).unwrap(),
                "{value}"
            );
        }
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
