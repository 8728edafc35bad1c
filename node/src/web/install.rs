//! Installing from the page: the Install form starts the same operation the
//! API does, once the owner's trust allows it (below `known` the page asks
//! for a confirmation that lists the reasons; `blocked` never installs),
//! and the browser goes to the operation's page. That page shows where the
//! operation stands when it is served, and its script follows the
//! operation's events: the bar only moves forward, and the page always ends
//! in "Running" with an Open link, or in the failure with what to do next.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Viewer;
use super::layout::{self, Nav};
use crate::api::apps::wanted;
use crate::node::{InstallSource, Node};
use crate::operations::{Operation, Status};

/// What the Install form posts.
#[derive(Deserialize)]
pub struct InstallForm {
    csrf: Option<String>,
    /// `DID/APP`.
    app: String,
    /// Set by the confirmation form: install although below `known`.
    confirm: Option<String>,
}

/// Starts an install, or asks for a confirmation first.
pub async fn start(
    viewer: Viewer,
    State(node): State<Node>,
    Form(form): Form<InstallForm>,
) -> Response {
    if let Err(refused) = viewer.check(form.csrf.as_deref()) {
        return refused.into_response();
    }
    let wanted = match wanted(&form.app, None, &[]) {
        Ok(wanted) => wanted,
        Err(e) => {
            return layout::error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "That is not an app's name",
                &e.body().error,
            );
        }
    };
    let confirmed = form.confirm.as_deref() == Some("yes");
    let (did, app) = (&wanted.name.publisher, &wanted.name.app);
    if let Err(refused) = node.judge_install(did, app, confirmed) {
        let reasons = refused.reasons();
        let content = if refused.confirmable {
            confirmation(&viewer, &form.app, &refused.to_string(), &reasons)
        } else {
            html! {
                section.narrow {
                    h1 { "Not installed" }
                    p.notice.error role="alert" { (refused.to_string()) }
                    ul.reasons { @for reason in &reasons { li { (reason) } } }
                    p { "Unblock its publisher in " a href="/settings" { "Settings" } " if you trust it after all." }
                }
            }
        };
        let status = if refused.confirmable {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        return (
            status,
            layout::page("Install", Nav::Discover, Some(&viewer), content),
        )
            .into_response();
    }
    match node.install(InstallSource::Published(Box::new(wanted)), confirmed) {
        Ok(id) => Redirect::to(&format!("/operations/{id}")).into_response(),
        Err(e) => layout::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The install could not start",
            &format!("{e}. Try again in a moment."),
        ),
    }
}

fn confirmation(viewer: &Viewer, app: &str, why: &str, reasons: &[String]) -> Markup {
    html! {
        section.narrow {
            h1 { "Install an app you do not know?" }
            p.notice.warning role="alert" { (why) }
            p { "Why:" }
            ul.reasons { @for reason in reasons { li { (reason) } } }
            p { "If you install it anyway, your decision and these reasons go into the node's journal." }
            form method="post" action="/install" {
                (layout::csrf_field(viewer))
                input type="hidden" name="app" value=(app);
                input type="hidden" name="confirm" value="yes";
                button.danger type="submit" { "Install anyway" }
            }
            p { a href="/" { "Back to Discover" } }
        }
    }
}

/// An operation's page.
pub async fn progress(viewer: Viewer, State(node): State<Node>, Path(id): Path<u64>) -> Response {
    let operation = match node.operations().get(id) {
        Ok(Some(operation)) => operation,
        Ok(None) => {
            return layout::error_page(
                StatusCode::NOT_FOUND,
                "No such operation",
                "This node has no record of it; older operations are forgotten. See My Apps for where your apps stand.",
            );
        }
        Err(e) => {
            return layout::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The operation could not be read",
                &e.to_string(),
            );
        }
    };
    let title = format!("{} {}", verb(&operation.kind), app_id(&operation.app));
    let content = operation_view(&operation, &title);
    layout::page(&title, Nav::MyApps, Some(&viewer), content).into_response()
}

/// What an operation of `kind` is doing, as a page's title begins.
fn verb(kind: &str) -> &str {
    match kind {
        "install" => "Installing",
        "update" => "Updating",
        "start" => "Starting",
        "stop" => "Stopping",
        "restart" => "Restarting",
        "reinstall" => "Reinstalling",
        "uninstall" => "Removing",
        _ => "Working on",
    }
}

/// Whether the app runs once an operation of `kind` succeeded.
fn runs_after(kind: &str) -> bool {
    matches!(
        kind,
        "install" | "update" | "start" | "restart" | "reinstall"
    )
}

/// What a succeeded operation of `kind` leaves.
fn outcome(kind: &str) -> &'static str {
    match kind {
        "uninstall" => "Removed.",
        "stop" => "Stopped.",
        _ if runs_after(kind) => "Running.",
        _ => "Done.",
    }
}

/// The app id an operation is about (`DID/APP[@VERSION]` or just `APP`).
fn app_id(app: &str) -> &str {
    let last = app.rsplit('/').next().unwrap_or(app);
    last.split('@').next().unwrap_or(last)
}

fn operation_view(operation: &Operation, title: &str) -> Markup {
    let running = operation.status == Status::Running;
    html! {
        section.narrow.operation
            data-operation=(operation.id)
            data-app=(app_id(&operation.app))
            data-status=(format!("{:?}", operation.status).to_lowercase()) {
            h1 { (title) }
            @if operation.app != app_id(&operation.app) { p.muted { code { (operation.app) } } }
            label for="progress" { "Progress" }
            progress #progress max="100" value=(operation.percent) { (operation.percent) "%" }
            p #stage aria-live="polite" { (operation.stage) }
            ul #notices { @for notice in &operation.notices { li { (notice) } } }
            div #done hidden[operation.status != Status::Succeeded] {
                p.notice.ok role="status" { (outcome(&operation.kind)) }
                p {
                    @if runs_after(&operation.kind) { a #open.button href="/apps" { "Open" } " " }
                    a href="/apps" { "My Apps" }
                }
            }
            div #failed hidden[!matches!(operation.status, Status::Failed | Status::Interrupted)] {
                p.notice.error role="alert" #error { (operation.error.as_deref().unwrap_or("")) }
                ul #causes { @for cause in &operation.causes { li { (cause) } } }
                p { "What to do next: read the reasons above; fix what they name and try again from the app's page, or see the journal in My Apps." }
            }
            @if running {
                p.muted #live { "Following the operation live…" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operations_app_is_its_last_segment_without_a_version() {
        assert_eq!(app_id("did:key:z6Mk/org.x.notes@1.0.0"), "org.x.notes");
        assert_eq!(app_id("org.x.notes"), "org.x.notes");
        assert_eq!(verb("install"), "Installing");
        assert_eq!(verb("uninstall"), "Removing");
    }
}
