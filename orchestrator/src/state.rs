//! The orchestrator's durable state in one redb file: each app's desired
//! state and the release it should run (the records), and a bounded journal
//! of operations. Every change is one redb transaction, so a node killed at
//! any point restarts from a consistent record and converges from there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use archy_registry::tuf::time::UtcTime;
use archy_registry::{Form, Manifest};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::Error;

const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
/// Journal entries kept; older ones are dropped as new ones come.
pub const JOURNAL_LIMIT: u64 = 1000;

/// What the user wants of an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Desired {
    /// Installed and running.
    Running,
    /// Installed, stopped by the user: never started behind their back.
    Stopped,
    /// Being uninstalled: the record goes once its containers are gone.
    Removed,
}

/// Where an app is in its lifecycle; anything but `Installed` after a
/// restart means an operation was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Install in progress.
    Installing,
    /// Settled.
    Installed,
    /// Update in progress; `previous` is what to roll back to.
    Updating,
    /// Uninstall in progress.
    Removing,
}

/// An image archive of a release, verified when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageBlob {
    /// BLAKE3 of the archive, hex.
    pub blake3: String,
    /// Archive size.
    pub size: u64,
    /// The OCI image id the manifest names.
    pub id: String,
    /// Where the verified archive is.
    pub path: PathBuf,
}

/// One release of an app, as recorded for running it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedRelease {
    /// The published manifest (JSON), verified before it was recorded.
    pub manifest: serde_json::Value,
    /// The release hash.
    pub release: String,
    /// The publisher's DID.
    pub publisher: String,
    /// A developer's unpublished app.
    pub dev: bool,
    /// Its image archives.
    pub images: Vec<ImageBlob>,
}

impl RecordedRelease {
    /// The manifest, read back through every published-form rule.
    pub fn manifest(&self) -> Result<Manifest, Error> {
        Manifest::from_json(self.manifest.clone(), "orchestrator state", Form::Published).map_err(
            |e| Error::State {
                path: PathBuf::from("orchestrator.redb"),
                reason: format!("recorded manifest no longer reads: {e}"),
            },
        )
    }

    /// The version the manifest carries.
    pub fn version(&self) -> String {
        self.manifest
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned()
    }
}

/// Everything the node keeps about one installed app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRecord {
    /// The app id.
    pub id: String,
    /// What should run.
    pub current: RecordedRelease,
    /// During an update: what ran before, to roll back to.
    pub previous: Option<RecordedRelease>,
    /// Host port chosen per `container/port/protocol`.
    pub host_ports: BTreeMap<String, u16>,
    /// What the user wants.
    pub desired: Desired,
    /// Where its lifecycle is.
    pub phase: Phase,
    /// On removal: delete the app's data too.
    pub purge: bool,
    /// When it was first installed (Unix seconds).
    pub installed_at: u64,
}

/// One operation in the journal.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JournalEntry {
    /// Its sequence number.
    pub seq: u64,
    /// The app.
    pub app: String,
    /// install, start, stop, …
    pub op: String,
    /// When it started (Unix seconds).
    pub started_at: u64,
    /// `None` while it runs (or if the node died during it); then "ok",
    /// "failed: …" or "interrupted".
    pub outcome: Option<String>,
}

/// The state file.
pub struct State {
    db: Database,
    path: PathBuf,
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    u64::try_from(UtcTime::now().unix()).unwrap_or(0)
}

impl State {
    /// Opens (or creates) the state file.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::StateBusy {
                path: path.to_owned(),
            },
            other => Error::state(path, other),
        })?;
        let state = Self {
            db,
            path: path.to_owned(),
        };
        state.write(|tx| {
            tx.open_table(APPS)?;
            tx.open_table(JOURNAL)?;
            Ok(())
        })?;
        Ok(state)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, Error> {
        let tx = self
            .db
            .begin_write()
            .map_err(|e| Error::state(&self.path, e))?;
        let value = f(&tx).map_err(|e| Error::state(&self.path, e))?;
        tx.commit().map_err(|e| Error::state(&self.path, e))?;
        Ok(value)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, Error> {
        let tx = self
            .db
            .begin_read()
            .map_err(|e| Error::state(&self.path, e))?;
        f(&tx).map_err(|e| Error::state(&self.path, e))
    }

    /// Every value of a table, in key order, decoded.
    fn all<K: redb::Key + 'static, T: for<'de> Deserialize<'de>>(
        &self,
        table: TableDefinition<K, &[u8]>,
    ) -> Result<Vec<T>, Error> {
        let rows: Vec<Vec<u8>> = self.read(|tx| {
            let table = tx.open_table(table)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                rows.push(row?.1.value().to_vec());
            }
            Ok(rows)
        })?;
        rows.iter().map(|bytes| self.decode(bytes)).collect()
    }

    /// Every app record, by id.
    pub fn apps(&self) -> Result<Vec<AppRecord>, Error> {
        self.all(APPS)
    }

    /// One app's record.
    pub fn app(&self, id: &str) -> Result<Option<AppRecord>, Error> {
        let bytes =
            self.read(|tx| Ok(tx.open_table(APPS)?.get(id)?.map(|v| v.value().to_vec())))?;
        bytes.map(|b| self.decode(&b)).transpose()
    }

    fn decode<T: for<'de> Deserialize<'de>>(&self, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::state(&self.path, format!("a record does not read: {e}")))
    }

    /// Writes an app's record.
    pub fn put_app(&self, record: &AppRecord) -> Result<(), Error> {
        let bytes = serde_json::to_vec(record).map_err(|e| Error::state(&self.path, e))?;
        self.write(|tx| {
            tx.open_table(APPS)?
                .insert(record.id.as_str(), bytes.as_slice())?;
            Ok(())
        })
    }

    /// Forgets an app.
    pub fn remove_app(&self, id: &str) -> Result<(), Error> {
        self.write(|tx| {
            tx.open_table(APPS)?.remove(id)?;
            Ok(())
        })
    }

    /// Starts a journal entry and returns its sequence number.
    pub fn journal_start(&self, app: &str, op: &str) -> Result<u64, Error> {
        self.write(|tx| {
            let mut table = tx.open_table(JOURNAL)?;
            let seq = table.last()?.map_or(1, |(k, _)| k.value() + 1);
            let entry = JournalEntry {
                seq,
                app: app.to_owned(),
                op: op.to_owned(),
                started_at: now(),
                outcome: None,
            };
            // A struct of strings and numbers always serialises.
            let bytes = serde_json::to_vec(&entry).unwrap_or_default();
            table.insert(seq, bytes.as_slice())?;
            if seq > JOURNAL_LIMIT {
                table.retain(|k, _| k + JOURNAL_LIMIT > seq)?;
            }
            Ok(seq)
        })
    }

    /// Records how an operation ended.
    pub fn journal_finish(&self, seq: u64, outcome: &str) -> Result<(), Error> {
        let Some(mut entry) = self.journal_entry(seq)? else {
            return Ok(());
        };
        entry.outcome = Some(outcome.to_owned());
        let bytes = serde_json::to_vec(&entry).map_err(|e| Error::state(&self.path, e))?;
        self.write(|tx| {
            tx.open_table(JOURNAL)?.insert(seq, bytes.as_slice())?;
            Ok(())
        })
    }

    fn journal_entry(&self, seq: u64) -> Result<Option<JournalEntry>, Error> {
        let bytes = self.read(|tx| {
            Ok(tx
                .open_table(JOURNAL)?
                .get(seq)?
                .map(|v| v.value().to_vec()))
        })?;
        bytes.map(|b| self.decode(&b)).transpose()
    }

    /// The journal, oldest first.
    pub fn journal(&self) -> Result<Vec<JournalEntry>, Error> {
        self.all(JOURNAL)
    }

    /// Marks every unfinished entry "interrupted": called once at start,
    /// when no operation of this process can be running yet.
    pub fn close_interrupted(&self) -> Result<Vec<JournalEntry>, Error> {
        let open: Vec<JournalEntry> = self
            .journal()?
            .into_iter()
            .filter(|e| e.outcome.is_none())
            .collect();
        for entry in &open {
            self.journal_finish(entry.seq, "interrupted")?;
        }
        Ok(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> AppRecord {
        AppRecord {
            id: id.into(),
            current: RecordedRelease {
                manifest: serde_json::json!({"version": "1.0.0"}),
                release: "r".into(),
                publisher: "p".into(),
                dev: true,
                images: vec![],
            },
            previous: None,
            host_ports: BTreeMap::new(),
            desired: Desired::Running,
            phase: Phase::Installing,
            purge: false,
            installed_at: 1,
        }
    }

    #[test]
    fn records_and_the_journal_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.redb");
        {
            let state = State::open(&path).unwrap();
            state.put_app(&record("org.example.a")).unwrap();
            let seq = state.journal_start("org.example.a", "install").unwrap();
            assert_eq!(seq, 1);
            state.journal_start("org.example.a", "stop").unwrap();
            state.journal_finish(seq, "ok").unwrap();
        }
        let state = State::open(&path).unwrap();
        assert_eq!(
            state
                .app("org.example.a")
                .unwrap()
                .unwrap()
                .current
                .version(),
            "1.0.0"
        );
        let open = state.close_interrupted().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].op, "stop");
        let journal = state.journal().unwrap();
        assert_eq!(journal[1].outcome.as_deref(), Some("interrupted"));
        state.remove_app("org.example.a").unwrap();
        assert!(state.apps().unwrap().is_empty());
    }

    #[test]
    fn the_journal_keeps_only_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("o.redb")).unwrap();
        for _ in 0..JOURNAL_LIMIT + 5 {
            state.journal_start("a.b", "start").unwrap();
        }
        let journal = state.journal().unwrap();
        assert_eq!(journal.len() as u64, JOURNAL_LIMIT);
        assert_eq!(journal[0].seq, 6);
    }
}
