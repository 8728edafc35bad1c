//! An app's page: what it is, who published it and how long the node has
//! seen them, the owner's trust with its reasons, what it asks of the
//! machine in plain words, the release (version, hash, size), reviews
//! weighted by trust, and Install (or Open, Update and Manage when it is
//! installed).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Viewer;
use super::layout::{self, Nav};
use crate::api::routes::listing;
use crate::api::trust::app as trust_of_app;
use crate::node::Node;
use crate::trust::{Explained, manifest_payload};
use archy_discovery::market::ListingDetail;
use archy_orchestrator::AppSummary;
use archy_orchestrator::state::Desired;
use archy_registry::catalog::release_targets::AppVersion;

/// The app page.
pub async fn page(
    viewer: Viewer,
    State(node): State<Node>,
    Path((did, app)): Path<(String, String)>,
) -> Response {
    let detail = match listing(State(node.clone()), Ok(Path((did.clone(), app.clone())))).await {
        Ok(axum::Json(detail)) => detail,
        Err(e) => {
            return layout::error_page(
                e.status(),
                "No such app here",
                &format!("{} Search Discover for it.", e.body().error),
            );
        }
    };
    let trust = trust_of_app(State(node.clone()), Ok(Path((did, app.clone()))))
        .await
        .ok()
        .map(|axum::Json(explained)| explained);
    let installed = node.orchestrator().list().ok().and_then(|apps| {
        apps.into_iter()
            .find(|a| a.id == app && a.desired != Desired::Removed)
    });
    let update = node.updates_available().get(&app).cloned();
    let content = body(&viewer, &detail, trust.as_ref(), installed.as_ref(), update);
    (
        StatusCode::OK,
        layout::page(&detail.listing.title, Nav::Discover, Some(&viewer), content),
    )
        .into_response()
}

/// What a manifest says, as far as the page shows it (the manifest was
/// verified when its listing was ingested; read leniently).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Described {
    description: Option<String>,
    release_notes: Option<String>,
    license: String,
    homepage: Option<String>,
    containers: Vec<DescribedContainer>,
    permissions: Vec<String>,
    dependencies: Vec<DescribedDependency>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DescribedContainer {
    name: String,
    ports: Vec<DescribedPort>,
    volumes: Vec<DescribedVolume>,
    capabilities: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DescribedPort {
    container: u16,
    host: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DescribedVolume {
    name: String,
    mount: String,
    read_only: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DescribedDependency {
    id: String,
    version: String,
}

fn described(envelope: &str) -> Described {
    manifest_payload(envelope)
}

/// What the app asks of the machine, one sentence each.
fn asks(described: &Described) -> Vec<String> {
    let mut said = Vec::new();
    for container in &described.containers {
        for port in &container.ports {
            if let Some(host) = port.host {
                let privileged = if host < 1024 {
                    " (a privileged port)"
                } else {
                    ""
                };
                said.push(format!(
                    "opens port {host} on this machine{privileged}, to port {} of its {} container",
                    port.container, container.name
                ));
            }
        }
        for volume in &container.volumes {
            said.push(format!(
                "keeps data in its volume {} (at {} in its {} container{})",
                volume.name,
                volume.mount,
                container.name,
                if volume.read_only { ", read-only" } else { "" }
            ));
        }
        for capability in &container.capabilities {
            said.push(format!(
                "keeps the capability {capability} in its {} container",
                container.name
            ));
        }
    }
    for permission in &described.permissions {
        said.push(match permission.as_str() {
            "lan" => "reaches other devices on your local network".to_owned(),
            "internet" => "reaches the internet".to_owned(),
            other => format!("asks for the permission {other}"),
        });
    }
    if said.is_empty() {
        said.push("nothing beyond its own containers".to_owned());
    }
    said
}

/// The versions list: every version the publisher's catalog lists, newest
/// first, with its notes, which one is newest and which one is installed;
/// only the listed one (with its notes) until the node has read that
/// catalog.
fn versions(
    detail: &ListingDetail,
    described: &Described,
    installed: Option<&AppSummary>,
) -> Markup {
    let listed = [AppVersion {
        version: detail.listing.version.clone(),
        notes: described.release_notes.clone(),
        yanked: None,
    }];
    let known = if detail.versions.is_empty() {
        &listed[..]
    } else {
        &detail.versions[..]
    };
    let newest = known.iter().find(|v| v.yanked.is_none());
    let installed = installed.map(|a| a.version.as_str());
    html! {
        ol.versions {
            @for v in known {
                li {
                    p {
                        strong { (v.version) }
                        @if newest.is_some_and(|n| n.version == v.version) { " · newest" }
                        @if installed == Some(v.version.as_str()) { " · installed here" }
                        @if let Some(reason) = &v.yanked { " · " em { "yanked by its publisher: " (reason) } }
                    }
                    @match &v.notes {
                        Some(notes) => { @for paragraph in notes.split("\n\n") { p { (paragraph) } } }
                        None => p.muted { "No release notes." },
                    }
                }
            }
        }
        @if detail.versions.is_empty() {
            p.muted { "Older versions show here once this node has read the publisher's catalog, which it does when it installs the app." }
        }
    }
}

fn body(
    viewer: &Viewer,
    detail: &ListingDetail,
    trust: Option<&Explained>,
    installed: Option<&AppSummary>,
    update: Option<String>,
) -> Markup {
    let listing = &detail.listing;
    let described = described(listing.manifest.get());
    let name = format!("{}/{}", listing.did, listing.app_id);
    html! {
        header.app-head {
            (layout::icon(&listing.did, &listing.app_id, &listing.version))
            div {
                h1 { (listing.title) }
                p.summary { (listing.summary) }
                p { (layout::band(trust.map(|t| t.band))) }
            }
        }
        @if let Some(alarm) = &detail.alarm {
            p.notice.error role="alert" { "Alarm: " (alarm) "." }
        }
        section aria-labelledby="act" {
            h2 #act { "Get it" }
            @match installed {
                Some(app) => {
                    p { "Installed: version " (app.version) " (" (format!("{:?}", app.phase).to_lowercase()) ")." }
                    p.actions {
                        @if let Some(port) = app.host_ports.values().next() {
                            a.button href=(format!("http://localhost:{port}/")) data-open-port=(port) { "Open" }
                        }
                        @if let Some(version) = &update {
                            form method="post" action=(format!("/apps/{}", app.id)) {
                                (layout::csrf_field(viewer))
                                button type="submit" name="action" value="update" { "Update to " (version) }
                            }
                        }
                        a.button href="/apps" { "Manage" }
                    }
                }
                None => {
                    form method="post" action="/install" {
                        (layout::csrf_field(viewer))
                        input type="hidden" name="app" value=(name);
                        button type="submit" { "Install " (listing.title) }
                    }
                }
            }
        }
        @if let Some(text) = &described.description {
            section aria-labelledby="about" {
                h2 #about { "About" }
                @for paragraph in text.split("\n\n") { p { (paragraph) } }
            }
        }
        section aria-labelledby="trust" {
            h2 #trust { "Why trust it" }
            @match trust {
                Some(explained) => {
                    p { "Your trust: " (layout::band(Some(explained.band))) " (your network scores it " (explained.score) " of 100)." }
                    ul.reasons { @for reason in &explained.reasons { li { (reason.text) } } }
                    @if let Some(publisher) = &explained.publisher {
                        h3 { "Its publisher" }
                        ul.reasons { @for reason in &publisher.reasons { li { (reason.text) } } }
                    }
                }
                None => p { "Not scored yet." },
            }
        }
        section aria-labelledby="publisher" {
            h2 #publisher { "Publisher" }
            dl {
                dt { "Name" }
                dd { (detail.publisher.as_ref().map_or("not named", |p| p.name.as_str())) }
                dt { "DID" }
                dd { code { (listing.did) } }
                @if let Some(publisher) = &detail.publisher {
                    dt { "Seen since" }
                    dd { (layout::ago(publisher.created_at, layout::now())) }
                }
                @if let Some(root) = &detail.root {
                    dt { "Signing root" }
                    dd { "version " (root.version) ", pinned " (layout::ago(root.pinned_at, layout::now())) }
                }
            }
        }
        section aria-labelledby="asks" {
            h2 #asks { "What it asks of this machine" }
            ul { @for ask in asks(&described) { li { (ask) } } }
            @if !described.dependencies.is_empty() {
                p { "It needs: "
                    @for (i, dependency) in described.dependencies.iter().enumerate() {
                        @if i > 0 { ", " }
                        (dependency.id) " " (dependency.version)
                    }
                    " (installed first)." }
            }
        }
        section aria-labelledby="versions" {
            h2 #versions { "Versions" }
            (versions(detail, &described, installed))
        }
        section aria-labelledby="release" {
            h2 #release { "Release" }
            dl {
                dt { "Version" }
                dd { (listing.version) }
                dt { "Size" }
                dd { (layout::size(listing.size)) }
                dt { "Release hash (BLAKE3)" }
                dd { code.hash { (listing.release) } }
                dt { "License" }
                dd { (if described.license.is_empty() { "not stated" } else { described.license.as_str() }) }
                @if let Some(homepage) = &described.homepage {
                    dt { "Home page" }
                    dd { a href=(homepage) rel="noopener noreferrer" { (homepage) } }
                }
            }
        }
        section aria-labelledby="reviews" {
            h2 #reviews { "Reviews" }
            @match trust.and_then(|t| t.reviews.as_ref()) {
                Some(reviews) if !reviews.reviews.is_empty() => {
                    p {
                        @match reviews.average {
                            Some(average) => { "Average " (format!("{average:.1}")) " of 5, weighted by how far you trust each author." }
                            None => "No review comes from someone in your network.",
                        }
                    }
                    ul.reviews {
                        @for review in &reviews.reviews {
                            li {
                                p { strong { (review.rating) " of 5" } " by " (review.author)
                                    " (weight " (format!("{:.2}", review.weight)) ")" }
                                p { (review.text) }
                                @if let Some(note) = &review.note { p.muted { (note) } }
                            }
                        }
                    }
                }
                _ => p { "No reviews yet." },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_app_asks_reads_as_plain_sentences() {
        let envelope = serde_json::json!({
            "signed": {"_type": "archy/manifest", "payload": {
                "license": "MIT",
                "permissions": ["lan"],
                "containers": [{"name": "web",
                    "ports": [{"container": 80, "host": 80}, {"container": 81}],
                    "volumes": [{"name": "data", "mount": "/data"}],
                    "capabilities": ["NET_BIND_SERVICE"]}]
            }},
            "signatures": []
        });
        let said = asks(&described(&envelope.to_string()));
        assert_eq!(
            said,
            [
                "opens port 80 on this machine (a privileged port), to port 80 of its web container",
                "keeps data in its volume data (at /data in its web container)",
                "keeps the capability NET_BIND_SERVICE in its web container",
                "reaches other devices on your local network",
            ]
        );
        assert_eq!(
            asks(&described("{}")),
            ["nothing beyond its own containers"]
        );
    }
}
