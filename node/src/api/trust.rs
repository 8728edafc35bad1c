//! `/api/trust`: how far the owner trusts a publisher or an app, with the
//! reasons, the graph the score stands on, and the owner's allow and block
//! lists.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use crate::node::{Node, TrustList};
use crate::trust::{Explained, asks_of};
use archy_discovery::graph_sync::GraphStatus;
use archy_discovery::market::{Answer, Query};
use archy_trust::Did;

/// The owner and the graph its trust stands on.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrustGraph {
    /// The owner's Nostr key, hex.
    pub owner: String,
    /// The graph's size and what its caps left out.
    #[schema(value_type = Object)]
    pub graph: serde_json::Value,
    /// The last fetch of the graph from the relays.
    pub walk: GraphStatus,
}

/// Whose trust, and the graph it stands on.
#[utoipa::path(get, path = "/api/trust", tag = "trust",
    responses((status = 200, description = "The owner and the graph", body = TrustGraph)))]
pub async fn graph(State(node): State<Node>) -> Json<TrustGraph> {
    let trust = node.trust();
    Json(TrustGraph {
        owner: trust.owner().to_string(),
        graph: serde_json::to_value(trust.stats()).unwrap_or_default(),
        walk: node.market().map(|m| m.graph_status()).unwrap_or_default(),
    })
}

fn did_of(text: &str) -> Result<Did, ApiError> {
    text.parse()
        .map_err(|e| ApiError::invalid(format!("{text:?} is not a DID: {e}")))
}

/// How far the owner trusts a publisher, and why.
#[utoipa::path(get, path = "/api/trust/{did}", tag = "trust",
    params(("did" = String, Path, description = "The publisher's DID")),
    responses((status = 200, description = "Score, band and reasons", body = Explained),
              (status = 422, description = "Not a DID", body = ErrorBody)))]
pub async fn publisher(
    State(node): State<Node>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Explained>, ApiError> {
    let Path(did) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let did = did_of(&did)?;
    Ok(Json(Explained::publisher(&node.trust().publisher(&did))))
}

/// How far the owner trusts one app, and why: its publisher's standing,
/// reports on the app, and what its manifest asks of the machine; with its
/// reviews weighted by their authors' standing.
#[utoipa::path(get, path = "/api/trust/{did}/{app}", tag = "trust",
    params(("did" = String, Path, description = "The publisher's DID"),
           ("app" = String, Path, description = "The app id")),
    responses((status = 200, description = "Score, band and reasons", body = Explained),
              (status = 404, description = "The app is not in this node's market", body = ErrorBody),
              (status = 422, description = "Not a DID", body = ErrorBody)))]
pub async fn app(
    State(node): State<Node>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Explained>, ApiError> {
    let Path((did_text, app_id)) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let did = did_of(&did_text)?;
    let Some(market) = node.market().cloned() else {
        return Err(ApiError::not_found(
            "discovery is off on this node, so it knows no app to judge",
        ));
    };
    let query = Query::Show {
        did: did_text.clone(),
        app_id: app_id.clone(),
    };
    let answer = tokio::task::spawn_blocking(move || market.answer(&query))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let Answer::Listing {
        detail: Some(detail),
    } = answer
    else {
        return Err(ApiError::not_found(format!(
            "no app {app_id} of {did_text} is in this node's market"
        )));
    };
    let asks = asks_of(detail.listing.manifest.get());
    let trust = node.trust();
    Ok(Json(Explained {
        reviews: Some(trust.reviews(&did, &app_id)),
        ..Explained::app(&trust.app(&did, &app_id, &asks))
    }))
}

/// A publisher on one of the owner's lists.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Listed {
    /// The publisher.
    pub did: String,
    /// `allow` or `block`.
    pub list: TrustList,
}

/// The owner's allow and block lists.
#[utoipa::path(get, path = "/api/trust/lists", tag = "trust",
    responses((status = 200, description = "Publishers on the owner's lists", body = [Listed])))]
pub async fn lists(State(node): State<Node>) -> Result<Json<Vec<Listed>>, ApiError> {
    let lists = node.trust_lists().map_err(|e| ApiError::internal(&e))?;
    Ok(Json(
        lists
            .into_iter()
            .map(|(did, list)| Listed { did, list })
            .collect(),
    ))
}

/// Which list to put a publisher on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    /// `allow` or `block`.
    pub list: TrustList,
}

/// Puts a publisher on the allow or the block list (off the other), at
/// once: the next verdict and install use it.
#[utoipa::path(put, path = "/api/trust/lists/{did}", tag = "trust",
    params(("did" = String, Path, description = "The publisher's DID")),
    request_body = ListBody,
    responses((status = 200, description = "Its verdict now", body = Explained),
              (status = 422, description = "Not a DID, or not a list", body = ErrorBody)))]
pub async fn put_list(
    State(node): State<Node>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<ListBody>, JsonRejection>,
) -> Result<Json<Explained>, ApiError> {
    let Path(did) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let did = did_of(&did)?;
    node.set_trust_list(&did, Some(body.list))
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(Explained::publisher(&node.trust().publisher(&did))))
}

/// A change to the owner's lists, for scripts that post one body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChange {
    /// The publisher.
    pub did: String,
    /// `allow` or `block`; `null` takes it off both.
    pub list: Option<TrustList>,
}

/// Puts a publisher on the allow or the block list, or off both: the same
/// as `PUT` and `DELETE /api/trust/lists/{did}`, in one body.
#[utoipa::path(post, path = "/api/trust/lists", tag = "trust",
    request_body = ListChange,
    responses((status = 200, description = "Its verdict now", body = Explained),
              (status = 422, description = "Not a DID, or not a list", body = ErrorBody)))]
pub async fn post_list(
    State(node): State<Node>,
    body: Result<Json<ListChange>, JsonRejection>,
) -> Result<Json<Explained>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let did = did_of(&body.did)?;
    node.set_trust_list(&did, body.list)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(Explained::publisher(&node.trust().publisher(&did))))
}

/// Takes a publisher off the owner's lists.
#[utoipa::path(delete, path = "/api/trust/lists/{did}", tag = "trust",
    params(("did" = String, Path, description = "The publisher's DID")),
    responses((status = 200, description = "Its verdict now", body = Explained),
              (status = 422, description = "Not a DID", body = ErrorBody)))]
pub async fn delete_list(
    State(node): State<Node>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Explained>, ApiError> {
    let Path(did) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let did = did_of(&did)?;
    node.set_trust_list(&did, None)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(Explained::publisher(&node.trust().publisher(&did))))
}
