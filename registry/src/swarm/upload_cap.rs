//! A node-wide cap on the bytes per second a node serves to peers, so a
//! home server can share releases without filling its uplink.
//!
//! iroh-blobs asks an event handler before sending each chunk group
//! (16 KiB) when throttling is on. One task answers every such request in
//! turn and holds the answer back until the cap allows the bytes, so all
//! connections and requests share the one budget.

use std::time::Duration;

use iroh_blobs::provider::events::{EventMask, EventSender, ProviderMessage, ThrottleMode};
use tokio::time::Instant;

/// Throttle requests waiting for an answer; more make the provider wait.
const QUEUE: usize = 256;
/// Waits shorter than this are carried to the next chunk instead of slept,
/// because the timer cannot sleep shorter with any accuracy.
const MIN_SLEEP: Duration = Duration::from_millis(2);
/// How far the schedule may lag behind the clock. A sleep that overshoots
/// (timers are coarse, more so in sandboxes) is made up by the next chunks
/// going out at once; a longer idle spell does not build up a burst.
const MAX_LAG: Duration = Duration::from_millis(100);

/// The provider events of a node whose uploads are capped at
/// `bytes_per_second`. Must be called inside a tokio runtime.
pub fn capped(bytes_per_second: u64) -> EventSender {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ProviderMessage>(QUEUE);
    let rate = bytes_per_second.max(1) as f64;
    tokio::spawn(async move {
        // When the bytes allowed so far will have been sent at the cap: the
        // schedule each chunk waits for.
        let mut free_at = Instant::now();
        while let Some(message) = rx.recv().await {
            if let ProviderMessage::Throttle(msg) = message {
                let now = Instant::now();
                let floor = now.checked_sub(MAX_LAG).unwrap_or(now);
                free_at =
                    free_at.max(floor) + Duration::from_secs_f64(msg.inner.size as f64 / rate);
                let wait = free_at.saturating_duration_since(now);
                if wait >= MIN_SLEEP {
                    tokio::time::sleep(wait).await;
                }
                msg.tx.send(Ok(())).await.ok();
            }
        }
    });
    EventSender::new(
        tx,
        EventMask {
            throttle: ThrottleMode::Intercept,
            ..EventMask::DEFAULT
        },
    )
}
