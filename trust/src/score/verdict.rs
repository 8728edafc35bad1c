//! The bands and the rules that give them. The rules are small and apart
//! from the evidence-gathering ([`explain`](super::explain)) so they can
//! be read, and tested, as the table `docs/trust-model.md` states:
//!
//! 1. `blocked`: on the block list, or a publicly known key. Beats all.
//! 2. `trusted`: pinned or on the allow list: the owner's own word is not
//!    overridden by what others say (their reports are still shown).
//! 3. `suspicious`: muted by the owner, a refused root conflict, or
//!    reports from at least [`SUSPICIOUS_REPORTERS`] counted reporters.
//! 4. `trusted`: the owner, or a score of at least [`TRUSTED_SCORE`].
//! 5. `known`: followed by the owner, by at least [`KNOWN_FOLLOWERS`] keys
//!    the owner follows, or a score of at least [`KNOWN_SCORE`].
//! 6. `unknown` otherwise.
//!
//! An app takes its publisher's band, except that reports on the app from
//! counted reporters make it `suspicious` unless its publisher is blocked
//! or trusted by the owner's own word.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::reason::Reason;

/// Score from which a key is `trusted` on its standing alone: about 3.2
/// times the mass of a typical key the owner follows.
pub const TRUSTED_SCORE: u8 = 80;
/// Score from which a key is `known` on its standing alone: the mass of a
/// typical key the owner follows.
pub const KNOWN_SCORE: u8 = 70;
/// Keys the owner follows that must follow a key for it to be `known`.
pub const KNOWN_FOLLOWERS: u32 = 3;
/// Distinct counted reporters that make a publisher or an app `suspicious`.
pub const SUSPICIOUS_REPORTERS: u32 = 2;
/// The weight from which a reporter counts: half of a key the owner
/// follows. Keys outside the graph weigh 0.
pub const REPORTER_WEIGHT: f64 = 0.5;
/// The most score a `suspicious` verdict shows, so that ranking by score
/// never puts it among `known` ones.
pub const SUSPICIOUS_SCORE_CAP: u8 = 20;

/// Where a band's ranking weights start: each band has its own range
/// ([`RANK_SPREAD`] wide), so the score orders apps within a band and never
/// lifts one above a better band.
const fn rank_base(band: Band) -> f32 {
    match band {
        Band::Blocked => 0.0,
        Band::Suspicious => 0.2,
        Band::Unknown => 0.4,
        Band::Known => 0.6,
        Band::Trusted => 0.8,
    }
}

/// How wide each band's range of ranking weights is.
const RANK_SPREAD: f32 = 0.2;

/// The weight, 0 to 1, that ranks an app of `band` and `score` in a list
/// of apps: the band first, then the score. A search multiplies its
/// relevance by it, so a much better match may still pass a better band.
pub fn rank_weight(band: Band, score: u8) -> f32 {
    if band == Band::Blocked {
        return 0.0;
    }
    rank_base(band) + RANK_SPREAD * f32::from(score.min(100)) / 100.0
}

/// How far to trust a publisher or an app, worst first (so `band >=
/// Band::Known` reads as "known or better").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Never installed: blocked by the owner or a publicly known key.
    Blocked,
    /// Reported by people the owner trusts, muted, or a refused root.
    Suspicious,
    /// No one the owner trusts vouches for it.
    Unknown,
    /// Vouched for by the owner's network.
    Known,
    /// Trusted by the owner's own word, or strongly by the network.
    Trusted,
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Blocked => "blocked",
            Self::Suspicious => "suspicious",
            Self::Unknown => "unknown",
            Self::Known => "known",
            Self::Trusted => "trusted",
        })
    }
}

/// The answer for a publisher: score, band and the reasons for both,
/// most decisive first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// 0 to 100: standing in the owner's graph (0 when blocked, at most
    /// [`SUSPICIOUS_SCORE_CAP`] when suspicious).
    pub score: u8,
    /// The band.
    pub band: Band,
    /// Why, as evidence that reads as sentences.
    pub reasons: Vec<Reason>,
}

/// The answer for an app: its own score, band and reasons (its reports,
/// what it asks for), and its publisher's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppVerdict {
    /// The publisher's score, capped when the app is suspicious.
    pub score: u8,
    /// The app's band.
    pub band: Band,
    /// Why: the publisher's verdict summed up first, then the app's own.
    pub reasons: Vec<Reason>,
    /// The publisher's verdict in full.
    pub publisher: Verdict,
}

/// What the publisher rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PublisherEvidence {
    pub(crate) blocked: bool,
    pub(crate) publicly_known: bool,
    pub(crate) pinned_or_allowed: bool,
    pub(crate) muted: bool,
    pub(crate) root_conflict: bool,
    pub(crate) counted_reporters: u32,
    pub(crate) is_owner: bool,
    pub(crate) followed_by_owner: bool,
    pub(crate) followers_owner_follows: u32,
    pub(crate) score: u8,
}

/// A publisher's band and the score it shows.
pub(crate) fn publisher_band(e: &PublisherEvidence) -> (Band, u8) {
    let band = if e.blocked || e.publicly_known {
        Band::Blocked
    } else if e.pinned_or_allowed {
        Band::Trusted
    } else if e.muted || e.root_conflict || e.counted_reporters >= SUSPICIOUS_REPORTERS {
        Band::Suspicious
    } else if e.is_owner || e.score >= TRUSTED_SCORE {
        Band::Trusted
    } else if e.followed_by_owner
        || e.followers_owner_follows >= KNOWN_FOLLOWERS
        || e.score >= KNOWN_SCORE
    {
        Band::Known
    } else {
        Band::Unknown
    };
    (band, shown_score(band, e.score))
}

/// An app's band and score from its publisher's and the reporters counted
/// against the app itself.
pub(crate) fn app_band(
    publisher: (Band, u8),
    owner_trusts_publisher: bool,
    counted_reporters: u32,
) -> (Band, u8) {
    let (band, score) = publisher;
    let band = if band == Band::Blocked || owner_trusts_publisher {
        band
    } else if counted_reporters >= SUSPICIOUS_REPORTERS {
        Band::Suspicious
    } else {
        band
    };
    (band, shown_score(band, score))
}

fn shown_score(band: Band, score: u8) -> u8 {
    match band {
        Band::Blocked => 0,
        Band::Suspicious => score.min(SUSPICIOUS_SCORE_CAP),
        _ => score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(e: PublisherEvidence) -> Band {
        publisher_band(&e).0
    }

    #[test]
    fn rank_weights_order_by_band_then_score() {
        let order = [
            rank_weight(Band::Blocked, 0),
            rank_weight(Band::Suspicious, 0),
            rank_weight(Band::Suspicious, 20),
            rank_weight(Band::Unknown, 0),
            rank_weight(Band::Unknown, 69),
            rank_weight(Band::Known, 0),
            rank_weight(Band::Known, 79),
            rank_weight(Band::Trusted, 0),
            rank_weight(Band::Trusted, 100),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert_eq!(rank_weight(Band::Trusted, 100), 1.0);
        assert!(rank_weight(Band::Unknown, 69) < rank_weight(Band::Known, 0));
    }

    #[test]
    fn blocked_beats_pinned_and_pinned_beats_reports() {
        let pinned = PublisherEvidence {
            pinned_or_allowed: true,
            counted_reporters: 5,
            score: 90,
            ..Default::default()
        };
        assert_eq!(band(pinned), Band::Trusted);
        assert_eq!(
            publisher_band(&PublisherEvidence {
                blocked: true,
                ..pinned
            }),
            (Band::Blocked, 0)
        );
        assert_eq!(
            band(PublisherEvidence {
                publicly_known: true,
                ..pinned
            }),
            Band::Blocked
        );
    }

    #[test]
    fn reports_mute_and_root_conflict_make_suspicious_and_cap_the_score() {
        let standing = PublisherEvidence {
            score: 85,
            ..Default::default()
        };
        assert_eq!(band(standing), Band::Trusted);
        for e in [
            PublisherEvidence {
                counted_reporters: 2,
                ..standing
            },
            PublisherEvidence {
                muted: true,
                ..standing
            },
            PublisherEvidence {
                root_conflict: true,
                ..standing
            },
        ] {
            assert_eq!(publisher_band(&e), (Band::Suspicious, SUSPICIOUS_SCORE_CAP));
        }
        let one_report = PublisherEvidence {
            counted_reporters: 1,
            ..standing
        };
        assert_eq!(band(one_report), Band::Trusted);
    }

    #[test]
    fn known_needs_you_three_of_your_follows_or_the_score() {
        let nobody = PublisherEvidence {
            score: 69,
            followers_owner_follows: 2,
            ..Default::default()
        };
        assert_eq!(band(nobody), Band::Unknown);
        for e in [
            PublisherEvidence {
                followers_owner_follows: 3,
                ..nobody
            },
            PublisherEvidence {
                followed_by_owner: true,
                ..nobody
            },
            PublisherEvidence {
                score: 70,
                ..nobody
            },
        ] {
            assert_eq!(band(e), Band::Known);
        }
    }

    #[test]
    fn app_reports_lower_an_app_unless_the_owner_trusts_its_publisher() {
        assert_eq!(
            app_band((Band::Known, 75), false, 2),
            (Band::Suspicious, 20)
        );
        assert_eq!(app_band((Band::Known, 75), false, 1), (Band::Known, 75));
        assert_eq!(app_band((Band::Trusted, 75), true, 2), (Band::Trusted, 75));
        assert_eq!(app_band((Band::Blocked, 0), false, 2), (Band::Blocked, 0));
    }
}
