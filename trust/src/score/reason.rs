//! Why a publisher or an app got its band: [`Reason`]s, each a typed piece
//! of evidence that reads as a sentence naming that evidence ("followed by
//! 3 people you follow: alice, bob, carol"). The API returns them as JSON
//! with a stable `kind` tag; the CLI prints their sentences.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::input::ReportKind;
use super::key::NostrKey;
use super::verdict::Band;

/// Display names for keys (from Nostr profiles, say), used in sentences
/// instead of short npubs where the caller knows them.
pub type Names = BTreeMap<NostrKey, String>;

/// A key named in a reason: its key and, when known, a display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// The key.
    pub key: NostrKey,
    /// Its display name, if the caller gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Person {
    /// `key`, named from `names` where it has a name.
    pub fn new(key: NostrKey, names: &Names) -> Self {
        Self {
            key,
            name: names.get(&key).cloned(),
        }
    }
}

/// Its display name, or its short npub.
impl fmt::Display for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => f.write_str(name),
            None => f.write_str(&self.key.short()),
        }
    }
}

/// One piece of evidence behind a verdict. Each says what it is in its
/// `kind` tag and carries its evidence; its `Display` is the sentence shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// On the owner's block list.
    OnBlockList,
    /// Its secret is published, so anyone can sign as it.
    PubliclyKnownKey {
        /// Where the secret was published.
        source: String,
    },
    /// Pinned in this node's configuration.
    Pinned,
    /// On the owner's allow list.
    OnAllowList,
    /// The owner itself.
    You,
    /// Muted by the owner.
    MutedByYou,
    /// The owner follows it.
    FollowedByYou,
    /// Keys the owner follows follow it.
    FollowedByYourFollows {
        /// How many of the owner's follows follow it.
        count: u32,
        /// The most trusted of them (up to five), for the sentence.
        people: Vec<Person>,
    },
    /// No one the owner follows follows it; others in the graph may.
    NotFollowedByYourFollows {
        /// How many other keys in the owner's graph follow it.
        others: u32,
    },
    /// No one within the graph's depth follows it.
    OutsideYourNetwork {
        /// The graph's depth.
        depth: u8,
    },
    /// The publisher has no Nostr key binding, so the graph cannot vouch.
    NoNostrKey,
    /// Its standing in the owner's graph, as a share of what a typical key
    /// the owner follows gets.
    Standing {
        /// The score, 0 to 100.
        score: u8,
        /// Its personalized PageRank over that of the median key the owner
        /// follows.
        relative: f64,
    },
    /// Reports that count: from keys the owner follows or trusts as much.
    ReportedBy {
        /// The type of harm claimed.
        report: ReportKind,
        /// How many counted reporters made this claim.
        count: u32,
        /// Them (up to five).
        people: Vec<Person>,
    },
    /// Reports that do not count: from keys outside the owner's graph or
    /// with too little standing in it.
    ReportsNotCounted {
        /// How many.
        count: u32,
    },
    /// A root other than the pinned one was announced and refused.
    RootConflictRefused,
    /// The signing root changed since an app of it was installed here.
    RootChanged,
    /// How long the node has known the publisher.
    FirstSeen {
        /// When (Unix seconds).
        at: u64,
        /// Seconds before the time the verdict was asked for.
        age: u64,
    },
    /// The publisher has yanked releases.
    YankedReleases {
        /// How many.
        count: u32,
    },
    /// The app's publisher's verdict, summed up.
    Publisher {
        /// The publisher's band.
        band: Band,
        /// The publisher's score.
        score: u8,
    },
    /// The app asks for a privileged host port (below 1024).
    AsksHostPort {
        /// The port.
        port: u16,
    },
    /// The app asks for the `lan` permission.
    AsksLan,
    /// The app asks for a Linux capability.
    AsksCapability {
        /// As the manifest names it.
        capability: String,
    },
    /// The app asks for a host device.
    AsksDevice {
        /// As the manifest names it.
        device: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OnBlockList => f.write_str("on your block list"),
            Self::PubliclyKnownKey { source } => write!(
                f,
                "a publicly known test key ({source}): anyone can sign as it"
            ),
            Self::Pinned => f.write_str("pinned by this node's configuration"),
            Self::OnAllowList => f.write_str("on your allow list"),
            Self::You => f.write_str("this is you"),
            Self::MutedByYou => f.write_str("muted by you"),
            Self::FollowedByYou => f.write_str("followed by you"),
            Self::FollowedByYourFollows { count, people } => write!(
                f,
                "followed by {} you follow: {}",
                counted(*count, "person", "people"),
                listed(people, *count)
            ),
            Self::NotFollowedByYourFollows { others: 0 } => {
                f.write_str("not followed by anyone you follow, nor by anyone else in your network")
            }
            Self::NotFollowedByYourFollows { others } => write!(
                f,
                "not followed by anyone you follow; followed only by {} further out in your network",
                counted(*others, "key", "keys")
            ),
            Self::OutsideYourNetwork { depth } => write!(
                f,
                "outside your network: no one within {} of you follows it",
                counted(u32::from(*depth), "step", "steps")
            ),
            Self::NoNostrKey => f.write_str(
                "no Nostr key is known for this publisher, so no one you follow can vouch for it",
            ),
            Self::Standing { score, relative } => write!(
                f,
                "has {} the trust a typical person you follow has (score {score} of 100)",
                share(*relative)
            ),
            Self::ReportedBy {
                report,
                count,
                people,
            } => write!(
                f,
                "{} by {} you trust: {}",
                reported_as(*report),
                counted(*count, "person", "people"),
                listed(people, *count)
            ),
            Self::ReportsNotCounted { count } => write!(
                f,
                "{} from keys outside your network or with little standing in it {} not counted",
                counted(*count, "report", "reports"),
                if *count == 1 { "is" } else { "are" }
            ),
            Self::RootConflictRefused => f.write_str(
                "someone announced a different signing root for this publisher; it was refused",
            ),
            Self::RootChanged => f.write_str("signing root changed since you installed it"),
            Self::FirstSeen { age, .. } => write!(f, "first seen {}", ago(*age)),
            Self::YankedReleases { count } => {
                write!(f, "has yanked {}", counted(*count, "release", "releases"))
            }
            Self::Publisher { band, score } => {
                write!(f, "its publisher is {band} (score {score} of 100)")
            }
            Self::AsksHostPort { port } => write!(f, "asks for host port {port}"),
            Self::AsksLan => f.write_str("asks for access to your local network"),
            Self::AsksCapability { capability } => {
                write!(f, "asks for the capability {capability}")
            }
            Self::AsksDevice { device } => write!(f, "asks for the device {device}"),
        }
    }
}

/// "1 person", "3 people".
fn counted(count: u32, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// "alice, bob, carol", or "alice, bob and 7 others" when `people` names
/// only some of `count`.
fn listed(people: &[Person], count: u32) -> String {
    let mut text = people
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let others = count.saturating_sub(people.len() as u32);
    if others > 0 {
        text.push_str(&format!(" and {}", counted(others, "other", "others")));
    }
    text
}

/// A share as people say it: "1.4 times", "about", "4 % of".
fn share(relative: f64) -> String {
    if relative >= 1.05 {
        format!("{relative:.1} times")
    } else if relative >= 0.95 {
        "about".to_owned()
    } else if relative >= 0.01 {
        format!("{:.0} % of", relative * 100.0)
    } else if relative >= 0.0001 {
        format!("{:.2} % of", relative * 100.0)
    } else {
        "less than 0.01 % of".to_owned()
    }
}

/// "reported as malware", "reported for nudity".
fn reported_as(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Malware => "reported as malware",
        ReportKind::Spam => "reported as spam",
        ReportKind::Impersonation => "reported as an impersonation",
        ReportKind::Illegal => "reported as illegal",
        ReportKind::Nudity => "reported for nudity",
        ReportKind::Profanity => "reported for profanity",
        ReportKind::Other => "reported as harmful",
    }
}

/// "just now", "5 minutes ago", "2 days ago".
fn ago(seconds: u64) -> String {
    const UNITS: [(u64, &str, &str); 5] = [
        (365 * 86_400, "year", "years"),
        (30 * 86_400, "month", "months"),
        (86_400, "day", "days"),
        (3_600, "hour", "hours"),
        (60, "minute", "minutes"),
    ];
    for (size, one, many) in UNITS {
        if seconds >= size {
            let n = u32::try_from(seconds / size).unwrap_or(u32::MAX);
            return format!("{} ago", counted(n, one, many));
        }
    }
    "just now".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(n: u8, name: Option<&str>) -> Person {
        Person {
            key: NostrKey([n; 32]),
            name: name.map(str::to_owned),
        }
    }

    #[test]
    fn sentences_name_their_evidence() {
        let people = vec![
            person(1, Some("alice")),
            person(2, Some("bob")),
            person(3, Some("carol")),
        ];
        let followed = Reason::FollowedByYourFollows {
            count: 3,
            people: people.clone(),
        };
        assert_eq!(
            followed.to_string(),
            "followed by 3 people you follow: alice, bob, carol"
        );
        let reported = Reason::ReportedBy {
            report: ReportKind::Malware,
            count: 7,
            people: people[..2].to_vec(),
        };
        assert_eq!(
            reported.to_string(),
            "reported as malware by 7 people you trust: alice, bob and 5 others"
        );
        assert_eq!(
            Reason::AsksHostPort { port: 80 }.to_string(),
            "asks for host port 80"
        );
        assert_eq!(
            Reason::FirstSeen {
                at: 0,
                age: 2 * 86_400 + 5
            }
            .to_string(),
            "first seen 2 days ago"
        );
        assert_eq!(
            Reason::RootChanged.to_string(),
            "signing root changed since you installed it"
        );
    }

    #[test]
    fn a_key_without_a_name_is_shown_as_a_short_npub() {
        let shown = person(9, None).to_string();
        assert!(shown.starts_with("npub1") && shown.contains('…'), "{shown}");
    }

    #[test]
    fn standing_says_its_share_in_words() {
        let low = Reason::Standing {
            score: 42,
            relative: 0.04,
        };
        assert_eq!(
            low.to_string(),
            "has 4 % of the trust a typical person you follow has (score 42 of 100)"
        );
        let high = Reason::Standing {
            score: 76,
            relative: 2.0,
        };
        assert!(high.to_string().starts_with("has 2.0 times the trust"));
    }

    #[test]
    fn reasons_serialize_with_a_stable_kind_tag() {
        let json = serde_json::to_value(Reason::AsksHostPort { port: 80 }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "asks_host_port", "port": 80})
        );
        let json = serde_json::to_value(Reason::FollowedByYourFollows {
            count: 1,
            people: vec![person(1, Some("alice"))],
        })
        .unwrap();
        assert_eq!(json["kind"], "followed_by_your_follows");
        assert_eq!(json["people"][0]["name"], "alice");
        assert_eq!(json["people"][0]["key"], hex::encode([1u8; 32]));
    }
}
