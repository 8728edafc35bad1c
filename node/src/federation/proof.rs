//! Proofs of a split view: a publisher (or a thief of its key) signed two
//! different timestamps of the same version, and showed one to some nodes
//! and the other to the rest. TUF alone does not catch that; two nodes
//! comparing heads do. The proof holds both signed files and the root that
//! lists the keys, so anyone checks it offline (`archy verify-proof`).

use archy_registry::swarm::fetch::check_root_signed_by;
use archy_registry::tuf::metadata::{Root, Timestamp};
use archy_registry::tuf::signed::Envelope;
use archy_trust::Did;
use archy_trust::canonical::value_to_canonical_json;
use serde::{Deserialize, Serialize};

/// Largest proof read.
pub const MAX_PROOF_BYTES: usize = 256 * 1024;

/// Two signed files of one role and version that differ, and the root
/// whose keys signed both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitViewProof {
    /// The publisher's DID.
    pub publisher: String,
    /// The role: `timestamp`.
    pub role: String,
    /// The version both files claim.
    pub version: u64,
    /// The root file: signed by the publisher, listing the role's keys.
    pub root: String,
    /// One signed file, as held.
    pub first: String,
    /// The other.
    pub second: String,
}

impl SplitViewProof {
    /// Checks the proof: the root is the publisher's (lists its key, signed
    /// by it), both files meet the role's threshold under that root, claim
    /// the proof's version, and say different things.
    pub fn verify(&self) -> Result<(), String> {
        let publisher: Did = self
            .publisher
            .parse()
            .map_err(|e| format!("publisher '{}': {e}", self.publisher))?;
        if self.role != "timestamp" {
            return Err(format!(
                "a proof about role '{}': only timestamps are compared",
                self.role
            ));
        }
        check_root_signed_by(self.root.as_bytes(), &publisher)
            .map_err(|e| format!("its root: {e}"))?;
        let root =
            Envelope::<Root>::parse(self.root.as_bytes()).map_err(|e| format!("its root: {e}"))?;
        let role = root
            .doc
            .roles
            .get("timestamp")
            .ok_or("its root names no timestamp role")?;
        let mut bodies = Vec::with_capacity(2);
        for (name, file) in [("first", &self.first), ("second", &self.second)] {
            let envelope = Envelope::<Timestamp>::parse(file.as_bytes())
                .map_err(|e| format!("the {name} timestamp: {e}"))?;
            if envelope.count_signers(file.as_bytes(), &root.doc.keys, role) < role.threshold {
                return Err(format!(
                    "the {name} timestamp is not signed by the publisher's timestamp keys"
                ));
            }
            if envelope.doc.common.version != self.version {
                return Err(format!(
                    "the {name} timestamp is version {}, not {}",
                    envelope.doc.common.version, self.version
                ));
            }
            let value: serde_json::Value =
                serde_json::from_str(file).map_err(|e| format!("the {name} timestamp: {e}"))?;
            bodies.push(
                value_to_canonical_json(&value["signed"])
                    .map_err(|e| format!("the {name} timestamp: {e}"))?,
            );
        }
        if bodies[0] == bodies[1] {
            return Err("the two timestamps say the same thing: no split view".into());
        }
        Ok(())
    }

    /// The alarm, in a sentence.
    pub fn alarm(&self) -> String {
        format!(
            "{} signed two different {}s of version {}: a split view (its key may be stolen); nothing is installed or updated from it",
            self.publisher, self.role, self.version
        )
    }
}
