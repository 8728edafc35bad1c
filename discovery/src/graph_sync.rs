//! Fetching the trust score's inputs from the relays a node follows: the
//! owner's follow and mute lists, the follow lists of the keys it reaches
//! up to `depth` hops, and the reports all those keys made.
//!
//! A round walks the graph breadth first. For each level it asks every
//! relay for the level's authors, [`AUTHORS_PER_REQUEST`] at a time, each
//! request bounded by [`FETCH_TIMEOUT`]. Every event goes to the ingest
//! loop like any other, which verifies and keeps it. The walk itself reads
//! the next level from the follow lists it received, each checked here
//! (id and signature) before its keys are followed; only the newest list of
//! an author counts. The graph stops growing at [`GraphOptions::max_keys`],
//! and the round says so. Rounds repeat every [`GraphOptions::every`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nostr::{Event, Filter, JsonUtil, Kind, PublicKey};
use nostr_sdk::Client;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::note::Note;
use crate::protocol::{FOLLOWS_KIND, MUTES_KIND, REPORT_KIND};
use crate::relay_client::{Feed, RawEvent};
use crate::social::{self, Key, SocialInput};

/// Authors named in one request: relays refuse filters past a size.
pub const AUTHORS_PER_REQUEST: usize = 250;
/// Longest one request may take at one relay.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest connecting to the relays may take, each round.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Events asked for per request, at most.
const EVENTS_PER_REQUEST: usize = 5000;

/// How the graph is walked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GraphOptions {
    /// Whose graph: the node owner's Nostr key. No owner, no walk.
    pub owner: Option<Key>,
    /// Hops from the owner whose keys are in the graph (their follow lists
    /// are read up to one hop less).
    pub depth: u8,
    /// Most keys in the graph.
    pub max_keys: usize,
    /// Time between rounds.
    pub every: Duration,
}

impl Default for GraphOptions {
    fn default() -> Self {
        Self {
            owner: None,
            depth: 2,
            max_keys: 100_000,
            every: Duration::from_secs(600),
        }
    }
}

/// Where the walk stands, for `archy trust graph stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct GraphStatus {
    /// Rounds finished since the node started.
    pub rounds: u64,
    /// Keys reached in the last round, the owner included.
    pub keys: usize,
    /// Follow lists received in the last round.
    pub follow_lists: usize,
    /// Events handed to the ingest loop in the last round.
    pub events: usize,
    /// Whether the last round stopped at the graph's key cap.
    pub capped: bool,
    /// Requests that failed or timed out in the last round.
    pub failed_requests: usize,
    /// Unix seconds the last round ended.
    pub last_round_at: Option<u64>,
}

/// The status shared with queries.
pub type SharedGraphStatus = Arc<Mutex<GraphStatus>>;

/// Walks the graph every `options.every` until `stop`.
pub async fn run(
    options: GraphOptions,
    relays: Vec<String>,
    feed: mpsc::Sender<Feed>,
    status: SharedGraphStatus,
    mut stop: watch::Receiver<bool>,
) {
    let Some(owner) = options.owner else {
        return;
    };
    loop {
        let round = tokio::select! {
            round = walk(owner, &options, &relays, &feed) => round,
            _ = stop.changed() => return,
        };
        if let Ok(mut held) = status.lock() {
            let rounds = held.rounds + 1;
            *held = GraphStatus { rounds, ..round };
        }
        tokio::select! {
            () = tokio::time::sleep(options.every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One round: every level of the graph, from every relay.
async fn walk(
    owner: Key,
    options: &GraphOptions,
    relays: &[String],
    feed: &mpsc::Sender<Feed>,
) -> GraphStatus {
    let mut status = GraphStatus::default();
    let client = Client::default();
    for url in relays {
        if client.add_relay(url.as_str()).await.is_err() {
            status.failed_requests += 1;
        }
    }
    client.try_connect(CONNECT_TIMEOUT).await;
    let mut reached: BTreeSet<Key> = BTreeSet::from([owner]);
    let mut level = vec![owner];
    for hop in 0..=options.depth {
        let mut kinds = vec![REPORT_KIND];
        if hop < options.depth {
            kinds.push(FOLLOWS_KIND);
        }
        if hop == 0 {
            kinds.push(MUTES_KIND);
        }
        let mut newest: BTreeMap<Key, (u64, Vec<Key>)> = BTreeMap::new();
        for chunk in level.chunks(AUTHORS_PER_REQUEST) {
            let authors: Vec<PublicKey> = chunk
                .iter()
                .filter_map(|k| PublicKey::from_slice(k).ok())
                .collect();
            let filter = Filter::new()
                .authors(authors)
                .kinds(kinds.iter().map(|k| Kind::from(*k)))
                .limit(EVENTS_PER_REQUEST);
            for url in relays {
                let fetched = client
                    .fetch_events_from([url.as_str()], filter.clone(), FETCH_TIMEOUT)
                    .await;
                let Ok(events) = fetched else {
                    status.failed_requests += 1;
                    continue;
                };
                let relay: Arc<str> = url.as_str().into();
                for event in events {
                    if event.kind.as_u16() == FOLLOWS_KIND {
                        keep_newest(&mut newest, &event);
                    }
                    status.events += 1;
                    let raw = RawEvent::owned(event.as_json());
                    let item = Feed::Event {
                        relay: relay.clone(),
                        raw,
                    };
                    if feed.send(item).await.is_err() {
                        return status;
                    }
                }
            }
        }
        status.follow_lists += newest.len();
        let mut next = BTreeSet::new();
        for (_, keys) in newest.into_values() {
            next.extend(keys.into_iter().filter(|k| !reached.contains(k)));
        }
        let room = options.max_keys.saturating_sub(reached.len());
        if next.len() > room {
            status.capped = true;
        }
        level = next.into_iter().take(room).collect();
        reached.extend(level.iter().copied());
        if level.is_empty() {
            break;
        }
    }
    let _ = tokio::time::timeout(CONNECT_TIMEOUT, client.shutdown()).await;
    status.keys = reached.len();
    status.last_round_at = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    status
}

/// Keeps `event` (a follow list) as its author's if it is the newest seen
/// and its id and signature hold; its keys read as the store keeps them
/// ([`social::read`]).
fn keep_newest(newest: &mut BTreeMap<Key, (u64, Vec<Key>)>, event: &Event) {
    let author = event.pubkey.to_bytes();
    let at = event.created_at.as_secs();
    if newest.get(&author).is_some_and(|(held, _)| *held >= at) || event.verify().is_err() {
        return;
    }
    if let Ok(SocialInput::Follows(list)) = social::read(&Note::of(event)) {
        newest.insert(author, (at, list.keys));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nostr::{EventBuilder, Keys, Tag, Timestamp};

    fn follows(keys: &Keys, whom: &[&Keys], at: u64) -> Event {
        EventBuilder::new(Kind::ContactList, "")
            .tags(whom.iter().map(|k| Tag::public_key(k.public_key())))
            .custom_created_at(Timestamp::from_secs(at))
            .sign_with_keys(keys)
            .unwrap()
    }

    #[test]
    fn only_the_newest_signed_list_of_an_author_counts() {
        let (a, b, c) = (Keys::generate(), Keys::generate(), Keys::generate());
        let mut newest = BTreeMap::new();
        keep_newest(&mut newest, &follows(&a, &[&b], 20));
        keep_newest(&mut newest, &follows(&a, &[&c], 10));
        let mut forged = follows(&a, &[&c], 30);
        forged.sig = follows(&b, &[], 30).sig;
        keep_newest(&mut newest, &forged);
        let held = &newest[&a.public_key().to_bytes()];
        assert_eq!(*held, (20, vec![b.public_key().to_bytes()]));
    }
}
