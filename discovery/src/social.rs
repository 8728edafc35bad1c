//! The trust score's inputs as Nostr carries them: follow lists (NIP-02),
//! mute lists (NIP-51) and reports (NIP-56). [`read`] turns an event whose
//! id and signature hold into a [`SocialInput`], bounded: a list keeps at
//! most [`MAX_LIST_KEYS`] keys (the rest are counted as dropped), a report
//! at most [`MAX_REPORT_TARGETS`] targets. Keys that are not 64 hex digits
//! are skipped and counted. Reviews are archy events and are read with
//! the others ([`crate::verify`]).

use archy_trust::score::ReportKind;
use serde::{Deserialize, Serialize};

use crate::note::Note;
use crate::protocol::{
    D_APP_PREFIX, FOLLOWS_KIND, KIND, MAX_CONTENT_BYTES, MAX_LIST_KEYS, MAX_REPORT_TARGETS,
    MUTES_KIND, REPORT_KIND,
};

/// A Nostr key (32-byte x-only public key).
pub type Key = [u8; 32];

/// What one social event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocialInput {
    /// Whom the author follows: sorted, without repeats.
    Follows(KeyList),
    /// Whom the author mutes: sorted, without repeats.
    Mutes(KeyList),
    /// What the author reports.
    Report(Vec<ReportTarget>),
}

/// The keys of a follow or mute list, and what was left out of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyList {
    /// The keys kept.
    pub keys: Vec<Key>,
    /// Keys over [`MAX_LIST_KEYS`], dropped.
    pub dropped: u32,
    /// Values that were not keys, skipped.
    pub malformed: u32,
}

/// One thing a report names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReportTarget {
    /// The reported key, hex: a publisher's Nostr key, or the author of
    /// the reported listing.
    pub key: String,
    /// The reported app, when the report names a listing.
    pub app: Option<String>,
    /// Why.
    pub kind: ReportKind,
}

/// Why a social event is not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SocialRejection {
    /// Its content is over [`MAX_CONTENT_BYTES`].
    #[error("too large")]
    TooLarge,
    /// A report that names nothing it could be about.
    #[error("report names no key or listing")]
    EmptyReport,
    /// Not a kind read here.
    #[error("wrong kind")]
    WrongKind,
}

impl SocialRejection {
    /// A short label to count rejections by.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooLarge => "too large",
            Self::EmptyReport => "report names nothing",
            Self::WrongKind => "wrong kind",
        }
    }
}

/// Whether `kind` is one [`read`] reads.
pub fn is_social(kind: u16) -> bool {
    matches!(kind, FOLLOWS_KIND | MUTES_KIND | REPORT_KIND)
}

/// Reads a follow list, mute list or report whose id and signature the
/// caller has checked.
pub fn read(note: &Note<'_>) -> Result<SocialInput, SocialRejection> {
    if note.content.len() > MAX_CONTENT_BYTES {
        return Err(SocialRejection::TooLarge);
    }
    match note.kind {
        FOLLOWS_KIND => Ok(SocialInput::Follows(key_list(note))),
        MUTES_KIND => Ok(SocialInput::Mutes(key_list(note))),
        REPORT_KIND => report(note).map(SocialInput::Report),
        _ => Err(SocialRejection::WrongKind),
    }
}

/// 64 hex digits as a key.
pub fn parse_key(text: &str) -> Option<Key> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).ok()?;
    Some(key)
}

fn key_list(note: &Note<'_>) -> KeyList {
    let mut list = KeyList::default();
    for value in note.tags.values("p") {
        match parse_key(value) {
            Some(key) => list.keys.push(key),
            None => list.malformed += 1,
        }
    }
    list.keys.sort_unstable();
    list.keys.dedup();
    if list.keys.len() > MAX_LIST_KEYS {
        list.dropped = u32::try_from(list.keys.len() - MAX_LIST_KEYS).unwrap_or(u32::MAX);
        // Which keys are kept must not depend on the order of the tags.
        list.keys.truncate(MAX_LIST_KEYS);
    }
    list
}

fn report(note: &Note<'_>) -> Result<Vec<ReportTarget>, SocialRejection> {
    let mut targets = Vec::new();
    // A `p` tag without a type only says whose listing an `a` tag names.
    for (key, kind) in note.tags.pairs("p") {
        if let (Some(_), Some(kind)) = (parse_key(key), kind) {
            targets.push(ReportTarget {
                key: key.to_ascii_lowercase(),
                app: None,
                kind: ReportKind::from_nip56(kind),
            });
        }
    }
    let listing = format!("{KIND}:");
    for (address, kind) in note.tags.pairs("a") {
        let Some(rest) = address.strip_prefix(&listing) else {
            continue;
        };
        let Some((key, d)) = rest.split_once(':') else {
            continue;
        };
        let (Some(_), Some(app)) = (parse_key(key), d.strip_prefix(D_APP_PREFIX)) else {
            continue;
        };
        targets.push(ReportTarget {
            key: key.to_ascii_lowercase(),
            app: Some(app.to_owned()),
            kind: ReportKind::from_nip56(kind.unwrap_or_default()),
        });
    }
    targets.sort();
    targets.dedup();
    targets.truncate(MAX_REPORT_TARGETS);
    if targets.is_empty() {
        return Err(SocialRejection::EmptyReport);
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::Tags;
    use std::borrow::Cow;

    fn note(kind: u16, tags: &str) -> Note<'_> {
        Note {
            id: [1; 32],
            author: [2; 32],
            created_at: 10,
            kind,
            tags: Tags::read(tags).unwrap(),
            content: Cow::Borrowed(""),
            sig: [0; 64],
        }
    }

    fn hex_key(n: u8) -> String {
        hex::encode([n; 32])
    }

    #[test]
    fn a_follow_list_keeps_its_keys_sorted_once_and_counts_bad_ones() {
        let tags = format!(
            r#"[["p","{}"],["p","{}","wss://r","bob"],["p","{}"],["p","nope"],["t","x"]]"#,
            hex_key(9),
            hex_key(3),
            hex_key(9)
        );
        let SocialInput::Follows(list) = read(&note(3, &tags)).unwrap() else {
            panic!("not a follow list");
        };
        assert_eq!(list.keys, [[3; 32], [9; 32]]);
        assert_eq!((list.dropped, list.malformed), (0, 1));
    }

    #[test]
    fn an_oversized_list_keeps_the_same_keys_whatever_their_order() {
        let keys: Vec<String> = (0..MAX_LIST_KEYS + 5)
            .map(|i| hex::encode(blake3::hash(&i.to_le_bytes()).as_bytes()))
            .collect();
        let tags = |keys: &[String]| {
            let tags: Vec<[&str; 2]> = keys.iter().map(|k| ["p", k.as_str()]).collect();
            serde_json::to_string(&tags).unwrap()
        };
        let forward = tags(&keys);
        let mut reversed = keys.clone();
        reversed.reverse();
        let backward = tags(&reversed);
        let (SocialInput::Mutes(a), SocialInput::Mutes(b)) = (
            read(&note(10000, &forward)).unwrap(),
            read(&note(10000, &backward)).unwrap(),
        ) else {
            panic!("not mute lists");
        };
        assert_eq!(a, b);
        assert_eq!((a.keys.len(), a.dropped), (MAX_LIST_KEYS, 5));
    }

    #[test]
    fn a_report_names_keys_with_a_type_and_listings() {
        let tags = format!(
            r#"[["p","{k}","malware"],["p","{o}"],["a","30078:{o}:archy:app:org.x","spam"],["a","30078:{o}:archy:catalog","spam"],["e","{k}","nudity"]]"#,
            k = hex_key(7),
            o = hex_key(8)
        );
        let SocialInput::Report(targets) = read(&note(1984, &tags)).unwrap() else {
            panic!("not a report");
        };
        assert_eq!(
            targets,
            [
                ReportTarget {
                    key: hex_key(7),
                    app: None,
                    kind: ReportKind::Malware
                },
                ReportTarget {
                    key: hex_key(8),
                    app: Some("org.x".into()),
                    kind: ReportKind::Spam
                },
            ]
        );
    }

    #[test]
    fn a_report_about_nothing_is_refused() {
        let tags = format!(r#"[["p","{}"]]"#, hex_key(7));
        assert_eq!(read(&note(1984, &tags)), Err(SocialRejection::EmptyReport));
        assert_eq!(read(&note(1, "[]")), Err(SocialRejection::WrongKind));
    }
}
