//! An event as ingesting reads it: the fields verification and the index
//! use, with its tags' text lent from the event as a relay sent it.
//!
//! `nostr::Event` keeps every tag as a list of owned strings and more
//! (about a dozen allocations for a listing's four tags, and as many to
//! drop), while ingesting looks at a tag's name and first two values only:
//! the `d`, `v` and `expiration` of every event, a deletion's `a` and `e`,
//! and a report's targets with their report type. [`Note`] keeps just
//! those, borrowed where the text has no escape.

use std::borrow::Cow;
use std::fmt;

use nostr::Event;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};

/// The fields of a Nostr event that ingesting reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note<'a> {
    /// The event id, as the event states it (checked apart).
    pub id: [u8; 32],
    /// The author's x-only public key.
    pub author: [u8; 32],
    /// Unix seconds.
    pub created_at: u64,
    /// The kind.
    pub kind: u16,
    /// Each tag's name and first two values.
    pub tags: Tags<'a>,
    /// The content, unescaped.
    pub content: Cow<'a, str>,
    /// The Schnorr signature, `r || s`.
    pub sig: [u8; 64],
}

impl<'a> Note<'a> {
    /// The note of an event built or parsed by `nostr`, lending its text.
    pub fn of(event: &'a Event) -> Self {
        let tags = event
            .tags
            .iter()
            .filter_map(|tag| match tag.as_slice() {
                [name, rest @ ..] => Some(TagHead {
                    name: Cow::Borrowed(name.as_str()),
                    value: rest.first().map(|value| Cow::Borrowed(value.as_str())),
                    extra: rest.get(1).map(|extra| Cow::Borrowed(extra.as_str())),
                }),
                [] => None,
            })
            .collect();
        Self {
            id: event.id.to_bytes(),
            author: event.pubkey.to_bytes(),
            created_at: event.created_at.as_secs(),
            kind: event.kind.as_u16(),
            tags: Tags(tags),
            content: Cow::Borrowed(event.content.as_str()),
            sig: *event.sig.as_ref(),
        }
    }
}

/// A tag's name and its first two values, if it has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagHead<'a> {
    /// The first string: `d`, `t`, `expiration`…
    pub name: Cow<'a, str>,
    /// The second string.
    pub value: Option<Cow<'a, str>>,
    /// The third string: a relay hint, or a report's type.
    pub extra: Option<Cow<'a, str>>,
}

/// An event's tags, name and first value each, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Tags<'a>(#[serde(borrow)] pub Vec<TagHead<'a>>);

impl<'a> Tags<'a> {
    /// Reads the JSON text of an event's tags (`[["d","x"],…]`). Like
    /// `nostr`, it refuses anything but non-empty arrays of strings.
    pub fn read(json: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The value of the first tag named `name`: NIP-01's rule for an
    /// addressable event's `d`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|tag| tag.name == name)
            .and_then(|tag| tag.value.as_deref())
    }

    /// The first value any tag named `name` has, passing over such tags
    /// without a value.
    pub fn value<'s>(&'s self, name: &'s str) -> Option<&'s str> {
        self.values(name).next()
    }

    /// The values of the tags named `name`, in order.
    pub fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        self.0
            .iter()
            .filter(move |tag| tag.name == name)
            .filter_map(|tag| tag.value.as_deref())
    }

    /// The first two values of the tags named `name` that have a value,
    /// in order.
    pub fn pairs<'s>(&'s self, name: &'s str) -> impl Iterator<Item = (&'s str, Option<&'s str>)> {
        self.0
            .iter()
            .filter(move |tag| tag.name == name)
            .filter_map(|tag| Some((tag.value.as_deref()?, tag.extra.as_deref())))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TagHead<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Head;
        impl<'de> Visitor<'de> for Head {
            type Value = TagHead<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tag: a non-empty list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let Text(name) = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("empty tag"))?;
                let value = seq.next_element::<Text<'de>>()?.map(|Text(value)| value);
                let extra = match value {
                    Some(_) => seq.next_element::<Text<'de>>()?.map(|Text(extra)| extra),
                    None => None,
                };
                while seq.next_element::<Text<'de>>()?.is_some() {}
                Ok(TagHead { name, value, extra })
            }
        }
        deserializer.deserialize_seq(Head)
    }
}

/// A JSON string, lent from the text unless it had to be unescaped.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lent_unless_escaped() {
        let tags =
            Tags::read(r#"[["d","archy:app:x"],["t","a\"b"],["x"],["p","k","relay"]]"#).unwrap();
        let heads: Vec<(&str, Option<&str>)> = tags
            .0
            .iter()
            .map(|t| (t.name.as_ref(), t.value.as_deref()))
            .collect();
        assert_eq!(
            heads,
            [
                ("d", Some("archy:app:x")),
                ("t", Some("a\"b")),
                ("x", None),
                ("p", Some("k"))
            ]
        );
        assert!(matches!(tags.0[0].value, Some(Cow::Borrowed(_))));
        assert!(matches!(tags.0[1].value, Some(Cow::Owned(_))));
    }

    #[test]
    fn the_second_value_is_kept_for_report_types() {
        let tags = Tags::read(
            r#"[["p","k1","spam","x"],["p","k2"],["a","30078:k:archy:app:x","malware"]]"#,
        )
        .unwrap();
        assert_eq!(
            tags.pairs("p").collect::<Vec<_>>(),
            [("k1", Some("spam")), ("k2", None)]
        );
        assert_eq!(
            tags.pairs("a").collect::<Vec<_>>(),
            [("30078:k:archy:app:x", Some("malware"))]
        );
    }

    #[test]
    fn what_nostr_refuses_as_tags_is_refused() {
        for bad in [
            r#"[[]]"#,
            r#"[["d",7]]"#,
            r#"[["d","x",null]]"#,
            r#"["d"]"#,
            "{}",
        ] {
            assert!(Tags::read(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<nostr::Tags>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_first_d_decides_and_values_skip_tags_without_one() {
        let tags = Tags::read(r#"[["d"],["d","x"],["e","1"],["e"],["e","2"]]"#).unwrap();
        assert_eq!(tags.first("d"), None, "the first d has no value");
        assert_eq!(tags.value("d"), Some("x"));
        assert_eq!(tags.values("e").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(tags.first("a"), None);
    }

    #[test]
    fn a_note_of_a_nostr_event_lends_what_the_event_holds() {
        let keys = nostr::Keys::generate();
        let event = nostr::EventBuilder::new(nostr::Kind::Custom(30078), "hi")
            .tags([
                nostr::Tag::identifier("archy:app:x"),
                nostr::Tag::hashtag("tools"),
            ])
            .sign_with_keys(&keys)
            .unwrap();
        let note = Note::of(&event);
        assert_eq!(note.author, keys.public_key().to_bytes());
        assert_eq!(note.id, event.id.to_bytes());
        assert_eq!(
            (note.kind, note.created_at),
            (30078, event.created_at.as_secs())
        );
        assert_eq!(note.tags.first("d"), Some("archy:app:x"));
        assert_eq!(note.tags.first("t"), Some("tools"));
        assert_eq!(note.content, "hi");
    }
}
