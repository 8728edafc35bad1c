//! App dependencies. A manifest's `dependencies[]` (app id + semver range)
//! are met before the app itself is installed or updated: a dependency
//! already installed in range is left alone; one installed out of range is
//! updated from its publisher's catalog to the newest release in range; a
//! missing one is installed from the first catalog that offers a release
//! in range: the dependent's own publisher's, then those of the publishers
//! whose verified listings in the market carry that app id. Each is found
//! and verified like any install by name, and its own dependencies are met
//! first. When none can be met, the install is refused with a message
//! that names the dependency.

use archy_discovery::market::{Answer, Query};
use archy_registry::manifest::{Dependency, Manifest};
use archy_trust::Did;

use super::Node;
use super::app_work::Wanted;
use crate::fetching::ReleaseName;
use crate::operations::{Failure, Reporter};

/// Longest chain of dependencies followed (an app, what it needs, what
/// that needs, …).
const MAX_DEPTH: usize = 8;
/// Market listings read when looking for other publishers of an app id.
const MARKET_CANDIDATES: usize = 50;

impl Node {
    /// Meets every dependency of `manifest` (recursively), installing or
    /// updating what is missing or out of range. Their progress shows as
    /// notices on `reporter`; its percentage stays where it is.
    ///
    /// A missing dependency installs as far as the owner's trust allows,
    /// like any install: `confirmed` (the user confirmed the app that needs
    /// it) lets one below `known` through and journals it; a blocked one
    /// never installs.
    pub(super) async fn meet_dependencies(
        &self,
        manifest: &Manifest,
        reporter: &Reporter,
        at: u8,
        confirmed: bool,
    ) -> Result<(), Failure> {
        let mut chain = vec![manifest.id.clone()];
        self.meet(manifest, reporter, (at, confirmed), &mut chain)
            .await
    }

    async fn meet(
        &self,
        manifest: &Manifest,
        reporter: &Reporter,
        (at, confirmed): (u8, bool),
        chain: &mut Vec<String>,
    ) -> Result<(), Failure> {
        for dependency in &manifest.dependencies {
            let needs = format!(
                "{} needs {} {}",
                manifest.id, dependency.id, dependency.version
            );
            let installed = self
                .orchestrator()
                .list()
                .map_err(|e| Failure::of(&e))?
                .into_iter()
                .find(|a| a.id == dependency.id);
            if let Some(app) = &installed {
                let in_range = semver::Version::parse(&app.version)
                    .is_ok_and(|v| dependency.version.matches(&v));
                if in_range {
                    continue;
                }
                if app.dev {
                    return Err(Failure::message(format!(
                        "{needs}, but {} {} is installed from a local directory: update it from there first",
                        app.id, app.version
                    )));
                }
            }
            if chain.contains(&dependency.id) || chain.len() > MAX_DEPTH {
                chain.push(dependency.id.clone());
                return Err(Failure::message(format!(
                    "the dependencies go round or too deep ({}): they cannot be installed",
                    chain.join(" → ")
                )));
            }
            let publishers = match &installed {
                Some(app) => app.publisher.parse::<Did>().into_iter().collect(),
                None => self.publishers_of(&manifest.publisher, dependency).await,
            };
            let mut tried = Vec::new();
            let mut refused = None;
            let mut met = false;
            for publisher in publishers {
                // An installed dependency updates whatever its band, but
                // never from a blocked publisher.
                let verdict = match self.judge_install(
                    &publisher,
                    &dependency.id,
                    confirmed || installed.is_some(),
                ) {
                    Ok(verdict) => verdict,
                    Err(refusal) => {
                        tried.push(format!("{publisher}: {refusal}"));
                        refused.get_or_insert(refusal);
                        continue;
                    }
                };
                reporter.notice(format!("{needs}: looking in {publisher}'s catalog"));
                let wanted = Wanted {
                    name: ReleaseName {
                        publisher: publisher.clone(),
                        app: dependency.id.clone(),
                        version: None,
                    },
                    origin: None,
                    providers: Vec::new(),
                    matching: Some(dependency.version.clone()),
                };
                let verified = match self.fetch_by_name(&wanted, reporter, 0).await {
                    Ok((verified, _)) => verified,
                    Err(failure) => {
                        tried.push(format!("{publisher}: {}", failure.error));
                        continue;
                    }
                };
                chain.push(dependency.id.clone());
                Box::pin(self.meet(verified.manifest(), reporter, (at, confirmed), chain)).await?;
                chain.pop();
                let version = verified.manifest().version.to_string();
                let doing = if installed.is_some() {
                    "updating"
                } else {
                    "installing"
                };
                reporter.notice(format!(
                    "{needs}: {doing} {} {version} first",
                    dependency.id
                ));
                if installed.is_some() {
                    self.run_app_operation(reporter, (at, at), async |o| o.update(&verified).await)
                        .await?;
                } else {
                    if let Some(verdict) = &verdict {
                        self.journal_confirmed(&dependency.id, verdict);
                    }
                    self.run_app_operation(reporter, (at, at), async |o| {
                        o.install(&verified).await
                    })
                    .await?;
                    self.record_install_root(&dependency.id, &publisher);
                }
                reporter.notice(format!("{} {version} is installed", dependency.id));
                met = true;
                break;
            }
            if let (false, Some(refusal)) = (met, refused) {
                return Err(Failure {
                    error: format!("{needs}, which is not installed: {refusal}"),
                    causes: tried.into_iter().chain(refusal.reasons()).collect(),
                });
            }
            if !met {
                return Err(Failure {
                    error: format!(
                        "{needs}, which {} and no catalog known to this node offers in that range: install it first",
                        match &installed {
                            Some(app) => format!("is installed at {}", app.version),
                            None => "is not installed".to_owned(),
                        }
                    ),
                    causes: tried,
                });
            }
        }
        Ok(())
    }

    /// Publishers that may offer `dependency`: the dependent's own, then
    /// each publisher whose verified listing in the market has that app id,
    /// the most trusted first.
    async fn publishers_of(&self, dependent_publisher: &Did, dependency: &Dependency) -> Vec<Did> {
        let mut publishers = vec![dependent_publisher.clone()];
        let Some(market) = self.market().cloned() else {
            return publishers;
        };
        let query = Query::Search {
            text: dependency.id.clone(),
            category: None,
            offset: 0,
            limit: MARKET_CANDIDATES,
        };
        let trust = self.trust().clone();
        let ranked = tokio::task::spawn_blocking(move || {
            let mut ranking = trust.ranking();
            market.answer_ranked(&query, Some(&mut |did, app| ranking.weight(did, app)))
        });
        if let Ok(Answer::Page(page)) = ranked.await {
            for listing in page.listings {
                if listing.app_id == dependency.id
                    && let Ok(did) = listing.did.parse::<Did>()
                    && !publishers.contains(&did)
                {
                    publishers.push(did);
                }
            }
        }
        publishers
    }
}
