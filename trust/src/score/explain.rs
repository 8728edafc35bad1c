//! `explain`: a publisher's or an app's verdict with its evidence. Each
//! piece of evidence is gathered from the model (the graph's rows of
//! followers, the report ledger, the node's facts and policy), turned into
//! a [`Reason`], and handed to the rules in [`verdict`](super::verdict).
//! Nothing is precomputed per publisher: one verdict reads one row of
//! followers and the reports on one subject.

use std::collections::BTreeMap;

use super::graph::Node;
use super::input::{AppAsks, PublisherFacts, ReportKind};
use super::key::NostrKey;
use super::known_keys;
use super::model::{Subject, TrustModel};
use super::reason::{Names, Person, Reason};
use super::reviews::Unweighted;
use super::standing;
use super::verdict::{self, AppVerdict, Band, PublisherEvidence, REPORTER_WEIGHT, Verdict};
use crate::Did;

/// People named in one sentence at most; the rest are counted.
const NAMED: usize = 5;
/// Host ports below this are privileged, and shown.
const PRIVILEGED_PORTS: u16 = 1024;

/// A key's place in the graph, as the rules and the sentences need it.
struct Social {
    score: u8,
    is_owner: bool,
    followed_by_owner: bool,
    followers_owner_follows: u32,
    reasons: Vec<Reason>,
}

/// A publisher's band and score, for ranking its apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherStanding {
    /// Its band.
    pub band: Band,
    /// Its score, 0 to 100.
    pub score: u8,
    /// Whether the owner's own word (pin or allow list) trusts it: reports
    /// on its apps then do not make them suspicious.
    owner_trusts: bool,
}

/// Reports on one subject, weighed.
struct Weighed {
    counted: u32,
    reasons: Vec<Reason>,
    not_counted: Option<Reason>,
}

impl TrustModel {
    /// The verdict on the publisher `did` at time `now` (Unix seconds, for
    /// "first seen 2 days ago"), naming keys from `names` where it can.
    pub fn explain_publisher(&self, did: &Did, now: u64, names: &Names) -> Verdict {
        self.judge_publisher(did, now, names).0
    }

    /// The verdict on app `app_id` of publisher `did`, whose manifest asks
    /// for `asks`.
    pub fn explain_app(
        &self,
        did: &Did,
        app_id: &str,
        asks: &AppAsks,
        now: u64,
        names: &Names,
    ) -> AppVerdict {
        let (publisher, owner_trusts) = self.judge_publisher(did, now, names);
        let subject = Subject::App(did.as_str().to_owned(), app_id.to_owned());
        let reports = self.weigh_reports(&subject, names);
        let (band, score) = verdict::app_band(
            (publisher.band, publisher.score),
            owner_trusts,
            reports.counted,
        );
        let mut reasons = vec![Reason::Publisher {
            band: publisher.band,
            score: publisher.score,
        }];
        reasons.extend(reports.reasons);
        reasons.extend(reports.not_counted);
        reasons.extend(asked(asks));
        AppVerdict {
            score,
            band,
            reasons,
            publisher,
        }
    }

    /// The band and score of publisher `did`, without the sentences: what
    /// ranking a list of apps needs, once per publisher.
    pub fn publisher_standing(&self, did: &Did, now: u64) -> PublisherStanding {
        let (verdict, owner_trusts) = self.judge_publisher(did, now, &Names::default());
        PublisherStanding {
            band: verdict.band,
            score: verdict.score,
            owner_trusts,
        }
    }

    /// The band and score of app `app_id` of `did`, whose publisher stands
    /// at `publisher`, without the sentences. What an app asks for adds
    /// reasons but never changes its band or score, so it is not needed.
    pub fn app_standing(
        &self,
        publisher: &PublisherStanding,
        did: &Did,
        app_id: &str,
    ) -> (Band, u8) {
        let subject = Subject::App(did.as_str().to_owned(), app_id.to_owned());
        let counted = self.count_reporters(&subject);
        verdict::app_band(
            (publisher.band, publisher.score),
            publisher.owner_trusts,
            counted,
        )
    }

    /// How many reporters on `subject` count (weigh at least
    /// [`REPORTER_WEIGHT`]), as [`Self::weigh_reports`] counts them.
    fn count_reporters(&self, subject: &Subject) -> u32 {
        self.reports
            .about(subject)
            .filter(|(author, _)| self.weight(author).0 >= REPORTER_WEIGHT)
            .count() as u32
    }

    /// How much `key`'s claims weigh, 0 to 1: 1 for the owner and the keys
    /// it follows, otherwise its mass over the typical follow's, at most 1.
    /// Keys outside the graph, muted or publicly known weigh 0, and say why.
    pub(super) fn weight(&self, key: &NostrKey) -> (f64, Option<Unweighted>) {
        if known_keys::nostr_source(key).is_some() {
            return (0.0, Some(Unweighted::PubliclyKnownKey));
        }
        if self.store.is_muted(key) {
            return (0.0, Some(Unweighted::MutedByYou));
        }
        let Some(node) = self.node_of(key) else {
            return (0.0, Some(Unweighted::OutsideYourNetwork));
        };
        if node == self.graph.owner() || self.graph.followed_by_owner(node) {
            return (1.0, None);
        }
        (self.relative(node).min(1.0), None)
    }

    /// The publisher's verdict, and whether the owner's own word (pin or
    /// allow list, not blocked) trusts it.
    fn judge_publisher(&self, did: &Did, now: u64, names: &Names) -> (Verdict, bool) {
        let text = did.as_str();
        let publisher = self.publishers.get(text);
        let nostr_key = publisher.and_then(|p| p.nostr_key);
        let facts = publisher.map(|p| p.facts.clone()).unwrap_or_default();
        let mut evidence = PublisherEvidence {
            blocked: self.policy.blocked.contains(text),
            ..PublisherEvidence::default()
        };
        let mut reasons = Vec::new();
        if evidence.blocked {
            reasons.push(Reason::OnBlockList);
        }
        let known = known_keys::did_source(text)
            .or_else(|| nostr_key.as_ref().and_then(known_keys::nostr_source));
        if let Some(source) = known {
            evidence.publicly_known = true;
            reasons.push(Reason::PubliclyKnownKey {
                source: source.to_owned(),
            });
        }
        if self.policy.pinned.contains(text) {
            evidence.pinned_or_allowed = true;
            reasons.push(Reason::Pinned);
        }
        if self.policy.allowed.contains(text) {
            evidence.pinned_or_allowed = true;
            reasons.push(Reason::OnAllowList);
        }
        let mut later = Vec::new();
        match &nostr_key {
            Some(key) => {
                if self.store.is_muted(key) {
                    evidence.muted = true;
                    reasons.push(Reason::MutedByYou);
                }
                let social = self.social(key, names);
                evidence.score = social.score;
                evidence.is_owner = social.is_owner;
                evidence.followed_by_owner = social.followed_by_owner;
                evidence.followers_owner_follows = social.followers_owner_follows;
                let reports = self.weigh_reports(&Subject::Key(*key), names);
                evidence.counted_reporters = reports.counted;
                reasons.extend(reports.reasons);
                later.extend(social.reasons);
                later.extend(reports.not_counted);
            }
            None => later.push(Reason::NoNostrKey),
        }
        evidence.root_conflict = facts.root_conflict_refused;
        reasons.extend(
            evidence
                .root_conflict
                .then_some(Reason::RootConflictRefused),
        );
        reasons.extend(later);
        reasons.extend(fact_reasons(&facts, now));
        let (band, score) = verdict::publisher_band(&evidence);
        let owner_trusts = evidence.pinned_or_allowed && band != Band::Blocked;
        (
            Verdict {
                score,
                band,
                reasons,
            },
            owner_trusts,
        )
    }

    /// Where `key` stands in the graph, with the sentences that say so.
    fn social(&self, key: &NostrKey, names: &Names) -> Social {
        let Some(node) = self.node_of(key) else {
            return Social {
                score: 0,
                is_owner: false,
                followed_by_owner: false,
                followers_owner_follows: 0,
                reasons: vec![Reason::OutsideYourNetwork {
                    depth: self.graph.depth(),
                }],
            };
        };
        let is_owner = node == self.graph.owner();
        let followed_by_owner = self.graph.followed_by_owner(node);
        let mut reasons = Vec::new();
        if is_owner {
            reasons.push(Reason::You);
        }
        if followed_by_owner {
            reasons.push(Reason::FollowedByYou);
        }
        let mut vouching: Vec<Node> = self
            .graph
            .followers(node)
            .iter()
            .copied()
            .filter(|&f| self.graph.followed_by_owner(f))
            .collect();
        let count = vouching.len() as u32;
        if count > 0 {
            // The most trusted first, then by key: never by arrival order.
            vouching.sort_unstable_by(|&a, &b| {
                self.mass[b as usize]
                    .total_cmp(&self.mass[a as usize])
                    .then(a.cmp(&b))
            });
            let people = vouching
                .iter()
                .take(NAMED)
                .map(|&f| Person::new(self.store.key(self.graph.kid(f)), names))
                .collect();
            reasons.push(Reason::FollowedByYourFollows { count, people });
        } else if !is_owner {
            let owner_follows = u32::from(followed_by_owner);
            let others = self.graph.followers(node).len() as u32 - owner_follows;
            reasons.push(Reason::NotFollowedByYourFollows { others });
        }
        let relative = self.relative(node);
        let score = standing::score(relative);
        if !is_owner {
            reasons.push(Reason::Standing { score, relative });
        }
        Social {
            score: if is_owner { 100 } else { score },
            is_owner,
            followed_by_owner,
            followers_owner_follows: count,
            reasons,
        }
    }

    /// The reports held on `subject`, split into those that count (their
    /// author weighs at least [`REPORTER_WEIGHT`]) and those that do not.
    fn weigh_reports(&self, subject: &Subject, names: &Names) -> Weighed {
        let mut counted: BTreeMap<ReportKind, Vec<(f64, NostrKey)>> = BTreeMap::new();
        let mut not_counted = 0u32;
        for (author, report) in self.reports.about(subject) {
            let (weight, _) = self.weight(author);
            if weight >= REPORTER_WEIGHT {
                counted
                    .entry(report.claim)
                    .or_default()
                    .push((weight, *author));
            } else {
                not_counted += 1;
            }
        }
        let mut total = 0;
        let reasons = counted
            .into_iter()
            .map(|(report, mut reporters)| {
                reporters.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let count = reporters.len() as u32;
                total += count;
                Reason::ReportedBy {
                    report,
                    count,
                    people: reporters
                        .iter()
                        .take(NAMED)
                        .map(|&(_, key)| Person::new(key, names))
                        .collect(),
                }
            })
            .collect();
        Weighed {
            counted: total,
            reasons,
            not_counted: (not_counted > 0)
                .then_some(Reason::ReportsNotCounted { count: not_counted }),
        }
    }

    /// `node`'s mass over the typical follow's (0 when the owner follows no one).
    fn relative(&self, node: Node) -> f64 {
        match self.typical {
            Some(typical) => self.mass[node as usize] / typical,
            None => 0.0,
        }
    }
}

/// The node's own facts about a publisher, as reasons (the refused root
/// conflict is said among the decisive reasons, not here).
fn fact_reasons(facts: &PublisherFacts, now: u64) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if facts.root_changed_since_install {
        reasons.push(Reason::RootChanged);
    }
    if facts.yanked_releases > 0 {
        reasons.push(Reason::YankedReleases {
            count: facts.yanked_releases,
        });
    }
    if let Some(at) = facts.first_seen {
        reasons.push(Reason::FirstSeen {
            at,
            age: now.saturating_sub(at),
        });
    }
    reasons
}

/// What an app asks for, as reasons: privileged host ports, then the
/// local network, capabilities and devices, each once and sorted.
fn asked(asks: &AppAsks) -> Vec<Reason> {
    let mut ports: Vec<u16> = asks
        .host_ports
        .iter()
        .copied()
        .filter(|&p| p < PRIVILEGED_PORTS)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    let mut reasons: Vec<Reason> = ports
        .into_iter()
        .map(|port| Reason::AsksHostPort { port })
        .collect();
    if asks.lan {
        reasons.push(Reason::AsksLan);
    }
    let sorted = |items: &[String]| {
        let mut items = items.to_vec();
        items.sort_unstable();
        items.dedup();
        items
    };
    reasons.extend(
        sorted(&asks.capabilities)
            .into_iter()
            .map(|capability| Reason::AsksCapability { capability }),
    );
    reasons.extend(
        sorted(&asks.devices)
            .into_iter()
            .map(|device| Reason::AsksDevice { device }),
    );
    reasons
}
