//! One test per threat the trust model must stand up to, each named after
//! what it stops, on the honest network of [`test_network`](super::test_network).

use super::input::{AppAsks, FollowList, MuteList, Policy, Publisher, PublisherFacts, Report};
use super::input::{ReportKind, ReportTarget, Review};
use super::key::NostrKey;
use super::limits::Limits;
use super::model::TrustModel;
use super::reason::{Names, Reason};
use super::reviews::Unweighted;
use super::synthetic::{self, Spec};
use super::test_network::{NOW, Network, nobody, stranger};
use super::verdict::{Band, KNOWN_SCORE};
use crate::{Did, Identity};

#[test]
fn a_sybil_ring_behind_three_attack_edges_stays_unknown_and_says_why() {
    const RING: usize = 1000;
    for depth in [2, 8] {
        let mut net = Network::new(depth);
        let sybil = |i: usize| synthetic::key(0x5b, i % RING);
        let evil_key = synthetic::key(0x5b, RING);
        // The ring: the sybils follow each other (ten each on average, as
        // the honest network does) and all endorse the malicious
        // publisher, whose own list sends the mass back in.
        let ring = Spec {
            keys: RING,
            edges: 10 * RING,
            seed: 0x5b,
        };
        for mut list in synthetic::follow_lists(ring) {
            list.follows.push(evil_key);
            net.model.add_follow_list(list);
        }
        net.model.add_follow_list(FollowList {
            author: evil_key,
            created_at: 1,
            follows: vec![sybil(0)],
        });
        let attackers = net.attack(&[sybil(0), sybil(300), sybil(600)]);
        let evil = net.publisher(0xee, evil_key);
        for i in 0..RING {
            net.model
                .add_review(Review {
                    author: sybil(i),
                    publisher: evil.clone(),
                    app_id: "evil".into(),
                    rating: 5,
                    text: "best app ever".into(),
                    created_at: 1,
                })
                .unwrap();
        }

        let verdict = net
            .model
            .explain_app(&evil, "evil", &AppAsks::default(), NOW, &nobody());
        assert!(verdict.band <= Band::Unknown, "depth {depth}: {verdict:?}");
        assert_eq!(verdict.publisher.band, Band::Unknown, "depth {depth}");
        assert!(verdict.publisher.score < KNOWN_SCORE);
        let reasons = &verdict.publisher.reasons;
        let reviews = net.model.reviews(&evil, "evil", &nobody());
        assert_eq!(reviews.reviews.len(), RING);
        // A thousand five-star reviews weigh less than one person the
        // owner follows.
        assert!(
            reviews.weight < 1.0,
            "sybil reviews weigh {}",
            reviews.weight
        );
        if depth == 2 {
            // The publisher is three steps out, beyond the graph, and so
            // are all sybils but the three the attack edges reach.
            assert!(reasons.contains(&Reason::OutsideYourNetwork { depth: 2 }));
            let outside = reviews
                .reviews
                .iter()
                .filter(|r| r.note == Some(Unweighted::OutsideYourNetwork))
                .count();
            assert_eq!(outside, RING - 3);
        } else {
            // The whole ring is in the graph; what it holds is bounded by
            // what its three attack edges let in.
            let ring_mass: f64 =
                (0..RING).map(|i| net.mass_of(&sybil(i))).sum::<f64>() + net.mass_of(&evil_key);
            assert!(net.mass_of(&evil_key) > 0.0);
            assert!(
                ring_mass <= net.sybil_bound(&attackers) + 1e-9,
                "ring mass {ring_mass} over the bound {}",
                net.sybil_bound(&attackers)
            );
            let followers = reasons.iter().find_map(|r| match r {
                Reason::NotFollowedByYourFollows { others } => Some(*others),
                _ => None,
            });
            let in_graph = (0..RING)
                .filter(|&i| {
                    let kid = net.model.store.lookup(&sybil(i));
                    kid.and_then(|k| net.model.graph.node(k)).is_some()
                })
                .count();
            assert!(in_graph > 900, "only {in_graph} sybils reached");
            assert_eq!(followers, Some(in_graph as u32), "{reasons:?}");
            assert!(
                reasons
                    .iter()
                    .any(|r| matches!(r, Reason::Standing { score, .. } if *score < KNOWN_SCORE))
            );
        }
        let text = verdict.publisher.reasons[0].to_string();
        assert!(
            text.contains("follow"),
            "the first reason speaks of follows: {text}"
        );
    }
}

#[test]
fn a_ring_built_to_hold_its_mass_on_one_key_stays_below_known() {
    // The strongest shape for one key: every sybil follows only the
    // publisher, and the publisher follows them all back, so the mass the
    // attack edges let in keeps cycling through it.
    const RING: usize = 1000;
    let mut net = Network::new(8);
    let sybil = |i: usize| synthetic::key(0x5c, i);
    let evil_key = synthetic::key(0x5c, RING);
    for i in 0..RING {
        net.model.add_follow_list(FollowList {
            author: sybil(i),
            created_at: 1,
            follows: vec![evil_key],
        });
    }
    net.model.add_follow_list(FollowList {
        author: evil_key,
        created_at: 1,
        follows: (0..RING).map(sybil).collect(),
    });
    let attackers = net.attack(&[sybil(0), sybil(1), sybil(2)]);
    let evil = net.publisher(0xef, evil_key);
    let verdict = net.model.explain_publisher(&evil, NOW, &nobody());
    assert_eq!(verdict.band, Band::Unknown, "{verdict:?}");
    assert!(net.mass_of(&evil_key) <= net.sybil_bound(&attackers));
}

#[test]
fn two_reports_from_people_you_follow_make_an_app_suspicious_strangers_do_not() {
    let mut net = Network::new(2);
    let follows = net.owner_follows();
    let did = net.publisher(0xa1, follows[5]);
    let app = |publisher: &Did| ReportTarget::App {
        publisher: Box::new(publisher.clone()),
        app_id: "notes".into(),
    };
    let band = |net: &Network| {
        let verdict = net
            .model
            .explain_app(&did, "notes", &AppAsks::default(), NOW, &nobody());
        // Ranking reads the same band and score without the sentences.
        let publisher = net.model.publisher_standing(&did, NOW);
        assert_eq!(
            net.model.app_standing(&publisher, &did, "notes"),
            (verdict.band, verdict.score)
        );
        assert_eq!(
            (publisher.band, publisher.score),
            (verdict.publisher.band, verdict.publisher.score)
        );
        verdict
    };
    assert_eq!(band(&net).band, Band::Known);

    for n in 0..2 {
        net.model.add_report(Report {
            author: stranger(n),
            target: app(&did),
            kind: ReportKind::Malware,
            created_at: 5,
        });
    }
    let strangers_only = band(&net);
    assert_eq!(strangers_only.band, Band::Known);
    assert!(
        strangers_only
            .reasons
            .contains(&Reason::ReportsNotCounted { count: 2 })
    );

    net.model.add_report(Report {
        author: follows[0],
        target: app(&did),
        kind: ReportKind::Malware,
        created_at: 5,
    });
    assert_eq!(band(&net).band, Band::Known, "one report is not enough");
    net.model.add_report(Report {
        author: follows[1],
        target: app(&did),
        kind: ReportKind::Malware,
        created_at: 5,
    });
    let reported = band(&net);
    assert_eq!(reported.band, Band::Suspicious);
    assert!(reported.score <= 20);
    let said = reported
        .reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    assert!(
        said.iter()
            .any(|s| s.starts_with("reported as malware by 2 people you trust")),
        "{said:?}"
    );
    // The publisher itself is not reported; only its app is.
    assert_eq!(reported.publisher.band, Band::Known);
}

#[test]
fn a_publisher_followed_by_three_of_your_follows_is_known_and_named() {
    let mut net = Network::new(2);
    let follows = net.owner_follows();
    let newcomer = stranger(1);
    let did = net.publisher(0xb2, newcomer);
    let mut names = Names::new();
    for (key, name) in follows.iter().zip(["alice", "bob", "carol"]) {
        names.insert(*key, name.to_owned());
    }
    for (i, follower) in follows.iter().take(3).enumerate() {
        net.also_follow(follower, newcomer);
        net.model.update();
        let verdict = net.model.explain_publisher(&did, NOW, &names);
        if i < 2 {
            assert_eq!(verdict.band, Band::Unknown, "with {} follows", i + 1);
        } else {
            assert_eq!(verdict.band, Band::Known);
            let said: Vec<String> = verdict.reasons.iter().map(ToString::to_string).collect();
            let followed = said
                .iter()
                .find(|s| s.starts_with("followed by 3 people you follow: "))
                .unwrap_or_else(|| panic!("{said:?}"));
            for name in ["alice", "bob", "carol"] {
                assert!(followed.contains(name), "{followed}");
            }
        }
    }
}

#[test]
fn pinned_is_trusted_unless_blocked_and_known_keys_are_blocked() {
    let mut net = Network::new(2);
    let did = net.publisher(0xc3, stranger(3));
    assert_eq!(
        net.model.explain_publisher(&did, NOW, &nobody()).band,
        Band::Unknown
    );
    net.model.set_policy(Policy {
        pinned: vec![did.clone()],
        ..Policy::default()
    });
    let pinned = net.model.explain_publisher(&did, NOW, &nobody());
    assert_eq!(pinned.band, Band::Trusted);
    assert!(pinned.reasons.contains(&Reason::Pinned));

    net.model.set_policy(Policy {
        pinned: vec![did.clone()],
        blocked: vec![did.clone()],
        ..Policy::default()
    });
    let blocked = net.model.explain_publisher(&did, NOW, &nobody());
    assert_eq!((blocked.band, blocked.score), (Band::Blocked, 0));
    assert_eq!(blocked.reasons[0], Reason::OnBlockList);

    // An RFC 8032 test seed as the publisher's DID, pinned all the same.
    let rfc = Identity::from_seed(
        &hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap(),
    );
    // The secret 1 as the Nostr key of a publisher with a fresh DID.
    let generator = NostrKey(
        hex::decode("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let zero = Identity::from_seed(&[0; 32]);
    let cases = [
        (rfc.did(), stranger(4)),
        (Identity::from_seed(&[0xc4; 32]).did(), generator),
        (zero.did(), stranger(5)),
        (
            Identity::from_seed(&[0xc5; 32]).did(),
            zero.nostr_keys().public_key().into(),
        ),
    ];
    for (did, key) in cases {
        net.model.set_publisher(Publisher {
            did: did.clone(),
            nostr_key: Some(key),
            facts: PublisherFacts::default(),
        });
        net.model.set_policy(Policy {
            pinned: vec![did.clone()],
            ..Policy::default()
        });
        let verdict = net.model.explain_publisher(&did, NOW, &nobody());
        assert_eq!(verdict.band, Band::Blocked, "{did}");
        let said = verdict.reasons[0].to_string();
        assert!(said.contains("anyone can sign as it"), "{said}");
    }
}

#[test]
fn a_publicly_known_key_passes_no_trust_on() {
    let mut net = Network::new(2);
    let zero: NostrKey = Identity::from_seed(&[0; 32])
        .nostr_keys()
        .public_key()
        .into();
    let follows = net.owner_follows();
    // The owner follows the known key, which "follows" a stranger.
    let owner = net.model.owner();
    net.also_follow(&owner, zero);
    net.model.add_follow_list(FollowList {
        author: zero,
        created_at: 9,
        follows: vec![stranger(6)],
    });
    net.model.recompute();
    assert_eq!(net.mass_of(&stranger(6)), 0.0);
    assert_eq!(
        net.model.weight(&zero),
        (0.0, Some(Unweighted::PubliclyKnownKey))
    );
    assert!(net.model.weight(&follows[0]).0 > 0.0);
}

#[test]
fn a_muted_key_passes_nothing_on_and_is_suspicious() {
    let mut net = Network::new(2);
    let follows = net.owner_follows();
    let muted = follows[2];
    let did = net.publisher(0xd4, muted);
    let only_through_muted = stranger(7);
    net.also_follow(&muted, only_through_muted);
    net.model.recompute();
    assert!(net.mass_of(&only_through_muted) > 0.0);
    net.model.set_mute_list(MuteList {
        created_at: 1,
        muted: vec![muted],
    });
    net.model.update();
    assert_eq!(net.mass_of(&only_through_muted), 0.0);
    let verdict = net.model.explain_publisher(&did, NOW, &nobody());
    assert_eq!(verdict.band, Band::Suspicious);
    assert!(verdict.reasons.contains(&Reason::MutedByYou));
}

#[test]
fn oversize_lists_and_graphs_are_cut_and_reported() {
    let owner = stranger(100);
    let limits = Limits {
        keys_per_list: 10,
        max_keys: 15,
        claims_per_key: 2,
        ..Limits::default()
    };
    let mut model = TrustModel::new(owner, limits);
    model.add_follow_list(FollowList {
        author: owner,
        created_at: 1,
        follows: (0..25).map(stranger).collect(),
    });
    for n in 0..25 {
        model.add_follow_list(FollowList {
            author: stranger(n),
            created_at: 1,
            follows: (200..205).map(stranger).collect(),
        });
    }
    let did = Identity::from_seed(&[0xe5; 32]).did();
    for app in ["a", "b", "c"] {
        model
            .add_review(Review {
                author: stranger(0),
                publisher: did.clone(),
                app_id: app.into(),
                rating: 4,
                text: String::new(),
                created_at: 1,
            })
            .unwrap();
    }
    model.recompute();
    let stats = model.stats();
    assert_eq!(stats.keys, 15);
    let cut = stats.truncation;
    assert_eq!((cut.lists_cut, cut.list_keys_cut), (1, 15));
    assert_eq!(cut.keys_left_out, 1);
    assert_eq!(cut.claims_dropped, 1);
    assert!(cut.edges_left_out >= 1);
    assert!(!cut.is_empty());
    assert!(cut.to_string().contains("lost 15 keys"), "{cut}");
}
