//! What the node itself knows of publishers, for the owner's trust: the
//! releases their catalogs (as the node's TUF client verified and keeps
//! them) mark yanked, and whether a publisher's signing root changed since
//! an app of it was installed here (the root version held at install is
//! recorded in `state.redb`). Gathered at start, after each upkeep pass and
//! after each install or update; shown as reasons, never scored.

use archy_orchestrator::AppSummary;
use archy_registry::catalog::release_targets::yanked_releases;

use super::Node;
use crate::state::{NodeState, StateError};
use crate::trust::NodeFacts;

/// The node's facts from its `state` and the apps `installed`.
pub(super) fn gather(state: &NodeState, installed: &[AppSummary]) -> Result<NodeFacts, StateError> {
    let mut facts = NodeFacts::default();
    for (did, _) in state.publishers()? {
        let Some((_, targets)) = state.metadata(&did, "targets")? else {
            continue;
        };
        match yanked_releases(&targets) {
            Ok(0) => {}
            Ok(count) => {
                facts.yanked.insert(did, count);
            }
            Err(e) => tracing::warn!("the catalog kept for {did} does not read as targets: {e}"),
        }
    }
    for (app, publisher, at_install) in state.install_roots()? {
        let still = installed
            .iter()
            .any(|a| a.id == app && a.publisher == publisher && !a.dev);
        if still
            && state
                .newest_root(&publisher)?
                .is_some_and(|now| now > at_install)
        {
            facts.root_changed.insert(publisher);
        }
    }
    Ok(facts)
}

impl Node {
    /// Gathers the node's facts again, off the async threads (catalogs
    /// are parsed), and hands them to the trust model (which builds afresh
    /// at its next refresh if they changed).
    pub(super) async fn refresh_trust_facts(&self) {
        let node = self.clone();
        let gathered = tokio::task::spawn_blocking(move || {
            let installed = node
                .orchestrator()
                .list()
                .map_err(|e| format!("the installed apps were not read: {e}"))?;
            let facts = gather(node.state(), &installed)
                .map_err(|e| format!("the node's facts were not read: {e}"))?;
            node.trust().set_facts(facts);
            Ok::<(), String>(())
        })
        .await;
        match gathered {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("trust: {e}"),
            Err(e) => tracing::warn!("trust: gathering the node's facts failed: {e}"),
        }
    }

    /// Records the root held for `publisher` as app `app` is installed
    /// from it, so a later rotation shows.
    pub(super) fn record_install_root(&self, app: &str, publisher: &archy_trust::Did) {
        let recorded =
            self.state()
                .newest_root(publisher.as_str())
                .and_then(|version| match version {
                    Some(version) => {
                        self.state()
                            .set_install_root(app, publisher.as_str(), version)
                    }
                    None => Ok(()),
                });
        if let Err(e) = recorded {
            tracing::warn!("the root {app} was installed under was not recorded: {e}");
        }
    }
}
