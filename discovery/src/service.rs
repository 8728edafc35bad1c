//! The discovery service a node runs: one [`RelayFollower`] per relay,
//! all feeding one ingest loop on its own thread, which verifies and
//! indexes in batches. Queries ([`crate::market::Market`]) share the index
//! with it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::graph_sync::{self, GraphOptions, SharedGraphStatus};
use crate::ingest::{Incoming, IngestLimits, Ingestor, Outcome};
use crate::market::Market;
use crate::relay_client::{Feed, RawEvent, RelayFollower, Statuses};
use crate::relay_gate::{BadSignatureLimit, RelayGate};
use crate::store::StoreError;

/// Events queued between the relays and the ingest loop.
const FEED_CAPACITY: usize = 4096;
/// Most events ingested in one commit.
const MAX_BATCH: usize = 1024;
/// Longest an event waits for its batch to fill.
const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// Longest stopping may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How the service runs.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryOptions {
    /// Relay URLs to follow.
    pub relays: Vec<String>,
    /// Per-publisher limits.
    pub limits: IngestLimits,
    /// The share of bad signatures past which a relay is cut off.
    pub bad_signatures: BadSignatureLimit,
    /// Whose follow graph to fetch, and how far.
    pub graph: GraphOptions,
}

/// The signal that cuts each relay's connection, by URL: a count of cuts.
type Cuts = HashMap<Arc<str>, watch::Sender<u64>>;

/// A running discovery service.
pub struct Discovery {
    market: Market,
    stop: watch::Sender<bool>,
    followers: Vec<JoinHandle<()>>,
    ingest: Option<std::thread::JoinHandle<()>>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Discovery {
    /// Opens the index at `path` and starts following `options.relays`.
    pub fn start(path: &Path, options: &DiscoveryOptions) -> Result<Self, StoreError> {
        let ingestor = Ingestor::open(path, options.limits)?;
        let statuses: Statuses = Arc::default();
        let mut relays = options.relays.clone();
        relays.sort();
        relays.dedup();
        let cursors: Vec<Option<u64>> = relays
            .iter()
            .map(|r| ingestor.store().cursor(r))
            .collect::<Result<_, _>>()?;
        let ingestor = Arc::new(Mutex::new(ingestor));
        let graph = SharedGraphStatus::default();
        let market = Market::new(ingestor.clone(), statuses.clone(), graph.clone());
        let (stop, stopped) = watch::channel(false);
        let (feed, queue) = mpsc::channel(FEED_CAPACITY);
        let cuts: Cuts = relays
            .iter()
            .map(|url| (Arc::from(url.as_str()), watch::channel(0).0))
            .collect();
        let mut followers: Vec<JoinHandle<()>> = relays
            .iter()
            .zip(cursors)
            .map(|(url, cursor)| {
                let follower = RelayFollower::new(
                    url,
                    cursor,
                    feed.clone(),
                    statuses.clone(),
                    stopped.clone(),
                )
                .cut_by(cuts[url.as_str()].subscribe());
                tokio::spawn(follower.run())
            })
            .collect();
        followers.push(tokio::spawn(graph_sync::run(
            options.graph.clone(),
            relays.clone(),
            feed.clone(),
            graph.clone(),
            stopped.clone(),
        )));
        drop(feed);
        let gate = Gate {
            tallies: RelayGate::new(options.bad_signatures),
            cuts,
            statuses,
        };
        let ingest = std::thread::Builder::new()
            .name("archy-ingest".into())
            .spawn(move || ingest_loop(&ingestor, queue, gate))
            .map_err(|e| StoreError::other(path, format!("cannot start the ingest thread: {e}")))?;
        Ok(Self {
            market,
            stop,
            followers,
            ingest: Some(ingest),
        })
    }

    /// Queries over the index.
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// Stops following relays and lets the ingest loop finish what it has.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for mut follower in self.followers.drain(..) {
            if tokio::time::timeout(STOP_TIMEOUT, &mut follower)
                .await
                .is_err()
            {
                // Aborted, it drops its end of the feed, which ends the
                // ingest loop.
                follower.abort();
            }
        }
        if let Some(ingest) = self.ingest.take() {
            let join = tokio::task::spawn_blocking(move || ingest.join());
            if tokio::time::timeout(STOP_TIMEOUT, join).await.is_err() {
                tracing::warn!(
                    "discovery: the ingest loop did not finish within {} s",
                    STOP_TIMEOUT.as_secs()
                );
            }
        }
    }
}

/// Writes to disk what waits in memory.
fn sync(ingestor: &Mutex<Ingestor>) {
    let synced = match ingestor.lock() {
        Ok(mut ingestor) => ingestor.sync(),
        Err(_) => return,
    };
    if let Err(e) = synced {
        tracing::error!("discovery: {e}");
    }
}

/// The ingest loop's side of cutting relays off ([`crate::relay_gate`]).
struct Gate {
    tallies: RelayGate,
    cuts: Cuts,
    statuses: Statuses,
}

impl Gate {
    /// Counts a batch's events against the relays that sent them, and cuts
    /// off those past the limit; returns how many were cut off.
    fn judge(&mut self, events: &[(Arc<str>, RawEvent)], outcomes: &[Outcome]) -> u64 {
        let mut cut = 0;
        for ((relay, _), outcome) in events.iter().zip(outcomes) {
            let bad = outcome.is_bad_signature();
            if bad && let Ok(mut all) = self.statuses.lock() {
                all.entry(relay.to_string()).or_default().bad_signatures += 1;
            }
            let Some(tally) = self.tallies.record(relay, bad) else {
                continue;
            };
            tracing::warn!(
                "relay {relay}: {} of its last {} events had bad signatures; cut off",
                tally.bad,
                tally.events
            );
            if let Ok(mut all) = self.statuses.lock() {
                let status = all.entry(relay.to_string()).or_default();
                status.cut_offs += 1;
                status.last_error = Some(format!(
                    "cut off: {} of {} events had bad signatures",
                    tally.bad, tally.events
                ));
            }
            if let Some(signal) = self.cuts.get(relay) {
                signal.send_modify(|cuts| *cuts += 1);
            }
            cut += 1;
        }
        cut
    }
}

/// Reads the feed until every follower is gone: events are gathered into
/// batches (up to [`MAX_BATCH`], or [`BATCH_WINDOW`] after the first), and
/// a relay's cursor moves only once the events before it are committed.
/// Relays that send too many bad signatures are cut off (`gate`).
fn ingest_loop(ingestor: &Mutex<Ingestor>, mut queue: mpsc::Receiver<Feed>, mut gate: Gate) {
    let mut events: Vec<(Arc<str>, RawEvent)> = Vec::new();
    let mut held: Option<Feed> = None;
    loop {
        let first = match held.take() {
            Some(item) => item,
            None => match queue.blocking_recv() {
                Some(item) => item,
                None => {
                    sync(ingestor);
                    return;
                }
            },
        };
        let mut control = None;
        match first {
            Feed::Event { relay, raw } => events.push((relay, raw)),
            other => control = Some(other),
        }
        let opened = Instant::now();
        while control.is_none() && events.len() < MAX_BATCH && opened.elapsed() < BATCH_WINDOW {
            match queue.try_recv() {
                Ok(Feed::Event { relay, raw }) => events.push((relay, raw)),
                Ok(other) => control = Some(other),
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        let Ok(mut ingestor) = ingestor.lock() else {
            return;
        };
        if !events.is_empty() {
            let batch: Vec<Incoming<'_>> = events
                .iter()
                .map(|(relay, raw)| Incoming {
                    relay,
                    raw: raw.as_str(),
                })
                .collect();
            match ingestor.ingest(&batch, unix_now()) {
                Ok(outcomes) => {
                    let cut = gate.judge(&events, &outcomes);
                    if cut > 0
                        && let Err(e) = ingestor.count("relay cut off for bad signatures", cut)
                    {
                        tracing::error!("discovery: {e}");
                    }
                }
                Err(e) => tracing::error!("discovery: {e}"),
            }
            events.clear();
        }
        let result = match control {
            Some(Feed::CaughtUp { relay, up_to }) => ingestor.set_cursor(&relay, up_to),
            Some(Feed::Garbage { .. }) => ingestor.count("relay sent garbage", 1),
            Some(Feed::Dropped { .. }) => ingestor.count("relay connection lost", 1),
            Some(Feed::Event { relay, raw }) => {
                held = Some(Feed::Event { relay, raw });
                Ok(())
            }
            None => Ok(()),
        };
        if let Err(e) = result {
            tracing::error!("discovery: {e}");
        }
    }
}
