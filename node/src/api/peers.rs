//! The federation over the API: invites, joining, the paired peers and
//! their removal (`archy peer` asks these), and the nodes met on fetches.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use crate::federation::proof::SplitViewProof;
use crate::federation::{FederationError, MAX_INVITE_TTL, PairedPeer};
use crate::node::Node;

/// The paired peers, and which are gossip neighbours now.
#[utoipa::path(get, path = "/api/peers", tag = "peers",
    responses((status = 200, description = "Paired peers", body = [PairedPeer])))]
pub async fn list(State(node): State<Node>) -> Result<Json<Vec<PairedPeer>>, ApiError> {
    node.federation().peers().map(Json).map_err(|e| failed(&e))
}

/// How long an invite lasts.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InviteBody {
    /// Seconds it stays valid: 1 to 30 days' worth [default: one day].
    #[serde(default)]
    pub expires_secs: Option<u64>,
}

/// An invite to this node.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Invited {
    /// The invite: give it to the node that should join.
    pub invite: String,
    /// When it expires (Unix seconds).
    pub expires: u64,
}

/// A fresh single-use invite to pair with this node.
#[utoipa::path(post, path = "/api/peers/invite", tag = "peers",
    request_body = InviteBody,
    responses((status = 200, description = "The invite", body = Invited),
              (status = 422, description = "An expiry out of range", body = ErrorBody)))]
pub async fn invite(
    State(node): State<Node>,
    body: Result<Json<InviteBody>, JsonRejection>,
) -> Result<Json<Invited>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let secs = body.expires_secs.unwrap_or(86_400);
    if secs == 0 || secs > MAX_INVITE_TTL.as_secs() {
        return Err(ApiError::invalid(format!(
            "expires_secs {secs} is out of range: 1 to {}",
            MAX_INVITE_TTL.as_secs()
        )));
    }
    let (invite, expires) = node
        .federation()
        .invite(Duration::from_secs(secs))
        .map_err(|e| failed(&e))?;
    Ok(Json(Invited { invite, expires }))
}

/// An invite another node wrote.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinBody {
    /// The invite.
    pub invite: String,
}

/// Pairs with the node that wrote the invite, both ways, and joins its
/// federation.
#[utoipa::path(post, path = "/api/peers/join", tag = "peers",
    request_body = JoinBody,
    responses((status = 200, description = "The new peer", body = PairedPeer),
              (status = 422, description = "The invite does not read", body = ErrorBody),
              (status = 403, description = "The inviting node refused it", body = ErrorBody),
              (status = 502, description = "The inviting node was not reached", body = ErrorBody)))]
pub async fn join(
    State(node): State<Node>,
    body: Result<Json<JoinBody>, JsonRejection>,
) -> Result<Json<PairedPeer>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    node.federation()
        .join(&body.invite)
        .await
        .map(Json)
        .map_err(|e| failed(&e))
}

/// What removing a peer did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Removed {
    /// The peer.
    pub did: String,
    /// Whether it was paired (its tombstone is written either way).
    pub was_paired: bool,
}

/// Removes a peer for good: only a fresh invite pairs it again.
#[utoipa::path(delete, path = "/api/peers/{did}", tag = "peers",
    params(("did" = String, Path, description = "The peer's DID")),
    responses((status = 200, description = "Removed, its tombstone written", body = Removed),
              (status = 422, description = "Not a DID", body = ErrorBody),
              (status = 500, description = "The tombstone was not written: nothing changed", body = ErrorBody)))]
pub async fn remove(
    State(node): State<Node>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Removed>, ApiError> {
    let Path(did) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let did: archy_trust::Did = did
        .parse()
        .map_err(|e| ApiError::invalid(format!("'{did}' is not a node's DID: {e}")))?;
    let was_paired = node.federation().remove(&did).map_err(|e| failed(&e))?;
    Ok(Json(Removed {
        did: did.to_string(),
        was_paired,
    }))
}

/// A node this one has fetched from.
#[derive(Serialize, ToSchema)]
pub struct Met {
    /// Its DID.
    pub did: String,
    /// Its ticket.
    pub ticket: String,
}

/// The nodes this one remembers from earlier fetches.
#[utoipa::path(get, path = "/api/peers/met", tag = "peers",
    responses((status = 200, description = "Remembered nodes", body = [Met])))]
pub async fn met(State(node): State<Node>) -> Result<Json<Vec<Met>>, ApiError> {
    let peers = node.state().peers().map_err(|e| ApiError::internal(&e))?;
    Ok(Json(
        peers
            .into_iter()
            .map(|(did, ticket)| Met { did, ticket })
            .collect(),
    ))
}

/// The proofs this node holds that a publisher showed peers two different
/// catalogs; installs and updates from each stop.
#[utoipa::path(get, path = "/api/peers/split-views", tag = "peers",
    responses((status = 200, description = "Split-view proofs", body = [SplitViewProof])))]
pub async fn split_views(State(node): State<Node>) -> Result<Json<Vec<SplitViewProof>>, ApiError> {
    let kept = node
        .state()
        .split_views()
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(
        kept.into_iter()
            .filter_map(|(_, json)| serde_json::from_str(&json).ok())
            .collect(),
    ))
}

fn failed(e: &FederationError) -> ApiError {
    use crate::federation::pairing::JoinError;
    let status = match e {
        FederationError::Join(JoinError::Invite(_)) => StatusCode::UNPROCESSABLE_ENTITY,
        FederationError::Join(JoinError::Refused(_)) => StatusCode::FORBIDDEN,
        FederationError::Join(JoinError::Unreached { .. }) => StatusCode::BAD_GATEWAY,
        FederationError::Other(_) => StatusCode::UNPROCESSABLE_ENTITY,
        FederationError::State(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, e.to_string())
}
