//! Sending events to relays, with an outcome per relay and event:
//! accepted, rejected (with the relay's reason), unreachable, or unchanged
//! (the relay already holds an event with the same `d` and content, so
//! re-publishing an unchanged app sends nothing). Every connection, query
//! and send is bounded, and a failed send is retried a bounded number of
//! times.

use std::time::Duration;

use nostr::{Event, Filter, Kind, PublicKey, TagKind};
use nostr_sdk::Client;
use serde::Serialize;

use crate::protocol::KIND;

/// Attempts per event and relay before a failure is reported.
pub const SEND_ATTEMPTS: u32 = 3;
/// Pause before the second attempt; doubled for each later one.
const RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Most of our own events read back from a relay to compare against.
const MAX_EXISTING: usize = 500;

/// What happened to one event at one relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    /// The relay stored it.
    Accepted,
    /// The relay already had the same content under this `d`.
    Unchanged,
    /// The relay said no (after the retries), with what it said.
    Rejected(String),
    /// The relay could not be reached within the timeout.
    Unreachable,
}

/// One row of a publish report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The relay URL.
    pub relay: String,
    /// The event's `d` tag.
    pub d: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A relay URL could not be used.
#[derive(Debug, thiserror::Error)]
#[error("relay {url}: {reason}")]
pub struct RelayError {
    /// The URL given.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// What a report row names: the `d` of an archy event, or `delete <d>`
/// for a NIP-09 deletion of one.
pub fn d_of(event: &Event) -> String {
    if event.kind == Kind::EventDeletion {
        let deleted = event
            .tags
            .find(TagKind::a())
            .and_then(|t| t.content())
            .and_then(|a| a.splitn(3, ':').nth(2))
            .unwrap_or_default();
        return format!("delete {deleted}");
    }
    event.tags.identifier().unwrap_or_default().to_owned()
}

/// Publishes `events` (all by `author`) to each relay within `timeout` per
/// step.
pub async fn publish(
    events: &[Event],
    author: PublicKey,
    relays: &[String],
    timeout: Duration,
) -> Result<Vec<Report>, RelayError> {
    let client = Client::default();
    for url in relays {
        client
            .add_relay(url.as_str())
            .await
            .map_err(|e| RelayError {
                url: url.clone(),
                reason: e.to_string(),
            })?;
    }
    let connected = client.try_connect(timeout).await;
    let mut reports = Vec::new();
    for url in relays {
        let reachable = connected
            .success
            .iter()
            .any(|u| u.as_str().trim_end_matches('/') == url.trim_end_matches('/'));
        if !reachable {
            reports.extend(events.iter().map(|e| Report {
                relay: url.clone(),
                d: d_of(e),
                outcome: Outcome::Unreachable,
            }));
            continue;
        }
        let filter = Filter::new()
            .author(author)
            .kind(Kind::Custom(KIND))
            .limit(MAX_EXISTING);
        let existing = client
            .fetch_events_from([url.as_str()], filter, timeout)
            .await
            .map(|events| events.into_iter().collect::<Vec<_>>())
            .unwrap_or_default();
        for event in events {
            let d = d_of(event);
            let same = existing
                .iter()
                .any(|old| d_of(old) == d && old.content == event.content && same_tags(old, event));
            let outcome = if same {
                Outcome::Unchanged
            } else {
                send(&client, url, event, timeout).await
            };
            reports.push(Report {
                relay: url.clone(),
                d,
                outcome,
            });
        }
    }
    // Closing the connections is courtesy; it never holds up the report.
    let _ = tokio::time::timeout(timeout, client.shutdown()).await;
    Ok(reports)
}

/// The same tags, apart from none: `created_at` is not a tag, so an
/// unchanged app republished later still compares equal.
fn same_tags(a: &Event, b: &Event) -> bool {
    let tags = |e: &Event| {
        let mut t: Vec<Vec<String>> = e
            .tags
            .iter()
            .filter(|t| t.kind() != TagKind::custom("expiration"))
            .map(|t| t.as_slice().to_vec())
            .collect();
        t.sort();
        t
    };
    tags(a) == tags(b)
}

async fn send(client: &Client, url: &str, event: &Event, timeout: Duration) -> Outcome {
    let mut pause = RETRY_PAUSE;
    let mut last = String::new();
    for attempt in 1..=SEND_ATTEMPTS {
        match tokio::time::timeout(timeout, client.send_event_to([url], event)).await {
            Ok(Ok(output)) if !output.success.is_empty() => return Outcome::Accepted,
            Ok(Ok(output)) => {
                last = output
                    .failed
                    .values()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "no answer".into());
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {} s", timeout.as_secs_f32()),
        }
        if attempt < SEND_ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    Outcome::Rejected(last)
}
