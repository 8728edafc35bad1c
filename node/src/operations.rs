//! Long work the node does on request (install, update, start, stop, …),
//! each an *operation* with an id: started at once, run in the background,
//! followed by its progress events until exactly one terminal event.
//!
//! Every operation is written to the node's state when it starts and when
//! it ends, so one that was running when the node died is found at the
//! next start and ended as interrupted: none stays "running" forever.
//! Progress is monotonic: a percentage never goes back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::state::{NodeState, StateError};

/// Progress events buffered per subscriber; a slower reader skips ahead to
/// the newest state (percentages only grow, so nothing is misreported).
const EVENT_BUFFER: usize = 256;
/// Operations running at once (more are refused).
const MAX_RUNNING: usize = 64;

/// Where an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Still working.
    Running,
    /// Done.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// The node stopped while it ran.
    Interrupted,
}

/// An operation as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Operation {
    /// Its id.
    pub id: u64,
    /// What it does: install, update, start, stop, restart, reinstall,
    /// uninstall.
    pub kind: String,
    /// The app, as asked for.
    pub app: String,
    /// Where it is.
    pub status: Status,
    /// How far along, 0 to 100; never goes back.
    pub percent: u8,
    /// What it is doing now.
    pub stage: String,
    /// What it told whoever followed it (the newest [`MAX_NOTICES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    /// Why it failed or was interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The causes under the error, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// What it produced, on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// When it started (Unix seconds).
    pub started_at: u64,
    /// When it ended (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}

/// One event of an operation's progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// It moved on.
    Progress {
        /// 0 to 100, never less than the one before.
        percent: u8,
        /// What it is doing.
        stage: String,
    },
    /// Something worth telling the person who asked (a source that
    /// failed, a root pinned); changes no percentage.
    Notice {
        /// What happened.
        message: String,
    },
    /// It succeeded (terminal).
    Succeeded {
        /// What it produced.
        #[schema(value_type = Object)]
        result: serde_json::Value,
    },
    /// It failed or was interrupted (terminal).
    Failed {
        /// Why.
        error: String,
        /// The causes under it.
        causes: Vec<String>,
    },
}

impl Event {
    /// Whether this is the last event of its operation.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Succeeded { .. } | Self::Failed { .. })
    }

    /// The terminal event of a finished operation, if it is finished.
    pub fn terminal_of(op: &Operation) -> Option<Self> {
        match op.status {
            Status::Running => None,
            Status::Succeeded => Some(Self::Succeeded {
                result: op.result.clone().unwrap_or_default(),
            }),
            Status::Failed | Status::Interrupted => Some(Self::Failed {
                error: op.error.clone().unwrap_or_default(),
                causes: op.causes.clone(),
            }),
        }
    }
}

/// Why an operation failed: the message and its causes.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What went wrong.
    pub error: String,
    /// The causes under it.
    pub causes: Vec<String>,
}

impl Failure {
    /// The failure `err` describes, with its chain of sources (leaving out
    /// a source whose text the message already carries).
    pub fn of(err: &(dyn std::error::Error + 'static)) -> Self {
        let error = err.to_string();
        let chain = std::iter::successors(err.source(), |cause| cause.source());
        let causes = causes_said_once(&error, chain.map(ToString::to_string));
        Self { error, causes }
    }

    /// A failure with a message only.
    pub fn message(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            causes: Vec::new(),
        }
    }
}

/// The causes under `error`, each said once: a cause whose text the
/// message or a cause above already carries is left out (many errors
/// repeat their source's text in their own).
pub fn causes_said_once(error: &str, causes: impl Iterator<Item = String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for cause in causes {
        if !error.contains(&cause) && !kept.iter().any(|k| k.contains(&cause)) {
            kept.push(cause);
        }
    }
    kept
}

/// An operation could not be started or read.
#[derive(Debug, thiserror::Error)]
pub enum OperationsError {
    /// The node's state.
    #[error(transparent)]
    State(#[from] StateError),
    /// Too many operations are running.
    #[error("{MAX_RUNNING} operations are running already; wait for one to end")]
    TooMany,
    /// A stored operation is not readable.
    #[error("operation {id} in the node's state is not readable: {reason}")]
    Corrupt {
        /// The operation.
        id: u64,
        /// Why.
        reason: String,
    },
}

/// An operation as it is now (its notices so far included), and its later
/// events if it still runs.
pub type Following = (Operation, Option<broadcast::Receiver<Event>>);

/// Notices kept per operation for followers that come late.
const MAX_NOTICES: usize = 32;

/// What a running operation has: its current state and its subscribers.
struct Live {
    op: Operation,
    events: broadcast::Sender<Event>,
}

/// The node's operations.
#[derive(Clone)]
pub struct Operations {
    state: NodeState,
    live: Arc<Mutex<Registry>>,
}

struct Registry {
    next_id: u64,
    running: HashMap<u64, Live>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Operations {
    /// The operations kept in `state`; any left running by a node that
    /// died are ended as interrupted.
    pub fn open(state: NodeState) -> Result<Self, OperationsError> {
        let mut next_id = 1;
        for (id, json) in state.operations()? {
            next_id = next_id.max(id + 1);
            let mut op = parse(id, &json)?;
            if op.status == Status::Running {
                op.status = Status::Interrupted;
                op.error = Some(format!(
                    "interrupted: the node stopped during this {} (at {} %, {})",
                    op.kind, op.percent, op.stage
                ));
                op.finished_at = Some(now());
                state.put_operation(id, &to_json(&op))?;
            }
        }
        Ok(Self {
            state,
            live: Arc::new(Mutex::new(Registry {
                next_id,
                running: HashMap::new(),
            })),
        })
    }

    /// Records a new operation and returns its reporter, which the work
    /// reports progress to and ends it with.
    pub fn begin(&self, kind: &str, app: &str) -> Result<Reporter, OperationsError> {
        let mut registry = self.lock();
        if registry.running.len() >= MAX_RUNNING {
            return Err(OperationsError::TooMany);
        }
        let id = registry.next_id;
        let op = Operation {
            id,
            kind: kind.to_owned(),
            app: app.to_owned(),
            status: Status::Running,
            percent: 0,
            stage: "queued".to_owned(),
            notices: Vec::new(),
            error: None,
            causes: Vec::new(),
            result: None,
            started_at: now(),
            finished_at: None,
        };
        self.state.put_operation(id, &to_json(&op))?;
        registry.next_id += 1;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        registry.running.insert(id, Live { op, events });
        Ok(Reporter {
            operations: self.clone(),
            id,
            ended: false,
        })
    }

    /// Operation `id`, running or kept.
    pub fn get(&self, id: u64) -> Result<Option<Operation>, OperationsError> {
        if let Some(live) = self.lock().running.get(&id) {
            return Ok(Some(live.op.clone()));
        }
        self.stored(id)
    }

    /// The newest `limit` operations, newest first: the running ones as
    /// they are now, the others as kept.
    pub fn recent(&self, limit: usize) -> Result<Vec<Operation>, OperationsError> {
        let stored = self.state.operations()?;
        let registry = self.lock();
        stored
            .iter()
            .rev()
            .take(limit)
            .map(|(id, json)| match registry.running.get(id) {
                Some(live) => Ok(live.op.clone()),
                None => parse(*id, json),
            })
            .collect()
    }

    /// Operation `id` now, and the events after now if it still runs.
    pub fn follow(&self, id: u64) -> Result<Option<Following>, OperationsError> {
        {
            let registry = self.lock();
            if let Some(live) = registry.running.get(&id) {
                return Ok(Some((live.op.clone(), Some(live.events.subscribe()))));
            }
        }
        Ok(self.stored(id)?.map(|op| (op, None)))
    }

    fn stored(&self, id: u64) -> Result<Option<Operation>, OperationsError> {
        self.state
            .operation(id)?
            .map(|json| parse(id, &json))
            .transpose()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain data behind; go on.
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn progress(&self, id: u64, percent: u8, stage: &str) {
        let mut registry = self.lock();
        let Some(live) = registry.running.get_mut(&id) else {
            return;
        };
        let percent = percent.min(100).max(live.op.percent);
        if percent == live.op.percent && stage == live.op.stage {
            return;
        }
        live.op.percent = percent;
        stage.clone_into(&mut live.op.stage);
        let _ = live.events.send(Event::Progress {
            percent,
            stage: stage.to_owned(),
        });
    }

    fn notice(&self, id: u64, message: String) {
        if let Some(live) = self.lock().running.get_mut(&id) {
            if live.op.notices.len() == MAX_NOTICES {
                live.op.notices.remove(0);
            }
            live.op.notices.push(message.clone());
            let _ = live.events.send(Event::Notice { message });
        }
    }

    fn end(&self, id: u64, outcome: Result<serde_json::Value, Failure>) {
        let mut registry = self.lock();
        let Some(mut live) = registry.running.remove(&id) else {
            return;
        };
        live.op.finished_at = Some(now());
        match outcome {
            Ok(result) => {
                live.op.status = Status::Succeeded;
                live.op.percent = 100;
                "done".clone_into(&mut live.op.stage);
                live.op.result = Some(result);
            }
            Err(failure) => {
                live.op.status = Status::Failed;
                live.op.error = Some(failure.error);
                live.op.causes = failure.causes;
            }
        }
        if let Err(e) = self.state.put_operation(id, &to_json(&live.op)) {
            tracing::warn!("operation {id} ended but could not be recorded: {e}");
        }
        if let Some(terminal) = Event::terminal_of(&live.op) {
            let _ = live.events.send(terminal);
        }
    }
}

fn to_json(op: &Operation) -> String {
    // Plain strings, numbers and a JSON value: always serializable.
    serde_json::to_string(op).unwrap_or_default()
}

fn parse(id: u64, json: &str) -> Result<Operation, OperationsError> {
    serde_json::from_str(json).map_err(|e| OperationsError::Corrupt {
        id,
        reason: e.to_string(),
    })
}

/// The handle the work of one operation reports through. Dropped without
/// [`Reporter::finish`] (the task panicked or was cancelled), it ends the
/// operation as failed, so it never stays running.
pub struct Reporter {
    operations: Operations,
    id: u64,
    ended: bool,
}

impl Reporter {
    /// The operation's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Reports progress; a percentage below the last one is raised to it.
    pub fn progress(&self, percent: u8, stage: &str) {
        self.operations.progress(self.id, percent, stage);
    }

    /// Tells whoever follows the operation what happened.
    pub fn notice(&self, message: String) {
        self.operations.notice(self.id, message);
    }

    /// Ends the operation with its outcome.
    pub fn finish(mut self, outcome: Result<serde_json::Value, Failure>) {
        self.ended = true;
        self.operations.end(self.id, outcome);
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if !self.ended {
            self.operations.end(
                self.id,
                Err(Failure::message("the operation stopped before it ended")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(dir: &std::path::Path) -> Operations {
        Operations::open(NodeState::open(&dir.join("state.redb")).expect("state")).expect("open")
    }

    #[tokio::test]
    async fn progress_never_goes_back_and_the_terminal_event_comes_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ops = operations(dir.path());
        let reporter = ops.begin("install", "did:key:z6Mk/org.x").expect("begin");
        let id = reporter.id();
        let (_, events) = ops.follow(id).expect("read").expect("known");
        let mut events = events.expect("running");
        reporter.progress(40, "fetching");
        reporter.progress(20, "verifying");
        reporter.finish(Ok(serde_json::json!({"id": "org.x"})));
        let mut seen = Vec::new();
        while let Ok(event) = events.recv().await {
            seen.push(event);
        }
        let percents: Vec<u8> = seen
            .iter()
            .filter_map(|e| match e {
                Event::Progress { percent, .. } => Some(*percent),
                _ => None,
            })
            .collect();
        assert_eq!(percents, [40, 40]);
        assert_eq!(seen.iter().filter(|e| e.is_terminal()).count(), 1);
        assert!(seen.last().is_some_and(Event::is_terminal));
        let op = ops.get(id).expect("read").expect("kept");
        assert_eq!((op.status, op.percent), (Status::Succeeded, 100));
    }

    #[test]
    fn an_operation_running_when_the_node_died_ends_as_interrupted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = NodeState::open(&dir.path().join("state.redb")).expect("state");
        // What a node that died during an install left behind.
        let left = Operation {
            id: 7,
            kind: "install".into(),
            app: "org.x".into(),
            status: Status::Running,
            percent: 30,
            stage: "fetching".into(),
            notices: Vec::new(),
            error: None,
            causes: Vec::new(),
            result: None,
            started_at: 1,
            finished_at: None,
        };
        state.put_operation(7, &to_json(&left)).expect("put");
        let ops = Operations::open(state).expect("open");
        let op = ops.get(7).expect("read").expect("kept");
        assert_eq!(op.status, Status::Interrupted);
        assert!(
            op.error
                .as_deref()
                .is_some_and(|e| e.contains("interrupted"))
        );
        assert!(Event::terminal_of(&op).is_some_and(|e| e.is_terminal()));
        let next = ops.begin("start", "org.x").expect("begin");
        assert!(next.id() > 7, "ids are not reused");
    }

    #[test]
    fn a_reporter_dropped_unfinished_fails_its_operation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ops = operations(dir.path());
        let id = ops.begin("stop", "org.x").expect("begin").id();
        let op = ops.get(id).expect("read").expect("kept");
        assert_eq!(op.status, Status::Failed);
    }
}
