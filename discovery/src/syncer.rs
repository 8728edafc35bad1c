//! Making commits that wait in memory durable, in the background.
//!
//! A durable redb commit waits for the disk: at a full ingest, 3–6 ms per
//! batch here, and nearly every batch of a first ingest pins some
//! publisher's root, which must reach the disk at once. Waited for in the
//! ingest loop, that was 4–5 % of its time spent idle. A [`Syncer`] thread
//! makes an empty durable commit instead, which writes every commit before
//! it to disk, while the ingest loop verifies the next batch (verification
//! holds no write transaction).
//!
//! The thread also keeps the promise that a commit waits in memory at most
//! [`DURABLE_EVERY`]: with nothing asked of it, it syncs once the oldest
//! commit in memory is due, whether or not more commits come.
//!
//! [`Durable`] is the bookkeeping both sides share: how many commits were
//! made and how many of them are known to be on disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::Database;

use crate::store::DURABLE_EVERY;

/// Which commits are on disk, and since when.
#[derive(Debug)]
pub struct Durable {
    /// The origin of `last_ms`.
    opened: Instant,
    /// Milliseconds after `opened` of the last durable commit.
    last_ms: AtomicU64,
    /// Commits made so far.
    commits: AtomicU64,
    /// How many of the first commits are known to be on disk.
    on_disk: AtomicU64,
}

impl Durable {
    /// Nothing committed yet.
    pub fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            on_disk: AtomicU64::new(0),
        }
    }

    /// Counts a commit that waits in memory.
    pub fn committed_in_memory(&self) {
        self.commits.fetch_add(1, Ordering::AcqRel);
    }

    /// The commits made so far: read before a durable commit begins, they
    /// are all on disk once it ends.
    pub fn made(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// Records that a durable commit begun after `made` commits has ended.
    pub fn reached_disk(&self, made: u64) {
        self.on_disk.fetch_max(made, Ordering::AcqRel);
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Release);
    }

    /// Whether some commit is not known to be on disk.
    pub fn is_pending(&self) -> bool {
        self.on_disk.load(Ordering::Acquire) < self.made()
    }

    /// Time since the last durable commit ended.
    pub fn since_last(&self) -> Duration {
        self.opened
            .elapsed()
            .saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Acquire)))
    }
}

/// A thread that makes every commit so far durable on request; it stops
/// when dropped.
#[derive(Debug)]
pub struct Syncer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts serving requests for `db`.
    pub fn start(db: Arc<Database>, durable: Arc<Durable>) -> std::io::Result<Self> {
        // One request waits at most: one made while a sync runs is served by
        // the next, and further ones add nothing to it.
        let (wake, requests) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("archy-index-sync".into())
            .spawn(move || serve(&db, &durable, &requests))?;
        Ok(Self {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Asks for every commit so far to reach the disk; returns at once.
    pub fn request(&self) {
        // Full: a sync is already due, and it will cover these commits too.
        if let Some(wake) = &self.wake
            && let Err(TrySendError::Disconnected(())) = wake.try_send(())
        {
            tracing::warn!("discovery: the index's background sync has stopped");
        }
    }
}

/// Syncs on request, and on its own once a commit in memory is due.
fn serve(db: &Database, durable: &Durable, requests: &Receiver<()>) {
    let mut wait = DURABLE_EVERY;
    loop {
        let asked = match requests.recv_timeout(wait) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let due = durable.is_pending() && durable.since_last() >= DURABLE_EVERY;
        // After a failed sync, the next try waits a whole period.
        let failed = (asked || due) && !sync(db, durable);
        wait = if durable.is_pending() && !failed {
            DURABLE_EVERY.saturating_sub(durable.since_last())
        } else {
            DURABLE_EVERY
        };
    }
}

/// An empty durable commit, which writes every commit before it to disk;
/// whether it succeeded.
fn sync(db: &Database, durable: &Durable) -> bool {
    let made = durable.made();
    let synced = db.begin_write().map_err(redb::Error::from).and_then(|tx| {
        tx.commit()?;
        Ok(())
    });
    match synced {
        Ok(()) => {
            durable.reached_disk(made);
            true
        }
        // The commits stay pending: the next sync, or the store's own on
        // closing, tries again.
        Err(e) => {
            tracing::warn!("discovery: background sync of the index: {e}");
            false
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_commit_covers_the_commits_made_before_it_began() {
        let durable = Durable::new();
        assert!(!durable.is_pending());
        durable.committed_in_memory();
        let made = durable.made();
        durable.committed_in_memory();
        durable.reached_disk(made);
        assert!(durable.is_pending(), "the second commit came after");
        durable.reached_disk(durable.made());
        assert!(!durable.is_pending());
        durable.reached_disk(made);
        assert!(
            !durable.is_pending(),
            "an older sync ending late undoes nothing"
        );
    }
}
