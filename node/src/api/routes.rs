//! The API's read-only routes: the node, its market, peers and blobs.
//! Each handler is documented for the OpenAPI document with
//! `#[utoipa::path]`, which is what puts it in the router too
//! ([`super::router`]), so no route can be missing from the document.

use archy_discovery::market::{
    Answer, ListingDetail, Page, Query as MarketQuery, Stats, TrustBrief,
};
use archy_registry::catalog::release_targets::AppVersion;
use archy_trust::Did;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use crate::federation::proof::SplitViewProof;
use crate::node::{Node, PublisherPins};

/// Listings on one market page unless asked otherwise.
const DEFAULT_PER_PAGE: usize = 24;
/// Most listings on one market page.
const MAX_PER_PAGE: usize = archy_discovery::search::MAX_RESULTS;

/// The answer to a health check.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always "ok": a node that answers is up.
    pub status: &'static str,
    /// The node's software version.
    pub version: &'static str,
}

/// Whether the node is up (no token needed).
#[utoipa::path(get, path = "/api/health", tag = "node", security(()),
    responses((status = 200, description = "The node is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// What a node is and does.
#[derive(Serialize, ToSchema)]
pub struct NodeSummary {
    /// Its DID (the key of its iroh endpoint).
    pub did: String,
    /// The ticket other nodes reach it with.
    pub ticket: String,
    /// Its software version.
    pub version: &'static str,
    /// Its data directory.
    pub data_dir: String,
    /// The API's address.
    pub api: Option<String>,
    /// The embedded Nostr relay's URL, if it runs.
    pub relay: Option<String>,
    /// Relays it discovers apps from besides the embedded one.
    pub discovers_from: Vec<String>,
    /// Listings in its market now (none if discovery is off).
    pub listings: Option<usize>,
    /// DIDs whose catalogs it publishes.
    pub publishes: Vec<String>,
    /// Releases it holds and serves, as DID/APP@VERSION.
    pub provides: Vec<String>,
    /// How it checks signatures: on, off or ifma.
    pub signature_batch: String,
}

/// The node: identity, addresses, what it publishes and provides.
#[utoipa::path(get, path = "/api/node", tag = "node",
    responses((status = 200, description = "The node", body = NodeSummary),
              (status = 401, description = "No or a wrong token", body = ErrorBody)))]
pub async fn node(State(node): State<Node>) -> Result<Json<NodeSummary>, ApiError> {
    let provides = node
        .state()
        .releases()
        .map_err(|e| ApiError::internal(&e))?
        .iter()
        .map(|r| format!("{}/{}@{}", r.publisher, r.app, r.version))
        .collect();
    Ok(Json(NodeSummary {
        did: node.did().to_string(),
        ticket: node.ticket().to_string(),
        version: env!("CARGO_PKG_VERSION"),
        data_dir: node.data_dir().root().display().to_string(),
        api: node.api_addr().map(|a| a.to_string()),
        relay: node.relay_url().map(str::to_owned),
        discovers_from: node.config().discovery.relays.clone(),
        listings: node.market().map(|m| m.indexed()),
        publishes: node.publishes().iter().map(ToString::to_string).collect(),
        provides,
        signature_batch: archy_sigbatch::mode().to_string(),
    }))
}

/// What a market page asks for.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MarketParams {
    /// Words to search for (every one must match; the last also as a
    /// prefix), ordered by relevance times the owner's trust. Without it,
    /// every app, by the owner's trust and then by title.
    pub q: Option<String>,
    /// Only apps in this category.
    pub category: Option<String>,
    /// The page, from 1.
    pub page: Option<usize>,
    /// Apps per page, at most 1000 [default: 24].
    pub per_page: Option<usize>,
    /// Apps to skip, instead of a page number (for scripts that page by
    /// offset, as `archy market list --offset` does).
    pub offset: Option<usize>,
}

/// The apps discovered, searched and paged.
#[utoipa::path(get, path = "/api/market", tag = "market", params(MarketParams),
    responses((status = 200, description = "One page of listings", body = Page),
              (status = 404, description = "Discovery is off on this node", body = ErrorBody),
              (status = 422, description = "A parameter is not valid", body = ErrorBody)))]
pub async fn market(
    State(node): State<Node>,
    params: Result<Query<MarketParams>, QueryRejection>,
) -> Result<Json<Page>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    let per_page = params.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::invalid(format!(
            "per_page is {per_page}; it must be from 1 to {MAX_PER_PAGE}"
        )));
    }
    let offset = match (params.offset, params.page) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give page or offset, not both".to_owned(),
            ));
        }
        (Some(offset), None) => offset,
        (None, page) => {
            let page = page.unwrap_or(1);
            page.checked_sub(1)
                .and_then(|p| p.checked_mul(per_page))
                .ok_or_else(|| ApiError::invalid(format!("page is {page}; pages start at 1")))?
        }
    };
    let category = params.category.filter(|c| !c.trim().is_empty());
    let query = match params.q.filter(|q| !q.trim().is_empty()) {
        Some(text) => MarketQuery::Search {
            text,
            category,
            offset,
            limit: per_page,
        },
        None => MarketQuery::List {
            category,
            offset,
            limit: per_page,
        },
    };
    match ask(&node, query).await? {
        Answer::Page(mut page) => {
            for listing in &mut page.listings {
                listing.trust = judged(&node, &listing.did, &listing.app_id);
            }
            Ok(Json(page))
        }
        other => Err(unexpected(&other)),
    }
}

/// The owner's trust in app `app_id` of `did`, in brief.
fn judged(node: &Node, did: &str, app_id: &str) -> Option<TrustBrief> {
    let did = did.parse::<archy_trust::Did>().ok()?;
    Some(
        node.verdict_on(&did, app_id)
            .brief(super::apps::TOP_REASONS),
    )
}

/// What discovery has seen: table sizes, outcomes, rejections by reason,
/// relays (with bad signatures and cut-offs) and refused roots.
#[utoipa::path(get, path = "/api/market/stats", tag = "market",
    responses((status = 200, description = "Discovery's counters", body = Object),
              (status = 404, description = "Discovery is off on this node", body = ErrorBody)))]
pub async fn market_stats(State(node): State<Node>) -> Result<Json<Stats>, ApiError> {
    match ask(&node, MarketQuery::Stats).await? {
        Answer::Stats(stats) => Ok(Json(*stats)),
        other => Err(unexpected(&other)),
    }
}

/// One app's listing in full, with its publisher and pinned root.
#[utoipa::path(get, path = "/api/market/{did}/{app}", tag = "market",
    params(("did" = String, Path, description = "The publisher's DID"),
           ("app" = String, Path, description = "The app id")),
    responses((status = 200, description = "The listing", body = ListingDetail),
              (status = 404, description = "No such listing", body = ErrorBody)))]
pub async fn listing(
    State(node): State<Node>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<ListingDetail>, ApiError> {
    let Path((did, app_id)) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let query = MarketQuery::Show {
        did: did.clone(),
        app_id: app_id.clone(),
    };
    match ask(&node, query).await? {
        Answer::Listing {
            detail: Some(mut detail),
        } => {
            detail.trust = judged(&node, &did, &app_id);
            detail.versions = versions(&node, &did, &app_id);
            detail.alarm = node
                .state()
                .split_view(&did)
                .ok()
                .flatten()
                .and_then(|json| serde_json::from_str::<SplitViewProof>(&json).ok())
                .map(|proof| proof.alarm());
            Ok(Json(*detail))
        }
        Answer::Listing { detail: None } => Err(ApiError::not_found(format!(
            "no app {app_id} of {did} is in this node's market"
        ))),
        other => Err(unexpected(&other)),
    }
}

/// The versions of `app` its publisher's catalog lists, as far as the
/// node knows them; none (and a warning in the log) if that catalog does
/// not read.
fn versions(node: &Node, did: &str, app: &str) -> Vec<AppVersion> {
    let read = did
        .parse::<Did>()
        .map_err(|e| format!("{did}: {e}"))
        .and_then(|publisher| node.app_versions(&publisher, app));
    read.unwrap_or_else(|e| {
        tracing::warn!("the versions of {did}/{app} were not read: {e}");
        Vec::new()
    })
}

/// Asks the market off the async threads (a search over a large market
/// takes milliseconds); lists and searches are ranked by the owner's trust.
async fn ask(node: &Node, query: MarketQuery) -> Result<Answer, ApiError> {
    let Some(market) = node.market().cloned() else {
        return Err(ApiError::not_found(
            "discovery is off on this node, so it has no market",
        ));
    };
    let trust = node.trust().clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut ranking = trust.ranking();
        market.answer_ranked(&query, Some(&mut |did, app| ranking.weight(did, app)))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    match answer {
        Answer::Error { reason } => Err(ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("the market could not answer: {reason}"),
        )),
        answer => Ok(answer),
    }
}

fn unexpected(answer: &Answer) -> ApiError {
    let kind = match answer {
        Answer::Page(_) => "a page",
        Answer::Listing { .. } => "a listing",
        Answer::Stats(_) => "statistics",
        Answer::Error { .. } => "an error",
    };
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        format!("the market answered with {kind}, which this question does not take"),
    )
}

/// A blob in the node's store.
#[derive(Serialize, ToSchema)]
pub struct Blob {
    /// Its BLAKE3 hash.
    pub hash: String,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
    /// Whether every byte is here and verified.
    pub complete: bool,
    /// Bytes here and verified.
    pub verified_bytes: u64,
    /// What keeps it from garbage collection (none: it would be removed).
    pub pinned_by: Vec<String>,
}

/// Every blob in the node's store, with what keeps it.
#[utoipa::path(get, path = "/api/blobs", tag = "node",
    responses((status = 200, description = "The blobs", body = [Blob])))]
pub async fn blobs(State(node): State<Node>) -> Result<Json<Vec<Blob>>, ApiError> {
    let entries = node
        .blobs()
        .list()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| Blob {
                hash: e.hash.to_string(),
                size: e.size,
                complete: e.complete,
                verified_bytes: e.verified_bytes,
                pinned_by: e.pinned_by,
            })
            .collect(),
    ))
}

/// Every publisher this node knows, with the root discovery pinned and the
/// root its fetches trust, whether the two agree, and roots refused.
#[utoipa::path(get, path = "/api/publishers", tag = "node",
    responses((status = 200, description = "Publishers and their pinned roots", body = [PublisherPins])))]
pub async fn publishers(State(node): State<Node>) -> Result<Json<Vec<PublisherPins>>, ApiError> {
    let pins = node.publishers().map_err(|f| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            std::iter::once(f.error)
                .chain(f.causes)
                .collect::<Vec<_>>()
                .join(": "),
        )
    })?;
    Ok(Json(pins))
}
