//! My Apps: each installed app with its state, its containers' health,
//! "update available" and the owner's trust when it dropped, and its
//! actions (start, stop, restart, update, uninstall keeping the data, and
//! purge behind a confirmation that says what is deleted). An app being
//! removed shows "removing" until its record is gone. The script refreshes
//! the list in place from `?part=list`; when that fails it keeps the list
//! it has and says the node is offline.

use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Viewer;
use super::layout::{self, Nav};
use crate::api::apps::{ForceParams, RemoveParams, act as api_act, uninstall as api_uninstall};
use crate::node::Node;
use archy_orchestrator::AppSummary;
use archy_orchestrator::lifecycle::ContainerStatus;
use archy_orchestrator::state::{Desired, Phase};
use archy_trust::score::Band;

/// Longest the page waits for podman to say how one app's containers are.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// The page's query: `part=list` answers the list alone, for the script.
#[derive(Debug, Default, Deserialize)]
pub struct AppsQuery {
    part: Option<String>,
}

/// One app as the page shows it.
struct Shown {
    app: AppSummary,
    containers: Result<Vec<ContainerStatus>, String>,
    update: Option<String>,
    band: Option<Band>,
}

/// The My Apps page (or its list alone).
pub async fn page(
    viewer: Viewer,
    State(node): State<Node>,
    Query(query): Query<AppsQuery>,
) -> Response {
    let apps = match node.orchestrator().list() {
        Ok(apps) => apps,
        Err(e) => {
            return layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your apps could not be read",
                &format!("{e}. The page will show them once the node can read its state."),
            );
        }
    };
    let updates = node.updates_available();
    // podman is asked about every app at once: the page waits at most one
    // STATUS_TIMEOUT, however many apps there are.
    let containers =
        futures_util::future::join_all(apps.iter().map(|app| containers_of(&node, app))).await;
    let shown: Vec<Shown> = apps
        .into_iter()
        .zip(containers)
        .map(|(app, containers)| Shown {
            update: updates.get(&app.id).cloned(),
            band: (!app.dev)
                .then(|| app.publisher.parse::<archy_trust::Did>().ok())
                .flatten()
                .map(|did| node.verdict_on(&did, &app.id).band),
            containers,
            app,
        })
        .collect();
    let list = list(&viewer, &shown);
    if query.part.as_deref() == Some("list") {
        return list.into_response();
    }
    whole(&viewer, list).into_response()
}

/// The page around the list: the offline notice the script shows, and
/// where it puts each refreshed list.
fn whole(viewer: &Viewer, list: Markup) -> Markup {
    let content = html! {
        h1 { "My Apps" }
        p #offline.notice.warning role="status" hidden { "Offline: the node does not answer. Retrying…" }
        div #apps data-refresh="/apps?part=list" { (list) }
    };
    layout::page("My Apps", Nav::MyApps, Some(viewer), content)
}

/// The containers of `app` as podman sees them, within [`STATUS_TIMEOUT`]
/// (none for an app being removed).
async fn containers_of(node: &Node, app: &AppSummary) -> Result<Vec<ContainerStatus>, String> {
    if app.desired == Desired::Removed {
        return Ok(Vec::new());
    }
    match tokio::time::timeout(STATUS_TIMEOUT, node.orchestrator().status(&app.id)).await {
        Ok(Ok(status)) => Ok(status.containers),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("podman did not answer in time".to_owned()),
    }
}

fn list(viewer: &Viewer, shown: &[Shown]) -> Markup {
    html! {
        @if shown.is_empty() {
            p { "No apps are installed. " a href="/" { "Discover some." } }
        } @else {
            ul.apps {
                @for app in shown { (row(viewer, app)) }
            }
        }
    }
}

fn row(viewer: &Viewer, shown: &Shown) -> Markup {
    let app = &shown.app;
    let removing = app.desired == Desired::Removed || app.phase == Phase::Removing;
    let state = if removing {
        "removing".to_owned()
    } else {
        match (app.phase, app.desired) {
            (Phase::Installing, _) => "installing".to_owned(),
            (Phase::Updating, _) => "updating".to_owned(),
            (_, Desired::Stopped) => "stopped".to_owned(),
            _ => "running".to_owned(),
        }
    };
    // One form per app, its CSRF token once: each button names its action.
    let action = |name: &str, label: &str| {
        html! {
            button type="submit" name="action" value=(name) aria-label=(format!("{label} {}", app.id)) { (label) }
        }
    };
    html! {
        li.app-row data-app=(app.id) data-state=(state) {
            div.app-title {
                (layout::icon(&app.publisher, &app.id, &app.version))
                div {
                    h2 { (app.id) }
                    p { "version " (app.version) " · " strong.state { (state) }
                        @if app.dev { " · dev install" } }
                    @if let Some(version) = &shown.update { p.notice.ok { "Update available: " (version) } }
                    @if let Some(band) = shown.band.filter(|b| *b <= Band::Suspicious) {
                        p.notice.error { "Trust: " (layout::band(Some(band))) " — see why on its page." }
                    }
                }
            }
            @if !removing {
                @match &shown.containers {
                    Ok(containers) => {
                        table.containers {
                            caption { "Containers" }
                            thead { tr { th scope="col" { "Container" } th scope="col" { "State" } th scope="col" { "Health" } } }
                            tbody {
                                @for c in containers { tr { td { (c.name) } td { (c.state) } td { (c.health) } } }
                            }
                        }
                    }
                    Err(why) => p.muted { "Containers not shown: " (why) },
                }
                form.actions method="post" action=(format!("/apps/{}", app.id)) {
                    (layout::csrf_field(viewer))
                    @if let Some(port) = app.host_ports.values().next() {
                        a.button href=(format!("http://localhost:{port}/")) data-open-port=(port) { "Open" }
                    }
                    @if app.desired == Desired::Stopped { (action("start", "Start")) } @else { (action("stop", "Stop")) }
                    (action("restart", "Restart"))
                    @if shown.update.is_some() { (action("update", "Update")) }
                    (action("uninstall", "Uninstall"))
                    a.button.danger href=(format!("/apps/{}/purge", app.id)) { "Purge…" }
                }
            }
        }
    }
}

/// The purge confirmation: what is deleted.
pub async fn purge_page(viewer: Viewer, Path(id): Path<String>) -> Response {
    let content = html! {
        section.narrow {
            h1 { "Purge " (id) "?" }
            p.notice.warning role="alert" {
                "Purging removes the app and deletes its data and its generated secrets on this node. This cannot be undone."
            }
            p { "To keep its data (and get it back on a later install), uninstall it instead." }
            form method="post" action=(format!("/apps/{id}/purge")) {
                (layout::csrf_field(&viewer))
                button.danger type="submit" { "Delete " (id) " and its data" }
            }
            p { a href="/apps" { "Back to My Apps" } }
        }
    };
    layout::page("Purge", Nav::MyApps, Some(&viewer), content).into_response()
}

/// What an action's form posts: the session's CSRF token and, from the
/// button pressed, the action (`start`, `stop`, `restart`, `update`,
/// `uninstall`).
#[derive(Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
    action: Option<String>,
}

/// Starts an action on an app; the browser goes to its operation's page.
pub async fn act(
    viewer: Viewer,
    State(node): State<Node>,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let Some(action) = form.action.clone() else {
        if let Err(refused) = viewer.check(form.csrf.as_deref()) {
            return refused.into_response();
        }
        return layout::error_page(
            StatusCode::BAD_REQUEST,
            "No action was chosen",
            "Press one of the app's buttons on My Apps.",
        );
    };
    start_action(&viewer, node, id, action, &form).await
}

/// Purges an app (its confirmation page posts here).
pub async fn purge(
    viewer: Viewer,
    State(node): State<Node>,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    start_action(&viewer, node, id, "purge".to_owned(), &form).await
}

async fn start_action(
    viewer: &Viewer,
    node: Node,
    id: String,
    action: String,
    form: &ActionForm,
) -> Response {
    if let Err(refused) = viewer.check(form.csrf.as_deref()) {
        return refused.into_response();
    }
    let started = match action.as_str() {
        "uninstall" | "purge" => {
            let params = RemoveParams {
                purge: action == "purge",
                force: false,
            };
            api_uninstall(State(node), Ok(Path(id)), Ok(Query(params))).await
        }
        _ => {
            let params = ForceParams { force: false };
            api_act(State(node), Ok(Path((id, action))), Ok(Query(params)), None).await
        }
    };
    match started {
        Ok((_, axum::Json(started))) => {
            Redirect::to(&format!("/operations/{}", started.operation)).into_response()
        }
        Err(e) => layout::error_page(e.status(), "That did not start", &e.body().error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most one page may weigh on the wire.
    const MAX_PAGE_BYTES: usize = 100 * 1024;

    #[test]
    fn my_apps_with_50_apps_stays_under_100_kb() {
        let viewer = Viewer {
            csrf: "0".repeat(64),
        };
        let publisher = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        let shown: Vec<Shown> = (0..50)
            .map(|i| Shown {
                app: AppSummary {
                    id: format!("org.example.some-longer-app-name-{i}"),
                    version: "1.12.3".to_owned(),
                    desired: Desired::Running,
                    phase: Phase::Installed,
                    dev: false,
                    publisher: publisher.to_owned(),
                    host_ports: [("web/8080/tcp".to_owned(), 8080 + i)].into(),
                },
                containers: Ok(["web", "db", "worker"]
                    .iter()
                    .map(|name| ContainerStatus {
                        name: (*name).to_owned(),
                        podman_name: format!("archy_org.example.some-longer-app-name-{i}_{name}"),
                        state: "running".to_owned(),
                        health: "unhealthy: the check timed out after 2 s".to_owned(),
                    })
                    .collect()),
                update: Some("1.13.0".to_owned()),
                band: Some(Band::Suspicious),
            })
            .collect();
        let page = whole(&viewer, list(&viewer, &shown)).into_string();
        assert_eq!(page.matches("<li class=\"app-row\"").count(), 50);
        assert!(page.len() < MAX_PAGE_BYTES, "{} bytes", page.len());
        println!("My Apps with 50 apps: {} bytes", page.len());
    }
}
