//! What the scoring core is given: plain data, already verified by the
//! caller (event ids and signatures checked, bindings between a DID and
//! its Nostr key checked). Nothing here is fetched or trusted by itself;
//! [`TrustModel`](super::TrustModel) decides how much each piece counts.

use serde::{Deserialize, Serialize};

use super::key::NostrKey;
use crate::Did;

/// A follow list (NIP-02, kind 3): whom `author` vouches for. Only the
/// newest list of each author counts, as relays keep only the newest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowList {
    /// Who signed the list.
    pub author: NostrKey,
    /// The event's `created_at` (Unix seconds): the newest list wins.
    pub created_at: u64,
    /// The keys followed (`p` tags), in any order; repeats and the author
    /// itself are ignored.
    pub follows: Vec<NostrKey>,
}

/// The owner's mute list (kind 10000): keys whose follows must not carry
/// the owner's trust any further, and which are shown as muted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteList {
    /// The event's `created_at` (Unix seconds): the newest list wins.
    pub created_at: u64,
    /// The keys muted (`p` tags).
    pub muted: Vec<NostrKey>,
}

/// What a report (NIP-56, kind 1984) is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// A Nostr key: a person, or a publisher through its binding.
    Key(NostrKey),
    /// One app of one publisher, as its listing names it.
    App {
        /// The publisher's DID (boxed: a parsed DID is large, a key is not).
        publisher: Box<Did>,
        /// The app's id in the publisher's catalog.
        app_id: String,
    },
}

/// The report types NIP-56 defines. A report's type is shown to people;
/// every type counts the same towards `suspicious`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Software meant to harm.
    Malware,
    /// Unwanted or misleading promotion.
    Spam,
    /// Pretending to be someone else.
    Impersonation,
    /// Against the law somewhere.
    Illegal,
    /// Nudity or explicit content.
    Nudity,
    /// Profane or hateful content.
    Profanity,
    /// Any other type, including types NIP-56 does not name.
    Other,
}

impl ReportKind {
    /// The type a report's tag names; a type NIP-56 does not define is
    /// [`ReportKind::Other`], so a new type is still counted.
    pub fn from_nip56(tag: &str) -> Self {
        match tag {
            "malware" => Self::Malware,
            "spam" => Self::Spam,
            "impersonation" => Self::Impersonation,
            "illegal" => Self::Illegal,
            "nudity" => Self::Nudity,
            "profanity" => Self::Profanity,
            _ => Self::Other,
        }
    }
}

/// One report: `author` says `target` is harmful in the way `kind` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Who signed the report.
    pub author: NostrKey,
    /// What it is about.
    pub target: ReportTarget,
    /// The type of harm claimed.
    pub kind: ReportKind,
    /// The event's `created_at`: an author's newer report on the same
    /// target replaces the older.
    pub created_at: u64,
}

/// One review (kind 30078, `d` = `archy:review:<did>/<app-id>`): one
/// author's rating of one app. An author's newer review replaces the older.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Who signed the review.
    pub author: NostrKey,
    /// The app's publisher.
    pub publisher: Did,
    /// The app's id in the publisher's catalog.
    pub app_id: String,
    /// 1 to 5 stars; anything else is refused.
    pub rating: u8,
    /// The review's text, shown as written.
    pub text: String,
    /// The event's `created_at`.
    pub created_at: u64,
}

/// A publisher the node knows: its DID, the Nostr key its verified binding
/// names, and what the node has seen of it.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// The publisher's name.
    pub did: Did,
    /// Its Nostr key, from its verified binding; without one the follow
    /// graph cannot vouch for it.
    pub nostr_key: Option<NostrKey>,
    /// What the node itself has seen.
    pub facts: PublisherFacts,
}

/// What the node itself knows of a publisher, independent of anyone's
/// opinion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublisherFacts {
    /// When the node first saw the publisher (Unix seconds).
    pub first_seen: Option<u64>,
    /// Releases the publisher has yanked.
    pub yanked_releases: u32,
    /// A root other than the pinned one was announced for this publisher
    /// and refused as a conflict: a sign of a stolen or impersonated key.
    pub root_conflict_refused: bool,
    /// The publisher's signing root changed (a verified rotation) since an
    /// app of it was installed here.
    pub root_changed_since_install: bool,
}

/// The node's own decisions about publishers: pinned in its configuration
/// (the first-party catalog, the demo publisher) and the owner's live
/// allow and block lists.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Trusted by this node's configuration.
    pub pinned: Vec<Did>,
    /// Trusted by the owner's allow list.
    pub allowed: Vec<Did>,
    /// Never trusted: the owner's block list. Beats pinned and allowed.
    pub blocked: Vec<Did>,
}

/// What an app's manifest asks of the machine, as far as trust is
/// concerned. Each ask is shown as a reason; none changes the score (see
/// `docs/trust-model.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppAsks {
    /// Host ports the app binds; those below 1024 are shown.
    pub host_ports: Vec<u16>,
    /// The `lan` permission: access to the local network.
    pub lan: bool,
    /// Linux capabilities asked for, as the manifest names them.
    pub capabilities: Vec<String>,
    /// Host devices asked for, as the manifest names them.
    pub devices: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_report_types_still_count_as_other() {
        assert_eq!(ReportKind::from_nip56("malware"), ReportKind::Malware);
        assert_eq!(ReportKind::from_nip56("scam-2027"), ReportKind::Other);
        assert_eq!(
            serde_json::to_string(&ReportKind::Impersonation).unwrap(),
            "\"impersonation\""
        );
    }
}
