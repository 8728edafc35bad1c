//! The API's release routes: fetch a release by name into the node's
//! store, pack a local app into it, and share a file from it. Fetch and
//! pack are operations (`202` with an id); sharing answers at once.

use archy_registry::swarm::{NodeTicket, share};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::apps::{Started, operations_error, started, wanted};
use super::error::{ApiError, ErrorBody};
use crate::node::Node;

/// What to fetch.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchBody {
    /// `PUBLISHER_DID/APP_ID[@VERSION]`; without a version, the newest not
    /// yanked.
    pub release: String,
    /// The publisher's own node, asked first.
    pub origin: Option<String>,
    /// Nodes that may have the release, asked before the ones the node
    /// knows.
    #[serde(default)]
    pub providers: Vec<String>,
}

/// Fetches a release into the node's store, verified against its
/// publisher's catalog.
#[utoipa::path(post, path = "/api/fetch", tag = "releases", request_body = FetchBody,
    responses((status = 202, description = "Started", body = Started),
              (status = 422, description = "Not a release name or ticket", body = ErrorBody)))]
pub async fn fetch(
    State(node): State<Node>,
    body: Result<Json<FetchBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let wanted = wanted(&body.release, body.origin.as_ref(), &body.providers)?;
    let op = node.fetch(wanted).map_err(|e| operations_error(&e))?;
    Ok(started(op))
}

/// What to pack.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackBody {
    /// The app's source manifest.yml (or its directory) on the node's
    /// machine.
    pub manifest: String,
    /// The publisher's key file on the node's machine.
    pub key: String,
}

/// Signs a local app and stores its release (signed manifest, image
/// archives, icon) in the node's store under one hash, held and served.
#[utoipa::path(post, path = "/api/releases", tag = "releases", request_body = PackBody,
    responses((status = 202, description = "Started", body = Started)))]
pub async fn pack(
    State(node): State<Node>,
    body: Result<Json<PackBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let op = node
        .pack(manifest_file(&body.manifest), body.key.into())
        .map_err(|e| operations_error(&e))?;
    Ok(started(op))
}

/// An app's source manifest: `path` itself, or the manifest.yml in it
/// when it is a directory.
pub(super) fn manifest_file(path: &str) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(path);
    if path.is_dir() {
        path.join("manifest.yml")
    } else {
        path
    }
}

/// What to share.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    /// A file on the node's machine.
    pub file: String,
}

/// A shared file.
#[derive(Serialize, ToSchema)]
pub struct Shared {
    /// Its name.
    pub name: String,
    /// The collection's hash.
    pub hash: String,
    /// The ticket `sendme receive` (or `archy blobs get`) takes.
    pub ticket: String,
}

/// Shares a file as an iroh collection the node serves.
#[utoipa::path(post, path = "/api/blobs/share", tag = "releases", request_body = ShareBody,
    responses((status = 200, description = "Shared", body = Shared)))]
pub async fn share_file(
    State(node): State<Node>,
    body: Result<Json<ShareBody>, JsonRejection>,
) -> Result<Json<Shared>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let shared = share::share_file(node.blobs(), std::path::Path::new(&body.file))
        .await
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let addr = NodeTicket::addr(node.ticket()).clone();
    Ok(Json(Shared {
        ticket: share::ticket(addr, shared.hash),
        hash: shared.hash.to_string(),
        name: shared.name,
    }))
}

/// Removes every blob no pin reaches (the store keeps serving meanwhile).
#[utoipa::path(post, path = "/api/blobs/gc", tag = "releases",
    responses((status = 202, description = "Started; the result lists the blobs removed", body = Started)))]
pub async fn collect_garbage(
    State(node): State<Node>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let op = node.collect_garbage().map_err(|e| operations_error(&e))?;
    Ok(started(op))
}

/// What to receive.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveBody {
    /// An iroh blob ticket (from `sendme send` or a node's share).
    pub ticket: String,
    /// The directory on the node's machine to write the files into.
    pub out: String,
}

/// Receives what a blob ticket names into a directory, verified.
#[utoipa::path(post, path = "/api/blobs/get", tag = "releases", request_body = ReceiveBody,
    responses((status = 202, description = "Started; the result lists the files written", body = Started)))]
pub async fn receive(
    State(node): State<Node>,
    body: Result<Json<ReceiveBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let op = node
        .receive_ticket(body.ticket, body.out.into())
        .map_err(|e| operations_error(&e))?;
    Ok(started(op))
}
