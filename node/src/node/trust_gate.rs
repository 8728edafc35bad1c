//! The install policy: what the owner's trust allows. An app whose band is
//! `known` or better installs; below that it installs only when the user
//! confirmed it, and the decision goes into the journal with the band and
//! reasons of that moment; a `blocked` app or publisher never installs.

use archy_trust::Did;
use archy_trust::score::Band;

use super::Node;
use crate::trust::{Explained, asks_of};
use archy_discovery::market::{Answer, Query};

/// An install the owner's trust does not allow.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct TrustRefused {
    /// `DID/APP`.
    pub app: String,
    /// The verdict that refused it.
    pub explained: Explained,
    /// Whether a confirmation would let it through (false when blocked).
    pub confirmable: bool,
}

impl TrustRefused {
    fn sentence(&self) -> String {
        let Explained { band, score, .. } = &self.explained;
        if self.confirmable {
            format!(
                "{} is {band} to you (score {score} of 100); installing an app below known needs an explicit confirmation",
                self.app
            )
        } else {
            format!("{} is blocked: it is never installed", self.app)
        }
    }

    /// The reasons, as sentences: the app's, then its publisher's.
    pub fn reasons(&self) -> Vec<String> {
        let publisher = self.explained.publisher.iter().flat_map(|p| &p.reasons);
        self.explained
            .reasons
            .iter()
            .chain(publisher)
            .map(|r| r.text.clone())
            .collect()
    }
}

/// Which of the owner's lists a publisher is on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TrustList {
    /// Trusted by the owner's word.
    Allow,
    /// Never installed.
    Block,
}

impl TrustList {
    fn word(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Block => "block",
        }
    }
}

impl Node {
    /// The owner's allow and block lists, by DID.
    pub fn trust_lists(&self) -> Result<Vec<(String, TrustList)>, crate::state::StateError> {
        Ok(self
            .state()
            .trust_lists()?
            .into_iter()
            .map(|(did, list)| {
                let list = if list == "block" {
                    TrustList::Block
                } else {
                    TrustList::Allow
                };
                (did, list)
            })
            .collect())
    }

    /// Puts `did` on `list` (off the other), or off both with `None`: kept
    /// in the node's state, and in force from the next answer on.
    pub fn set_trust_list(
        &self,
        did: &Did,
        list: Option<TrustList>,
    ) -> Result<(), crate::state::StateError> {
        self.state()
            .set_trust_list(did.as_str(), list.map(TrustList::word))?;
        self.load_trust_lists()
    }

    /// Hands the stored lists to the trust model.
    pub(super) fn load_trust_lists(&self) -> Result<(), crate::state::StateError> {
        let (mut allowed, mut blocked) = (Vec::new(), Vec::new());
        for (did, list) in self.trust_lists()? {
            let Ok(did) = did.parse::<Did>() else {
                continue;
            };
            match list {
                TrustList::Allow => allowed.push(did),
                TrustList::Block => blocked.push(did),
            }
        }
        self.trust().set_lists(allowed, blocked);
        Ok(())
    }

    /// The owner's verdict on app `app_id` of `did`: the app's, when its
    /// listing is in the market (its reports and what it asks count),
    /// else its publisher's.
    pub fn verdict_on(&self, did: &Did, app_id: &str) -> Explained {
        let listing = self.market().and_then(|market| {
            match market.answer(&Query::Show {
                did: did.to_string(),
                app_id: app_id.to_owned(),
            }) {
                Answer::Listing {
                    detail: Some(detail),
                } => Some(detail),
                _ => None,
            }
        });
        match listing {
            Some(detail) => {
                let asks = asks_of(detail.listing.manifest.get());
                Explained::app(&self.trust().app(did, app_id, &asks))
            }
            None => Explained::publisher(&self.trust().publisher(did)),
        }
    }

    /// Whether app `app_id` of `did` may be installed, `confirmed` or not.
    /// `Ok(Some(verdict))` when it installs only because it was confirmed:
    /// the caller records that.
    pub fn judge_install(
        &self,
        did: &Did,
        app_id: &str,
        confirmed: bool,
    ) -> Result<Option<Explained>, TrustRefused> {
        let explained = self.verdict_on(did, app_id);
        let refused = |confirmable| TrustRefused {
            app: format!("{did}/{app_id}"),
            explained: explained.clone(),
            confirmable,
        };
        match explained.band {
            Band::Blocked => Err(refused(false)),
            Band::Known | Band::Trusted => Ok(None),
            Band::Unknown | Band::Suspicious if confirmed => Ok(Some(explained.clone())),
            Band::Unknown | Band::Suspicious => Err(refused(true)),
        }
    }

    /// Journals an install made below `known` because the user confirmed it.
    pub(super) fn journal_confirmed(&self, app_id: &str, verdict: &Explained) {
        let reasons: Vec<&str> = verdict.reasons.iter().map(|r| r.text.as_str()).collect();
        let outcome = format!(
            "confirmed by the user at band {} (score {} of 100): {}",
            verdict.band,
            verdict.score,
            reasons.join("; ")
        );
        if let Err(e) = self
            .orchestrator()
            .journal_note(app_id, "install below known", &outcome)
        {
            tracing::warn!("the trust decision for {app_id} was not journaled: {e}");
        }
    }
}
