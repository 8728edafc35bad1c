//! Following one relay: a NIP-01 client over a websocket that backfills
//! everything since the relay's cursor, page by page, then follows live
//! events, and reconnects with exponential backoff whenever the relay goes
//! away, sends garbage or stalls.
//!
//! Events are not believed here: each goes, as the relay sent it, into the
//! [`Feed`] the ingest loop reads. The cursor moves only after a backfill
//! has reached its end (and, while live, every minute), so a relay that
//! drops mid-backfill is asked again from the same point next time, and
//! the copies it sends again are dropped as duplicates.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::protocol::{KIND, TOPIC};
use crate::stamp::{self, Stamp};
use crate::verify::MAX_EVENT_BYTES;

/// Longest a websocket connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a relay may stay silent during a backfill page.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Silence on a live connection after which the relay is pinged; a second
/// one in a row drops the connection.
const IDLE: Duration = Duration::from_secs(60);
/// How often a live connection moves the cursor.
const CURSOR_EVERY: Duration = Duration::from_secs(60);
/// Seconds a backfill reaches back before the cursor, for relays that
/// received events late (and for clock skew).
const OVERLAP_SECS: u64 = 600;
/// Events asked for per backfill page.
pub const PAGE_LIMIT: usize = 2000;
/// Most pages one backfill may take.
const MAX_PAGES: usize = 10_000;
/// Garbage frames tolerated on one connection before it is dropped.
const MAX_GARBAGE: u32 = 100;
/// First and longest wait before reconnecting.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Longest a websocket close may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a relay connection hands the ingest loop, in order.
#[derive(Debug)]
pub enum Feed {
    /// An event, as the relay sent it.
    Event {
        /// The relay.
        relay: Arc<str>,
        /// Its JSON.
        raw: RawEvent,
    },
    /// Everything the relay holds up to `up_to` (Unix seconds) has been
    /// handed over.
    CaughtUp {
        /// The relay.
        relay: Arc<str>,
        /// The new cursor.
        up_to: u64,
    },
    /// The relay sent something that is not NIP-01.
    Garbage {
        /// The relay.
        relay: Arc<str>,
    },
    /// The connection was lost.
    Dropped {
        /// The relay.
        relay: Arc<str>,
    },
}

/// An event's JSON as a relay sent it: the websocket message it came in,
/// shared rather than copied, and where in that message the event is.
#[derive(Debug, Clone)]
pub struct RawEvent {
    message: Utf8Bytes,
    at: Range<usize>,
}

impl RawEvent {
    /// An event's JSON that came on its own, not in a websocket message
    /// this client read (the trust graph's walk fetches through another
    /// client).
    pub fn owned(json: String) -> Self {
        let at = 0..json.len();
        Self {
            message: Utf8Bytes::from(json),
            at,
        }
    }

    /// The event's JSON.
    pub fn as_str(&self) -> &str {
        self.message.get(self.at.clone()).unwrap_or_default()
    }

    /// The part `event` of `message`, which it must lie within (else the
    /// event is empty, which the ingest loop refuses).
    fn within(message: &Utf8Bytes, event: &str) -> Self {
        let start = event.as_ptr().addr().wrapping_sub(message.as_ptr().addr());
        Self {
            message: message.clone(),
            at: start..start.saturating_add(event.len()),
        }
    }
}

/// Where a relay connection stands, for `archy market stats`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RelayStatus {
    /// `connecting`, `backfilling`, `live` or `waiting to reconnect`.
    pub phase: String,
    /// Events received since the node started.
    pub events: u64,
    /// Frames that were not NIP-01.
    pub garbage: u64,
    /// Connections lost.
    pub drops: u64,
    /// Events whose signature was bad, since the node started.
    #[serde(default)]
    pub bad_signatures: u64,
    /// Times the relay was cut off for sending too many of them
    /// ([`crate::relay_gate`]).
    #[serde(default)]
    pub cut_offs: u64,
    /// The last error.
    pub last_error: Option<String>,
}

/// Status of every relay followed, shared with queries.
pub type Statuses = Arc<Mutex<std::collections::BTreeMap<String, RelayStatus>>>;

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum Lost {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no answer within {0} s")]
    Silent(u64),
    #[error("connection: {0}")]
    Socket(String),
    #[error("the relay closed the connection")]
    Closed,
    #[error("the relay closed the subscription: {0}")]
    Refused(String),
    #[error("more than {MAX_GARBAGE} frames that are not NIP-01")]
    Garbage,
    #[error("the ingest loop stopped")]
    FeedGone,
    #[error("cut off for sending too many bad signatures")]
    CutOff,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One relay's connection, for as long as the node runs.
pub struct RelayFollower {
    url: Arc<str>,
    cursor: Option<u64>,
    feed: mpsc::Sender<Feed>,
    statuses: Statuses,
    stop: watch::Receiver<bool>,
    cut: watch::Receiver<u64>,
}

/// A frame, read just far enough to route it.
enum Frame<'a> {
    Event {
        sub: Cow<'a, str>,
        raw: RawEvent,
        id: String,
        created_at: u64,
    },
    Eose(String),
    Closed(String, String),
    Other,
    Garbage,
}

fn frame(text: &Utf8Bytes) -> Frame<'_> {
    if let Some((sub, raw)) = event_frame(text) {
        return match stamp::read(raw) {
            Some(stamp) => Frame::Event {
                sub: Cow::Borrowed(sub),
                raw: RawEvent::within(text, raw),
                id: stamp.id,
                created_at: stamp.created_at,
            },
            None => Frame::Garbage,
        };
    }
    let Ok(parts) = serde_json::from_str::<Vec<&RawValue>>(text) else {
        return Frame::Garbage;
    };
    let word = |i: usize| {
        parts
            .get(i)
            .and_then(|p| serde_json::from_str::<String>(p.get()).ok())
    };
    match (word(0).as_deref(), parts.len()) {
        (Some("EVENT"), 3) => {
            let (Some(sub), Ok(stamp)) = (word(1), serde_json::from_str::<Stamp>(parts[2].get()))
            else {
                return Frame::Garbage;
            };
            Frame::Event {
                sub: Cow::Owned(sub),
                raw: RawEvent::within(text, parts[2].get()),
                id: stamp.id,
                created_at: stamp.created_at,
            }
        }
        (Some("EOSE"), 2) => word(1).map_or(Frame::Garbage, Frame::Eose),
        (Some("CLOSED"), 2 | 3) => match word(1) {
            Some(sub) => Frame::Closed(sub, word(2).unwrap_or_default()),
            None => Frame::Garbage,
        },
        (Some("NOTICE" | "OK" | "AUTH" | "COUNT"), _) => Frame::Other,
        _ => Frame::Garbage,
    }
}

/// The subscription and the event of an `["EVENT", sub, event]` frame
/// written the plain way (a subscription id without escapes), found without
/// reading the event, of which routing needs only the leading fields
/// ([`stamp::read`]). Any other frame takes the general path, which reads
/// it all.
fn event_frame(text: &str) -> Option<(&str, &str)> {
    let rest = text
        .trim()
        .strip_prefix('[')?
        .trim_start()
        .strip_prefix("\"EVENT\"")?
        .trim_start()
        .strip_prefix(',')?
        .trim_start()
        .strip_prefix('"')?;
    let (sub, rest) = rest.split_once('"')?;
    if sub.contains('\\') {
        return None;
    }
    let raw = rest
        .trim_start()
        .strip_prefix(',')?
        .trim()
        .strip_suffix(']')?
        .trim_end();
    raw.starts_with('{').then_some((sub, raw))
}

/// The REQ for archy events and their deletions in `[since, until]`.
fn request(sub: &str, since: Option<u64>, until: Option<u64>, limit: Option<usize>) -> String {
    let mut archy = serde_json::json!({"kinds": [KIND], "#t": [TOPIC]});
    let mut deletions = serde_json::json!({"kinds": [5], "#k": [KIND.to_string()]});
    for filter in [&mut archy, &mut deletions] {
        if let Some(since) = since {
            filter["since"] = since.into();
        }
        if let Some(until) = until {
            filter["until"] = until.into();
        }
        if let Some(limit) = limit {
            filter["limit"] = limit.into();
        }
    }
    serde_json::json!(["REQ", sub, archy, deletions]).to_string()
}

impl RelayFollower {
    /// A follower of `url` from `cursor`, feeding `feed` until `stop`.
    pub fn new(
        url: &str,
        cursor: Option<u64>,
        feed: mpsc::Sender<Feed>,
        statuses: Statuses,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            url: url.into(),
            cursor,
            feed,
            statuses,
            stop,
            cut: watch::channel(0).1,
        }
    }

    /// Lets `cut` end the connection: the ingest loop counts a cut there
    /// when the relay sends too many bad signatures
    /// ([`crate::relay_gate`]). Only a cut counted during a connection ends
    /// it.
    pub fn cut_by(mut self, cut: watch::Receiver<u64>) -> Self {
        self.cut = cut;
        self
    }

    fn status(&self, change: impl FnOnce(&mut RelayStatus)) {
        if let Ok(mut all) = self.statuses.lock() {
            change(all.entry(self.url.to_string()).or_default());
        }
    }

    async fn send(&self, item: Feed) -> Result<(), Lost> {
        self.feed.send(item).await.map_err(|_| Lost::FeedGone)
    }

    /// Follows the relay until stopped, reconnecting with backoff.
    pub async fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        loop {
            if *self.stop.borrow() {
                return;
            }
            self.status(|s| s.phase = "connecting".into());
            let mut reached_live = false;
            let mut cut = self.cut.clone();
            cut.mark_unchanged();
            let result = tokio::select! {
                result = self.session(&mut reached_live) => result,
                Ok(()) = cut.changed() => Err(Lost::CutOff),
            };
            // A relay that was cut off waits longer each time, even if it
            // reached live before its bad signatures were counted.
            if reached_live && !matches!(result, Err(Lost::CutOff)) {
                backoff = BACKOFF_MIN;
            }
            match result {
                Ok(()) | Err(Lost::FeedGone) => return,
                Err(lost) => {
                    tracing::info!(
                        "relay {}: {lost}; again in {} s",
                        self.url,
                        backoff.as_secs()
                    );
                    self.status(|s| {
                        s.drops += 1;
                        // A cut-off's reason, with its figures, was written
                        // by the ingest loop that cut it.
                        if !matches!(lost, Lost::CutOff) {
                            s.last_error = Some(lost.to_string());
                        }
                        s.phase = "waiting to reconnect".into();
                    });
                    if self
                        .send(Feed::Dropped {
                            relay: self.url.clone(),
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            let jitter = Duration::from_millis(u64::from(unix_now().to_le_bytes()[0]) * 2);
            tokio::select! {
                _ = tokio::time::sleep(backoff + jitter) => {}
                _ = self.stop.changed() => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// One connection: backfill, then live until stopped or lost.
    async fn session(&mut self, reached_live: &mut bool) -> Result<(), Lost> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_EVENT_BYTES + 4096))
            .max_frame_size(Some(MAX_EVENT_BYTES + 4096));
        let connect = tokio_tungstenite::connect_async_with_config(&*self.url, Some(config), true);
        let (mut socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| {
                Lost::Connect(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))
            })?
            .map_err(|e| Lost::Connect(e.to_string()))?;
        let result = self.follow(&mut socket, reached_live).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
        result
    }

    async fn follow(&mut self, socket: &mut Socket, reached_live: &mut bool) -> Result<(), Lost> {
        let started = unix_now();
        let since = self.cursor.map(|c| c.saturating_sub(OVERLAP_SECS));
        self.status(|s| s.phase = "backfilling".into());
        let mut garbage = 0;
        self.backfill(socket, since, started, &mut garbage).await?;
        self.cursor = Some(started);
        self.send(Feed::CaughtUp {
            relay: self.url.clone(),
            up_to: started,
        })
        .await?;
        *reached_live = true;
        self.status(|s| s.phase = "live".into());
        self.live(socket, started, &mut garbage).await
    }

    /// Pages backwards from `until` to `since`: each page asks for the
    /// events up to the oldest one of the page before, until a page brings
    /// nothing new. This works whatever cap a relay puts on `limit`.
    async fn backfill(
        &mut self,
        socket: &mut Socket,
        since: Option<u64>,
        mut until: u64,
        garbage: &mut u32,
    ) -> Result<(), Lost> {
        let mut seen_at_edge: std::collections::HashSet<String> = Default::default();
        for page in 0..MAX_PAGES {
            let sub = format!("archy-backfill-{page}");
            send_text(socket, request(&sub, since, Some(until), Some(PAGE_LIMIT))).await?;
            let mut oldest = u64::MAX;
            let mut fresh = 0usize;
            let mut at_oldest: std::collections::HashSet<String> = Default::default();
            loop {
                let text = match next_text(socket, PAGE_TIMEOUT).await? {
                    Some(text) => text,
                    None => return Err(Lost::Silent(PAGE_TIMEOUT.as_secs())),
                };
                match frame(&text) {
                    Frame::Event {
                        sub: s,
                        raw,
                        id,
                        created_at,
                    } if s == sub => {
                        if created_at < oldest {
                            oldest = created_at;
                            at_oldest.clear();
                        }
                        if created_at == oldest {
                            at_oldest.insert(id.clone());
                        }
                        if !(created_at == until && seen_at_edge.contains(&id)) {
                            fresh += 1;
                        }
                        self.status(|s| s.events += 1);
                        self.send(Feed::Event {
                            relay: self.url.clone(),
                            raw,
                        })
                        .await?;
                    }
                    Frame::Eose(s) if s == sub => break,
                    Frame::Closed(s, reason) if s == sub => return Err(Lost::Refused(reason)),
                    Frame::Garbage => self.garbage(garbage).await?,
                    _ => {}
                }
            }
            send_text(socket, serde_json::json!(["CLOSE", sub]).to_string()).await?;
            if fresh == 0 || oldest == u64::MAX {
                if oldest != u64::MAX && oldest == until && until > since.unwrap_or(0) {
                    // A page full of one second's events, all seen: step
                    // past that second.
                    until -= 1;
                    seen_at_edge.clear();
                    continue;
                }
                return Ok(());
            }
            if since.is_some_and(|s| oldest <= s) {
                return Ok(());
            }
            until = oldest;
            seen_at_edge = at_oldest;
        }
        Ok(())
    }

    async fn live(
        &mut self,
        socket: &mut Socket,
        started: u64,
        garbage: &mut u32,
    ) -> Result<(), Lost> {
        let sub = "archy-live";
        send_text(
            socket,
            request(sub, Some(started.saturating_sub(60)), None, None),
        )
        .await?;
        let mut last_cursor = tokio::time::Instant::now();
        let mut pinged = false;
        loop {
            let next = tokio::select! {
                next = next_text(socket, IDLE) => next?,
                _ = self.stop.changed() => return Ok(()),
            };
            match next {
                None if pinged => return Err(Lost::Silent(2 * IDLE.as_secs())),
                None => {
                    pinged = true;
                    send(socket, Message::Ping(Vec::new().into())).await?;
                }
                Some(text) => {
                    pinged = false;
                    match frame(&text) {
                        Frame::Event { sub: s, raw, .. } if s == sub => {
                            self.status(|s| s.events += 1);
                            self.send(Feed::Event {
                                relay: self.url.clone(),
                                raw,
                            })
                            .await?;
                        }
                        Frame::Closed(s, reason) if s == sub => return Err(Lost::Refused(reason)),
                        Frame::Garbage => self.garbage(garbage).await?,
                        _ => {}
                    }
                }
            }
            if last_cursor.elapsed() >= CURSOR_EVERY {
                last_cursor = tokio::time::Instant::now();
                let up_to = unix_now().saturating_sub(60);
                self.cursor = Some(up_to);
                self.send(Feed::CaughtUp {
                    relay: self.url.clone(),
                    up_to,
                })
                .await?;
            }
        }
    }

    async fn garbage(&self, count: &mut u32) -> Result<(), Lost> {
        *count += 1;
        self.status(|s| s.garbage += 1);
        self.send(Feed::Garbage {
            relay: self.url.clone(),
        })
        .await?;
        if *count > MAX_GARBAGE {
            return Err(Lost::Garbage);
        }
        Ok(())
    }
}

async fn send_text(socket: &mut Socket, text: String) -> Result<(), Lost> {
    send(socket, Message::Text(text.into())).await
}

/// Sends one frame, within [`PAGE_TIMEOUT`].
async fn send(socket: &mut Socket, message: Message) -> Result<(), Lost> {
    tokio::time::timeout(PAGE_TIMEOUT, socket.send(message))
        .await
        .map_err(|_| Lost::Silent(PAGE_TIMEOUT.as_secs()))?
        .map_err(|e| Lost::Socket(e.to_string()))
}

/// The next text frame, or None after `wait` of silence. Pings are
/// answered by the websocket library; binary frames count as text that
/// will not parse.
async fn next_text(socket: &mut Socket, wait: Duration) -> Result<Option<Utf8Bytes>, Lost> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => return Err(Lost::Closed),
            Ok(Some(Err(e))) => return Err(Lost::Socket(e.to_string())),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => return Ok(Some(text)),
            Message::Binary(_) => return Ok(Some(Utf8Bytes::default())),
            Message::Close(_) => return Err(Lost::Closed),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`frame`] makes of `text`, checked by `holds`.
    fn framed(text: &str, holds: impl FnOnce(Frame<'_>) -> bool) -> bool {
        holds(frame(&Utf8Bytes::from(text)))
    }

    #[test]
    fn frames_are_routed_and_garbage_is_recognised() {
        let event = r#"{"id":"ab","created_at":17,"kind":30078}"#;
        assert!(framed(&format!(r#"["EVENT","s",{event}]"#), |f| matches!(
            f,
            Frame::Event { sub, created_at: 17, raw, .. } if sub == "s" && raw.as_str() == event
        )));
        assert!(framed(
            r#"["EOSE","s"]"#,
            |f| matches!(f, Frame::Eose(s) if s == "s")
        ));
        assert!(framed(r#"["CLOSED","s","error: no"]"#, |f| matches!(
            f,
            Frame::Closed(s, r) if s == "s" && r == "error: no"
        )));
        assert!(framed(r#"["NOTICE","hi"]"#, |f| matches!(f, Frame::Other)));
        for garbage in [
            "",
            "{}",
            "[1,2]",
            r#"["EVENT","s"]"#,
            r#"["EVENT","s",{"id":"x"}]"#,
            r#"["EVENT","s",{"created_at":1},{"created_at":2}]"#,
            r#"["EVENT","s",{"created_at":1}"#,
            r#"["EVENT","s",{"created_at":1} x]"#,
            r#"["EVENT","s","{}"]"#,
            "\u{0}\u{1}",
            r#"["HELLO"]"#,
        ] {
            assert!(
                framed(garbage, |f| matches!(f, Frame::Garbage)),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn event_frames_written_otherwise_take_the_general_path_to_the_same_answer() {
        let event = r#"{"id":"ab","created_at":17,"content":"a ] \" ,"}"#;
        for text in [
            format!(r#"["EVENT","s",{event}]"#),
            format!("[ \"EVENT\" ,\n \"s\" , {event} ]\n"),
            format!(r#"["EVENT","\u0073",{event}]"#),
        ] {
            assert!(
                framed(&text, |f| matches!(
                    f,
                    Frame::Event { sub, id, created_at: 17, raw }
                        if sub == "s" && id == "ab" && raw.as_str() == event
                )),
                "{text}"
            );
        }
        assert_eq!(
            event_frame(&format!(r#"["EVENT","s",{event}]"#)),
            Some(("s", event))
        );
        assert_eq!(event_frame(&format!(r#"["EVENT","\u0073",{event}]"#)), None);
    }

    #[test]
    fn the_request_asks_for_archy_events_and_their_deletions() {
        let req: serde_json::Value =
            serde_json::from_str(&request("s", Some(10), Some(20), Some(5))).unwrap();
        assert_eq!(req[0], "REQ");
        assert_eq!(req[2]["kinds"][0], 30078);
        assert_eq!(req[2]["#t"][0], "archy");
        assert_eq!(req[3]["kinds"][0], 5);
        assert_eq!(req[3]["#k"][0], "30078");
        assert_eq!(
            (req[2]["since"].as_u64(), req[2]["until"].as_u64()),
            (Some(10), Some(20))
        );
        assert_eq!(req[3]["limit"], 5);
    }
}
