//! The discovery service against relays that misbehave: a hand-written
//! relay on loopback (real websockets) that sends garbage between good
//! events, or drops the connection in the middle of a backfill. Nothing
//! bad is indexed, nothing crashes, and every good event gets in.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use archy_discovery::market::{Answer, Query, Stats};
use archy_discovery::service::{Discovery, DiscoveryOptions};
use archy_synthetic::SyntheticPublisher;
use archy_trust::Identity;
use futures_util::{SinkExt, StreamExt};
use nostr::JsonUtil;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// How the fake relay treats connection number N (from 0).
#[derive(Clone, Copy)]
enum Behaviour {
    /// Garbage frames before the stored events, then EOSE.
    Garbage,
    /// On the first connection, three events of the first page and a hard
    /// close; afterwards, a proper relay.
    DropFirstBackfill,
    /// Every event's signature altered, as a relay that does not check
    /// signatures (or wants to waste a node's CPU) would pass them on.
    BadSignatures,
    /// A proper relay.
    Honest,
}

struct FakeRelay {
    addr: SocketAddr,
    /// The filters of every REQ received, per connection.
    requests: Arc<Mutex<Vec<Vec<Value>>>>,
}

impl FakeRelay {
    async fn start(events: Vec<nostr::Event>, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<Vec<Value>>>> = Arc::default();
        let seen = requests.clone();
        let mut events: Vec<Value> = events
            .iter()
            .map(|e| serde_json::from_str(&e.as_json()).unwrap())
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e["created_at"].as_u64().unwrap()));
        if matches!(behaviour, Behaviour::BadSignatures) {
            for event in &mut events {
                let sig = event["sig"].as_str().unwrap();
                let flipped = if sig.starts_with('0') { "1" } else { "0" };
                event["sig"] = Value::from(format!("{flipped}{}", &sig[1..]));
            }
        }
        tokio::spawn(async move {
            let mut connection = 0;
            while let Ok((stream, _)) = listener.accept().await {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    continue;
                };
                seen.lock().unwrap().push(Vec::new());
                let number = connection;
                connection += 1;
                let events = events.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    while let Some(Ok(message)) = socket.next().await {
                        let Message::Text(text) = message else {
                            continue;
                        };
                        let request: Value = serde_json::from_str(&text).unwrap();
                        if request[0] != "REQ" {
                            continue;
                        }
                        let sub = request[1].as_str().unwrap().to_owned();
                        let filter = request[2].clone();
                        seen.lock().unwrap()[number].push(filter.clone());
                        let matching: Vec<&Value> = events
                            .iter()
                            .filter(|e| {
                                let at = e["created_at"].as_u64().unwrap();
                                filter["since"].as_u64().is_none_or(|s| at >= s)
                                    && filter["until"].as_u64().is_none_or(|u| at <= u)
                            })
                            .take(filter["limit"].as_u64().unwrap_or(u64::MAX) as usize)
                            .collect();
                        let live = filter["until"].is_null();
                        let send = |e: &Value| {
                            Message::Text(serde_json::json!(["EVENT", sub, e]).to_string().into())
                        };
                        match behaviour {
                            Behaviour::DropFirstBackfill if number == 0 => {
                                for e in matching.iter().take(3) {
                                    socket.send(send(e)).await.unwrap();
                                }
                                return; // dropped: no EOSE, no close frame
                            }
                            Behaviour::Garbage if !live => {
                                for garbage in [
                                    Message::Text("this is not JSON".into()),
                                    Message::Binary(vec![0, 1, 2].into()),
                                    Message::Text(r#"["EVENT"]"#.into()),
                                    Message::Text(
                                        serde_json::json!(["EVENT", sub, {"id": "x"}])
                                            .to_string()
                                            .into(),
                                    ),
                                    Message::Text(r#"{"EOSE": true}"#.into()),
                                ] {
                                    socket.send(garbage).await.unwrap();
                                }
                            }
                            _ => {}
                        }
                        if live {
                            continue;
                        }
                        for e in matching {
                            socket.send(send(e)).await.unwrap();
                        }
                        let eose = serde_json::json!(["EOSE", sub]).to_string();
                        socket.send(Message::Text(eose.into())).await.unwrap();
                    }
                });
            }
        });
        Self { addr, requests }
    }

    fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// A discovery service that follows this relay alone.
    fn options(&self) -> DiscoveryOptions {
        DiscoveryOptions {
            relays: vec![self.url()],
            ..Default::default()
        }
    }
}

fn stats(discovery: &Discovery) -> Stats {
    match discovery.market().answer(&Query::Stats) {
        Answer::Stats(stats) => *stats,
        other => panic!("{other:?}"),
    }
}

async fn until(discovery: &Discovery, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
    let start = Instant::now();
    loop {
        let stats = stats(discovery);
        if done(&stats) {
            return stats;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} never happened: {stats:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A publisher's catalog event and `n` listings, a second apart.
fn publisher_with_listings(n: u64) -> Vec<nostr::Event> {
    let at = now() - 1000;
    let alice =
        SyntheticPublisher::new(Identity::generate().unwrap(), "Alice", now() + 86_400).unwrap();
    let mut events = vec![alice.catalog_event(at).unwrap()];
    for i in 0..n {
        let listing = alice
            .listing(
                &format!("org.example.app{i}"),
                &format!("App {i}"),
                "an app",
                &[],
            )
            .unwrap();
        events.push(alice.listing_event(&listing, at + 1 + i).unwrap());
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_sending_garbage_is_counted_and_its_good_events_still_get_in() {
    let relay = FakeRelay::start(publisher_with_listings(2), Behaviour::Garbage).await;
    let dir = tempfile::tempdir().unwrap();
    let options = relay.options();
    let discovery = Discovery::start(&dir.path().join("d.redb"), &options).unwrap();
    let stats = until(&discovery, "indexing", |s| {
        s.sizes.listings == 2 && s.relays.iter().any(|r| r.cursor.is_some())
    })
    .await;
    let status = stats.relays[0].status.clone().unwrap();
    assert!(status.garbage >= 5, "{status:?}");
    assert_eq!(
        status.drops, 0,
        "a few bad frames do not cost the connection"
    );
    assert_eq!(status.phase, "live");
    assert!(stats.counters["relay sent garbage"] >= 5);
    assert!(
        stats.rejected.is_empty(),
        "garbage never reaches the verifier as an event"
    );
    discovery.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_dropping_mid_backfill_is_asked_again_from_the_same_cursor() {
    let relay = FakeRelay::start(publisher_with_listings(6), Behaviour::DropFirstBackfill).await;
    let dir = tempfile::tempdir().unwrap();
    let options = relay.options();
    let discovery = Discovery::start(&dir.path().join("d.redb"), &options).unwrap();
    let stats = until(&discovery, "a complete backfill after the drop", |s| {
        s.sizes.listings == 6 && s.relays.iter().any(|r| r.cursor.is_some())
    })
    .await;
    let status = stats.relays[0].status.clone().unwrap();
    assert!(status.drops >= 1, "{status:?}");
    assert!(stats.counters["relay connection lost"] >= 1);
    assert!(
        stats.counters["duplicate"] >= 1,
        "the three sent twice count once"
    );
    let requests = relay.requests.lock().unwrap().clone();
    assert!(requests.len() >= 2, "reconnected");
    assert!(
        requests[1][0]["since"].is_null(),
        "the cursor did not move past the unfinished backfill: {:?}",
        requests[1][0]
    );
    discovery.shutdown().await;

    // Restarted, the node backfills from its cursor (minus the overlap).
    let before = relay.requests.lock().unwrap().len();
    let discovery = Discovery::start(&dir.path().join("d.redb"), &options).unwrap();
    // A connection is recorded when it opens, its request when it arrives.
    until(&discovery, "a backfill after the restart", |_| {
        relay
            .requests
            .lock()
            .unwrap()
            .get(before)
            .is_some_and(|filters| !filters.is_empty())
    })
    .await;
    let requests = relay.requests.lock().unwrap().clone();
    assert!(
        requests[before][0]["since"].as_u64().is_some(),
        "{requests:?}"
    );
    discovery.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_sending_bad_signatures_is_cut_off_and_an_honest_one_is_not() {
    let bad = FakeRelay::start(publisher_with_listings(80), Behaviour::BadSignatures).await;
    let good = FakeRelay::start(publisher_with_listings(80), Behaviour::Honest).await;
    let dir = tempfile::tempdir().unwrap();
    let options = DiscoveryOptions {
        relays: vec![bad.url(), good.url()],
        ..Default::default()
    };
    let discovery = Discovery::start(&dir.path().join("d.redb"), &options).unwrap();
    let stats = until(&discovery, "the bad relay cut off", |s| {
        s.sizes.listings == 80
            && s.relays
                .iter()
                .any(|r| r.status.as_ref().is_some_and(|st| st.cut_offs >= 1))
    })
    .await;
    let status_of = |stats: &Stats, url: &str| {
        let relay = stats.relays.iter().find(|r| r.url == url).unwrap();
        relay.status.clone().unwrap()
    };
    let cut = status_of(&stats, &bad.url());
    assert!(cut.bad_signatures >= 50, "{cut:?}");
    assert!(
        cut.last_error
            .as_deref()
            .unwrap()
            .contains("bad signatures"),
        "{cut:?}"
    );
    let honest = status_of(&stats, &good.url());
    assert_eq!(
        (honest.cut_offs, honest.bad_signatures),
        (0, 0),
        "{honest:?}"
    );
    assert!(stats.counters["relay cut off for bad signatures"] >= 1);
    assert!(stats.rejected["bad signature"] >= 50);

    // After its backoff, the cut relay is tried again.
    until(&discovery, "a new connection to the cut relay", |_| {
        bad.requests.lock().unwrap().len() >= 2
    })
    .await;
    discovery.shutdown().await;
}
