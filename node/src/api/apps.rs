//! The API's app routes: installed apps, the operations that change them
//! (answered `202` at once with an operation id) and their progress as
//! Server-Sent Events, and the orchestrator's journal.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use archy_orchestrator::AppSummary;
use archy_orchestrator::lifecycle::ContainerStatus;
use archy_orchestrator::state::{Desired, JournalEntry};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use crate::fetching::ReleaseName;
use crate::node::{AppAction, InstallSource, Node, UpdateSource, Wanted};
use crate::operations::{Event, Operation, OperationsError};
use archy_discovery::market::TrustBrief;
use archy_registry::swarm::NodeTicket;

/// Progress streams open at once.
pub const MAX_STREAMS: usize = 16;
/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The cap on open progress streams, shared by every request.
#[derive(Clone)]
pub struct StreamSlots(pub Arc<Semaphore>);

/// An operation that was started.
#[derive(Serialize, ToSchema)]
pub struct Started {
    /// Its id.
    pub operation: u64,
    /// Where to read it.
    pub href: String,
    /// Where to follow its progress (Server-Sent Events).
    pub events: String,
}

/// `202 Accepted` with where to follow operation `id`.
pub fn started(id: u64) -> (StatusCode, Json<Started>) {
    (
        StatusCode::ACCEPTED,
        Json(Started {
            operation: id,
            href: format!("/api/operations/{id}"),
            events: format!("/api/operations/{id}/events"),
        }),
    )
}

/// The answer for an operation that could not be started or read.
pub fn operations_error(e: &OperationsError) -> ApiError {
    match e {
        OperationsError::TooMany => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        _ => ApiError::internal(e),
    }
}

/// The installed app `id`, or 404.
fn installed(node: &Node, id: &str) -> Result<AppSummary, ApiError> {
    node.orchestrator()
        .list()
        .map_err(|e| ApiError::internal(&e))?
        .into_iter()
        .find(|a| a.id == id && a.desired != Desired::Removed)
        .ok_or_else(|| ApiError::not_found(format!("no app {id} is installed on this node")))
}

/// An installed app, and a newer release of it if upkeep found one.
#[derive(Serialize, ToSchema)]
pub struct InstalledApp {
    /// The app.
    #[serde(flatten)]
    pub app: AppSummary,
    /// The newest release in its publisher's catalog, when newer than the
    /// installed one (`POST /api/apps/{id}/update` installs it).
    pub update_available: Option<String>,
    /// Whether it updates itself when upkeep finds a newer release
    /// (`PUT /api/apps/{id}/auto-update`).
    pub auto_update: bool,
    /// The owner's trust in it now (none for a dev install); an app that
    /// became `suspicious` or `blocked` after it was installed is flagged
    /// by it (`GET /api/trust/{did}/{app}` says why).
    pub trust: Option<TrustBrief>,
}

/// Every installed app, with updates found.
#[utoipa::path(get, path = "/api/apps", tag = "apps",
    responses((status = 200, description = "Installed apps", body = [InstalledApp])))]
pub async fn list(State(node): State<Node>) -> Result<Json<Vec<InstalledApp>>, ApiError> {
    let apps = node
        .orchestrator()
        .list()
        .map_err(|e| ApiError::internal(&e))?;
    let updates = node.updates_available();
    let auto = node
        .state()
        .auto_updated()
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(
        apps.into_iter()
            .filter(|a| a.desired != Desired::Removed)
            .map(|app| InstalledApp {
                update_available: updates.get(&app.id).cloned(),
                auto_update: auto.contains(&app.id),
                trust: trust_of(&node, &app),
                app,
            })
            .collect(),
    ))
}

/// Reasons shown with a verdict in a list.
pub const TOP_REASONS: usize = 3;

/// The owner's trust in an installed app, unless it is a dev install.
fn trust_of(node: &Node, app: &AppSummary) -> Option<TrustBrief> {
    if app.dev {
        return None;
    }
    let did = app.publisher.parse::<archy_trust::Did>().ok()?;
    Some(node.verdict_on(&did, &app.id).brief(TOP_REASONS))
}

/// Whether an app updates itself.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoUpdateBody {
    /// On: when upkeep finds a newer release in the app's publisher's
    /// catalog, the node installs it (with rollback if it does not become
    /// healthy). Off by default.
    pub enabled: bool,
}

/// Turns automatic update of an installed app on or off.
#[utoipa::path(put, path = "/api/apps/{id}/auto-update", tag = "apps",
    params(("id" = String, Path, description = "The app id")),
    request_body = AutoUpdateBody,
    responses((status = 200, description = "Set", body = AutoUpdateBody),
              (status = 404, description = "Not installed", body = ErrorBody),
              (status = 422, description = "A dev install cannot update itself", body = ErrorBody)))]
pub async fn auto_update(
    State(node): State<Node>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<AutoUpdateBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    if installed(&node, &id)?.dev && body.enabled {
        return Err(ApiError::invalid(format!(
            "{id} is a dev install from a local directory: it has no catalog to update from"
        )));
    }
    node.state()
        .set_auto_update(&id, body.enabled)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(serde_json::json!({ "enabled": body.enabled })))
}

/// An installed app, with its containers when podman answers.
#[derive(Serialize, ToSchema)]
pub struct AppDetail {
    /// The app.
    pub app: AppSummary,
    /// Its containers in start order, with podman's state and their health
    /// (none when podman did not answer).
    pub containers: Option<Vec<ContainerStatus>>,
    /// Why the containers are not shown, if they are not.
    pub podman: Option<String>,
}

/// One installed app and the state and health of its containers.
#[utoipa::path(get, path = "/api/apps/{id}", tag = "apps",
    params(("id" = String, Path, description = "The app id")),
    responses((status = 200, description = "The app", body = AppDetail),
              (status = 404, description = "Not installed", body = ErrorBody)))]
pub async fn show(
    State(node): State<Node>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AppDetail>, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let app = installed(&node, &id)?;
    let (containers, podman) = match node.orchestrator().status(&id).await {
        Ok(status) => (Some(status.containers), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(Json(AppDetail {
        app,
        containers,
        podman,
    }))
}

/// What to install.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    /// `PUBLISHER_DID/APP_ID[@VERSION]`; with `dev`, a directory (or its
    /// manifest.yml) on the node's machine.
    pub app: String,
    /// Install a local, unpublished app directory, marked as dev.
    #[serde(default)]
    pub dev: bool,
    /// The publisher's own node, asked first [default: the one the node
    /// remembers, or the listing's].
    pub origin: Option<String>,
    /// Nodes that may have the release, asked before the ones the node
    /// knows.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Install although the owner's trust in the app is below `known`
    /// (never when blocked); the decision is journaled with the band and
    /// reasons of the moment.
    #[serde(default)]
    pub trust_anyway: bool,
}

/// Installs an app by name, from the sources the node knows.
#[utoipa::path(post, path = "/api/apps", tag = "apps", request_body = InstallBody,
    responses((status = 202, description = "Started", body = Started),
              (status = 403, description = "The owner's trust in the app is below known (confirm with trust_anyway), or it is blocked; the causes are the reasons", body = ErrorBody),
              (status = 422, description = "Not an app name", body = ErrorBody)))]
pub async fn install(
    State(node): State<Node>,
    body: Result<Json<InstallBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let source = if body.dev {
        InstallSource::Dev(body.app.into())
    } else {
        let wanted = wanted(&body.app, body.origin.as_ref(), &body.providers)?;
        // Refused at once, with the reasons; the operation judges again
        // when it starts, in case the verdict changed in between.
        node.judge_install(&wanted.name.publisher, &wanted.name.app, body.trust_anyway)
            .map_err(|refused| {
                ApiError::new(StatusCode::FORBIDDEN, refused.to_string())
                    .with_causes(refused.reasons())
            })?;
        InstallSource::Published(Box::new(wanted))
    };
    let id = node
        .install(source, body.trust_anyway)
        .map_err(|e| operations_error(&e))?;
    Ok(started(id))
}

/// A release by name and the nodes a request names for it.
pub fn wanted(
    release: &str,
    origin: Option<&String>,
    providers: &[String],
) -> Result<Wanted, ApiError> {
    Ok(Wanted {
        name: release
            .parse::<ReleaseName>()
            .map_err(|e| ApiError::invalid(e.to_string()))?,
        origin: origin.map(ticket).transpose()?,
        providers: providers.iter().map(ticket).collect::<Result<_, _>>()?,
        matching: None,
    })
}

/// A node ticket from a request body.
fn ticket(text: &String) -> Result<NodeTicket, ApiError> {
    text.parse::<NodeTicket>()
        .map_err(|e| ApiError::invalid(format!("'{text}' is not a node ticket: {e}")))
}

/// What an update asks for.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// The version to update to [default: the newest in the catalog].
    pub version: Option<String>,
    /// The publisher's own node, asked first.
    pub origin: Option<String>,
    /// Nodes that may have the release.
    #[serde(default)]
    pub providers: Vec<String>,
    /// For a dev install: the directory (or manifest.yml) on the node's
    /// machine to update from, instead of the catalog.
    pub dev: Option<String>,
}

/// Whether to go on although other installed apps depend on the app.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForceParams {
    /// Stop (or remove) it even though installed apps depend on it.
    #[serde(default)]
    pub force: bool,
}

/// Starts, stops, restarts, reinstalls or updates an installed app.
#[utoipa::path(post, path = "/api/apps/{id}/{action}", tag = "apps",
    params(("id" = String, Path, description = "The app id"),
           ("action" = String, Path, description = "start, stop, restart, reinstall or update"),
           ForceParams),
    request_body(content = Option<UpdateBody>, description = "For update: the version"),
    responses((status = 202, description = "Started", body = Started),
              (status = 404, description = "Not installed", body = ErrorBody),
              (status = 409, description = "Stop: installed apps depend on it; repeat with force=true to stop it anyway", body = ErrorBody),
              (status = 422, description = "Not an action", body = ErrorBody)))]
pub async fn act(
    State(node): State<Node>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<ForceParams>, QueryRejection>,
    body: Option<Json<UpdateBody>>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let Path((id, action)) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    let action = match action.as_str() {
        "start" => Some(AppAction::Start),
        "stop" => Some(AppAction::Stop),
        "restart" => Some(AppAction::Restart),
        "reinstall" => Some(AppAction::Reinstall),
        "update" => None,
        other => {
            return Err(ApiError::invalid(format!(
                "'{other}' is not an action: start, stop, restart, reinstall or update"
            )));
        }
    };
    installed(&node, &id)?;
    if action == Some(AppAction::Stop) && !params.force {
        no_dependents(&node, &id, "stopping")?;
    }
    let op = match action {
        Some(action) => node.act(&id, action),
        None => {
            let body = body.map(|Json(b)| b).unwrap_or_default();
            let source = match body.dev {
                Some(path) => UpdateSource::Dev(path.into()),
                None => {
                    let version = body
                        .version
                        .map(|v| {
                            semver::Version::parse(&v).map_err(|e| {
                                ApiError::invalid(format!("'{v}' is not a version like 1.2.0: {e}"))
                            })
                        })
                        .transpose()?;
                    let app = installed(&node, &id)?;
                    let name = format!("{}/{id}", app.publisher);
                    let wanted = wanted(&name, body.origin.as_ref(), &body.providers)?;
                    UpdateSource::Catalog(Box::new(Wanted {
                        name: ReleaseName {
                            version,
                            ..wanted.name
                        },
                        ..wanted
                    }))
                }
            };
            node.update(&id, source)
        }
    };
    Ok(started(op.map_err(|e| operations_error(&e))?))
}

/// How an app is removed.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveParams {
    /// Also delete its data and secrets.
    #[serde(default)]
    pub purge: bool,
    /// Remove it even though installed apps depend on it.
    #[serde(default)]
    pub force: bool,
}

/// 409 if installed apps depend on `id`, naming them.
fn no_dependents(node: &Node, id: &str, doing: &str) -> Result<(), ApiError> {
    let dependents = node
        .orchestrator()
        .dependents(id)
        .map_err(|e| ApiError::internal(&e))?;
    if dependents.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "{id} is needed by {}, installed app(s) that depend on it: {doing} it would leave them without it",
            dependents.join(", ")
        ),
    ))
}

/// Uninstalls an app; its data stays unless `purge=true`.
#[utoipa::path(delete, path = "/api/apps/{id}", tag = "apps",
    params(("id" = String, Path, description = "The app id"), RemoveParams),
    responses((status = 202, description = "Started", body = Started),
              (status = 404, description = "Not installed", body = ErrorBody),
              (status = 409, description = "Installed apps depend on it; repeat with force=true to remove it anyway", body = ErrorBody)))]
pub async fn uninstall(
    State(node): State<Node>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<RemoveParams>, QueryRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let Path(id) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    installed(&node, &id)?;
    if !params.force {
        no_dependents(&node, &id, "removing")?;
    }
    let op = node
        .act(
            &id,
            AppAction::Uninstall {
                purge: params.purge,
            },
        )
        .map_err(|e| operations_error(&e))?;
    Ok(started(op))
}

/// How many operations to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationsParams {
    /// Newest operations to list, at most 1000 [default: 50].
    pub limit: Option<usize>,
}

/// The newest operations, newest first: installs, updates, fetches, packs,
/// collections…, running or ended (kept across restarts, the newest 1000).
#[utoipa::path(get, path = "/api/operations", tag = "apps", params(OperationsParams),
    responses((status = 200, description = "Operations, newest first", body = [Operation])))]
pub async fn operations(
    State(node): State<Node>,
    params: Result<Query<OperationsParams>, QueryRejection>,
) -> Result<Json<Vec<Operation>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    let limit = params.limit.unwrap_or(50).min(1000);
    let recent = node
        .operations()
        .recent(limit)
        .map_err(|e| operations_error(&e))?;
    Ok(Json(recent))
}

/// One operation: what it does, how far it is, how it ended.
#[utoipa::path(get, path = "/api/operations/{id}", tag = "apps",
    params(("id" = u64, Path, description = "The operation id")),
    responses((status = 200, description = "The operation", body = Operation),
              (status = 404, description = "No such operation", body = ErrorBody)))]
pub async fn operation(
    State(node): State<Node>,
    path: Result<Path<u64>, PathRejection>,
) -> Result<Json<Operation>, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    node.operations()
        .get(id)
        .map_err(|e| operations_error(&e))?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no operation {id} is known to this node")))
}

/// The progress of an operation as Server-Sent Events: its state now,
/// then each change; the percentage never goes back, and the stream ends
/// after exactly one terminal event (`succeeded`, or `failed` with why).
#[utoipa::path(get, path = "/api/operations/{id}/events", tag = "apps",
    params(("id" = u64, Path, description = "The operation id")),
    responses((status = 200, description = "text/event-stream of operation events", body = Event,
               content_type = "text/event-stream"),
              (status = 404, description = "No such operation", body = ErrorBody),
              (status = 503, description = "Too many streams open", body = ErrorBody)))]
pub async fn events(
    State(node): State<Node>,
    Extension(slots): Extension<StreamSlots>,
    path: Result<Path<u64>, PathRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    let Ok(slot) = slots.0.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{MAX_STREAMS} progress streams are open already; poll /api/operations/{id} instead"
            ),
        ));
    };
    let (now, live) = node
        .operations()
        .follow(id)
        .map_err(|e| operations_error(&e))?
        .ok_or_else(|| ApiError::not_found(format!("no operation {id} is known to this node")))?;
    // What happened so far: the notices given, then the state now.
    let mut first: std::collections::VecDeque<Event> = now
        .notices
        .iter()
        .cloned()
        .map(|message| Event::Notice { message })
        .collect();
    first.push_back(match Event::terminal_of(&now) {
        Some(terminal) => terminal,
        None => Event::Progress {
            percent: now.percent,
            stage: now.stage.clone(),
        },
    });
    let stream = futures_util::stream::unfold(
        Following {
            first,
            live,
            done: false,
            _slot: slot,
        },
        next_event,
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// A stream's place in an operation's events.
struct Following {
    first: std::collections::VecDeque<Event>,
    live: Option<broadcast::Receiver<Event>>,
    done: bool,
    _slot: OwnedSemaphorePermit,
}

async fn next_event(mut f: Following) -> Option<(Result<SseEvent, Infallible>, Following)> {
    if f.done {
        return None;
    }
    let event = match f.first.pop_front() {
        Some(event) => event,
        None => loop {
            let live = f.live.as_mut()?;
            match live.recv().await {
                Ok(event) => break event,
                // A slow reader skips ahead: the next event is newer.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        },
    };
    f.done = event.is_terminal();
    let name = match &event {
        Event::Progress { .. } => "progress",
        Event::Notice { .. } => "notice",
        Event::Succeeded { .. } => "succeeded",
        Event::Failed { .. } => "failed",
    };
    let sse = SseEvent::default()
        .event(name)
        .json_data(&event)
        .unwrap_or_else(|_| SseEvent::default().event(name));
    Some((Ok(sse), f))
}

/// Journal entries shown unless asked otherwise, and at most.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JournalParams {
    /// Newest entries to show, at most 1000 [default: 50].
    pub limit: Option<usize>,
}

/// The orchestrator's journal, newest last: what ran, when, and how it
/// ended ("interrupted" when the node died during it).
#[utoipa::path(get, path = "/api/journal", tag = "apps", params(JournalParams),
    responses((status = 200, description = "Journal entries", body = [JournalEntry])))]
pub async fn journal(
    State(node): State<Node>,
    params: Result<Query<JournalParams>, QueryRejection>,
) -> Result<Json<Vec<JournalEntry>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit is {limit}; it must be from 1 to 1000"
        )));
    }
    let entries = node
        .orchestrator()
        .journal()
        .map_err(|e| ApiError::internal(&e))?;
    let skip = entries.len().saturating_sub(limit);
    Ok(Json(entries.into_iter().skip(skip).collect()))
}

/// Runs a reconcile pass of every app now, rather than at the next tick.
#[utoipa::path(post, path = "/api/reconcile", tag = "apps",
    responses((status = 202, description = "Started; the result is the pass's report", body = Started)))]
pub async fn reconcile(State(node): State<Node>) -> Result<(StatusCode, Json<Started>), ApiError> {
    let op = node.reconcile_now().map_err(|e| operations_error(&e))?;
    Ok(started(op))
}

/// A local app to run the lifecycle matrix on.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// The app's directory (or its manifest.yml) on the node's machine.
    pub app: String,
}

/// Runs the lifecycle matrix (install, reachable, stop, start, restart,
/// uninstall, reinstall, data survives, purge) on a local app.
#[utoipa::path(post, path = "/api/tests", tag = "apps", request_body = TestBody,
    responses((status = 202, description = "Started; the result is the matrix's rows", body = Started)))]
pub async fn lifecycle_test(
    State(node): State<Node>,
    body: Result<Json<TestBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let op = node
        .lifecycle_test(super::releases::manifest_file(&body.app))
        .map_err(|e| operations_error(&e))?;
    Ok(started(op))
}
