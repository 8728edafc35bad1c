//! What routing and paging need of an event as a relay sent it: its id
//! and `created_at`, found without reading the rest.
//!
//! The two keys are looked for directly ([`memmem`], SIMD): in JSON text a
//! quote that is not escaped always opens or closes a string, so `"id"`
//! found at such a quote and followed by a colon is a key named `id`, never
//! part of the content, however much JSON the content holds (its quotes are
//! all escaped). That matters because some relays write `content`, most
//! of an event's bytes, first. (Such a key could belong to an object nested
//! in the event, but NIP-01 events hold none; the stamp only routes and
//! pages, and the full parse reads the event's own id.) Keys written with
//! escapes fall back to reading the fields in order. Neither path judges
//! the rest of the event: the ingest loop's full parse does, once, and
//! refuses it if it is broken.

use std::borrow::Cow;

use memchr::memmem;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::wire::{StringEnd, string_end, value};

/// An event's id (empty if it has none: the ingest loop refuses it) and
/// `created_at`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Stamp {
    /// The id, as the relay wrote it.
    #[serde(default)]
    pub id: String,
    /// The event's `created_at`.
    pub created_at: u64,
}

/// Reads the stamp of the event `raw`, a JSON object: the values of its
/// keys `id` and `created_at` where both are written plainly, else from its
/// fields up to the later of the two, or from all of them if one is
/// missing, in which case the object must end there. `None` if `raw` is not
/// an object, what is read is not JSON, `id` is not a string or
/// `created_at` not a whole number.
pub fn read(raw: &str) -> Option<Stamp> {
    raw.trim_start().strip_prefix('{')?;
    let id = after_key(raw, b"\"id\"").and_then(value::<String>);
    let created_at = after_key(raw, b"\"created_at\"").and_then(value::<u64>);
    match (id, created_at) {
        (Some((id, _)), Some((created_at, _))) => Some(Stamp { id, created_at }),
        _ => read_in_order(raw),
    }
}

/// What follows the colon after the first `quoted` key in `raw`: an
/// occurrence whose opening quote is not escaped (an even run of
/// backslashes before it) and that a colon follows.
fn after_key<'a>(raw: &'a str, quoted: &[u8]) -> Option<&'a str> {
    let bytes = raw.as_bytes();
    memmem::find_iter(bytes, quoted).find_map(|at| {
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            return None;
        }
        raw.get(at + quoted.len()..)?.trim_start().strip_prefix(':')
    })
}

/// [`read`] the slow way, field by field from the start.
fn read_in_order(raw: &str) -> Option<Stamp> {
    let mut rest = raw.trim_start().strip_prefix('{')?.trim_start();
    let (mut id, mut created_at) = (None, None);
    loop {
        let (key, after) = value::<Cow<'_, str>>(rest)?;
        rest = after.trim_start().strip_prefix(':')?;
        rest = match key.as_ref() {
            "id" if id.is_none() => value::<String>(rest).map(|(v, r)| {
                id = Some(v);
                r
            })?,
            "created_at" if created_at.is_none() => value::<u64>(rest).map(|(v, r)| {
                created_at = Some(v);
                r
            })?,
            _ if rest.starts_with('"') => after_string(rest)?,
            _ => value::<IgnoredAny>(rest)?.1,
        };
        if id.is_some() && created_at.is_some() {
            return Some(Stamp {
                id: id?,
                created_at: created_at?,
            });
        }
        rest = rest.trim_start();
        match rest.strip_prefix(',') {
            Some(next) => rest = next.trim_start(),
            None => break,
        }
    }
    rest.strip_prefix('}')?.trim().is_empty().then_some(())?;
    Some(Stamp {
        id: id.unwrap_or_default(),
        created_at: created_at?,
    })
}

/// What follows the JSON string at the start of `text`, found by the
/// quote that ends it, without checking what is between: the ingest loop
/// reads the event in full. (Relays may write `content`, most of an
/// event's bytes, ahead of `id` and `created_at`.)
fn after_string(text: &str) -> Option<&str> {
    match string_end(text.as_bytes(), 0, |_| true) {
        StringEnd::Closed(end) => text.get(end..),
        StringEnd::Refused | StringEnd::Unclosed => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(id: &str, created_at: u64) -> Option<Stamp> {
        Some(Stamp {
            id: id.to_owned(),
            created_at,
        })
    }

    #[test]
    fn the_leading_fields_are_enough() {
        assert_eq!(
            read(r#"{"id":"ab","pubkey":"cd","created_at":17,"content":"never read"#),
            stamp("ab", 17)
        );
        assert_eq!(
            read(" { \"created_at\" : 17 ,\n \"id\" : \"a\\u0062\" , \"sig\": 1}"),
            stamp("ab", 17)
        );
    }

    #[test]
    fn fields_before_them_of_any_shape_are_stepped_over() {
        let raw = r#"{"tags":[["d","x]}"],{"a":{}}],"content":"a \" , } ] \\","kind":1,"created_at":9,"id":"e"}"#;
        assert_eq!(read(raw), stamp("e", 9));
        assert_eq!(
            serde_json::from_str::<Stamp>(raw).ok(),
            read(raw),
            "the same answer as reading it all"
        );
    }

    #[test]
    fn a_string_stepped_over_is_left_for_the_full_parse_to_judge() {
        assert_eq!(
            read(r#"{"content":"\x é \\","created_at":1,"id":"a"}"#),
            stamp("a", 1)
        );
    }

    #[test]
    fn without_an_id_the_whole_object_is_read() {
        assert_eq!(read(r#"{"created_at":3,"kind":1}"#), stamp("", 3));
        assert_eq!(read(r#"{"created_at":3} x"#), None);
        assert_eq!(read(r#"{"created_at":3},{"created_at":4}"#), None);
        assert_eq!(read(r#"{"created_at":3"#), None);
    }

    #[test]
    fn wrong_shapes_are_refused() {
        for raw in [
            "",
            "{}",
            "[]",
            r#""{}""#,
            r#"{"id":"x"}"#,
            r#"{"id":1,"created_at":2}"#,
            r#"{"id":"x","created_at":-2}"#,
            r#"{"id":"x","created_at":"2"}"#,
            r#"{"id" "x","created_at":2}"#,
            r#"{id:"x","created_at":2}"#,
            r#"{"content":"never ends,\"created_at":2,\"id":"x"}"#,
            r#"{"content":"ends on an escape\"#,
        ] {
            assert_eq!(read(raw), None, "{raw}");
        }
    }

    #[test]
    fn keys_in_the_content_are_not_keys() {
        let content = r#""{\"id\":\"no\",\"created_at\":1,\"x\":\"\\\"id\\\":\\\"no\"}""#;
        let raw = format!(r#"{{"content":{content},"created_at":9,"id":"e"}}"#);
        assert_eq!(read(&raw), stamp("e", 9));
        assert_eq!(serde_json::from_str::<Stamp>(&raw).ok(), read(&raw));
        let raw = r#"{"a \"id":"no","created_at":9,"id":"e"}"#;
        assert_eq!(
            read(raw),
            stamp("e", 9),
            "a key that ends in an escaped quote and id"
        );
    }

    #[test]
    fn keys_written_with_escapes_are_read_in_order() {
        assert_eq!(
            read(r#"{"content":"\"id\":","\u0069d":"e","created_at":9}"#),
            stamp("e", 9)
        );
    }

    #[test]
    fn a_broken_event_with_both_keys_is_left_for_the_full_parse_to_refuse() {
        for raw in [
            r#"{"id":"x" "created_at":2}"#,
            r#"{"kind":1,,"created_at":2,"id":"x"}"#,
        ] {
            assert_eq!(read(raw), stamp("x", 2), "{raw}");
            assert!(serde_json::from_str::<Stamp>(raw).is_err(), "{raw}");
        }
    }
}
