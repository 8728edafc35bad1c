//! The ingest path on a real redb index: every kind of bad input is
//! rejected with a counted reason and nothing is indexed; good listings
//! wait for their publisher's root, are de-duplicated across relays,
//! superseded, deleted and refused on a root conflict as the protocol says.

use archy_discovery::ingest::{Incoming, IngestLimits, Ingestor, Outcome};
use archy_discovery::protocol::{KIND, PROTOCOL_VERSION, TOPIC};
use archy_discovery::publish;
use archy_synthetic::{SyntheticPublisher, root_json, signed_manifest};
use archy_trust::Identity;
use nostr::{Event, EventBuilder, JsonUtil, Kind, Tag, TagKind, Timestamp};
use serde_json::value::RawValue;

const NOW: u64 = 1_800_000_000;
const YEAR: u64 = 365 * 24 * 3600;

struct Index {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    ingestor: Ingestor,
}

fn index_with(limits: IngestLimits) -> Index {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("discovery.redb");
    let ingestor = Ingestor::open(&path, limits).unwrap();
    Index {
        _dir: dir,
        path,
        ingestor,
    }
}

fn index() -> Index {
    index_with(IngestLimits::default())
}

impl Index {
    fn feed_from(&mut self, relay: &str, raws: &[String]) -> Vec<Outcome> {
        let batch: Vec<Incoming<'_>> = raws.iter().map(|raw| Incoming { relay, raw }).collect();
        self.ingestor.ingest(&batch, NOW).unwrap()
    }

    fn feed(&mut self, events: &[&Event]) -> Vec<Outcome> {
        let raws: Vec<String> = events.iter().map(|e| e.as_json()).collect();
        self.feed_from("ws://relay.test", &raws)
    }

    fn one(&mut self, event: &Event) -> Outcome {
        self.feed(&[event]).remove(0)
    }

    fn counter(&self, name: &str) -> u64 {
        self.ingestor
            .store()
            .counters()
            .unwrap()
            .into_iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, c)| c)
    }

    fn listings(&self) -> usize {
        self.ingestor.store().listings().unwrap().len()
    }

    /// Asserts `event` is rejected for `reason`, counted, and not indexed.
    fn refuses(&mut self, event: &Event, reason: &'static str) {
        let before = self.listings();
        assert_eq!(self.one(event), Outcome::Rejected(reason));
        assert_eq!(self.counter(&format!("rejected: {reason}")), 1);
        assert_eq!(self.listings(), before, "nothing indexed");
        assert_eq!(self.ingestor.index().len(), before);
    }
}

fn publisher() -> SyntheticPublisher {
    SyntheticPublisher::new(Identity::generate().unwrap(), "Alice", NOW + YEAR).unwrap()
}

/// A publisher whose root the index has pinned.
fn pinned(index: &mut Index) -> SyntheticPublisher {
    let alice = publisher();
    let catalog = alice.catalog_event(NOW - 100).unwrap();
    assert_eq!(index.one(&catalog), Outcome::RootPinned);
    alice
}

fn notes(alice: &SyntheticPublisher, at: u64) -> Event {
    let listing = alice
        .listing(
            "org.example.notes",
            "Notes",
            "Plain-text notes",
            &["productivity"],
        )
        .unwrap();
    alice.listing_event(&listing, at).unwrap()
}

/// An archy event by `identity` with any content and tags.
fn raw_event(identity: &Identity, d: &str, version: &str, content: String, at: u64) -> Event {
    EventBuilder::new(Kind::Custom(KIND), content)
        .tags([
            Tag::identifier(d),
            Tag::custom(TagKind::custom("v"), [version]),
            Tag::hashtag(TOPIC),
        ])
        .custom_created_at(Timestamp::from_secs(at))
        .sign_with_keys(&identity.nostr_keys())
        .unwrap()
}

#[test]
fn a_good_listing_is_indexed_and_found() {
    let mut index = index();
    let alice = pinned(&mut index);
    assert_eq!(index.one(&notes(&alice, NOW - 50)), Outcome::Indexed);
    let hits = index.ingestor.index().search("notes", 0, 10);
    assert_eq!(hits.hits[0].app_id, "org.example.notes");
    assert_eq!(index.counter("indexed"), 1);
}

#[test]
fn a_wrong_id_is_rejected() {
    let mut index = index();
    let alice = pinned(&mut index);
    let mut event = notes(&alice, NOW - 50);
    event.content = event.content.replacen("Notes", "Notez", 1);
    index.refuses(&event, "bad id");
}

#[test]
fn a_bad_signature_is_rejected() {
    let mut index = index();
    let alice = pinned(&mut index);
    let mut event = notes(&alice, NOW - 50);
    event.sig = alice.publisher_event(NOW).unwrap().sig;
    index.refuses(&event, "bad signature");
}

#[test]
fn a_binding_signed_by_another_did_is_rejected() {
    let mut index = index();
    let alice = pinned(&mut index);
    let mallory = Identity::generate().unwrap();
    // Mallory's Nostr key claims alice's DID, with a binding mallory signed.
    let forged = archy_discovery::protocol::Binding {
        did: alice.identity.did(),
        nostr_pubkey: mallory.nostr_keys().public_key().to_hex(),
        name: "Alice".into(),
        about: String::new(),
        expires: NOW + YEAR,
    };
    let envelope = archy_trust::Signed::sign(&forged, &mallory).unwrap();
    let mut listing = alice
        .listing("org.example.notes", "Notes", "Plain-text notes", &[])
        .unwrap();
    listing.binding = RawValue::from_string(String::from_utf8(envelope).unwrap()).unwrap();
    let event = publish::listing_event(&mallory, &listing, Timestamp::from_secs(NOW)).unwrap();
    index.refuses(&event, "binding signed by another DID");
}

#[test]
fn an_envelope_signed_by_another_did_is_rejected() {
    let mut index = index();
    let alice = pinned(&mut index);
    let mallory = Identity::generate().unwrap();
    let mut listing = alice
        .listing("org.example.notes", "Notes", "Plain-text notes", &[])
        .unwrap();
    listing.manifest =
        signed_manifest(&mallory, "org.example.notes", "Notes", "Plain-text notes").unwrap();
    let event = alice.listing_event(&listing, NOW).unwrap();
    index.refuses(&event, "manifest not signed by the listing's DID");
}

#[test]
fn bad_manifest_signatures_are_found_inside_a_large_batch() {
    // Manifest signatures are checked many at a time: a forged one among
    // good ones must be refused alone, in a batch large enough to be
    // verified on several threads and in several batch equations.
    let mut index = index();
    let alice = pinned(&mut index);
    let forged = [7, 64, 150];
    let events: Vec<Event> = (0..200u64)
        .map(|i| {
            let app = format!("org.example.app{i}");
            let mut listing = alice.listing(&app, "App", "An app", &[]).unwrap();
            if forged.contains(&i) {
                let mut manifest: serde_json::Value =
                    serde_json::from_str(listing.manifest.get()).unwrap();
                manifest["signed"]["payload"]["title"] = "Forged".into();
                listing.manifest = serde_json::value::to_raw_value(&manifest).unwrap();
            }
            alice.listing_event(&listing, NOW - 7000 + i * 30).unwrap()
        })
        .collect();
    let outcomes = index.feed(&events.iter().collect::<Vec<_>>());
    for (i, outcome) in outcomes.iter().enumerate() {
        let expected = if forged.contains(&(i as u64)) {
            Outcome::Rejected("manifest not signed by the listing's DID")
        } else {
            Outcome::Indexed
        };
        assert_eq!(outcome, &expected, "listing {i}");
    }
    assert_eq!(index.listings(), 197);
}

#[test]
fn content_over_64_kib_is_rejected() {
    let mut index = index();
    let alice = pinned(&mut index);
    let mut listing = alice
        .listing("org.example.notes", "Notes", "Plain-text notes", &[])
        .unwrap();
    listing.summary = "x".repeat(70 * 1024);
    let event = alice.listing_event(&listing, NOW).unwrap();
    index.refuses(&event, "too large");
}

#[test]
fn malformed_json_is_rejected() {
    let mut index = index();
    let alice = pinned(&mut index);
    let event = raw_event(
        &alice.identity,
        "archy:app:org.example.notes",
        PROTOCOL_VERSION,
        "{\"title\": ".into(),
        NOW,
    );
    index.refuses(&event, "malformed");
    // And a frame that is not an event at all.
    let outcomes = index.feed_from("ws://relay.test", &["{\"id\": 5".to_owned()]);
    assert_eq!(outcomes, [Outcome::Rejected("malformed")]);
    assert_eq!(index.counter("rejected: malformed"), 2);
}

#[test]
fn an_unknown_protocol_version_is_rejected() {
    let mut index = index();
    let alice = pinned(&mut index);
    let good = notes(&alice, NOW);
    let event = raw_event(
        &alice.identity,
        "archy:app:org.example.notes",
        "archy/2",
        good.content.clone(),
        NOW,
    );
    index.refuses(&event, "unknown protocol version");
}

#[test]
fn created_at_more_than_ten_minutes_ahead_is_rejected() {
    let mut index = index();
    let alice = pinned(&mut index);
    index.refuses(&notes(&alice, NOW + 601), "from the future");
    assert_eq!(index.one(&notes(&alice, NOW + 599)), Outcome::Indexed);
}

#[test]
fn a_publisher_flooding_past_the_limit_is_cut_off_and_others_are_not() {
    let mut index = index_with(IngestLimits {
        per_minute: 5,
        ..IngestLimits::default()
    });
    let alice = pinned(&mut index);
    let bob = pinned(&mut index);
    let minute = NOW - NOW % 60 - 60;
    let flood: Vec<Event> = (0..8)
        .map(|i| {
            let listing = alice
                .listing(&format!("org.example.app{i}"), "Spam", "more spam", &[])
                .unwrap();
            alice.listing_event(&listing, minute + i).unwrap()
        })
        .collect();
    let outcomes = index.feed(&flood.iter().collect::<Vec<_>>());
    // The catalog event counted towards alice's earlier minute, not this one.
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Indexed).count(),
        5
    );
    assert_eq!(index.counter("rejected: flood"), 3);
    assert_eq!(index.one(&notes(&bob, minute + 1)), Outcome::Indexed);
    assert_eq!(index.listings(), 6);
}

#[test]
fn a_listing_waits_for_its_publishers_root() {
    let mut index = index();
    let alice = publisher();
    assert_eq!(index.one(&notes(&alice, NOW - 50)), Outcome::Waiting);
    assert_eq!(index.listings(), 0);
    assert!(index.ingestor.index().search("notes", 0, 5).hits.is_empty());
    assert_eq!(
        index.one(&alice.catalog_event(NOW - 40).unwrap()),
        Outcome::RootPinned
    );
    assert_eq!(index.listings(), 1);
    assert_eq!(index.ingestor.index().search("notes", 0, 5).total, 1);
}

#[test]
fn a_catalog_later_in_the_same_batch_pins_the_root_first() {
    // Relays send newest first: the listing comes before its catalog.
    let mut index = index();
    let alice = publisher();
    let listing = notes(&alice, NOW - 50);
    let catalog = alice.catalog_event(NOW - 100).unwrap();
    assert_eq!(
        index.feed(&[&listing, &catalog]),
        vec![Outcome::Indexed, Outcome::RootPinned]
    );
    assert_eq!(index.counter("waiting for root"), 0);
    assert_eq!(index.ingestor.index().search("notes", 0, 5).total, 1);
}

#[test]
fn a_root_that_does_not_list_the_did_is_never_pinned() {
    let mut index = index();
    let alice = publisher();
    let mallory = Identity::generate().unwrap();
    let foreign = root_json(1, &[&mallory], &[&mallory]).unwrap();
    let event = alice.catalog_event_with(&foreign, NOW).unwrap();
    assert_eq!(index.one(&event), Outcome::Rejected("invalid root"));
    assert!(
        index
            .ingestor
            .store()
            .root(alice.identity.did().as_str())
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_different_root_for_a_pinned_did_is_refused_and_reported() {
    let mut index = index();
    let alice = pinned(&mut index);
    let did = alice.identity.did();
    let pinned = index.ingestor.store().root(did.as_str()).unwrap().unwrap();
    // Another root that lists alice, signed by a key the pinned root does
    // not trust (say, a relay operator re-announcing alice).
    let mallory = Identity::generate().unwrap();
    let hijack = root_json(2, &[&alice.identity, &mallory], &[&mallory]).unwrap();
    let event = alice.catalog_event_with(&hijack, NOW).unwrap();
    assert_eq!(index.one(&event), Outcome::RootConflict);
    assert_eq!(index.counter("root conflict"), 1);
    let conflicts = index.ingestor.store().conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].0, did.as_str());
    assert_eq!(conflicts[0].1.pinned.1, pinned.sha256);
    assert_eq!(
        index.ingestor.store().root(did.as_str()).unwrap().unwrap(),
        pinned,
        "the pin did not move"
    );
    // A real rotation (signed by the pinned root's key) does move it.
    let bob = Identity::generate().unwrap();
    let rotated = root_json(2, &[&alice.identity, &bob], &[&alice.identity, &bob]).unwrap();
    let event = alice.catalog_event_with(&rotated, NOW + 1).unwrap();
    assert_eq!(index.one(&event), Outcome::RootRotated);
    assert_eq!(
        index
            .ingestor
            .store()
            .root(did.as_str())
            .unwrap()
            .unwrap()
            .version,
        2
    );
}

#[test]
fn copies_from_several_relays_count_once_and_older_versions_lose() {
    let mut index = index();
    let alice = pinned(&mut index);
    let newer = notes(&alice, NOW - 10);
    let older = notes(&alice, NOW - 20);
    assert_eq!(index.one(&newer), Outcome::Indexed);
    let copies = vec![newer.as_json()];
    assert_eq!(
        index.feed_from("ws://other.test", &copies),
        [Outcome::Duplicate]
    );
    assert_eq!(index.one(&older), Outcome::Superseded);
    let stored = index.ingestor.store().listings().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event_id, newer.id.to_hex());

    // A copy with a broken signature, sent first, does not shut out the
    // real event when it comes.
    let mut index = self::index();
    let alice = pinned(&mut index);
    let real = notes(&alice, NOW - 10);
    let mut broken = real.clone();
    broken.sig = alice.publisher_event(NOW).unwrap().sig;
    assert_eq!(index.one(&broken), Outcome::Rejected("bad signature"));
    assert_eq!(index.one(&real), Outcome::Indexed);
}

#[test]
fn an_event_that_does_not_stand_leaves_the_newest_held_in_place() {
    let mut index = index();
    let alice = pinned(&mut index);
    assert_eq!(index.one(&notes(&alice, NOW - 10)), Outcome::Indexed);
    assert_eq!(index.one(&notes(&alice, NOW - 20)), Outcome::Superseded);
    assert_eq!(
        index.one(&notes(&alice, NOW - 15)),
        Outcome::Superseded,
        "the newest is still the one held"
    );

    let mut index = index_with(IngestLimits {
        pending_per_publisher: 0,
        ..IngestLimits::default()
    });
    let bob = publisher();
    assert_eq!(
        index.one(&notes(&bob, NOW - 5)),
        Outcome::Rejected("too many listings waiting for a root")
    );
    assert_eq!(
        index.one(&bob.catalog_event(NOW - 100).unwrap()),
        Outcome::RootPinned
    );
    assert_eq!(
        index.one(&notes(&bob, NOW - 50)),
        Outcome::Indexed,
        "a refused event holds no place"
    );
}

#[test]
fn a_deletion_takes_the_listing_down_and_keeps_older_copies_out() {
    let mut index = index();
    let alice = pinned(&mut index);
    assert_eq!(index.one(&notes(&alice, NOW - 30)), Outcome::Indexed);
    let deletion = publish::deletion_event(
        &alice.identity,
        "org.example.notes",
        "gone",
        Timestamp::from_secs(NOW - 20),
    )
    .unwrap();
    assert_eq!(index.one(&deletion), Outcome::Deletion(1));
    assert_eq!(index.listings(), 0);
    assert!(index.ingestor.index().search("notes", 0, 5).hits.is_empty());
    // A copy older than the deletion, from a relay that missed it.
    assert_eq!(index.one(&notes(&alice, NOW - 25)), Outcome::Deleted);
    // Someone else cannot delete alice's listing.
    assert_eq!(index.one(&notes(&alice, NOW - 10)), Outcome::Indexed);
    let mallory = Identity::generate().unwrap();
    let forged = |reason: &str| {
        publish::deletion_event(
            &mallory,
            "org.example.notes",
            reason,
            Timestamp::from_secs(NOW),
        )
        .unwrap()
    };
    assert_eq!(index.one(&forged("gone")), Outcome::Deletion(0));
    let mut resigned = forged("gone for good");
    resigned.sig = deletion.sig;
    assert_eq!(index.one(&resigned), Outcome::Rejected("bad signature"));
    assert_eq!(index.listings(), 1);
}

#[test]
fn a_deletion_naming_the_event_by_id_takes_it_down() {
    // NIP-09 deletions from other clients may name the event (`e`) rather
    // than its address (`a`).
    let mut index = index();
    let alice = pinned(&mut index);
    let listing = notes(&alice, NOW - 30);
    assert_eq!(index.one(&listing), Outcome::Indexed);
    let by_id = |identity: &Identity, id: String, at: u64| {
        EventBuilder::new(Kind::EventDeletion, "gone")
            .tags([
                Tag::custom(TagKind::e(), [id]),
                Tag::custom(TagKind::k(), [KIND.to_string()]),
            ])
            .custom_created_at(Timestamp::from_secs(at))
            .sign_with_keys(&identity.nostr_keys())
            .unwrap()
    };
    let mallory = Identity::generate().unwrap();
    assert_eq!(
        index.one(&by_id(&mallory, listing.id.to_hex(), NOW - 20)),
        Outcome::Deletion(0)
    );
    assert_eq!(
        index.one(&by_id(&alice.identity, "00".repeat(32), NOW - 20)),
        Outcome::Deletion(0)
    );
    assert_eq!(index.listings(), 1);
    assert_eq!(
        index.one(&by_id(&alice.identity, listing.id.to_hex(), NOW - 20)),
        Outcome::Deletion(1)
    );
    assert_eq!(index.listings(), 0);
    // An older copy stays out; a newer version is a new release.
    assert_eq!(index.one(&notes(&alice, NOW - 40)), Outcome::Deleted);
    assert_eq!(index.one(&notes(&alice, NOW - 10)), Outcome::Indexed);
}

#[test]
fn the_index_survives_a_restart() {
    let mut index = index();
    let alice = pinned(&mut index);
    assert_eq!(index.one(&notes(&alice, NOW)), Outcome::Indexed);
    let path = index.path.clone();
    let Index { _dir, ingestor, .. } = index;
    drop(ingestor);
    let reopened = Ingestor::open(&path, IngestLimits::default()).unwrap();
    assert_eq!(reopened.index().search("plain text", 0, 5).total, 1);
}

/// The node already trusts a root for alice from its own fetches: adopted
/// before any catalog event, it is the pin. Alice's waiting listings are
/// indexed, and a catalog event naming another first root is a conflict.
#[test]
fn a_root_the_node_trusts_is_adopted_and_others_conflict_with_it() {
    let mut index = index();
    let alice = publisher();
    let did = alice.identity.did();
    assert_eq!(index.one(&notes(&alice, NOW - 50)), Outcome::Waiting);
    let bob = Identity::generate().unwrap();
    let keys = [&alice.identity, &bob];
    let trusted = root_json(1, &keys, &keys).unwrap();
    assert!(
        index
            .ingestor
            .adopt_root(did.as_str(), 1, &trusted, NOW)
            .unwrap()
    );
    assert_eq!(index.ingestor.index().len(), 1, "the waiting listing is in");
    assert!(
        !index
            .ingestor
            .adopt_root(did.as_str(), 1, &trusted, NOW)
            .unwrap(),
        "a pinned root is not replaced"
    );
    // Alice's announced catalog has another first root: refused.
    let event = alice.catalog_event(NOW).unwrap();
    assert_eq!(index.one(&event), Outcome::RootConflict);
}

/// A Nostr event of `kind` by a fresh key, with `tags`.
fn social_event(keys: &nostr::Keys, kind: u16, tags: Vec<Tag>, at: u64) -> Event {
    EventBuilder::new(Kind::Custom(kind), "")
        .tags(tags)
        .custom_created_at(Timestamp::from_secs(at))
        .sign_with_keys(keys)
        .unwrap()
}

fn p_tags(keys: &[&nostr::Keys]) -> Vec<Tag> {
    keys.iter()
        .map(|k| Tag::public_key(k.public_key()))
        .collect()
}

#[test]
fn a_newer_follow_list_replaces_the_older_and_an_older_one_loses() {
    use archy_discovery::store::ListKind;
    let mut index = index();
    let (owner, bob, carol) = (
        nostr::Keys::generate(),
        nostr::Keys::generate(),
        nostr::Keys::generate(),
    );
    let first = social_event(&owner, 3, p_tags(&[&bob]), NOW - 100);
    let second = social_event(&owner, 3, p_tags(&[&bob, &carol]), NOW - 50);
    assert_eq!(index.one(&second), Outcome::FollowList);
    assert_eq!(index.one(&first), Outcome::Superseded);
    let author = owner.public_key().to_bytes();
    let held = index
        .ingestor
        .store()
        .list(ListKind::Follows, &author)
        .unwrap()
        .unwrap();
    let mut expected = vec![bob.public_key().to_bytes(), carol.public_key().to_bytes()];
    expected.sort();
    assert_eq!((held.created_at, held.keys), (NOW - 50, expected));
    assert_eq!(index.counter("follow list"), 1);
    let mutes = social_event(&owner, 10000, p_tags(&[&carol]), NOW - 40);
    assert_eq!(index.one(&mutes), Outcome::MuteList);
    let lists = index.ingestor.store().lists(ListKind::Mutes).unwrap();
    assert_eq!(lists[0].keys, [carol.public_key().to_bytes()]);
}

#[test]
fn a_forged_follow_list_or_report_is_refused() {
    let mut index = index();
    let (owner, bob) = (nostr::Keys::generate(), nostr::Keys::generate());
    let mut list = social_event(&owner, 3, p_tags(&[&bob]), NOW - 100);
    list.sig = social_event(&bob, 3, vec![], NOW).sig;
    index.refuses(&list, "bad signature");
    let report_tags = vec![Tag::parse(["p", &bob.public_key().to_hex(), "malware"]).unwrap()];
    let mut report = social_event(&owner, 1984, report_tags, NOW - 10);
    report.content = "changed".into();
    index.refuses(&report, "bad id");
    let ahead = social_event(&owner, 3, p_tags(&[&bob]), NOW + 3600);
    index.refuses(&ahead, "from the future");
}

#[test]
fn reports_of_keys_and_listings_are_kept_and_empty_ones_refused() {
    use archy_trust::score::ReportKind;
    let mut index = index();
    let (reporter, bad) = (nostr::Keys::generate(), nostr::Keys::generate());
    let bad_hex = bad.public_key().to_hex();
    let tags = vec![
        Tag::parse(["p", &bad_hex, "malware"]).unwrap(),
        Tag::parse(["a", &format!("30078:{bad_hex}:archy:app:org.x"), "spam"]).unwrap(),
    ];
    assert_eq!(
        index.one(&social_event(&reporter, 1984, tags, NOW - 10)),
        Outcome::Report
    );
    let reports = index.ingestor.store().reports().unwrap();
    let kinds: Vec<(Option<&str>, ReportKind)> = reports[0]
        .targets
        .iter()
        .map(|t| (t.app.as_deref(), t.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (None, ReportKind::Malware),
            (Some("org.x"), ReportKind::Spam)
        ]
    );
    let nothing = social_event(&reporter, 1984, p_tags(&[&bad]), NOW - 5);
    index.refuses(&nothing, "report names nothing");
}

#[test]
fn a_review_by_any_key_is_kept_and_a_bad_one_refused() {
    use archy_discovery::protocol::ReviewContent;
    let mut index = index();
    let alice = publisher();
    let reviewer = Identity::generate().unwrap();
    let content = ReviewContent {
        rating: 4,
        text: "works well".into(),
    };
    let review = publish::review_event(
        &reviewer,
        &alice.identity.did(),
        "org.example.notes",
        &content,
        Timestamp::from_secs(NOW - 10),
    )
    .unwrap();
    assert_eq!(index.one(&review), Outcome::Review);
    let reviews = index.ingestor.store().reviews().unwrap();
    assert_eq!(
        (
            reviews[0].app_id.as_str(),
            reviews[0].rating,
            reviews[0].text.as_str()
        ),
        ("org.example.notes", 4, "works well")
    );
    let zero = serde_json::json!({"rating": 0, "text": "x"}).to_string();
    let d = format!("archy:review:{}/org.example.notes", alice.identity.did());
    let bad = raw_event(&reviewer, &d, PROTOCOL_VERSION, zero, NOW - 5);
    index.refuses(&bad, "bad review");
    let no_app = format!("archy:review:{}", alice.identity.did());
    let content = serde_json::to_string(&content).unwrap();
    let bad = raw_event(&reviewer, &no_app, PROTOCOL_VERSION, content, NOW - 5);
    assert_eq!(index.one(&bad), Outcome::Rejected("bad review"));
    assert_eq!(index.ingestor.store().reviews().unwrap().len(), 1);
}
