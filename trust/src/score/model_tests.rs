//! The model's promises beyond the threats: the same bits for the same
//! inputs, updates within their bound, reviews weighted, asks and facts
//! said.

use super::input::{AppAsks, FollowList, MuteList, Publisher, PublisherFacts, Review};
use super::key::NostrKey;
use super::limits::Limits;
use super::model::{GraphWork, TrustModel};
use super::reviews::Unweighted;
use super::standing;
use super::synthetic;
use super::test_network::{HONEST, NOW, Network, OWNER_RANK, nobody, stranger};
use super::verdict::Band;
use crate::Identity;

#[test]
fn scores_are_bit_identical_across_runs_and_shuffled_inputs() {
    let build = |lists: Vec<FollowList>| {
        let owner = synthetic::key(HONEST.seed, OWNER_RANK);
        let mut model = TrustModel::new(owner, Limits::default());
        for list in lists {
            model.add_follow_list(list);
        }
        model.set_mute_list(MuteList {
            created_at: 1,
            muted: vec![synthetic::key(HONEST.seed, 3)],
        });
        model.recompute();
        let keys: Vec<NostrKey> = (0..model.graph.len() as u32)
            .map(|n| model.store.key(model.graph.kid(n)))
            .collect();
        let bits: Vec<u64> = model.mass.iter().map(|m| m.to_bits()).collect();
        (keys, bits)
    };
    let lists: Vec<FollowList> = synthetic::follow_lists(HONEST).collect();
    let first = build(lists.clone());
    assert_eq!(first, build(lists.clone()), "two runs");
    // Lists in another order, each list's keys in another order, and a
    // stale older list of one author arriving after its newer one.
    let mut shuffled = lists.clone();
    shuffled.reverse();
    shuffled.rotate_left(123);
    for (i, list) in shuffled.iter_mut().enumerate() {
        let turn = i % list.follows.len().max(1);
        list.follows.rotate_left(turn);
        list.follows.reverse();
    }
    let mut stale = lists[0].clone();
    stale.created_at = 0;
    stale.follows.truncate(1);
    shuffled.push(stale);
    assert_eq!(first, build(shuffled), "shuffled inputs");
    assert!(
        first.0.len() > 100,
        "a graph worth comparing: {}",
        first.0.len()
    );
}

/// The largest difference in score points (before rounding) between the
/// keys of two models.
fn points_apart(a: &TrustModel, b: &TrustModel) -> f64 {
    let points = |model: &TrustModel, key: &NostrKey| {
        let node = model.node_of(key).expect("the same keys in both");
        let typical = model.typical.expect("the owner follows someone");
        standing::points(model.mass[node as usize] / typical)
    };
    (0..a.graph.len() as u32)
        .map(|n| a.store.key(a.graph.kid(n)))
        .map(|key| (points(a, &key) - points(b, &key)).abs())
        .fold(0.0, f64::max)
}

#[test]
fn an_update_lands_within_a_tenth_of_a_point_of_a_recompute() {
    let mut net = Network::new(3);
    let follows = net.owner_follows();
    let check = |net: &mut Network, work: GraphWork| {
        let updated = net.model.update();
        assert_eq!(updated.graph, work);
        assert!(updated.steps > 0);
        let refined = net.model.clone();
        net.model.recompute();
        let apart = points_apart(&net.model, &refined);
        assert!(apart < 0.1, "{work:?}: {apart} points apart");
        assert!(
            net.model.mass_distance(&refined) > 0.0,
            "an update is close to a recompute, not the same"
        );
    };
    // A new key one step past a key the owner follows: patched in.
    net.also_follow(&follows[4], stranger(8));
    check(&mut net, GraphWork::Patched);
    // The owner follows someone new.
    let owner = net.model.owner();
    net.also_follow(&owner, stranger(10));
    check(&mut net, GraphWork::Patched);
    // A mute changes whose lists are read: searched again.
    net.model.set_mute_list(MuteList {
        created_at: 1,
        muted: vec![follows[5]],
    });
    check(&mut net, GraphWork::Searched);
    // A list the search does not read changes nothing.
    net.model.add_follow_list(FollowList {
        author: stranger(9),
        created_at: 1,
        follows: vec![follows[0]],
    });
    assert_eq!(net.model.update().graph, GraphWork::Kept);
}

#[test]
fn a_rating_outside_one_to_five_is_refused() {
    let mut model = TrustModel::new(stranger(0), Limits::default());
    let refused = model.add_review(Review {
        author: stranger(1),
        publisher: Identity::from_seed(&[0xf6; 32]).did(),
        app_id: "notes".into(),
        rating: 6,
        text: "!".into(),
        created_at: 1,
    });
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("not 6"), "{message}");
}

#[test]
fn reviews_are_weighted_by_their_authors_standing() {
    let mut net = Network::new(2);
    let follows = net.owner_follows();
    let did = net.publisher(0xf7, follows[6]);
    for (author, rating) in [(follows[0], 2), (follows[1], 2), (stranger(1), 5)] {
        net.model
            .add_review(Review {
                author,
                publisher: did.clone(),
                app_id: "notes".into(),
                rating,
                text: "fine".into(),
                created_at: 3,
            })
            .unwrap();
    }
    let reviews = net.model.reviews(&did, "notes", &nobody());
    assert_eq!(reviews.average, Some(2.0));
    assert_eq!(reviews.weight, 2.0);
    let last = reviews.reviews.last().unwrap();
    assert_eq!((last.rating, last.weight), (5, 0.0));
    assert_eq!(last.note, Some(Unweighted::OutsideYourNetwork));
    assert!(
        last.note
            .unwrap()
            .to_string()
            .contains("counts for nothing")
    );
}

#[test]
fn an_apps_asks_and_the_publishers_facts_are_said() {
    let mut net = Network::new(2);
    let did = Identity::from_seed(&[0xf8; 32]).did();
    net.model.set_publisher(Publisher {
        did: did.clone(),
        nostr_key: None,
        facts: PublisherFacts {
            first_seen: Some(NOW - 2 * 86_400),
            yanked_releases: 1,
            root_conflict_refused: false,
            root_changed_since_install: true,
        },
    });
    let asks = AppAsks {
        host_ports: vec![8080, 80, 443, 80],
        lan: true,
        capabilities: vec!["NET_ADMIN".into()],
        devices: vec!["/dev/ttyUSB0".into()],
    };
    let verdict = net.model.explain_app(&did, "router", &asks, NOW, &nobody());
    let said: Vec<String> = verdict.reasons.iter().map(ToString::to_string).collect();
    assert_eq!(
        said[1..],
        [
            "asks for host port 80",
            "asks for host port 443",
            "asks for access to your local network",
            "asks for the capability NET_ADMIN",
            "asks for the device /dev/ttyUSB0",
        ]
    );
    let publisher: Vec<String> = verdict
        .publisher
        .reasons
        .iter()
        .map(ToString::to_string)
        .collect();
    for expected in [
        "first seen 2 days ago",
        "signing root changed since you installed it",
        "has yanked 1 release",
    ] {
        assert!(publisher.iter().any(|s| s == expected), "{publisher:?}");
    }
    assert!(publisher.iter().any(|s| s.starts_with("no Nostr key")));
    assert_eq!(verdict.band, Band::Unknown);

    net.model.set_publisher(Publisher {
        did: did.clone(),
        nostr_key: None,
        facts: PublisherFacts {
            root_conflict_refused: true,
            ..PublisherFacts::default()
        },
    });
    assert_eq!(
        net.model.explain_publisher(&did, NOW, &nobody()).band,
        Band::Suspicious
    );
}

#[test]
fn stats_count_keys_by_score_and_publishers_by_band() {
    let mut net = Network::new(2);
    let follows = net.owner_follows();
    let known = net.publisher(0xd1, follows[0]);
    let outside = net.publisher(0xd2, stranger(7));
    let stats = net.model.stats();
    assert_eq!(stats.scores.iter().sum::<usize>(), stats.keys);
    assert!(
        stats.scores[9] >= 1,
        "the owner scores 100: {:?}",
        stats.scores
    );
    assert_eq!(
        (stats.publishers.known, stats.publishers.unknown),
        (1, 1),
        "{known} is followed by the owner, {outside} by no one"
    );
    let total = stats.publishers;
    assert_eq!(
        total.trusted + total.known + total.unknown + total.suspicious + total.blocked,
        2
    );
}
