//! The set of metadata the client trusts right now, and the only way to
//! change it: each update checks type, signatures against the right
//! delegator, versions against what is already trusted, and expiry, in the
//! order of the specification's client workflow (section 5). Nothing here
//! touches the network or the disk.

use std::collections::HashMap;

use super::error::Error;
use super::metadata::{Document, MetaFile, Role, Root, Snapshot, Targets, Timestamp};
use super::signed::{Envelope, SignedBytes};
use super::time::UtcTime;
use super::verify::check_length_and_hashes;

/// A document whose signatures were checked, with the exact bytes received.
pub struct Verified<T> {
    /// The document.
    pub doc: T,
    /// The bytes as received (what the local store keeps).
    pub bytes: Vec<u8>,
    signed: SignedBytes,
    signatures: HashMap<String, String>,
}

/// What a timestamp update did.
#[derive(Debug, PartialEq, Eq)]
pub enum TimestampUpdate {
    /// The new timestamp is trusted now.
    Accepted,
    /// It has the version already trusted, which is still unexpired; the
    /// trusted one is kept, even if the bytes differ.
    SameVersion,
}

/// Trusted root, timestamp, snapshot and targets roles, as of one
/// reference time.
pub struct TrustedSet {
    now: UtcTime,
    root: Verified<Root>,
    timestamp: Option<Verified<Timestamp>>,
    snapshot: Option<Verified<Snapshot>>,
    targets: HashMap<String, Verified<Targets>>,
    /// Which delegator each targets role was verified against.
    verified_by: HashMap<String, String>,
}

impl TrustedSet {
    /// Starts from a trusted root, which must be signed by a threshold of
    /// its own root keys. Its expiry is checked later, once newer roots have
    /// had their chance.
    pub fn new(root_bytes: Vec<u8>, now: UtcTime) -> Result<Self, Error> {
        let envelope: Envelope<Root> = parse("root", &root_bytes)?;
        let root = self_signed(envelope, root_bytes)?;
        Ok(Self {
            now,
            root,
            timestamp: None,
            snapshot: None,
            targets: HashMap::new(),
            verified_by: HashMap::new(),
        })
    }

    /// The trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    /// The trusted timestamp, if loaded.
    pub fn timestamp(&self) -> Option<&Verified<Timestamp>> {
        self.timestamp.as_ref()
    }

    /// The trusted snapshot, if loaded.
    pub fn snapshot(&self) -> Option<&Verified<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// A trusted targets role (`targets` or delegated), if loaded.
    pub fn targets(&self, role: &str) -> Option<&Verified<Targets>> {
        self.targets.get(role)
    }

    /// Spec 5.3.4–5.3.8: accepts root version N+1, signed by a threshold of
    /// root N's root keys and of its own.
    pub fn update_root(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        assert!(
            self.timestamp.is_none(),
            "root is updated before timestamp in the workflow"
        );
        let envelope: Envelope<Root> = parse("root", &bytes)?;
        let trusted = &self.root.doc;
        require_threshold("root", &trusted.keys, root_role(trusted), &envelope, &bytes)?;
        let expected = trusted.common.version + 1;
        let found = envelope.doc.common.version;
        if found != expected {
            return Err(Error::VersionMismatch {
                role: "root".into(),
                referrer: "the root update sequence",
                expected,
                found,
            });
        }
        self.root = self_signed(envelope, bytes)?;
        Ok(())
    }

    /// Spec 5.3.10: the root the update ends with must not be expired.
    fn check_final_root(&self) -> Result<(), Error> {
        self.check_expiry("root", &self.root.doc.common.expires)
    }

    /// Spec 5.4: accepts a new timestamp, refusing rollback of its version
    /// or of the snapshot version it names. An expired timestamp is kept
    /// (it still guards against rollback) but reported as an error, and so
    /// is one of the version already trusted when that one has expired.
    pub fn update_timestamp(&mut self, bytes: Vec<u8>) -> Result<TimestampUpdate, Error> {
        assert!(
            self.snapshot.is_none(),
            "timestamp is updated before snapshot in the workflow"
        );
        self.check_final_root()?;
        let envelope: Envelope<Timestamp> = parse("timestamp", &bytes)?;
        let root = &self.root.doc;
        require_threshold(
            "timestamp",
            &root.keys,
            role_of(root, "timestamp"),
            &envelope,
            &bytes,
        )?;
        if let Some(trusted) = &self.timestamp {
            let (old, new) = (trusted.doc.common.version, envelope.doc.common.version);
            if new < old {
                return Err(rollback("timestamp", old, new));
            }
            if new == old {
                // The trusted timestamp goes on as the final one: it must
                // still be unexpired now, or an attacker replaying it would
                // freeze a client that stays alive.
                self.check_final_timestamp()?;
                return Ok(TimestampUpdate::SameVersion);
            }
            let (old, new) = (trusted.doc.snapshot.version, envelope.doc.snapshot.version);
            if new < old {
                return Err(rollback("snapshot", old, new));
            }
        }
        self.timestamp = Some(verified(envelope, bytes));
        self.check_final_timestamp()?;
        Ok(TimestampUpdate::Accepted)
    }

    fn check_final_timestamp(&self) -> Result<(), Error> {
        let timestamp = self.timestamp.as_ref().expect("checked after it is set");
        self.check_expiry("timestamp", &timestamp.doc.common.expires)
    }

    /// Spec 5.5: accepts a snapshot whose length and hashes match the
    /// timestamp's (unless it comes from the trusted local store), refusing
    /// the removal or rollback of any listed targets role.
    pub fn update_snapshot(&mut self, bytes: Vec<u8>, from_store: bool) -> Result<(), Error> {
        assert!(
            self.targets.is_empty(),
            "snapshot is updated before targets in the workflow"
        );
        let timestamp = self
            .timestamp
            .as_ref()
            .expect("snapshot is updated after timestamp in the workflow");
        self.check_final_timestamp()?;
        if !from_store {
            check_meta("snapshot", &timestamp.doc.snapshot, &bytes)?;
        }
        let envelope: Envelope<Snapshot> = parse("snapshot", &bytes)?;
        let root = &self.root.doc;
        require_threshold(
            "snapshot",
            &root.keys,
            role_of(root, "snapshot"),
            &envelope,
            &bytes,
        )?;
        if let Some(trusted) = &self.snapshot {
            for (file, old) in &trusted.doc.meta {
                let Some(new) = envelope.doc.meta.get(file) else {
                    return Err(Error::RemovedFromSnapshot { file: file.clone() });
                };
                if new.version < old.version {
                    return Err(rollback(
                        file.trim_end_matches(".json"),
                        old.version,
                        new.version,
                    ));
                }
            }
        }
        self.snapshot = Some(verified(envelope, bytes));
        self.check_final_snapshot()
    }

    /// The snapshot the update goes on with must be unexpired and be the
    /// version the timestamp names.
    fn check_final_snapshot(&self) -> Result<(), Error> {
        let snapshot = self.snapshot.as_ref().expect("checked after it is set");
        self.check_expiry("snapshot", &snapshot.doc.common.expires)?;
        let expected = self
            .timestamp
            .as_ref()
            .expect("snapshot follows timestamp")
            .doc
            .snapshot
            .version;
        let found = snapshot.doc.common.version;
        if found != expected {
            return Err(Error::VersionMismatch {
                role: "snapshot".into(),
                referrer: "timestamp",
                expected,
                found,
            });
        }
        Ok(())
    }

    /// The snapshot's entry for `role`, which must exist before the role
    /// can be loaded.
    pub fn snapshot_meta(&self, role: &str) -> Result<&MetaFile, Error> {
        let snapshot = self
            .snapshot
            .as_ref()
            .expect("targets roles are loaded after snapshot");
        snapshot
            .doc
            .meta
            .get(&format!("{role}.json"))
            .ok_or_else(|| Error::NotInSnapshot { role: role.into() })
    }

    /// Takes over the snapshot and targets roles `previous` verified, when
    /// this set reached the same root version and its timestamp names the
    /// same snapshot version: the same bytes were checked against the same
    /// keys, so only expiry is checked again, against this set's time (a
    /// role now expired is dropped, to be loaded anew). Nothing is adopted
    /// under an expired timestamp. Returns whether the snapshot was adopted.
    pub fn adopt(&mut self, previous: TrustedSet) -> bool {
        let (Some(timestamp), Some(snapshot)) = (&self.timestamp, previous.snapshot) else {
            return false;
        };
        if self.check_final_timestamp().is_err()
            || previous.root.doc.common.version != self.root.doc.common.version
            || snapshot.doc.common.version != timestamp.doc.snapshot.version
            || !self.targets.is_empty()
            || self.snapshot.is_some()
        {
            return false;
        }
        self.snapshot = Some(snapshot);
        if self.check_final_snapshot().is_err() {
            self.snapshot = None;
            return false;
        }
        let now = self.now;
        self.targets = previous
            .targets
            .into_iter()
            .filter(|(_, role)| role.doc.common.expires > now)
            .collect();
        self.verified_by = previous.verified_by;
        self.verified_by
            .retain(|role, _| self.targets.contains_key(role));
        true
    }

    /// Spec 5.6 and 5.6.7: accepts a targets role delegated by `delegator`
    /// (`root` for top-level targets), matching the snapshot's length,
    /// hashes and version, signed by the delegator's keys, unexpired.
    pub fn update_targets(
        &mut self,
        role: &str,
        delegator: &str,
        bytes: Vec<u8>,
    ) -> Result<&Verified<Targets>, Error> {
        self.check_final_snapshot()?;
        let meta = self.snapshot_meta(role)?.clone();
        check_meta(role, &meta, &bytes)?;
        let envelope: Envelope<Targets> = parse(role, &bytes)?;
        self.check_delegation(
            role,
            delegator,
            &bytes,
            &envelope.signed,
            &envelope.signatures,
        )?;
        let found = envelope.doc.common.version;
        if found != meta.version {
            return Err(Error::VersionMismatch {
                role: role.into(),
                referrer: "snapshot",
                expected: meta.version,
                found,
            });
        }
        self.check_expiry(role, &envelope.doc.common.expires)?;
        self.targets
            .insert(role.to_owned(), verified(envelope, bytes));
        self.verified_by
            .insert(role.to_owned(), delegator.to_owned());
        Ok(&self.targets[role])
    }

    /// Re-checks an already trusted role against `delegator`, for a role
    /// reached again through a different delegation: trust in a role comes
    /// from the delegator that leads to it, not from having been loaded.
    pub fn recheck_targets(&self, role: &str, delegator: &str) -> Result<(), Error> {
        if self.verified_by.get(role).is_some_and(|d| d == delegator) {
            return Ok(());
        }
        let trusted = &self.targets[role];
        self.check_delegation(
            role,
            delegator,
            &trusted.bytes,
            &trusted.signed,
            &trusted.signatures,
        )
    }

    fn check_delegation(
        &self,
        role: &str,
        delegator: &str,
        file: &[u8],
        signed_bytes: &SignedBytes,
        signatures: &HashMap<String, String>,
    ) -> Result<(), Error> {
        let (keys, delegated) = if delegator == "root" {
            let root = &self.root.doc;
            (&root.keys, root.role(role))
        } else {
            let parent = &self
                .targets
                .get(delegator)
                .expect("a delegator is loaded before its delegates")
                .doc;
            match &parent.delegations {
                Some(d) => (&d.keys, d.role(role)),
                None => {
                    return Err(malformed(role, format!("{delegator} does not delegate it")));
                }
            }
        };
        let delegated = delegated
            .ok_or_else(|| malformed(role, format!("{delegator} does not delegate it")))?;
        threshold_met(
            role,
            delegated,
            signed_bytes.count_signers(file, keys, delegated, signatures),
        )
    }

    fn check_expiry(&self, role: &str, expires: &UtcTime) -> Result<(), Error> {
        if *expires <= self.now {
            return Err(Error::Expired {
                role: role.into(),
                expires: *expires,
                now: self.now,
            });
        }
        Ok(())
    }
}

fn parse<T: Document>(role: &str, bytes: &[u8]) -> Result<Envelope<T>, Error> {
    Envelope::parse(bytes).map_err(|reason| malformed(role, reason))
}

fn malformed(role: &str, reason: String) -> Error {
    Error::Malformed {
        role: role.into(),
        reason,
    }
}

fn rollback(role: &str, trusted: u64, offered: u64) -> Error {
    Error::Rollback {
        role: role.into(),
        trusted,
        offered,
    }
}

fn root_role(root: &Root) -> &Role {
    role_of(root, "root")
}

fn role_of<'a>(root: &'a Root, name: &str) -> &'a Role {
    root.role(name)
        .expect("a root lists all four top-level roles (checked when read)")
}

fn require_threshold<T>(
    role: &str,
    keys: &HashMap<String, super::metadata::Key>,
    delegated: &Role,
    envelope: &Envelope<T>,
    file: &[u8],
) -> Result<(), Error> {
    threshold_met(
        role,
        delegated,
        envelope.count_signers(file, keys, delegated),
    )
}

/// `signed` valid signatures are enough for `delegated`, or the error
/// saying how many were missing.
fn threshold_met(role: &str, delegated: &Role, signed: u64) -> Result<(), Error> {
    if signed < delegated.threshold {
        return Err(Error::Unsigned {
            role: role.into(),
            signed,
            threshold: delegated.threshold,
        });
    }
    Ok(())
}

fn self_signed(envelope: Envelope<Root>, bytes: Vec<u8>) -> Result<Verified<Root>, Error> {
    let root = &envelope.doc;
    require_threshold("root", &root.keys, root_role(root), &envelope, &bytes)?;
    Ok(verified(envelope, bytes))
}

fn verified<T>(envelope: Envelope<T>, bytes: Vec<u8>) -> Verified<T> {
    Verified {
        doc: envelope.doc,
        bytes,
        signed: envelope.signed,
        signatures: envelope.signatures,
    }
}

fn check_meta(role: &str, meta: &MetaFile, bytes: &[u8]) -> Result<(), Error> {
    check_length_and_hashes(
        &format!("{role} metadata"),
        meta.length,
        meta.hashes.as_ref(),
        bytes,
    )
}
