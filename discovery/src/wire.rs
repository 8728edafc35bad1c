//! An event read from the text a relay sent, in one pass, with its id
//! checked against that text.
//!
//! NIP-01's id is the SHA-256 of `[0,pubkey,created_at,kind,tags,content]`
//! written as compact JSON with only the escapes JSON requires. Relays send
//! events in that form, so the tags and the content as received are,
//! nearly always, the very bytes to hash: hashing them spares writing the
//! event out again (escaping a listing's 2 KB of content byte by byte was
//! the larger part of checking its id). The content is unescaped in the
//! same pass that checks its escapes are the ones NIP-01 writes. Text in
//! any other form (spaces between tags, a `\u` or `\/` escape, upper-case
//! hex) is read as before and its id checked by writing the event out
//! ([`crate::verify::id_matches`]): the answer is the same either way.

use std::borrow::Cow;

use nostr::{Event, EventId, Kind, PublicKey, Tags, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::verify::{self, MAX_EVENT_BYTES, Rejection};

/// An event as a relay sent it, parsed.
#[derive(Debug)]
pub struct WireEvent {
    /// The event.
    pub event: Event,
    /// Whether its id is the hash of its contents.
    pub id_holds: bool,
}

/// The fields of an event, the tags and the content kept as the text
/// received. Other fields are ignored, as `nostr` ignores them.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    pubkey: Cow<'a, str>,
    created_at: u64,
    kind: u16,
    #[serde(borrow)]
    tags: &'a RawValue,
    #[serde(borrow)]
    content: &'a RawValue,
    #[serde(borrow)]
    sig: Cow<'a, str>,
}

/// Parses a raw event as a relay sent it, refusing it if it is too large or
/// not an event, and checks its id.
pub fn read(raw: &str) -> Result<WireEvent, Rejection> {
    if raw.len() > MAX_EVENT_BYTES {
        return Err(Rejection::TooLarge {
            bytes: raw.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    let malformed =
        |what: &str, e: &dyn std::fmt::Display| Rejection::Malformed(format!("event {what}: {e}"));
    let fields: Fields<'_> = serde_json::from_str(raw).map_err(|e| malformed("JSON", &e))?;
    let id = EventId::from_hex(&fields.id).map_err(|e| malformed("id", &e))?;
    let pubkey = PublicKey::from_hex(&fields.pubkey).map_err(|e| malformed("pubkey", &e))?;
    let sig = fields.sig.parse().map_err(|e| malformed("sig", &e))?;
    let tags: Tags = serde_json::from_str(fields.tags.get()).map_err(|e| malformed("tags", &e))?;
    let (content, nip01_form) = match unescape_nip01(fields.content.get()) {
        Some(content) => (content, true),
        None => (
            serde_json::from_str(fields.content.get()).map_err(|e| malformed("content", &e))?,
            false,
        ),
    };
    let event = Event::new(
        id,
        pubkey,
        Timestamp::from_secs(fields.created_at),
        Kind::from(fields.kind),
        tags,
        content,
        sig,
    );
    let id_holds = if nip01_form && is_lower_hex(&fields.pubkey) && is_nip01_form(fields.tags.get())
    {
        raw_id(&fields) == *event.id.as_bytes()
    } else {
        verify::id_matches(&event)
    };
    Ok(WireEvent { event, id_holds })
}

/// The NIP-01 id of an event whose tags and content are in NIP-01's form,
/// hashed from their text as received.
fn raw_id(fields: &Fields<'_>) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(format!(
        "[0,\"{}\",{},{},",
        fields.pubkey, fields.created_at, fields.kind
    ));
    hash.update(fields.tags.get().as_bytes());
    hash.update(b",");
    hash.update(fields.content.get().as_bytes());
    hash.update(b"]");
    hash.finalize().into()
}

/// The escapes NIP-01 (and serde_json, which writes the ids `nostr`
/// checks) use for what must be escaped, but for control characters with
/// no short form, which are rare enough to take the long way.
fn short_escape(byte: u8) -> Option<char> {
    Some(match byte {
        b'"' => '"',
        b'\\' => '\\',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        _ => return None,
    })
}

/// A JSON string (quotes included) unescaped, if every escape in it is one
/// NIP-01 writes; `None` otherwise (then it is read the general way).
/// JSON text holds no raw control characters, so a string whose escapes
/// are all NIP-01's is, byte for byte, what NIP-01 writes for its value.
fn unescape_nip01(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    // A plain walk: escapes come every dozen bytes in a listing's content,
    // too often for a search routine's start-up cost to pay.
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        if bytes[at] == b'\\' {
            out.push_str(&inner[copied..at]);
            out.push(short_escape(*bytes.get(at + 1)?)?);
            at += 2;
            copied = at;
        } else {
            at += 1;
        }
    }
    out.push_str(&inner[copied..]);
    Some(out)
}

/// Whether JSON text is compact and escapes only as NIP-01 does: no
/// whitespace between tokens, and only short escapes in strings.
fn is_nip01_form(json: &str) -> bool {
    let mut in_string = false;
    let mut bytes = json.bytes();
    while let Some(byte) = bytes.next() {
        match (in_string, byte) {
            (false, b' ' | b'\n' | b'\r' | b'\t') => return false,
            (_, b'"') => in_string = !in_string,
            (true, b'\\') if bytes.next().and_then(short_escape).is_none() => return false,
            _ => {}
        }
    }
    true
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_trust::Identity;
    use nostr::{EventBuilder, JsonUtil, Keys, Tag, TagKind};

    fn event(content: &str, tags: Vec<Tag>) -> Event {
        let keys = Keys::generate();
        EventBuilder::new(Kind::Custom(30078), content)
            .tags(tags)
            .sign_with_keys(&keys)
            .unwrap()
    }

    const AWKWARD: &str = "quote \" backslash \\ newline \n tab \t cr \r bs \u{8} ff \u{c} \
                           nul \u{0} bell \u{7} é 日本 😀 \u{2028} </script>";

    /// Every escape in it is a short one.
    const SHORT: &str = "quote \" backslash \\ newline \n tab \t cr \r bs \u{8} ff \u{c} \
                         é 日本 😀 \u{2028} </script>";

    #[test]
    fn the_text_as_sent_gives_the_event_and_its_id() {
        for (content, tags, short) in [
            (r#"{"a":"b"}"#, vec![Tag::identifier("archy:app:x")], true),
            (
                SHORT,
                vec![Tag::custom(TagKind::custom("x"), [SHORT, ""])],
                true,
            ),
            (
                AWKWARD,
                vec![Tag::custom(TagKind::custom("x"), [AWKWARD, ""])],
                false,
            ),
            ("", vec![], true),
        ] {
            let sent = event(content, tags);
            let text = sent.as_json();
            let fields: Fields<'_> = serde_json::from_str(&text).unwrap();
            assert_eq!(
                unescape_nip01(fields.content.get()).is_some() && is_nip01_form(fields.tags.get()),
                short,
                "{content:?} takes the short way"
            );
            let read = read(&text).unwrap();
            assert_eq!(read.event, sent);
            assert!(read.id_holds, "{content:?}");
        }
    }

    #[test]
    fn a_changed_byte_breaks_the_id_either_way() {
        let sent = event(r#"{"a":"b\"c"}"#, vec![Tag::identifier("archy:app:x")]);
        let text = sent.as_json();
        for (from, to) in [("archy:app:x", "archy:app:y"), (r#"b\\\"c"#, r#"b\\\"d"#)] {
            assert!(text.contains(from), "{from}");
            let changed = text.replace(from, to);
            assert!(!read(&changed).unwrap().id_holds, "{to}");
        }
    }

    #[test]
    fn text_in_another_form_is_checked_the_long_way_with_the_same_answer() {
        let sent = event("é/x\u{1}", vec![Tag::identifier("a b")]);
        let text = sent.as_json();
        let forms = [
            text.replace('é', "\\u00e9"),
            text.replace('/', "\\/"),
            text.replace("],[", "], ["),
            text.replace(&sent.pubkey.to_hex(), &sent.pubkey.to_hex().to_uppercase()),
            text.clone(),
        ];
        for form in forms {
            let read = read(&form).unwrap();
            assert_eq!(read.event, sent, "{form}");
            assert!(read.id_holds, "{form}");
        }
    }

    #[test]
    fn only_short_escapes_are_unescaped_here() {
        assert_eq!(
            unescape_nip01(r#""a\"b\\c\nd""#).as_deref(),
            Some("a\"b\\c\nd")
        );
        assert_eq!(unescape_nip01(r#""\u0041""#), None);
        assert_eq!(unescape_nip01(r#""\/""#), None);
        assert!(is_nip01_form(r#"[["d","x\"y"],["t","a b"]]"#));
        assert!(is_nip01_form(r#"[["d","x\\"],["t","a b"]]"#));
        assert!(!is_nip01_form(r#"[["d", "x"]]"#));
        assert!(!is_nip01_form(r#"[["d","\u0078"]]"#));
    }

    #[test]
    fn what_is_not_an_event_is_refused() {
        let identity = Identity::generate().unwrap();
        let sent = event("x", vec![]);
        let text = sent.as_json();
        for bad in [
            "not an event".to_owned(),
            "{\"id\": 7}".to_owned(),
            text.replace(&sent.id.to_hex(), "zz"),
            text.replace(&sent.pubkey.to_hex(), &identity.did().to_string()),
            text.replace("\"content\":\"x\"", "\"content\":7"),
        ] {
            assert!(matches!(read(&bad), Err(Rejection::Malformed(_))), "{bad}");
        }
        let huge = format!("{{\"content\":\"{}\"}}", "x".repeat(MAX_EVENT_BYTES));
        assert!(matches!(read(&huge), Err(Rejection::TooLarge { .. })));
    }
}
