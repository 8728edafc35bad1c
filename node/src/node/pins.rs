//! One root pin per publisher. Discovery pins a publisher's TUF root when
//! it first sees the publisher's catalog announced; a fetch pins one when it
//! first contacts the publisher's catalog. They must be the same record:
//!
//! - a node that has not fetched from a publisher yet starts its fetch
//!   from the root discovery pinned (the TUF client then walks forward
//!   through signed rotations), not from whatever the first source says;
//! - a node that fetched from a publisher before discovery saw its
//!   catalog gives discovery the fetch's root, so a different root
//!   announced later on relays is refused there as a conflict;
//! - a root version both hold must be the same bytes; if not, the fetch
//!   is refused loudly, and `GET /api/publishers` shows the two pins.

use archy_trust::Did;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::Node;
use crate::operations::{Failure, Reporter};

/// Largest root read back from the node's state.
const MAX_ROOT: u64 = 1 << 20;

/// A root pinned for a publisher.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RootPin {
    /// Its version.
    pub version: u64,
    /// SHA-256 of its `root.json`.
    pub sha256: String,
}

/// A publisher and its pins, as `GET /api/publishers` shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublisherPins {
    /// The publisher's DID.
    pub did: String,
    /// The root discovery pinned on first sight of its catalog.
    pub discovery: Option<RootPin>,
    /// The newest root this node's TUF client trusts for it (from fetches).
    pub fetched: Option<RootPin>,
    /// The publisher's own node, remembered from a fetch.
    pub origin: Option<String>,
    /// Whether the two pins agree: the root version discovery pinned is the
    /// same bytes in the fetch's chain. None when only one side has a pin.
    pub agree: Option<bool>,
    /// Roots offered on relays for this DID and refused (another was
    /// pinned), with why.
    pub refused: Vec<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Node {
    /// Makes discovery's pin and the fetch's pin of `publisher` one, before
    /// a fetch: seeds the fetch from discovery's pin, or refuses if the two
    /// disagree.
    pub(super) fn one_root_pin(&self, publisher: &Did, reporter: &Reporter) -> Result<(), Failure> {
        let Some(market) = self.market() else {
            return Ok(());
        };
        let Some(pin) = market
            .pinned_root(publisher.as_str())
            .map_err(|e| Failure::of(&e))?
        else {
            return Ok(());
        };
        let metadata = self.state().metadata_of(publisher);
        let trusted = metadata
            .load("root", MAX_ROOT)
            .map_err(|e| Failure::of(&e))?;
        if trusted.is_none() {
            metadata
                .save("root", pin.root.as_bytes())
                .map_err(|e| Failure::of(&e))?;
            reporter.notice(format!(
                "starting from the root discovery pinned for {publisher} (version {}, sha256 {})",
                pin.version, pin.sha256
            ));
            return Ok(());
        }
        self.pins_agree(publisher, pin.version, &pin.sha256)
    }

    /// Refuses if the fetch's chain holds root `version` of `publisher`
    /// with other bytes than discovery pinned.
    pub(super) fn pins_agree(
        &self,
        publisher: &Did,
        version: u64,
        sha256: &str,
    ) -> Result<(), Failure> {
        let held = self
            .state()
            .root(publisher.as_str(), version)
            .map_err(|e| Failure::of(&e))?;
        match held {
            Some(bytes) if sha256_hex(&bytes) != sha256 => Err(Failure::message(format!(
                "refused: {publisher} has two different roots at version {version}: discovery pinned sha256 {sha256}, \
                 the catalog this node fetched gave sha256 {}. One of them is not the publisher's; nothing more is \
                 fetched from this publisher until the wrong pin is removed",
                sha256_hex(&bytes)
            ))),
            _ => Ok(()),
        }
    }

    /// After a fetch: the roots it learnt must agree with discovery's pin;
    /// when discovery has none yet, it adopts the fetch's newest root.
    pub(super) fn check_pins_after_fetch(&self, publisher: &Did) -> Result<(), Failure> {
        let Some(market) = self.market() else {
            return Ok(());
        };
        match market
            .pinned_root(publisher.as_str())
            .map_err(|e| Failure::of(&e))?
        {
            Some(pin) => self.pins_agree(publisher, pin.version, &pin.sha256),
            None => self.share_fetch_root(publisher.as_str()),
        }
    }

    /// Gives discovery the newest root this node's fetches trust for
    /// `did`, if discovery pinned none: from then on a different root
    /// announced on relays for `did` is refused there as a conflict.
    pub(super) fn share_fetch_root(&self, did: &str) -> Result<(), Failure> {
        let Some(market) = self.market() else {
            return Ok(());
        };
        let Some(version) = self.state().newest_root(did).map_err(|e| Failure::of(&e))? else {
            return Ok(());
        };
        let Some(bytes) = self
            .state()
            .root(did, version)
            .map_err(|e| Failure::of(&e))?
        else {
            return Ok(());
        };
        let root = String::from_utf8(bytes)
            .map_err(|_| Failure::message(format!("the stored root of {did} is not text")))?;
        if market
            .adopt_root(did, version, &root)
            .map_err(|e| Failure::of(&e))?
        {
            tracing::info!(
                "discovery now pins {did}'s root version {version}, from this node's fetches"
            );
        }
        Ok(())
    }

    /// At start: discovery adopts the fetch's root of every publisher it
    /// has no pin for (a node whose discovery index is new, or that
    /// fetched before it followed any relay).
    pub(super) fn share_fetch_roots(&self) {
        let publishers = match self.state().publishers() {
            Ok(publishers) => publishers,
            Err(e) => {
                tracing::warn!("the fetched roots were not given to discovery: {e}");
                return;
            }
        };
        for (did, _) in publishers {
            let unpinned = self
                .market()
                .is_some_and(|m| m.pinned_root(&did).is_ok_and(|p| p.is_none()));
            if unpinned && let Err(e) = self.share_fetch_root(&did) {
                tracing::warn!(
                    "{did}'s fetched root was not given to discovery: {}",
                    e.error
                );
            }
        }
    }

    /// Every publisher either pin names, with both pins and whether they
    /// agree.
    pub fn publishers(&self) -> Result<Vec<PublisherPins>, Failure> {
        let (pinned, conflicts) = match self.market() {
            Some(market) => {
                let pins = market.pins().map_err(|e| Failure::of(&e))?;
                (pins.pinned, pins.refused)
            }
            None => (Vec::new(), Vec::new()),
        };
        let fetched = self.state().publishers().map_err(|e| Failure::of(&e))?;
        let mut dids: Vec<String> = pinned
            .iter()
            .map(|(d, _)| d.clone())
            .chain(fetched.iter().map(|(d, _)| d.clone()))
            .collect();
        dids.sort();
        dids.dedup();
        let mut out = Vec::with_capacity(dids.len());
        for did in dids {
            let discovery = pinned.iter().find(|(d, _)| *d == did).map(|(_, p)| p);
            let newest = self
                .state()
                .newest_root(&did)
                .map_err(|e| Failure::of(&e))?;
            let fetched_pin = match newest {
                Some(version) => self
                    .state()
                    .root(&did, version)
                    .map_err(|e| Failure::of(&e))?
                    .map(|bytes| RootPin {
                        version,
                        sha256: sha256_hex(&bytes),
                    }),
                None => None,
            };
            let agree = match (discovery, &fetched_pin) {
                (Some(pin), Some(_)) => {
                    let held = self
                        .state()
                        .root(&did, pin.version)
                        .map_err(|e| Failure::of(&e))?;
                    held.map(|bytes| sha256_hex(&bytes) == pin.sha256)
                }
                _ => None,
            };
            out.push(PublisherPins {
                discovery: discovery.map(|p| RootPin {
                    version: p.version,
                    sha256: p.sha256.clone(),
                }),
                fetched: fetched_pin,
                origin: fetched
                    .iter()
                    .find(|(d, _)| *d == did)
                    .and_then(|(_, p)| p.origin.clone()),
                agree,
                refused: conflicts
                    .iter()
                    .filter(|(d, _)| *d == did)
                    .map(|(_, c)| {
                        format!(
                            "v{} {} offered by {}: {}",
                            c.offered.0, c.offered.1, c.relay, c.reason
                        )
                    })
                    .collect(),
                did,
            });
        }
        Ok(out)
    }
}
