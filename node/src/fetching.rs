//! `archy fetch` as a library: a release fetched into a node's data
//! directory, with what was learnt (the publisher's origin, the providers,
//! the release held) recorded in the node's state.
//!
//! When no node is named, the publisher's remembered origin and every peer
//! met before are asked. A running node fetches through its own endpoint
//! and store ([`FetchSession::new`]).

use archy_registry::swarm::{self, FetchEvent, FetchRequest, Fetcher, NodeTicket};
use archy_registry::verified::VerifiedManifest;
use archy_trust::Did;

use crate::state::{HeldRelease, NodeState, Publisher, StateError};

/// A fetch that could not complete.
#[derive(Debug, thiserror::Error)]
pub enum FetchFailed {
    /// The node's state.
    #[error(transparent)]
    State(#[from] StateError),
    /// The swarm: metadata, blobs, verification.
    #[error(transparent)]
    Swarm(#[from] swarm::Error),
}

/// A release asked for by name: `PUBLISHER_DID/APP_ID[@VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseName {
    /// The publisher.
    pub publisher: Did,
    /// The app id.
    pub app: String,
    /// The version; the newest one not yanked when absent.
    pub version: Option<semver::Version>,
}

/// Text that does not name a release.
#[derive(Debug, thiserror::Error)]
#[error("'{text}' is not PUBLISHER_DID/APP_ID[@VERSION]: {reason}")]
pub struct ReleaseNameError {
    text: String,
    reason: String,
}

impl std::str::FromStr for ReleaseName {
    type Err = ReleaseNameError;

    fn from_str(text: &str) -> Result<Self, ReleaseNameError> {
        let wrong = |reason: String| ReleaseNameError {
            text: text.to_owned(),
            reason,
        };
        let (did, rest) = text
            .rsplit_once('/')
            .ok_or_else(|| wrong("no '/' between the DID and the app id".into()))?;
        let publisher: Did = did
            .parse()
            .map_err(|e| wrong(format!("'{did}' is not a publisher DID ({e})")))?;
        let (app, version) = match rest.split_once('@') {
            Some((app, v)) => (
                app,
                Some(semver::Version::parse(v).map_err(|e| {
                    wrong(format!("'{v}' is not a semantic version like 1.2.0 ({e})"))
                })?),
            ),
            None => (rest, None),
        };
        if app.is_empty() {
            return Err(wrong("no app id after the DID".into()));
        }
        Ok(Self {
            publisher,
            app: app.to_owned(),
            version,
        })
    }
}

impl ReleaseName {
    /// A request for this release from `origin` and `providers`.
    pub fn request(&self, origin: Option<NodeTicket>, providers: Vec<NodeTicket>) -> FetchRequest {
        FetchRequest {
            publisher: self.publisher.clone(),
            app: self.app.clone(),
            version: self.version.clone(),
            matching: None,
            origin,
            providers,
        }
    }
}

/// A node's state and a fetcher over its endpoint.
#[derive(Debug)]
pub struct FetchSession {
    state: NodeState,
    fetcher: Fetcher,
}

impl FetchSession {
    /// A session over a running node's own state and fetcher.
    pub fn new(state: NodeState, fetcher: Fetcher) -> Self {
        Self { state, fetcher }
    }

    /// Adds every node this one knows for `request`'s publisher: its
    /// remembered origin (asked first unless the request names one), then
    /// the peers met before and the paired peers (which serve what they
    /// fetched, so a release one of them holds is fetched from it while the
    /// origin is down), after the request's own providers. Every file is
    /// verified against the publisher's root whoever serves it.
    pub fn add_known_nodes(&self, request: &mut FetchRequest) -> Result<(), FetchFailed> {
        if request.origin.is_none() {
            request.origin = self
                .state
                .publisher(request.publisher.as_str())?
                .and_then(|p| p.origin)
                .and_then(|t| t.parse::<NodeTicket>().ok());
        }
        let mut known = self.state.peers()?;
        known.extend(self.state.paired_peers()?);
        for (_, ticket) in known {
            if let Ok(ticket) = ticket.parse::<NodeTicket>()
                && !request.providers.iter().any(|p| p.did() == ticket.did())
                && request
                    .origin
                    .as_ref()
                    .is_none_or(|o| o.did() != ticket.did())
            {
                request.providers.push(ticket);
            }
        }
        Ok(())
    }

    /// Fetches and verifies `request`, then records the release, the
    /// publisher and the nodes asked.
    pub async fn fetch(
        &self,
        request: &FetchRequest,
        on_event: &mut (dyn FnMut(FetchEvent) + Send),
    ) -> Result<VerifiedManifest, FetchFailed> {
        let mut pinned = None;
        let verified = {
            let mut events = |event: FetchEvent| {
                if let FetchEvent::PinnedRoot { version, .. } = &event {
                    pinned = Some(*version);
                }
                on_event(event);
            };
            self.fetcher
                .fetch(
                    self.state.metadata_of(&request.publisher),
                    request,
                    &mut events,
                )
                .await?
        };
        self.record(request, &verified, pinned)?;
        Ok(verified)
    }

    fn record(
        &self,
        request: &FetchRequest,
        verified: &VerifiedManifest,
        pinned: Option<u64>,
    ) -> Result<(), FetchFailed> {
        let key = request.publisher.as_str();
        let known = self.state.publisher(key)?;
        let origin = request
            .origin
            .iter()
            .chain(&request.providers)
            .find(|t| t.did() == &request.publisher)
            .map(ToString::to_string)
            .or_else(|| known.as_ref().and_then(|p| p.origin.clone()));
        let pinned_root = pinned.or_else(|| known.map(|p| p.pinned_root)).unwrap_or(1);
        self.state.set_publisher(
            key,
            &Publisher {
                origin,
                pinned_root,
            },
        )?;
        for ticket in request.origin.iter().chain(&request.providers) {
            self.state
                .add_peer(ticket.did().as_str(), &ticket.to_string())?;
        }
        let manifest = verified.manifest();
        self.state.add_release(&HeldRelease {
            publisher: key.to_owned(),
            app: manifest.id.clone(),
            version: manifest.version.to_string(),
            release: verified.release(),
            target: verified.target_path().unwrap_or_default().to_owned(),
        })?;
        Ok(())
    }
}
