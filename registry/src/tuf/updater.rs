//! The client workflow of the TUF specification (section 5), step by step:
//! root chain, timestamp, snapshot, top-level targets, then a preorder
//! depth-first search of delegations for each target, and target downloads
//! checked against their length and hashes.

use std::collections::HashSet;
use std::sync::Arc;

use tracing::debug;

use super::error::Error;
use super::metadata::TargetFile;
use super::store::MetadataStore;
use super::time::UtcTime;
use super::transport::{FetchError, Timestamped, Transport, encode_role};
use super::trusted::{TimestampUpdate, TrustedSet};
use super::verify::check_length_and_hashes;

/// Limits of the client. The defaults are python-tuf's.
#[derive(Debug, Clone)]
pub struct Limits {
    /// New root versions accepted in one update.
    pub max_root_rotations: u64,
    /// Delegated roles visited in one target search.
    pub max_delegations: usize,
    /// Largest root file read.
    pub root_max_length: u64,
    /// Largest timestamp file read.
    pub timestamp_max_length: u64,
    /// Largest snapshot file read when the timestamp gives no length.
    pub snapshot_max_length: u64,
    /// Largest targets file read when the snapshot gives no length.
    pub targets_max_length: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_root_rotations: 256,
            max_delegations: 32,
            root_max_length: 512_000,
            timestamp_max_length: 16_384,
            snapshot_max_length: 2_000_000,
            targets_max_length: 5_000_000,
        }
    }
}

/// A TUF client for one repository: trusted metadata in a local store,
/// files from a [`Transport`].
pub struct Updater<T> {
    transport: T,
    store: Arc<dyn MetadataStore>,
    limits: Limits,
    clock: Clock,
    trusted: TrustedSet,
    refreshed: bool,
    /// Whether the source has been seen to name its newest root version
    /// with the timestamp; then refreshes start with the timestamp.
    source_names_root: bool,
}

/// Where the reference time comes from.
#[derive(Debug, Clone, Copy)]
enum Clock {
    System,
    Fixed(UtcTime),
}

impl Clock {
    fn now(self) -> UtcTime {
        match self {
            Clock::System => UtcTime::now(),
            Clock::Fixed(t) => t,
        }
    }
}

impl<T: Transport> Updater<T> {
    /// A client trusting the `root.json` in `store`, with the system clock
    /// as reference time.
    pub fn new(store: Arc<dyn MetadataStore>, transport: T, limits: Limits) -> Result<Self, Error> {
        Self::with_clock(store, transport, limits, Clock::System)
    }

    /// As [`Updater::new`], checking expiry against `now` instead of the
    /// system clock.
    pub fn at_time(
        store: Arc<dyn MetadataStore>,
        transport: T,
        limits: Limits,
        now: UtcTime,
    ) -> Result<Self, Error> {
        Self::with_clock(store, transport, limits, Clock::Fixed(now))
    }

    /// Checks expiry against `now` from the next refresh on, instead of
    /// the system clock or the time given before: a client that stays alive
    /// while time passes.
    pub fn set_time(&mut self, now: UtcTime) {
        self.clock = Clock::Fixed(now);
    }

    fn with_clock(
        store: Arc<dyn MetadataStore>,
        transport: T,
        limits: Limits,
        clock: Clock,
    ) -> Result<Self, Error> {
        let root = store
            .load("root", limits.root_max_length)?
            .ok_or_else(|| Error::Store {
                location: store.location("root"),
                reason:
                    "no trusted root: initialise the client with the publisher's root.json first"
                        .into(),
            })?;
        let trusted = TrustedSet::new(root, clock.now())?;
        Ok(Self {
            transport,
            store,
            limits,
            clock,
            trusted,
            refreshed: false,
            source_names_root: false,
        })
    }

    /// The transport this client fetches through.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The metadata trusted so far.
    pub fn trusted(&self) -> &TrustedSet {
        &self.trusted
    }

    /// Updates root, timestamp, snapshot and top-level targets (spec 5.3 to
    /// 5.6). Newer metadata is stored as it is accepted. May be called again
    /// later: each refresh starts over from the trusted root, at the
    /// current reference time.
    pub async fn refresh(&mut self) -> Result<(), Error> {
        self.refreshed = false;
        let previous = if self.trusted.timestamp().is_some() {
            let root = self.trusted.root().bytes.clone();
            Some(std::mem::replace(
                &mut self.trusted,
                TrustedSet::new(root, self.clock.now())?,
            ))
        } else {
            None
        };
        let mut timestamp = None;
        if self.source_names_root {
            let fetched = self.fetch_timestamp().await?;
            let trusted_root = self.trusted.root().doc.common.version;
            if fetched.newest_root.is_some_and(|v| v <= trusted_root) {
                timestamp = Some(fetched.bytes);
            }
        }
        if timestamp.is_none() {
            self.load_root().await?;
        }
        self.load_timestamp(timestamp).await?;
        if previous.is_some_and(|p| self.trusted.adopt(p)) {
            debug!("catalog unchanged: kept the verified snapshot and targets");
        } else {
            self.load_snapshot().await?;
        }
        self.load_targets("targets", "root").await?;
        self.refreshed = true;
        Ok(())
    }

    async fn load_root(&mut self) -> Result<(), Error> {
        let first = self.trusted.root().doc.common.version + 1;
        for version in first..first.saturating_add(self.limits.max_root_rotations) {
            let name = format!("{version}.root.json");
            match self
                .transport
                .fetch_metadata(&name, self.limits.root_max_length)
                .await
            {
                Ok(bytes) => {
                    self.trusted.update_root(bytes)?;
                    self.store.save("root", &self.trusted.root().bytes)?;
                    debug!(version, "accepted new root");
                }
                Err(FetchError::NotFound(_)) => return Ok(()),
                Err(source) => {
                    return Err(Error::Fetch {
                        what: format!("root version {version}"),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// `timestamp.json` from the source, noting whether it names its
    /// newest root version.
    async fn fetch_timestamp(&mut self) -> Result<Timestamped, Error> {
        let fetched = self
            .transport
            .fetch_timestamp(self.limits.timestamp_max_length)
            .await
            .map_err(|source| Error::Fetch {
                what: "timestamp metadata (timestamp.json)".into(),
                source,
            })?;
        self.source_names_root = fetched.newest_root.is_some();
        Ok(fetched)
    }

    /// Spec 5.4, with `fetched` the remote timestamp if already in hand.
    async fn load_timestamp(&mut self, fetched: Option<Vec<u8>>) -> Result<(), Error> {
        if let Some(bytes) = self
            .store
            .load("timestamp", self.limits.timestamp_max_length)?
            && let Err(e) = self.trusted.update_timestamp(bytes)
        {
            debug!("stored timestamp not usable as final: {e}");
        }
        let bytes = match fetched {
            Some(bytes) => bytes,
            None => self.fetch_timestamp().await?.bytes,
        };
        if self.trusted.update_timestamp(bytes)? == TimestampUpdate::Accepted {
            self.save("timestamp")?;
        }
        Ok(())
    }

    async fn load_snapshot(&mut self) -> Result<(), Error> {
        if let Some(bytes) = self
            .store
            .load("snapshot", self.limits.snapshot_max_length)?
        {
            match self.trusted.update_snapshot(bytes, true) {
                Ok(()) => return Ok(()),
                Err(e) => debug!("stored snapshot not usable as final: {e}"),
            }
        }
        let meta = &self
            .trusted
            .timestamp()
            .expect("timestamp is loaded before snapshot")
            .doc
            .snapshot;
        let max = meta.length.unwrap_or(self.limits.snapshot_max_length);
        let version = meta.version;
        let bytes = self.fetch_metadata("snapshot", Some(version), max).await?;
        self.trusted.update_snapshot(bytes, false)?;
        self.save("snapshot")
    }

    async fn load_targets(&mut self, role: &str, delegator: &str) -> Result<(), Error> {
        if self.trusted.targets(role).is_some() {
            return self.trusted.recheck_targets(role, delegator);
        }
        if let Some(bytes) = self.store.load(role, self.limits.targets_max_length)? {
            match self.trusted.update_targets(role, delegator, bytes) {
                Ok(_) => return Ok(()),
                Err(e) => debug!(role, "stored metadata not usable: {e}"),
            }
        }
        let meta = self.trusted.snapshot_meta(role)?;
        let max = meta.length.unwrap_or(self.limits.targets_max_length);
        let version = meta.version;
        let bytes = self.fetch_metadata(role, Some(version), max).await?;
        self.trusted.update_targets(role, delegator, bytes)?;
        self.save(role)
    }

    /// Fetches `role`'s metadata; `version` is used in the file name when
    /// the repository has consistent snapshots.
    async fn fetch_metadata(
        &self,
        role: &str,
        version: Option<u64>,
        max_len: u64,
    ) -> Result<Vec<u8>, Error> {
        let encoded = encode_role(role);
        let name = match version {
            Some(v) if self.trusted.root().doc.consistent_snapshot => format!("{v}.{encoded}.json"),
            _ => format!("{encoded}.json"),
        };
        self.transport
            .fetch_metadata(&name, max_len)
            .await
            .map_err(|source| Error::Fetch {
                what: format!("{role} metadata ({name})"),
                source,
            })
    }

    fn save(&self, role: &str) -> Result<(), Error> {
        let bytes = match role {
            "timestamp" => &self.trusted.timestamp().expect("just accepted").bytes,
            "snapshot" => &self.trusted.snapshot().expect("just accepted").bytes,
            _ => &self.trusted.targets(role).expect("just accepted").bytes,
        };
        self.store.save(role, bytes)
    }

    /// Finds `target_path` by a preorder depth-first search of the
    /// delegation graph (spec 5.6.7): a role's own targets first, then its
    /// delegates in order; a terminating delegate ends the search; at most
    /// `max_delegations` roles are visited. Refreshes first if needed.
    pub async fn target_info(&mut self, target_path: &str) -> Result<Option<TargetFile>, Error> {
        if !self.refreshed {
            self.refresh().await?;
        }
        let mut to_visit: Vec<(String, String)> = vec![("targets".into(), "root".into())];
        let mut visited: HashSet<String> = HashSet::new();
        while visited.len() <= self.limits.max_delegations {
            let Some((role, delegator)) = to_visit.pop() else {
                break;
            };
            if visited.contains(&role) {
                continue;
            }
            self.load_targets(&role, &delegator).await?;
            let targets = &self.trusted.targets(&role).expect("loaded just above").doc;
            if let Some(found) = targets.targets.get(target_path) {
                return Ok(Some(found.clone()));
            }
            let children = targets
                .delegations
                .as_ref()
                .map(|d| d.roles_for_target(target_path))
                .unwrap_or_default();
            visited.insert(role.clone());
            let mut next = Vec::new();
            for (child, terminating) in children {
                next.push((child, role.clone()));
                if terminating {
                    to_visit.clear();
                    break;
                }
            }
            to_visit.extend(next.into_iter().rev());
        }
        if !to_visit.is_empty() {
            debug!(
                left = to_visit.len(),
                "stopped searching delegations at the limit of {}", self.limits.max_delegations
            );
        }
        Ok(None)
    }

    /// The path to fetch `target_path` from: with consistent snapshots its
    /// file name gains the first listed hash (`dir/HASH.name`).
    pub fn target_url_path(&self, target_path: &str, info: &TargetFile) -> String {
        if !self.trusted.root().doc.consistent_snapshot {
            return target_path.to_owned();
        }
        let hash = &info.hashes.0[0].1;
        match target_path.rsplit_once('/') {
            Some((dir, name)) => format!("{dir}/{hash}.{name}"),
            None => format!("{hash}.{target_path}"),
        }
    }

    /// Downloads a target and checks its length and hashes.
    pub async fn download_target(
        &self,
        target_path: &str,
        info: &TargetFile,
    ) -> Result<Vec<u8>, Error> {
        let url_path = self.target_url_path(target_path, info);
        let bytes = self
            .transport
            .fetch_target(&url_path, info.length)
            .await
            .map_err(|source| Error::Fetch {
                what: format!("target '{target_path}'"),
                source,
            })?;
        check_length_and_hashes(
            &format!("target '{target_path}'"),
            Some(info.length),
            Some(&info.hashes),
            &bytes,
        )?;
        Ok(bytes)
    }
}
