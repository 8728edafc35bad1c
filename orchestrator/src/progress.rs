//! Progress of operations: stage events with a percent that never goes
//! back, and exactly one terminal event (success, or failure with the
//! reason) per operation, on a broadcast channel the CLI draws as a bar and
//! the HTTP API will stream.

use serde::Serialize;
use tokio::sync::broadcast;

/// Events buffered per subscriber; a slow one misses the oldest.
pub const CHANNEL_CAPACITY: usize = 256;

/// A step of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Re-checking the verified image archives against their hashes.
    Verify,
    /// `images load`.
    LoadImage,
    /// Creating the app's data directories.
    DataDirs,
    /// Generating secrets.
    Secrets,
    /// Creating the app's network.
    Network,
    /// Creating containers.
    Create,
    /// Starting containers.
    Start,
    /// Waiting for health checks.
    Healthy,
    /// Stopping containers.
    Stop,
    /// Removing containers and the network.
    Remove,
    /// Deleting the app's data (`--purge`).
    Purge,
    /// Putting the previous version back after a failed update.
    Rollback,
}

impl Stage {
    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::LoadImage => "load image",
            Self::DataDirs => "data dirs",
            Self::Secrets => "secrets",
            Self::Network => "network",
            Self::Create => "create",
            Self::Start => "start",
            Self::Healthy => "healthy",
            Self::Stop => "stop",
            Self::Remove => "remove",
            Self::Purge => "purge",
            Self::Rollback => "rollback",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A stage began; `percent` of the operation is done.
    Stage {
        /// The stage.
        stage: Stage,
        /// 0–100, never lower than the previous event's.
        percent: u8,
    },
    /// The operation succeeded.
    Succeeded,
    /// The operation failed.
    Failed {
        /// Why.
        reason: String,
    },
}

impl Event {
    /// Whether this ends its operation.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::Stage { .. })
    }
}

/// One event of one operation.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// The operation's journal sequence number.
    pub op: u64,
    /// install, stop, …
    pub operation: String,
    /// The app.
    pub app: String,
    /// What happened.
    pub event: Event,
}

/// Emits one operation's events; it sends the terminal event itself when
/// finished, or a failure if dropped unfinished (a panic or an early
/// return), so every operation has exactly one.
pub struct Reporter {
    sender: broadcast::Sender<Progress>,
    op: u64,
    operation: String,
    app: String,
    percent: u8,
    finished: bool,
}

impl Reporter {
    /// A reporter for operation `op` on `app`.
    pub fn new(sender: broadcast::Sender<Progress>, op: u64, operation: &str, app: &str) -> Self {
        Self {
            sender,
            op,
            operation: operation.to_owned(),
            app: app.to_owned(),
            percent: 0,
            finished: false,
        }
    }

    fn send(&self, event: Event) {
        // No subscriber is not an error: progress is for whoever listens.
        let _ = self.sender.send(Progress {
            op: self.op,
            operation: self.operation.clone(),
            app: self.app.clone(),
            event,
        });
    }

    /// A stage begins at `percent` (raised to the last percent if lower).
    pub fn stage(&mut self, stage: Stage, percent: u8) {
        self.percent = self.percent.max(percent.min(100));
        self.send(Event::Stage {
            stage,
            percent: self.percent,
        });
    }

    /// Ends the operation with its result's terminal event.
    pub fn finish<T, E: std::fmt::Display>(mut self, result: &Result<T, E>) {
        self.finished = true;
        self.send(match result {
            Ok(_) => Event::Succeeded,
            Err(e) => Event::Failed {
                reason: e.to_string(),
            },
        });
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if !self.finished {
            self.send(Event::Failed {
                reason: "the operation ended without a result".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(rx: &mut broadcast::Receiver<Progress>) -> Vec<Event> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|p| p.event)
            .collect()
    }

    #[test]
    fn percent_never_goes_back_and_there_is_one_terminal_event() {
        let (tx, mut rx) = broadcast::channel(CHANNEL_CAPACITY);
        let mut r = Reporter::new(tx, 7, "install", "a.b");
        r.stage(Stage::Verify, 10);
        r.stage(Stage::LoadImage, 5);
        r.finish::<(), String>(&Ok(()));
        let events = drain(&mut rx);
        assert_eq!(
            events,
            [
                Event::Stage {
                    stage: Stage::Verify,
                    percent: 10
                },
                Event::Stage {
                    stage: Stage::LoadImage,
                    percent: 10
                },
                Event::Succeeded
            ]
        );
    }

    #[test]
    fn an_abandoned_operation_still_ends_with_a_failure() {
        let (tx, mut rx) = broadcast::channel(CHANNEL_CAPACITY);
        drop(Reporter::new(tx, 1, "stop", "a.b"));
        let events = drain(&mut rx);
        assert_eq!(events.len(), 1);
        assert!(events[0].is_terminal());
    }
}
