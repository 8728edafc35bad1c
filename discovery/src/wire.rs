//! An event read from the text a relay sent, in one pass, with its id
//! checked against that text.
//!
//! NIP-01's id is the SHA-256 of `[0,pubkey,created_at,kind,tags,content]`
//! written as compact JSON with only the escapes JSON requires. Relays send
//! events in that form, so the tags and the content as received are,
//! nearly always, the very bytes to hash: hashing them spares writing the
//! event out again (escaping a listing's 2 KB of content byte by byte was
//! the larger part of checking its id). The event is read member by
//! member, and its content, most of its bytes, in one walk that finds its
//! end, unescapes it and checks its escapes are the ones NIP-01 writes.
//! Text in any other form (spaces between tags, a `\u` or `\/` escape,
//! upper-case hex) has its id checked by writing the event out, and
//! content with other escapes is read by serde: the answer is the same
//! either way. The event comes out as a [`Note`], its tags' text lent from
//! the text received.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::note::{Note, Tags};
use crate::verify::{MAX_EVENT_BYTES, Rejection};

/// An event as a relay sent it, parsed.
#[derive(Debug)]
pub struct WireEvent<'a> {
    /// The event, its tags' text lent from what the relay sent.
    pub note: Note<'a>,
    /// Whether its id is the hash of its contents.
    pub id_holds: bool,
}

/// The fields of an event as [`read_plain`] finds them: the tags and the
/// content also as the text received, the content unescaped.
struct Plain<'a> {
    id: Cow<'a, str>,
    pubkey: Cow<'a, str>,
    created_at: u64,
    kind: u16,
    tags: &'a str,
    content: &'a str,
    unescaped: String,
    sig: Cow<'a, str>,
}

/// The fields of an event, read by serde: the way for text that
/// [`read_plain`] leaves (escapes NIP-01 does not write, a field twice, or
/// broken text, which this reports). Other fields are ignored, as `nostr`
/// ignores them.
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
    content: String,
    #[serde(borrow)]
    sig: Cow<'a, str>,
}

/// Parses a raw event as a relay sent it, refusing it if it is too large or
/// not an event, and checks its id.
pub fn read(raw: &str) -> Result<WireEvent<'_>, Rejection> {
    if raw.len() > MAX_EVENT_BYTES {
        return Err(Rejection::TooLarge {
            bytes: raw.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    if let Some(mut plain) = read_plain(raw) {
        let note = note(
            &plain.id,
            &plain.pubkey,
            plain.created_at,
            plain.kind,
            plain.tags,
            std::mem::take(&mut plain.unescaped),
            &plain.sig,
        )?;
        let id_holds = if is_lower_hex(&plain.pubkey) && is_nip01_form(plain.tags) {
            raw_id(&plain) == note.id
        } else {
            id_written_out(&note, plain.tags)
        };
        return Ok(WireEvent { note, id_holds });
    }
    let fields: Fields<'_> = serde_json::from_str(raw).map_err(|e| malformed("JSON", &e))?;
    let tags = fields.tags.get();
    let note = note(
        &fields.id,
        &fields.pubkey,
        fields.created_at,
        fields.kind,
        tags,
        fields.content,
        &fields.sig,
    )?;
    let id_holds = id_written_out(&note, tags);
    Ok(WireEvent { note, id_holds })
}

fn malformed(what: &str, e: &dyn std::fmt::Display) -> Rejection {
    Rejection::Malformed(format!("event {what}: {e}"))
}

/// The note made of its fields' text.
fn note<'a>(
    id: &str,
    pubkey: &str,
    created_at: u64,
    kind: u16,
    tags: &'a str,
    content: String,
    sig: &str,
) -> Result<Note<'a>, Rejection> {
    Ok(Note {
        id: hex_array("id", id)?,
        author: hex_array("pubkey", pubkey)?,
        created_at,
        kind,
        tags: Tags::read(tags).map_err(|e| malformed("tags", &e))?,
        content: Cow::Owned(content),
        sig: hex_array("sig", sig)?,
    })
}

/// NIP-01's id check the long way, for text in another form than NIP-01
/// writes: SHA-256 of `[0,pubkey,created_at,kind,tags,content]` written
/// out as compact JSON, `tags` being the tags' JSON text as received.
fn id_written_out(note: &Note<'_>, tags: &str) -> bool {
    let Ok(tags) = serde_json::from_str::<Vec<Vec<String>>>(tags) else {
        return false;
    };
    let fields = (
        0u8,
        hex::encode(note.author),
        note.created_at,
        note.kind,
        tags,
        &note.content,
    );
    // Room for the content with a quote in eight escaped, and the rest, so
    // the buffer is not grown (and copied) several times on the way.
    let mut bytes = Vec::with_capacity(note.content.len() / 8 * 9 + 512);
    serde_json::to_writer(&mut bytes, &fields)
        .is_ok_and(|()| Sha256::digest(&bytes).as_slice() == note.id)
}

/// The hex text of field `what` as `N` bytes, decoded straight into an
/// array. Exactly `2 N` digits: the decoder would also take them after a
/// `0x`, which is not NIP-01's form (and `nostr` refuses it).
fn hex_array<const N: usize>(what: &str, text: &str) -> Result<[u8; N], Rejection> {
    if text.len() != 2 * N {
        return Err(malformed(
            what,
            &format_args!(
                "{} characters where {} hex digits belong",
                text.len(),
                2 * N
            ),
        ));
    }
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|e| malformed(what, &e))?;
    Ok(bytes)
}

/// Reads an event whose content escapes only as NIP-01 does, member by
/// member, the content unescaped in the same walk that finds its end (a
/// listing's content is most of its bytes, with an escape every dozen).
/// `None` for anything else: a field missing or twice, another escape in
/// the content, or text that is not JSON; serde then reads it, and says
/// what is wrong.
fn read_plain(raw: &str) -> Option<Plain<'_>> {
    let mut rest = skip_space(skip_space(raw).strip_prefix('{')?);
    let (mut id, mut pubkey, mut created_at, mut kind, mut tags, mut content, mut sig) =
        (None, None, None, None, None, None, None);
    loop {
        let (key, after) = value::<Cow<'_, str>>(rest)?;
        rest = skip_space(skip_space(after).strip_prefix(':')?);
        rest = match key.as_ref() {
            "id" => take(&mut id, value(rest)?)?,
            "pubkey" => take(&mut pubkey, value(rest)?)?,
            "created_at" => take(&mut created_at, value(rest)?)?,
            "kind" => take(&mut kind, value(rest)?)?,
            "tags" => {
                let (raw_tags, after) = value::<&RawValue>(rest)?;
                take(&mut tags, (raw_tags.get(), after))?
            }
            "content" => {
                let (unescaped, length) = nip01_string(rest)?;
                take(
                    &mut content,
                    ((&rest[..length], unescaped), &rest[length..]),
                )?
            }
            "sig" => take(&mut sig, value(rest)?)?,
            _ => value::<IgnoredAny>(rest)?.1,
        };
        rest = skip_space(rest);
        match rest.strip_prefix(',') {
            Some(next) => rest = skip_space(next),
            None => break,
        }
    }
    skip_space(rest.strip_prefix('}')?)
        .is_empty()
        .then_some(())?;
    let (content, unescaped) = content?;
    Some(Plain {
        id: id?,
        pubkey: pubkey?,
        created_at: created_at?,
        kind: kind?,
        tags: tags?,
        content,
        unescaped,
        sig: sig?,
    })
}

/// `text` past the whitespace JSON allows between tokens: space, tab, line
/// feed and carriage return, not the rest of Unicode's (`str::trim_start`
/// would pass a form feed or a no-break space, which no JSON reader takes).
pub(crate) fn skip_space(text: &str) -> &str {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
}

/// Keeps a field's value read for the first time, and gives the text after
/// it; `None` for a field named twice.
fn take<'a, T>(slot: &mut Option<T>, (value, after): (T, &'a str)) -> Option<&'a str> {
    slot.is_none().then_some(())?;
    *slot = Some(value);
    Some(after)
}

/// The JSON value at the start of `text`, and what follows it.
pub(crate) fn value<'a, T: Deserialize<'a>>(text: &'a str) -> Option<(T, &'a str)> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<T>();
    let value = values.next()?.ok()?;
    Some((value, &text[values.byte_offset()..]))
}

/// The NIP-01 id of an event whose tags and content are in NIP-01's form,
/// hashed from their text as received.
fn raw_id(plain: &Plain<'_>) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(format!(
        "[0,\"{}\",{},{},",
        plain.pubkey, plain.created_at, plain.kind
    ));
    hash.update(plain.tags.as_bytes());
    hash.update(b",");
    hash.update(plain.content.as_bytes());
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

/// The JSON string at the start of `text` unescaped, and its length with
/// the quotes, if every escape in it is one NIP-01 writes and it has no
/// raw control character (which JSON forbids); `None` otherwise. Such a
/// string is, byte for byte, what NIP-01 writes for its value.
fn nip01_string(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix('"')?;
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let (mut copied, mut at) = (0, 0);
    loop {
        at = next_special(bytes, at)?;
        out.push_str(inner.get(copied..at)?);
        match *bytes.get(at)? {
            b'"' => return Some((out, at + 2)),
            b'\\' => {
                out.push(short_escape(*bytes.get(at + 1)?)?);
                at += 2;
                copied = at;
            }
            _ => return None,
        }
    }
}

/// Each byte's 1 copied into all eight bytes of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// Each byte's top bit.
const TOPS: u64 = 0x8080_8080_8080_8080;

/// Where, from `at` on, the first byte that ends a run of plain string
/// text is: a quote, a backslash or a control character. Eight bytes are
/// looked at together, as a word, since a listing's content has an escape
/// only every dozen bytes or so.
pub(crate) fn next_special(bytes: &[u8], mut at: usize) -> Option<usize> {
    while let Some(word) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let found = specials(u64::from_le_bytes(*word));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    let found = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(at + found)
}

/// The top bit of each byte of `word` that is a quote, a backslash or a
/// control character, exact up to the first such byte (which is all
/// [`next_special`] needs): a byte's subtraction can borrow from the bytes
/// above it, never from those below.
fn specials(word: u64) -> u64 {
    let zero_at = |x: u64| x.wrapping_sub(ONES) & !x;
    let quote = zero_at(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_at(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    (quote | backslash | control) & TOPS
}

/// How a JSON string ends, as [`string_end`] finds it.
pub(crate) enum StringEnd {
    /// At its closing quote; the index is just past it.
    Closed(usize),
    /// At an escape the caller refused (or a backslash with nothing after).
    Refused,
    /// Never: the text ends first.
    Unclosed,
}

/// Where the JSON string whose opening quote is at `open` ends, crossed a
/// word at a time from one quote or backslash to the next ([`next_special`]);
/// `escape_ok` judges the byte after each backslash. What lies between is
/// not otherwise checked.
pub(crate) fn string_end(bytes: &[u8], open: usize, escape_ok: impl Fn(u8) -> bool) -> StringEnd {
    let mut at = open + 1;
    loop {
        let Some(special) = next_special(bytes, at) else {
            return StringEnd::Unclosed;
        };
        at = special;
        match bytes.get(at) {
            Some(b'"') => return StringEnd::Closed(at + 1),
            Some(b'\\') => match bytes.get(at + 1) {
                Some(&escaped) if escape_ok(escaped) => at += 2,
                _ => return StringEnd::Refused,
            },
            _ => at += 1,
        }
    }
}

/// Whether JSON text is compact and escapes only as NIP-01 does: no
/// whitespace between tokens, and only short escapes in strings.
fn is_nip01_form(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at = match byte {
            b' ' | b'\n' | b'\r' | b'\t' => return false,
            b'"' => match string_end(bytes, at, |b| short_escape(b).is_some()) {
                StringEnd::Closed(end) => end,
                StringEnd::Refused => return false,
                StringEnd::Unclosed => return true,
            },
            _ => at + 1,
        };
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
    use nostr::{Event, EventBuilder, JsonUtil, Keys, Kind, Tag, TagKind};

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
            assert_eq!(
                read_plain(&text).is_some_and(|plain| is_nip01_form(plain.tags)),
                short,
                "{content:?} takes the short way"
            );
            let read = read(&text).unwrap();
            assert_eq!(read.note, Note::of(&sent));
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
    fn the_long_way_agrees_with_nostr_on_awkward_text() {
        let sent = event(
            AWKWARD,
            vec![Tag::custom(TagKind::custom("x"), [AWKWARD, ""])],
        );
        assert!(sent.verify_id());
        let text = sent.as_json();
        assert!(
            read_plain(&text).is_none(),
            "a \\u escape takes the long way"
        );
        assert!(read(&text).unwrap().id_holds);
        let changed = text.replace("</script>", "</script>!");
        assert_ne!(changed, text);
        assert!(!read(&changed).unwrap().id_holds);
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
            assert_eq!(read.note, Note::of(&sent), "{form}");
            assert!(read.id_holds, "{form}");
        }
    }

    #[test]
    fn only_short_escapes_are_unescaped_here() {
        assert_eq!(
            nip01_string(r#""a\"b\\c\nd","x""#),
            Some(("a\"b\\c\nd".to_owned(), 12))
        );
        assert_eq!(nip01_string(r#""""#), Some((String::new(), 2)));
        assert_eq!(nip01_string(r#""\u0041""#), None);
        assert_eq!(nip01_string(r#""\/""#), None);
        assert_eq!(nip01_string("\"a\nb\""), None, "a raw control character");
        assert_eq!(nip01_string(r#""open"#), None);
        let long = format!("\"{}\\\"{}\"", "a".repeat(20), "é".repeat(9));
        assert_eq!(
            nip01_string(&long),
            Some((format!("{}\"{}", "a".repeat(20), "é".repeat(9)), long.len()))
        );
        assert!(is_nip01_form(r#"[["d","x\"y"],["t","a b"]]"#));
        assert!(is_nip01_form(r#"[["d","x\\"],["t","a b"]]"#));
        assert!(!is_nip01_form(r#"[["d", "x"]]"#));
        assert!(!is_nip01_form(r#"[["d","\u0078"]]"#));
        assert!(is_nip01_form(
            r#"[["a long string, past a word","\\\"\n\\"]]"#
        ));
        assert!(is_nip01_form("[[\"tab\tand nul\u{0} as they are\"]]"));
        assert!(!is_nip01_form(r#"[["a \" still inside" ,"x"]]"#));
        assert!(!is_nip01_form(r#"[["past a word of text \/"]]"#));
        assert!(is_nip01_form(r#"[["never ends"#));
    }

    #[test]
    fn the_first_special_byte_is_found_wherever_it_is() {
        for special in [b'"', b'\\', b'\n', 0, 0x1f] {
            for at in 0..20 {
                let mut bytes = "é".repeat(10).into_bytes();
                bytes[at] = special;
                bytes[19] = special;
                assert_eq!(next_special(&bytes, 0), Some(at), "{special} at {at}");
            }
        }
        let plain = "a ~ é \u{7f} 日本".repeat(3);
        assert_eq!(next_special(plain.as_bytes(), 0), None);
        assert_eq!(next_special(b"ab", 5), None);
    }

    #[test]
    fn hex_reads_either_case_and_nothing_else() {
        let hex_array = |text: &str| hex_array::<2>("x", text).ok();
        assert_eq!(hex_array("0aF9"), Some([0x0a, 0xf9]));
        assert_eq!(hex_array("0af"), None);
        assert_eq!(hex_array("0af90"), None);
        for bad in ["0ag9", "0a 9", "0a-9", "0aé", "0x0af9", "0X0af9"] {
            assert_eq!(hex_array(bad), None, "{bad}");
        }
        let all: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        let bytes: [u8; 256] = super::hex_array("x", &all).unwrap();
        assert!(bytes.iter().enumerate().all(|(i, &b)| usize::from(b) == i));
    }

    #[test]
    fn members_in_any_order_or_spacing_give_the_same_event() {
        let sent = event(r#"{"a":"b\"c"}"#, vec![Tag::identifier("archy:app:x")]);
        let tree: serde_json::Value = serde_json::from_str(&sent.as_json()).unwrap();
        let sorted = tree.to_string();
        assert!(sorted.starts_with("{\"content\""), "{sorted}");
        let spaced = tree
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, value)| format!("{} :\n {value}", serde_json::json!(key)))
            .collect::<Vec<_>>()
            .join(" ,\t");
        let spaced = format!(" {{ {spaced} }}\n");
        for form in [sorted, spaced, serde_json::to_string_pretty(&tree).unwrap()] {
            assert!(read_plain(&form).is_some(), "{form}");
            let read = read(&form).unwrap();
            assert_eq!(read.note, Note::of(&sent), "{form}");
            assert!(read.id_holds, "{form}");
        }
    }

    #[test]
    fn whitespace_json_does_not_allow_is_refused() {
        let text = event("x", vec![]).as_json();
        for space in ['\u{c}', '\u{b}', '\u{a0}', '\u{2028}', '\u{3000}'] {
            for bad in [
                format!("{space}{text}"),
                format!("{text}{space}"),
                text.replacen("\"kind\"", &format!("{space}\"kind\""), 1),
                text.replacen("\"kind\"", &format!("\"kind\"{space}"), 1),
                text.replacen(":30078", &format!(":{space}30078"), 1),
                text.replacen(",\"kind\"", &format!("{space},\"kind\""), 1),
            ] {
                assert_ne!(bad, text);
                assert!(read_plain(&bad).is_none(), "{bad:?}");
                assert!(
                    matches!(read(&bad), Err(Rejection::Malformed(_))),
                    "{bad:?}"
                );
                assert!(serde_json::from_str::<Event>(&bad).is_err(), "{bad:?}");
            }
        }
        let spaced = format!(" \t\r\n{text} \t\r\n");
        assert!(read_plain(&spaced).is_some());
    }

    #[test]
    fn a_member_twice_or_missing_is_refused() {
        let text = event("x", vec![]).as_json();
        let twice = text.replace("\"kind\":30078", "\"kind\":30078,\"kind\":30078");
        let missing = text.replace("\"kind\":30078,", "");
        for bad in [twice, missing] {
            assert!(read_plain(&bad).is_none(), "{bad}");
            assert!(matches!(read(&bad), Err(Rejection::Malformed(_))), "{bad}");
        }
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
            text.replace(
                &sent.pubkey.to_hex(),
                &format!("0x{}", sent.pubkey.to_hex()),
            ),
            text.replace(&sent.id.to_hex(), &format!("0x{}", sent.id.to_hex())),
        ] {
            assert!(matches!(read(&bad), Err(Rejection::Malformed(_))), "{bad}");
        }
        let huge = format!("{{\"content\":\"{}\"}}", "x".repeat(MAX_EVENT_BYTES));
        assert!(matches!(read(&huge), Err(Rejection::TooLarge { .. })));
    }
}
